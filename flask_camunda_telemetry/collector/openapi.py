"""An OpenAPI 3.1 description of every route of the collector, from the marshmallow schemas.

Needs ``apispec`` (``pip install flask-camunda-telemetry[openapi]``).
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

from marshmallow import Schema, fields

from ..document.schemas import AuthorizationErrorSchema, CamundaDateTime, ErrorSchema
from .api import InstallationSchema, UsageSchema
from .paging import DEFAULT_LIMIT, MAX_CURSOR, MAX_LIMIT
from .receive import REPORT_ID_HEADERS
from .schemas import MAX_NAMES, NAME_PATTERN, ReceivedReportSchema
from .tables import NAME_LENGTH

_JSON = "application/json"
_HTML = "text/html"
_CURSOR_SCHEMA = {"type": "string", "pattern": "^[A-Za-z0-9_-]+$", "maxLength": MAX_CURSOR}
_LINK = ('<URL of the next page>; rel="next" (RFC 8288): the same limit, after the last installation of this '
         "page (a keyset cursor, not an offset). Absent on the last page.")


class AcceptedSchema(Schema):
    installation = fields.String(required=True)
    replaced = fields.Boolean(metadata={"description": "A stored report was replaced: this one was a resend of it."})
    declined = fields.Boolean(metadata={
        "description": "true: the owner did not agree to report (telemetry-enabled false or null, as in Camunda "
        "7.14-7.16's initial message); kept apart, never counted."})


def _answer(description: str, schema: str | dict[str, Any] | None = None, media: str = _JSON) -> dict[str, Any]:
    if schema is None:
        return {"description": description}
    return {"description": description, "content": {media: {"schema": schema}}}


def _guarded(operation: dict[str, Any]) -> dict[str, Any]:
    """An operation behind the ``authorize`` hook."""
    operation["responses"].update({
        "401": _answer("The authorize hook requires authentication.", "CamundaError"),
        "403": _answer("The authorize hook refused the request.", "CamundaAuthorizationError"),
        "503": _answer("The collector's database cannot be reached.", "CamundaError"),
    })
    return operation


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"in": "query", "name": name, "required": False, "description": description,
            "schema": schema or {"type": "string", "minLength": 1}}


def _receiving() -> dict[str, Any]:
    return {
        "operationId": "receiveReport",
        "tags": ["Receiving"],
        "summary": "Receive a report",
        "description": "The document GET /telemetry/data returns, as flask-camunda-telemetry or Camunda 7.14-7.21 "
        "send it. Unknown keys are kept. A resend replaces the stored report: the same installation and report id; "
        "without one, the same data-collection-start-date with every count at least the stored one's; without "
        f"either, the same document within the resend window. At most {MAX_NAMES:,} command names.",
        "security": [{"bearer": []}, {}],
        "parameters": [{"in": "header", "name": header, "required": False,
                        "schema": {"type": "string", "pattern": "^[!-~]{1,128}$"},
                        "description": "Identifies the report across resends."} for header in REPORT_ID_HEADERS],
        "requestBody": {"required": True, "content": {_JSON: {"schema": "ReceivedReport"}}},
        "responses": {
            "202": _answer("Stored (with replaced), or kept apart (with declined).", "Accepted"),
            "400": _answer("The body is not a valid report.", "CamundaError"),
            "401": _answer("A token is required (CAMUNDA_TELEMETRY_COLLECTOR_TOKENS) and none valid was sent.",
                           "CamundaError"),
            "413": _answer("The body is larger than CAMUNDA_TELEMETRY_COLLECTOR_MAX_BODY.", "CamundaError"),
            "415": _answer("The content type is not application/json.", "CamundaError"),
            "503": _answer("The collector's database cannot be reached; send again later.", "CamundaError"),
        },
    }


def _installations() -> dict[str, Any]:
    """``GET /api/installations``: a page at a time (see :mod:`.paging`)."""
    return {
        "operationId": "listInstallations", "tags": ["API"], "summary": "The installations, a page at a time",
        "description": "Every installation that reports (never one whose owner declined), the latest to report "
        "first (ties: the installation id, descending), a page at a time. An installation that reports while a "
        "client pages moves to the front: a walk lists every other installation exactly once, in order.",
        "parameters": [
            _query("limit", f"Installations per page (default {DEFAULT_LIMIT}).",
                   {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}),
            _query("after", "The page after this position: a cursor from the Link header of the page before; "
                   "opaque.", _CURSOR_SCHEMA),
        ],
        "responses": {
            "200": {"description": "A page; latest first. The last page has no Link header.",
                    "headers": {"Link": {"required": False, "description": _LINK,
                                         "schema": {"type": "string"}}},
                    "content": {_JSON: {"schema": {"type": "array", "items": "Installation"}}}},
            "400": _answer("An unknown parameter, a limit out of range, or a cursor this collector did not "
                           "write.", "CamundaError"),
        },
    }


def _operations() -> dict[str, dict[str, Any]]:
    moment = {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]}
    usage_filters = [
        _query("installation", "Only this installation's reports."),
        _query("since", "Reports received from this ISO date (its whole day) or date-time on.", moment),
        _query("until", "Reports received up to this ISO date (its whole day) or date-time.", moment),
        _query("version", "Only reports of this product version."),
    ]
    return {
        "/pings": {"post": _receiving()},
        "/api/installations": {"get": _guarded(_installations())},
        "/api/usage": {"get": _guarded({
            "operationId": "usage", "tags": ["API"], "summary": "Commands and metrics summed over reports",
            "parameters": usage_filters,
            "responses": {"200": _answer("The totals.", "Usage"),
                          "400": _answer("An unknown parameter or a malformed date.", "CamundaError")},
        })},
        "/": {"get": _guarded({
            "operationId": "overviewPage", "tags": ["Dashboard"], "summary": "The fleet (HTML)",
            "parameters": [_query("after", "List the installations after this position (the Older link); a cursor, "
                                  "opaque.", _CURSOR_SCHEMA),
                           _query("before", "List the installations before this position (the Newer link), unless "
                                  "after is given.", _CURSOR_SCHEMA)],
            "responses": {"200": _answer("The page.", {"type": "string"}, _HTML),
                          "400": _answer("A cursor this collector did not write.", "CamundaError")},
        })},
        "/installations/{installation}": {"get": _guarded({
            "operationId": "installationPage", "tags": ["Dashboard"], "summary": "One installation (HTML)",
            "parameters": [{"in": "path", "name": "installation", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": _answer("The page.", {"type": "string"}, _HTML),
                          "404": _answer("No report from this installation is stored.", "CamundaError")},
        })},
        "/api/openapi.json": {"get": {
            "operationId": "openapi", "tags": ["API"], "summary": "This description",
            "responses": {"200": _answer("OpenAPI 3.1.", {"type": "object"})},
        }},
    }


def build_spec(url_prefix: str) -> dict[str, Any]:
    """The description of the routes under ``url_prefix``."""
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="Camunda telemetry collector",
        version=importlib.metadata.version("flask-camunda-telemetry"),
        openapi_version="3.1.0",
        plugins=[plugin],
        info={"description": "Receives telemetry reports and shows the fleet; flask-camunda-telemetry's collector."},
    )
    plugin.map_to_openapi_type(CamundaDateTime, "string", None)  # type: ignore[no-untyped-call]
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    for name, schema in (("ReceivedReport", ReceivedReportSchema), ("Accepted", AcceptedSchema),
                         ("Installation", InstallationSchema), ("Usage", UsageSchema), ("CamundaError", ErrorSchema),
                         ("CamundaAuthorizationError", AuthorizationErrorSchema)):
        spec.components.schema(name, schema=schema)
    for path, operations in _operations().items():
        spec.path(path=url_prefix + path, operations=operations)
    document = spec.to_dict()
    for counts in ("commands", "metrics"):  # OpenAPI 3.1's propertyNames, which apispec does not write
        document["components"]["schemas"]["ReceivedInternals"]["properties"][counts]["propertyNames"] = {
            "minLength": 1, "maxLength": NAME_LENGTH, "pattern": NAME_PATTERN,
        }
    return document
