"""Errors say what is true: a missing privilege is reported as one (with what to grant), a table
dropped under a running app is created again (or named, with the command that creates it), and
a 503 body never carries SQL or a driver's text; the log has it, once per outage.

Before: with the counts table's privileges revoked ``flask telemetry show`` said the table could
not be created because it "already exists"; after the table was dropped every read stayed a 503
until a restart, even with ``CREATE_TABLES``; 503 bodies carried the driver's message and SQL.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.engine import make_url

from flask_camunda_telemetry.state import get_state

from .support.apps import make_app
from .support.databases import ADMIN_URLS, INSTALLATION_ID, execute, property_rows, server_backends
from .support.documents import counts, driver_text, json_of

QUIET = {"CAMUNDA_TELEMETRY_FLUSH_INTERVAL": 3600}
COUNT_TABLE = "camunda_telemetry_count"
PROPERTY_TABLE = "camunda_telemetry_property"


def backend_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql" if url.startswith("postgresql") else "mariadb"


def admin(backend: str) -> sa.Engine:
    return sa.create_engine(ADMIN_URLS[backend], isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)


@contextmanager
def user_without_the_counts_table(url: str) -> Iterator[str]:
    """A second database user that may use the property table but nothing of the counts table
    (as after ``REVOKE``); yields the URL connecting as it."""
    backend = backend_of(url)
    name = f"ft_u_{uuid.uuid4().hex[:10]}"
    database = make_url(url).database
    server = admin(backend)
    if backend == "postgresql":
        with server.connect() as conn:
            conn.execute(sa.text(f"CREATE ROLE {name} LOGIN"))
        execute(url, f"GRANT USAGE ON SCHEMA public TO {name}",
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON {PROPERTY_TABLE} TO {name}",
                f"REVOKE ALL ON {COUNT_TABLE} FROM {name}")
    else:
        with server.connect() as conn:
            conn.execute(sa.text(f"CREATE USER '{name}'@'127.0.0.1'"))
            conn.execute(sa.text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {database}.{PROPERTY_TABLE} "
                                 f"TO '{name}'@'127.0.0.1'"))
    try:
        yield make_url(url).set(username=name).render_as_string(hide_password=False)
    finally:
        if backend == "postgresql":
            execute(url, f"DROP OWNED BY {name}")
            with server.connect() as conn:
                conn.execute(sa.text(f"DROP ROLE {name}"))
        else:
            with server.connect() as conn:
                conn.execute(sa.text(f"DROP USER '{name}'@'127.0.0.1'"))
        server.dispose()


def quiet_app(url: str, instance: Path, **config: object) -> Flask:
    return make_app(url, instance, None, **QUIET, **config)


# SQLite has no users, so no privileges to revoke.
@pytest.mark.parametrize("database_url", server_backends(), indirect=True)
def test_permission_denied_is_reported_as_such_with_what_to_grant(database_url: str, tmp_path: Path) -> None:
    owner = quiet_app(database_url, tmp_path / "owner")
    assert owner.test_cli_runner().invoke(args=["telemetry", "init-db"]).exit_code == 0
    get_state(owner).close(flush=False)
    with user_without_the_counts_table(database_url) as limited_url:
        app = quiet_app(limited_url, tmp_path / "limited")
        try:
            for command in ("show", "init-db"):
                result = app.test_cli_runner().invoke(args=["telemetry", command])
                assert result.exit_code == 1, result.output
                assert "already exists" not in result.output
                assert f"permission denied on '{COUNT_TABLE}'. Grant the database user the app connects as " \
                       "SELECT, INSERT, UPDATE and DELETE on it" in result.output
                assert "The database said:" in result.output  # the driver's words, for the operator
            response = app.test_client().get("/telemetry/data")
            assert response.status_code == 503
            message = json_of(response)["message"]
            assert f"permission denied on '{COUNT_TABLE}'. Grant" in message
            assert driver_text(message) == []
        finally:
            get_state(app).close(flush=False)


def test_a_dropped_table_is_created_again_at_the_next_read(database_url: str, tmp_path: Path) -> None:
    app = quiet_app(database_url, tmp_path / "instance")
    client = app.test_client()
    try:
        client.post("/process-definition/x/start")
        before = json_of(client.get("/telemetry/data"))
        execute(database_url, f"DROP TABLE {COUNT_TABLE}", f"DROP TABLE {PROPERTY_TABLE}")
        client.post("/process-definition/x/start")
        client.post("/process-definition/x/start")

        response = client.get("/telemetry/data")
        assert response.status_code == 200, json_of(response)
        after = json_of(response)
        assert counts(after)[0] == {"StartProcessInstanceCmd": 2}  # the counts made since the drop
        assert after["installation"] == before["installation"]  # the id this process knew is kept
        assert property_rows(database_url, INSTALLATION_ID) == [(INSTALLATION_ID, before["installation"], 1)]
    finally:
        get_state(app).close(flush=False)


def test_without_create_tables_a_missing_table_says_to_run_init_db(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = quiet_app(database_url, tmp_path / "instance", CAMUNDA_TELEMETRY_CREATE_TABLES=False)
    client = app.test_client()
    try:
        with caplog.at_level(logging.DEBUG, "flask_camunda_telemetry"):
            for _ in range(3):
                response = client.get("/telemetry/data")
                assert response.status_code == 503
                message = json_of(response)["message"]
                assert f"table '{PROPERTY_TABLE}' does not exist. Run 'flask telemetry init-db'" in message
                assert driver_text(message) == []
        warned = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warned) == 1, [r.getMessage() for r in warned]  # once for the outage, not per request
        assert driver_text(warned[0].getMessage())  # the log has the driver's detail

        assert app.test_cli_runner().invoke(args=["telemetry", "init-db"]).exit_code == 0
        assert client.get("/telemetry/data").status_code == 200  # no restart needed
    finally:
        get_state(app).close(flush=False)


def test_a_read_only_sqlite_file_is_reported_as_such(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.sqlite"
    owner = quiet_app(f"sqlite:///{path}", tmp_path / "owner")
    assert owner.test_cli_runner().invoke(args=["telemetry", "init-db"]).exit_code == 0
    get_state(owner).close(flush=False)
    app = quiet_app(f"sqlite:///file:{path}?mode=ro&uri=true", tmp_path / "instance")
    try:
        app.test_client().post("/process-definition/x/start")
        response = app.test_client().get("/telemetry/data")
        assert response.status_code == 503
        message = json_of(response)["message"]
        assert "the SQLite file (and its folder) is read-only" in message
        assert driver_text(message) == []
    finally:
        get_state(app).close(flush=False)
