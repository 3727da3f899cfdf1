"""The Flask extension pattern: init_app, per-app state, several apps, options, URL prefixes."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from flask_camunda_telemetry import (
    AlreadyInitializedError,
    ConfigurationError,
    NotInitializedError,
    TelemetryError,
    TelemetryExt,
)

from .support.apps import make_app
from .support.documents import json_of, read


def _sqlite(tmp_path: Path, name: str = "t") -> str:
    return f"sqlite:///{tmp_path / f'{name}.sqlite'}"


def test_constructor_with_app_serves_the_endpoint(tmp_path: Path) -> None:
    app = Flask("host", instance_path=str(tmp_path))
    app.config["CAMUNDA_TELEMETRY_DATABASE_URI"] = _sqlite(tmp_path)
    TelemetryExt(app)
    response = app.test_client().get("/telemetry/data")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert json_of(response)["product"]["name"] == "Camunda BPM Runtime"


def test_app_factory_form_keeps_state_in_app_extensions(tmp_path: Path) -> None:
    telemetry = TelemetryExt()
    app = Flask("host", instance_path=str(tmp_path))
    app.config["CAMUNDA_TELEMETRY_DATABASE_URI"] = _sqlite(tmp_path)
    telemetry.init_app(app)
    state = app.extensions["camunda_telemetry"]
    assert telemetry.state(app) is state
    assert not any(value is state for value in vars(telemetry).values())
    assert app.test_client().get("/telemetry/data").status_code == 200


def test_second_init_app_on_the_same_app_is_a_clear_error(tmp_path: Path) -> None:
    telemetry = TelemetryExt()
    app = Flask("host", instance_path=str(tmp_path))
    telemetry.init_app(app)
    with pytest.raises(AlreadyInitializedError, match="already initialized on app 'host'"):
        telemetry.init_app(app)
    with pytest.raises(AlreadyInitializedError):
        TelemetryExt(app)
    assert isinstance(AlreadyInitializedError("x"), TelemetryError)


def test_two_apps_in_one_process_each_get_their_own_data(tmp_path: Path) -> None:
    telemetry = TelemetryExt()
    first = make_app(_sqlite(tmp_path, "a"), tmp_path / "a", telemetry, CAMUNDA_TELEMETRY_PRODUCT_VERSION="7.14.0")
    second = make_app(
        _sqlite(tmp_path, "b"), tmp_path / "b", telemetry,
        CAMUNDA_TELEMETRY_PRODUCT_VERSION="7.20.0-ee", CAMUNDA_TELEMETRY_SCOPE="process",
    )
    one, two = first.test_client(), second.test_client()
    for _ in range(3):
        one.post("/process-definition/invoice/start")
    two.get("/process-instance")
    with first.app_context():
        telemetry.mark_occurrence("root-process-instance-start", 2)

    a = read(one)
    b = read(two)
    assert a["product"]["version"] == "7.14.0" and a["product"]["edition"] == "community"
    assert b["product"]["version"] == "7.20.0" and b["product"]["edition"] == "enterprise"
    assert a["product"]["internals"]["commands"] == {"StartProcessInstanceCmd": {"count": 3}}
    assert b["product"]["internals"]["commands"] == {"query_process_instances": {"count": 1}}
    assert a["product"]["internals"]["metrics"]["root-process-instance-start"] == {"count": 2}
    assert b["product"]["internals"]["metrics"]["root-process-instance-start"] == {"count": 0}
    assert a["installation"] != b["installation"]  # two databases, two installations


def test_using_an_app_without_init_app_says_what_to_do(tmp_path: Path) -> None:
    telemetry = TelemetryExt()
    app = Flask("lonely")
    with pytest.raises(NotInitializedError, match="did you forget to call init_app"):
        telemetry.count_command("X", app=app)
    with pytest.raises(NotInitializedError, match="app context"):
        telemetry.count_command("X")


def test_defaults_are_set_in_app_config_with_setdefault(tmp_path: Path) -> None:
    app = Flask("host", instance_path=str(tmp_path))
    app.config["CAMUNDA_TELEMETRY_PRODUCT_NAME"] = "My Engine"
    TelemetryExt(app)
    assert app.config["CAMUNDA_TELEMETRY_PRODUCT_NAME"] == "My Engine"
    assert app.config["CAMUNDA_TELEMETRY_SCOPE"] == "cluster"
    assert app.config["CAMUNDA_TELEMETRY_URL_PREFIX"] == ""
    assert app.config["CAMUNDA_TELEMETRY_FLUSH_INTERVAL"] == 10.0
    assert app.config["CAMUNDA_TELEMETRY_LICENSE_KEY"] is None


def test_keyword_options_are_defaults_that_app_config_overrides(tmp_path: Path) -> None:
    app = Flask("host", instance_path=str(tmp_path))
    app.config["CAMUNDA_TELEMETRY_PRODUCT_VERSION"] = "7.18.0"
    TelemetryExt(app, scope="process", product_version="7.99.0")
    assert app.config["CAMUNDA_TELEMETRY_SCOPE"] == "process"
    assert app.config["CAMUNDA_TELEMETRY_PRODUCT_VERSION"] == "7.18.0"


@pytest.mark.parametrize(
    ("prefix", "served", "not_served"),
    [
        ("", ["/telemetry/data"], ["/engine-rest/telemetry/data"]),
        ("/engine-rest", ["/engine-rest/telemetry/data"], ["/telemetry/data"]),
        (["", "/engine-rest"], ["/telemetry/data", "/engine-rest/telemetry/data"], ["/api/telemetry/data"]),
        (None, [], ["/telemetry/data"]),
    ],
)
def test_url_prefix_mounts_the_routes(tmp_path: Path, prefix: object, served: list[str], not_served: list[str]) -> None:
    app = Flask("host", instance_path=str(tmp_path))
    app.config.update(CAMUNDA_TELEMETRY_DATABASE_URI=_sqlite(tmp_path), CAMUNDA_TELEMETRY_URL_PREFIX=prefix)
    TelemetryExt(app)
    client = app.test_client()
    for path in served:
        assert client.get(path).status_code == 200, path
    for path in not_served:
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.mimetype == "text/html"  # the host's own 404, untouched


def test_init_app_does_not_touch_the_database(tmp_path: Path) -> None:
    app = Flask("host", instance_path=str(tmp_path / "instance"))
    TelemetryExt(app)
    assert not (tmp_path / "instance").exists()  # the default SQLite file is made on first use
    assert app.test_client().get("/telemetry/data").status_code == 200
    assert (tmp_path / "instance" / "camunda_telemetry.sqlite").exists()


def test_relative_sqlite_path_is_in_the_instance_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = Flask("host", instance_path=str(tmp_path / "instance"))
    app.config["CAMUNDA_TELEMETRY_DATABASE_URI"] = "sqlite:///engine.sqlite"
    TelemetryExt(app)
    assert app.test_client().get("/telemetry/data").status_code == 200
    assert (tmp_path / "instance" / "engine.sqlite").exists()
    assert not (tmp_path / "engine.sqlite").exists()


def test_bind_key_without_db_uses_that_bind(tmp_path: Path) -> None:
    app = Flask("host", instance_path=str(tmp_path / "instance"))
    app.config["SQLALCHEMY_BINDS"] = {"telemetry": {"url": f"sqlite:///{tmp_path / 'bind.sqlite'}"}}
    app.config["CAMUNDA_TELEMETRY_BIND_KEY"] = "telemetry"
    TelemetryExt(app)
    assert app.test_client().get("/telemetry/data").status_code == 200
    assert (tmp_path / "bind.sqlite").exists()
    other = Flask("host")
    other.config["CAMUNDA_TELEMETRY_BIND_KEY"] = "missing"
    with pytest.raises(ConfigurationError, match="CAMUNDA_TELEMETRY_BIND_KEY = 'missing'"):
        TelemetryExt(other)
