"""Connexion 3: each operation counts under the name of its function (``get_pet``), not its
Flask endpoint (``/api.pets_get_pet``); openapi.json and Swagger UI never reach Flask
(tests/test_frameworks.py runs this file)."""

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from connexion import FlaskApp
from connexion.apps.flask import FlaskOperation

from flask_camunda_telemetry import TelemetryExt


def operation_command_name(endpoint: str, view: Callable[..., Any] | None) -> str | None:
    """An operation of a Connexion API counts under its function's name, the last part of its
    operationId (``engine.get_process_instance`` counts as ``get_process_instance``); other
    views keep the extension's name."""
    if isinstance(view, FlaskOperation):
        return view.operation_id.rpartition(".")[2]
    return TelemetryExt.default_command_name(endpoint, view)


def create_app(specification: Path | dict[str, Any], config: Mapping[str, Any]) -> FlaskApp:
    app = FlaskApp(__name__)
    app.app.config.update(config)  # the Flask app inside
    app.add_api(specification, base_path="/engine-rest")
    TelemetryExt(app.app, name_command=operation_command_name)
    return app
