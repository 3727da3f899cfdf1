"""Syncing an app's in-memory counts with the database: the flush, the periodic sync, the reset.

:class:`Syncing` is the part of :class:`~.state.TelemetryState` that talks to the database in
the background (the flush thread calls :meth:`Syncing.sync_in_app`) or on an explicit call
(``TelemetryExt.flush``, ``flask telemetry reset``); the request path never reaches it.

A reset reaches every process: it records the time it cuts at in the database (see
:mod:`.storage.resets`), and every process's in-memory counts know the slice of time they were
made in (:mod:`.counting.counts`). In cluster scope a flush writes only what was made at or after
the last reset; in process scope each sync tick drops what was made before a reset it has not
seen yet. Counts made before a reset never appear after it; counts made after it are kept.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import weakref

from flask import Flask

from .config import TelemetryConfig
from .counting.counts import SLICE_US, PendingCounts, ReportedCounts, from_us, now_us, since
from .flushing import Flusher
from .forking import ForkAware
from .reporting.reporter import Reporting
from .storage.store import TelemetryStore
from .storage.timeouts import hold

__all__ = ["COMMANDS", "METRICS", "Syncing", "now"]

#: The kinds of the counts table's rows holding command and metric totals.
COMMANDS = "command"
METRICS = "metric"


def now() -> dt.datetime:
    """The current time, aware, in the local time zone.

    .. versionadded:: 0.2.0
    """
    return dt.datetime.now().astimezone()


def _next_cut() -> int:
    """The next slice boundary (microseconds since the epoch), once the clock has passed it: a
    reset cuts there, so every count is on one side of it (waits at most one slice)."""
    cut = (now_us() // SLICE_US + 1) * SLICE_US
    while (left := cut - now_us()) > 0:
        time.sleep(left / 1e6)
    return cut


class Syncing(ForkAware):
    """The database side of an app's counts (a base class of the app's telemetry state).

    .. versionadded:: 0.2.0
    """

    fork_fresh = {"_sync_lock": threading.Lock, "_reset_seen": now_us}
    _sync_lock: threading.Lock
    #: the last reset this process has applied to its counts (or when it started, microseconds).
    _reset_seen: int

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
    flusher: Flusher

    def flush(self) -> None:
        """Cluster scope: write this process's unflushed deltas; on failure keep them."""
        if self.config.scope != "cluster":
            return
        with hold(self._sync_lock, self.config.db_timeout, "flush the counts"):
            commands, metrics = self.commands.take(), self.metrics.take()
            try:
                reset = self.store.flush_counts({COMMANDS: commands, METRICS: metrics})
            except BaseException:
                self.commands.restore(commands)
                self.metrics.restore(metrics)
                raise
            self.commands.confirm(since(commands, reset))  # what was made before a reset is dropped
            self.metrics.confirm(since(metrics, reset))

    def sync(self) -> None:
        """The periodic work: flush (cluster scope) and notice a reset made elsewhere."""
        self.commands.bound()  # first: the rest fails while the database is out of reach
        self.metrics.bound()
        self.flush()
        with hold(self._sync_lock, self.config.db_timeout, "sync"):  # not interleaved with a reset() here
            self.store.start_date(self.started_at)
            if self.config.scope == "process":
                self._follow_reset()
        if self.reporting is not None and not self.reporting.started and not self.flusher.stopping:
            self.reporting.start()  # here, in the flush thread: never on a request, nor in a last sync

    def _follow_reset(self) -> None:
        """Process scope: drop what was made before a reset made elsewhere, then settle what no
        reset can cut any more (a reset's transaction begins after the time it cuts at)."""
        read_at = now_us()
        reset = self.store.reset_time()
        if reset > self._reset_seen:
            self._zero(reset)
            self.started_at = from_us(reset)
        self.commands.settle(read_at)
        self.metrics.settle(read_at)

    def _zero(self, cut: int) -> None:
        """Forget the counts made before ``cut`` (microseconds) and what was reported."""
        self.commands.reset(before=cut)
        self.metrics.reset(before=cut)
        self.commands_reported.reset()
        self.metrics_reported.reset()
        self._reset_seen = cut

    def sync_in_app(self) -> bool:
        """:meth:`sync` inside the app's context; False (nothing done) once the app is gone."""
        app = self.app()
        if app is None:
            return False
        with app.app_context():
            self.sync()
        return True

    def reset(self) -> dt.datetime:
        """Zero the counts of every process sharing the database and move the start date to the
        time returned (the next tenth of a second: waits for it). Every process leaves out
        what it counted before that time and keeps what it counted after."""
        cut = _next_cut()
        when = from_us(cut)
        with self._sync_lock:
            self.store.reset(when)
            self._zero(cut)
            self.started_at = when
        return when
