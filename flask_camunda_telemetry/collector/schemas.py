"""The document's schemas made to load what senders send: the receiving side of a report.

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
import re
from typing import Any, ClassVar

from marshmallow import INCLUDE, Schema, ValidationError, fields
from marshmallow.validate import Length, Range

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
from .tables import NAME_LENGTH

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
            bad = next((name for name in value if not storable(name)), None)
            if bad is not None:
                raise ValidationError({bad[:80]: [NAME_RULE]})
        return super()._deserialize(value, attr, data, **kwargs)


NAME_RULE = f"A name must have 1 to {NAME_LENGTH} characters, no NUL, no white space at either end."


def storable(name: str) -> bool:
    """Whether a key column keeps ``name`` exactly (see :data:`NAME_PATTERN`)."""
    if not 0 < len(name) <= NAME_LENGTH or _NAME.fullmatch(name) is None:
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, from a \\ud800 escape
        return False
    return True


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
