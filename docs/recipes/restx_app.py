"""Flask-RESTX: resources count under their class names; swagger.json, the Swagger UI page and
the API root do not count (tests/test_frameworks.py runs this file)."""

from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask
from flask_restx import Api, Resource
from flask_restx.api import SwaggerView

from flask_camunda_telemetry import TelemetryExt


def restx_command_name(endpoint: str, view: Callable[..., Any] | None) -> str | None:
    """Flask-RESTX's own routes are not commands: ``swagger.json`` (a ``SwaggerView``), the
    Swagger UI page and the API root (methods of the ``Api``); its UI files are static files,
    never counted. Everything else keeps the extension's name."""
    if getattr(view, "view_class", None) is SwaggerView or isinstance(getattr(view, "__self__", None), Api):
        return None
    return TelemetryExt.default_command_name(endpoint, view)


def create_app(config: Mapping[str, Any]) -> Flask:
    app = Flask(__name__)
    app.config.update(config)
    api = Api(app, doc="/docs")
    engine = api.namespace("process-instance")

    @engine.route("")
    class QueryProcessInstancesCmd(Resource):
        def get(self) -> list[str]:
            return []

    @engine.route("/<string:instance_id>")
    class GetProcessInstanceCmd(Resource):
        def get(self, instance_id: str) -> dict[str, str]:
            return {"id": instance_id}

    TelemetryExt(app, name_command=restx_command_name)
    return app
