"""An app's telemetry lives as long as the app: once an app is garbage-collected, its flush
and report threads end, the extension's own engine is closed and no exit handler is left for it
(one extension serving many apps from a factory leaks nothing)."""

from __future__ import annotations

import atexit
import gc
import threading
import weakref
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.engine import make_url

from flask_camunda_telemetry import TelemetryExt

from .support.apps import make_app
from .support.databases import ADMIN_URLS
from .support.processes import wait_for

APPS = 60


def _serve(ext: TelemetryExt, database_url: str, instance: Path, i: int) -> Flask:
    """An app from the factory that counts and reads (every other one also reporting)."""
    report = {"CAMUNDA_TELEMETRY_REPORT_URL": "http://127.0.0.1:9/telemetry"} if i % 2 else {}
    app = make_app(database_url, instance / str(i), ext, CAMUNDA_TELEMETRY_FLUSH_INTERVAL=600, **report)
    client = app.test_client()
    assert client.post("/process-definition/invoice/start").status_code == 200
    assert client.get("/telemetry/data").status_code == 200
    return app


#: The server's view of the connections open to one database.
CONNECTIONS = {
    "postgresql": "SELECT count(*) FROM pg_stat_activity WHERE datname = :name",
    "mariadb": "SELECT count(*) FROM information_schema.PROCESSLIST WHERE DB = :name",
}


def _connections(database_url: str) -> int:
    """The connections open to the test's database (0 on SQLite, which has no server)."""
    url = make_url(database_url)
    backend = "mariadb" if url.get_backend_name() in ("mysql", "mariadb") else url.get_backend_name()
    if backend not in CONNECTIONS:
        return 0
    admin = sa.create_engine(ADMIN_URLS[backend])
    try:
        with admin.connect() as conn:
            return int(conn.execute(sa.text(CONNECTIONS[backend]), {"name": url.database}).scalar_one())
    finally:
        admin.dispose()


def test_a_dropped_app_leaves_no_thread_and_no_connection(database_url: str, tmp_path: Path) -> None:
    """One extension, 60 apps from a factory, each counting and reading, then dropped: once
    they are garbage-collected, no app, thread or connection of theirs is left."""
    ext = TelemetryExt()
    baseline = {t.ident for t in threading.enumerate()}
    exit_handlers = atexit._ncallbacks()
    apps: list[weakref.ref[Flask]] = []
    held: list[Flask] = []  # the last few, until their connections are seen (the servers are shared: not 60)
    for i in range(APPS):
        app = _serve(ext, database_url, tmp_path, i)
        apps.append(weakref.ref(app))
        held = [*held[-4:], app]
    del app
    assert _connections(database_url) >= (0 if database_url.startswith("sqlite") else len(held))
    del held

    def left() -> tuple[int, list[str], int]:
        gc.collect()  # a flush thread in the middle of a sync holds its app until the sync ends
        alive = sum(ref() is not None for ref in apps)
        threads = [t.name for t in threading.enumerate() if t.ident not in baseline]
        return alive, threads, _connections(database_url)

    wait_for(lambda: left() == (0, [], 0), "every app, thread and connection to be gone", deadline=60)
    # one exit handler per process for the flush threads and one for the reporters, not one per app
    assert atexit._ncallbacks() - exit_handlers <= 2


def test_close_ends_the_threads_and_closes_the_connections_of_a_live_app(database_url: str, tmp_path: Path) -> None:
    """``close(app)`` does at once what the app's collection does: its threads end and the
    extension's own engine lets go of its connections; counting again starts over."""
    ext = TelemetryExt()
    baseline = {t.ident for t in threading.enumerate()}
    app = _serve(ext, database_url, tmp_path, 1)  # reporting too
    ext.close(app)

    def new_threads() -> list[str]:
        return [t.name for t in threading.enumerate() if t.ident not in baseline]

    # the app's own threads end at once, and the process's database watchdog within a second
    # (before: still alive more than six seconds later)
    wait_for(lambda: new_threads() == [], "every thread of the package to end", deadline=1.0)
    assert _connections(database_url) == 0
    ext.count_command("Again", app=app)
    assert ext.state(app).lifetime().commands == {"StartProcessInstanceCmd": 1, "Again": 1}
    ext.close(app)
