"""The statements that write the collector's tables, built once per dialect (then compiled once).

Storing a report: its report row (a resend replaces it, keeping the first receipt time and
version), its counts, the deltas added to the daily summary, and the installation's row. A report
with a report id is an upsert on (installation, ``report_key``, node 0); on PostgreSQL, when it is
new, that is all one statement (data-modifying CTEs) taking its rows as arrays. Elsewhere, and
for a resend, they are four statements; RETURNING makes SQLAlchemy send many rows as one
multi-row INSERT ("insertmanyvalues"), not one per row. A report without one is inserted (under
the next node number) or updated by :mod:`.ingest`, which decides which.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    Table,
    and_,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection

from ..document.counts import Kind
from ..exceptions import DatabaseUnavailableError
from .exact import ExactTotal, exact_add, exact_sum
from .tables import CollectorTables

COMMAND: str = Kind.COMMAND
METRIC: str = Kind.METRIC
#: The daily summary's rows of this kind count reports (name ``*``).
REPORT = "report"
#: The fields the dashboard groups installations by.
ENVIRONMENT = ("product_name", "product_version", "edition", "database_vendor", "server_vendor", "runtime")
REPORT_COLUMNS = ["installation", "report_key", "node", "rev", "received_at", "period_start", *ENVIRONMENT,
                  "commands", "document"]
#: What a resend replaces in its report row (the receipt time and version stay the first one's).
REPLACED = ("period_start", *(e for e in ENVIRONMENT if e != "product_version"), "commands", "document")
COUNT_COLUMNS = ["report_id", "kind", "name", "value"]
USAGE_COLUMNS = ["day", "product_version", "kind", "name", "total"]
INSTALLATION_COLUMNS = ["installation", "first_report", "last_report", "reports", *ENVIRONMENT]


@dataclass(frozen=True)
class Writes:
    report: Any  # upsert of the report row, RETURNING id, rev, received_at, product_version
    new_report: Any  # insert of a report row, RETURNING id
    resent_report: Any  # update of a report row whose rev is still :old_rev
    declined: Any  # upsert of an installation's row in the declined table
    #: a write that changes nothing on the installation's row: it waits for, then holds, that row
    #: (SQLite: the database) until the transaction ends
    hold: Any
    counts: Any
    usage: Any  # adds each total
    installation: Any  # reports + :increment
    #: PostgreSQL: all of it for a report new to its period, in one statement (see :func:`_whole`)
    whole: Any

    def rest(self, conn: Connection, counts: list[dict[str, Any]], deltas: list[dict[str, Any]],
             installation: dict[str, Any]) -> None:
        """Store the counts, add the deltas to the daily summary, count the installation."""
        if counts:
            conn.execute(self.counts, counts)
        if deltas:
            conn.execute(self.usage, deltas)
        conn.execute(self.installation, installation)


def build_writes(t: CollectorTables, dialect: str) -> Writes:
    i, r = t.installation.c, t.report.c

    def installation(new: Any) -> dict[str, Any]:
        latest = new.last_report >= i.last_report
        return {
            **{name: case((latest, new[name]), else_=i[name]) for name in ENVIRONMENT},
            "first_report": case((new.first_report < i.first_report, new.first_report), else_=i.first_report),
            "last_report": case((new.last_report > i.last_report, new.last_report), else_=i.last_report),
            "reports": i.reports + bindparam("increment", type_=BigInteger),
        }

    def add_total(new: Any) -> dict[str, Any]:
        return {"total": exact_add(t.usage.c.total, new.total)}

    def upsert_report(values: Any = None) -> Any:  # a resend keeps the first receipt time and version
        return _upsert(dialect, t.report, ["installation", "report_key", "node"],
                       lambda new: {"rev": r.rev + 1, **{c: new[c] for c in REPLACED}}, values)

    # nested in a CTE, an INSERT needs its VALUES spelled out
    named = select(*(bindparam(c, type_=t.report.c[c].type).label(c) for c in REPORT_COLUMNS))
    return Writes(
        report=upsert_report().returning(r.id, r.rev, r.received_at, r.product_version),
        new_report=insert(t.report).returning(r.id),
        hold=update(t.installation).where(i.installation == bindparam("held")).values(reports=i.reports),
        resent_report=(update(t.report).where(and_(r.id == bindparam("old_id"), r.rev == bindparam("old_rev")))
                       .values(rev=r.rev + 1, **{c: bindparam(f"new_{c}", type_=r[c].type) for c in REPLACED})),
        declined=_upsert(dialect, t.declined, ["installation"], lambda new: {
            "first_message": case((new.first_message < t.declined.c.first_message, new.first_message),
                                  else_=t.declined.c.first_message),
            "last_message": case((new.last_message > t.declined.c.last_message, new.last_message),
                                 else_=t.declined.c.last_message),
            "messages": t.declined.c.messages + 1, "product_version": new.product_version, "consent": new.consent}),
        # RETURNING makes SQLAlchemy send many rows as one multi-row INSERT ("insertmanyvalues")
        counts=insert(t.count).returning(t.count.c.report_id),
        usage=_upsert(dialect, t.usage, USAGE_COLUMNS[:4], add_total).returning(t.usage.c.total),
        installation=_upsert(dialect, t.installation, ["installation"], installation),
        whole=_whole(t, upsert_report(named), installation, add_total) if dialect == "postgresql" else None,
    )


def _whole(t: CollectorTables, report: Any, installation: Callable[[Any], dict[str, Any]],
           add_total: Callable[[Any], dict[str, Any]]) -> Any:
    """PostgreSQL: the report's upsert and, if it made a new row, its counts, the daily summary's
    deltas and the installation's row, as data-modifying CTEs of one statement. The counts come
    as arrays ``c_kind``, ``c_name``, ``c_value``; the deltas are those counts and the report's own
    (kind :data:`REPORT`): one short statement, prepared once by psycopg, however many rows.
    Answers id, rev, received_at, product_version; on a resend (rev > 1) it stored the report row
    only."""
    returned = ["id", "rev", "received_at", "installation", *ENVIRONMENT]
    r = report.returning(*(t.report.c[c] for c in returned)).cte("stored_report")
    new = r.c.rev == 1

    def arrays(prefix: str, columns: list[str], of: Table) -> Any:
        values = func.unnest(*(bindparam(prefix + c, type_=ARRAY(of.c[c].type)) for c in columns))
        return values.table_valued(*columns).render_derived(name=prefix.rstrip("_"))

    c = arrays("c_", ["kind", "name", "value"], t.count)
    counts = postgresql.insert(t.count).from_select(
        COUNT_COLUMNS, select(r.c.id, c.c.kind, c.c.name, c.c.value).select_from(r.join(c, true())).where(new))
    u = union_all(select(c.c.kind, c.c.name, cast(c.c.value, ExactTotal()).label("total")),
                  select(literal(REPORT), literal("*"), literal(1, ExactTotal()))).subquery("u")
    deltas = (select(func.date(r.c.received_at, type_=Date()).label("day"), r.c.product_version, u.c.kind,
                     u.c.name, u.c.total).select_from(r.join(u, true())).where(new))
    first = (select(r.c.installation, r.c.received_at.label("first_report"), r.c.received_at.label("last_report"),
                    literal(1, BigInteger).label("reports"), *(r.c[e] for e in ENVIRONMENT)).where(new))
    return select(r.c.id, r.c.rev, r.c.received_at, r.c.product_version).add_cte(
        counts.cte("stored_counts"),
        _upsert("postgresql", t.usage, USAGE_COLUMNS[:4], add_total, deltas).cte("summed_usage"),
        _upsert("postgresql", t.installation, ["installation"], installation, first).cte("counted_installation"),
    )


def recomputed_summaries(t: CollectorTables) -> tuple[Any, Any]:
    """SELECTs of both summaries' rows (:data:`USAGE_COLUMNS`, :data:`INSTALLATION_COLUMNS`),
    computed from the reports."""
    r, c = t.report.c, t.count.c
    day = func.date(r.received_at, type_=Date())
    usage = (select(day, r.product_version, c.kind, c.name, exact_sum(c.value))
             .select_from(t.count.join(t.report, r.id == c.report_id))
             .group_by(day, r.product_version, c.kind, c.name)
             .union_all(select(day, r.product_version, literal(REPORT), literal("*"), func.count())
                        .group_by(day, r.product_version)))
    spans = (select(r.installation, func.min(r.received_at).label("first"),
                    func.max(r.received_at).label("last"), func.count().label("n"))
             .group_by(r.installation).subquery())
    latest = (select(func.max(r.id))
              .where(and_(r.installation == spans.c.installation, r.received_at == spans.c.last)).scalar_subquery())
    other = t.report.alias("latest")
    installations = (select(spans.c.installation, spans.c.first, spans.c.last, spans.c.n,
                            *(other.c[name] for name in ENVIRONMENT))
                     .select_from(spans.join(other, other.c.id == latest)))
    return usage, installations


def _upsert(dialect: str, table: Any, key: list[str], on_conflict: Callable[[Any], dict[str, Any]],
            rows: Any = None) -> Any:
    """INSERT (the ``rows`` select, if given); where ``key`` exists, SET ``on_conflict(new values)``."""
    if dialect in ("postgresql", "sqlite"):
        pg = (postgresql if dialect == "postgresql" else sqlite).insert(table)
        if rows is not None:
            pg = pg.from_select(list(rows.selected_columns.keys()), rows)
        return pg.on_conflict_do_update(index_elements=key, set_=on_conflict(pg.excluded))
    if dialect in ("mysql", "mariadb"):
        my = mysql.insert(table)
        return my.on_duplicate_key_update(on_conflict(my.inserted))
    raise DatabaseUnavailableError(
        f"The collector stores reports in SQLite, PostgreSQL or MariaDB/MySQL, not {dialect}; "
        "set CAMUNDA_TELEMETRY_COLLECTOR_DATABASE_URI to one of them."
    )
