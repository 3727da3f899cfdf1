"""One report: a snapshot of the document, checked, then POSTed up to ``1 + REPORT_RETRIES``
times with exponential backoff and jitter, under one report id.

A 429 or 503 with ``Retry-After`` makes the next attempt wait at least that long (at most
``REPORT_INTERVAL``), when that attempt still ends within the report's budget (:func:`budget`:
the lease of a claim in cluster scope); a longer wait gives up this report's remaining attempts,
and the next report, an interval later, carries its counts under the same id.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from flask import Flask

from ..clock import now
from ..document.build import Snapshot
from ..document.counts import Counts
from ..document.report import report_body
from .client import INVALID, Answer
from .payload import encode, problems, report_headers, report_id

log = logging.getLogger("flask_camunda_telemetry")

#: (time, HTTP status or 0, failure code or 0) of an attempt.
Outcome = tuple[dt.datetime, int, int]
#: (the counts the report carried, with its start date; the send time) of a success.
Confirmation = tuple[Counts, dt.datetime]


def backoff_cap(retry: int) -> float:
    """The longest wait before the ``retry``-th retry (seconds): 0.5, 1, 2, ... at most 30.
    The wait is between half of it and all of it."""
    return min(0.5 * 2.0 ** (retry - 1), 30.0)


class ReportSettings(Protocol):
    """What reporting takes from the configuration (``config.TelemetryConfig`` has it all)."""

    @property
    def report_url(self) -> str | None: ...
    @property
    def report_headers(self) -> tuple[tuple[str, str], ...]: ...
    @property
    def report_timeout(self) -> float: ...
    @property
    def report_retries(self) -> int: ...
    @property
    def report_delay(self) -> float: ...
    @property
    def report_interval(self) -> float: ...
    @property
    def flush_interval(self) -> float: ...
    @property
    def initialize(self) -> bool | None: ...


def budget(config: ReportSettings) -> float:
    """The longest one report's attempts and backoff can take (seconds): each attempt at most
    twice ``REPORT_TIMEOUT``, plus the longest backoff before each retry."""
    attempts = config.report_retries + 1
    return attempts * 2 * config.report_timeout + sum(backoff_cap(n) for n in range(1, attempts))


class ReportSource(Protocol):
    """What reporting needs from the app's state."""

    def flush(self) -> None:
        """Write this process's counts to the database now (cluster scope; else nothing)."""

    def snapshot(self) -> Snapshot:
        """The document now (cluster scope: after flushing this process's counts)."""

    @property
    def app(self) -> weakref.ref[Flask]:
        """The app, held weakly."""


@dataclass(frozen=True)
class ReportResult:
    """What ``report_now`` sent (or, for a dry run, would send) and what came back.

    .. versionadded:: 0.2.0
    """

    body: bytes
    headers: dict[str, str]
    answer: Answer | None
    confirmed: bool


@dataclass(frozen=True)
class Delivery:
    """What came of one report: the outcome to record (None: nothing to record), the
    confirmation to make (None: not delivered), the snapshot sent and the last answer."""

    outcome: Outcome | None
    confirm: Confirmation | None
    snapshot: Snapshot
    answer: Answer | None


class Sender:
    """Builds and sends one app's reports (the body, the headers, the attempts)."""

    def __init__(self, config: ReportSettings, post: Callable[..., Answer], sender: Callable[[], str]) -> None:
        assert config.report_url is not None
        self.url: str = config.report_url
        self._config = config
        self._post = post
        self._sender = sender
        parts = urlsplit(self.url)
        self.where = f"{parts.scheme}://{parts.netloc}{parts.path}"  # never the query: it may hold a token

    def build(self, snapshot: Snapshot) -> tuple[bytes, dict[str, str]]:
        """The body and the headers of the report of ``snapshot``."""
        report = report_id(snapshot.data.installation, self._sender(), snapshot.start)
        body = encode(report_body(snapshot.data, snapshot.counts.metrics))
        return body, report_headers(self._config.report_headers, report)

    def deliver(
        self, snapshot: Snapshot, attempts: int, stop: threading.Event, consented: Callable[[], bool]
    ) -> Delivery:
        """Check ``snapshot`` and POST it up to ``attempts`` times; give up when ``stop`` is set
        (between attempts) or consent was withdrawn (before each attempt)."""
        found = problems(snapshot.data)
        if found:
            log.warning("telemetry report not sent: the document is invalid (%s)", "; ".join(found))
            return Delivery((now(), 0, INVALID), None, snapshot, None)
        body, headers = self.build(snapshot)
        report = headers["Telemetry-Report-Id"]
        answer: Answer | None = None
        ends = time.monotonic() + budget(self._config)
        for attempt in range(attempts):
            if attempt:
                assert answer is not None
                pause = self._pause(attempt, answer, ends)
                if pause is None:
                    log.warning(
                        "telemetry report %s: the collector asked to wait %g s, longer than this report's attempts "
                        "may last; the next report carries its counts, under the same id", report, answer.retry_after,
                    )
                    break
                if stop.wait(pause):
                    return Delivery(None, None, snapshot, answer)  # shutting down: give up
            if not consented():  # right before every attempt: a withdrawal stops even a report due
                log.info("telemetry report %s not sent: consent was withdrawn", report)
                return Delivery(None, None, snapshot, answer)
            sent_at = now()
            log.debug("sending telemetry report %s to %s: %s", report, self.where, body.decode())
            answer = self._post(self.url, body, headers, self._config.report_timeout)
            if answer.ok:
                log.info("telemetry report %s sent to %s: %s", report, self.where, answer.message)
                confirm = (snapshot.counts, sent_at)
                return Delivery((sent_at, answer.status or 0, 0), confirm, snapshot, answer)
            log.warning(
                "telemetry report %s to %s failed (attempt %d of %d): %s",
                report, self.where, attempt + 1, attempts, answer.message,
            )
        assert answer is not None
        return Delivery((now(), answer.status or 0, answer.failure), None, snapshot, answer)

    def _pause(self, retry: int, answer: Answer, ends: float) -> float | None:
        """The wait before the ``retry``-th retry: the backoff, or longer when the collector asked
        (``Retry-After``, at most ``REPORT_INTERVAL``); None when the retry would then end after
        ``ends`` (monotonic), the report's budget."""
        cap = backoff_cap(retry)
        pause = cap / 2 + random.uniform(0, cap / 2)
        if answer.retry_after is None:
            return pause
        pause = max(pause, min(answer.retry_after, self._config.report_interval))
        if time.monotonic() + pause + 2 * self._config.report_timeout > ends:
            return None
        return pause
