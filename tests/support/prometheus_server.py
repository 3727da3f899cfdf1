"""A real Prometheus server for tests (Debian's ``prometheus`` package), and ``promtool``.

:func:`prometheus_server` writes a config scraping the given 127.0.0.1 targets, starts
``prometheus`` on a free 127.0.0.1 port with its storage in a temporary folder, waits until it is
ready and stops it (by its PID) when the ``with`` block ends. :class:`Prometheus` answers PromQL
through the HTTP API. Without the binaries a test is skipped locally and fails under ``CI=true``
(``.ci/run`` installs them).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .children import tied
from .databases import unavailable
from .net import free_port
from .processes import wait_until_ready

__all__ = ["Prometheus", "prometheus_server", "promtool_check_metrics", "require_binary"]

STOP_DEADLINE = 30.0


def require_binary(name: str) -> str:
    """The path of ``name`` (``prometheus``, ``promtool``): on PATH or in /usr/bin."""
    path = shutil.which(name) or (f"/usr/bin/{name}" if os.access(f"/usr/bin/{name}", os.X_OK) else None)
    if path is None:
        unavailable(f"{name} is not installed (Debian: apt-get install prometheus)")
    assert path is not None
    return path


def promtool_check_metrics(exposition: bytes) -> subprocess.CompletedProcess[str]:
    """``promtool check metrics`` on a text-format exposition: exit code 0 and no output when clean."""
    return subprocess.run(
        [require_binary("promtool"), "check", "metrics"],
        input=exposition.decode(),
        capture_output=True,
        text=True,
        timeout=60,
    )


@dataclass
class Prometheus:
    """A running Prometheus server."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def api(self, path: str, **params: str) -> Any:
        """``GET /api/v1/<path>``: the ``data`` of a successful answer."""
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.load(response)
        assert body["status"] == "success", self.failure(f"{path} {params} answered {body}")
        return body["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query's result: ``[{"metric": {labels}, "value": [time, "value"]}, ...]``."""
        data = self.api("query", query=promql)
        result: list[dict[str, Any]] = data["result"]
        return result

    def value(self, promql: str) -> float | None:
        """The value of a query with one result (such as ``sum(...)``); None when it has none."""
        result = self.query(promql)
        assert len(result) <= 1, f"{promql} has {len(result)} results"
        return float(result[0]["value"][1]) if result else None

    def by_label(self, promql: str, label: str) -> dict[str, float]:
        """``{value of label: value}`` over the results of a query."""
        return {row["metric"].get(label, ""): float(row["value"][1]) for row in self.query(promql)}

    def ready(self) -> bool:
        """``/-/ready`` answers 200 (503 while starting, which urllib raises as an OSError)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=5) as response:
            return bool(response.status == 200)

    def failure(self, message: str) -> str:
        tail = self.log.read_text(errors="replace")[-4000:]
        return f"{message}\n--- prometheus log (tail) ---\n{tail}"

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit; by PID only."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_DEADLINE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_DEADLINE)


def _config(targets: Sequence[str], metrics_path: str, interval: str) -> str:
    """The config file (YAML; written as JSON, which YAML reads)."""
    config = {
        "global": {"scrape_interval": interval, "scrape_timeout": interval, "evaluation_interval": interval},
        "scrape_configs": [
            {
                "job_name": "camunda-telemetry",
                "metrics_path": metrics_path,
                "static_configs": [{"targets": list(targets)}],
            }
        ],
    }
    return json.dumps(config, indent=2)


@contextmanager
def prometheus_server(
    folder: Path, targets: Sequence[str], metrics_path: str, interval: str = "1s"
) -> Iterator[Prometheus]:
    """Start Prometheus scraping ``targets`` (``host:port``) at ``metrics_path`` every ``interval``."""
    binary = require_binary("prometheus")
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "prometheus.yml"
    config.write_text(_config(targets, metrics_path, interval))
    port = free_port()
    log = folder / "prometheus.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            cwd=folder,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=tied(),  # dies with this process
        )
    server = Prometheus(process, port, log)
    try:
        wait_until_ready(process, server.ready, server.failure, "prometheus")
        yield server
    finally:
        server.stop()
