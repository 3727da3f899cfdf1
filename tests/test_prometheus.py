"""CAMUNDA_TELEMETRY_PROMETHEUS_URL: the series, their names and labels, both formats, the route's
behaviour (never counted, guarded by the authorize hook, JSON errors) and its config."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest
from flask import Flask, request

import flask_camunda_telemetry
from flask_camunda_telemetry import AuthenticationRequired, ConfigurationError, TelemetryExt
from flask_camunda_telemetry.state import PROMETHEUS_ENDPOINT

from .support.exposition import METRICS_URL, OPENMETRICS_ACCEPT, prometheus_app, scrape
from .support.prometheus_server import promtool_check_metrics

COMMANDS = "camunda_command_executions_total"
METRICS = "camunda_engine_metric_total"
INFO = "camunda_telemetry_info"
START = "camunda_telemetry_collection_start_timestamp_seconds"
SERIES = {COMMANDS, METRICS, INFO, START}
INTERNAL_METRICS = (
    "root-process-instance-start",
    "activity-instance-start",
    "executed-decision-instances",
    "executed-decision-elements",
)


def traffic(app: Flask, ext: TelemetryExt) -> None:
    client = app.test_client()
    for _ in range(3):
        assert client.post("/process-definition/invoice/start").status_code == 200
    assert client.post("/external-task/fetchAndLock").status_code == 200
    assert client.get("/process-instance/missing").status_code == 404
    ext.mark_occurrence("activity-instance-start", 5, app=app)
    ext.mark_occurrence("executed-decision-instances", app=app)


def test_the_series_are_the_documents_counts_with_exactly_these_names(tmp_path: Path, database_url: str) -> None:
    ext = TelemetryExt()
    app = prometheus_app(database_url, tmp_path / "instance", ext)
    traffic(app, ext)
    client = app.test_client()
    scraped = scrape(client, SERVER_SOFTWARE="gunicorn/23.0.0")
    doc = client.get("/telemetry/data").get_json()
    internals = doc["product"]["internals"]

    assert scraped.content_type == "text/plain; version=0.0.4; charset=utf-8"
    assert scraped.names() == SERIES
    assert scraped.types == {
        "camunda_command_executions": "counter",
        "camunda_engine_metric": "counter",
        INFO: "gauge",
        START: "gauge",
    }
    assert f"# TYPE {COMMANDS} counter" in scraped.text and f"# TYPE {METRICS} counter" in scraped.text
    assert scraped.by_label(COMMANDS, "command") == {
        "StartProcessInstanceCmd": 3, "FetchExternalTasksCmd": 1, "get_process_instance": 1
    }
    assert scraped.by_label(COMMANDS, "command") == {name: c["count"] for name, c in internals["commands"].items()}
    assert scraped.by_label(METRICS, "metric") == {"root-process-instance-start": 0, "activity-instance-start": 5,
                                                   "executed-decision-instances": 1, "executed-decision-elements": 0}
    assert scraped.by_label(METRICS, "metric") == {name: c["count"] for name, c in internals["metrics"].items()}
    info, one = scraped.only(INFO)
    assert one == 1
    assert info == {
        "installation": doc["installation"],
        "product": doc["product"]["name"],
        "version": doc["product"]["version"],
        "edition": doc["product"]["edition"],
        "database": internals["database"]["vendor"],
        "database_version": internals["database"]["version"],
        "application_server": "gunicorn/23.0.0",
        "runtime": f"{internals['jdk']['vendor']} {internals['jdk']['version']}",
    }
    start = dt.datetime.strptime(internals["data-collection-start-date"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert scraped.only(START)[1] == pytest.approx(start.timestamp(), abs=0.001)


def test_metrics_keep_their_internal_names_when_the_document_uses_public_ones(tmp_path: Path) -> None:
    ext = TelemetryExt()
    app = prometheus_app(f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path, ext, CAMUNDA_TELEMETRY_METRIC_NAMES="public")
    ext.mark_occurrence("process-instances", 2, app=app)
    assert scrape(app.test_client()).by_label(METRICS, "metric") == {
        **dict.fromkeys(INTERNAL_METRICS, 0.0), "root-process-instance-start": 2
    }


def test_openmetrics_when_the_scraper_asks_for_it(tmp_path: Path) -> None:
    ext = TelemetryExt()
    app = prometheus_app(f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path, ext)
    traffic(app, ext)
    client = app.test_client()
    text = scrape(client)
    open_metrics = scrape(client, OPENMETRICS_ACCEPT)

    assert open_metrics.content_type.startswith("application/openmetrics-text; version=1.0.0")
    assert open_metrics.text.endswith("# EOF\n")
    assert open_metrics.types == {
        "camunda_command_executions": "counter",
        "camunda_engine_metric": "counter",
        "camunda_telemetry": "info",
        START: "gauge",
    }
    assert open_metrics.samples == text.samples
    assert scrape(client, "text/plain").content_type == text.content_type


ODD_NAMES = [
    'Quote"d',
    "back\\slash",
    "trailing\\",
    "ünïcødé Cmd ✓",
    "with,comma=and{braces}",
    "'single' quotes",
    "x" * 255,
]


def test_odd_command_names_come_back_exactly_from_both_formats(tmp_path: Path) -> None:
    ext = TelemetryExt()
    app = prometheus_app(f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path, ext)
    for n, name in enumerate(ODD_NAMES, start=1):
        ext.count_command(name, n, app=app)
    wanted = {name: n for n, name in enumerate(ODD_NAMES, start=1)}
    client = app.test_client()
    text = scrape(client)
    assert text.by_label(COMMANDS, "command") == wanted
    assert scrape(client, OPENMETRICS_ACCEPT).by_label(COMMANDS, "command") == wanted
    checked = promtool_check_metrics(text.text.encode())
    assert (checked.returncode, checked.stdout + checked.stderr) == (0, "")


def test_promtool_finds_nothing_wrong(tmp_path: Path) -> None:
    ext = TelemetryExt()
    app = prometheus_app(f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path, ext)
    traffic(app, ext)
    body = app.test_client().get(METRICS_URL).get_data()
    checked = promtool_check_metrics(body)
    assert (checked.returncode, checked.stdout + checked.stderr) == (0, "")


def test_scrapes_are_never_counted(tmp_path: Path) -> None:
    ext = TelemetryExt()
    app = prometheus_app(f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path, ext)
    client = app.test_client()
    for _ in range(5):
        scrape(client)
    assert client.post("/external-task/fetchAndLock").status_code == 200
    assert scrape(client).by_label(COMMANDS, "command") == {"FetchExternalTasksCmd": 1}


def test_a_reset_lowers_the_counters_and_moves_the_start(tmp_path: Path) -> None:
    ext = TelemetryExt()
    app = prometheus_app(f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path, ext)
    ext.count_command("StartProcessInstanceCmd", 7, app=app)
    client = app.test_client()
    before = scrape(client)
    ext.reset(app=app)
    ext.count_command("StartProcessInstanceCmd", 2, app=app)
    after = scrape(client)
    assert before.by_label(COMMANDS, "command") == {"StartProcessInstanceCmd": 7}
    assert after.by_label(COMMANDS, "command") == {"StartProcessInstanceCmd": 2}
    assert after.only(START)[1] > before.only(START)[1]


def test_the_authorize_hook_guards_the_route_a_bearer_token_passes(tmp_path: Path) -> None:
    def authorize() -> bool:
        header = request.headers.get("Authorization")
        if header is None:
            raise AuthenticationRequired("Send the scrape token: Authorization: Bearer <token>.")
        return header == "Bearer s3cret"

    app = prometheus_app(f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path, TelemetryExt(authorize=authorize))
    client = app.test_client()
    missing = client.get(METRICS_URL)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert missing.get_json()["type"] == "AuthenticationException"
    wrong = client.get(METRICS_URL, headers={"Authorization": "Bearer guess"})
    assert (wrong.status_code, wrong.get_json()["type"]) == (403, "AuthorizationException")
    assert "camunda_" not in missing.get_data(as_text=True) + wrong.get_data(as_text=True)
    allowed = client.get(METRICS_URL, headers={"Authorization": "Bearer s3cret"})
    assert allowed.status_code == 200
    assert INFO in allowed.get_data(as_text=True)


def test_other_methods_get_a_json_405_naming_the_allowed_ones(tmp_path: Path) -> None:
    app = prometheus_app(f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path)
    client = app.test_client()
    for method in ("POST", "PUT", "DELETE"):
        response = client.open(METRICS_URL, method=method)
        assert response.status_code == 405
        assert response.get_json()["type"] == "NotAllowedException"
        assert response.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert client.options(METRICS_URL).headers["Allow"] == "GET, HEAD, OPTIONS"
    head = client.head(METRICS_URL)
    assert (head.status_code, head.get_data()) == (200, b"")


def test_no_route_by_default(sqlite_app: Flask) -> None:
    assert PROMETHEUS_ENDPOINT not in sqlite_app.view_functions
    response = sqlite_app.test_client().get(METRICS_URL)
    assert (response.status_code, response.get_json()["type"]) == (404, "NotFoundException")


@pytest.mark.parametrize("value", ["", "metrics", "/metrics/", "/a b", 42])
def test_a_bad_url_fails_at_init_app_naming_key_and_value(tmp_path: Path, value: object) -> None:
    app = Flask("host", instance_path=str(tmp_path))
    app.config["CAMUNDA_TELEMETRY_PROMETHEUS_URL"] = value
    with pytest.raises(ConfigurationError, match=r"CAMUNDA_TELEMETRY_PROMETHEUS_URL = " + repr(value)):
        TelemetryExt(app)
    assert "camunda_telemetry" not in app.extensions


def without_prometheus_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import prometheus_client`` fail as it does when the package is not installed."""
    for name in [name for name in sys.modules if name.startswith("prometheus_client")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    monkeypatch.delitem(sys.modules, "flask_camunda_telemetry.prometheus", raising=False)
    monkeypatch.delattr(flask_camunda_telemetry, "prometheus", raising=False)


def test_without_prometheus_client_the_key_fails_at_init_app_saying_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_prometheus_client(monkeypatch)
    app = Flask("host", instance_path=str(tmp_path))
    app.config["CAMUNDA_TELEMETRY_PROMETHEUS_URL"] = METRICS_URL
    with pytest.raises(ConfigurationError) as caught:
        TelemetryExt(app)
    message = str(caught.value)
    assert "CAMUNDA_TELEMETRY_PROMETHEUS_URL = '/telemetry/metrics'" in message
    assert "pip install 'flask-camunda-telemetry[prometheus]'" in message
    assert "camunda_telemetry" not in app.extensions


def test_without_prometheus_client_everything_else_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    without_prometheus_client(monkeypatch)
    ext = TelemetryExt()
    app = prometheus_app(f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path, ext, CAMUNDA_TELEMETRY_PROMETHEUS_URL=None)
    assert app.test_client().get("/telemetry/data").status_code == 200
    with pytest.raises(ModuleNotFoundError, match=r"flask-camunda-telemetry\[prometheus\]"):
        ext.prometheus_collector(app)
