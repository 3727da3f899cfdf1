"""Consent: Camunda's ``camunda.telemetry.enabled`` property, shared by every instance on the
database, read and changed through ``/telemetry/configuration`` behind the ``authorize`` hook."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, request

from flask_camunda_telemetry import AuthorizationDenied, TelemetryExt
from flask_camunda_telemetry.state import get_state

from .support.apps import make_app, reporting_app
from .support.databases import PROPERTY_TABLE, property_rows

CONSENT = "camunda.telemetry.enabled"
UNUSED_URL = "http://127.0.0.1:9/collector"  # nothing is sent in these tests


def start_date(doc: dict[str, Any]) -> dt.datetime:
    return dt.datetime.strptime(doc["product"]["internals"]["data-collection-start-date"], "%Y-%m-%dT%H:%M:%S.%f%z")


def commands(doc: dict[str, Any]) -> dict[str, int]:
    return {name: entry["count"] for name, entry in doc["product"]["internals"]["commands"].items()}


def post_consent(app: Flask, value: Any, **kwargs: Any) -> Any:
    return app.test_client().post("/telemetry/configuration", json={"enableTelemetry": value}, **kwargs)


@pytest.mark.parametrize(("initialize", "stored", "answered"), [(True, "true", True), (False, "false", False),
                                                                 (None, "null", None)])
def test_created_once_from_initialize_as_camunda_stores_it(
    database_url: str, tmp_path: Path, initialize: bool | None, stored: str, answered: bool | None
) -> None:
    app = reporting_app(database_url, tmp_path, UNUSED_URL, CAMUNDA_TELEMETRY_INITIALIZE=initialize)

    response = app.test_client().get("/telemetry/configuration")

    assert response.status_code == 200
    assert response.get_json() == {"enableTelemetry": answered}
    assert property_rows(database_url, CONSENT) == [(CONSENT, stored, 1)]
    # Another instance with another INITIALIZE reads what the database holds.
    other = reporting_app(database_url, tmp_path / "other", UNUSED_URL, CAMUNDA_TELEMETRY_INITIALIZE=not initialize)
    assert other.test_client().get("/telemetry/configuration").get_json() == {"enableTelemetry": answered}
    assert property_rows(database_url, CONSENT) == [(CONSENT, stored, 1)]


def test_a_post_on_one_instance_is_what_every_instance_reads(database_url: str, tmp_path: Path) -> None:
    apps = [reporting_app(database_url, tmp_path / f"i{i}", UNUSED_URL, CAMUNDA_TELEMETRY_INITIALIZE=None)
            for i in range(3)]

    for value, stored, rev in ((True, "true", 2), (False, "false", 3), (False, "false", 3), (True, "true", 4)):
        assert post_consent(apps[rev % 3], value).status_code == 204
        assert [app.test_client().get("/telemetry/configuration").get_json() for app in apps] == [
            {"enableTelemetry": value}
        ] * 3
        assert property_rows(database_url, CONSENT) == [(CONSENT, stored, rev)]  # REV_ moves only on a change


def test_consent_given_zeroes_the_document_everywhere_but_no_lifetime_count(database_url: str, tmp_path: Path) -> None:
    """False to true: what was counted without consent is never reported (on every instance)
    and the start date moves; the lifetime counts (the Prometheus export) stay."""
    first = reporting_app(database_url, tmp_path / "a", UNUSED_URL, CAMUNDA_TELEMETRY_INITIALIZE=False)
    second = reporting_app(database_url, tmp_path / "b", UNUSED_URL, CAMUNDA_TELEMETRY_INITIALIZE=False)
    for app in (first, second):
        assert app.test_client().post("/process-definition/invoice/start").status_code == 200
    get_state(second).flush()  # the other instance's counts as of its flush (the consistency bound)
    before = first.test_client().get("/telemetry/data").get_json()
    assert commands(before) == {"StartProcessInstanceCmd": 2}

    assert post_consent(second, True).status_code == 204
    first.test_client().post("/external-task/fetchAndLock")
    get_state(first).flush()

    for app in (first, second):
        after = app.test_client().get("/telemetry/data").get_json()
        assert commands(after) == {"FetchExternalTasksCmd": 1}
        assert start_date(after) > start_date(before)
    lifetime = get_state(first).lifetime().commands
    assert lifetime == {"StartProcessInstanceCmd": 2, "FetchExternalTasksCmd": 1}
    # Giving it again (already true) zeroes nothing.
    assert post_consent(first, True).status_code == 204
    assert commands(second.test_client().get("/telemetry/data").get_json()) == {"FetchExternalTasksCmd": 1}


def test_process_scope_consent_given_covers_each_processes_own_counts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 't.sqlite'}"
    app = reporting_app(
        url, tmp_path, UNUSED_URL, CAMUNDA_TELEMETRY_INITIALIZE=False, CAMUNDA_TELEMETRY_SCOPE="process"
    )
    client = app.test_client()
    client.post("/process-definition/invoice/start")
    assert post_consent(app, True).status_code == 204
    client.post("/external-task/fetchAndLock")
    assert commands(client.get("/telemetry/data").get_json()) == {"FetchExternalTasksCmd": 1}
    assert get_state(app).lifetime().commands == {"StartProcessInstanceCmd": 1, "FetchExternalTasksCmd": 1}


def test_only_a_json_post_switches_it(database_url: str, tmp_path: Path) -> None:
    """A cross-site form (urlencoded, multipart, text/plain) cannot switch consent."""
    app = reporting_app(database_url, tmp_path, UNUSED_URL, CAMUNDA_TELEMETRY_INITIALIZE=False)
    client = app.test_client()
    for content_type in ("application/x-www-form-urlencoded", "text/plain", "multipart/form-data", None):
        response = client.post(
            "/telemetry/configuration", data='{"enableTelemetry": true}', content_type=content_type
        )
        assert response.status_code == 415
        assert response.get_json()["type"] == "NotSupportedException"
    assert client.get("/telemetry/configuration").get_json() == {"enableTelemetry": False}
    for body in (b'{"enableTelemetry": "yes"}', b"{}", b"not json"):
        bad = client.post("/telemetry/configuration", data=body, content_type="application/json")
        assert bad.status_code == 400 and bad.get_json()["type"] == "InvalidRequestException"
    ok = client.post("/telemetry/configuration", data=b'{"enableTelemetry": true}',
                     content_type="application/json; charset=utf-8")
    assert ok.status_code == 204
    assert client.get("/telemetry/configuration").get_json() == {"enableTelemetry": True}


def test_the_authorize_hook_guards_reading_and_changing_it(tmp_path: Path) -> None:
    def authorize() -> bool:
        user = request.headers.get("X-User", "anonymous")
        if user != "admin":
            raise AuthorizationDenied(user)
        return True

    app = make_app(
        f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path, TelemetryExt(authorize=authorize),
        CAMUNDA_TELEMETRY_REPORT_URL=UNUSED_URL, CAMUNDA_TELEMETRY_INITIALIZE=False,
    )
    client = app.test_client()
    read = client.get("/telemetry/configuration", headers={"X-User": "demo"})
    assert read.status_code == 403 and read.get_json()["permissionName"] == "READ"
    change = client.post("/telemetry/configuration", json={"enableTelemetry": True}, headers={"X-User": "demo"})
    assert change.status_code == 403 and change.get_json()["permissionName"] == "SET"
    assert "enableTelemetry" not in read.get_data(as_text=True)
    assert client.get("/telemetry/configuration", headers={"X-User": "admin"}).get_json() == {"enableTelemetry": False}
    assert post_consent(app, True, headers={"X-User": "admin"}).status_code == 204
    assert property_rows(f"sqlite:///{tmp_path / 't.sqlite'}", CONSENT) == [(CONSENT, "true", 2)]


def test_without_a_report_url_nothing_is_stored_as_in_camunda_7_22(database_url: str, tmp_path: Path) -> None:
    app = make_app(database_url, tmp_path, CAMUNDA_TELEMETRY_INITIALIZE=True)
    client = app.test_client()
    assert post_consent(app, True).status_code == 204
    assert client.get("/telemetry/configuration").get_json() == {"enableTelemetry": False}
    client.get("/telemetry/data")
    assert property_rows(database_url, CONSENT, PROPERTY_TABLE) == []
    assert get_state(app).reporting is None


def test_the_openapi_description_says_what_the_consent_routes_answer() -> None:
    from flask_camunda_telemetry.openapi import build_spec

    spec = build_spec()
    configuration = spec["paths"]["/telemetry/configuration"]
    assert {"200", "401", "403", "503"} <= set(configuration["get"]["responses"])
    assert {"204", "400", "401", "403", "415", "503"} <= set(configuration["post"]["responses"])
    consent = spec["components"]["schemas"]["TelemetryConsent"]["properties"]["enableTelemetry"]
    assert consent["type"] == ["boolean", "null"]
