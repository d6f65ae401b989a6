"""What every handler shares: Powertools logger and tracer, and the composition root."""
from __future__ import annotations

from aws_lambda_powertools import Logger, Tracer

from ..composition import container

logger = Logger(service="watchkeeper")
tracer = Tracer(service="watchkeeper")


def agent_metrics():
    """Watchkeeper's own metrics (agent_metrics.py), built once per container."""
    return container().agent_metrics()


def steps():
    """The workflow steps, built once per container (cold start), reused on warm starts."""
    c = container()
    if not hasattr(c, "_steps"):
        c._steps = c.steps()
    return c._steps
