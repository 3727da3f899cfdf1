"""The reporter thread: retries with one report id, survives every failure of the collector and
of the database, follows consent from its next tick, never sends at shutdown and waits at most
2 s for a report in flight. Real HTTP to the recorder, real databases."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_camunda_telemetry.state import get_state

from .support.apps import reporting_app
from .support.databases import selected_backends
from .support.recorder import Behaviour, Received, Recorder, recorder, report_totals
from .support.servers import DatabaseServer, private_server

#: The thread reports at once, then every second.
EVERY_SECOND: dict[str, Any] = {"CAMUNDA_TELEMETRY_REPORT_DELAY": 0, "CAMUNDA_TELEMETRY_REPORT_INTERVAL": 1}


@pytest.fixture
def rec() -> Iterator[Recorder]:
    with recorder() as running:
        yield running


def commands(doc: dict[str, Any]) -> dict[str, int]:
    return {name: entry["count"] for name, entry in doc["product"]["internals"]["commands"].items()}


def start(client: FlaskClient, n: int = 1) -> None:
    for _ in range(n):
        assert client.post("/process-definition/invoice/start").status_code == 200


def reporter_alive(app: Flask) -> bool:
    reporting = get_state(app).reporting
    assert reporting is not None
    return reporting.thread.alive


def wait_until(condition: Any, what: str, deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < end, f"gave up waiting for {what}"
        time.sleep(0.05)


def finished(received: list[Received], n: int) -> bool:
    return len(received) >= n and all(r.done.is_set() for r in received[:n])


def test_retries_send_the_same_body_under_one_id(tmp_path: Path, rec: Recorder) -> None:
    """Camunda's shouldMakeRetriesOnNonSuccessStatus, with backoff: 1 + REPORT_RETRIES attempts."""
    rec.behave(Behaviour("answer", 500))
    app = reporting_app(f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path, rec.url, CAMUNDA_TELEMETRY_REPORT_RETRIES=2,
                        CAMUNDA_TELEMETRY_REPORT_DELAY=0)
    client = app.test_client()
    start(client, 2)  # the first count starts the threads; the report is due at once

    attempts = rec.wait_for(lambda received: finished(received, 3), "three attempts")
    assert len({(a.body, a.report_id) for a in attempts[:3]}) == 1
    assert commands(attempts[0].json()) == {"StartProcessInstanceCmd": 2}
    assert commands(client.get("/telemetry/data").get_json()) == {"StartProcessInstanceCmd": 2}
    get_state(app).close()
    assert len(rec.received) == 3


def test_every_failure_of_the_collector_then_down_three_intervals_and_back(
    database_url: str, tmp_path: Path, rec: Recorder
) -> None:
    """Failures at successive ticks (500, 404, 301, hang, close, trickle), then nothing listening
    for three intervals: the thread lives on, and the first report that gets through carries
    every count, under the id every failed attempt had."""
    app = reporting_app(database_url, tmp_path, rec.url, CAMUNDA_TELEMETRY_REPORT_TIMEOUT=0.5, **EVERY_SECOND)
    client = app.test_client()
    reporting = get_state(app).reporting
    assert reporting is not None
    failures = [
        (Behaviour("answer", 500), "the collector answered 500"),
        (Behaviour("answer", 404), "the collector answered 404"),
        (Behaviour("answer", 301), "the collector answered 301"),
        (Behaviour("hang"), "timed out"),
        (Behaviour("close"), "connection closed without an answer"),
        (Behaviour("trickle", pause=0.3), "timed out"),
    ]
    seen: set[Any] = set()

    def failed(error: str, times: int = 1) -> None:
        """Wait until ``times`` more attempts ended with ``error``."""
        deadline, found = time.monotonic() + 60, 0
        while found < times:
            status = reporting.status()
            if status.last_at not in seen and status.last_error == error:
                seen.add(status.last_at)
                found += 1
            assert time.monotonic() < deadline, f"no attempt failed with {error!r}; last: {status}"
            time.sleep(0.05)

    rec.behave(failures[0][0])
    start(client)  # starts the threads
    for behaviour, error in failures:
        rec.behave(behaviour)
        start(client)
        failed(error)
    rec.down()
    failed("connection refused", times=3)
    rec.behave(Behaviour("answer", 202))
    rec.up()

    received = rec.wait_for(lambda received: any(r.delivered for r in received), "a report to get through")
    delivered = next(r for r in received if r.delivered)
    assert {r.report_id for r in received} == {received[0].report_id}
    assert commands(delivered.json()) == {"StartProcessInstanceCmd": 7}
    wait_until(lambda: reporting.status().last_status == 202, "the report to be recorded")
    assert commands(client.get("/telemetry/data").get_json()) == {}
    assert reporter_alive(app)


def test_consent_withdrawn_stops_every_report_from_the_next_tick(
    database_url: str, tmp_path: Path, rec: Recorder
) -> None:
    app = reporting_app(database_url, tmp_path, rec.url, **EVERY_SECOND)
    client = app.test_client()
    start(client)
    rec.wait_for(lambda received: len(received) >= 2, "two reports")
    assert client.post("/telemetry/configuration", json={"enableTelemetry": False}).status_code == 204
    after_withdrawal = len(rec.received)
    start(client, 3)
    time.sleep(3.5)  # three more ticks: a report in flight may end, none may start
    assert len(rec.received) <= after_withdrawal + 1
    assert reporter_alive(app)
    assert get_state(app).reporting.status().next_due is None  # type: ignore[union-attr]


def test_shutdown_waits_at_most_two_seconds_and_sends_nothing(tmp_path: Path, rec: Recorder) -> None:
    rec.behave(Behaviour("hang"))
    app = reporting_app(f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path, rec.url, CAMUNDA_TELEMETRY_REPORT_TIMEOUT=30,
                        CAMUNDA_TELEMETRY_REPORT_DELAY=0)
    client = app.test_client()
    start(client)
    rec.wait_for(lambda received: len(received) == 1, "the report in flight")
    start(client, 2)

    began = time.monotonic()
    get_state(app).close()
    waited = time.monotonic() - began

    assert waited < 2 + 3  # 2 s for the report in flight (+ slack for a busy machine), never its 60 s
    assert len(rec.received) == 1  # nothing sent at shutdown
    # The report in flight was never confirmed: everything is still in the document.
    assert commands(client.get("/telemetry/data").get_json()) == {"StartProcessInstanceCmd": 3}


def test_process_scope_each_process_reports_its_own_counts(tmp_path: Path, rec: Recorder) -> None:
    url = f"sqlite:///{tmp_path / 't.sqlite'}"
    apps = [reporting_app(url, tmp_path / f"p{i}", rec.url, CAMUNDA_TELEMETRY_SCOPE="process") for i in (1, 2)]
    for n, app in enumerate(apps, start=1):
        start(app.test_client(), n)
    results = [get_state(app).reporting.report_now() for app in apps]  # type: ignore[union-attr]

    assert all(result.confirmed for result in results)
    first, second = rec.received
    assert commands(first.json()) == {"StartProcessInstanceCmd": 1}
    assert commands(second.json()) == {"StartProcessInstanceCmd": 2}
    assert first.json()["installation"] == second.json()["installation"]
    assert first.report_id != second.report_id  # reports of two processes never collide
    assert report_totals(rec.received)[0] == {"StartProcessInstanceCmd": 3}


def test_logs_info_on_success_warning_on_failure_and_the_body_only_at_debug(
    tmp_path: Path, rec: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    app = reporting_app(f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path, rec.url + "?token=do-not-log-it",
                        CAMUNDA_TELEMETRY_REPORT_HEADERS={"Authorization": "Bearer do-not-log-me"})
    start(app.test_client())
    reporting = get_state(app).reporting
    assert reporting is not None
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, "flask_camunda_telemetry"):
        rec.behave(Behaviour("answer", 503))
        reporting.report_now()
        rec.behave(Behaviour("answer", 202))
        reporting.report_now()

    records = [r for r in caplog.records if r.name == "flask_camunda_telemetry"]
    levels = {r.levelname for r in records if "StartProcessInstanceCmd" in r.getMessage()}
    assert levels == {"DEBUG"}
    assert any(r.levelname == "WARNING" and "503" in r.getMessage() for r in records)
    assert any(r.levelname == "INFO" and "sent to" in r.getMessage() for r in records)
    # neither the headers nor the URL's query, by any logger (urllib3's too)
    assert not any("do-not-log" in r.getMessage() for r in caplog.records)


@pytest.fixture(scope="module", params=[b for b in selected_backends() if b != "sqlite"][:1] or ["none"])
def private(request: pytest.FixtureRequest) -> Iterator[DatabaseServer]:
    if request.param == "none":
        pytest.skip("needs a database server backend")
    with private_server(request.param) as server:
        yield server


def test_the_thread_survives_the_database_going_down(
    private: DatabaseServer, tmp_path: Path, rec: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    private.start()
    url = private.create_database(f"ft_{uuid.uuid4().hex[:12]}")
    app = reporting_app(url, tmp_path, rec.url, **EVERY_SECOND)
    client = app.test_client()
    start(client)
    rec.wait_for(lambda received: len(received) >= 1, "a first report")

    with caplog.at_level(logging.WARNING, "flask_camunda_telemetry"):
        private.stop()
        start(client, 2)  # counted in memory meanwhile
        deadline = time.monotonic() + 60
        while "telemetry reporting failed" not in caplog.text:
            assert time.monotonic() < deadline, "no warning about the outage"
            time.sleep(0.1)
        private.start()
        seen = len(rec.received)
        rec.wait_for(lambda received: any(r.delivered for r in received[seen:]), "a report after the outage")

    assert reporter_alive(app)
    wait_until(lambda: commands(client.get("/telemetry/data").get_json()) == {}, "every count reported")
    get_state(app).close()
    assert report_totals(rec.received)[0] == {"StartProcessInstanceCmd": 3}
