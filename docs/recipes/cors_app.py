"""flask-cors: nothing to configure; a CORS preflight is never a command, whether Flask answers
it (``CORS(app)``) or the view does (``@cross_origin()``) (tests/test_frameworks.py runs this file)."""

from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_cors import CORS, cross_origin

from flask_camunda_telemetry import TelemetryExt

UI = "https://ui.example"


def create_app(config: Mapping[str, Any]) -> Flask:
    app = Flask(__name__)
    app.config.update(config)
    CORS(app, resources={"/process-instance": {"origins": UI}})  # Flask answers the preflight
    telemetry = TelemetryExt(app)

    @app.get("/process-instance")
    def query_process_instances() -> list[str]:
        return []

    @app.post("/process-definition/key/<key>/start")
    @cross_origin(origins=UI)  # the view answers the preflight
    @telemetry.command("StartProcessInstanceCmd")
    def start(key: str) -> dict[str, str]:
        return {"key": key}

    return app
