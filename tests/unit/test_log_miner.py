"""Unit tests for the log template miner (watchkeeper.domain.logs). No timing assertions."""
import io
import json
import sys

import pytest

from watchkeeper.domain.logs import TemplateMiner, cluster_file, parse_line, strip_timestamp, template_text
from watchkeeper.domain.logs.masking import Masker


@pytest.fixture(scope="module")
def typed():
    return Masker(typed=True)


@pytest.mark.parametrize("text, expected", [
    ("instance 17288ea8-cbf4-4f0e-94fe-853fd2735f29 started",
     "instance <UUID> started"),
    ("connect from 10.29.11.190 and 10.0.0.1:8080 ok", "connect from <IP> and <IP> ok"),
    ("mask 0x10 at 0xdeadBEEF", "mask <HEX> at <HEX>"),
    ("request_id=9cf2b46f160b1e7a done", "request_id=<HEX> done"),
    ("took 146.6ms then 4682ms and 1.00 seconds", "took <DURATION> then <DURATION> and <DURATION>"),
    ("wrote 512MB, 1.5 GiB and 18846 bytes (18.4 KB)", "wrote <SIZE>, <SIZE> and <SIZE>"),
    ("open /var/lib/nova/instances/_base/a489 failed", "open <PATH> failed"),
    ("GET /v1/cart/c_82fm4269 HTTP/1.1", "GET <PATH> HTTP/<NUM>"),
    ("retry 3 of 5", "retry <NUM> of <NUM>"),
    ("found block rdd_42_31 locally", "found block <*> locally"),
    ("delete blk_-1608999687919862906", "delete <*>"),
    ("uid=0 euid=0 user=root", "uid=<NUM> euid=<NUM> user=root"),
    ("peer db-1.prod.example.com:5432 down", "peer <HOST> down"),
    ("mac 00:1a:2b:3c:4d:5e up", "mac <MAC> up"),
    ("at Sat Jul  9 12:16:49 2005 ok", "at <DATE> ok"),
])
def test_masking_typed(typed, text, expected):
    assert typed.mask(text) == expected


def test_masking_keeps_names_with_one_trailing_digit(typed):
    # protocol and interface names are part of the message, not values
    assert typed.mask("Failed password for root port 22 ssh2 via eth0 SOCKS5") == \
        "Failed password for root port <NUM> ssh2 via eth0 SOCKS5"


def test_masking_untyped_uses_wildcard_only():
    m = Masker(typed=False)
    assert m.mask("took 12ms from 10.0.0.1 id 17288ea8-cbf4-4f0e-94fe-853fd2735f29") == \
        "took <*> from <*> id <*>"


def test_strip_timestamp():
    assert strip_timestamp("2026-11-29T01:55:14.302Z hello world") == ("2026-11-29T01:55:14.302Z", "hello world")
    assert strip_timestamp("2026-02-11 18:59:38,123 x") == ("2026-02-11 18:59:38,123", "x")
    assert strip_timestamp("hello 2026-11-29T01:55:14Z") == (None, "hello 2026-11-29T01:55:14Z")


def test_parse_json_line():
    p = parse_line('2026-11-29T01:55:14.302Z {"level":"info","ts":1795917314.3,"caller":"m.go:41",'
                   '"msg":"request completed","status":200,"path":"/v1/userinfo"}')
    assert p.kind == "json"
    assert p.timestamp == "2026-11-29T01:55:14.302Z"
    assert p.level == "INFO"
    assert p.message == "request completed"
    assert p.fields["status"] == 200 and p.fields["path"] == "/v1/userinfo"
    assert template_text(p) == "INFO request completed"


def test_parse_json_message_key_and_severity():
    p = parse_line('{"severity":"ERROR","message":"boom"}')
    assert (p.level, p.message, p.timestamp) == ("ERROR", "boom", None)


def test_parse_kv_line():
    p = parse_line('2026-07-30T11:53:36.780Z level=info logger=c.s.catalog.web.AccessLogFilter '
                   'msg="request completed" method=GET path=/v1/products/SKU-88852 status=200')
    assert p.kind == "kv"
    assert p.level == "INFO"
    assert p.message == "request completed"
    assert p.fields["method"] == "GET" and p.fields["status"] == "200"


def test_parse_kv_with_escaped_quote():
    p = parse_line(r'level=error msg="bad \"thing\" happened" code=7')
    assert p.message == 'bad "thing" happened'


def test_parse_plain_line_with_level():
    p = parse_line('2026-07-30T11:50:47.904Z INFO [cart.access] 10.29.11.190 "GET /v1/cart/c_8" 200 146.6ms')
    assert p.kind == "plain"
    assert p.level == "INFO"
    assert p.message.startswith("[cart.access] 10.29.11.190")


def test_parse_zap_console_line():
    p = parse_line('2026-02-11T18:57:18.647Z INFO\tmiddleware/logging.go:41\trequest completed\t'
                   '{"method":"POST","status":200}')
    assert p.level == "INFO"
    assert p.message == "request completed"
    assert p.fields == {"method": "POST", "status": 200, "caller": "middleware/logging.go:41"}


def test_prose_with_equals_is_plain():
    p = parse_line("authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=1.2.3.4")
    assert p.kind == "plain"
    assert p.message.startswith("authentication failure;")


def test_cluster_file_in_order_and_final_templates():
    lines = [
        "Connection from 10.0.0.1 closed after 12ms",
        "Disk /dev/sda1 is 91% full",
        "Connection from 10.0.0.2 closed after 7ms",
        "Connection from 10.0.0.3 closed after 150ms",
        "Disk /dev/sdb2 is 95% full",
    ]
    out = list(cluster_file(lines))
    assert [o["line"] for o in out] == [1, 2, 3, 4, 5]
    assert out[0]["template_id"] == out[2]["template_id"] == out[3]["template_id"]
    assert out[1]["template_id"] == out[4]["template_id"] != out[0]["template_id"]
    # every line carries the FINAL template of its cluster
    assert out[0]["template"] == out[3]["template"] == "Connection from <*> closed after <*>"


def test_cluster_file_reads_path(tmp_path):
    f = tmp_path / "svc.log"
    f.write_text(
        '2026-11-29T01:55:14.302Z {"level":"info","msg":"request completed","status":200}\n'
        '2026-11-29T01:55:15.302Z {"level":"info","msg":"request completed","status":500}\n'
        '2026-11-29T01:55:16.302Z level=error msg="Dropped 15 spans: exporter queue is full"\n'
        '2026-11-29T01:55:17.302Z level=error msg="Dropped 3 spans: exporter queue is full"\n'
    )
    out = list(cluster_file(str(f)))
    assert [o["template"] for o in out] == ["INFO request completed"] * 2 + \
        ["ERROR Dropped <*> spans: exporter queue is full"] * 2
    assert out[0]["template_id"] != out[2]["template_id"]


def test_enum_slot_is_split_but_many_values_are_not():
    lines = []
    for i in range(6):
        lines.append(f"[instance: 17288ea8-cbf4-4f0e-94fe-85{i:010d}] VM Started (Lifecycle Event)")
        lines.append(f"[instance: 17288ea8-cbf4-4f0e-94fe-85{i:010d}] VM Paused (Lifecycle Event)")
    users = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
    lines += [f"session opened for user {u}" for u in users]
    out = list(cluster_file(lines))
    started = {o["template_id"] for o in out[0:12:2]}
    paused = {o["template_id"] for o in out[1:12:2]}
    assert len(started) == 1 and len(paused) == 1 and started != paused
    assert out[0]["template"] == "[instance: <*>] VM Started (Lifecycle Event)"
    assert len({o["template_id"] for o in out[12:]}) == 1
    assert out[12]["template"] == "session opened for user <*>"


def test_add_returns_mined_line_with_params():
    m = TemplateMiner()
    m.add("user alice logged in from 10.0.0.1")
    r = m.add("user bob logged in from 10.0.0.2")
    assert r.template_id.startswith("c")
    assert r.template == "user <*> logged in from <*>"
    assert r.params == ["bob", "10.0.0.2"]


def test_ids_stable_across_state_round_trip():
    m = TemplateMiner()
    first = [m.add(x).template_id for x in (
        "worker 1 started in 12ms", "cache miss for key user:42", "worker 2 started in 30ms")]
    blob = m.state_bytes()
    assert isinstance(blob, bytes)
    m2 = TemplateMiner.from_state(blob)
    again = [m2.add(x).template_id for x in (
        "worker 7 started in 5ms", "cache miss for key user:99", "a brand new message kind")]
    assert again[0] == first[0] and again[1] == first[1]
    assert again[2] not in set(first)
    # the restored miner keeps counting clusters where the original left off
    assert {c["template_id"] for c in m2.clusters()} >= set(first)


def test_final_ids_stable_across_state_round_trip():
    lines = [f"[job {i}] VM {'Started' if i % 2 else 'Paused'} now" for i in range(8)]
    m = TemplateMiner()
    out1 = m.add_all(lines)
    m2 = TemplateMiner.from_state(m.state_bytes())
    out2 = m2.add_all(lines)
    assert out1 == out2


def test_cli_streams_jsonl(tmp_path, monkeypatch):
    from watchkeeper.domain.logs.cli import logs_cluster

    f = tmp_path / "x.log"
    f.write_text("a 1\nb c\na 2\n")
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stdout", buf)
    logs_cluster(str(f), jsonl=True)
    rows = [json.loads(x) for x in buf.getvalue().splitlines()]
    assert [r["line"] for r in rows] == [1, 2, 3]
    assert rows[0]["template_id"] == rows[2]["template_id"] != rows[1]["template_id"]
    assert rows[0]["template"] == "a <*>"


def test_miner_package_does_not_import_heavy_deps():
    import subprocess

    code = ("import sys, watchkeeper.domain.logs.cli as c; c.TemplateMiner(); "
            "bad=[m for m in ('boto3','pydantic','rich','typer') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
