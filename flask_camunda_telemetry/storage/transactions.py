"""Transactions that retry lock conflicts and turn outages into one error, and table creation
that tolerates another process doing the same. Shared by the extension's store and the collector's.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from sqlalchemy import Engine, Table, false, literal, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from .errors import Problem, classify, database_error

__all__ = ["ATTEMPTS", "create_missing_tables", "run_transaction"]

T = TypeVar("T")

_TRANSIENT = ("deadlock", "lock wait timeout", "database is locked", "could not serialize", "busy")
ATTEMPTS = 12


def _is_transient(exc: BaseException) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return any(marker in text for marker in _TRANSIENT)


def run_transaction(engine: Engine, action: str, work: Callable[[Connection], T], hint: str) -> T:
    """Run ``work`` in a transaction, retrying lock conflicts; map outages to one error whose
    message ends with ``hint`` (what the caller does meanwhile).

    .. versionadded:: 0.2.0
    """
    delay = 0.01
    reconnected = False
    for attempt in range(ATTEMPTS):
        try:
            with engine.begin() as conn:
                return work(conn)
        except IntegrityError:
            raise
        except DBAPIError as exc:
            if exc.connection_invalidated and not reconnected and attempt < ATTEMPTS - 1:
                # A pooled connection was dead (the server restarted; the host's engine may
                # have no pre-ping): the pool is invalidated, so retry once at once, fresh.
                reconnected = True
                continue
            if _is_transient(exc) and attempt < ATTEMPTS - 1:
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
                continue
            raise database_error(exc, action, hint) from exc
        except SQLAlchemyError as exc:
            raise database_error(exc, action, hint) from exc
    raise AssertionError("unreachable")  # pragma: no cover


def _exists(engine: Engine, table: Table, command: str) -> bool:
    """Whether ``table`` exists; any error but "no such table" (permission denied, an outage) is raised."""
    try:
        with engine.connect() as conn:
            conn.execute(select(literal(1)).select_from(table).where(false()))
        return True
    except DBAPIError as exc:
        if classify(exc) is Problem.MISSING_TABLE:
            return False
        raise database_error(exc, f"use table {table.name!r}", f"Run '{command}' once that is fixed.") from exc


def create_missing_tables(engine: Engine, tables: Iterable[Table], command: str) -> None:
    """Create those of ``tables`` that are missing (with their indexes); tolerates another
    process doing the same. ``command`` is what to run once the database is reachable.

    .. versionadded:: 0.2.0
    """
    for table in tables:
        if _exists(engine, table, command):
            continue
        try:
            table.create(engine)
        except DBAPIError as exc:
            if not _exists(engine, table, command):  # it was not a concurrent creation that won
                fix = f"Run '{command}' once that is fixed."
                raise database_error(exc, f"create table {table.name!r}", fix) from exc
