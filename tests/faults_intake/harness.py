"""A minimal fault injector for ingest: the Nth AWS call of a boto3 session fails.

(The write path's harness, tests/faults/harness.py on the `wp` branch, was not on main when this
tier was written; this one does only what ingest's tier needs.) botocore hooks on the session:
`before` answers in place of the service (the request never arrived), `after` lets the call
reach moto and then loses the answer (it happened; the caller does not know)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

ERRORS = {"throttle": ("ThrottlingException", 400, "Rate exceeded"),
          "5xx": ("InternalFailure", 500, "We encountered an internal error. Please try again.")}
WHEN = {"throttle": "before", "5xx": "after"}


@dataclass
class FaultInjector:
    nth: int | None = None                       # the call to fail (1-based); None: count only
    kind: str = "throttle"
    calls: list[str] = field(default_factory=list)
    injected: str | None = None

    def install(self, session: Any) -> "FaultInjector":
        events = session.events
        events.register("before-call", self._before)
        events.register("after-call", self._after)
        return self

    def _fail(self, model: Any) -> ClientError:
        code, status, message = ERRORS[self.kind]
        self.injected = f"{model.service_model.service_name}:{model.name}"
        return ClientError({"Error": {"Code": code, "Message": message},
                            "ResponseMetadata": {"HTTPStatusCode": status}}, model.name)

    def _before(self, model: Any, **kwargs: Any) -> None:
        self.calls.append(f"{model.service_model.service_name}:{model.name}")
        if len(self.calls) == self.nth and WHEN[self.kind] == "before":
            raise self._fail(model)

    def _after(self, model: Any, **kwargs: Any) -> None:
        if len(self.calls) == self.nth and WHEN[self.kind] == "after" and self.injected is None:
            raise self._fail(model)
