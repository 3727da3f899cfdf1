"""The example engine's REST API: process instances, external tasks, decisions.

State is kept in memory per process; the point is the telemetry each view produces.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from typing import Any

from flask import Blueprint, abort, request
from flask.views import MethodView

from flask_camunda_telemetry import TelemetryExt

__all__ = ["engine", "telemetry"]

telemetry = TelemetryExt()
engine = Blueprint("engine", __name__, url_prefix="/engine-rest")

_lock = threading.Lock()
_instances: dict[str, dict[str, Any]] = {}
_tasks: dict[str, dict[str, Any]] = {}
_ids = itertools.count(1)


def _json() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


@engine.post("/process-definition/key/<key>/start")
@telemetry.command("StartProcessInstanceCmd")
def start_process_instance(key: str) -> tuple[dict[str, Any], int]:
    body = _json()
    instance = {"id": str(uuid.uuid4()), "definitionKey": key, "variables": body.get("variables", {})}
    activities = int(body.get("activities", 3))
    with _lock:
        _instances[instance["id"]] = instance
        for _ in range(max(activities - 2, 0)):
            task_id = str(next(_ids))
            _tasks[task_id] = {"id": task_id, "processInstanceId": instance["id"], "topicName": key, "lockedBy": None}
    telemetry.mark_occurrence("root-process-instance-start")
    telemetry.mark_occurrence("activity-instance-start", max(activities, 1))
    return instance, 200


@engine.get("/process-instance/<instance_id>")
@telemetry.command("GetProcessInstanceCmd")
def get_process_instance(instance_id: str) -> dict[str, Any]:
    with _lock:
        instance = _instances.get(instance_id)
    if instance is None:
        abort(404)
    return instance


@engine.get("/process-instance")
def query_process_instances() -> list[dict[str, Any]]:
    """No explicit name: counted under its endpoint, ``engine_query_process_instances``."""
    with _lock:
        return list(_instances.values())


@telemetry.command("FetchExternalTasksCmd")
class FetchAndLock(MethodView):
    def post(self) -> list[dict[str, Any]]:
        body = _json()
        worker = str(body.get("workerId", "worker"))
        limit = int(body.get("maxTasks", 10))
        with _lock:
            free = [t for t in _tasks.values() if t["lockedBy"] is None][:limit]
            for task in free:
                task["lockedBy"] = worker
        return free


engine.add_url_rule("/external-task/fetchAndLock", view_func=FetchAndLock.as_view("fetch_and_lock"))


@engine.post("/external-task/<task_id>/complete")
@telemetry.command("CompleteExternalTaskCmd")
def complete_external_task(task_id: str) -> tuple[str, int]:
    with _lock:
        task = _tasks.pop(task_id, None)
    if task is None:
        abort(404)
    telemetry.mark_occurrence("activity-instance-start")
    return "", 204


@engine.post("/decision-definition/key/<key>/evaluate")
@telemetry.command("EvaluateDecisionCmd")
def evaluate_decision(key: str) -> list[dict[str, Any]]:
    variables = _json().get("variables", {})
    rules = max(len(variables), 1)
    telemetry.mark_occurrence("executed-decision-instances")
    telemetry.mark_occurrence("executed-decision-elements", rules)
    return [{"result": {"value": key, "type": "String"}}]
