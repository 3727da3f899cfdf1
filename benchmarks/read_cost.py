"""Read cost: one ``GET /telemetry/data`` with 1, 100 and 10,000 commands, next to prometheus'
``GET /metrics`` with as many endpoints.

Each app runs in a process of its own (spawned), as in production, and the reads are interleaved;
a read then pays for the garbage collection of its own heap only. The latency is the WSGI call's,
wall clock, median over the repetitions. Cluster scope reads the shared totals from the database
on every request; process scope reads memory.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from . import harness
from .harness import EXT_MODES, Goal, goal_table, median, table
from .servers import Reader, app_with_commands, peer_with_endpoints, read_in_processes

SIZES = (1, 100, 10_000)
MODES = (*EXT_MODES, "prometheus")
#: /telemetry/data with 100 commands must answer within this (ms) ...
TARGET_READ_100_MS = 5.0
#: ... and with 10,000 commands this many times faster than /metrics with 10,000 endpoints.
TARGET_READ_10K_SPEEDUP = 10.0


def measure(args: argparse.Namespace) -> dict[str, Any]:
    reps = {1: 31, 100: 21, 10_000: 3} if args.quick else {1: 201, 100: 101, 10_000: 9}
    ms: dict[str, dict[int, float]] = {mode: {} for mode in MODES}
    size: dict[str, dict[int, int]] = {mode: {} for mode in MODES}
    with harness.workspace(args) as space:
        for n in SIZES:
            if space.url is not None:  # shared tables: only this size's commands in them
                harness.close_app(space.ext_app("ext-cluster", "read-reset"))
            options = {mode: {"mode": mode, "n": n, "database_url": space.for_app(f"read-{mode}-{n}"),
                              "instance": space.instance} for mode in EXT_MODES}  # fmt: skip
            readers = {mode: Reader(app_with_commands, options[mode], "/telemetry/data") for mode in EXT_MODES}
            readers["prometheus"] = Reader(peer_with_endpoints, {"n": n}, "/metrics")
            for mode, reads in read_in_processes(readers, reps[n], seed=7 + n).items():
                ms[mode][n], size[mode][n] = median(reads.ms), reads.size
            harness.log(f"  read cost: {n} commands/endpoints done")
    speedup = {mode: {n: ms["prometheus"][n] / ms[mode][n] for n in SIZES} for mode in EXT_MODES}
    return {"reps": reps, "ms": ms, "bytes": size, "speedup": speedup}


def report(results: dict[str, Any]) -> str:
    ms, speedup, reps = results["ms"], results["speedup"], results["reps"]
    lines = [
        "Read cost: latency of one GET (WSGI call, wall clock), each app in a process of its own, the modes",
        "   interleaved, median over the repetitions",
        "   ext: GET /telemetry/data with N distinct commands; prometheus: GET /metrics with N endpoints hit once",
        "",
    ]
    header = ["N", "reps", *(f"{mode} ms" for mode in MODES), *(f"/metrics / {mode}" for mode in EXT_MODES)]
    rows = [[str(n), str(reps[n]), *(f"{ms[mode][n]:.3f}" for mode in MODES),
             *(f"{speedup[mode][n]:.1f}x" for mode in EXT_MODES)] for n in SIZES]  # fmt: skip
    lines += [*table(header, rows), ""]
    lines.append("   response bytes: " + "; ".join(
        f"N={n}: " + ", ".join(f"{mode} {results['bytes'][mode][n]:,}" for mode in MODES) for n in SIZES))  # fmt: skip
    goals = []
    for mode in EXT_MODES:
        read, fast = ms[mode][100], speedup[mode][10_000]
        goals += [
            Goal(f"{mode}: /telemetry/data with 100 commands", f"{read:.2f} ms", f"< {TARGET_READ_100_MS:g} ms",
                 read < TARGET_READ_100_MS),
            Goal(f"{mode}: /metrics with 10,000 endpoints over /telemetry/data with 10,000 commands", f"{fast:.0f}x",
                 f">= {TARGET_READ_10K_SPEEDUP:g}x", fast >= TARGET_READ_10K_SPEEDUP),
        ]  # fmt: skip
    lines += ["", *goal_table(goals)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(harness.main(__spec__.name))
