"""Every database access of the collector.

Storing a report is one transaction: an upsert of the report row on (installation,
``report_key``) so a resent report replaces its row (concurrent posts of the same report leave
one), its counts, and the two per-installation summaries adjusted by the difference. Every
aggregation runs in the database (GROUP BY); the overview reads the summaries, narrowed usage
sums the counts of the matching reports. Supports SQLite, PostgreSQL and MariaDB/MySQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Date, Engine, and_, case, delete, func, insert, literal, select
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import ColumnElement, Executable

from ..exceptions import DatabaseUnavailableError
from ..storage.engines import LazyEngine
from ..storage.store import create_missing_tables, run_transaction
from .payload import Received
from .tables import CollectorTables

__all__ = ["COMMAND", "ENVIRONMENT", "METRIC", "CollectorStore", "Usage"]

COMMAND = "command"
METRIC = "metric"
#: The fields the dashboard groups installations by.
ENVIRONMENT = ("product_name", "product_version", "edition", "database_vendor", "server_vendor", "runtime")
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

    @property
    def engine(self) -> Engine:
        return self.lazy_engine()

    def _run(self, action: str, work: Callable[[Connection], T]) -> T:
        self.ensure_tables()
        return run_transaction(self.engine, action, work, _HINT)

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

    def _ingest(self, conn: Connection, r: Received) -> bool:
        t = self.tables
        environment = {name: getattr(r, name) for name in ENVIRONMENT}
        report = {"installation": r.installation, "report_key": r.report_key, "rev": 1, "received_at": r.received_at,
                  "period_start": r.period_start, **environment, "commands": sum(r.commands.values()),
                  "document": r.document}
        replace = ("period_start", *ENVIRONMENT, "commands", "document")
        statement = _upsert(conn, t.report, ["installation", "report_key"],
                            lambda new: {"rev": t.report.c.rev + 1, **{c: new[c] for c in replace}})
        returning = statement.returning(t.report.c.id, t.report.c.rev, t.report.c.received_at)
        report_id, rev, received_at = conn.execute(returning, report).one()
        counts = {(COMMAND, name): n for name, n in r.commands.items()}
        counts.update({(METRIC, name): n for name, n in r.metrics.items()})
        old: dict[tuple[str, str], int] = {}
        if rev > 1:
            owned = t.count.c.report_id == report_id
            old = {(k, name): v for k, name, v in conn.execute(select(t.count.c.kind, t.count.c.name,
                                                                       t.count.c.value).where(owned))}
            conn.execute(delete(t.count).where(owned))
        if counts:
            conn.execute(insert(t.count), [{"report_id": report_id, "kind": k, "name": name, "value": n}
                                           for (k, name), n in counts.items()])
        deltas = [{"installation": r.installation, "kind": k, "name": name, "total": delta}
                  for k, name in sorted(counts.keys() | old.keys())
                  if (delta := counts.get((k, name), 0) - old.get((k, name), 0))]
        if deltas:
            conn.execute(_upsert(conn, t.usage, ["installation", "kind", "name"],
                                 lambda new: {"total": t.usage.c.total + new.total}), deltas)
        self._count_installation(conn, r.installation, received_at, environment, new_report=rev == 1)
        return bool(rev > 1)

    def _count_installation(self, conn: Connection, installation: str, received_at: dt.datetime,
                            environment: dict[str, Any], new_report: bool) -> None:
        i = self.tables.installation.c
        row = {"installation": installation, "first_report": received_at, "last_report": received_at,
               "reports": 1, **environment}

        def on_conflict(new: Any) -> dict[str, Any]:
            latest = new.last_report >= i.last_report
            return {
                **{name: case((latest, new[name]), else_=i[name]) for name in ENVIRONMENT},
                "first_report": case((new.first_report < i.first_report, new.first_report), else_=i.first_report),
                "last_report": case((new.last_report > i.last_report, new.last_report), else_=i.last_report),
                "reports": i.reports + literal(1 if new_report else 0),
            }

        conn.execute(_upsert(conn, self.tables.installation, ["installation"], on_conflict), row)

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
        r, c = t.report.c, t.count.c
        totals = (select(r.installation, c.kind, c.name, func.sum(c.value))
                  .select_from(t.count.join(t.report, r.id == c.report_id))
                  .group_by(r.installation, c.kind, c.name))
        spans = (select(r.installation, func.min(r.received_at).label("first"),
                        func.max(r.received_at).label("last"), func.count().label("n"))
                 .group_by(r.installation).subquery())
        latest = (select(func.max(t.report.c.id)).where(
            and_(r.installation == spans.c.installation, r.received_at == spans.c.last)).scalar_subquery())
        other = t.report.alias("latest")
        installations = (select(spans.c.installation, spans.c.first, spans.c.last, spans.c.n,
                                *(other.c[name] for name in ENVIRONMENT))
                         .select_from(spans.join(other, other.c.id == latest)))
        columns = ["installation", "first_report", "last_report", "reports", *ENVIRONMENT]

        def work(conn: Connection) -> None:
            conn.execute(delete(t.usage))
            conn.execute(insert(t.usage).from_select(["installation", "kind", "name", "total"], totals))
            conn.execute(delete(t.installation))
            conn.execute(insert(t.installation).from_select(columns, installations))

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
        r = self.tables.report.c
        day = func.date(r.received_at, type_=Date()).label("day")
        query = select(day, func.count()).where(r.received_at >= since).group_by(day)
        if installation is not None:
            query = query.where(r.installation == installation)
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

    def usage(self, installation: str | None = None, since: dt.datetime | None = None,
              until: dt.datetime | None = None, version: str | None = None) -> Usage:
        """Commands and metrics summed over the matching reports (received in [since, until))."""
        t = self.tables
        if since is None and until is None and version is None:
            u = t.usage.c
            query = select(u.kind, u.name, func.sum(u.total)).group_by(u.kind, u.name)
            if installation is not None:
                query = query.where(u.installation == installation)
        else:
            r, c = t.report.c, t.count.c
            conditions: list[ColumnElement[bool]] = []
            if installation is not None:
                conditions.append(r.installation == installation)
            if since is not None:
                conditions.append(r.received_at >= since)
            if until is not None:
                conditions.append(r.received_at < until)
            if version is not None:
                conditions.append(r.product_version == version)
            query = (select(c.kind, c.name, func.sum(c.value)).select_from(t.count.join(t.report, r.id == c.report_id))
                     .where(and_(*conditions)).group_by(c.kind, c.name))
        usage: Usage = {COMMAND: {}, METRIC: {}}
        for kind, name, total in self._rows("sum the usage", query):
            if total and kind in usage:
                usage[kind][name] = int(total)
        return usage

    def top(self, kind: str, limit: int, installation: str | None = None) -> list[tuple[str, int]]:
        """The ``limit`` names of ``kind`` with the largest totals (over every report)."""
        u = self.tables.usage.c
        total = func.sum(u.total)
        query = (select(u.name, total).where(u.kind == kind).group_by(u.name).having(total > 0)
                 .order_by(total.desc(), u.name).limit(limit))
        if installation is not None:
            query = query.where(u.installation == installation)
        return [(name, int(n)) for name, n in self._rows("sum the usage", query)]


def _day(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _upsert(conn: Connection, table: Any, key: list[str], on_conflict: Callable[[Any], dict[str, Any]]) -> Any:
    """INSERT; where ``key`` exists, SET ``on_conflict(new values)`` instead."""
    dialect = conn.dialect.name
    if dialect in ("postgresql", "sqlite"):
        pg = (postgresql if dialect == "postgresql" else sqlite).insert(table)
        return pg.on_conflict_do_update(index_elements=key, set_=on_conflict(pg.excluded))
    if dialect in ("mysql", "mariadb"):
        my = mysql.insert(table)
        return my.on_duplicate_key_update(on_conflict(my.inserted))
    raise DatabaseUnavailableError(
        f"The collector stores reports in SQLite, PostgreSQL or MariaDB/MySQL, not {dialect}; "
        "set CAMUNDA_TELEMETRY_COLLECTOR_DATABASE_URI to one of them."
    )
