"""A real Prometheus server scrapes the example engine under gunicorn with 4 workers.

Prometheus scrapes ``/telemetry/metrics`` every second, each scrape answered by whichever worker
takes it; in cluster scope every worker answers the totals of all of them, so the sum Prometheus
stores is the number of requests made, exactly, and stays so. Waits are bounded only as guards
against a hang.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from .support.processes import EXAMPLE_APP, Server, drive, flask_cli, serve, server_env, wait_for
from .support.prometheus_server import Prometheus, prometheus_server, promtool_check_metrics

METRICS_PATH = "/telemetry/metrics"
COMMANDS = "camunda_command_executions_total"
METRICS = "camunda_engine_metric_total"

#: (method, path) of the example engine -> the command it counts.
ROUTES = {
    ("POST", "/engine-rest/process-definition/key/invoice/start"): "StartProcessInstanceCmd",
    ("POST", "/engine-rest/external-task/fetchAndLock"): "FetchExternalTasksCmd",
    ("POST", "/engine-rest/decision-definition/key/approve/evaluate"): "EvaluateDecisionCmd",
    ("GET", "/engine-rest/process-instance"): "engine_query_process_instances",
    ("GET", "/engine-rest/process-instance/missing"): "GetProcessInstanceCmd",  # the view's 404
}


def traffic(per_route: dict[str, int]) -> list[tuple[str, str]]:
    """``per_route[command]`` requests to the route of each command."""
    by_command = {command: route for route, command in ROUTES.items()}
    return [by_command[command] for command, n in per_route.items() for _ in range(n)]


def expected_metrics(per_route: dict[str, int]) -> dict[str, float]:
    """What the example engine marks: a start marks one instance and 3 activities (no body),
    an evaluation one decision and one element."""
    starts = per_route.get("StartProcessInstanceCmd", 0)
    decisions = per_route.get("EvaluateDecisionCmd", 0)
    return {
        "root-process-instance-start": starts,
        "activity-instance-start": 3 * starts,
        "executed-decision-instances": decisions,
        "executed-decision-elements": decisions,
    }


@contextmanager
def scraped_engine(tmp_path: Path, database_url: str) -> Iterator[tuple[Server, Prometheus, dict[str, str]]]:
    """The example engine under gunicorn (4 workers, cluster scope), scraped by Prometheus."""
    env = server_env(database_url)
    with serve("gunicorn", env, tmp_path, app=EXAMPLE_APP) as server:
        target = f"127.0.0.1:{server.port}"
        with prometheus_server(tmp_path / "prometheus", [target], METRICS_PATH) as prometheus:
            yield server, prometheus, env


def send(server: Server, requests: list[tuple[str, str]]) -> None:
    wrong = [(request, reply.status) for request, reply, _ in drive(server, requests)
             if reply.status != (404 if request[1].endswith("/missing") else 200)]
    assert wrong == [], server.failure(f"requests failed: {wrong[:3]}")


def wait_for_sum(prometheus: Prometheus, wanted: float) -> None:
    seen: list[float | None] = []

    def reached() -> bool:
        seen.append(prometheus.value(f"sum({COMMANDS})"))
        return seen[-1] == wanted

    try:
        wait_for(reached, f"Prometheus to store sum({COMMANDS}) = {wanted}", deadline=60, pause=0.5)
    except AssertionError as exc:
        raise AssertionError(prometheus.failure(f"{exc}; the sums seen: {sorted(set(map(str, seen)))}")) from None


def scrapes(prometheus: Prometheus) -> float:
    return prometheus.value("sum(count_over_time(up[1h]))") or 0.0


def test_prometheus_stores_the_exact_sum_of_every_workers_commands(tmp_path: Path, database_url: str) -> None:
    per_route = {"StartProcessInstanceCmd": 23, "FetchExternalTasksCmd": 17, "EvaluateDecisionCmd": 11,
                 "engine_query_process_instances": 19, "GetProcessInstanceCmd": 7}
    n = sum(per_route.values())
    with scraped_engine(tmp_path, database_url) as (server, prometheus, _env):
        send(server, traffic(per_route))
        wait_for_sum(prometheus, n)

        # Scrapes go on, answered by any worker, and count nothing: the sum stays exact.
        seen = scrapes(prometheus)
        wait_for(lambda: scrapes(prometheus) >= seen + 3, "three more scrapes", deadline=60, pause=0.5)
        assert prometheus.value(f"sum({COMMANDS})") == n, prometheus.failure("the sum moved without requests")
        assert prometheus.by_label(COMMANDS, "command") == per_route
        assert prometheus.by_label(METRICS, "metric") == expected_metrics(per_route)
        targets = prometheus.api("targets")["activeTargets"]
        assert [t["health"] for t in targets] == ["up"], targets

        doc, _ = server.telemetry()
        (info,) = prometheus.query("camunda_telemetry_info")
        assert info["metric"]["installation"] == doc["installation"]
        assert info["metric"]["database"] == doc["product"]["internals"]["database"]["vendor"]
        assert info["metric"]["application_server"].startswith("gunicorn/")
        start = prometheus.value("camunda_telemetry_collection_start_timestamp_seconds")
        assert start is not None and start > 0

        # Every worker answers the same totals, in a format promtool finds nothing wrong with.
        with ThreadPoolExecutor(8) as pool:
            bodies = list(pool.map(lambda _: server.request("GET", METRICS_PATH).body, range(16)))
        totals = {
            frozenset(
                (sample.labels["command"], sample.value)
                for family in text_string_to_metric_families(body.decode())
                for sample in family.samples
                if sample.name == COMMANDS
            )
            for body in bodies
        }
        assert totals == {frozenset(per_route.items())}
        checked = promtool_check_metrics(bodies[0])
        assert (checked.returncode, checked.stdout + checked.stderr) == (0, "")
        assert server.errors() == []


def test_a_reset_is_read_by_prometheus_as_a_counter_reset(tmp_path: Path) -> None:
    before = {"StartProcessInstanceCmd": 12, "FetchExternalTasksCmd": 6}
    after = {"StartProcessInstanceCmd": 4, "FetchExternalTasksCmd": 2}
    with scraped_engine(tmp_path, f"sqlite:///{tmp_path / 'telemetry.sqlite'}") as (server, prometheus, env):
        send(server, traffic(before))
        wait_for_sum(prometheus, sum(before.values()))
        start_before = prometheus.value("camunda_telemetry_collection_start_timestamp_seconds")

        reset = flask_cli(env, "telemetry", "reset", "--yes", app=EXAMPLE_APP)
        assert reset.returncode == 0, reset.stderr
        send(server, traffic(after))
        wait_for_sum(prometheus, sum(after.values()))

        assert prometheus.by_label(COMMANDS, "command") == after
        assert prometheus.by_label(f"resets({COMMANDS}[1h])", "command") == dict.fromkeys(after, 1.0)
        start_after = prometheus.value("camunda_telemetry_collection_start_timestamp_seconds")
        assert start_before is not None and start_after is not None and start_after > start_before
