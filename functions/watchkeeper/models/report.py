"""The post-incident report."""
from __future__ import annotations

from datetime import datetime

from .base import Contract


class ReportRef(Contract):
    uri: str                              # the Markdown report (s3://...)
    chart_uri: str | None = None          # the timeline chart (SVG)
    html_uri: str | None = None           # the self-contained HTML page (chart inline)
    url: str | None = None                # where a person opens the HTML page (console link; a file locally)
    status: str
    summary: str
    service: str | None = None
    opened_at: datetime | None = None
    decided_at: datetime | None = None    # when the approval was decided, if one was asked
