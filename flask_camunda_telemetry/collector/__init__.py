"""The collector: receive telemetry reports, keep them, and show the fleet on a dashboard.

.. versionadded:: 0.2.0
"""

from .config import KEYS, CollectorConfig
from .extension import TelemetryCollector
from .payload import InvalidReportError
from .state import CollectorState, get_collector_state

__all__ = [
    "KEYS",
    "CollectorConfig",
    "CollectorState",
    "InvalidReportError",
    "TelemetryCollector",
    "get_collector_state",
]
