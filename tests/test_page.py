"""``GET /telemetry/``: the page a person reads, as the server answers it (the browser tests are in
test_page_browser.py): where it is served, who may read it, what it shows, what it never counts,
and that every value is escaped."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from flask_camunda_telemetry import TelemetryExt
from flask_camunda_telemetry.pages import views
from flask_camunda_telemetry.pages.context import collector_host, command_table, relative_time
from flask_camunda_telemetry.state import get_state

from .support.apps import admin_by_header, make_app, reporting_app
from .support.recorder import Behaviour, recorder

SCRIPT = '<script>alert("x")</script>'
STATIC = ("telemetry.css", "telemetry.js", "favicon.svg")


def _app(tmp_path: Path, ext: TelemetryExt | None = None, **config: object) -> Flask:
    tmp_path.mkdir(exist_ok=True)
    return make_app(f"sqlite:///{tmp_path / 'telemetry.sqlite'}", tmp_path / "instance", ext, **config)


def _html(response: TestResponse) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def _data(html: str, id_: str) -> int:
    match = re.search(rf'<data id="{id_}" value="(\d+)"', html)
    assert match, id_
    return int(match.group(1))


ROW = re.compile(r'<tr><th scope="row">(.*?)</th><td class="num"><data value="(\d+)"')


def _rows(html: str) -> list[tuple[str, int]]:
    return [(name, int(runs)) for name, runs in ROW.findall(html)]


@pytest.mark.parametrize("prefix", ["", "/engine-rest"])
def test_the_page_is_served_under_every_prefix_with_a_strict_policy(tmp_path: Path, prefix: str) -> None:
    app = _app(tmp_path, CAMUNDA_TELEMETRY_URL_PREFIX=["", "/engine-rest"])
    client = app.test_client()
    response = client.get(f"{prefix}/telemetry/")
    html = _html(response)
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert " style=" not in html and "<style" not in html
    assert re.findall(r"<script[^>]*>", html) == [f'<script src="{prefix}/telemetry/static/telemetry.js" defer>']
    assert 'href="data"' in html  # relative: the JSON under the same prefix
    for name in STATIC:
        assert f'"{prefix}/telemetry/static/{name}"' in html
        static = client.get(f"{prefix}/telemetry/static/{name}")
        assert static.status_code == 200 and static.data
    assert client.get(f"{prefix}/telemetry").status_code == 308  # to the page, as Flask redirects
    assert client.head(f"{prefix}/telemetry/").status_code == 200


def test_a_wrong_method_on_the_page_is_a_json_405(tmp_path: Path) -> None:
    response = _app(tmp_path).test_client().post("/telemetry/")
    assert response.status_code == 405 and response.json is not None
    assert response.json["type"] == "NotAllowedException"
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "OPTIONS"}


def test_the_page_and_its_files_are_never_counted(tmp_path: Path) -> None:
    ext = TelemetryExt()
    app = _app(tmp_path, ext, CAMUNDA_TELEMETRY_URL_PREFIX=["", "/engine-rest"])
    client = app.test_client()
    client.get("/deployment")
    for prefix in ("", "/engine-rest"):
        _html(client.get(f"{prefix}/telemetry/?q=x"))
        for name in (*STATIC, "missing.css"):
            client.get(f"{prefix}/telemetry/static/{name}")
    commands = {name: entry.count for name, entry in ext.data(app=app).product.internals.commands.items()}
    assert commands == {"GetDeploymentsCmd": 1}


def test_the_page_shows_what_the_json_says(tmp_path: Path) -> None:
    ext = TelemetryExt()
    app = _app(
        tmp_path,
        ext,
        CAMUNDA_TELEMETRY_LICENSE_KEY="sig==;customer=ACME;expiryDate=2030-01-31;camundaBPM=true;optimize=true",
        CAMUNDA_TELEMETRY_INTEGRATIONS=["spring-boot-starter"],
        CAMUNDA_TELEMETRY_WEBAPPS=["cockpit", "admin"],
        CAMUNDA_TELEMETRY_METRIC_NAMES="public",
    )
    client = app.test_client()
    for _ in range(3):
        client.post("/process-definition/invoice/start")
    client.get("/deployment")
    ext.mark_occurrence("process-instances", 3, app=app)
    ext.mark_occurrence("activity-instance-start", 12, app=app)
    ext.mark_occurrence("executed-decision-elements", 7, app=app)
    html = _html(client.get("/telemetry/"))
    doc = client.get("/telemetry/data").json
    assert doc is not None
    internals = doc["product"]["internals"]
    runtime = f'{internals["jdk"]["vendor"]} {internals["jdk"]["version"]}'
    for value in (doc["installation"], doc["product"]["version"], doc["product"]["edition"], runtime,
                  internals["database"]["vendor"], internals["database"]["version"], "ACME", "2030-01-31",
                  "camundaBPM", "optimize", "spring-boot-starter", "cockpit", "admin"):
        assert f">{value}<" in html, value
    assert f"<h1>{doc['product']['name']} " in html
    commands = {name: entry["count"] for name, entry in internals["commands"].items()}
    assert _rows(html) == sorted(commands.items(), key=lambda item: (-item[1], item[0]))
    assert _data(html, "commands-total") == sum(commands.values()) == 4
    assert _data(html, "commands-distinct") == len(commands)
    metrics = re.findall(r'<data class="metric-value" value="(\d+)" data-metric="([^"]+)"', html)
    assert {name: int(value) for value, name in metrics} == {
        name: entry["count"] for name, entry in internals["metrics"].items()
    } == {"process-instances": 3, "flow-node-instances": 12, "decision-instances": 0, "executed-decision-elements": 7}
    assert 'datetime="' + internals["data-collection-start-date"][:19] in html


def test_every_value_is_escaped(tmp_path: Path) -> None:
    ext = TelemetryExt()
    app = _app(tmp_path, ext, CAMUNDA_TELEMETRY_LICENSE_KEY=f"customer={SCRIPT};expiryDate=2030-01-01")
    ext.count_command(SCRIPT, app=app)
    ext.count_command('"><img src=x>', app=app)
    html = _html(app.test_client().get("/telemetry/", query_string={"q": '"><script>alert(1)</script>'}))
    assert "<script>alert" not in html and "<img src=x>" not in html
    html = _html(app.test_client().get("/telemetry/"))
    assert "<script>alert" not in html and "<img src=x>" not in html
    assert "<dd>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</dd>" in html  # the customer
    assert ("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;", 1) in _rows(html)  # the command
    assert ("&quot;&gt;&lt;img src=x&gt;", 1) in _rows(html)


def test_a_redacted_license_stays_hidden(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        CAMUNDA_TELEMETRY_LICENSE_KEY="customer=ACME Secret;expiryDate=2030-01-01;camundaBPM=true",
        CAMUNDA_TELEMETRY_REDACT_LICENSE=True,
    )
    html = _html(app.test_client().get("/telemetry/"))
    assert "ACME Secret" not in html and "expiryDate" not in html
    assert "hidden (REDACT_LICENSE)" in html and ">2030-01-01<" in html


def test_the_filter_works_without_javascript(tmp_path: Path) -> None:
    app = _app(tmp_path)
    client = app.test_client()
    client.get("/deployment")
    client.post("/process-definition/invoice/start")
    client.get("/process-instance")
    html = _html(client.get("/telemetry/?q=PROCESS"))
    assert _rows(html) == [("StartProcessInstanceCmd", 1), ("query_process_instances", 1)]
    assert "Showing 2 of 3 commands" in html and 'value="PROCESS"' in html
    assert _data(html, "commands-total") == 3  # the totals stay those of every command
    nothing = _html(client.get("/telemetry/?q=nothing-like-this"))
    assert _rows(nothing) == [] and "No command matches this filter." in nothing
    assert 'id="command-empty" class="muted" hidden' in _html(client.get("/telemetry/"))


def test_the_start_date_is_also_told_in_days(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app(tmp_path)
    html = _html(app.test_client().get("/telemetry/"))
    start = r'<dd id="collection-start"><time datetime="[^"]+">[^<]+</time> <span class="muted">\(just now\)'
    assert re.search(start, html)
    later = dt.datetime.now().astimezone() + dt.timedelta(days=3, hours=1)
    monkeypatch.setattr(views, "now", lambda: later)
    assert "(3 days ago)" in _html(app.test_client().get("/telemetry/"))


def test_relative_times() -> None:
    now = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)
    cases = {
        dt.timedelta(seconds=-30): "just now",
        dt.timedelta(minutes=-1): "1 minute ago",
        dt.timedelta(hours=-5, minutes=-59): "5 hours ago",
        dt.timedelta(days=-1): "1 day ago",
        dt.timedelta(days=-400): "400 days ago",
        dt.timedelta(days=-1500): "1,500 days ago",
        dt.timedelta(minutes=10): "in 10 minutes",
        dt.timedelta(days=1, hours=2): "in 1 day",
    }
    assert {delta: relative_time(now + delta, now) for delta in cases} == cases


def test_links_to_the_json_and_the_openapi_description(tmp_path: Path) -> None:
    html = _html(_app(tmp_path).test_client().get("/telemetry/"))
    assert 'href="data"' in html and "OpenAPI" not in html
    with_openapi = _app(tmp_path / "other", CAMUNDA_TELEMETRY_OPENAPI_URL="/api/openapi.json")
    html = _html(with_openapi.test_client().get("/telemetry/"))
    assert '<a href="/api/openapi.json" type="application/json">OpenAPI description</a>' in html


def test_without_a_collector_the_page_says_nothing_is_ever_sent(tmp_path: Path) -> None:
    html = _html(_app(tmp_path).test_client().get("/telemetry/"))
    assert "Nothing is ever sent." in html and 'role="switch"' not in html


def test_the_collector_host_hides_credentials_path_and_query() -> None:
    assert collector_host("https://user:token@collector.example.com:8443/pings?key=1") == "collector.example.com:8443"
    assert collector_host("http://[::1]:9000/") == "[::1]:9000"


def test_the_authorize_hook_guards_the_page(tmp_path: Path) -> None:
    ext = TelemetryExt(authorize=admin_by_header)
    app = _app(tmp_path, ext)
    client = app.test_client()
    installation = ext.data(app=app).installation
    assert installation is not None
    anonymous = client.get("/telemetry/")
    assert (anonymous.status_code, anonymous.mimetype) == (401, "text/html")
    assert "WWW-Authenticate" in anonymous.headers and "Content-Security-Policy" in anonymous.headers
    denied = client.get("/telemetry/", headers={"X-User": "<b>demo</b>"})
    assert denied.status_code == 403
    body = denied.get_data(as_text=True)
    assert "&lt;b&gt;demo&lt;/b&gt;" in body and installation not in body
    assert installation in _html(client.get("/telemetry/", headers={"X-User": "admin"}))
    # the files of the page hold no data: they need no permission
    assert client.get("/telemetry/static/telemetry.css").status_code == 200


COLLECTOR = "https://collector.example.com:8443/pings?token=secret"


@pytest.mark.parametrize(("initialize", "text"), [(True, "given"), (False, "refused"), (None, "undecided")])
def test_with_a_collector_the_page_shows_the_consent_and_the_switch(
    tmp_path: Path, initialize: bool | None, text: str
) -> None:
    database = f"sqlite:///{tmp_path / 't.sqlite'}"
    app = reporting_app(database, tmp_path, COLLECTOR, CAMUNDA_TELEMETRY_INITIALIZE=initialize)
    html = _html(app.test_client().get("/telemetry/"))
    assert "secret" not in html and "/pings" not in html and "Nothing is ever sent" not in html
    assert '<strong id="collector-host">collector.example.com:8443</strong>' in html
    raw = "null" if initialize is None else str(initialize).lower()
    assert f'<span id="consent-value" data-consent="{raw}">{text}</span>' in html
    switch = re.search(r'<input type="checkbox" role="switch" id="consent-switch"[^>]*>', html)
    assert switch is not None and " disabled" in switch.group(0)  # the script enables it
    assert (" checked" in switch.group(0)) is (initialize is True)
    assert '<label for="consent-switch">Send reports to collector.example.com:8443</label>' in html
    assert 'data-configuration-url="configuration"' in html
    assert '<dd id="last-report"><span class="muted">none yet</span>' in html
    expected = "not scheduled yet" if initialize else "none without consent"
    assert f'<dd id="next-report"><span class="muted">{expected}</span></dd>' in html

    given = app.test_client().post("/telemetry/configuration", json={"enableTelemetry": True})
    assert given.status_code == 204
    html = _html(app.test_client().get("/telemetry/"))
    assert '<span id="consent-value" data-consent="true">given</span>' in html
    if not initialize:  # given now: the first report is due REPORT_DELAY (an hour) from now
        assert re.search(r'<dd id="next-report"><time [^>]+>[^<]+</time> <span class="muted">\(in 59 minutes\)', html)


def test_the_page_shows_the_last_report_sent_or_failed(tmp_path: Path) -> None:
    with recorder() as collector:
        app = reporting_app(f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path, collector.url)
        reporting = get_state(app).reporting
        assert reporting is not None
        with app.app_context():
            reporting.report_now()
        html = _html(app.test_client().get("/telemetry/"))
        assert re.search(r'<dd id="last-report"><time [^>]+>[^<]+</time> <span class="muted">\(just now\)</span>:\s*'
                         r'<span class="sent">HTTP 202</span>', html)
        collector.behave(Behaviour("answer", 500))
        with app.app_context():
            reporting.report_now()
        html = _html(app.test_client().get("/telemetry/"))
        assert '<span class="failed">failed: the collector answered 500</span>' in html


def test_the_table_keeps_ties_in_name_order_and_one_scale_when_filtered() -> None:
    counts = [("A.start", 5), ("B", 10), ("C", 5), ("D", 20_000)]
    table = command_table(counts, "")
    assert _rows(table.rows) == [("D", 20_000), ("B", 10), ("A.start", 5), ("C", 5)]
    assert (table.shown, table.total, table.distinct) == (4, 20_020, 4)
    assert '<meter max="20000" value="20000" aria-hidden="true"></meter> 99.9%' in table.rows
    filtered = command_table(counts, "a.S")
    assert _rows(filtered.rows) == [("A.start", 5)] and (filtered.shown, filtered.total) == (1, 20_020)
    assert '<meter max="20000" value="5" aria-hidden="true"></meter> &lt;0.1%' in filtered.rows
    assert command_table([], "").rows == ""
