#!/usr/bin/env python3
"""Cold-start imports of every Lambda handler, from the code asset as it ships.

Builds the two code assets the way `make synth` does (dependencies resolved for the Lambda
runtime's Python, the `watchkeeper` package, runbooks, and the bytecode the bundle ships),
for this machine's architecture so it can run here, then times `import <handler module>` in
a fresh Python 3.12 process per run, with the function's own environment from the
synthesized template and bytecode writes off (Lambda's code directory is read-only).

    .venv/bin/python benchmarks/cold_start.py                 # median of 5 runs per handler
    .venv/bin/python benchmarks/cold_start.py --repeat 9 --no-bytecode   # as if no .pyc shipped

Budget (issue 9): under 300 ms for a handler that does not act, under 500 ms for one that does.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "functions"))

ACTING = {"handlers.execute", "handlers.verify", "handlers.gather"}   # write, revert, or reach clusters: 500 ms
TIMER = ("import time, importlib, sys; t, c = time.perf_counter(), time.process_time(); "
         "importlib.import_module(sys.argv[1]); print(time.perf_counter() - t, time.process_time() - c)")


def _functions() -> list[dict[str, str]]:
    from watchkeeper.local.runtime import LOCAL_ACCOUNT, LOCAL_REGION, Resolver
    from watchkeeper.local.template import load_template

    template = load_template("local")
    resolver = Resolver(template, LOCAL_ACCOUNT, LOCAL_REGION)
    out = []
    for lid, res in resolver.of_type("AWS::Lambda::Function").items():
        props = res["Properties"]
        if not str(props.get("Handler", "")).startswith("watchkeeper."):
            continue                   # aws-cdk-lib's own deploy-time functions
        env = {k: str(v) for k, v in resolver.resolve(props.get("Environment", {}).get("Variables", {})).items()}
        out.append({"name": lid, "handler": props["Handler"], "env": env,
                    "asset": (res.get("Metadata") or {}).get("watchkeeper:asset", "common")})
    return sorted(out, key=lambda f: f["handler"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-bytecode", action="store_true", help="build the assets without .pyc files")
    args = parser.parse_args()
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from infra import bundling

    python = bundling.runtime_python()
    if python is None:
        print(f"needs python{bundling.PYTHON_VERSION} (the Lambda runtime's version) on PATH or in pyenv", file=sys.stderr)
        return 2
    machine = "aarch64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
    plat = f"manylinux2014_{machine}"
    functions = _functions()
    with tempfile.TemporaryDirectory(prefix="watchkeeper-cold-") as tmp:
        assets = {name: bundling.build_asset(Path(tmp) / name, reqs, platform=plat, bytecode=not args.no_bytecode)
                  for name, reqs in (("common", bundling.common_requirements()),
                                     ("actions", bundling.actions_requirements()))}
        print(f"Python {bundling.PYTHON_VERSION} ({python}), {machine}, bytecode "
              f"{'off' if args.no_bytecode else 'shipped'}, median of {args.repeat} cold imports")
        print("wall: elapsed time; cpu: the process's CPU time (what the import costs, whatever else runs here)")
        print(f"{'handler':<28} {'asset':<8} {'wall ms':>8} {'cpu ms':>7} {'max wall':>9}  budget")
        for fn in functions:
            module = fn["handler"].rsplit(".", 1)[0]
            env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(assets[fn["asset"]]),
                   "PYTHONDONTWRITEBYTECODE": "1", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
                   "AWS_LAMBDA_FUNCTION_NAME": fn["name"], "LAMBDA_TASK_ROOT": str(assets[fn["asset"]]),
                   "_X_AMZN_TRACE_ID": "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=1",
                   **fn["env"]}
            runs, cpu = [], []
            for _ in range(args.repeat):
                proc = subprocess.run([python, "-c", TIMER, module], env=env, capture_output=True, text=True,
                                      cwd=assets[fn["asset"]])
                if proc.returncode != 0:
                    print(f"{module}: import failed\n{proc.stderr[-1500:]}", file=sys.stderr)
                    return 1
                wall_s, cpu_s = proc.stdout.strip().splitlines()[-1].split()
                runs.append(float(wall_s) * 1000)
                cpu.append(float(cpu_s) * 1000)
            budget = 500 if any(module.endswith(a) for a in ACTING) else 300
            median, median_cpu = statistics.median(runs), statistics.median(cpu)
            print(f"{module.removeprefix('watchkeeper.'):<28} {fn['asset']:<8} {median:>8.0f} {median_cpu:>7.0f} "
                  f"{max(runs):>9.0f}  {budget} {'ok' if median <= budget else 'OVER'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
