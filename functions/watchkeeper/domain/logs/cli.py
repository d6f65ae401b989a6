"""``watchkeeper logs cluster FILE [--jsonl]``: template per input line, streamed fast.

Kept import-light (no typer/rich/pydantic/boto3): the command is timed end to end.
"""
from __future__ import annotations

import json
import sys

from .miner import TemplateMiner


def logs_cluster(file: str, jsonl: bool = True) -> None:
    """Mine ``file`` ('-' for stdin). With ``jsonl``: one JSON object per input line, in
    order: ``{"line": n, "template_id": ..., "template": ...}`` (final templates). Without
    it: a table of templates, most frequent first."""
    miner = TemplateMiner()
    if file == "-":
        results = miner.add_all(sys.stdin.buffer)
    else:
        with open(file, "rb") as f:      # bytes: lines are split on "\n" only and decoded when first seen
            results = miner.add_all(f)
    write = sys.stdout.write
    if jsonl:
        enc: dict[tuple[str, str], str] = {}  # JSON-encode each (id, template) once
        for r in results:
            if r not in enc:
                enc[r] = (', "template_id": ' + json.dumps(r[0]) + ', "template": ' + json.dumps(r[1]) + "}\n")
        chunk = 65536
        for start in range(0, len(results), chunk):
            rows = results[start:start + chunk]
            out = [""] * (2 * len(rows))
            out[::2] = [f'{{"line": {n}' for n in range(start + 1, start + len(rows) + 1)]
            out[1::2] = [enc[r] for r in rows]
            write("".join(out))
    else:
        counts: dict[tuple[str, str], int] = {}
        for r in results:
            counts[r] = counts.get(r, 0) + 1
        for (tid, tmpl), n in sorted(counts.items(), key=lambda kv: -kv[1]):
            write(f"{n:8d}  {tid:10s} {tmpl}\n")
    sys.stdout.flush()
