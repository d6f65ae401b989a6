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
    from .local.replay import ReplayIncomplete, ReplayOptions, ReplaySession
    from .local.scenario import BundleError, load_bundle
    from .local.state import export_incident

    options = ReplayOptions(kill_switch=_local_kill_switch() if kill_switch is None else kill_switch)
    saved: dict[str, Path] = {}
    try:
        with contextlib.redirect_stdout(sys.stderr):
            loaded, root = load_bundle(bundle)
            with ReplaySession(loaded, root, options) as session:
                result = session.run()
                if not as_json:          # a person reads the report: keep it (and the incident) after the emulator stops
                    for incident_id, outcome in session.results.items():
                        paths = export_incident(session, incident_id, outcome, LOCAL_STATE, origin="replay")
                        if "html_uri" in paths:
                            saved[incident_id] = paths["html_uri"]
    except BundleError as exc:
        err.print(f"[red]invalid bundle:[/red] {exc}")
        raise typer.Exit(2)
    except ReplayIncomplete as exc:         # never a partial result: no document on stdout, exit 3
        err.print(f"[red]replay incomplete:[/red] {exc}")
        raise typer.Exit(3)
    import gc
    gc.freeze()          # the process ends here: no last collection of the emulator's object graph (seconds)
    if as_json:
        sys.stdout.write(json.dumps(result, default=str) + "\n")
        return
    from .local.console import metrics_view, replay_view

    console = Console()
    a = result["alerts"]
    console.print(f"[bold]{result['scenario']}[/bold]: {a['received']} deliveries, {a['invalid']} invalid, "
                  f"{a['resolved']} resolved\n")
    for inc in result["incidents"]:
        if inc["id"] in saved:
            inc["report"] = str(saved[inc["id"]])
    console.print(replay_view(result, console.width))
    if result.get("agent_metrics"):
        console.print(metrics_view(result["agent_metrics"]))


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
    console = Console()
    console.print(audit_table(records, words[0], console.width))


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
def redrive(queues: Optional[list[str]] = typer.Argument(None, metavar="[NAME]...",
                                                         help="the stack's DLQs to redrive (default: all): Alert, "
                                                              "AlertDelivery, ChangeFeed, Reconciler, Notification"),
            stack: Optional[str] = typer.Option(None, help="the deployed stack whose DeadLetterQueues output names them"),
            from_url: Optional[str] = typer.Option(None, "--from", help="a DLQ URL (instead of --stack)"),
            to_queue: Optional[str] = typer.Option(None, help="with --from: the queue to send the messages to"),
            to_function: Optional[str] = typer.Option(None, help="with --from: the function to invoke with each"),
            max_messages: Optional[int] = typer.Option(None, "--max", help="move at most this many per queue"),
            dry_run: bool = typer.Option(False, "--dry-run", help="only count what is waiting"),
            as_json: bool = typer.Option(False, "--json", help="print the counts as JSON")) -> None:
    """Replay a dead-letter queue after a fix: each message back where it failed to go, with counts.

    Exit status 1 when a message failed again (it stays in the queue)."""
    import boto3

    from .adapters.redrive import dead_letter_queues, redrive as run_redrive

    if from_url:
        if bool(to_queue) == bool(to_function):
            err.print("with --from, give exactly one of --to-queue or --to-function")
            raise typer.Exit(2)
        plan = {"queue": {"url": from_url, "redrive_to": {"queue": to_queue} if to_queue else {"function": to_function}}}
    elif stack:
        try:
            outputs = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
            plan = dead_letter_queues(outputs)
        except Exception as exc:  # no credentials, no such stack, no output: say which
            err.print(f"[red]cannot read the dead-letter queues of {stack}:[/red] {exc}")
            raise typer.Exit(2)
        unknown = [q for q in queues or [] if q not in plan]
        if unknown:
            err.print(f"unknown queue(s) {', '.join(unknown)}; the stack has {', '.join(plan)}")
            raise typer.Exit(2)
        plan = {name: plan[name] for name in (queues or plan)}
    else:
        err.print("give --stack STACK (its DeadLetterQueues output), or --from URL with --to-queue/--to-function")
        raise typer.Exit(2)
    sqs, results = boto3.client("sqs"), {}
    clients = {"lambda_client": boto3.client("lambda"), "sns": boto3.client("sns")}
    for name, q in plan.items():
        results[name] = run_redrive(sqs, q["url"], q["redrive_to"], max_messages=max_messages, dry_run=dry_run, **clients)
    if as_json:
        sys.stdout.write(json.dumps({n: r.__dict__ for n, r in results.items()}) + "\n")
    else:
        table = Table("dead-letter queue", "redrives to", "waiting" if dry_run else "moved", "failed", "left",
                      title="dry run: nothing moved" if dry_run else None)
        for name, r in results.items():
            table.add_row(name, r.target, str(r.left if dry_run else r.moved), str(r.failed), str(r.left))
        Console().print(table)
        for r in results.values():
            for e in r.errors[:5]:
                err.print(f"[red]{r.target}:[/red] {e}")
    if any(r.failed for r in results.values()):
        raise typer.Exit(1)


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


# --- the operator's view of an account ----------------------------------------------------------

ContextOpt = typer.Option(None, "-c", "--context", metavar="account=NAME",
                          help="the cdk.json account whose deployed stack to read (with your AWS credentials)")
RegionOpt = typer.Option(None, help="the stack's region (default: the account's region in cdk.json)")
JsonOpt = typer.Option(False, "--json", help="one JSON document on stdout, for scripts")


def _account_of(context: Optional[list[str]]) -> Optional[str]:
    for item in context or []:
        key, _, value = item.partition("=")
        if key.strip() != "account" or not value.strip():
            err.print(f"[red]-c {item}: expected account=NAME[/red]")
            raise typer.Exit(2)
        return value.strip()
    return None


def _session(region: Optional[str]):
    import boto3
    return boto3.session.Session(region_name=region) if region else boto3.session.Session()


def _incident_source(context: Optional[list[str]], region: Optional[str], state_table: Optional[str],
                     audit_table: Optional[str]):
    """The deployed stack's tables (-c account=NAME, or --state-table), else the local state."""
    from .ops.incidents import DeployedIncidents, LocalIncidents
    from .ops.stack import DeployedStack, StackNotFound, account_config

    account = _account_of(context)
    state_table = state_table or os.environ.get("STATE_TABLE")
    if state_table:
        return DeployedIncidents(_session(region), state_table, audit_table or os.environ.get("AUDIT_TABLE", ""),
                                 os.environ.get("STATE_MACHINE_ARN", ""))
    if account is None:
        return LocalIncidents(LOCAL_STATE)
    try:
        config = account_config(account)
        stack = DeployedStack.find(_session(region or config.region), account)
    except (StackNotFound, ValueError) as exc:
        err.print(f"[red]{exc}[/red]", soft_wrap=True)
        raise typer.Exit(1)
    return DeployedIncidents(_session(stack.region), stack.state_table, stack.audit_table, stack.state_machine_arn)


@app.command()
def incidents(context: Optional[list[str]] = ContextOpt, region: Optional[str] = RegionOpt,
              open_only: bool = typer.Option(False, "--open", help="only incidents not handled yet"),
              awaiting_approval: bool = typer.Option(False, "--awaiting-approval", help="only those waiting for a human"),
              since: Optional[str] = typer.Option(None, help="opened within this long: 90m, 24h, 7d"),
              state_table: Optional[str] = typer.Option(None, help="read this state table (default: the stack's)"),
              audit_table: Optional[str] = typer.Option(None, hidden=True),
              as_json: bool = JsonOpt) -> None:
    """A table of incidents: the deployed account's (-c account=NAME), or the local demo's and replays'."""
    from .local.console import incidents_view
    from .ops.incidents import IncidentFilter, now_utc, parse_since

    try:
        wanted = IncidentFilter(open_only, awaiting_approval, parse_since(since) if since else None)
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2)
    source = _incident_source(context, region, state_table, audit_table)
    now = now_utc()
    rows = [r for r in source.rows() if wanted.keep(r, now)]
    if as_json:
        sys.stdout.write(json.dumps({"source": source.where, "incidents": rows}, default=str) + "\n")
        return
    console = Console()
    console.print(incidents_view(rows, console.width, now, source.where))


@app.command()
def show(incident: str = typer.Argument(..., help="the incident id (or a unique part of it)"),
         context: Optional[list[str]] = ContextOpt, region: Optional[str] = RegionOpt,
         state_table: Optional[str] = typer.Option(None, help="read this state table (default: the stack's)"),
         audit_table: Optional[str] = typer.Option(None, help="read this audit table (default: the stack's)"),
         as_json: bool = JsonOpt) -> None:
    """One incident: diagnosis, evidence, plan, decisions, actions and where its report is."""
    from .local.console import incident_view

    source = _incident_source(context, region, state_table, audit_table)
    try:
        doc = source.show(incident)
    except KeyError as exc:
        err.print(f"[red]{exc.args[0]}[/red] ({source.where})", soft_wrap=True)
        raise typer.Exit(1)
    if as_json:
        sys.stdout.write(json.dumps(doc, default=str) + "\n")
        return
    console = Console()
    console.print(incident_view(doc, console.width))


@app.command()
def doctor(context: Optional[list[str]] = ContextOpt, region: Optional[str] = RegionOpt,
           embedded: bool = typer.Option(False, "--embedded", help="check against the embedded AWS (the synthesized "
                                                                   "stack on moto) instead of the real account"),
           world: Optional[Path] = typer.Option(None, help="with --embedded: load this scenario's world first"),
           as_json: bool = JsonOpt) -> None:
    """Check an account's configuration against the account: catalog services, log groups, alarms, secrets,
    Slack, the kill switch and model access. Each problem is named with its fix; exit status 1 if any."""
    from .ops.doctor import Doctor, Finding
    from .ops.stack import DeployedStack, StackNotFound, account_config

    account = _account_of(context) or "local"
    try:
        config = account_config(account)
        from infra.config import load_catalog
        catalog = load_catalog(config)
    except ValueError as exc:       # ConfigError: names the account or the field
        _print_findings([Finding("configuration", "problem", str(exc), "correct cdk.json or the catalog file")],
                        as_json, account)
        raise typer.Exit(1)
    with contextlib.ExitStack() as stack:
        if embedded:
            session, outputs, kubernetes_for = _embedded(stack, account, world)
        else:
            session = _session(region or config.region)
            try:
                outputs = DeployedStack.find(session, account).outputs
            except StackNotFound:
                outputs = None
            kubernetes_for = _kubernetes_for(session)
        found = Doctor(account, config, catalog, session, outputs, catalog_file=config.catalog,
                       kubernetes_for=kubernetes_for).run()
    _print_findings(found, as_json, account)
    if any(f.status == "problem" for f in found):
        raise typer.Exit(1)


def _kubernetes_for(session):
    from .adapters.kubernetes_actions import KubernetesActions
    url = os.environ.get("WATCHKEEPER_KUBE_URL")

    def build(cluster: str):
        if url:
            from kubernetes import client as k8s
            conf = k8s.Configuration(host=url)
            conf.api_key = {"authorization": "Bearer local-simulator"}
            return KubernetesActions(configuration=conf)
        return KubernetesActions.for_eks(cluster, session.region_name, session)
    return build


def _embedded(stack: contextlib.ExitStack, account: str, world: Optional[Path]):
    """The synthesized stack on moto (with a scenario's world when given): its outputs as a deployed stack's."""
    from .local.k8s_sim import KubernetesSimulator
    from .local.runtime import LocalAws
    from .local.template import load_template

    kube = KubernetesSimulator()
    url = kube.start()
    stack.callback(kube.stop)
    template = load_template(account)
    with contextlib.redirect_stdout(sys.stderr):
        aws = LocalAws(template, env_overrides={"WATCHKEEPER_KUBE_URL": url})
        aws.start()
    stack.callback(aws.stop)
    if world is not None:
        from .local.scenario import WorldLoader, load_bundle
        bundle, root = load_bundle(world)
        WorldLoader(aws).load(bundle, root, kube)
    outputs = {k: str(aws.resolver.resolve(v["Value"])) for k, v in template.get("Outputs", {}).items()}
    return aws.session, outputs, _kubernetes_for(aws.session)


def _print_findings(found, as_json: bool, account: str) -> None:
    problems = [f for f in found if f.status == "problem"]
    if as_json:
        sys.stdout.write(json.dumps({"account": account, "problems": len(problems),
                                     "findings": [f.as_dict() for f in found]}) + "\n")
        return
    from rich.text import Text

    from .local.console import doctor_view
    console = Console()
    console.print(doctor_view(found, account))
    summary = Text(f"{len(problems)} problem(s), {sum(f.status == 'warning' for f in found)} warning(s), "
                   f"{sum(f.status == 'ok' for f in found)} check(s) passed", style="bold red" if problems else "bold green")
    console.print(summary)
