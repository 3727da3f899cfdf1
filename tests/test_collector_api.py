"""The JSON API, who may read what, the configuration, and the extension's life cycle."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, request

from flask_camunda_telemetry import (
    AlreadyInitializedError,
    AuthenticationRequired,
    AuthorizationDenied,
    ConfigurationError,
    NotInitializedError,
    TelemetryExt,
)
from flask_camunda_telemetry.collector import TelemetryCollector
from flask_camunda_telemetry.collector.openapi import build_spec
from flask_camunda_telemetry.collector.paging import cursor_of
from flask_camunda_telemetry.collector.state import get_collector_state

from .support.collector_app import make_collector_app
from .support.documents import json_of
from .support.fuzz import schemathesis_run
from .support.reports import engine_report

PINGS = "/collector/pings"
SECRET_COMMAND = "ConfidentialCustomerCmd"


def _post_at(app: Flask, when: dt.datetime, report: dict[str, Any], report_id: str | None = None) -> None:
    get_collector_state(app).clock = lambda: when
    headers = {} if report_id is None else {"Telemetry-Report-Id": report_id}
    response = app.test_client().post(PINGS, json=report, headers=headers)
    assert response.status_code == 202, json_of(response)


@pytest.fixture
def filled(tmp_path: Path) -> tuple[Flask, list[str]]:
    """Two installations: A on 7.21.0 then 7.22.0, B on 7.22.0, at known times."""
    app = make_collector_app(f"sqlite:///{tmp_path / 'c.sqlite'}", tmp_path)
    a, b = (engine_report()["installation"] for _ in range(2))
    for when, installation, version, n in [
        (dt.datetime(2025, 1, 10, 23, 59), a, "7.21.0", 1),
        (dt.datetime(2025, 1, 11, 0, 0), a, "7.22.0", 10),
        (dt.datetime(2025, 1, 12, 12, 0), b, "7.22.0", 100),
        (dt.datetime(2025, 1, 13, 8, 30), a, "7.22.0", 1000),
    ]:
        _post_at(app, when, engine_report(installation, {SECRET_COMMAND: n}, version=version,
                                          start=when.replace(tzinfo=dt.UTC)))
    return app, [a, b]


def test_installations_lists_each_with_its_latest_product_and_report_times(filled: tuple[Flask, list[str]]) -> None:
    app, (a, b) = filled
    response = app.test_client().get("/collector/api/installations")
    assert response.status_code == 200
    assert json_of(response) == [
        {"installation": a, "product": {"name": "Camunda BPM Runtime", "version": "7.22.0", "edition": "community"},
         "first-report": "2025-01-10T23:59:00+00:00", "last-report": "2025-01-13T08:30:00+00:00", "reports": 3},
        {"installation": b, "product": {"name": "Camunda BPM Runtime", "version": "7.22.0", "edition": "community"},
         "first-report": "2025-01-12T12:00:00+00:00", "last-report": "2025-01-12T12:00:00+00:00", "reports": 1},
    ]


@pytest.mark.parametrize(
    ("query", "total"),
    [
        ("", 1111),
        ("?installation={a}", 1011),
        ("?installation={b}", 100),
        ("?installation=nobody", 0),
        ("?since=2025-01-11", 1110),
        ("?until=2025-01-10", 1),
        ("?since=2025-01-11&until=2025-01-12", 110),
        ("?since=2025-01-12T12:00:00Z", 1100),
        ("?until=2025-01-12T12:00:00Z", 111),
        ("?until=2025-01-12T11:00:00-01:00", 111),
        ("?until=2025-01-12T11:59:59%2B00:00", 11),
        ("?version=7.21.0", 1),
        ("?version=7.22.0&installation={a}", 1010),
        ("?version=7.22.0&since=2025-01-13", 1000),
    ],
)
def test_usage_sums_the_matching_reports(filled: tuple[Flask, list[str]], query: str, total: int) -> None:
    app, (a, b) = filled
    response = app.test_client().get("/collector/api/usage" + query.format(a=a, b=b))
    assert response.status_code == 200, json_of(response)
    commands = {SECRET_COMMAND: total} if total else {}
    assert json_of(response)["commands"] == commands
    assert set(json_of(response)) == {"commands", "metrics"}


@pytest.mark.parametrize(
    ("query", "message"),
    [("?since=yesterday", "since='yesterday'"), ("?until=2025-13-01", "until="), ("?installations=x", "installations"),
     ("?version=", "Empty"), ("?since=2025-01-01T25:00", "since=")],
)
def test_a_malformed_usage_query_is_a_400(filled: tuple[Flask, list[str]], query: str, message: str) -> None:
    response = filled[0].test_client().get("/collector/api/usage" + query)
    assert response.status_code == 400
    assert json_of(response)["type"] == "InvalidRequestException"
    assert message in json_of(response)["message"]


def _routes_with_values(app: Flask, installation: str) -> list[str]:
    """Every URL of the collector, path parameters filled in (a real installation)."""
    urls = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("camunda_telemetry_collector."):
            values = {"installation": installation, "subpath": "anything", "filename": "collector.css"}
            urls.append(rule.rule.replace("<collector_path:installation>", values["installation"])
                        .replace("<collector_path:subpath>", values["subpath"])
                        .replace("<path:filename>", values["filename"]))
    return sorted(urls)


def _unauthenticated() -> bool:
    raise AuthenticationRequired()


def _denied() -> bool:
    raise AuthorizationDenied("anonymous")


HOOKS: dict[str, tuple[Callable[[], bool], int]] = {
    "raises AuthenticationRequired": (_unauthenticated, 401),
    "returns False": (lambda: False, 403),
    "raises AuthorizationDenied": (_denied, 403),
}


@pytest.mark.parametrize("case", list(HOOKS))
def test_with_a_hook_no_route_leaks_a_report_to_an_anonymous_reader(tmp_path: Path, case: str) -> None:
    hook, status = HOOKS[case]

    app = Flask("guarded", instance_path=str(tmp_path))
    app.config["CAMUNDA_TELEMETRY_COLLECTOR_DATABASE_URI"] = f"sqlite:///{tmp_path / 'c.sqlite'}"
    TelemetryCollector(app, authorize=hook)
    report = engine_report(commands={SECRET_COMMAND: 3}, customer="Secret Customer Ltd")
    client = app.test_client()
    assert client.post(PINGS, json=report).status_code == 202  # senders are checked by TOKENS alone
    guarded = {"/collector/", f"/collector/installations/{report['installation']}", "/collector/api/installations",
               "/collector/api/usage"}
    urls = _routes_with_values(app, report["installation"])
    assert guarded <= set(urls)
    for url in urls:
        for method in ("GET", "HEAD", "POST"):
            response = client.open(url, method=method)
            body = response.get_data(as_text=True)
            for secret in (report["installation"], SECRET_COMMAND, "Secret Customer"):
                assert secret not in body, (method, url, response.status_code)
            if url in guarded and method == "GET":
                assert response.status_code == status, url
                assert json_of(response)["type"] == ("AuthenticationException" if status == 401 else
                                                 "AuthorizationException")


def test_a_hook_that_allows_opens_every_page_and_can_name_its_challenge(tmp_path: Path) -> None:
    app = Flask("guarded", instance_path=str(tmp_path))
    app.config["CAMUNDA_TELEMETRY_COLLECTOR_DATABASE_URI"] = f"sqlite:///{tmp_path / 'c.sqlite'}"
    collector = TelemetryCollector(app)

    @collector.authorizer
    def reader() -> bool:
        if request.authorization is None:
            raise AuthenticationRequired("Log in to read the fleet.", challenge='Basic realm="fleet"')
        return request.authorization.password == "open sesame"

    report = engine_report(commands={SECRET_COMMAND: 3})
    client = app.test_client()
    client.post(PINGS, json=report)
    refused = client.get("/collector/")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == 'Basic realm="fleet"'
    assert client.get("/collector/", auth=("reader", "guess")).status_code == 403
    for url in ("/collector/", f"/collector/installations/{report['installation']}", "/collector/api/usage"):
        response = client.get(url, auth=("reader", "open sesame"))
        assert response.status_code == 200
        assert SECRET_COMMAND in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("key", "value"),
    [("MAX_BODY", "lots"), ("MAX_BODY", 100), ("MAX_BODY", True), ("TOKENS", "has space"), ("TOKENS", 7),
     ("URL_PREFIX", None), ("URL_PREFIX", "collector"), ("URL_PREFIX", "/collector/"), ("TABLE_PREFIX", "bad-name"),
     ("ACTIVE_DAYS", 0), ("PAGE_SIZE", "ten"), ("CREATE_TABLES", "maybe"), ("DATABASE_URI", "")],
)
def test_a_bad_setting_fails_init_app_naming_key_and_value(tmp_path: Path, key: str, value: object) -> None:
    with pytest.raises(ConfigurationError) as raised:
        make_collector_app(None, tmp_path, **{f"CAMUNDA_TELEMETRY_COLLECTOR_{key}": value})
    assert raised.value.key == f"CAMUNDA_TELEMETRY_COLLECTOR_{key}"
    assert repr(value) in str(raised.value)


def test_settings_from_strings_and_constructor_options(tmp_path: Path) -> None:
    app = Flask("c", instance_path=str(tmp_path))
    app.config.update(CAMUNDA_TELEMETRY_COLLECTOR_MAX_BODY="2048", CAMUNDA_TELEMETRY_COLLECTOR_TOKENS="a,b")
    TelemetryCollector(app, url_prefix="/fleet", active_days=7)
    config = get_collector_state(app).config
    assert (config.max_body, config.tokens, config.url_prefix, config.active_days) == (2048, ("a", "b"), "/fleet", 7)
    assert app.test_client().post("/fleet/pings", json=engine_report()).status_code == 401
    with pytest.raises(ConfigurationError, match="url_prefixes"):
        TelemetryCollector(Flask("d"), url_prefixes="/x")


def test_init_app_opens_nothing_and_the_default_database_is_in_the_instance_folder(tmp_path: Path) -> None:
    app = Flask("c", instance_path=str(tmp_path / "instance"))
    TelemetryCollector(app)
    assert not (tmp_path / "instance").exists()
    assert app.test_client().post(PINGS, json=engine_report()).status_code == 202
    assert (tmp_path / "instance" / "camunda_telemetry_collector.sqlite").exists()


def test_one_collector_per_app_and_the_state_of_an_app_without_one(tmp_path: Path) -> None:
    app = make_collector_app(f"sqlite:///{tmp_path / 'c.sqlite'}", tmp_path)
    with pytest.raises(AlreadyInitializedError):
        TelemetryCollector(app)
    with pytest.raises(NotInitializedError, match="init_app"):
        get_collector_state(Flask("other"))
    with pytest.raises(NotInitializedError, match="app context"):
        get_collector_state()


def test_two_apps_in_one_process_keep_their_own_reports(tmp_path: Path) -> None:
    collector = TelemetryCollector()
    apps = []
    for name in ("one", "two"):
        app = Flask(name, instance_path=str(tmp_path / name))
        app.config["CAMUNDA_TELEMETRY_COLLECTOR_DATABASE_URI"] = f"sqlite:///{tmp_path / name}.sqlite"
        collector.init_app(app)
        apps.append(app)
    apps[0].test_client().post(PINGS, json=engine_report(commands={"OnlyInOne": 1}))
    assert json_of(apps[0].test_client().get("/collector/api/usage"))["commands"] == {"OnlyInOne": 1}
    assert json_of(apps[1].test_client().get("/collector/api/usage"))["commands"] == {}


def test_the_engine_extension_and_the_collector_share_an_app(tmp_path: Path) -> None:
    app = Flask("both", instance_path=str(tmp_path))
    app.config.update(CAMUNDA_TELEMETRY_DATABASE_URI=f"sqlite:///{tmp_path / 'e.sqlite'}",
                      CAMUNDA_TELEMETRY_COLLECTOR_DATABASE_URI=f"sqlite:///{tmp_path / 'c.sqlite'}")
    TelemetryExt(app)
    TelemetryCollector(app)
    client = app.test_client()
    document = json_of(client.get("/telemetry/data"))
    assert client.post(PINGS, json=document).status_code == 202
    assert json_of(client.get("/collector/api/installations"))[0]["installation"] == document["installation"]


def test_the_openapi_description_covers_every_route_and_the_cli_prints_it(tmp_path: Path) -> None:
    app = make_collector_app(f"sqlite:///{tmp_path / 'c.sqlite'}", tmp_path)
    served = json_of(app.test_client().get("/collector/api/openapi.json"))
    printed = app.test_cli_runner().invoke(args=["telemetry-collector", "openapi"])
    assert printed.exit_code == 0
    assert json.loads(printed.output) == served == build_spec("/collector")
    documented = {path.replace("{installation}", "<collector_path:installation>") for path in served["paths"]}
    routes = {rule.rule for rule in app.url_map.iter_rules()
              if rule.endpoint.startswith("camunda_telemetry_collector.")}
    assert routes - documented == {"/collector/<collector_path:subpath>", "/collector/assets/<path:filename>"}
    pings = served["paths"]["/collector/pings"]["post"]
    assert set(pings["responses"]) == {"202", "400", "401", "413", "415", "503"}
    body = pings["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ReceivedReport"}
    report = served["components"]["schemas"]["ReceivedReport"]
    assert report["required"] == ["installation", "product"]
    internals = served["components"]["schemas"]["ReceivedInternals"]["properties"]
    assert internals["commands"]["maxProperties"] == 10_000
    assert internals["commands"]["propertyNames"]["maxLength"] == 255


def test_schemathesis_finds_no_failure_against_a_served_collector(tmp_path: Path) -> None:
    """schemathesis fuzzes every route from the collector's own description, all checks on."""
    app = make_collector_app(f"sqlite:///{tmp_path / 'c.sqlite'}", tmp_path)
    app.test_client().post(PINGS, json=engine_report(commands={"A": 1}))
    # A cursor is opaque: no schema can say which strings are ones the collector wrote, so the
    # schema-valid requests take a real one, as a client takes it from a Link header.
    [row] = get_collector_state(app).store.installations(1)
    cursor = cursor_of(row)
    config = f'[parameters]\n"query.after" = "{cursor}"\n"query.before" = "{cursor}"\n'
    (tmp_path / "schemathesis.toml").write_text(config)
    result = schemathesis_run(app, "/collector/api/openapi.json", tmp_path, max_examples=40)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
