"""cfn-lint on the synthesized templates: zero errors (warnings are CDK idioms, e.g. DependsOn next to GetAtt)."""
from __future__ import annotations

import json

import pytest

from infra.app import synth_template

from .test_deploy_safety import _accounts, _synth

pytestmark = pytest.mark.infra


def _errors(template: dict) -> list[str]:
    from cfnlint.api import ManualArgs, lint

    matches = lint(json.dumps(template), config=ManualArgs(regions=[template.get("Metadata", {}).get("region", "us-east-1")]))
    return [str(m) for m in matches if m.rule.severity == "error"]


def test_the_local_template_has_no_cfn_lint_errors():
    assert _errors(synth_template("local")) == []


def test_a_production_template_has_no_cfn_lint_errors():
    assert _errors(_synth(_accounts(), "prod")) == []
