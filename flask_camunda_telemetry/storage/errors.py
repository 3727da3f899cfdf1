"""What a database error means, per backend, and the error a user is shown for it.

:func:`classify` sorts an error into a :class:`Problem`: a missing table, a missing privilege, a
value the database refuses (one row's problem, never the whole batch's), or else an outage. It
reads psycopg's SQLSTATE (``42P01`` undefined table, ``42501`` insufficient privilege, ``22xxx``
data exceptions), PyMySQL's error numbers (1146; 1044, 1142, 1143; 1264, 1265, 1366, 1406, 1690)
and sqlite3's messages ("no such table", "attempt to write a readonly database", "integer overflow").

:func:`database_error` turns one into the :class:`~.DatabaseUnavailableError` to raise: its
message says what is true and what to do, with no SQL or driver text (it may reach a client);
the driver's words go to ``detail``. :class:`OutageLog` logs that detail once per outage.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import enum
import logging
import re
import threading
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DataError

from ..exceptions import DatabasePermissionError, DatabaseUnavailableError, TableMissingError
from ..forking import ForkAware

log = logging.getLogger("flask_camunda_telemetry")

T = TypeVar("T")


class Problem(enum.Enum):
    MISSING_TABLE = "a table is missing"
    PERMISSION = "permission denied"
    DATA = "a value was refused"
    OUTAGE = "unavailable"


_MYSQL_MISSING = {1146}
_MYSQL_PERMISSION = {1044, 1142, 1143}
_MYSQL_DATA = {1264, 1265, 1366, 1406, 1690}
_SQLITE = (("no such table", Problem.MISSING_TABLE), ("readonly database", Problem.PERMISSION),
           ("integer overflow", Problem.DATA))


def _mysql_errno(orig: BaseException) -> int | None:
    if not type(orig).__module__.startswith(("pymysql", "MySQLdb", "mysql")):
        return None
    code = orig.args[0] if orig.args else None
    return code if isinstance(code, int) else None


def classify(exc: BaseException) -> Problem:
    """What ``exc`` (an SQLAlchemy error, or what a driver raised) means."""
    if isinstance(exc, (UnicodeError, OverflowError)):  # a value the driver cannot send
        return Problem.DATA
    orig = getattr(exc, "orig", None) or exc
    errno = _mysql_errno(orig)  # first: PyMySQL's errors carry a SQLSTATE too, a coarser one
    if errno is not None:
        for codes, problem in ((_MYSQL_MISSING, Problem.MISSING_TABLE), (_MYSQL_PERMISSION, Problem.PERMISSION),
                               (_MYSQL_DATA, Problem.DATA)):
            if errno in codes:
                return problem
        return Problem.OUTAGE
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if isinstance(sqlstate, str):
        if sqlstate == "42P01":
            return Problem.MISSING_TABLE
        if sqlstate == "42501":
            return Problem.PERMISSION
        return Problem.DATA if sqlstate.startswith("22") else Problem.OUTAGE
    text = str(orig).lower()
    for marker, problem in _SQLITE:
        if marker in text:
            return problem
    return Problem.DATA if isinstance(exc, DataError) else Problem.OUTAGE


def driver_detail(exc: BaseException) -> str:
    """The driver's own message (for the log), on one line."""
    orig = getattr(exc, "orig", None) or exc
    return " ".join(f"{type(orig).__name__}: {orig}".split())


_TABLE = re.compile(r"""\b(?:[Tt]able:?|relation)\s+[`'"]?(?:[^\s`'".]+[`'"]?\.[`'"]?)?([^\s`'"]+)""")


def table_named(detail: str) -> str:
    """The table a driver's message names, quoted; else "the telemetry tables"."""
    match = _TABLE.search(detail)
    return repr(match[1]) if match else "the telemetry tables"


def database_error(exc: BaseException, action: str, hint: str) -> DatabaseUnavailableError:
    """The error to raise for ``exc`` met while trying to ``action``; ``hint`` says what the caller
    does meanwhile."""
    detail = driver_detail(exc)
    problem = classify(exc)
    if problem is Problem.PERMISSION:
        if "readonly database" in detail:
            todo = "the SQLite file (and its folder) is read-only: make both writable by the user the app runs as"
        else:
            todo = (f"permission denied on {table_named(detail)}. Grant the database user the app connects as "
                    "SELECT, INSERT, UPDATE and DELETE on it (and CREATE, to let it create missing tables)")
        return DatabasePermissionError(f"Cannot {action}: {todo}. {hint}", detail)
    if problem is Problem.MISSING_TABLE:
        return TableMissingError(f"Cannot {action}: table {table_named(detail)} does not exist. {hint}", detail)
    if problem is Problem.DATA:
        return DatabaseUnavailableError(f"Cannot {action}: the database refused a value. {hint}", detail)
    return DatabaseUnavailableError(f"Cannot {action}: the telemetry database is unavailable. {hint}", detail)


class OutageLog(ForkAware):
    """Logs a database problem's detail once when it starts (and once more if it changes kind),
    and once when the database answers again; never once per request."""

    fork_fresh = {"_lock": threading.Lock}
    _lock: threading.Lock

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what
        self._failing: type[DatabaseUnavailableError] | None = None

    def run(self, work: Callable[[], T]) -> T:
        try:
            result = work()
        except DatabaseUnavailableError as exc:
            with self._lock:
                first, self._failing = self._failing is not type(exc), type(exc)
            if first:
                log.warning("%s: %s (%s); logged once until it recovers", self.what, exc, exc.detail or "no detail")
            raise
        if self._failing is not None:
            with self._lock:
                recovered, self._failing = self._failing is not None, None
            if recovered:
                log.info("%s: the database answers again", self.what)
        return result
