"""``TelemetryExt``: the Flask extension object."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask

from .commandline import telemetry_cli
from .config import load_config
from .counting.commands import NameCommand, default_command_name, mark_command
from .counting.names import checked_count, validate_command_name
from .document.metrics import canonical_metric
from .document.model import TelemetryData
from .exceptions import AlreadyInitializedError, ConfigurationError
from .hosting import ExtensionObject
from .pages.views import PAGE_BLUEPRINT_NAME, make_page_blueprint
from .rest.blueprint import BLUEPRINT_NAME, make_blueprint, serve_openapi
from .state import EXTENSION_KEY, OPENAPI_ENDPOINT, PROMETHEUS_ENDPOINT, TelemetryState, get_state
from .storage.engines import resolve_database
from .storage.store import TelemetryStore
from .storage.tables import define_tables
from .web.routes import add_app_route

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy

    from .prometheus import TelemetryMetrics
    from .reporting.reporter import Reporting

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
    :param name_command: a callable ``(endpoint, view) -> str | None`` naming the command an
        endpoint counts as, or ``None`` to not count it (see :meth:`command_namer`).
    :param options: defaults for the ``CAMUNDA_TELEMETRY_*`` keys, named in lower case without
        the prefix (``scope="process"``); values already in ``app.config`` win.

    Per-app state lives in ``app.extensions["camunda_telemetry"]``; one object can serve many apps.

    .. versionchanged:: 0.2.0 ``name_command``.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        db: SQLAlchemy | None = None,
        authorize: Callable[[], Any] | None = None,
        name_command: NameCommand | None = None,
        **options: Any,
    ) -> None:
        #: the ``name_command`` hook, read when an endpoint is first requested.
        self.name_command = name_command
        super().__init__(app, db=db, authorize=authorize, **options)

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
        store = TelemetryStore(tables, engine, config.create_tables)
        state = TelemetryState(app, self, config, store, frozenset(blueprint_names + page_names))
        app.extensions[EXTENSION_KEY] = state
        app.before_request(state.counter)
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
        """The state of ``app`` (default: the current app); raises NotInitializedError.

        :meta private:
        """
        return get_state(app)

    # -- public API -----------------------------------------------------------------------

    def command_namer(self, hook: NameCommand) -> NameCommand:
        """Decorator form of the ``name_command`` option: ``hook(endpoint, view)`` returns the
        command name of an endpoint, or ``None`` to not count it. It is asked once per endpoint,
        for endpoints the extension counts and whose view has no ``@telemetry.command`` name;
        set it before the app serves. A name that cannot be stored is made safe (with a
        warning); a hook that raises is logged and the endpoint keeps its default name.

        .. versionadded:: 0.2.0
        """
        self.name_command = hook
        return hook

    @staticmethod
    def default_command_name(endpoint: str, view: Callable[..., Any] | None) -> str:
        """The name an endpoint counts as without a hook: its view class's name, else the
        endpoint with ``.`` turned into ``_`` (for a ``name_command`` hook to fall back to).

        .. versionadded:: 0.2.0
        """
        return default_command_name(endpoint, view)

    def command(self, name: str) -> Callable[[F], F]:
        """Name the command a view counts as: ``@telemetry.command("StartProcessInstanceCmd")``.

        Works on view functions and on class-based views (the class).
        """
        validate_command_name(name)
        return lambda view: mark_command(view, name)

    def count_command(self, name: str, n: int = 1, *, app: Flask | None = None) -> None:
        """Count a command run outside a request (a job, a CLI command).

        :raises InvalidCountError: ``name`` is not a non-empty string of at most 255 printable
            characters, or ``n`` is not an int from 1 to 1,000,000,000.

        .. versionchanged:: 0.2.0 ``n`` is bounded; errors are :class:`~.InvalidCountError`.
        """
        name, n = validate_command_name(name), checked_count(n, "count_command(n)")
        get_state(app).count(name, n)

    def mark_occurrence(self, name: str, count: int = 1, *, app: Flask | None = None) -> None:
        """Mark ``count`` occurrences of one of the four metrics (internal or public name).

        :raises UnknownMetricError: ``name`` is not one of them.
        :raises InvalidCountError: ``count`` is not an int from 1 to 1,000,000,000.

        .. versionchanged:: 0.2.0 ``count`` is bounded.
        """
        internal, count = canonical_metric(name), checked_count(count, "mark_occurrence(count)")
        get_state(app).mark(internal, count)

    def data(self, *, app: Flask | None = None) -> TelemetryData:
        """The current document as objects (what ``/telemetry/data`` serializes)."""
        return get_state(app).document()

    def flush(self, *, app: Flask | None = None) -> None:
        """Write this process's unflushed counts to the database now (cluster scope)."""
        get_state(app).flush()

    def reset(self, *, app: Flask | None = None) -> None:
        """Zero the counts of every instance sharing the database; move the start date."""
        get_state(app).counts.reset()

    def prometheus_collector(self, app: Flask | None = None) -> TelemetryMetrics:
        """A ``prometheus_client`` collector of ``app``'s lifetime counts (default: the current
        app), for a host that serves its own ``/metrics``: register it on the host's registry
        (``registry.register(...)``, or prometheus_flask_exporter's ``metrics.registry``).

        Needs the ``prometheus`` extra. See :class:`~flask_camunda_telemetry.prometheus.TelemetryMetrics`.

        .. versionadded:: 0.2.0
        """
        collector: TelemetryMetrics = _prometheus_module().TelemetryMetrics(get_state(app))
        return collector

    def reporting(self, app: Flask | None = None) -> Reporting | None:
        """``app``'s reporting (default: the current app): consent, ``report_now``, ``status``;
        None without ``CAMUNDA_TELEMETRY_REPORT_URL``.
        See :class:`~flask_camunda_telemetry.reporting.reporter.Reporting`.

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
