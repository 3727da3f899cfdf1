"""``TelemetryCollector``: the collector's Flask extension object."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response
from werkzeug.exceptions import NotFound
from werkzeug.routing import PathConverter

from ..commandline import collector_cli
from ..exceptions import AlreadyInitializedError
from ..hosting import ExtensionObject
from ..storage.engines import resolve_database
from ..web.guards import allow
from ..web.responses import error_response, json_response, register_json_errors
from ..web.routes import add_blueprint_route, add_static_route, refuse_other_methods
from .api import api_installations, api_usage
from .config import load_config
from .dashboard import installation_page, overview_page
from .openapi import build_spec
from .receive import receive_report
from .state import EXTENSION_KEY, CollectorState, get_collector_state
from .store import CollectorStore
from .tables import define_tables

BLUEPRINT_NAME = "camunda_telemetry_collector"
#: The SQLite file in the instance folder used when nothing else names a database.
SQLITE_FILE = "camunda_telemetry_collector.sqlite"
F = TypeVar("F", bound=Callable[..., Any])
_STATIC = os.path.join(os.path.dirname(__file__), "static")


def _openapi() -> Response:
    options = allow("GET", "HEAD")
    if options is not None:
        return options
    try:
        return json_response(build_spec(get_collector_state().config.url_prefix))
    except ImportError:
        return error_response(501, "The OpenAPI description needs apispec: "
                              "pip install 'flask-camunda-telemetry[openapi]'.")


def _unknown(subpath: str) -> Response:
    refuse_other_methods()  # the static files' GET, say
    raise NotFound("No such collector resource. The routes are pings, api/installations, api/usage, "
                   "api/openapi.json, and the dashboard pages.")


class AnyPath(PathConverter):
    """Like ``path``, with line breaks too (an installation id may hold one)."""

    regex = "(?s:[^/].*?)"


def make_blueprint(url_prefix: str) -> Blueprint:
    blueprint = Blueprint(BLUEPRINT_NAME, __name__, template_folder="templates")
    add_static_route(blueprint, "/assets", _STATIC)
    routes: list[tuple[str, Callable[..., Response]]] = [
        ("/pings", receive_report),
        ("/api/installations", api_installations),
        ("/api/usage", api_usage),
        ("/api/openapi.json", _openapi),
        ("/", overview_page),
        ("/installations/<collector_path:installation>", installation_page),
    ]
    if url_prefix:  # under a prefix every other path is the collector's (a JSON 404)
        routes.append(("/<collector_path:subpath>", _unknown))
    for rule, view in routes:
        add_blueprint_route(blueprint, rule, view)
    register_json_errors(blueprint)
    return blueprint


class TelemetryCollector(ExtensionObject):
    """Receive telemetry reports, keep them, and show the fleet on a dashboard.

    :param app: the app; or call :meth:`init_app` later (app factory).
    :param db: a Flask-SQLAlchemy ``SQLAlchemy`` object: the tables join its metadata and its
        engine is used (``bind_key`` option / ``CAMUNDA_TELEMETRY_COLLECTOR_BIND_KEY`` picks a bind).
    :param authorize: a callable with no arguments deciding whether the current request may read
        the dashboard and the JSON API: truthy allows, falsy answers 403; it may raise
        :class:`~.AuthenticationRequired` (401) or :class:`~.AuthorizationDenied` (403). Senders
        are checked by ``CAMUNDA_TELEMETRY_COLLECTOR_TOKENS`` alone.
    :param options: defaults for the ``CAMUNDA_TELEMETRY_COLLECTOR_*`` keys, in lower case without
        the prefix (``url_prefix="/telemetry-collector"``); values already in ``app.config`` win.

    Per-app state lives in ``app.extensions["camunda_telemetry_collector"]``.

    .. versionadded:: 0.2.0
    """

    def init_app(self, app: Flask) -> None:
        """Validate the config, then register the routes and the CLI. Opens no connection."""
        if EXTENSION_KEY in app.extensions:
            raise AlreadyInitializedError(
                f"TelemetryCollector is already initialized on app {app.import_name!r}; call init_app once per app."
            )
        config = load_config(app.config, self.options)
        metadata, engine = resolve_database(app, self.db, config.bind_key, config.database_uri, SQLITE_FILE,
                                            timeout=config.db_timeout)
        store = CollectorStore(define_tables(metadata, config.table_prefix), engine, config.create_tables,
                               dt.timedelta(seconds=config.resend_window))
        app.extensions[EXTENSION_KEY] = CollectorState(config, store, self)
        app.url_map.converters.setdefault("collector_path", AnyPath)
        app.register_blueprint(make_blueprint(config.url_prefix), url_prefix=config.url_prefix or None)
        app.cli.add_command(collector_cli)

    def state(self, app: Flask | None = None) -> CollectorState:
        """The state of ``app`` (default: the current app); raises NotInitializedError.

        :meta private:
        """
        return get_collector_state(app)

    def close(self, app: Flask | None = None) -> None:
        """Dispose of the collector's own engine (never the host's); it is made anew if used again."""
        get_collector_state(app).close()
