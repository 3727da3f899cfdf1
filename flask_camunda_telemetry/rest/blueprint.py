"""The blueprint: ``/telemetry/data``, ``/telemetry/configuration``, and JSON errors for both.

Every route answers JSON in Camunda's shape, including for a wrong method (405 with ``Allow``)
and an unknown sub-path under ``/telemetry/`` (404). ``/telemetry/`` itself is the page
(:mod:`..pages`).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, request
from werkzeug.exceptions import BadRequest, NotFound, RequestEntityTooLarge

from ..document.schemas import TelemetryDataSchema
from ..state import get_state
from .guards import ANY_METHOD, admit, allow, refusal_response
from .openapi import build_spec
from .responses import json_response, register_json_errors

__all__ = ["BLUEPRINT_NAME", "make_blueprint", "serve_openapi"]

BLUEPRINT_NAME = "camunda_telemetry"

_MAX_BODY = 64 * 1024  # a configuration body is a few bytes; never buffer more than this
_data_schema = TelemetryDataSchema()


def telemetry_data() -> Response:
    stop = admit(("GET", "HEAD"), refusal_response)
    if stop is not None:
        return stop
    state = get_state()
    state.observe_server(request.environ)
    return json_response(_data_schema.dump(state.collect()))


def telemetry_configuration() -> Response | tuple[str, int]:
    options = allow("GET", "HEAD", "POST")
    if options is not None:
        return options
    if request.method != "POST":
        return json_response({"enableTelemetry": False})
    raw = request.stream.read(_MAX_BODY + 1)
    if len(raw) > _MAX_BODY:
        raise RequestEntityTooLarge(f"The request body is larger than {_MAX_BODY} bytes.")
    try:
        body: Any = json.loads(raw or b"null")
    except ValueError as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict) or not isinstance(body.get("enableTelemetry"), bool):
        raise BadRequest('The body must be a JSON object {"enableTelemetry": true|false}.')
    return "", 204  # nothing is ever sent, so there is nothing to switch (as in Camunda 7.22+)


def unknown_resource(subpath: str) -> Response:
    rule = request.url_rule.rule if request.url_rule else "/telemetry/"
    root = request.script_root + rule[: rule.index("/telemetry/")]
    raise NotFound(
        f"There is no telemetry resource at '{request.path}'. "
        f"The resources are '{root}/telemetry/data' and '{root}/telemetry/configuration', "
        f"and the page '{root}/telemetry/'."
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
        ("/telemetry/<path:subpath>", unknown_resource),
    ):
        blueprint.add_url_rule(rule, view_func=view, methods=ANY_METHOD, provide_automatic_options=False)
    register_json_errors(blueprint)
    return blueprint
