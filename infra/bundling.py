"""Local (Docker-free) bundling of the Lambda code assets.

pip resolves wheels for the Lambda platform (cp312, manylinux2014 for the function
architecture), so compiled packages such as pydantic-core match the runtime, not this
machine. Sdist-only packages (drain3) are first built into a pure-Python wheelhouse. The
installed dependencies are cached under `.cache/bundling/<key>` keyed by the requirement
list and the platform, so a second synth only copies files.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import jsii
from aws_cdk import ILocalBundling, aws_lambda as lambda_

from infra.config import REPO_ROOT

PYTHON_VERSION = "3.12"
RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.ARM_64
PIP_PLATFORM = "manylinux2014_aarch64"  # must match ARCHITECTURE
SOURCE_DIR = REPO_ROOT / "functions"
PACKAGE = "watchkeeper"
CACHE_DIR = REPO_ROOT / ".cache" / "bundling"
ACTIONS_ONLY = ("kubernetes",)  # ~126 MB: shipped only with the function that acts on clusters


def _project_dependencies() -> list[str]:
    data = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    return list(data["project"]["dependencies"])


def _name(requirement: str) -> str:
    for sep in ("==", ">=", "<=", "~=", "!=", "<", ">", "[", ";", " "):
        requirement = requirement.split(sep, 1)[0]
    return requirement.strip().lower().replace("_", "-")


def common_requirements() -> list[str]:
    return [r for r in _project_dependencies() if _name(r) not in ACTIONS_ONLY]


def actions_requirements() -> list[str]:
    return _project_dependencies()


def _run(args: list[str]) -> None:
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"bundling command failed ({result.returncode}): {' '.join(args)}\n{result.stderr[-4000:]}")


def installed_dependencies(requirements: list[str], platform: str = PIP_PLATFORM) -> Path:
    """A directory with `requirements` installed for the Lambda platform (built once, then cached)."""
    key = hashlib.sha256("\n".join([platform, PYTHON_VERSION, *sorted(requirements)]).encode()).hexdigest()[:16]
    target = CACHE_DIR / key
    if target.is_dir():
        return target
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    wheelhouse = CACHE_DIR / "wheelhouse"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    # Pure-Python wheels for sdist-only packages; host-specific wheels in here are ignored below.
    _run([*pip, "wheel", "-w", str(wheelhouse), *requirements])
    staging = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=CACHE_DIR))
    _run([
        *pip, "install", "--no-compile", "--platform", platform, "--implementation", "cp",
        "--python-version", PYTHON_VERSION, "--only-binary=:all:", "--find-links", str(wheelhouse),
        "--target", str(staging), *requirements,
    ])
    # Drop what makes the output hash differ between runs or is useless on Lambda.
    shutil.rmtree(staging / "bin", ignore_errors=True)
    for path in list(staging.glob("*.dist-info/RECORD")) + list(staging.glob("*.dist-info/direct_url.json")):
        path.unlink()
    for path in staging.rglob("__pycache__"):
        shutil.rmtree(path, ignore_errors=True)
    try:
        staging.rename(target)
    except OSError:  # another synth won the race
        shutil.rmtree(staging, ignore_errors=True)
    return target


def runtime_python() -> str | None:
    """An interpreter of the Lambda runtime's Python version, to compile the bundle's bytecode with."""
    pyenv = Path.home() / ".pyenv" / "versions"
    candidates = [str(p) for p in sorted(pyenv.glob(f"{PYTHON_VERSION}.*/bin/python{PYTHON_VERSION}"))] if pyenv.is_dir() else []
    candidates += [c for c in (shutil.which(f"python{PYTHON_VERSION}"),) if c]
    for candidate in candidates:
        probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.strip() == str(tuple(int(x) for x in PYTHON_VERSION.split("."))):
            return candidate
    return None


def compile_bytecode(directory: Path) -> bool:
    """Ship bytecode: Lambda's code directory is read-only, so without it every cold start compiles
    every module from source. Hash-based, unchecked .pyc files are reproducible (no timestamps, so the
    asset hash is stable) and are never re-validated against the sources at import."""
    python = runtime_python()
    if python is None:
        print(f"watchkeeper: no python{PYTHON_VERSION} found; the Lambda bundle ships without bytecode "
              "(cold starts compile from source)", file=sys.stderr)
        return False
    _run([python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(directory)])
    return True


def build_asset(out: Path, requirements: list[str], platform: str = PIP_PLATFORM, bytecode: bool = True) -> Path:
    """The deployable code: dependencies for `platform`, the `watchkeeper` package, the runbooks, bytecode."""
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(installed_dependencies(requirements, platform), out, dirs_exist_ok=True)
    shutil.copytree(
        SOURCE_DIR / PACKAGE, out / PACKAGE, dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "local"),
    )
    # runbooks are data the functions load at start (watchkeeper.domain.runbooks.default_dir)
    shutil.copytree(SOURCE_DIR.parent / "runbooks", out / "runbooks", dirs_exist_ok=True)
    if bytecode:
        compile_bytecode(out)
    return out


@jsii.implements(ILocalBundling)
class LocalPythonBundler:
    """Installs `requirements` for the Lambda platform and copies the `watchkeeper` package next to them."""

    def __init__(self, requirements: list[str]) -> None:
        self.requirements = list(requirements)

    def try_bundle(self, output_dir: str, *args, **kwargs) -> bool:
        build_asset(Path(output_dir), self.requirements)
        return True
