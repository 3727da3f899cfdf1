"""Bounds on every wait on the database (``CAMUNDA_TELEMETRY_DB_TIMEOUT``).

Three layers, so that no call waits longer than the bound whatever the database does:

* connect: the extension's own engine gets the drivers' connect timeouts (:func:`connect_args`;
  libpq's ``connect_timeout`` is whole seconds, at least 2); another engine's checkout is waited
  for in a helper thread (:mod:`.checkout`);
* lock and statement time, per transaction, on any engine (the host's too, where connect
  arguments are not ours to change), set to what is left of the bound: SQLite's
  ``busy_timeout``, PostgreSQL's ``SET LOCAL statement_timeout`` and ``lock_timeout``,
  MariaDB's ``max_statement_time``, ``lock_wait_timeout`` and ``innodb_lock_wait_timeout``
  (set for the transaction and restored after it);
* a watchdog that interrupts the connection shortly after the bound (SQLite's ``interrupt()``;
  for a server, it shuts the socket down): a server that answers nothing (stopped, or a dead
  network) cannot be bounded from the server's side.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import socket
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from ..exceptions import DatabaseUnavailableError
from ..forking import ForkAware
from .checkout import bounded_checkout

#: How long after the bound the watchdog interrupts a connection (server-side timeouts come first).
GRACE = 0.5
#: libpq's smallest connect timeout (it takes whole seconds and treats 1 as 2).
LIBPQ_MIN_CONNECT_TIMEOUT = 2
#: PostgreSQL drivers on libpq, which take session settings as connect ``options``.
LIBPQ_DRIVERS = ("psycopg", "psycopg2")
#: Own engines whose sessions carry the bound already (their connect ``options``): seconds.
SESSION_BOUNDS: weakref.WeakKeyDictionary[Engine, float] = weakref.WeakKeyDictionary()


class Deadline:
    """A point in time ``timeout`` seconds from now (``None``: unbounded)."""

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self.at = None if timeout is None else time.monotonic() + timeout

    def left(self) -> float:
        """Seconds left (``inf`` when unbounded; never below 0)."""
        return math.inf if self.at is None else max(0.0, self.at - time.monotonic())

    @property
    def expired(self) -> bool:
        return self.at is not None and time.monotonic() >= self.at


def connect_args(backend: str, driver: str, timeout: float | None) -> dict[str, Any]:
    """The connect arguments bounding the own engine's connects. PyMySQL's read and write
    timeouts bound its handshake too; :func:`after_connect` lifts them once connected (they
    would cut a commit, whose outcome is then unknown: the watchdog bounds the statements and
    leaves commits alone)."""
    if backend == "sqlite":
        return {"timeout": 30 if timeout is None else timeout}
    if backend == "postgresql":
        seconds = 5 if timeout is None else max(LIBPQ_MIN_CONNECT_TIMEOUT, math.ceil(timeout))
        pg: dict[str, Any] = {"connect_timeout": seconds}
        if timeout is not None and driver in LIBPQ_DRIVERS:  # the session's own bound: see _limits
            ms = max(1, int(timeout * 1000))
            pg["options"] = f"-c statement_timeout={ms} -c lock_timeout={ms}"
        return pg
    if backend in ("mysql", "mariadb"):
        args: dict[str, Any] = {"connect_timeout": 5 if timeout is None else timeout}
        if timeout is not None and driver == "pymysql":
            args.update(read_timeout=timeout + GRACE, write_timeout=timeout + GRACE)
        return args
    return {}


def after_connect(dbapi_connection: Any, connection_record: Any) -> None:
    """The pool's ``connect`` event of an own PyMySQL engine: the connection is made, so its
    socket timeouts (see :func:`connect_args`) are lifted."""
    if hasattr(dbapi_connection, "_read_timeout"):
        dbapi_connection._read_timeout = None
        dbapi_connection._write_timeout = None


def hold(lock: threading.Lock, timeout: float | None, what: str) -> contextlib.AbstractContextManager[bool]:
    """``lock``, waited for at most ``timeout`` seconds (DatabaseUnavailableError after that):
    the lock a flush holds during a database call that is stuck is never waited on unboundedly."""
    if not lock.acquire(timeout=-1 if timeout is None else timeout):
        raise DatabaseUnavailableError(
            f"Cannot {what}: another telemetry database call has been running for over {timeout:g} s "
            "(CAMUNDA_TELEMETRY_DB_TIMEOUT). Counts are kept in memory; retry later."
        )
    return _Held(lock)


class _Held(contextlib.AbstractContextManager[bool]):
    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock

    def __enter__(self) -> bool:
        return True

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def _interrupt(dbapi: Any) -> None:
    """Make a call blocked on ``dbapi`` (a DB-API connection) fail now."""
    with contextlib.suppress(Exception):
        if isinstance(dbapi, sqlite3.Connection):
            dbapi.interrupt()
            return
        sock = getattr(dbapi, "_sock", None)  # PyMySQL
        if isinstance(sock, socket.socket):
            sock.shutdown(socket.SHUT_RDWR)
            return
        pgconn = getattr(dbapi, "pgconn", None)  # psycopg 3
        fd = pgconn.socket if pgconn is not None else dbapi.fileno()  # psycopg2 has fileno()
        # shutdown acts on the socket, not the descriptor: a duplicate reaches the driver's socket
        with socket.socket(fileno=os.dup(fd)) as dup:
            dup.shutdown(socket.SHUT_RDWR)


#: Seconds the watchdog thread stays with nothing to watch before it ends (an idle process keeps
#: no thread of ours for it; a busy one starts it about once per flush).
IDLE_EXIT = 1.0


class _Watchdog(ForkAware):
    """One daemon thread per process that interrupts the connections whose time is up; it ends
    after :data:`IDLE_EXIT` seconds with nothing to watch, and starts again when needed."""

    fork_fresh = {
        "_lock": threading.Lock,
        "_wake": threading.Event,
        "_watched": dict,
        "_thread": lambda: None,
        "_tokens": lambda: itertools.count(),
        "_release": lambda: False,
    }
    _lock: threading.Lock
    _wake: threading.Event
    _watched: dict[int, tuple[float, Any]]
    _thread: threading.Thread | None
    _tokens: itertools.count[int]
    _release: bool

    @contextlib.contextmanager
    def watching(self, dbapi: Any, after: float) -> Iterator[Callable[[], contextlib.AbstractContextManager[None]]]:
        """Interrupt ``dbapi`` (a DB-API connection) if the block lasts more than ``after`` seconds.
        Yields ``paused``: a block in ``with paused():`` is never interrupted (a commit)."""
        at = time.monotonic() + after
        thread = None
        with self._lock:
            token = next(self._tokens)
            self._watched[token] = (at, dbapi)
            if self._thread is None:
                thread = self._thread = threading.Thread(
                    target=self._run, name="camunda-telemetry-db-watchdog", daemon=True
                )
        if thread is not None:  # outside the lock: a start may run a finalizer that closes a store
            thread.start()
        self._wake.set()

        @contextlib.contextmanager
        def paused() -> Iterator[None]:
            with self._lock:
                self._watched.pop(token, None)
            try:
                yield
            finally:
                with self._lock:
                    self._watched[token] = (at, dbapi)
                self._wake.set()

        try:
            yield paused
        finally:
            with self._lock:
                self._watched.pop(token, None)
                idle = not self._watched
            if idle:  # the thread may sleep towards this deadline: it counts its idle time from now
                self._wake.set()

    def release(self) -> None:
        """End the thread now if it has nothing to watch (an app was closed): the next
        :meth:`watching` starts a new one. Takes no lock (a finalizer may call it anywhere)."""
        self._release = True
        self._wake.set()

    def _run(self) -> None:
        idle_since: float | None = None
        while True:
            self._wake.clear()  # before looking: a deadline added from now on wakes the wait below
            with self._lock:
                now = time.monotonic()
                due = [token for token, (at, _) in self._watched.items() if at <= now]
                connections = [self._watched.pop(token)[1] for token in due]
                released, self._release = self._release, False
                if self._watched or connections:
                    idle_since = None
                    wait = min((at for at, _ in self._watched.values()), default=now) - now
                else:
                    idle_since = now if idle_since is None else idle_since
                    if released or now - idle_since >= IDLE_EXIT:
                        self._thread = None  # under the lock: the next watching() starts a new one
                        return
                    wait = idle_since + IDLE_EXIT - now
            for dbapi in connections:
                _interrupt(dbapi)
            self._wake.wait(wait)


_watchdog = _Watchdog()


def release_watchdog() -> None:
    """Let the watchdog thread end now if it has nothing to watch (see :meth:`_Watchdog.release`)."""
    _watchdog.release()


def _restore(conn: Connection, sql: str) -> None:
    """Run ``sql`` on the raw connection, outside any transaction; on failure the connection is
    invalidated, so that the pool never hands out a connection with our limits."""
    try:
        conn.rollback()  # a transaction left open is ended before the restore
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql)
        finally:
            cursor.close()
    except Exception:  # noqa: BLE001 - the connection is dropped instead
        conn.invalidate()


def _limits(conn: Connection, left: float) -> str | None:
    """Set the lock and statement limits to ``left`` seconds, in the transaction begun on
    ``conn``; the SQL restoring the session's own values afterwards (None: nothing to restore)."""
    dialect = conn.dialect
    if dialect.name == "postgresql":  # SET LOCAL: they end with the transaction
        session = SESSION_BOUNDS.get(conn.engine)
        if session is not None and left <= session <= left + GRACE / 2:
            return None  # the session's own bound is this one (to within half the grace): no round trip
        ms = max(1, int(left * 1000))
        conn.exec_driver_sql(
            f"SELECT set_config('statement_timeout', '{ms}', true), set_config('lock_timeout', '{ms}', true)"
        )
        return None
    if dialect.name == "sqlite":
        old = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {max(1, int(left * 1000))}")
        return f"PRAGMA busy_timeout = {int(old or 0)}"
    if dialect.name in ("mysql", "mariadb"):
        names = ["lock_wait_timeout", "innodb_lock_wait_timeout"]
        values = [str(max(1, math.ceil(left)))] * 2
        if getattr(dialect, "is_mariadb", False):
            names.append("max_statement_time")
            values.append(f"{max(0.001, left):.3f}")
        row = conn.exec_driver_sql("SELECT " + ", ".join(f"@@SESSION.{n}" for n in names)).one()
        conn.exec_driver_sql("SET " + ", ".join(f"SESSION {n} = {v}" for n, v in zip(names, values, strict=True)))
        return "SET " + ", ".join(f"SESSION {n} = {v}" for n, v in zip(names, row, strict=True))
    return None


@contextlib.contextmanager
def bounded_connection(engine: Engine, deadline: Deadline, *, begin: bool = False) -> Iterator[Connection]:
    """A connection of ``engine`` (in a transaction committed on success when ``begin``) whose
    lock and statement waits end by ``deadline`` (the session's own settings are restored on
    leaving), watched by the watchdog."""
    if deadline.at is None:
        with engine.connect() as conn, conn.begin() if begin else contextlib.nullcontext():
            yield conn
        return
    with bounded_checkout(engine, deadline.left()) as conn, _watchdog.watching(
        conn.connection.dbapi_connection, deadline.left() + GRACE
    ) as paused:
        restore: str | None = None
        try:
            with conn.begin() if begin else contextlib.nullcontext() as transaction:
                restore = _limits(conn, deadline.left())
                yield conn
                if transaction is not None and conn.dialect.name != "sqlite":
                    # A commit is never cut: the server may have committed when its answer was
                    # cut, so retrying would write the counts twice. SQLite's outcome is known.
                    with paused():
                        transaction.commit()
        finally:
            if restore is not None:
                _restore(conn, restore)


def bounded_transaction(engine: Engine, deadline: Deadline) -> contextlib.AbstractContextManager[Connection]:
    """A transaction of ``engine`` (committed on success) whose every wait ends by ``deadline``."""
    return bounded_connection(engine, deadline, begin=True)
