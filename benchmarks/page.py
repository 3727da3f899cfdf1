"""The page next to the JSON: ``GET /telemetry/`` and ``GET /telemetry/data`` of one app holding
10,000 command names. Target: the page within 2x of the JSON's time.

Both reads go to the same app in this process (the engine-like app, ``flush_interval`` an hour),
interleaved in a shuffled order each round after a warm-up (templates compiled, engine
connected), body included. The figure is this thread's CPU time per read, which the other
processes of a shared machine inflate less than the wall clock (shown beside it); medians over
the rounds, and the ratio page / JSON of the medians with its spread round by round. Both
scopes: ``process`` (the counts in memory: rendering is most of the read) and ``cluster`` (the
counts read from the database, as every read in that scope does).
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
from typing import Any

from flask import Flask

from . import harness
from .bench_app import Call
from .harness import EXT_MODES, Goal, Spread, Workspace, goal_table, median, table

__all__ = ["measure", "report"]

COMMANDS = 10_000
READS = {"json": "/telemetry/data", "page": "/telemetry/"}
TARGET_RATIO = 2.0


def _app(space: Workspace, mode: str) -> Flask:
    """An app with :data:`COMMANDS` command names, counted 1 to 5,000 times each (flushed in
    cluster scope), so that the table has an order and every share a different value."""
    app = space.ext_app(mode, f"page-{mode}", flush_interval=3600)
    telemetry = app.extensions["bench_telemetry"]
    rng = random.Random(3)
    for i in range(COMMANDS):
        telemetry.count_command(f"Command{i:05d}Cmd", rng.randint(1, 5000), app=app)
    telemetry.flush(app=app)
    return app


def _scope(space: Workspace, mode: str, rounds: int) -> dict[str, Any]:
    app = _app(space, mode)
    environs = {label: harness.prepare([Call("GET", path)])[0] for label, path in READS.items()}
    sizes = {}
    for label, environ in environs.items():
        for _ in range(3):  # warm-up
            status, body = harness.fetch(app, environ)
        if not status.startswith("200"):
            raise SystemExit(f"{mode}: GET {READS[label]} answered {status}: {body[:300]!r}")
        sizes[label] = len(body)
    wall: dict[str, list[float]] = {label: [] for label in READS}

    def cpu_ms(label: str) -> float:
        gc.collect()
        cpu_us, wall_us = harness.drive(app, [environs[label]], 1)
        wall[label].append(wall_us / 1000)
        return cpu_us / 1000

    cpu = harness.interleaved(READS, rounds, 11, cpu_ms)
    harness.close_app(app)
    medians = {label: median(values) for label, values in cpu.items()}
    return {
        "cpu_ms": medians,
        "wall_ms": {label: median(values) for label, values in wall.items()},
        "bytes": sizes,
        "ratio": medians["page"] / medians["json"],
        "ratio_per_round": Spread.ratios(cpu["page"], cpu["json"]),
    }


def measure(args: argparse.Namespace) -> dict[str, Any]:
    rounds = 15 if args.quick else 41
    with harness.workspace(args) as space:
        scopes = {mode: _scope(space, mode, rounds) for mode in EXT_MODES}
        database = space.describe()
    return {"rounds": rounds, "database": database, "scopes": scopes}


def report(results: dict[str, Any]) -> str:
    lines = [
        f"The page: GET /telemetry/ next to GET /telemetry/data with {COMMANDS:,} command names",
        f"   {results['rounds']} interleaved rounds, WSGI in process, this thread's CPU ms per read (median; wall "
        f"clock in brackets); database: {results['database']}",
        "",
    ]
    rows = []
    for mode, res in results["scopes"].items():
        cpu, wall, size, spread = res["cpu_ms"], res["wall_ms"], res["bytes"], res["ratio_per_round"]
        rows.append([
            mode, *(f"{cpu[label]:.2f} ({wall[label]:.2f})" for label in READS), f"{res['ratio']:.2f}x",
            f"{spread.p25:.2f}..{spread.p75:.2f}", *(f"{size[label]:,}" for label in READS),
        ])  # fmt: skip
    lines += table(["scope", "JSON ms", "page ms", "page / JSON", "per round p25..p75", "JSON bytes", "page bytes"],
                   rows)  # fmt: skip
    goals = [Goal(f"{mode}: the page's time over the JSON's", f"{res['ratio']:.2f}x (per round "
                  f"{res['ratio_per_round'].p25:.2f}..{res['ratio_per_round'].p75:.2f})", f"<= {TARGET_RATIO:g}x",
                  res["ratio"] <= TARGET_RATIO) for mode, res in results["scopes"].items()]  # fmt: skip
    lines += ["", *goal_table(goals)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(harness.main(__spec__.name))
