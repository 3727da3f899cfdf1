"""Processes the sections start: apps read in processes of their own, and gunicorn servers."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from flask import Flask

from tests.support.net import free_port
from tests.support.processes import gunicorn_options

from .bench_app import Call, create_app
from .harness import ROOT, close_app, drive, fetch, interleaved, prepare

__all__ = ["Gunicorn", "Reader", "Reads", "app_with_commands", "peer_with_endpoints", "read_in_processes"]


# -- apps in processes of their own, read on demand ------------------------------------------


def app_with_commands(mode: str, n: int, database_url: str, instance: str, **options: Any) -> Flask:
    """An extension app (``ext-process``, ``ext-cluster``) with ``n`` distinct commands counted,
    and flushed in cluster scope; a long flush interval, so that no background flush runs during
    the timing. ``options`` go to ``bench_app.create_app`` (``telemetry_options=...``)."""
    app = create_app(mode, database_url=database_url, instance_path=instance, flush_interval=3600, **options)
    telemetry = app.extensions["bench_telemetry"]
    for i in range(n):
        telemetry.count_command(f"Cmd{i}", app=app)
    telemetry.flush(app=app)
    return app


def peer_with_endpoints(n: int) -> Flask:
    """prometheus_flask_exporter with ``n`` extra endpoints, each requested once."""
    app = create_app("prometheus", extra_routes=n)
    drive(app, prepare([Call("GET", f"/extra/{i}") for i in range(n)]), n)
    return app


@dataclass(frozen=True)
class Reader:
    """An app to read in a process of its own: ``build(**options)`` (a module-level function)
    makes it, then ``GET path`` (with ``headers``) is timed."""

    build: Callable[..., Flask]
    options: Mapping[str, Any]
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Reads:
    """What :func:`read_in_processes` found for one app."""

    ms: list[float]  # wall-clock milliseconds per read, in order
    size: int  # response bytes
    tail: bytes  # the last bytes of the response


def _serve_reads(conn: Connection, reader: Reader) -> None:
    try:
        app = reader.build(**reader.options)
        template, body = prepare([Call("GET", reader.path)])[0]
        environ = ({**template, **{"HTTP_" + k.upper().replace("-", "_"): v for k, v in reader.headers.items()}}, body)
        status, answer = fetch(app, environ)
        conn.send((status, len(answer), answer[:300], answer[-64:]))
        while conn.recv() == "read":
            conn.send(drive(app, [environ], 1)[1] / 1000)
        close_app(app)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which stops the run
        conn.send(("error", 0, repr(exc).encode(), b""))
    finally:
        conn.close()


def _ask(conn: Connection) -> float:
    conn.send("read")
    ms: float = conn.recv()
    return ms


def read_in_processes(readers: Mapping[str, Reader], reps: int, seed: int) -> dict[str, Reads]:
    """Each app in a spawned process of its own (a read pays the garbage collection of its own
    heap only, as in production); the reads interleaved in a shuffled order each repetition."""
    spawn = multiprocessing.get_context("spawn")
    children = {}
    for label, reader in readers.items():
        parent, child = spawn.Pipe()
        process = spawn.Process(target=_serve_reads, args=(child, reader), daemon=True)
        process.start()
        child.close()
        children[label] = (process, parent)
    try:
        first = {}
        for label, (_, conn) in children.items():
            status, size, head, tail = conn.recv()
            if not status.startswith("200"):
                raise SystemExit(f"{label}: GET {readers[label].path} gave {status}: {head!r}")
            first[label] = (size, tail)
        times = interleaved(readers, reps, seed, lambda label: _ask(children[label][1]))
        return {label: Reads(times[label], *first[label]) for label in readers}
    finally:
        for process, conn in children.values():
            with contextlib.suppress(OSError):
                conn.send("stop")
            process.join(timeout=60)
            if process.is_alive():
                process.kill()
                process.join()


# -- gunicorn servers ------------------------------------------------------------------------


def _process_cpu_seconds(pid: int) -> float:
    """CPU time of one process, all its threads: the scheduler's nanoseconds (schedstat), else
    user + system clock ticks (coarse: 10 ms)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        tasks = Path(f"/proc/{pid}/task").iterdir()
        return sum(int((task / "schedstat").read_text().split()[0]) for task in tasks) / 1e9
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Gunicorn:
    """A gunicorn server of ``benchmarks.bench_app:from_env()`` on 127.0.0.1."""

    label: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, label: str, env: Mapping[str, str], workers: int, tmp: Path) -> Gunicorn:
        port = free_port()
        log = tmp / f"gunicorn-{label}.log"
        command = [
            sys.executable, "-m", "gunicorn",
            "--workers", str(workers),
            "--bind", f"127.0.0.1:{port}",
            "--pythonpath", str(ROOT),
            "--log-level", "warning",
            "--error-logfile", str(log),
            "--graceful-timeout", "20",
            *gunicorn_options(),
            "benchmarks.bench_app:from_env()",
        ]  # fmt: skip
        process = subprocess.Popen(command, env=dict(env), cwd=str(tmp), stdin=subprocess.DEVNULL)
        return cls(label, port, process, log)

    def wait_ready(self, path: str, timeout: float = 60) -> None:
        """Poll ``GET path`` until it answers 200 (one request served)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn ({self.label}) exited: see {self.log}")
            with contextlib.suppress(OSError), urllib.request.urlopen(
                f"http://127.0.0.1:{self.port}{path}", timeout=2
            ) as response:
                if response.status == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn ({self.label}) did not answer within {timeout} s: see {self.log}")

    def cpu_seconds(self) -> float:
        """CPU time used so far by the master and its workers (Linux /proc)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        workers = [int(p) for p in children.read_text().split()] if children.exists() else []
        return sum(_process_cpu_seconds(pid) for pid in [self.process.pid, *workers])

    def stop(self) -> None:
        """SIGTERM (every worker flushes what it counted at exit), then wait."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
