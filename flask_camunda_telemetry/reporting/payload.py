"""What a report sends: the body, its headers, its id, and the checks made before sending.

The body is what ``GET /telemetry/data`` answers at that moment, plus what Camunda 7.17 to 7.21 sent
on top: ``"telemetry-enabled": true`` as the last key of ``internals``, and the four metrics under
both their internal and public names (seven keys: one name is the same in both sets).

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import platform
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..document.metrics import INTERNAL_NAMES, PUBLIC_NAMES
from ..document.model import TelemetryData
from ..document.schemas import TelemetryDataSchema

__all__ = [
    "REPORT_ID_HEADER",
    "Snapshot",
    "encode",
    "problems",
    "report_body",
    "report_headers",
    "report_id",
    "user_agent",
]

#: The header carrying the report id: the same for every attempt at one period's report (the
#: installation, the sender and the start date the report carries), so a collector can tell a
#: resend, which replaces what it holds, from a new report.
REPORT_ID_HEADER = "Telemetry-Report-Id"
_ID_NAMESPACE = uuid.UUID("5b0c5b9e-6f53-4f53-9a52-5d1c0e0b7a11")
_schema = TelemetryDataSchema()


@dataclass(frozen=True)
class Snapshot:
    """The document at one moment, with the counts it shows by kind (``command``/``metric``,
    metrics by internal name) and the exact start date it carries."""

    data: TelemetryData
    counts: Mapping[str, Mapping[str, int]]
    start: dt.datetime


def report_body(snapshot: Snapshot) -> dict[str, Any]:
    """The JSON object sent (keys in Camunda's order)."""
    body: dict[str, Any] = _schema.dump(snapshot.data)
    internals = body["product"]["internals"]
    metrics = snapshot.counts.get("metric", {})
    both: dict[str, Any] = {}
    for name in INTERNAL_NAMES:
        both[name] = both[PUBLIC_NAMES[name]] = {"count": metrics.get(name, 0)}
    internals["metrics"] = both
    internals.pop("telemetry-enabled", None)
    internals["telemetry-enabled"] = True
    return body


def encode(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def problems(data: TelemetryData) -> list[str]:
    """Why the document may not be sent (Camunda 7.15+'s check), or nothing."""
    found = [
        f"product.{field} is empty"
        for field, value in (
            ("name", data.product.name),
            ("version", data.product.version),
            ("edition", data.product.edition),
        )
        if not value or not value.strip()
    ]
    try:
        valid = data.installation is not None and uuid.UUID(data.installation).version == 4
    except ValueError:
        valid = False
    if not valid:
        found.append(f"installation {data.installation!r} is not a UUID v4")
    return found


def report_id(installation: str | None, sender: str, start: dt.datetime) -> str:
    """The same for every attempt at one report; another once a report succeeded (it moves the
    start date), and another for each sender (each process in process scope)."""
    micros = (start - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
    return str(uuid.uuid5(_ID_NAMESPACE, f"{installation}/{sender}/{micros}"))


def user_agent() -> str:
    try:
        version = importlib.metadata.version("flask-camunda-telemetry")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree
        version = "unknown"
    return f"flask-camunda-telemetry/{version} ({platform.python_implementation()}/{platform.python_version()})"


def report_headers(extra: tuple[tuple[str, str], ...], report: str) -> dict[str, str]:
    """Content type, user agent and report id, then the configured ``REPORT_HEADERS``."""
    return {"Content-Type": "application/json", "User-Agent": user_agent(), REPORT_ID_HEADER: report, **dict(extra)}
