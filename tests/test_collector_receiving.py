"""Receiving: POST /collector/pings takes a report, rejects anything else with a JSON 4xx and
stores nothing, keeps keys it does not know, and checks senders by token alone."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_camunda_telemetry.collector.schemas import MAX_NAMES

from .support.collector_app import make_collector_app, stored_reports
from .support.documents import json_of
from .support.reports import engine_report

PINGS = "/collector/pings"


@pytest.fixture
def collector(tmp_path: Path) -> Flask:
    return make_collector_app(f"sqlite:///{tmp_path / 'collector.sqlite'}", tmp_path / "instance")


def _url(app: Flask) -> str:
    return str(app.config["CAMUNDA_TELEMETRY_COLLECTOR_DATABASE_URI"])


def _assert_camunda_error(response: Any, status: int) -> None:
    assert response.status_code == status, response.data
    assert response.mimetype == "application/json"
    assert set(json_of(response)) >= {"type", "message", "code"}
    assert json_of(response)["message"]


def test_a_good_report_answers_202_and_is_stored_with_its_fields(database_url: str, tmp_path: Path) -> None:
    app = make_collector_app(database_url, tmp_path)
    report = engine_report(commands={"StartProcessInstanceCmd": 7}, metrics={"activity-instance-start": 21},
                           customer="ACME")
    response = app.test_client().post(PINGS, json=report, headers={"X-Telemetry-Report-Id": "r-1"})
    assert response.status_code == 202
    assert json_of(response) == {"installation": report["installation"], "replaced": False}
    [row] = stored_reports(database_url)
    assert (row["installation"], row["product_version"], row["edition"]) == (
        report["installation"], "7.22.0", "community"
    )
    assert (row["database_vendor"], row["server_vendor"], row["runtime"]) == (
        "PostgreSQL", "gunicorn", "CPython 3.11.2"
    )
    assert row["received_at"] is not None and row["period_start"] is not None
    assert json.loads(row["document"]) == report


@pytest.mark.parametrize("header", ["Telemetry-Report-Id", "X-Telemetry-Report-Id"])
def test_either_report_id_header_identifies_a_resend(collector: Flask, header: str) -> None:
    client = collector.test_client()
    report = engine_report(commands={"A": 1})
    assert json_of(client.post(PINGS, json=report, headers={header: "period-7"}))["replaced"] is False
    assert json_of(client.post(PINGS, json=report, headers={header: "period-7"}))["replaced"] is True
    assert json_of(client.post(PINGS, json=report, headers={header: "period-8"}))["replaced"] is False


def test_keys_from_a_newer_sender_are_kept_in_the_stored_document(collector: Flask) -> None:
    report = engine_report(commands={"A": 1})
    report["schema-version"] = 3
    report["product"]["internals"]["database"]["flavour"] = "aurora"
    report["product"]["internals"]["quantum-engines"] = {"count": 2}
    assert collector.test_client().post(PINGS, json=report).status_code == 202
    [row] = stored_reports(_url(collector))
    assert json.loads(row["document"]) == report


def _with_commands(commands: Any) -> dict[str, Any]:
    report = engine_report()
    report["product"]["internals"]["commands"] = commands
    return report


def _without(*path: str) -> dict[str, Any]:
    report = engine_report()
    node = report
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return report


def _replaced(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    report = engine_report()
    node = report
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return report


INVALID: dict[str, tuple[Any, str]] = {
    "negative count": (_with_commands({"A": {"count": -1}}), "product.internals.commands.A.count"),
    "fractional count": (_with_commands({"A": {"count": 1.5}}), "product.internals.commands.A.count"),
    "count as a string": (_with_commands({"A": {"count": "3"}}), "product.internals.commands.A.count"),
    "count as a boolean": (_with_commands({"A": {"count": True}}), "product.internals.commands.A.count"),
    "count too large": (_with_commands({"A": {"count": 2**63}}), "product.internals.commands.A.count"),
    "count not in an object": (_with_commands({"A": 3}), "product.internals.commands.A"),
    "commands as a list": (_with_commands([{"A": 1}]), "product.internals.commands"),
    "too many command names": (_with_commands({f"Cmd{i}": {"count": 1} for i in range(MAX_NAMES + 1)}),
                               "More than 10,000 names"),
    "a name over 255 characters": (_with_commands({"C" * 256: {"count": 1}}), "1 to 255 characters"),
    "an empty name": (_with_commands({"": {"count": 1}}), "1 to 255 characters"),
    "a name with a NUL": (_with_commands({"A\x00B": {"count": 1}}), "NUL"),
    "missing installation": (_without("installation"), "installation: Missing data"),
    "null installation": (_replaced(("installation",), None), "installation: Field may not be null"),
    "numeric installation": (_replaced(("installation",), 42), "installation: Not a valid string"),
    "missing product": (_without("product"), "product: Missing data"),
    "missing product version": (_without("product", "version"), "product.version"),
    "empty product name": (_replaced(("product", "name"), ""), "product.name"),
    "database as a string": (_replaced(("product", "internals", "database"), "PostgreSQL"),
                             "product.internals.database"),
    "webapps as a string": (_replaced(("product", "internals", "webapps"), "cockpit"), "product.internals.webapps"),
    "a malformed start date": (_replaced(("product", "internals", "data-collection-start-date"), "yesterday"),
                               "data-collection-start-date"),
    "not an object": ([engine_report()], "JSON object"),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_an_invalid_report_gets_a_400_naming_the_problem_and_nothing_is_stored(collector: Flask, case: str) -> None:
    body, expected = INVALID[case]
    response = collector.test_client().post(PINGS, json=body)
    _assert_camunda_error(response, 400)
    assert json_of(response)["type"] == "InvalidRequestException"
    assert expected in json_of(response)["message"]
    assert stored_reports(_url(collector)) == []


def test_exactly_ten_thousand_names_fit_the_default_max_body_and_are_accepted(collector: Flask) -> None:
    commands = {f"C{i:04d}": {"count": i} for i in range(MAX_NAMES)}
    response = collector.test_client().post(PINGS, json=_with_commands(commands))
    assert response.status_code == 202, json_of(response)
    usage = json_of(collector.test_client().get("/collector/api/usage"))
    assert len(usage["commands"]) == MAX_NAMES - 1  # the count-0 name adds nothing to a sum
    assert sum(usage["commands"].values()) == sum(range(MAX_NAMES))


def test_a_name_of_255_characters_is_kept_whole(database_url: str, tmp_path: Path) -> None:
    app = make_collector_app(database_url, tmp_path)
    name = "\u00e9" + "Cmd" * 84 + "xy"
    assert len(name) == 255
    assert app.test_client().post(PINGS, json=_with_commands({name: {"count": 3}})).status_code == 202
    assert json_of(app.test_client().get("/collector/api/usage"))["commands"] == {name: 3}


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"{not json", "not JSON"), (b"\xff\xfe{}", "not JSON in UTF-8"), (b"", "not JSON")],
)
def test_a_body_that_is_not_json_gets_a_400(collector: Flask, body: bytes, message: str) -> None:
    response = collector.test_client().post(PINGS, data=body, content_type="application/json")
    _assert_camunda_error(response, 400)
    assert message in json_of(response)["message"]
    assert stored_reports(_url(collector)) == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          "application/jsonx", None])
def test_a_content_type_other_than_json_gets_a_415(collector: Flask, content_type: str | None) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = collector.test_client().post(PINGS, data=json.dumps(engine_report()), headers=headers)
    _assert_camunda_error(response, 415)
    assert stored_reports(_url(collector)) == []


def test_json_with_a_charset_is_json(collector: Flask) -> None:
    response = collector.test_client().post(PINGS, data=json.dumps(engine_report()).encode(),
                                            content_type="application/json; charset=utf-8")
    assert response.status_code == 202


def test_a_body_over_max_body_gets_a_413_whether_its_length_is_declared_or_not(tmp_path: Path) -> None:
    app = make_collector_app(f"sqlite:///{tmp_path / 'c.sqlite'}", tmp_path, CAMUNDA_TELEMETRY_COLLECTOR_MAX_BODY=4096)
    report = _with_commands({f"Command{i}": {"count": i} for i in range(200)})
    body = json.dumps(report).encode()
    assert len(body) > 4096
    client = app.test_client()
    _assert_camunda_error(client.post(PINGS, data=body, content_type="application/json"), 413)

    # no Content-Length (a chunked body, as a server hands it on): read up to MAX_BODY + 1 bytes
    chunked = client.post(PINGS, input_stream=io.BytesIO(body), content_type="application/json",
                          environ_overrides={"wsgi.input_terminated": True})
    _assert_camunda_error(chunked, 413)
    assert stored_reports(_url(app)) == []
    small = json.dumps(engine_report()).encode()
    assert client.post(PINGS, data=small, content_type="application/json").status_code == 202


@pytest.mark.parametrize("header", ["Telemetry-Report-Id", "X-Telemetry-Report-Id"])
@pytest.mark.parametrize("report_id", ["", "x" * 129, "two words", "caf\u00e9"])
def test_a_malformed_report_id_gets_a_400(collector: Flask, header: str, report_id: str) -> None:
    response = collector.test_client().post(PINGS, json=engine_report(),
                                            headers={header: report_id.encode().decode("latin-1")})
    _assert_camunda_error(response, 400)
    assert header in json_of(response)["message"]
    assert stored_reports(_url(collector)) == []


@pytest.fixture
def guarded(tmp_path: Path) -> Flask:
    return make_collector_app(f"sqlite:///{tmp_path / 'c.sqlite'}", tmp_path,
                              CAMUNDA_TELEMETRY_COLLECTOR_TOKENS="alpha-token, beta-token")


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", "Bearer alpha-token2", "Basic YWxwaGEtdG9rZW46", "alpha-token", "Bearer"]
)
def test_with_tokens_a_sender_without_a_valid_one_gets_a_401(guarded: Flask, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = guarded.test_client().post(PINGS, json=engine_report(), headers=headers)
    _assert_camunda_error(response, 401)
    assert json_of(response)["type"] == "AuthenticationException"
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert stored_reports(_url(guarded)) == []


@pytest.mark.parametrize("token", ["alpha-token", "beta-token"])
def test_with_tokens_each_one_is_accepted(guarded: Flask, token: str) -> None:
    response = guarded.test_client().post(PINGS, json=engine_report(), headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 202


def test_the_token_is_checked_before_the_body_is_read(guarded: Flask) -> None:
    response = guarded.test_client().post(PINGS, data=b"x" * (1024 * 1024), content_type="text/plain")
    _assert_camunda_error(response, 401)


def test_without_tokens_anonymous_reports_are_accepted(collector: Flask) -> None:
    assert collector.test_client().post(PINGS, json=engine_report()).status_code == 202


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_pings_takes_only_post_and_answers_other_methods_in_json(collector: Flask, method: str) -> None:
    response = collector.test_client().open(PINGS, method=method)
    _assert_camunda_error(response, 405)
    assert response.headers["Allow"] == "POST, OPTIONS"


def test_unknown_paths_under_the_prefix_are_json_404s(collector: Flask) -> None:
    client: FlaskClient = collector.test_client()
    _assert_camunda_error(client.get("/collector/api/nothing"), 404)
    _assert_camunda_error(client.get("/collector/installations/unknown-installation"), 404)


@pytest.mark.parametrize(
    "body",
    [b"[" * 60_000, b'{"a":' * 40_000,
     json.dumps({**engine_report(), "extra": json.loads("[" * 200 + "]" * 200)}).encode()],
)
def test_a_deeply_nested_body_gets_a_400_and_nothing_is_stored(collector: Flask, body: bytes) -> None:
    response = collector.test_client().post(PINGS, data=body, content_type="application/json")
    _assert_camunda_error(response, 400)
    assert "nested deeper" in json_of(response)["message"]
    assert stored_reports(_url(collector)) == []


@pytest.mark.parametrize("method", ["PROPFIND", "MKCOL", "BREW", "PUT"])
@pytest.mark.parametrize("prefix", ["/collector", ""])
def test_any_method_on_a_collector_route_is_the_json_405_with_the_real_allow(
    tmp_path: Path, method: str, prefix: str
) -> None:
    app = make_collector_app(f"sqlite:///{tmp_path / 'c.sqlite'}", tmp_path,
                             CAMUNDA_TELEMETRY_COLLECTOR_URL_PREFIX=prefix)
    client = app.test_client()
    read_only = {"GET", "HEAD", "OPTIONS"}
    for path, allowed in [("/pings", {"POST", "OPTIONS"}), ("/api/installations", read_only),
                          ("/api/usage", read_only), ("/api/openapi.json", read_only), ("/", read_only),
                          ("/installations/x", read_only), ("/assets/collector.css", read_only)]:
        response = client.open(prefix + path, method=method)
        _assert_camunda_error(response, 405)
        assert set(response.headers["Allow"].replace(" ", "").split(",")) == allowed, path
        assert "GET" in client.options(prefix + path).headers["Allow"] or path == "/pings"
