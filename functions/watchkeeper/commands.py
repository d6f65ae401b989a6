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


@app.command()
def approve(incident_id: str = typer.Argument(..., help="the incident waiting for approval"),
            reason: str = typer.Option("", "--reason", help="a note for the audit trail"),
            api_url: Optional[str] = typer.Option(None, "--api-url", envvar="WATCHKEEPER_API_URL",
                                                  help="the stack's HttpApiUrl (default: the local demo's server)"),
            account: Optional[str] = typer.Option(None, "--account", help="cdk.json account for the early check")) -> None:
    """Approve the remediation waiting on INCIDENT_ID, as your AWS identity (an approver ARN)."""
    _terminal_decision(incident_id, True, reason, api_url, account)


@app.command()
def reject(incident_id: str = typer.Argument(..., help="the incident waiting for approval"),
           reason: str = typer.Option("", "--reason", help="why, for the audit trail"),
           api_url: Optional[str] = typer.Option(None, "--api-url", envvar="WATCHKEEPER_API_URL",
                                                 help="the stack's HttpApiUrl (default: the local demo's server)"),
           account: Optional[str] = typer.Option(None, "--account", help="cdk.json account for the early check")) -> None:
    """Reject the remediation waiting on INCIDENT_ID: nothing is changed, on-call keeps it."""
    _terminal_decision(incident_id, False, reason, api_url, account)


def _terminal_decision(incident_id: str, approved: bool, reason: str, api_url: Optional[str],
                       account: Optional[str]) -> None:
    from .approvals import arn_is_approver
    from .terminal import TerminalDecisionError, approver_arns_for, caller_arn, find_target, send

    out = Console()
    try:
        target = find_target(api_url, LOCAL_STATE)
        arn = caller_arn(target)
        if arn is not None:
            out.print(f"deciding as [bold]{arn}[/bold] (STS GetCallerIdentity)", highlight=False)
            allowed = approver_arns_for(account)
            if allowed is not None and not arn_is_approver(arn, allowed):
                err.print(f"[red]{arn} is not in approver_arns for account {account or os.environ.get('WATCHKEEPER_ACCOUNT')}"
                          "; nothing was sent[/red]", highlight=False)
                raise typer.Exit(1)
        status, doc = send(target, incident_id, approved, reason)
    except TerminalDecisionError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    caller = doc.get("caller") or arn or "?"
    if target.local:
        out.print(f"embedded AWS: the local approval server at {target.url} vouched for [bold]{caller}[/bold] "
                  "(SigV4 with the local IAM user's keys)", highlight=False)
    if status == 200 and doc.get("ok"):
        verb = "approved" if approved else "rejected"
        out.print(f"[green]{incident_id}: {verb} by {caller}[/green]; the workflow has resumed", highlight=False)
        return
    err.print(f"[red]{incident_id}: nothing changed ({status} {doc.get('title', '')}): "
              f"{doc.get('error') or doc.get('message') or doc}[/red]", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


@logs_app.command("cluster")
def logs_cluster(file: str, jsonl: bool = typer.Option(False, "--jsonl", help="one JSON object per input line")) -> None:
    """Mine log templates: the template of every line (JSONL), or a table of templates."""
    from .domain.logs.cli import logs_cluster as run

    run(file, jsonl)


@runbooks_app.command("validate")
def runbooks_validate(directory: Optional[Path] = typer.Argument(None),
                      guardrails: Optional[Path] = typer.Option(None, help="also validate a guardrails JSON/YAML "
                                                                           "document (the cdk.json `guardrails` block)")) -> None:
    """Validate every runbook; errors name the file, line and field."""
    from .domain.runbooks import RunbookError, default_dir, load_runbooks

    try:
        books = load_runbooks(directory or default_dir())
    except RunbookError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False, soft_wrap=True)
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
    Console().print(f"[green]{len(books)} runbooks valid[/green]")


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
def killswitch_on(parameter: Optional[str] = typer.Option(None, help="the SSM parameter (default: "
                                                                     "$KILL_SWITCH_PARAMETER, else the local switch)")) -> None:
    """Stop every write at once: executions still diagnose and page, but nothing is changed."""
    where = _set_kill_switch(True, parameter)
    Console().print(f"[bold red]kill switch ON[/bold red] ({where}): every write is blocked")


@killswitch_app.command("off")
def killswitch_off(parameter: Optional[str] = typer.Option(None, help="the SSM parameter (default: "
                                                                      "$KILL_SWITCH_PARAMETER, else the local switch)")) -> None:
    """Let writes through the guardrails again."""
    where = _set_kill_switch(False, parameter)
    Console().print(f"[green]kill switch off[/green] ({where})")


@killswitch_app.command("status")
def killswitch_status(parameter: Optional[str] = typer.Option(None)) -> None:
    """Print whether the kill switch is on (exit status 0 either way)."""
    name = parameter or os.environ.get("KILL_SWITCH_PARAMETER")
    if name:
        from .adapters.messaging import SsmSettings
        on = SsmSettings(None, name, _ssm_client()).kill_switch_on()
        where = f"SSM parameter {name}"
    else:
        on, where = _local_kill_switch(), f"local switch {LOCAL_STATE / 'kill-switch'}"
    Console().print(f"kill switch {'[bold red]ON[/bold red]' if on else '[green]off[/green]'} ({where})")


def _ssm_client():
    from .composition import default_session
    return default_session().client("ssm")


def _set_kill_switch(on: bool, parameter: Optional[str]) -> str:
    name = parameter or os.environ.get("KILL_SWITCH_PARAMETER")
    if name:
        from botocore.exceptions import BotoCoreError, ClientError
        try:
            _ssm_client().put_parameter(Name=name, Value="on" if on else "off", Type="String", Overwrite=True)
        except (ClientError, BotoCoreError) as exc:
            err.print(f"[red]could not set {name}: {exc}[/red]")
            raise typer.Exit(1)
        return f"SSM parameter {name}"
    path = LOCAL_STATE / "kill-switch"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("on\n" if on else "off\n")
    return f"local switch {path}; `replay` reads it"


def _local_kill_switch() -> bool:
    path = LOCAL_STATE / "kill-switch"
    return path.is_file() and path.read_text().strip() == "on"
