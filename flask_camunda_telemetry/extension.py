"""``TelemetryExt``: the Flask extension object, what a host app calls.

This module is light: what ``init_app`` installs on an app (the state, the request hook, the
routes, the page, the CLI group; :mod:`.initializing`) is loaded with the first app, and an
app's state (:mod:`.state`) is reached through ``app.extensions``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask

from .counting.commands import NameCommand, default_command_name, mark_command
from .counting.names import checked_count, validate_command_name
from .document.metrics import canonical_metric
from .hosting import ExtensionObject

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy

    from .document.model import TelemetryData
    from .prometheus import TelemetryMetrics
    from .reporting.reporter import Reporting
    from .state import TelemetryState

F = TypeVar("F", bound=Callable[..., Any])


def _state(app: Flask | None) -> TelemetryState:
    """The state of ``app`` (default: the current app); raises NotInitializedError."""
    from .state import get_state

    return get_state(app)


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
        The machinery it installs is loaded with the first app (importing the package stays light).
        """
        from .initializing import initialize

        initialize(self, app)

    def state(self, app: Flask | None = None) -> TelemetryState:
        """The state of ``app`` (default: the current app); raises NotInitializedError.

        :meta private:
        """
        return _state(app)

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
        _state(app).count(name, n)

    def mark_occurrence(self, name: str, count: int = 1, *, app: Flask | None = None) -> None:
        """Mark ``count`` occurrences of one of the four metrics (internal or public name).

        :raises UnknownMetricError: ``name`` is not one of them.
        :raises InvalidCountError: ``count`` is not an int from 1 to 1,000,000,000.

        .. versionchanged:: 0.2.0 ``count`` is bounded.
        """
        internal, count = canonical_metric(name), checked_count(count, "mark_occurrence(count)")
        _state(app).mark(internal, count)

    def data(self, *, app: Flask | None = None) -> TelemetryData:
        """The current document as objects (what ``/telemetry/data`` serializes)."""
        return _state(app).document()

    def flush(self, *, app: Flask | None = None) -> None:
        """Write this process's unflushed counts to the database now (cluster scope)."""
        _state(app).flush()

    def reset(self, *, app: Flask | None = None) -> None:
        """Zero the counts of every instance sharing the database; move the start date."""
        _state(app).counts.reset()

    def prometheus_collector(self, app: Flask | None = None) -> TelemetryMetrics:
        """A ``prometheus_client`` collector of ``app``'s lifetime counts (default: the current
        app), for a host that serves its own ``/metrics``: register it on the host's registry
        (``registry.register(...)``, or prometheus_flask_exporter's ``metrics.registry``).

        Needs the ``prometheus`` extra. See :class:`~flask_camunda_telemetry.prometheus.TelemetryMetrics`.

        .. versionadded:: 0.2.0
        """
        from .initializing import prometheus_module

        collector: TelemetryMetrics = prometheus_module().TelemetryMetrics(_state(app))
        return collector

    def reporting(self, app: Flask | None = None) -> Reporting | None:
        """``app``'s reporting (default: the current app): consent, ``report_now``, ``status``;
        None without ``CAMUNDA_TELEMETRY_REPORT_URL``.
        See :class:`~flask_camunda_telemetry.reporting.reporter.Reporting`.

        .. versionadded:: 0.2.0
        """
        return _state(app).reporting

    def close(self, app: Flask | None = None) -> None:
        """Stop ``app``'s flush and report threads (waiting at most 2 s for a report in flight)
        after a last flush, and dispose of the extension's own engine (never the host's).
        Counting again later starts new threads.

        .. versionadded:: 0.2.0
        """
        _state(app).close()
