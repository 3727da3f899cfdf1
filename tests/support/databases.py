"""Fresh databases for tests: a SQLite file, or a new database on a real server.

Servers are found through environment variables (defaults: the local PostgreSQL and MariaDB
on 127.0.0.1 with the machine's trust/empty-password accounts):

* ``CAMUNDA_TELEMETRY_TEST_POSTGRESQL_URL`` (admin URL, default
  ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``)
* ``CAMUNDA_TELEMETRY_TEST_MARIADB_URL`` (default ``mysql+pymysql://root@127.0.0.1:3306/mysql``)

Every test that takes the ``database_url`` fixture runs once per backend in
``CAMUNDA_TELEMETRY_TEST_DATABASES`` (default ``sqlite,postgresql,mariadb``). Without a
reachable server the test is skipped with the reason; under ``CI=true`` it fails.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

BACKENDS = ("sqlite", "postgresql", "mariadb")
PROPERTY_TABLE = "camunda_telemetry_property"
INSTALLATION_ID = "camunda.installation.id"

ADMIN_URLS = {
    "postgresql": os.environ.get(
        "CAMUNDA_TELEMETRY_TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    ),
    "mariadb": os.environ.get("CAMUNDA_TELEMETRY_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/mysql"),
}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Skip locally; fail under CI, where every server must be there."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: database servers must be reachable; .ci/run starts them)")
    pytest.skip(reason)


def _admin_engine(backend: str) -> sa.Engine:
    url = ADMIN_URLS[backend]
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            pass
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "not here"
        engine.dispose()
        unavailable(f"{backend} server not reachable at {make_url(url).render_as_string(hide_password=True)}: "
                    f"{type(exc).__name__}; set CAMUNDA_TELEMETRY_TEST_{backend.upper()}_URL or start it")
    return engine


@contextmanager
def fresh_database(backend: str, tmp_path: Path) -> Iterator[str]:
    """Yield the URL of a new, empty database of ``backend``; drop it afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / f'telemetry-{uuid.uuid4().hex[:8]}.sqlite'}"
        return
    engine = _admin_engine(backend)
    name = f"ft_{uuid.uuid4().hex[:12]}"
    with engine.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(ADMIN_URLS[backend]).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            if backend == "postgresql":
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            else:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        engine.dispose()


def table_names(url: str) -> set[str]:
    """The tables of the database at ``url``, as its own catalogue names them."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def selected_backends() -> tuple[str, ...]:
    """The backends every database test runs on: ``CAMUNDA_TELEMETRY_TEST_DATABASES``, a
    comma-separated list (default: all three)."""
    raw = os.environ.get("CAMUNDA_TELEMETRY_TEST_DATABASES", ",".join(BACKENDS))
    backends = tuple(b.strip() for b in raw.split(",") if b.strip())
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown or not backends:
        raise ValueError(
            f"CAMUNDA_TELEMETRY_TEST_DATABASES={raw!r}: use a comma-separated list of {', '.join(BACKENDS)}"
        )
    return backends


def server_backends() -> list[str]:
    """The selected backends that are database servers (for what SQLite does not have, such
    as users and privileges); use with ``@pytest.mark.parametrize("database_url",
    server_backends(), indirect=True)``."""
    return [backend for backend in selected_backends() if backend != "sqlite"]


def is_uuid4(value: str | None) -> bool:
    if value is None:
        return False
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return False
    return parsed.version == 4 and str(parsed) == value


def property_rows(url: str, name: str, table: str = PROPERTY_TABLE) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(f"SELECT NAME_, VALUE_, REV_ FROM {table} WHERE NAME_ = :n"), {"n": name})
            return [tuple(row) for row in rows]
    finally:
        engine.dispose()


def execute(url: str, *statements: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def count_rows(url: str, kind: str, table: str = "camunda_telemetry_count") -> dict[str, int]:
    """``{name: total}`` of the rows of ``kind`` in the counts table, read directly."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(f"SELECT name, total FROM {table} WHERE kind = :k"), {"k": kind})
            return {name: int(total) for name, total in rows}
    finally:
        engine.dispose()


@contextmanager
def locked(url: str, tables: tuple[str, ...]) -> Iterator[None]:
    """``tables`` locked by another connection: SQLite ``BEGIN EXCLUSIVE``, PostgreSQL
    ``LOCK TABLE ... IN ACCESS EXCLUSIVE MODE``, MariaDB ``LOCK TABLES ... WRITE``."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database
        holder = sqlite3.connect(parsed.database, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            holder.rollback()
            holder.close()
        return
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    conn = engine.connect()
    try:
        if parsed.get_backend_name() == "postgresql":
            conn.exec_driver_sql(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE")
        else:
            conn.exec_driver_sql("LOCK TABLES " + ", ".join(f"{t} WRITE" for t in tables))
        yield
    finally:
        if parsed.get_backend_name() != "postgresql":
            conn.exec_driver_sql("UNLOCK TABLES")
        conn.rollback()
        conn.close()
        engine.dispose()
