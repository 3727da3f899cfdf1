"""The reporter: one daemon thread per serving process, sending the document with consent.

It starts with the flush thread (after the first count in a process, never at import or in
``init_app``), wakes when a report is due and at least every ``FLUSH_INTERVAL`` (1 to 60 s, at
most ``REPORT_INTERVAL``) to follow consent, and survives every error until its next tick.

* ``cluster`` scope: the schedule is shared in the database and a claim decides which process
  sends each report, so an installation sends one report per interval whatever the number of
  processes and hosts. A process killed while sending loses the claim when it expires; another
  sends the same report again (same id).
* ``process`` scope: each process reports its own counts on its own schedule, as Camunda's nodes.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..exceptions import ReportRefusedError
from ..forking import ForkAware
from ..storage.reporting import Consent, ReportStore
from . import client
from .client import FAILURES, HTTP_STATUS, Answer
from .delivery import Delivery, ReportResult, ReportSource, Sender, budget
from .delivery import now as _now
from .thread import SHUTDOWN_WAIT, ReporterThread

if TYPE_CHECKING:
    from ..config import TelemetryConfig

__all__ = ["SHUTDOWN_WAIT", "ReportStatus", "Reporting"]

log = logging.getLogger("flask_camunda_telemetry")

#: Added to the longest a report can take, to make the claim's lease.
LEASE_MARGIN = 2.0
_UNSEEN = dt.datetime.min.replace(tzinfo=dt.UTC)

def _seconds(delta: dt.timedelta) -> float:
    return max(delta.total_seconds(), 0.0)


@dataclass(frozen=True)
class ReportStatus:
    """What ``flask telemetry status`` and the page show.

    .. versionadded:: 0.2.0
    """

    #: when the last attempt ended (any process), its HTTP status, and why it failed (None: it did not).
    last_at: dt.datetime | None
    last_status: int | None
    last_error: str | None
    #: when the next report is due (None without consent).
    next_due: dt.datetime | None


class Reporting(ForkAware):
    """Reporting for one app: consent, the reporter thread, ``report_now`` and ``status``.

    ``state.reporting`` is one of these when ``CAMUNDA_TELEMETRY_REPORT_URL`` is set.

    .. versionadded:: 0.2.0
    """

    fork_fresh = {
        "_lock": threading.Lock,
        "_born": _now,
        "_sender": lambda: uuid.uuid4().hex,
        "_due": lambda: None,
        "_epoch": lambda: _UNSEEN,
    }
    _lock: threading.Lock
    _born: dt.datetime
    _sender: str
    _due: dt.datetime | None
    _epoch: dt.datetime | None

    def __init__(
        self,
        config: TelemetryConfig,
        store: ReportStore,
        source: ReportSource,
        post: Callable[..., Answer] = client.post,
    ) -> None:
        super().__init__()
        assert config.report_url is not None
        #: the collector.
        self.report_url: str = config.report_url
        self.cluster = config.scope == "cluster"
        self.store = store
        self.source = source
        self._config = config
        self.sender = Sender(config, post, lambda: "cluster" if self.cluster else self._sender)
        self._poll = min(config.report_interval, max(1.0, min(config.flush_interval, 60.0)))
        self._lease = dt.timedelta(seconds=budget(config) + LEASE_MARGIN)
        self.thread = ReporterThread(self._tick, source.app_context, self._poll)

    @property
    def _busy(self) -> threading.RLock:
        """Held around the reporter's database work (a fork waits for it)."""
        return self.thread.busy

    # -- consent and status (any thread) --------------------------------------------------

    def _consent(self) -> Consent:
        with self._busy:
            return self.store.consent(self._config.initialize, _now(), self._config.report_delay)

    def _follow_consent(self) -> Consent:
        """The consent, after a change made behind the extension's back (counts of this process
        flushed first, so that those made before it count as before it)."""
        with self._busy:
            self.source.flush()
            return self.store.follow_consent(self._config.initialize, _now(), self._config.report_delay)

    def consent(self) -> bool | None:
        """The consent every process on the database shares (read from the database)."""
        return self._consent().value

    def set_consent(self, value: bool) -> None:
        """Store the consent for every process. From false or undecided to true, the counts the
        document shows start again from zero (everywhere) and the first report is due
        ``REPORT_DELAY`` seconds later; to false, no process sends again."""
        self.source.flush()  # what this process counted so far counts as before the change
        consent = self.store.set_consent(value, self._config.initialize, _now(), self._config.report_delay)
        if not self.cluster:
            self._follow(consent)
        self.thread.wake()

    def status(self) -> ReportStatus:
        """The last attempt (by any process) and when the next report is due."""
        last = self.store.last()
        consent = self._consent()
        next_due = None
        if consent.value is True:
            next_due = last.due if self.cluster else self._due
        error = None
        if last.error == HTTP_STATUS:
            error = f"the collector answered {last.status}"
        elif last.error is not None:
            error = FAILURES.get(last.error, f"failure {last.error}")
        return ReportStatus(last.at, last.status, error, next_due)

    # -- sending ---------------------------------------------------------------------------

    def _next(self, due: dt.datetime, now: dt.datetime) -> dt.datetime:
        step = dt.timedelta(seconds=self._config.report_interval)
        return due + step if due + step > now else now + step

    def _deliver(self, attempts: int) -> Delivery:
        with self._busy:
            snapshot = self.source.snapshot()
        return self.sender.deliver(snapshot, attempts, self.thread.stopping, lambda: self._consent().value is True)

    def _finish_claim(self, until: dt.datetime, due: dt.datetime | None, delivery: Delivery | None) -> bool:
        end = _now()
        confirmed = delivery is not None and delivery.confirm is not None
        next_due = self._next(due, end) if due is not None else (self._next(end, end) if confirmed else None)
        with self._busy:
            return self.store.finish(
                until=until,
                next_due=next_due,
                outcome=delivery.outcome if delivery is not None else None,
                confirm=delivery.confirm if delivery is not None else None,
            )

    def _finish_local(self, delivery: Delivery) -> bool:
        confirmed = False
        if delivery.confirm is not None:
            confirmed = self.source.confirm(delivery.snapshot, delivery.confirm[1])
        if delivery.outcome is not None:
            with self._busy:
                self.store.record(delivery.outcome)
        return confirmed

    def report_now(self, *, dry_run: bool = False) -> ReportResult:
        """Send a report now, once, outside the schedule (``flask telemetry report``); with
        ``dry_run``, only build it. In cluster scope it counts as the current interval's report.

        :raises ReportRefusedError: no consent, an invalid document, or another process is sending.
        """
        if dry_run:
            body, headers = self.sender.build(self.source.snapshot())
            return ReportResult(body, headers, None, False)
        consent = self._follow_consent()
        if consent.value is not True:
            raise ReportRefusedError(
                f"Consent is {'undecided' if consent.value is None else 'false'}: nothing is sent without it. "
                'The owner gives it with POST /telemetry/configuration {"enableTelemetry": true}.'
            )
        until = _now() + self._lease
        if self.cluster and self.store.claim(_now(), until, force=True) is None:
            raise ReportRefusedError("Another process is sending a report right now; try again in a minute.")
        delivery: Delivery | None = None
        try:
            delivery = self._deliver(attempts=1)
        finally:
            confirmed = (
                self._finish_claim(until, None, delivery) if self.cluster
                else delivery is not None and self._finish_local(delivery)
            )
        assert delivery is not None
        if delivery.answer is None and delivery.outcome is None:
            raise ReportRefusedError("Consent was withdrawn meanwhile: nothing was sent.")
        if delivery.answer is None:
            raise ReportRefusedError("The document is invalid, nothing was sent; the warning above says why.")
        body, headers = self.sender.build(delivery.snapshot)
        return ReportResult(body, headers, delivery.answer, confirmed)

    # -- the schedule ----------------------------------------------------------------------

    def _follow(self, consent: Consent) -> None:
        """Process scope: consent given since this process last looked (or since it started)
        covers everything it counted before; the first report is due REPORT_DELAY later."""
        with self._lock:
            if consent.given == self._epoch:
                return
            seen, self._epoch = self._epoch, consent.given
            if consent.given is not None and (seen is not _UNSEEN or consent.given > self._born):
                self.source.cover(consent.given)
                self._due = consent.given + dt.timedelta(seconds=self._config.report_delay)
            elif consent.given is None:
                self._due = None

    def _tick(self) -> float:
        """One look at consent and the schedule, and a report if one is due. Returns how long
        to wait before the next look."""
        now = _now()
        delay = dt.timedelta(seconds=self._config.report_delay)
        consent = self._follow_consent()
        if not self.cluster:
            self._follow(consent)
        if consent.value is not True:
            return self._poll
        if self.cluster:
            with self._busy:
                due = max(self.store.due(now + delay), self._born + delay)
        else:
            due = self._due = self._due or max(self._born, consent.given or self._born) + delay
        if now < due:
            return min(_seconds(due - now), self._poll)
        return self._report_claimed(now) if self.cluster else self._report_own(due)

    def _report_own(self, due: dt.datetime) -> float:
        """Process scope: this process's report, on its own schedule."""
        self._finish_local(self._deliver(self._config.report_retries + 1))
        self._due = self._next(due, _now())
        return min(_seconds(self._due - _now()), self._poll)

    def _report_claimed(self, now: dt.datetime) -> float:
        """Cluster scope: the installation's report, if this process wins the claim."""
        until = now + self._lease
        with self._busy:
            claimed = self.store.claim(now, until)
        if claimed is None:
            return self._poll
        delivery: Delivery | None = None
        try:
            delivery = self._deliver(self._config.report_retries + 1)
        finally:
            self._finish_claim(until, claimed, delivery)
        return min(_seconds(self._next(claimed, _now()) - _now()), self._poll)

    # -- the thread ------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self.thread.started

    def start(self) -> None:
        """Start the reporter thread if this process has none yet (cheap to call again)."""
        self.thread.start()

    def stop(self, wait: float = SHUTDOWN_WAIT) -> None:
        """Stop the reporter thread, waiting at most ``wait`` seconds for a report in flight;
        sends nothing itself."""
        self.thread.stop(wait)
