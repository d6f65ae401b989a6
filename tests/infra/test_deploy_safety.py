"""Deploys that cannot hurt: the kill switch survives them, stacks share an account, bad config stops the synth."""
from __future__ import annotations

import json
import tempfile
from typing import Any

import pytest

from infra.app import BUNDLING_STACKS, new_app, stack_name, synth_template
from infra.config import ConfigError, load_cdk_json_context

pytestmark = pytest.mark.infra
REAL_APPROVERS = ["dana@acme-corp.io", "U07B2KX9QJF"]


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return synth_template("local")


def _synth(accounts: dict[str, Any], account: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as outdir:
        app = new_app({"account": account, "accounts": accounts, BUNDLING_STACKS: []}, outdir=outdir)
        return app.synth().get_stack_by_name(stack_name(account)).template


def _accounts(**prod_overrides: Any) -> dict[str, Any]:
    accounts = load_cdk_json_context()["accounts"]
    return {**accounts, "prod": {**accounts["prod"], "approvers": REAL_APPROVERS, **prod_overrides}}


def test_a_deploy_never_writes_the_kill_switch(raw):
    resources = raw["Resources"].values()
    assert not [r for r in resources if r["Type"] == "AWS::SSM::Parameter"
                and "kill-switch" in json.dumps(r["Properties"].get("Name"))], "a parameter resource resets it on update"
    (creator,) = [r for r in resources if r["Type"] == "Custom::AWS" and "kill-switch" in r["Properties"]["Create"]]
    create = json.loads(creator["Properties"]["Create"])
    assert create["action"] == "putParameter" and create["parameters"]["Overwrite"] is False
    assert create["parameters"]["Value"] == "off" and create["ignoreErrorCodesMatching"] == "ParameterAlreadyExists"
    assert "Update" not in creator["Properties"], "an update must not touch the value"
    envs = [r["Properties"]["Environment"]["Variables"] for r in resources if r["Type"] == "AWS::Lambda::Function"
            and "Environment" in r["Properties"]]
    assert {e.get("KILL_SWITCH_PARAMETER") for e in envs if "KILL_SWITCH_PARAMETER" in e} == {"/watchkeeper/local/kill-switch"}


def test_a_tripped_kill_switch_survives_the_create_call():
    """The custom resource's own call, replayed on the embedded AWS against a switch already on."""
    from watchkeeper.local.runtime import LocalAws
    from watchkeeper.local.template import load_template

    with LocalAws(load_template("local")) as aws:
        ssm = aws.client("ssm")
        name = "/watchkeeper/local/kill-switch"
        assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "off"     # created once, off
        ssm.put_parameter(Name=name, Value="on", Type="String", Overwrite=True)
        (lid, res), = [(lid, r) for lid, r in aws.resolver.of_type("Custom::AWS").items()
                       if "kill-switch" in r["Properties"]["Create"]]
        aws._run_sdk_call(lid, res["Properties"]["Create"])                     # a later deploy
        assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "on"


def test_two_stacks_share_an_account_and_region_without_a_name_clash():
    accounts = load_cdk_json_context()["accounts"]
    team = {**accounts["local"], "account_id": "222222222222", "approvers": REAL_APPROVERS}
    accounts = {**accounts, "team-a": team, "team-b": dict(team)}
    names = []
    for account in ("team-a", "team-b"):
        template = _synth(accounts, account)
        explicit = set()
        for res in template["Resources"].values():
            props = res.get("Properties", {})
            for key in ("StateMachineName", "AlarmName", "Name", "TopicName", "TableName", "QueueName",
                        "FunctionName", "LogGroupName", "BucketName", "RuleName"):
                # names that must be unique in an account and region (API Gateway allows duplicates)
                if isinstance(props.get(key), str) and res["Type"] != "AWS::ApiGatewayV2::Api":
                    explicit.add((res["Type"], props[key]))
        names.append(explicit)
    assert names[0] and not names[0] & names[1], names[0] & names[1]
    assert ("AWS::StepFunctions::StateMachine", "Watchkeeper-team-a-Incident") in names[0]


@pytest.mark.parametrize("model,message", [
    ("anthropic.claude-3-5-sonnet-20240620-v1:0", "reached end of life on Amazon Bedrock on 2025-10-22"),
    ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", "reached end of life"),
    ("claude-sonnet", "is not a Bedrock model id"),
])
def test_a_retired_or_implausible_model_stops_the_synth(model, message):
    with pytest.raises(ConfigError, match=f"field 'bedrock_model_id'.*{message}"):
        new_app({"account": "prod", "accounts": _accounts(bedrock_model_id=model)})


@pytest.mark.parametrize("paths", [["/"], ["/watchkeeper/"], ["/watchkeeper/prod/"], ["prod"]])
def test_config_revert_paths_cannot_cover_watchkeepers_own_parameters(paths):
    with pytest.raises(ConfigError, match="field 'config_parameter_paths'"):
        new_app({"account": "prod", "accounts": _accounts(config_parameter_paths=paths)})


def test_placeholder_approvers_are_refused_outside_the_emulator():
    accounts = load_cdk_json_context()["accounts"]
    with pytest.raises(ConfigError, match="field 'approvers': sre-lead@example.com, U0456EFGH are placeholders"):
        new_app({"account": "prod", "accounts": accounts})
    new_app({"account": "local", "accounts": accounts})         # the emulator's account may keep them
