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
from marshmallow.validate import Length, Range

from ..document.metrics import INTERNAL_NAMES, PUBLIC_NAMES
from ..document.schemas import (
    MAX_COUNT,
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

__all__ = ["MAX_NAMES", "NAME_PATTERN", "InvalidReportError", "Received", "ReceivedReportSchema", "read_report"]

#: The most command (or metric) names one report may carry.
MAX_NAMES = 10_000
# White space as JSON Schema's (ECMAScript's) \s has it, so that the documented pattern and the
# check agree exactly.
_SPACE = "\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
#: An installation id or a command or metric name: no NUL, no white space at either end (and 1 to
#: 255 characters). The database keeps such a name exactly, MariaDB's padding collations included.
NAME_PATTERN = f"^[^{_SPACE}\\u0000]([^\\u0000]*[^{_SPACE}\\u0000])?$"
_NAME = re.compile(NAME_PATTERN)
_DAY = r"((0[13578]|1[02])-(0[1-9]|[12]\d|3[01])|(0[469]|11)-(0[1-9]|[12]\d|30)|02-(0[1-9]|1\d|2[0-8]))"
_GSON_DAY = (
    r"((Jan|Mar|May|Jul|Aug|Oct|Dec) ([1-9]|[12]\d|3[01])|(Apr|Jun|Sep|Nov) ([1-9]|[12]\d|30)|Feb ([1-9]|1\d|2[0-8]))"
)
_DATE_PATTERN = (  # what the description promises is accepted (more is: any ISO 8601 date-time)
    rf"^((19|2\d)\d{{2}}-{_DAY}T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{{3}}[+-](0\d|1[0-3])[0-5]\d"
    rf"|{_GSON_DAY}, (19|2\d)\d{{2}},? ([1-9]|1[0-2]):[0-5]\d:[0-5]\d"
    "[ \u00a0\u202f](AM|PM))$"
)
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

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(metadata={"pattern": _DATE_PATTERN, "example": "2022-11-30T15:53:20.386+0100"}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.datetime:
        parsed = parse_gson_date(value) if isinstance(value, str) else None
        parsed = parsed or super()._deserialize(value, attr, data, **kwargs)
        try:
            parsed.astimezone(dt.UTC)
        except OverflowError:
            raise ValidationError("The date is out of range.") from None
        return parsed


class ReceivedCountSchema(DashKeyedSchema):
    count = fields.Integer(strict=True, validate=Range(0, MAX_COUNT))


class ReceivedCounts(CountsField):
    """Counts with the collector's limits: at most :data:`MAX_NAMES` names of 1 to 255 characters."""

    def __init__(self) -> None:
        fields.Dict.__init__(self, keys=fields.String(validate=Length(1, NAME_LENGTH)),
                             values=fields.Nested(ReceivedCountSchema), metadata={"maxProperties": MAX_NAMES})

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, int]:
        if isinstance(value, dict):
            if len(value) > MAX_NAMES:
                raise ValidationError(f"More than {MAX_NAMES:,} names ({len(value):,}).")
            bad = next((name for name in value if not _storable(name)), None)
            if bad is not None:
                raise ValidationError({bad[:80]: [_NAME_RULE]})
        return super()._deserialize(value, attr, data, **kwargs)


_NAME_RULE = f"A name must have 1 to {NAME_LENGTH} characters, no NUL, no white space at either end."


def _storable(name: str) -> bool:
    """Whether a key column keeps ``name`` exactly (see :data:`NAME_PATTERN`)."""
    if not 0 < len(name) <= NAME_LENGTH or _NAME.fullmatch(name) is None:
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, from a \\ud800 escape
        return False
    return True


def _column(value: Any) -> str | None:
    """A value for a grouping column: NUL and lone surrogates become U+FFFD (the document keeps them)."""
    if value is None or value == "":
        return None
    text = str(value).replace("\x00", "\ufffd")
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")[:NAME_LENGTH]


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


class JsonBoolean(fields.Boolean):
    """JSON's ``true`` and ``false`` only (marshmallow's Boolean also takes ``1``, ``"yes"``, ...)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("Not a boolean.")
        return value


class ReceivedLicenseKeySchema(_Loading, LicenseKeySchema):
    unbounded = frozenset({"customer", "type", "raw"})
    valid_until = fields.String()  # type: ignore[assignment]  # whatever its license library wrote
    unlimited = JsonBoolean()


class ReceivedInternalsSchema(_Loading, InternalsSchema):
    data_collection_start_date = ReceivedDateTime()
    commands = ReceivedCounts()
    metrics = ReceivedCounts()


class ReceivedProductSchema(_Loading, ProductSchema):
    required_keys = frozenset({"name", "version", "edition"})


class ReceivedReportSchema(_Loading, TelemetryDataSchema):
    """A report as the collector loads it."""

    required_keys = frozenset({"installation", "product"})
    installation = fields.String(metadata={"pattern": NAME_PATTERN})


_SPECIAL: dict[type[Schema], type[Schema]] = {
    LicenseKeySchema: ReceivedLicenseKeySchema,
    InternalsSchema: ReceivedInternalsSchema,
    ProductSchema: ReceivedProductSchema,
    TelemetryDataSchema: ReceivedReportSchema,
}


@functools.cache
def loading(schema: type[Schema]) -> type[Schema]:
    """The loading variant of a document schema."""
    return _SPECIAL.get(schema) or type(f"Received{schema.__name__}", (_Loading, schema), {})


_schema = ReceivedReportSchema()  # loading only reads it: one instance serves every thread


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
        loaded = _schema.load(document)
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
    return Received(
        installation=loaded["installation"],
        report_key=_report_key(start, report_id),
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
    )
