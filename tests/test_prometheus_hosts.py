"""The collector in a host's hands: on the host's own registry or prometheus_flask_exporter's, the
global registry untouched, a database outage, and what each scope answers."""

from __future__ import annotations

import gc
import logging
import uuid
from pathlib import Path

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, Counter, generate_latest
from prometheus_flask_exporter import PrometheusMetrics

from flask_camunda_telemetry import TelemetryExt

from .support.apps import make_app
from .support.exposition import METRICS_URL, Exposition, prometheus_app, scrape
from .support.servers import private_server

COMMANDS = "camunda_command_executions_total"
INFO = "camunda_telemetry_info"
NO_BACKGROUND_FLUSH = {"CAMUNDA_TELEMETRY_FLUSH_INTERVAL": 3600}


def exposition(registry: CollectorRegistry) -> Exposition:
    return Exposition.parse(generate_latest(registry).decode(), "text/plain")


def global_names() -> set[str]:
    return {metric.name for metric in REGISTRY.collect()}


def test_the_global_registry_is_never_touched(tmp_path: Path) -> None:
    before = global_names()
    ext = TelemetryExt()
    app = prometheus_app(f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path, ext)
    ext.count_command("StartProcessInstanceCmd", app=app)
    scrape(app.test_client())
    ext.prometheus_collector(app)
    assert global_names() == before
    assert b"camunda_" not in generate_latest(REGISTRY)


def test_a_host_registers_the_collector_on_its_own_registry(tmp_path: Path) -> None:
    ext = TelemetryExt()
    app = prometheus_app(f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path, ext)
    ext.count_command("StartProcessInstanceCmd", 4, app=app)
    registry = CollectorRegistry(auto_describe=True)
    Counter("host_jobs", "The host's own series.", registry=registry).inc(2)
    registry.register(ext.prometheus_collector(app))

    served = exposition(registry)
    route = scrape(app.test_client())
    assert served.by_label(COMMANDS, "command") == {"StartProcessInstanceCmd": 4}
    assert [s for s in served.samples if s[0].startswith("camunda_")] == route.samples
    assert ("host_jobs_total", {}, 2.0) in served.samples
    with pytest.raises(ValueError, match="Duplicated timeseries"):  # the names are declared
        registry.register(ext.prometheus_collector(app))


def test_registering_reads_no_database(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    ext = TelemetryExt()
    app = make_app(f"sqlite:///{blocked / 't.sqlite'}", tmp_path, ext)  # the database cannot be opened
    registry = CollectorRegistry(auto_describe=True)
    registry.register(ext.prometheus_collector(app))  # describe(): names only
    Counter("host_jobs", "The host's own series.", registry=registry).inc()
    assert exposition(registry).names() == {"host_jobs_total", "host_jobs_created"}


def test_prometheus_flask_exporter_serves_the_series_on_its_metrics(tmp_path: Path) -> None:
    ext = TelemetryExt()
    app = make_app(
        f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path, ext, CAMUNDA_TELEMETRY_EXCLUDED_ENDPOINTS=["prometheus_metrics"]
    )
    metrics = PrometheusMetrics(app, registry=CollectorRegistry(auto_describe=True))
    metrics.registry.register(ext.prometheus_collector(app))
    client = app.test_client()
    assert client.post("/process-definition/invoice/start").status_code == 200
    for _ in range(2):
        response = client.get("/metrics")
        assert response.status_code == 200
    served = Exposition.parse(response.get_data(as_text=True), response.headers["Content-Type"])
    assert served.by_label(COMMANDS, "command") == {"StartProcessInstanceCmd": 1}
    assert "flask_http_request_total" in {name for name, _, _ in served.samples}


def test_an_outage_answers_503_leaves_the_hosts_series_alone_and_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with private_server("postgresql") as server:
        url = server.create_database(f"ft_{uuid.uuid4().hex[:12]}")
        ext = TelemetryExt()
        app = prometheus_app(url, tmp_path, ext, **NO_BACKGROUND_FLUSH)
        host = CollectorRegistry(auto_describe=True)
        Counter("host_jobs", "The host's own series.", registry=host).inc()
        host.register(ext.prometheus_collector(app))
        client = app.test_client()
        assert client.post("/process-definition/invoice/start").status_code == 200
        assert scrape(client).by_label(COMMANDS, "command") == {"StartProcessInstanceCmd": 1}

        server.stop()
        assert client.post("/process-definition/invoice/start").status_code == 200
        down = client.get(METRICS_URL)
        assert down.status_code == 503
        assert down.headers["Retry-After"]
        body = down.get_json()
        assert (set(body), body["type"], body["code"]) == ({"type", "message", "code"}, "ProcessEngineException", 0)
        with caplog.at_level(logging.WARNING, logger="flask_camunda_telemetry"):
            during = exposition(host)
        assert during.names() == {"host_jobs_total", "host_jobs_created"}
        # The outage is logged once, with the driver's words, however many scrapes meet it.
        outage = [r for r in caplog.records if "the telemetry database is unavailable" in r.getMessage()]
        assert len(outage) == 1 and "Connection refused" in outage[0].getMessage()

        server.start()
        assert scrape(client).by_label(COMMANDS, "command") == {"StartProcessInstanceCmd": 2}
        assert exposition(host).by_label(COMMANDS, "command") == {"StartProcessInstanceCmd": 2}


def test_in_cluster_scope_every_instance_answers_the_same_totals(tmp_path: Path, database_url: str) -> None:
    ext_a, ext_b = TelemetryExt(), TelemetryExt()
    app_a = prometheus_app(database_url, tmp_path / "a", ext_a, **NO_BACKGROUND_FLUSH)
    app_b = prometheus_app(database_url, tmp_path / "b", ext_b, **NO_BACKGROUND_FLUSH)
    ext_a.count_command("StartProcessInstanceCmd", 3, app=app_a)
    ext_b.count_command("StartProcessInstanceCmd", 5, app=app_b)
    ext_b.count_command("FetchExternalTasksCmd", 2, app=app_b)
    ext_b.flush(app=app_b)  # what b's flush thread does within one interval

    wanted = {"StartProcessInstanceCmd": 8, "FetchExternalTasksCmd": 2}
    from_a = scrape(app_a.test_client())  # a's scrape writes a's own counts first
    from_b = scrape(app_b.test_client())
    assert from_a.by_label(COMMANDS, "command") == from_b.by_label(COMMANDS, "command") == wanted
    assert from_a.only(INFO)[0]["installation"] == from_b.only(INFO)[0]["installation"]


def test_in_process_scope_each_instance_answers_its_own_counts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 't.sqlite'}"
    ext_a, ext_b = TelemetryExt(), TelemetryExt()
    app_a = prometheus_app(url, tmp_path / "a", ext_a, CAMUNDA_TELEMETRY_SCOPE="process", **NO_BACKGROUND_FLUSH)
    app_b = prometheus_app(url, tmp_path / "b", ext_b, CAMUNDA_TELEMETRY_SCOPE="process", **NO_BACKGROUND_FLUSH)
    ext_a.count_command("StartProcessInstanceCmd", 3, app=app_a)
    ext_b.count_command("StartProcessInstanceCmd", 5, app=app_b)
    assert scrape(app_a.test_client()).by_label(COMMANDS, "command") == {"StartProcessInstanceCmd": 3}
    assert scrape(app_b.test_client()).by_label(COMMANDS, "command") == {"StartProcessInstanceCmd": 5}


def test_the_collector_of_a_gone_app_reports_nothing(tmp_path: Path) -> None:
    ext = TelemetryExt()
    app = prometheus_app(f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path, ext, **NO_BACKGROUND_FLUSH)
    collector = ext.prometheus_collector(app)
    assert {m.name for m in collector.collect()} == {
        "camunda_command_executions", "camunda_engine_metric", "camunda_telemetry",
        "camunda_telemetry_collection_start_timestamp_seconds",
    }
    ext.close(app)
    del app
    gc.collect()
    assert collector.collect() == []


def test_what_a_report_records_never_lowers_the_counters(tmp_path: Path, database_url: str) -> None:
    """A report records what it sent in ``command-reported``/``metric-reported`` rows (the
    document then shows lifetime - reported); the counters stay the lifetime totals."""
    ext = TelemetryExt()
    app = prometheus_app(database_url, tmp_path, ext, **NO_BACKGROUND_FLUSH)
    ext.count_command("StartProcessInstanceCmd", 5, app=app)
    ext.mark_occurrence("root-process-instance-start", 5, app=app)
    client = app.test_client()
    before = scrape(client)
    ext.state(app).store.flush_counts(  # as a report records what it sent (slice 0: before any reset)
        {
            "command-reported": {0: {"StartProcessInstanceCmd": 5}},
            "metric-reported": {0: {"root-process-instance-start": 5}},
        }
    )
    ext.count_command("StartProcessInstanceCmd", 1, app=app)
    after = scrape(client)
    assert before.by_label(COMMANDS, "command") == {"StartProcessInstanceCmd": 5}
    assert after.by_label(COMMANDS, "command") == {"StartProcessInstanceCmd": 6}
    assert after.by_label("camunda_engine_metric_total", "metric")["root-process-instance-start"] == 5
