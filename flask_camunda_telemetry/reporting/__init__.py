"""Reporting the document, with the owner's consent, to a collector (``CAMUNDA_TELEMETRY_REPORT_URL``).

.. versionadded:: 0.2.0
"""

from .delivery import ReportResult, ReportSource
from .payload import REPORT_ID_HEADER, Snapshot
from .reporter import Reporting, ReportStatus

__all__ = ["REPORT_ID_HEADER", "ReportResult", "ReportSource", "ReportStatus", "Reporting", "Snapshot"]
