"""The whole document, configured as the seed's example, compared key by key with it."""

from __future__ import annotations

import datetime as dt
import json
import platform
import re
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from flask_camunda_telemetry import TelemetryExt

from .support.apps import make_app
from .support.documents import json_of, read

SEED = json.loads((Path(__file__).parent / "data" / "seed_example.json").read_text())
LICENSE = SEED["product"]["internals"]["license-key"]["raw"]
CAMUNDA_DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{4}")


def _live_database(url: str) -> dict[str, str]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            result = {"vendor": "SQLite", "version": conn.execute(sa.text("select sqlite_version()")).scalar_one()}
        elif engine.dialect.name == "postgresql":
            result = {"vendor": "PostgreSQL", "version": conn.execute(sa.text("show server_version")).scalar_one()}
        else:
            version = conn.execute(sa.text("select version()")).scalar_one()
            result = {"vendor": "MariaDB" if "MariaDB" in version else "MySQL", "version": version}
    engine.dispose()
    return result


def _seed_app(database_url: str, tmp_path: Path) -> tuple[Flask, TelemetryExt]:
    telemetry = TelemetryExt()
    app = make_app(
        database_url,
        tmp_path / "instance",
        telemetry,
        CAMUNDA_TELEMETRY_PRODUCT_VERSION="7.14.0",
        CAMUNDA_TELEMETRY_EDITION="enterprise",
        CAMUNDA_TELEMETRY_LICENSE_KEY=LICENSE,
        CAMUNDA_TELEMETRY_INTEGRATIONS=["spring-boot-starter", "camunda-bpm-run"],
        CAMUNDA_TELEMETRY_WEBAPPS=["cockpit", "admin"],
    )
    client = app.test_client()
    for _ in range(40):
        assert client.post("/process-definition/invoice/start").status_code == 200
    for _ in range(100):
        assert client.post("/external-task/fetchAndLock").status_code == 200
    with app.app_context():
        for name, entry in SEED["product"]["internals"]["metrics"].items():
            telemetry.mark_occurrence(name, entry["count"])
    return app, telemetry


def test_document_matches_the_seed_example_key_by_key(database_url: str, tmp_path: Path) -> None:
    before = dt.datetime.now().astimezone()
    app, _ = _seed_app(database_url, tmp_path)
    response = app.test_client().get("/telemetry/data")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    data = json_of(response)
    after = dt.datetime.now().astimezone()

    # Values read from the live environment: checked against what it really is.
    assert str(uuid.UUID(data["installation"], version=4)) == data["installation"]
    internals = data["product"]["internals"]
    assert internals.pop("database") == _live_database(database_url)
    assert internals.pop("application-server") is None  # the test client is no WSGI server
    assert internals.pop("jdk") == {"version": platform.python_version(), "vendor": platform.python_implementation()}
    start = internals.pop("data-collection-start-date")
    assert CAMUNDA_DATE.fullmatch(start), start
    assert before - dt.timedelta(seconds=1) <= dt.datetime.strptime(start, "%Y-%m-%dT%H:%M:%S.%f%z") <= after

    expected = json.loads(json.dumps(SEED))
    expected_internals = expected["product"]["internals"]
    for key in ("database", "application-server", "jdk"):
        del expected_internals[key]
    del expected["installation"], data["installation"]
    # Sets in Camunda (integrations, webapps) have no order: compare as sets, then the rest exactly.
    for key in ("camunda-integration", "webapps"):
        assert sorted(internals.pop(key)) == sorted(expected_internals.pop(key))
    assert data == expected


def test_every_key_of_the_seed_is_present_with_the_seeds_types(database_url: str, tmp_path: Path) -> None:
    app, _ = _seed_app(database_url, tmp_path)
    data = read(app.test_client())

    def shape(value: object) -> Any:
        if isinstance(value, dict):
            return {k: shape(v) for k, v in value.items()}
        if isinstance(value, list):
            return [shape(v) for v in value[:1]]
        return type(value).__name__

    got, want = shape(data), shape(SEED)
    got["product"]["internals"].pop("data-collection-start-date")  # newer than the seed
    got["product"]["internals"]["application-server"] = want["product"]["internals"]["application-server"]
    assert got == want


def test_absent_values_are_null_not_dropped(tmp_path: Path) -> None:
    app = Flask("bare", instance_path=str(tmp_path / "instance"))
    TelemetryExt(app)
    raw = app.test_client().get("/telemetry/data").get_data(as_text=True)
    internals = json.loads(raw)["product"]["internals"]
    assert internals["license-key"] is None
    assert internals["application-server"] is None
    assert internals["commands"] == {}
    assert internals["camunda-integration"] == [] and internals["webapps"] == []
    assert '"license-key":null' in raw
    # Camunda's key order: installation, product; name, version, edition, internals; ...
    assert list(json.loads(raw)) == ["installation", "product"]
    assert list(internals) == [
        "database", "application-server", "license-key", "camunda-integration",
        "data-collection-start-date", "commands", "metrics", "webapps", "jdk",
    ]
    assert list(internals["jdk"]) == ["version", "vendor"]
