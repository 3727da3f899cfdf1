"""The child process of :mod:`benchmarks.import_cost`: ``python -m benchmarks._import_probe KIND ...``.

It imports only the standard library at its top (the ``benchmarks`` package's ``__init__`` imports
nothing), so that what it measures is what the imports it is told to make cost. It prints one
JSON object on stdout.

``import TARGET``
    import the baseline (Flask, Flask-SQLAlchemy, SQLAlchemy, marshmallow), then ``TARGET`` (one of
    :data:`TARGETS`); RSS and CPU/wall time after each, and the modules the target loaded.
``worker CONFIG INSTANCE SECONDS``
    what a gunicorn-like worker holds: import the baseline, make an app in ``CONFIG`` (one of
    :data:`WORKERS`, its SQLite file in the folder ``INSTANCE``), serve one request, then stay idle
    for ``SECONDS``, sampling its threads; its RSS and threads, and the modules loaded.
"""

from __future__ import annotations

import io
import json
import os
import sys
import threading
import time
from typing import Any

__all__ = ["BASELINE", "HEAVY", "OURS", "TARGETS", "THREAD_PREFIX", "WORKERS"]

BASELINE = ("flask", "flask_sqlalchemy", "sqlalchemy", "marshmallow")
OURS = "flask_camunda_telemetry"
#: What each import target runs: nothing (the control), the extension, the peer.
TARGETS = {
    "nothing": "pass",
    "extension": "from flask_camunda_telemetry import TelemetryExt",
    "prometheus_flask_exporter": "from prometheus_flask_exporter import PrometheusMetrics",
}
#: The optional parts an app should pay for only when it configures or uses them (issue 21): the
#: package's own modules for them (``.`` = the package) and the libraries they need.
HEAVY = (
    ".reporting", "urllib3", ".rest.openapi", "apispec", ".prometheus", "prometheus_client", ".pages", ".collector",
    ".cli", "sqlalchemy.dialects.postgresql", "sqlalchemy.dialects.mysql",
)  # fmt: skip
#: The names of the extension's threads.
THREAD_PREFIX = "camunda-telemetry-"
#: Worker configurations: the CAMUNDA_TELEMETRY_* keys set (None: no extension).
WORKERS: dict[str, dict[str, Any] | None] = {
    "bare Flask": None,
    "default": {},
    "reporting": {"REPORT_URL": "http://127.0.0.1:{dead_port}/pings", "INITIALIZE": True},
    "prometheus": {"PROMETHEUS_URL": "/telemetry/metrics"},
    "prometheus_flask_exporter": None,
}
PATH = "/engine-rest/task/count"


def loaded(names: tuple[str, ...]) -> dict[str, bool]:
    """Whether each module is loaded (``.name``: the package's ``name``)."""
    return {name: (OURS + name if name.startswith(".") else name) in sys.modules for name in names}


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _clock() -> tuple[float, float]:
    return time.process_time(), time.perf_counter()


def _since(begin: tuple[float, float]) -> tuple[float, float]:
    cpu, wall = _clock()
    return (cpu - begin[0]) * 1000, (wall - begin[1]) * 1000


def _import_baseline() -> None:
    for name in BASELINE:
        __import__(name)


def probe_import(target: str) -> dict[str, Any]:
    start_rss = rss_mib()
    begin = _clock()
    _import_baseline()
    baseline_ms = _since(begin)
    baseline_rss = rss_mib()
    before = set(sys.modules)
    print("-- target --", file=sys.stderr, flush=True)  # -X importtime: what follows is the target's
    begin = _clock()
    exec(TARGETS[target], {})
    target_ms = _since(begin)
    new = sorted(set(sys.modules) - before)
    return {
        "start_rss": start_rss, "baseline_rss": baseline_rss, "rss": rss_mib(),
        "baseline_cpu_ms": baseline_ms[0], "baseline_wall_ms": baseline_ms[1],
        "cpu_ms": target_ms[0], "wall_ms": target_ms[1],
        "new_modules": new, "heavy": loaded(HEAVY),
    }  # fmt: skip


def _environ() -> dict[str, Any]:
    return {"REQUEST_METHOD": "GET", "PATH_INFO": PATH, "SCRIPT_NAME": "", "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": True,
            "wsgi.run_once": False, "wsgi.version": (1, 0)}  # fmt: skip


def _app(config: str, instance: str, dead_port: int) -> Any:
    """The app of a worker: one route, with the extension in ``config`` or the peer."""
    from flask import Flask  # the probe imports only what the worker it stands for would

    app = Flask(f"worker_{config.replace(' ', '_')}", instance_path=instance)
    app.add_url_rule(PATH, "task_count", lambda: {"count": 3})
    keys = WORKERS[config]
    if keys is not None:
        from flask_camunda_telemetry import TelemetryExt

        for key, value in keys.items():
            text = isinstance(value, str)
            app.config[f"CAMUNDA_TELEMETRY_{key}"] = value.format(dead_port=dead_port) if text else value
        TelemetryExt(app)
    elif config == "prometheus_flask_exporter":
        from prometheus_flask_exporter import PrometheusMetrics

        PrometheusMetrics(app, group_by="endpoint")
    return app


def _threads() -> list[str]:
    return sorted(thread.name for thread in threading.enumerate())


def probe_worker(config: str, instance: str, seconds: float, dead_port: int) -> dict[str, Any]:
    _import_baseline()
    baseline_rss = rss_mib()
    before = set(sys.modules)
    app = _app(config, instance, dead_port)
    result = app(_environ(), lambda status, headers, exc_info=None: None)
    body = b"".join(result)
    getattr(result, "close", lambda: None)()
    served_rss = rss_mib()
    samples: list[list[str]] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:  # idle: only the threads run
        time.sleep(0.25)
        samples.append(_threads())
    ours = [[name for name in sample if name.startswith(THREAD_PREFIX)] for sample in samples]
    return {
        "body": body.decode(errors="replace")[:100], "baseline_rss": baseline_rss, "served_rss": served_rss,
        "rss": rss_mib(), "os_threads": len(os.listdir("/proc/self/task")), "threads": _threads(),
        "ours_max": max((len(names) for names in ours), default=0), "ours_last": ours[-1] if ours else [],
        "ours_mean": sum(len(names) for names in ours) / max(1, len(ours)),
        # each thread of ours: the share of the idle samples it was alive in
        "ours_share": {name: sum(name in names for names in ours) / len(ours)
                       for name in sorted({name for names in ours for name in names})},
        "modules": sum(1 for name in set(sys.modules) - before if name.split(".")[0] == OURS),
        "heavy": loaded(HEAVY),
    }  # fmt: skip


def main(argv: list[str]) -> int:
    if argv[0] == "import":
        result = probe_import(argv[1])
    else:
        result = probe_worker(argv[1], argv[2], float(argv[3]), int(argv[4]))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
