"""Async views (``pip install 'flask[async]'``): counted like any other view, nothing to configure
(tests/test_frameworks.py runs this file)."""

import asyncio
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask.views import MethodView

from flask_camunda_telemetry import TelemetryExt


def create_app(config: Mapping[str, Any]) -> Flask:
    app = Flask(__name__)
    app.config.update(config)
    telemetry = TelemetryExt(app)

    @app.post("/process-definition/key/<key>/start")
    @telemetry.command("StartProcessInstanceCmd")
    async def start(key: str) -> dict[str, str]:
        await asyncio.sleep(0)
        telemetry.mark_occurrence("root-process-instance-start")
        return {"key": key}

    class GetDeploymentsCmd(MethodView):
        async def get(self) -> list[str]:
            return []

    app.add_url_rule("/deployment", view_func=GetDeploymentsCmd.as_view("deployments"))

    @app.get("/process-instance")
    async def query_process_instances() -> list[str]:
        return []

    return app
