"""The Prometheus export: what a scrape costs, next to prometheus_flask_exporter, and what it adds per request.

Run from the repository root (about a minute; ``--quick``: about 20 s)::

    .venv/bin/python -m benchmarks.prometheus_export

1. Scrape: one ``GET`` of ``CAMUNDA_TELEMETRY_PROMETHEUS_URL`` with N distinct commands (100 and
   10,000), in process and cluster scope, next to prometheus_flask_exporter's ``/metrics`` with N
   endpoints each hit once; every request sends the ``Accept`` header Prometheus sends (so both
   answer OpenMetrics). Each app lives in a process of its own; the modes are interleaved; wall
   clock of the WSGI call, median over the repetitions. Target: at least 10x faster at 10,000.
2. Per request: the engine-like app's request mix (40 routes) with the export off and on, in
   both scopes, interleaved round by round: this thread's CPU time per request, and the
   difference on - off per round. The route adds nothing to the request path, so the difference
   is noise around 0.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import tempfile
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from flask import Flask

from .run import (
    Call,
    Databases,
    counted,
    create_app,
    diffs,
    drive,
    drop_bench_tables,
    ext_app,
    fetch,
    interleaved,
    interleaved_reads,
    median,
    prepare,
    quartiles,
    reader_processes,
    request_mix,
)

__all__ = ["measure", "report"]

METRICS_URL = "/telemetry/metrics"
#: The Accept header Prometheus 2.x sends with a scrape.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
SIZES = (100, 10_000)
SCRAPE_MODES = ("ext-process", "ext-cluster", "prometheus")
EXT_MODES = ("ext-process", "ext-cluster")
TARGET_SPEEDUP_10K = 10.0


def _scrape_app(mode: str, n: int, dbs: Databases, tmp: Path) -> tuple[Flask, str]:
    """An app holding ``n`` commands (or, for the peer, ``n`` endpoints each hit once) and the path it is scraped at."""
    if mode == "prometheus":
        app = create_app(mode, extra_routes=n)
        drive(app, prepare([Call("GET", f"/extra/{i}") for i in range(n)]), n)
        return app, "/metrics"
    if mode == "ext-process":  # its counts are in memory; a database of its own, never the shared one
        dbs = Databases(None, tmp)
    # A long flush interval: no background flush during the timing.
    app = ext_app(mode, dbs, f"scrape-{mode}-{n}", tmp, flush_interval=3600,
                  telemetry_options={"prometheus_url": METRICS_URL})
    telemetry = app.extensions["bench_telemetry"]
    for i in range(n):
        telemetry.count_command(f"Cmd{i}", app=app)
    telemetry.flush(app=app)
    return app, METRICS_URL


def _scraper(conn: Connection, mode: str, n: int, database_url: str | None, tmp: str) -> None:
    """A child process with one app, timing a scrape (wall ms) each time the parent asks."""
    try:
        app, path = _scrape_app(mode, n, Databases(database_url, Path(tmp)), Path(tmp))
        environ = prepare([Call("GET", path)])[0]
        environ[0]["HTTP_ACCEPT"] = PROMETHEUS_ACCEPT
        status, body = fetch(app, environ)
        conn.send((status, len(body), body[:300], body.endswith(b"# EOF\n")))
        while conn.recv() == "read":
            conn.send(drive(app, [environ], 1)[1] / 1000)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which stops the run
        conn.send(("error", 0, repr(exc).encode(), False))
    finally:
        conn.close()


def scrape_cost(n: int, reps: int, dbs: Databases, tmp: Path) -> dict[str, Any]:
    """``{"ms": {mode: [ms, ...]}, "bytes": {mode: size}}`` for ``n`` commands/endpoints."""
    sizes: dict[str, int] = {}
    with reader_processes(_scraper, {mode: (mode, n, dbs.url, str(tmp)) for mode in SCRAPE_MODES}) as conns:
        for mode, conn in conns.items():
            status, size, head, openmetrics = conn.recv()
            if not status.startswith("200") or not openmetrics:
                raise SystemExit(f"{mode}: the scrape gave {status}, not OpenMetrics: {head!r}")
            sizes[mode] = size
        times = interleaved_reads(conns, reps, random.Random(11))
    return {"ms": times, "bytes": sizes}


def per_request(rounds: int, batch: int, dbs: Databases, tmp: Path) -> dict[str, Any]:
    """CPU us/request per round for each scope with the export off and on; counts checked exact."""
    environs = prepare(request_mix())
    apps: dict[str, Flask] = {}
    for mode in EXT_MODES:
        apps[f"{mode} off"] = ext_app(mode, dbs, f"request-{mode}-off", tmp)
        apps[f"{mode} on"] = ext_app(mode, dbs, f"request-{mode}-on", tmp,
                                     telemetry_options={"prometheus_url": METRICS_URL})
    sent = dict.fromkeys(apps, 0)

    def cpu_us(label: str) -> float:
        gc.collect()
        sent[label] += batch
        return drive(apps[label], environs, batch)[0]

    for label in apps:  # warm-up
        cpu_us(label)
    times = interleaved(apps, rounds, random.Random(5), cpu_us)
    exact = {label: counted(label.split()[0], app) == sent[label] for label, app in apps.items()}
    for app in apps.values():
        app.extensions["bench_telemetry"].close(app)
    return {"us": times, "exact": exact, "batch": batch}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Both sections; ``args.quick`` for fewer repetitions, ``args.database_url`` for a server database."""
    quick = bool(getattr(args, "quick", False))
    reps = {100: 15, 10_000: 3} if quick else {100: 51, 10_000: 9}
    with tempfile.TemporaryDirectory(prefix="bench-prometheus-") as name:
        tmp = Path(name)
        dbs = Databases(getattr(args, "database_url", None), tmp)
        try:
            scrape = {n: scrape_cost(n, reps[n], dbs, tmp) for n in SIZES}
            requests = per_request(11 if quick else 31, 400 if quick else 1200, dbs, tmp)
        finally:
            drop_bench_tables(dbs, tmp)
        return {"database": dbs.describe(), "reps": reps, "scrape": scrape, "per_request": requests}


def _scrape_lines(results: dict[str, Any]) -> list[str]:
    lines = [
        "1. Scrape: one GET with Prometheus' Accept header (OpenMetrics), WSGI call, wall clock, each app in a",
        f"   process of its own, modes interleaved, median ms (database: {results['database']})",
        "   ext: CAMUNDA_TELEMETRY_PROMETHEUS_URL with N commands;",
        "   exporter: prometheus_flask_exporter's /metrics with N endpoints each hit once",
        "",
        f"   {'N':>6} {'reps':>5} {'ext-process':>12} {'ext-cluster':>12} {'exporter':>10}"
        f" {'exporter/process':>17} {'exporter/cluster':>17} {'target':>8}",
    ]
    for n, res in results["scrape"].items():
        ms = {mode: median(values) for mode, values in res["ms"].items()}
        slowest = max(ms["ext-process"], ms["ext-cluster"])
        target = ("met" if ms["prometheus"] / slowest >= TARGET_SPEEDUP_10K else "MISSED") if int(n) == 10_000 else "-"
        lines.append(
            f"   {int(n):>6} {results['reps'][n]:>5} {ms['ext-process']:>12.3f} {ms['ext-cluster']:>12.3f}"
            f" {ms['prometheus']:>10.3f} {ms['prometheus'] / ms['ext-process']:>16.1f}x"
            f" {ms['prometheus'] / ms['ext-cluster']:>16.1f}x {target:>8}"
        )
    sizes = "; ".join(
        f"N={int(n)}: " + ", ".join(f"{mode} {size:,}" for mode, size in res["bytes"].items())
        for n, res in results["scrape"].items()
    )
    return [*lines, "", f"   response bytes: {sizes}", f"   target: at least {TARGET_SPEEDUP_10K:.0f}x at N=10000"]


def _request_lines(res: dict[str, Any]) -> list[str]:
    us: dict[str, list[float]] = res["us"]
    rounds = len(next(iter(us.values())))
    lines = [
        f"2. Per request: the 40-route mix, {rounds} interleaved rounds of {res['batch']} requests,"
        " CPU us/request (median, p25..p75)",
        "",
        f"   {'scope':<12} {'export off':>11} {'export on':>10} {'on - off (per round)':>21}"
        f" {'spread':>18} {'counts':>7}",
    ]
    for mode in EXT_MODES:
        off, on = us[f"{mode} off"], us[f"{mode} on"]
        delta = diffs(on, off)
        low, high = quartiles(delta)
        exact = "exact" if res["exact"][f"{mode} off"] and res["exact"][f"{mode} on"] else "WRONG"
        lines.append(
            f"   {mode:<12} {median(off):>11.2f} {median(on):>10.2f} {median(delta):>+21.2f}"
            f" {f'{low:+.2f}..{high:+.2f}':>18} {exact:>7}"
        )
    return [*lines, "   the export adds no work to the request path: on - off is noise around 0"]


def report(results: dict[str, Any]) -> str:
    """The figures of :func:`measure` as text."""
    return "\n".join([*_scrape_lines(results), "", *_request_lines(results["per_request"])])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.prometheus_export", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, rougher figures")
    parser.add_argument("--database-url", help="where ext-cluster keeps its tables (default: SQLite files)")
    print(report(measure(parser.parse_args(argv))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
