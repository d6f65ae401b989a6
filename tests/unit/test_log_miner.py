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

    code = ("import sys, watchkeeper.domain.logs.cli as c; c.TemplateMiner().add_all(['a 1', 'b 2']); "
            "bad=[m for m in ('boto3','pydantic','rich','typer','drain3','jsonpickle','logging') "
            "if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- the digit-shape fast path ---------------------------------------------------------------
def _reference_masked(line: str) -> str:
    """What the miner masks a line to, computed the slow way: parse, then every masking rule."""
    return Masker(typed=False).mask(template_text(parse_line(line.rstrip("\r\n"))))


SHAPE_LINES = [
    "Failed password for root from 10.0.0.1 port 22 ssh2",
    "Failed password for root from 172.16.4.99 port 60122 ssh3",   # the kept digit differs: a new text
    "Failed password for root from 192.168.1.7 port 4022 ssh2",
    "mask 0x10 at 0xdeadBEEF",
    "mask 5x10 at 7xdeadBEEF",                  # same digit shape as a hex literal, but not one
    "retry 2x then 0x1f",
    "interface en0 up after 12ms", "interface en1 up after 3ms", "interface en7 up after 999ms",
    "IO80211Interface::postMessage bssid 12 changed",
    "IO90211Interface::postMessage bssid 45 changed",
    "2026-11-29T01:55:14.302Z level=30 msg=\"served 12 rows\"",
    "2026-11-29T01:55:15.302Z level=50 msg=\"served 99 rows\"",
    '2026-11-29T01:55:14.302Z {"level":30,"msg":"done in 5ms","n":1e400}',
    '2026-11-29T01:55:14.302Z {"level":50,"msg":"done in 7ms","n":0.1234567890123456789}',
    '{"msg":"caf\\u00e9 12"}', '{"msg":"caf\\u00f9 13"}',
    'level=error msg="bad \\"thing 7\\" happened" code=7',
    "node-17 wrote 1.5 GiB to /var/lib/x9/data in 4h2m3s",
    "node-28 wrote 2.5 GiB to /var/lib/x1/data in 1h9m8s",
    "block blk_-1608999687919862906 of 3 replicas",
    "AppleThunderboltNHIType2::waitForOk2Go2Sx - retries = 3",
    "AppleThunderboltNHIType9::waitForOk2Go2Sx - retries = 7",
    "Échec: mot de passe refusé pour josé depuis 10.0.0.1 port 22 ssh2",     # multi-byte characters before kept digits
    "Échec: mot de passe refusé pour josé depuis 10.9.8.7 port 2222 ssh2",
]


@pytest.mark.parametrize("as_bytes", [False, True])
def test_digit_shape_cache_masks_every_line_as_the_slow_path_does(as_bytes):
    """Lines that differ only in their digits share a cache entry; the result must be exactly what
    masking each line on its own gives, including digits a template keeps (ssh2, en0) and hex literals."""
    lines = SHAPE_LINES * 2 + [x.replace("1", "4").replace("2", "8") for x in SHAPE_LINES]
    feed = [x.encode() + b"\n" for x in lines] if as_bytes else [x + "\n" for x in lines]
    m = TemplateMiner()
    assert m._mine_all(feed) == [_reference_masked(x) for x in lines]


def test_renumbered_copies_land_in_the_same_templates_as_the_original():
    import random
    import re

    rng = random.Random(3)
    base = SHAPE_LINES[:11] + SHAPE_LINES[18:]
    renumbered = [re.sub(r"\d+", lambda mm: str(rng.randrange(10 ** (len(mm.group()) - 1), 10 ** len(mm.group()))), x)
                  for x in base]
    m = TemplateMiner()
    out = m.add_all([x.encode() for x in base + renumbered])
    # every renumbered line is grouped with an original line of the same masked text
    for x, y, (t1, _), (t2, _) in zip(base, renumbered, out[:len(base)], out[len(base):]):
        if _reference_masked(x) == _reference_masked(y):
            assert t1 == t2, (x, y)


def test_cli_reads_bytes_and_counts_lines_by_newline_only(tmp_path, monkeypatch):
    from watchkeeper.domain.logs.cli import logs_cluster

    f = tmp_path / "x.log"
    f.write_bytes(b"a 1\r\nb\rc\nbad \xff byte 2\na 2\n")
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stdout", buf)
    logs_cluster(str(f), jsonl=True)
    rows = [json.loads(x) for x in buf.getvalue().splitlines()]
    assert [r["line"] for r in rows] == [1, 2, 3, 4]
    assert rows[0]["template_id"] == rows[3]["template_id"] and rows[0]["template"] == "a <*>"
    assert "\ufffd" in rows[2]["template"]


# --- Drain, our own port ------------------------------------------------------------------------------
def _corpus(n=600, seed=5):
    import random

    rng = random.Random(seed)
    verbs = ["opened", "closed", "failed", "retried", "dropped"]
    words = [f"w{i}x" for i in range(150)]       # more first tokens than a node may hold children
    out = []
    for _ in range(n):
        k = rng.randint(1, 7)
        toks = [rng.choice(words) if rng.random() < 0.5 else rng.choice(verbs) for _ in range(k)]
        if rng.random() < 0.3:
            toks.insert(rng.randrange(len(toks) + 1), "<*>")
        if rng.random() < 0.1:
            toks[0] = f"n{rng.randint(0, 9)}"      # a first token with a digit goes to the wildcard child
        out.append(" ".join(toks) if rng.random() > 0.01 else "")
    return out


def test_drain_port_matches_drain3_cluster_for_cluster():
    from drain3.drain import Drain as Drain3

    from watchkeeper.domain.logs.drain import Drain

    class Reference(Drain3):        # drain3 with the miner's one change to the similarity
        get_seq_distance = Drain.get_seq_distance

    for sim_th, depth, max_children in [(0.7, 4, 100), (0.4, 4, 20), (0.5, 5, 8)]:
        ours, theirs = Drain(depth, sim_th, max_children), Reference(depth=depth, sim_th=sim_th,
                                                                    max_children=max_children)
        for line in _corpus():
            a, b = ours.add_log_message(line), theirs.add_log_message(line)
            assert (a[0].cluster_id, a[0].log_template_tokens, a[1]) == (b[0].cluster_id, b[0].log_template_tokens, b[1])
        assert {c.cluster_id: c.size for c in ours.clusters} == {c.cluster_id: c.size for c in theirs.clusters}
        # the state round-trips, and a drain3 object converts to the same tree
        for copy in (Drain.from_dict(json.loads(json.dumps(ours.to_dict()))), Drain.from_drain3(theirs)):
            assert copy.to_dict() == ours.to_dict()


def test_miner_state_of_the_first_format_still_loads():
    """States saved before the miner had its own Drain (drain3 pickled by jsonpickle) keep their ids."""
    from pathlib import Path

    blob = (Path(__file__).parent / "data" / "miner_state_v1.bin").read_bytes()
    m = TemplateMiner.from_state(blob)
    assert m.add("worker 9 started in 1ms").template_id == "c1"
    assert m.add("session opened for user carol").template_id == "c5"
    assert m.add_all(["VM Started now", "VM Paused now"]) == [("c3", "VM Started now"), ("c4", "VM Paused now")]
    assert m.add("something never seen before").template_id == "c6"
    again = TemplateMiner.from_state(m.state_bytes())
    assert again.add("cache miss for key user:7").template_id == "c2"


def test_parse_pino_numeric_levels():
    assert parse_line('{"level":50,"time":1700000000000,"msg":"upstream failed"}').level == "ERROR"
    assert parse_line('{"level":30,"time":1700000000000,"msg":"ok"}').level == "INFO"
    assert parse_line('{"level":40,"msg":"slow"}').level == "WARN"
    assert parse_line("level=50 msg=x").level == "50"      # text: a number is not read as a level


@pytest.mark.parametrize("line, status", [
    ('10.1.1.1 - - [21/Mar/2026:02:14:00 +0000] "POST /signin HTTP/1.1" 401 512 "-" "curl/8"', 401),
    ('{"level":30,"msg":"request completed","res":{"statusCode":403}}', 403),
    ('lvl=info msg="handled request" method=GET route=/x code=503 took=3ms', 503),
    ("2026-01-01 10:00:00.123  INFO 1 --- [exec-1] o.a.c.c.AccessLog : GET /claims/x -> 500 in 12 ms", 500),
    ('{"severity":"INFO","message":"request finished","status_code":200}', 200),
    ("order 401 shipped to 10.0.0.1", None),
])
def test_http_status_of_access_log_lines(line, status):
    from watchkeeper.domain.logs.parse import http_status

    assert http_status(parse_line(line)) == status


def test_serilog_compact_json_is_read_as_its_rendered_template_level_and_exception():
    """CLEF: "@mt" with its {Properties} as top-level keys, "@l" absent for Information, "@x" the exception."""
    from watchkeeper.domain.logs.parse import http_status
    info = parse_line('{"@t":"2026-10-02T19:20:00.1234560Z","@mt":"HTTP {RequestMethod} {RequestPath} responded '
                      '{StatusCode} in {Elapsed:0.0000} ms","RequestMethod":"GET","RequestPath":"/v2/orders/7",'
                      '"StatusCode":401,"Elapsed":3.25,"SourceContext":"Serilog.AspNetCore.RequestLoggingMiddleware"}')
    assert (info.level, info.message, http_status(info)) == ("INFO", "HTTP GET /v2/orders/7 responded 401 in 3.25 ms", 401)
    assert info.timestamp == "2026-10-02T19:20:00.1234560Z"
    err = parse_line(json.dumps({"@t": "2026-10-02T19:20:00Z", "@mt": "Failed executing DbCommand ({Elapsed}ms)",
                                 "@l": "Error", "Elapsed": 3,
                                 "@x": "Npgsql.PostgresException (0x80004005): 53300: sorry, too many clients already\n"
                                       "   at Npgsql.Internal.NpgsqlConnector.ReadMessageLong()"}))
    assert err.level == "ERROR"
    assert err.message == "Failed executing DbCommand (3ms) | Npgsql.PostgresException (0x80004005): 53300: sorry, too many clients already"


def test_a_status_field_is_found_whatever_its_case():
    from watchkeeper.domain.logs.parse import http_status
    assert http_status(parse_line('{"level":"info","msg":"done","StatusCode":"403"}')) == 403
