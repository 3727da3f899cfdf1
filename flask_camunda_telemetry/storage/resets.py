"""When the shared counts were last reset: a ``meta`` row of the counts table.

``flask telemetry reset`` writes the time it cuts at (microseconds since the epoch, on a slice
boundary of :mod:`..counting.counts`) to the row ``counts-reset-at`` in the same transaction
that deletes the counts. Every flush reads it first, holding it locked until it commits, and
writes only the counts made at or after it: so counts a process made before a reset, and had
not flushed yet, never appear after it, and none made after it are left out, whichever process
or host made them (to within the clock difference between hosts).

.. versionadded:: 0.2.0
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Table, and_, insert, select, update
from sqlalchemy.engine import Connection

#: The kind of the counts table's rows that hold the extension's own values (dates, codes).
META = "meta"
#: The ``meta`` row holding when the shared counts were last reset (0: never).
RESET_AT = "counts-reset-at"


def _row(count: Table) -> ColumnElement[bool]:
    return and_(count.c.kind == META, count.c.name == RESET_AT)


def read_reset_time(conn: Connection, count: Table) -> int:
    """When the counts were last reset (microseconds since the epoch; 0: never)."""
    value = conn.execute(select(count.c.total).where(_row(count))).scalar()
    return 0 if value is None else int(value)


def locked_reset_time(conn: Connection, count: Table) -> int:
    """As :func:`read_reset_time`, with the row locked against a reset until the transaction ends
    (a shared lock: flushes do not wait for each other). The row is made (0) when missing; an
    IntegrityError means a reset or another flush made it first: run the transaction again."""
    match = _row(count)
    query = select(count.c.total).where(match)
    if conn.dialect.name == "sqlite":
        # pysqlite begins the transaction at the first write: write first, so that this read and
        # the flush's writes are one transaction (SQLite locks the whole database for it).
        conn.execute(update(count).where(match).values(total=count.c.total))
    else:
        query = query.with_for_update(read=True)
    value = conn.execute(query).scalar()
    if value is None:
        conn.execute(insert(count).values(kind=META, name=RESET_AT, total=0))
        return 0
    return int(value)


def write_reset_time(conn: Connection, count: Table, micros: int) -> None:
    """Record a reset at ``micros``: first in a reset's transaction, so that it waits for the
    flushes in progress (they hold the row) and every later flush sees it."""
    match = _row(count)
    if not conn.execute(update(count).where(match).values(total=micros)).rowcount:
        conn.execute(insert(count).values(kind=META, name=RESET_AT, total=micros))
