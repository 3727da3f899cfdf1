"""``TelemetryExt``: the Flask extension object."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask

from .cli import telemetry_cli
from .config import load_config
from .counting.commands import default_name, install_counting_hook, mark_command, validate_command_name
from .counting.names import checked_count
from .document.metrics import canonical_metric
from .document.model import TelemetryData
from .exceptions import AlreadyInitializedError, ConfigurationError
from .hosting import ExtensionObject
from .pages import PAGE_BLUEPRINT_NAME, make_page_blueprint
from .rest.blueprint import BLUEPRINT_NAME, make_blueprint, serve_openapi
from .rest.routes import add_app_route
from .state import EXTENSION_KEY, OPENAPI_ENDPOINT, PROMETHEUS_ENDPOINT, TelemetryState, get_state
from .storage.engines import resolve_database
from .storage.store import TelemetryStore
from .storage.tables import define_tables

if TYPE_CHECKING:

    from .prometheus import TelemetryCollector
    from .reporting import Reporting

__all__ = ["TelemetryExt"]

F = TypeVar("F", bound=Callable[..., Any])


def _names(base: str, prefixes: tuple[str, ...]) -> tuple[str, ...]:
    """A blueprint's registration name at each URL prefix: ``base``, ``base_2``, ..."""
    return tuple(base if i == 0 else f"{base}_{i + 1}" for i in range(len(prefixes)))


_PROMETHEUS_EXTRA = "install the 'prometheus' extra: pip install 'flask-camunda-telemetry[prometheus]'"


def _prometheus_module() -> ModuleType:
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
        return _prometheus_module()
    except ModuleNotFoundError:
        raise ConfigurationError(
            "CAMUNDA_TELEMETRY_PROMETHEUS_URL", url,
            f"serving it needs prometheus_client, which is missing: {_PROMETHEUS_EXTRA} (or set the key to None)",
        ) from None


class TelemetryExt(ExtensionObject):
    """Serve Camunda's ``GET /telemetry/data`` from a Flask app.

    :param app: the app; or call :meth:`init_app` later (app factory).
    :param db: a Flask-SQLAlchemy ``SQLAlchemy`` object: the tables join its metadata (so
        ``db.create_all()`` and Alembic see them) and its engine is used (``bind_key`` option /
        ``CAMUNDA_TELEMETRY_BIND_KEY`` picks a bind).
    :param authorize: a callable with no arguments deciding whether the current request may read
        the data (``/telemetry/data`` and the Prometheus route): truthy allows, falsy answers 403;
        it may raise :class:`~.AuthenticationRequired` (401) or :class:`~.AuthorizationDenied` (403).
    :param name_command: ``name_command(endpoint, view)`` returns the command name of an endpoint,
        or None not to count it; called once per endpoint, on its first request, for the endpoints
        the extension counts and whose view has no ``@telemetry.command`` name. A name that cannot
        be stored is made safe, with a warning; if the hook raises, the error is logged once and
        the endpoint counts under :meth:`default_command_name`. Also set by :meth:`command_namer`.
        See :doc:`frameworks`. (*New in 0.2.0.*)
    :param options: defaults for the ``CAMUNDA_TELEMETRY_*`` keys, named in lower case without
        the prefix (``scope="process"``); values already in ``app.config`` win.

    Per-app state lives in ``app.extensions["camunda_telemetry"]``; one object can serve many apps.
    """

    def init_app(self, app: Flask) -> None:
        """Validate the config, then install the hook, the blueprint and the CLI on ``app``.

        Opens no connection and starts no thread: safe before a fork (gunicorn ``--preload``).
        """
        if EXTENSION_KEY in app.extensions:
            raise AlreadyInitializedError(
                f"TelemetryExt is already initialized on app {app.import_name!r}; "
                "call init_app once per app and reuse that extension object."
            )
        config = load_config(app.config, self._options)
        prometheus = _prometheus_for(config.prometheus_url)
        metadata, engine = resolve_database(
            app, self.db, config.bind_key, config.database_uri, timeout=config.db_timeout
        )
        tables = define_tables(metadata, config.property_table, config.count_table)
        blueprint_names = _names(BLUEPRINT_NAME, config.url_prefixes)
        page_names = _names(PAGE_BLUEPRINT_NAME, config.url_prefixes)
        state = TelemetryState(
            app,
            config=config,
            store=TelemetryStore(tables, engine, config.create_tables),
            blueprint_names=frozenset(blueprint_names + page_names),
            authorizer=lambda: self.authorize,
            namer=lambda: self.name_command,
        )
        app.extensions[EXTENSION_KEY] = state
        install_counting_hook(app, state.names, state.resolve_name, state.count_resolved)
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

    def state(self, app: Flask | None = None) -> TelemetryState:
        """The state of ``app`` (default: the current app); raises NotInitializedError."""
        return get_state(app)

    # -- public API -----------------------------------------------------------------------

    def command(self, name: str) -> Callable[[F], F]:
        """Name the command a view counts as: ``@telemetry.command("StartProcessInstanceCmd")``.

        Works on view functions and on class-based views (the class).
        """
        validate_command_name(name)
        return lambda view: mark_command(view, name)

    @staticmethod
    def default_command_name(endpoint: str, view: Callable[..., Any] | None) -> str:
        """The command name the extension gives ``endpoint`` (served by ``view``) without a
        ``name_command`` hook: its ``@telemetry.command`` name, else the class name of a
        class-based view, else the endpoint with ``.`` turned into ``_``, made safe to store
        (with a warning) when it is not. A hook falls back to it:

        .. code-block:: python

            @telemetry.command_namer
            def name_command(endpoint, view):
                if endpoint.startswith("docs."):
                    return None
                return TelemetryExt.default_command_name(endpoint, view)

        .. versionadded:: 0.2.0
        """
        return default_name(endpoint, view)

    def count_command(self, name: str, n: int = 1, *, app: Flask | None = None) -> None:
        """Count a command run outside a request (a job, a CLI command).

        :raises InvalidCountError: ``name`` is not a non-empty string of at most 255 printable
            characters, or ``n`` is not an int from 1 to 1,000,000,000.

        .. versionchanged:: 0.2.0 ``n`` is bounded; errors are :class:`~.InvalidCountError`.
        """
        name, n = validate_command_name(name), checked_count(n, "count_command(n)")
        get_state(app).count_resolved(name, n)

    def mark_occurrence(self, name: str, count: int = 1, *, app: Flask | None = None) -> None:
        """Mark ``count`` occurrences of one of the four metrics (internal or public name).

        :raises UnknownMetricError: ``name`` is not one of them.
        :raises InvalidCountError: ``count`` is not an int from 1 to 1,000,000,000.

        .. versionchanged:: 0.2.0 ``count`` is bounded.
        """
        internal, count = canonical_metric(name), checked_count(count, "mark_occurrence(count)")
        get_state(app).mark_resolved(internal, count)

    def data(self, *, app: Flask | None = None) -> TelemetryData:
        """The current document as objects (what ``/telemetry/data`` serializes)."""
        return get_state(app).collect()

    def flush(self, *, app: Flask | None = None) -> None:
        """Write this process's unflushed counts to the database now (cluster scope)."""
        get_state(app).flush()

    def reset(self, *, app: Flask | None = None) -> None:
        """Zero the counts of every instance sharing the database; move the start date."""
        get_state(app).reset()

    def prometheus_collector(self, app: Flask | None = None) -> TelemetryCollector:
        """A ``prometheus_client`` collector of ``app``'s lifetime counts (default: the current
        app), for a host that serves its own ``/metrics``: register it on the host's registry
        (``registry.register(...)``, or prometheus_flask_exporter's ``metrics.registry``).

        Needs the ``prometheus`` extra. See :class:`~.prometheus.TelemetryCollector`.

        .. versionadded:: 0.2.0
        """
        collector: TelemetryCollector = _prometheus_module().TelemetryCollector(get_state(app))
        return collector

    def reporting(self, app: Flask | None = None) -> Reporting | None:
        """``app``'s reporting (default: the current app): consent, ``report_now``, ``status``;
        None without ``CAMUNDA_TELEMETRY_REPORT_URL``. See :class:`~.reporting.Reporting`.

        .. versionadded:: 0.2.0
        """
        return get_state(app).reporting

    def close(self, app: Flask | None = None) -> None:
        """Stop ``app``'s flush and report threads (waiting at most 2 s for a report in flight)
        after a last flush, and dispose of the extension's own engine (never the host's).
        Counting again later starts new threads.

        .. versionadded:: 0.2.0
        """
        get_state(app).close()
