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
from typing import Any

from ..clock import to_us
from ..document.model import TelemetryData
from ..document.report import REPORT_ID_HEADER

_ID_NAMESPACE = uuid.UUID("5b0c5b9e-6f53-4f53-9a52-5d1c0e0b7a11")


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
    return str(uuid.uuid5(_ID_NAMESPACE, f"{installation}/{sender}/{to_us(start)}"))


def user_agent() -> str:
    try:
        version = importlib.metadata.version("flask-camunda-telemetry")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree
        version = "unknown"
    return f"flask-camunda-telemetry/{version} ({platform.python_implementation()}/{platform.python_version()})"


def report_headers(extra: tuple[tuple[str, str], ...], report: str) -> dict[str, str]:
    """Content type, user agent and report id, then the configured ``REPORT_HEADERS``."""
    return {"Content-Type": "application/json", "User-Agent": user_agent(), REPORT_ID_HEADER: report, **dict(extra)}
