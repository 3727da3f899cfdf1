"""The WSGI app the process tests serve with gunicorn, waitress and ``flask run``.

``create_app()`` reads its settings from the environment, as a deployed app would:
``CAMUNDA_TELEMETRY_*`` (database URI, scope, flush interval, ...) and, for the tests only,
``SERVING_APP_STARTUP_COMMAND``: a command counted once while the app is created (so in the
gunicorn master with ``--preload``, before the workers are forked).

Every view answers ``{"pid": <worker pid>}`` and every response carries ``X-Worker-Pid``, so a
test knows which process answered, including ``/telemetry/data``.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Iterable

from flask import Flask, Response, abort
from flask.views import MethodView

from flask_camunda_telemetry import TelemetryExt

__all__ = ["ALL_METRICS", "METRICS", "PID_HEADER", "ROUTES", "create_app", "expected_counts", "mixed_traffic"]

#: (method, path) -> the command name the request counts.
ROUTES: dict[tuple[str, str], str] = {
    ("POST", "/engine-rest/process-definition/key/invoice/start"): "StartProcessInstanceCmd",
    ("POST", "/engine-rest/external-task/fetchAndLock"): "FetchExternalTasksCmd",
    ("GET", "/engine-rest/deployment"): "GetDeploymentsCmd",
    ("GET", "/engine-rest/process-instance"): "query_process_instances",
    ("GET", "/engine-rest/process-instance/missing"): "GetProcessInstanceCmd",  # a 404 from the view
}
#: (method, path) -> {internal metric name: occurrences} the request marks.
METRICS: dict[tuple[str, str], dict[str, int]] = {
    ("POST", "/engine-rest/process-definition/key/invoice/start"): {
        "root-process-instance-start": 1,
        "activity-instance-start": 3,
    },
}

PID_HEADER = "X-Worker-Pid"
#: Every metric the document lists (with 0 when nothing was marked).
ALL_METRICS = (
    "root-process-instance-start",
    "activity-instance-start",
    "executed-decision-instances",
    "executed-decision-elements",
)


def mixed_traffic(per_route: int, seed: int = 7) -> list[tuple[str, str]]:
    """``per_route`` requests to each counted route, shuffled."""
    requests = [route for route in ROUTES for _ in range(per_route)]
    random.Random(seed).shuffle(requests)
    return requests


def expected_counts(requests: Iterable[tuple[str, str]]) -> tuple[dict[str, int], dict[str, int]]:
    """The commands and metrics the document must show for ``requests`` (and nothing else)."""
    commands: Counter[str] = Counter()
    metrics: Counter[str] = Counter(dict.fromkeys(ALL_METRICS, 0))
    for request in requests:
        commands[ROUTES[request]] += 1
        metrics.update(METRICS.get(request, {}))
    return dict(commands), dict(metrics)


def create_app() -> Flask:
    telemetry = TelemetryExt()
    app = Flask(__name__)
    app.config.update(CAMUNDA_TELEMETRY_PRODUCT_VERSION="7.22.0", CAMUNDA_TELEMETRY_URL_PREFIX=["", "/engine-rest"])
    for key, value in os.environ.items():
        if key.startswith("CAMUNDA_TELEMETRY_"):
            app.config[key] = value

    def pid() -> dict[str, int]:
        return {"pid": os.getpid()}

    @app.post("/engine-rest/process-definition/key/<key>/start")
    @telemetry.command("StartProcessInstanceCmd")
    def start(key: str) -> dict[str, int]:
        telemetry.mark_occurrence("root-process-instance-start")
        telemetry.mark_occurrence("activity-instance-start", 3)
        return pid()

    @telemetry.command("FetchExternalTasksCmd")
    class FetchAndLock(MethodView):
        def post(self) -> dict[str, int]:
            return pid()

    class GetDeploymentsCmd(MethodView):
        def get(self) -> dict[str, int]:
            return pid()

    app.add_url_rule("/engine-rest/external-task/fetchAndLock", view_func=FetchAndLock.as_view("fetch_and_lock"))
    app.add_url_rule("/engine-rest/deployment", view_func=GetDeploymentsCmd.as_view("deployments"))

    @app.get("/engine-rest/process-instance")
    def query_process_instances() -> dict[str, int]:
        return pid()

    @app.get("/engine-rest/process-instance/<instance_id>")
    @telemetry.command("GetProcessInstanceCmd")
    def get_process_instance(instance_id: str) -> dict[str, int]:
        if instance_id == "missing":
            abort(404)
        return pid()

    @app.after_request
    def tell_pid(response: Response) -> Response:
        response.headers[PID_HEADER] = str(os.getpid())
        return response

    telemetry.init_app(app)
    startup = os.environ.get("SERVING_APP_STARTUP_COMMAND")
    if startup:
        telemetry.count_command(startup, app=app)
    return app
