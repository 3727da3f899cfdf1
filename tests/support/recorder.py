"""A plain HTTP collector for tests: a real server on 127.0.0.1, in a thread, that records every
request it gets and answers as a test tells it: any status (202, 500, 404, 301...), or not at
all (hang until released), or closes the connection without an answer, or trickles its answer a
byte at a time, or is down (nothing listens on its port) and comes back on the same port.
It can also serve HTTPS with a certificate the test made.
"""

from __future__ import annotations

import http.server
import json
import os
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .net import free_port

__all__ = ["HEADER", "Behaviour", "Received", "Recorder", "pid_of_client", "recorder", "report_totals"]

#: The report id header (flask_camunda_telemetry.reporting.REPORT_ID_HEADER).
HEADER = "Telemetry-Report-Id"
#: A guard: a hanging answer never waits longer than this.
HANG_LIMIT = 120.0
INTERNAL_METRICS = (
    "root-process-instance-start",
    "activity-instance-start",
    "executed-decision-instances",
    "executed-decision-elements",
)


@dataclass(frozen=True)
class Behaviour:
    """How the recorder answers: ``kind`` is ``answer`` (with ``status``), ``hang`` (no answer
    until released, then the connection is closed), ``hold`` (no answer until released, then
    as the behaviour of that moment says), ``close`` or ``trickle`` (the answer's bytes one every
    ``pause`` seconds). ``headers``: more header lines of the answer (``Retry-After``, or more
    than http.client reads)."""

    kind: str = "answer"
    status: int = 202
    pause: float = 0.5
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class Received:
    """One request as the recorder got it, and what it answered (None: no answer)."""

    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int
    arrived: float
    answered: int | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def report_id(self) -> str | None:
        return self.headers.get(HEADER.lower())

    @property
    def delivered(self) -> bool:
        return self.answered is not None and 200 <= self.answered < 300


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        owner = self.server.owner
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        received = Received(
            self.path, {k.lower(): v for k, v in self.headers.items()}, body, self.client_address[1], time.monotonic()
        )
        behaviour = owner.arrived(received)
        try:
            self._act(behaviour, received, owner)
        finally:
            received.done.set()

    do_GET = do_POST  # noqa: N815

    def _act(self, behaviour: Behaviour, received: Received, owner: Recorder) -> None:
        if behaviour.kind == "hold":
            owner.released.wait(HANG_LIMIT)
            behaviour = owner.behaviour
        if behaviour.kind == "hang":
            owner.released.wait(HANG_LIMIT)
            self.close_connection = True
            return
        if behaviour.kind == "close":
            self.close_connection = True
            return
        answer = b'{"accepted":true}' if behaviour.status < 300 else b'{"error":"as the test told"}'
        head = f"HTTP/1.1 {behaviour.status} {self.responses.get(behaviour.status, ('',))[0]}\r\n"
        head += "Content-Type: application/json\r\nConnection: close\r\n"
        if 300 <= behaviour.status < 400:
            head += "Location: http://127.0.0.1:1/elsewhere\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in behaviour.headers)
        raw = (head + f"Content-Length: {len(answer)}\r\n\r\n").encode() + answer
        self.close_connection = True
        try:
            if behaviour.kind == "trickle":
                for i in range(len(raw)):
                    if owner.released.wait(behaviour.pause):
                        return
                    self.wfile.write(raw[i : i + 1])
                    self.wfile.flush()
            else:
                self.wfile.write(raw)
        except OSError:  # the client gave up
            return
        received.answered = behaviour.status


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, owner: Recorder, context: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.owner = owner
        if context is not None:
            self.socket = context.wrap_socket(self.socket, server_side=True)


class Recorder:
    """The collector stand-in; use :func:`recorder` to have it started and stopped."""

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        self.port = free_port()
        self._context = context
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._behaviour = Behaviour()
        self.released = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self._context else 'http'}://127.0.0.1:{self.port}/collector/pings"

    def arrived(self, received: Received) -> Behaviour:
        with self._lock:
            self._received.append(received)
            return self._behaviour

    @property
    def behaviour(self) -> Behaviour:
        with self._lock:
            return self._behaviour

    def behave(self, behaviour: Behaviour) -> None:
        """Answer the next requests so; requests hanging or trickling now are released."""
        with self._lock:
            self._behaviour = behaviour
            self.released.set()
            self.released = threading.Event()

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def up(self) -> None:
        """Listen (again, on the same port)."""
        self._server = _Server(self.port, self, self._context)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def down(self) -> None:
        """Stop listening: connections to the port are refused."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(10)

    def wait_for(self, condition: Any, what: str, deadline: float = 60.0) -> list[Received]:
        """Poll until ``condition(received)`` is true; fail after ``deadline`` seconds."""
        end = time.monotonic() + deadline
        while True:
            received = self.received
            if condition(received):
                return received
            if time.monotonic() > end:
                raise AssertionError(f"gave up after {deadline:.0f}s waiting for {what}; got {len(received)} requests")
            time.sleep(0.05)


@contextmanager
def recorder(context: ssl.SSLContext | None = None) -> Iterator[Recorder]:
    rec = Recorder(context)
    rec.up()
    try:
        yield rec
    finally:
        rec.behave(Behaviour())  # release whatever hangs
        rec.down()


def report_totals(received: Iterable[Received]) -> tuple[dict[str, int], dict[str, int]]:
    """The counts over every report delivered (2xx), a resend (same report id) replacing the
    report it repeats, as the collector keeps them. Metrics by internal name."""
    last: dict[str | None, Received] = {}
    for request in received:
        if request.delivered:
            last[request.report_id] = request
    commands: Counter[str] = Counter()
    metrics: Counter[str] = Counter(dict.fromkeys(INTERNAL_METRICS, 0))
    for request in last.values():
        internals = request.json()["product"]["internals"]
        commands.update({name: entry["count"] for name, entry in internals["commands"].items()})
        metrics.update({name: internals["metrics"][name]["count"] for name in INTERNAL_METRICS})
    return dict(commands), dict(metrics)


def _socket_inodes(port: int) -> set[str]:
    """The inodes of the TCP sockets whose local port is ``port``."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def pid_of_client(port: int, candidates: Iterable[int]) -> int | None:
    """Which of ``candidates`` holds the client end of a connection from local port ``port``."""
    inodes = {f"socket:[{inode}]" for inode in _socket_inodes(port)}
    for pid in candidates:
        fds = Path(f"/proc/{pid}/fd")
        try:
            links = {os.readlink(fds / fd) for fd in os.listdir(fds)}
        except OSError:
            continue
        if links & inodes:
            return pid
    return None
