"""The collector's own database waits are bounded by ``CAMUNDA_TELEMETRY_COLLECTOR_DB_TIMEOUT``:
with its tables locked by another connection, a report, the API and the dashboard answer a JSON
503 within the bound, and answer again once the lock is gone. ``prune`` and ``rebuild``, which
read every report, are bounded by their ``--timeout`` instead."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from flask_camunda_telemetry import ConfigurationError
from flask_camunda_telemetry.collector.state import get_collector_state

from .support.bounds import within
from .support.collector_app import make_collector_app
from .support.databases import locked
from .support.documents import json_of
from .support.reports import engine_report

TIMEOUT = 1.0
#: generous: the bound, the watchdog's grace and a slow machine; before the bound: 30 s and more
LIMIT = TIMEOUT + 5
TABLES = tuple(f"telemetry_collector_{name}" for name in ("report", "count", "installation", "usage", "declined"))


def test_every_route_answers_503_within_the_bound_while_the_tables_are_locked(
    database_url: str, tmp_path: Path
) -> None:
    app = make_collector_app(database_url, tmp_path, CAMUNDA_TELEMETRY_COLLECTOR_DB_TIMEOUT=TIMEOUT)
    client = app.test_client()
    report = engine_report(commands={"StartProcessInstanceCmd": 1})
    routes: list[tuple[str, str, Any]] = [
        ("POST", "/collector/pings", report), ("GET", "/collector/api/usage", None),
        ("GET", "/collector/api/installations", None), ("GET", "/collector/", None),
        ("GET", f"/collector/installations/{report['installation']}", None),
    ]
    for method, path, body in routes:  # tables made, one report stored
        assert client.open(path, method=method, json=body).status_code in (200, 202), path

    with locked(database_url, TABLES):
        for method, path, body in routes:
            response, elapsed = within(LIMIT, lambda: client.open(path, method=method, json=body))  # noqa: B023
            assert response.status_code == 503, (path, response.status_code, response.get_data(as_text=True)[:300])
            answer = json_of(response)
            assert answer["type"] == "ProcessEngineException" and response.headers["Retry-After"], answer
            assert elapsed < LIMIT
        time.sleep(TIMEOUT)  # what was in flight ends within the bound (and the watchdog's grace)

    for method, path, body in routes:  # recovered, without a restart
        assert client.open(path, method=method, json=body).status_code in (200, 202), path


def test_the_bound_is_named_when_it_is_reached(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    app = make_collector_app(url, tmp_path, CAMUNDA_TELEMETRY_COLLECTOR_DB_TIMEOUT=0.5)
    assert app.test_client().get("/collector/api/usage").status_code == 200
    with locked(url, TABLES):
        response = app.test_client().post("/collector/pings", json=engine_report())
    assert response.status_code == 503
    assert "CAMUNDA_TELEMETRY_COLLECTOR_DB_TIMEOUT" in json_of(response)["message"]


@pytest.mark.parametrize(("key", "value"), [("DB_TIMEOUT", 0.4), ("DB_TIMEOUT", 3601), ("DB_TIMEOUT", "soon"),
                                            ("RESEND_WINDOW", -1), ("RESEND_WINDOW", 604801), ("RESEND_WINDOW", 1.5)])
def test_the_timeout_and_the_resend_window_are_validated(tmp_path: Path, key: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=f"CAMUNDA_TELEMETRY_COLLECTOR_{key}"):
        make_collector_app(None, tmp_path, **{f"CAMUNDA_TELEMETRY_COLLECTOR_{key}": value})


def test_the_defaults_are_5_seconds_and_an_hour(tmp_path: Path) -> None:
    config = get_collector_state(make_collector_app(None, tmp_path)).config
    assert (config.db_timeout, config.resend_window) == (5.0, 3600)
    app = make_collector_app(None, tmp_path, CAMUNDA_TELEMETRY_COLLECTOR_DB_TIMEOUT="2.5")
    assert get_collector_state(app).store.lazy_engine.timeout == 2.5


def _locked_for(url: str, seconds: float) -> threading.Thread:
    """The tables locked by another connection, from now on for ``seconds``."""
    held = threading.Event()

    def hold() -> None:
        with locked(url, TABLES):
            held.set()
            time.sleep(seconds)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert held.wait(30), "the tables could not be locked"
    return thread


@pytest.mark.parametrize("command", [["rebuild"], ["prune", "--older-than", "400d"]])
def test_maintenance_waits_past_db_timeout_and_ends_within_its_own(
    database_url: str, tmp_path: Path, command: list[str]
) -> None:
    """On a big fleet prune and rebuild take longer than a request may (100,000 installations:
    minutes): a lock held past DB_TIMEOUT is waited out; one held past --timeout fails naming it."""
    app = make_collector_app(database_url, tmp_path, CAMUNDA_TELEMETRY_COLLECTOR_DB_TIMEOUT=0.5)
    assert app.test_client().post("/collector/pings", json=engine_report()).status_code == 202
    cli = app.test_cli_runner()
    holder = _locked_for(database_url, 1.5)
    result, _ = within(LIMIT + 30, lambda: cli.invoke(args=["telemetry-collector", *command]))
    holder.join()
    assert result.exit_code == 0, (result.output, result.exception)
    assert len(json_of(app.test_client().get("/collector/api/installations"))) == 1

    holder = _locked_for(database_url, 1.5)
    result, _ = within(LIMIT, lambda: cli.invoke(args=["telemetry-collector", *command, "--timeout", "0.5"]))
    holder.join()
    assert result.exit_code == 1, (result.output, result.exception)
    assert "--timeout" in result.output
