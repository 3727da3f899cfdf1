"""The servers the tests start never outlive the test process, and stop on SIGINT even when the
test run was started with SIGINT ignored (a background job of a shell without job control, as
a CI runner may start it). A real parent process is killed with SIGKILL, as an interrupted run
would be; a real waitress, gunicorn, ``flask run``, database server and Prometheus are started."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .support.browser import CHROMIUM
from .support.databases import selected_backends, unavailable
from .support.processes import REPO, assert_served, drive, serve, server_env, shared_counts
from .support.serving_app import expected_counts, mixed_traffic

#: How long the children may take to go once their parent is killed (a "does not hang" bound:
#: gunicorn's workers notice their master's death within a second or so).
GONE_WITHIN = 60.0

#: What the parent runs: start one server as the tests do, print the PIDs of all the processes
#: it started (gunicorn's workers, PostgreSQL's backends, Chromium's helpers too), wait.
PARENT = """
import json, os, sys, time
from pathlib import Path
kind, folder = sys.argv[1], Path(sys.argv[2])
if kind == "prometheus":
    from tests.support.prometheus_server import prometheus_server
    started = prometheus_server(folder, ["127.0.0.1:9"], "/metrics")
elif kind == "browser":
    from tests.support.browser import open_browser
    started = open_browser()
elif kind in ("postgresql", "mariadb"):
    from tests.support.servers import private_server
    started = private_server(kind)
else:
    from tests.support.processes import serve, server_env
    started = serve(kind, server_env(f"sqlite:///{folder / 't.sqlite'}"), folder)

def descendants(pid):
    found = [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return found + [grandchild for child in found for grandchild in descendants(child)]

with started:
    print(json.dumps(descendants(os.getpid())), flush=True)
    time.sleep(600)
"""


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@contextmanager
def parent_of(kind: str, folder: Path) -> Iterator[tuple[subprocess.Popen[str], list[int]]]:
    """A process that started a ``kind`` server as the tests do; the PIDs of the server's
    processes. Whatever remains is killed afterwards (by PID)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, kind, str(folder)], cwd=REPO, env=env, text=True,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
    )
    pids: list[int] = []
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        assert line, f"the parent could not start {kind}"
        pids = json.loads(line)
        yield parent, pids
    finally:
        for pid in [parent.pid, *pids]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        parent.wait()


def kinds() -> list[str]:
    servers = [b for b in selected_backends() if b in ("postgresql", "mariadb")]
    return ["waitress", "werkzeug", "gunicorn", "prometheus", "browser", *servers]


@pytest.mark.parametrize("kind", kinds())
def test_servers_die_with_the_test_process(kind: str, tmp_path: Path) -> None:
    """The browser needs nothing of ours: Playwright's driver ends on its pipe's end, and closes
    Chromium; the test keeps it so."""
    needed = {"prometheus": "prometheus", "browser": CHROMIUM}.get(kind)
    if needed is not None and shutil.which(needed) is None:
        unavailable(f"{needed} is not installed")
    with parent_of(kind, tmp_path) as (parent, pids):
        assert pids and all(alive(pid) for pid in pids)
        os.kill(parent.pid, signal.SIGKILL)  # an interrupted run: no finally, no stop()
        parent.wait()
        end = time.monotonic() + GONE_WITHIN
        while any(alive(pid) for pid in pids) and time.monotonic() < end:
            time.sleep(0.1)
        assert [pid for pid in pids if alive(pid)] == []


@pytest.mark.parametrize("kind", ["waitress", "werkzeug"])
def test_sigint_stops_a_server_of_a_test_run_that_ignores_it(kind: str, tmp_path: Path) -> None:
    """A run started in the background by a shell without job control ignores SIGINT, and so
    would every server it starts: waitress and ``flask run`` would then never stop on Ctrl+C."""
    url = f"sqlite:///{tmp_path / 'telemetry.sqlite'}"
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with serve(kind, server_env(url, flush_interval=600), tmp_path) as server:
            requests = mixed_traffic(10)
            assert_served(server, drive(server, requests))
            assert server.stop(signal.SIGINT) == 0, server.failure(f"{kind} did not stop on SIGINT")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert shared_counts(url) == expected_counts(requests)  # the last flush ran
