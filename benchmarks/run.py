"""What flask-camunda-telemetry costs, side by side with its peers.

Run from the repository root::

    .venv/bin/python benchmarks/run.py            # full run, about 8 to 9 minutes on 2 cores
    .venv/bin/python benchmarks/run.py --quick    # about 2 minutes, rougher figures

Sections (README.rst in this folder explains how to read them):

1. per-request cost in process: the WSGI app called directly, the modes interleaved round by round;
2. read cost: ``GET /telemetry/data`` with 1, 100 and 10,000 commands, next to prometheus' ``/metrics``;
3. end to end: gunicorn on 127.0.0.1 under wrk, requests per second per mode;
4. the flush's cost on the database (cluster scope).

The report is printed and written to ``benchmarks/results/<date>-<host>.txt``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.metadata
import importlib.util
import io
import multiprocessing
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.test import EnvironBuilder

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from bench_app import MODES, Call, create_app, request_mix  # noqa: E402

from flask_camunda_telemetry.state import COMMANDS, EXTENSION_KEY, TelemetryState  # noqa: E402

Environ = dict[str, Any]
WsgiApp = Callable[[Environ, Callable[..., Any]], Iterable[bytes]]

EXT_MODES = ("ext-process", "ext-cluster")
READ_SIZES = (1, 100, 10_000)

# Targets from the issue.
TARGET_OVER_HANDWRITTEN_US = 5.0
TARGET_THROUGHPUT_RATIO = 0.97
TARGET_READ_100_MS = 5.0
TARGET_READ_10K_SPEEDUP = 10.0


@dataclass(frozen=True)
class Settings:
    quick: bool
    rounds: int
    batch: int
    read_reps: dict[int, int]
    e2e_rounds: int
    e2e_seconds: int
    e2e_epochs: int
    workers: int
    connections: int
    flush_reps: int


def settings(args: argparse.Namespace) -> Settings:
    if args.quick:
        base = Settings(True, 15, 400, {1: 31, 100: 21, 10_000: 3}, 8, 1, 1, args.workers, args.connections, 10)
    else:
        base = Settings(False, 41, 1200, {1: 201, 100: 101, 10_000: 9}, 60, 1, 3, args.workers, args.connections, 40)
    if args.rounds:
        base = Settings(**{**base.__dict__, "rounds": args.rounds})
    if args.e2e_rounds:
        base = Settings(**{**base.__dict__, "e2e_rounds": args.e2e_rounds})
    if args.e2e_seconds:
        base = Settings(**{**base.__dict__, "e2e_seconds": args.e2e_seconds})
    if args.e2e_sets:
        base = Settings(**{**base.__dict__, "e2e_epochs": args.e2e_sets})
    return base


# -- statistics ------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def quartiles(values: Sequence[float]) -> tuple[float, float]:
    if len(values) < 2:
        return (values[0], values[0])
    q = statistics.quantiles(values, n=4, method="inclusive")
    return (q[0], q[2])


def diffs(values: Sequence[float], base: Sequence[float]) -> list[float]:
    """Round by round: ``values[r] - base[r]``."""
    return [a - b for a, b in zip(values, base, strict=True)]


def ratios(values: Sequence[float], base: Sequence[float]) -> list[float]:
    """Round by round: ``values[r] / base[r]``."""
    return [a / b for a, b in zip(values, base, strict=True)]


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


# -- WSGI driving ----------------------------------------------------------------------------


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
    _start_response.status = status  # type: ignore[attr-defined]
    return _discard


def _discard(data: bytes) -> None:
    pass


def prepare(calls: Sequence[Call]) -> list[tuple[Environ, bytes]]:
    """An environ per call, made once; each request copies it and gets a fresh body stream."""
    prepared = []
    for call in calls:
        builder = EnvironBuilder(
            path=call.path,
            method=call.method,
            data=call.body or None,
            content_type="application/json" if call.body else None,
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        )
        environ = builder.get_environ()
        builder.close()
        prepared.append((environ, call.body))
    return prepared


def drive(app: WsgiApp, environs: Sequence[tuple[Environ, bytes]], n: int) -> tuple[float, float]:
    """Send ``n`` requests (cycling through ``environs``); return microseconds per request as
    (this thread's CPU time, wall-clock time)."""
    k = len(environs)
    bytes_io = io.BytesIO
    start_response = _start_response
    cpu_begin = time.thread_time_ns()
    begin = time.perf_counter_ns()
    for i in range(n):
        template, body = environs[i % k]
        environ = template.copy()
        environ["wsgi.input"] = bytes_io(body)
        result = app(environ, start_response)
        for _chunk in result:
            pass
        close = getattr(result, "close", None)
        if close is not None:
            close()
    wall = time.perf_counter_ns() - begin
    cpu = time.thread_time_ns() - cpu_begin
    return cpu / n / 1000, wall / n / 1000


def fetch(app: WsgiApp, environ: tuple[Environ, bytes]) -> tuple[str, bytes]:
    template, body = environ
    env = template.copy()
    env["wsgi.input"] = io.BytesIO(body)
    result = app(env, _start_response)
    data = b"".join(result)
    close = getattr(result, "close", None)
    if close is not None:
        close()
    return _start_response.status, data  # type: ignore[attr-defined]


def _noop_app(environ: Environ, start_response: Callable[..., Any]) -> list[bytes]:
    environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b"{}"]


def telemetry_state(app: Flask) -> TelemetryState:
    state: TelemetryState = app.extensions[EXTENSION_KEY]
    return state


def counted(mode: str, app: Flask) -> int | None:
    """How many requests the mode's counter holds (None for bare)."""
    if mode == "handwritten":
        return sum(app.extensions["bench_counts"].values())
    if mode == "prometheus":
        registry = app.extensions["bench_prometheus"].registry
        return int(
            sum(
                sample.value
                for metric in registry.collect()
                if metric.name == "flask_http_request_duration_seconds"
                for sample in metric.samples
                if sample.name.endswith("_count")
            )
        )
    if mode in EXT_MODES:
        return sum(telemetry_state(app).commands.totals().values())
    return None


# -- the machine -----------------------------------------------------------------------------


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True, timeout=10
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine() -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    wrk = shutil.which("wrk")
    wrk_version = "not installed"
    if wrk:
        out = subprocess.run([wrk, "--version"], capture_output=True, text=True, timeout=10)
        wrk_version = (out.stdout or out.stderr).split("[")[0].strip() or "unknown"
    packages = ", ".join(
        f"{name} {_version(name)}"
        for name in (
            "flask",
            "werkzeug",
            "marshmallow",
            "sqlalchemy",
            "prometheus-flask-exporter",
            "prometheus-client",
            "gunicorn",
        )
    )
    return {
        "host": socket.gethostname(),
        "cpu": f"{cpu}, {os.cpu_count()} logical cores ({usable} usable)",
        "memory": memory,
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "extension": f"flask-camunda-telemetry {_version('flask-camunda-telemetry')} (git {_git_commit()})",
        "packages": packages,
        "wrk": wrk_version,
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


# -- databases -------------------------------------------------------------------------------


class Databases:
    """Where the extension's apps keep their tables: SQLite files in a temp dir, or one URL."""

    def __init__(self, url: str | None, tmp: Path) -> None:
        self.url = url
        self.tmp = tmp

    def for_app(self, label: str) -> str:
        return self.url or f"sqlite:///{self.tmp / (label + '.sqlite')}"

    def describe(self) -> str:
        if self.url is None:
            return "SQLite file per app in a temp dir"
        from sqlalchemy.engine import make_url

        return make_url(self.url).render_as_string(hide_password=True)


def ext_app(mode: str, dbs: Databases, label: str, tmp: Path, **options: Any) -> Flask:
    """An extension app on a clean slate (shared counts reset when the database is shared)."""
    app = create_app(mode, database_url=dbs.for_app(label), instance_path=str(tmp / "instance"), **options)
    if dbs.url is not None:
        telemetry_state(app).reset()
    return app


def drop_bench_tables(dbs: Databases, tmp: Path) -> None:
    if dbs.url is None:
        return
    app = create_app("ext-cluster", database_url=dbs.url, instance_path=str(tmp / "instance"))
    store = telemetry_state(app).store
    for table in (store.tables.count, store.tables.property):
        table.drop(store.engine, checkfirst=True)
    store.engine.dispose()


# -- 1. per-request cost ---------------------------------------------------------------------


@dataclass
class PerRequest:
    times: dict[str, list[float]]  # CPU us/request, per round
    wall: dict[str, list[float]]  # wall-clock us/request, per round
    hook_ns: dict[str, list[float]]  # the counting hook alone, ns/call, per round
    harness_us: float
    requests_per_mode: int
    counts_ok: dict[str, str]


HOOK_MODES = ("handwritten", "ext-process", "ext-cluster")


def hook_alone(apps: dict[str, Flask], rounds: int, calls: int) -> dict[str, list[float]]:
    """The ``before_request`` counting function of each mode, called directly inside a request
    context (what it adds, without Flask's dispatch around it): ns per call, interleaved rounds."""
    hooks = {mode: apps[mode].before_request_funcs[None][0] for mode in HOOK_MODES}
    result: dict[str, list[float]] = {mode: [] for mode in HOOK_MODES}
    rng = random.Random(3)
    for _ in range(rounds):
        order = list(HOOK_MODES)
        rng.shuffle(order)
        for mode in order:
            hook = hooks[mode]
            # Pushing the context matches the URL: request.endpoint is set, as in a real request.
            with apps[mode].test_request_context("/engine-rest/task/count"):
                begin = time.thread_time_ns()
                for _ in range(calls):
                    hook()
                result[mode].append((time.thread_time_ns() - begin) / calls)
    return result


def per_request(cfg: Settings, dbs: Databases, tmp: Path, log: Callable[[str], None]) -> PerRequest:
    environs = prepare(request_mix())
    apps: dict[str, Flask] = {}
    for mode in MODES:
        if mode in EXT_MODES:
            apps[mode] = ext_app(mode, dbs, f"per-request-{mode}", tmp)
        else:
            apps[mode] = create_app(mode)
    for mode, app in apps.items():  # every route answers 200 in every mode
        for environ in environs:
            status, _body = fetch(app, environ)
            if not status.startswith("200"):
                raise SystemExit(f"{mode}: {environ[0]['REQUEST_METHOD']} {environ[0]['PATH_INFO']} gave {status}")
    batch = cfg.batch - cfg.batch % len(environs) or len(environs)
    sent = {mode: len(environs) for mode in MODES}
    for mode, app in apps.items():  # warm-up
        drive(app, environs, batch)
        sent[mode] += batch
    harness = [drive(_noop_app, environs, batch)[0] for _ in range(5)]
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    wall: dict[str, list[float]] = {mode: [] for mode in MODES}
    rng = random.Random(5)
    for r in range(cfg.rounds):
        order = list(MODES)
        rng.shuffle(order)
        for mode in order:
            gc.collect()
            cpu_us, wall_us = drive(apps[mode], environs, batch)
            times[mode].append(cpu_us)
            wall[mode].append(wall_us)
            sent[mode] += batch
        if (r + 1) % 20 == 0:
            log(f"  per-request: round {r + 1}/{cfg.rounds}")
    counts_ok = {}
    for mode, app in apps.items():
        n = counted(mode, app)
        counts_ok[mode] = "-" if n is None else ("exact" if n == sent[mode] else f"{n} of {sent[mode]}")
    hooks = hook_alone(apps, cfg.rounds, 20_000 if cfg.quick else 50_000)
    for mode in EXT_MODES:
        state = telemetry_state(apps[mode])
        state.flusher.stop()
        state.store.engine.dispose()
    return PerRequest(times, wall, hooks, median(harness), batch * cfg.rounds, counts_ok)


def report_per_request(res: PerRequest) -> list[str]:
    bare = res.times["bare"]
    lines = [
        "1. Per-request cost in process (WSGI app called directly; 40 routes, 30 GET + 10 POST with JSON)",
        f"   {len(bare)} rounds x {res.requests_per_mode // len(bare)} requests per mode, modes interleaved in a "
        "shuffled order each round.",
        "   us/request = this thread's CPU time (robust to other tenants' load); wall = wall-clock time; overhead "
        "and ratio are taken round by round against bare, then the median",
        f"   harness alone (no-op WSGI app): {res.harness_us:.1f} us/request",
        "",
        f"   {'mode':<13} {'us/request':>10} {'wall':>8} {'overhead vs bare':>17} {'spread (p25..p75)':>19}"
        f" {'ratio':>7}  {'counted':<8}",
    ]
    for mode in MODES:
        t = res.times[mode]
        w = median(res.wall[mode])
        if mode == "bare":
            lines.append(
                f"   {mode:<13} {median(t):>10.2f} {w:>8.2f} {'-':>17} {'-':>19} {1:>7.3f}  {res.counts_ok[mode]:<8}"
            )
            continue
        diff = diffs(t, bare)
        lo, hi = quartiles(diff)
        ratio = median(ratios(t, bare))
        lines.append(
            f"   {mode:<13} {median(t):>10.2f} {w:>8.2f} {median(diff):>+14.2f} us {lo:>+8.2f} ..{hi:>+6.2f} us"
            f" {ratio:>7.3f}  {res.counts_ok[mode]:<8}"
        )
    hand = res.times["handwritten"]
    prom_over = median(diffs(res.times["prometheus"], bare))
    lines.append("")
    for mode in EXT_MODES:
        diff = diffs(res.times[mode], hand)
        lo, hi = quartiles(diff)
        over = median(diffs(res.times[mode], bare))
        share = over / prom_over if prom_over > 0 else float("nan")
        lines.append(
            f"   {mode} vs handwritten: {median(diff):+.2f} us (p25..p75 {lo:+.2f}..{hi:+.2f}); "
            f"its overhead is {share:.0%} of prometheus'"
        )
    hand_hook = res.hook_ns["handwritten"]
    lines += [
        "",
        "   The counting hook alone (called directly in a request context; CPU ns per call, median over rounds):",
        "   "
        + "; ".join(
            f"{mode} {median(res.hook_ns[mode]):.0f} ns"
            + ("" if mode == "handwritten" else f" ({median(diffs(res.hook_ns[mode], hand_hook)):+.0f} ns)")
            for mode in HOOK_MODES
        ),
    ]
    return lines


# -- 2. read cost ----------------------------------------------------------------------------


@dataclass
class ReadCost:
    ms: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    size: dict[tuple[str, int], int] = field(default_factory=dict)


READ_MODES = ("ext-process", "ext-cluster", "prometheus")


def _read_path(mode: str) -> str:
    return "/metrics" if mode == "prometheus" else "/telemetry/data"


def _reader(conn: Connection, mode: str, n: int, database_url: str | None, instance: str) -> None:
    """A child process holding one app with ``n`` commands (or endpoints), timing reads on demand.

    Each app gets a process of its own, as in production: a read then pays the garbage
    collection of its own heap, not of the other modes' apps (10,000 prometheus endpoints make a
    large heap)."""
    try:
        if mode == "prometheus":
            app = create_app(mode, extra_routes=n)
            drive(app, prepare([Call("GET", f"/extra/{i}") for i in range(n)]), n)  # each endpoint once
        else:
            # A long flush interval: no background flush during the timing.
            app = create_app(mode, database_url=database_url, instance_path=instance, flush_interval=3600)
            telemetry = app.extensions["bench_telemetry"]
            with app.app_context():
                for i in range(n):
                    telemetry.count_command(f"Cmd{i}")
                telemetry.flush()
        environ = prepare([Call("GET", _read_path(mode))])[0]
        status, body = fetch(app, environ)
        conn.send((status, len(body), body[:300]))
        while conn.recv() == "read":
            conn.send(drive(app, [environ], 1)[1] / 1000)
        if mode != "prometheus":
            state = telemetry_state(app)
            state.flusher.stop()
            state.store.engine.dispose()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which stops the run
        conn.send(("error", 0, repr(exc).encode()))
    finally:
        conn.close()


@contextlib.contextmanager
def reader_processes(target: Callable[..., None], jobs: dict[str, tuple[Any, ...]]) -> Iterator[dict[str, Connection]]:
    """One spawned child per mode running ``target(conn, *jobs[mode])``, each holding one app and
    answering ``"read"`` with a timing; asked to stop (then killed) when the block ends."""
    spawn = multiprocessing.get_context("spawn")
    children = {}
    try:
        for mode, args in jobs.items():
            parent, child = spawn.Pipe()
            process = spawn.Process(target=target, args=(child, *args), daemon=True)
            process.start()
            child.close()
            children[mode] = (process, parent)
        yield {mode: conn for mode, (_process, conn) in children.items()}
    finally:
        for process, conn in children.values():
            with contextlib.suppress(OSError):
                conn.send("stop")
            process.join(timeout=60)
            if process.is_alive():
                process.kill()
                process.join()


def interleaved(
    labels: Iterable[str], rounds: int, rng: random.Random, measure: Callable[[str], float]
) -> dict[str, list[float]]:
    """``rounds`` rounds of ``measure(label)`` for every label, in a shuffled order each round."""
    times: dict[str, list[float]] = {label: [] for label in labels}
    for _ in range(rounds):
        order = list(times)
        rng.shuffle(order)
        for label in order:
            times[label].append(measure(label))
    return times


def interleaved_reads(conns: dict[str, Connection], reps: int, rng: random.Random) -> dict[str, list[float]]:
    """``reps`` rounds asking every child of :func:`reader_processes` for one timing."""

    def read(mode: str) -> float:
        conns[mode].send("read")
        timing: float = conns[mode].recv()
        return timing

    return interleaved(conns, reps, rng, read)


def read_cost(cfg: Settings, dbs: Databases, tmp: Path, log: Callable[[str], None]) -> ReadCost:
    res = ReadCost()
    rng = random.Random(7)
    for n in READ_SIZES:
        if dbs.url is not None:  # shared tables: only this size's commands in them
            telemetry_state(ext_app("ext-cluster", dbs, "read-reset", tmp)).store.engine.dispose()
        jobs = {mode: (mode, n, dbs.for_app(f"read-{mode}-{n}"), str(tmp / "instance")) for mode in READ_MODES}
        with reader_processes(_reader, jobs) as conns:
            for mode, conn in conns.items():
                status, size, head = conn.recv()
                if not status.startswith("200"):
                    raise SystemExit(f"{mode}: GET {_read_path(mode)} gave {status}: {head!r}")
                res.size[(mode, n)] = size
            for mode, times in interleaved_reads(conns, cfg.read_reps[n], rng).items():
                res.ms[(mode, n)] = times
        log(f"  read cost: {n} commands/endpoints done")
    return res


def report_read_cost(res: ReadCost, cfg: Settings) -> list[str]:
    lines = [
        "2. Read cost: latency of one GET (WSGI call, wall clock), each app in a process of its own, the modes",
        "   interleaved, median over the repetitions",
        "   ext: GET /telemetry/data with N distinct commands; prometheus: GET /metrics with N endpoints hit once",
        "",
        f"   {'N':>6} {'reps':>5} {'ext-process ms':>15} {'ext-cluster ms':>15} {'prometheus ms':>14}"
        f" {'/metrics / ext-process':>23} {'/metrics / ext-cluster':>23}",
    ]
    for n in READ_SIZES:
        p, c, m = (median(res.ms[(mode, n)]) for mode in READ_MODES)
        lines.append(
            f"   {n:>6} {cfg.read_reps[n]:>5} {p:>15.3f} {c:>15.3f} {m:>14.3f} {m / p:>22.1f}x {m / c:>22.1f}x"
        )
    lines.append("")
    lines.append(
        "   response bytes: "
        + "; ".join(
            f"N={n}: " + ", ".join(f"{mode} {res.size[(mode, n)]:,}" for mode in READ_MODES) for n in READ_SIZES
        )
    )
    return lines


# -- 3. end to end ---------------------------------------------------------------------------


@dataclass
class Server:
    mode: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


@dataclass
class EndToEnd:
    # one server under load at a time, modes (and a second bare server) interleaved
    rps: dict[str, list[float]] = field(default_factory=dict)
    cpu_us: dict[str, list[float]] = field(default_factory=dict)  # server CPU (master + workers) per request
    errors: dict[str, int] = field(default_factory=dict)
    completed: dict[str, int] = field(default_factory=dict)
    runs: dict[str, int] = field(default_factory=dict)
    cluster_total: int | None = None
    skipped: str | None = None
    workers: int = 0
    connections: int = 0
    seconds: int = 0
    epochs: int = 1
    database: str = ""


def _process_cpu_seconds(pid: int) -> float:
    """CPU time of one process, all its threads: the scheduler's nanosecond count (schedstat),
    else user + system clock ticks (coarse: 10 ms)."""
    total_ns = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            total_ns += int((task / "schedstat").read_text().split()[0])
        return total_ns / 1e9
    except (OSError, ValueError, IndexError):
        pass
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(pid: int) -> float:
    """CPU time used so far by a gunicorn master and its workers (Linux /proc)."""
    total = _process_cpu_seconds(pid)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            total += _process_cpu_seconds(int(entry.name))
    return total


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _gunicorn_flags() -> list[str]:
    out = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    # gunicorn 25+ opens a control socket at a fixed path by default: several servers would clash.
    return ["--no-control-socket"] if "--no-control-socket" in out.stdout else []


def start_server(mode: str, workers: int, dbs: Databases, tmp: Path, flags: list[str]) -> Server:
    port = _free_port()
    env = {
        **os.environ,
        "BENCH_MODE": mode,
        "BENCH_INSTANCE": str(tmp / "instance"),
        "BENCH_DATABASE_URL": dbs.for_app(f"e2e-{mode}") if mode in EXT_MODES else "",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if mode == "prometheus":
        multiproc = tmp / "prometheus-multiproc"
        multiproc.mkdir(exist_ok=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(multiproc)
    log = tmp / f"gunicorn-{mode}.log"
    command = [
        sys.executable, "-m", "gunicorn",
        "--workers", str(workers),
        "--bind", f"127.0.0.1:{port}",
        "--pythonpath", str(HERE),
        "--log-level", "warning",
        "--error-logfile", str(log),
        "--graceful-timeout", "20",
        *flags,
        "bench_app:from_env()",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env, cwd=str(tmp), stdin=subprocess.DEVNULL)
    return Server(mode, port, process, log)


def wait_ready(server: Server, timeout: float = 60) -> int:
    """Poll until the server answers; return how many counted requests the polling made."""
    url = f"http://127.0.0.1:{server.port}/engine-rest/task/count"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn ({server.mode}) exited: see {server.log}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return 1
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn ({server.mode}) did not answer within {timeout} s: see {server.log}")


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)


@dataclass
class WrkResult:
    rps: float
    completed: int
    errors: int


def start_wrk(port: int, seconds: int, connections: int, script: Path, requests_file: Path) -> subprocess.Popen[str]:
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
        "-s", str(script), f"http://127.0.0.1:{port}", "--", str(requests_file),
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish_wrk(process: subprocess.Popen[str], seconds: int) -> WrkResult:
    out, _ = process.communicate(timeout=seconds + 60)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    done = re.search(r"(\d+) requests in", out)
    if rps is None or done is None:
        raise RuntimeError(f"could not read wrk's output:\n{out}")
    errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors += int(non2xx.group(1)) if non2xx else 0
    return WrkResult(float(rps.group(1)), int(done.group(1)), errors)


#: A second bare server, run like a mode: the A/A control (how much two identical servers differ).
CONTROL = "bare-2"
E2E_LABELS = (*MODES, CONTROL)


def end_to_end(cfg: Settings, dbs: Databases, tmp: Path, log: Callable[[str], None]) -> EndToEnd:
    res = EndToEnd(workers=cfg.workers, connections=cfg.connections, seconds=cfg.e2e_seconds)
    res.database = dbs.describe()
    if shutil.which("wrk") is None:
        res.skipped = (
            "wrk is not installed: install it (Debian/Ubuntu: 'apt-get install -y wrk'; macOS: 'brew install wrk') "
            "and run again to get this section"
        )
        return res
    if importlib.util.find_spec("gunicorn") is None:
        res.skipped = "gunicorn is not installed: pip install -r benchmarks/requirements.txt"
        return res
    requests_file = tmp / "requests.txt"
    requests_file.write_text(
        "".join(f"{c.method} {c.path}{' ' + c.body.decode() if c.body else ''}\n" for c in request_mix())
    )
    script = HERE / "rotate.lua"
    if dbs.url is not None:  # shared tables: start from zero
        ext_app("ext-cluster", dbs, "e2e-reset", tmp)
    flags = _gunicorn_flags()
    servers: dict[str, Server] = {}
    rng = random.Random(11)
    seconds = cfg.e2e_seconds

    def load(label: str) -> tuple[WrkResult, float]:
        """Load one server; (wrk result, server CPU us per request)."""
        pid = servers[label].process.pid
        before = server_cpu_seconds(pid)
        w = finish_wrk(start_wrk(servers[label].port, seconds, cfg.connections, script, requests_file), seconds)
        cpu = (server_cpu_seconds(pid) - before) / max(w.completed, 1) * 1e6
        res.completed[label] += w.completed
        res.errors[label] += w.errors
        res.runs[label] += 1
        return w, cpu

    for label in E2E_LABELS:
        res.completed[label] = res.errors[label] = res.runs[label] = 0
        res.rps[label], res.cpu_us[label] = [], []
    per_epoch = -(-cfg.e2e_rounds // cfg.e2e_epochs)
    done = 0
    for epoch in range(cfg.e2e_epochs):
        # Fresh servers each epoch: one server instance keeps a speed bias of a few percent for as
        # long as it runs (memory layout), so each mode's figures span several instances.
        shutil.rmtree(tmp / "prometheus-multiproc", ignore_errors=True)
        try:
            for label in E2E_LABELS:
                servers[label] = start_server("bare" if label == CONTROL else label, cfg.workers, dbs, tmp, flags)
            for label in E2E_LABELS:
                res.completed[label] += wait_ready(servers[label])
            for label in E2E_LABELS:  # warm-up: every worker imports, connects, fills its caches
                load(label)
            for _ in range(min(per_epoch, cfg.e2e_rounds - done)):
                order = list(E2E_LABELS)
                rng.shuffle(order)
                for label in order:
                    w, cpu = load(label)
                    res.rps[label].append(w.rps)
                    res.cpu_us[label].append(cpu)
                done += 1
                if done % 10 == 0 or done == cfg.e2e_rounds:
                    log(f"  end to end: round {done}/{cfg.e2e_rounds} (server set {epoch + 1}/{cfg.e2e_epochs})")
        finally:
            for server in servers.values():
                stop_server(server)  # SIGTERM: workers flush what they counted at exit
    res.epochs = cfg.e2e_epochs
    if "ext-cluster" in servers:
        app = create_app(
            "ext-cluster", database_url=dbs.for_app("e2e-ext-cluster"), instance_path=str(tmp / "instance")
        )
        store = telemetry_state(app).store
        res.cluster_total = sum(store.read_counts().get(COMMANDS, {}).values())
        store.engine.dispose()
    return res


def report_end_to_end(res: EndToEnd) -> list[str]:
    lines = ["3. End to end: gunicorn (sync workers) on 127.0.0.1, wrk rotating the same 40 requests"]
    if res.skipped:
        return [*lines, f"   skipped: {res.skipped}"]
    bare = res.rps["bare"]
    bare_cpu = res.cpu_us["bare"]
    lines += [
        f"   {res.workers} workers per server; six servers up at once (the five modes and '{CONTROL}', a second bare "
        "server: the A/A control);",
        f"   one loaded at a time by wrk -t1 -c{res.connections} for {res.seconds} s, in a shuffled order each round; "
        f"{len(bare)} rounds over {res.epochs} fresh set(s) of servers;",
        "   ratios are taken round by round, then the median",
        "   prometheus runs in prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR), as needed with "
        "several workers",
        f"   extension database: {res.database}",
        "   server CPU = CPU time of the gunicorn master and workers (all threads, /proc schedstat) per request served",
        "",
        f"   {'server':<13} {'req/s (median)':>15} {'ratio to bare':>14} {'ratio p25..p75':>15}"
        f" {'server CPU us/req':>18} {'CPU vs bare':>12} {'p25..p75':>13} {'errors':>7}",
    ]
    for label in E2E_LABELS:
        rps = res.rps[label]
        per_round = ratios(rps, bare)
        lo, hi = quartiles(per_round)
        cpu_ratios = ratios(res.cpu_us[label], bare_cpu)
        clo, chi = quartiles(cpu_ratios)
        lines.append(
            f"   {label:<13} {median(rps):>15.0f} {median(per_round):>14.3f} {lo:>7.3f}..{hi:<6.3f}"
            f" {median(res.cpu_us[label]):>18.0f} {median(cpu_ratios):>12.3f} {clo:>6.3f}..{chi:<5.3f}"
            f" {res.errors[label]:>7}"
        )
    lines.append(f"\n   socket errors and non-2xx responses over all runs: {sum(res.errors.values())}")
    if res.cluster_total is not None:
        sent = res.completed["ext-cluster"]
        slack = res.runs["ext-cluster"] * res.connections
        ok = sent <= res.cluster_total <= sent + slack
        lines += [
            f"   ext-cluster counts in the database after shutdown: {res.cluster_total:,}; requests wrk saw completed: "
            f"{sent:,} (+ up to {slack} in flight when a wrk run stopped): {'consistent' if ok else 'MISMATCH'}",
        ]
    return lines


# -- 4. flush cost ---------------------------------------------------------------------------


@dataclass
class FlushCost:
    first_ms: float
    ms: list[float]
    tick_ms: list[float]
    rows: int
    database: str


def flush_cost(cfg: Settings, dbs: Databases, tmp: Path) -> FlushCost:
    app = ext_app("ext-cluster", dbs, "flush", tmp, flush_interval=3600)
    state = telemetry_state(app)
    names = [f"Update{i}Cmd" for i in range(40)]
    metrics = {
        "root-process-instance-start": 1,
        "activity-instance-start": 3,
        "executed-decision-instances": 1,
        "executed-decision-elements": 2,
    }

    def pend() -> None:
        for i, name in enumerate(names):
            state.count_command(name, i + 1)
        for metric, n in metrics.items():
            state.mark_metric(metric, n)

    with app.app_context():
        state.store.installation_id()  # tables and connection pool ready
        pend()
        begin = time.perf_counter()
        state.flush()
        first = (time.perf_counter() - begin) * 1000
        times, ticks = [], []
        for _ in range(cfg.flush_reps):
            pend()
            begin = time.perf_counter()
            state.flush()
            times.append((time.perf_counter() - begin) * 1000)
            pend()
            begin = time.perf_counter()
            state.sync()
            ticks.append((time.perf_counter() - begin) * 1000)
        db = state.store.database()
    state.flusher.stop()
    state.store.engine.dispose()
    return FlushCost(first, times, ticks, len(names) + 4, f"{db.vendor} {db.version}")


def report_flush(res: FlushCost, workers: int, interval: float = 10.0) -> list[str]:
    tick = median(res.tick_ms)
    return [
        "4. The flush's cost on the database (cluster scope), measured in process",
        f"   database: {res.database}; one flush = one transaction upserting {res.rows} rows (40 commands + 4 metrics)",
        f"   first flush (inserts): {res.first_ms:.2f} ms; later flushes (updates): median {median(res.ms):.2f} ms, "
        f"p90 {percentile(res.ms, 90):.2f} ms over {len(res.ms)}",
        f"   one tick of the flush thread (flush + start-date read): median {tick:.2f} ms",
        f"   at the default interval ({interval:g} s) with {workers} workers: {workers / interval:.1f} ticks/s, "
        f"about {workers / interval * tick:.1f} ms of database work per second, off the request path",
    ]


# -- targets ---------------------------------------------------------------------------------


def report_targets(pr: PerRequest | None, rc: ReadCost | None, e2e: EndToEnd | None) -> list[str]:
    lines = ["Targets"]

    def mark(ok: bool) -> str:
        return "[met   ]" if ok else "[MISSED]"

    if pr is not None:
        hand = pr.times["handwritten"]
        bare = pr.times["bare"]
        prom_over = median(diffs(pr.times["prometheus"], bare))
        for mode in EXT_MODES:
            d = median(diffs(pr.times[mode], hand))
            over = median(diffs(pr.times[mode], bare))
            share = over / prom_over if prom_over > 0 else float("nan")
            lines.append(
                f"   {mark(d <= TARGET_OVER_HANDWRITTEN_US)} {mode} per-request overhead within "
                f"{TARGET_OVER_HANDWRITTEN_US:g} us of the hand-written counter's: {d:+.2f} us "
                f"(overhead {over:+.2f} us = {share:.0%} of prometheus' {prom_over:+.2f} us)"
            )
    if e2e is not None:
        if e2e.skipped:
            lines.append("   [skipped] gunicorn throughput: wrk missing")
        else:
            for mode in EXT_MODES:
                ratio = median(ratios(e2e.rps[mode], e2e.rps["bare"]))
                control = median(ratios(e2e.rps[CONTROL], e2e.rps["bare"]))
                lines.append(
                    f"   {mark(ratio >= TARGET_THROUGHPUT_RATIO)} {mode} gunicorn throughput at least "
                    f"{TARGET_THROUGHPUT_RATIO:.0%} of bare: {ratio:.1%} (A/A control, bare-2 / bare: {control:.1%})"
                )
    if rc is not None:
        for mode in EXT_MODES:
            ms = median(rc.ms[(mode, 100)])
            lines.append(
                f"   {mark(ms < TARGET_READ_100_MS)} {mode} /telemetry/data with 100 commands under "
                f"{TARGET_READ_100_MS:g} ms: {ms:.2f} ms"
            )
        prom = median(rc.ms[("prometheus", 10_000)])
        for mode in EXT_MODES:
            speedup = prom / median(rc.ms[(mode, 10_000)])
            lines.append(
                f"   {mark(speedup >= TARGET_READ_10K_SPEEDUP)} {mode} /telemetry/data with 10,000 commands at least "
                f"{TARGET_READ_10K_SPEEDUP:g}x faster than /metrics with 10,000 endpoints: {speedup:.0f}x"
            )
    return lines


# -- profiling -------------------------------------------------------------------------------


@contextlib.contextmanager
def profiled(title: str) -> Iterator[None]:
    try:
        from pyinstrument import Profiler
    except ImportError:
        Profiler = None  # noqa: N806
    if Profiler is not None:
        profiler = Profiler(interval=0.0001)
        profiler.start()
        yield
        profiler.stop()
        print(f"== pyinstrument: {title}")
        print(profiler.output_text(unicode=True, color=False, show_all=False))
    else:
        import cProfile
        import pstats

        cprofile = cProfile.Profile()
        cprofile.enable()
        yield
        cprofile.disable()
        print(f"== cProfile: {title}")
        pstats.Stats(cprofile).sort_stats("cumulative").print_stats(30)


def profile(target: str, dbs: Databases, tmp: Path) -> None:
    """Profile one mode's request path, or a 10,000-command read (read-process, read-cluster)."""
    if target.startswith("read-"):
        mode = "ext-" + target.removeprefix("read-")
        app = ext_app(mode, dbs, f"profile-{mode}", tmp, flush_interval=3600)
        telemetry = app.extensions["bench_telemetry"]
        with app.app_context():
            for i in range(10_000):
                telemetry.count_command(f"Cmd{i}")
            telemetry.flush()
        environ = prepare([Call("GET", "/telemetry/data")])
        drive(app, environ, 2)
        with profiled(f"GET /telemetry/data with 10,000 commands ({mode}), 20 times"):
            drive(app, environ, 20)
        return
    if target not in MODES:
        raise SystemExit(f"--profile: choose one of {', '.join(MODES)}, read-process, read-cluster")
    app = ext_app(target, dbs, f"profile-{target}", tmp) if target in EXT_MODES else create_app(target)
    environs = prepare(request_mix())
    drive(app, environs, 2000)
    with profiled(f"{target}: 40,000 requests of the mix"):
        drive(app, environs, 40_000)


# -- main ------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer rounds: about 2 minutes, rougher figures")
    parser.add_argument(
        "--database-url",
        help="SQLAlchemy URL for the extension's tables (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test); "
        "default: SQLite files in a temp dir. The benchmark uses its own tables (bench_telemetry_*) and drops them.",
    )
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers per server (default 4)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    parser.add_argument("--rounds", type=int, default=0, help="override the number of per-request rounds")
    parser.add_argument("--e2e-rounds", type=int, default=0, help="override the number of end-to-end rounds")
    parser.add_argument("--e2e-seconds", type=int, default=0, help="override the length of one wrk run (seconds)")
    parser.add_argument("--e2e-sets", type=int, default=0, help="override how many fresh sets of servers to start")
    parser.add_argument(
        "--sections",
        default="per-request,read,e2e,flush",
        help="comma-separated subset of per-request,read,e2e,flush (default: all)",
    )
    parser.add_argument(
        "--profile",
        metavar="TARGET",
        help="instead of benchmarking, profile a mode's request path (bare, handwritten, prometheus, ext-process, "
        "ext-cluster) or a 10,000-command read (read-process, read-cluster)",
    )
    parser.add_argument("--no-save", action="store_true", help="print the report only, do not write results/")
    args = parser.parse_args(argv)
    cfg = settings(args)
    sections = {s.strip() for s in args.sections.split(",") if s.strip()}
    unknown = sections - {"per-request", "read", "e2e", "flush"}
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")

    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="camunda-telemetry-bench-") as tmpdir:
        tmp = Path(tmpdir)
        dbs = Databases(args.database_url, tmp)
        if args.profile:
            try:
                profile(args.profile, dbs, tmp)
            finally:
                drop_bench_tables(dbs, tmp)
            return 0
        info = machine()
        pr = rc = e2e = None
        fc = None
        try:
            if "per-request" in sections:
                log("per-request cost ...")
                pr = per_request(cfg, dbs, tmp, log)
            if "read" in sections:
                log("read cost ...")
                rc = read_cost(cfg, dbs, tmp, log)
            if "e2e" in sections:
                log("end to end (gunicorn + wrk) ...")
                e2e = end_to_end(cfg, dbs, tmp, log)
            if "flush" in sections:
                log("flush cost ...")
                fc = flush_cost(cfg, dbs, tmp)
        finally:
            drop_bench_tables(dbs, tmp)
    info["load average at end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    elapsed = time.monotonic() - started

    title = "flask-camunda-telemetry benchmark" + (" (--quick)" if cfg.quick else "")
    lines = [title, "=" * len(title), f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}; run time {elapsed:.0f} s"]
    lines += [f"{key}: {value}" for key, value in info.items()]
    lines.append(f"extension database: {dbs.describe()}")
    for block in (
        report_per_request(pr) if pr else None,
        report_read_cost(rc, cfg) if rc else None,
        report_end_to_end(e2e) if e2e else None,
        report_flush(fc, cfg.workers) if fc else None,
        report_targets(pr, rc, e2e),
    ):
        if block:
            lines += ["", *block]
    report = "\n".join(lines) + "\n"
    print(report)
    if not args.no_save:
        results = HERE / "results"
        results.mkdir(exist_ok=True)
        host = re.sub(r"[^A-Za-z0-9-]+", "-", socket.gethostname())[:24].strip("-") or "host"
        path = results / f"{time.strftime('%Y-%m-%d')}-{host}.txt"
        path.write_text(report)
        print(f"written to {path.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
