"""Writing a flush's counts so that one row the database refuses never sinks the others.

A flush is one transaction of upserts. When the database refuses a value in it (a data error: a
name too long or holding NUL, a total out of ``BIGINT`` range, a character the column's charset
cannot hold), nothing of it was written; it is written again, in one new transaction, row by row,
each row in a savepoint (on SQLite, where pysqlite's savepoints would commit early, a failed
single-row statement is undone by SQLite itself): the rows refused are *set aside*, the others
are written. Either transaction commits whole or not at all, so a row is never written twice, and
an outage (connection refused, a timeout) still keeps every count for the next flush.

A row set aside is logged once with its kind, name and the database's reason, and its key is
left out of every later flush of this process (its counts are dropped), so it never blocks the
others again. Rows that cannot be stored at all (see :mod:`..counting.names`) are set aside
before the database sees them.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from sqlalchemy import Table, and_, insert, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError

from ..counting.counts import Stamped, since
from ..counting.names import BIGINT_MAX, storable
from ..exceptions import TelemetryError
from ..forking import ForkAware
from .errors import Problem, classify, driver_detail
from .resets import locked_reset_time

log = logging.getLogger("flask_camunda_telemetry")

#: ``{"kind": ..., "name": ..., "total": ...}``, one upsert.
Row = dict[str, Any]
Run = Callable[[str, Callable[[Connection], Any]], Any]
Upsert = Callable[[Connection, list[Row]], None]
_REFUSABLE = (DBAPIError, UnicodeError, OverflowError)


class _BatchRefusedError(TelemetryError):
    """The database refused a value of the batch (internal: never leaves this module)."""


class RefusedRows(ForkAware):
    """The ``(kind, name)`` keys set aside in this process, with why (a forked child keeps them)."""

    fork_fresh = {"_lock": threading.Lock}
    _lock: threading.Lock

    def __init__(self) -> None:
        super().__init__()
        self.reasons: dict[tuple[str, str], str] = {}

    def set_aside(self, row: Row, reason: str) -> None:
        key = (row["kind"], row["name"])
        with self._lock:
            if key in self.reasons:
                return
            self.reasons[key] = reason
        log.error(
            "telemetry: the %s %.80r (%r counted) cannot be stored (%s); it is set aside: its counts are "
            "dropped and it is no longer written, the other counts are", row["kind"], row["name"], row["total"], reason,
        )

    def screen(self, rows: list[Row]) -> list[Row]:
        """``rows`` without those set aside; rows that cannot be stored are set aside first."""
        kept = []
        for row in rows:
            if (row["kind"], row["name"]) in self.reasons:
                continue
            total = row["total"]
            if not storable(row["name"]):
                self.set_aside(row, "the name is empty, longer than 255 characters or holds unprintable characters")
            elif not isinstance(total, int) or not 0 < total <= BIGINT_MAX:
                self.set_aside(row, f"the count is not an integer from 1 to {BIGINT_MAX}")
            else:
                kept.append(row)
        return kept


def _refused(exc: BaseException) -> bool:
    return classify(exc) is Problem.DATA


def _whole(conn: Connection, upsert: Upsert, rows: list[Row]) -> None:
    try:
        upsert(conn, rows)
    except _REFUSABLE as exc:
        if not _refused(exc):
            raise
        raise _BatchRefusedError(driver_detail(exc)) from exc


@contextlib.contextmanager
def _savepoint(conn: Connection) -> Iterator[None]:
    if conn.dialect.name == "sqlite":
        yield
        return
    with conn.begin_nested():
        yield


def _one_by_one(conn: Connection, upsert: Upsert, rows: list[Row]) -> list[tuple[Row, str]]:
    refusals = []
    for row in rows:
        try:
            with _savepoint(conn):
                upsert(conn, [row])
        except _REFUSABLE as exc:
            if not _refused(exc):
                raise
            refusals.append((row, driver_detail(exc)))
    return refusals


def write_counts(run: Run, upsert: Upsert, rows: list[Row], refused: RefusedRows) -> None:
    """Upsert ``rows`` through ``run`` (a retrying transaction runner), setting aside those refused.

    Raises what ``run`` raises for anything else (an outage): then nothing was written.
    """
    rows = refused.screen(rows)
    if not rows:
        return
    try:
        run("write the counts", lambda conn: _whole(conn, upsert, rows))
        return
    except _BatchRefusedError:
        pass
    refusals: list[tuple[Row, str]] = run("write the counts row by row", lambda conn: _one_by_one(conn, upsert, rows))
    for row, reason in refusals:
        refused.set_aside(row, reason)


def count_rows(deltas: Mapping[str, Mapping[str, int]]) -> list[Row]:
    """``{kind: {name: n}}`` as upsert rows, in a fixed order (so that concurrent flushes lock
    rows in the same order), without zeros."""
    return [
        {"kind": kind, "name": name, "total": n}
        for kind in sorted(deltas)
        for name, n in sorted(deltas[kind].items())
        if n
    ]


def upsert_counts(conn: Connection, table: Table, rows: list[Row]) -> None:
    """Add each row's ``total`` to its ``(kind, name)`` row of ``table``, made if missing."""
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        # the dialect in use only (its engine has loaded it): the others are never imported
        stmt = importlib.import_module(f"sqlalchemy.dialects.{dialect}").insert(table)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[table.c.kind, table.c.name], set_={"total": table.c.total + stmt.excluded.total}
            ),
            rows,
        )
    elif dialect in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert as mysql_insert

        my = mysql_insert(table)
        conn.execute(my.on_duplicate_key_update(total=table.c.total + my.inserted.total), rows)
    else:  # portable: update, else insert in a savepoint, else update again
        for row in rows:
            match = and_(table.c.kind == row["kind"], table.c.name == row["name"])
            bump = update(table).where(match).values(total=table.c.total + row["total"])
            if conn.execute(bump).rowcount:
                continue
            try:
                with conn.begin_nested():
                    conn.execute(insert(table).values(**row))
            except IntegrityError:
                conn.execute(bump)


class SinceReset:
    """A flush's rows, cut at the last reset: :meth:`upsert` reads the reset time locked in the
    transaction it runs in (see :mod:`.resets`) and writes, of the rows it is given, only the
    counts made at or after it. :attr:`candidates` are all the rows (for :func:`write_counts`,
    which may hand them over all at once or one by one)."""

    def __init__(self, stamped: Mapping[str, Stamped], table: Table, upsert: Upsert) -> None:
        self._stamped = stamped
        self._table = table
        self._upsert = upsert
        self._cut: dict[int, dict[tuple[str, str], Row]] = {}
        self.candidates = count_rows({kind: since(by_time) for kind, by_time in stamped.items()})
        #: the reset time the last transaction read (0: none, or nothing was written)
        self.reset = 0

    def _rows_since(self, reset: int) -> dict[tuple[str, str], Row]:
        if reset not in self._cut:
            rows = count_rows({kind: since(by_time, reset) for kind, by_time in self._stamped.items()})
            self._cut[reset] = {(row["kind"], row["name"]): row for row in rows}
        return self._cut[reset]

    def upsert(self, conn: Connection, rows: list[Row]) -> None:
        self.reset = reset = locked_reset_time(conn, self._table)
        cut = self._rows_since(reset)
        fresh = [cut[key] for row in rows if (key := (row["kind"], row["name"])) in cut]
        if fresh:
            self._upsert(conn, fresh)
