"""The typer application behind `watchkeeper` (imported lazily by `cli.main`)."""
from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Watchkeeper: an on-call agent for AWS. Replay incidents, run the demo, read audit trails.",
                  no_args_is_help=True, add_completion=False)
runbooks_app = typer.Typer(help="Validate and list runbooks.", no_args_is_help=True)
logs_app = typer.Typer(help="Work with log files.", no_args_is_help=True)
app.add_typer(runbooks_app, name="runbooks")
app.add_typer(logs_app, name="logs")
killswitch_app = typer.Typer(help="Stop (or allow) every write at once: an SSM parameter, or the local switch.",
                             no_args_is_help=True)
app.add_typer(killswitch_app, name="killswitch")
err = Console(stderr=True)

LOCAL_STATE = Path(os.environ.get("WATCHKEEPER_HOME", ".watchkeeper"))


@app.command()
def replay(bundle: Path = typer.Argument(..., help="a scenario bundle directory (scenario.yaml + logs/)"),
           as_json: bool = typer.Option(False, "--json", help="print the FORMAT.md replay document on stdout"),
           kill_switch: Optional[bool] = typer.Option(None, "--kill-switch/--no-kill-switch",
                                                      help="replay with the kill switch on (default: the local switch)")) -> None:
    """Replay a recorded incident on the embedded AWS. Writes are planned, never executed."""
    from .local.replay import ReplayOptions, replay as run_replay
    from .local.scenario import BundleError

    options = ReplayOptions(kill_switch=_local_kill_switch() if kill_switch is None else kill_switch)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            result = run_replay(bundle, options)
    except BundleError as exc:
        err.print(f"[red]invalid bundle:[/red] {exc}")
        raise typer.Exit(2)
    if as_json:
        sys.stdout.write(json.dumps(result, default=str) + "\n")
        return
    console = Console()
    a = result["alerts"]
    console.print(f"[bold]{result['scenario']}[/bold]: {a['received']} deliveries, {a['invalid']} invalid, "
                  f"{a['resolved']} resolved")
    table = Table("incident", "service", "alerts", "category", "root cause", "confidence", "actions", "status")
    for inc in result["incidents"]:
        rc = inc.get("root_cause") or {}
        table.add_row(inc["id"], inc["service"], str(inc["alerts"]), inc["category"] or "",
                      f"{rc.get('kind')} {rc.get('culprit') or ''}", f"{rc.get('confidence') or 0:.2f}",
                      ", ".join(f"{x['type']} ({x['status']})" for x in inc["actions"]), inc["status"])
    console.print(table)


@app.command()
def demo(bundle: Optional[Path] = typer.Option(None, help="the scenario to run (default: the bad-deploy example)"),
         auto_approve: bool = typer.Option(False, "--yes", help="approve without asking")) -> None:
    """Run a whole incident live on the embedded AWS: diagnosis, approval, rollback, verification, report."""
    from .local.demo import run_demo

    raise typer.Exit(run_demo(bundle, auto_approve=auto_approve))


@app.command()
def audit(words: list[str] = typer.Argument(..., metavar="[verify] INCIDENT_ID",
                                            help="the incident id; `verify INCIDENT_ID` checks the hash chain"),
          table: Optional[str] = typer.Option(None, help="the DynamoDB audit table (default: the local trail)")) -> None:
    """Print an incident's audit trail, or verify its hash chain (`watchkeeper audit verify INCIDENT_ID`)."""
    if len(words) == 2 and words[0] == "verify":
        _audit_verify(words[1], table)
        return
    if len(words) != 1:
        err.print("usage: watchkeeper audit INCIDENT_ID | watchkeeper audit verify INCIDENT_ID")
        raise typer.Exit(2)
    records = _audit_records(words[0], table)
    from .local.console import audit_table
    Console().print(audit_table(records, words[0]))


def _audit_verify(incident_id: str, table: Optional[str]) -> None:
    """Any edited, missing or reordered record is reported; exit status 1 when the chain is broken."""
    from .adapters.dynamodb_audit import verify_chain

    records = _audit_records(incident_id, table)
    problems = verify_chain(records)
    if problems:
        for p in problems:
            err.print(f"[red]{p}[/red]")
        raise typer.Exit(1)
    Console().print(f"[green]{len(records)} records, chain intact[/green]")


def _audit_records(incident_id: str, table: Optional[str]):
    from .models import AuditRecord

    table = table or os.environ.get("AUDIT_TABLE")
    if table:
        from .adapters.dynamodb_audit import DynamoDBAuditLog
        records = DynamoDBAuditLog(table).records(incident_id)
    else:
        path = LOCAL_STATE / "audit" / f"{incident_id}.jsonl"
        if not path.is_file():
            err.print(f"no local audit trail for {incident_id} (looked in {path}); pass --table for AWS")
            raise typer.Exit(1)
        records = [AuditRecord.model_validate_json(line) for line in path.read_text().splitlines() if line.strip()]
    if not records:
        err.print(f"no audit records for {incident_id}")
        raise typer.Exit(1)
    return records


@logs_app.command("cluster")
def logs_cluster(file: str, jsonl: bool = typer.Option(False, "--jsonl", help="one JSON object per input line")) -> None:
    """Mine log templates: the template of every line (JSONL), or a table of templates."""
    from .domain.logs.cli import logs_cluster as run

    run(file, jsonl)


@runbooks_app.command("validate")
def runbooks_validate(directory: Optional[Path] = typer.Argument(None),
                      guardrails: Optional[Path] = typer.Option(None, help="also validate a guardrails JSON/YAML "
                                                                           "document (the cdk.json `guardrails` block)")) -> None:
    """Validate every runbook; errors name the file, line and field. A write step on a platform the
    runbook is for but no executor supports (the capability table) is an error too."""
    from .domain.runbooks import PLATFORMS, RunbookError, coverage, default_dir, load_runbooks, unsupported_steps

    try:
        books = load_runbooks(directory or default_dir())
    except RunbookError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    problems = [p for b in books for p in unsupported_steps(b)]
    if problems:
        for p in problems:
            err.print(f"[red]{p}[/red]", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    if guardrails is not None:
        import yaml
        from .domain.guardrails import GuardrailConfig
        try:
            config = GuardrailConfig.parse(yaml.safe_load(guardrails.read_text()) or {})
        except ValueError as exc:
            err.print(f"[red]{guardrails}: {exc}[/red]", highlight=False, soft_wrap=True)
            raise typer.Exit(1)
        unknown = {n for p in [config.defaults] for n in p.runbook_autonomy} - {b.name for b in books}
        unknown |= {n for svc in config.services.values() for n in (svc.get("runbook_autonomy") or {})} - {b.name for b in books}
        if unknown:
            err.print(f"[red]{guardrails}: runbook_autonomy names unknown runbooks: {sorted(unknown)}[/red]")
            raise typer.Exit(1)
    console = Console()
    console.print(f"[green]{len(books)} runbooks valid[/green]")
    for b in books:                 # what pages instead of writing, from the capability table
        for action, where in coverage(b).items():
            if set(where) != set(PLATFORMS):
                console.print(f"  {b.name}: {action} runs on {', '.join(where) or 'no platform'}; "
                              "elsewhere the incident is paged", highlight=False, soft_wrap=True)


@runbooks_app.command("list")
def runbooks_list(directory: Optional[Path] = typer.Argument(None),
                  as_json: bool = typer.Option(False, "--json", help="one JSON document on stdout")) -> None:
    """List runbooks with what triggers them, what they do, their approval and verification."""
    from .domain.runbooks import default_dir, load_runbooks

    books = load_runbooks(directory or default_dir())
    if as_json:
        sys.stdout.write(json.dumps([b.model_dump(mode="json") for b in books]) + "\n")
        return
    table = Table("runbook", "triggered by", "steps", "decisions", "approval", "verify")
    for b in books:
        t = b.trigger
        trigger = ", ".join([*t.root_causes, *t.categories, *t.platforms, *t.service_kinds,
                             *(f"/{p}/" for p in t.error_patterns)]) or "-"
        steps = " -> ".join(s.action + (" (revertible)" if s.revert_mode == "restore_before" else "") for s in b.steps)
        decisions = "; ".join(f"{d.name}: " + " -> ".join(s.action for s in d.steps) for d in b.decisions) or "-"
        approval = b.approval.default + (", autonomous" if b.approval.autonomous else "")
        verify = "-" if b.verify.alarms == "none" and not b.verify.metrics else \
            f"{b.verify.within_minutes} min, then {b.verify.on_failure.replace('_', ' ')}"
        table.add_row(b.name, trigger, steps, decisions, approval, verify)
    Console(width=200).print(table)


@killswitch_app.command("on")
def killswitch_on(parameter: Optional[str] = typer.Option(None, help="the account's SSM parameter (default: "
                                                                     "$KILL_SWITCH_PARAMETER; without one only the "
                                                                     "local switch changes)")) -> None:
    """Stop every write at once: executions still diagnose and page, but nothing is changed."""
    _set_kill_switch(True, parameter)


@killswitch_app.command("off")
def killswitch_off(parameter: Optional[str] = typer.Option(None, help="the account's SSM parameter (default: "
                                                                      "$KILL_SWITCH_PARAMETER; without one only the "
                                                                      "local switch changes)")) -> None:
    """Let writes through the guardrails again."""
    _set_kill_switch(False, parameter)


@killswitch_app.command("status")
def killswitch_status(parameter: Optional[str] = typer.Option(None)) -> None:
    """Print whether the kill switch is on (exit status 0 either way)."""
    name = parameter or os.environ.get("KILL_SWITCH_PARAMETER")
    console = Console()
    if name:
        from .adapters.messaging import SsmSettings
        on, why = SsmSettings(None, name, _ssm_client()).kill_switch_state()
        console.print(f"kill switch {'[bold red]ON[/bold red]' if on else '[green]off[/green]'} in the account "
                      f"{_account()} (SSM parameter {name}): {why}", highlight=False, soft_wrap=True)
        return
    on = _local_kill_switch()
    console.print(f"local kill switch {'[bold red]ON[/bold red]' if on else '[green]off[/green]'} "
                  f"({LOCAL_STATE / 'kill-switch'}; read by `watchkeeper replay` and the demo). No AWS account was "
                  "asked: pass --parameter or set KILL_SWITCH_PARAMETER.", highlight=False, soft_wrap=True)


def _ssm_client():
    from .composition import default_session
    return default_session().client("ssm")


def _account() -> str:
    """The account and region the SSM client talks to, for the message (best effort)."""
    try:
        from .composition import default_session
        session = default_session()
        ident = session.client("sts").get_caller_identity()["Account"]
        return f"{ident} ({session.region_name})"
    except Exception:  # noqa: BLE001 - only decorates a message
        return "(account unknown)"


def _set_kill_switch(on: bool, parameter: Optional[str]) -> None:
    """Say plainly which switch changed: the account's SSM parameter (read back), or only the local file."""
    name = parameter or os.environ.get("KILL_SWITCH_PARAMETER")
    console = Console()
    word = "[bold red]ON[/bold red]" if on else "[green]off[/green]"
    if name:
        from botocore.exceptions import BotoCoreError, ClientError

        from .adapters.messaging import SsmSettings
        try:
            _ssm_client().put_parameter(Name=name, Value="on" if on else "off", Type="String", Overwrite=True)
        except (ClientError, BotoCoreError) as exc:
            err.print(f"[red]the account's kill switch was NOT changed: could not set {name}: {exc}[/red]",
                      highlight=False, soft_wrap=True)
            raise typer.Exit(1)
        now_on, why = SsmSettings(None, name, _ssm_client()).kill_switch_state()
        if now_on != on:
            err.print(f"[red]{name} was written but reads back {'on' if now_on else 'off'} ({why})[/red]")
            raise typer.Exit(1)
        console.print(f"kill switch {word} in the account {_account()}: SSM parameter {name} now says "
                      f"{'on' if on else 'off'}; " + ("every Watchkeeper write there is stopped before its next call."
                                                      if on else "writes pass the guardrails again."),
                      highlight=False, soft_wrap=True)
        return
    path = LOCAL_STATE / "kill-switch"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("on\n" if on else "off\n")
    console.print(f"LOCAL kill switch {word} ({path}): only `watchkeeper replay` and the demo on this machine read it. "
                  "No AWS account was changed — pass --parameter NAME or set KILL_SWITCH_PARAMETER to stop writes "
                  "in an account.", highlight=False, soft_wrap=True)


def _local_kill_switch() -> bool:
    path = LOCAL_STATE / "kill-switch"
    return path.is_file() and path.read_text().strip() == "on"
