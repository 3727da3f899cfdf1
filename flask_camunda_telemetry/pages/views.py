"""The page blueprint: ``GET /telemetry/`` (HTML) and its static files.

The page is guarded by the ``authorize`` hook as the data is, and carries a strict
``Content-Security-Policy``: the CSS and JavaScript are files of this package, nothing is inline
and nothing comes from another origin. Its refusals and a database outage are HTML pages with the
same status codes as the JSON routes'; every other error (a wrong method, a missing static file)
is JSON in Camunda's shape, as under the rest of ``/telemetry/``.
"""

from __future__ import annotations

import logging
import os

from flask import Blueprint, Response, current_app, render_template, request, url_for

from ..clock import now
from ..exceptions import DatabasePermissionError, DatabaseUnavailableError, TableMissingError
from ..state import OPENAPI_ENDPOINT, get_state
from ..web.guards import WWW_AUTHENTICATE, Refusal, admit
from ..web.responses import register_json_errors
from ..web.routes import add_blueprint_route, add_static_route
from .context import page_context

PAGE_BLUEPRINT_NAME = "camunda_telemetry_page"
#: No inline script or style, nothing from another origin, no framing; forms only to the page.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_STATIC = os.path.join(os.path.dirname(__file__), "static")
_QUERY_LIMIT = 255  # a command name is at most 255 characters

log = logging.getLogger("flask_camunda_telemetry")

#: The title of the 503 page, by what is wrong.
_UNAVAILABLE = {
    DatabaseUnavailableError: "The telemetry database cannot be reached",
    DatabasePermissionError: "The telemetry database refuses access",
    TableMissingError: "A telemetry table is missing",
}


def _error_page(status: int, title: str, message: str) -> Response:
    html = render_template("camunda_telemetry/error.html", status=status, title=title, message=message)
    return current_app.response_class(html, status=status, mimetype="text/html")


def _refusal_page(refusal: Refusal) -> Response:
    if refusal.status == 401:
        response = _error_page(401, "Sign in to read the telemetry", refusal.message)
        response.headers["WWW-Authenticate"] = WWW_AUTHENTICATE
        return response
    who = "This request" if refusal.user_id is None else f"The user '{refusal.user_id}'"
    return _error_page(403, "Not allowed", f"{who} may not read the telemetry data of this installation.")


def telemetry_page() -> Response:
    state = get_state()
    stop = admit(("GET", "HEAD"), state.ext.authorize, _refusal_page)
    if stop is not None:
        return stop
    state.observe_server(request.environ)
    openapi_url = url_for(OPENAPI_ENDPOINT) if state.config.openapi_url else None
    try:
        context = page_context(
            state.read("data", state.document),
            state.config,
            state.reporting,
            query=request.args.get("q", "")[:_QUERY_LIMIT],
            openapi_url=openapi_url,
            now=now(),
            covers=state.counts.covers,
            shared=state.counts.shared,
        )
    except DatabaseUnavailableError as exc:  # the store logged the detail once for this outage
        log.debug("telemetry page unavailable: %s (%s)", exc, exc.detail)
        response = _error_page(503, _UNAVAILABLE.get(type(exc), _UNAVAILABLE[DatabaseUnavailableError]), str(exc))
        response.headers["Retry-After"] = "10"
        return response
    html = render_template("camunda_telemetry/page.html", page=context)
    return current_app.response_class(html, mimetype="text/html")


def _secure(response: Response) -> Response:
    if response.mimetype == "text/html":
        for name, value in _HEADERS.items():
            response.headers.setdefault(name, value)
    return response


def make_page_blueprint() -> Blueprint:
    """The page; registered once per configured URL prefix, next to the JSON routes."""
    blueprint = Blueprint(PAGE_BLUEPRINT_NAME, __name__, template_folder="templates")
    add_static_route(blueprint, "/telemetry/static", _STATIC)
    add_blueprint_route(blueprint, "/telemetry/", telemetry_page)
    blueprint.after_request(_secure)
    register_json_errors(blueprint)
    return blueprint
