"""The write path's AWS calls each have a least-privilege grant on Execute actions and Verify recovery
(both write and revert): AppConfig reverts, Run Command's final status, ECS task restarts."""
from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest

from infra.app import synth_template

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return synth_template("local")         # the example catalog: EKS, ECS (prod-ecs) and Lambda services


def _statements(raw: dict[str, Any], handler: str) -> list[dict[str, Any]]:
    resources = raw["Resources"]
    (fn,) = [v for v in resources.values() if v["Type"] == "AWS::Lambda::Function"
             and v["Properties"]["Handler"] == f"watchkeeper.handlers.{handler}.handler"]
    role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    out = []
    for v in resources.values():
        if v["Type"] == "AWS::IAM::Policy" and {"Ref": role} in v["Properties"].get("Roles", []):
            out += v["Properties"]["PolicyDocument"]["Statement"]
    return out


def _text(value: Any) -> str:
    """An ARN with its intrinsics flattened (partition, region, account become '*')."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        return "".join(_text(p) for p in value["Fn::Join"][1])
    return "*"


def allows(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    for s in statements:
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        if s["Effect"] == "Allow" and action in actions and any(
                fnmatch.fnmatch(resource, _text(r)) or _text(r) == "*" for r in resources):
            return True
    return False


@pytest.mark.parametrize("handler", ["execute", "verify"])
def test_each_write_path_call_has_its_grant(raw, handler):
    st = _statements(raw, handler)
    for action, resource in [
        ("appconfig:ListApplications", "*"),
        ("appconfig:ListDeployments", "arn:aws:appconfig:us-east-1:123456789012:application/a1/environment/e1"),
        ("appconfig:StartDeployment", "arn:aws:appconfig:us-east-1:123456789012:application/a1/configurationprofile/p1"),
        ("appconfig:StopDeployment", "arn:aws:appconfig:us-east-1:123456789012:application/a1/environment/e1/deployment/4"),
        ("ssm:ListCommands", "*"),
        ("ssm:ListCommandInvocations", "*"),
        ("ssm:GetParameterHistory", "arn:aws:ssm:us-east-1:123456789012:parameter/prod/cart/pool"),
        ("ecs:StopTask", "arn:aws:ecs:us-east-1:123456789012:task/prod-ecs/0123abcd"),
        ("ecs:DescribeTasks", "arn:aws:ecs:us-east-1:123456789012:task/prod-ecs/0123abcd"),
        ("ecs:ListTasks", "*"),
    ]:
        assert allows(st, action, resource), f"{handler} lacks {action} on {resource}"
    listing = next(s for s in st if "ecs:ListTasks" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]))
    assert "ecs:cluster" in json.dumps(listing.get("Condition", {}))        # only the catalog's clusters


def test_task_stops_are_limited_to_the_catalogs_clusters(raw):
    st = _statements(raw, "execute")
    assert not allows(st, "ecs:StopTask", "arn:aws:ecs:us-east-1:123456789012:task/someone-elses-cluster/1")


CD = "arn:aws:codedeploy:us-east-1:123456789012"


@pytest.mark.parametrize("handler", ["execute", "verify"])
def test_the_codedeploy_rollback_has_its_grants_and_deploys_only_to_the_catalogs_applications(raw, handler):
    """Execute and Verify (a revert is a deployment too) read any group's deployments for the dry run,
    and deploy only to the catalog's EC2 services' applications (invoicing in the example catalog)."""
    st = _statements(raw, handler)
    for action, resource in [
        ("codedeploy:GetDeployment", f"{CD}:deploymentgroup:invoicing/invoicing-asg"),
        ("codedeploy:GetDeploymentGroup", f"{CD}:deploymentgroup:invoicing/invoicing-asg"),
        ("codedeploy:ListDeployments", f"{CD}:deploymentgroup:invoicing/invoicing-asg"),
        ("codedeploy:CreateDeployment", f"{CD}:deploymentgroup:invoicing/invoicing-asg"),
        ("codedeploy:CreateDeployment", f"{CD}:deploymentgroup:invoicing-asg/prod"),   # named after its ASG
        ("codedeploy:GetApplicationRevision", f"{CD}:application:invoicing"),
        ("codedeploy:GetDeploymentConfig", f"{CD}:deploymentconfig:CodeDeployDefault.OneAtATime"),
    ]:
        assert allows(st, action, resource), f"{handler} lacks {action} on {resource}"
    assert not allows(st, "codedeploy:CreateDeployment", f"{CD}:deploymentgroup:payroll/payroll-asg")
    assert not allows(st, "codedeploy:GetApplicationRevision", f"{CD}:application:payroll")
    every = {a for s in st for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert {a for a in every if a.startswith("codedeploy:")} == {
        "codedeploy:GetDeployment", "codedeploy:GetDeploymentGroup", "codedeploy:ListDeployments",
        "codedeploy:CreateDeployment", "codedeploy:GetApplicationRevision", "codedeploy:GetDeploymentConfig"}
    assert not any(r == "*" for s in st if any(str(a).startswith("codedeploy:") for a in (
        s["Action"] if isinstance(s["Action"], list) else [s["Action"]]))
        for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]))
