"""GuardDuty and Security Hub findings are alerts: parsed, classified as security, routed from the queue."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from watchkeeper.domain.classify import alert_category
from watchkeeper.domain.intake import InvalidAlert, parse_delivery
from watchkeeper.handlers.ingest import _from_record

FINDING = json.loads((Path(__file__).parent / "fixtures" / "guardduty_eks_finding.json").read_text())


def test_a_guardduty_finding_is_a_security_alert_about_its_workload():
    (alert,) = parse_delivery("guardduty", FINDING, FINDING["time"])
    assert alert.status == "firing"
    assert alert.fingerprint == "guardduty:6ec6f1c0a6d94e2b9b0a4a2f3c1d7e88"
    assert alert.service_hints[0] == "checkout-api"
    assert alert.priority == "high"
    assert alert.labels["finding_type"] == "CredentialAccess:Kubernetes/MaliciousIPCaller"
    assert alert_category(alert) == "security"


def test_an_update_of_the_same_finding_is_another_delivery_of_the_same_alarm():
    later = copy.deepcopy(FINDING)
    later["id"] = "0b1d2c3e-aaaa-bbbb-cccc-000000000001"
    later["detail"]["service"]["count"] = 9
    first = parse_delivery("guardduty", FINDING, FINDING["time"])[0]
    again = parse_delivery("guardduty", later, later["time"])[0]
    assert first.fingerprint == again.fingerprint and first.delivery_id != again.delivery_id


def test_an_archived_finding_resolves():
    archived = copy.deepcopy(FINDING)
    archived["detail"]["service"]["archived"] = True
    assert parse_delivery("guardduty", archived, archived["time"])[0].status == "resolved"


def test_instance_and_access_key_findings_name_what_they_are_about():
    ec2 = copy.deepcopy(FINDING)
    ec2["detail"]["resource"] = {"resourceType": "Instance", "instanceDetails": {
        "instanceId": "i-0abc", "tags": [{"key": "Name", "value": "ledger-worker"}]}}
    assert parse_delivery("guardduty", ec2, ec2["time"])[0].service_hints == ["ledger-worker", "i-0abc"]
    key = copy.deepcopy(FINDING)
    key["detail"]["resource"] = {"resourceType": "AccessKey", "accessKeyDetails": {"userName": "ci-deployer"}}
    assert parse_delivery("guardduty", key, key["time"])[0].service_hints == ["ci-deployer"]


def test_a_malformed_finding_is_refused_with_the_field_named():
    broken = copy.deepcopy(FINDING)
    del broken["detail"]["type"]
    with pytest.raises(InvalidAlert, match="type"):
        parse_delivery("guardduty", broken, broken["time"])


def test_security_hub_findings_parse_one_alert_each():
    event = {"version": "0", "id": "e1", "detail-type": "Security Hub Findings - Imported", "source": "aws.securityhub",
             "time": "2026-03-04T10:12:31Z", "detail": {"findings": [
                 {"Id": "arn:aws:securityhub:finding/1", "Title": "S3 bucket is publicly readable",
                  "Types": ["Effects/Data Exposure"], "Severity": {"Label": "HIGH"},
                  "Resources": [{"Type": "AwsS3Bucket", "Id": "arn:aws:s3:::reports-bucket",
                                 "Tags": {"service": "reports-api"}}],
                  "Workflow": {"Status": "NEW"}, "RecordState": "ACTIVE"},
                 {"Id": "arn:aws:securityhub:finding/2", "Title": "old", "Workflow": {"Status": "RESOLVED"}}]}}
    first, second = parse_delivery("securityhub", event, event["time"])
    assert first.service_hints[0] == "reports-api" and alert_category(first) == "security"
    assert first.priority == "high" and second.status == "resolved"


@pytest.mark.parametrize("body, source", [
    (FINDING, "guardduty"),
    ({"source": "aws.securityhub", "detail-type": "Security Hub Findings - Imported", "time": "t", "detail": {}},
     "securityhub"),
])
def test_the_queue_routes_findings_from_the_eventbridge_rule(body, source):
    got, payload, _ = _from_record({"body": json.dumps(body)})
    assert got == source and payload == body
