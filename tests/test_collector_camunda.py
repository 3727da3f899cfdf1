"""Camunda's own engines (7.14-7.21) can report to the collector, with the differences their
payloads had; and what this package's engine serves loads back into what it was."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from flask import Flask

from flask_camunda_telemetry.collector.state import get_collector_state

from .support.apps import make_app
from .support.collector_app import make_collector_app, stored_reports
from .support.documents import json_of
from .support.reports import CAMUNDA_VERSIONS, camunda_report, engine_report, gson_date, initial_message

PINGS = "/collector/pings"
INSTALLATION = "8a7c3f0e-5b1d-4c2e-9f3a-0d6b7e8f9a01"
START = dt.datetime(2024, 1, 7, 21, 12, 44, tzinfo=dt.UTC)
COMMANDS = {"StartProcessInstanceCmd": 40, "FetchExternalTasksCmd": 120, "IsTelemetryEnabledCmd": 1}
METRICS = {"root-process-instance-start": 40, "activity-instance-start": 160, "executed-decision-instances": 3,
           "executed-decision-elements": 9}


@pytest.fixture
def collector(tmp_path: Path) -> Flask:
    return make_collector_app(f"sqlite:///{tmp_path / 'c.sqlite'}", tmp_path)


def _minor(version: str) -> int:
    return int(version.split(".")[1])


@pytest.mark.parametrize("version", CAMUNDA_VERSIONS)
def test_a_camunda_engine_report_is_stored_as_it_was_meant(collector: Flask, version: str) -> None:
    report = camunda_report(version, INSTALLATION, COMMANDS, METRICS, START, unique_task_workers=6)
    response = collector.test_client().post(PINGS, json=report)  # no report id: Camunda sends none
    assert response.status_code == 202, json_of(response)
    usage = json_of(collector.test_client().get("/collector/api/usage"))
    assert usage["commands"] == COMMANDS
    expected = dict(METRICS)  # each metric once, under its internal name, though 7.17+ sent both names
    if version == "7.14.0":
        expected["unique-task-workers"] = 6
    assert usage["metrics"] == expected
    [row] = stored_reports(str(collector.config["CAMUNDA_TELEMETRY_COLLECTOR_DATABASE_URI"]))
    assert json.loads(row["document"]) == report  # as sent: Gson's date text, webapps absent before 7.15
    assert (row["product_version"], row["server_vendor"], row["runtime"]) == (
        version, "Apache Tomcat", "OpenJDK 17.0.2"
    )
    if _minor(version) >= 19:  # Gson wrote the start date without a zone: taken as UTC
        assert row["period_start"] == START.replace(tzinfo=None)
    else:
        assert row["period_start"] is None


@pytest.mark.parametrize("version", CAMUNDA_VERSIONS)
def test_a_resent_camunda_report_replaces_only_when_it_carries_a_start_date(collector: Flask, version: str) -> None:
    client = collector.test_client()
    for sent in (COMMANDS, {**COMMANDS, "StartProcessInstanceCmd": 41}):
        assert client.post(PINGS, json=camunda_report(version, INSTALLATION, sent, METRICS, START)).status_code == 202
    [installation] = json_of(client.get("/collector/api/installations"))
    started = json_of(client.get("/collector/api/usage"))["commands"]["StartProcessInstanceCmd"]
    if _minor(version) >= 19:
        assert (installation["reports"], started) == (1, 41)
    else:  # before 7.19 nothing tells a resend from the next day's report
        assert (installation["reports"], started) == (2, 81)


@pytest.mark.parametrize("jdk", [8, 11, 17, 21])
def test_gson_dates_of_every_jdk_are_read(collector: Flask, jdk: int) -> None:
    afternoon = dt.datetime(2024, 11, 30, 15, 53, 20, tzinfo=dt.UTC)
    report = camunda_report("7.21.0", INSTALLATION, COMMANDS, METRICS, afternoon, jdk=jdk)
    text = report["product"]["internals"]["data-collection-start-date"]
    assert text == gson_date(afternoon, jdk) and text.startswith("Nov 30, 2024")
    assert collector.test_client().post(PINGS, json=report).status_code == 202
    [row] = stored_reports(str(collector.config["CAMUNDA_TELEMETRY_COLLECTOR_DATABASE_URI"]))
    assert row["period_start"] == dt.datetime(2024, 11, 30, 15, 53, 20)


@pytest.mark.parametrize("version", ["7.14.0", "7.15.0", "7.16.0"])
def test_the_initial_message_of_7_14_to_7_16_is_stored_with_no_counts(collector: Flask, version: str) -> None:
    response = collector.test_client().post(PINGS, json=initial_message(version, INSTALLATION))
    assert response.status_code == 202, json_of(response)
    [installation] = json_of(collector.test_client().get("/collector/api/installations"))
    assert installation["product"] == {"name": "Camunda BPM Runtime", "version": version, "edition": "community"}
    assert json_of(collector.test_client().get("/collector/api/usage")) == {"commands": {}, "metrics": {}}


def test_every_camunda_version_into_one_database(database_url: str, tmp_path: Path) -> None:
    app = make_collector_app(database_url, tmp_path)
    for n, version in enumerate(CAMUNDA_VERSIONS):
        report = camunda_report(version, f"{INSTALLATION[:-2]}{n:02d}", COMMANDS, METRICS, START)
        assert app.test_client().post(PINGS, json=report).status_code == 202
    usage = json_of(app.test_client().get("/collector/api/usage"))
    assert usage["commands"] == {name: n * len(CAMUNDA_VERSIONS) for name, n in COMMANDS.items()}
    assert usage["metrics"] == {name: n * len(CAMUNDA_VERSIONS) for name, n in METRICS.items()}
    versions = json_of(app.test_client().get("/collector/api/usage?version=7.17.0"))
    assert versions["commands"] == COMMANDS


def test_what_the_engine_serves_loads_back_into_the_same_counts(tmp_path: Path, collector: Flask) -> None:
    """The document GET /telemetry/data returns, posted as it is, is stored with its counts."""
    engine = make_app(f"sqlite:///{tmp_path / 'engine.sqlite'}", tmp_path / "engine",
                      CAMUNDA_TELEMETRY_LICENSE_KEY="customer=<script>alert(1)</script>;expiryDate=2030-01-31")
    client = engine.test_client()
    for _ in range(3):
        client.post("/process-definition/invoice/start")
    client.post("/external-task/fetchAndLock")
    document = json_of(client.get("/telemetry/data"))
    assert collector.test_client().post(PINGS, json=document).status_code == 202
    usage = json_of(collector.test_client().get("/collector/api/usage"))
    assert usage["commands"] == {"StartProcessInstanceCmd": 3, "FetchExternalTasksCmd": 1}
    [row] = stored_reports(str(collector.config["CAMUNDA_TELEMETRY_COLLECTOR_DATABASE_URI"]))
    assert json.loads(row["document"]) == document
    start = document["product"]["internals"]["data-collection-start-date"]
    parsed = dt.datetime.strptime(start, "%Y-%m-%dT%H:%M:%S.%f%z")
    assert row["period_start"] == parsed.astimezone(dt.UTC).replace(tzinfo=None)
    with collector.app_context():
        assert get_collector_state().store.installation(document["installation"]) is not None


def test_our_reports_carry_both_metric_names_and_count_each_once(collector: Flask) -> None:
    report = engine_report(metrics=METRICS)
    assert "process-instances" in report["product"]["internals"]["metrics"]
    assert collector.test_client().post(PINGS, json=report).status_code == 202
    assert json_of(collector.test_client().get("/collector/api/usage"))["metrics"] == METRICS
