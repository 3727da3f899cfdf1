"""``sqlite:///:memory:``: one database in one connection, so the extension's own engine never
lets two threads use it at once (exact counts, no 500), and the host's in-memory engine, whose
pool the host owns, is refused at ``init_app`` with the reason."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_camunda_telemetry import ConfigurationError, TelemetryExt
from flask_camunda_telemetry.state import get_state

from .support.apps import make_app

THREADS = 8
PER_THREAD = 500


@pytest.mark.parametrize("uri", ["sqlite:///:memory:", "sqlite://"])
def test_the_own_in_memory_database_counts_exactly_from_many_threads(tmp_path: Path, uri: str) -> None:
    app = make_app(uri, tmp_path, CAMUNDA_TELEMETRY_FLUSH_INTERVAL=0.05)
    state = get_state(app)
    statuses: list[int] = []
    lock = threading.Lock()

    def hammer() -> None:
        client = app.test_client()
        seen = []
        for i in range(PER_THREAD):
            seen.append(client.get("/process-instance").status_code)
            if i % 25 == 0:
                seen.append(client.get("/telemetry/data").status_code)
            if i % 50 == 0:
                state.flush()
        with lock:
            statuses.extend(seen)

    threads = [threading.Thread(target=hammer) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(statuses) == {200}
    assert get_state(app).lifetime().commands == {"query_process_instances": THREADS * PER_THREAD}


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"SQLALCHEMY_DATABASE_URI": "sqlite:///:memory:"}, "SQLALCHEMY_DATABASE_URI"),
        ({"SQLALCHEMY_DATABASE_URI": "sqlite://"}, "SQLALCHEMY_DATABASE_URI"),
        (
            {"SQLALCHEMY_DATABASE_URI": "sqlite:///x.sqlite", "SQLALCHEMY_BINDS": {"t": "sqlite://"},
             "CAMUNDA_TELEMETRY_BIND_KEY": "t"},
            "SQLALCHEMY_BINDS['t']",
        ),
    ],
)
def test_the_hosts_in_memory_engine_is_refused_at_init_app(tmp_path: Path, config: dict[str, object], key: str) -> None:
    db = SQLAlchemy()
    app = Flask("host", instance_path=str(tmp_path))
    app.config.update(config)
    db.init_app(app)
    with pytest.raises(ConfigurationError) as refused:
        TelemetryExt(app, db=db)
    assert refused.value.key == key
    assert "in-memory" in str(refused.value) and "file" in str(refused.value)


def test_the_host_may_keep_its_in_memory_database_and_give_the_extension_its_own(tmp_path: Path) -> None:
    db = SQLAlchemy()
    app = Flask("host", instance_path=str(tmp_path))
    app.config.update(SQLALCHEMY_DATABASE_URI="sqlite://", CAMUNDA_TELEMETRY_DATABASE_URI="sqlite://")
    db.init_app(app)
    ext = TelemetryExt(app, db=db)
    ext.count_command("X", app=app)
    assert get_state(app).lifetime().commands == {"X": 1}
