"""The collector: receive telemetry reports, keep them, and show the fleet on a dashboard.

.. versionadded:: 0.2.0
"""

from .extension import TelemetryCollector
from .payload import InvalidReportError

__all__ = ["InvalidReportError", "TelemetryCollector"]
