"""Pointed at the ``ACT_GE_PROPERTY`` table of a Camunda 7 database, the extension reports
Camunda's own installation id, and writes one Camunda adopts when the engine has not yet.

The table is made by each database's own DDL, the way Camunda's create scripts make it: unquoted
upper-case names, which PostgreSQL folds to lower case and MariaDB keeps as written.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from flask_camunda_telemetry import TelemetryExt

from .support.apps import make_app
from .support.camunda import CAMUNDA_ROWS, CAMUNDA_TABLE, camunda_rows, camunda_schema
from .support.databases import INSTALLATION_ID, is_uuid4, table_names


def test_reports_the_id_of_the_camunda_engine_sharing_the_database(database_url: str, tmp_path: Path) -> None:
    camundas_id = str(uuid.uuid4())
    camunda_schema(database_url, installation=camundas_id)
    tables_before = table_names(database_url)

    app = make_app(database_url, tmp_path / "instance", **CAMUNDA_TABLE)
    client = app.test_client()
    client.get("/process-instance")
    response = client.get("/telemetry/data")
    assert app.test_cli_runner().invoke(args=["telemetry", "reset", "--yes"]).exit_code == 0

    assert response.status_code == 200
    assert response.get_json()["installation"] == camundas_id
    rows = camunda_rows(database_url)
    assert rows[INSTALLATION_ID] == (camundas_id, 1)
    assert {name: rows[name] for name, _, _ in CAMUNDA_ROWS} == {name: (v, rev) for name, v, rev in CAMUNDA_ROWS}
    # Counting, reading and a reset write nothing else into Camunda's table.
    assert set(rows) == {name for name, _, _ in CAMUNDA_ROWS} | {INSTALLATION_ID}
    # Camunda's table was used as it is, not doubled by a differently cased one (PostgreSQL folds
    # unquoted ACT_GE_PROPERTY to act_ge_property); only the count table was added.
    assert table_names(database_url) == tables_before | {"camunda_telemetry_count"}


def test_adopts_a_non_uuid_id_camunda_already_holds(database_url: str, tmp_path: Path) -> None:
    """Camunda adopts an existing ``camunda.installation.id`` as it is; so does the extension."""
    camunda_schema(database_url, installation="legacy-installation")
    ext = TelemetryExt()
    app = make_app(database_url, tmp_path / "instance", ext, **CAMUNDA_TABLE)

    assert ext.data(app=app).installation == "legacy-installation"
    assert camunda_rows(database_url)[INSTALLATION_ID] == ("legacy-installation", 1)


def test_writes_the_id_the_way_camundas_engine_would(database_url: str, tmp_path: Path) -> None:
    """Before a Camunda engine first starts on the database, the extension creates the id in
    Camunda's format, where the engine's bootstrap reads it and keeps it."""
    camunda_schema(database_url, installation=None)
    ext = TelemetryExt()
    app = make_app(database_url, tmp_path / "instance", ext, **CAMUNDA_TABLE)

    installation = ext.data(app=app).installation

    assert is_uuid4(installation)
    rows = camunda_rows(database_url)
    assert rows[INSTALLATION_ID] == (installation, 1)
    assert rows["installationId.lock"] == ("0", 1)


@pytest.mark.parametrize("empty", ["''", "NULL"])
def test_repairs_an_empty_camunda_id_in_place(database_url: str, tmp_path: Path, empty: str) -> None:
    camunda_schema(database_url, installation="")
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text(f"update ACT_GE_PROPERTY set VALUE_ = {empty} where NAME_ = '{INSTALLATION_ID}'"))
    engine.dispose()
    ext = TelemetryExt()
    app = make_app(database_url, tmp_path / "instance", ext, **CAMUNDA_TABLE)

    installation = ext.data(app=app).installation

    assert is_uuid4(installation)
    assert camunda_rows(database_url)[INSTALLATION_ID] == (installation, 2)


def test_init_db_keeps_camundas_table_and_adds_the_count_table(database_url: str, tmp_path: Path) -> None:
    camundas_id = str(uuid.uuid4())
    camunda_schema(database_url, installation=camundas_id)
    tables_before = table_names(database_url)
    app = make_app(database_url, tmp_path / "instance", CAMUNDA_TELEMETRY_CREATE_TABLES=False, **CAMUNDA_TABLE)

    result = app.test_cli_runner().invoke(args=["telemetry", "init-db"])

    assert result.exit_code == 0, result.output
    assert camundas_id in result.output
    assert table_names(database_url) == tables_before | {"camunda_telemetry_count"}
    assert camunda_rows(database_url)[INSTALLATION_ID] == (camundas_id, 1)
