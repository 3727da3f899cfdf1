"""The collector at scale: 10,000 installations x 30 reports on PostgreSQL.

A fresh database on the local PostgreSQL (``--admin-url``, default user postgres on
127.0.0.1:5432) is filled with the reports through COPY, the summaries are rebuilt from them,
and then, at that size:

* **ingest**: reports per second through the collector's WSGI app (a prepared ``POST
  /collector/pings``: JSON, validation, the upsert, the counts and both summaries, one
  transaction each), side by side with a bare insert of the same rows (the report row, then its
  count rows with the statement the collector uses for them; one transaction each, the same
  engine), in alternating rounds;
* **latency** of the overview page, the usage API (all, one installation, the last 7 days, one
  version), the installations list and an installation's page: median and 95th percentile.

Goals: ingest within 2x of the bare insert, the overview under 300 ms.

Run alone: ``python -m benchmarks.collector_scale`` (``--quick``: 1,000 installations); without a
reachable PostgreSQL the section says so and measures nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import io
import json
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY

from flask_camunda_telemetry.collector import TelemetryCollector, get_collector_state
from flask_camunda_telemetry.collector.payload import Received, read_report
from flask_camunda_telemetry.collector.store import COMMAND, ENVIRONMENT, METRIC, CollectorStore

from . import harness

__all__ = ["add_arguments", "measure", "report"]

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
GOAL_RATIO = 2.0
GOAL_OVERVIEW_MS = 300.0
COMMANDS = [f"{verb}{thing}Cmd" for verb in ("Get", "Create", "Update", "Delete", "Query", "Complete")
            for thing in ("ProcessInstance", "Task", "ExternalTask", "Variable", "Deployment", "Job", "Incident",
                          "Decision", "Message", "Signal")]
METRIC_NAMES = ("root-process-instance-start", "activity-instance-start", "executed-decision-instances",
                "executed-decision-elements")
VERSIONS = ("7.20.0", "7.21.0", "7.22.0", "7.22.0", "7.23.0", "7.23.0", "7.24.0", "7.24.0")
ENVIRONMENTS = (("PostgreSQL", "gunicorn", "CPython", "3.12.1"), ("MariaDB", "waitress", "CPython", "3.11.2"),
                ("SQLite", "Werkzeug", "CPython", "3.12.1"), ("MySQL", "uWSGI", "PyPy", "3.10.13"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("collector-scale")
    group.add_argument("--collector-installations", type=int, default=10_000, help="default 10,000; --quick 1,000")
    group.add_argument("--collector-reports", type=int, default=30, help="reports per installation (default 30)")
    group.add_argument("--collector-rounds", type=int, default=20, help="ingest rounds (default 20; --quick 8)")
    group.add_argument("--collector-batch", type=int, default=100, help="reports per mode and round (default 100)")
    group.add_argument("--collector-requests", type=int, default=30, help="timed requests per read (default 30)")
    group.add_argument("--collector-admin-url", default=ADMIN_URL, help=f"a PostgreSQL admin URL (default {ADMIN_URL})")
    group.add_argument("--collector-keep", action="store_true", help="keep the filled database afterwards")


# -- the reports ----------------------------------------------------------------------------


def document(rng: random.Random, installation: str, start: dt.datetime) -> dict[str, Any]:
    """A report as this package's reporting sends it, about 20 commands."""
    kind = int(installation[:8], 16)
    database, server, runtime, runtime_version = ENVIRONMENTS[kind % len(ENVIRONMENTS)]
    commands = {name: {"count": rng.randrange(1, 5000)} for name in rng.sample(COMMANDS, 20)}
    metrics = {name: {"count": rng.randrange(0, 20000)} for name in METRIC_NAMES}
    return {
        "installation": installation,
        "product": {
            "name": "Camunda BPM Runtime", "version": VERSIONS[kind % len(VERSIONS)],
            "edition": "enterprise" if kind % 5 == 0 else "community",
            "internals": {
                "database": {"vendor": database, "version": "15.4"},
                "application-server": {"vendor": server, "version": f"{server}/22.0.0"},
                "license-key": None, "camunda-integration": ["flask-engine"],
                "data-collection-start-date": start.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
                "commands": commands, "metrics": metrics, "webapps": ["cockpit"],
                "jdk": {"version": runtime_version, "vendor": runtime}, "telemetry-enabled": True,
            },
        },
    }


def fleet(installations: int, periods: range, now: dt.datetime, seed: int = 9) -> Iterator[tuple[Received, bytes]]:
    """Every installation reports every 3 days; period ``periods.stop - 1`` is received a few hours
    before ``now``. The same installations for any ``periods`` (their ids come from ``seed``)."""
    ids = random.Random(seed)
    rng = random.Random(seed + periods.start)
    last = periods.stop - 1
    for n in range(installations):
        installation = str(uuid.UUID(int=ids.getrandbits(128), version=4))
        for k in periods:
            received = now - dt.timedelta(days=3 * (last - k), minutes=rng.randrange(1, 600))
            body = json.dumps(document(rng, installation, received - dt.timedelta(days=3))).encode()
            yield read_report(body, f"{n}-{k}", received), body


def _copy_rows(received: Received, report_id: int) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    report = (report_id, received.installation, received.report_key, 0, 1, received.received_at, received.period_start,
              *(getattr(received, name) for name in ENVIRONMENT), sum(received.commands.values()), received.document)
    counts = [(report_id, COMMAND, name, n) for name, n in received.commands.items()]
    counts += [(report_id, METRIC, name, n) for name, n in received.metrics.items()]
    return report, counts


def fill(store: CollectorStore, url: str, installations: int, reports: int, now: dt.datetime) -> int:
    """COPY the fleet's reports and counts in, rebuild the summaries, VACUUM ANALYZE."""
    import psycopg

    t = store.tables
    columns = ["id", "installation", "report_key", "node", "rev", "received_at", "period_start", *ENVIRONMENT,
               "commands", "document"]
    plain = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    n = 0
    with psycopg.connect(plain) as one, psycopg.connect(plain) as other:  # two COPY streams at once
        with one.cursor().copy(f"COPY {t.report.name} ({', '.join(columns)}) FROM STDIN") as reports_in, \
             other.cursor().copy(f"COPY {t.count.name} (report_id, kind, name, value) FROM STDIN") as counts_in:
            for received, _body in fleet(installations, range(reports), now):
                n += 1
                report, counts = _copy_rows(received, n)
                reports_in.write_row(report)
                for row in counts:
                    counts_in.write_row(row)
        one.execute(f"SELECT setval(pg_get_serial_sequence('{t.report.name}', 'id'), {n})")
    store.rebuild()
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return n


# -- driving the WSGI app -------------------------------------------------------------------


def _environ(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> dict[str, Any]:
    path, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "5001", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/json" if body else "",
    }
    environ.update({"HTTP_" + name.upper().replace("-", "_"): value for name, value in (headers or {}).items()})
    return environ


def call(app: Flask, environ: dict[str, Any]) -> str:
    status: list[str] = []

    def start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        status.append(line)
        return lambda data: None

    chunks = app(environ, start_response)
    for _ in chunks:
        pass
    getattr(chunks, "close", lambda: None)()
    return status[0]


def _get(app: Flask, path: str) -> str:
    return call(app, _environ("GET", path))


def timed(what: Callable[[], Any], n: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        what()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        what()
        times.append((time.perf_counter() - start) * 1000)
    return times


# -- the measurement ------------------------------------------------------------------------


def _ingest_rounds(app: Flask, store: CollectorStore, fresh: Iterator[tuple[Received, bytes]], rounds: int,
                   batch: int) -> dict[str, list[float]]:
    """Reports per second of each mode in each round. Within a round the modes take turns report by
    report, so both meet the same disk (a commit's fsync varies a lot on a shared machine)."""
    t = store.tables

    def collector(received: Received, body: bytes) -> None:
        get_collector_state(app).clock = lambda: received.received_at
        environ = _environ("POST", "/collector/pings", body, {"Telemetry-Report-Id": received.report_key})
        assert call(app, environ).startswith("202"), "the collector refused a report"

    # the counts as the collector writes them on PostgreSQL: one array per column
    columns = ["report_id", "kind", "name", "value"]
    arrays = sa.select(*(sa.func.unnest(sa.bindparam(c, type_=ARRAY(t.count.c[c].type))).label(c) for c in columns))
    insert_counts = postgresql.insert(t.count).from_select(columns, arrays)

    def bare(received: Received, _: bytes) -> None:
        report, counts = _copy_rows(received, 0)
        row = dict(zip(["installation", "report_key", "node", "rev", "received_at", "period_start", *ENVIRONMENT,
                        "commands", "document"], report[1:], strict=True))
        with store.engine.begin() as conn:
            report_id = conn.execute(sa.insert(t.report).returning(t.report.c.id), row).scalar_one()
            conn.execute(insert_counts, {"report_id": [report_id] * len(counts), "kind": [c[1] for c in counts],
                                         "name": [c[2] for c in counts], "value": [c[3] for c in counts]})

    modes: dict[str, Callable[[Received, bytes], None]] = {"collector": collector, "bare insert": bare}
    rates: dict[str, list[float]] = {mode: [] for mode in modes}
    for r in range(rounds):
        spent = dict.fromkeys(modes, 0.0)
        for n in range(2 * batch):
            mode = list(modes)[(n + r) % 2]
            received, body = next(fresh)
            start = time.perf_counter()
            modes[mode](received, body)
            spent[mode] += time.perf_counter() - start
        for mode in modes:
            rates[mode].append(batch / spent[mode])
    return rates


@contextlib.contextmanager
def fresh_database(admin_url: str, keep: bool) -> Iterator[str]:
    """A new database on the server of ``admin_url``; dropped afterwards unless ``keep``."""
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool,
                             connect_args={"connect_timeout": 5})
    name = f"bench_collector_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        if not keep:
            with contextlib.suppress(sa.exc.DBAPIError), admin.connect() as conn:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def _reads(store: CollectorStore, now: dt.datetime) -> dict[str, str]:
    some = store.installations(1)[0].installation
    return {
        "overview page": "/collector/",
        "usage API, all": "/collector/api/usage",
        "usage API, one installation": f"/collector/api/usage?installation={some}",
        "usage API, last 7 days": f"/collector/api/usage?since={(now - dt.timedelta(days=7)).date()}",
        "usage API, one version": "/collector/api/usage?version=7.21.0",
        "installations API": "/collector/api/installations",
        "installation page": f"/collector/installations/{some}",
    }


def _at_scale(url: str, args: argparse.Namespace, installations: int, rounds: int) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    app = Flask("bench_collector")
    app.config["CAMUNDA_TELEMETRY_COLLECTOR_DATABASE_URI"] = url
    TelemetryCollector(app)
    store = get_collector_state(app).store
    store.create_tables()
    start = time.perf_counter()
    stored = fill(store, url, installations, args.collector_reports, now - dt.timedelta(hours=2))
    fill_seconds = time.perf_counter() - start
    harness.log(f"  collector-scale: {stored:,} reports stored in {fill_seconds:.0f} s; ingest rounds ...")
    # the fleet's next reports (new periods of each installation), received after the fill
    extra = -(-2 * rounds * args.collector_batch // installations)
    fresh = fleet(installations, range(args.collector_reports, args.collector_reports + extra), now)
    rates = _ingest_rounds(app, store, fresh, rounds, args.collector_batch)
    latency = {label: timed(functools.partial(_get, app, path), args.collector_requests)
               for label, path in _reads(store, now).items()}
    with store.engine.connect() as conn:
        sizes = {table.name: conn.execute(sa.text(f"SELECT pg_total_relation_size('{table.name}')")).scalar_one()
                 for table in store.tables.all()}
        count_rows = conn.execute(sa.select(sa.func.count()).select_from(store.tables.count)).scalar_one()
    get_collector_state(app).close()
    return {"installations": installations, "reports": stored, "count_rows": count_rows, "fill_seconds": fill_seconds,
            "batch": args.collector_batch, "rates": rates, "latency": latency, "sizes": sizes}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    installations = 1_000 if args.quick else args.collector_installations
    rounds = 8 if args.quick else args.collector_rounds
    try:
        with fresh_database(args.collector_admin_url, args.collector_keep) as url:
            results = _at_scale(url, args, installations, rounds)
    except sa.exc.OperationalError as exc:
        return {"skipped": f"PostgreSQL not reachable at {args.collector_admin_url} ({exc.orig})"}
    results["database"] = sa.make_url(url).database if args.collector_keep else None
    return results


def report(results: dict[str, Any]) -> str:
    title = "Collector at scale, PostgreSQL"
    if "skipped" in results:
        return f"{title}: skipped, {results['skipped']}\n"
    rates = results["rates"]
    ratios = sorted(b / c for b, c in zip(rates["bare insert"], rates["collector"], strict=True))
    ratio = harness.median(ratios)
    overview = harness.median(results["latency"]["overview page"])
    lines = [
        f"{title}: {results['installations']:,} installations, {results['reports']:,} reports, "
        f"{results['count_rows']:,} count rows (filled by COPY and a rebuild in {results['fill_seconds']:.0f} s)",
        f"   ingest: {len(ratios)} rounds of {results['batch']} reports per mode, the modes taking turns report by "
        "report; one transaction per report",
        "",
        *harness.table(["reports/s", "median", "min", "max"], [
            [mode, *(f"{f(values):.0f}" for f in (harness.median, min, max))] for mode, values in (
                ("collector (POST /collector/pings, WSGI)", rates["collector"]),
                ("bare insert of the same rows", rates["bare insert"]))]),
        "",
        f"   {harness.mark(ratio <= GOAL_RATIO)} ingest within {GOAL_RATIO:.0f}x of the bare insert: "
        f"{ratio:.2f}x (median of the rounds' ratios; {ratios[0]:.2f} to {ratios[-1]:.2f})",
        "",
        *harness.table(["latency at that size, ms", "median", "p95"], [
            [label, f"{harness.median(times):.1f}", f"{harness.percentile(times, 95):.1f}"]
            for label, times in results["latency"].items()]),
        "",
        f"   {harness.mark(overview < GOAL_OVERVIEW_MS)} overview page under {GOAL_OVERVIEW_MS:.0f} ms: "
        f"{overview:.1f} ms",
        "   tables: " + ", ".join(f"{name} {size / 2**20:.0f} MiB" for name, size in results["sizes"].items()),
    ]
    if results["database"]:
        lines.append(f"   kept database {results['database']}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(harness.main(__spec__.name))
