"""Per-app state, kept in ``app.extensions["camunda_telemetry"]``, and the one way to reach it.

:class:`TelemetryState` is a thin front over an app's parts, each in the room named for its job:

* the counts of the app's scope, chosen once (:mod:`.scopes`); the request hook
  (:mod:`.counting.commands`) adds to them in memory;
* every database access (:mod:`.storage`), and the flush thread that syncs the counts with it
  (:mod:`.periodic`);
* the document, put together in :mod:`.document.build` (its JSON keys in :mod:`.document.schemas`);
* reporting (:mod:`.reporting`), with ``CAMUNDA_TELEMETRY_REPORT_URL``.

It counts (what the public API counts; the hook counts by itself), reads (the document, in the
app's single flight), and closes.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from flask import Flask

from .config import Scope, TelemetryConfig
from .counting.commands import CommandCounter
from .counting.commands import Hooks as CounterHooks
from .document.build import Snapshot, build_document
from .document.counts import Counts
from .document.environment import detect_application_server
from .document.model import ApplicationServer, TelemetryData
from .hosting import app_state
from .periodic import AppGoneError, Periodic
from .scopes import ScopedCounts
from .scopes.cluster import ClusterCounts
from .scopes.process import ProcessCounts
from .storage.store import TelemetryStore
from .web.flight import SingleFlight

if TYPE_CHECKING:
    from .reporting.reporter import Reporting

EXTENSION_KEY = "camunda_telemetry"
#: The endpoint serving CAMUNDA_TELEMETRY_OPENAPI_URL (never counted).
OPENAPI_ENDPOINT = "camunda_telemetry_openapi"
#: The endpoint serving CAMUNDA_TELEMETRY_PROMETHEUS_URL (never counted).
PROMETHEUS_ENDPOINT = "camunda_telemetry_prometheus"

T = TypeVar("T")


class Hooks(CounterHooks, Protocol):
    """The extension object's hooks, read when a request needs them (they may be set after
    init_app): the request hook's ``name_command``, and ``authorize`` for the routes."""

    authorize: Callable[[], Any] | None


def get_state(app: Flask | None = None) -> TelemetryState:
    """The telemetry state of ``app`` (default: the current app); the only way in.

    :raises NotInitializedError: no app and no app context, or ``init_app`` never ran on it.
    """
    return app_state(app, EXTENSION_KEY, TelemetryState, "TelemetryExt")


class TelemetryState:
    """Everything the extension keeps for one app. Holds the app only weakly.

    ``ext``: the extension object, whose hooks (``authorize``, ``name_command``) are read when a
    request needs them; ``blueprint_names``: the names the extension's routes are registered
    under, never counted.
    """

    def __init__(
        self, app: Flask, ext: Hooks, config: TelemetryConfig, store: TelemetryStore,
        blueprint_names: frozenset[str],
    ) -> None:
        self.app = weakref.ref(app)
        self.ext = ext
        self.config = config
        self.store = store
        #: the counts of the app's scope: the one place the scope is looked at.
        self.counts: ScopedCounts = (ClusterCounts if config.scope is Scope.CLUSTER else ProcessCounts)(
            store, config.db_timeout
        )
        #: the flush thread: the counts' ``sync`` every ``FLUSH_INTERVAL``, their ``close`` at exit.
        self.flusher = Periodic(
            "camunda-telemetry-flush", self.counts.sync, self.app, what="flush", retry=config.flush_interval,
            final=self.counts.close, exit_wait=config.db_timeout, exit_order=1,
        )
        #: consent, reports and their status; None without ``CAMUNDA_TELEMETRY_REPORT_URL``.
        self.reporting: Reporting | None = None
        if config.report_url is not None:
            from .reporting.reporter import Reporting, Timing  # urllib3's world: only when configured

            self.reporting = Reporting(config, self.counts.schedule(Timing.of(config)), self)
        #: the request hook (``app.before_request(counter.count)``); its first count in a process
        #: starts the background threads.
        self.counter = CommandCounter(
            app, self.counts.commands, ext, blueprints=blueprint_names, starts=self._threads(),
            excluded=frozenset(config.excluded_endpoints) | {OPENAPI_ENDPOINT, PROMETHEUS_ENDPOINT},
        )
        self.reads = SingleFlight()  #: the one read per process that may wait on the database
        self.application_server: ApplicationServer | None = None
        weakref.finalize(app, self.close, flush=False)

    # -- count (memory only) ---------------------------------------------------------------

    def count(self, name: str, n: int) -> None:
        """Count ``n`` runs of the command ``name`` (checked by the caller)."""
        self.counts.commands.add(name, n)
        if not self.flusher.started:
            self.start()

    def mark(self, internal_name: str, n: int) -> None:
        """Mark ``n`` occurrences of a metric, by internal name (checked by the caller)."""
        self.counts.metrics.add(internal_name, n)
        if not self.flusher.started:
            self.start()

    def _threads(self) -> tuple[Periodic, ...]:
        """The background threads: the flusher, and the reporter with ``REPORT_URL``."""
        return (self.flusher,) if self.reporting is None else (self.flusher, self.reporting.thread)

    def start(self) -> None:
        """Start this process's flush thread and reporter, if not yet (the first count does)."""
        for thread in self._threads():
            thread.start()

    def observe_server(self, environ: Mapping[str, Any]) -> None:
        if self.application_server is None:
            self.application_server = detect_application_server(environ)

    # -- read ------------------------------------------------------------------------------

    def read(self, key: str, work: Callable[[], T]) -> T:
        """``work()``, a read for a route, in the app's single flight (bounded by DB_TIMEOUT)."""
        return self.reads.run(key, work, self.config.db_timeout, self.app_context)

    def flush(self) -> None:
        """Write this process's counts to the database now (cluster scope)."""
        self.counts.flush()

    def snapshot(self) -> Snapshot:
        """The document, with the counts it shows and their exact start date (what a report
        sends). Raises DatabaseUnavailableError when the database is needed and down."""
        installation = self.store.installation_id()
        counts = self.counts.shown()
        data = build_document(
            self.config, installation=installation, database=self.store.database(),
            application_server=self.application_server, counts=counts,
        )
        return Snapshot(data, counts)

    def document(self) -> TelemetryData:
        """The document ``/telemetry/data`` serializes."""
        return self.snapshot().data

    def lifetime(self) -> Counts:
        """The counts since the start date, in this app's scope (Prometheus' counters)."""
        return self.counts.lifetime()

    def app_context(self) -> AbstractContextManager[object]:
        """The app's context (for a read's thread); AppGoneError once the app is gone."""
        app = self.app()
        if app is None:
            raise AppGoneError("the app of this telemetry state is gone")
        return app.app_context()

    # -- close -----------------------------------------------------------------------------

    def close(self, flush: bool = True) -> None:
        """Stop the reporter (waiting at most 2 s for a report in flight when ``flush``) and the
        flush thread (after a last flush when ``flush``), and let go of the database: the
        extension's own engine is disposed of. Counting again starts new threads."""
        if self.reporting is not None and flush:
            self.reporting.stop()
        elif self.reporting is not None:
            self.reporting.stop(wait=0)
        self.flusher.stop(self.config.db_timeout if flush else 0, final=flush)
        self.counter.rearm()
        self.store.close(release=flush)
