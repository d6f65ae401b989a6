"""Where a deployed Watchkeeper keeps its state: the stack's outputs, read with the caller's credentials."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

REPO = Path(__file__).resolve().parents[3]


class StackNotFound(LookupError):
    """No deployed stack for the account (or no credentials to see it); the message says which and how to fix."""


def stack_name(account: str) -> str:
    return f"Watchkeeper-{account}"      # infra.app.stack_name


def account_config(account: str) -> Any:
    """The account's entry of cdk.json (infra.config), validated; ConfigError names the field."""
    if str(REPO) not in sys.path:        # `infra` sits at the repository root, it is not an installed package
        sys.path.insert(0, str(REPO))
    from infra.config import load_cdk_json_context, select_account
    return select_account(load_cdk_json_context().get("accounts"), account)


@dataclass
class DeployedStack:
    name: str
    region: str
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def state_table(self) -> str:
        return self.outputs.get("StateTableName", "")

    @property
    def audit_table(self) -> str:
        return self.outputs.get("AuditTableName", "")

    @property
    def state_machine_arn(self) -> str:
        return self.outputs.get("StateMachineArn", "")

    @classmethod
    def find(cls, session: Any, account: str) -> "DeployedStack":
        name = stack_name(account)
        try:
            stacks = session.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
        except ClientError as exc:
            if "does not exist" in str(exc):
                raise StackNotFound(f"no stack {name} in {session.region_name}: deploy it with "
                                    f"`npx aws-cdk@2 deploy -c account={account}`, or pass --region") from None
            raise StackNotFound(f"cannot read stack {name} in {session.region_name}: "
                                f"{exc.response['Error']['Code']}: {exc.response['Error']['Message']}") from None
        except BotoCoreError as exc:
            raise StackNotFound(f"cannot read stack {name}: {exc} (are AWS credentials for the account set?)") from None
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
        return cls(name=name, region=session.region_name, outputs=outputs)
