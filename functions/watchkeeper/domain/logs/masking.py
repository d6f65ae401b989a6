"""Masking of variable parts of log messages before template mining.

Ordered regex rules (most specific first) replace identifiers with typed placeholders
(``<UUID>``, ``<IP>``, ``<HEX>``, ``<DURATION>``, ``<SIZE>``, ``<PATH>``, ...). A final
catch-all replaces any remaining whitespace-delimited token that still contains a digit
(``blk_-1608999687919862906``, ``c_82fm4269``, ``core.815``) with ``<*>``: in production
logs a token with a digit in it is almost always a value, not part of the format.

The rules are generic: nothing here is keyed to a particular product or data set.
"""
from __future__ import annotations

import re

__all__ = ["MASK_RULES", "Masker", "WILDCARD"]

WILDCARD = "<*>"

_B = r"(?<![\w.:/-])"  # left boundary: not inside a word, dotted name, path or range
_E = r"(?![\w])"  # right boundary
_NUM = r"[-+]?\d+(?:[.,]\d+)?"

# (name, pattern, replacement). Order matters.
MASK_RULES: list[tuple[str, str, str]] = [
    # whole URLs (scheme://...)
    ("URL", r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+", "<URL>"),
    ("UUID", r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b", "<UUID>"),
    # MAC addresses / colon-separated byte sequences
    ("MAC", r"\b[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5,}\b", "<MAC>"),
    # syslog / ctime style dates: "Sat Jul  9 12:16:49 2005", "Jul 9 12:16:49"
    ("DATE",
     r"\b(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\s+)?(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+\d{1,2}"
     r"\s+\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?(?:\s+\d{4})?\b",
     "<DATE>"),
    # ISO dates and datetimes
    ("DATE", r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?\b", "<DATE>"),
    # clock times / elapsed hh:mm[:ss[.fff]]
    ("TIME", r"(?<![\w:.])\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?(?![\w:])", "<TIME>"),
    # IPv4 with optional :port
    ("IP", r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?(?![\w]|\.\d)", "<IP>"),
    # host:port (dns names with a port)
    ("HOST", r"(?<![\w.-])[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+:\d{1,5}(?![\w.])", "<HOST>"),
    # DNS names: a common top-level domain, or >= 3 labels ending in a country code
    ("HOST", r"(?<![\w.-])(?:[A-Za-z0-9-]+\.)+(?:com|net|org|edu|gov|mil|io|local|internal|lan|localdomain)"
             r"(?![\w.-])", "<HOST>"),
    ("HOST", r"(?<![\w.-])(?:[A-Za-z0-9-]+\.){2,}[a-z]{2}(?![\w.-])", "<HOST>"),
    # hex: 0x-prefixed, or long hex runs with at least one digit (ids, hashes, request ids)
    ("HEX", r"\b0[xX][0-9a-fA-F]+\b", "<HEX>"),
    ("HEX", r"(?<![\w-])(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}(?![\w-])", "<HEX>"),
    # file system paths (unix with >= 1 segment, windows drive paths)
    ("PATH", r"(?<![\w.:/~<>-])(?:~|\.{1,2})?(?:/[^\s/\"'(),;\[\]{}<>=|]+)+/?", "<PATH>"),
    ("PATH", r"\b[A-Za-z]:\\[^\s\"']+", "<PATH>"),
    # sizes: "1234 bytes (1.2 KB)", "512MB", "1.5 GiB"
    ("SIZE", _B + _NUM + r"\s?(?:bytes?|B)(?:\s\(" + _NUM + r"\s?[KMGTP]i?B\))?" + _E, "<SIZE>"),
    ("SIZE", _B + _NUM + r"\s?(?:[KMGTPkmgtp]i?[Bb])" + _E, "<SIZE>"),
    # durations: "146.6ms", "4682ms", "1.00 seconds", "<1 sec", "1h2m3s"
    ("DURATION", r"(?<![\w.])<?" + _NUM + r"\s?(?:ns|us|µs|ms|secs?|seconds?|mins?|minutes?|hours?|hrs?|days?)" + _E,
     "<DURATION>"),
    ("DURATION", _B + r"(?:\d+h)?(?:\d+m)?\d+(?:\.\d+)?[smh]" + _E, "<DURATION>"),
    # numbers, including signed and decimal ones
    ("NUM", r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?![\w]|\.\d)", "<NUM>"),
    # anything left that still has a digit in it is a value
    # (key=value: only the value)
    # A word with one trailing digit is a name, not a value (ssh2, SOCKS5, eth0, en0).
    ("TOKEN", r"(?<![^\s=(\[{,\"'])(?![A-Za-z]{2,}\d(?![^\s,;:)\]]))[^\s<>=]*\d[^\s]*", WILDCARD),
    # a placeholder glued to word characters is one value: blk_-<NUM> -> <*>
    ("TOKEN", r"[\w.-]+<[A-Z*]+>[\w.<>*-]*|<[A-Z*]+>[\w.-][\w.<>*-]*", WILDCARD),
]


# Cheap pre-checks: a rule only runs when its text can possibly match.
# "d": needs a digit; other strings: needs that substring.
_NEEDS = {"URL": "://", "PATH": None, "HOST": ".", "MAC": ":", "TIME": ":", "UUID": "-"}
_DIGIT = re.compile(r"\d").search


class Masker:
    """Apply :data:`MASK_RULES` (or custom rules) to a message. Pure and memoisable."""

    __slots__ = ("_subs", "_plain")

    def __init__(self, rules: list[tuple[str, str, str]] | None = None, typed: bool = True):
        rules = MASK_RULES if rules is None else rules
        self._subs = []  # (sub, repl, needs_digit, needs_substring)
        for i, (name, p, r) in enumerate(rules):
            needs_digit = r"\d" in p and name not in ("URL", "PATH") and not (
                name == "HOST" and ":" not in p) and not (name == "TOKEN" and i == len(rules) - 1)
            needs = _NEEDS.get(name)
            if name == "PATH":
                needs = ":\\" if p.startswith(r"\b") else "/"
            elif name == "TOKEN" and not needs_digit:
                needs = "<"
            elif name == "HEX" and p.startswith(r"\b0"):
                needs_digit = True
            self._subs.append((re.compile(p).sub, r if typed else WILDCARD, needs_digit, needs))
        # rules that can fire on text without digits
        self._plain = [(sub, r, ss) for sub, r, d, ss in self._subs if not d]

    def mask(self, text: str) -> str:
        if _DIGIT(text) is None:
            for sub, repl, ss in self._plain:
                if ss is None or ss in text:
                    text = sub(repl, text)
            return text
        for sub, repl, _, ss in self._subs:
            if ss is None or ss in text:
                text = sub(repl, text)
        return text
