"""A received report: loaded with the document's own schemas, and what the collector keeps of it.

The schemas of :mod:`..document.schemas` describe what the extension dumps; here each one is
made to load as well, with Camunda's older payloads in mind (7.14-7.21 sent the same tree with
these differences: no ``webapps`` before 7.15, no ``data-collection-start-date`` before 7.19 and
then in Gson's text such as ``Jan 7, 2025, 9:12:44 AM``, nulls written out, 7.14's
``unique-task-workers``, metrics under both their internal and public names from 7.17). Only
``installation`` and the product's name, version and edition are required; a key this version
does not know is kept (the stored document is the body as received).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from marshmallow import INCLUDE, Schema, ValidationError, fields
from marshmallow.validate import Length

from ..document.metrics import INTERNAL_NAMES, PUBLIC_NAMES
from ..document.schemas import (
    CamundaDateTime,
    CountsField,
    DashKeyedSchema,
    InternalsSchema,
    LicenseKeySchema,
    ProductSchema,
    TelemetryDataSchema,
)
from ..exceptions import TelemetryError
from .tables import NAME_LENGTH

__all__ = ["MAX_NAMES", "InvalidReportError", "Received", "read_report"]

#: The most command (or metric) names one report may carry.
MAX_NAMES = 10_000
_MONTHS = {
    m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)
}
# Gson's default (java.text.DateFormat, en-US): "Jan 7, 2025 9:12:44 AM" up to JDK 8, with a comma
# after the year from JDK 9 and a narrow no-break space before AM/PM from JDK 20.
_GSON_DATE = re.compile(
    r"(?P<mon>[A-Z][a-z]{2}) (?P<day>\d{1,2}), (?P<year>\d{4}),? "
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2}):(?P<second>\d{2})[ \u00a0\u202f](?P<half>AM|PM)"
)
_METRICS = {**{public: internal for internal, public in PUBLIC_NAMES.items()}, **{i: i for i in INTERNAL_NAMES}}


class InvalidReportError(TelemetryError, ValueError):
    """A received body is not a report the collector stores (answered with 400).

    .. versionadded:: 0.2.0
    """


def parse_gson_date(text: str) -> dt.datetime | None:
    """The time in a Gson-written date (no zone in the text: taken as UTC), or None."""
    match = _GSON_DATE.fullmatch(text)
    if match is None or match["mon"] not in _MONTHS:
        return None
    hour = int(match["hour"]) % 12 + (12 if match["half"] == "PM" else 0)
    try:
        return dt.datetime(int(match["year"]), _MONTHS[match["mon"]], int(match["day"]), hour,
                           int(match["minute"]), int(match["second"]), tzinfo=dt.UTC)
    except ValueError:
        return None


class ReceivedDateTime(CamundaDateTime):
    """Camunda's REST date format, ISO 8601, or the text Gson writes (Camunda 7.19-7.21's reports)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.datetime:
        parsed = parse_gson_date(value) if isinstance(value, str) else None
        return parsed or super()._deserialize(value, attr, data, **kwargs)


class ReceivedCounts(CountsField):
    """Counts with the collector's limits: at most :data:`MAX_NAMES` names of 1 to 255 characters."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, int]:
        if isinstance(value, dict):
            if len(value) > MAX_NAMES:
                raise ValidationError(f"More than {MAX_NAMES:,} names ({len(value):,}).")
            bad = next((name for name in value if not _storable(name)), None)
            if bad is not None:
                raise ValidationError({bad[:80]: [_NAME_RULE]})
        return super()._deserialize(value, attr, data, **kwargs)


_NAME_RULE = f"A name must have 1 to {NAME_LENGTH} characters, no NUL, no white space at either end."


def _encodable(text: str) -> bool:
    """Whether a database column can hold ``text`` (no NUL, no lone surrogate from a ``\\ud800``)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _storable(name: str) -> bool:
    """Whether a key column keeps ``name`` exactly (MariaDB ignores trailing spaces in keys)."""
    return 0 < len(name) <= NAME_LENGTH and name == name.strip() and _encodable(name)


class _Loading(DashKeyedSchema):
    """Makes a document schema load: listed keys required, the others may be missing or null;
    strings at most 255 characters unless listed as unbounded; unknown keys kept."""

    class Meta:
        unknown = INCLUDE

    required_keys: ClassVar[frozenset[str]] = frozenset()
    unbounded: ClassVar[frozenset[str]] = frozenset()

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:  # type: ignore[type-arg]
        super().on_bind_field(field_name, field_obj)
        required = field_name in self.required_keys
        field_obj.required = required
        field_obj.allow_none = not required
        if isinstance(field_obj, fields.String) and field_name not in self.unbounded:
            field_obj.validators = [*field_obj.validators, Length(min=1 if required else 0, max=NAME_LENGTH)]
        if isinstance(field_obj, fields.Nested) and isinstance(field_obj.nested, type):
            field_obj.nested = loading(field_obj.nested)


class _License(_Loading, LicenseKeySchema):
    unbounded = frozenset({"customer", "type", "raw"})
    valid_until = fields.String()  # type: ignore[assignment]  # whatever its license library wrote


class _Internals(_Loading, InternalsSchema):
    data_collection_start_date = ReceivedDateTime()
    commands = ReceivedCounts()
    metrics = ReceivedCounts()


class _Product(_Loading, ProductSchema):
    required_keys = frozenset({"name", "version", "edition"})


class _Report(_Loading, TelemetryDataSchema):
    required_keys = frozenset({"installation", "product"})


_SPECIAL: dict[type[Schema], type[Schema]] = {
    LicenseKeySchema: _License,
    InternalsSchema: _Internals,
    ProductSchema: _Product,
    TelemetryDataSchema: _Report,
}


@functools.cache
def loading(schema: type[Schema]) -> type[Schema]:
    """The loading variant of a document schema."""
    return _SPECIAL.get(schema) or type(f"Received{schema.__name__}", (_Loading, schema), {})


@dataclass(frozen=True)
class Received:
    """What the collector stores of one report. Times are naive UTC."""

    installation: str
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


def _errors(messages: Any, path: str = "") -> Iterable[str]:
    if isinstance(messages, dict):
        for key, value in messages.items():
            yield from _errors(value, f"{path}.{key}" if path else str(key))
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


def _report_key(start: object, report_id: str | None) -> str:
    """Identifies the period: the start date and the report id as sent. With neither (Camunda
    before 7.19), nothing identifies a period: every report is a new one."""
    if report_id is None and not isinstance(start, str):
        return uuid.uuid4().hex
    text = f"{start if isinstance(start, str) else ''}\x00{report_id or ''}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _naive_utc(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.astimezone(dt.UTC).replace(tzinfo=None)


def _joined(*parts: Any) -> str | None:
    text = " ".join(str(p) for p in parts if p)
    return text[:NAME_LENGTH] or None


def read_report(body: bytes, report_id: str | None, received_at: dt.datetime) -> Received:
    """Load ``body``; raises :class:`InvalidReportError` saying what is wrong."""
    try:
        text = body.decode("utf-8")
        document = json.loads(text)
    except ValueError as exc:
        raise InvalidReportError(f"The body is not JSON in UTF-8: {exc}.") from None
    if not isinstance(document, dict):
        raise InvalidReportError("The body must be a JSON object, the document GET /telemetry/data returns.")
    try:
        loaded = _Report().load(document)
    except ValidationError as exc:
        problems = [problem.rstrip(".") for problem in _errors(exc.messages)]
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise InvalidReportError("The report is invalid: " + "; ".join(problems[:5]) + more + ".") from None
    if not _storable(loaded["installation"]):
        raise InvalidReportError(f"installation: {_NAME_RULE}")
    product = loaded["product"]
    internals = product.get("internals") or {}
    raw_internals = document["product"].get("internals")
    start = raw_internals.get("data-collection-start-date") if isinstance(raw_internals, dict) else None
    jdk, database, server = (internals.get(k) or {} for k in ("jdk", "database", "application_server"))
    environment = [product[k] for k in ("name", "version", "edition")] + [database.get("vendor"),
                   server.get("vendor"), jdk.get("vendor"), jdk.get("version")]
    if not all(_encodable(value) for value in environment if isinstance(value, str)):
        raise InvalidReportError("The product or its environment holds a NUL or an unpaired surrogate.")
    return Received(
        installation=loaded["installation"],
        report_key=_report_key(start, report_id),
        received_at=received_at,
        period_start=_naive_utc(internals.get("data_collection_start_date")),
        product_name=product["name"],
        product_version=product["version"],
        edition=product["edition"],
        database_vendor=_joined(database.get("vendor")),
        server_vendor=_joined(server.get("vendor")),
        runtime=_joined(jdk.get("vendor"), jdk.get("version")),
        commands={name: n for name, n in (internals.get("commands") or {}).items() if n},
        metrics={name: n for name, n in _canonical_metrics(internals.get("metrics") or {}).items() if n},
        document=text,
    )
