"""End to end: the example engine under gunicorn with 4 workers reports to the example collector
every second; after N requests and two intervals the collector's usage API shows exactly N, and
stays there (nothing counted twice) while the engine keeps reporting."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

from .support.processes import Server, drive, serve, server_env, wait_for
from .support.reports import get_json

#: (method, path) -> (command, {metric: occurrences}) of the example engine's routes.
ROUTES: dict[tuple[str, str], tuple[str, dict[str, int]]] = {
    ("POST", "/engine-rest/process-definition/key/invoice/start"): (
        "StartProcessInstanceCmd", {"root-process-instance-start": 1, "activity-instance-start": 3}),
    ("GET", "/engine-rest/process-instance"): ("engine_query_process_instances", {}),
    ("POST", "/engine-rest/external-task/fetchAndLock"): ("FetchExternalTasksCmd", {}),
    ("POST", "/engine-rest/decision-definition/key/approve/evaluate"): (
        "EvaluateDecisionCmd", {"executed-decision-instances": 1, "executed-decision-elements": 1}),
}


def _usage(collector: Server) -> dict[str, Any]:
    reply = get_json(collector.port, "/collector/api/usage")
    assert reply.status == 200, collector.failure(f"usage: {reply.status} {reply.body!r}")
    return dict(reply.body)


def _reports(collector: Server) -> int:
    return sum(i["reports"] for i in get_json(collector.port, "/collector/api/installations").body)


def test_every_request_to_the_engine_arrives_exactly_once_at_the_collector(database_url: str, tmp_path: Path) -> None:
    collector_env = server_env(database_url, EXAMPLE_APP_INSTANCE_PATH=str(tmp_path / "collector"))
    with serve("werkzeug", collector_env, tmp_path, app="example_app.collector") as collector:
        engine_env = server_env(
            database_url, EXAMPLE_APP_INSTANCE_PATH=str(tmp_path / "engine"), initialize="true",
            report_url=f"http://127.0.0.1:{collector.port}/collector/pings", report_interval=1, report_delay=0,
            report_timeout=5,
        )
        with serve("gunicorn", engine_env, tmp_path, app="example_app:create_app") as engine:
            requests = [route for route in ROUTES for _ in range(60)]
            replies = drive(engine, requests, clients=8)
            assert all(reply.status == 200 for _, reply, _ in replies), engine.failure("a request failed")
            commands = Counter(ROUTES[route][0] for route in requests)
            metrics: Counter[str] = Counter()
            for route in requests:
                metrics.update(ROUTES[route][1])
            expected = {"commands": dict(commands), "metrics": dict(metrics)}
            wait_for(lambda: _usage(collector) == expected, "the collector to hold every request", deadline=60)
            reports = _reports(collector)
            time.sleep(2.5)  # two more intervals: more reports, no count twice
            assert _usage(collector) == expected
            assert _reports(collector) >= reports + 1, collector.failure("the engine stopped reporting")
            assert engine.errors() == [], engine.failure("errors in the engine's log")
        assert collector.errors() == [], collector.failure("errors in the collector's log")
    assert sum(commands.values()) == len(requests) == 240
