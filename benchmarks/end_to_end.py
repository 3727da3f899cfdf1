"""End to end: gunicorn (sync workers) on 127.0.0.1 under wrk, requests per second per mode.

Six servers are up at once: the five modes and ``bare-2``, a second bare server run like a mode
(the A/A control: how far two identical servers differ here, the resolution of this section).
wrk (one thread) loads one server at a time, rotating the same 40 requests (``rotate.lua``), in
a shuffled order each round, over several fresh sets of servers (one server instance keeps a
speed bias of a few percent for as long as it runs). Server CPU is the CPU time of the master
and its workers per request served. After shutdown (SIGTERM: every worker flushes at exit) the
counts in the cluster database are checked against the requests wrk completed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from . import harness
from .bench_app import MODES, create_app, request_mix
from .harness import EXT_MODES, HERE, Goal, Spread, Workspace, goal_table, median, table
from .servers import Gunicorn

#: A second bare server, run like a mode: the A/A control.
CONTROL = "bare-2"
LABELS = (*MODES, CONTROL)
#: Each extension mode's gunicorn throughput must be at least this share of bare's.
TARGET_THROUGHPUT_RATIO = 0.97
READY_PATH = "/engine-rest/task/count"  # a counted request: the consistency check adds one per server


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    parser.add_argument("--e2e-rounds", type=int, default=0, help="end-to-end rounds (default 60; --quick 8)")
    parser.add_argument("--e2e-seconds", type=int, default=1, help="length of one wrk run, seconds (default 1)")
    parser.add_argument("--e2e-sets", type=int, default=0, help="fresh sets of servers (default 3; --quick 1)")


def _wrk(port: int, seconds: int, connections: int, requests_file: Path) -> tuple[float, int, int]:
    """One wrk run: (requests per second, requests completed, errors)."""
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
        "-s", str(HERE / "rotate.lua"), f"http://127.0.0.1:{port}", "--", str(requests_file),
    ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60).stdout
    rps, done = re.search(r"Requests/sec:\s+([\d.]+)", out), re.search(r"(\d+) requests in", out)
    if rps is None or done is None:
        raise RuntimeError(f"could not read wrk's output:\n{out}")
    errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return float(rps.group(1)), int(done.group(1)), errors + (int(non2xx.group(1)) if non2xx else 0)


def _start(label: str, space: Workspace, workers: int) -> Gunicorn:
    mode = "bare" if label == CONTROL else label
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(BENCH_MODE=mode, BENCH_INSTANCE=space.instance,
               BENCH_DATABASE_URL=space.for_app(f"e2e-{mode}") if mode in EXT_MODES else "")  # fmt: skip
    if mode == "prometheus":
        multiproc = space.tmp / "prometheus-multiproc"
        multiproc.mkdir(exist_ok=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(multiproc)
    return Gunicorn.start(label, env, workers, space.tmp)


class _Runs:
    """What the rounds gather, per server label."""

    def __init__(self, args: argparse.Namespace, requests_file: Path) -> None:
        self.args, self.requests_file = args, requests_file
        self.rps: dict[str, list[float]] = {label: [] for label in LABELS}
        self.cpu_us: dict[str, list[float]] = {label: [] for label in LABELS}
        self.completed = dict.fromkeys(LABELS, 0)
        self.errors = dict.fromkeys(LABELS, 0)
        self.runs = dict.fromkeys(LABELS, 0)

    def load(self, server: Gunicorn, keep: bool = True) -> None:
        """One wrk run against ``server``; ``keep``: a measured round (else a warm-up)."""
        before = server.cpu_seconds()
        rps, done, errors = _wrk(server.port, self.args.e2e_seconds, self.args.connections, self.requests_file)
        cpu = (server.cpu_seconds() - before) / max(done, 1) * 1e6
        self.completed[server.label] += done
        self.errors[server.label] += errors
        self.runs[server.label] += 1
        if keep:
            self.rps[server.label].append(rps)
            self.cpu_us[server.label].append(cpu)


def _rounds(space: Workspace, runs: _Runs, rounds: int, sets: int) -> None:
    rng = random.Random(11)
    per_set, done = -(-rounds // sets), 0
    for number in range(sets):
        # Fresh servers for each set: one server instance keeps a speed bias for as long as it runs.
        shutil.rmtree(space.tmp / "prometheus-multiproc", ignore_errors=True)
        servers = {label: _start(label, space, runs.args.workers) for label in LABELS}
        try:
            for server in servers.values():
                server.wait_ready(READY_PATH)
                runs.completed[server.label] += 1
            for server in servers.values():  # warm-up: every worker imports, connects, fills its caches
                runs.load(server, keep=False)
            for _ in range(min(per_set, rounds - done)):
                for label in rng.sample(LABELS, len(LABELS)):
                    runs.load(servers[label])
                done += 1
                if done % 10 == 0 or done == rounds:
                    harness.log(f"  end to end: round {done}/{rounds} (server set {number + 1}/{sets})")
        finally:
            for server in servers.values():
                server.stop()


def _skipped() -> str | None:
    if shutil.which("wrk") is None:
        return ("wrk is not installed: install it (Debian/Ubuntu: 'apt-get install -y wrk'; macOS: 'brew install wrk') "
                "and run again to get this section")  # fmt: skip
    if importlib.util.find_spec("gunicorn") is None:
        return "gunicorn is not installed: pip install -r benchmarks/requirements.txt"
    return None


def measure(args: argparse.Namespace) -> dict[str, Any]:
    skipped = _skipped()
    if skipped:
        return {"skipped": skipped}
    rounds, sets = args.e2e_rounds or (8 if args.quick else 60), args.e2e_sets or (1 if args.quick else 3)
    with harness.workspace(args) as space:
        requests_file = space.tmp / "requests.txt"
        lines = (f"{c.method} {c.path} {c.body.decode()}".rstrip() for c in request_mix())
        requests_file.write_text("".join(line + "\n" for line in lines))
        if space.url is not None:  # shared tables: start from zero
            harness.close_app(space.ext_app("ext-cluster", "e2e-reset"))
        runs = _Runs(args, requests_file)
        _rounds(space, runs, rounds, sets)
        app = create_app("ext-cluster", database_url=space.for_app("e2e-ext-cluster"), instance_path=space.instance)
        commands = app.extensions["bench_telemetry"].data(app=app).product.internals.commands
        harness.close_app(app)
        database = space.describe()
    sent, slack = runs.completed["ext-cluster"], runs.runs["ext-cluster"] * args.connections
    total = sum(count.count for count in commands.values())
    return {
        "skipped": None, "workers": args.workers, "connections": args.connections, "seconds": args.e2e_seconds,
        "rounds": rounds, "sets": sets, "database": database, "errors": sum(runs.errors.values()),
        "labels": {label: {"rps": median(runs.rps[label]), "ratio": Spread.ratios(runs.rps[label], runs.rps["bare"]),
                           "cpu_us": median(runs.cpu_us[label]),
                           "cpu_ratio": Spread.ratios(runs.cpu_us[label], runs.cpu_us["bare"]),
                           "errors": runs.errors[label]} for label in LABELS},
        "cluster": {"total": total, "sent": sent, "slack": slack, "consistent": sent <= total <= sent + slack},
    }  # fmt: skip


def report(results: dict[str, Any]) -> str:
    lines = ["End to end: gunicorn (sync workers) on 127.0.0.1, wrk rotating the same 40 requests"]
    if results["skipped"]:
        return "\n".join([*lines, f"   skipped: {results['skipped']}"]) + "\n"
    r, labels = results, results["labels"]
    lines += [
        f"   {r['workers']} workers per server; {len(LABELS)} servers up at once (the {len(MODES)} modes and "
        f"'{CONTROL}', a second bare server: the A/A control);",
        f"   one loaded at a time by wrk -t1 -c{r['connections']} for {r['seconds']} s, in a shuffled order each "
        f"round; {r['rounds']} rounds over {r['sets']} fresh set(s) of servers; ratios taken round by round, then "
        "the median",
        "   prometheus runs in prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR), as needed with "
        "several workers",
        f"   extension database: {r['database']}",
        "   server CPU = CPU time of the gunicorn master and workers (all threads, /proc schedstat) per request served",
        "",
    ]
    header = ["server", "req/s (median)", "ratio to bare", "p25..p75", "server CPU us/req", "CPU vs bare", "p25..p75",
              "errors"]  # fmt: skip
    rows = [[label, f"{v['rps']:.0f}", f"{v['ratio'].median:.3f}", f"{v['ratio'].p25:.3f}..{v['ratio'].p75:.3f}",
             f"{v['cpu_us']:.0f}", f"{v['cpu_ratio'].median:.3f}",
             f"{v['cpu_ratio'].p25:.3f}..{v['cpu_ratio'].p75:.3f}", str(v["errors"])]
            for label, v in labels.items()]  # fmt: skip
    lines += [*table(header, rows), "", f"   socket errors and non-2xx responses over all runs: {r['errors']}"]
    c = r["cluster"]
    lines.append(
        f"   ext-cluster counts in the database after shutdown: {c['total']:,}; requests wrk saw completed: "
        f"{c['sent']:,} (+ up to {c['slack']} in flight when a wrk run stopped): "
        + ("consistent" if c["consistent"] else "MISMATCH")
    )
    control = labels[CONTROL]["ratio"].median
    goals = [Goal(f"{mode}: gunicorn throughput over bare's", f"{labels[mode]['ratio'].median:.1%} (A/A control, "
                  f"{CONTROL} / bare: {control:.1%})", f">= {TARGET_THROUGHPUT_RATIO:.0%}",
                  labels[mode]["ratio"].median >= TARGET_THROUGHPUT_RATIO) for mode in EXT_MODES]  # fmt: skip
    lines += ["", *goal_table(goals)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(harness.main(__spec__.name))
