"""marshmallow schemas that turn :mod:`.model` objects into Camunda's JSON, and load it back.

Dash keys are set once, in :class:`DashKeyedSchema`, from the Python attribute names
(``application_server`` becomes ``application-server``). Absent values are written as ``null``.
Loading (the collector's receiving side) reads the same keys: dates in Camunda's REST format,
counts as ``{name: {"count": n}}`` with ``n`` a non-negative integer.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields


def format_camunda_datetime(value: dt.datetime) -> str:
    """Camunda's REST date format: ``2022-11-30T15:53:20.386+0100`` (milliseconds, no colon)."""
    local = value if value.tzinfo else value.astimezone()
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}" + local.strftime("%z")


#: The largest count a document may carry (Camunda's counts are Java longs).
MAX_COUNT = 2**63 - 1


class CamundaDateTime(fields.Field):  # type: ignore[type-arg]
    """A datetime written in Camunda's REST format (see :func:`format_camunda_datetime`).

    Loads that format and other ISO 8601 date-times (a naive one is taken as UTC) into an
    aware datetime.
    """

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else format_camunda_datetime(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.datetime:
        if isinstance(value, str) and "T" in value:
            try:
                parsed = dt.datetime.fromisoformat(value)
            except ValueError:
                pass
            else:
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
        raise ValidationError("Not a date-time in Camunda's format, such as '2022-11-30T15:53:20.386+0100'.")


class DashKeyedSchema(Schema):
    """Writes every field under its attribute name with ``_`` turned into ``-``."""

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:  # type: ignore[type-arg]
        field_obj.data_key = field_name.replace("_", "-")
        field_obj.required = True  # every key is always written (null when absent)


class CountSchema(DashKeyedSchema):
    count = fields.Integer()


class CountsField(fields.Dict):
    """``{name: Count}`` written as ``{name: {"count": n}}``.

    Declared as ``Dict(keys=String(), values=Nested(CountSchema))`` (so OpenAPI generators see
    that), and writes exactly what it would, without a nested schema dump per entry: a document
    with 10,000 commands serializes in milliseconds instead of tens of them.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(keys=fields.String(), values=fields.Nested(CountSchema), **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> dict[str, Any] | None:
        if value is None:
            return None
        return {
            str(name): None if count is None else {"count": None if count.count is None else int(count.count)}
            for name, count in value.items()
        }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, int]:
        """``{name: {"count": n}}`` as ``{name: n}``; every ``n`` a non-negative integer."""
        if not isinstance(value, dict):
            raise ValidationError('Not an object of {"<name>": {"count": <integer>}}.')
        counts: dict[str, int] = {}
        errors: dict[str, Any] = {}
        for name, entry in value.items():
            n = entry.get("count") if isinstance(entry, dict) else None
            if isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_COUNT:
                counts[name] = n
            elif not isinstance(entry, dict):
                errors[name] = ['Not an object {"count": <integer>}.']
            else:
                errors[name] = {"count": [f"Not an integer from 0 to {MAX_COUNT}."]}
        if errors:
            raise ValidationError(errors)
        return counts


class VendorVersionSchema(DashKeyedSchema):
    vendor = fields.String(allow_none=True)
    version = fields.String(allow_none=True)


class DatabaseSchema(VendorVersionSchema):
    pass


class ApplicationServerSchema(VendorVersionSchema):
    pass


class JdkSchema(DashKeyedSchema):
    # Camunda declares version before vendor for the jdk object.
    version = fields.String()
    vendor = fields.String()


class LicenseKeySchema(DashKeyedSchema):
    customer = fields.String(allow_none=True)
    type = fields.String(allow_none=True)
    valid_until = fields.Date(allow_none=True)
    unlimited = fields.Boolean()
    features = fields.Dict(keys=fields.String(), values=fields.String())
    raw = fields.String(allow_none=True)


class InternalsSchema(DashKeyedSchema):
    database = fields.Nested(DatabaseSchema)
    application_server = fields.Nested(ApplicationServerSchema, allow_none=True)
    license_key = fields.Nested(LicenseKeySchema, allow_none=True)
    camunda_integration = fields.List(fields.String())
    data_collection_start_date = CamundaDateTime(
        metadata={"pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{4}$",
                  "example": "2022-11-30T15:53:20.386+0100"}
    )
    commands = CountsField()
    metrics = CountsField()
    webapps = fields.List(fields.String())
    jdk = fields.Nested(JdkSchema)


class ProductSchema(DashKeyedSchema):
    name = fields.String()
    version = fields.String()
    edition = fields.String()
    internals = fields.Nested(InternalsSchema)


class TelemetryDataSchema(DashKeyedSchema):
    """The whole ``GET /telemetry/data`` document."""

    installation = fields.String(allow_none=True)
    product = fields.Nested(ProductSchema)


class TelemetryConfigurationSchema(Schema):
    """``GET``/``POST /telemetry/configuration``: ``{"enableTelemetry": <bool>}``.

    Other properties are ignored, as Camunda ignores them.
    """

    class Meta:
        unknown = EXCLUDE

    enableTelemetry = fields.Boolean(required=True, allow_none=False, truthy={True}, falsy={False})  # noqa: N815


class TelemetryConsentSchema(Schema):
    """``GET /telemetry/configuration``: ``{"enableTelemetry": true|false|null}`` (null: undecided).

    .. versionadded:: 0.2.0
    """

    enableTelemetry = fields.Boolean(required=True, allow_none=True)  # noqa: N815


class ErrorSchema(Schema):
    """Camunda's REST error body."""

    type = fields.String(required=True)
    message = fields.String(required=True)
    code = fields.Integer(allow_none=True, required=True)


class MissingAuthorizationSchema(Schema):
    permissionName = fields.String(required=True)  # noqa: N815
    resourceName = fields.String(required=True)  # noqa: N815
    resourceId = fields.String(required=True)  # noqa: N815


class AuthorizationErrorSchema(ErrorSchema):
    """Camunda's AuthorizationException body (403)."""

    userId = fields.String(required=True, allow_none=True)  # noqa: N815
    permissionName = fields.String(required=True)  # noqa: N815
    resourceName = fields.String(required=True)  # noqa: N815
    resourceId = fields.String(required=True)  # noqa: N815
    missingAuthorizations = fields.List(fields.Nested(MissingAuthorizationSchema), required=True)  # noqa: N815
