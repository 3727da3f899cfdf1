"""Real WSGI servers: which server the document names, and gunicorn ``--preload`` (fork safety)."""

from __future__ import annotations

import importlib.metadata
import signal
from pathlib import Path

import pytest

from .support.processes import (
    Server,
    assert_served,
    counts,
    drive,
    read_everywhere,
    serve,
    server_env,
    shared_counts,
    wait_for,
)
from .support.serving_app import expected_counts, mixed_traffic

# The server, as named in SERVER_SOFTWARE, and the distribution that installs it.
SERVERS = {
    "gunicorn": ("gunicorn", "gunicorn"),
    "waitress": ("waitress", "waitress"),
    "werkzeug": ("Werkzeug", "werkzeug"),  # flask run
}


@pytest.mark.parametrize("kind", list(SERVERS))
def test_application_server_is_the_server_that_serves(kind: str, tmp_path: Path) -> None:
    vendor, distribution = SERVERS[kind]
    installed = importlib.metadata.version(distribution)
    with serve(kind, server_env(f"sqlite:///{tmp_path / 'telemetry.sqlite'}"), tmp_path) as server:
        for path in ("/telemetry/data", "/engine-rest/telemetry/data"):
            doc, _ = server.telemetry(path)
            assert doc["product"]["internals"]["application-server"] == {
                "vendor": vendor,
                "version": f"{vendor}/{installed}",
            }, server.failure(f"{kind}: wrong application-server")
        assert server.errors() == [], server.failure(f"{kind} logged errors")


@pytest.mark.parametrize("kind", ["waitress", "werkzeug"])
def test_reads_and_sigint_flush_the_counts(kind: str, tmp_path: Path) -> None:
    """With a flush interval longer than the test, counts reach the database when a read is
    answered (the reading process flushes first) and when a single-process server stops
    gracefully on SIGINT (Ctrl+C). (gunicorn's SIGTERM, HUP, --max-requests: test_cluster_counts.)"""
    url = f"sqlite:///{tmp_path / 'telemetry.sqlite'}"
    with serve(kind, server_env(url, flush_interval=600), tmp_path) as server:
        first = mixed_traffic(20, seed=1)
        assert_served(server, drive(server, first))
        assert counts(server.telemetry()[0]) == expected_counts(first)
        assert shared_counts(url) == expected_counts(first)

        second = mixed_traffic(20, seed=2)
        assert_served(server, drive(server, second))
        assert server.stop(signal.SIGINT) == 0
    assert server.errors() == [], server.failure(f"{kind} logged errors")
    assert shared_counts(url) == expected_counts(first + second)


def master_resources(server: Server, database_url: str) -> dict[str, object]:
    """What the gunicorn master holds that a database or the flush thread would have opened:
    its thread count, its established TCP connections, and the SQLite files it has open."""
    pid = server.pid
    threads = next(
        int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("Threads:")
    )
    sockets: set[str] = set()
    files: list[str] = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if target.startswith("socket:["):
            sockets.add(target[len("socket:["):-1])
        elif database_url.startswith("sqlite") and target.startswith(database_url.removeprefix("sqlite:///")):
            files.append(target)
    established = []
    for table in ("tcp", "tcp6"):
        lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            if fields[3] == "01" and fields[9] in sockets:  # 01: ESTABLISHED
                established.append(fields[2])
    return {"threads": threads, "established connections": established, "database files": files}


def test_preload_opens_nothing_before_the_fork_and_counts_right(database_url: str, tmp_path: Path) -> None:
    """``--preload``: the app is created in the master, which then forks 4 workers. The master
    must hold no connection and no thread of the extension; the workers count exactly."""
    env = server_env(database_url)
    with serve("gunicorn", env, tmp_path, ["--preload"]) as server:
        requests = mixed_traffic(100)
        replies = drive(server, requests)
        assert {reply.pid for _, reply, _ in replies} <= server.worker_pids()
        wanted = expected_counts(requests)
        wait_for(lambda: counts(server.telemetry()[0]) == wanted, "the exact totals")
        reads = read_everywhere(server)
        assert [counts(doc) for _, doc in reads] == [wanted] * len(reads)
        assert master_resources(server, database_url) == {
            "threads": 1,
            "established connections": [],
            "database files": [],
        }
        assert server.errors() == [], server.failure("gunicorn logged errors")


def test_preload_with_a_count_made_in_the_master(database_url: str, tmp_path: Path) -> None:
    """An app that counts while it is created (a deployment at start-up) makes the master count,
    connect and start its flush thread before it forks. Each worker must start from zero with its
    own connections: the start-up command is counted once, not once per worker."""
    env = server_env(database_url, SERVING_APP_STARTUP_COMMAND="DeployCmd")
    with serve("gunicorn", env, tmp_path, ["--preload"]) as server:
        requests = mixed_traffic(100)
        replies = drive(server, requests)
        assert all(reply.status in (200, 404) for _, reply, _ in replies), server.failure("failed requests")
        commands, metrics = expected_counts(requests)
        wanted = ({**commands, "DeployCmd": 1}, metrics)
        wait_for(lambda: counts(server.telemetry()[0]) == wanted, "the exact totals")
        reads = read_everywhere(server)
        assert [counts(doc) for _, doc in reads] == [wanted] * len(reads)
        assert server.errors() == [], server.failure("gunicorn logged errors")
