"""The local state (`.watchkeeper/`): what a demo or a replay leaves behind when its emulator stops.

The embedded AWS lives only as long as the process that runs it. So that `watchkeeper
incidents`, `show` and `audit` can read an incident afterwards, each handled incident is
copied out: its final state document, its audit trail and its report (Markdown, HTML,
chart). The layout:

    .watchkeeper/incidents/<id>.json     {"id", "origin", "scenario", "execution", "state", "report"}
    .watchkeeper/audit/<id>.jsonl        one AuditRecord per line
    .watchkeeper/reports/<id>/           report.md, report.html, timeline.svg
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..adapters.dynamodb_audit import DynamoDBAuditLog
from ..models import AuditRecord


def export_incident(session: Any, incident_id: str, result: dict[str, Any], home: Path, origin: str) -> dict[str, Path]:
    """Copy one incident out of the emulator; returns the local paths of its report files."""
    output = result.get("output") or {}
    report = output.get("report") or {}
    s3 = session.aws.client("s3")
    target = home / "reports" / incident_id
    paths: dict[str, Path] = {}
    for key in ("uri", "html_uri", "chart_uri"):
        uri = report.get(key)
        if not uri:
            continue
        bucket, _, obj = uri.removeprefix("s3://").partition("/")
        target.mkdir(parents=True, exist_ok=True)
        path = target / Path(obj).name
        path.write_bytes(s3.get_object(Bucket=bucket, Key=obj)["Body"].read())
        paths[key] = path
    records = DynamoDBAuditLog(session.aws.env("AUDIT_TABLE"), session.aws.client("dynamodb")).records(incident_id)
    (home / "audit").mkdir(parents=True, exist_ok=True)
    (home / "audit" / f"{incident_id}.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in records))
    (home / "incidents").mkdir(parents=True, exist_ok=True)
    doc = {"id": incident_id, "origin": origin, "scenario": session.bundle.name, "execution": result.get("status"),
           "state": output, "report": {k: str(v) for k, v in paths.items()}}
    (home / "incidents" / f"{incident_id}.json").write_text(json.dumps(doc, default=str))
    return paths


def local_incidents(home: Path) -> list[dict[str, Any]]:
    folder = home / "incidents"
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.json")):
        try:
            out.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return out


def local_audit(home: Path, incident_id: str) -> list[AuditRecord]:
    path = home / "audit" / f"{incident_id}.jsonl"
    if not path.is_file():
        return []
    return [AuditRecord.model_validate_json(line) for line in path.read_text().splitlines() if line.strip()]
