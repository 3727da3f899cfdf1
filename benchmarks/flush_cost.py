"""The flush's cost on the database (cluster scope), measured in process.

One flush is one transaction that upserts the deltas (40 commands and the 4 metrics here); one
tick of the flush thread is the flush plus the read of the shared start date. At the default
interval each worker does one tick every 10 s, off the request path.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from flask_camunda_telemetry.config import KEYS
from flask_camunda_telemetry.document.metrics import INTERNAL_NAMES
from flask_camunda_telemetry.state import get_state

from . import harness
from .harness import median, percentile

COMMANDS = [f"Update{i}Cmd" for i in range(40)]
#: The default CAMUNDA_TELEMETRY_FLUSH_INTERVAL.
INTERVAL: float = next(key.default for key in KEYS if key.name == "FLUSH_INTERVAL")


def _timed(work: Any) -> float:
    begin = time.perf_counter()
    work()
    return (time.perf_counter() - begin) * 1000


def measure(args: argparse.Namespace) -> dict[str, Any]:
    reps = 10 if args.quick else 40
    with harness.workspace(args) as space:
        app = space.ext_app("ext-cluster", "flush", flush_interval=3600)
        telemetry = app.extensions["bench_telemetry"]

        def pend() -> None:
            for i, name in enumerate(COMMANDS):
                telemetry.count_command(name, i + 1, app=app)
            for i, metric in enumerate(INTERNAL_NAMES):
                telemetry.mark_occurrence(metric, i + 1, app=app)

        database = telemetry.data(app=app).product.internals.database  # tables and connection pool ready
        pend()
        first = _timed(lambda: telemetry.flush(app=app))
        flushes, ticks = [], []
        for _ in range(reps):
            pend()
            flushes.append(_timed(lambda: telemetry.flush(app=app)))
            pend()
            ticks.append(_timed(get_state(app).counts.sync))
        harness.close_app(app)
    tick = median(ticks)
    return {
        "database": f"{database.vendor} {database.version}", "rows": len(COMMANDS) + len(INTERNAL_NAMES),
        "first_ms": first, "median_ms": median(flushes), "p90_ms": percentile(flushes, 90), "reps": reps,
        "tick_ms": tick, "workers": args.workers, "ticks_per_s": args.workers / INTERVAL,
        "db_ms_per_s": args.workers / INTERVAL * tick,
    }  # fmt: skip


def report(results: dict[str, Any]) -> str:
    r = results
    return "\n".join([
        "The flush's cost on the database (cluster scope), measured in process",
        f"   database: {r['database']}; one flush = one transaction upserting {r['rows']} rows "
        f"({len(COMMANDS)} commands + {len(INTERNAL_NAMES)} metrics)",
        f"   first flush (inserts): {r['first_ms']:.2f} ms; later flushes (updates): median {r['median_ms']:.2f} ms, "
        f"p90 {r['p90_ms']:.2f} ms over {r['reps']}",
        f"   one tick of the flush thread (flush + start-date read): median {r['tick_ms']:.2f} ms",
        f"   at the default interval ({INTERVAL:g} s) with {r['workers']} workers: {r['ticks_per_s']:.1f} ticks/s, "
        f"about {r['db_ms_per_s']:.1f} ms of database work per second, off the request path",
    ]) + "\n"  # fmt: skip


if __name__ == "__main__":
    sys.exit(harness.main(__spec__.name))
