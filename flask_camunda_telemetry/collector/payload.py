"""A received report: what the collector keeps of it, read with :mod:`.schemas`.

The stored document is the body as received; the rest is what the dashboard groups and sums by,
what identifies the report (:data:`REPORT_ID`, :data:`START_DATE` or :data:`DOCUMENT`), and
whether its owner agreed to report.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from marshmallow import ValidationError

from ..document.metrics import INTERNAL_NAMES, PUBLIC_NAMES
from ..exceptions import TelemetryError
from ..web.bodies import JsonTooDeepError, load_json
from .schemas import NAME_RULE, ReceivedReportSchema, storable
from .tables import NAME_LENGTH

#: What identifies a report, in this order: the sender's report id (the same across the retries of
#: one report); else its ``data-collection-start-date`` as sent (Camunda 7.19-7.21: a resend
#: carries the same date and the same or grown counts); else the document itself (Camunda
#: 7.14-7.18: a resend is the same document, within the resend window).
REPORT_ID, START_DATE, DOCUMENT = "report-id", "start-date", "document"

_METRICS = {**{public: internal for internal, public in PUBLIC_NAMES.items()}, **{i: i for i in INTERNAL_NAMES}}


class InvalidReportError(TelemetryError, ValueError):
    """A received body is not a report the collector stores (answered with 400).

    .. versionadded:: 0.2.0
    """


def shown(text: str) -> str:
    """``text`` as it can be written in a message: a lone surrogate (from a ``\\ud800`` escape,
    which UTF-8 cannot encode) as its escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _column(value: Any) -> str | None:
    """A value for a grouping column: NUL and lone surrogates become U+FFFD (the document keeps them)."""
    if value is None or value == "":
        return None
    text = str(value).replace("\x00", "\ufffd")
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")[:NAME_LENGTH]


_schema = ReceivedReportSchema()  # loading only reads it: one instance serves every thread


@dataclass(frozen=True)
class Received:
    """What the collector stores of one report. Times are naive UTC."""

    installation: str
    #: :data:`REPORT_ID`, :data:`START_DATE` or :data:`DOCUMENT`
    identity: str
    #: a digest of what identifies the report (of that kind)
    report_key: str
    received_at: dt.datetime
    period_start: dt.datetime | None
    product_name: str
    product_version: str
    edition: str
    database_vendor: str | None
    server_vendor: str | None
    runtime: str | None
    commands: dict[str, int]
    metrics: dict[str, int]
    document: str
    #: ``internals."telemetry-enabled"`` as sent: ``False`` or ``None`` (undecided) is an owner who
    #: did not agree (Camunda 7.14-7.16's initial message); ``True`` when absent.
    consent: bool | None = True

    @property
    def declined(self) -> bool:
        return self.consent is not True


def _errors(messages: Any, path: str = "") -> Iterable[str]:
    if isinstance(messages, dict):
        for key, value in messages.items():
            yield from _errors(value, f"{path}.{shown(str(key))}" if path else shown(str(key)))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        yield f"{path or 'body'}: {' '.join(messages)}"
    elif isinstance(messages, list):
        for index, value in enumerate(messages):
            yield from _errors(value, f"{path}[{index}]")
    else:
        yield f"{path or 'body'}: {messages}"


def _canonical_metrics(metrics: dict[str, int]) -> dict[str, int]:
    """Internal names only (7.17-7.21 sent each metric under both names); other names kept."""
    out: dict[str, int] = {}
    for name, n in metrics.items():
        internal = _METRICS.get(name)
        if internal is None:
            out[name] = n
        elif name == internal or internal not in metrics:
            out[internal] = n
    return out


def _identity(document: dict[str, Any], start: object, report_id: str | None) -> tuple[str, str]:
    """What identifies the report, and its digest: see :data:`REPORT_ID`."""
    if report_id is not None:
        kind, parts = REPORT_ID, [start if isinstance(start, str) else "", report_id]
    elif isinstance(start, str):
        kind, parts = START_DATE, [start]
    else:  # the same document however it was spaced: its keys sorted, escaped alike
        kind, parts = DOCUMENT, [json.dumps(document, sort_keys=True, separators=(",", ":"))]
    text = "\x00".join([kind, *parts])
    return kind, hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _consent(internals: object) -> bool | None:
    if isinstance(internals, dict) and "telemetry-enabled" in internals:
        value = internals["telemetry-enabled"]
        return value if isinstance(value, bool) else None
    return True


def _naive_utc(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.astimezone(dt.UTC).replace(tzinfo=None)


def read_report(body: bytes, report_id: str | None, received_at: dt.datetime) -> Received:
    """Load ``body``; raises :class:`InvalidReportError` saying what is wrong."""
    try:
        text = body.decode("utf-8")
        document = load_json(text)
    except JsonTooDeepError as exc:
        raise InvalidReportError(f"The body is refused: {exc}.") from None
    except ValueError as exc:
        raise InvalidReportError(f"The body is not JSON in UTF-8: {exc}.") from None
    if not isinstance(document, dict):
        raise InvalidReportError("The body must be a JSON object, the document GET /telemetry/data returns.")
    try:
        loaded = _schema.load(document)
    except ValidationError as exc:
        problems = [problem.rstrip(".") for problem in _errors(exc.messages)]
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise InvalidReportError("The report is invalid: " + "; ".join(problems[:5]) + more + ".") from None
    if not storable(loaded["installation"]):
        raise InvalidReportError(f"installation: {NAME_RULE}")
    product = loaded["product"]
    internals = product.get("internals") or {}
    raw_internals = document["product"].get("internals")
    start = raw_internals.get("data-collection-start-date") if isinstance(raw_internals, dict) else None
    jdk, database, server = (internals.get(k) or {} for k in ("jdk", "database", "application_server"))
    identity, report_key = _identity(document, start, report_id)
    return Received(
        installation=loaded["installation"],
        identity=identity,
        report_key=report_key,
        received_at=received_at,
        period_start=_naive_utc(internals.get("data_collection_start_date")),
        product_name=_column(product["name"]) or "",
        product_version=_column(product["version"]) or "",
        edition=_column(product["edition"]) or "",
        database_vendor=_column(database.get("vendor")),
        server_vendor=_column(server.get("vendor")),
        runtime=_column(" ".join(str(p) for p in (jdk.get("vendor"), jdk.get("version")) if p)),
        commands={name: n for name, n in (internals.get("commands") or {}).items() if n},
        metrics={name: n for name, n in _canonical_metrics(internals.get("metrics") or {}).items() if n},
        document=text,
        consent=_consent(raw_internals),
    )
