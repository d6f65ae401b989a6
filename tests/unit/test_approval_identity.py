"""Who is who across channels, for the four-eyes rule: exact identities, never likeness."""
from __future__ import annotations

from watchkeeper.approvals import identities, made_the_change

PEOPLE = (("alice@example.com", "U0ALICE", "arn:aws:iam::111122223333:user/alice"),)


def test_a_role_session_named_after_the_person_is_the_person():
    assert made_the_change("arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0a1b/Alice@Example.com",
                           "alice@example.com")


def test_people_link_a_slack_id_to_the_email_that_made_the_change():
    assert made_the_change("U0ALICE", "alice@example.com", PEOPLE)
    assert made_the_change("alice", "U0ALICE", PEOPLE)           # an IAM user name from CloudTrail
    assert not made_the_change("U0ALICE", "alice@example.com")     # not linked: not known to be her


def test_likeness_is_not_identity_and_an_unknown_author_matches_nobody():
    assert not made_the_change("alice@example.org", "alice@example.com", PEOPLE)
    assert not made_the_change("arn:aws:iam::111122223333:user/alice2", "alice", PEOPLE)
    assert not made_the_change("alice@example.com", None, PEOPLE)
    assert not made_the_change("", "alice@example.com", PEOPLE)
    assert identities("bob@example.com", PEOPLE) == {"bob@example.com"}


def test_the_note_people_read_is_redacted_but_the_check_keeps_the_author():
    from datetime import datetime, timezone

    from watchkeeper.domain.approval_summary import approval_summary

    rule = {"change": "ssm-limits-7", "service": "ledger", "author": "dev@example.com"}
    s = approval_summary(incident={"id": "i"}, root_cause={}, plan={}, evidence=[], proposed=[],
                         expires_at=datetime(2026, 1, 1, tzinfo=timezone.utc), four_eyes=rule)
    assert s["four_eyes"]["author"] == "dev@example.com" and "dev@example.com" not in s["four_eyes"]["note"]
    kept = approval_summary(incident={"id": "i"}, root_cause={}, plan={}, evidence=[], proposed=[],
                            expires_at=datetime(2026, 1, 1, tzinfo=timezone.utc), four_eyes=rule,
                            keep=("dev@example.com",))
    assert kept["four_eyes"]["note"].startswith("dev@example.com made ssm-limits-7")
