"""The harness itself: it counts, it faults the Nth call the way it says (before or after the
service saw it), and the double-write check would catch a repeated write."""
from __future__ import annotations

import boto3
import pytest
import urllib3
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError
from kubernetes.client.exceptions import ApiException
from moto import mock_aws

from watchkeeper.adapters.kubernetes_actions import KubernetesActions
from watchkeeper.local.k8s_sim import KubernetesSimulator

from .conftest import FAULTS
from .harness import Call, write_identity

pytestmark = pytest.mark.faults


@pytest.fixture
def ssm(monkeypatch):
    for k, v in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    FAULTS.scope = lambda call: True
    with mock_aws():
        yield boto3.session.Session(region_name="us-east-1").client("ssm")      # a new session: it has the hooks
    FAULTS.reset()


def test_an_aws_fault_before_the_call_never_reaches_the_service(ssm):
    with FAULTS.armed(nth=2, kind="throttle"):
        ssm.put_parameter(Name="/a", Value="1", Type="String")
        with pytest.raises(ClientError, match="ThrottlingException"):
            ssm.put_parameter(Name="/b", Value="1", Type="String")
    assert [c.performed for c in FAULTS.calls] == [True, False]
    with pytest.raises(ClientError, match="ParameterNotFound"):
        ssm.get_parameter(Name="/b")
    with FAULTS.armed(nth=1, kind="reset"), pytest.raises(ConnectionClosedError):
        ssm.put_parameter(Name="/c", Value="1", Type="String")


def test_an_aws_fault_after_the_call_loses_the_answer_of_a_write_that_happened(ssm):
    with FAULTS.armed(nth=1, kind="timeout"), pytest.raises(ReadTimeoutError):
        ssm.put_parameter(Name="/a", Value="1", Type="String")
    assert FAULTS.injected.performed and ssm.get_parameter(Name="/a")["Parameter"]["Value"] == "1"
    with FAULTS.armed(nth=1, kind="5xx"), pytest.raises(ClientError, match="InternalFailure"):
        ssm.put_parameter(Name="/a", Value="2", Type="String", Overwrite=True)
    assert ssm.get_parameter(Name="/a")["Parameter"]["Value"] == "2"


def test_kubernetes_faults_before_and_after_the_call():
    cluster = {"deployments": [{"namespace": "ns", "name": "web", "replicas": 2, "revision": "3", "image": "web:3",
                                "memory_limit": "256Mi"}]}
    FAULTS.scope = lambda call: call.layer == "kubernetes"
    with KubernetesSimulator(cluster) as sim:
        k8s = KubernetesActions(configuration=sim.client_configuration(), sleep=lambda s: None)
        with FAULTS.armed(nth=1, kind="5xx", when="before"), pytest.raises(ApiException):
            k8s.apps.patch_namespaced_deployment_scale("web", "ns", {"spec": {"replicas": 5}})
        assert sim.deployment("ns", "web")["spec"]["replicas"] == 2
        with FAULTS.armed(nth=1, kind="timeout"), pytest.raises(urllib3.exceptions.ReadTimeoutError):
            k8s.apps.patch_namespaced_deployment_scale("web", "ns", {"spec": {"replicas": 5}})
        assert FAULTS.injected.performed and sim.deployment("ns", "web")["spec"]["replicas"] == 5
    FAULTS.reset()


def test_the_double_write_check_ignores_concurrency_tokens_only():
    first = Call(n=1, layer="kubernetes", service="kubernetes", operation="PATCH /apis/apps/v1/x",
                 function=None, params={"metadata": {"resourceVersion": "7"}, "spec": {"replicas": 6}}, status=200)
    again = Call(n=9, layer="kubernetes", service="kubernetes", operation="PATCH /apis/apps/v1/x",
                 function=None, params={"metadata": {"resourceVersion": "8"}, "spec": {"replicas": 6}}, status=200)
    back = Call(n=12, layer="kubernetes", service="kubernetes", operation="PATCH /apis/apps/v1/x",
                function=None, params={"metadata": {"resourceVersion": "9"}, "spec": {"replicas": 4}}, status=200)
    assert write_identity(first) == write_identity(again) != write_identity(back)
