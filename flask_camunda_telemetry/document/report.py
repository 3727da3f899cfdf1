"""A report on the wire: what this package's reporter sends and its collector reads.

The body is the document (what ``GET /telemetry/data`` answers at that moment) plus what Camunda
7.17 to 7.21 sent on top: ``"telemetry-enabled": true`` as the last key of ``internals``, and the
four metrics under both their internal and public names (seven keys: one name is the same in
both sets). The :data:`REPORT_ID_HEADER` names the report.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .metrics import INTERNAL_NAMES, PUBLIC_NAMES
from .model import TelemetryData
from .schemas import TelemetryDataSchema

#: The header carrying the report id: the same for every attempt at one period's report (the
#: installation, the sender and the start date the report carries), so a collector can tell a
#: resend, which replaces what it holds, from a new report.
REPORT_ID_HEADER = "Telemetry-Report-Id"
_schema = TelemetryDataSchema()


def report_body(data: TelemetryData, metrics: Mapping[str, int]) -> dict[str, Any]:
    """The JSON object a report sends of ``data``, showing ``metrics`` (by internal name), keys in
    Camunda's order."""
    body: dict[str, Any] = _schema.dump(data)
    internals = body["product"]["internals"]
    both: dict[str, Any] = {}
    for name in INTERNAL_NAMES:
        both[name] = both[PUBLIC_NAMES[name]] = {"count": metrics.get(name, 0)}
    internals["metrics"] = both
    internals.pop("telemetry-enabled", None)
    internals["telemetry-enabled"] = True
    return body
