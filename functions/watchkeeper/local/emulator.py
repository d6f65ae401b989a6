"""Fixes and fast paths for the embedded AWS (moto 5.2.5), each with the same API behaviour.

The agent still makes every call through moto's request parsing, backends and responses;
these replace three moto internals whose cost or correctness breaks large replays, with
implementations that return exactly what moto returns (`tests/functional/test_emulator.py`
compares them with moto's own on random data and fails if a hook moves):

- CloudWatch `GetMetricData` scans every stored point once per query *and per period*, and
  `ListMetrics` compares every stored point with every metric found so far: a storm's world
  (~10^5 points) makes one Gather take minutes. Both read an index by metric name and
  dimensions instead; the statistics are computed by moto's own `Statistics`, over the same
  points in the same order.
- DynamoDB `TransactWriteItems` deep-copies the whole table once per item of the transaction
  to roll back: a storm's ingest spent most of its time copying. An undo log of the items the
  transaction touched rolls back the same way (and no longer erases other writers' items).
  A table `Query` sorted every item of the table to keep one partition; it reads the partition.
- Step Functions parses the definition again for every execution, and builds a new client for every
  Lambda task: the syntax tree and the interpreter's client are kept.
- CodeDeploy deployments never progress (they stay `Created`), `previousRevision` and a
  deployment group's `targetRevision`, `lastSuccessfulDeployment` and `lastAttemptedDeployment`
  are always empty, and ids are UUIDs. Here ids look like CodeDeploy's (`d-` and nine
  characters), each read of a deployment moves it one status on, as CodeDeploy's own
  lifecycle does (`Created` -> `InProgress` -> `Succeeded`, or the outcome a test set with
  `set_codedeploy_outcome`), and those fields carry what CodeDeploy reports.
- Step Functions `.waitForTaskToken` with a heartbeat: a decision (SendTaskSuccess) that
  arrives before the task has set up its heartbeat endpoint is only noticed at the next
  heartbeat, and the task fails with a heartbeat timeout when none comes. The endpoint now
  starts notified when the outcome is already there, as in AWS, where a decision is never lost.

`seed_metric_history` loads recorded metrics the way `LocalAws.seed_log_history` loads logs:
PutMetricData rightly refuses points older than two weeks, and a recorded incident is older.
`seed_codedeploy_history` does the same for a deployment group's past deployments (their ids,
times and final statuses are CodeDeploy's to give, not a caller's).
"""
from __future__ import annotations

import copy
import math
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

_INSTALLED = False
_ORIGINAL: dict[str, Any] = {}


def install() -> None:
    """Install every fix once per process (they keep moto's API behaviour, so they stay installed)."""
    global _INSTALLED
    if _INSTALLED:
        return
    _install_cloudwatch()
    _install_dynamodb()
    _install_stepfunctions()
    _install_codedeploy()
    _INSTALLED = True


def original(name: str) -> Any:
    """moto's own implementation of a patched method (for the equivalence tests)."""
    return _ORIGINAL[name]


# --- CloudWatch: an index of the stored points --------------------------------------------------
class _Group:
    """Every stored point of one metric (name, namespace, unit, dimensions in their order)."""

    __slots__ = ("rep", "entries")

    def __init__(self, rep: Any):
        self.rep = rep
        self.entries: list[tuple[int, Any]] = []   # (position in metric_data, datum)


class _MetricIndex:
    def __init__(self, data: list[Any]):
        self.data = data
        self.size = 0
        self.groups: dict[tuple, _Group] = {}
        self.by_name: dict[str, list[_Group]] = {}
        self.by_dimension: dict[tuple[str, str], list[_Group]] = {}
        self.ordered: list[_Group] = []            # by first appearance

    def catch_up(self) -> "_MetricIndex":
        data = self.data
        signatures: dict[int, tuple] = {}        # a seeded series shares one list of dimensions
        for pos in range(self.size, len(data)):
            md = data[pos]
            dims = md.dimensions
            sig = signatures.get(id(dims))
            if sig is None:
                sig = signatures[id(dims)] = tuple((d.name, d.value) for d in dims)
            key = (md.name, md.namespace, md.unit, sig)
            group = self.groups.get(key)
            if group is None:
                group = self.groups[key] = _Group(md)
                self.by_name.setdefault(md.name, []).append(group)
                for dim in dict.fromkeys(sig):
                    self.by_dimension.setdefault(dim, []).append(group)
                self.ordered.append(group)
            group.entries.append((pos, md))
        self.size = len(data)
        return self


_INDEX_LOCK = threading.Lock()


def _index(backend: Any) -> _MetricIndex:
    """The backend's index, caught up with its data (executions read it from several threads at once)."""
    with _INDEX_LOCK:
        index = backend.__dict__.get("_watchkeeper_index")
        data = backend.metric_data
        if index is None or index.data is not data or index.size > len(data):
            index = backend.__dict__["_watchkeeper_index"] = _MetricIndex(data)
        return index.catch_up()


def _ordered(groups: Iterable[_Group], extra: list[tuple[int, Any]]) -> list[Any]:
    entries: list[tuple[int, Any]] = []
    runs = 0
    for group in groups:
        entries += group.entries
        runs += 1
    if extra:
        entries += extra
        runs += 1
    if runs > 1:
        entries.sort(key=lambda e: e[0])
    return [md for _, md in entries]


def _get_metric_data(self: Any, queries: list[dict[str, Any]], start_time: datetime, end_time: datetime,
                     scan_by: str = "TimestampAscending") -> list[dict[str, Any]]:
    if not queries or any("MetricStat" not in q for q in queries):   # metric math: moto's own way
        return _ORIGINAL["cloudwatch.get_metric_data"](self, queries, start_time, end_time, scan_by)
    from moto.cloudwatch.exceptions import ValidationError
    from moto.cloudwatch.models import Dimension, Statistics

    start_time = start_time.replace(microsecond=0)
    end_time = end_time.replace(microsecond=0)
    if start_time > end_time:
        raise ValidationError("The parameter EndTime must be greater than StartTime.")
    if start_time == end_time:
        raise ValidationError("The parameter StartTime must not equal parameter EndTime.")
    index = _index(self)
    aws = list(enumerate(self.aws_metric_data, start=index.size))
    results = []
    for query in queries:
        metric_stat = query["MetricStat"]
        query_ns = metric_stat["Metric"]["Namespace"]
        query_name = metric_stat["Metric"]["MetricName"]
        delta = timedelta(seconds=int(metric_stat["Period"]))
        dimensions = [Dimension(name=d["Name"], value=d["Value"]) for d in metric_stat["Metric"].get("Dimensions", [])]
        unit = metric_stat.get("Unit")
        stat = metric_stat["Stat"]

        def matches(md: Any) -> bool:
            # moto: with dimensions, the namespace is not compared; the unit always is, when given
            same = sorted(md.dimensions) == sorted(dimensions) if dimensions else md.namespace == query_ns
            return same and (not unit or md.unit == unit)

        groups = [g for g in index.by_name.get(query_name, ()) if matches(g.rep)]
        extra = [(p, md) for p, md in aws if md.name == query_name and matches(md)]
        buckets: dict[int, list[Any]] = {}
        for md in _ordered(groups, extra):
            if start_time <= md.timestamp < end_time:
                buckets.setdefault((md.timestamp - start_time) // delta, []).append(md)
        values: list[Any] = []
        timestamps: list[datetime] = []
        for k in sorted(buckets):
            at = start_time + k * delta
            value = _plain_statistic(stat, buckets[k])
            if value is _NOT_PLAIN:
                stats = Statistics([stat], at)
                stats.metric_data = buckets[k]
                value = stats.get_statistics_for_type(stat)
            values.append(value)
            timestamps.append(at)
        if scan_by == "TimestampDescending" and timestamps:
            timestamps.reverse()
            values.reverse()
        if query.get("ReturnData", True):
            results.append({"id": query["Id"], "label": query.get("Label") or f"{query_name} {stat}",
                            "values": values, "timestamps": timestamps, "status_code": "Complete"})
    return results


_NOT_PLAIN = object()


def _plain_statistic(stat: str, data: list[Any]) -> Any:
    """moto's `Statistics` arithmetic for a period of single values (the same sums, in the same
    order, with the same types), without building its lists per period; _NOT_PLAIN otherwise."""
    from moto.cloudwatch.models import MetricDatum

    if stat not in ("Average", "Sum", "SampleCount", "Minimum", "Maximum") or \
            any(type(md) is not MetricDatum for md in data):
        return _NOT_PLAIN
    values = [md.value for md in data]
    if stat == "Average":
        count = len(values) + 0
        return (sum(values) + 0) / count if count else None
    if stat == "Sum":
        return sum(values) + 0
    if stat == "SampleCount":
        return len(values) + 0
    return (min if stat == "Minimum" else max)(values) if values else None


def _get_filtered_metrics(self: Any, metric_name: str, namespace: str, dimensions: list[dict[str, str]]) -> list[Any]:
    from moto.cloudwatch.models import are_dimensions_same

    index = _index(self)
    if metric_name:
        candidates = index.by_name.get(metric_name, ())
    elif dimensions and all(d.get("Value") is not None for d in dimensions):
        # a metric matches only if it has every (name, value) asked for: start from the rarest
        candidates = min((index.by_dimension.get((d["Name"], d["Value"]), []) for d in dimensions), key=len)
    else:
        candidates = index.ordered
    picked: list[tuple[int, Any]] = []
    once: dict[tuple, tuple[int, Any]] = {}
    for group in candidates:
        rep = group.rep
        if not rep.filter(namespace=namespace, name=metric_name, dimensions=dimensions):
            continue
        # moto lists a metric once (whatever the unit of its points) when its dimensions compare
        # "the same" with themselves, and every point of it otherwise
        if rep.dimensions and are_dimensions_same(rep.dimensions, rep.dimensions):
            key = (rep.name, rep.namespace, tuple((d.name, d.value) for d in rep.dimensions))
            if key not in once or group.entries[0][0] < once[key][0]:
                once[key] = group.entries[0]
        else:
            picked += group.entries
    picked += once.values()
    picked.sort(key=lambda e: e[0])
    found = [md for _, md in picked]
    for md in self.aws_metric_data:      # generated per call (S3 bucket metrics): moto's own loop
        if md.filter(namespace=namespace, name=metric_name, dimensions=dimensions, already_present_metrics=found):
            found.append(md)
    return found


def _install_cloudwatch() -> None:
    from moto.cloudwatch.models import CloudWatchBackend

    _ORIGINAL["cloudwatch.get_metric_data"] = CloudWatchBackend.get_metric_data
    _ORIGINAL["cloudwatch.get_filtered_metrics"] = CloudWatchBackend.get_filtered_metrics
    CloudWatchBackend.get_metric_data = _get_metric_data
    CloudWatchBackend.get_filtered_metrics = _get_filtered_metrics


def seed_metric_history(account: str, region: str, namespace: str, name: str, dimensions: list[dict[str, str]],
                        unit: str | None, points: Iterable[tuple[datetime, float]]) -> int:
    """Store one recorded series as PutMetricData stores it (one datum per point, naive UTC times);
    returns how many points were kept (non-finite values are not datapoints).

    The data moto reads is the same; its construction is cheaper: the points of a series share
    one list of dimensions (nothing changes a stored datum's dimensions)."""
    from moto.cloudwatch.models import Dimension, MetricDatum, cloudwatch_backends

    backend = cloudwatch_backends[account][region]
    dims = [Dimension(d["Name"], d["Value"]) for d in dimensions]
    new, store = object.__new__, backend.metric_data.append
    kept = 0
    for at, value in points:
        value = float(value)
        if not math.isfinite(value):
            continue
        if at.tzinfo is not None:             # moto keeps naive UTC, as its request parser makes them
            at = at.astimezone(timezone.utc).replace(tzinfo=None)
        md = new(MetricDatum)
        md.namespace, md.name, md.timestamp, md.dimensions, md.unit, md.value = namespace, name, at, dims, unit, value
        store(md)
        kept += 1
    _index(backend)                              # indexed now, while nothing else reads it
    return kept


# --- DynamoDB: transactions with an undo log -----------------------------------------------------
def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto's TransactWriteItems, rolling back through the items it touched instead of table copies."""
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed, MockValidationException, MultipleTransactionsException, TooManyTransactionsException,
        TransactionCanceledException, TransactWriteSingleOpException,
    )
    from moto.dynamodb.comparisons import get_filter_expression

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    undo: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []   # (table, key, item before or None)
    target_items: set[tuple[str, str]] = set()

    def rollback() -> None:
        for table_name, key, before in reversed(undo):
            if before is None:
                self.delete_item(table_name, key)
            else:
                self.put_item(table_name, before)

    def check_unicity(table_name: str, key: dict[str, Any]) -> None:
        item = (str(table_name), str(dict(sorted(key.items()))))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors: list[tuple[Any, Any, Any]] = []
    for item in transact_items:
        original_item: dict[str, Any] | None = None
        if len(list(item.keys())) > 1:
            rollback()
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            names = op.get("ExpressionAttributeNames")
            values = op.get("ExpressionAttributeValues")
            if op_type == "Put":
                attrs = op["Item"]
                table = self.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            check_unicity(table_name, key)
            current = self.get_item(table_name, key)
            if condition_expression is not None:
                condition_op = get_filter_expression(condition_expression, names, values)
                if not condition_op.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)
            if op_type != "ConditionCheck":
                before = copy.deepcopy(current.to_json()["Attributes"]) if current is not None else None
                undo.append((table_name, key, before))
            if op_type == "Put":
                self.put_item(table_name, op["Item"], condition_expression=condition_expression,
                              expression_attribute_names=names, expression_attribute_values=values)
            elif op_type == "Delete":
                self.delete_item(table_name, key, condition_expression=condition_expression,
                                 expression_attribute_names=names, expression_attribute_values=values)
            elif op_type == "Update":
                self.update_item(table_name, key, update_expression=op["UpdateExpression"],
                                 condition_expression=condition_expression, expression_attribute_names=names,
                                 expression_attribute_values=values)
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            rollback()
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))
        except Exception as e:  # noqa: BLE001 - moto records any other failure the same way
            errors.append((type(e).__name__, str(e), original_item))
    if any(code is not None for code, _, _ in errors):
        rollback()
        raise TransactionCanceledException(errors)


_QUERY = threading.local()


def _install_dynamodb() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    _ORIGINAL["dynamodb.transact_write_items"] = DynamoDBBackend.transact_write_items
    DynamoDBBackend.transact_write_items = _transact_write_items

    # A table Query (no index) sorts every item of the table to keep one partition: the
    # partition's items, in the same (hash, range) order, are all that query reads from it.
    query, all_items = Table.query, Table.all_items
    _ORIGINAL["dynamodb.query"], _ORIGINAL["dynamodb.all_items"] = query, all_items

    def fast_query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name is not None or hash_key is None:
            return query(self, hash_key, *args, **kwargs)
        _QUERY.partition = (self, hash_key)
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            _QUERY.partition = None

    def partition_items(self: Any) -> list[Any]:
        hint = getattr(_QUERY, "partition", None)
        if hint is None or hint[0] is not self:
            return all_items(self)
        _QUERY.partition = None                 # one read per query
        found = self.items.get(hint[1])
        if found is None:
            return []
        if self.range_key_attr:
            return sorted(found.values(), key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)
        return [found]

    Table.query = fast_query
    Table.all_items = partition_items


# --- Step Functions: a decision that arrives before the heartbeat endpoint -----------------------
def _install_stepfunctions() -> None:
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    # Every execution parses the state machine's definition again (~40 ms of ANTLR in Python): the
    # syntax tree of a definition is kept; each execution still gets its own evaluation components.
    parse = AmazonStateLanguageParser.parse
    _ORIGINAL["stepfunctions.parse"] = parse
    trees: dict[str, Any] = {}

    def parse_once(definition: str) -> tuple[Any, Any]:
        tree = trees.get(definition)
        if tree is None:
            program, tree = parse(definition)
            if len(trees) > 16:
                trees.clear()
            trees[definition] = tree
            return program, tree
        return Preprocessor().visit(tree), tree

    AmazonStateLanguageParser.parse = staticmethod(parse_once)

    # Every Lambda task builds a new boto3 client to invoke its function (~10 ms each, 400 in a
    # storm): the interpreter's client is kept per default session, region and service. The
    # request each call makes is the same; botocore clients may be shared between threads.
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.utils import boto_client

    build = boto_client.boto_client_for
    _ORIGINAL["stepfunctions.boto_client_for"] = build
    clients: dict[tuple, Any] = {}

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        import boto3
        from moto.core.models import botocore_stubber

        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        key = (region, service, botocore_stubber.enabled)
        kept = clients.get(key)
        if kept is None or kept[0] is not boto3.DEFAULT_SESSION:     # a new runtime: a new default session
            kept = clients[key] = (boto3.DEFAULT_SESSION, build(region, service, state_credentials))
        return kept[1]

    boto_client.boto_client_for = boto_client_for
    lambda_eval_utils.boto_client_for = boto_client_for

    setup = CallbackEndpoint.setup_heartbeat_endpoint
    _ORIGINAL["stepfunctions.setup_heartbeat_endpoint"] = setup

    def setup_heartbeat_endpoint(self: Any, heartbeat_seconds: int) -> Any:
        endpoint = setup(self, heartbeat_seconds)
        # `notify` sets the outcome, then wakes the heartbeat endpoint if there is one; here the
        # endpoint is set, then the outcome read: whichever runs second sees the other's write
        if self._outcome is not None:
            endpoint.notify()
        return endpoint

    CallbackEndpoint.setup_heartbeat_endpoint = setup_heartbeat_endpoint


# --- CodeDeploy: deployments that run their lifecycle ---------------------------------------------
CODEDEPLOY_FINAL = ("Succeeded", "Failed", "Stopped")
_CODEDEPLOY_OUTCOMES: dict[str, str] = {}      # revision location -> the final status its deployments reach
_CODEDEPLOY_LOCK = threading.Lock()


def revision_location(revision: dict[str, Any] | None) -> str:
    """A CodeDeploy revision as one string (S3 bucket/key[@version], GitHub repository@commit, ...)."""
    revision = revision or {}
    s3, github = revision.get("s3Location") or {}, revision.get("gitHubLocation") or {}
    if s3:
        return f"s3://{s3.get('bucket')}/{s3.get('key')}" + (f"@{s3['version']}" if s3.get("version") else "")
    if github:
        return f"github:{github.get('repository')}@{github.get('commitId')}"
    return str(revision.get("revisionType") or "")


def set_codedeploy_outcome(location: str, status: str) -> None:
    """Deployments of the revision at `location` end `status` (Succeeded, Failed or Stopped), or stay
    InProgress (a long deployment) until another outcome is set."""
    assert status in CODEDEPLOY_FINAL + ("InProgress",), status
    _CODEDEPLOY_OUTCOMES[location] = status


def clear_codedeploy_outcomes() -> None:
    _CODEDEPLOY_OUTCOMES.clear()


def _codedeploy_id() -> str:
    import random
    import string

    return "d-" + "".join(random.choices(string.ascii_uppercase + string.digits, k=9))


def _group_deployments(backend: Any, application: str, group: str) -> list[Any]:
    return sorted((d for d in backend.deployments.values()
                   if d.application_name == application and d.deployment_group_name == group),
                  key=lambda d: d.create_time)


def _advance(deployment: Any) -> None:
    """One step of the lifecycle per read: Created -> InProgress -> the revision's outcome."""
    from moto.core.utils import utcnow

    with _CODEDEPLOY_LOCK:
        if deployment.status in ("Created", "Queued"):
            deployment.status, deployment.start_time = "InProgress", utcnow()
            deployment.deployment_overview = {**deployment.deployment_overview, "InProgress": 1}
        elif deployment.status == "InProgress":
            final = _CODEDEPLOY_OUTCOMES.get(revision_location(deployment.revision), "Succeeded")
            if final == "InProgress":
                return
            deployment.status, deployment.complete_time = final, utcnow()
            deployment.deployment_overview = {**deployment.deployment_overview, "InProgress": 0,
                                              "Succeeded" if final == "Succeeded" else "Failed": 1}
            if final != "Succeeded":
                deployment.error_information = {"code": "SCRIPT_FAILED" if final == "Failed" else "MANUAL_STOP",
                                                "message": f"the deployment {final.lower()}"}


def _summary(deployment: Any) -> dict[str, Any]:
    return {"deploymentId": deployment.deployment_id, "status": deployment.status,
            "endTime": deployment.complete_time, "createTime": deployment.create_time}


def _install_codedeploy() -> None:
    from moto.codedeploy import responses
    from moto.codedeploy.models import CodeDeployBackend

    create = CodeDeployBackend.create_deployment
    _ORIGINAL["codedeploy.create_deployment"] = create

    def create_deployment(self: Any, application_name: str, deployment_group_name: str, *args: Any,
                          **kwargs: Any) -> str:
        moto_id = create(self, application_name, deployment_group_name, *args, **kwargs)
        deployment = self.deployments.pop(moto_id)
        earlier = [d for d in _group_deployments(self, application_name, deployment_group_name)
                   if d.status == "Succeeded"]
        deployment.previous_revision = earlier[-1].revision if earlier else None
        deployment.deployment_id = _codedeploy_id()
        self.deployments[deployment.deployment_id] = deployment
        return deployment.deployment_id

    CodeDeployBackend.create_deployment = create_deployment

    get = CodeDeployBackend.get_deployment
    batch = CodeDeployBackend.batch_get_deployments
    _ORIGINAL["codedeploy.get_deployment"] = get
    _ORIGINAL["codedeploy.batch_get_deployments"] = batch

    def get_deployment(self: Any, deployment_id: str) -> Any:
        deployment = get(self, deployment_id)
        _advance(deployment)
        return deployment

    def batch_get_deployments(self: Any, deployment_ids: list[str]) -> list[Any]:
        found = batch(self, deployment_ids)
        for deployment in found:
            _advance(deployment)
        return found

    CodeDeployBackend.get_deployment = get_deployment
    CodeDeployBackend.batch_get_deployments = batch_get_deployments

    info = responses._deployment_info
    group_info = responses._deployment_group_info
    _ORIGINAL["codedeploy._deployment_info"] = info
    _ORIGINAL["codedeploy._deployment_group_info"] = group_info

    def deployment_info(deployment: Any) -> dict[str, Any]:
        out = info(deployment)
        previous = getattr(deployment, "previous_revision", None)
        if previous:
            out["previousRevision"] = previous
        error = getattr(deployment, "error_information", None)
        if error:
            out["errorInformation"] = error
        return out

    def deployment_group_info(group: Any) -> dict[str, Any]:
        out = group_info(group)
        from moto.codedeploy.models import codedeploy_backends

        backend = next((b for account in codedeploy_backends.values() for b in account.values()
                        if group.application.application_name in b.deployment_groups
                        and b.deployment_groups[group.application.application_name].get(
                            group.deployment_group_name) is group), None)
        history = _group_deployments(backend, group.application.application_name,
                                     group.deployment_group_name) if backend is not None else []
        if history:
            out["targetRevision"] = history[-1].revision
            out["lastAttemptedDeployment"] = _summary(history[-1])
            succeeded = [d for d in history if d.status == "Succeeded"]
            if succeeded:
                out["lastSuccessfulDeployment"] = _summary(succeeded[-1])
        return out

    responses._deployment_info = deployment_info
    responses._deployment_group_info = deployment_group_info


def seed_codedeploy_history(account: str, region: str, application: str, group: str,
                            deployments: Iterable[dict[str, Any]]) -> list[str]:
    """Past deployments of an existing deployment group, as CodeDeploy recorded them: each with its
    `id`, `revision` (a RevisionLocation), `status`, `created` (aware or naive UTC) and `description`.
    CreateDeployment cannot make these (it names its own ids and times). Returns the ids."""
    from moto.codedeploy.models import DeploymentInfo, codedeploy_backends

    backend = codedeploy_backends[account][region]
    app = backend.get_application(application)
    dg = backend.get_deployment_group(application, group)
    ids = []
    previous = None
    for seed in sorted(deployments, key=lambda d: d["created"]):
        d = DeploymentInfo(app, dg, seed["revision"], dg.deployment_config_name, seed.get("description"),
                           None, None, None, None, None, None, "user")
        created = seed["created"]
        if created.tzinfo is not None:
            created = created.astimezone(timezone.utc).replace(tzinfo=None)
        d.deployment_id = seed.get("id") or _codedeploy_id()
        d.create_time, d.start_time = created, created
        d.status = seed.get("status", "Succeeded")
        d.complete_time = created + timedelta(minutes=3) if d.status in CODEDEPLOY_FINAL else None
        d.previous_revision = previous
        if d.status == "Succeeded":
            previous = seed["revision"]
        backend.deployments[d.deployment_id] = d
        ids.append(d.deployment_id)
    return ids
