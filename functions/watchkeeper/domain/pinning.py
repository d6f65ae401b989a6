"""What was approved is what runs: pinned targets, before-state fingerprints, drift, outcomes.

A `Pin` holds the exact state a write produces (`target`) and the live state it assumes
(`before`), in the executor's own terms. Execute compares the live state with the pin the
approvers saw (`drift`), and after an unknown outcome (a timeout mid-call) reads the live
state back to decide whether the write happened (`outcome`). Pure: executors observe.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from ..models import Pin

Outcome = Literal["applied", "not_applied", "partial", "diverged"]


def fingerprint(before: dict[str, Any]) -> str:
    """A short, stable hash of a before-state (canonical JSON)."""
    body = json.dumps(before, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def make_pin(target: dict[str, Any], before: dict[str, Any], *, call: dict[str, Any] | None = None,
             summary: str = "", culprit: str | None = None, before_is_culprit: bool = False) -> Pin:
    return Pin(target=target, before=before, call=call or {}, fingerprint=fingerprint(before), summary=summary,
               culprit=culprit, before_is_culprit=before_is_culprit)


def drift(pin: Pin, live: dict[str, Any]) -> list[str]:
    """What changed since the pin was taken, one `field: approved -> now` line each; empty when nothing did."""
    if fingerprint({k: live.get(k) for k in pin.before}) == pin.fingerprint:
        return []
    lines: list[str] = []
    for key, then in pin.before.items():
        now = live.get(key)
        if now == then:
            continue
        if isinstance(then, dict) or isinstance(now, dict):
            then, now = then or {}, now or {}
            for sub in sorted(set(then) | set(now)):
                if then.get(sub) != now.get(sub):
                    lines.append(f"{key}.{sub}: {_show(then.get(sub))} -> {_show(now.get(sub))}")
        else:
            lines.append(f"{key}: {_show(then)} -> {_show(now)}")
    return lines or ["the before-state no longer matches its fingerprint"]


def outcome(pin: Pin, live: dict[str, Any]) -> Outcome:
    """Did the pinned write happen? Compared on the target's fields only.

    `partial` when every sub-field of the target is either at its target or at its before
    value and some are at each (pods of a restart, some deleted): the write can resume.
    """
    if all(live.get(k) == v for k, v in pin.target.items()):
        return "applied"
    if all(live.get(k) == pin.before.get(k) for k in pin.target):
        return "not_applied"
    partial = False
    for key, want in pin.target.items():
        now, then = live.get(key), pin.before.get(key)
        if now in (want, then):
            continue
        if isinstance(want, dict) and isinstance(then, dict) and isinstance(now, dict):
            if all(now.get(s) in (want.get(s), then.get(s)) for s in set(want) | set(then)):
                partial = True
                continue
        return "diverged"
    return "partial" if partial else "diverged"


def inverse(pin: Pin, call: dict[str, Any] | None = None, summary: str = "") -> Pin:
    """The pin of the write that puts `before` back: its target is the old before-state (on the
    fields the write changed), and it assumes the state the write produced."""
    target = {k: pin.before.get(k) for k in pin.target}
    return make_pin(target, dict(pin.target), call=call, summary=summary)


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)
