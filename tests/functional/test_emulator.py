"""The emulator's fast paths and fixes (local/emulator.py) answer exactly as moto does.

Each patched moto internal is compared with moto's own implementation on random data; the
callback fix is shown on the race it fixes. A moto upgrade that moves a hook fails here.
"""
from __future__ import annotations

import json
import random
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import boto3
import moto
import pytest
from moto import mock_aws

from watchkeeper.local import emulator

emulator.install()
REGION = "us-east-1"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def test_moto_is_the_version_the_hooks_were_written_for():
    from moto.cloudwatch.models import CloudWatchBackend
    from moto.dynamodb.models import DynamoDBBackend
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint

    assert moto.__version__ == "5.2.5"
    assert CloudWatchBackend.get_metric_data is emulator._get_metric_data
    assert CloudWatchBackend.get_filtered_metrics is emulator._get_filtered_metrics
    assert DynamoDBBackend.transact_write_items is emulator._transact_write_items
    assert CallbackEndpoint.setup_heartbeat_endpoint.__name__ == "setup_heartbeat_endpoint"
    assert CallbackEndpoint.setup_heartbeat_endpoint is not emulator.original("stepfunctions.setup_heartbeat_endpoint")


def _put_random_metrics(rng: random.Random, cw) -> None:
    names = ["CPUUtilization", "Latency", "5XXError", "MemoryUtilization"]
    namespaces = ["AWS/ECS", "Shop/Service", "ContainerInsights"]
    dim_sets = [[], [("Service", "a")], [("Service", "b")], [("ServiceName", "a"), ("ClusterName", "prod")],
                [("ClusterName", "prod"), ("ServiceName", "a")], [("Service", "a"), ("Service", "a")]]
    for _ in range(12):
        data = []
        for _ in range(rng.randint(1, 60)):
            dims = rng.choice(dim_sets)
            point = {"MetricName": rng.choice(names), "Dimensions": [{"Name": n, "Value": v} for n, v in dims],
                     "Timestamp": T0 + timedelta(seconds=rng.randint(-600, 4000)), "Value": rng.uniform(-5, 100)}
            if rng.random() < 0.3:
                point["Unit"] = rng.choice(["Percent", "Count"])
            data.append(point)
        cw.put_metric_data(Namespace=rng.choice(namespaces), MetricData=data)


@pytest.mark.parametrize("seed", range(6))
def test_metric_reads_answer_as_moto_does(seed):
    from moto.cloudwatch.models import cloudwatch_backends

    rng = random.Random(seed)
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(Bucket="reports")   # moto adds S3 metrics
        cw = boto3.client("cloudwatch", region_name=REGION)
        _put_random_metrics(rng, cw)
        backend = cloudwatch_backends["123456789012"][REGION]
        for _ in range(40):
            dims = rng.choice([[], [{"Name": "Service", "Value": "a"}], [{"Name": "Service", "Value": "b"}],
                               [{"Name": "ClusterName", "Value": "prod"}, {"Name": "ServiceName", "Value": "a"}],
                               [{"Name": "ServiceName", "Value": "a"}, {"Name": "ClusterName", "Value": "prod"}]])
            queries = [{"Id": f"q{i}", "ReturnData": rng.random() < 0.9, "MetricStat": {
                "Metric": {"Namespace": rng.choice(["AWS/ECS", "Shop/Service", "ContainerInsights", "AWS/S3"]),
                           "MetricName": rng.choice(["CPUUtilization", "Latency", "5XXError", "NumberOfObjects"]),
                           "Dimensions": dims},
                "Period": rng.choice([60, 300, 7]), "Stat": rng.choice(["Average", "Sum", "Maximum", "Minimum", "SampleCount", "p99"]),
                **({"Unit": rng.choice(["Percent", "Count"])} if rng.random() < 0.2 else {})}} for i in range(3)]
            start = (T0 + timedelta(seconds=rng.randint(-900, 2000))).replace(tzinfo=None)
            end = start + timedelta(seconds=rng.randint(1, 5000))
            scan = rng.choice(["TimestampAscending", "TimestampDescending"])
            assert backend.get_metric_data(queries, start, end, scan) == \
                emulator.original("cloudwatch.get_metric_data")(backend, queries, start, end, scan)
            name = rng.choice([None, "CPUUtilization", "Latency", "BucketSizeBytes"])
            namespace = rng.choice([None, "AWS/ECS", "Shop/Service", "AWS/S3"])
            fast = backend.get_filtered_metrics(name, namespace, dims)
            slow = emulator.original("cloudwatch.get_filtered_metrics")(backend, name, namespace, dims)
            assert [(m.namespace, m.name, m.value, m.unit, [(d.name, d.value) for d in m.dimensions]) for m in fast] == \
                [(m.namespace, m.name, m.value, m.unit, [(d.name, d.value) for d in m.dimensions]) for m in slow]


def test_a_failed_transaction_restores_exactly_what_it_touched():
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(TableName="t", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
        ddb.put_item(TableName="t", Item={"pk": {"S": "a"}, "n": {"N": "1"}, "l": {"L": [{"S": "x"}]}})
        ddb.put_item(TableName="t", Item={"pk": {"S": "c"}, "n": {"N": "5"}})
        ddb.put_item(TableName="t", Item={"pk": {"S": "d"}, "n": {"N": "7"}})
        with pytest.raises(ddb.exceptions.TransactionCanceledException):
            ddb.transact_write_items(TransactItems=[
                {"Update": {"TableName": "t", "Key": {"pk": {"S": "a"}}, "UpdateExpression": "SET n = :n, l = :l",
                            "ExpressionAttributeValues": {":n": {"N": "2"}, ":l": {"L": []}}}},
                {"Put": {"TableName": "t", "Item": {"pk": {"S": "b"}, "n": {"N": "1"}}}},
                {"Delete": {"TableName": "t", "Key": {"pk": {"S": "c"}}}},
                {"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": "d"}}, "ConditionExpression": "n = :x",
                                    "ExpressionAttributeValues": {":x": {"N": "9"}}}},
            ])
        items = {i["pk"]["S"]: i for i in ddb.scan(TableName="t")["Items"]}
        assert items == {"a": {"pk": {"S": "a"}, "n": {"N": "1"}, "l": {"L": [{"S": "x"}]}},
                         "c": {"pk": {"S": "c"}, "n": {"N": "5"}}, "d": {"pk": {"S": "d"}, "n": {"N": "7"}}}
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": "t", "Item": {"pk": {"S": "b"}}, "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Update": {"TableName": "t", "Key": {"pk": {"S": "a"}}, "UpdateExpression": "SET n = :n",
                        "ConditionExpression": "n = :one", "ExpressionAttributeValues": {":n": {"N": "2"}, ":one": {"N": "1"}}}},
        ])
        assert {i["pk"]["S"]: i.get("n") for i in ddb.scan(TableName="t")["Items"]} == {
            "a": {"N": "2"}, "b": None, "c": {"N": "5"}, "d": {"N": "7"}}


def test_a_decision_sent_before_the_heartbeat_endpoint_exists_is_not_lost():
    """The task's Lambda answers its own token before it returns (as a fast approver would):
    moto noticed that decision only at the next heartbeat and then failed the task."""
    from moto.awslambda_simple.models import LambdaSimpleBackend

    definition = {"StartAt": "Wait for approval", "States": {"Wait for approval": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "decide", "Payload": {"token.$": "$$.Task.Token"}},
        "HeartbeatSeconds": 30, "TimeoutSeconds": 60, "End": True}}}
    original_invoke = LambdaSimpleBackend.invoke

    def invoke(backend, function_name, qualifier, body, headers, response_headers):
        token = json.loads(body)["token"]
        boto3.client("stepfunctions", region_name=REGION).send_task_success(taskToken=token, output='{"approved": true}')
        return b"{}"

    LambdaSimpleBackend.invoke = invoke
    try:
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
            iam = boto3.client("iam", region_name=REGION)
            role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
            boto3.client("lambda", region_name=REGION).create_function(
                FunctionName="decide", Runtime="python3.12", Role=role, Handler="x.handler", Code={"ZipFile": b"x"})
            sfn = boto3.client("stepfunctions", region_name=REGION)
            arn = sfn.create_state_machine(name="m", definition=json.dumps(definition), roleArn=role)["stateMachineArn"]
            execution = sfn.start_execution(stateMachineArn=arn, name="e1", input="{}")["executionArn"]
            deadline = time.monotonic() + 10
            while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING" and time.monotonic() < deadline:
                time.sleep(0.05)
            desc = sfn.describe_execution(executionArn=execution)
            assert desc["status"] == "SUCCEEDED", desc
            assert json.loads(desc["output"]) == {"approved": True}
    finally:
        LambdaSimpleBackend.invoke = original_invoke


def test_a_query_reads_its_partition_as_moto_does():
    from moto.dynamodb.models import dynamodb_backends

    rng = random.Random(3)
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(TableName="s", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                                   {"AttributeName": "sk", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "sk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
        for i in range(300):
            ddb.put_item(TableName="s", Item={"pk": {"S": f"P#{rng.randint(0, 9)}"}, "sk": {"S": f"{rng.random():.6f}"},
                                              "n": {"N": str(i)}})
        table = dynamodb_backends["123456789012"][REGION].get_table("s")
        for forward in (True, False):
            for p in ("P#1", "P#7", "P#none"):
                kwargs = {"TableName": "s", "KeyConditionExpression": "pk = :p AND sk > :s", "ScanIndexForward": forward,
                          "ExpressionAttributeValues": {":p": {"S": p}, ":s": {"S": "0.3"}}, "Limit": 7}
                pages, fast = [], ddb.query(**kwargs)
                pages.append(fast["Items"])
                while "LastEvaluatedKey" in fast:
                    fast = ddb.query(**kwargs, ExclusiveStartKey=fast["LastEvaluatedKey"])
                    pages.append(fast["Items"])
                expected = sorted((i for i in ddb.scan(TableName="s")["Items"]
                                   if i["pk"]["S"] == p and i["sk"]["S"] > "0.3"), key=lambda i: i["sk"]["S"],
                                  reverse=not forward)
                assert [i for page in pages for i in page] == expected
        assert len(table.all_items()) == 300            # a scan still sees every partition


def test_seeded_history_answers_as_the_same_points_put_through_the_api():
    from moto.cloudwatch.models import cloudwatch_backends

    points = [(T0 + timedelta(minutes=i), float(i % 7)) for i in range(120)] + [(T0, float("nan"))]
    with mock_aws():
        assert emulator.seed_metric_history("123456789012", "eu-west-1", "Shop/Service", "Latency",
                                            [{"Name": "Service", "Value": "a"}], "Milliseconds", points) == 120
        boto3.client("cloudwatch", region_name="us-west-2").put_metric_data(Namespace="Shop/Service", MetricData=[
            {"MetricName": "Latency", "Dimensions": [{"Name": "Service", "Value": "a"}], "Timestamp": at, "Value": v,
             "Unit": "Milliseconds"} for at, v in points[:120]])
        seeded, put = (cloudwatch_backends["123456789012"][r] for r in ("eu-west-1", "us-west-2"))
        query = [{"Id": "q", "MetricStat": {"Metric": {"Namespace": "Shop/Service", "MetricName": "Latency",
                                                       "Dimensions": [{"Name": "Service", "Value": "a"}]},
                                            "Period": 300, "Stat": "Average"}}]
        start, end = T0.replace(tzinfo=None), (T0 + timedelta(hours=3)).replace(tzinfo=None)
        assert seeded.get_metric_data(query, start, end) == put.get_metric_data(query, start, end)
        assert [vars(m) for m in seeded.get_filtered_metrics(None, None, [])] == \
            [vars(m) for m in put.get_filtered_metrics(None, None, [])]


def test_each_execution_gets_its_own_program_from_the_kept_syntax_tree():
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    first, tree = AmazonStateLanguageParser.parse(definition)
    second, same_tree = AmazonStateLanguageParser.parse(definition)
    assert same_tree is tree and second is not first and type(second) is type(first)


def test_the_index_is_built_once_when_threads_read_it_together():
    from moto.cloudwatch.models import cloudwatch_backends

    from moto.cloudwatch.models import MetricDatum

    with mock_aws():
        boto3.client("cloudwatch", region_name=REGION).list_metrics()
        backend = cloudwatch_backends["123456789012"][REGION]
        backend.metric_data += [MetricDatum("N", "m", 1.0, [{"Name": "Service", "Value": f"s{i % 50}"}],
                                            (T0 + timedelta(minutes=i)).replace(tzinfo=None)) for i in range(30000)]
        threads = [threading.Thread(target=emulator._index, args=(backend,)) for _ in range(8)]
        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)               # switch threads inside the build
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            sys.setswitchinterval(interval)
        assert sum(len(g.entries) for g in emulator._index(backend).ordered) == 30000


def test_the_interpreters_lambda_client_is_kept_per_default_session():
    import boto3
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    with mock_aws():
        boto3.DEFAULT_SESSION = None
        first = lambda_eval_utils.boto_client_for(region=REGION, service="lambda", state_credentials=None)
        assert lambda_eval_utils.boto_client_for(region=REGION, service="lambda", state_credentials=None) is first
        boto3.DEFAULT_SESSION = None                                # a new local runtime
        assert lambda_eval_utils.boto_client_for(region=REGION, service="lambda", state_credentials=None) is not first
