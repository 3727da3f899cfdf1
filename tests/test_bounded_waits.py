"""Every wait on the database is bounded by ``CAMUNDA_TELEMETRY_DB_TIMEOUT``: with the tables
locked by another connection, a read answers 503 within the bound (the extension's own engine
and the host's ``db``), retries of "database is locked" stay within it, and a graceful shutdown
gives up within it and logs the counts it could not write."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_camunda_telemetry import ConfigurationError, DatabaseUnavailableError, TelemetryExt
from flask_camunda_telemetry.state import get_state
from flask_camunda_telemetry.web.flight import SHARE_WAIT, SingleFlight

from .support.apps import host_app, make_app
from .support.bounds import within
from .support.databases import locked, server_backends
from .support.processes import serve, server_env, wait_for

T = TypeVar("T")

TIMEOUT = 1.0
#: generous: the bound, the watchdog's grace and a slow CI machine; before the fix these never answered
LIMIT = TIMEOUT + 5
TABLES = ("camunda_telemetry_count", "camunda_telemetry_property")
BOUNDED: dict[str, Any] = {
    "CAMUNDA_TELEMETRY_DB_TIMEOUT": TIMEOUT,
    "CAMUNDA_TELEMETRY_FLUSH_INTERVAL": 3600,
    "CAMUNDA_TELEMETRY_PROMETHEUS_URL": "/telemetry/metrics",
    "CAMUNDA_TELEMETRY_REPORT_URL": "http://127.0.0.1:9/report",
}
READS = ("/telemetry/data", "/telemetry/", "/telemetry/metrics", "/telemetry/configuration")


def own_app(url: str, tmp_path: Path) -> Flask:
    return make_app(url, tmp_path / "instance", **BOUNDED)


def hosts_db_app(url: str, tmp_path: Path) -> Flask:
    app, db = host_app(tmp_path / "instance", SQLALCHEMY_DATABASE_URI=url, **BOUNDED)
    TelemetryExt(app, db=db)
    with app.app_context():
        db.create_all()
    return app


def assert_503(response: Any, path: str) -> None:
    assert response.status_code == 503, (path, response.status_code, response.get_data(as_text=True)[:300])
    if path != "/telemetry/":  # the page answers an HTML 503; the others Camunda's JSON error
        body = response.get_json()
        assert set(body) == {"type", "message", "code"} and body["type"] == "ProcessEngineException", body


@pytest.mark.parametrize("make", [own_app, hosts_db_app], ids=["own-engine", "hosts-db"])
def test_every_read_answers_503_within_the_bound_while_the_tables_are_locked(
    database_url: str, tmp_path: Path, make: Callable[[str, Path], Flask]
) -> None:
    app = make(database_url, tmp_path)
    client = app.test_client()
    for path in READS:  # tables made, installation id and consent written
        assert client.get(path).status_code == 200, path

    with locked(database_url, TABLES):
        for path in READS:
            response, elapsed = within(LIMIT, lambda path=path: client.get(path))  # type: ignore[misc]
            assert_503(response, path)
            assert elapsed < LIMIT
        time.sleep(TIMEOUT)  # the last read in flight ends within the bound (plus the watchdog's grace)

    for path in READS:  # recovered, without a restart
        assert client.get(path).status_code == 200, path


def test_a_flush_gives_up_within_the_bound_while_the_tables_are_locked(database_url: str, tmp_path: Path) -> None:
    """The flush's retries of "database is locked" / lock waits stay within one bound (SQLite
    used to retry a 30 s busy timeout 12 times: 364 s)."""
    state = get_state(own_app(database_url, tmp_path))
    state.count("Before", 1)
    state.flush()
    state.count("During", 1)
    with locked(database_url, TABLES):
        start = time.monotonic()
        with pytest.raises(DatabaseUnavailableError):
            within(LIMIT, state.flush)
        assert time.monotonic() - start < LIMIT
    state.flush()  # kept, and written once the lock is gone
    assert state.store.read_counts()["command"] == {"Before": 1, "During": 1}


def test_shutdown_gives_up_within_the_bound_and_logs_what_it_could_not_write(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = own_app(database_url, tmp_path)
    state = get_state(app)
    state.count("Written", 1)  # starts the flush thread, whose first sync writes it
    deadline = time.monotonic() + 30
    while state.store.read_counts().get("command") != {"Written": 1} and time.monotonic() < deadline:
        time.sleep(0.02)  # until that first sync has written it
    with state.flusher.busy:  # and its thread is idle: what follows is only written at shutdown
        assert state.store.read_counts()["command"] == {"Written": 1}
    state.count("StartProcessInstanceCmd", 3)
    state.mark("root-process-instance-start", 2)
    with locked(database_url, TABLES), caplog.at_level(logging.WARNING, "flask_camunda_telemetry"):
        _, elapsed = within(2 * TIMEOUT + 5, state.close)
    assert elapsed < 2 * TIMEOUT + 5
    lost = [r.getMessage() for r in caplog.records if "could not be written" in r.getMessage()]
    assert len(lost) == 1, caplog.text
    assert "5 counts" in lost[0]
    assert "StartProcessInstanceCmd=3" in lost[0] and "root-process-instance-start=2" in lost[0]


@pytest.mark.parametrize("value", [0.4, 3601, "inf", "nan", True, "soon", -1])
def test_the_timeout_is_validated(value: object, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="CAMUNDA_TELEMETRY_DB_TIMEOUT"):
        make_app(None, tmp_path, CAMUNDA_TELEMETRY_DB_TIMEOUT=value)


def test_the_timeout_defaults_to_5_seconds_and_reads_the_environment_form(tmp_path: Path) -> None:
    assert get_state(make_app(None, tmp_path / "a")).config.db_timeout == 5.0
    app = make_app(None, tmp_path / "b", CAMUNDA_TELEMETRY_DB_TIMEOUT="2.5")
    assert get_state(app).config.db_timeout == 2.5


def test_reads_of_a_locked_database_never_eat_the_hosts_threads(database_url: str, tmp_path: Path) -> None:
    """gunicorn ``--threads 4``, the tables locked, six reads in flight: one thread waits on the
    database, the others answer 503 at once, and the host's own view still answers promptly
    (before: no answer within 15 s)."""
    env = server_env(database_url, db_timeout=3, flush_interval=3600)
    with serve("gunicorn", env, tmp_path, ["--workers", "1", "--threads", "4"]) as server:
        assert server.request("GET", "/telemetry/data").status == 200
        with locked(database_url, TABLES), ThreadPoolExecutor(6) as pool:
            reads = [pool.submit(server.request, "GET", "/telemetry/data", 30.0) for _ in range(6)]
            time.sleep(0.5)  # all six sent; the first waits on the database
            start = time.monotonic()
            host = server.request("GET", "/engine-rest/process-instance", timeout=15)
            elapsed = time.monotonic() - start
            statuses = [read.result().status for read in reads]
        assert host.status == 200
        assert elapsed < 2.0, f"the host's view took {elapsed:.1f} s"
        assert statuses == [503] * 6
        # recovered, once what was stuck behind the lock (the flush thread's first flush) has ended
        wait_for(lambda: server.request("GET", "/telemetry/data").status == 200, "reads to recover", deadline=15)


def test_the_locks_a_stuck_flush_holds_are_waited_on_at_most_the_bound(tmp_path: Path) -> None:
    """While the flush thread holds the state's and the store's locks during a database call that
    hangs, a read gives up on them within the bound (before: it waited as long as the call)."""
    state = get_state(make_app(f"sqlite:///{tmp_path / 't.sqlite'}", tmp_path / "instance", **BOUNDED))
    state.count("Kept", 1)
    for lock, read in ((state.counts._lock, state.counts.shown), (state.store._lock, state.store.installation_id)):  # type: ignore[attr-defined]
        # as the flush thread holds it during a call that hangs
        with lock, pytest.raises(DatabaseUnavailableError, match="CAMUNDA_TELEMETRY_DB_TIMEOUT"):
            within(LIMIT, read)
    assert state.counts.shown().commands == {"Kept": 1}


def test_concurrent_reads_share_one_flight_or_answer_at_once() -> None:
    flights = SingleFlight()
    release = threading.Event()
    calls: list[str] = []

    def slow() -> str:
        calls.append("slow")
        release.wait(10)
        return "result"

    with ThreadPoolExecutor(4) as pool:
        leader = pool.submit(flights.run, "data", slow, 10, contextlib.nullcontext)
        time.sleep(0.2)
        sharer = pool.submit(flights.run, "data", lambda: "other", 10, contextlib.nullcontext)
        time.sleep(0.1)
        release.set()
        assert (leader.result(), sharer.result()) == ("result", "result")
    assert calls == ["slow"]  # one thread read the database for both

    release.clear()
    start = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        leader = pool.submit(flights.run, "data", slow, 10, contextlib.nullcontext)
        time.sleep(0.2)
        others = [pool.submit(flights.run, key, slow, 10, contextlib.nullcontext) for key in ("data", "prometheus")]
        for other in others:  # the read in flight is stuck: the others answer 503 within SHARE_WAIT
            with pytest.raises(DatabaseUnavailableError, match="Another read"):
                other.result()
        assert time.monotonic() - start < 0.2 + SHARE_WAIT + 1
        release.set()
        assert leader.result() == "result"
    with pytest.raises(DatabaseUnavailableError, match=r"did not answer within 0\.5 s"):
        flights.run("data", lambda: time.sleep(2), 0.5, contextlib.nullcontext)


@pytest.mark.parametrize("database_url", [b for b in server_backends() if b == "postgresql"], indirect=True)
def test_the_own_postgresql_engine_bounds_each_session_and_spends_no_round_trip_on_it(
    database_url: str, tmp_path: Path
) -> None:
    """The extension's own engine sets the bound once per connection (libpq ``options``), so a
    transaction with the whole bound left sends no ``set_config`` of its own (one round trip
    fewer per flush and per report received); the host's engine still gets it per transaction."""
    app = own_app(database_url, tmp_path)
    state = get_state(app)
    sent: list[str] = []
    sa.event.listen(state.store.engine, "before_cursor_execute", lambda *args: sent.append(str(args[2])))
    state.count("StartProcessInstanceCmd", 1)
    state.flush()
    with state.store.engine.connect() as conn:
        bounds = [conn.exec_driver_sql(f"SHOW {name}").scalar() for name in ("statement_timeout", "lock_timeout")]
    assert bounds == ["1s", "1s"]  # TIMEOUT
    assert sent and not [statement for statement in sent if "set_config" in statement], sent
    hosts = hosts_db_app(database_url, tmp_path / "host")
    with hosts.app_context():
        host_engine = get_state(hosts).store.engine
    host_sent: list[str] = []
    sa.event.listen(host_engine, "before_cursor_execute", lambda *args: host_sent.append(str(args[2])))
    get_state(hosts).count("X", 1)
    get_state(hosts).flush()
    assert [statement for statement in host_sent if "set_config" in statement]
