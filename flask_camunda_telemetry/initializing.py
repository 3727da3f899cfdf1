"""What ``init_app`` does to an app: validate the config, make the app's state, install the
request hook, register the routes, the page and the CLI group.

Imported by :meth:`.TelemetryExt.init_app` with the first app, so that importing the package
loads none of it.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from flask import Flask

from .commandline import telemetry_cli
from .config import load_config
from .exceptions import AlreadyInitializedError, ConfigurationError
from .pages.views import PAGE_BLUEPRINT_NAME, make_page_blueprint
from .rest.blueprint import BLUEPRINT_NAME, make_blueprint, serve_openapi
from .state import EXTENSION_KEY, OPENAPI_ENDPOINT, PROMETHEUS_ENDPOINT, Hooks, TelemetryState
from .storage.engines import resolve_database
from .storage.store import TelemetryStore
from .storage.tables import define_tables
from .web.routes import add_app_route

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy


def _names(base: str, prefixes: tuple[str, ...]) -> tuple[str, ...]:
    """A blueprint's registration name at each URL prefix: ``base``, ``base_2``, ..."""
    return tuple(base if i == 0 else f"{base}_{i + 1}" for i in range(len(prefixes)))


_PROMETHEUS_EXTRA = "install the 'prometheus' extra: pip install 'flask-camunda-telemetry[prometheus]'"


def prometheus_module() -> ModuleType:
    """:mod:`.prometheus`, which needs prometheus_client (raises ModuleNotFoundError saying what to install)."""
    try:
        from . import prometheus
    except ModuleNotFoundError as exc:
        if exc.name != "prometheus_client":
            raise
        raise ModuleNotFoundError(f"prometheus_client is not installed: {_PROMETHEUS_EXTRA}", name=exc.name) from exc
    return prometheus


def _prometheus_for(url: str | None) -> ModuleType | None:
    """:mod:`.prometheus` when ``CAMUNDA_TELEMETRY_PROMETHEUS_URL`` is set; ConfigurationError if it cannot be."""
    if url is None:
        return None
    try:
        return prometheus_module()
    except ModuleNotFoundError:
        raise ConfigurationError(
            "CAMUNDA_TELEMETRY_PROMETHEUS_URL", url,
            f"serving it needs prometheus_client, which is missing: {_PROMETHEUS_EXTRA} (or set the key to None)",
        ) from None


class Extension(Hooks, Protocol):
    """What ``init_app`` reads of the extension object (a :class:`~.TelemetryExt`)."""

    @property
    def db(self) -> SQLAlchemy | None: ...
    @property
    def options(self) -> Mapping[str, Any]: ...


def initialize(ext: Extension, app: Flask) -> None:
    """``ext.init_app(app)``."""
    if EXTENSION_KEY in app.extensions:
        raise AlreadyInitializedError(
            f"TelemetryExt is already initialized on app {app.import_name!r}; "
            "call init_app once per app and reuse that extension object."
        )
    config = load_config(app.config, ext.options)
    prometheus = _prometheus_for(config.prometheus_url)
    metadata, engine = resolve_database(
        app, ext.db, config.bind_key, config.database_uri, timeout=config.db_timeout
    )
    tables = define_tables(metadata, config.property_table, config.count_table)
    blueprint_names = _names(BLUEPRINT_NAME, config.url_prefixes)
    page_names = _names(PAGE_BLUEPRINT_NAME, config.url_prefixes)
    store = TelemetryStore(tables, engine, config.create_tables)
    state = TelemetryState(app, ext, config, store, frozenset(blueprint_names + page_names))
    app.extensions[EXTENSION_KEY] = state
    app.before_request(state.counter.count)
    if config.url_prefixes:
        blueprint, page = make_blueprint(), make_page_blueprint()
        for name, page_name, prefix in zip(blueprint_names, page_names, config.url_prefixes, strict=True):
            app.register_blueprint(blueprint, name=name, url_prefix=prefix or None)
            app.register_blueprint(page, name=page_name, url_prefix=prefix or None)
    if config.openapi_url:
        add_app_route(app, config.openapi_url, OPENAPI_ENDPOINT, serve_openapi)
    if prometheus is not None and config.prometheus_url:
        add_app_route(app, config.prometheus_url, PROMETHEUS_ENDPOINT, prometheus.serve_prometheus_metrics)
    app.cli.add_command(telemetry_cli)
