"""Reporting: what it adds per request when the collector is dead or hangs, next to reporting off.

Run from the repository root (about a minute; ``--quick``: about 20 s)::

    .venv/bin/python -m benchmarks.reporting

Three copies of the engine-like app (cluster scope, flushing every second), each in a process of
its own so that one's threads never run during another's timing:

``off``
    no ``CAMUNDA_TELEMETRY_REPORT_URL``;
``dead``
    reporting every second to a port nothing listens on (every attempt refused at once, two
    retries with backoff: the reporter thread is busy all along, with its database work);
``hanging``
    reporting every second to a server that accepts the connection and never answers (the
    reporter waits in its attempt, ``REPORT_TIMEOUT`` 30 s).

The 40-route request mix is sent to each app in turn, round by round in a shuffled order: wall
clock and this thread's CPU time per request, and the ratio to ``off`` per round. Reporting adds
nothing to the request path, so the ratios are noise around 1. At the end each app says what its
reporter did (attempts seen by the hanging server, the dead one's last error).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import random
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from .run import (
    Databases,
    drive,
    ext_app,
    interleaved,
    median,
    prepare,
    quartiles,
    ratios,
    reader_processes,
    request_mix,
)

__all__ = ["measure", "report"]

MODES = ("off", "dead", "hanging")
REPORTING = {"initialize": True, "report_interval": 1, "report_delay": 0, "report_retries": 2}


@contextlib.contextmanager
def hanging_server() -> Iterator[tuple[int, list[socket.socket]]]:
    """A port that accepts connections and never answers; yields it and the connections held."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], held
    finally:
        stop.set()
        thread.join(5)
        for conn in [*held, listener]:
            conn.close()


def dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again: connections are refused


def _requester(conn: Connection, mode: str, report_url: str | None, batch: int, database_url: str | None,
               tmp: str) -> None:
    """A child process with one app; times a batch of requests each time the parent says "read"."""
    logger = logging.getLogger("flask_camunda_telemetry")  # the dead reporter's warnings: kept off the terminal
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    try:
        options: dict[str, Any] = {}
        if report_url is not None:
            options = {**REPORTING, "report_url": report_url, "report_timeout": 30 if mode == "hanging" else 1}
        app = ext_app("ext-cluster", Databases(database_url, Path(tmp)), f"reporting-{mode}", Path(tmp),
                      flush_interval=1.0, telemetry_options=options)
        environs = prepare(request_mix())
        drive(app, environs, batch)  # warm-up; the first count starts the flush and report threads
        conn.send("ready")
        while (message := conn.recv()) != "stop":
            if message == "read":
                gc.collect()
                conn.send(drive(app, environs, batch))
            else:
                reporting = app.extensions["camunda_telemetry"].reporting
                status = None if reporting is None else reporting.status()
                alive = reporting is not None and reporting.thread.alive
                conn.send({"last_error": getattr(status, "last_error", None), "reporter_alive": alive})
    finally:
        conn.close()


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Per-request wall and CPU microseconds per round and mode; ``args.quick`` for fewer rounds."""
    quick = bool(getattr(args, "quick", False))
    rounds, batch = (11, 300) if quick else (31, 1000)
    with tempfile.TemporaryDirectory(prefix="bench-reporting-") as tmp, hanging_server() as (port, held):
        urls = {"off": None, "dead": f"http://127.0.0.1:{dead_port()}/pings",
                "hanging": f"http://127.0.0.1:{port}/pings"}
        database_url = getattr(args, "database_url", None)
        jobs = {mode: (mode, urls[mode], batch, database_url, tmp) for mode in MODES}
        cpu: dict[str, list[float]] = {mode: [] for mode in MODES}
        with reader_processes(_requester, jobs) as conns:
            for mode, conn in conns.items():
                if conn.recv() != "ready":
                    raise SystemExit(f"{mode}: the app did not start")

            def read(mode: str) -> float:
                conns[mode].send("read")
                cpu_us, wall_us = conns[mode].recv()
                cpu[mode].append(cpu_us)
                return float(wall_us)

            wall = interleaved(MODES, rounds, random.Random(13), read)
            reporters = {}
            for mode, conn in conns.items():
                conn.send("status")
                reporters[mode] = conn.recv()
        reporters["hanging"]["connections held"] = len(held)
        return {"rounds": rounds, "batch": batch, "wall": wall, "cpu": cpu, "reporters": reporters,
                "database": Databases(database_url, Path(tmp)).describe()}


def _row(name: str, values: dict[str, list[float]]) -> list[str]:
    line = [f"   {name:<26}"]
    for mode in MODES:
        line.append(f"{median(values[mode]):>10.2f}")
    for mode in MODES[1:]:
        ratio = ratios(values[mode], values["off"])
        low, high = quartiles(ratio)
        line.append(f"{median(ratio):>8.3f} ({low:.3f}..{high:.3f})")
    return ["".join(line)]


def report(results: dict[str, Any]) -> str:
    """The figures of :func:`measure` as text."""
    lines = [
        f"Reporting: the 40-route mix, {results['rounds']} interleaved rounds of {results['batch']} requests per app,",
        f"each app in its own process, cluster scope (database: {results['database']}); median us/request,",
        "and the ratio to 'off' per round: median (p25..p75)",
        "",
        f"   {'':<26}{'off':>10}{'dead':>10}{'hanging':>10}{'dead/off':>21}{'hanging/off':>21}",
        *_row("wall clock", results["wall"]),
        *_row("CPU (request thread)", results["cpu"]),
        "",
        "   what the reporters did meanwhile:",
    ]
    for mode, info in results["reporters"].items():
        lines.append(f"   {mode:<8} " + ", ".join(f"{k}: {v}" for k, v in info.items()))
    lines.append("   reporting adds nothing to the request path: the ratios are noise around 1")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reporting", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, rougher figures")
    parser.add_argument("--database-url", help="where the apps keep their tables (default: a SQLite file each)")
    print(report(measure(parser.parse_args(argv))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
