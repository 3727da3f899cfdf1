"""The page's cost next to the JSON's: ``GET /telemetry/`` and ``GET /telemetry/data`` of one app
holding 10,000 command names (target: the page within 2x of the JSON).

Run from the repository root::

    .venv/bin/python -m benchmarks.page [--commands 10000] [--rounds 41]

Both are read through the WSGI app in this process, alternately in a shuffled order, after a
warm-up (templates compiled, engine connected); each figure is the median of ``rounds`` reads,
body included. The ratio is that of the CPU time of the reading thread, which other processes
on the machine inflate less than the wall clock; wall-clock medians are shown beside it.
Both scopes: ``process`` (the counts are in memory: the rendering is most of the read) and
``cluster`` (the counts are read from the database, SQLite here).
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.test import EnvironBuilder

from flask_camunda_telemetry import TelemetryExt

__all__ = ["TARGET_RATIO", "main", "measure", "report"]

#: The page may take at most this many times the JSON's time.
TARGET_RATIO = 2.0
READS = {"json": "/telemetry/data", "page": "/telemetry/"}
SCOPES = ("process", "cluster")


def _app(folder: Path, scope: str, commands: int) -> Flask:
    """An app with ``commands`` command names counted (and flushed, in cluster scope)."""
    ext = TelemetryExt()
    app = Flask(f"bench-{scope}", instance_path=str(folder))
    app.config.update(
        CAMUNDA_TELEMETRY_DATABASE_URI=f"sqlite:///{folder / f'{scope}.sqlite'}",
        CAMUNDA_TELEMETRY_SCOPE=scope,
        CAMUNDA_TELEMETRY_FLUSH_INTERVAL=3600,  # no background flush while timing
    )
    ext.init_app(app)
    rng = random.Random(3)
    for i in range(commands):
        ext.count_command(f"Command{i:05d}Cmd", rng.randint(1, 5000), app=app)
    ext.flush(app=app)
    return app


def _read(app: Flask, environ: dict[str, Any]) -> tuple[float, float, str, int]:
    """One read: CPU seconds of this thread, wall seconds, status and body size."""
    status: list[str] = []

    def start_response(code: str, headers: Iterable[tuple[str, str]], exc_info: Any = None) -> Callable[..., Any]:
        status.append(code)
        return lambda data: None

    cpu, wall = time.thread_time(), time.perf_counter()
    chunks = app(dict(environ), start_response)
    size = sum(len(chunk) for chunk in chunks)
    cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
    getattr(chunks, "close", lambda: None)()
    return cpu, wall, status[0], size


def _measure_scope(app: Flask, rounds: int) -> dict[str, Any]:
    environs = {name: EnvironBuilder(path=path).get_environ() for name, path in READS.items()}
    sizes = {}
    for name, environ in environs.items():
        for _ in range(3):  # warm-up: templates compiled, connections made
            _, _, status, sizes[name] = _read(app, environ)
        if not status.startswith("200"):
            raise SystemExit(f"GET {READS[name]} answered {status}")
    cpu: dict[str, list[float]] = {name: [] for name in READS}
    wall: dict[str, list[float]] = {name: [] for name in READS}
    rng = random.Random(11)
    for _ in range(rounds):
        order = list(READS)
        rng.shuffle(order)
        for name in order:
            gc.collect()
            cpu_s, wall_s, _, _ = _read(app, environs[name])
            cpu[name].append(cpu_s * 1000)
            wall[name].append(wall_s * 1000)
    cpu_ms = {name: statistics.median(values) for name, values in cpu.items()}
    wall_ms = {name: statistics.median(values) for name, values in wall.items()}
    return {"cpu_ms": cpu_ms, "wall_ms": wall_ms, "bytes": sizes, "ratio": cpu_ms["page"] / cpu_ms["json"]}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Medians (ms), body sizes and the page/JSON ratio per scope."""
    results: dict[str, Any] = {"commands": args.commands, "rounds": args.rounds, "scopes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for scope in SCOPES:
            folder = Path(tmp) / scope
            folder.mkdir()
            app = _app(folder, scope, args.commands)
            try:
                results["scopes"][scope] = _measure_scope(app, args.rounds)
            finally:
                app.extensions["camunda_telemetry"].close(flush=False)
    return results


def report(results: dict[str, Any]) -> str:
    lines = [
        f"Page vs JSON: GET /telemetry/ and GET /telemetry/data with {results['commands']:,} command names "
        f"(median of {results['rounds']} reads each, WSGI in process; ms of CPU, wall in brackets)",
        f"   {'scope':<8} {'JSON ms':>16} {'page ms':>16} {'ratio':>7}  {'JSON bytes':>11} {'page bytes':>11}  "
        f"target <= {TARGET_RATIO:g}x",
    ]
    for scope, res in results["scopes"].items():
        cpu, wall, size, ratio = res["cpu_ms"], res["wall_ms"], res["bytes"], res["ratio"]
        json_ms, page_ms = (f"{cpu[name]:.2f} ({wall[name]:.2f})" for name in ("json", "page"))
        verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
        sizes = f"{size['json']:>11,} {size['page']:>11,}"
        lines.append(f"   {scope:<8} {json_ms:>16} {page_ms:>16} {ratio:>6.2f}x  {sizes}  {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=10_000, help="command names in the counts (default 10,000)")
    parser.add_argument("--rounds", type=int, default=41, help="reads of each per scope (default 41)")
    print(report(measure(parser.parse_args(argv))))


if __name__ == "__main__":
    main()
