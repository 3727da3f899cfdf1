"""``DispatcherMiddleware``: each mounted app has the extension and counts its own commands; its
``/telemetry/data`` is under its prefix (tests/test_frameworks.py runs this file)."""

from collections.abc import Mapping
from typing import Any
from wsgiref.types import WSGIApplication

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from flask_camunda_telemetry import TelemetryExt

telemetry = TelemetryExt()  # one object serves every app; each app keeps its own state


def create_engine(config: Mapping[str, Any]) -> Flask:
    app = Flask(__name__)
    app.config.update(config)  # each engine its own CAMUNDA_TELEMETRY_DATABASE_URI

    @app.get("/process-instance")
    def query_process_instances() -> list[str]:
        return []

    telemetry.init_app(app)
    return app


def create_application(engines: Mapping[str, Mapping[str, Any]]) -> DispatcherMiddleware:
    """``engines``: mount prefix (``/engine-a``) -> that engine's config."""
    frontend = Flask(__name__)  # without the extension: its requests count nowhere

    @frontend.get("/")
    def home() -> str:
        return "home"

    mounts: dict[str, WSGIApplication] = {prefix: create_engine(config) for prefix, config in engines.items()}
    return DispatcherMiddleware(frontend, mounts)
