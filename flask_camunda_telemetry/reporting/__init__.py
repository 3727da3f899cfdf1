"""Reporting the document, with the owner's consent, to a collector (``CAMUNDA_TELEMETRY_REPORT_URL``).

``TelemetryExt.reporting(app)`` hands out an app's :class:`Reporting`.

.. versionadded:: 0.2.0
"""

from ..document.report import REPORT_ID_HEADER
from .delivery import ReportResult
from .reporter import Reporting, ReportStatus

__all__ = ["REPORT_ID_HEADER", "ReportResult", "ReportStatus", "Reporting"]
