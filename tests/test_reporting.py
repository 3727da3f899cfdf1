"""A report is the document plus what Camunda sent, with the headers a collector needs; a 2xx
subtracts exactly what was sent, anything else subtracts nothing. Real HTTP to a recorder on
127.0.0.1 (tests/support/recorder.py), on every database."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_camunda_telemetry import ReportRefusedError, TelemetryExt
from flask_camunda_telemetry.state import TelemetryState, get_state

from .support.apps import reporting_app
from .support.databases import execute
from .support.recorder import Behaviour, Recorder, recorder, report_totals

METRIC_KEYS = [
    "root-process-instance-start",
    "process-instances",
    "activity-instance-start",
    "flow-node-instances",
    "executed-decision-instances",
    "decision-instances",
    "executed-decision-elements",
]


@pytest.fixture
def rec() -> Any:
    with recorder() as running:
        yield running


def traffic(client: FlaskClient, starts: int = 2, fetches: int = 1) -> None:
    for _ in range(starts):
        assert client.post("/process-definition/invoice/start").status_code == 200
    for _ in range(fetches):
        assert client.post("/external-task/fetchAndLock").status_code == 200


def commands(doc: dict[str, Any]) -> dict[str, int]:
    return {name: entry["count"] for name, entry in doc["product"]["internals"]["commands"].items()}


def start_date(doc: dict[str, Any]) -> dt.datetime:
    return dt.datetime.strptime(doc["product"]["internals"]["data-collection-start-date"], "%Y-%m-%dT%H:%M:%S.%f%z")


def reporting(app: Flask) -> Any:
    state: TelemetryState = get_state(app)
    assert state.reporting is not None
    return state.reporting


def test_the_report_is_the_document_plus_what_camunda_sent(database_url: str, tmp_path: Path, rec: Recorder) -> None:
    ext = TelemetryExt()
    app = reporting_app(
        database_url, tmp_path, rec.url, ext, CAMUNDA_TELEMETRY_REPORT_HEADERS={"Authorization": "Bearer s3cret"}
    )
    client = app.test_client()
    traffic(client)
    ext.mark_occurrence("root-process-instance-start", 2, app=app)
    ext.mark_occurrence("flow-node-instances", 5, app=app)
    document = client.get("/telemetry/data").get_json()

    result = reporting(app).report_now()

    assert result.answer.status == 202 and result.confirmed
    (sent,) = rec.received
    body = sent.json()
    internals = body["product"]["internals"]
    # Everything GET answers, in its order and its date format, the metrics under both names,
    # then telemetry-enabled, last.
    assert {**body, "product": {**body["product"], "internals": None}} == {
        **document, "product": {**document["product"], "internals": None}
    }
    assert {k: v for k, v in internals.items() if k not in ("metrics", "telemetry-enabled")} == {
        k: v for k, v in document["product"]["internals"].items() if k != "metrics"
    }
    assert internals["metrics"] == dict(zip(METRIC_KEYS, [{"count": n} for n in (2, 2, 5, 5, 0, 0, 0)], strict=True))
    assert internals["telemetry-enabled"] is True
    assert list(internals) == [*document["product"]["internals"], "telemetry-enabled"]
    assert list(internals["metrics"]) == METRIC_KEYS
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["user-agent"].startswith("flask-camunda-telemetry/")
    assert sent.headers["authorization"] == "Bearer s3cret"
    assert uuid.UUID(sent.report_id)
    assert sent.path == "/collector/pings"


def test_a_success_subtracts_exactly_what_was_sent(database_url: str, tmp_path: Path, rec: Recorder) -> None:
    """Counts made while the report is in flight stay; the lifetime counts never go down; the
    start date moves to the send time."""
    ext = TelemetryExt()
    app = reporting_app(database_url, tmp_path, rec.url, ext, CAMUNDA_TELEMETRY_REPORT_TIMEOUT=20)
    client = app.test_client()
    traffic(client, starts=3, fetches=2)
    ext.mark_occurrence("process-instances", 3, app=app)
    before = client.get("/telemetry/data").get_json()
    rec.behave(Behaviour("hold"))
    sending = threading.Thread(target=reporting(app).report_now)
    sending.start()
    rec.wait_for(lambda received: len(received) == 1, "the report to arrive")
    traffic(client, starts=1, fetches=0)  # while the report is in flight
    ext.mark_occurrence("process-instances", 1, app=app)
    ext.flush(app=app)
    rec.behave(Behaviour("answer", 202))
    sending.join(30)

    after = client.get("/telemetry/data").get_json()
    assert commands(rec.received[0].json()) == {"StartProcessInstanceCmd": 3, "FetchExternalTasksCmd": 2}
    assert commands(after) == {"StartProcessInstanceCmd": 1}
    assert after["product"]["internals"]["metrics"]["root-process-instance-start"] == {"count": 1}
    assert start_date(after) > start_date(before)
    lifetime = get_state(app).lifetime()
    lifetime_commands, lifetime_metrics = lifetime.commands, lifetime.metrics
    assert lifetime_commands == {"StartProcessInstanceCmd": 4, "FetchExternalTasksCmd": 2}
    assert lifetime_metrics["root-process-instance-start"] == 4
    # What the collector holds plus what the document shows is everything counted.
    assert report_totals(rec.received)[0] == {"StartProcessInstanceCmd": 3, "FetchExternalTasksCmd": 2}


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [
        (Behaviour("answer", 500), "the collector answered 500"),
        (Behaviour("answer", 404), "the collector answered 404"),
        (Behaviour("answer", 301), "the collector answered 301"),
        (Behaviour("hang"), "timed out"),
        (Behaviour("close"), "connection closed without an answer"),
        (Behaviour("trickle", pause=0.4), "timed out"),
        (None, "connection refused"),
    ],
    ids=["500", "404", "301", "hang", "close", "trickle", "down"],
)
def test_a_failure_subtracts_nothing(
    tmp_path: Path, rec: Recorder, behaviour: Behaviour | None, error: str
) -> None:
    app = reporting_app(f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path, rec.url, CAMUNDA_TELEMETRY_REPORT_TIMEOUT=1)
    client = app.test_client()
    traffic(client)
    before = client.get("/telemetry/data").get_json()
    if behaviour is None:
        rec.down()
    else:
        rec.behave(behaviour)

    result = reporting(app).report_now()

    assert not result.answer.ok and not result.confirmed
    after = client.get("/telemetry/data").get_json()
    assert commands(after) == commands(before) == {"StartProcessInstanceCmd": 2, "FetchExternalTasksCmd": 1}
    assert after["product"]["internals"]["data-collection-start-date"] == (
        before["product"]["internals"]["data-collection-start-date"]
    )
    status = reporting(app).status()
    assert status.last_error is not None and status.last_error.startswith(error)
    assert len(rec.received) == (0 if behaviour is None else 1)  # a redirect is not followed


def test_the_next_report_after_a_failure_carries_everything_under_the_same_id(
    database_url: str, tmp_path: Path, rec: Recorder
) -> None:
    app = reporting_app(database_url, tmp_path, rec.url)
    client = app.test_client()
    traffic(client, starts=1, fetches=0)
    rec.behave(Behaviour("answer", 503))
    assert not reporting(app).report_now().confirmed
    traffic(client, starts=1, fetches=1)
    rec.behave(Behaviour("answer", 200))
    assert reporting(app).report_now().confirmed
    traffic(client, starts=1, fetches=0)
    assert reporting(app).report_now().confirmed

    first, resend, second = rec.received
    assert resend.report_id == first.report_id != second.report_id
    assert commands(resend.json()) == {"StartProcessInstanceCmd": 2, "FetchExternalTasksCmd": 1}
    assert commands(second.json()) == {"StartProcessInstanceCmd": 1}
    assert start_date(second.json()) > start_date(resend.json()) == start_date(first.json())
    assert report_totals(rec.received)[0] == {"StartProcessInstanceCmd": 3, "FetchExternalTasksCmd": 1}
    assert commands(client.get("/telemetry/data").get_json()) == {}


def test_an_invalid_document_is_not_sent(tmp_path: Path, rec: Recorder, caplog: pytest.LogCaptureFixture) -> None:
    """Camunda 7.15+'s check: the installation must be a UUID v4 (here Camunda's adopted one is not)."""
    url = f"sqlite:///{tmp_path / 't.sqlite'}"
    execute(
        url,
        "CREATE TABLE camunda_telemetry_property (NAME_ varchar(64) PRIMARY KEY, VALUE_ varchar(300), REV_ integer)",
        "INSERT INTO camunda_telemetry_property VALUES ('camunda.installation.id', 'legacy-id', 1)",
    )
    app = reporting_app(url, tmp_path, rec.url)
    client = app.test_client()
    traffic(client)
    before = client.get("/telemetry/data").get_json()

    with caplog.at_level(logging.WARNING, "flask_camunda_telemetry"), pytest.raises(ReportRefusedError):
        reporting(app).report_now()

    assert rec.received == []
    assert "installation 'legacy-id' is not a UUID v4" in caplog.text
    assert client.get("/telemetry/data").get_json() == before
    assert reporting(app).status().last_error == "invalid document, nothing sent"
