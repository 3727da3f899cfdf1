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

from ..exceptions import DatabaseUnavailableError
from .errors import Problem, classify, database_error, driver_detail
from .timeouts import Deadline, bounded_connection, bounded_transaction

T = TypeVar("T")

_TRANSIENT = ("deadlock", "lock wait timeout", "database is locked", "could not serialize", "busy")
ATTEMPTS = 12


def _is_transient(exc: BaseException) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return any(marker in text for marker in _TRANSIENT)


#: The setting a bound comes from, named when it is reached (the collector has its own).
TIMEOUT_SETTING = "CAMUNDA_TELEMETRY_DB_TIMEOUT"


def _timed_out(
    action: str, deadline: Deadline, exc: BaseException | None, hint: str, setting: str
) -> DatabaseUnavailableError:
    return DatabaseUnavailableError(
        f"Cannot {action}: the telemetry database did not answer within {deadline.timeout:g} s "
        f"({setting}). {hint}",
        driver_detail(exc) if exc is not None else None,
    )


def run_transaction(
    engine: Engine,
    action: str,
    work: Callable[[Connection], T],
    hint: str,
    timeout: float | None = None,
    setting: str = TIMEOUT_SETTING,
) -> T:
    """Run ``work`` in a transaction, retrying lock conflicts; map outages to one error whose
    message ends with ``hint`` (what the caller does meanwhile).

    ``timeout``: every wait (connect, locks, statements) and every retry ends within this many
    seconds overall; ``None``: no overall bound (the drivers' own timeouts only). ``setting``: the
    config key of that bound, named in the error when it is reached.

    .. versionadded:: 0.2.0
    """
    deadline = Deadline(timeout)
    delay = 0.01
    reconnected = False
    for attempt in range(ATTEMPTS):
        if deadline.expired:
            raise _timed_out(action, deadline, None, hint, setting)
        try:
            with bounded_transaction(engine, deadline) as conn:
                return work(conn)
        except IntegrityError:
            raise
        except DBAPIError as exc:
            if exc.connection_invalidated and not reconnected and attempt < ATTEMPTS - 1 and not deadline.expired:
                # A pooled connection was dead (the server restarted; our engine does not pre-ping):
                # the pool is invalidated, so retry once at once, fresh.
                reconnected = True
                continue
            if _is_transient(exc) and attempt < ATTEMPTS - 1 and deadline.left() > delay:
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
                continue
            if deadline.expired and classify(exc) is Problem.OUTAGE:
                raise _timed_out(action, deadline, exc, hint, setting) from exc
            raise database_error(exc, action, hint) from exc
        except SQLAlchemyError as exc:
            raise database_error(exc, action, hint) from exc
    raise AssertionError("unreachable")  # pragma: no cover


def _exists(engine: Engine, table: Table, deadline: Deadline, command: str, setting: str) -> bool:
    """Whether ``table`` exists; any error but "no such table" (permission denied, an outage, no
    answer in time) is raised."""
    try:
        with bounded_connection(engine, deadline) as conn:
            conn.execute(select(literal(1)).select_from(table).where(false()))
        return True
    except DBAPIError as exc:
        if classify(exc) is Problem.MISSING_TABLE:
            return False
        if deadline.expired:  # the database did not answer in time
            raise _timed_out(f"check table {table.name!r}", deadline, exc, f"Run '{command}' later.", setting) from exc
        raise database_error(exc, f"use table {table.name!r}", f"Run '{command}' once that is fixed.") from exc


def create_missing_tables(
    engine: Engine, tables: Iterable[Table], command: str, timeout: float | None = None,
    setting: str = TIMEOUT_SETTING,
) -> None:
    """Create those of ``tables`` that are missing (with their indexes); tolerates another
    process doing the same. ``command`` is what to run once the database is reachable;
    ``timeout`` (the config key ``setting``) bounds the whole of it.

    .. versionadded:: 0.2.0
    """
    deadline = Deadline(timeout)
    for table in tables:
        if _exists(engine, table, deadline, command, setting):
            continue
        try:
            with bounded_transaction(engine, deadline) as conn:
                table.create(conn)
        except DBAPIError as exc:
            if not _exists(engine, table, deadline, command, setting):  # it was not a concurrent creation that won
                fix = f"Run '{command}' once that is fixed."
                raise database_error(exc, f"create table {table.name!r}", fix) from exc
