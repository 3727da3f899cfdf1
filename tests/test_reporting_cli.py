"""``flask telemetry report [--dry-run]`` and ``flask telemetry status``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from .support.apps import make_app, reporting_app
from .support.recorder import Behaviour, Recorder, recorder


@pytest.fixture
def rec() -> Iterator[Recorder]:
    with recorder() as running:
        yield running


def test_dry_run_prints_exactly_what_report_then_sends(database_url: str, tmp_path: Path, rec: Recorder) -> None:
    app = reporting_app(database_url, tmp_path, rec.url, CAMUNDA_TELEMETRY_REPORT_HEADERS={"X-Fleet": "eu-1"})
    app.test_client().post("/process-definition/invoice/start")
    runner = app.test_cli_runner()

    dry = runner.invoke(args=["telemetry", "report", "--dry-run", "--show-secrets"])
    assert dry.exit_code == 0, dry.output
    assert rec.received == []  # nothing was sent
    sent = runner.invoke(args=["telemetry", "report"])

    assert sent.exit_code == 0, sent.output
    (received,) = rec.received
    request_line, *rest = dry.stdout.splitlines()
    blank = rest.index("")
    headers = dict(line.split(": ", 1) for line in rest[:blank])
    assert request_line == f"POST {rec.url}"
    assert rest[blank + 1].encode() == received.body
    assert {k.lower(): v for k, v in headers.items()} == {
        k: v for k, v in received.headers.items() if k in {h.lower() for h in headers}
    }
    assert set(headers) == {"Content-Type", "User-Agent", "Telemetry-Report-Id", "X-Fleet"}
    assert sent.stdout.splitlines()[0] == "202 Accepted"
    assert '{"accepted":true}' in sent.stdout


def test_dry_run_masks_the_configured_headers_and_the_query_unless_told(tmp_path: Path, rec: Recorder) -> None:
    app = reporting_app(f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path, rec.url + "?token=s3cret&fleet=eu-1",
                        CAMUNDA_TELEMETRY_REPORT_HEADERS={"Authorization": "Bearer t0ken"})
    runner = app.test_cli_runner()

    masked = runner.invoke(args=["telemetry", "report", "--dry-run"])
    shown = runner.invoke(args=["telemetry", "report", "--dry-run", "--show-secrets"])

    assert masked.exit_code == 0 and shown.exit_code == 0, masked.output + shown.output
    assert "s3cret" not in masked.output and "t0ken" not in masked.output
    assert masked.stdout.splitlines()[0] == f"POST {rec.url}?token=***&fleet=***"
    assert "Authorization: ***" in masked.stdout.splitlines()
    assert "Content-Type: application/json" in masked.stdout.splitlines()  # the report's own headers are shown
    assert shown.stdout.splitlines()[0] == f"POST {rec.url}?token=s3cret&fleet=eu-1"
    assert "Authorization: Bearer t0ken" in shown.stdout.splitlines()
    assert rec.received == []


def test_report_needs_consent_and_says_how_to_give_it(tmp_path: Path, rec: Recorder) -> None:
    app = reporting_app(f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path, rec.url, CAMUNDA_TELEMETRY_INITIALIZE=None)
    result = app.test_cli_runner().invoke(args=["telemetry", "report"])
    assert result.exit_code == 1
    assert "Consent is undecided" in result.output and "POST /telemetry/configuration" in result.output
    assert rec.received == []
    # A dry run needs no consent: the owner may look before deciding.
    assert app.test_cli_runner().invoke(args=["telemetry", "report", "--dry-run"]).exit_code == 0


def test_report_prints_a_failure_and_exits_1(tmp_path: Path, rec: Recorder) -> None:
    rec.behave(Behaviour("answer", 500))
    app = reporting_app(f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path, rec.url)
    result = app.test_cli_runner().invoke(args=["telemetry", "report"])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == "500 Internal Server Error"


def test_status_shows_consent_the_last_report_and_the_next(tmp_path: Path, rec: Recorder) -> None:
    app = reporting_app(f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path, rec.url, CAMUNDA_TELEMETRY_INITIALIZE=False)
    runner = app.test_cli_runner()

    def status() -> dict[str, str]:
        result = runner.invoke(args=["telemetry", "status"])
        assert result.exit_code == 0, result.output
        return dict(line.split(": ", 1) for line in result.stdout.splitlines())

    before = status()
    assert before == {
        "Collector": rec.url, "Consent": "false", "Scope": "cluster", "Last report": "never",
        "Next report due": "never (no consent)",
    }
    app.test_client().post("/telemetry/configuration", json={"enableTelemetry": True})
    rec.behave(Behaviour("answer", 502))
    runner.invoke(args=["telemetry", "report"])
    failed = status()
    assert failed["Consent"] == "true"
    assert failed["Last report"].endswith("(failed: the collector answered 502)")
    rec.behave(Behaviour("answer", 202))
    runner.invoke(args=["telemetry", "report"])
    sent = status()
    at = dt.datetime.fromisoformat(sent["Last report"].split(" (")[0])
    assert sent["Last report"].endswith("(sent, 202)")
    assert dt.datetime.fromisoformat(sent["Next report due"]) - at >= dt.timedelta(seconds=3599)


def test_without_a_report_url(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["telemetry", "status"]).stdout.startswith("Reporting: off")
    result = runner.invoke(args=["telemetry", "report"])
    assert result.exit_code == 1 and "CAMUNDA_TELEMETRY_REPORT_URL is not set" in result.output
