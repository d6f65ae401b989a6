"""Every N in turn: the Nth call of Execute and Verify (and the reverts) fails, then the state
machine's retry policy runs, and the invariants are checked."""
from __future__ import annotations

import time
from typing import Any

from .harness import KINDS, FaultInjector


def sweep(world: Any, faults: FaultInjector, name: str) -> dict[str, Any]:
    """Fault each call of the plan's Execute/Verify in turn: every write call with each kind, every
    read with one kind (cycling through them). Returns the counts; raises on any violation."""
    started = time.monotonic()
    for _ in range(2):            # the first run also warms the functions' containers (their first reads)
        inc, plan, preview = world.prepare(name)
        with faults.armed(None):
            baseline = world.run(inc, plan, preview)
    problems = world.violations(baseline)
    assert not problems, f"{name} without faults: {problems}"
    calls = list(faults.calls)
    points = []
    for call in calls:
        kinds = KINDS if _decisive(call) else (KINDS[(call.n - 1) % len(KINDS)],)
        points += [(call.n, kind, f"{call.service} {call.operation}") for kind in kinds]
    failures, injected, retries, by_kind = [], 0, 0, {k: 0 for k in KINDS}
    for n, kind, what in points:
        inc, plan, preview = world.prepare(name)
        with faults.armed(n, kind):
            out = world.run(inc, plan, preview)
        if faults.injected is None:
            failures.append(f"call {n} ({what}) never happened under a {kind} fault")
            continue
        injected += 1
        by_kind[kind] += 1
        retries += len(out.retries)
        problems = world.violations(out)
        if problems:
            failures.append(f"{kind} at call {n} ({what}): " + "; ".join(problems))
    assert not failures, f"{len(failures)} of {len(points)} fault points broke an invariant:\n" + "\n".join(failures)
    return {"name": name, "calls": len(calls), "fault_points": injected, "by_kind": by_kind,
            "writes": sum(1 for c in calls if c.is_write), "step_retries": retries,
            "seconds": round(time.monotonic() - started, 1),
            "calls_faulted": [f"{c.n} {c.layer} {c.service} {c.operation}" for c in calls]}


def _decisive(call: Any) -> bool:
    """The calls every kind is tried on: the remediation writes themselves and the idempotency
    records around them (a lost answer there is what exactly-once is about)."""
    if not call.is_write:
        return False
    return call.layer == "kubernetes" or call.service != "dynamodb" or call.operation == "UpdateItem"
