"""Entry point of the CDK app: `python -m infra.app` (what cdk.json runs) and `synth_template()` for local use."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from infra.config import ConfigError, load_catalog, load_cdk_json_context, select_account  # noqa: E402
from infra.stack import WatchkeeperStack  # noqa: E402

DEFAULT_ACCOUNT = "local"
BUNDLING_STACKS = "aws:cdk:bundling-stacks"


def stack_name(account: str) -> str:
    return f"Watchkeeper-{account}"


def new_app(context: dict[str, Any] | None = None, outdir: str | None = None) -> cdk.App:
    """The app with cdk.json's context, `context` overrides on top, and cdk-nag AwsSolutions checks.

    Raises ConfigError naming the account or field when the selected account's configuration is invalid.
    Context from the CDK CLI (`-c account=prod`) takes precedence over both.
    """
    merged = {**load_cdk_json_context(), **(context or {})}
    app = cdk.App(context=merged, outdir=outdir)
    account = app.node.try_get_context("account") or DEFAULT_ACCOUNT
    config = select_account(app.node.try_get_context("accounts"), account)
    catalog = load_catalog(config)
    WatchkeeperStack(app, stack_name(account), account_name=account, config=config, catalog=catalog)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def synth_template(account: str = DEFAULT_ACCOUNT, bundling: bool = False) -> dict[str, Any]:
    """The CloudFormation template of `account`'s stack, synthesized with validation and cdk-nag on."""
    context: dict[str, Any] = {"account": account}
    if not bundling:
        context[BUNDLING_STACKS] = []
    with tempfile.TemporaryDirectory(prefix="watchkeeper-cdk-") as outdir:
        app = new_app(context, outdir=outdir)
        assembly = app.synth()
        return assembly.get_stack_by_name(stack_name(account)).template


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Synthesize the Watchkeeper CDK app into cdk.out/")
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE",
                        help="context override, e.g. -c account=prod")
    parser.add_argument("--no-bundling", action="store_true", help="skip building the Lambda code assets")
    parser.add_argument("-o", "--output", default=None, help="cloud assembly directory (default: cdk.out)")
    args = parser.parse_args(argv)
    context: dict[str, Any] = dict(item.split("=", 1) for item in args.context)
    if args.no_bundling:
        context[BUNDLING_STACKS] = []
    try:
        # Under the CDK CLI the assembly directory comes from CDK_OUTDIR; run directly, write ./cdk.out.
        app = new_app(context, outdir=args.output or os.environ.get("CDK_OUTDIR") or "cdk.out")
    except ConfigError as error:
        print(f"watchkeeper: {error}", file=sys.stderr)
        return 2
    app.synth()   # cdk-nag's AwsSolutions checks run here; an unacknowledged finding fails the synth
    from infra.nag import ACKNOWLEDGED

    print(f"cdk-nag AwsSolutions: no unacknowledged findings ({len(ACKNOWLEDGED)} acknowledged, each with its reason)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
