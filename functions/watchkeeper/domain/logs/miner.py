"""Log template miner: drain3 behind generic masking, memoisation and template merging.

``TemplateMiner.add(message)`` masks the message (:mod:`.masking`), then feeds the masked
text to drain3's ``TemplateMiner`` (configured without its own masking: ours runs first
and is memoised). Two caches make the hot path cheap, and both are pure memoisation of
deterministic steps, so they do not change results for a given state:

* raw message -> masked text (the masking function is pure),
* masked text -> cluster id: identical masked text always lands in the same cluster.
  (Plain drain3 can send a repeat of a line to a *new* cluster once its first cluster's
  template has grown wildcards, because drain3 does not count wildcard positions as
  similar. Pinning repeats to their first cluster is what a log reader expects.)

Template ids are ``c<drain3 cluster id>``: drain3 ids never change, so ids survive
``state_bytes()`` / ``from_state()``. When two drain3 clusters end up with the same
template (drain3 routes by the first tokens before they are generalised, so this
happens), they are merged under the smaller id; the alias map is part of the state.
"""
from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from .masking import WILDCARD, Masker
from .parse import parse_line, template_text

__all__ = ["MinedLine", "TemplateMiner", "cluster_file", "cluster_lines", "DEFAULTS"]

# One configuration for every data set.
DEFAULTS = {
    "sim_th": 0.7,
    "depth": 4,
    "max_children": 100,
    "extra_delimiters": (),
    "typed": False,
}
_CACHE_MAX = 200_000
ENUM_MAX = 4  # at most this many distinct words in a slot make it an enum slot
ENUM_MIN_COUNT = 2  # ... each seen on at least this many lines
_WORD_RE = None


def _is_word(v: str) -> bool:
    global _WORD_RE
    if _WORD_RE is None:
        import re
        _WORD_RE = re.compile(r"[\"'(\[]*(?:[\w.-]+=)?[A-Za-z][A-Za-z_-]*\d?[)\]\"',.:;]*")
    return _WORD_RE.fullmatch(v) is not None  # entries per memo table before it is reset (bounds memory)
_STATE_VERSION = 1


@dataclass(frozen=True)
class MinedLine:
    """Result of adding one line. ``template`` is the cluster's template *now*; it can
    still generalise as more lines arrive (see :meth:`TemplateMiner.template`)."""

    template_id: str
    template: str
    params: list[str] = field(default_factory=list)
    masked: str = ""
    level: str | None = None


def _collapse(tokens: Iterable[str]) -> str:
    """Template text with runs of adjacent wildcards/placeholders kept as they are."""
    return " ".join(tokens)


_DRAIN_CLS = None


def _drain_class():
    """drain3's Drain with one change to the similarity: a position where both the
    template and the (masked) message hold the wildcard counts as similar. Stock drain3
    counts it as dissimilar, so heavily masked messages could never reach a strict
    threshold; with masking done up front a strict threshold is what keeps templates
    that differ in one constant word apart."""
    global _DRAIN_CLS
    if _DRAIN_CLS is None:
        from drain3.drain import Drain

        class WildcardAwareDrain(Drain):
            def get_seq_distance(self, seq1, seq2, include_params):
                n = len(seq1)
                if n == 0:
                    return 1.0, 0
                ps = self.param_str
                sim = 0
                params = 0
                for t1, t2 in zip(seq1, seq2):
                    if t1 == ps:
                        params += 1
                        if t2 == ps or include_params:
                            sim += 1
                    elif t1 == t2:
                        sim += 1
                return sim / n, params

        WildcardAwareDrain.__module__ = __name__
        WildcardAwareDrain.__qualname__ = "WildcardAwareDrain"
        globals()["WildcardAwareDrain"] = WildcardAwareDrain
        _DRAIN_CLS = WildcardAwareDrain
    return _DRAIN_CLS


def _make_drain(cfg):
    return _drain_class()(
        sim_th=cfg.drain_sim_th, depth=cfg.drain_depth, max_children=cfg.drain_max_children,
        max_clusters=cfg.drain_max_clusters, extra_delimiters=cfg.drain_extra_delimiters,
        param_str=cfg.mask_prefix + "*" + cfg.mask_suffix,
        parametrize_numeric_tokens=cfg.parametrize_numeric_tokens)


class TemplateMiner:
    """Stateful miner for one log stream (e.g. one service)."""

    def __init__(self, sim_th: float | None = None, depth: int | None = None,
                 max_children: int | None = None, parse: bool = True, typed: bool | None = None):
        from drain3 import TemplateMiner as _Drain3Miner  # lazy: keeps import cheap
        from drain3.template_miner_config import TemplateMinerConfig

        cfg = TemplateMinerConfig()
        cfg.profiling_enabled = False
        cfg.masking_instructions = []  # our Masker runs first (and is memoised)
        cfg.drain_sim_th = DEFAULTS["sim_th"] if sim_th is None else sim_th
        cfg.drain_depth = DEFAULTS["depth"] if depth is None else depth
        cfg.drain_max_children = DEFAULTS["max_children"] if max_children is None else max_children
        cfg.drain_extra_delimiters = list(DEFAULTS["extra_delimiters"])
        cfg.parametrize_numeric_tokens = True
        self._tm = _Drain3Miner(config=cfg)
        self._drain = _make_drain(cfg)
        self._tm.drain = self._drain
        self._masker = Masker(typed=DEFAULTS["typed"] if typed is None else typed)
        self._parse = parse
        self._mask_memo: dict[str, str] = {}
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

    def add_all(self, lines: Iterable[str]) -> list[tuple[str, str]]:
        """Mine all ``lines``; return ``(template_id, final template)`` per line, in order."""
        raw_memo: dict[str, str] = {}
        add = self.add_cluster_id
        parse = self._parse
        masked_of = self._mask_memo
        seq = []
        for line in lines:
            t = raw_memo.get(line)
            if t is None:
                text = line.rstrip("\r\n")
                if parse:
                    text = template_text(parse_line(text))
                if len(raw_memo) >= _CACHE_MAX:
                    raw_memo.clear()
                raw_memo[line] = t = text
            cid = add(t)
            seq.append((masked_of.get(t) or self.mask(t), cid))
        final = self.finalize()
        out = []
        for masked, cid in seq:
            r = final.get(masked)
            if r is None:  # beyond the memo caps: plain cluster, no enum split
                cid = self._alias.get(cid, cid)
                r = (f"c{cid}", self.template_of(cid))
            out.append(r)
        return out

    def mask(self, text: str) -> str:
        m = self._mask_memo.get(text)
        if m is None:
            m = self._masker.mask(text)
            if len(self._mask_memo) >= _CACHE_MAX:
                self._mask_memo.clear()
            self._mask_memo[text] = m
        return m

    def add_cluster_id(self, text: str) -> int:
        """Hot path: add already-parsed message text, return the raw drain3 cluster id."""
        masked = self._mask_memo.get(text)
        if masked is None:
            masked = self.mask(text)
        cid = self._cluster_memo.get(masked)
        counts = self._counts
        if cid is not None:
            self._drain.id_to_cluster[cid].size += 1
            if masked in counts:
                counts[masked] += 1
            return cid
        self._final = None
        if masked not in counts:
            if len(counts) < _CACHE_MAX:
                counts[masked] = 1
        else:
            counts[masked] += 1
        cluster, _ = self._drain.add_log_message(masked)
        cid = cluster.cluster_id
        if len(self._cluster_memo) >= _CACHE_MAX:
            self._cluster_memo.clear()
        self._cluster_memo[masked] = cid
        return cid

    def add(self, line: str) -> MinedLine:
        """Add one raw log line (timestamp/level/JSON/kv are parsed off first)."""
        text, level = self._text(line)
        cid = self.add_cluster_id(text)
        cid = self._alias.get(cid, cid)
        template = self.template_of(cid)
        masked = self._mask_memo.get(text) or self.mask(text)
        return MinedLine(template_id=f"c{cid}", template=template,
                         params=self.extract_params(template, text), masked=masked, level=level)

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
        ``VM Paused``, ``"GET`` / ``"POST``, ``Powered On`` / ``Off``): drain3 merges
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
        """Serialise the miner (drain3 state + aliases) to compressed bytes."""
        import jsonpickle  # drain3's own serialisation format

        drain_state = jsonpickle.dumps(self._drain, keys=True)
        doc = {"v": _STATE_VERSION, "drain": drain_state,
               "alias": {str(k): v for k, v in self._alias.items()},
               "memo": self._cluster_memo, "counts": self._counts, "sub": self._sub}
        return zlib.compress(json.dumps(doc).encode("utf-8"))

    @classmethod
    def from_state(cls, data: bytes, **kwargs) -> "TemplateMiner":
        import jsonpickle

        doc = json.loads(zlib.decompress(data).decode("utf-8"))
        if doc.get("v") != _STATE_VERSION:
            raise ValueError(f"unsupported miner state version {doc.get('v')!r}")
        m = cls(**kwargs)
        drain = jsonpickle.loads(doc["drain"], keys=True)
        # jsonpickle turns int dict keys into strings for some versions; normalise
        if drain.id_to_cluster and isinstance(next(iter(drain.id_to_cluster)), str):
            drain.id_to_cluster = {int(k): v for k, v in drain.id_to_cluster.items()}
        m._tm.drain = drain
        m._drain = drain
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
