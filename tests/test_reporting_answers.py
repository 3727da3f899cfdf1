"""How the collector's answers are read: a 429 or 503's ``Retry-After`` (seconds or an HTTP-date)
is waited before the retry, at most ``REPORT_INTERVAL``, and a wait longer than the report's
attempts may last gives them up; an answer http.client cannot read is an invalid answer. Either
way the report id and the counts are kept. Real HTTP to the recorder on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from flask_camunda_telemetry.reporting.client import retry_after
from flask_camunda_telemetry.reporting.reporter import Reporting
from flask_camunda_telemetry.state import get_state

from .support.apps import reporting_app
from .support.recorder import Behaviour, Received, Recorder, recorder

#: The reporter thread reports at once, with one retry; attempts may last long (the budget for
#: waits the collector asks for is twice the timeout per attempt).
RETRYING: dict[str, Any] = {
    "CAMUNDA_TELEMETRY_REPORT_DELAY": 0,
    "CAMUNDA_TELEMETRY_REPORT_RETRIES": 1,
    "CAMUNDA_TELEMETRY_REPORT_TIMEOUT": 30,
}


@pytest.fixture
def rec() -> Iterator[Recorder]:
    with recorder() as running:
        yield running


@pytest.fixture
def apps() -> Iterator[list[Flask]]:
    made: list[Flask] = []
    yield made
    for app in made:
        get_state(app).close()


def reporting_to(rec: Recorder, tmp_path: Path, apps: list[Flask], **config: Any) -> Reporting:
    """An app reporting to ``rec`` (reporter thread started by a first count)."""
    app = reporting_app(f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path, rec.url, **{**RETRYING, **config})
    apps.append(app)
    assert app.test_client().post("/process-definition/invoice/start").status_code == 200
    reporting = get_state(app).reporting
    assert reporting is not None
    return reporting


def answered(received: list[Received], n: int) -> bool:
    return len(received) >= n and all(r.done.is_set() for r in received[:n])


def commands(received: Received) -> dict[str, int]:
    return {name: e["count"] for name, e in received.json()["product"]["internals"]["commands"].items()}


def test_retry_after_seconds_is_waited_before_the_retry(tmp_path: Path, rec: Recorder, apps: list[Flask]) -> None:
    rec.behave(Behaviour("answer", 429, headers=(("Retry-After", "2"),)))
    reporting_to(rec, tmp_path, apps)
    rec.wait_for(lambda r: answered(r, 1), "the first attempt")
    rec.behave(Behaviour("answer", 202))
    first, second = rec.wait_for(lambda r: answered(r, 2), "the retry")[:2]
    assert second.arrived - first.arrived >= 2.0  # the backoff alone waits 0.25 to 0.5 s
    assert (second.report_id, second.body) == (first.report_id, first.body)
    assert second.delivered


def test_retry_after_date_is_waited_at_most_the_report_interval(
    tmp_path: Path, rec: Recorder, apps: list[Flask]
) -> None:
    later = email.utils.format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60), usegmt=True)
    rec.behave(Behaviour("answer", 503, headers=(("Retry-After", later),)))
    reporting_to(rec, tmp_path, apps, CAMUNDA_TELEMETRY_REPORT_INTERVAL=3)
    rec.wait_for(lambda r: answered(r, 1), "the first attempt")
    rec.behave(Behaviour("answer", 202))
    first, second = rec.wait_for(lambda r: answered(r, 2), "the retry")[:2]
    assert 3.0 <= second.arrived - first.arrived < 45  # the interval, not the minute asked for
    assert (second.report_id, second.body) == (first.report_id, first.body)


def test_a_wait_longer_than_the_reports_budget_gives_up_its_attempts(
    tmp_path: Path, rec: Recorder, apps: list[Flask], caplog: pytest.LogCaptureFixture
) -> None:
    """An hour asked for, with an hourly report: no sleeping an hour inside one report (nor past
    a claim's lease); the next report, an interval later, carries the counts under the same id."""
    rec.behave(Behaviour("answer", 429, headers=(("Retry-After", "3600"),)))
    with caplog.at_level(logging.WARNING, "flask_camunda_telemetry"):
        reporting = reporting_to(rec, tmp_path, apps)
        rec.wait_for(lambda r: answered(r, 1), "the first attempt")
        rec.wait_for(lambda r: reporting.status().last_at is not None, "the outcome to be recorded")
    assert len(rec.received) == 1
    assert reporting.status().last_error == "the collector answered 429"
    assert "the collector asked to wait 3600 s" in caplog.text
    assert reporting.thread.alive
    rec.behave(Behaviour("answer", 202))
    result = reporting.report_now()  # the next report: the same id, the same counts
    assert result.confirmed
    first, second = rec.received
    assert (second.report_id, commands(second)) == (first.report_id, commands(first)) == (
        first.report_id, {"StartProcessInstanceCmd": 1})


def test_stop_ends_a_retry_after_wait(tmp_path: Path, rec: Recorder, apps: list[Flask]) -> None:
    rec.behave(Behaviour("answer", 503, headers=(("Retry-After", "60"),)))
    reporting = reporting_to(rec, tmp_path, apps)
    rec.wait_for(lambda r: answered(r, 1), "the first attempt")
    reporting.stop()  # waits at most 2 s for the report in flight
    assert not reporting.thread.alive
    assert len(rec.received) == 1


def test_an_answer_http_client_cannot_read_is_an_invalid_answer(
    tmp_path: Path, rec: Recorder, apps: list[Flask]
) -> None:
    """A 200 with more than 100 header lines: http.client refuses it. The collector may or may not
    have kept the report; the counts stay and the next report resends them under the same id."""
    many = tuple((f"X-Line-{n}", "x") for n in range(100))
    rec.behave(Behaviour("answer", 200, headers=many))
    app = reporting_app(f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path, rec.url)
    apps.append(app)
    app.test_client().post("/process-definition/invoice/start")
    runner = app.test_cli_runner()

    failed = runner.invoke(args=["telemetry", "report"])
    status = runner.invoke(args=["telemetry", "status"])
    rec.behave(Behaviour("answer", 202))
    sent = runner.invoke(args=["telemetry", "report"])

    assert failed.exit_code == 1
    assert failed.stdout.startswith("invalid answer: the collector's answer could not be read (HTTPException: "
                                    "got more than 100 headers)")
    last = dict(line.split(": ", 1) for line in status.stdout.splitlines())["Last report"]
    assert last.endswith("(failed: invalid answer: the collector's answer could not be read)")
    assert sent.exit_code == 0, sent.output
    first, second = rec.received
    assert (second.report_id, commands(second)) == (first.report_id, commands(first)) == (
        first.report_id, {"StartProcessInstanceCmd": 1})


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("4", 4.0),
        (" 120 ", 120.0),
        ("0", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date past: no wait
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("Wednesday, 21-Oct-15 07:28:30 GMT", 30.0),  # RFC 850, which HTTP-date still allows
        ("-1", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_values(value: str | None, seconds: float | None) -> None:
    now = dt.datetime(2015, 10, 21, 7, 28, tzinfo=dt.UTC)
    assert retry_after(value, now) == seconds
