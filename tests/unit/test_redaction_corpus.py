"""The one redaction pass: a corpus of what real log lines leak, and what must stay readable.

Every case named in issue 11 is here. A case is (text, secrets that must be gone, words that
must survive): the test fails on a leak and on over-redaction alike.
"""
from __future__ import annotations

import pytest

from watchkeeper.domain.redact import redact, redact_value

CORPUS = [
    # env-style and config keys
    ("DB_PASSWORD=hunter2-prod boot ok", ["hunter2-prod"], ["DB_PASSWORD=", "boot ok"]),
    ("export secret_key=Zm9vYmFyYmF6 region=us-east-1", ["Zm9vYmFyYmF6"], ["secret_key=", "region=us-east-1"]),
    ("client_secret_v2: 'abc.def.ghi' app=web", ["abc.def.ghi"], ["client_secret_v2", "app=web"]),
    ("password=hunter2 user=app", ["hunter2"], ["user=app"]),
    # JSON, plain and escaped inside a log line
    ('{"password": "s3cr3t!", "user": "app"}', ["s3cr3t!"], ['"user": "app"']),
    ('msg="{\\"db_password\\":\\"p@ss w0rd\\",\\"host\\":\\"db1\\"}"', ["p@ss w0rd"], ['\\"host\\":\\"db1\\"']),
    ('{\\"password\\":\\"hunter2\\"}', ["hunter2"], ["password"]),
    # URLs with credentials
    ("redis://:pw-Secret9@cache.internal:6379/0", ["pw-Secret9"], ["cache.internal:6379"]),
    ("postgres://app:pa55w0rd@db.internal:5432/shop", ["pa55w0rd", "app:"], ["db.internal:5432/shop"]),
    ("amqp://guest:guest@mq:5672", ["guest:guest"], ["mq:5672"]),
    # presigned URLs
    ("GET https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F2024"
     "&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEJr%2F%2F%2FFAKE&X-Amz-Signature=0f1e2d3c4b5a69788796a5b4c3d2e1f0 200",
     ["IQoJb3JpZ2luX2VjEJr", "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "AKIAIOSFODNN7EXAMPLE"], ["X-Amz-Algorithm=AWS4-HMAC-SHA256", " 200"]),
    # cookies
    ("Cookie: session=9f8e7d6c5b4a; csrftoken=abcdef123456", ["9f8e7d6c5b4a", "abcdef123456"], ["Cookie:"]),
    ("Set-Cookie: sid=s%3AabcDEF123.xyz; Path=/; HttpOnly", ["abcDEF123"], ["Set-Cookie:"]),
    ('{"cookie": "JSESSIONID=ABC123DEF456"}', ["ABC123DEF456"], ['"cookie"']),
    # vendor tokens
    ("stripe key sk_live_4eC39HqLyjWDarjtT1zdp7dc charged", ["sk_live_4eC39HqLyjWDarjtT1zdp7dc"], ["charged"]),
    ("rk_test_51H8abcdEFGHijklMNOP used", ["rk_test_51H8abcdEFGHijklMNOP"], ["used"]),
    ("maps AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY failed", ["AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"], ["maps", "failed"]),
    ("npm_abcdefghijklmnopqrstuvwxyz0123456789 publish", ["npm_abcdefghijklmnopqrstuvwxyz0123456789"], ["publish"]),
    ("ghp_abcdefghijklmnopqrstuvwxyz0123456789 push", ["ghp_abcdefghijklmnopqrstuvwxyz0123456789"], ["push"]),
    ("xoxb-123456789012-abcdefABCDEF posted", ["xoxb-123456789012-abcdefABCDEF"], ["posted"]),
    ("notify https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX ok",
     ["T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"], ["notify", " ok"]),
    # keys and blocks
    ("-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF0aaaa\n=abcd\n-----END PGP PRIVATE KEY BLOCK----- done",
     ["lQOYBF0aaaa", "=abcd"], ["done"]),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----", ["MIIEowIBAAKCAQEA"], []),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA (truncated at 240", ["b3BlbnNzaC1rZXktdjEAAAA"], []),
    ("Authorization: Bearer abcdef0123456789xyz", ["abcdef0123456789xyz"], ["Authorization"]),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ["wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"], []),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
     ["dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"], ["jwt"]),
    # personal data
    ("refund for jane.doe@example.com from 203.0.113.7 card 4111 1111 1111 1111 tel +1 415 555 0100",
     ["jane.doe@example.com", "203.0.113.7", "4111 1111 1111 1111", "415 555 0100"], ["refund for", "card", "tel"]),
]

READABLE = [
    "sha 9f2c1e7a3b4c5d6e7f8091a2b3c4d5e6f7a8b9c0 of checkout-api",
    "arn:aws:lambda:us-east-1:123456789012:function:payments-api",
    "2024-06-01T10:00:00Z GET /api/v1/orders 503 in 120ms, invalid token, version 1.2.3",
    "deploy storefront-bff rev 356 -> 357 by vik 4 min before onset",
    "java.lang.OutOfMemoryError: Java heap space at PaymentMapper.map(PaymentMapper.java:88)",
    "PATCH /apis/apps/v1/namespaces/shop/deployments/storefront-bff?dryRun=All",
    "AWS/ApplicationELB HTTPCode_Target_5XX_Count p99 latency 2300 ms",
    "token bucket refill rate 50/s",
]


@pytest.mark.parametrize("text,gone,kept", CORPUS, ids=[c[0][:40] for c in CORPUS])
def test_each_leak_in_the_corpus_is_masked_and_the_context_stays(text, gone, kept):
    out = redact(text)
    for secret in gone:
        assert secret not in out, f"{secret!r} leaked: {out!r}"
    for word in kept:
        assert word in out, f"{word!r} was over-redacted: {out!r}"


@pytest.mark.parametrize("text", READABLE)
def test_what_a_responder_needs_stays_readable(text):
    assert redact(text) == text


def test_redaction_is_idempotent_and_reaches_nested_documents():
    doc = {"evidence": [{"detail": "DB_PASSWORD=x1 at 10.0.0.1"}], "n": 3, "title": None}
    once = redact_value(doc)
    assert once == redact_value(once)
    assert once["evidence"][0]["detail"] == "DB_PASSWORD=<REDACTED> at <IP>" and once["n"] == 3


def test_a_240_character_sample_cut_inside_a_secret_still_masks_it():
    line = ("x" * 200) + " password=hunter2-but-cu"
    assert "hunter2" not in redact(line[:240])
