"""With the database server really down, the host's views keep answering, ``/telemetry/data``
answers 503 in Camunda's error shape, counts made meanwhile are kept, and the endpoint recovers
when the server is back, without restarting the app.

Each backend gets a private server (tests/servers.py) on its own port, started and stopped by
these tests only, so the shared servers other tests use are never disturbed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from flask_camunda_telemetry import DatabaseUnavailableError, TelemetryExt

from .support.apps import host_app, make_app
from .support.bounds import within
from .support.databases import count_rows, selected_backends
from .support.documents import counts, driver_text
from .support.servers import DatabaseServer, private_server

SERVER_BACKENDS = [backend for backend in selected_backends() if backend != "sqlite"]
NO_BACKGROUND_FLUSH = {"CAMUNDA_TELEMETRY_FLUSH_INTERVAL": 3600}


@pytest.fixture(scope="module", params=SERVER_BACKENDS)
def private(request: pytest.FixtureRequest) -> Iterator[DatabaseServer]:
    with private_server(request.param) as server:
        yield server


@pytest.fixture
def server(private: DatabaseServer) -> DatabaseServer:
    private.start()  # running at the start of every test, whatever the previous one left
    return private


@pytest.fixture
def url(server: DatabaseServer) -> str:
    return server.create_database(f"ft_{uuid.uuid4().hex[:12]}")


def commands(document: dict[str, Any]) -> dict[str, int]:
    return counts(document)[0]


def assert_host_views_answer(client: FlaskClient, starts: int) -> None:
    for _ in range(starts):
        assert client.post("/process-definition/invoice/start").status_code == 200
    assert client.post("/external-task/fetchAndLock").status_code == 200
    assert client.get("/process-instance/42").get_json() == {"id": "42"}


def assert_unavailable(client: FlaskClient) -> None:
    response = client.get("/telemetry/data")
    assert response.status_code == 503
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"type", "message", "code"}
    assert body["type"] == "ProcessEngineException"
    assert isinstance(body["message"], str) and body["message"]
    assert "the telemetry database is unavailable" in body["message"]
    assert driver_text(body["message"]) == []  # no driver text or SQL: the log has it
    assert body["code"] == 0


def test_an_outage_answers_503_keeps_the_counts_and_recovers(server: DatabaseServer, url: str, tmp_path: Path) -> None:
    ext = TelemetryExt()
    app = make_app(url, tmp_path / "instance", ext, **NO_BACKGROUND_FLUSH)
    client = app.test_client()
    assert_host_views_answer(client, starts=2)
    before = client.get("/telemetry/data").get_json()

    server.stop()

    assert_host_views_answer(client, starts=3)
    assert_unavailable(client)
    with pytest.raises(DatabaseUnavailableError):
        ext.flush(app=app)
    assert_unavailable(client)  # still down: still an answer, not a hang or a 500

    server.start()

    after = client.get("/telemetry/data")
    assert after.status_code == 200
    assert after.get_json()["installation"] == before["installation"]
    assert commands(before) == {"StartProcessInstanceCmd": 2, "FetchExternalTasksCmd": 1, "get_process_instance": 1}
    assert commands(after.get_json()) == {
        "StartProcessInstanceCmd": 5, "FetchExternalTasksCmd": 2, "get_process_instance": 2
    }


def test_a_database_down_from_the_start_is_set_up_once_it_is_there(
    server: DatabaseServer, url: str, tmp_path: Path
) -> None:
    server.stop()
    ext = TelemetryExt()
    app = make_app(url, tmp_path / "instance", ext, **NO_BACKGROUND_FLUSH)  # init_app needs no database
    client = app.test_client()

    assert_host_views_answer(client, starts=1)
    assert_unavailable(client)
    assert_host_views_answer(client, starts=1)

    server.start()

    response = client.get("/telemetry/data")
    assert response.status_code == 200
    assert commands(response.get_json()) == {
        "StartProcessInstanceCmd": 2, "FetchExternalTasksCmd": 2, "get_process_instance": 2
    }
    installation = response.get_json()["installation"]
    again = TelemetryExt()  # another app instance on the same database
    assert again.data(app=make_app(url, tmp_path / "other", again)).installation == installation


def host_db_app(url: str, instance: Path) -> Flask:
    app, db = host_app(instance, SQLALCHEMY_DATABASE_URI=url, **NO_BACKGROUND_FLUSH)
    TelemetryExt(app, db=db)
    return app


def test_with_the_hosts_engine_an_outage_answers_503_and_recovers(
    server: DatabaseServer, url: str, tmp_path: Path
) -> None:
    app = host_db_app(url, tmp_path / "instance")
    client = app.test_client()
    before = client.get("/telemetry/data").get_json()

    server.stop()

    assert_unavailable(client)
    assert client.get("/telemetry/configuration").status_code == 200

    server.start()

    after = client.get("/telemetry/data")
    assert after.status_code == 200
    assert after.get_json()["installation"] == before["installation"]


def test_with_the_hosts_engine_a_restart_between_requests_goes_unnoticed(
    server: DatabaseServer, url: str, tmp_path: Path
) -> None:
    """The host's engine may have no pre-ping: a pooled connection to the old server process is
    dead after a restart. The next read must still answer, not 503 once per pooled connection."""
    app = host_db_app(url, tmp_path / "instance")
    client = app.test_client()
    assert client.get("/telemetry/data").status_code == 200

    server.restart()

    response = client.get("/telemetry/data")
    assert response.status_code == 200, response.get_json()


def test_the_page_says_the_database_is_down_and_recovers(server: DatabaseServer, url: str, tmp_path: Path) -> None:
    app = make_app(url, tmp_path / "instance", None, **NO_BACKGROUND_FLUSH)
    client = app.test_client()
    client.get("/deployment")
    assert client.get("/telemetry/").status_code == 200

    server.stop()

    down = client.get("/telemetry/")
    assert (down.status_code, down.mimetype, down.headers["Retry-After"]) == (503, "text/html", "10")
    body = down.get_data(as_text=True)
    assert "The telemetry database cannot be reached" in body and "Traceback" not in body
    assert "Content-Security-Policy" in down.headers

    server.start()

    again = client.get("/telemetry/")
    assert again.status_code == 200
    assert '<th scope="row">GetDeploymentsCmd</th><td class="num"><data value="1">' in again.get_data(as_text=True)


STOPPED_TIMEOUT = 1.0
#: the bound, the watchdog's grace, libpq's 2 s least connect timeout, and a slow machine
STOPPED_LIMIT = STOPPED_TIMEOUT + 5


def _family(pid: int) -> list[int]:
    """``pid`` and its children (PostgreSQL's backends serve the connections, not the postmaster)."""
    pids = [pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                pids.append(int(stat.parent.name))
    return pids


@contextlib.contextmanager
def frozen(server: DatabaseServer) -> Iterator[None]:
    """The server SIGSTOPped: connections stay open and connects are accepted, nothing answers."""
    assert server.process is not None
    pids = _family(server.process.pid)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


@pytest.mark.parametrize("hosts_db", [False, True], ids=["own-engine", "hosts-db"])
def test_a_server_that_answers_nothing_costs_a_read_or_a_flush_at_most_the_bound(
    server: DatabaseServer, url: str, tmp_path: Path, hosts_db: bool
) -> None:
    """SIGSTOPped: no error ever comes from the server, so only the client can end the wait
    (before: the first read stalled on the pool's pre-ping, then on the socket, for minutes)."""
    settings = {**NO_BACKGROUND_FLUSH, "CAMUNDA_TELEMETRY_DB_TIMEOUT": STOPPED_TIMEOUT}
    ext = TelemetryExt()
    if hosts_db:
        app, db = host_app(tmp_path / "instance", SQLALCHEMY_DATABASE_URI=url, **settings)
        ext = TelemetryExt(app, db=db)
    else:
        app = make_app(url, tmp_path / "instance", ext, **settings)
    client = app.test_client()
    assert client.get("/telemetry/data").status_code == 200
    ext.count_command("StartProcessInstanceCmd", app=app)

    with frozen(server):
        start = time.monotonic()
        response, _ = within(STOPPED_LIMIT, lambda: client.get("/telemetry/data"))
        assert response.status_code == 503, response.get_json()
        assert time.monotonic() - start < STOPPED_LIMIT
        store = ext.state(app).store
        for _ in range(3):  # a pooled connection, then new ones (connects that are never answered)
            with pytest.raises(DatabaseUnavailableError):
                within(STOPPED_LIMIT, store.read_counts)
        # a view that does not use the database (the host's own would wait on it as the host set it up)
        assert client.get("/telemetry/configuration").status_code == 200

    deadline = time.monotonic() + 30
    while (response := client.get("/telemetry/data")).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert response.status_code == 200
    assert commands(response.get_json()).get("StartProcessInstanceCmd") == 1


def test_a_commit_is_never_cut_so_no_count_is_written_twice(server: DatabaseServer, url: str, tmp_path: Path) -> None:
    """The server stops just as a flush commits: the flush waits for the commit's answer instead
    of cutting it at the bound (before: cut, its counts kept and written again, while the server
    had committed them: counted twice)."""
    ext = TelemetryExt()
    app = make_app(url, tmp_path / "instance", ext, **NO_BACKGROUND_FLUSH,
                   CAMUNDA_TELEMETRY_DB_TIMEOUT=STOPPED_TIMEOUT)
    state = ext.state(app)
    state.store.create_tables()
    state.counts.commands.add("StartProcessInstanceCmd")  # counted, with no flush thread to race
    assert server.process is not None
    pids = _family(server.process.pid)

    def resume() -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    waking = threading.Timer(STOPPED_TIMEOUT + 3, resume)

    def stop_at_commit(conn: Any) -> None:
        if waking.is_alive() or waking.finished.is_set():
            return  # once
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        waking.start()  # well after the bound: the commit is sent to a server that answers nothing

    sa.event.listen(state.store.engine, "commit", stop_at_commit)
    try:
        with contextlib.suppress(DatabaseUnavailableError):
            state.flush()
    finally:
        sa.event.remove(state.store.engine, "commit", stop_at_commit)
        waking.join() if waking.is_alive() else resume()
    state.flush()  # writes what the first did not
    assert count_rows(url, "command") == {"StartProcessInstanceCmd": 1}
