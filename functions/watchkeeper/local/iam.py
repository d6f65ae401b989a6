"""IAM for the embedded AWS: every call a function makes is checked against its synthesized role.

moto authorizes nothing by default, and its own IAM mode checks neither resources, nor
conditions, nor the KMS calls AWS makes on a caller's behalf for customer-managed keys. So
the local runtime reads the roles, resource policies and keys of the synthesized template
and checks each boto3 call before moto sees it (a botocore `before-call` hook):

- who: a function's calls carry its own credentials (one access key per function); moto's
  Step Functions interpreter calls with its own key, which is the state machine's role;
  the harness (replay, tests, the CLI) is an administrator;
- what: the IAM action and the resource ARNs the request names (`requests_for`);
- the implicit `kms:Decrypt` / `kms:GenerateDataKey` on the key of a DynamoDB table, SNS
  topic, SQS queue or S3 bucket encrypted with a customer-managed key, checked against the
  caller's policy and the key policy;
- explicit denies in resource policies (the TLS-only statements) and conditions.

A denied call fails the way AWS fails it (`AccessDeniedException`, `AuthorizationError`, ...)
and is recorded, so a replay can report it and a test can fail on it.
"""
from __future__ import annotations

import contextvars
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable, Iterator
from urllib.parse import urlparse

# The function whose handler is running in this thread (set by the Lambda dispatcher).
CURRENT_FUNCTION: contextvars.ContextVar[str | None] = contextvars.ContextVar("watchkeeper_function", default=None)

INTERPRETER_ACCESS_KEY = "ak"          # moto's Step Functions interpreter signs with this key
ADMIN = "admin"

# boto3 service name -> IAM action prefix, where they differ
_PREFIX = {"stepfunctions": "states", "bedrock-runtime": "bedrock", "sesv2": "ses", "cloudwatch": "cloudwatch",
           "logs": "logs", "appconfigdata": "appconfig"}
# (service, operation) -> IAM action name, where it is not the operation's name
_ACTION = {("lambda", "Invoke"): "InvokeFunction", ("lambda", "InvokeAsync"): "InvokeFunction",
           ("s3", "ListObjectsV2"): "ListBucket", ("s3", "ListObjects"): "ListBucket", ("s3", "HeadBucket"): "ListBucket",
           ("s3", "HeadObject"): "GetObject", ("s3", "ListObjectVersions"): "ListBucketVersions",
           ("bedrock-runtime", "Converse"): "InvokeModel", ("bedrock-runtime", "ConverseStream"): "InvokeModelWithResponseStream",
           ("sesv2", "SendEmail"): "SendEmail"}
# actions that need no permission at all
_ALWAYS_ALLOWED = {"sts:GetCallerIdentity"}
# error code AWS returns for a denied call, per service (default AccessDeniedException)
_DENIED_CODE = {"sns": "AuthorizationError", "s3": "AccessDenied", "sqs": "AccessDenied", "cloudwatch": "AccessDenied",
                "autoscaling": "AccessDenied", "sts": "AccessDenied", "ec2": "UnauthorizedOperation", "iam": "AccessDenied"}
_DENIED_KMS_CODE = {"sns": "KMSAccessDenied", "sqs": "KMS.AccessDeniedException", "s3": "AccessDenied"}

_DDB_READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems", "DescribeTable"}
_DDB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
_GEO_PREFIXES = ("us.", "eu.", "apac.", "us-gov.", "jp.", "au.", "ca.", "global.")


# --- policies ----------------------------------------------------------------------------------
@lru_cache(maxsize=4096)
def _pattern(glob: str, case_sensitive: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(f"^{body}$", 0 if case_sensitive else re.IGNORECASE)


def matches(glob: str, value: str, case_sensitive: bool = True) -> bool:
    """IAM wildcard matching: `*` any run of characters, `?` one character."""
    return bool(_pattern(glob, case_sensitive).match(value))


def _list(value: Any) -> list[Any]:
    return [] if value is None else list(value) if isinstance(value, (list, tuple)) else [value]


@dataclass(frozen=True)
class Statement:
    sid: str
    effect: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    principals: Any = None            # None (identity policy), "*", or {"AWS": [...], "Service": [...]}
    conditions: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, doc: dict[str, Any], index: int = 0) -> "Statement":
        principal = doc.get("Principal")
        if isinstance(principal, dict):
            principal = {k: tuple(str(p) for p in _list(v)) for k, v in principal.items()}
        return cls(sid=str(doc.get("Sid") or f"#{index}"), effect=doc["Effect"],
                   actions=tuple(_list(doc.get("Action"))), not_actions=tuple(_list(doc.get("NotAction"))),
                   resources=tuple(str(r) for r in _list(doc.get("Resource"))),
                   not_resources=tuple(str(r) for r in _list(doc.get("NotResource"))),
                   principals=principal, conditions=dict(doc.get("Condition") or {}))

    def covers(self, action: str, resource: str, context: dict[str, Any], principal: "Principal | None" = None) -> bool:
        if self.actions and not any(matches(a, action, case_sensitive=False) for a in self.actions):
            return False
        if self.not_actions and any(matches(a, action, case_sensitive=False) for a in self.not_actions):
            return False
        if self.resources and not any(matches(r, resource) for r in self.resources):
            return False
        if self.not_resources and any(matches(r, resource) for r in self.not_resources):
            return False
        if self.principals is not None and not _principal_matches(self.principals, principal):
            return False
        return all(condition_holds(op, block, context) for op, block in self.conditions.items())


def parse_policy(document: dict[str, Any] | None) -> tuple[Statement, ...]:
    return tuple(Statement.parse(s, i) for i, s in enumerate(_list((document or {}).get("Statement"))))


@dataclass(frozen=True)
class Principal:
    name: str                          # a function's logical id, "StateMachine", a service principal
    arn: str                           # the role ARN (or the service principal)
    account: str
    statements: tuple[Statement, ...] = ()
    service: str | None = None         # "cloudwatch.amazonaws.com" for a service principal


def _principal_matches(principals: Any, principal: Principal | None) -> bool:
    if principals == "*" or principals == {"AWS": ("*",)}:
        return True
    if principal is None:
        return False
    if principal.service:
        return principal.service in principals.get("Service", ())
    root = f"arn:aws:iam::{principal.account}:root"
    return any(p in (principal.arn, root, principal.account) for p in principals.get("AWS", ()))


# --- conditions --------------------------------------------------------------------------------
def _compare(op: str, have: str, want: str) -> bool:
    if op in ("StringEquals", "ArnEquals"):
        return have == want
    if op == "StringEqualsIgnoreCase":
        return have.lower() == want.lower()
    if op in ("StringLike", "ArnLike"):
        return matches(want, have)
    if op == "Bool":
        return have.lower() == want.lower()
    if op.startswith("Numeric"):
        a, b = float(have), float(want)
        return {"NumericEquals": a == b, "NumericLessThan": a < b, "NumericLessThanEquals": a <= b,
                "NumericGreaterThan": a > b, "NumericGreaterThanEquals": a >= b}[op]
    raise NotImplementedError(f"IAM condition operator {op} is not modelled by the local runtime")


def condition_holds(operator: str, block: dict[str, Any], context: dict[str, Any]) -> bool:
    """One condition block, with AWS semantics for missing keys, ...IfExists, Null, negation and set operators."""
    qualifier, op = (operator.split(":", 1) + [""])[:2] if ":" in operator else ("", operator)
    if_exists = op.endswith("IfExists")
    op = op.removesuffix("IfExists")
    for key, wanted in block.items():
        values = [str(v) for v in _list(wanted)]
        have = context.get(key) if key in context else context.get(key.lower())
        if op == "Null":
            if (have is None) != (values[0].lower() == "true"):
                return False
            continue
        if have is None:
            if if_exists:
                continue
            if op.startswith(("StringNot", "ArnNot")) or qualifier == "ForAllValues":
                continue
            return False
        haves = [str(h) for h in _list(have)]
        negated = "Not" in op and not op.startswith("Numeric")
        base = op.replace("Not", "", 1) if negated else op
        hits = [any(_compare(base, h, w) for w in values) for h in haves]
        if qualifier == "ForAllValues":
            ok = all(hits)
        elif qualifier == "ForAnyValue":
            ok = any(hits)
        else:
            ok = any(hits)
        if negated:
            ok = not ok
        if not ok:
            return False
    return True


# --- what a request asks for ---------------------------------------------------------------------
@dataclass(frozen=True)
class Access:
    action: str
    resource: str
    context: tuple[tuple[str, Any], ...] = ()
    kms_key: str | None = None          # implicit KMS use on this key ...
    kms_actions: tuple[str, ...] = ()   # ... with these actions


@dataclass
class World:
    """What the derivation of resources needs to know about the local account."""

    account: str
    region: str
    table_keys: dict[str, str] = field(default_factory=dict)      # table name -> KMS key ARN
    topic_keys: dict[str, str] = field(default_factory=dict)      # topic ARN -> KMS key ARN
    queue_keys: dict[str, str] = field(default_factory=dict)      # queue ARN -> KMS key ARN
    bucket_keys: dict[str, str] = field(default_factory=dict)     # bucket -> KMS key ARN
    secret_arns: dict[str, str] = field(default_factory=dict)     # secret name -> ARN
    state_machine_arn: str = ""
    instance_tags: Any = None                                      # (instance id) -> {tag: value}
    instances_tagged: Any = None                                   # (tag, values) -> [instance ids]
    deployment_group_of: Any = None                                # (CodeDeploy deployment id) -> (app, group) | None
    deployment_config_of: Any = None                               # (app, group) -> its deployment config | None

    def arn(self, service: str, resource: str, region: bool = True, account: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.account if account else ''}:{resource}"


def action_of(service: str, operation: str) -> str:
    return f"{_PREFIX.get(service, service)}:{_ACTION.get((service, operation), operation)}"


def requests_for(service: str, operation: str, params: dict[str, Any], world: World) -> list[Access]:
    """The (action, resource) pairs one API call is authorized on, with the implicit KMS uses."""
    action = action_of(service, operation)
    derive = _DERIVE.get(service)
    accesses = derive(operation, action, params or {}, world) if derive else None
    return accesses if accesses is not None else [Access(action, "*")]


def _ddb(op: str, action: str, p: dict[str, Any], w: World) -> list[Access] | None:
    def table(name: str, act: str, write: bool, index: str | None = None) -> Access:
        name = name.rsplit("/", 1)[-1] if name.startswith("arn:") else name
        arn = w.arn("dynamodb", f"table/{name}") + (f"/index/{index}" if index else "")
        key = w.table_keys.get(name)
        return Access(act, arn, kms_key=key, kms_actions=("kms:Decrypt", "kms:GenerateDataKey") if write else ("kms:Decrypt",))

    write = op in _DDB_WRITES
    if op in ("BatchGetItem", "BatchWriteItem"):
        return [table(t, action, write) for t in p.get("RequestItems", {})]
    if op in ("TransactWriteItems", "TransactGetItems"):
        kinds = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem",
                 "Get": "GetItem"}
        return [table(body["TableName"], f"dynamodb:{kinds[kind]}", write)
                for item in p.get("TransactItems", []) for kind, body in item.items()]
    if "TableName" in p:
        return [table(p["TableName"], action, write, p.get("IndexName"))]
    return None


def _sns(op: str, action: str, p: dict[str, Any], w: World) -> list[Access] | None:
    topic = p.get("TopicArn") or p.get("TargetArn")
    if not topic:
        return None
    publish = op in ("Publish", "PublishBatch")
    return [Access(action, topic, kms_key=w.topic_keys.get(topic) if publish else None,
                   kms_actions=("kms:GenerateDataKey", "kms:Decrypt"))]


def _sqs(op: str, action: str, p: dict[str, Any], w: World) -> list[Access] | None:
    if "QueueUrl" in p:
        name = urlparse(p["QueueUrl"]).path.rstrip("/").rsplit("/", 1)[-1]
    elif "QueueName" in p:
        name = p["QueueName"]
    else:
        return None
    arn = w.arn("sqs", name)
    kms = {"SendMessage": ("kms:GenerateDataKey", "kms:Decrypt"), "SendMessageBatch": ("kms:GenerateDataKey", "kms:Decrypt"),
           "ReceiveMessage": ("kms:Decrypt",)}.get(op, ())
    return [Access(action, arn, kms_key=w.queue_keys.get(arn) if kms else None, kms_actions=kms)]


def _s3(op: str, action: str, p: dict[str, Any], w: World) -> list[Access] | None:
    bucket = p.get("Bucket")
    if not bucket:
        return None
    key = p.get("Key")
    kms = {"PutObject": ("kms:GenerateDataKey",), "GetObject": ("kms:Decrypt",)}.get(op, ())
    return [Access(action, f"arn:aws:s3:::{bucket}/{key}" if key is not None else f"arn:aws:s3:::{bucket}",
                   kms_key=w.bucket_keys.get(bucket) if kms else None, kms_actions=kms)]


def _ssm(op: str, action: str, p: dict[str, Any], w: World) -> list[Access] | None:
    def parameter(name: str) -> str:
        if name.startswith("arn:"):
            return name
        return w.arn("ssm", "parameter" + (name if name.startswith("/") else "/" + name))

    if op == "SendCommand":
        document = p.get("DocumentName", "")
        doc_arn = document if document.startswith("arn:") else (
            w.arn("ssm", f"document/{document}", account=False) if document.startswith("AWS-")
            else w.arn("ssm", f"document/{document}"))
        out = [Access(action, doc_arn)]
        instances = list(p.get("InstanceIds") or [])
        for target in p.get("Targets") or []:
            key = str(target.get("Key", ""))
            if key == "InstanceIds":
                instances += list(target.get("Values") or [])
            elif key.startswith("tag:") and w.instances_tagged is not None:
                instances += w.instances_tagged(key[4:], list(target.get("Values") or []))
        if not instances:
            return out + [Access(action, w.arn("ec2", "instance/*"))]
        for instance in instances:
            tags = (w.instance_tags(instance) if w.instance_tags else {}) or {}
            out.append(Access(action, w.arn("ec2", f"instance/{instance}"),
                              context=tuple((f"ssm:resourceTag/{k}", v) for k, v in tags.items())))
        return out
    if "Name" in p:
        return [Access(action, parameter(p["Name"]))]
    if "Names" in p:
        return [Access(action, parameter(n)) for n in p["Names"]]
    if "Path" in p:
        return [Access(action, parameter(p["Path"]))]
    return None


def _secrets(op: str, action: str, p: dict[str, Any], w: World) -> list[Access] | None:
    secret = p.get("SecretId")
    if not secret:
        return None
    return [Access(action, secret if secret.startswith("arn:") else w.secret_arns.get(secret, w.arn("secretsmanager", f"secret:{secret}")))]


def _states(op: str, action: str, p: dict[str, Any], w: World) -> list[Access] | None:
    for key in ("executionArn", "stateMachineArn"):
        if key in p:
            return [Access(action, p[key])]
    if "taskToken" in p:     # a task token belongs to an execution of the state machine
        return [Access(action, w.state_machine_arn or "*")]
    return None


def _lambda(op: str, action: str, p: dict[str, Any], w: World) -> list[Access] | None:
    name = p.get("FunctionName")
    if not name:
        return None
    if name.startswith("arn:"):
        arn = name
    else:
        base, _, qualifier = name.partition(":")
        arn = w.arn("lambda", f"function:{base}") + (f":{qualifier}" if qualifier else "")
    if p.get("Qualifier") and arn.count(":") == 6:
        arn += f":{p['Qualifier']}"
    return [Access(action, arn)]


def _ecs(op: str, action: str, p: dict[str, Any], w: World) -> list[Access] | None:
    cluster = str(p.get("cluster") or "default").rsplit("/", 1)[-1]
    context = (("ecs:cluster", w.arn("ecs", f"cluster/{cluster}")),)
    if op == "ListTasks":
        return [Access(action, "*", context=context)]
    tasks = [p["task"]] if "task" in p else list(p.get("tasks") or [])
    if tasks:
        return [Access(action, t if t.startswith("arn:") else w.arn("ecs", f"task/{cluster}/{t}"), context=context)
                for t in tasks]
    services = [p["service"]] if "service" in p else list(p.get("services") or [])
    if not services:
        return None
    return [Access(action, s if s.startswith("arn:") else w.arn("ecs", f"service/{cluster}/{s}"), context=context)
            for s in services]


def _autoscaling(op: str, action: str, p: dict[str, Any], w: World) -> list[Access] | None:
    name = p.get("AutoScalingGroupName")
    if not name or op.startswith("Describe"):
        return None
    return [Access(action, w.arn("autoscaling", f"autoScalingGroup:00000000-0000-0000-0000-000000000000:"
                                                f"autoScalingGroupName/{name}"))]


def _logs(op: str, action: str, p: dict[str, Any], w: World) -> list[Access] | None:
    groups = [g for g in [p.get("logGroupName"), p.get("logGroupIdentifier")] if g]
    groups += list(p.get("logGroupNames") or []) + list(p.get("logGroupIdentifiers") or [])
    if not groups:
        return None
    return [Access(action, g if g.startswith("arn:") else w.arn("logs", f"log-group:{g}:*")) for g in groups]


def _cloudwatch(op: str, action: str, p: dict[str, Any], w: World) -> list[Access] | None:
    if op == "DescribeAlarms" and p.get("AlarmNames"):
        return [Access(action, w.arn("cloudwatch", f"alarm:{n}")) for n in p["AlarmNames"]]
    return None


def _eks(op: str, action: str, p: dict[str, Any], w: World) -> list[Access] | None:
    return [Access(action, w.arn("eks", f"cluster/{p['name']}"))] if "name" in p else None


def _bedrock(op: str, action: str, p: dict[str, Any], w: World) -> list[Access] | None:
    model = p.get("modelId")
    if not model:
        return None
    if model.startswith("arn:"):
        return [Access(action, model)]
    if model.startswith(_GEO_PREFIXES):
        return [Access(action, w.arn("bedrock", f"inference-profile/{model}"))]
    return [Access(action, w.arn("bedrock", f"foundation-model/{model}", account=False))]


def _codedeploy(op: str, action: str, p: dict[str, Any], w: World) -> list[Access] | None:
    """CodeDeploy authorizes on the deployment group (`deploymentgroup:APP/GROUP`), also for calls that
    name only a deployment id; CreateDeployment also needs GetDeploymentConfig on the configuration it
    uses and GetApplicationRevision on the application."""
    def group_arn(app: str, group: str) -> str:
        return w.arn("codedeploy", f"deploymentgroup:{app}/{group}")

    app, group = p.get("applicationName"), p.get("deploymentGroupName")
    ids = [p["deploymentId"]] if p.get("deploymentId") else list(p.get("deploymentIds") or [])
    if ids:
        out = []
        for deployment in ids:
            found = w.deployment_group_of(deployment) if w.deployment_group_of else None
            out.append(Access(action, group_arn(*found) if found else w.arn("codedeploy", "deploymentgroup:*")))
        return out
    if app and group:
        out = [Access(action, group_arn(app, group))]
        if op == "CreateDeployment":
            config = p.get("deploymentConfigName") or (
                w.deployment_config_of(app, group) if w.deployment_config_of else None) or "CodeDeployDefault.OneAtATime"
            out += [Access("codedeploy:GetDeploymentConfig", w.arn("codedeploy", f"deploymentconfig:{config}")),
                    Access("codedeploy:GetApplicationRevision", w.arn("codedeploy", f"application:{app}"))]
        return out
    if app:
        return [Access(action, w.arn("codedeploy", f"application:{app}"))]
    return None


_DERIVE = {"codedeploy": _codedeploy, "dynamodb": _ddb, "sns": _sns, "sqs": _sqs, "s3": _s3, "ssm": _ssm, "secretsmanager": _secrets,
           "stepfunctions": _states, "lambda": _lambda, "ecs": _ecs, "autoscaling": _autoscaling, "logs": _logs,
           "cloudwatch": _cloudwatch, "eks": _eks, "bedrock-runtime": _bedrock}


# --- decisions -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Denial:
    principal: str
    action: str
    resource: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"function": self.principal, "action": self.action, "resource": self.resource, "reason": self.reason}


@dataclass
class Policies:
    """The synthesized account's roles, resource policies and key policies."""

    principals: dict[str, Principal] = field(default_factory=dict)         # name -> principal
    resource_policies: dict[str, tuple[Statement, ...]] = field(default_factory=dict)   # resource ARN -> statements
    key_policies: dict[str, tuple[Statement, ...]] = field(default_factory=dict)        # key ARN -> statements

    def resource_policy(self, resource: str) -> tuple[Statement, ...]:
        if resource in self.resource_policies:
            return self.resource_policies[resource]
        if resource.startswith("arn:aws:s3:::"):            # objects fall under their bucket's policy
            bucket = "arn:aws:s3:::" + resource[len("arn:aws:s3:::"):].split("/", 1)[0]
            return self.resource_policies.get(bucket, ())
        return ()

    def decide(self, principal: Principal, access: Access, base_context: dict[str, Any]) -> str | None:
        """None when allowed, else why not."""
        context = {**base_context, **dict(access.context)}
        if access.action in _ALWAYS_ALLOWED:
            return None
        why = self._decide_one(principal, access.action, access.resource, context)
        if why or not access.kms_key:
            return why
        service = access.action.split(":", 1)[0]
        kms_context = {**context, "kms:ViaService": f"{service}.{base_context.get('aws:RequestedRegion', '')}.amazonaws.com",
                       "kms:CallerAccount": principal.account}
        for kms_action in access.kms_actions:
            why = self._decide_one(principal, kms_action, access.kms_key, kms_context, key=True)
            if why:
                return f"{why} (implicit {kms_action} for the customer-managed key of {access.resource})"
        return None

    def _decide_one(self, principal: Principal, action: str, resource: str, context: dict[str, Any],
                    key: bool = False) -> str | None:
        identity = principal.statements
        resource_policy = self.key_policies.get(resource, ()) if key else self.resource_policy(resource)
        for s in (*identity, *resource_policy):
            if s.effect == "Deny" and s.covers(action, resource, context, principal if s.principals is not None else None):
                return f"explicitly denied by statement {s.sid}"
        identity_allows = principal.service is None and any(
            s.effect == "Allow" and s.covers(action, resource, context) for s in identity)
        if key:
            direct = [s for s in resource_policy if s.effect == "Allow" and s.covers(action, resource, context, principal)]
            if not direct:
                return "the key policy does not allow it"
            named = any(principal.arn in s.principals.get("AWS", ()) for s in direct if isinstance(s.principals, dict))
            if principal.service is None and not named and not identity_allows:
                return "no identity-based policy allows it (the key policy delegates to IAM)"
            return None
        if identity_allows:
            return None
        if any(s.effect == "Allow" and s.principals is not None and s.covers(action, resource, context, principal)
               for s in resource_policy):
            return None
        return "no identity-based policy allows it"


class Enforcer:
    """The botocore hook: checks every call of every client made while it is enabled."""

    def __init__(self) -> None:
        self.enabled = False
        self.policies = Policies()
        self.world: World | None = None
        self.keys: dict[str, str] = {}            # access key -> principal name
        self.denials: list[Denial] = []
        self.checked = 0
        self.used: set[tuple[str, str, str]] = set()   # (principal, action, resource) allowed
        self._lock = threading.Lock()

    def install(self, policies: Policies, world: World, keys: dict[str, str]) -> None:
        with self._lock:
            self.policies, self.world, self.keys = policies, world, dict(keys)
            self.denials, self.checked, self.used = [], 0, set()
            self.enabled = True

    def uninstall(self) -> None:
        self.enabled = False

    # botocore handlers -----------------------------------------------------------------------
    def remember_params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if self.enabled and context is not None:
            context["watchkeeper_api_params"] = dict(params)

    def before_call(self, model: Any, context: dict[str, Any], request_signer: Any = None, **_: Any) -> Any:
        if not self.enabled or self.world is None:
            return None
        principal = self._principal(request_signer)
        if principal is None:
            return None
        service = model.service_model.service_name
        params = (context or {}).get("watchkeeper_api_params", {})
        base = {"aws:SecureTransport": "true", "aws:RequestedRegion": self.world.region,
                "aws:PrincipalArn": principal.arn, "aws:PrincipalAccount": principal.account}
        for access in requests_for(service, model.name, params, self.world):
            why = self.policies.decide(principal, access, base)
            with self._lock:
                self.checked += 1
            if why:
                return self._deny(principal, service, access, why)
            self.used.add((principal.name, access.action, access.resource))
        return None

    def _principal(self, request_signer: Any) -> Principal | None:
        key = None
        credentials = getattr(request_signer, "_credentials", None)
        if credentials is not None:
            key = credentials.access_key
        name = self.keys.get(key or "")
        if name is None:
            name = CURRENT_FUNCTION.get()          # inside a handler, the environment's keys are the role's
        if name is None or name == ADMIN:
            return None
        return self.policies.principals.get(name)

    def _deny(self, principal: Principal, service: str, access: Access, why: str) -> Any:
        from botocore.awsrequest import AWSResponse

        denial = Denial(principal.name, access.action, access.resource, why)
        with self._lock:
            self.denials.append(denial)
        kms = "implicit kms:" in why
        code = (_DENIED_KMS_CODE.get(service, "AccessDeniedException") if kms
                else _DENIED_CODE.get(service, "AccessDeniedException"))
        role = principal.arn.rsplit("/", 1)[-1]
        message = (f"User: arn:aws:sts::{principal.account}:assumed-role/{role}/{principal.name} is not authorized to "
                   f"perform: {access.action} on resource: {access.resource} because {why}")
        http = AWSResponse("https://iam.local/denied", 403, {}, None)
        return http, {"Error": {"Code": code, "Message": message},
                      "ResponseMetadata": {"HTTPStatusCode": 403, "HTTPHeaders": {}, "RequestId": "local-iam-denied"}}


ENFORCER = Enforcer()
_REGISTERED = False


def register_hooks() -> None:
    """Add the enforcer to every botocore session created from now on (as moto adds its stubber)."""
    global _REGISTERED
    if _REGISTERED:
        return
    from botocore.handlers import BUILTIN_HANDLERS

    BUILTIN_HANDLERS.append(("before-parameter-build", ENFORCER.remember_params))
    BUILTIN_HANDLERS.append(("before-call", ENFORCER.before_call))
    _REGISTERED = True


# --- reading the template ----------------------------------------------------------------------
def policies_from_template(template: dict[str, Any], resolve: Any, account: str) -> tuple[Policies, dict[str, str]]:
    """The roles of the template's functions and state machine, and its resource and key policies.

    Returns the policies and a map function logical id -> principal name (the same id)."""
    resources = template.get("Resources", {})
    role_statements: dict[str, list[Statement]] = {}
    for lid, res in resources.items():
        if res["Type"] == "AWS::IAM::Role":
            props = res.get("Properties", {})
            statements = role_statements.setdefault(lid, [])
            for inline in props.get("Policies") or []:
                statements += parse_policy(resolve(inline["PolicyDocument"]))
            for managed in props.get("ManagedPolicyArns") or []:
                statements += _aws_managed(resolve(managed))
    for lid, res in resources.items():
        if res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            props = res.get("Properties", {})
            statements = parse_policy(resolve(props["PolicyDocument"]))
            for role in props.get("Roles") or []:
                role_statements.setdefault(role["Ref"], []).extend(statements)

    def principal(name: str, role_value: Any) -> Principal:
        role_lid = role_value["Fn::GetAtt"][0] if isinstance(role_value, dict) and "Fn::GetAtt" in role_value else None
        return Principal(name=name, arn=f"arn:aws:iam::{account}:role/{role_lid}", account=account,
                         statements=tuple(role_statements.get(role_lid or "", ())))

    policies = Policies()
    for lid, res in resources.items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::Lambda::Function":
            policies.principals[lid] = principal(lid, props.get("Role"))
        elif res["Type"] == "AWS::StepFunctions::StateMachine":
            policies.principals["StateMachine"] = principal("StateMachine", props.get("RoleArn"))
        elif res["Type"] == "AWS::SNS::TopicPolicy":
            for topic in resolve(props.get("Topics") or []):
                policies.resource_policies[topic] = parse_policy(resolve(props["PolicyDocument"]))
        elif res["Type"] == "AWS::SQS::QueuePolicy":
            for url in resolve(props.get("Queues") or []):
                name = urlparse(url).path.rstrip("/").rsplit("/", 1)[-1]
                region = urlparse(url).netloc.split(".")[1] if "." in urlparse(url).netloc else ""
                policies.resource_policies[f"arn:aws:sqs:{region}:{account}:{name}"] = parse_policy(
                    resolve(props["PolicyDocument"]))
        elif res["Type"] == "AWS::S3::BucketPolicy":
            policies.resource_policies[f"arn:aws:s3:::{resolve(props['Bucket'])}"] = parse_policy(
                resolve(props["PolicyDocument"]))
        elif res["Type"] == "AWS::KMS::Key":
            policies.key_policies[resolve({"Fn::GetAtt": [lid, "Arn"]})] = parse_policy(resolve(props.get("KeyPolicy")))
    return policies, {lid: lid for lid, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}


def service_principal(service: str, account: str) -> Principal:
    """An AWS service delivering on the account's behalf (CloudWatch alarm actions, EventBridge targets)."""
    return Principal(name=service, arn=service, account=account, service=service)


def encryption_keys(template: dict[str, Any], resolve: Any) -> dict[str, dict[str, str]]:
    """Which customer-managed key encrypts each table, topic, queue and bucket."""
    out: dict[str, dict[str, str]] = {"tables": {}, "topics": {}, "queues": {}, "buckets": {}}
    for lid, res in template.get("Resources", {}).items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::DynamoDB::Table":
            key = (props.get("SSESpecification") or {}).get("KMSMasterKeyId")
            if key:
                out["tables"][resolve({"Ref": lid})] = resolve(key)
        elif res["Type"] == "AWS::SNS::Topic" and props.get("KmsMasterKeyId"):
            out["topics"][resolve({"Ref": lid})] = resolve(props["KmsMasterKeyId"])
        elif res["Type"] == "AWS::SQS::Queue" and props.get("KmsMasterKeyId"):
            out["queues"][resolve({"Fn::GetAtt": [lid, "Arn"]})] = resolve(props["KmsMasterKeyId"])
        elif res["Type"] == "AWS::S3::Bucket":
            for rule in (props.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration", []):
                default = rule.get("ServerSideEncryptionByDefault", {})
                if default.get("SSEAlgorithm") == "aws:kms" and default.get("KMSMasterKeyID"):
                    out["buckets"][resolve({"Ref": lid})] = resolve(default["KMSMasterKeyID"])
    return out


_MANAGED = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": [
        {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}],
}


def _aws_managed(arn: Any) -> Iterable[Statement]:
    arn = str(arn).replace("arn:aws-us-gov:", "arn:aws:")
    if arn not in _MANAGED:
        raise NotImplementedError(f"the local runtime does not know the AWS managed policy {arn}")
    return parse_policy({"Statement": _MANAGED[arn]})


def check_delivery(policies: Policies, service: str, action: str, resource: str, account: str,
                   kms_key: str | None = None, kms_actions: Iterable[str] = (), source_arn: str | None = None) -> str | None:
    """Can an AWS service principal deliver to `resource` (CloudWatch publishing an alarm to a topic,
    SNS or EventBridge sending to a queue)? None when it can, else why not. moto does not emulate these
    deliveries, so they are checked on the template."""
    principal = service_principal(service, account)
    context = {"aws:SecureTransport": "true", "aws:SourceAccount": account}
    if source_arn:
        context["aws:SourceArn"] = source_arn
    return policies.decide(principal, Access(action, resource, kms_key=kms_key, kms_actions=tuple(kms_actions)), context)


def iter_denials(denials: Iterable[Denial]) -> Iterator[dict[str, str]]:
    seen = set()
    for d in denials:
        key = (d.principal, d.action, d.resource)
        if key not in seen:
            seen.add(key)
            yield d.as_dict()


__all__ = ["ENFORCER", "CURRENT_FUNCTION", "Policies", "World", "Access", "requests_for", "policies_from_template",
           "encryption_keys", "register_hooks", "check_delivery", "condition_holds", "matches", "iter_denials"]
