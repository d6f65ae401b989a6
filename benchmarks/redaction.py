"""The one redaction pass on production-shaped log samples: 240-character lines from the
scenario bundles' logs (what an evidence item carries), each rule timed alone and the whole pass.

    .venv/bin/python benchmarks/redaction.py
"""
from __future__ import annotations

import time
from pathlib import Path

from watchkeeper.domain.redact import REDACTION_RULES, redact

ROOT = Path(__file__).resolve().parents[1]


def samples(limit: int = 20_000) -> list[str]:
    lines: list[str] = []
    for path in sorted((ROOT / "tests" / "scenarios").rglob("*.log")) + sorted((ROOT / "tests" / "scenarios").rglob("*.jsonl")):
        for line in path.read_text(errors="replace").splitlines():
            if line.strip():
                lines.append(line[:240])
            if len(lines) >= limit:
                return lines
    return lines


def main() -> None:
    lines = samples()
    chars = sum(map(len, lines))
    print(f"{len(lines)} log samples, {chars / max(len(lines), 1):.0f} characters on average")
    for name, pattern, replacement in REDACTION_RULES:
        t = time.perf_counter()
        for line in lines:
            pattern.sub(replacement, line)
        print(f"  {name:16s} {(time.perf_counter() - t) / len(lines) * 1e6:7.1f} us/line")
    t = time.perf_counter()
    changed = sum(redact(line) != line for line in lines)
    dt = time.perf_counter() - t
    print(f"whole pass: {len(lines) / dt:,.0f} lines/s ({dt / len(lines) * 1e6:.1f} us/line); {changed} lines changed")


if __name__ == "__main__":
    main()
