"""The Prometheus export: what a scrape costs, next to prometheus_flask_exporter, and what it adds per request.

Scrape: one ``GET`` of ``CAMUNDA_TELEMETRY_PROMETHEUS_URL`` with N distinct commands (100 and
10,000), in process and cluster scope, next to prometheus_flask_exporter's ``/metrics`` with N
endpoints each hit once; every request sends the ``Accept`` header Prometheus sends (so both
answer OpenMetrics). Each app lives in a process of its own; the modes are interleaved; wall
clock of the WSGI call, median over the repetitions. Target: at least 10x faster at 10,000.

Per request: the engine-like app's request mix (40 routes) with the export off and on, in both
scopes, interleaved round by round: this thread's CPU time per request, and the difference
on - off per round. The route adds nothing to the request path, so the difference is noise
around 0.
"""

from __future__ import annotations

import argparse
import gc
import sys
from typing import Any

from flask import Flask

from . import harness
from .bench_app import request_mix
from .harness import (
    EXT_MODES,
    NOTHING_MEASURABLE,
    Goal,
    Spread,
    Workspace,
    goal_table,
    median,
    nothing_measurable,
    table,
)
from .servers import Reader, app_with_commands, peer_with_endpoints, read_in_processes

__all__ = ["measure", "report"]

METRICS_URL = "/telemetry/metrics"
#: The Accept header Prometheus 2.x sends with a scrape.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
SIZES = (100, 10_000)
SCRAPE_MODES = (*EXT_MODES, "prometheus")
TARGET_SPEEDUP_10K = 10.0
EXPORT = {"telemetry_options": {"prometheus_url": METRICS_URL}}


def _scrape(space: Workspace, n: int, reps: int) -> dict[str, Any]:
    """Median ms and response bytes per mode for ``n`` commands (endpoints, for the peer)."""
    if space.url is not None:  # shared tables: only this size's commands in them
        harness.close_app(space.ext_app("ext-cluster", "scrape-reset"))
    headers = {"Accept": PROMETHEUS_ACCEPT}
    readers = {
        # ext-process counts in memory: a database of its own, never the shared one
        mode: Reader(app_with_commands, {"mode": mode, "n": n, "instance": space.instance, **EXPORT,
                                         "database_url": f"sqlite:///{space.tmp / f'scrape-{n}.sqlite'}"
                                         if mode == "ext-process" else space.for_app(f"scrape-{mode}-{n}")},
                     METRICS_URL, headers)
        for mode in EXT_MODES
    }  # fmt: skip
    readers["prometheus"] = Reader(peer_with_endpoints, {"n": n}, "/metrics", headers)
    reads = read_in_processes(readers, reps, seed=11 + n)
    wrong = [mode for mode, r in reads.items() if not r.tail.endswith(b"# EOF\n")]
    if wrong:
        raise SystemExit(f"{wrong}: the scrape did not answer OpenMetrics")
    ms = {mode: median(r.ms) for mode, r in reads.items()}
    return {"ms": ms, "bytes": {mode: r.size for mode, r in reads.items()},
            "speedup": {mode: ms["prometheus"] / ms[mode] for mode in EXT_MODES}}  # fmt: skip


def _per_request(space: Workspace, rounds: int, batch: int) -> dict[str, Any]:
    """CPU us/request per round for each scope with the export off and on; counts checked exact."""
    environs = harness.prepare(request_mix())
    batch = batch // len(environs) * len(environs)
    apps: dict[str, Flask] = {}
    for mode in EXT_MODES:
        apps[f"{mode} off"] = space.ext_app(mode, f"request-{mode}-off")
        apps[f"{mode} on"] = space.ext_app(mode, f"request-{mode}-on", **EXPORT)
    sent = dict.fromkeys(apps, 0)

    def cpu_us(label: str) -> float:
        gc.collect()
        sent[label] += batch
        return harness.drive(apps[label], environs, batch)[0]

    for label in apps:  # warm-up
        cpu_us(label)
    us = harness.interleaved(apps, rounds, 5, cpu_us)
    exact = {label: harness.counted(label.split()[0], app) == sent[label] for label, app in apps.items()}
    for app in apps.values():
        harness.close_app(app)
    return {
        "rounds": rounds, "batch": batch,
        "scopes": {mode: {"off": median(us[f"{mode} off"]), "on": median(us[f"{mode} on"]),
                          "on_minus_off": Spread.diffs(us[f"{mode} on"], us[f"{mode} off"]),
                          "exact": exact[f"{mode} off"] and exact[f"{mode} on"]} for mode in EXT_MODES},
    }  # fmt: skip


def measure(args: argparse.Namespace) -> dict[str, Any]:
    reps = {100: 15, 10_000: 3} if args.quick else {100: 51, 10_000: 9}
    with harness.workspace(args) as space:
        scrape = {n: _scrape(space, n, reps[n]) for n in SIZES}
        harness.log("  prometheus export: scrapes done")
        requests = _per_request(space, 11 if args.quick else 31, 400 if args.quick else 1200)
        database = space.describe()
    return {"database": database, "reps": reps, "scrape": scrape, "per_request": requests}


def report(results: dict[str, Any]) -> str:
    scrape, reps = results["scrape"], results["reps"]
    lines = [
        "The Prometheus export",
        "   Scrape: one GET with Prometheus' Accept header (OpenMetrics), WSGI call, wall clock, each app in a",
        f"   process of its own, modes interleaved, median ms (database: {results['database']})",
        "   ext: CAMUNDA_TELEMETRY_PROMETHEUS_URL with N commands; exporter: prometheus_flask_exporter's /metrics "
        "with N endpoints each hit once",
        "",
    ]
    header = ["N", "reps", "ext-process ms", "ext-cluster ms", "exporter ms", "exporter / process",
              "exporter / cluster"]  # fmt: skip
    rows = [[str(n), str(reps[n]), *(f"{scrape[n]['ms'][m]:.3f}" for m in SCRAPE_MODES),
             *(f"{scrape[n]['speedup'][m]:.1f}x" for m in EXT_MODES)] for n in SIZES]  # fmt: skip
    lines += [*table(header, rows), ""]
    lines.append("   response bytes: " + "; ".join(
        f"N={n}: " + ", ".join(f"{m} {scrape[n]['bytes'][m]:,}" for m in SCRAPE_MODES) for n in SIZES))  # fmt: skip
    req = results["per_request"]
    lines += ["", f"   Per request: the 40-route mix, {req['rounds']} interleaved rounds of {req['batch']} requests, "
              "CPU us/request (median; on - off per round, p25..p75)", ""]  # fmt: skip
    rows = [[mode, f"{v['off']:.2f}", f"{v['on']:.2f}", f"{v['on_minus_off'].median:+.2f}",
             f"{v['on_minus_off'].p25:+.2f}..{v['on_minus_off'].p75:+.2f}", "exact" if v["exact"] else "WRONG"]
            for mode, v in req["scopes"].items()]  # fmt: skip
    lines += table(["scope", "export off", "export on", "on - off", "p25..p75", "counts"], rows)
    goals = [Goal(f"{mode}: the exporter's scrape time over ours, 10,000 commands",
                  f"{scrape[10_000]['speedup'][mode]:.0f}x", f">= {TARGET_SPEEDUP_10K:g}x",
                  scrape[10_000]["speedup"][mode] >= TARGET_SPEEDUP_10K) for mode in EXT_MODES]  # fmt: skip
    for mode, v in req["scopes"].items():
        diff = v["on_minus_off"]
        goals.append(Goal(f"{mode}: what the export adds per request (on - off)",
                          f"{diff.median:+.2f} us (p25..p75 {diff.quartiles()})", NOTHING_MEASURABLE,
                          nothing_measurable(diff, v["off"])))  # fmt: skip
    lines += ["", *goal_table(goals)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(harness.main(__spec__.name))
