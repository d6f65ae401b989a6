"""What every handler shares: the Powertools logger, the tracer, and the composition root."""
from __future__ import annotations

import os
from typing import Any, Callable

from aws_lambda_powertools import Logger

from ..composition import container

logger = Logger(service="watchkeeper")


class _InvocationTracing:
    """Lambda's active tracing records every invocation (its init, duration and errors) without the X-Ray
    SDK. Loading the SDK costs a large share of a cold start (it builds botocore clients and patches
    botocore on import), so only the steps whose outside calls are worth a subsegment each load it
    (WATCHKEEPER_XRAY_SUBSEGMENTS, set per function by the CDK app)."""

    @staticmethod
    def capture_lambda_handler(handler: Callable[..., Any]) -> Callable[..., Any]:
        return handler


def _tracer() -> Any:
    if os.environ.get("WATCHKEEPER_XRAY_SUBSEGMENTS", "").lower() == "true":
        from aws_lambda_powertools import Tracer

        return Tracer(service="watchkeeper")
    return _InvocationTracing()


tracer = _tracer()


def agent_metrics():
    """Watchkeeper's own metrics (agent_metrics.py), built once per container."""
    return container().agent_metrics()


def steps():
    """The workflow steps, built once per container (cold start), reused on warm starts."""
    c = container()
    if not hasattr(c, "_steps"):
        c._steps = c.steps()
    return c._steps
