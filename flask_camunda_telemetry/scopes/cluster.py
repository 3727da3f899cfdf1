"""Cluster scope (the default): every process and host on the database shares one set of counts.

The flow, top to bottom:

1. **count**: the request hook adds to this process's :class:`~..counting.counts.PendingCounts`
   (memory only; each count knows the slice of time it was made in);
2. **flush**: every ``FLUSH_INTERVAL`` the flush thread's :meth:`ClusterCounts.sync` adds the
   pending deltas to the shared totals in one transaction (:meth:`ClusterCounts.flush`); a
   failed flush gives them back, to be written by the next;
3. **read**: the document shows the shared totals minus what was reported
   (:meth:`ClusterCounts.shown`, after a flush of this process's counts), Prometheus the shared
   totals (:meth:`ClusterCounts.lifetime`);
4. **reset**: ``flask telemetry reset`` zeroes the shared totals and records the time it cuts
   at; every process's later flushes leave out what was made before it (see
   :mod:`..storage.resets`);
5. **report**: one report per interval for the whole installation (:class:`ClusterSchedule`): a
   claim in the database decides which process sends it, and its confirmation, in the database,
   adds what it carried to what was reported and moves the start date; consent given marks
   everything counted so far as reported, in the transaction that records it;
6. **shutdown**: a last flush (:meth:`ClusterCounts.close`), or the log of what could not be
   written.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import TYPE_CHECKING

from ..clock import from_us, now
from ..counting.counts import next_cut, since
from ..document.counts import Counts, Kind
from ..exceptions import ReportRefusedError
from ..forking import ForkAware
from ..storage.meta import document_counts
from ..storage.store import TelemetryStore
from ..storage.timeouts import hold
from . import ScopedCounts

if TYPE_CHECKING:
    from ..reporting.delivery import Delivery
    from ..reporting.reporter import Send, Timing
    from ..storage.reporting import Consent, LastReport, ReportStore

log = logging.getLogger("flask_camunda_telemetry")


class ClusterCounts(ScopedCounts):
    """The counts of cluster scope: this process's unflushed deltas, and the shared totals."""

    #: what the counts cover, as the page says it.
    covers = "every process on this database"
    #: other processes' counts are as of their last flush.
    shared = True

    fork_fresh = {"_lock": threading.Lock}
    _lock: threading.Lock

    def __init__(self, store: TelemetryStore, timeout: float) -> None:
        super().__init__(store, timeout)
        #: the start date written when this process is the first to count on the database.
        self._default_start = now()

    # -- 2. flush --------------------------------------------------------------------------

    def sync(self) -> None:
        """The flush thread's work: write the pending deltas, and the start date if none is set."""
        self._bound()
        self.flush()
        with hold(self._lock, self._timeout, "sync"):
            self.store.start_date(self._default_start)

    def flush(self) -> None:
        """Write this process's unflushed deltas; on failure keep them for the next flush."""
        with hold(self._lock, self._timeout, "flush the counts"):
            commands, metrics = self.commands.take(), self.metrics.take()
            try:
                reset = self.store.flush_counts({Kind.COMMAND: commands, Kind.METRIC: metrics})
            except BaseException:
                self.commands.restore(commands)
                self.metrics.restore(metrics)
                raise
            self.commands.confirm(since(commands, reset))  # what was made before a reset is dropped
            self.metrics.confirm(since(metrics, reset))

    # -- 3. read ---------------------------------------------------------------------------

    def shown(self) -> Counts:
        """What the document shows: the shared totals minus what was reported, since the last
        report (names at zero left out); one consistent read, after a flush."""
        self.flush()
        commands, metrics, start = document_counts(self.store.read_counts())
        return Counts(commands, metrics, start or self.store.start_date(self._default_start))

    def lifetime(self) -> Counts:
        """The shared totals since the start date; only a reset lowers them."""
        self.flush()
        shared = self.store.read_counts()
        start = self.store.start_date(self._default_start)
        return Counts(shared.get(Kind.COMMAND, {}), shared.get(Kind.METRIC, {}), start)

    # -- 4. reset --------------------------------------------------------------------------

    def reset(self) -> dt.datetime:
        """Zero the counts of every process sharing the database and move the start date to the
        time returned (the next tenth of a second: waits for it). Every process leaves out what
        it counted before that time and keeps what it counted after."""
        cut = next_cut()
        when = from_us(cut)
        with self._lock:
            self.store.reset(when)
            self.commands.reset(before=cut)
            self.metrics.reset(before=cut)
        return when

    # -- 5. report -------------------------------------------------------------------------

    def schedule(self, timing: Timing) -> ClusterSchedule:
        """The reports of this scope: one per interval for the whole installation."""
        from ..storage.reporting import ReportStore, cover_shared_counts  # only with REPORT_URL

        return ClusterSchedule(ReportStore(self.store, cover=cover_shared_counts(self.store)), timing)

    # -- 6. shutdown -----------------------------------------------------------------------

    def close(self, ended: bool) -> None:
        """The last flush at shutdown (skipped when a flush is still stuck on the database, not
        ``ended``); what cannot be written is logged as lost, by name."""
        reason = f"a flush has been waiting on the database for over {self._timeout:g} s"
        if ended:
            try:
                self.flush()
                return
            except Exception as exc:  # noqa: BLE001 - shutdown goes on; the loss is logged
                reason = str(exc)
        lost = {**self.commands.unwritten(), **self.metrics.unwritten()}
        if lost:
            log.warning(
                "telemetry shutdown: %d counts could not be written and are lost (%s): %s",
                sum(lost.values()), reason, ", ".join(f"{name}={n}" for name, n in sorted(lost.items())),
            )


class ClusterSchedule(ForkAware):
    """One report per interval for the installation, sent by the process that claims it; a
    process killed while sending loses the claim when it expires, and another sends the same
    report again (same id)."""

    sender = "cluster"
    fork_fresh = {"_born": now}
    _born: dt.datetime

    def __init__(self, reports: ReportStore, timing: Timing) -> None:
        super().__init__()
        self.reports = reports
        self.timing = timing

    def follow(self, consent: Consent) -> None:
        """Nothing to do: consent given covered the shared counts in the database."""

    def next_due(self, last: LastReport) -> dt.datetime | None:
        return last.due

    def tick(self, moment: dt.datetime, consent: Consent, send: Send) -> float:
        """Send the installation's report if it is due and this process wins the claim."""
        timing = self.timing
        due = max(self.reports.due(moment + timing.delay), self._born + timing.delay)
        if moment < due:
            return timing.pause(due)
        until = moment + timing.lease
        claimed = self.reports.claim(moment, until)
        if claimed is None:
            return timing.poll
        delivery: Delivery | None = None
        try:
            delivery = send(timing.attempts)
        finally:
            self._finish(until, claimed, delivery)
        return timing.pause(timing.after(claimed, now()))

    def send_now(self, send: Send) -> tuple[Delivery | None, bool]:
        """One attempt now; it counts as the current interval's report."""
        until = now() + self.timing.lease
        if self.reports.claim(now(), until, force=True) is None:
            raise ReportRefusedError("Another process is sending a report right now; try again in a minute.")
        delivery: Delivery | None = None
        try:
            delivery = send(1)
        finally:
            confirmed = self._finish(until, None, delivery)
        return delivery, confirmed

    def _finish(self, until: dt.datetime, due: dt.datetime | None, delivery: Delivery | None) -> bool:
        """Release the claim, schedule the next report and record the outcome; confirm what was
        delivered (all in one transaction)."""
        end = now()
        confirmed = delivery is not None and delivery.confirm is not None
        next_due = self.timing.after(due, end) if due is not None else (self.timing.after(end, end) if confirmed
                                                                         else None)
        return self.reports.finish(
            until=until,
            next_due=next_due,
            outcome=delivery.outcome if delivery is not None else None,
            confirm=delivery.confirm if delivery is not None else None,
        )
