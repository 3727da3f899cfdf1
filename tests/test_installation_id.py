"""One installation id per database: a UUID v4 in Camunda's property layout, shared by every app
instance, settled exactly once even when 32 processes start against an empty database together."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from flask_camunda_telemetry import TelemetryExt

from .support.apps import make_app
from .support.databases import INSTALLATION_ID, PROPERTY_TABLE, execute, is_uuid4, property_rows
from .support.races import PROCESSES, start_together


def test_the_id_is_a_uuid4_in_camundas_property_layout(database_url: str, tmp_path: Path) -> None:
    ext = TelemetryExt()
    app = make_app(database_url, tmp_path / "instance", ext)

    installation = ext.data(app=app).installation

    assert is_uuid4(installation)
    assert property_rows(database_url, INSTALLATION_ID) == [(INSTALLATION_ID, installation, 1)]
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    try:
        inspector = sa.inspect(engine)
        columns = {c["name"].upper(): c for c in inspector.get_columns(PROPERTY_TABLE)}
        primary_key = [c.upper() for c in inspector.get_pk_constraint(PROPERTY_TABLE)["constrained_columns"]]
    finally:
        engine.dispose()
    assert set(columns) == {"NAME_", "VALUE_", "REV_"}
    assert primary_key == ["NAME_"]
    assert getattr(columns["NAME_"]["type"], "length", None) == 64
    assert getattr(columns["VALUE_"]["type"], "length", None) == 300


def test_every_app_instance_on_the_database_reports_the_same_id(database_url: str, tmp_path: Path) -> None:
    first = make_app(database_url, tmp_path / "a")
    second = make_app(database_url, tmp_path / "b", CAMUNDA_TELEMETRY_URL_PREFIX="/engine-rest")

    one = first.test_client().get("/telemetry/data").get_json()["installation"]
    other = second.test_client().get("/engine-rest/telemetry/data").get_json()["installation"]

    assert one == other
    assert len(property_rows(database_url, INSTALLATION_ID)) == 1


def test_another_database_has_another_id(database_url: str, tmp_path: Path) -> None:
    ext = TelemetryExt()
    here = make_app(database_url, tmp_path / "a", ext)
    elsewhere = make_app(f"sqlite:///{tmp_path / 'other.sqlite'}", tmp_path / "b", ext)

    assert ext.data(app=here).installation != ext.data(app=elsewhere).installation


def test_the_table_name_is_configurable(database_url: str, tmp_path: Path) -> None:
    ext = TelemetryExt()
    app = make_app(database_url, tmp_path / "instance", ext, CAMUNDA_TELEMETRY_PROPERTY_TABLE="my_properties")

    installation = ext.data(app=app).installation

    assert property_rows(database_url, INSTALLATION_ID, table="my_properties") == [(INSTALLATION_ID, installation, 1)]


def test_init_db_creates_the_tables_and_the_id(database_url: str, tmp_path: Path) -> None:
    ext = TelemetryExt()
    app = make_app(database_url, tmp_path / "instance", ext, CAMUNDA_TELEMETRY_CREATE_TABLES=False)

    result = app.test_cli_runner().invoke(args=["telemetry", "init-db"])

    assert result.exit_code == 0, result.output
    [(_, installation, _)] = property_rows(database_url, INSTALLATION_ID)
    assert installation in result.output
    assert ext.data(app=app).installation == installation
    again = app.test_cli_runner().invoke(args=["telemetry", "init-db"])  # idempotent
    assert again.exit_code == 0, again.output
    assert property_rows(database_url, INSTALLATION_ID) == [(INSTALLATION_ID, installation, 1)]


@pytest.mark.parametrize("empty", ["''", "NULL"])
def test_an_existing_row_with_an_empty_value_is_repaired_not_duplicated(
    database_url: str, tmp_path: Path, empty: str
) -> None:
    ext = TelemetryExt()
    app = make_app(database_url, tmp_path / "instance", ext)
    assert app.test_cli_runner().invoke(args=["telemetry", "init-db"]).exit_code == 0
    execute(database_url, f"UPDATE {PROPERTY_TABLE} SET VALUE_ = {empty} WHERE NAME_ = '{INSTALLATION_ID}'")

    fresh = TelemetryExt()  # a new app instance: nothing cached
    installation = fresh.data(app=make_app(database_url, tmp_path / "other", fresh)).installation

    assert is_uuid4(installation)
    assert property_rows(database_url, INSTALLATION_ID) == [(INSTALLATION_ID, installation, 2)]


@pytest.mark.parametrize("mode", ["cold", "connected"])
def test_32_processes_starting_together_on_an_empty_database_agree_on_one_id(
    database_url: str, tmp_path: Path, mode: str
) -> None:
    results = start_together(database_url, tmp_path, mode)

    ids = {result["installation"] for result in results}
    assert len(results) == PROCESSES
    assert len(ids) == 1, ids
    [installation] = ids
    assert is_uuid4(installation)
    assert property_rows(database_url, INSTALLATION_ID) == [(INSTALLATION_ID, installation, 1)]
    # the shared data-collection start date is settled once the same way
    assert len({result["start"] for result in results}) == 1


def test_32_processes_repair_an_empty_id_together_without_duplicating_it(database_url: str, tmp_path: Path) -> None:
    app = make_app(database_url, tmp_path / "instance")
    assert app.test_cli_runner().invoke(args=["telemetry", "init-db"]).exit_code == 0
    execute(database_url, f"UPDATE {PROPERTY_TABLE} SET VALUE_ = '' WHERE NAME_ = '{INSTALLATION_ID}'")

    results = start_together(database_url, tmp_path, "connected")

    ids = {result["installation"] for result in results}
    assert len(ids) == 1, ids
    [installation] = ids
    assert is_uuid4(installation)
    assert property_rows(database_url, INSTALLATION_ID) == [(INSTALLATION_ID, installation, 2)]
