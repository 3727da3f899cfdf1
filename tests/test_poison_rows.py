"""One bad row never sinks the batch: names from endpoints are made safe once, counts are bounded
at the API, and a row the database still refuses is set aside while the others are written.

Before: an endpoint name over 255 characters or holding NUL, or ``count_command("X", 2**63)``,
made every flush fail forever on PostgreSQL and MariaDB (every read a 503, no other count
written) and a read a 500 on SQLite.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st

from flask_camunda_telemetry import DatabaseUnavailableError, InvalidCountError, TelemetryExt, UnknownMetricError
from flask_camunda_telemetry.counting.names import MAX_COUNT, safe_name, storable
from flask_camunda_telemetry.state import TelemetryState, get_state

from .support.apps import make_app
from .support.databases import count_rows, execute, server_backends
from .support.documents import counts, json_of

QUIET = {"CAMUNDA_TELEMETRY_FLUSH_INTERVAL": 3600}
LONG = "a" * 300
LONG_SAFE = "a" * 246 + "~" + hashlib.sha256(LONG.encode()).hexdigest()[:8]


@pytest.fixture
def quiet_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = make_app(database_url, tmp_path / "instance", None, **QUIET)
    yield app
    get_state(app).close(flush=False)


def commands_of(app: Flask) -> dict[str, int]:
    response = app.test_client().get("/telemetry/data")
    assert response.status_code == 200, json_of(response)
    return counts(json_of(response))[0]


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "set aside" in r.getMessage()]


def test_endpoint_names_too_long_or_unprintable_are_counted_under_a_safe_name(
    quiet_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    def view() -> str:
        return "ok"

    quiet_app.add_url_rule("/long", endpoint=LONG, view_func=view)
    quiet_app.add_url_rule("/nul", endpoint="with\x00nul\x85", view_func=view)
    client = quiet_app.test_client()
    with caplog.at_level(logging.WARNING, "flask_camunda_telemetry"):
        for _ in range(2):
            assert client.get("/long").status_code == 200
            assert client.get("/nul").status_code == 200
        assert client.post("/process-definition/x/start").status_code == 200
        assert commands_of(quiet_app) == {
            "StartProcessInstanceCmd": 1, LONG_SAFE: 2, "with\\x00nul\\x85": 2
        }
    warned = [r.getMessage() for r in caplog.records if "is counted as" in r.getMessage()]
    assert len(warned) == 2  # once per endpoint, not per request
    assert any("'with\\\\x00nul\\\\x85'" in message for message in warned)


@given(st.text(max_size=600))
def test_a_safe_name_is_storable_stable_and_kept_when_already_fine(name: str) -> None:
    safe = safe_name(name)
    assert storable(safe)
    assert safe_name(name) == safe
    if storable(name):
        assert safe == name


def test_count_arguments_are_checked_with_a_clear_error(sqlite_app: Flask) -> None:
    telemetry = TelemetryExt()
    for bad in (2**63, MAX_COUNT + 1, 0, -1, True, 1.0, "3"):
        with pytest.raises(InvalidCountError, match="positive integer of at most 1,000,000,000"):
            telemetry.count_command("X", bad, app=sqlite_app)  # type: ignore[arg-type]
        with pytest.raises(InvalidCountError, match="positive integer"):
            telemetry.mark_occurrence("root-process-instance-start", bad, app=sqlite_app)  # type: ignore[arg-type]
    for name in ("a" * 256, "nul\x00", "c1\x85", "lone\ud800", " ", ""):
        with pytest.raises(ValueError, match="command name"):  # InvalidCountError is a ValueError
            telemetry.count_command(name, app=sqlite_app)
    with pytest.raises(UnknownMetricError):
        telemetry.mark_occurrence("process-starts", app=sqlite_app)
    telemetry.count_command("X", MAX_COUNT, app=sqlite_app)
    telemetry.mark_occurrence("flow-node-instances", 2, app=sqlite_app)  # the public name is accepted too
    assert commands_of(sqlite_app) == {"X": MAX_COUNT}
    response = sqlite_app.test_client().get("/telemetry/data")
    assert counts(json_of(response))[1]["activity-instance-start"] == 2


def add_unchecked(state: TelemetryState, **names: int) -> None:
    """Counts that bypass the API's checks, as a bug or a future path might make them (and start
    no flush thread: the test flushes)."""
    for name, n in names.items():
        state.counts.commands.add(name, n)


def test_rows_that_cannot_be_stored_are_set_aside_and_the_others_written(
    quiet_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    state = get_state(quiet_app)
    quiet_app.test_client().post("/process-definition/x/start")
    add_unchecked(state, ok=3, X=2**63)
    state.counts.commands.add(LONG, 1)
    state.counts.commands.add("nul\x00", 1)
    with caplog.at_level(logging.ERROR, "flask_camunda_telemetry"):
        state.flush()  # no error: the bad rows are set aside
        assert commands_of(quiet_app) == {"StartProcessInstanceCmd": 1, "ok": 3}
        add_unchecked(state, ok=1, X=1)
        state.flush()
    assert commands_of(quiet_app) == {"StartProcessInstanceCmd": 1, "ok": 4}  # X stays set aside
    logged = refusals(caplog)
    assert len(logged) == 3 and any("command 'X'" in message for message in logged)
    assert {name for _, name in state.store.refused.reasons} == {"X", LONG, "nul\x00"}


def near_the_limit(url: str) -> None:
    execute(url, "INSERT INTO camunda_telemetry_count (kind, name, total) "
                 "VALUES ('command', 'Big', 9223372036854775800)")


# SQLite refuses nothing here: a sum past BIGINT becomes a REAL. The per-call bound keeps real
# counts 9 billion calls away from that.
@pytest.mark.parametrize("database_url", server_backends(), indirect=True)
def test_a_row_the_database_refuses_is_set_aside_and_the_batch_written(
    quiet_app: Flask, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    state = get_state(quiet_app)
    state.store.create_tables()
    near_the_limit(database_url)
    add_unchecked(state, A=2, Big=10, Z=1)  # "Big" sorts between the others
    with caplog.at_level(logging.ERROR, "flask_camunda_telemetry"):
        state.flush()
        add_unchecked(state, A=1, Big=1)
        state.flush()
    assert count_rows(database_url, "command") == {"A": 3, "Big": 9223372036854775800, "Z": 1}
    assert len(refusals(caplog)) == 1 and "command 'Big'" in refusals(caplog)[0]


class FailOnce:
    """The store's upsert, refusing ``bad`` as the database would, and losing the connection on
    ``lost`` once the batch is written row by row."""

    def __init__(self, upsert: Any, bad: str, lost: str) -> None:
        self.upsert, self.bad, self.lost, self.armed = upsert, bad, lost, True

    def __call__(self, conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
        names = {row["name"] for row in rows}
        if self.bad in names:
            raise sa.exc.DataError("INSERT ...", {}, ValueError("value refused"))
        if self.armed and len(rows) == 1 and self.lost in names:
            self.armed = False
            raise sa.exc.OperationalError("INSERT ...", {}, ConnectionError("server closed the connection"))
        self.upsert(conn, rows)


def test_an_outage_while_writing_row_by_row_writes_nothing_and_keeps_every_count(
    quiet_app: Flask, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = get_state(quiet_app)
    store = state.store
    store.create_tables()
    monkeypatch.setattr(store, "_upsert", FailOnce(store._upsert, bad="Bad", lost="C"))
    add_unchecked(state, A=2, Bad=1, C=5)
    with pytest.raises(DatabaseUnavailableError):
        state.flush()
    assert count_rows(database_url, "command") == {}  # "A" was not committed alone
    add_unchecked(state, A=1)
    state.flush()
    assert count_rows(database_url, "command") == {"A": 3, "C": 5}  # each written exactly once
