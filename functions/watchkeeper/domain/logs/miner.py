"""Log template miner: Drain (:mod:`.drain`) behind generic masking, memoisation and template merging.

``TemplateMiner.add(message)`` masks the message (:mod:`.masking`), then feeds the masked
text to the Drain prefix tree. Two caches make the hot path cheap, and both are pure memoisation of
deterministic steps, so they do not change results for a given state:

* raw message -> masked text (the masking function is pure),
* masked text -> cluster id: identical masked text always lands in the same cluster.
  (Plain Drain can send a repeat of a line to a *new* cluster once its first cluster's
  template has grown wildcards, because Drain does not count wildcard positions as
  similar. Pinning repeats to their first cluster is what a log reader expects.)

A third cache makes lines that differ only in their numbers cheap: the *digit shape*
of a line (every ASCII digit read as the same digit) keys its masked text. Masking and
parsing look at where digits are, never at which digits they are (the one exception,
the ``0x`` of a hex literal, keeps its zeros in the key), so two lines with one shape
mask alike whenever the masked text kept no digit of its own; only then is the shape
remembered. Lines whose parsing could depend on digit values (JSON, escapes) are keyed
by their exact text instead. Production logs rarely repeat a line verbatim, but they
repeat its shape all the time (timestamps, ids, latencies), so this is the hot path.

Template ids are ``c<Drain cluster id>``: cluster ids never change, so ids survive
``state_bytes()`` / ``from_state()``. When two Drain clusters end up with the same
template (Drain routes by the first tokens before they are generalised, so this
happens), they are merged under the smaller id; the alias map is part of the state.
"""
from __future__ import annotations

import json
import zlib
from collections import Counter
from dataclasses import dataclass, field
from itertools import chain
from typing import Iterable, Iterator

from .drain import Drain
from .masking import WILDCARD, Masker
from .parse import http_status, parse_line, template_text

__all__ = ["MinedLine", "TemplateMiner", "cluster_file", "cluster_lines", "DEFAULTS"]

# One configuration for every data set.
DEFAULTS = {
    "sim_th": 0.7,
    "depth": 4,
    "max_children": 100,
    "extra_delimiters": (),
    "typed": False,
}
_CACHE_MAX = 200_000     # entries per memo table before it is reset (bounds memory)
# the digit shape of a text: every ASCII digit as "5"; with "0" kept where a digit precedes an "x" (hex literal)
_SHAPE = str.maketrans("0123456789", "5555555555")
_SHAPE_KEEP0 = str.maketrans("123456789", "555555555")
_SHAPE_B = bytes.maketrans(b"0123456789", b"5555555555")
_SHAPE_KEEP0_B = bytes.maketrans(b"123456789", b"555555555")
_HAS_DIGIT = None


def _shape(text: str) -> str:
    key = text.translate(_SHAPE)
    if "5x" in key or "5X" in key:
        return text.translate(_SHAPE_KEEP0)
    return key


_DROP_DIGITS = str.maketrans("", "", "0123456789")


class _Holes:
    """The masked text of a digit shape that keeps some of the line's own digits, and where they come from."""

    __slots__ = ("text", "pairs")

    def __init__(self, text: str, pairs: tuple[tuple[int, int], ...]):
        self.text, self.pairs = text, pairs     # (position in the masked text, position in the line)

    def fill(self, line: "str | bytes") -> str:
        if type(line) is bytes:
            line = line.decode("utf-8", "replace")
        chars = list(self.text)
        for out, src in self.pairs:
            chars[out] = line[src]
        return "".join(chars)


def _digit_free(text: str) -> bool:
    global _HAS_DIGIT
    if _HAS_DIGIT is None:
        import re
        _HAS_DIGIT = re.compile(r"\d").search
    return _HAS_DIGIT(text) is None
ENUM_MAX = 4  # at most this many distinct words in a slot make it an enum slot
ENUM_MIN_COUNT = 2  # ... each seen on at least this many lines
_WORD_RE = None


def _is_word(v: str) -> bool:
    global _WORD_RE
    if _WORD_RE is None:
        import re
        _WORD_RE = re.compile(r"[\"'(\[]*(?:[\w.-]+=)?[A-Za-z][A-Za-z_-]*\d?[)\]\"',.:;]*")
    return _WORD_RE.fullmatch(v) is not None


_STATE_VERSION = 2    # 1: drain3's object pickled by jsonpickle; 2: plain JSON


@dataclass(frozen=True)
class MinedLine:
    """Result of adding one line. ``template`` is the cluster's template *now*; it can
    still generalise as more lines arrive (see :meth:`TemplateMiner.template`)."""

    template_id: str
    template: str
    params: list[str] = field(default_factory=list)
    masked: str = ""
    level: str | None = None
    status: int | None = None     # the HTTP status of an access-log line, when it has one


def _collapse(tokens: Iterable[str]) -> str:
    """Template text with runs of adjacent wildcards/placeholders kept as they are."""
    return " ".join(tokens)


def _legacy_drain_class():
    """The drain3 subclass the first state format was pickled with (jsonpickle looks it up by this name)."""
    if "WildcardAwareDrain" not in globals():
        from drain3.drain import Drain as Drain3

        class WildcardAwareDrain(Drain3):
            get_seq_distance = Drain.get_seq_distance

        WildcardAwareDrain.__module__ = __name__
        WildcardAwareDrain.__qualname__ = "WildcardAwareDrain"
        globals()["WildcardAwareDrain"] = WildcardAwareDrain
    return globals()["WildcardAwareDrain"]


class TemplateMiner:
    """Stateful miner for one log stream (e.g. one service)."""

    def __init__(self, sim_th: float | None = None, depth: int | None = None,
                 max_children: int | None = None, parse: bool = True, typed: bool | None = None):
        self._drain = Drain(depth=DEFAULTS["depth"] if depth is None else depth,
                            sim_th=DEFAULTS["sim_th"] if sim_th is None else sim_th,
                            max_children=DEFAULTS["max_children"] if max_children is None else max_children,
                            param_str=WILDCARD, parametrize_numeric_tokens=True)
        self._masker = Masker(typed=DEFAULTS["typed"] if typed is None else typed)
        self._parse = parse
        self._mask_memo: dict[str, str] = {}   # exact text -> masked, when its shape cannot key it
        self._shape_memo: dict[str, str] = {}  # digit shape of a text -> masked
        self._cluster_memo: dict[str, int] = {}
        self._alias: dict[int, int] = {}  # merged cluster id -> canonical id
        self._counts: dict[str, int] = {}  # masked text -> lines seen (for enum splits)
        self._sub: dict[str, int] = {}  # "cid|enum values" -> sub-template number
        self._final: dict[str, tuple[str, str]] | None = None

    # ------------------------------------------------------------------ mining
    def _text(self, line: str) -> tuple[str, str | None]:
        if not self._parse:
            return line, None
        p = parse_line(line)
        return template_text(p), p.level

    def _masked_line(self, line: str) -> tuple[str, "str | _Holes | None"]:
        """The masked text of a raw line, and what every line of its digit shape masks to: that same
        text, a text with holes for the digits it keeps, or None (parsing may read its digits as values:
        JSON, escapes; such lines are remembered by their exact text)."""
        masked = self._pipeline(line)
        if "{" in line or "\\" in line:
            return masked, None
        if _digit_free(masked):
            return masked, masked
        return masked, self._holes(line, masked)

    def _pipeline(self, line: str) -> str:
        text = line.rstrip("\r\n")
        if self._parse:
            text = template_text(parse_line(text))
        return self.mask(text)

    def _holes(self, line: str, masked: str) -> "_Holes | None":
        """Which digits of ``line`` survive into ``masked`` (``ssh2``, ``eth0``), found by masking copies of
        the line whose digits are relabelled by their index (masking reads only where digits are)."""
        if "5x" in line.translate(_SHAPE) or "5X" in line.translate(_SHAPE):
            return None     # a hex literal's zero is the one digit value masking reads
        digits = [i for i, c in enumerate(line) if "0" <= c <= "9"]
        outs = [o for o, c in enumerate(masked) if "0" <= c <= "9"]
        if not digits or not outs:
            return None
        index = [0] * len(outs)
        scale = 1
        while True:
            chars = list(line)
            for k, pos in enumerate(digits):
                chars[pos] = "0123456789"[(k // scale) % 10]
            text = "".join(chars).rstrip("\r\n")
            probe = self._masker.mask(template_text(parse_line(text)) if self._parse else text)
            if len(probe) != len(masked) or probe.translate(_DROP_DIGITS) != masked.translate(_DROP_DIGITS):
                return None
            for q, o in enumerate(outs):
                c = probe[o]
                if not "0" <= c <= "9":
                    return None
                index[q] += int(c) * scale
            scale *= 10
            if scale >= len(digits):
                break
        pairs = []
        for o, k in zip(outs, index):
            if k >= len(digits) or line[digits[k]] != masked[o]:
                return None
            pairs.append((o, digits[k]))
        return _Holes(masked, tuple(pairs))

    def add_all(self, lines: Iterable[str] | Iterable[bytes]) -> list[tuple[str, str]]:
        """Mine all ``lines`` (str, or UTF-8 bytes as read from a binary file: the fastest);
        return ``(template_id, final template)`` per line, in order."""
        seq = self._mine_all(lines)
        final = self.finalize()
        out = []
        for masked in seq:
            r = final.get(masked)
            if r is None:  # beyond the memo caps: plain cluster, no enum split
                cid = self._cluster_of(masked)
                r = (f"c{self._alias.get(cid, cid)}", self.template_of(cid))
            out.append(r)
        return out

    def _mine_all(self, lines: Iterable[str] | Iterable[bytes]) -> list[str]:
        """The hot loop: the masked text of every line; then each distinct masked text is counted into
        its cluster, in order of first appearance (only a text not seen before can change the tree)."""
        by_shape: dict = {}   # digit shape of a raw line -> masked text (or a _Holes)
        by_line: dict = {}    # raw line -> masked text, for lines their shape cannot key
        seq: list[str] = []
        append = seq.append
        it = iter(lines)
        first = next(it, None)
        if first is None:
            return seq
        if isinstance(first, bytes):
            plain, keep0, x1, x2 = _SHAPE_B, _SHAPE_KEEP0_B, b"5x", b"5X"
        else:
            plain, keep0, x1, x2 = _SHAPE, _SHAPE_KEEP0, "5x", "5X"
        for line in chain((first,), it):
            key = line.translate(plain)
            if x1 in key or x2 in key:
                key = line.translate(keep0)
            masked = by_shape.get(key)
            if masked is None:
                masked = by_line.get(line)
                if masked is None:
                    masked, shaped = self._masked_line(
                        line.decode("utf-8", "replace") if type(line) is bytes else line)
                    memo, k, v = (by_shape, key, shaped) if shaped is not None else (by_line, line, masked)
                    if len(memo) >= _CACHE_MAX:
                        memo.clear()
                    memo[k] = v
            elif type(masked) is _Holes:
                masked = masked.fill(line)
            append(masked)
        add = self._add_masked
        for masked, n in Counter(seq).items():
            add(masked, n)
        return seq

    def mask(self, text: str) -> str:
        key = _shape(text)
        m = self._shape_memo.get(key)
        if m is not None:
            return m
        m = self._mask_memo.get(text)
        if m is None:
            m = self._masker.mask(text)
            memo, k = (self._shape_memo, key) if _digit_free(m) else (self._mask_memo, text)
            if len(memo) >= _CACHE_MAX:
                memo.clear()
            memo[k] = m
        return m

    def _add_masked(self, masked: str, n: int = 1) -> int:
        """Count ``n`` lines of one masked text; return its raw Drain cluster id."""
        counts = self._counts
        cid = self._cluster_memo.get(masked)
        if cid is not None:
            self._drain.id_to_cluster[cid].size += n
            if masked in counts:
                counts[masked] += n
            return cid
        self._final = None
        if masked in counts:
            counts[masked] += n
        elif len(counts) < _CACHE_MAX:
            counts[masked] = n
        cluster, _ = self._drain.add_log_message(masked)
        cluster.size += n - 1
        cid = cluster.cluster_id
        if len(self._cluster_memo) >= _CACHE_MAX:
            self._cluster_memo.clear()
        self._cluster_memo[masked] = cid
        return cid

    def _cluster_of(self, masked: str) -> int:
        cid = self._cluster_memo.get(masked)
        if cid is not None:
            return cid
        found = self._drain.tree_search(self._drain.root_node, masked.split(), self._drain.sim_th, False)
        return found.cluster_id if found is not None else self._add_masked(masked)

    def add_cluster_id(self, text: str) -> int:
        """Add already-parsed message text, return the raw Drain cluster id."""
        return self._add_masked(self.mask(text))

    def add(self, line: str) -> MinedLine:
        """Add one raw log line (timestamp/level/JSON/kv are parsed off first)."""
        if self._parse:
            p = parse_line(line)
            text, level, status = template_text(p), p.level, http_status(p)
        else:
            text, level, status = line, None, None
        masked = self.mask(text)
        cid = self._add_masked(masked)
        cid = self._alias.get(cid, cid)
        template = self.template_of(cid)
        return MinedLine(template_id=f"c{cid}", template=template,
                         params=self.extract_params(template, text), masked=masked, level=level, status=status)

    # --------------------------------------------------------------- templates
    def template_of(self, cid: int) -> str:
        cid = self._alias.get(cid, cid)
        return _collapse(self._drain.id_to_cluster[cid].log_template_tokens)

    def template(self, template_id: str) -> str:
        return self.template_of(int(template_id.lstrip("c")))

    def canonical_id(self, cid: int) -> int:
        return self._alias.get(cid, cid)

    def extract_params(self, template: str, text: str) -> list[str]:
        """Values of ``text`` at the template's placeholder positions (token-aligned)."""
        t_toks = template.split()
        m_toks = text.split()
        if len(t_toks) != len(m_toks):
            return []
        return [v for t, v in zip(t_toks, m_toks) if t != v and "<" in t]

    def merge_identical(self) -> dict[int, int]:
        """Merge clusters whose templates are identical (keep the smallest id).
        Returns the full alias map. Idempotent; call before reading final templates."""
        by_template: dict[tuple, int] = {}
        for c in sorted(self._drain.id_to_cluster.values(), key=lambda c: c.cluster_id):
            cid = c.cluster_id
            if cid in self._alias:
                continue
            key = c.log_template_tokens
            first = by_template.get(key)
            if first is None:
                by_template[key] = cid
            else:
                self._alias[cid] = first
        # flatten chains
        for k, v in list(self._alias.items()):
            while v in self._alias:
                v = self._alias[v]
            self._alias[k] = v
        return self._alias

    def finalize(self) -> dict[str, tuple[str, str]]:
        """Merge identical templates, then split clusters on *enum slots*, and return
        ``masked text -> (template_id, template)`` for every masked text seen.

        An enum slot is a wildcard position whose values, over the cluster's lines, are
        a handful (2..ENUM_MAX) of plain words that each recur (``VM Started`` /
        ``VM Paused``, ``"GET`` / ``"POST``, ``Powered On`` / ``Off``): Drain merges
        those because one word in a sentence differs, but they are different events.
        Slots with many distinct words (user names, host names) stay wildcards.
        Sub-template ids are ``c<cluster>.<n>``; ``n`` is remembered in the state."""
        if self._final is not None:
            return self._final
        alias = self.merge_identical()
        by_cluster: dict[int, list[str]] = {}
        memo = self._cluster_memo
        for masked in self._counts:
            cid = memo.get(masked)
            if cid is None:
                continue
            by_cluster.setdefault(alias.get(cid, cid), []).append(masked)
        final: dict[str, tuple[str, str]] = {}
        counts = self._counts
        for cid, texts in by_cluster.items():
            tmpl = self._drain.id_to_cluster[cid].log_template_tokens
            toks = {t: t.split() for t in texts}
            slots = []
            if len(texts) > 1:
                for i, tt in enumerate(tmpl):
                    if tt != WILDCARD:
                        continue
                    vals: dict[str, int] = {}
                    for t, tk in toks.items():
                        if len(tk) != len(tmpl):
                            vals = {}
                            break
                        v = tk[i]
                        vals[v] = vals.get(v, 0) + counts[t]
                        if len(vals) > ENUM_MAX:
                            break
                    if 2 <= len(vals) <= ENUM_MAX and all(
                            n >= ENUM_MIN_COUNT and _is_word(v) for v, n in vals.items()):
                        slots.append(i)
            base_tmpl = " ".join(tmpl)
            for t, tk in toks.items():
                if not slots:
                    final[t] = (f"c{cid}", base_tmpl)
                    continue
                key = f"{cid}|" + " ".join(tk[i] for i in slots)
                n = self._sub.get(key)
                if n is None:
                    n = self._sub[key] = sum(1 for k in self._sub if k.startswith(f"{cid}|")) + 1
                out = list(tmpl)
                for i in slots:
                    out[i] = tk[i]
                final[t] = (f"c{cid}.{n}", " ".join(out))
        self._final = final
        return final

    def clusters(self) -> list[dict]:
        """Current templates: id, template and line count, most frequent first."""
        self.merge_identical()
        out: dict[int, dict] = {}
        for c in self._drain.id_to_cluster.values():
            cid = self._alias.get(c.cluster_id, c.cluster_id)
            d = out.setdefault(cid, {"template_id": f"c{cid}", "template": self.template_of(cid), "count": 0})
            d["count"] += c.size
        return sorted(out.values(), key=lambda d: -d["count"])

    # ------------------------------------------------------------- persistence
    def state_bytes(self) -> bytes:
        """Serialise the miner (prefix tree, clusters, aliases, memos) to compressed JSON."""
        doc = {"v": _STATE_VERSION, "drain": self._drain.to_dict(),
               "alias": {str(k): v for k, v in self._alias.items()},
               "memo": self._cluster_memo, "counts": self._counts, "sub": self._sub}
        return zlib.compress(json.dumps(doc, separators=(",", ":")).encode("utf-8"))

    @classmethod
    def from_state(cls, data: bytes, **kwargs) -> "TemplateMiner":
        doc = json.loads(zlib.decompress(data).decode("utf-8"))
        m = cls(**kwargs)
        if doc.get("v") == 2:
            m._drain = Drain.from_dict(doc["drain"])
        elif doc.get("v") == 1:     # written before the miner had its own Drain: drain3 + jsonpickle
            import jsonpickle

            _legacy_drain_class()
            m._drain = Drain.from_drain3(jsonpickle.loads(doc["drain"], keys=True))
        else:
            raise ValueError(f"unsupported miner state version {doc.get('v')!r}")
        m._alias = {int(k): int(v) for k, v in doc["alias"].items()}
        m._cluster_memo = {k: int(v) for k, v in doc["memo"].items()}
        m._counts = {k: int(v) for k, v in doc["counts"].items()}
        m._sub = {k: int(v) for k, v in doc["sub"].items()}
        return m


def cluster_lines(lines: Iterable[str], miner: TemplateMiner | None = None) -> Iterator[dict]:
    """Mine ``lines`` and yield, in input order, ``{"line": n, "template_id", "template"}``
    where ``template`` is the FINAL template of the line's cluster (all lines are mined
    first; ids are assigned as they arrive). ``n`` is 1-based."""
    m = miner or TemplateMiner()
    for n, (tid, tmpl) in enumerate(m.add_all(lines), 1):
        yield {"line": n, "template_id": tid, "template": tmpl}


def cluster_file(path_or_lines, miner: TemplateMiner | None = None) -> Iterator[dict]:
    """:func:`cluster_lines` over a file path or an iterable of lines."""
    if isinstance(path_or_lines, (str, bytes)) or hasattr(path_or_lines, "__fspath__"):
        with open(path_or_lines, encoding="utf-8", errors="replace") as f:
            yield from cluster_lines(f, miner)
    else:
        yield from cluster_lines(path_or_lines, miner)
