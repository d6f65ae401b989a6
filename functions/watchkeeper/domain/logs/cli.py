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
        results = miner.add_all(sys.stdin)
    else:
        with open(file, encoding="utf-8", errors="replace") as f:
            results = miner.add_all(f)
    write = sys.stdout.write
    if jsonl:
        enc: dict[tuple[str, str], str] = {}  # JSON-encode each (id, template) once
        buf: list[str] = []
        for n, r in enumerate(results, 1):
            tail = enc.get(r)
            if tail is None:
                tail = enc[r] = (', "template_id": ' + json.dumps(r[0]) + ', "template": '
                                 + json.dumps(r[1]) + "}\n")
            buf.append('{"line": ' + str(n) + tail)
            if len(buf) >= 8192:
                write("".join(buf))
                buf.clear()
        write("".join(buf))
    else:
        counts: dict[tuple[str, str], int] = {}
        for r in results:
            counts[r] = counts.get(r, 0) + 1
        for (tid, tmpl), n in sorted(counts.items(), key=lambda kv: -kv[1]):
            write(f"{n:8d}  {tid:10s} {tmpl}\n")
    sys.stdout.flush()
