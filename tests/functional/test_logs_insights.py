"""Logs Insights behind the logs port: the query string, and polling/assembly with botocore's Stubber."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.stub import ANY, Stubber

from watchkeeper.adapters.cloudwatch import CloudWatchLogSource, error_query
from watchkeeper.ports import TransientError

END = datetime(2026, 9, 20, 21, 0, tzinfo=timezone.utc)
START = END - timedelta(hours=3)
GROUP = "/eks/web"


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def logs():
    client = boto3.client("logs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def _source(client, clock: Clock, **kw) -> CloudWatchLogSource:
    return CloudWatchLogSource(client, sleep=clock.sleep, clock=lambda: clock.now, poll_interval=1.0, **kw)


def _row(at: datetime, message: str) -> list[dict[str, str]]:
    return [{"field": "@timestamp", "value": at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]},
            {"field": "@message", "value": message}, {"field": "@logStream", "value": "web-1"},
            {"field": "@ptr", "value": "CmAKJwoj"}]


def _start(stub, limit: int, query_id: str = "q-1") -> None:
    stub.add_response("start_query", {"queryId": query_id}, {
        "logGroupName": GROUP, "startTime": int(START.timestamp()), "endTime": int(END.timestamp()),
        "queryString": error_query(limit), "limit": limit})


def test_the_error_query_filters_on_level_or_message_newest_first():
    assert error_query(500, levels=("ERROR",), pattern="(?i)timeout") == (
        "fields @timestamp, @message, @logStream\n"
        "| filter level in [\"ERROR\"] or @message like /(?i)timeout/\n"
        "| sort @timestamp desc\n"
        "| limit 500")
    assert error_query(10, levels=(), pattern=None) == "fields @timestamp, @message, @logStream\n| sort @timestamp desc\n| limit 10"
    with pytest.raises(ValueError):
        error_query(20000)
    with pytest.raises(ValueError):
        error_query(10, pattern="a/b")


def test_a_large_group_is_queried_polled_until_complete_and_assembled_oldest_first(logs):
    client, stub = logs
    clock = Clock()
    _start(stub, 100)
    stub.add_response("get_query_results", {"status": "Scheduled", "results": []}, {"queryId": "q-1"})
    stub.add_response("get_query_results", {"status": "Running", "results": []}, {"queryId": "q-1"})
    stub.add_response("get_query_results", {"status": "Complete", "results": [
        _row(END - timedelta(minutes=1), "ERROR timed out after 5000 ms"),
        _row(END - timedelta(minutes=2), "ERROR timed out after 6000 ms"),
        _row(START - timedelta(minutes=1), "ERROR from before the window"),
    ]}, {"queryId": "q-1"})
    events = _source(client, clock, large_groups=[GROUP], insights_limit=100).fetch(
        GROUP, START, END, max_events=1000, max_bytes=10_000)
    assert [e.message for e in events] == ["ERROR timed out after 6000 ms", "ERROR timed out after 5000 ms"]
    assert events[0].at == END - timedelta(minutes=2) and events[0].log_group == GROUP
    assert clock.sleeps == [1.0, 1.0]


def test_polling_stops_at_the_bound_and_keeps_the_partial_rows(logs):
    client, stub = logs
    clock = Clock()
    _start(stub, 50)
    for _ in range(3):
        stub.add_response("get_query_results", {"status": "Running", "results": [
            _row(END - timedelta(minutes=5), "ERROR pool exhausted")]}, {"queryId": "q-1"})
    stub.add_response("stop_query", {"success": True}, {"queryId": "q-1"})
    events = _source(client, clock, large_groups=[GROUP], max_wait=2.0).fetch(
        GROUP, START, END, max_events=50, max_bytes=10_000)
    assert [e.message for e in events] == ["ERROR pool exhausted"]
    assert clock.sleeps == [1.0, 1.0]


def test_a_failed_query_is_a_transient_error(logs):
    client, stub = logs
    _start(stub, 10)
    stub.add_response("get_query_results", {"status": "Failed", "results": []}, {"queryId": "q-1"})
    with pytest.raises(TransientError):
        _source(client, Clock(), large_groups=[GROUP]).fetch(GROUP, START, END, max_events=10, max_bytes=10_000)


def test_running_out_of_budget_on_filter_log_events_switches_to_insights(logs):
    client, stub = logs
    clock = Clock()
    old = [{"timestamp": int((START + timedelta(minutes=i)).timestamp() * 1000), "message": f"INFO ok {i:03d}",
            "eventId": str(i), "logStreamName": "web-1", "ingestionTime": 0} for i in range(4)]
    stub.add_response("filter_log_events", {"events": old, "nextToken": "t2"},
                      {"logGroupName": GROUP, "startTime": int(START.timestamp() * 1000),
                       "endTime": int(END.timestamp() * 1000)})
    _start(stub, 3)
    stub.add_response("get_query_results", {"status": "Complete", "results": [
        _row(END - timedelta(minutes=1), "ERROR newest failure"),
        _row(START + timedelta(minutes=1), "INFO ok 001"),            # also read by FilterLogEvents: once only
    ]}, {"queryId": "q-1"})
    source = _source(client, clock)
    events = source.fetch(GROUP, START, END, max_events=3, max_bytes=10_000)
    # the budget keeps the newest lines: the error the oldest-first read would have cut off is in
    assert [e.message for e in events] == ["INFO ok 001", "INFO ok 002", "ERROR newest failure"]
    # the group is now known to be large: the next incident goes straight to Insights
    _start(stub, 3, "q-2")
    stub.add_response("get_query_results", {"status": "Complete", "results": []}, {"queryId": "q-2"})
    assert source.fetch(GROUP, START, END, max_events=3, max_bytes=10_000) == []


def test_a_small_group_is_read_with_filter_log_events_only(logs):
    client, stub = logs
    stub.add_response("filter_log_events", {"events": [
        {"timestamp": int(END.timestamp() * 1000) - 1000, "message": "ERROR boom", "eventId": "1",
         "logStreamName": "web-1", "ingestionTime": 0}]}, {"logGroupName": GROUP, "startTime": ANY, "endTime": ANY})
    events = _source(client, Clock()).fetch(GROUP, START, END, max_events=10, max_bytes=10_000)
    assert [e.message for e in events] == ["ERROR boom"]
