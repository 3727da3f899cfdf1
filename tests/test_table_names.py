"""Any table name ``init_app`` accepts works at every read and flush, on every backend: a
reserved word in lower case (``order``, ``select``, ``user``) is quoted where the database needs
it; one with capitals (written unquoted, as Camunda's scripts do) is refused at ``init_app``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from flask_camunda_telemetry import ConfigurationError, TelemetryExt

from .support.apps import host_app, make_app
from .support.databases import table_names
from .support.documents import counts, read

START = "/process-definition/invoice/start"


@pytest.mark.parametrize(("count_table", "property_table"), [("order", "select"), ("user", "group")])
def test_reserved_words_in_lower_case_are_table_names_that_work(
    database_url: str, tmp_path: Path, count_table: str, property_table: str
) -> None:
    names: dict[str, Any] = {
        "CAMUNDA_TELEMETRY_COUNT_TABLE": count_table, "CAMUNDA_TELEMETRY_PROPERTY_TABLE": property_table,
    }
    app = make_app(database_url, tmp_path / "a", **names)
    client = app.test_client()
    assert client.post(START).status_code == 200
    app.extensions["camunda_telemetry"].flush()
    response = client.get("/telemetry/data")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert counts(response.get_json())[0] == {"StartProcessInstanceCmd": 1}
    assert {count_table, property_table} <= table_names(database_url)

    # another process on the same database reads the shared counts and the same installation id
    other = make_app(database_url, tmp_path / "b", **names)
    document = read(other.test_client())
    assert counts(document)[0] == {"StartProcessInstanceCmd": 1}
    assert document["installation"] == response.get_json()["installation"]
    app.extensions["camunda_telemetry"].counts.reset()
    assert counts(read(other.test_client()))[0] == {}


def test_reserved_words_in_lower_case_work_in_the_hosts_metadata(database_url: str, tmp_path: Path) -> None:
    app, db = host_app(tmp_path / "instance", SQLALCHEMY_DATABASE_URI=database_url)
    TelemetryExt(app, db=db, count_table="order", property_table="user")
    with app.app_context():
        db.create_all()
    client = app.test_client()
    assert client.get("/items").status_code == 200
    assert client.get("/telemetry/data").status_code == 200
    assert {"order", "user"} <= table_names(database_url)


def test_a_reserved_word_with_capitals_is_refused_before_any_read(tmp_path: Path) -> None:
    app = Flask("host", instance_path=str(tmp_path))
    app.config["CAMUNDA_TELEMETRY_COUNT_TABLE"] = "ORDER"
    with pytest.raises(ConfigurationError, match="CAMUNDA_TELEMETRY_COUNT_TABLE = 'ORDER' is invalid"):
        TelemetryExt(app)
