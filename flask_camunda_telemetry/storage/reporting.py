"""The database side of reporting: consent, the once-per-cluster claim, what was reported.

* Consent is Camunda's property ``camunda.telemetry.enabled`` in the property table, with the
  strings ``true``, ``false`` or ``null``, created once from ``INITIALIZE``.
* Everything else is in the counts table (:mod:`.meta`): what has been reported, when the next
  report is due, the claim of the process sending it (a lease, so that a process killed
  mid-send is replaced), when consent was given, and the outcome of the last attempt.

A report is confirmed by moving the start date from the value the report carried to the send
time (compare-and-set): at most one report per start date is ever subtracted, whatever the
number of senders, resets or consent changes racing with it.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ..clock import from_us, to_us
from ..document.counts import Counts
from ..exceptions import DatabaseUnavailableError
from ..forking import ForkAware
from .meta import CONSENT_GIVEN, DUE, LAST_AT, LAST_ERROR, LAST_STATUS, LEASE, REPORTED, MetaRows
from .resets import META
from .store import START_DATE, TelemetryStore

log = logging.getLogger("flask_camunda_telemetry")

#: Camunda's consent property.
CONSENT = "camunda.telemetry.enabled"

T = TypeVar("T")
_ATTEMPTS = 12
#: How long a fork waits for the reporter's database work in progress (seconds).
FORK_WAIT = 30.0
#: What consent given does to the counts in the same transaction (cluster scope: marks them reported).
CoverCounts = Callable[[Connection, dt.datetime], None]


def _consent_text(value: bool | None) -> str:
    return "null" if value is None else "true" if value else "false"


def _parse_consent(value: str | None) -> bool | None:
    """As Camunda's ``IsTelemetryEnabledCmd``: ``null`` is undecided, anything but ``true`` is false."""
    if value is not None and value.strip().lower() == "null":
        return None
    return value is not None and value.strip().lower() == "true"


class _NotDueError(Exception):
    """Raised inside a claim to roll it back."""


@dataclass(frozen=True)
class Consent:
    """The consent flag and when it was last given (None while it is not ``true``)."""

    value: bool | None
    given: dt.datetime | None


@dataclass(frozen=True)
class LastReport:
    """The schedule and the last attempt, as recorded in the database."""

    at: dt.datetime | None
    status: int | None
    error: int | None
    due: dt.datetime | None


class ReportStore(ForkAware):
    """Reporting's database access, on the tables and transactions of a :class:`TelemetryStore`.

    ``cover``: what consent given does to the counts, in the transaction that records it (cluster
    scope: everything counted so far is marked reported, see :func:`cover_shared_counts`); None
    where the counts are in each process's memory (process scope: each process covers its own).

    The reporter's database work holds :attr:`busy`, which a fork waits for (see :mod:`..forking`).
    """

    fork_fresh = {"busy": threading.RLock, "_held_for_fork": lambda: False}
    busy: threading.RLock
    _held_for_fork: bool

    def __init__(self, store: TelemetryStore, *, cover: CoverCounts | None) -> None:
        super().__init__()
        self.store = store
        self._cover = cover
        self._rows = MetaRows(store.tables.count)

    def before_fork(self) -> None:
        self._held_for_fork = self.busy.acquire(timeout=FORK_WAIT)
        if not self._held_for_fork:
            log.warning("forking while the telemetry reporter's database work has run for over %ss", FORK_WAIT)

    def after_fork_in_parent(self) -> None:
        if self._held_for_fork:
            self._held_for_fork = False
            self.busy.release()

    # -- plumbing -------------------------------------------------------------------------

    def _run(self, action: str, work: Callable[[Connection], T]) -> T:
        """One transaction; run again when a concurrent insert of the same row won."""
        with self.busy:
            self.store.ensure_tables()
            for _ in range(_ATTEMPTS):
                try:
                    return self.store._retry(action, work)
                except IntegrityError:  # a concurrent insert of the same row won: run it again
                    continue
        raise DatabaseUnavailableError(f"Cannot {action}: too many concurrent changes; retry later.")

    # -- consent --------------------------------------------------------------------------

    def _current(
        self, conn: Connection, initial: bool | None, now: dt.datetime, delay: float, *, follow: bool = False
    ) -> Consent:
        """The consent, its row created from ``initial`` if missing. With ``follow``, apply a
        change made behind the extension's back (a Camunda engine sharing ``ACT_GE_PROPERTY``,
        an UPDATE by hand): true without ``consent-given`` gives it now; not true clears it."""
        exists, text = self.store._read_property(conn, CONSENT)
        if not exists:  # an IntegrityError if another process inserted it first: run again
            prop = self.store.tables.property
            conn.execute(insert(prop).values(NAME_=CONSENT, VALUE_=_consent_text(initial), REV_=1))
            if initial:
                self._give(conn, now, delay, from_start=True)
            text = _consent_text(initial)
        value = _parse_consent(text)
        given = self._rows.read(conn).get(CONSENT_GIVEN, 0)
        if follow and value is True and not given:
            self._give(conn, now, delay)
            given = self._rows.read(conn).get(CONSENT_GIVEN, 0)
        elif follow and value is not True and given:
            self._rows.swap(conn, CONSENT_GIVEN, given, 0)
        return Consent(value, from_us(given) if value and given else None)

    def _give(self, conn: Connection, now: dt.datetime, delay: float, *, from_start: bool = False) -> None:
        """Consent became true: the counts are covered (see ``cover``) and the first report is due
        ``delay`` seconds later. Done once, by whoever swaps ``consent-given`` from 0.

        ``from_start``: consent written from ``INITIALIZE`` when the database had none; it holds
        from the start date on (``consent-given`` = 1), so nothing is covered."""
        if not self._rows.swap(conn, CONSENT_GIVEN, 0, 1 if from_start else to_us(now)):
            return
        if self._cover is not None and not from_start:
            self._cover(conn, now)
        self._rows.put(conn, LEASE, 0)
        self._rows.put(conn, DUE, to_us(now + dt.timedelta(seconds=delay)))

    def consent(self, initial: bool | None, now: dt.datetime, delay: float) -> Consent:
        """The consent every process on the database shares; created from ``initial`` when the
        database holds none (one row, whatever the number of processes doing so at once)."""
        return self._run("read the telemetry consent", lambda conn: self._current(conn, initial, now, delay))

    def follow_consent(self, initial: bool | None, now: dt.datetime, delay: float) -> Consent:
        """:meth:`consent`, after applying a change made behind the extension's back."""
        return self._run(
            "read the telemetry consent", lambda conn: self._current(conn, initial, now, delay, follow=True)
        )

    def set_consent(self, value: bool, initial: bool | None, now: dt.datetime, delay: float) -> Consent:
        """Store the consent for every process; from false or undecided to true, zero what the
        document reports and move its start date (lifetime counts stay)."""
        prop = self.store.tables.property
        text = _consent_text(value)

        def work(conn: Connection) -> Consent:
            self._current(conn, initial, now, delay)
            conn.execute(
                update(prop)
                .where(and_(prop.c.NAME_ == CONSENT, or_(prop.c.VALUE_.is_(None), prop.c.VALUE_ != text)))
                .values(VALUE_=text, REV_=func.coalesce(prop.c.REV_, 0) + 1)
            )
            return self._current(conn, initial, now, delay, follow=True)

        return self._run("store the telemetry consent", work)

    # -- the claim ------------------------------------------------------------------------

    def due(self, default: dt.datetime) -> dt.datetime:
        """When the next report is due; ``default`` if no report was ever scheduled."""

        def work(conn: Connection) -> int:
            meta = self._rows.read(conn)
            if DUE in meta:
                return meta[DUE]
            self._rows.put(conn, DUE, to_us(default))
            return to_us(default)

        return from_us(self._run("read the report schedule", work))

    def claim(self, now: dt.datetime, until: dt.datetime, *, force: bool = False) -> dt.datetime | None:
        """Claim the report due at ``now`` until ``until``: returns its due time, or None when
        it is not due or another process holds it. One winner per claim, on every database.
        ``force``: claim it even when it is not due yet (a report asked for now)."""
        lease = to_us(until)

        def work(conn: Connection) -> int | None:
            count = self.store.tables.count
            held = and_(count.c.kind == META, count.c.name == LEASE, count.c.total <= to_us(now))
            if not conn.execute(update(count).where(held).values(total=lease)).rowcount:
                if LEASE in self._rows.read(conn):
                    return None
                self._rows.put(conn, LEASE, lease)  # the first claim ever (IntegrityError: lost)
            due = self._rows.read(conn).get(DUE)
            if force:
                return due or to_us(now)
            if due is None or due > to_us(now):
                raise _NotDueError  # roll the lease back
            return due

        try:
            due = self._run("claim the report", work)
        except _NotDueError:
            return None
        return None if due is None else from_us(due)

    def finish(
        self,
        *,
        until: dt.datetime,
        next_due: dt.datetime | None,
        outcome: tuple[dt.datetime, int, int] | None,
        confirm: tuple[Counts, dt.datetime] | None = None,
    ) -> bool:
        """End a claimed report in one transaction: with ``confirm`` = (the counts the report
        carried, with its start date; the send time), add the counts to what was reported and
        move the start date, if it still is the one the report carried; release the claim, schedule
        the next report at ``next_due`` (None: leave the schedule) and record ``outcome`` =
        (time, HTTP status or 0, error code or 0). Returns whether the counts were confirmed."""

        def work(conn: Connection) -> bool:
            confirmed = confirm is not None and self._confirm(conn, *confirm)
            count = self.store.tables.count
            ours = and_(count.c.kind == META, count.c.name == LEASE, count.c.total == to_us(until))
            held = bool(conn.execute(update(count).where(ours).values(total=0)).rowcount)
            if next_due is not None and (held or confirmed):
                self._rows.put(conn, DUE, to_us(next_due))
            if outcome is not None:
                self._record(conn, outcome)
            return confirmed

        return self._run("record the report", work)

    def _confirm(self, conn: Connection, counts: Counts, sent_at: dt.datetime) -> bool:
        if not self._rows.swap(conn, START_DATE, to_us(counts.start), to_us(sent_at)):
            return False
        rows = [
            {"kind": REPORTED[kind], "name": name, "total": n}
            for kind, by_name in counts.by_kind().items()
            for name, n in sorted(by_name.items())
            if n > 0
        ]
        if rows:
            self.store._upsert(conn, rows)
        return True

    # -- the last attempt -----------------------------------------------------------------

    def _record(self, conn: Connection, outcome: tuple[dt.datetime, int, int]) -> None:
        at, status, error = outcome
        self._rows.put(conn, LAST_AT, to_us(at))
        self._rows.put(conn, LAST_STATUS, status)
        self._rows.put(conn, LAST_ERROR, error)

    def record(self, outcome: tuple[dt.datetime, int, int]) -> None:
        """Record an attempt made outside a claim (process scope, ``flask telemetry report``)."""
        self._run("record the report", lambda conn: self._record(conn, outcome))

    def last(self) -> LastReport:
        """The last attempt and the next due time, as recorded."""
        meta = self._run("read the report status", self._rows.read)
        at, due = meta.get(LAST_AT), meta.get(DUE)
        return LastReport(
            at=from_us(at) if at else None,
            status=meta.get(LAST_STATUS) or None,
            error=meta.get(LAST_ERROR) or None,
            due=from_us(due) if due else None,
        )


def cover_shared_counts(store: TelemetryStore) -> CoverCounts:
    """Cluster scope's ``cover``: everything counted so far is marked reported (the lifetime rows
    stay) and the start date moves to the time consent was given.

    Rows are locked in the order a confirmation locks them (start date, reported rows, lease,
    schedule), and the totals are read with a locking read, so that a confirmation committed
    meanwhile is seen even under MariaDB's repeatable read."""
    rows = MetaRows(store.tables.count)

    def cover(conn: Connection, now: dt.datetime) -> None:
        rows.put(conn, START_DATE, to_us(now))
        count = store.tables.count
        kinds = [*REPORTED, *REPORTED.values()]
        query = (  # in the order a flush locks them
            select(count.c.kind, count.c.name, count.c.total)
            .where(count.c.kind.in_(kinds))
            .order_by(count.c.kind, count.c.name)
        )
        totals = {(kind, name): int(total) for kind, name, total in conn.execute(query.with_for_update())}
        unreported = [
            {"kind": REPORTED[kind], "name": name, "total": total - totals.get((REPORTED[kind], name), 0)}
            for (kind, name), total in sorted(totals.items())
            if kind in REPORTED and total > totals.get((REPORTED[kind], name), 0)
        ]
        if unreported:
            store._upsert(conn, unreported)

    return cover
