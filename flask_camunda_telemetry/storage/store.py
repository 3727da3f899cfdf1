"""Every database access of the extension: tables, installation id, shared counts.

Nothing here runs on the request path of a counted view. Each public method is one short
transaction (or a few, when it must retry), and every failure to reach the database comes out
as :class:`~.exceptions.DatabaseUnavailableError` (its detail logged once per outage). A table
dropped under a running app is created again at the next access when ``CREATE_TABLES`` is on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import TypeVar

from sqlalchemy import Engine, and_, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.expression import Executable

from ..clock import from_us, to_us
from ..counting.counts import Stamped
from ..document.environment import detect_database
from ..document.model import Database
from ..exceptions import DatabaseUnavailableError, TableMissingError
from ..forking import ForkAware
from .engines import LazyEngine
from .errors import OutageLog, table_named
from .resets import META, read_reset_time, write_reset_time
from .tables import TelemetryTables
from .timeouts import hold, release_watchdog
from .transactions import ATTEMPTS, create_missing_tables, run_transaction
from .writing import RefusedRows, Row, SinceReset, upsert_counts, write_counts

#: The property Camunda stores its installation id under.
INSTALLATION_ID = "camunda.installation.id"
#: The counts-table row (``kind`` META) holding when the shared counts began, in microseconds.
START_DATE = "data-collection-start-date"

T = TypeVar("T")
_KEPT = "Counts are kept in memory and written when it is back; retry later."


class TelemetryStore(ForkAware):
    """The extension's database access for one app."""

    fork_fresh = {"_lock": threading.Lock}
    _lock: threading.Lock

    def __init__(self, tables: TelemetryTables, engine: LazyEngine, create_tables: bool) -> None:
        super().__init__()
        self.tables = tables
        self.lazy_engine = engine
        self._create_tables = create_tables
        self._tables_ready = False
        self._installation_id: str | None = None
        self._database: Database | None = None
        #: the count rows set aside because the database refuses them (see :mod:`.writing`).
        self.refused = RefusedRows()
        self._outages = OutageLog("telemetry database")

    # -- plumbing -------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        return self.lazy_engine()

    def close(self, release: bool = True) -> None:
        """Let go of the database: the extension's own engine is disposed of (made anew if used
        again); with ``release``, the watchdog thread ends at once if it has nothing to watch."""
        self.lazy_engine.dispose()
        if release:
            release_watchdog()

    def _retry(self, action: str, work: Callable[[Connection], T]) -> T:
        return self._outages.run(lambda: self._recreating(action, work))

    def _recreating(self, action: str, work: Callable[[Connection], T]) -> T:
        """``work`` in a transaction; a table dropped since it was checked is created again (with
        the installation id this process knows) when CREATE_TABLES is on, else named."""
        try:
            return run_transaction(self.engine, action, work, _KEPT, self.lazy_engine.timeout)
        except TableMissingError as exc:
            self._tables_ready = False
            if not self._create_tables:
                raise TableMissingError(
                    f"Cannot {action}: table {table_named(exc.detail or '')} does not exist. Run 'flask telemetry "
                    "init-db' to create it (CAMUNDA_TELEMETRY_CREATE_TABLES is off); counts are kept in memory "
                    "meanwhile.", exc.detail,
                ) from exc
            self.create_tables()
            known = self._installation_id
            if known is not None:
                self._set_property_once(INSTALLATION_ID, lambda: known)
        return run_transaction(self.engine, action, work, _KEPT, self.lazy_engine.timeout)

    def _execute(self, action: str, statement: Executable) -> None:
        self._retry(action, lambda conn: conn.execute(statement))

    # -- tables ---------------------------------------------------------------------------

    def create_tables(self) -> None:
        """Create the tables that are missing; tolerates another process doing the same."""
        tables = (self.tables.property, self.tables.count)
        timeout = self.lazy_engine.timeout
        self._outages.run(lambda: create_missing_tables(self.engine, tables, "flask telemetry init-db", timeout))
        self._tables_ready = True

    def ensure_tables(self) -> None:
        if self._tables_ready:
            return
        if self._create_tables:
            self.create_tables()
        self._tables_ready = True

    # -- properties -----------------------------------------------------------------------

    def _read_property(self, conn: Connection, name: str) -> tuple[bool, str | None]:
        prop = self.tables.property
        row = conn.execute(select(prop.c.VALUE_).where(prop.c.NAME_ == name)).first()
        return (row is not None, row[0] if row is not None else None)

    def _settle(self, what: str, read: Callable[[Connection], T | None], first: Callable[[], Executable | None]) -> T:
        """Read a value; while it is missing, run ``first()``'s statement so that exactly one
        writer wins (a duplicate insert is ignored), then read what the database holds."""
        for _ in range(ATTEMPTS):
            value = self._retry(f"read {what}", read)
            if value is not None:
                return value
            statement = first()
            if statement is not None:
                with contextlib.suppress(IntegrityError):  # another process wrote it first: read theirs
                    self._execute(f"write {what}", statement)
        raise DatabaseUnavailableError(f"Cannot settle {what}; retry later.")

    def _set_property_once(self, name: str, make_value: Callable[[], str]) -> str:
        """The property ``name``; if missing or empty, ``make_value()`` is written (an empty value
        is repaired in place, never duplicated)."""
        prop = self.tables.property
        state: dict[str, bool] = {}

        def read(conn: Connection) -> str | None:
            state["exists"], value = self._read_property(conn, name)
            return value or None

        def first() -> Executable:
            new = make_value()
            if state["exists"]:
                return (
                    update(prop)
                    .where(and_(prop.c.NAME_ == name, or_(prop.c.VALUE_.is_(None), prop.c.VALUE_ == "")))
                    .values(VALUE_=new, REV_=func.coalesce(prop.c.REV_, 0) + 1)
                )
            return insert(prop).values(NAME_=name, VALUE_=new, REV_=1)

        return self._settle(repr(name), read, first)

    def installation_id(self) -> str:
        """The database's installation id, created on first use; cached for the process."""
        if self._installation_id is None:
            with hold(self._lock, self.lazy_engine.timeout, "read the installation id"):
                if self._installation_id is None:
                    self.ensure_tables()
                    self._installation_id = self._set_property_once(INSTALLATION_ID, lambda: str(uuid.uuid4()))
        return self._installation_id

    def database(self) -> Database:
        """Vendor and version of the database, asked once per process."""
        if self._database is None:
            self._database = self._retry("detect the database", detect_database)
        return self._database

    def start_date(self, default: dt.datetime) -> dt.datetime:
        """When the shared counts began; set to ``default`` if nobody has set it yet.

        Kept in the counts table (``kind='meta'``), so a Camunda ``ACT_GE_PROPERTY`` used as the
        property table only ever holds the installation id.
        """
        self.ensure_tables()
        count = self.tables.count
        query = select(count.c.total).where(and_(count.c.kind == META, count.c.name == START_DATE))
        micros = self._settle(
            "the data collection start date",
            lambda c: c.execute(query).scalar(),
            lambda: insert(count).values(kind=META, name=START_DATE, total=to_us(default)),
        )
        return from_us(int(micros))

    # -- counts ---------------------------------------------------------------------------

    def _upsert(self, conn: Connection, rows: list[Row]) -> None:
        upsert_counts(conn, self.tables.count, rows)

    def flush_counts(self, stamped: Mapping[str, Stamped]) -> int:
        """Add ``{kind: {made: {name: n}}}`` to the shared totals (``made``: when the counts
        were made, in microseconds since the epoch), leaving out what was made before the last
        reset, which is read locked in the same transaction; a row the database refuses is set
        aside and the others are written. Returns that reset's time (0: none read).

        .. versionadded:: 0.2.0
        """
        if not any(stamped.values()):
            return 0
        self.ensure_tables()
        since_reset = SinceReset(stamped, self.tables.count, self._upsert)
        try:
            write_counts(self._retry, since_reset.upsert, since_reset.candidates, self.refused)
        except IntegrityError:  # the reset-time row was made concurrently: it exists now
            write_counts(self._retry, since_reset.upsert, since_reset.candidates, self.refused)
        return since_reset.reset

    def reset_time(self) -> int:
        """When the shared counts were last reset (microseconds since the epoch; 0: never).

        .. versionadded:: 0.2.0
        """
        self.ensure_tables()
        return self._retry("read the reset time", lambda c: read_reset_time(c, self.tables.count))

    def read_counts(self) -> dict[str, dict[str, int]]:
        """The shared totals as ``{kind: {name: n}}``."""
        self.ensure_tables()
        table = self.tables.count
        rows = self._retry(
            "read the counts", lambda c: c.execute(select(table.c.kind, table.c.name, table.c.total)).all()
        )
        counts: dict[str, dict[str, int]] = {}
        for kind, name, total in rows:
            counts.setdefault(kind, {})[name] = int(total)
        return counts

    def reset(self, now: dt.datetime) -> None:
        """Zero the shared counts and move the start date, in one transaction; every flush from
        then on leaves out what was made before ``now`` (see :mod:`.resets`)."""
        self.ensure_tables()
        count = self.tables.count
        start = and_(count.c.kind == META, count.c.name == START_DATE)

        def work(conn: Connection) -> None:
            write_reset_time(conn, count, to_us(now))  # first: waits for the flushes in progress
            conn.execute(delete(count).where(count.c.kind != META))
            if not conn.execute(update(count).where(start).values(total=to_us(now))).rowcount:
                conn.execute(insert(count).values(kind=META, name=START_DATE, total=to_us(now)))

        try:
            self._retry("reset the counts", work)
        except IntegrityError:  # the start date was inserted concurrently: its row exists now
            self._retry("reset the counts", work)
