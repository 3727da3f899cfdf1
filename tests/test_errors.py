"""Every error from the extension's routes is JSON in Camunda's shape; the host's are untouched."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from flask import Flask

from flask_camunda_telemetry import TelemetryExt

from .support.apps import make_app
from .support.documents import json_of, read


def _camunda_error(response, status: int, type_: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = json_of(response)
    assert list(body)[:3] == ["type", "message", "code"]
    assert body["type"] == type_
    assert isinstance(body["message"], str) and body["message"]
    return body  # type: ignore[no-any-return]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_wrong_method_is_a_json_405_with_allow(sqlite_app: Flask, method: str) -> None:
    response = getattr(sqlite_app.test_client(), method)("/telemetry/data")
    _camunda_error(response, 405, "NotAllowedException")
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "OPTIONS"}


def test_options_and_head_are_answered(sqlite_app: Flask) -> None:
    client = sqlite_app.test_client()
    assert client.head("/telemetry/data").status_code == 200
    response = client.options("/telemetry/data")
    assert response.status_code == 200
    assert "GET" in response.headers["Allow"]


def test_unknown_sub_path_is_a_json_404(sqlite_app: Flask) -> None:
    for path in ("/telemetry/metrics", "/telemetry/data/extra"):
        body = _camunda_error(sqlite_app.test_client().get(path), 404, "NotFoundException")
        assert "/telemetry/data" in str(body["message"])
    _camunda_error(sqlite_app.test_client().get("/telemetry/static/missing.css"), 404, "NotFoundException")


def test_configuration_get_and_post(sqlite_app: Flask) -> None:
    client = sqlite_app.test_client()
    response = client.get("/telemetry/configuration")
    assert (response.status_code, json_of(response)) == (200, {"enableTelemetry": False})
    for value in (True, False):
        response = client.post("/telemetry/configuration", json={"enableTelemetry": value})
        assert (response.status_code, response.data) == (204, b"")
    assert read(client, "/telemetry/configuration") == {"enableTelemetry": False}  # nothing is ever sent
    _camunda_error(client.delete("/telemetry/configuration"), 405, "NotAllowedException")


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"null", b"[]", b"{}", b'{"enableTelemetry": null}', b'{"enableTelemetry": "true"}',
     b'{"enableTelemetry": 1}', b'{"other": true}', "\udcff".encode("utf-8", "surrogatepass")],
)
def test_bad_configuration_body_is_a_json_400(sqlite_app: Flask, body: bytes) -> None:
    response = sqlite_app.test_client().post(
        "/telemetry/configuration", data=body, content_type="application/json"
    )
    _camunda_error(response, 400, "InvalidRequestException")


def test_oversized_body_is_refused_without_reading_it_all(sqlite_app: Flask) -> None:
    body = b'{"enableTelemetry": true, "pad": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    response = sqlite_app.test_client().post("/telemetry/configuration", data=body, content_type="application/json")
    _camunda_error(response, 413, "InvalidRequestException")


def test_unexpected_failure_is_a_json_500_logged_not_shown(
    sqlite_app: Flask, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = sqlite_app.extensions["camunda_telemetry"]

    def broken() -> str:
        raise ZeroDivisionError("secret internal detail")

    monkeypatch.setattr(state.store, "installation_id", broken)
    with caplog.at_level(logging.ERROR, logger="flask_camunda_telemetry"):
        response = sqlite_app.test_client().get("/telemetry/data")
    body = _camunda_error(response, 500, "ProcessEngineException")
    assert "secret internal detail" not in response.get_data(as_text=True)
    assert "server log" in str(body["message"])
    assert any(record.exc_info and record.exc_info[0] is ZeroDivisionError for record in caplog.records)


def test_host_error_handlers_are_untouched(tmp_path: Path) -> None:
    app = Flask("host", instance_path=str(tmp_path))
    app.config["CAMUNDA_TELEMETRY_DATABASE_URI"] = f"sqlite:///{tmp_path / 't.sqlite'}"

    @app.errorhandler(404)
    def host_not_found(error: Exception) -> tuple[str, int]:
        return "host 404", 404

    @app.get("/broken")
    def broken() -> str:
        raise ValueError("host bug")

    TelemetryExt(app)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = app.test_client()
    assert client.get("/nothing").get_data(as_text=True) == "host 404"
    response = client.get("/broken")
    assert response.status_code == 500 and response.mimetype == "text/html"
    assert read(client, "/telemetry/nothing")["type"] == "NotFoundException"


def test_redacting_the_license(tmp_path: Path) -> None:
    app = make_app(
        f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path,
        CAMUNDA_TELEMETRY_LICENSE_KEY="customer=ACME;expiryDate=2030-01-01;camundaBPM=true",
        CAMUNDA_TELEMETRY_REDACT_LICENSE=True,
    )
    license_key = read(app.test_client())["product"]["internals"]["license-key"]
    assert license_key == {
        "customer": None, "type": "UNIFIED", "valid-until": "2030-01-01", "unlimited": False,
        "features": {"camundaBPM": "true"}, "raw": None,
    }


#: Methods Werkzeug has no rule for anywhere: it would answer them before any view runs.
ODD_METHODS = ["PROPFIND", "MKCOL", "LOCK", "BREW", "PUT"]


@pytest.fixture
def every_route_app(tmp_path: Path) -> Flask:
    """Every route of the extension mounted, under two prefixes, next to a host route of its own."""
    app = make_app(
        f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path,
        CAMUNDA_TELEMETRY_URL_PREFIX=["", "/engine-rest"],
        CAMUNDA_TELEMETRY_OPENAPI_URL="/openapi/telemetry.json",
        CAMUNDA_TELEMETRY_PROMETHEUS_URL="/telemetry/metrics",
    )
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


@pytest.mark.parametrize("method", ODD_METHODS)
@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/telemetry/data", {"GET", "HEAD", "OPTIONS"}),
        ("/engine-rest/telemetry/data", {"GET", "HEAD", "OPTIONS"}),
        ("/telemetry/configuration", {"GET", "HEAD", "POST", "OPTIONS"}),
        ("/engine-rest/telemetry/configuration", {"GET", "HEAD", "POST", "OPTIONS"}),
        ("/telemetry/", {"GET", "HEAD", "OPTIONS"}),
        ("/engine-rest/telemetry/", {"GET", "HEAD", "OPTIONS"}),
        ("/openapi/telemetry.json", {"GET", "HEAD", "OPTIONS"}),
        ("/telemetry/metrics", {"GET", "HEAD", "OPTIONS"}),
        ("/telemetry/static/telemetry.css", {"GET", "HEAD", "OPTIONS"}),
        ("/engine-rest/telemetry/static/telemetry.js", {"GET", "HEAD", "OPTIONS"}),
    ],
)
def test_any_method_on_any_route_of_the_extension_is_the_json_405_with_the_real_allow(
    every_route_app: Flask, method: str, path: str, allowed: set[str]
) -> None:
    response = every_route_app.test_client().open(path, method=method)
    _camunda_error(response, 405, "NotAllowedException")
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == allowed


@pytest.mark.parametrize("method", ODD_METHODS)
def test_any_method_on_an_unknown_sub_path_is_the_json_404(every_route_app: Flask, method: str) -> None:
    for path in ("/telemetry/nothing", "/engine-rest/telemetry/data/extra"):
        _camunda_error(every_route_app.test_client().open(path, method=method), 404, "NotFoundException")


@pytest.mark.parametrize("method", ODD_METHODS)
def test_the_host_routes_keep_their_own_405(every_route_app: Flask, method: str) -> None:
    @every_route_app.errorhandler(405)
    def host_not_allowed(error: Exception) -> tuple[str, int]:
        return "host 405", 405

    client = every_route_app.test_client()
    response = client.open("/process-instance", method=method)
    assert (response.status_code, response.get_data(as_text=True)) == (405, "host 405")
    assert client.open("/process-definition/x/start", method=method).get_data(as_text=True) == "host 405"


@pytest.mark.parametrize("method", ODD_METHODS)
def test_the_host_routes_keep_werkzeugs_405(every_route_app: Flask, method: str) -> None:
    response = every_route_app.test_client().open("/process-instance", method=method)
    assert (response.status_code, response.mimetype) == (405, "text/html")
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "OPTIONS"}


def test_the_routes_still_answer_their_own_methods(every_route_app: Flask) -> None:
    client = every_route_app.test_client()
    for path in ("/telemetry/data", "/engine-rest/telemetry/data", "/openapi/telemetry.json",
                 "/telemetry/metrics", "/telemetry/static/telemetry.css", "/telemetry/"):
        assert client.get(path).status_code == 200, path
        assert client.head(path).status_code == 200, path
        assert "GET" in client.options(path).headers["Allow"], path
    assert client.post("/telemetry/configuration", json={"enableTelemetry": True}).status_code == 204


@pytest.mark.parametrize(
    "body",
    [b"[" * 60_000, b"{\"a\":" * 12_000, b'{"enableTelemetry": true, "x": ' + b"[" * 2000 + b"]" * 2000 + b"}",
     b'{"enableTelemetry": true, "x": ' + b'{"a":' * 100 + b"1" + b"}" * 100 + b"}"],
)
def test_a_deeply_nested_configuration_body_is_a_json_400(
    sqlite_app: Flask, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="flask_camunda_telemetry"):
        response = sqlite_app.test_client().post(
            "/telemetry/configuration", data=body, content_type="application/json"
        )
    body_ = _camunda_error(response, 400, "InvalidRequestException")
    assert "nested" in str(body_["message"])
    assert not caplog.records  # a client's mistake, not an error of the server
