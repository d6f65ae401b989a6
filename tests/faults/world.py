"""The fault tier's world: the synthesized stack on the embedded AWS (roles enforced), the
Kubernetes simulator, and a four-write plan across both, driven through the real Execute and
Verify handlers with the state machine's own Retry/Catch policy for those states."""
from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from watchkeeper.adapters.dynamodb_audit import DynamoDBAuditLog
from watchkeeper.adapters.dynamodb_state import DynamoDBIncidentStore
from watchkeeper.local.emulator import seed_codedeploy_history
from watchkeeper.local.k8s_sim import KubernetesSimulator
from watchkeeper.local.runtime import LocalAws
from watchkeeper.local.template import load_template
from watchkeeper.models import Action, AlertRef, ChangeEvent, Incident, RemediationPlan

from .harness import FaultInjector, write_identity

NS, DEPLOYMENT = "shop", "checkout-api"           # the example catalog's services (their grants are synthesized)
ECS_CLUSTER, ECS_SERVICE = "prod-ecs", "orders-worker"
FUNCTION = "payments-api"
CLUSTER = {
    "deployments": [{"namespace": NS, "name": DEPLOYMENT, "replicas": 3, "ready": 3, "revision": "42",
                     "image": "shop/checkout-api:bad", "previous_image": "shop/checkout-api:good",
                     "memory_limit": "512Mi", "cpu_limit": "500m"}],
    "pods": [{"namespace": NS, "name": f"{DEPLOYMENT}-5f6d7c-{s}", "deployment": DEPLOYMENT, "phase": "Running",
              "restarts": r, "last_termination_reason": reason}
             for s, r, reason in (("aaaaa", 7, "OOMKilled"), ("bbbbb", 4, "OOMKilled"), ("ccccc", 0, None))],
}
REMEDIATION = {"ecs", "lambda", "autoscaling", "appconfig", "codedeploy"}   # AWS services whose writes are remediation
EC2_APP, EC2_GROUP = "invoicing", "invoicing-asg"   # the example catalog's EC2 service, deployed with CodeDeploy
EC2_CULPRIT = "d-BADREV144"
EC2_HISTORY = (("d-GOODREV43", 143), (EC2_CULPRIT, 144))


def ec2_revision(n: int) -> dict[str, Any]:
    return {"revisionType": "S3", "s3Location": {"bucket": "invoicing-releases", "key": f"invoicing/{n}.zip",
                                                 "bundleType": "zip"}}


def ec2_location(n: int) -> str:
    return f"s3://invoicing-releases/invoicing/{n}.zip"


PLANS = ("across", "restart_rollback", "scale_ec2_rollback")


def plan(name: str = "across") -> RemediationPlan:
    """`across`: raise the memory limit (EKS) and scale an ECS service, both put back when the
    service does not recover. `restart_rollback`: restart two pods (a write of several calls, the
    kill switch read before each pod) and roll a Lambda alias back (never put back: the culprit).
    `scale_ec2_rollback`: scale an ECS service out, then roll an EC2 service back through CodeDeploy
    (a deployment polled to its final status); the scale-out is put back, the rollback is not."""
    eks = f"eks/prod-eks/{NS}/{DEPLOYMENT}"
    culprit = ChangeEvent(id="lambda-payments-api-v2", kind="deploy", service=FUNCTION,
                          at=datetime(2026, 11, 25, 2, 40, tzinfo=timezone.utc), revision="2", previous_revision="1",
                          source="lambda")
    ec2_culprit = ChangeEvent(id=f"codedeploy-{EC2_APP}-{EC2_CULPRIT}", kind="deploy", service=EC2_APP,
                              at=datetime.now(timezone.utc) - timedelta(minutes=20), revision=EC2_CULPRIT,
                              description=f"CodeDeploy {EC2_CULPRIT} of {EC2_APP} ({EC2_GROUP}, START)",
                              source="codedeploy")
    actions = {
        "scale_ec2_rollback": [
            Action(id="a3", type="scale_service", target=f"ecs/{ECS_CLUSTER}/{ECS_SERVICE}", params={"factor": 1.5},
                   revert="restore_before"),
            Action(id="a5", type="rollback_deployment", target=f"ec2/{EC2_GROUP}", revert="restore_before",
                   params={"change_id": ec2_culprit.id, "change": ec2_culprit.model_dump(mode="json")})],
        "across": [
            Action(id="a2", type="increase_memory_limit", target=eks, params={"factor": 1.5}, revert="restore_before"),
            Action(id="a3", type="scale_service", target=f"ecs/{ECS_CLUSTER}/{ECS_SERVICE}", params={"factor": 1.5},
                   revert="restore_before")],
        "restart_rollback": [
            Action(id="a1", type="restart_pods", target=eks, params={"max_pods": 2, "one_at_a_time": True}),
            Action(id="a4", type="rollback_deployment", target=f"lambda/{FUNCTION}", revert="restore_before",
                   params={"change_id": culprit.id, "change": culprit.model_dump(mode="json"),
                           "to": "previous_revision"})],
    }[name]
    return RemediationPlan(runbook=f"fault-drill-{name}", decision="approve", actions=actions,
                           verify={"within_minutes": 10, "on_failure": "revert_and_escalate"})


def incident(incident_id: str) -> Incident:
    now = datetime.now(timezone.utc)
    alert = AlertRef(delivery_id=f"{incident_id}-d1", fingerprint="cw:checkout-5xx", source="cloudwatch-sns",
                     status="firing", title="checkout-api 5xx", received_at=now, service=DEPLOYMENT,
                     category="availability", alarm_name="checkout-api-5xx")
    return Incident(id=incident_id, service=DEPLOYMENT, opened_at=now, last_alert_at=now, alerts=[alert],
                    title="checkout-api: availability")


@dataclass
class Outcome:
    """One run of Execute then Verify (twice: pending, then not recovered and revert)."""

    incident_id: str
    caught: dict[str, Any] | None = None               # the error a Catch took (the run did not complete)
    execution: dict[str, Any] | None = None
    verification: dict[str, Any] | None = None
    retries: list[str] = field(default_factory=list)   # "state: errorType" for every retry the policy ran


class World:
    def __init__(self, faults: FaultInjector):
        self.faults = faults
        self.kube = KubernetesSimulator()
        url = self.kube.start()
        self.aws = LocalAws(load_template("test"), env_overrides={
            "DRY_RUN": "false", "WATCHKEEPER_KUBE_URL": url, "START_EXECUTIONS": "false", "SETTLE_SECONDS": "0"})
        self.aws.start()
        definition_lid, = self.aws.resolver.of_type("AWS::StepFunctions::StateMachine")
        raw = self.aws.resolver.resolve(self.aws.template["Resources"][definition_lid]["Properties"]["DefinitionString"])
        self.definition = json.loads(raw)
        self.execute_fn = self._function("Execute actions")
        self.verify_fn = self._function("Verify recovery")
        self.faults.scope = lambda call: call.function in (self.execute_fn, self.verify_fn)
        self._create()
        self.runs = 0
        self._previews: dict[str, list[dict[str, Any]]] = {}

    def close(self) -> None:
        self.aws.stop()
        self.kube.stop()

    def _function(self, state: str) -> str:
        return self.definition["States"][state]["Resource"].rsplit(":function:", 1)[-1]

    # --- the world ----------------------------------------------------------------------------
    def _create(self) -> None:
        ecs = self.aws.client("ecs")
        ecs.create_cluster(clusterName=ECS_CLUSTER)
        ecs.register_task_definition(family=ECS_SERVICE, containerDefinitions=[{"name": "w", "image": "w:1",
                                                                                "memory": 256}])
        ecs.create_service(cluster=ECS_CLUSTER, serviceName=ECS_SERVICE, taskDefinition=f"{ECS_SERVICE}:1",
                           desiredCount=4)
        role = self.aws.client("iam").create_role(RoleName="payments", AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": []}))["Role"]["Arn"]
        lam = self.aws.client("lambda")
        lam.create_function(FunctionName=FUNCTION, Runtime="python3.12", Role=role, Handler="index.handler",
                            Code={"ZipFile": _zip("v1")})
        lam.publish_version(FunctionName=FUNCTION)
        lam.update_function_code(FunctionName=FUNCTION, ZipFile=_zip("v2"))
        lam.publish_version(FunctionName=FUNCTION)
        lam.create_alias(FunctionName=FUNCTION, Name="live", FunctionVersion="2")
        cd = self.aws.client("codedeploy")
        cd.create_application(applicationName=EC2_APP, computePlatform="Server")
        cd.create_deployment_group(applicationName=EC2_APP, deploymentGroupName=EC2_GROUP, autoScalingGroups=[EC2_GROUP],
                                   serviceRoleArn=f"arn:aws:iam::{self.aws.account}:role/CodeDeployServiceRole")
        start = datetime.now(timezone.utc) - timedelta(days=1)
        seed_codedeploy_history(self.aws.account, self.aws.region, EC2_APP, EC2_GROUP, [
            {"id": i, "revision": ec2_revision(n), "created": start + timedelta(hours=k)}
            for k, (i, n) in enumerate(EC2_HISTORY)])

    def reset(self) -> None:
        """Back to the before-state: the cluster, the ECS service, the alias; no locks or restart slots."""
        self.kube.load(CLUSTER)
        self.aws.client("ecs").update_service(cluster=ECS_CLUSTER, service=ECS_SERVICE, desiredCount=4)
        self.aws.client("lambda").update_alias(FunctionName=FUNCTION, Name="live", FunctionVersion="2",
                                               RoutingConfig={"AdditionalVersionWeights": {}})
        from moto.codedeploy.models import codedeploy_backends       # the rollbacks of earlier runs are history
        deployments = codedeploy_backends[self.aws.account][self.aws.region].deployments
        for deployment_id in [i for i in deployments if i not in dict(EC2_HISTORY)]:
            del deployments[deployment_id]
        ddb, table = self.aws.client("dynamodb"), self.aws.env("STATE_TABLE")
        for item in ddb.scan(TableName=table).get("Items", []):
            if item["pk"]["S"].startswith(("LOCK#", "RATE#")):
                ddb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})

    def state(self) -> dict[str, Any]:
        """The live state of the four writes' targets."""
        dep = self.kube.deployment(NS, DEPLOYMENT)
        svc = self.aws.client("ecs").describe_services(cluster=ECS_CLUSTER, services=[ECS_SERVICE])["services"][0]
        alias = self.aws.client("lambda").get_alias(FunctionName=FUNCTION, Name="live")
        group = self.aws.client("codedeploy").get_deployment_group(applicationName=EC2_APP,
                                                                   deploymentGroupName=EC2_GROUP)["deploymentGroupInfo"]
        s3 = group["targetRevision"]["s3Location"]
        return {"pods": sorted(p["metadata"]["name"] for p in self.kube.pods(NS, DEPLOYMENT)),
                "memory": dep["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"],
                "desired": svc["desiredCount"], "alias": alias["FunctionVersion"],
                "codedeploy": f"s3://{s3['bucket']}/{s3['key']}"}

    # --- one incident's writes --------------------------------------------------------------------
    def prepare(self, name: str = "across") -> tuple[Incident, RemediationPlan, list[dict[str, Any]]]:
        """A fresh incident and an approved request pinning its writes, with nothing faulted. The
        world is reset to the same before-state each time (the simulator is seeded), so the preview
        is computed once per plan and its pins stay valid."""
        self.runs += 1
        self.reset()
        inc, p = incident(f"inc-faults-{name.replace('_', '-')}-{self.runs:04d}"), plan(name)
        if name not in self._previews:
            status, preview, _ = self.task("Preview actions", {"mode": "preview", "incident_id": inc.id,
                                                                "incident": inc.model_dump(mode="json"),
                                                                "plan": p.model_dump(mode="json")})
            assert status == "ok" and all(a.get("pin") for a in preview["actions"]), preview
            self._previews[name] = preview["actions"]
        actions = self._previews[name]
        store = DynamoDBIncidentStore(self.aws.env("STATE_TABLE"), self.aws.client("dynamodb"))
        request_id = f"req-{inc.id}"
        store.save_pending(request_id, inc.id, "token", datetime.now(timezone.utc) + timedelta(hours=1),
                           {"proposed": actions})
        assert store.decide_approval(request_id, "approved", decided_by="oncall@example.com", channel="web",
                                     decided_at=datetime.now(timezone.utc).isoformat())
        return inc, p, actions

    def run(self, inc: Incident, p: RemediationPlan, preview: list[dict[str, Any]]) -> Outcome:
        out = Outcome(inc.id)
        doc: dict[str, Any] = {"incident_id": inc.id, "incident": inc.model_dump(mode="json"),
                               "plan": p.model_dump(mode="json"), "preview": {"actions": preview},
                               "approval": {"approved": True, "decided_by": "oncall@example.com", "channel": "web"}}
        status, execution, retries = self.task("Execute actions", doc)
        out.retries += retries
        if status != "ok":
            out.caught = execution
            return out
        out.execution = doc["execution"] = execution
        if execution["status"] != "executed":
            return out
        for _ in range(2):                                   # pending, then not recovered (test account: 2 checks)
            status, verification, retries = self.task("Verify recovery", doc)
            out.retries += retries
            if status != "ok":
                out.caught = verification
                return out
            out.verification = doc["verification"] = verification
            if verification["status"] != "pending":
                break
        return out

    def task(self, state: str, payload: dict[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
        """Invoke a Task state's function with the synthesized definition's Retry policy (waits are not
        slept) and Catch: ("ok", output) or ("caught", the error)."""
        spec = self.definition["States"][state]
        function = spec["Resource"].rsplit(":function:", 1)[-1]
        used = [0] * len(spec.get("Retry", []))
        retries: list[str] = []
        while True:
            headers: dict[str, str] = {}
            body = json.loads(self.aws.dispatch(function, json.dumps(payload), headers))
            if "x-amz-function-error" not in headers:
                return "ok", body, retries
            error = body.get("errorType", "")
            rule = next((i for i, r in enumerate(spec.get("Retry", []))
                         if error in r["ErrorEquals"] or "States.ALL" in r["ErrorEquals"]), None)
            if rule is None or used[rule] >= spec["Retry"][rule].get("MaxAttempts", 3):
                return "caught", body, retries
            used[rule] += 1
            retries.append(f"{state}: {error}")

    # --- what must hold ------------------------------------------------------------------------------
    def audit(self, incident_id: str) -> list[Any]:
        return DynamoDBAuditLog(self.aws.env("AUDIT_TABLE"), self.aws.client("dynamodb")).records(incident_id)

    def violations(self, out: Outcome, expect_complete: bool = True) -> list[str]:
        from watchkeeper.adapters.dynamodb_audit import verify_chain

        problems: list[str] = []
        if expect_complete and out.caught is not None:
            problems.append(f"the run did not complete: {out.caught.get('errorType')}: {out.caught.get('errorMessage')}")
        writes = [c for c in self.faults.calls if c.performed and c.is_write and (
            c.layer == "kubernetes" or c.service in REMEDIATION)]
        seen: dict[str, int] = {}
        for c in writes:
            ident = write_identity(c)
            if ident in seen:
                problems.append(f"write performed twice: call {seen[ident]} and call {c.n}: {c.operation}")
            seen[ident] = c.n
        records = self.audit(out.incident_id)
        chain = verify_chain(records)
        if chain:
            problems.append(f"audit chain broken: {chain}")
        for c in writes:
            keys = _keys_for(c)
            intents = [r for r in records if r.kind == "intent" and _key(r, out.incident_id) in keys and r.at <= c.at]
            if not intents:
                problems.append(f"call {c.n} {c.operation} has no intent record before it")
                continue
            key = _key(intents[-1], out.incident_id)
            if not any(r.kind == "outcome" and _key(r, out.incident_id) == key and r.at >= c.at for r in records):
                problems.append(f"call {c.n} {c.operation} ({key}) has no outcome record after it")
        now = self.state()
        before = {"memory": "512Mi", "desired": 4, "alias": "2", "codedeploy": ec2_location(144)}
        target = {"memory": "768Mi", "desired": 6, "alias": "1", "codedeploy": ec2_location(143)}
        for k in before:
            if now[k] not in (before[k], target[k]):
                problems.append(f"{k} is {now[k]}: neither the before-state {before[k]} nor the target {target[k]}")
        pinned = {p["name"] for p in CLUSTER["pods"][:2]}          # the two most restarted, OOMKilled pods
        for c in writes:
            if "/pods/" in c.operation and c.operation.rsplit("/", 1)[-1] not in pinned:
                problems.append(f"call {c.n} deleted a pod outside the approved pin: {c.operation}")
        deleted = {c.operation.rsplit("/", 1)[-1] for c in writes if "/pods/" in c.operation}
        if out.caught is None and deleted and deleted != pinned:
            problems.append(f"a completed restart deleted {sorted(deleted)}, not the pinned {sorted(pinned)}")
        if out.caught is None and out.verification and out.verification["status"] == "not_recovered":
            runbook = (out.execution or {}).get("results", [{}])[0].get("type")
            expected = {"increase_memory_limit": {"memory": "512Mi", "desired": 4},
                        "scale_service": {"desired": 4, "codedeploy": ec2_location(143)}}.get(
                runbook, {"alias": "1"})                           # put back; a rollback is kept (culprit)
            for k, v in expected.items():
                if now[k] != v:
                    problems.append(f"after verification {k} is {now[k]}, expected {v}")
        return problems


def _keys_for(call: Any) -> set[str]:
    if call.layer == "kubernetes":
        return {"a1"} if "/pods/" in call.operation else {"a2", "a2#revert"}
    return {"ecs": {"a3", "a3#revert"}, "lambda": {"a4", "a4#revert"},
            "codedeploy": {"a5", "a5#revert"}}.get(call.service, set())


def _key(record: Any, incident_id: str) -> str:
    return str((record.detail or {}).get("key", "")).removeprefix(f"{incident_id}#")


def _zip(text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", f"def handler(e, c):\n    return {text!r}\n")
    return buf.getvalue()
