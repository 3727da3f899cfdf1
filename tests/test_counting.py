"""Commands counted per view by the request hook; metrics marked by the API."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Blueprint, Flask
from flask.views import MethodView

from flask_camunda_telemetry import TelemetryExt, UnknownMetricError
from flask_camunda_telemetry.counting.counts import PendingCounts, since

from .support.apps import make_app
from .support.documents import counts, read


def _commands(app: Flask) -> dict[str, int]:
    return counts(read(app.test_client()))[0]


def test_one_count_per_request_routed_to_a_view(sqlite_app: Flask) -> None:
    client = sqlite_app.test_client()
    client.post("/process-definition/invoice/start")
    client.post("/process-definition/order/start")
    client.post("/external-task/fetchAndLock")
    client.get("/deployment")
    client.get("/process-instance")
    assert _commands(sqlite_app) == {
        "StartProcessInstanceCmd": 2,      # named with @telemetry.command
        "FetchExternalTasksCmd": 1,        # named on the view class
        "GetDeploymentsCmd": 1,            # class-based view: its class name
        "query_process_instances": 1,      # plain view: its endpoint
    }


def test_a_view_that_raises_is_counted(sqlite_app: Flask) -> None:
    sqlite_app.config["PROPAGATE_EXCEPTIONS"] = False
    client = sqlite_app.test_client()
    assert client.get("/fail").status_code == 500
    assert client.get("/process-instance/missing").status_code == 404  # abort() inside the view
    sqlite_app.config["PROPAGATE_EXCEPTIONS"] = True
    with pytest.raises(RuntimeError):
        client.get("/fail")
    assert _commands(sqlite_app) == {"fail": 2, "get_process_instance": 1}


def test_unrouted_requests_are_not_counted(sqlite_app: Flask) -> None:
    client = sqlite_app.test_client()
    assert client.get("/no/such/path").status_code == 404
    assert client.delete("/process-instance").status_code == 405
    assert client.get("/telemetry/data").status_code == 200  # the extension's own routes
    assert client.get("/telemetry/nothing-here").status_code == 404
    assert _commands(sqlite_app) == {}


def test_automatic_options_and_head_are_not_commands(sqlite_app: Flask) -> None:
    """A browser's CORS preflight (OPTIONS) and a HEAD on a GET route are answered by Flask
    itself (the view's body is dropped): neither is a command the app ran."""
    client = sqlite_app.test_client()
    preflight = {"Origin": "https://ui.example", "Access-Control-Request-Method": "POST"}
    assert client.options("/process-definition/invoice/start", headers=preflight).status_code == 200
    assert client.options("/external-task/fetchAndLock").status_code == 200
    assert client.head("/process-instance").status_code == 200
    assert client.head("/deployment").status_code == 200
    assert _commands(sqlite_app) == {}


def test_options_and_head_count_when_the_view_handles_them(tmp_path: Path) -> None:
    telemetry = TelemetryExt()
    app = Flask("host", instance_path=str(tmp_path))
    app.config["CAMUNDA_TELEMETRY_DATABASE_URI"] = f"sqlite:///{tmp_path / 't.sqlite'}"

    @app.route("/cors", methods=["GET", "OPTIONS"], provide_automatic_options=False)
    def cors() -> str:
        return ""

    class Probe(MethodView):
        def get(self) -> str:
            return "full"

        def head(self) -> str:
            return ""

    app.add_url_rule("/probe", view_func=Probe.as_view("probe"))
    telemetry.init_app(app)
    client = app.test_client()
    client.options("/cors")
    client.head("/probe")
    client.get("/probe")
    assert _commands(app) == {"cors": 1, "Probe": 2}


def test_a_cors_preflight_is_never_a_command(tmp_path: Path) -> None:
    """An OPTIONS with Origin and Access-Control-Request-Method is a browser's CORS preflight,
    not a command, also when the view answers OPTIONS itself (flask-cors's ``@cross_origin()``
    turns Flask's automatic OPTIONS off); an OPTIONS without both headers still counts there."""
    app = Flask("host", instance_path=str(tmp_path))
    app.config["CAMUNDA_TELEMETRY_DATABASE_URI"] = f"sqlite:///{tmp_path / 't.sqlite'}"

    @app.route("/start", methods=["POST", "OPTIONS"], provide_automatic_options=False)
    def start() -> str:
        return ""

    TelemetryExt(app)
    client = app.test_client()
    preflight = {"Origin": "https://ui.example", "Access-Control-Request-Method": "POST"}
    assert client.options("/start", headers=preflight).status_code == 200
    client.post("/start", headers={"Origin": "https://ui.example"})
    client.options("/start", headers={"Origin": "https://ui.example"})  # no method asked: not a preflight
    client.options("/start", headers={"Access-Control-Request-Method": "POST"})  # no Origin: not one either
    assert _commands(app) == {"start": 3}


def test_user_chosen_path_parts_add_no_command_names(sqlite_app: Flask) -> None:
    client = sqlite_app.test_client()
    for i in range(500):
        client.get(f"/process-instance/{i}")
        client.get(f"/unknown/{i}")
        client.get(f"/telemetry/{i}")
    assert _commands(sqlite_app) == {"get_process_instance": 500}
    assert len(sqlite_app.extensions["camunda_telemetry"].counter.names) <= len(sqlite_app.view_functions)


def test_blueprint_endpoints_and_exclusions(tmp_path: Path) -> None:
    telemetry = TelemetryExt()
    app = Flask("host", instance_path=str(tmp_path), static_folder=str(tmp_path))
    (tmp_path / "x.txt").write_text("x")
    app.config.update(
        CAMUNDA_TELEMETRY_DATABASE_URI=f"sqlite:///{tmp_path / 't.sqlite'}",
        CAMUNDA_TELEMETRY_EXCLUDED_ENDPOINTS=["health"],
    )
    api = Blueprint("engine", __name__)
    api.add_url_rule("/task", "query_tasks", lambda: [])
    app.register_blueprint(api)
    app.add_url_rule("/health", "health", lambda: "ok")
    telemetry.init_app(app)
    client = app.test_client()
    client.get("/task")
    client.get("/health")
    client.get("/static/x.txt").close()
    assert _commands(app) == {"engine_query_tasks": 1}


def test_count_command_outside_a_request(sqlite_app: Flask) -> None:
    telemetry = TelemetryExt()
    # the extension object of sqlite_app is another one: state is found through the app
    with sqlite_app.app_context():
        telemetry.count_command("DeployCmd")
    telemetry.count_command("DeployCmd", 2, app=sqlite_app)
    assert _commands(sqlite_app) == {"DeployCmd": 3}
    with pytest.raises(ValueError, match="command name"):
        telemetry.count_command("", app=sqlite_app)
    with pytest.raises(ValueError, match="positive integer"):
        telemetry.count_command("X", 0, app=sqlite_app)


def test_command_decorator_rejects_a_bad_name() -> None:
    with pytest.raises(ValueError, match="command name"):
        TelemetryExt().command("bad\nname")


def test_metrics_are_present_at_zero_and_marked_by_name(sqlite_app: Flask) -> None:
    telemetry = TelemetryExt()
    client = sqlite_app.test_client()
    metrics = read(client)["product"]["internals"]["metrics"]
    assert metrics == {
        "root-process-instance-start": {"count": 0},
        "activity-instance-start": {"count": 0},
        "executed-decision-instances": {"count": 0},
        "executed-decision-elements": {"count": 0},
    }
    telemetry.mark_occurrence("root-process-instance-start", app=sqlite_app)
    telemetry.mark_occurrence("flow-node-instances", 7, app=sqlite_app)  # the public name works too
    metrics = read(client)["product"]["internals"]["metrics"]
    assert metrics["root-process-instance-start"] == {"count": 1}
    assert metrics["activity-instance-start"] == {"count": 7}


def test_unknown_metric_is_a_clear_error(sqlite_app: Flask) -> None:
    with pytest.raises(UnknownMetricError, match=r"Unknown metric 'process-starts'.*root-process-instance-start"):
        TelemetryExt().mark_occurrence("process-starts", app=sqlite_app)


def test_public_metric_names_option(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path, CAMUNDA_TELEMETRY_METRIC_NAMES="public")
    TelemetryExt().mark_occurrence("executed-decision-instances", 3, app=app)
    metrics = read(app.test_client())["product"]["internals"]["metrics"]
    assert metrics == {
        "process-instances": {"count": 0},
        "flow-node-instances": {"count": 0},
        "decision-instances": {"count": 3},
        "executed-decision-elements": {"count": 0},
    }


def test_counts_are_exact_under_concurrency(database_url: str, tmp_path: Path) -> None:
    """8 threads, 4,000 requests over four views; every count must be exact."""
    app = make_app(database_url, tmp_path / "instance", CAMUNDA_TELEMETRY_FLUSH_INTERVAL=0.05)
    routes = [
        ("post", "/process-definition/a/start", "StartProcessInstanceCmd"),
        ("post", "/external-task/fetchAndLock", "FetchExternalTasksCmd"),
        ("get", "/process-instance", "query_process_instances"),
        ("get", "/deployment", "GetDeploymentsCmd"),
    ]
    sent: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker(seed: int) -> None:
        client = app.test_client()
        mine: Counter[str] = Counter()
        start.wait()
        for i in range(500):
            method, path, name = routes[(seed + i * (seed + 1)) % len(routes)]
            assert getattr(client, method)(path).status_code == 200
            mine[name] += 1
        with lock:
            sent.update(mine)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(sent.values()) == 4000
    assert _commands(app) == dict(sent)


def test_counter_is_exact_under_contention() -> None:
    counter = PendingCounts()
    flushed: Counter[str] = Counter()

    def add() -> None:
        for i in range(20_000):
            counter.add(f"c{i % 7}")

    def flush() -> None:
        for _ in range(200):
            flushed.update(since(counter.take()))

    threads = [threading.Thread(target=add) for _ in range(8)] + [threading.Thread(target=flush)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    flushed.update(since(counter.take()))
    assert sum(flushed.values()) == 160_000
    assert flushed == Counter({f"c{i}": 8 * len(range(i, 20_000, 7)) for i in range(7)})


def test_no_database_io_and_no_thread_start_on_the_request_path(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path)
    client = app.test_client()
    client.get("/telemetry/data")  # creates the engine, tables and id
    client.get("/process-instance")  # the first count in this process starts the flush thread
    engine = app.extensions["camunda_telemetry"].store.engine
    statements: list[str] = []
    request_thread = threading.get_ident()  # the test client serves requests in this thread

    def record(*args: object) -> None:
        if threading.get_ident() == request_thread:  # the flush thread may write meanwhile
            statements.append(str(args[2]))

    sa.event.listen(engine, "before_cursor_execute", record)
    threads_before = {t.ident for t in threading.enumerate()}
    for _ in range(200):
        client.get("/process-instance")
        client.post("/process-definition/x/start")
    assert statements == []
    assert {t.ident for t in threading.enumerate()} <= threads_before
