"""The OpenAPI description: generated from the schemas, exact, and fuzzed with schemathesis."""

from __future__ import annotations

import json
from pathlib import Path

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from example_app import create_app
from flask_camunda_telemetry.openapi import add_to_spec, build_spec

from .support.apps import make_app
from .support.documents import json_of
from .support.fuzz import schemathesis_run


def test_nested_objects_are_objects_and_absent_values_nullable() -> None:
    schemas = build_spec()["components"]["schemas"]
    internals = schemas["Internals"]["properties"]
    assert internals["database"] == {"$ref": "#/components/schemas/Database"}
    assert internals["jdk"] == {"$ref": "#/components/schemas/Jdk"}
    assert internals["application-server"]["anyOf"] == [
        {"$ref": "#/components/schemas/ApplicationServer"}, {"type": "null"},
    ]
    assert {"type": "null"} in internals["license-key"]["anyOf"]
    assert internals["commands"] == {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/Count"}}
    assert schemas["Database"]["properties"]["version"]["type"] == ["string", "null"]
    assert set(schemas["Internals"]["required"]) == set(internals)


def test_data_endpoint_is_not_deprecated_and_prefix_is_applied() -> None:
    paths = build_spec("/engine-rest")["paths"]
    assert set(paths) == {"/engine-rest/telemetry/data", "/engine-rest/telemetry/configuration"}
    assert not paths["/engine-rest/telemetry/data"]["get"].get("deprecated", False)


def test_flask_smorest_style_spec_can_take_the_routes() -> None:
    spec = APISpec("My engine", "1.0", "3.0.3", plugins=[MarshmallowPlugin()])
    spec.components.schema("Task", {"type": "object"})
    document = add_to_spec(spec, "/api").to_dict()
    assert "/api/telemetry/data" in document["paths"]
    assert {"Task", "TelemetryData"} <= set(document["components"]["schemas"])


def test_cli_exports_and_app_serves_the_same_description(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path, CAMUNDA_TELEMETRY_OPENAPI_URL="/openapi.json",
                   CAMUNDA_TELEMETRY_URL_PREFIX="/engine-rest")
    result = app.test_cli_runner().invoke(args=["telemetry", "openapi"])
    assert result.exit_code == 0, result.output
    served = app.test_client().get("/openapi.json")
    assert served.status_code == 200
    assert json.loads(result.output) == json_of(served) == build_spec("/engine-rest")


def test_schemathesis_finds_no_failure_against_the_running_example_app(tmp_path: Path) -> None:
    """schemathesis's CLI fuzzes the served example app from its own description, all checks on."""
    app = create_app({"CAMUNDA_TELEMETRY_DATABASE_URI": f"sqlite:///{tmp_path / 't.sqlite'}"})
    result = schemathesis_run(app, "/telemetry/openapi.json", tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "3 passed" in result.stdout or "passed" in result.stdout
