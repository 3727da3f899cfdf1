"""Syncing an app's in-memory counts with the database: the flush, the periodic sync, the reset.

:class:`Syncing` is the part of :class:`~.state.TelemetryState` that talks to the database in
the background (the flush thread calls :meth:`Syncing.sync_in_app`) or on an explicit call
(``TelemetryExt.flush``, ``flask telemetry reset``); the request path never reaches it.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref

from flask import Flask

from .config import TelemetryConfig
from .counting.counts import PendingCounts, ReportedCounts
from .forking import ForkAware
from .reporting.reporter import Reporting
from .storage.store import TelemetryStore

__all__ = ["COMMANDS", "METRICS", "Syncing", "now"]

#: The kinds of the counts table's rows holding command and metric totals.
COMMANDS = "command"
METRICS = "metric"


def now() -> dt.datetime:
    """The current time, aware, in the local time zone."""
    return dt.datetime.now().astimezone()


class Syncing(ForkAware):
    """The database side of an app's counts (a base class of the app's telemetry state).

    .. versionadded:: 0.2.0
    """

    fork_fresh = {"_sync_lock": threading.Lock, "_shared_start": lambda: None}
    _sync_lock: threading.Lock
    #: the shared start date last seen (process scope compares it to notice a reset elsewhere).
    _shared_start: dt.datetime | None

    # set by the state's __init__
    app: weakref.ref[Flask]
    config: TelemetryConfig
    store: TelemetryStore
    commands: PendingCounts
    metrics: PendingCounts
    commands_reported: ReportedCounts
    metrics_reported: ReportedCounts
    started_at: dt.datetime
    reporting: Reporting | None

    def flush(self) -> None:
        """Cluster scope: write this process's unflushed deltas; on failure keep them."""
        if self.config.scope != "cluster":
            return
        with self._sync_lock:
            commands, metrics = self.commands.take(), self.metrics.take()
            try:
                self.store.add_counts({COMMANDS: commands, METRICS: metrics})
            except BaseException:
                self.commands.restore(commands)
                self.metrics.restore(metrics)
                raise
            self.commands.confirm(commands)
            self.metrics.confirm(metrics)

    def sync(self) -> None:
        """The periodic work: flush (cluster scope) and notice a reset made elsewhere."""
        self.flush()
        with self._sync_lock:  # not interleaved with a reset() made in this process
            shared = self.store.start_date(self.started_at)
            if self._shared_start is not None and shared != self._shared_start and self.config.scope == "process":
                self.commands.reset()
                self.metrics.reset()
                self.commands_reported.reset()
                self.metrics_reported.reset()
                self.started_at = shared
            self._shared_start = shared
        if self.reporting is not None and not self.reporting.started:
            self.reporting.start()  # here, in the flush thread: never on a request

    def sync_in_app(self) -> bool:
        """:meth:`sync` inside the app's context; False (nothing done) once the app is gone."""
        app = self.app()
        if app is None:
            return False
        with app.app_context():
            self.sync()
        return True

    def reset(self) -> dt.datetime:
        """Zero the counts (shared and this process's) and move the start date."""
        when = now()
        with self._sync_lock:
            self.store.reset(when)
            self.commands.reset()
            self.metrics.reset()
            self.commands_reported.reset()
            self.metrics_reported.reset()
            self.started_at = when
            self._shared_start = when
        return when
