"""Reporting: what it adds per request with the collector dead or hanging, next to reporting off.

Three copies of the engine-like app (cluster scope, flushing every second), each in a process
of its own, so that one's threads never run during another's timing: ``off`` (no
``CAMUNDA_TELEMETRY_REPORT_URL``); ``dead`` (a report every second to a port nothing listens on:
every attempt refused at once, two retries with backoff, the reporter busy with its database
work all along); ``hanging`` (a report every second to a server that accepts the connection and
never answers: the reporter waits in its attempt, ``REPORT_TIMEOUT`` 30 s). The 40-route mix is
sent to each app in turn, round by round in a shuffled order: wall clock and this thread's CPU
time per request, and the ratio to ``off`` per round. Reporting adds nothing to the request
path, so the ratios are noise around 1. At the end each app says what its reporter did.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import multiprocessing
import socket
import sys
import threading
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

from . import harness
from .bench_app import create_app, request_mix
from .harness import NOTHING_MEASURABLE, Goal, Spread, goal_table, median, nothing_measurable, table

__all__ = ["measure", "report"]

MODES = ("off", "dead", "hanging")
REPORTING = {"initialize": True, "report_interval": 1, "report_delay": 0, "report_retries": 2}


@contextlib.contextmanager
def hanging_server() -> Iterator[tuple[int, list[socket.socket]]]:
    """A port that accepts connections and never answers; yields it and the connections held."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
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


def _requester(conn: Connection, mode: str, url: str | None, batch: int, database_url: str, instance: str) -> None:
    """A child process with one app; times a batch of requests each time the parent says "read"."""
    logger = logging.getLogger("flask_camunda_telemetry")  # the dead reporter's warnings: off the terminal
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    options = {} if url is None else {**REPORTING, "report_url": url, "report_timeout": 30 if mode == "hanging" else 1}
    app = create_app("ext-cluster", database_url=database_url, instance_path=instance, flush_interval=1.0,
                     telemetry_options=options)  # fmt: skip
    telemetry = app.extensions["bench_telemetry"]
    environs = harness.prepare(request_mix())
    try:
        harness.drive(app, environs, batch)  # warm-up; the first count starts the flush and report threads
        conn.send("ready")
        while conn.recv() == "read":
            gc.collect()
            conn.send(harness.drive(app, environs, batch))
        reporting = telemetry.reporting(app)
        status = None if reporting is None else reporting.status()
        conn.send({"reporter running": reporting is not None and reporting.thread.alive,
                   "last error": None if status is None else status.last_error})  # fmt: skip
    finally:
        harness.close_app(app)
        conn.close()


def _rounds(conns: dict[str, Connection], rounds: int) -> dict[str, dict[str, list[float]]]:
    """Interleaved rounds: ``{"cpu"|"wall": {mode: [us/request per round]}}``."""
    cpu: dict[str, list[float]] = {mode: [] for mode in MODES}

    def wall_us(mode: str) -> float:
        conns[mode].send("read")
        cpu_us, wall = conns[mode].recv()
        cpu[mode].append(cpu_us)
        return float(wall)

    wall = harness.interleaved(MODES, rounds, 13, wall_us, progress="reporting")
    return {"cpu": cpu, "wall": wall}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    rounds, batch = (11, 320) if args.quick else (31, 1000)
    spawn = multiprocessing.get_context("spawn")
    with harness.workspace(args) as space, hanging_server() as (port, held):
        urls = {"off": None, "dead": f"http://127.0.0.1:{dead_port()}/pings", "hanging": f"http://127.0.0.1:{port}/p"}
        children, conns = [], {}
        for mode in MODES:
            parent, child = spawn.Pipe()
            process = spawn.Process(target=_requester, daemon=True,
                                    args=(child, mode, urls[mode], batch, space.for_app(f"reporting-{mode}"),
                                          space.instance))  # fmt: skip
            process.start()
            child.close()
            children.append(process)
            conns[mode] = parent
        try:
            for mode, conn in conns.items():
                if conn.recv() != "ready":
                    raise SystemExit(f"{mode}: the app did not start")
            times = _rounds(conns, rounds)
            for conn in conns.values():
                conn.send("stop")
            reporters = {mode: conn.recv() for mode, conn in conns.items()}
        finally:
            for process in children:
                process.join(timeout=30)
                if process.is_alive():
                    process.kill()
        reporters["hanging"]["connections held"] = len(held)
        figures = {kind: {mode: median(values) for mode, values in per_mode.items()}
                   for kind, per_mode in times.items()}  # fmt: skip
        ratios = {kind: {mode: Spread.ratios(per_mode[mode], per_mode["off"]) for mode in MODES[1:]}
                  for kind, per_mode in times.items()}  # fmt: skip
        return {"rounds": rounds, "batch": batch, "median": figures, "ratio": ratios, "reporters": reporters,
                "database": space.describe()}  # fmt: skip


def report(results: dict[str, Any]) -> str:
    lines = [
        "Reporting: the collector dead or hanging, next to reporting off",
        f"   the 40-route mix, {results['rounds']} interleaved rounds of {results['batch']} requests per app, each app "
        f"in a process of its own, cluster scope (database: {results['database']})",
        "   median us/request; the ratio to 'off' per round: median (p25..p75)",
        "",
    ]
    rows = []
    for kind, name in (("wall", "wall clock"), ("cpu", "CPU, request thread")):
        med, ratio = results["median"][kind], results["ratio"][kind]
        spreads = (f"{ratio[m].median:.3f} ({ratio[m].p25:.3f}..{ratio[m].p75:.3f})" for m in MODES[1:])
        rows.append([name, *(f"{med[mode]:.2f}" for mode in MODES), *spreads])
    lines += [*table(["", *MODES, "dead / off", "hanging / off"], rows), "", "   what the reporters did meanwhile:"]
    for mode, info in results["reporters"].items():
        lines.append(f"   {mode:<8} " + ", ".join(f"{k}: {v}" for k, v in info.items()))
    goals = []
    for mode in MODES[1:]:
        for kind, name in (("wall", "wall clock"), ("cpu", "CPU")):
            spread = results["ratio"][kind][mode]
            change = Spread(spread.median - 1, spread.p25 - 1, spread.p75 - 1)  # the ratio as a relative change
            goals.append(Goal(f"reporting {mode}: what it adds per request ({name}, ratio to off)",
                              f"{spread.median:.3f} (p25..p75 {spread.p25:.3f}..{spread.p75:.3f})", NOTHING_MEASURABLE,
                              nothing_measurable(change, 1.0)))  # fmt: skip
    lines += ["", *goal_table(goals)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(harness.main(__spec__.name))
