"""The post-incident report."""
from __future__ import annotations

from .base import Contract


class ReportRef(Contract):
    uri: str
    chart_uri: str | None = None
    status: str
    summary: str
