"""The authorize hook: 403 in Camunda's AuthorizationException shape, 401 where the hook says so."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, request

from flask_camunda_telemetry import TelemetryExt

from .support.apps import admin_by_header
from .support.documents import json_of


def _app(tmp_path: Path, telemetry: TelemetryExt) -> Flask:
    app = Flask("host", instance_path=str(tmp_path))
    app.config["CAMUNDA_TELEMETRY_DATABASE_URI"] = f"sqlite:///{tmp_path / 't.sqlite'}"
    telemetry.init_app(app)
    return app


def test_a_refusing_hook_answers_403_with_camundas_body(tmp_path: Path) -> None:
    app = _app(tmp_path, TelemetryExt(authorize=lambda: False))
    response = app.test_client().get("/telemetry/data")
    assert response.status_code == 403
    assert json_of(response) == {
        "type": "AuthorizationException",
        "message": "The user with id 'None' does not have one of the following permissions: "
        "'READ' permission on resource 'System'.",
        "code": 0,
        "userId": None,
        "permissionName": "READ",
        "resourceName": "System",
        "resourceId": "*",
        "missingAuthorizations": [{"permissionName": "READ", "resourceName": "System", "resourceId": "*"}],
    }
    assert "installation" not in response.get_data(as_text=True)


def test_denied_names_the_user_and_unauthenticated_is_401(tmp_path: Path) -> None:
    app = _app(tmp_path, TelemetryExt(authorize=admin_by_header))
    client = app.test_client()
    anonymous = client.get("/telemetry/data")
    assert anonymous.status_code == 401
    assert json_of(anonymous)["type"] == "AuthenticationException"
    assert "WWW-Authenticate" in anonymous.headers
    denied = client.get("/telemetry/data", headers={"X-User": "demo"})
    assert (denied.status_code, json_of(denied)["userId"]) == (403, "demo")
    assert "'demo'" in json_of(denied)["message"]
    allowed = client.get("/telemetry/data", headers={"X-User": "admin"})
    assert allowed.status_code == 200 and "installation" in json_of(allowed)


def test_decorator_form_also_after_init_app(tmp_path: Path) -> None:
    telemetry = TelemetryExt()
    app = _app(tmp_path, telemetry)
    client = app.test_client()
    assert client.get("/telemetry/data").status_code == 200  # open until a hook is set

    @telemetry.authorizer
    def token_required() -> bool:
        return request.headers.get("Authorization") == "Bearer s3cret"

    assert client.get("/telemetry/data").status_code == 403
    assert client.get("/telemetry/data", headers={"Authorization": "Bearer s3cret"}).status_code == 200
