"""The embedded AWS: moto in process, the resources of the synthesized template, and an
in-process Lambda dispatcher that runs the real handlers.

moto's Step Functions interpreter executes the template's own state machine definition;
every Lambda invoke (from the interpreter, boto3 or HTTP) ends in
`LambdaSimpleBackend.invoke`, which is replaced here by a dispatcher that imports the
function's `Handler` from the template and calls it. That hook is a moto internal: moto is
pinned and `tests/statemachine/test_runtime.py` fails if it moves.
"""
from __future__ import annotations

import importlib
import io
import json
import os
import traceback
import uuid
import zipfile
from dataclasses import dataclass, field
from typing import Any, Callable

import boto3

from ..adapters.aws_session import Session
from . import iam

LOCAL_ACCOUNT = "123456789012"
LOCAL_REGION = "us-east-1"


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = ""
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


class Resolver:
    """Resolves the template's intrinsic functions to the names of the local resources."""

    def __init__(self, template: dict[str, Any], account: str, region: str):
        self.resources = template.get("Resources", {})
        self.account, self.region = account, region
        self.refs: dict[str, str] = {}
        self.arns: dict[str, str] = {}
        for lid, res in self.resources.items():
            self.refs[lid], self.arns[lid] = self._names(lid, res)

    def _names(self, lid: str, res: dict[str, Any]) -> tuple[str, str]:
        t, p, a, r = res["Type"], res.get("Properties", {}), self.account, self.region
        if t == "AWS::DynamoDB::Table":
            return lid, f"arn:aws:dynamodb:{r}:{a}:table/{lid}"
        if t == "AWS::SNS::Topic":
            arn = f"arn:aws:sns:{r}:{a}:{lid}"
            return arn, arn
        if t == "AWS::S3::Bucket":
            name = lid.lower()[:63]
            return name, f"arn:aws:s3:::{name}"
        if t == "AWS::Lambda::Function":
            return lid, f"arn:aws:lambda:{r}:{a}:function:{lid}"
        if t == "AWS::StepFunctions::StateMachine":
            name = p.get("StateMachineName", lid)
            arn = f"arn:aws:states:{r}:{a}:stateMachine:{name}"
            return arn, arn
        if t == "AWS::SSM::Parameter":
            name = p.get("Name") if isinstance(p.get("Name"), str) else f"/{lid}"
            return name, f"arn:aws:ssm:{r}:{a}:parameter{name}"
        if t == "AWS::SecretsManager::Secret":
            arn = f"arn:aws:secretsmanager:{r}:{a}:secret:{lid}"
            return arn, arn
        if t == "AWS::SQS::Queue":
            return f"https://sqs.{r}.amazonaws.com/{a}/{lid}", f"arn:aws:sqs:{r}:{a}:{lid}"
        if t == "AWS::ApiGatewayV2::Api":
            return "local", f"arn:aws:apigateway:{r}::/apis/local"
        if t == "AWS::Events::Rule":
            return lid, f"arn:aws:events:{r}:{a}:rule/{lid}"
        if t == "AWS::KMS::Key":
            return lid, f"arn:aws:kms:{r}:{a}:key/{lid}"
        if t == "AWS::Logs::LogGroup":
            name = p.get("LogGroupName") if isinstance(p.get("LogGroupName"), str) else f"/local/{lid}"
            return name, f"arn:aws:logs:{r}:{a}:log-group:{name}:*"
        service = t.split("::")[1].lower()
        return lid, f"arn:aws:{service}:{r}:{a}:{lid}"

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                (key, arg), = value.items()
                if key == "Ref":
                    return self._ref(arg)
                if key == "Fn::GetAtt":
                    lid, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                    return self._getatt(lid, attr)
                if key == "Fn::Join":
                    sep, parts = arg
                    return sep.join(str(self.resolve(p)) for p in self.resolve(parts))
                if key == "Fn::Sub":
                    text = arg if isinstance(arg, str) else arg[0]
                    for name in set(__import__("re").findall(r"\$\{([^}]+)\}", text)):
                        text = text.replace("${" + name + "}", str(self._ref(name) if "." not in name
                                                                     else self._getatt(*name.split(".", 1))))
                    return text
                if key == "Fn::Select":
                    index, items = arg
                    return self.resolve(items)[int(index)]
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def _ref(self, name: str) -> str:
        pseudo = {"AWS::Partition": "aws", "AWS::Region": self.region, "AWS::AccountId": self.account,
                  "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "watchkeeper-local", "AWS::NoValue": ""}
        if name in pseudo:
            return pseudo[name]
        return self.refs.get(name, name)

    def _getatt(self, lid: str, attr: str) -> str:
        if attr == "Arn" or attr.endswith("Arn"):
            return self.arns.get(lid, lid)
        if attr == "ApiEndpoint":
            return "http://127.0.0.1"
        return self.refs.get(lid, lid)

    def of_type(self, type_name: str) -> dict[str, dict[str, Any]]:
        return {lid: r for lid, r in self.resources.items() if r["Type"] == type_name}


class LocalAws:
    """Everything the stack deploys, in one process. Use as a context manager."""

    def __init__(self, template: dict[str, Any], env_overrides: dict[str, str] | None = None,
                 account: str = LOCAL_ACCOUNT, region: str = LOCAL_REGION):
        self.template = template
        self.resolver = Resolver(template, account, region)
        self.account, self.region = account, region
        self.env_overrides = env_overrides or {}
        self.handlers: dict[str, str] = {}
        self.function_env: dict[str, dict[str, str]] = {}
        self.invocations: list[tuple[str, float]] = []
        self._mock = None
        self._saved_env: dict[str, str | None] = {}
        self._original_invoke: Callable | None = None
        self.session: boto3.session.Session | None = None
        self._sessions: dict[str, boto3.session.Session] = {}     # function -> a session with its own keys
        self._containers: dict[str, Any] = {}                      # function -> its composition root

    # --- lifecycle -------------------------------------------------------------------
    def __enter__(self) -> "LocalAws":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        from moto import mock_aws

        base_env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
                    "AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region,
                    "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_DEV": "false",
                    "POWERTOOLS_LOG_LEVEL": os.environ.get("WATCHKEEPER_LOG_LEVEL", "WARNING"),
                    "POWERTOOLS_METRICS_NAMESPACE": "Watchkeeper"}
        self._set_env(base_env)
        _share_botocore_loader()
        iam.register_hooks()                 # before any session exists: every client is checked
        boto3.DEFAULT_SESSION = None         # moto's interpreter builds its clients from the default session
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}})
        self._mock.start()
        from . import emulator

        emulator.install()          # moto's worst paths and its callback race, fixed with the same API behaviour
        from .. import composition

        composition.use_session(None)
        self.session = composition.default_session()
        self._install_dispatcher()
        self._create_resources()
        self._set_env(self._shared_env())
        _reset_composition()
        self._install_iam()
        composition.use_containers(self._container_for_current_function)

    def stop(self) -> None:
        iam.ENFORCER.uninstall()
        from .. import composition
        composition.use_containers(None)
        if self._original_invoke is not None:
            from moto.awslambda_simple.models import LambdaSimpleBackend
            LambdaSimpleBackend.invoke = self._original_invoke
            self._original_invoke = None
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        _reset_composition()

    def client(self, name: str) -> Any:
        assert self.session is not None, "LocalAws is not started"
        from ..composition import _client
        return _client(self.session, name)

    # --- names ---------------------------------------------------------------------------
    @property
    def state_machine_arn(self) -> str:
        (lid, _), = self.resolver.of_type("AWS::StepFunctions::StateMachine").items()
        return self.resolver.refs[lid]

    def env(self, name: str) -> str:
        """A setting as the functions see it (e.g. STATE_TABLE)."""
        return os.environ[name]

    def function_for(self, handler_suffix: str) -> str:
        return next(n for n, h in self.handlers.items() if h.endswith(handler_suffix))

    def seed_log_history(self, log_group: str, stream: str, events: list[dict[str, Any]]) -> None:
        """Load recorded log history as if it had been ingested when it happened.

        PutLogEvents (rightly) rejects events older than 14 days, and a recorded incident is
        older than that; so history is seeded through moto's log group directly. The agent
        still reads it through the real FilterLogEvents API.
        """
        from moto.logs.models import logs_backends

        group = logs_backends[self.account][self.region].groups[log_group]
        for i in range(0, len(events), 10000):
            group.put_log_events(stream, events[i:i + 10000])

    # --- setup ---------------------------------------------------------------------------
    def _set_env(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def _shared_env(self) -> dict[str, str]:
        """The union of the functions' environments (they agree on every shared key)."""
        merged: dict[str, str] = {}
        for env in self.function_env.values():
            for k, v in env.items():
                merged.setdefault(k, v)
        merged["POWERTOOLS_LOG_LEVEL"] = os.environ.get("WATCHKEEPER_LOG_LEVEL", "WARNING")
        merged.update(self.env_overrides)
        return merged

    def environment_of(self, function: str) -> dict[str, str]:
        """A function's own environment: its synthesized variables plus the local runtime's overrides."""
        return {**self.function_env[function], **self.env_overrides}

    def _install_iam(self) -> None:
        """Give every function its own credentials and check each of its calls against its role."""
        r = self.resolver
        policies, functions = iam.policies_from_template(self.template, r.resolve, self.account)
        keys = {iam.INTERPRETER_ACCESS_KEY: "StateMachine"}
        for i, lid in enumerate(sorted(functions)):
            key = f"ASIALOCALFUNCTION{i:04d}"
            keys[key] = lid
            self._sessions[lid] = Session(aws_access_key_id=key, aws_secret_access_key="local",
                                          aws_session_token="local", region_name=self.region)   # the functions' own
        enc = iam.encryption_keys(self.template, r.resolve)
        secrets = {lid: r.arns[lid] for lid in r.of_type("AWS::SecretsManager::Secret")}
        world = iam.World(account=self.account, region=self.region, table_keys=enc["tables"], topic_keys=enc["topics"],
                          queue_keys=enc["queues"], bucket_keys=enc["buckets"], secret_arns=secrets,
                          state_machine_arn=self.state_machine_arn,
                          instance_tags=self._instance_tags, instances_tagged=self._instances_tagged,
                          deployment_group_of=self._deployment_group_of, deployment_config_of=self._deployment_config_of)
        self.policies = policies
        iam.ENFORCER.install(policies, world, keys)

    def _instance_tags(self, instance_id: str) -> dict[str, str]:
        from moto.ec2.models import ec2_backends

        backend = ec2_backends[self.account][self.region]
        try:
            return {t["key"]: t["value"] for t in backend.describe_tags(filters={"resource-id": [instance_id]})}
        except Exception:
            return {}

    def _instances_tagged(self, tag: str, values: list[str]) -> list[str]:
        from moto.ec2.models import ec2_backends

        backend = ec2_backends[self.account][self.region]
        return [i.id for r in backend.describe_instances(filters={f"tag:{tag}": values}) for i in r.instances]

    def _deployment_group_of(self, deployment_id: str) -> tuple[str, str] | None:
        from moto.codedeploy.models import codedeploy_backends

        found = codedeploy_backends[self.account][self.region].deployments.get(deployment_id)
        return (found.application_name, found.deployment_group_name) if found is not None else None

    def _deployment_config_of(self, application: str, group: str) -> str | None:
        from moto.codedeploy.models import codedeploy_backends

        found = codedeploy_backends[self.account][self.region].deployment_groups.get(application, {}).get(group)
        return str(found.deployment_config_name) if found is not None and found.deployment_config_name else None

    @property
    def iam_report(self) -> dict[str, Any]:
        """How many calls were checked against the functions' roles, and every denial."""
        return {"checked": iam.ENFORCER.checked, "denied": list(iam.iter_denials(iam.ENFORCER.denials))}

    def _container_for_current_function(self) -> Any:
        """The composition root of the function whose handler runs in this thread (None outside a handler)."""
        name = iam.CURRENT_FUNCTION.get()
        if name is None or name not in self._sessions:
            return None
        built = self._containers.get(name)
        if built is None:
            from ..composition import Container
            from ..settings import Settings

            built = self._containers[name] = Container(Settings.from_env(self.environment_of(name)),
                                                       session=self._sessions[name])
        return built

    def _create_resources(self) -> None:
        r = self.resolver
        ddb = self.client("dynamodb")
        for lid, res in r.of_type("AWS::DynamoDB::Table").items():
            p = res["Properties"]
            ddb.create_table(TableName=lid, KeySchema=p["KeySchema"], AttributeDefinitions=p["AttributeDefinitions"],
                             BillingMode="PAY_PER_REQUEST")
        sns = self.client("sns")
        for lid in r.of_type("AWS::SNS::Topic"):
            sns.create_topic(Name=lid)
        s3 = self.client("s3")
        for lid in r.of_type("AWS::S3::Bucket"):
            s3.create_bucket(Bucket=r.refs[lid])
        ssm = self.client("ssm")
        for lid, res in r.of_type("AWS::SSM::Parameter").items():
            p = r.resolve(res["Properties"])
            ssm.put_parameter(Name=r.refs[lid], Value=p.get("Value", ""), Type="String", Overwrite=True,
                              Tier="Advanced" if len(p.get("Value", "")) > 4096 else "Standard")
        for lid, res in r.of_type("Custom::AWS").items():
            self._run_sdk_call(lid, r.resolve(res["Properties"].get("Create")))
        secrets = self.client("secretsmanager")
        for lid, res in r.of_type("AWS::SecretsManager::Secret").items():
            gen = res["Properties"].get("GenerateSecretString", {})
            value = uuid.uuid4().hex + uuid.uuid4().hex
            if "SecretString" in res["Properties"]:             # a secret whose document the template gives
                value = str(r.resolve(res["Properties"]["SecretString"]))
            if gen.get("SecretStringTemplate"):
                doc = json.loads(gen["SecretStringTemplate"])
                doc[gen.get("GenerateStringKey", "secret")] = value
                value = json.dumps(doc)
            arn = secrets.create_secret(Name=lid, SecretString=value)["ARN"]
            r.refs[lid] = r.arns[lid] = arn
        iam = self.client("iam")
        role = iam.create_role(RoleName="watchkeeper-local", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                    "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
        lam = self.client("lambda")
        code = _empty_zip()
        for lid, res in r.of_type("AWS::Lambda::Function").items():
            p = res["Properties"]
            env = {k: str(v) for k, v in r.resolve(p.get("Environment", {}).get("Variables", {})).items()}
            self.handlers[lid] = p["Handler"]
            self.function_env[lid] = env
            lam.create_function(FunctionName=lid, Runtime="python3.12", Role=role, Handler=p["Handler"],
                                Code={"ZipFile": code}, Environment={"Variables": env}, Timeout=int(p.get("Timeout", 60)))
        sfn = self.client("stepfunctions")
        for lid, res in r.of_type("AWS::StepFunctions::StateMachine").items():
            p = res["Properties"]
            definition = r.resolve(p["DefinitionString"])
            sfn.create_state_machine(name=p.get("StateMachineName", lid), definition=definition, roleArn=role,
                                     type=p.get("StateMachineType", "STANDARD"))

    def _run_sdk_call(self, lid: str, call: Any) -> None:
        """A custom resource's create call (aws-cdk-lib AwsCustomResource), made as CloudFormation would."""
        if not call:
            return
        from botocore import xform_name
        from botocore.exceptions import ClientError

        doc = json.loads(call) if isinstance(call, str) else call
        client = self.client(doc["service"].lower())
        try:
            getattr(client, xform_name(doc["action"]))(**doc.get("parameters", {}))
        except ClientError as exc:
            ignored = doc.get("ignoreErrorCodesMatching")
            if not ignored or not __import__("re").match(ignored, exc.response["Error"]["Code"]):
                raise RuntimeError(f"custom resource {lid}: {exc}") from exc

    def _install_dispatcher(self) -> None:
        from moto.awslambda_simple.models import LambdaSimpleBackend

        runtime = self
        self._original_invoke = LambdaSimpleBackend.invoke

        def invoke(backend: Any, function_name: str, qualifier: Any, body: Any, headers: Any,
                   response_headers: Any) -> bytes:
            return runtime.dispatch(function_name, body, response_headers)

        LambdaSimpleBackend.invoke = invoke

    def dispatch(self, function_name: str, body: Any, response_headers: dict[str, str]) -> bytes:
        """Run a function's real handler in process; errors are returned the way Lambda does."""
        import time

        name = function_name.rsplit(":function:", 1)[-1].split(":")[0]
        handler_path = self.handlers.get(name)
        if handler_path is None:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": "ResourceNotFoundException",
                               "errorMessage": f"no function {name}"}).encode()
        module_name, func_name = handler_path.rsplit(".", 1)
        event = json.loads(body) if body else {}
        started = time.perf_counter()
        running = iam.CURRENT_FUNCTION.set(name)
        try:
            handler = getattr(importlib.import_module(module_name), func_name)
            result = handler(event, LambdaContext(function_name=name,
                                                  invoked_function_arn=self.resolver.arns.get(name, name)))
            return json.dumps(result).encode()
        except Exception as exc:  # returned to the caller as Lambda does: an Unhandled function error
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc),
                               "stackTrace": traceback.format_exception(exc)[-5:]}).encode()
        finally:
            iam.CURRENT_FUNCTION.reset(running)
            self.invocations.append((name, time.perf_counter() - started))


def _share_botocore_loader() -> None:
    """One botocore data loader for every session in this process.

    boto3, moto and moto's own helpers (its EC2 region tables build three sessions at
    import) each create a loader, so endpoints.json and the service models were parsed
    again and again — about a second of every replay. The loader caches what it loads and
    every session reads the same botocore data path, so sharing it changes nothing else.
    """
    import botocore.loaders
    import botocore.session

    if getattr(botocore.session, "_watchkeeper_shared_loader", None) is not None:
        return
    shared = botocore.loaders.create_loader()

    def create_loader(search_path_string: str | None = None) -> Any:
        return shared if not search_path_string else botocore.loaders.create_loader(search_path_string)

    botocore.session.create_loader = create_loader
    botocore.session._watchkeeper_shared_loader = shared


def _empty_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("README.txt", "Handlers run in process: see watchkeeper.local.runtime\n")
    return buf.getvalue()


def _reset_composition() -> None:
    """Forget adapters built for a previous runtime (names and moto state differ)."""
    from .. import composition, settings

    composition.container.cache_clear()
    composition._CLIENTS.clear()
    settings.settings.cache_clear()
