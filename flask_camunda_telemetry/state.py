"""Per-app state, kept in ``app.extensions["camunda_telemetry"]``, and the one way to reach it.

Where things come from:

* counts are made in :mod:`.counting` (the request hook and the public API call in here);
* every database access is in :mod:`.storage`;
* the document is put together in :mod:`.document.build` and its JSON keys in
  :mod:`.document.schemas`.
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from flask import Flask

from .config import TelemetryConfig
from .counting.commands import CommandNamer, command_name
from .counting.counts import PendingCounts, ReportedCounts
from .counting.names import checked_count, validate_command_name
from .document.build import build_document
from .document.environment import detect_application_server
from .document.metrics import canonical_metric
from .document.model import ApplicationServer, TelemetryData
from .flushing import Flusher
from .hosting import app_state
from .reporting.delivery import AppGoneError
from .reporting.payload import Snapshot
from .reporting.reporter import SHUTDOWN_WAIT, Reporting
from .storage.flight import SingleFlight
from .storage.meta import document_counts
from .storage.reporting import ReportStore
from .storage.store import TelemetryStore
from .storage.timeouts import hold
from .syncing import COMMANDS, METRICS, Syncing
from .syncing import now as _now

__all__ = ["EXTENSION_KEY", "OPENAPI_ENDPOINT", "PROMETHEUS_ENDPOINT", "TelemetryState", "get_state"]

EXTENSION_KEY = "camunda_telemetry"
#: The endpoint serving CAMUNDA_TELEMETRY_OPENAPI_URL (never counted).
OPENAPI_ENDPOINT = "camunda_telemetry_openapi"
#: The endpoint serving CAMUNDA_TELEMETRY_PROMETHEUS_URL (never counted).
PROMETHEUS_ENDPOINT = "camunda_telemetry_prometheus"

T = TypeVar("T")


def get_state(app: Flask | None = None) -> TelemetryState:
    """The telemetry state of ``app`` (default: the current app); the only way in.

    :raises NotInitializedError: no app and no app context, or ``init_app`` never ran on it.

    .. versionadded:: 0.2.0
    """
    return app_state(app, EXTENSION_KEY, TelemetryState, "TelemetryExt")


class TelemetryState(Syncing):
    """Everything the extension keeps for one app. Holds the app only weakly; its syncing with
    the database is in :class:`~.syncing.Syncing`."""

    def __init__(
        self,
        app: Flask,
        config: TelemetryConfig,
        store: TelemetryStore,
        blueprint_names: frozenset[str],
        authorizer: Callable[[], Callable[[], Any] | None],
        namer: Callable[[], CommandNamer | None],
    ) -> None:
        super().__init__()
        self.app = weakref.ref(app)
        self.config = config
        self.store = store
        #: the names the blueprint is registered under (one per URL prefix); never counted.
        self.blueprint_names = blueprint_names
        #: returns the current ``authorize`` hook (it may be set after init_app with ``@ext.authorizer``).
        self.authorizer = authorizer
        #: returns the current ``name_command`` hook (it may be set after init_app with ``@ext.command_namer``).
        self.namer = namer
        self.commands = PendingCounts()
        self.metrics = PendingCounts()
        self.started_at = _now()
        self.application_server: ApplicationServer | None = None
        #: endpoint -> command name (None: not counted); filled on first use of each endpoint.
        self.names: dict[str, str | None] = {}
        self.flusher = Flusher(self.sync_in_app, config.flush_interval, "camunda-telemetry-flush",
                               final=(self.flush, self.unflushed), wait=config.db_timeout)
        self.reads = SingleFlight()  #: the one read per process that may wait on the database
        #: process scope: what this process has reported of its counts (the document shows the rest).
        self.commands_reported = ReportedCounts()
        self.metrics_reported = ReportedCounts()
        #: consent, reports and their status; None without ``CAMUNDA_TELEMETRY_REPORT_URL``.
        self.reporting: Reporting | None = None
        if config.report_url is not None:
            self.reporting = Reporting(config, ReportStore(store, shared_counts=config.scope == "cluster"), self)
        weakref.finalize(app, self.close, flush=False)

    # -- counting (request path: memory only) --------------------------------------------

    def resolve_name(self, endpoint: str) -> str | None:
        """The command name for ``endpoint``, or None when it is not counted. Cached."""
        name: str | None = None
        excluded = (
            endpoint in self.config.excluded_endpoints
            or endpoint == "static"
            or endpoint.endswith(".static")
            or endpoint.partition(".")[0] in self.blueprint_names
            or endpoint in (OPENAPI_ENDPOINT, PROMETHEUS_ENDPOINT)
        )
        app = self.app()
        if not excluded and app is not None:
            name = command_name(endpoint, app.view_functions.get(endpoint), self.namer())
        self.names[endpoint] = name
        return name

    def count_command(self, name: str, n: int = 1) -> None:
        """Count ``n`` runs of ``name``; InvalidCountError unless both can be stored."""
        self.count_resolved(validate_command_name(name), checked_count(n))

    def count_resolved(self, name: str, n: int = 1) -> None:  # the request hook's: a name from resolve_name
        self.commands.add(name, n)
        if not self.flusher.started:
            self.flusher.start()

    def mark_metric(self, name: str, n: int = 1) -> None:
        """Mark ``n`` occurrences of a metric (internal or public name); UnknownMetricError or
        InvalidCountError unless both are known and storable."""
        self.mark_resolved(canonical_metric(name), checked_count(n))

    def mark_resolved(self, internal_name: str, n: int = 1) -> None:  # checked by the caller
        self.metrics.add(internal_name, n)
        if not self.flusher.started:
            self.flusher.start()

    def observe_server(self, environ: Mapping[str, Any]) -> None:
        if self.application_server is None:
            self.application_server = detect_application_server(environ)

    def close(self, flush: bool = True) -> None:
        """Stop the reporter (waiting at most 2 s for a report in flight when ``flush``) and the
        flush thread (after a last flush when ``flush``), and dispose of the extension's own
        engine. Counting again starts new threads.

        .. versionadded:: 0.2.0
        """
        if self.reporting is not None:
            self.reporting.stop(wait=SHUTDOWN_WAIT if flush else 0)
        self.flusher.stop(final_sync=flush)
        self.store.lazy_engine.dispose()

    def unflushed(self) -> dict[str, int]:
        """Cluster scope: this process's commands and metrics not yet written, by name."""
        return {**self.commands.unwritten(), **self.metrics.unwritten()} if self.config.scope == "cluster" else {}

    def read(self, key: str, work: Callable[[], T]) -> T:
        """``work()``, a read for a route, in the app's single flight (bounded by DB_TIMEOUT)."""
        return self.reads.run(key, work, self.config.db_timeout, self.app_context)

    # -- the document ---------------------------------------------------------------------

    def lifetime_counts(self) -> tuple[dict[str, int], dict[str, int], dt.datetime]:
        """``(commands, metrics, start date)`` counted since the start date, in this app's scope
        (cluster: flushes this process's counts first); only a reset lowers them. Metrics are
        keyed by internal name.

        .. versionadded:: 0.2.0
        """
        if self.config.scope == "cluster":
            self.flush()
            shared = self.store.read_counts()
            start = self.store.start_date(self.started_at)
            return shared.get(COMMANDS, {}), shared.get(METRICS, {}), start
        return self.commands.totals(), self.metrics.totals(), self.started_at

    def counts(self) -> tuple[dict[str, int], dict[str, int], dt.datetime]:
        """``(commands, metrics, start date)`` as the document reports them: the lifetime counts
        minus what has been reported (names at zero left out), since the last report.

        .. versionadded:: 0.2.0
        """
        if self.config.scope == "cluster":
            self.flush()
            commands, metrics, start = document_counts(self.store.read_counts())  # one consistent read
            return commands, metrics, start or self.store.start_date(self.started_at)
        with hold(self._sync_lock, self.config.db_timeout, "read the counts"):
            return (
                self.commands_reported.unreported(self.commands.totals()),
                self.metrics_reported.unreported(self.metrics.totals()),
                self.started_at,
            )

    def snapshot(self) -> Snapshot:
        """The document, with the counts it shows and its exact start date (what a report sends).
        Raises DatabaseUnavailableError when the database is needed and down."""
        installation = self.store.installation_id()
        commands, metrics, start = self.counts()
        data = build_document(
            self.config,
            installation=installation,
            database=self.store.database(),
            application_server=self.application_server,
            commands=commands,
            metrics=metrics,
            start=start,
        )
        return Snapshot(data, {COMMANDS: commands, METRICS: metrics}, start)

    def collect(self) -> TelemetryData:
        """Build the document. Raises DatabaseUnavailableError when the database is needed and down."""
        return self.snapshot().data

    # -- reporting (process scope keeps what was reported in memory) ---------------------

    def confirm(self, snapshot: Snapshot, sent_at: dt.datetime) -> bool:
        """Process scope: ``snapshot`` was reported at ``sent_at``; unless the counts were reset
        since, what it carried is no longer shown and the start date moves to ``sent_at``."""
        with self._sync_lock:
            if self.started_at != snapshot.start:
                return False
            self.commands_reported.add(snapshot.counts.get(COMMANDS, {}))
            self.metrics_reported.add(snapshot.counts.get(METRICS, {}))
            self.started_at = sent_at
            return True

    def cover(self, since: dt.datetime) -> None:
        """Process scope: consent was given at ``since``; nothing counted so far is reported."""
        with self._sync_lock:
            self.commands_reported.cover(self.commands.totals())
            self.metrics_reported.cover(self.metrics.totals())
            self.started_at = since

    def app_context(self) -> AbstractContextManager[object]:
        """The app's context (for the reporter thread); AppGoneError once the app is gone."""
        app = self.app()
        if app is None:
            raise AppGoneError("the app of this telemetry state is gone")
        return app.app_context()

    def after_fork(self) -> None:
        if self.config.scope == "process":
            self.started_at = _now()
