"""What every section shares: options, statistics, the one table formatter, driving a WSGI app
in process, where the extension keeps its tables, the machine, and the report. Servers and apps
in processes of their own are in :mod:`benchmarks.servers`.

A section is a module ``benchmarks/<name>.py`` with ``measure(args) -> dict`` (every figure it
reports, each computed once) and ``report(results) -> str`` (formatting only), optionally
``add_arguments(parser)`` for its own options; ``python -m benchmarks.<name>`` runs it alone
through :func:`main`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.metadata
import io
import math
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import sqlalchemy as sa
from flask import Flask
from werkzeug.test import EnvironBuilder

from .bench_app import COUNT_TABLE, PROPERTY_TABLE, Call, create_app

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXT_MODES = ("ext-process", "ext-cluster")
Environ = dict[str, Any]
WsgiApp = Callable[[Environ, Callable[..., Any]], Iterable[bytes]]
_started = time.monotonic()


def common_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every section understands."""
    parser.add_argument("--quick", action="store_true", help="fewer rounds: rougher figures, a few minutes in all")
    parser.add_argument(
        "--database-url",
        help="SQLAlchemy URL for the extension's tables (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test); "
        "default: SQLite files in a temp dir. The benchmark uses its own tables (bench_telemetry_*) and drops them.",
    )
    parser.add_argument("--workers", type=int, default=4, help="processes per server (gunicorn workers), default 4")


def log(message: str) -> None:
    print(f"[{time.monotonic() - _started:6.1f}s] {message}", file=sys.stderr, flush=True)


# -- statistics ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    """The median and the quartiles of a sample; with ``of``, also a 95% confidence interval of
    the median (``ci_low``..``ci_high``: order statistics, no assumption on the distribution), the
    extremes and the size of the sample."""

    median: float
    p25: float
    p75: float
    ci_low: float = math.nan
    ci_high: float = math.nan
    low: float = math.nan
    high: float = math.nan
    n: int = 0

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        ordered = sorted(values)
        n = len(ordered)
        if n < 2:
            return cls(ordered[0], ordered[0], ordered[0], ordered[0], ordered[0], ordered[0], ordered[0], n)
        q = statistics.quantiles(ordered, n=4, method="inclusive")
        # the ranks between which the median lies with 95% probability (the normal approximation of
        # the binomial; 1-based floor(n/2 - h) and ceil(1 + n/2 + h); the whole sample below 6 values)
        half = 1.96 * math.sqrt(n) / 2
        lo, hi = max(0, math.floor(n / 2 - half) - 1), min(n - 1, math.ceil(n / 2 + half))
        return cls(statistics.median(ordered), q[0], q[2], ordered[lo], ordered[hi], ordered[0], ordered[-1], n)

    def quartiles(self, unit: str = "", digits: int = 2) -> str:
        """``p25..p75`` with signs, e.g. ``+0.12..+0.80 us``."""
        return f"{self.p25:+.{digits}f}..{self.p75:+.{digits}f}{' ' + unit if unit else ''}"

    def interval(self, unit: str = "", digits: int = 2) -> str:
        """The 95% confidence interval of the median, with signs: ``+0.31..+0.52 us``."""
        return f"{self.ci_low:+.{digits}f}..{self.ci_high:+.{digits}f}{' ' + unit if unit else ''}"

    @classmethod
    def ratios(cls, values: Sequence[float], base: Sequence[float]) -> Spread:
        """Round by round ``values[r] / base[r]``, then the spread."""
        return cls.of([a / b for a, b in zip(values, base, strict=True)])

    @classmethod
    def diffs(cls, values: Sequence[float], base: Sequence[float]) -> Spread:
        """Round by round ``values[r] - base[r]``, then the spread."""
        return cls.of([a - b for a, b in zip(values, base, strict=True)])


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def interleaved(
    labels: Iterable[str], rounds: int, seed: int, measure: Callable[[str], float], progress: str = ""
) -> dict[str, list[float]]:
    """``rounds`` rounds of ``measure(label)`` for every label, in a shuffled order each round
    (every 20 rounds logged as ``progress`` when given)."""
    times: dict[str, list[float]] = {label: [] for label in labels}
    rng = random.Random(seed)
    for r in range(rounds):
        for label in rng.sample(list(times), len(times)):
            times[label].append(measure(label))
        if progress and (r + 1) % 20 == 0:
            log(f"  {progress}: round {r + 1}/{rounds}")
    return times


def mark(met: bool) -> str:
    """A target's verdict, in a line of prose (sections with a goal table use :func:`goal_table`)."""
    return "[met   ]" if met else "[MISSED]"


@dataclass(frozen=True)
class Goal:
    """One figure judged against its goal: what it is, the figure as measured (with its spread),
    the goal, and whether it is met; ``why`` says, for a missed goal, why and what was tried."""

    figure: str
    measured: str
    goal: str
    met: bool
    why: str = ""


#: The goal "adds nothing measurable", as the goal tables show it; judged by :func:`nothing_measurable`.
NOTHING_MEASURABLE = "noise: 0 in p25..p75, or <= 3%"


def nothing_measurable(difference: Spread, base: float) -> bool:
    """Whether a per-round difference from ``base`` (a figure of the same unit) is noise: 0 lies
    within its quartiles, or its median is within 3% of ``base``."""
    return difference.p25 <= 0 <= difference.p75 or abs(difference.median) <= 0.03 * base


def goal_table(goals: Iterable[Goal], title: str = "Goals", indent: str = "   ") -> list[str]:
    """The one format of a section's goals: a table of figure, measured, goal and verdict
    ("met" or "missed"), then a line per missed goal that says why."""
    goals = list(goals)
    rows = [[g.figure, g.measured, g.goal, "met" if g.met else "missed"] for g in goals]
    lines = [f"{indent}{title}", *table(["figure", "measured", "goal", "verdict"], rows, indent)]
    lines += [f"{indent}missed: {g.figure}: {g.why}" for g in goals if not g.met and g.why]
    return lines


def table(header: Sequence[str], rows: Iterable[Sequence[str]], indent: str = "   ") -> list[str]:
    """The one table formatter: the first column left-aligned, the others right-aligned."""
    lines = [list(header), *(list(row) for row in rows)]
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    aligned = [[c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
               for row in lines]  # fmt: skip
    return [indent + "  ".join(row).rstrip() for row in aligned]


# -- driving a WSGI app ----------------------------------------------------------------------


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
    _last_status[0] = status
    return _discard


def _discard(data: bytes) -> None:
    pass


_last_status = [""]


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
        prepared.append((builder.get_environ(), call.body))
        builder.close()
    return prepared


def drive(app: WsgiApp, environs: Sequence[tuple[Environ, bytes]], n: int) -> tuple[float, float]:
    """Send ``n`` requests (cycling through ``environs``); microseconds per request as
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
    return (time.thread_time_ns() - cpu_begin) / n / 1000, wall / n / 1000


def fetch(app: WsgiApp, environ: tuple[Environ, bytes]) -> tuple[str, bytes]:
    """One request: (status, body)."""
    template, body = environ
    env = {**template, "wsgi.input": io.BytesIO(body)}
    result = app(env, _start_response)
    data = b"".join(result)
    close = getattr(result, "close", None)
    if close is not None:
        close()
    return _last_status[0], data


def noop_app(environ: Environ, start_response: Callable[..., Any]) -> list[bytes]:
    """What the harness costs by itself."""
    environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b"{}"]


def counted(mode: str, app: Flask) -> int | None:
    """How many requests the mode's counter holds (None: bare counts nothing)."""
    if mode == "handwritten":
        return int(sum(app.extensions["bench_counts"].values()))
    if mode == "prometheus":
        registry = app.extensions["bench_prometheus"].registry
        samples = (s for metric in registry.collect() if metric.name == "flask_http_request_duration_seconds"
                   for s in metric.samples if s.name.endswith("_count"))  # fmt: skip
        return int(sum(sample.value for sample in samples))
    if mode in EXT_MODES:
        commands = app.extensions["bench_telemetry"].data(app=app).product.internals.commands
        return int(sum(count.count for count in commands.values()))
    return None


def close_app(app: Flask) -> None:
    """Stop the extension's flush thread and dispose of its engine (no-op for other modes)."""
    telemetry = app.extensions.get("bench_telemetry")
    if telemetry is not None:
        telemetry.close(app)


# -- where the extension keeps its tables ------------------------------------------------------


def describe_database(url: str | None) -> str:
    if url is None:
        return "SQLite file per app in a temp dir"
    return sa.engine.make_url(url).render_as_string(hide_password=True)


class Workspace:
    """A temp dir, and where the extension's apps keep their tables: a SQLite file per app in
    the temp dir, or the tables ``bench_telemetry_*`` of ``--database-url`` (reset before each
    use, dropped at the end)."""

    def __init__(self, url: str | None, tmp: Path) -> None:
        self.url = url
        self.tmp = tmp
        self.instance = str(tmp / "instance")

    def for_app(self, label: str) -> str:
        return self.url or f"sqlite:///{self.tmp / (label + '.sqlite')}"

    def describe(self) -> str:
        return describe_database(self.url)

    def ext_app(self, mode: str, label: str, **options: Any) -> Flask:
        """An extension app on a clean slate (the shared counts reset when the database is shared)."""
        app = create_app(mode, database_url=self.for_app(label), instance_path=self.instance, **options)
        if self.url is not None:
            app.extensions["bench_telemetry"].reset(app=app)
        return app

    def drop_tables(self) -> None:
        if self.url is None:
            return
        engine = sa.create_engine(self.url)
        try:
            for name in (COUNT_TABLE, PROPERTY_TABLE):
                sa.Table(name, sa.MetaData()).drop(engine, checkfirst=True)
        finally:
            engine.dispose()


@contextlib.contextmanager
def workspace(args: argparse.Namespace) -> Iterator[Workspace]:
    with tempfile.TemporaryDirectory(prefix="camunda-telemetry-bench-") as tmp:
        space = Workspace(args.database_url, Path(tmp))
        try:
            yield space
        finally:
            space.drop_tables()


# -- the machine and the report --------------------------------------------------------------


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _first_line(path: str, prefix: str) -> str | None:
    with contextlib.suppress(OSError):
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    return None


def machine() -> dict[str, str]:
    """Where the figures come from."""
    commit = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True)
    wrk = shutil.which("wrk")
    wrk_out = subprocess.run([wrk, "--version"], capture_output=True, text=True) if wrk else None
    memory = _first_line("/proc/meminfo", "MemTotal")
    packages = ("flask", "werkzeug", "marshmallow", "sqlalchemy", "prometheus-flask-exporter", "prometheus-client",
                "gunicorn")  # fmt: skip
    return {
        "host": socket.gethostname(),
        "cpu": f"{_first_line('/proc/cpuinfo', 'model name') or 'unknown'}, {os.cpu_count()} logical cores "
        f"({len(os.sched_getaffinity(0))} usable)",
        "memory": f"{int(memory.split()[0]) / 1024 / 1024:.1f} GiB" if memory else "unknown",
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "extension": f"flask-camunda-telemetry {_version('flask-camunda-telemetry')} "
        f"(git {commit.stdout.strip() or 'unknown'})",
        "packages": ", ".join(f"{name} {_version(name)}" for name in packages),
        "wrk": (wrk_out.stdout or wrk_out.stderr).split("[")[0].strip() if wrk_out else "not installed",
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def run_sections(sections: Sequence[ModuleType], args: argparse.Namespace) -> str:
    """Measure each section in turn; the whole report (machine, then each section's)."""
    info = machine()
    reports = []
    for number, section in enumerate(sections, 1):
        log(f"{number}. {section.__name__.rpartition('.')[2]} ...")
        reports.append(section.report(section.measure(args)))
    info["load average at end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    title = "flask-camunda-telemetry benchmark" + (" (--quick)" if args.quick else "")
    lines = [title, "=" * len(title), f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}; "
             f"run time {time.monotonic() - _started:.0f} s"]  # fmt: skip
    lines += [f"{key}: {value}" for key, value in info.items()]
    lines.append(f"extension database: {describe_database(args.database_url)}")
    for number, text in enumerate(reports, 1):
        lines += ["", f"{number}. {text.rstrip()}"]
    return "\n".join(lines) + "\n"


def save(report: str) -> Path:
    """Write the report to ``benchmarks/results/<date>-<host>.txt``."""
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    host = re.sub(r"[^A-Za-z0-9-]+", "-", socket.gethostname())[:24].strip("-") or "host"
    path = results / f"{time.strftime('%Y-%m-%d')}-{host}.txt"
    path.write_text(report)
    return path


def main(name: str, argv: Sequence[str] | None = None) -> int:
    """Run the section module ``name`` alone (``python -m benchmarks.<section>``); print the report.

    The section is imported by its name, so that what it hands to spawned processes is found there.
    """
    section = importlib.import_module(name)
    parser = argparse.ArgumentParser(prog=f"python -m {name}", description=(section.__doc__ or "").split("\n\n")[0])
    common_arguments(parser)
    if hasattr(section, "add_arguments"):
        section.add_arguments(parser)
    print(run_sections([section], parser.parse_args(argv)))
    return 0
