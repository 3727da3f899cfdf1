"""The blueprint: ``/telemetry/data``, ``/telemetry/configuration``, and JSON errors for both.

Every route answers JSON in Camunda's shape, including for a wrong method (405 with ``Allow``)
and an unknown sub-path under ``/telemetry/`` (404).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import (
    BadRequest,
    MethodNotAllowed,
    NotFound,
    RequestEntityTooLarge,
    UnsupportedMediaType,
    default_exceptions,
)

from ..document.schemas import TelemetryDataSchema
from ..exceptions import AuthenticationRequired, AuthorizationDenied
from ..state import TelemetryState, get_state
from .openapi import build_spec
from .responses import authorization_error, error_response, handle_exception, json_response

__all__ = ["ANY_METHOD", "BLUEPRINT_NAME", "allow_methods", "make_blueprint", "refuse_unauthorized", "serve_openapi"]

BLUEPRINT_NAME = "camunda_telemetry"

# Routes accept every common method so that a wrong one gets a JSON 405 from this blueprint's
# handler rather than the host app's HTML one; OPTIONS is answered here with the real methods.
ANY_METHOD = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "QUERY")
_MAX_BODY = 64 * 1024  # a configuration body is a few bytes; never buffer more than this
_data_schema = TelemetryDataSchema()


def allow_methods(*methods: str) -> Response | None:
    """None when the request's method is one of ``methods``; the OPTIONS answer; else a 405."""
    allowed = [*methods, "OPTIONS"]
    if request.method == "OPTIONS":
        response = current_app.response_class(status=200)
        response.headers["Allow"] = ", ".join(allowed)
        return response
    if request.method not in methods:
        raise MethodNotAllowed(valid_methods=allowed)
    return None


def refuse_unauthorized(state: TelemetryState, permission: str = "READ") -> Response | None:
    """None when the request may read the data (or, for ``SET``, change the consent), else the
    401/403 response."""
    hook = state.authorizer()
    if hook is None:
        return None
    try:
        allowed = hook()
    except AuthenticationRequired as exc:
        response = error_response(401, str(exc), type_="AuthenticationException")
        response.headers["WWW-Authenticate"] = 'Bearer realm="telemetry"'
        return response
    except AuthorizationDenied as exc:
        return authorization_error(exc.user_id, permission)
    return None if allowed else authorization_error(None, permission)


def telemetry_data() -> Response:
    options = allow_methods("GET", "HEAD")
    if options is not None:
        return options
    state = get_state()
    refused = refuse_unauthorized(state)
    if refused is not None:
        return refused
    state.observe_server(request.environ)
    return json_response(_data_schema.dump(state.collect()))


def _consent_body() -> bool:
    """``enableTelemetry`` of the request's JSON body (400 when it is not a boolean)."""
    raw = request.stream.read(_MAX_BODY + 1)
    if len(raw) > _MAX_BODY:
        raise RequestEntityTooLarge(f"The request body is larger than {_MAX_BODY} bytes.")
    try:
        body: Any = json.loads(raw or b"null")
    except ValueError as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict) or not isinstance(body.get("enableTelemetry"), bool):
        raise BadRequest('The body must be a JSON object {"enableTelemetry": true|false}.')
    return bool(body["enableTelemetry"])


def telemetry_configuration() -> Response | tuple[str, int]:
    """Without ``REPORT_URL``, Camunda 7.22's stub: ``false``, and a POST changes nothing. With
    it, the consent every process shares: read, and stored by a JSON POST (the same
    ``authorize`` hook guards both; a cross-site form cannot send JSON, so it cannot switch it)."""
    options = allow_methods("GET", "HEAD", "POST")
    if options is not None:
        return options
    state = get_state()
    reporting = state.reporting
    if reporting is None:
        if request.method != "POST":
            return json_response({"enableTelemetry": False})
        _consent_body()
        return "", 204  # nothing is ever sent, so there is nothing to switch (as in Camunda 7.22+)
    refused = refuse_unauthorized(state, "SET" if request.method == "POST" else "READ")
    if refused is not None:
        return refused
    if request.method != "POST":
        return json_response({"enableTelemetry": reporting.consent()})
    if request.mimetype != "application/json":
        raise UnsupportedMediaType(
            f"The consent is changed with a JSON body: send 'Content-Type: application/json', "
            f"not {request.content_type or 'no content type'!r}."
        )
    reporting.set_consent(_consent_body())
    return "", 204


def unknown_resource(subpath: str = "") -> Response:
    rule = request.url_rule.rule if request.url_rule else "/telemetry/"
    root = request.script_root + rule[: rule.index("/telemetry/")]
    raise NotFound(
        f"There is no telemetry resource at '{request.path}'. "
        f"The resources are '{root}/telemetry/data' and '{root}/telemetry/configuration'."
    )


def serve_openapi() -> Response:
    """``CAMUNDA_TELEMETRY_OPENAPI_URL``: the OpenAPI description of the first URL prefix."""
    prefixes = get_state().config.url_prefixes
    return json_response(build_spec(prefixes[0] if prefixes else ""))


def make_blueprint() -> Blueprint:
    """The routes; registered once per configured URL prefix."""
    blueprint = Blueprint(BLUEPRINT_NAME, __name__)
    for rule, view in (
        ("/telemetry/data", telemetry_data),
        ("/telemetry/configuration", telemetry_configuration),
        ("/telemetry/", unknown_resource),
        ("/telemetry/<path:subpath>", unknown_resource),
    ):
        blueprint.add_url_rule(rule, view_func=view, methods=ANY_METHOD, provide_automatic_options=False)
    # By code as well: Flask prefers an app's handler for a code over a blueprint's for a class.
    for code in default_exceptions:
        blueprint.register_error_handler(code, handle_exception)
    blueprint.register_error_handler(Exception, handle_exception)
    return blueprint
