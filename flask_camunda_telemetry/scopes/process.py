"""Process scope: each process reports its own counts, as each of Camunda's nodes does.

The flow, top to bottom:

1. **count**: the request hook adds to this process's :class:`~..counting.counts.PendingCounts`
   (memory only); nothing is ever written to the database but consent, the start date and the
   outcome of reports;
2. **sync**: every ``FLUSH_INTERVAL`` the flush thread's :meth:`ProcessCounts.sync` records the
   shared start date (first sync) and follows a reset made by another process: what this
   process counted before it is dropped, what it counted after is kept;
3. **read**: the document shows this process's counts minus what it reported
   (:meth:`ProcessCounts.shown`), Prometheus its counts since the start date
   (:meth:`ProcessCounts.lifetime`);
4. **reset**: ``flask telemetry reset`` zeroes this process's counts at once and records the cut
   for the others (step 2);
5. **report**: each process on its own schedule (:class:`ProcessSchedule`): a delivered report
   is confirmed in memory (:meth:`ProcessCounts.confirm`: what it carried is no longer shown and
   the start date moves to the send time); consent given covers what this process counted so
   far (:meth:`ProcessCounts.cover`);
6. **shutdown**: nothing to write; the counts of a stopped process end with it.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from typing import TYPE_CHECKING

from ..clock import from_us, now, now_us
from ..counting.counts import ReportedCounts, next_cut
from ..document.counts import Counts
from ..forking import ForkAware
from ..storage.store import TelemetryStore
from ..storage.timeouts import hold
from . import ScopedCounts

if TYPE_CHECKING:
    from ..reporting.delivery import Delivery
    from ..reporting.reporter import Send, Timing
    from ..storage.reporting import Consent, LastReport, ReportStore

_UNSEEN = dt.datetime.min.replace(tzinfo=dt.UTC)


class ProcessCounts(ScopedCounts):
    """The counts of process scope: this process's own, and what it has reported of them. A
    forked child starts from zero, with its own start date."""

    #: what the counts cover, as the page says it.
    covers = "this process only"
    #: no other process's counts are shown.
    shared = False

    fork_fresh = {"_lock": threading.Lock, "_reset_seen": now_us, "started_at": now}
    _lock: threading.Lock
    #: the last reset this process has applied to its counts (or when it started, microseconds).
    _reset_seen: int
    started_at: dt.datetime

    def __init__(self, store: TelemetryStore, timeout: float) -> None:
        super().__init__(store, timeout)
        self.commands_reported = ReportedCounts()
        self.metrics_reported = ReportedCounts()

    # -- 2. sync ---------------------------------------------------------------------------

    def sync(self) -> None:
        """The flush thread's work: record the start date, follow a reset made elsewhere."""
        self._bound()
        with hold(self._lock, self._timeout, "sync"):  # not interleaved with a reset() here
            self.store.start_date(self.started_at)
            self._follow_reset()

    def flush(self) -> None:
        """Nothing to write: the counts of process scope stay in this process."""

    def _follow_reset(self) -> None:
        """Drop what was made before a reset made elsewhere, then settle what no reset can cut any
        more (a reset's transaction begins after the time it cuts at)."""
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

    # -- 3. read ---------------------------------------------------------------------------

    def shown(self) -> Counts:
        """What the document shows: this process's counts minus what it reported (names at zero
        left out), since its last report."""
        with hold(self._lock, self._timeout, "read the counts"):
            return Counts(
                self.commands_reported.unreported(self.commands.totals()),
                self.metrics_reported.unreported(self.metrics.totals()),
                self.started_at,
            )

    def lifetime(self) -> Counts:
        """This process's counts since the start date; only a reset lowers them."""
        return Counts(self.commands.totals(), self.metrics.totals(), self.started_at)

    # -- 4. reset --------------------------------------------------------------------------

    def reset(self) -> dt.datetime:
        """Zero this process's counts, and every other process's at its next sync; move the start
        date to the time returned (the next tenth of a second: waits for it)."""
        cut = next_cut()
        when = from_us(cut)
        with self._lock:
            self.store.reset(when)
            self._zero(cut)
            self.started_at = when
        return when

    # -- 5. report -------------------------------------------------------------------------

    def confirm(self, sent: Counts, sent_at: dt.datetime) -> bool:
        """``sent`` was reported at ``sent_at``: unless the counts were reset since, what it
        carried is no longer shown and the start date moves to ``sent_at``."""
        with self._lock:
            if self.started_at != sent.start:
                return False
            self.commands_reported.add(sent.commands)
            self.metrics_reported.add(sent.metrics)
            self.started_at = sent_at
            return True

    def cover(self, since: dt.datetime) -> None:
        """Consent was given at ``since``: nothing counted so far is reported."""
        with self._lock:
            self.commands_reported.cover(self.commands.totals())
            self.metrics_reported.cover(self.metrics.totals())
            self.started_at = since

    def schedule(self, timing: Timing) -> ProcessSchedule:
        """The reports of this scope: each process its own, on its own schedule."""
        from ..storage.reporting import ReportStore  # only with REPORT_URL

        return ProcessSchedule(self, ReportStore(self.store, cover=None), timing)

    # -- 6. shutdown -----------------------------------------------------------------------

    def close(self, ended: bool) -> None:
        """Nothing to write at shutdown."""


class ProcessSchedule(ForkAware):
    """This process's reports: the first ``REPORT_DELAY`` after it started (or after consent was
    given), then every ``REPORT_INTERVAL``; each sender (process) has its own report ids."""

    fork_fresh = {
        "_lock": threading.Lock,
        "_born": now,
        "sender": lambda: uuid.uuid4().hex,
        "_due": lambda: None,
        "_epoch": lambda: _UNSEEN,
    }
    _lock: threading.Lock
    _born: dt.datetime
    sender: str
    _due: dt.datetime | None
    _epoch: dt.datetime | None

    def __init__(self, counts: ProcessCounts, reports: ReportStore, timing: Timing) -> None:
        super().__init__()
        self.counts = counts
        self.reports = reports
        self.timing = timing

    def follow(self, consent: Consent) -> None:
        """Consent given since this process last looked (or since it started) covers everything
        it counted before; the first report is due ``REPORT_DELAY`` later."""
        with self._lock:
            if consent.given == self._epoch:
                return
            seen, self._epoch = self._epoch, consent.given
            if consent.given is not None and (seen is not _UNSEEN or consent.given > self._born):
                self.counts.cover(consent.given)
                self._due = consent.given + self.timing.delay
            elif consent.given is None:
                self._due = None

    def next_due(self, last: LastReport) -> dt.datetime | None:
        return self._due

    def tick(self, moment: dt.datetime, consent: Consent, send: Send) -> float:
        """Send this process's report if it is due."""
        due = self._due = self._due or max(self._born, consent.given or self._born) + self.timing.delay
        if moment < due:
            return self.timing.pause(due)
        self._finish(send(self.timing.attempts))
        self._due = self.timing.after(due, now())
        return self.timing.pause(self._due)

    def send_now(self, send: Send) -> tuple[Delivery | None, bool]:
        """One attempt now, outside the schedule."""
        delivery = send(1)
        return delivery, self._finish(delivery)

    def _finish(self, delivery: Delivery) -> bool:
        """Confirm what was delivered (in memory) and record the outcome (in the database)."""
        confirmed = False
        if delivery.confirm is not None:
            sent, sent_at = delivery.confirm
            confirmed = self.counts.confirm(sent, sent_at)
        if delivery.outcome is not None:
            self.reports.record(delivery.outcome)
        return confirmed
