"""flask-smorest: views count under their class or endpoint names; openapi.json, Swagger UI,
ReDoc and RapiDoc do not count (tests/test_frameworks.py runs this file)."""

from collections.abc import Callable, Mapping
from typing import Any

import marshmallow as ma
from flask import Flask
from flask.views import MethodView
from flask_smorest import Api, Blueprint

from flask_camunda_telemetry import TelemetryExt


def smorest_command_name(endpoint: str, view: Callable[..., Any] | None) -> str | None:
    """flask-smorest's documentation routes (``openapi.json``, Swagger UI, ReDoc, RapiDoc) are
    methods of its ``Api``: not commands. Everything else keeps the extension's name."""
    if isinstance(getattr(view, "__self__", None), Api):
        return None
    return TelemetryExt.default_command_name(endpoint, view)


class InstanceSchema(ma.Schema):
    id = ma.fields.String()


def create_app(config: Mapping[str, Any]) -> Flask:
    app = Flask(__name__)
    app.config.update(
        API_TITLE="Engine", API_VERSION="1", OPENAPI_VERSION="3.0.3", OPENAPI_URL_PREFIX="/docs",
        OPENAPI_SWAGGER_UI_PATH="/swagger-ui", OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
        OPENAPI_REDOC_PATH="/redoc", OPENAPI_REDOC_URL="https://cdn.jsdelivr.net/npm/redoc/bundles/redoc.standalone.js",
    )  # fmt: skip
    app.config.update(config)
    api = Api(app)
    engine = Blueprint("engine", __name__)

    @engine.route("/process-instance")
    class QueryProcessInstancesCmd(MethodView):
        @engine.response(200, InstanceSchema(many=True))
        def get(self) -> list[dict[str, str]]:
            return []

    @engine.route("/process-instance/<instance_id>")
    @engine.response(200, InstanceSchema)
    def get_process_instance(instance_id: str) -> dict[str, str]:
        return {"id": instance_id}

    api.register_blueprint(engine)
    TelemetryExt(app, name_command=smorest_command_name)
    return app
