"""Where the tables live: the host's Flask-SQLAlchemy ``db`` (its metadata and engine, or a bind),
else ``SQLALCHEMY_DATABASE_URI``, else a SQLite file in the instance folder; and ``init_app``
opens no connection and starts no thread, so an app built before a fork shares nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.pool import Pool

from flask_camunda_telemetry import TelemetryExt

from .support.apps import host_app, make_app
from .support.databases import INSTALLATION_ID, PROPERTY_TABLE, is_uuid4, property_rows, table_names

COUNT_TABLE = "camunda_telemetry_count"
TELEMETRY_TABLES = {PROPERTY_TABLE, COUNT_TABLE}


def stored_id(url: str) -> str:
    [(_, value, _)] = property_rows(url, INSTALLATION_ID)
    return str(value)


# -- the host's db ------------------------------------------------------------------------


def test_with_db_the_tables_join_its_metadata_and_use_its_engine(database_url: str, tmp_path: Path) -> None:
    app, db = host_app(tmp_path / "instance", SQLALCHEMY_DATABASE_URI=database_url)
    ext = TelemetryExt(app, db=db)

    # in db.metadata, so db.create_all() and Flask-Migrate/Alembic (target_metadata) see them
    assert TELEMETRY_TABLES | {"item"} <= set(db.metadata.tables)
    assert ext.state(app).store.tables.property is db.metadata.tables[PROPERTY_TABLE]
    with app.app_context():
        db.create_all()
        assert ext.state(app).store.engine is db.engine
    assert TELEMETRY_TABLES | {"item"} <= table_names(database_url)

    installation = app.test_client().get("/telemetry/data").get_json()["installation"]

    assert is_uuid4(installation)
    assert stored_id(database_url) == installation
    assert app.test_client().get("/items").get_json() == {"items": 0}


def test_with_db_and_no_create_all_the_tables_are_created_on_first_use(database_url: str, tmp_path: Path) -> None:
    app, db = host_app(tmp_path / "instance", SQLALCHEMY_DATABASE_URI=database_url)
    ext = TelemetryExt(app, db=db)

    installation = ext.data(app=app).installation

    assert table_names(database_url) >= TELEMETRY_TABLES
    assert "item" not in table_names(database_url)  # the host's own tables are the host's business
    assert stored_id(database_url) == installation


def test_with_db_in_an_app_factory(database_url: str, tmp_path: Path) -> None:
    db = SQLAlchemy()
    ext = TelemetryExt(db=db)

    def create_app(instance: Path) -> Flask:
        app = Flask("factory", instance_path=str(instance))
        app.config.update(TESTING=True, SQLALCHEMY_DATABASE_URI=database_url)
        db.init_app(app)
        ext.init_app(app)
        return app

    one, two = create_app(tmp_path / "a"), create_app(tmp_path / "b")

    assert set(db.metadata.tables) >= TELEMETRY_TABLES
    assert ext.data(app=one).installation == ext.data(app=two).installation == stored_id(database_url)


def test_with_db_a_bind_key_puts_the_tables_in_that_bind(database_url: str, tmp_path: Path) -> None:
    main = f"sqlite:///{tmp_path / 'main.sqlite'}"
    app, db = host_app(
        tmp_path / "instance",
        SQLALCHEMY_DATABASE_URI=main,
        SQLALCHEMY_BINDS={"telemetry": database_url},
        CAMUNDA_TELEMETRY_BIND_KEY="telemetry",
    )
    ext = TelemetryExt(app, db=db)

    assert set(db.metadatas["telemetry"].tables) >= TELEMETRY_TABLES
    assert not TELEMETRY_TABLES & set(db.metadata.tables)
    with app.app_context():
        db.create_all()
    assert table_names(database_url) >= TELEMETRY_TABLES
    assert not TELEMETRY_TABLES & table_names(main)

    assert ext.data(app=app).installation == stored_id(database_url)


def test_with_db_the_telemetry_database_uri_wins(database_url: str, tmp_path: Path) -> None:
    main = f"sqlite:///{tmp_path / 'main.sqlite'}"
    app, db = host_app(tmp_path / "instance", SQLALCHEMY_DATABASE_URI=main, CAMUNDA_TELEMETRY_DATABASE_URI=database_url)
    ext = TelemetryExt(app, db=db)

    assert not TELEMETRY_TABLES & set(db.metadata.tables)
    assert ext.data(app=app).installation == stored_id(database_url)
    assert not TELEMETRY_TABLES & table_names(main)


# -- without a db -------------------------------------------------------------------------


def test_without_db_it_uses_sqlalchemy_database_uri(database_url: str, tmp_path: Path) -> None:
    ext = TelemetryExt()
    app = make_app(None, tmp_path / "instance", ext, SQLALCHEMY_DATABASE_URI=database_url)

    installation = ext.data(app=app).installation

    assert stored_id(database_url) == installation
    assert not (tmp_path / "instance").exists()


def test_a_relative_sqlite_uri_is_the_file_flask_sqlalchemy_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Flask-SQLAlchemy puts ``sqlite:///host.sqlite`` in the instance folder; so does the extension,
    so that it shares the host's database whether or not ``db`` is passed."""
    monkeypatch.chdir(tmp_path)
    instance = tmp_path / "instance"
    config = {"SQLALCHEMY_DATABASE_URI": "sqlite:///host.sqlite"}
    app, db = host_app(instance, **config)
    with app.app_context():
        db.create_all()  # the host's file
    ext = TelemetryExt()
    telemetry_app = make_app(None, instance, ext, **config)

    installation = ext.data(app=telemetry_app).installation

    assert stored_id(f"sqlite:///{instance / 'host.sqlite'}") == installation
    assert not (tmp_path / "host.sqlite").exists()


def test_with_nothing_configured_a_sqlite_file_in_the_instance_folder(tmp_path: Path) -> None:
    instance = tmp_path / "instance"  # does not exist yet
    ext = TelemetryExt()
    first = make_app(None, instance, ext)

    installation = ext.data(app=first).installation

    assert stored_id(f"sqlite:///{instance / 'camunda_telemetry.sqlite'}") == installation
    restarted = TelemetryExt()
    assert restarted.data(app=make_app(None, instance, restarted)).installation == installation


# -- init_app opens no connection and starts no thread ------------------------------------


@pytest.fixture
def connections() -> Iterator[list[object]]:
    """Every DBAPI connection any SQLAlchemy pool opens while the test runs."""
    opened: list[object] = []

    def on_connect(dbapi_connection: object, record: object) -> None:
        opened.append(dbapi_connection)

    sa.event.listen(Pool, "connect", on_connect)
    try:
        yield opened
    finally:
        sa.event.remove(Pool, "connect", on_connect)


def server_sessions(url: str) -> int:
    """How many sessions the server has open on the database of ``url`` (SQLite: 0 or 1 for
    whether the file exists at all)."""
    parsed = sa.make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return int(Path(parsed.database or "").exists())
    query = {
        "postgresql": "select count(*) from pg_stat_activity where datname = :name",
        "mysql": "select count(*) from information_schema.processlist where db = :name",
    }[backend]
    engine = sa.create_engine(parsed.set(database="postgres" if backend == "postgresql" else "mysql"),
                              poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(query), {"name": parsed.database}).scalar_one())
    finally:
        engine.dispose()


SETUPS: dict[str, Callable[[str, Path], tuple[Flask, TelemetryExt]]] = {}


def setup(name: str) -> Callable[[Callable[[str, Path], tuple[Flask, TelemetryExt]]], Any]:
    def register(build: Callable[[str, Path], tuple[Flask, TelemetryExt]]) -> Any:
        SETUPS[name] = build
        return build

    return register


@setup("telemetry-uri")
def _telemetry_uri(url: str, instance: Path) -> tuple[Flask, TelemetryExt]:
    ext = TelemetryExt()
    return make_app(url, instance, ext), ext


@setup("sqlalchemy-uri")
def _sqlalchemy_uri(url: str, instance: Path) -> tuple[Flask, TelemetryExt]:
    ext = TelemetryExt()
    return make_app(None, instance, ext, SQLALCHEMY_DATABASE_URI=url), ext


@setup("host-db")
def _host_db(url: str, instance: Path) -> tuple[Flask, TelemetryExt]:
    app, db = host_app(instance, SQLALCHEMY_DATABASE_URI=url)
    return app, TelemetryExt(app, db=db)


@setup("host-db-bind")
def _host_db_bind(url: str, instance: Path) -> tuple[Flask, TelemetryExt]:
    app, db = host_app(
        instance, SQLALCHEMY_DATABASE_URI="sqlite://", SQLALCHEMY_BINDS={"t": url}, CAMUNDA_TELEMETRY_BIND_KEY="t"
    )
    return app, TelemetryExt(app, db=db)


@pytest.mark.parametrize("how", sorted(SETUPS))
def test_init_app_opens_no_connection_and_starts_no_thread(
    database_url: str, tmp_path: Path, connections: list[object], how: str
) -> None:
    threads_before = set(threading.enumerate())

    app, ext = SETUPS[how](database_url, tmp_path / "instance")

    assert connections == []
    assert server_sessions(database_url) == 0
    assert set(threading.enumerate()) <= threads_before  # none started (one of an earlier test may end)
    # the same probes do see the first use
    assert is_uuid4(ext.data(app=app).installation)
    assert connections
    assert server_sessions(database_url) >= 1


def test_with_nothing_configured_init_app_does_not_create_the_instance_folder(
    tmp_path: Path, connections: list[object]
) -> None:
    threads_before = set(threading.enumerate())

    ext = TelemetryExt()
    app = make_app(None, tmp_path / "instance", ext)

    assert connections == []
    assert set(threading.enumerate()) <= threads_before  # none started (one of an earlier test may end)
    assert not (tmp_path / "instance").exists()
    assert is_uuid4(ext.data(app=app).installation)
    assert connections
