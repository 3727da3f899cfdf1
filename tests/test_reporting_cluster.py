"""Reporting from real servers sharing one database: gunicorn's 4 workers and a waitress process
send one report per interval for the installation, lose nothing and count nothing twice, also
when the sending worker is killed in the middle of a send; consent switched on one worker is
what every worker reads; 32 processes creating the consent at once leave one row.

The recorder (tests/support/recorder.py) plays the collector, keeping a resent report (same
report id) in place of the one it repeats, as the collector does.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .support.databases import count_rows, property_rows
from .support.processes import Server, assert_served, counts, drive, serve, server_env, wait_for
from .support.races import PROCESSES, start_together
from .support.recorder import Behaviour, Received, Recorder, pid_of_client, recorder, report_totals
from .support.serving_app import expected_counts, mixed_traffic

CONSENT = "camunda.telemetry.enabled"


@pytest.fixture
def rec() -> Iterator[Recorder]:
    with recorder() as running:
        yield running


def reporting_env(database_url: str, rec: Recorder, **settings: Any) -> dict[str, str]:
    defaults: dict[str, Any] = {"report_url": rec.url, "initialize": "true", "report_interval": 1,
                                "report_delay": 0.5, "report_timeout": 2, "report_retries": 0}
    return server_env(database_url, **{**defaults, **settings})


def start_date(body: dict[str, Any]) -> dt.datetime:
    return dt.datetime.strptime(body["product"]["internals"]["data-collection-start-date"], "%Y-%m-%dT%H:%M:%S.%f%z")


def delivered(rec: Recorder) -> list[Received]:
    return [r for r in rec.received if r.delivered]


def settle(server: Server, database_url: str, rec: Recorder) -> None:
    """Withdraw consent (through one worker) and wait until no report is in flight or claimed:
    from then on nothing moves counts into reports."""
    reply = server.request("POST", "/telemetry/configuration", json_body={"enableTelemetry": False})
    assert reply.status == 204, server.failure(f"consent: {reply.status} {reply.body!r}")
    wait_for(
        lambda: all(r.done.is_set() for r in rec.received) and count_rows(database_url, "meta")["report-lease"] == 0,
        "the last report to end",
    )


def assert_nothing_lost_nothing_twice(
    server: Server, rec: Recorder, requests: list[tuple[str, str]], *, also: dict[str, int] | None = None
) -> None:
    """The reports the collector keeps plus what the document shows are the requests served
    (and the commands ``also`` counted outside requests)."""
    wanted = expected_counts(requests)
    wanted[0].update(also or {})

    def total() -> tuple[dict[str, int], dict[str, int]] | None:
        shown = counts(server.telemetry()[0])
        reported = report_totals(rec.received)
        together = (dict(Counter(reported[0]) + Counter(shown[0])), dict(Counter(reported[1]) + Counter(shown[1])))
        together[1].update({name: together[1].get(name, 0) for name in wanted[1]})
        return together if together == wanted else None

    wait_for(total, f"reports + document == {wanted}")


def serve_everywhere(server: Server) -> list[tuple[str, str]]:
    """Requests until every worker alive has served some; returns them."""
    served: list[tuple[str, str]] = []
    answered: set[int] = set()

    def everyone() -> bool:
        batch = mixed_traffic(1, seed=len(served))
        replies = drive(server, batch)
        assert_served(server, replies)
        served.extend(batch)
        answered.update(reply.pid for _, reply, _ in replies if reply.pid is not None)
        return server.worker_pids() <= answered

    wait_for(everyone, "every worker to serve requests")
    return served


def test_one_report_per_interval_nothing_lost_nothing_twice(
    database_url: str, tmp_path: Path, rec: Recorder
) -> None:
    env = reporting_env(database_url, rec)
    requests: list[tuple[str, str]] = []
    with serve("gunicorn", env, tmp_path) as gunicorn, serve("waitress", env, tmp_path) as waitress:
        began = time.monotonic()
        deadline = began + 120
        while len(delivered(rec)) < 8:  # traffic all along, over at least 8 intervals
            batch = mixed_traffic(2, seed=len(requests))
            assert_served(gunicorn, drive([gunicorn, waitress], batch))
            requests.extend(batch)
            assert time.monotonic() < deadline, gunicorn.failure(f"only {len(delivered(rec))} reports")
            time.sleep(0.2)
        settle(gunicorn, database_url, rec)
        elapsed = time.monotonic() - began
        assert_nothing_lost_nothing_twice(gunicorn, rec, requests)
        assert gunicorn.errors() == [] and waitress.errors() == []

    reports = delivered(rec)
    ids = [r.report_id for r in reports]
    assert len(set(ids)) == len(ids), "a report was sent twice"
    dates = [start_date(r.json()) for r in reports]
    assert dates == sorted(dates) and len(set(dates)) == len(dates), "two reports for one period"
    assert len(reports) <= elapsed / 1 + 1, f"{len(reports)} reports in {elapsed:.1f} s: more than one per interval"
    assert all(r.answered == 202 for r in rec.received)
    assert {r.json()["installation"] for r in reports} == {reports[0].json()["installation"]}


def test_the_sending_worker_killed_mid_send_is_replaced_and_nothing_is_lost(
    database_url: str, tmp_path: Path, rec: Recorder
) -> None:
    """The collector holds the first report without answering; its sender is killed with SIGKILL.
    When its claim expires, another worker sends the same report again (same id) and it is
    subtracted once."""
    rec.behave(Behaviour("hold"))
    env = reporting_env(database_url, rec)
    with serve("gunicorn", env, tmp_path) as gunicorn:
        requests = mixed_traffic(4)
        assert_served(gunicorn, drive(gunicorn, requests))
        first = rec.wait_for(lambda received: len(received) >= 1, "a report in flight")[0]
        sender = pid_of_client(first.client_port, gunicorn.worker_pids())
        assert sender is not None, gunicorn.failure("no worker holds the report's connection")
        os.kill(sender, signal.SIGKILL)
        rec.behave(Behaviour("answer", 202))
        requests += serve_everywhere(gunicorn)  # a reporter runs in every worker that counted

        resent = rec.wait_for(
            lambda received: any(r.delivered and r is not first for r in received), "the report sent again"
        )
        again = next(r for r in resent if r.delivered and r is not first)
        assert again.report_id == first.report_id
        assert pid_of_client(again.client_port, gunicorn.worker_pids()) != sender
        settle(gunicorn, database_url, rec)
        assert_nothing_lost_nothing_twice(gunicorn, rec, requests)
    assert count_rows(database_url, "command-reported") == report_totals(rec.received)[0]


def test_with_preload_the_master_reports_too_and_forks_cleanly(
    database_url: str, tmp_path: Path, rec: Recorder
) -> None:
    """``--preload``: the master counts a command while the app is made, so its flush and report
    threads run before it forks the workers; every process takes part in the claim."""
    env = reporting_env(database_url, rec, SERVING_APP_STARTUP_COMMAND="BootstrapEngineCommand")
    requests: list[tuple[str, str]] = []
    with serve("gunicorn", env, tmp_path, ["--preload"]) as gunicorn:
        while len(delivered(rec)) < 3:
            batch = mixed_traffic(2, seed=len(requests))
            assert_served(gunicorn, drive(gunicorn, batch))
            requests.extend(batch)
            time.sleep(0.2)
        settle(gunicorn, database_url, rec)
        assert_nothing_lost_nothing_twice(gunicorn, rec, requests, also={"BootstrapEngineCommand": 1})
        assert gunicorn.errors() == []
    ids = [r.report_id for r in delivered(rec)]
    assert len(set(ids)) == len(ids)


def test_consent_switched_on_one_worker_is_read_on_all(database_url: str, tmp_path: Path, rec: Recorder) -> None:
    env = reporting_env(database_url, rec, initialize="false")
    with serve("gunicorn", env, tmp_path) as gunicorn:
        for value in (True, False, True):
            reply = gunicorn.request("POST", "/telemetry/configuration", json_body={"enableTelemetry": value})
            assert reply.status == 204
            answers: dict[int, Any] = {}
            while set(answers) < gunicorn.worker_pids():
                reply = gunicorn.request("GET", "/telemetry/configuration")
                assert reply.pid is not None
                answers[reply.pid] = reply.json()
            assert set(map(str, answers.values())) == {str({"enableTelemetry": value})}, answers
        assert property_rows(database_url, CONSENT) == [(CONSENT, "true", 4)]


def test_32_processes_starting_at_once_create_one_consent_and_read_it(database_url: str, tmp_path: Path) -> None:
    """Each process has its own INITIALIZE (true, false, null): whichever wrote the row first,
    every process reads that one value."""
    results = start_together(database_url, tmp_path, "consent")

    rows = property_rows(database_url, CONSENT)
    assert len(rows) == 1
    stored = rows[0][1]
    assert stored in ("true", "false", "null")
    assert {r["consent"] for r in results} == {{"true": True, "false": False, "null": None}[stored]}
    assert len(results) == PROCESSES


def test_a_graceful_shutdown_waits_at_most_two_seconds_for_a_report(
    database_url: str, tmp_path: Path, rec: Recorder
) -> None:
    rec.behave(Behaviour("hang"))
    env = reporting_env(database_url, rec, report_timeout=60)
    with serve("gunicorn", env, tmp_path) as gunicorn:
        assert_served(gunicorn, drive(gunicorn, mixed_traffic(2)))
        rec.wait_for(lambda received: len(received) >= 1, "a report in flight")
        began = time.monotonic()
        assert gunicorn.stop() == 0, gunicorn.failure("gunicorn did not stop cleanly")
        stopped = time.monotonic() - began
    assert stopped < 2 + 8, f"{stopped:.1f} s to stop"  # not the report's 120 s (2 x REPORT_TIMEOUT)
    assert len(rec.received) == 1  # nothing sent at shutdown
