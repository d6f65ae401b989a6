"""The EKS executor against the local Kubernetes API simulator, over real HTTP with the
official client: what an on-call engineer would see the cluster do."""

from __future__ import annotations

import base64
import json
import urllib.request
from urllib.parse import parse_qs, urlsplit

import botocore.session
import pytest
from botocore.stub import Stubber
from kubernetes import client as k8s

from watchkeeper.adapters.kubernetes_actions import (
    ActionConflict,
    ActionForbidden,
    ActionRefused,
    ActionThrottled,
    KubernetesActions,
    TargetNotFound,
    eks_configuration,
    eks_token,
)
from watchkeeper.local.k8s_sim import KubernetesSimulator

NS, NAME = "shop", "checkout-api"
IMAGE = "shop/checkout-api:9f2c1e7"
CLUSTER = {
    "deployments": [
        {"namespace": NS, "name": NAME, "replicas": 4, "ready": 2, "revision": "42",
         "image": IMAGE, "memory_limit": "512Mi", "cpu_limit": "500m"},
        {"namespace": NS, "name": "cart-api", "replicas": 3, "ready": 3, "revision": "7",
         "image": "shop/cart-api:ec2ac14", "previous_image": "shop/cart-api:1b2c3d4",
         "memory_limit": "1Gi", "cpu_limit": "1"},
        {"namespace": NS, "name": "fresh-api", "replicas": 1, "ready": 1, "revision": "1",
         "image": "shop/fresh-api:0000001", "memory_limit": "256Mi", "cpu_limit": "250m"},
    ],
    "pods": [
        {"namespace": NS, "name": "checkout-api-7d9c-x2k4p", "deployment": NAME,
         "phase": "Running", "restarts": 2, "last_termination_reason": "OOMKilled"},
        {"namespace": NS, "name": "checkout-api-7d9c-q8v2n", "deployment": NAME,
         "phase": "Running", "restarts": 5, "last_termination_reason": "Error"},
    ],
    "hpas": [{"namespace": NS, "name": "cart-api", "target": "cart-api",
              "min_replicas": 2, "max_replicas": 5}],
}


@pytest.fixture
def sim():
    with KubernetesSimulator(CLUSTER) as simulator:
        yield simulator


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def actions(sim, sleeps):
    return KubernetesActions(configuration=sim.client_configuration(), sleep=sleeps.append,
                             poll_interval=0.001, settle_timeout=0.5)


def image_of(deployment: dict) -> str:
    return deployment["spec"]["template"]["spec"]["containers"][0]["image"]


def writes(sim, status: int | None = None) -> list[dict]:
    return [e for e in sim.events if status is None or e["status"] == status]


def test_describe_shows_what_a_responder_needs(actions):
    state = actions.describe(NS, NAME)["before"]

    assert (state["replicas"], state["ready"], state["revision"]) == (4, 2, "42")
    assert state["image"] == IMAGE and state["memory_limit"] == "512Mi"
    assert [r["revision"] for r in state["revisions"]] == ["41", "42"]
    oom = next(p for p in state["pods"] if p["name"] == "checkout-api-7d9c-x2k4p")
    assert (oom["restarts"], oom["last_termination_reason"], oom["revision"]) == (2, "OOMKilled", "42")
    assert len(state["pods"]) == 4 and sum(p["ready"] for p in state["pods"]) == 2


def test_rollout_undo_puts_the_previous_image_back_as_a_new_revision(sim, actions):
    result = actions.rollout_undo(NS, NAME)

    deployment = sim.deployment(NS, NAME)
    assert image_of(deployment) == f"{IMAGE}-prev"
    assert deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "43"
    current = [rs for rs in sim.replicasets(NS, NAME) if rs["spec"]["replicas"] == 4]
    assert len(current) == 1 and current[0]["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "41"
    assert {p["spec"]["containers"][0]["image"] for p in sim.pods(NS, NAME)} == {f"{IMAGE}-prev"}
    assert result["executed"] and result["restored_revision"] == "41"
    assert f"image: {IMAGE} -> {IMAGE}-prev" in result["diff"] and "revision: 42 -> 43" in result["diff"]
    assert result["requests"][0]["content_type"] == "application/json-patch+json"


def test_rollout_undo_goes_back_one_revision_not_to_the_oldest(sim, actions):
    actions.set_memory_limit(NS, NAME, value="1Gi")  # revision 43: same image, more memory

    result = actions.rollout_undo(NS, NAME)

    container = sim.deployment(NS, NAME)["spec"]["template"]["spec"]["containers"][0]
    assert (container["image"], container["resources"]["limits"]["memory"]) == (IMAGE, "512Mi")
    assert result["restored_revision"] == "42" and "memory_limit: 1Gi -> 512Mi" in result["diff"]


def test_rollout_undo_refuses_when_there_is_no_previous_revision(sim, actions):
    with pytest.raises(ActionRefused, match="no previous revision"):
        actions.rollout_undo(NS, "fresh-api")
    with pytest.raises(ActionRefused, match="unable to find specified revision 9"):
        actions.rollout_undo(NS, NAME, to_revision=9)
    assert writes(sim) == []


def test_scale_with_an_hpa_raises_its_minimum_but_never_passes_its_maximum(sim, actions):
    result = actions.scale(NS, "cart-api", 9)

    assert sim.deployment(NS, "cart-api")["spec"]["replicas"] == 5
    assert sim.hpa(NS, "cart-api")["spec"]["minReplicas"] == 5
    assert len(sim.pods(NS, "cart-api")) == 5
    assert result["after"]["replicas"] == 5 and result["after"]["hpa"]["min_replicas"] == 5
    assert any("capped at 5" in note for note in result["notes"])


def test_scale_without_an_hpa_sets_replicas(sim, actions):
    result = actions.scale(NS, NAME, 6)

    assert sim.deployment(NS, NAME)["spec"]["replicas"] == 6 and len(sim.pods(NS, NAME)) == 6
    assert result["diff"] == "replicas: 4 -> 6"
    assert result["api_call"] == f"PATCH /apis/apps/v1/namespaces/{NS}/deployments/{NAME}/scale"


def test_restart_deletes_the_worst_pods_one_at_a_time_and_they_are_replaced(sim, actions):
    seen: list[int] = []
    sim.on_write(lambda verb, kind, ns, name, body: seen.append(len(sim.pods(NS, NAME))))

    result = actions.restart_pods(NS, NAME, max_pods=2)

    assert result["pods_deleted"] == ["checkout-api-7d9c-x2k4p", "checkout-api-7d9c-q8v2n"]
    names = {p["metadata"]["name"] for p in sim.pods(NS, NAME)}
    assert not names & set(result["pods_deleted"]) and len(names) == 4 and seen == [4, 4]
    fresh = [p for p in sim.pods(NS, NAME) if p["metadata"]["name"] in result["pods_created"]]
    assert len(fresh) == 2 and all(p["status"]["containerStatuses"][0]["restartCount"] == 0 for p in fresh)
    assert [e["verb"] for e in writes(sim)] == ["delete", "delete"]


def test_restart_stops_when_a_replacement_never_becomes_ready(sim, actions):
    def replacement_stays_unready(verb, kind, ns, name, body):
        for pod in sim.pods(NS, NAME):
            if pod["status"]["containerStatuses"][0]["restartCount"] == 0:
                sim.set_pod_status(NS, pod["metadata"]["name"], ready=False)

    sim.on_write(replacement_stays_unready)
    actions.settle_timeout = 0.1
    result = actions.restart_pods(NS, NAME)

    assert result["pods_deleted"] == ["checkout-api-7d9c-x2k4p"]
    assert "stopped after 1 pod" in result["notes"][0]


def test_memory_limit_is_raised_by_half_and_rolls_out(sim, actions):
    result = actions.set_memory_limit(NS, NAME, factor=1.5)

    container = sim.deployment(NS, NAME)["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"] == {"cpu": "500m", "memory": "768Mi"}
    assert {p["spec"]["containers"][0]["resources"]["limits"]["memory"] for p in sim.pods(NS, NAME)} == {"768Mi"}
    assert "memory_limit: 512Mi -> 768Mi" in result["diff"]
    assert actions.set_memory_limit(NS, "cart-api")["after"]["memory_limit"] == "1536Mi"


@pytest.mark.parametrize("act", [
    lambda a: a.rollout_undo(NS, NAME, dry_run=True),
    lambda a: a.scale(NS, "cart-api", 4, dry_run=True),
    lambda a: a.set_memory_limit(NS, NAME, dry_run=True),
    lambda a: a.restart_pods(NS, NAME, max_pods=1, dry_run=True),
], ids=["rollout_undo", "scale", "set_memory_limit", "restart_pods"])
def test_dry_run_writes_nothing_but_shows_the_call_and_diff(sim, actions, act):
    before = (sim.deployment(NS, NAME), sim.deployment(NS, "cart-api"), sim.hpa(NS, "cart-api"),
              sim.pods(NS, NAME))

    result = act(actions)

    assert (sim.deployment(NS, NAME), sim.deployment(NS, "cart-api"), sim.hpa(NS, "cart-api"),
            sim.pods(NS, NAME)) == before
    assert not result["executed"] and result["diff"]
    assert "?dryRun=All" in result["api_call"]
    assert writes(sim) and all(e["dry_run"] for e in writes(sim))


def test_revert_restores_each_write(sim, actions):
    undo = actions.rollout_undo(NS, NAME)
    assert image_of(sim.deployment(NS, NAME)) != IMAGE
    revert = actions.revert(undo)
    assert image_of(sim.deployment(NS, NAME)) == IMAGE and revert["restored_revision"] == "42"
    assert sim.deployment(NS, NAME)["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "44"

    original_cart = sim.deployment(NS, "cart-api")["spec"]["replicas"]

    actions.revert(actions.scale(NS, "cart-api", 5))
    assert sim.deployment(NS, "cart-api")["spec"]["replicas"] == original_cart
    assert sim.hpa(NS, "cart-api")["spec"]["minReplicas"] == 2

    actions.revert(actions.set_memory_limit(NS, NAME))
    limits = sim.deployment(NS, NAME)["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits["memory"] == "512Mi"

    with pytest.raises(ActionRefused, match="cannot be reverted"):
        actions.revert(actions.restart_pods(NS, NAME, max_pods=1))


def test_a_conflict_is_re_read_and_retried(sim, actions):
    sim.inject_fault("PATCH", r"/deployments/checkout-api/scale$", 409, times=1)

    actions.scale(NS, NAME, 5)

    assert [e["status"] for e in writes(sim)] == [409, 200]
    assert sim.deployment(NS, NAME)["spec"]["replicas"] == 5


def test_a_persistent_conflict_surfaces_as_action_conflict(sim, actions):
    sim.inject_fault("PATCH", r"/deployments/checkout-api$", 409, times=None)

    with pytest.raises(ActionConflict, match="gave up after 3 attempts") as raised:
        actions.set_memory_limit(NS, NAME)
    assert raised.value.status == 409 and len(writes(sim, 409)) == 3


def test_a_stale_resource_version_is_a_real_conflict(sim):
    apps = k8s.AppsV1Api(k8s.ApiClient(sim.client_configuration()))
    stale = apps.read_namespaced_deployment(NAME, NS).metadata.resource_version
    apps.patch_namespaced_deployment_scale(NAME, NS, {"spec": {"replicas": 5}})

    with pytest.raises(k8s.ApiException) as raised:
        apps.patch_namespaced_deployment(NAME, NS, {"metadata": {"resourceVersion": stale},
                                                    "spec": {"replicas": 3}})
    assert raised.value.status == 409 and json.loads(raised.value.body)["reason"] == "Conflict"


def test_forbidden_is_not_retried(sim, actions):
    sim.inject_fault("PATCH", r"/deployments/", 403, times=None)

    with pytest.raises(ActionForbidden, match="403 Forbidden"):
        actions.rollout_undo(NS, NAME)
    assert len(writes(sim)) == 1


def test_throttling_honours_retry_after_then_succeeds(sim, actions, sleeps):
    sim.inject_fault("PATCH", r"/scale$", 429, times=1, retry_after=1)

    actions.scale(NS, NAME, 5)

    assert sleeps == [1.0] and sim.deployment(NS, NAME)["spec"]["replicas"] == 5


def test_persistent_throttling_surfaces_with_capped_waits(sim, actions, sleeps):
    sim.inject_fault("GET", r"/deployments/checkout-api$", 429, times=None, retry_after=30)

    with pytest.raises(ActionThrottled, match="after 3 attempts"):
        actions.describe(NS, NAME)
    assert sleeps == [2.0, 2.0]


def test_missing_deployment_is_target_not_found(actions):
    with pytest.raises(TargetNotFound, match='deployments.apps "nope" not found'):
        actions.scale(NS, "nope", 2)


def test_a_token_is_required_when_the_cluster_demands_one(sleeps):
    with KubernetesSimulator(CLUSTER, required_token="k8s-aws-v1.") as sim:
        anonymous = KubernetesActions(configuration=sim.client_configuration(token="not-an-eks-token"))
        with pytest.raises(ActionForbidden) as raised:
            anonymous.describe(NS, NAME)
        assert raised.value.status == 401

        signed = KubernetesActions(configuration=sim.client_configuration(token="k8s-aws-v1.abc"))
        assert signed.describe(NS, NAME)["before"]["revision"] == "42"


def fake_session() -> botocore.session.Session:
    session = botocore.session.get_session()
    session.set_credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    return session


def test_eks_token_is_a_presigned_sts_get_caller_identity_url():
    token = eks_token("prod-eks", "us-east-1", fake_session())

    assert token.startswith("k8s-aws-v1.") and "=" not in token
    encoded = token.removeprefix("k8s-aws-v1.")
    url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert parts.scheme == "https" and parts.netloc == "sts.us-east-1.amazonaws.com"
    assert query["Action"] == "GetCallerIdentity" and query["X-Amz-Expires"] == "60"
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Credential"].startswith("AKIDEXAMPLE/") and "/us-east-1/sts/aws4_request" in query["X-Amz-Credential"]
    assert query["X-Amz-SignedHeaders"] == "host;x-k8s-aws-id" and len(query["X-Amz-Signature"]) == 64


def test_eks_configuration_uses_describe_cluster_endpoint_and_ca():
    session = fake_session()
    eks = session.create_client("eks", region_name="us-east-1")
    pem = b"-----BEGIN CERTIFICATE-----\nMIIFAKE\n-----END CERTIFICATE-----\n"
    with Stubber(eks) as stub:
        stub.add_response("describe_cluster", {"cluster": {
            "name": "prod-eks", "endpoint": "https://ABCD.gr7.us-east-1.eks.amazonaws.com",
            "certificateAuthority": {"data": base64.b64encode(pem).decode()}}}, {"name": "prod-eks"})
        configuration = eks_configuration("prod-eks", "us-east-1", session, eks_client=eks)

    assert configuration.host == "https://ABCD.gr7.us-east-1.eks.amazonaws.com"
    with open(configuration.ssl_ca_cert, "rb") as ca:
        assert ca.read() == pem
    assert configuration.get_api_key_with_prefix("authorization").startswith("Bearer k8s-aws-v1.")


def test_simulator_rolls_out_a_restart_annotation_and_accepts_json_merge_patches(sim):
    apps = k8s.AppsV1Api(k8s.ApiClient(sim.client_configuration()))
    old_pods = {p["metadata"]["name"] for p in sim.pods(NS, NAME)}

    apps.patch_namespaced_deployment(NAME, NS, {"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": "2026-11-25T03:10:00Z"}}}}})

    deployment = sim.deployment(NS, NAME)
    assert deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "43"
    assert deployment["metadata"]["generation"] == 2
    assert not old_pods & {p["metadata"]["name"] for p in sim.pods(NS, NAME)}

    request = urllib.request.Request(
        f"{sim.url}/apis/apps/v1/namespaces/{NS}/deployments/{NAME}", method="PATCH",
        data=json.dumps({"spec": {"replicas": 2}}).encode(),
        headers={"Content-Type": "application/merge-patch+json", "Authorization": "Bearer t"})
    with urllib.request.urlopen(request) as response:
        assert json.load(response)["spec"]["replicas"] == 2
    assert len(sim.pods(NS, NAME)) == 2
