"""The reporter: consent, one daemon thread per serving process, and reports sent with consent.

The state starts it with the flush thread, on the first count in a process (never at import or in
``init_app``). It wakes when a report is due and at least every ``FLUSH_INTERVAL`` (1 to 60 s, at
most ``REPORT_INTERVAL``) to follow consent, and survives every error until its next tick.

When a report is due, and which process sends it, is the app's scope's business: a
:class:`Schedule` (``scopes.cluster.ClusterSchedule``: one report per interval for the whole
installation, a claim in the database deciding which process sends it;
``scopes.process.ProcessSchedule``: each process reports its own counts on its own schedule, as
Camunda's nodes did).

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ..clock import now
from ..exceptions import ReportRefusedError
from ..periodic import Periodic
from ..storage.reporting import Consent, LastReport, ReportStore
from . import client
from .client import FAILURES, HTTP_STATUS, Answer
from .delivery import Delivery, ReportResult, ReportSettings, ReportSource, Sender, budget

log = logging.getLogger("flask_camunda_telemetry")

#: How long a graceful shutdown waits for a report in flight (seconds); nothing is sent then.
SHUTDOWN_WAIT = 2.0
#: Added to the longest a report can take, to make the claim's lease.
LEASE_MARGIN = 2.0

#: ``send(attempts)``: build the report of the document now and POST it up to ``attempts`` times.
Send = Callable[[int], Delivery]


def seconds(delta: dt.timedelta) -> float:
    """``delta`` in seconds, never below 0."""
    return max(delta.total_seconds(), 0.0)


@dataclass(frozen=True)
class Timing:
    """When reports go out, from the configuration."""

    #: from a process's start, or from consent given, to the first report.
    delay: dt.timedelta
    interval: dt.timedelta
    #: the longest the reporter sleeps before it looks at consent again.
    poll: float
    #: attempts at one scheduled report.
    attempts: int
    #: how long a claim of the report lasts: the longest a report can take, and a margin.
    lease: dt.timedelta

    @classmethod
    def of(cls, config: ReportSettings) -> Timing:
        attempts = config.report_retries + 1
        return cls(
            delay=dt.timedelta(seconds=config.report_delay),
            interval=dt.timedelta(seconds=config.report_interval),
            poll=min(config.report_interval, max(1.0, min(config.flush_interval, 60.0))),
            attempts=attempts,
            lease=dt.timedelta(seconds=budget(config) + LEASE_MARGIN),
        )

    def after(self, due: dt.datetime, moment: dt.datetime) -> dt.datetime:
        """The next report after the one due at ``due``, never before ``moment``."""
        return due + self.interval if due + self.interval > moment else moment + self.interval

    def pause(self, until: dt.datetime) -> float:
        """How long to sleep before looking again: until ``until``, at most :attr:`poll`."""
        return min(seconds(until - now()), self.poll)


class Schedule(Protocol):
    """When an app's reports are due and which process sends them (one per scope)."""

    #: the sender part of the report id (one per installation, or one per process).
    sender: str
    #: the database side of reporting.
    reports: ReportStore

    def follow(self, consent: Consent) -> None:
        """The consent as last read: a change since the last look may cover counts or reschedule."""

    def next_due(self, last: LastReport) -> dt.datetime | None:
        """When the next report is due (consent given), as ``status()`` shows it."""

    def tick(self, moment: dt.datetime, consent: Consent, send: Send) -> float:
        """With consent, send the report if one is due; returns how long to sleep."""

    def send_now(self, send: Send) -> tuple[Delivery | None, bool]:
        """Send one report now, outside the schedule: what came of it, and whether it was confirmed.
        Raises ReportRefusedError when another process is sending."""


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


class Reporting:
    """Reporting for one app: consent, the reporter thread, :meth:`report_now` and :meth:`status`.

    ``TelemetryExt.reporting(app)`` is one of these when ``CAMUNDA_TELEMETRY_REPORT_URL`` is set.

    .. versionadded:: 0.2.0
    """

    def __init__(
        self,
        config: ReportSettings,
        schedule: Schedule,
        source: ReportSource,
        post: Callable[..., Answer] = client.post,
    ) -> None:
        assert config.report_url is not None
        #: the collector.
        self.report_url: str = config.report_url
        self.schedule = schedule
        self.store = schedule.reports
        self.source = source
        self._config = config
        self.timing = Timing.of(config)
        self.sender = Sender(config, post, lambda: schedule.sender)
        self.thread = Periodic(
            "camunda-telemetry-report", self._tick, source.app, what="reporting",
            retry=self.timing.poll, hold_tick=False, exit_wait=SHUTDOWN_WAIT, exit_order=0,
        )

    # -- consent and status (any thread) --------------------------------------------------

    def _consent(self, *, follow: bool = False) -> Consent:
        """The consent; with ``follow``, after a change made behind the extension's back (the
        counts of this process flushed first, so that those made before it count as before it)."""
        config, delay = self._config, self._config.report_delay
        if not follow:
            return self.store.consent(config.initialize, now(), delay)
        with self.store.busy:
            self.source.flush()
            return self.store.follow_consent(config.initialize, now(), delay)

    def consent(self) -> bool | None:
        """The consent every process on the database shares (read from the database)."""
        return self._consent().value

    def set_consent(self, value: bool) -> None:
        """Store the consent for every process. From false or undecided to true, the counts the
        document shows start again from zero (everywhere) and the first report is due
        ``REPORT_DELAY`` seconds later; to false, no process sends again."""
        self.source.flush()  # what this process counted so far counts as before the change
        config = self._config
        self.schedule.follow(self.store.set_consent(value, config.initialize, now(), config.report_delay))
        self.thread.wake()

    def status(self) -> ReportStatus:
        """The last attempt (by any process) and when the next report is due."""
        last = self.store.last()
        next_due = self.schedule.next_due(last) if self._consent().value is True else None
        error = None
        if last.error == HTTP_STATUS:
            error = f"the collector answered {last.status}"
        elif last.error is not None:
            error = FAILURES.get(last.error, f"failure {last.error}")
        return ReportStatus(last.at, last.status, error, next_due)

    # -- sending ---------------------------------------------------------------------------

    def _send(self, attempts: int) -> Delivery:
        with self.store.busy:
            snapshot = self.source.snapshot()
        return self.sender.deliver(snapshot, attempts, self.thread.stopping, lambda: self._consent().value is True)

    def report_now(self, *, dry_run: bool = False) -> ReportResult:
        """Send a report now, once, outside the schedule (``flask telemetry report``); with
        ``dry_run``, only build it. In cluster scope it counts as the current interval's report.

        :raises ReportRefusedError: no consent, an invalid document, or another process is sending.
        """
        if dry_run:
            body, headers = self.sender.build(self.source.snapshot())
            return ReportResult(body, headers, None, False)
        consent = self._consent(follow=True)
        if consent.value is not True:
            raise ReportRefusedError(
                f"Consent is {'undecided' if consent.value is None else 'false'}: nothing is sent without it. "
                'The owner gives it with POST /telemetry/configuration {"enableTelemetry": true}.'
            )
        delivery, confirmed = self.schedule.send_now(self._send)
        assert delivery is not None
        if delivery.answer is None and delivery.outcome is None:
            raise ReportRefusedError("Consent was withdrawn meanwhile: nothing was sent.")
        if delivery.answer is None:
            raise ReportRefusedError("The document is invalid, nothing was sent; the warning above says why.")
        body, headers = self.sender.build(delivery.snapshot)
        return ReportResult(body, headers, delivery.answer, confirmed)

    def _tick(self) -> float:
        """One look at consent and the schedule, and a report if one is due. Returns how long
        to wait before the next look."""
        moment = now()
        consent = self._consent(follow=True)
        self.schedule.follow(consent)
        if consent.value is not True:
            return self.timing.poll
        return self.schedule.tick(moment, consent, self._send)

    # -- the thread ------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        """Whether this process's reporter thread runs."""
        return self.thread.started

    def start(self) -> None:
        """Start the reporter thread if this process has none yet (cheap to call again)."""
        self.thread.start()

    def stop(self, wait: float = SHUTDOWN_WAIT) -> None:
        """Stop the reporter thread, waiting at most ``wait`` seconds for a report in flight
        (which then ends unconfirmed and is sent again, under the same id, by a later report);
        sends nothing itself."""
        self.thread.stop(wait)
