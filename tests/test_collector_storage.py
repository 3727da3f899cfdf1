"""Storage: one row per period (a resend replaces, never adds), summaries that always equal a
recomputation from the reports, pruning, init-db, the host's database, and concurrent senders."""

from __future__ import annotations

import datetime as dt
import random
import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_camunda_telemetry.collector import TelemetryCollector
from flask_camunda_telemetry.collector.state import get_collector_state

from .support.camunda import sent_report
from .support.collector_app import make_collector_app, stored_reports
from .support.databases import table_names
from .support.documents import json_of
from .support.processes import serve, server_env
from .support.reports import engine_report, get_json, post_report

PINGS = "/collector/pings"
START = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
TABLES = {"telemetry_collector_report", "telemetry_collector_count", "telemetry_collector_installation",
          "telemetry_collector_usage"}


def _post(app: Flask, report: dict[str, Any], report_id: str | None = None) -> dict[str, Any]:
    headers = {} if report_id is None else {"Telemetry-Report-Id": report_id}
    response = app.test_client().post(PINGS, json=report, headers=headers)
    assert response.status_code == 202, json_of(response)
    return dict(json_of(response))


def _usage(app: Flask, query: str = "") -> dict[str, Any]:
    return dict(json_of(app.test_client().get("/collector/api/usage" + query)))


def test_a_resent_report_replaces_the_stored_one(database_url: str, tmp_path: Path) -> None:
    app = make_collector_app(database_url, tmp_path)
    first = engine_report(commands={"StartProcessInstanceCmd": 5}, start=START)
    assert _post(app, first, "period-1") == {"installation": first["installation"], "replaced": False}
    resent = engine_report(first["installation"], {"StartProcessInstanceCmd": 7, "FetchExternalTasksCmd": 2},
                           {"root-process-instance-start": 7}, start=START)
    assert _post(app, resent, "period-1")["replaced"] is True
    [row] = stored_reports(database_url)
    assert row["rev"] == 2
    assert _usage(app) == {"commands": {"StartProcessInstanceCmd": 7, "FetchExternalTasksCmd": 2},
                           "metrics": {"root-process-instance-start": 7}}
    [installation] = json_of(app.test_client().get("/collector/api/installations"))
    assert installation["reports"] == 1


def test_reports_of_different_processes_of_one_installation_never_collide(database_url: str, tmp_path: Path) -> None:
    """Same installation and start date, different report ids: each process's report is kept."""
    app = make_collector_app(database_url, tmp_path)
    installation = engine_report()["installation"]
    for n, process in enumerate(["worker-1", "worker-2", "worker-3"], start=1):
        _post(app, engine_report(installation, {"FetchExternalTasksCmd": n}, start=START), f"{process}-period-1")
    assert len(stored_reports(database_url)) == 3
    assert _usage(app)["commands"] == {"FetchExternalTasksCmd": 6}


def test_an_installation_id_with_a_line_break_has_its_page(tmp_path: Path) -> None:
    app = make_collector_app(f"sqlite:///{tmp_path / 'c.sqlite'}", tmp_path)
    _post(app, engine_report("line\nbreak", {"A": 1}))
    page = app.test_client().get("/collector/installations/line%0Abreak")
    assert page.status_code == 200
    assert "line\nbreak" in page.get_data(as_text=True)


def test_without_a_report_id_the_start_date_identifies_the_period(database_url: str, tmp_path: Path) -> None:
    app = make_collector_app(database_url, tmp_path)
    installation = engine_report()["installation"]
    _post(app, engine_report(installation, {"A": 1}, start=START))
    assert _post(app, engine_report(installation, {"A": 4}, start=START))["replaced"] is True
    _post(app, engine_report(installation, {"A": 10}, start=START + dt.timedelta(days=1)))
    assert len(stored_reports(database_url)) == 2
    assert _usage(app)["commands"] == {"A": 14}


def test_without_a_report_id_or_a_start_date_the_same_document_within_the_window_is_one(
    database_url: str, tmp_path: Path
) -> None:
    """Camunda 7.14-7.18 send neither: the same document again within RESEND_WINDOW (a retry
    after a lost answer) replaces; after the window, or another document, is another report."""
    app = make_collector_app(database_url, tmp_path, CAMUNDA_TELEMETRY_COLLECTOR_RESEND_WINDOW="600")
    state = get_collector_state(app)
    same, other = _undated({"IsTelemetryEnabledCmd": 1}), _undated({"IsTelemetryEnabledCmd": 2})
    other["installation"] = same["installation"]
    first = dt.datetime(2025, 5, 1, 12, 0)
    for seconds, sent, replaced in [(0, same, False), (599, same, True), (601, same, False), (602, other, False)]:
        state.clock = lambda moment=first + dt.timedelta(seconds=seconds): moment  # type: ignore[misc]
        assert _post(app, sent)["replaced"] is replaced, seconds
    assert len(stored_reports(database_url)) == 3
    assert _usage(app)["commands"] == {"IsTelemetryEnabledCmd": 4}


def _undated(commands: dict[str, int]) -> dict[str, Any]:
    report = engine_report(commands=commands)
    del report["product"]["internals"]["data-collection-start-date"]
    return report


def test_a_resend_window_of_0_stores_every_report(tmp_path: Path) -> None:
    app = make_collector_app(f"sqlite:///{tmp_path / 'c.sqlite'}", tmp_path,
                             CAMUNDA_TELEMETRY_COLLECTOR_RESEND_WINDOW=0)
    report = _undated({"IsTelemetryEnabledCmd": 1})
    assert [_post(app, report)["replaced"] for _ in range(3)] == [False] * 3
    assert _usage(app)["commands"] == {"IsTelemetryEnabledCmd": 3}


def _summaries(app: Flask) -> tuple[Any, ...]:
    with app.app_context():
        store = get_collector_state(app).store
        epoch = dt.datetime(2000, 1, 1, 0, 0, 1)  # not a whole day: summed from the counts
        return (
            store.usage(),  # from the daily summary
            store.usage(since=epoch),  # from the counts of every report
            store.reports_per_day(epoch),  # from the daily summary
            {day: sum(store.reports_per_day(epoch, r.installation).get(day, 0) for r in store.installations())
             for day in store.reports_per_day(epoch)},  # from the reports
            {i: store.usage(installation=i) for i in sorted(r.installation for r in store.installations())},
            sorted(tuple(row) for row in store.installations()),
        )


def test_the_summaries_always_equal_a_recomputation_from_the_reports(database_url: str, tmp_path: Path) -> None:
    app = make_collector_app(database_url, tmp_path)
    state = get_collector_state(app)
    rng = random.Random(5)
    installations = [engine_report()["installation"] for _ in range(4)]
    now = dt.datetime(2025, 5, 1)
    for step in range(60):
        now += dt.timedelta(minutes=rng.randrange(1, 300))
        state.clock = lambda moment=now: moment  # type: ignore[misc]
        installation = rng.choice(installations)
        commands = {f"Cmd{rng.randrange(8)}": rng.randrange(0, 50) for _ in range(rng.randrange(0, 5))}
        metrics = {"activity-instance-start": rng.randrange(0, 9)}
        start = START + dt.timedelta(days=rng.randrange(6))  # repeats: some reports are resends
        version = rng.choice(["7.21.0", "7.22.0"])
        report = engine_report(installation, commands, metrics, start, version, edition=rng.choice(["community",
                                                                                                   "enterprise"]))
        _post(app, report, f"r{rng.randrange(3)}" if step % 3 else None)
    usage, recomputed, per_day, per_day_recomputed, per_installation, rows = _summaries(app)
    assert usage == recomputed
    assert per_day == per_day_recomputed
    with app.app_context():
        state.store.rebuild()
    assert _summaries(app) == (usage, recomputed, per_day, per_day_recomputed, per_installation, rows)
    assert sum(row[3] for row in rows) == len(stored_reports(database_url))


def test_prune_deletes_old_reports_and_the_summaries_follow(database_url: str, tmp_path: Path) -> None:
    app = make_collector_app(database_url, tmp_path)
    state = get_collector_state(app)
    gone, staying = engine_report()["installation"], engine_report()["installation"]
    now = dt.datetime(2026, 6, 1, 12, 0)
    for age, installation, n in [(500, gone, 1), (450, staying, 10), (10, staying, 100)]:
        state.clock = lambda moment=now - dt.timedelta(days=age): moment  # type: ignore[misc]
        _post(app, engine_report(installation, {"A": n}, start=START - dt.timedelta(days=age)))
    state.clock = lambda: now
    result = app.test_cli_runner().invoke(args=["telemetry-collector", "prune", "--older-than", "400d"])
    assert result.exit_code == 0, result.output
    assert "Deleted 2 report(s)" in result.output
    assert _usage(app)["commands"] == {"A": 100}
    [remaining] = json_of(app.test_client().get("/collector/api/installations"))
    assert (remaining["installation"], remaining["reports"]) == (staying, 1)
    assert remaining["first-report"] == remaining["last-report"] == "2026-05-22T12:00:00+00:00"
    bad = app.test_cli_runner().invoke(args=["telemetry-collector", "prune", "--older-than", "soon"])
    assert bad.exit_code != 0 and "400d" in bad.output


def test_init_db_creates_the_four_tables(database_url: str, tmp_path: Path) -> None:
    app = make_collector_app(database_url, tmp_path, CAMUNDA_TELEMETRY_COLLECTOR_CREATE_TABLES=False)
    assert not TABLES & table_names(database_url)
    result = app.test_cli_runner().invoke(args=["telemetry-collector", "init-db"])
    assert result.exit_code == 0, result.output
    assert TABLES <= table_names(database_url)
    again = app.test_cli_runner().invoke(args=["telemetry-collector", "init-db"])
    assert again.exit_code == 0, again.output


def test_on_the_hosts_database_the_tables_join_its_metadata(database_url: str, tmp_path: Path) -> None:
    app = Flask("host", instance_path=str(tmp_path))
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    db = SQLAlchemy(app)
    TelemetryCollector(app, db=db, create_tables=False)
    assert TABLES <= set(db.metadata.tables)
    with app.app_context():
        db.create_all()
    assert TABLES <= table_names(database_url)
    _post(app, engine_report(commands={"A": 2}))
    assert len(stored_reports(database_url)) == 1


def test_a_database_outage_is_a_503_the_sender_retries(tmp_path: Path) -> None:
    app = make_collector_app("postgresql+psycopg://postgres@127.0.0.1:1/none", tmp_path)
    response = app.test_client().post(PINGS, json=engine_report())
    assert response.status_code == 503
    assert json_of(response)["type"] == "ProcessEngineException"
    assert response.headers["Retry-After"]


def test_concurrent_posts_of_the_same_report_from_8_clients_leave_one(database_url: str, tmp_path: Path) -> None:
    """gunicorn with 4 workers; 8 clients released together post the same report, 5 rounds."""
    env = server_env(database_url, CAMUNDA_TELEMETRY_COLLECTOR_DATABASE_URI=database_url,
                     COLLECTOR_APP_INSTANCE_PATH=str(tmp_path))
    with serve("gunicorn", env, tmp_path, app="tests.support.collector_app:create_app") as server:
        installation = engine_report()["installation"]
        for round_ in range(5):
            report = engine_report(installation, {"StartProcessInstanceCmd": round_ + 1},
                                   start=START + dt.timedelta(days=round_))
            answers = _post_together(server.port, [report] * 8, {"Telemetry-Report-Id": "same"})
            assert answers == [202] * 8, server.failure(f"answers {answers}")
        assert server.errors() == [], server.failure("errors in the log")
    rows = stored_reports(database_url)
    assert len(rows) == 5
    assert {row["installation"] for row in rows} == {installation}
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            counts = conn.execute(sa.text("SELECT count(*), sum(value) FROM telemetry_collector_count")).one()
            summary = conn.execute(sa.text("SELECT reports FROM telemetry_collector_installation")).scalar_one()
    finally:
        engine.dispose()
    assert (counts[0], int(counts[1])) == (5, 1 + 2 + 3 + 4 + 5)
    assert summary == 5


def test_concurrent_reports_of_a_camunda_cluster_each_count_once(database_url: str, tmp_path: Path) -> None:
    """gunicorn with 4 workers; the 8 nodes of a Camunda 7.21 cluster whose start dates fall in one
    second post at once, then all resend at once: 8 reports, each counted once."""
    env = server_env(database_url, CAMUNDA_TELEMETRY_COLLECTOR_DATABASE_URI=database_url,
                     COLLECTOR_APP_INSTANCE_PATH=str(tmp_path))
    installation = engine_report()["installation"]
    nodes = [sent_report("7.21.0", installation, {"ExecuteJobsCmd": n + 1, f"Node{n}Cmd": 1}, {}, START)
             for n in range(8)]
    with serve("gunicorn", env, tmp_path, app="tests.support.collector_app:create_app") as server:
        for round_ in ("sent", "resent"):
            answers = _post_together(server.port, nodes, {})
            assert answers == [202] * 8, server.failure(f"{round_}: answers {answers}")
        assert server.errors() == [], server.failure("errors in the log")
        usage = get_json(server.port, f"/collector/api/usage?installation={installation}").body
    assert len(stored_reports(database_url)) == 8
    assert usage["commands"] == {"ExecuteJobsCmd": sum(range(1, 9)), **{f"Node{n}Cmd": 1 for n in range(8)}}


def _post_together(port: int, bodies: list[Any], headers: dict[str, str]) -> list[int]:
    """One thread per body, released at once, each posting its body with ``headers``."""
    barrier = threading.Barrier(len(bodies))
    answers: list[int] = []

    def send(body: Any) -> None:
        barrier.wait(timeout=30)
        answers.append(post_report(port, body, headers).status)

    threads = [threading.Thread(target=send, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers
