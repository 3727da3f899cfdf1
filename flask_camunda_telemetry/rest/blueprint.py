"""The blueprint: ``/telemetry/data``, ``/telemetry/configuration``, and JSON errors for both.

Every route answers JSON in Camunda's shape, including for a wrong method, whatever it is (405
with ``Allow``: the routes take every method, see :mod:`..web.routes`), a body that is not JSON
or nests too deeply (400), and an unknown sub-path under ``/telemetry/`` (404). ``/telemetry/``
itself is the page (:mod:`..pages`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request
from werkzeug.exceptions import (
    BadRequest,
    NotFound,
    RequestEntityTooLarge,
    UnsupportedMediaType,
)

from ..document.schemas import TelemetryDataSchema
from ..openapi import build_spec
from ..state import get_state
from ..web.bodies import JsonTooDeepError, load_json
from ..web.guards import admit, allow, check_hook, refusal_response
from ..web.responses import handle_exception, json_response, register_json_errors
from ..web.routes import add_blueprint_route, refuse_other_methods

BLUEPRINT_NAME = "camunda_telemetry"

_MAX_BODY = 64 * 1024  # a configuration body is a few bytes; never buffer more than this
_data_schema = TelemetryDataSchema()


def telemetry_data() -> Response:
    state = get_state()
    stop = admit(("GET", "HEAD"), state.ext.authorize, refusal_response)
    if stop is not None:
        return stop
    state.observe_server(request.environ)
    return json_response(_data_schema.dump(state.read("data", state.document)))  # bounded: one read waits


def _consent_body() -> bool:
    """``enableTelemetry`` of the request's JSON body (400 when it is not a boolean)."""
    raw = request.stream.read(_MAX_BODY + 1)
    if len(raw) > _MAX_BODY:
        raise RequestEntityTooLarge(f"The request body is larger than {_MAX_BODY} bytes.")
    try:
        body: Any = load_json(raw or b"null")
    except JsonTooDeepError as exc:
        raise BadRequest(f"The request body is refused: {exc}.") from None
    except ValueError as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict) or not isinstance(body.get("enableTelemetry"), bool):
        raise BadRequest('The body must be a JSON object {"enableTelemetry": true|false}.')
    return bool(body["enableTelemetry"])


def telemetry_configuration() -> Response | tuple[str, int]:
    """Without ``REPORT_URL``, Camunda 7.22's stub: ``false``, and a POST changes nothing. With
    it, the consent every process shares: read, and stored by a JSON POST (the same
    ``authorize`` hook guards both; a cross-site form cannot send JSON, so it cannot switch it)."""
    options = allow("GET", "HEAD", "POST")
    if options is not None:
        return options
    state = get_state()
    reporting = state.reporting
    if reporting is None:
        if request.method != "POST":
            return json_response({"enableTelemetry": False})
        _consent_body()
        return "", 204  # nothing is ever sent, so there is nothing to switch (as in Camunda 7.22+)
    refusal = check_hook(state.ext.authorize)
    if refusal is not None:
        return refusal_response(refusal, "SET" if request.method == "POST" else "READ")
    if request.method != "POST":
        return json_response({"enableTelemetry": state.read("consent", reporting.consent)})
    if request.mimetype != "application/json":
        raise UnsupportedMediaType(
            f"The consent is changed with a JSON body: send 'Content-Type: application/json', "
            f"not {request.content_type or 'no content type'!r}."
        )
    reporting.set_consent(_consent_body())
    return "", 204


def unknown_resource(subpath: str) -> Response:
    refuse_other_methods()  # the static files' GET, say
    rule = request.url_rule.rule if request.url_rule else "/telemetry/"
    root = request.script_root + rule[: rule.index("/telemetry/")]
    raise NotFound(
        f"There is no telemetry resource at '{request.path}'. "
        f"The resources are '{root}/telemetry/data' and '{root}/telemetry/configuration', "
        f"and the page '{root}/telemetry/'."
    )


def serve_openapi() -> Response:
    """``CAMUNDA_TELEMETRY_OPENAPI_URL``: the OpenAPI description of the first URL prefix.
    A route of the app, not of the blueprint: it answers its errors as JSON itself."""
    try:
        options = allow("GET", "HEAD")
        if options is not None:
            return options
        prefixes = get_state().config.url_prefixes
        return json_response(build_spec(prefixes[0] if prefixes else ""))
    except Exception as exc:  # noqa: BLE001 - every failure answers JSON, as the other routes do
        return handle_exception(exc)


def make_blueprint() -> Blueprint:
    """The routes; registered once per configured URL prefix."""
    blueprint = Blueprint(BLUEPRINT_NAME, __name__)
    for rule, view in (
        ("/telemetry/data", telemetry_data),
        ("/telemetry/configuration", telemetry_configuration),
        ("/telemetry/<path:subpath>", unknown_resource),
    ):
        add_blueprint_route(blueprint, rule, view)
    register_json_errors(blueprint)
    return blueprint
