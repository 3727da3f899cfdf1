"""Every database access of the collector.

Storing a report is one transaction (see :mod:`.ingest`): its report row, its counts, and the two
summaries adjusted by the difference. Every aggregation runs in the database (GROUP BY): over the
daily summary when it can answer (whole days, any version, every installation), else over the
counts of the matching reports; sums are exact (:mod:`.exact`). Every call waits on the database
at most ``CAMUNDA_TELEMETRY_COLLECTOR_DB_TIMEOUT``. Supports SQLite, PostgreSQL and MariaDB/MySQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Date, Engine, and_, case, delete, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.expression import ColumnElement, Executable

from ..exceptions import DatabaseUnavailableError
from ..storage.engines import LazyEngine
from ..storage.errors import OutageLog
from ..storage.transactions import create_missing_tables, run_transaction
from .exact import exact_sum, largest_first, prepare
from .ingest import ReportMovedError, day_of, store_report
from .paging import Position, installations_query
from .payload import Received
from .statements import (
    COMMAND,
    INSTALLATION_COLUMNS,
    METRIC,
    REPORT,
    USAGE_COLUMNS,
    Writes,
    build_writes,
    recomputed_summaries,
)
from .tables import CollectorTables

_KEPT = "The sender keeps its counts and sends them again later."
_LATER = "Retry later."
#: The setting that bounds every wait, named in the errors that say the bound was reached.
TIMEOUT_KEY = "CAMUNDA_TELEMETRY_COLLECTOR_DB_TIMEOUT"
#: What bounds a maintenance run (prune, rebuild) given a ``timeout`` of its own.
MAINTENANCE_KEY = "the command's --timeout"
#: Runs of a report's transaction when a concurrent report voided its decision (see .ingest).
_ATTEMPTS = 4

#: ``{"command": {name: total}, "metric": {name: total}}``
Usage = dict[str, dict[str, int]]
T = TypeVar("T")


class CollectorStore:
    """The collector's database access for one app.

    ``resend_window``: how long the same document (without report id or start date) is taken
    as a resend of the one stored.
    """

    def __init__(self, tables: CollectorTables, engine: LazyEngine, create_tables: bool,
                 resend_window: dt.timedelta = dt.timedelta(hours=1)) -> None:
        self.tables = tables
        self.lazy_engine = engine
        self.resend_window = resend_window
        self._create_tables = create_tables
        self._tables_ready = False
        self._statements: dict[str, Writes] = {}
        self._outages = OutageLog("telemetry collector database")

    @property
    def engine(self) -> Engine:
        return self.lazy_engine()

    def _run(self, action: str, work: Callable[[Connection], T], hint: str = _LATER,
             timeout: float | None = None) -> T:
        """``work`` in a transaction, every wait bounded by ``DB_TIMEOUT`` (``timeout``: by that)."""
        def prepared(conn: Connection) -> T:
            prepare(conn)
            return work(conn)

        bound, key = (self.lazy_engine.timeout, TIMEOUT_KEY) if timeout is None else (timeout, MAINTENANCE_KEY)

        def attempt() -> T:
            self.ensure_tables()
            return run_transaction(self.engine, action, prepared, hint, bound, key)

        return self._outages.run(attempt)

    def create_tables(self) -> None:
        """Create the tables that are missing; tolerates another process doing the same."""
        create_missing_tables(self.engine, self.tables.all(), "flask telemetry-collector init-db",
                              self.lazy_engine.timeout, TIMEOUT_KEY)
        self._tables_ready = True

    def ensure_tables(self) -> None:
        if not self._tables_ready:
            if self._create_tables:
                self.create_tables()
            self._tables_ready = True

    # -- storing --------------------------------------------------------------------------

    def _writes(self, dialect: str) -> Writes:
        """The statements that store a report, built once per dialect (then compiled once)."""
        writes = self._statements.get(dialect)
        if writes is None:
            writes = self._statements[dialect] = build_writes(self.tables, dialect)
        return writes

    def ingest(self, report: Received) -> bool:
        """Store ``report``; True when it replaced a stored report (see :mod:`.ingest`)."""
        def work(conn: Connection) -> bool:
            return store_report(conn, self.tables, self._writes(conn.dialect.name), report, self.resend_window)

        for _ in range(_ATTEMPTS - 1):
            try:
                return self._run("store the report", work, _KEPT)
            except (IntegrityError, ReportMovedError):  # a concurrent report of the same key: look again
                continue
        try:
            return self._run("store the report", work, _KEPT)
        except (IntegrityError, ReportMovedError) as exc:
            raise DatabaseUnavailableError(
                f"Cannot store the report: concurrent reports of its installation kept changing what it "
                f"replaces. {_KEPT}", str(exc)) from exc

    def keep_declined(self, report: Received) -> None:
        """Note a message of an installation whose owner did not agree to report (never counted)."""
        row = {"installation": report.installation, "first_message": report.received_at,
               "last_message": report.received_at, "messages": 1, "product_version": report.product_version,
               "consent": "false" if report.consent is False else "null"}
        self._run("note the declined message",
                  lambda conn: conn.execute(self._writes(conn.dialect.name).declined, row), _KEPT)

    # -- maintenance ----------------------------------------------------------------------

    def prune(self, before: dt.datetime, batch: int = 5000, timeout: float | None = None) -> int:
        """Delete the reports received before ``before`` (naive UTC), and the declined
        installations last heard of before it, then rebuild the summaries. ``timeout``: seconds
        each of its transactions may wait in all (default ``DB_TIMEOUT``; a big fleet needs more)."""
        t = self.tables

        def work(conn: Connection) -> int:
            ids = conn.execute(select(t.report.c.id).where(t.report.c.received_at < before).limit(batch))
            chosen = [row[0] for row in ids]
            if chosen:
                conn.execute(delete(t.count).where(t.count.c.report_id.in_(chosen)))
                conn.execute(delete(t.report).where(t.report.c.id.in_(chosen)))
            return len(chosen)

        deleted = 0
        while True:
            done = self._run("prune the reports", work, timeout=timeout)
            deleted += done
            if done < batch:
                break
        d = t.declined.c
        self._run("prune the declined messages", lambda conn: conn.execute(delete(t.declined).where(
            d.last_message < before)), timeout=timeout)
        self.rebuild(timeout)
        return deleted

    def rebuild(self, timeout: float | None = None) -> None:
        """Recompute both summaries from the stored reports, in one transaction (``timeout``: as
        for :meth:`prune`; it reads every report)."""
        t = self.tables
        usage, installations = recomputed_summaries(t)

        def work(conn: Connection) -> None:
            conn.execute(delete(t.usage))
            conn.execute(insert(t.usage).from_select(USAGE_COLUMNS, usage))
            conn.execute(delete(t.installation))
            conn.execute(insert(t.installation).from_select(INSTALLATION_COLUMNS, installations))

        self._run("rebuild the summaries", work, timeout=timeout)

    # -- reading --------------------------------------------------------------------------

    def _rows(self, action: str, query: Executable) -> list[Any]:
        """The rows of ``query`` (SQLAlchemy ``Row`` objects: tuples with named fields)."""
        return self._run(action, lambda conn: list(conn.execute(query)))

    def fleet(self, active_since: dt.datetime) -> tuple[int, int, int]:
        """(installations, installations that reported since ``active_since``, reports). The sum of
        ``reports`` is the number of report rows, so it fits the database's integers."""
        i = self.tables.installation.c
        active = func.count(case((i.last_report >= active_since, 1)))
        row = self._rows("count the installations", select(func.count(), active, func.sum(i.reports)))[0]
        return int(row[0]), int(row[1]), int(row[2] or 0)

    def declined(self) -> tuple[int, int]:
        """(installations whose owner declined, the messages they sent): never counted elsewhere."""
        d = self.tables.declined.c
        row = self._rows("count the declined", select(func.count(), func.sum(d.messages)))[0]
        return int(row[0]), int(row[1] or 0)

    def reports_per_day(self, since: dt.datetime, installation: str | None = None) -> dict[dt.date, int]:
        """Reports received per day from the day of ``since`` on."""
        if installation is None:
            u = self.tables.usage.c
            query = (select(u.day, exact_sum(u.total)).where(and_(u.kind == REPORT, u.day >= since.date()))
                     .group_by(u.day))
        else:
            r = self.tables.report.c
            day = func.date(r.received_at, type_=Date()).label("day")
            query = (select(day, func.count())
                     .where(and_(r.received_at >= since, r.installation == installation)).group_by(day))
        return {day_of(d): int(n) for d, n in self._rows("count the reports per day", query)}

    def installations_by(self, column: str) -> list[tuple[str | None, int]]:
        """Installations per value of one :data:`ENVIRONMENT` field (of their latest report)."""
        col = self.tables.installation.c[column]
        query = select(col, func.count().label("n")).group_by(col).order_by(func.count().desc(), col)
        return [(value, int(n)) for value, n in self._rows("group the installations", query)]

    def installations(self, limit: int | None = None, after: Position | None = None,
                      before: Position | None = None) -> list[Any]:
        """Installations, the latest to report first (see :mod:`.paging`): the first ``limit``
        (None: all), those past ``after``, or the ``limit`` just before ``before``."""
        rows = self._rows("list the installations", installations_query(self.tables.installation, limit, after, before))
        return rows[::-1] if before is not None else rows

    def installation(self, installation: str) -> Any:
        i = self.tables.installation
        rows = self._rows("read the installation", select(i).where(i.c.installation == installation))
        return rows[0] if rows else None

    def reports(self, installation: str, limit: int) -> list[Any]:
        """The latest ``limit`` reports of an installation, newest first (without the document)."""
        r = self.tables.report.c
        query = (select(r.id, r.received_at, r.period_start, r.product_version, r.rev, r.commands)
                 .where(r.installation == installation).order_by(r.received_at.desc(), r.id.desc()).limit(limit))
        return self._rows("list the reports", query)

    def latest_document(self, installation: str) -> str | None:
        r = self.tables.report.c
        query = (select(r.document).where(r.installation == installation)
                 .order_by(r.received_at.desc(), r.id.desc()).limit(1))
        rows = self._rows("read the latest report", query)
        return rows[0][0] if rows else None

    def _sums(self, installation: str | None = None, since: dt.datetime | None = None,
              until: dt.datetime | None = None, version: str | None = None) -> Any:
        """``(kind, name, total)`` summed over the reports received in [since, until): from the daily
        summary when it can answer (every installation, whole days), else from the counts."""
        t = self.tables
        conditions: list[ColumnElement[bool]] = []
        source: Any
        if installation is None and all(b is None or b.time() == dt.time() for b in (since, until)):
            u = t.usage.c
            kind, name, value, source, day, ver = u.kind, u.name, u.total, t.usage, u.day, u.product_version
            conditions.append(u.kind != REPORT)
            since_, until_ = (since.date() if since else None), (until.date() if until else None)
        else:
            r, c = t.report.c, t.count.c
            kind, name, value, day, ver = c.kind, c.name, c.value, r.received_at, r.product_version
            source = t.count.join(t.report, r.id == c.report_id)
            since_, until_ = since, until
            if installation is not None:
                conditions.append(r.installation == installation)
        if since_ is not None:
            conditions.append(day >= since_)
        if until_ is not None:
            conditions.append(day < until_)
        if version is not None:
            conditions.append(ver == version)
        return (select(kind.label("kind"), name.label("name"), exact_sum(value).label("total")).select_from(source)
                .where(and_(*conditions)).group_by(kind, name))

    def usage(self, installation: str | None = None, since: dt.datetime | None = None,
              until: dt.datetime | None = None, version: str | None = None) -> Usage:
        """Commands and metrics summed over the matching reports (received in [since, until))."""
        usage: Usage = {COMMAND: {}, METRIC: {}}
        for kind, name, total in self._rows("sum the usage", self._sums(installation, since, until, version)):
            if total:  # a name whose reports were replaced by ones without it sums to 0
                usage[kind][name] = int(total)
        return usage

    def top(self, kind: str, limit: int, installation: str | None = None) -> list[tuple[str, int]]:
        """The ``limit`` names of ``kind`` with the largest totals (over every report)."""
        sums = self._sums(installation).subquery()
        query = (select(sums.c.name, sums.c.total).where(sums.c.kind == kind)
                 .order_by(*largest_first(sums.c.total, self.engine.dialect.name), sums.c.name).limit(limit))
        return [(name, int(n)) for name, n in self._rows("sum the usage", query) if n]
