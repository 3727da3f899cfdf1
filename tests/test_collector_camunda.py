"""Camunda's own engines (7.14-7.21) reporting to the collector, with the bodies built from
Camunda's code (:mod:`.support.camunda`): each one counted exactly once, the nodes of a cluster
each counted, retries and resends not counted twice, and an owner who declined not counted at all;
and what this package's engine serves loads back into what it was."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from flask_camunda_telemetry.collector.state import get_collector_state

from .support.apps import make_app
from .support.camunda import CAMUNDA_VERSIONS, initial_message, sent_report
from .support.collector_app import make_collector_app, stored_reports
from .support.documents import json_of
from .support.gson import gson_date
from .support.reports import engine_report

PINGS = "/collector/pings"
INSTALLATION = "8a7c3f0e-5b1d-4c2e-9f3a-0d6b7e8f9a01"
START = dt.datetime(2024, 1, 7, 21, 12, 44)
COMMANDS = {"StartProcessInstanceCmd": 40, "FetchExternalTasksCmd": 120, "IsTelemetryEnabledCmd": 1}
METRICS = {"root-process-instance-start": 40, "activity-instance-start": 160, "executed-decision-instances": 3,
           "executed-decision-elements": 9}


@pytest.fixture
def collector(tmp_path: Path) -> Flask:
    return make_collector_app(f"sqlite:///{tmp_path / 'c.sqlite'}", tmp_path)


def _minor(version: str) -> int:
    return int(version.split(".")[1])


def _post(app: Flask, body: bytes, at: dt.datetime | None = None) -> dict[str, Any]:
    if at is not None:
        get_collector_state(app).clock = lambda: at
    response = app.test_client().post(PINGS, data=body, content_type="application/json")  # no report id header
    assert response.status_code == 202, json_of(response)
    return dict(json_of(response))


def _usage(app: Flask, installation: str | None = None) -> dict[str, Any]:
    query = "" if installation is None else f"?installation={installation}"
    return dict(json_of(app.test_client().get("/collector/api/usage" + query)))


@pytest.mark.parametrize("version", CAMUNDA_VERSIONS)
def test_a_camunda_engine_report_is_stored_as_it_was_meant(collector: Flask, version: str) -> None:
    body = sent_report(version, INSTALLATION, {**COMMANDS, "GetTelemetryDataCmd": 0}, METRICS, START,
                       unique_task_workers=6)
    _post(collector, body)
    usage = _usage(collector)
    assert usage["commands"] == COMMANDS  # the zero Camunda sends adds nothing
    expected = dict(METRICS)  # each metric once, under its internal name, though 7.17+ sent both names
    if version == "7.14.0":
        expected["unique-task-workers"] = 6
    assert usage["metrics"] == expected
    [row] = stored_reports(str(collector.config["CAMUNDA_TELEMETRY_COLLECTOR_DATABASE_URI"]))
    assert row["document"] == body.decode()  # as sent: Gson's text, escapes and all
    assert (row["product_version"], row["server_vendor"], row["runtime"]) == (
        version, "Apache Tomcat", "Eclipse Adoptium 17.0.2"
    )
    assert row["period_start"] == (START if _minor(version) >= 19 else None)  # Gson's text has no zone: UTC


@pytest.mark.parametrize("version", CAMUNDA_VERSIONS)
def test_a_retry_replaces_and_the_next_report_adds(collector: Flask, version: str) -> None:
    """A retry after a lost answer: 7.19+ resend the same start date with the same or grown
    counts; before 7.19 the same document. Both replace; anything else is a report of its own."""
    grown = {**COMMANDS, "StartProcessInstanceCmd": 41}
    _post(collector, sent_report(version, INSTALLATION, COMMANDS, METRICS, START))
    retry = sent_report(version, INSTALLATION, grown if _minor(version) >= 19 else COMMANDS, METRICS, START)
    assert _post(collector, retry)["replaced"] is True
    _post(collector, sent_report(version, INSTALLATION, grown, METRICS, START + dt.timedelta(days=1)))
    [installation] = json_of(collector.test_client().get("/collector/api/installations"))
    started = _usage(collector)["commands"]["StartProcessInstanceCmd"]
    assert (installation["reports"], started) == (2, 41 + 41 if _minor(version) >= 19 else 40 + 41)


@pytest.mark.parametrize("jdk", [8, 11, 17, 21])
def test_gson_dates_of_every_jdk_are_read(collector: Flask, jdk: int) -> None:
    afternoon = dt.datetime(2024, 11, 30, 15, 53, 20)
    body = sent_report("7.21.0", INSTALLATION, COMMANDS, METRICS, afternoon, jdk=jdk)
    text = json.loads(body)["product"]["internals"]["data-collection-start-date"]
    assert text == gson_date(afternoon, jdk) and text.startswith("Nov 30, 2024")
    _post(collector, body)
    [row] = stored_reports(str(collector.config["CAMUNDA_TELEMETRY_COLLECTOR_DATABASE_URI"]))
    assert row["period_start"] == afternoon


@pytest.mark.parametrize(("version", "consent"), [("7.14.0", None), ("7.15.0", False), ("7.16.0", None)])
def test_an_initial_message_without_consent_is_kept_apart(collector: Flask, version: str, consent: bool | None) -> None:
    answer = _post(collector, initial_message(version, INSTALLATION, consent))
    assert answer == {"installation": INSTALLATION, "declined": True}
    client = collector.test_client()
    assert json_of(client.get("/collector/api/installations")) == []
    assert _usage(collector) == {"commands": {}, "metrics": {}}
    assert stored_reports(str(collector.config["CAMUNDA_TELEMETRY_COLLECTOR_DATABASE_URI"])) == []
    with collector.app_context():
        assert get_collector_state(collector).store.fleet(dt.datetime(2000, 1, 1))[0] == 0
        assert get_collector_state(collector).store.declined() == (1, 1)
    assert "1 installation declined to report" in client.get("/collector/").get_data(as_text=True)


def test_an_initial_message_of_an_owner_who_agreed_lists_the_installation(collector: Flask) -> None:
    _post(collector, initial_message("7.15.0", INSTALLATION, True))
    [installation] = json_of(collector.test_client().get("/collector/api/installations"))
    assert installation["installation"] == INSTALLATION
    assert _usage(collector) == {"commands": {}, "metrics": {}}


def _sum(*counts: dict[str, int]) -> dict[str, int]:
    total: dict[str, int] = {}
    for each in counts:
        for name, n in each.items():
            total[name] = total.get(name, 0) + n
    return {name: n for name, n in total.items() if n}


def test_a_fleet_of_camunda_engines_is_counted_exactly(database_url: str, tmp_path: Path) -> None:
    """Two 7.21 nodes whose start dates fall in one second, one of them retrying with grown
    counts; a 7.18 engine resending the same body, then its next day's; a 7.15 engine whose owner
    declined. The usage of each installation is what its engines sent, exactly."""
    app = make_collector_app(database_url, tmp_path)
    cluster, single, declined = (f"{INSTALLATION[:-2]}{n:02d}" for n in range(3))
    day = dt.datetime(2025, 3, 4, 22, 1, 51)
    node_1 = ({"StartProcessInstanceCmd": 40, "FetchExternalTasksCmd": 120, "IsTelemetryEnabledCmd": 1},
              {"root-process-instance-start": 40, "activity-instance-start": 160})
    node_2 = ({"StartProcessInstanceCmd": 3, "ExecuteJobsCmd": 500, "IsTelemetryEnabledCmd": 1},
              {"root-process-instance-start": 3, "activity-instance-start": 1500})
    retry_1 = ({**node_1[0], "StartProcessInstanceCmd": 42, "FetchExternalTasksCmd": 125},
               {"root-process-instance-start": 42, "activity-instance-start": 168})
    # both nodes started within 22:01:51 (their own clocks: .368 and .902): one Gson text
    later = day + dt.timedelta(seconds=31)
    _post(app, sent_report("7.21.0", cluster, *node_1, day.replace(microsecond=368000)), day)
    answer = _post(app, sent_report("7.21.0", cluster, *node_2, day.replace(microsecond=902000)), day)
    assert answer["replaced"] is False
    assert _post(app, sent_report("7.21.0", cluster, *retry_1, day), later)["replaced"] is True

    first, second = {"IsTelemetryEnabledCmd": 1, "CompleteTaskCmd": 2394}, {"IsTelemetryEnabledCmd": 1, "DeployCmd": 2}
    _post(app, sent_report("7.18.0", single, first, {}), day)
    assert _post(app, sent_report("7.18.0", single, first, {}), later)["replaced"] is True
    _post(app, sent_report("7.18.0", single, second, {}), day + dt.timedelta(days=1))

    assert _post(app, initial_message("7.15.0", declined, False), day)["declined"] is True

    installations = json_of(app.test_client().get("/collector/api/installations"))
    assert {(i["installation"], i["reports"]) for i in installations} == {(cluster, 2), (single, 2)}
    assert _usage(app, cluster) == {"commands": _sum(retry_1[0], node_2[0]), "metrics": _sum(retry_1[1], node_2[1])}
    assert _usage(app, single) == {"commands": _sum(first, second), "metrics": {}}
    assert _usage(app, declined) == {"commands": {}, "metrics": {}}
    assert _usage(app) == {"commands": _sum(retry_1[0], node_2[0], first, second),
                           "metrics": _sum(retry_1[1], node_2[1])}


def test_every_camunda_version_into_one_database(database_url: str, tmp_path: Path) -> None:
    app = make_collector_app(database_url, tmp_path)
    for n, version in enumerate(CAMUNDA_VERSIONS):
        _post(app, sent_report(version, f"{INSTALLATION[:-2]}{n:02d}", COMMANDS, METRICS, START))
    usage = _usage(app)
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
    usage = _usage(collector)
    assert usage["commands"] == {"StartProcessInstanceCmd": 3, "FetchExternalTasksCmd": 1}
    [row] = stored_reports(str(collector.config["CAMUNDA_TELEMETRY_COLLECTOR_DATABASE_URI"]))
    assert json.loads(row["document"]) == document
    start = document["product"]["internals"]["data-collection-start-date"]
    parsed = dt.datetime.strptime(start, "%Y-%m-%dT%H:%M:%S.%f%z")
    assert row["period_start"] == parsed.astimezone(dt.UTC).replace(tzinfo=None)
    with collector.app_context():
        assert get_collector_state(collector).store.installation(document["installation"]) is not None


def test_our_reports_carry_both_metric_names_and_count_each_once(collector: Flask) -> None:
    report = engine_report(metrics=METRICS)
    assert "process-instances" in report["product"]["internals"]["metrics"]
    assert collector.test_client().post(PINGS, json=report).status_code == 202
    assert _usage(collector)["metrics"] == METRICS
