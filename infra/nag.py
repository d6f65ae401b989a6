"""cdk-nag acknowledgements: every one names the exact finding and says why it is acceptable."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import IConstruct


ACKNOWLEDGED: list[str] = []   # every acknowledgement made in this process, for the synth's summary


def acknowledge(scope: IConstruct, rule: str, reason: str, *findings: str) -> None:
    """Acknowledge `rule` (or only its listed `findings`, e.g. 'Resource::*') on `scope` and its children."""
    ids = [f"{rule}[{finding}]" for finding in findings] if findings else [rule]
    ACKNOWLEDGED.extend(ids)
    cdk.Validations.of(scope).acknowledge(*(cdk.Acknowledgment(id=i, reason=reason) for i in ids))


def arn_of(construct: IConstruct) -> str:
    """How cdk-nag renders `Fn::GetAtt [<logical id>, Arn]` of the construct's L1 resource."""
    cfn = construct.node.default_child if not isinstance(construct, cdk.CfnResource) else construct
    stack = cdk.Stack.of(construct)
    return f"<{stack.resolve(stack.get_logical_id(cfn))}.Arn>"
