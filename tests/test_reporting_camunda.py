"""On a Camunda 7 database (``PROPERTY_TABLE = "ACT_GE_PROPERTY"``), the consent is the Camunda
engine's own ``camunda.telemetry.enabled``: read as Camunda reads it, written as Camunda writes
it, and a change the engine makes itself is followed (consent given zeroes what came before)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from flask_camunda_telemetry import ReportRefusedError
from flask_camunda_telemetry.state import get_state

from .support.apps import reporting_app
from .support.camunda import CAMUNDA_ROWS, CAMUNDA_TABLE, camunda_rows, camunda_schema
from .support.databases import INSTALLATION_ID, execute
from .support.recorder import Recorder, recorder

CONSENT = "camunda.telemetry.enabled"


@pytest.fixture
def rec() -> Iterator[Recorder]:
    with recorder() as running:
        yield running


def test_reports_with_the_consent_a_camunda_engine_gave(database_url: str, tmp_path: Path, rec: Recorder) -> None:
    camundas_id = str(uuid.uuid4())
    camunda_schema(database_url, installation=camundas_id, extra=((CONSENT, "true", 1),))
    app = reporting_app(database_url, tmp_path, rec.url, CAMUNDA_TELEMETRY_INITIALIZE=False, **CAMUNDA_TABLE)
    client = app.test_client()
    client.post("/process-definition/invoice/start")

    assert client.get("/telemetry/configuration").get_json() == {"enableTelemetry": True}
    assert get_state(app).reporting.report_now().confirmed  # type: ignore[union-attr]
    assert rec.received[0].json()["installation"] == camundas_id

    assert client.post("/telemetry/configuration", json={"enableTelemetry": False}).status_code == 204
    rows = camunda_rows(database_url)
    assert rows[CONSENT] == ("false", 2)  # as Camunda's SetPropertyCmd writes it
    # Nothing else was written into Camunda's table: the schedule lives in the count table.
    assert set(rows) == {name for name, _, _ in CAMUNDA_ROWS} | {INSTALLATION_ID, CONSENT}
    with pytest.raises(ReportRefusedError, match="Consent is false"):
        get_state(app).reporting.report_now()  # type: ignore[union-attr]


@pytest.mark.parametrize(("stored", "answered"), [("null", None), ("NULL", None), ("TRUE", True), ("yes", False)])
def test_reads_the_value_as_camundas_is_telemetry_enabled_cmd(
    database_url: str, tmp_path: Path, stored: str, answered: bool | None
) -> None:
    camunda_schema(database_url, installation=str(uuid.uuid4()), extra=((CONSENT, stored, 1),))
    app = reporting_app(database_url, tmp_path, "https://collector.example.com/pings",
                        CAMUNDA_TELEMETRY_INITIALIZE=True, **CAMUNDA_TABLE)
    assert app.test_client().get("/telemetry/configuration").get_json() == {"enableTelemetry": answered}
    assert camunda_rows(database_url)[CONSENT] == (stored, 1)  # INITIALIZE writes only a missing row


def test_consent_the_engine_gives_itself_is_followed(database_url: str, tmp_path: Path, rec: Recorder) -> None:
    """The Camunda engine sharing the database switches the flag (Admin's Telemetry Settings):
    the next look zeroes what was counted without consent, on this side too."""
    camunda_schema(database_url, installation=str(uuid.uuid4()), extra=((CONSENT, "false", 1),))
    app = reporting_app(database_url, tmp_path, rec.url, **CAMUNDA_TABLE)
    client = app.test_client()
    client.post("/process-definition/invoice/start")  # without consent
    execute(database_url, f"update ACT_GE_PROPERTY set VALUE_ = 'true', REV_ = 2 where NAME_ = '{CONSENT}'")
    client.post("/external-task/fetchAndLock")

    assert get_state(app).reporting.report_now().confirmed  # type: ignore[union-attr]

    (sent,) = rec.received
    assert sent.json()["product"]["internals"]["commands"] == {}  # both counts came before the next look
    client.post("/external-task/fetchAndLock")
    assert client.get("/telemetry/data").get_json()["product"]["internals"]["commands"] == {
        "FetchExternalTasksCmd": {"count": 1}
    }
