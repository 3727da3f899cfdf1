"""Reports as senders send them, and HTTP helpers to post them to a served collector.

* :func:`engine_report`: what this package's reporting sends (the ``GET /telemetry/data``
  document plus ``telemetry-enabled`` and both metric name sets);
* what a Camunda 7.14-7.21 engine sent is :mod:`.camunda`'s, built from Camunda's own code;
* :func:`demo_fleet`: a reproducible fleet of installations reporting over days.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import random
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from flask_camunda_telemetry.document.metrics import INTERNAL_NAMES, PUBLIC_NAMES

__all__ = [
    "RECEIVED_AT_HEADER",
    "Posted",
    "demo_fleet",
    "engine_report",
    "get_json",
    "post_report",
]

#: The test collector app takes the time a report is received at from this header (ISO).
RECEIVED_AT_HEADER = "X-Test-Received-At"


def camunda_date(value: dt.datetime) -> str:
    """Camunda's REST format, as this package writes it."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}" + value.strftime("%z")


def _counts(counts: Mapping[str, int]) -> dict[str, dict[str, int]]:
    return {name: {"count": n} for name, n in counts.items()}


def _metrics_both(metrics: Mapping[str, int]) -> dict[str, int]:
    """Internal and public names, as 7.17-7.21 (and this package's reporting) send them."""
    both = {name: metrics.get(name, 0) for name in INTERNAL_NAMES}
    both.update({PUBLIC_NAMES[name]: metrics.get(name, 0) for name in INTERNAL_NAMES})
    return both


def engine_report(
    installation: str | None = None,
    commands: Mapping[str, int] | None = None,
    metrics: Mapping[str, int] | None = None,
    start: dt.datetime | None = None,
    version: str = "7.22.0",
    **environment: Any,
) -> dict[str, Any]:
    """A report as this package's reporting sends it. ``environment``: ``database``,
    ``server``, ``runtime`` (vendor, version) pairs, ``edition``, ``customer``."""
    start = start or dt.datetime(2025, 1, 7, 9, 12, 44, 120000, tzinfo=dt.UTC)
    customer = environment.get("customer")
    license_key = None if customer is None else {
        "customer": customer, "type": "UNIFIED", "valid-until": "2030-01-01", "unlimited": False,
        "features": {"camundaBPM": "true"}, "raw": f"customer={customer};expiryDate=2030-01-01",
    }
    database = environment.get("database", ("PostgreSQL", "15.4"))
    server = environment.get("server", ("gunicorn", "gunicorn/22.0.0"))
    runtime = environment.get("runtime", ("3.11.2", "CPython"))
    return {
        "installation": installation or str(uuid.uuid4()),
        "product": {
            "name": "Camunda BPM Runtime",
            "version": version,
            "edition": environment.get("edition", "community"),
            "internals": {
                "database": {"vendor": database[0], "version": database[1]},
                "application-server": {"vendor": server[0], "version": server[1]},
                "license-key": license_key,
                "camunda-integration": ["flask-engine"],
                "data-collection-start-date": camunda_date(start),
                "commands": _counts(commands or {}),
                "metrics": _counts(_metrics_both(metrics or {})),
                "webapps": ["cockpit"],
                "jdk": {"version": runtime[0], "vendor": runtime[1]},
                "telemetry-enabled": True,
            },
        },
    }


@dataclass(frozen=True)
class Posted:
    status: int
    body: Any
    headers: dict[str, str]


def _exchange(port: int, method: str, path: str, body: bytes | None, headers: Mapping[str, str]) -> Posted:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=dict(headers))
        response = conn.getresponse()
        raw = response.read()
        parsed = json.loads(raw) if response.getheader("Content-Type", "").startswith("application/json") else raw
        return Posted(response.status, parsed, {k.lower(): v for k, v in response.getheaders()})
    finally:
        conn.close()


def post_report(port: int, document: Any, headers: Mapping[str, str] | None = None,
                path: str = "/collector/pings") -> Posted:
    """POST ``document`` (JSON unless bytes) to a collector on 127.0.0.1:``port``."""
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    return _exchange(port, "POST", path, body, {"Content-Type": "application/json", **(headers or {})})


def get_json(port: int, path: str, headers: Mapping[str, str] | None = None) -> Posted:
    return _exchange(port, "GET", path, None, headers or {})


#: Commands an engine-like app counts, with how often relative to each other.
DEMO_COMMANDS = {
    "StartProcessInstanceCmd": 40, "FetchExternalTasksCmd": 120, "CompleteExternalTaskCmd": 95,
    "GetProcessInstanceCmd": 60, "EvaluateDecisionCmd": 25, "GetTelemetryDataCmd": 2, "IsTelemetryEnabledCmd": 3,
    "DeployCmd": 1, "GetDeploymentsCmd": 6, "QueryProcessInstancesCmd": 30, "CorrelateMessageCmd": 18,
    "SetVariablesCmd": 22, "GetVariablesCmd": 35, "HandleExternalTaskFailureCmd": 5, "ExtendLockCmd": 9,
    "SignalCmd": 4, "SuspendProcessInstanceCmd": 1, "DeleteProcessInstanceCmd": 2, "CreateIncidentCmd": 1,
    "ResolveIncidentCmd": 1, "GetActivityInstanceCmd": 12, "ClaimTaskCmd": 14, "CompleteTaskCmd": 15,
    "engine_query_process_instances": 8,
}
_ENVIRONMENTS = [
    {"database": ("PostgreSQL", "15.4"), "server": ("gunicorn", "gunicorn/22.0.0"), "runtime": ("3.11.2", "CPython")},
    {"database": ("PostgreSQL", "16.1"), "server": ("gunicorn", "gunicorn/23.0.0"), "runtime": ("3.12.1", "CPython")},
    {"database": ("MariaDB", "10.11.6"), "server": ("waitress", "waitress/3.0.0"), "runtime": ("3.11.2", "CPython")},
    {"database": ("SQLite", "3.40.1"), "server": ("Werkzeug", "Werkzeug/3.0.1"), "runtime": ("3.12.1", "CPython")},
    {"database": ("MySQL", "8.0.35"), "server": ("uWSGI", "uWSGI/2.0.23"), "runtime": ("3.10.13", "PyPy")},
]


def demo_fleet(
    installations: int, days: int, now: dt.datetime, seed: int = 14
) -> Iterator[tuple[dt.datetime, str, dict[str, Any]]]:
    """``(received_at, report id, document)`` of a fleet reporting about daily over ``days`` days
    before ``now``, oldest first; each installation joins on a random day."""
    rng = random.Random(seed)
    versions = ["7.20.0", "7.21.0", "7.22.0", "7.22.0", "7.22.0", "7.23.0", "7.23.0", "7.24.0"]
    reports: list[tuple[dt.datetime, str, dict[str, Any]]] = []
    for n in range(installations):
        installation = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        environment = dict(rng.choice(_ENVIRONMENTS), edition=rng.choice(["community"] * 3 + ["enterprise"]))
        if environment["edition"] == "enterprise":
            environment["customer"] = f"Customer {n}"
        version = rng.choice(versions)
        scale = rng.choice([1, 2, 5, 10, 30])
        joined = rng.randrange(days)
        for day in range(joined, days):
            if rng.random() < 0.08:  # a missed day
                continue
            received = now - dt.timedelta(days=days - 1 - day, minutes=rng.randrange(600))
            commands = {name: int(weight * scale * rng.uniform(0.5, 1.5)) or 1
                        for name, weight in DEMO_COMMANDS.items() if rng.random() < 0.8}
            metrics = {"root-process-instance-start": commands.get("StartProcessInstanceCmd", 0),
                       "activity-instance-start": 4 * commands.get("StartProcessInstanceCmd", 0),
                       "executed-decision-instances": commands.get("EvaluateDecisionCmd", 0),
                       "executed-decision-elements": 3 * commands.get("EvaluateDecisionCmd", 0)}
            start = received - dt.timedelta(days=1)
            document = engine_report(installation, commands, metrics, start.replace(tzinfo=dt.UTC), version,
                                     **environment)
            reports.append((received, uuid.UUID(int=rng.getrandbits(128), version=4).hex, document))
    reports.sort(key=lambda item: item[0])
    return iter(reports)
