"""Import cost and threads: what importing the package, and holding it in a worker, costs.

Every figure comes from fresh processes (``benchmarks/_import_probe.py``), median over the runs,
the probes in a shuffled order each run. Import: the baseline (Flask, Flask-SQLAlchemy,
SQLAlchemy, marshmallow) first, then ``from flask_camunda_telemetry import TelemetryExt`` on top
(the added CPU time, wall time and RSS, the package's modules loaded, and which optional heavy
parts came with it), next to ``prometheus_flask_exporter`` (the peer) and to importing nothing
(the control: the noise of an "added" figure). Worker: a process like a gunicorn worker that
made an app with ``TelemetryExt(app)`` and served one request, then stays idle: its RSS over a
bare Flask worker's, and the threads of ours it holds (named ``camunda-telemetry-*``, sampled
every 0.25 s while idle, long enough to see one flush tick), in the default configuration and
with reporting or the Prometheus route configured. Goals (issue 21): the import adds at most
2 MiB RSS and 30 ms; an idle process holds at most one thread of ours beyond what a configured
feature needs.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from . import harness
from ._import_probe import HEAVY, OURS, TARGETS, THREAD_PREFIX, WORKERS
from .harness import Goal, goal_table, median, table
from .reporting import dead_port

__all__ = ["measure", "report"]

GOAL_IMPORT_MS = 30.0
GOAL_IMPORT_MIB = 2.0
#: Threads of ours an idle worker may hold: one (the flush thread), plus what a configured feature needs.
GOAL_THREADS = {"default": 1, "reporting": 2, "prometheus": 1}
#: A thread is held when it is alive in at least this share of the idle samples (one alive only
#: while a database call is in flight is not; one that outlives each flush tick by seconds is).
HELD_SHARE = 0.2
EXT_WORKERS = tuple(GOAL_THREADS)
#: What a feature's thread is for, in the goal's words.
NEEDS = {"default": "", "reporting": " + the reporter"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--import-cost-runs", type=int, default=0,
                        help="fresh processes per import probe (default 15; --quick 7)")  # fmt: skip
    parser.add_argument("--import-cost-idle", type=float, default=12.0,
                        help="seconds a worker probe stays idle while its threads are sampled (default 12: "
                        "one flush tick at the default interval)")  # fmt: skip


def _probe(args: Sequence[str], importtime: bool = False) -> tuple[dict[str, Any], str]:
    """Run one probe in a fresh interpreter; its JSON and, with ``importtime``, what -X importtime
    said about the target's imports."""
    command = [sys.executable, *(["-X", "importtime"] if importtime else []), "-m", "benchmarks._import_probe", *args]
    done = subprocess.run(command, capture_output=True, text=True, cwd=harness.ROOT, timeout=600, check=False)
    if done.returncode != 0:
        raise SystemExit(f"import probe {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1]), done.stderr.partition("-- target --")[2]


def package_modules() -> int:
    """How many modules the package has (its .py files, packages included)."""
    root = harness.ROOT / OURS
    return sum(1 for path in root.rglob("*.py") if "__pycache__" not in path.parts)


def _heaviest(importtime: str, n: int = 12) -> list[tuple[str, float, float]]:
    """The ``n`` imports with the most cumulative time in ``-X importtime`` output (what pulls in
    what): (name, self ms, cumulative ms), each name once."""
    rows: dict[str, tuple[str, float, float]] = {}
    for line in importtime.splitlines():
        match = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|\s?(.*)$", line)
        if match:
            name, own, cumulative = match.group(3).strip(), int(match.group(1)) / 1000, int(match.group(2)) / 1000
            if name not in rows or rows[name][2] < cumulative:
                rows[name] = (name, own, cumulative)
    return sorted(rows.values(), key=lambda row: -row[2])[:n]


def _imports(runs: int) -> dict[str, Any]:
    samples: dict[str, list[dict[str, Any]]] = {target: [] for target in TARGETS}
    rng = random.Random(17)
    for run in range(runs):
        for target in rng.sample(list(TARGETS), len(TARGETS)):
            samples[target].append(_probe(["import", target])[0])
        if (run + 1) % 5 == 0:
            harness.log(f"  import cost: run {run + 1}/{runs}")
    figures = {}
    for target, results in samples.items():
        last = results[-1]
        figures[target] = {
            "cpu_ms": median([r["cpu_ms"] for r in results]),
            "wall_ms": median([r["wall_ms"] for r in results]),
            "mib": median([r["rss"] - r["baseline_rss"] for r in results]),
            "mib_range": (min(r["rss"] - r["baseline_rss"] for r in results),
                          max(r["rss"] - r["baseline_rss"] for r in results)),
            "cpu_range": (min(r["cpu_ms"] for r in results), max(r["cpu_ms"] for r in results)),
            "ours": sum(1 for name in last["new_modules"] if name.split(".")[0] == OURS),
            "modules": len(last["new_modules"]),
            "heavy": last["heavy"],
        }  # fmt: skip
    baseline = {
        "cpu_ms": median([r["baseline_cpu_ms"] for results in samples.values() for r in results]),
        "wall_ms": median([r["baseline_wall_ms"] for results in samples.values() for r in results]),
        "mib": median([r["baseline_rss"] - r["start_rss"] for results in samples.values() for r in results]),
    }
    heaviest = _heaviest(_probe(["import", "extension"], importtime=True)[1])
    return {"runs": runs, "targets": figures, "baseline": baseline, "heaviest": heaviest}


def _workers(runs: int, seconds: float) -> dict[str, Any]:
    """Every worker configuration, ``runs`` times; the probes of one run side by side (they idle)."""
    samples: dict[str, list[dict[str, Any]]] = {config: [] for config in WORKERS}
    port = dead_port()
    with tempfile.TemporaryDirectory(prefix="camunda-telemetry-bench-") as tmp:
        for run in range(runs):
            with ThreadPoolExecutor(len(WORKERS)) as pool:
                futures = {config: pool.submit(_probe, ["worker", config, str(Path(tmp) / f"{run}-{n}"),
                                                        str(seconds), str(port)])
                           for n, config in enumerate(WORKERS)}  # fmt: skip
                for config, future in futures.items():
                    samples[config].append(future.result()[0])
            harness.log(f"  import cost: workers, run {run + 1}/{runs}")
    bare = samples["bare Flask"]
    figures = {}
    for config, results in samples.items():
        figures[config] = {
            "rss": median([r["rss"] for r in results]),
            "over_bare": median([r["rss"] - b["rss"] for r, b in zip(results, bare, strict=True)]),
            "threads": median([len(r["threads"]) for r in results]),
            "os_threads": median([r["os_threads"] for r in results]),
            "ours_max": max(r["ours_max"] for r in results),
            "ours_mean": median([r["ours_mean"] for r in results]),
            "ours_seen": sorted({name for r in results for name in r["ours_share"]}),
            "ours_held": sorted({name for r in results for name in r["ours_share"]
                                 if median([q["ours_share"].get(name, 0.0) for q in results]) >= HELD_SHARE}),
            "modules": results[-1]["modules"],
            "heavy": results[-1]["heavy"],
        }
    return {"runs": runs, "seconds": seconds, "configs": figures}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    runs = args.import_cost_runs or (7 if args.quick else 15)
    imports = _imports(runs)
    workers = _workers(max(1, runs // 5), args.import_cost_idle)
    return {"imports": imports, "workers": workers, "package_modules": package_modules()}


def _heavy_line(heavy: dict[str, bool]) -> str:
    """The optional modules loaded (``.x``: the package's), or "none"."""
    loaded = [name for name in HEAVY if heavy.get(name)]
    return ", ".join(loaded) if loaded else "none"


def _short(threads: Sequence[str]) -> str:
    """Thread names without the common prefix: ``flush, db-watchdog``."""
    return ", ".join(name.removeprefix(THREAD_PREFIX) for name in threads)


def _goals(results: dict[str, Any]) -> list[Goal]:
    ext, control = results["imports"]["targets"]["extension"], results["imports"]["targets"]["nothing"]
    configs = results["workers"]["configs"]
    why_import = (f"the import loads {ext['ours']} of the package's {results['package_modules']} modules and, "
                  f"configured or not: {_heavy_line(ext['heavy'])}")  # fmt: skip
    goals = [
        Goal("import adds CPU time", f"{ext['cpu_ms']:.1f} ms (control {control['cpu_ms']:+.1f})",
             f"<= {GOAL_IMPORT_MS:g} ms", ext["cpu_ms"] <= GOAL_IMPORT_MS, why_import),
        Goal("import adds RSS", f"{ext['mib']:.2f} MiB (control {control['mib']:+.2f})", f"<= {GOAL_IMPORT_MIB:g} MiB",
             ext["mib"] <= GOAL_IMPORT_MIB, why_import),
    ]  # fmt: skip
    for config in EXT_WORKERS:
        c, allowed = configs[config], GOAL_THREADS[config]
        held = c["ours_held"]
        goals.append(Goal(f"threads of ours an idle worker holds, {config}", f"{len(held)} ({_short(held)})",
                          f"<= {allowed} (flush{NEEDS.get(config, '')})", len(held) <= allowed,
                          f"held while idle: camunda-telemetry-{{{_short(held)}}}"))  # fmt: skip
    return goals


def report(results: dict[str, Any]) -> str:
    imports, workers = results["imports"], results["workers"]
    base = imports["baseline"]
    lines = [
        "Import cost and threads: fresh processes, median over the runs",
        f"   import: {imports['runs']} runs per probe; the baseline (flask, flask_sqlalchemy, sqlalchemy, "
        f"marshmallow) took {base['cpu_ms']:.0f} ms CPU ({base['wall_ms']:.0f} ms wall) and {base['mib']:.1f} MiB;",
        "   then the target on top: what it adds ('nothing' is the control: the noise of an added figure)",
        "",
    ]
    rows = [[target, f"{t['cpu_ms']:.1f}", f"{t['cpu_range'][0]:.1f}..{t['cpu_range'][1]:.1f}", f"{t['wall_ms']:.1f}",
             f"{t['mib']:.2f}", f"{t['mib_range'][0]:.2f}..{t['mib_range'][1]:.2f}", str(t["modules"]),
             f"{t['ours']} of {results['package_modules']}" if target == "extension" else "-"]
            for target, t in imports["targets"].items()]  # fmt: skip
    lines += table(["import", "added CPU ms", "min..max", "wall ms", "added MiB", "min..max", "modules loaded",
                    "package modules"], rows)  # fmt: skip
    lines.append("")
    ext = imports["targets"]["extension"]
    lines += [f"   optional parts loaded by the import, configured or not: {_heavy_line(ext['heavy'])}",
              "   the heaviest imports under it (-X importtime, one run; cumulative ms, what each pulls in included):",
              *(f"     {cum:6.1f}  {name}" for name, _, cum in imports["heaviest"]), ""]  # fmt: skip
    lines.append(f"   worker: made an app, served one request, then idle {workers['seconds']:g} s with its threads "
                 f"sampled every 0.25 s; {workers['runs']} run(s), RSS median")  # fmt: skip
    rows = [[config, f"{c['rss']:.1f}", f"{c['over_bare']:+.2f}", f"{c['threads']:.0f} ({c['os_threads']:.0f})",
             _short(c["ours_held"]) or "-", str(c["ours_max"]), f"{c['ours_mean']:.2f}", _short(c["ours_seen"]) or "-",
             str(c["modules"])] for config, c in workers["configs"].items()]  # fmt: skip
    lines += table(["worker", "RSS MiB", "vs bare Flask", "threads (OS)", "ours held", "ours, max at once",
                    "ours, mean", "ours seen", "our modules"], rows)  # fmt: skip
    lines.append(f"   ours = threads named camunda-telemetry-*; held = alive in {HELD_SHARE:.0%} or more of the idle "
                 "samples (median over the runs)")  # fmt: skip
    lines += [f"   optional parts loaded in the worker, {config}: {_heavy_line(c['heavy'])}"
              for config, c in workers["configs"].items()]  # fmt: skip
    lines += ["", *goal_table(_goals(results))]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(harness.main(__spec__.name))
