"""Real server processes for tests: gunicorn, waitress-serve and ``flask run`` on 127.0.0.1.

:func:`serve` starts one on a free port with the given environment, waits until it answers and
always stops it (by its PID; gunicorn's whole process group) when the ``with`` block ends, also
on failure. Its stderr goes to a file whose tail :meth:`Server.failure` adds to assertion messages.
:func:`drive` sends requests from a few client threads with ``http.client``.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from .children import tied
from .documents import Counts, counts
from .net import free_port
from .serving_app import ALL_METRICS, PID_HEADER

__all__ = [
    "APP_FACTORY",
    "EXAMPLE_APP",
    "REPO",
    "Counts",
    "Reply",
    "Server",
    "assert_served",
    "counts",
    "drive",
    "flask_cli",
    "free_port",
    "gunicorn_options",
    "read_everywhere",
    "serve",
    "server_env",
    "shared_counts",
    "wait_for",
    "wait_for_counts",
    "wait_until_ready",
]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
#: The WSGI app the servers run unless told otherwise.
APP_FACTORY = "tests.support.serving_app:create_app"
#: The example engine (``example_app/``), for tests that serve it as a user would.
EXAMPLE_APP = "example_app:create_app"
STARTUP_DEADLINE = 60.0
STOP_DEADLINE = 30.0

#: The extension's count table (default name).
COUNT_TABLE = "camunda_telemetry_count"
#: Log lines that mean something went wrong in a server (a traceback, a failed flush).
ERROR_MARKERS = ("Traceback (most recent call last)", "telemetry flush failed", "[ERROR]", "[CRITICAL]")



def server_env(database_url: str, **settings: Any) -> dict[str, str]:
    """The environment of a server (and of the CLI) using ``database_url``; ``settings`` are
    ``CAMUNDA_TELEMETRY_*`` keys without the prefix (``scope="process"``) or full variable names."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAMUNDA_TELEMETRY_", "FLASK_", "SERVING_APP_"))}
    env.update(
        PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
        PYTHONUNBUFFERED="1",
        CAMUNDA_TELEMETRY_DATABASE_URI=database_url,
        CAMUNDA_TELEMETRY_FLUSH_INTERVAL="0.3",
    )
    for name, value in settings.items():
        key = name if name.isupper() else "CAMUNDA_TELEMETRY_" + name.upper()
        env[key] = str(value)
    return env


def wait_for(condition: Callable[[], Any], what: str, deadline: float = 30.0, pause: float = 0.1) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > end:
            raise AssertionError(f"gave up after {deadline:.0f}s waiting for {what}; last result: {result!r}")
        time.sleep(pause)


@dataclass(frozen=True)
class Reply:
    status: int
    pid: int | None
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Server:
    """A running server process (for gunicorn: the master, leader of its own process group)."""

    kind: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    _stopped: bool = field(default=False, init=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def request(
        self, method: str, path: str, timeout: float = 30.0, json_body: Any = None
    ) -> Reply:
        """One request; ``json_body`` is sent as ``application/json``."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if json_body is not None:
                conn.request(method, path, body=json.dumps(json_body), headers={"Content-Type": "application/json"})
            else:
                conn.request(method, path, body=b"" if method == "POST" else None)
            response = conn.getresponse()
            body = response.read()
            pid = response.getheader(PID_HEADER)
            return Reply(response.status, int(pid) if pid else None, body)
        finally:
            conn.close()

    def telemetry(self, path: str = "/telemetry/data") -> tuple[dict[str, Any], int | None]:
        """The document and the PID of the process that answered."""
        reply = self.request("GET", path)
        assert reply.status == 200, self.failure(f"GET {path} answered {reply.status}: {reply.body[:500]!r}")
        return reply.json(), reply.pid

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def failure(self, message: str) -> str:
        """``message`` with the tail of the server's log, for assertion messages."""
        tail = self.stderr()[-4000:]
        return f"{message}\n--- {self.kind} log (tail) ---\n{tail}"

    def errors(self) -> list[str]:
        """The log lines that show an error (tracebacks, failed flushes)."""
        return [line for line in self.stderr().splitlines() if any(m in line for m in ERROR_MARKERS)]

    def worker_pids(self) -> set[int]:
        """The PIDs of the master's child processes (gunicorn's workers)."""
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        return {int(p) for p in children.read_text().split()} if children.exists() else set()

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def stop(self, sig: int | None = None) -> int:
        """Stop gracefully (gunicorn: SIGTERM; waitress and werkzeug: SIGINT), then make sure the
        whole process group is gone. Returns the exit code (negative: killed by a signal)."""
        if self._stopped:
            return self.process.returncode
        self._stopped = True
        if sig is None:
            sig = signal.SIGTERM if self.kind == "gunicorn" else signal.SIGINT
        try:
            if self.process.poll() is None:
                os.kill(self.pid, sig)
                with suppress(subprocess.TimeoutExpired):
                    self.process.wait(STOP_DEADLINE)
        finally:
            with suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)  # leftovers of the group (workers of a dead master)
            self.process.wait(STOP_DEADLINE)
        return self.process.returncode


def gunicorn_options() -> list[str]:
    """gunicorn 24+ opens a control socket (and a thread for it) in the master, at one path per
    user: switched off, so that servers of parallel tests do not share it."""
    import gunicorn.config

    known = {flag for setting in gunicorn.config.KNOWN_SETTINGS for flag in setting.cli or ()}
    return ["--no-control-socket"] if "--no-control-socket" in known else []


def _command(kind: str, port: int, args: Iterable[str], app: str) -> list[str]:
    if kind == "gunicorn":
        return [
            str(BIN / "gunicorn"),
            "--bind", f"127.0.0.1:{port}",
            "--workers", "4",
            "--graceful-timeout", "20",
            "--log-level", "info",
            *gunicorn_options(),
            *args,
            f"{app}()",
        ]
    if kind == "waitress":
        return [str(BIN / "waitress-serve"), "--listen", f"127.0.0.1:{port}", *args, "--call", app]
    if kind == "werkzeug":
        return [
            str(BIN / "flask"), "--app", app, "run",
            "--host", "127.0.0.1", "--port", str(port), "--no-reload", "--no-debugger", *args,
        ]
    raise ValueError(f"unknown server kind {kind!r}")


def wait_until_ready(
    process: subprocess.Popen[bytes], ready: Callable[[], bool], failure: Callable[[str], str], what: str
) -> None:
    """Poll ``ready`` (an OSError counts as not yet) until it is true. Fails, with ``failure``
    adding the log's tail, when ``process`` exits first or after STARTUP_DEADLINE seconds."""
    end = time.monotonic() + STARTUP_DEADLINE
    while True:
        if process.poll() is not None:
            raise AssertionError(failure(f"{what} exited with {process.returncode} while starting"))
        with suppress(OSError):
            if ready():
                return
        if time.monotonic() > end:
            raise AssertionError(failure(f"{what} did not answer within {STARTUP_DEADLINE:.0f}s"))
        time.sleep(0.1)


@contextmanager
def serve(
    kind: str, env: Mapping[str, str], log_dir: Path, args: Iterable[str] = (), app: str = APP_FACTORY
) -> Iterator[Server]:
    """Start ``kind`` (gunicorn, waitress, werkzeug) running the factory ``app`` (``module:name``)
    on a free 127.0.0.1 port and wait until it answers; stop it when the block ends."""
    port = free_port()
    log = log_dir / f"{kind}-{port}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            _command(kind, port, args, app),
            cwd=REPO,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so that stop() reaches every worker
            preexec_fn=tied(),  # dies with this process; stops on SIGINT even if this run ignores it
        )
    server = Server(kind, process, port, log)
    try:
        # an unrouted path: answered (404) without counting anything
        wait_until_ready(process, lambda: server.request("GET", "/__ready__", timeout=5).status == 404,
                         server.failure, kind)
        yield server
    finally:
        server.stop()


def drive(
    servers: Server | list[Server], requests: Iterable[tuple[str, str]], clients: int = 6
) -> list[tuple[tuple[str, str], Reply, float]]:
    """Send every request (method, path), spread over ``servers`` and ``clients`` threads.
    Returns each request with its reply and the monotonic time the reply arrived."""
    targets = servers if isinstance(servers, list) else [servers]
    lock = threading.Lock()
    turn = iter(range(sys.maxsize))

    def send(request: tuple[str, str]) -> tuple[tuple[str, str], Reply, float]:
        with lock:
            server = targets[next(turn) % len(targets)]
        reply = server.request(*request)
        return request, reply, time.monotonic()

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(send, list(requests)))


def assert_served(server: Server, replies: Iterable[tuple[tuple[str, str], Reply, float]]) -> None:
    """Every request got its normal answer (the view's 404 for a missing instance, else 200)."""
    wrong = [
        (request, reply.status)
        for request, reply, _ in replies
        if reply.status != (404 if request[1].endswith("/missing") else 200)
    ]
    assert wrong == [], server.failure(f"{len(wrong)} requests failed, e.g. {wrong[:3]}")


def wait_for_counts(server: Server, wanted: Counts, what: str = "the exact totals") -> dict[str, Any]:
    """Read until a document shows ``wanted`` (the other processes flush within an interval)."""

    def read() -> dict[str, Any] | None:
        doc, _ = server.telemetry()
        return doc if counts(doc) == wanted else None

    found: dict[str, Any] = wait_for(read, what)
    return found


def shared_counts(database_url: str) -> Counts:
    """The totals in the count table, read directly (no flush is triggered)."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(f"SELECT kind, name, total FROM {COUNT_TABLE}")).all()
    finally:
        engine.dispose()
    commands = {name: int(total) for kind, name, total in rows if kind == "command"}
    metrics = {**dict.fromkeys(ALL_METRICS, 0), **{name: int(total) for kind, name, total in rows if kind == "metric"}}
    return commands, metrics


def read_everywhere(
    server: Server, minimum: int = 16, deadline: float = 30.0, path: str = "/telemetry/data"
) -> list[tuple[int, dict[str, Any]]]:
    """Read ``path`` (JSON) at least ``minimum`` times, several reads at once, until every
    process of ``server`` (each gunicorn worker alive at the end) has answered at least once.
    Returns ``(pid, document)`` for every read, in order."""
    reads: list[tuple[int, dict[str, Any]]] = []
    end = time.monotonic() + deadline
    with ThreadPoolExecutor(8) as pool:
        while True:
            for doc, pid in pool.map(lambda _: server.telemetry(path), range(8)):
                assert pid is not None
                reads.append((pid, doc))
            workers = server.worker_pids() or {server.pid}
            if len(reads) >= minimum and workers <= {pid for pid, _ in reads}:
                return reads
            if time.monotonic() > end:
                raise AssertionError(
                    server.failure(f"not every process answered within {deadline:.0f}s: {workers=}, {len(reads)} reads")
                )


def flask_cli(
    env: Mapping[str, str], *args: str, input: str | None = None, app: str = APP_FACTORY
) -> subprocess.CompletedProcess[str]:
    """Run ``flask --app <app> <args>`` with ``env`` (default: the serving app)."""
    return subprocess.run(
        [str(BIN / "flask"), "--app", app, *args],
        cwd=REPO,
        env=dict(env),
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
    )
