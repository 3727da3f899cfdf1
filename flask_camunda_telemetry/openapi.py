"""An OpenAPI 3 description of the extension's routes, generated from the marshmallow schemas.

:func:`build_spec` makes a standalone description; :func:`add_to_spec` adds the routes and
schemas to an existing ``apispec.APISpec`` (flask-smorest's ``api.spec``). Needs ``apispec``
(``pip install flask-camunda-telemetry[openapi]``).
"""

from __future__ import annotations

import importlib.metadata
from typing import TYPE_CHECKING, Any

from .document.schemas import (
    AuthorizationErrorSchema,
    CamundaDateTime,
    ErrorSchema,
    TelemetryConfigurationSchema,
    TelemetryConsentSchema,
    TelemetryDataSchema,
)

if TYPE_CHECKING:
    from apispec import APISpec

__all__ = ["add_to_spec", "build_spec"]

_JSON = "application/json"


def _error(description: str, schema: str = "CamundaError") -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _operations() -> dict[str, dict[str, Any]]:
    return {
        "/telemetry/data": {
            "get": {
                "operationId": "getTelemetryData",
                "tags": ["Telemetry"],
                "summary": "Fetch telemetry data",
                "description": "The telemetry data of this installation, as Camunda 7 returns it: what a "
                "report sends, when CAMUNDA_TELEMETRY_REPORT_URL is set and the owner consented.",
                "responses": {
                    "200": {"description": "Request successful.", "content": {_JSON: {"schema": "TelemetryData"}}},
                    "401": _error("The authorize hook requires authentication."),
                    "403": _error("The authorize hook refused the request.", "CamundaAuthorizationError"),
                    "503": _error("The telemetry database cannot be reached."),
                },
            }
        },
        "/telemetry/configuration": _configuration(),
    }


def _configuration() -> dict[str, Any]:
    return {
        "get": {
            "operationId": "getTelemetryConfiguration",
            "tags": ["Telemetry"],
            "summary": "Fetch telemetry configuration",
            "description": "With CAMUNDA_TELEMETRY_REPORT_URL set: the consent every process on the database "
            "shares (true, false, or null while undecided). Without it: always false, as in Camunda 7.22+, "
            "and nothing is ever sent.",
            "responses": {
                "200": {"description": "Request successful.",
                        "content": {_JSON: {"schema": "TelemetryConsent"}}},
                "401": _error("The authorize hook requires authentication (with REPORT_URL)."),
                "403": _error("The authorize hook refused the request (with REPORT_URL).",
                              "CamundaAuthorizationError"),
                "503": _error("The telemetry database cannot be reached (with REPORT_URL)."),
            },
        },
        "post": {
            "operationId": "configureTelemetry",
            "tags": ["Telemetry"],
            "summary": "Configure telemetry",
            "description": "With CAMUNDA_TELEMETRY_REPORT_URL set: stores the consent for every process "
            "(false or undecided to true starts the counts the document shows from zero). Without it: "
            "accepted and ignored, as in Camunda 7.22+.",
            "requestBody": {"required": True, "content": {_JSON: {"schema": "TelemetryConfiguration"}}},
            "responses": {
                "204": {"description": "Request successful."},
                "400": _error("The body is not JSON, or enableTelemetry is missing or not a boolean."),
                "401": _error("The authorize hook requires authentication (with REPORT_URL)."),
                "403": _error("The authorize hook refused the request (with REPORT_URL).",
                              "CamundaAuthorizationError"),
                "415": _error("The content type is not application/json (with REPORT_URL)."),
                "503": _error("The telemetry database cannot be reached (with REPORT_URL)."),
            },
        },
    }


def add_to_spec(spec: APISpec, url_prefix: str = "") -> APISpec:
    """Add the schemas and the routes (under ``url_prefix``) to ``spec``."""
    plugin = next((p for p in spec.plugins if hasattr(p, "map_to_openapi_type")), None)
    if plugin is not None:
        plugin.map_to_openapi_type(CamundaDateTime, "string", None)
    spec.components.schema("TelemetryData", schema=TelemetryDataSchema)
    spec.components.schema("TelemetryConfiguration", schema=TelemetryConfigurationSchema)
    spec.components.schema("TelemetryConsent", schema=TelemetryConsentSchema)
    spec.components.schema("CamundaError", schema=ErrorSchema)
    spec.components.schema("CamundaAuthorizationError", schema=AuthorizationErrorSchema)
    for path, operations in _operations().items():
        spec.path(path=url_prefix + path, operations=operations)
    return spec


def build_spec(url_prefix: str = "") -> dict[str, Any]:
    """A complete OpenAPI 3.1 document for the routes under ``url_prefix``."""
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    spec = APISpec(
        title="Camunda telemetry",
        version=importlib.metadata.version("flask-camunda-telemetry"),
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin()],
        info={"description": "Camunda 7's telemetry endpoints, served by flask-camunda-telemetry."},
    )
    return add_to_spec(spec, url_prefix).to_dict()
