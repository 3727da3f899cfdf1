"""Camunda-shaped JSON error responses: ``{"type", "message", "code"}``.

``type`` is the name of the exception Camunda's REST API reports for the same case.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, Response, current_app
from werkzeug.exceptions import HTTPException, default_exceptions

from ..exceptions import DatabaseUnavailableError

log = logging.getLogger("flask_camunda_telemetry")

#: HTTP status -> the exception type Camunda's REST layer names in its body.
_TYPES = {
    400: "InvalidRequestException",
    401: "AuthenticationException",
    403: "AuthorizationException",
    404: "NotFoundException",
    405: "NotAllowedException",
    406: "NotAcceptableException",
    413: "InvalidRequestException",
    415: "NotSupportedException",
    503: "ProcessEngineException",
}


def json_response(body: Any, status: int = 200) -> Response:
    """JSON with keys in the order given (Camunda's order), whatever the app's JSON settings."""
    return current_app.response_class(
        json.dumps(body, separators=(",", ":"), ensure_ascii=False), status=status, mimetype="application/json"
    )


def error_response(
    status: int, message: str, type_: str | None = None, code: int | None = None, **extra: Any
) -> Response:
    body = {"type": type_ or _TYPES.get(status, "RestException"), "message": message, "code": code, **extra}
    return json_response(body, status)


def authorization_error(user_id: str | None, permission: str = "READ", resource: str = "System") -> Response:
    """403 with Camunda's AuthorizationException body."""
    missing = [{"permissionName": permission, "resourceName": resource, "resourceId": "*"}]
    return error_response(
        403,
        f"The user with id '{user_id}' does not have one of the following permissions: "
        f"'{permission}' permission on resource '{resource}'.",
        code=0,
        userId=user_id,
        permissionName=permission,
        resourceName=resource,
        resourceId="*",
        missingAuthorizations=missing,
    )


def handle_exception(exc: Exception) -> Response:
    """Every error from the extension's own routes, as JSON; the host's handlers are untouched."""
    if isinstance(exc, HTTPException):
        response = error_response(exc.code or 500, exc.description or exc.name)
        original = exc.get_response()
        for header in ("Allow", "WWW-Authenticate", "Retry-After"):
            if header in original.headers:
                response.headers[header] = original.headers[header]
        return response
    if isinstance(exc, DatabaseUnavailableError):
        # The message says what is true and what to do, without SQL or driver text; the store
        # has logged the detail once for this outage, so nothing is logged per request here.
        log.debug("telemetry data unavailable: %s (%s)", exc, exc.detail)
        response = error_response(503, str(exc), code=0)
        response.headers["Retry-After"] = "10"
        return response
    log.exception("unexpected error in the telemetry endpoint")
    return error_response(
        500,
        "An unexpected error occurred while answering this request; the server log has the details.",
        type_="ProcessEngineException",
        code=0,
    )


def register_json_errors(blueprint: Blueprint) -> None:
    """Answer every error of ``blueprint``'s routes with :func:`handle_exception`."""
    # By code as well: Flask prefers an app's handler for a code over a blueprint's for a class.
    for code in default_exceptions:
        blueprint.register_error_handler(code, handle_exception)
    blueprint.register_error_handler(Exception, handle_exception)
