"""Every database access of the collector.

Storing a report is one transaction: an upsert of the report row on (installation,
``report_key``) so a resent report replaces its row (concurrent posts of the same report leave
one), its counts, and the two summaries adjusted by the difference. Every aggregation runs in the
database (GROUP BY): over the daily summary when it can answer (whole days, any version, every
installation), else over the counts of the matching reports. Supports SQLite, PostgreSQL and
MariaDB/MySQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Date, Engine, and_, case, delete, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import ColumnElement, Executable

from ..storage.engines import LazyEngine
from ..storage.errors import OutageLog
from ..storage.transactions import create_missing_tables, run_transaction
from .payload import Received
from .statements import (
    COMMAND,
    ENVIRONMENT,
    INSTALLATION_COLUMNS,
    METRIC,
    REPORT,
    USAGE_COLUMNS,
    Writes,
    build_writes,
    recomputed_summaries,
)
from .tables import CollectorTables

_HINT = "The sender keeps its counts and sends them again later."

#: ``{"command": {name: total}, "metric": {name: total}}``
Usage = dict[str, dict[str, int]]
T = TypeVar("T")


class CollectorStore:
    """The collector's database access for one app."""

    def __init__(self, tables: CollectorTables, engine: LazyEngine, create_tables: bool) -> None:
        self.tables = tables
        self.lazy_engine = engine
        self._create_tables = create_tables
        self._tables_ready = False
        self._statements: dict[str, Writes] = {}
        self._outages = OutageLog("telemetry collector database")

    @property
    def engine(self) -> Engine:
        return self.lazy_engine()

    def _run(self, action: str, work: Callable[[Connection], T]) -> T:
        self.ensure_tables()
        return self._outages.run(lambda: run_transaction(self.engine, action, work, _HINT))

    def create_tables(self) -> None:
        """Create the tables that are missing; tolerates another process doing the same."""
        create_missing_tables(self.engine, self.tables.all(), "flask telemetry-collector init-db")
        self._tables_ready = True

    def ensure_tables(self) -> None:
        if not self._tables_ready:
            if self._create_tables:
                self.create_tables()
            self._tables_ready = True

    # -- storing --------------------------------------------------------------------------

    def ingest(self, report: Received) -> bool:
        """Store ``report``; True when it replaced the one stored for the same period."""
        return self._run("store the report", lambda conn: self._ingest(conn, report))

    def _writes(self, dialect: str) -> Writes:
        """The statements that store a report, built once per dialect (then compiled once)."""
        writes = self._statements.get(dialect)
        if writes is None:
            writes = self._statements[dialect] = build_writes(self.tables, dialect)
        return writes

    def _ingest(self, conn: Connection, r: Received) -> bool:
        t = self.tables
        writes = self._writes(conn.dialect.name)
        environment = {name: getattr(r, name) for name in ENVIRONMENT}
        report = {"installation": r.installation, "report_key": r.report_key, "rev": 1, "received_at": r.received_at,
                  "period_start": r.period_start, **environment, "commands": sum(r.commands.values()),
                  "document": r.document}
        counts = {(COMMAND, name): n for name, n in r.commands.items()}
        counts.update({(METRIC, name): n for name, n in r.metrics.items()})
        if writes.whole is not None:  # one statement does it all for a report new to its period
            kinds, names, values = [k for k, _ in counts], [name for _, name in counts], list(counts.values())
            arrays = {"c_kind": kinds, "c_name": names, "c_value": values, "u_kind": [*kinds, REPORT],
                      "u_name": [*names, "*"], "u_total": [*values, 1], "increment": 1}
            report_id, rev, received_at, version = conn.execute(writes.whole, {**report, **arrays}).one()
            if rev == 1:
                return False
        else:
            report_id, rev, received_at, version = conn.execute(writes.report, report).one()
        old: dict[tuple[str, str], int] = {}
        if rev > 1:  # a resend: take back what the report it replaces added
            owned = t.count.c.report_id == report_id
            stored = conn.execute(select(t.count.c.kind, t.count.c.name, t.count.c.value).where(owned))
            old = {(REPORT, "*"): 1, **{(k, name): v for k, name, v in stored}}
            conn.execute(delete(t.count).where(owned))
        rows = [{"report_id": report_id, "kind": k, "name": name, "value": n} for (k, name), n in counts.items()]
        counts[(REPORT, "*")] = 1
        day = _day(received_at)
        deltas = [{"day": day, "product_version": version, "kind": k, "name": name, "total": delta}
                  for k, name in sorted(counts.keys() | old.keys())
                  if (delta := counts.get((k, name), 0) - old.get((k, name), 0))]
        environment["product_version"] = version
        writes.rest(conn, rows, deltas, {"installation": r.installation, "first_report": received_at,
                                         "last_report": received_at, "reports": 1, **environment,
                                         "increment": 0 if rev > 1 else 1})
        return bool(rev > 1)

    # -- maintenance ----------------------------------------------------------------------

    def prune(self, before: dt.datetime, batch: int = 5000) -> int:
        """Delete the reports received before ``before`` (naive UTC), then rebuild the summaries."""
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
            done = self._run("prune the reports", work)
            deleted += done
            if done < batch:
                break
        self.rebuild()
        return deleted

    def rebuild(self) -> None:
        """Recompute both summaries from the stored reports, in one transaction."""
        t = self.tables
        usage, installations = recomputed_summaries(t)

        def work(conn: Connection) -> None:
            conn.execute(delete(t.usage))
            conn.execute(insert(t.usage).from_select(USAGE_COLUMNS, usage))
            conn.execute(delete(t.installation))
            conn.execute(insert(t.installation).from_select(INSTALLATION_COLUMNS, installations))

        self._run("rebuild the summaries", work)

    # -- reading --------------------------------------------------------------------------

    def _rows(self, action: str, query: Executable) -> list[Any]:
        """The rows of ``query`` (SQLAlchemy ``Row`` objects: tuples with named fields)."""
        return self._run(action, lambda conn: list(conn.execute(query)))

    def fleet(self, active_since: dt.datetime) -> tuple[int, int, int]:
        """(installations, installations that reported since ``active_since``, reports)."""
        i = self.tables.installation.c
        active = func.count(case((i.last_report >= active_since, 1)))
        row = self._rows("count the installations", select(func.count(), active, func.sum(i.reports)))[0]
        return int(row[0]), int(row[1]), int(row[2] or 0)

    def reports_per_day(self, since: dt.datetime, installation: str | None = None) -> dict[dt.date, int]:
        """Reports received per day from the day of ``since`` on."""
        if installation is None:
            u = self.tables.usage.c
            query = (select(u.day, func.sum(u.total)).where(and_(u.kind == REPORT, u.day >= since.date()))
                     .group_by(u.day))
        else:
            r = self.tables.report.c
            day = func.date(r.received_at, type_=Date()).label("day")
            query = (select(day, func.count())
                     .where(and_(r.received_at >= since, r.installation == installation)).group_by(day))
        return {_day(d): int(n) for d, n in self._rows("count the reports per day", query)}

    def installations_by(self, column: str) -> list[tuple[str | None, int]]:
        """Installations per value of one :data:`ENVIRONMENT` field (of their latest report)."""
        col = self.tables.installation.c[column]
        query = select(col, func.count().label("n")).group_by(col).order_by(func.count().desc(), col)
        return [(value, int(n)) for value, n in self._rows("group the installations", query)]

    def installations(self, limit: int | None = None, offset: int = 0) -> list[Any]:
        """Installations, the latest to report first."""
        i = self.tables.installation
        query = select(i).order_by(i.c.last_report.desc(), i.c.installation).offset(offset).limit(limit)
        return self._rows("list the installations", query)

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
        total = func.sum(value)
        return (select(kind.label("kind"), name.label("name"), total.label("total")).select_from(source)
                .where(and_(*conditions)).group_by(kind, name).having(total > 0))

    def usage(self, installation: str | None = None, since: dt.datetime | None = None,
              until: dt.datetime | None = None, version: str | None = None) -> Usage:
        """Commands and metrics summed over the matching reports (received in [since, until))."""
        usage: Usage = {COMMAND: {}, METRIC: {}}
        for kind, name, total in self._rows("sum the usage", self._sums(installation, since, until, version)):
            usage[kind][name] = int(total)
        return usage

    def top(self, kind: str, limit: int, installation: str | None = None) -> list[tuple[str, int]]:
        """The ``limit`` names of ``kind`` with the largest totals (over every report)."""
        sums = self._sums(installation).subquery()
        query = (select(sums.c.name, sums.c.total).where(sums.c.kind == kind)
                 .order_by(sums.c.total.desc(), sums.c.name).limit(limit))
        return [(name, int(n)) for name, n in self._rows("sum the usage", query)]


def _day(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
