from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from flask_camunda_telemetry import TelemetryExt

from .databases import BACKENDS, fresh_database, selected_backend


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh empty database on the backend the suite runs on (CAMUNDA_TELEMETRY_TEST_DATABASE)."""
    with fresh_database(selected_backend(), tmp_path) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def any_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh empty database on each of SQLite, PostgreSQL and MariaDB in turn."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def app(tmp_path: Path, database_url: str) -> Flask:
    """A small engine-like app with the extension (pytest-flask's ``client`` uses it)."""
    app = Flask("engine", instance_path=str(tmp_path / "instance"))
    app.config.update(
        TESTING=True,
        CAMUNDA_TELEMETRY_DATABASE_URI=database_url,
        CAMUNDA_TELEMETRY_PRODUCT_VERSION="7.14.0",
    )
    return app


@pytest.fixture
def telemetry() -> TelemetryExt:
    return TelemetryExt()
