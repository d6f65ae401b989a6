"""Fault injection for the embedded AWS and the Kubernetes client: make the Nth call fail.

The real write path runs unchanged; the harness sits where a flaky network would:

- AWS: botocore event hooks on every client (added to ``botocore.handlers.BUILTIN_HANDLERS``,
  as the local runtime adds its IAM check, so every session created afterwards has them).
  A fault *before* the call answers in place of the service (the request never arrived); a
  fault *after* the call lets it reach moto, then loses the answer (it happened; the caller
  does not know). botocore's own retries are not involved: a faulted call fails the way a
  call fails once they are used up.
- Kubernetes: ``kubernetes.client.rest.RESTClientObject.request`` (the official client's one
  way out), so any API server (the simulator or a real one) sees the same thing.

Kinds (and when they strike by default):

    throttle  before  AWS ThrottlingException (400) / Kubernetes 429
    reset     before  connection reset: botocore ConnectionClosedError / urllib3 ProtocolError
    5xx       after   AWS InternalFailure (500) / Kubernetes 500, after the call was processed
    timeout   after   read timeout after the call was processed

Usage::

    faults = FaultInjector.installed()          # once per process, before the emulator starts
    faults.scope = lambda call: call.function == "ExecuteActions..."   # which calls count
    with faults.armed(nth=3, kind="timeout"):   # the 3rd call in scope fails (calls are counted
        run_the_workflow()                      # only inside `armed`; nth=None only counts)
    faults.calls        # every call in scope: Call(n, layer, service, operation, function, ...)
    faults.injected     # the Call that was faulted, or None (fewer than N calls happened)

``count``-only runs (nothing armed) give the number of fault points a scenario has.
"""
from __future__ import annotations

import contextlib
import copy
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

KINDS: tuple[str, ...] = ("throttle", "timeout", "5xx", "reset")
DEFAULT_WHEN = {"throttle": "before", "reset": "before", "5xx": "after", "timeout": "after"}


@dataclass
class Call:
    """One API call the harness saw (in scope)."""

    n: int                          # 1-based position among the calls in scope
    layer: str                      # "aws" | "kubernetes"
    service: str                    # "dynamodb", "ecs", ... | "kubernetes"
    operation: str                  # "PutItem", ... | "PATCH /apis/apps/v1/namespaces/shop/deployments/web"
    function: str | None            # the Lambda function whose handler made it (None outside a handler)
    params: Any = None              # the API parameters (AWS) or the body (Kubernetes), for identities
    at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    fault: str | None = None        # the kind injected into this call
    when: str | None = None         # "before" | "after"
    status: int | None = None       # HTTP status the backend answered (None: it never saw the call)
    dry_run: bool = False           # a Kubernetes dryRun=All request (persists nothing)

    @property
    def performed(self) -> bool:
        """The backend processed it successfully (whatever the caller was told)."""
        return self.status is not None and 200 <= self.status < 300 and not self.dry_run

    @property
    def is_write(self) -> bool:
        if self.layer == "kubernetes":
            return not self.operation.startswith("GET ")
        return not self.operation.startswith(("Get", "List", "Describe", "Query", "Scan", "BatchGet"))


class FaultInjector:
    """Counts the calls in scope and makes the armed one fail."""

    _instance: "FaultInjector | None" = None

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.scope: Callable[[Call], bool] = lambda call: True
        self._nth: int | None = None
        self._kind: str | None = None
        self._when: str | None = None
        self._lock = threading.Lock()
        self.injected: Call | None = None
        self._recording = False          # only inside `armed`: elsewhere the hooks do nothing

    # --- setup --------------------------------------------------------------------------
    @classmethod
    def installed(cls) -> "FaultInjector":
        """The process's injector, its hooks installed (botocore sessions created later have them)."""
        if cls._instance is None:
            cls._instance = cls()
            cls._instance._install()
        return cls._instance

    def _install(self) -> None:
        from botocore.handlers import BUILTIN_HANDLERS
        from kubernetes.client import rest

        BUILTIN_HANDLERS.append(("before-parameter-build", self._remember_params))
        BUILTIN_HANDLERS.append(("before-call", self._before_call))
        BUILTIN_HANDLERS.append(("after-call", self._after_call))
        original = rest.RESTClientObject.request
        injector = self

        def request(client: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            return injector._kubernetes(original, client, method, url, *args, **kwargs)

        rest.RESTClientObject.request = request

    # --- arming ---------------------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self.calls, self.injected = [], None
            self._nth = self._kind = self._when = None

    @contextlib.contextmanager
    def armed(self, nth: int | None = None, kind: str = "throttle", when: str | None = None) -> Iterator["FaultInjector"]:
        """Within the block, the `nth` call in scope fails with `kind` (nothing fails when nth is None)."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        self.reset()
        self._nth, self._kind, self._when = nth, kind, when or DEFAULT_WHEN[kind]
        self._recording = True
        try:
            yield self
        finally:
            self._nth, self._recording = None, False

    def _next(self, call: Call) -> bool:
        """Record a call in scope; True when it is the one to fail."""
        if not self._recording or not self.scope(call):
            return False
        with self._lock:
            call.n = len(self.calls) + 1
            self.calls.append(call)
            if self._nth is not None and call.n == self._nth:
                call.fault, call.when = self._kind, self._when
                self.injected = call
                return True
        return False

    @staticmethod
    def _function() -> str | None:
        try:
            from watchkeeper.local.iam import CURRENT_FUNCTION
        except ImportError:      # pragma: no cover - the harness outside the embedded runtime
            return None
        return CURRENT_FUNCTION.get()

    # --- AWS ------------------------------------------------------------------------------
    def _remember_params(self, params: Any, context: Any = None, **kwargs: Any) -> None:
        if context is not None:
            context["wk_fault_params"] = copy.deepcopy(params)

    def _before_call(self, model: Any, context: Any = None, **kwargs: Any) -> Any:
        service = model.service_model.service_name
        call = Call(n=0, layer="aws", service=service, operation=model.name, function=self._function(),
                    params=(context or {}).get("wk_fault_params"))
        if context is not None:
            context["wk_fault_call"] = call
        if not self._next(call) or call.when != "before":
            return None
        if call.fault == "reset":
            from botocore.exceptions import ConnectionClosedError
            raise ConnectionClosedError(endpoint_url=f"https://{service}.local/ (injected connection reset)")
        if call.fault == "timeout":
            from botocore.exceptions import ConnectTimeoutError
            raise ConnectTimeoutError(endpoint_url=f"https://{service}.local/ (injected)")
        from botocore.awsrequest import AWSResponse
        status, code = (400, "ThrottlingException") if call.fault == "throttle" else (500, "InternalFailure")
        return (AWSResponse(f"https://{service}.local/", status, {}, None),
                {"Error": {"Code": code, "Message": f"injected {call.fault}"},
                 "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}, "RequestId": "injected"}})

    def _after_call(self, http_response: Any, parsed: Any, model: Any, context: Any = None, **kwargs: Any) -> None:
        call = (context or {}).get("wk_fault_call")
        if call is None:
            return
        if call.when != "before" or call.fault is None:
            call.status = getattr(http_response, "status_code", None)
        if call.fault is None or call.when != "after":
            return
        if call.fault == "timeout":
            from botocore.exceptions import ReadTimeoutError
            raise ReadTimeoutError(endpoint_url=f"https://{call.service}.local/ (injected, after the call)")
        if call.fault == "reset":
            from botocore.exceptions import ConnectionClosedError
            raise ConnectionClosedError(endpoint_url=f"https://{call.service}.local/ (injected, after the call)")
        from botocore.exceptions import ClientError
        code, status = ("ThrottlingException", 400) if call.fault == "throttle" else ("InternalFailure", 500)
        raise ClientError({"Error": {"Code": code, "Message": f"injected {call.fault} after the call"},
                           "ResponseMetadata": {"HTTPStatusCode": status}}, model.name)

    # --- Kubernetes -------------------------------------------------------------------------
    def _kubernetes(self, original: Callable[..., Any], client: Any, method: str, url: str, *args: Any,
                    **kwargs: Any) -> Any:
        import urllib3
        from kubernetes.client.exceptions import ApiException

        path = url.split("://", 1)[-1].split("/", 1)[-1]
        query = kwargs.get("query_params") or []
        dry = "dryRun=All" in url or any(k == "dryRun" for k, _ in query)
        call = Call(n=0, layer="kubernetes", service="kubernetes", operation=f"{method} /{path.split('?', 1)[0]}",
                    function=self._function(), params=_plain(kwargs.get("body")), dry_run=dry)
        faulted = self._next(call)
        if faulted and call.when == "before":
            if call.fault == "throttle":
                raise ApiException(status=429, reason="Too Many Requests (injected)")
            if call.fault == "5xx":
                raise ApiException(status=500, reason="Internal Server Error (injected)")
            if call.fault == "timeout":
                raise urllib3.exceptions.ConnectTimeoutError(None, f"{url} (injected connect timeout)")
            raise urllib3.exceptions.ProtocolError("Connection aborted.",
                                                   ConnectionResetError(104, "Connection reset by peer (injected)"))
        try:
            response = original(client, method, url, *args, **kwargs)
        except ApiException as error:
            call.status = error.status
            raise
        call.status = getattr(response, "status", 200)
        if faulted:
            if call.fault == "timeout":
                raise urllib3.exceptions.ReadTimeoutError(None, url, "Read timed out. (injected, after the call)")
            if call.fault == "5xx":
                raise ApiException(status=503, reason="Service Unavailable (injected, after the call)")
            if call.fault == "throttle":
                raise ApiException(status=429, reason="Too Many Requests (injected, after the call)")
            raise urllib3.exceptions.ProtocolError("Connection aborted.",
                                                   ConnectionResetError(104, "Connection reset by peer (injected)"))
        return response


def _plain(body: Any) -> Any:
    if body is None or isinstance(body, (dict, list, str, int, float)):
        return copy.deepcopy(body)
    try:
        from kubernetes.client import ApiClient
        return ApiClient().sanitize_for_serialization(body)
    except Exception:  # noqa: BLE001 - identities only
        return json.loads(json.dumps(body, default=str))


def write_identity(call: Call) -> str:
    """What makes two writes "the same write": the operation, its resource and its effect
    (optimistic-concurrency tokens such as resourceVersion left out)."""
    params = copy.deepcopy(call.params)
    if isinstance(params, dict):
        params.get("metadata", {}).pop("resourceVersion", None)
        for k in ("ClientToken", "RevisionId", "Comment", "Description"):
            params.pop(k, None)
    if isinstance(params, list):        # a JSON patch: drop the resourceVersion test/replace
        params = [op for op in params if not str(op.get("path", "")).endswith("/resourceVersion")]
    return f"{call.service} {call.operation} {json.dumps(params, sort_keys=True, default=str)}"
