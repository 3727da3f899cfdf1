"""The example app (example_app/) served for real, for the page tests and the screenshots:
its traffic, what that traffic counts, and what a browser page shows.

``python -m tests.support.pages docs/_static/telemetry-page.png`` makes the screenshot of the
docs: gunicorn serving the example app after a round of traffic, Chromium at desktop width.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .browser import open_browser
from .processes import EXAMPLE_APP, Counts, Server, drive, serve, server_env, wait_for_counts

if TYPE_CHECKING:
    from playwright.sync_api import Page

__all__ = ["TRAFFIC", "example_server", "expected_counts", "page_figures", "traffic"]

#: (method, path) -> (the command it counts, {metric: occurrences it marks}) in the example app.
TRAFFIC: dict[tuple[str, str], tuple[str, dict[str, int]]] = {
    ("POST", "/engine-rest/process-definition/key/invoice/start"): (
        "StartProcessInstanceCmd", {"root-process-instance-start": 1, "activity-instance-start": 3},
    ),
    ("POST", "/engine-rest/external-task/fetchAndLock"): ("FetchExternalTasksCmd", {}),
    ("GET", "/engine-rest/process-instance"): ("engine_query_process_instances", {}),
    ("POST", "/engine-rest/decision-definition/key/approver/evaluate"): (
        "EvaluateDecisionCmd", {"executed-decision-instances": 1, "executed-decision-elements": 1},
    ),
    ("GET", "/engine-rest/process-instance/missing"): ("GetProcessInstanceCmd", {}),  # a 404 from the view
    ("POST", "/engine-rest/external-task/missing/complete"): ("CompleteExternalTaskCmd", {}),  # a 404 too
}
#: How often each request is sent: different counts, so the order of the table means something.
WEIGHTS = (40, 25, 12, 7, 3, 1)
METRICS = ("root-process-instance-start", "activity-instance-start", "executed-decision-instances",
           "executed-decision-elements")


def traffic(scale: int = 1, seed: int = 12) -> list[tuple[str, str]]:
    requests = [route for route, weight in zip(TRAFFIC, WEIGHTS, strict=True) for _ in range(weight * scale)]
    random.Random(seed).shuffle(requests)
    return requests


def expected_counts(requests: list[tuple[str, str]], extra_commands: dict[str, int] | None = None) -> Counts:
    commands: Counter[str] = Counter(extra_commands or {})
    metrics: Counter[str] = Counter(dict.fromkeys(METRICS, 0))
    for request in requests:
        command, marks = TRAFFIC[request]
        commands[command] += 1
        metrics.update(marks)
    return dict(commands), dict(metrics)


@contextmanager
def example_server(
    log_dir: Path, database_url: str, requests: list[tuple[str, str]], extra_commands: dict[str, int] | None = None,
    **settings: Any,
) -> Iterator[Server]:
    """gunicorn (4 workers) serving the example app, after ``requests``, once every worker's
    counts are in the database (``extra_commands``: counted before by another process)."""
    env = server_env(database_url, EXAMPLE_APP_INSTANCE_PATH=str(log_dir), **settings)
    with serve("gunicorn", env, log_dir, app=EXAMPLE_APP) as server:
        drive(server, requests)
        wait_for_counts(server, expected_counts(requests, extra_commands))
        yield server


def page_figures(page: Page) -> dict[str, Any]:
    """What the page shows: installation, commands and metrics (name -> count), totals."""
    commands = {}
    for row in page.locator("#command-table tbody tr").all():
        commands[row.locator("th").inner_text()] = int(row.locator("data").get_attribute("value") or "-1")
    metrics = {}
    for metric in page.locator("[data-metric]").all():
        metrics[metric.get_attribute("data-metric")] = int(metric.get_attribute("value") or "-1")
    return {
        "installation": page.locator("#installation").inner_text(),
        "commands": commands,
        "metrics": metrics,
        "total": int(page.locator("#commands-total").get_attribute("value") or "-1"),
        "distinct": int(page.locator("#commands-distinct").get_attribute("value") or "-1"),
    }


def _screenshot(target: Path, width: int, height: int, scheme: Literal["light", "dark"]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'telemetry.sqlite'}"
        license_key = "customer=ACME Insurance;expiryDate=2027-06-30;camundaBPM=true;optimize=true"
        with example_server(folder, url, traffic(), license_key=license_key) as server, open_browser() as browser:
            context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{server.port}/engine-rest/telemetry/")
            page.screenshot(path=str(target), full_page=True)
            context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", type=Path, help="the PNG file to write")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--scheme", choices=("light", "dark"), default="light")
    args = parser.parse_args()
    _screenshot(args.target, args.width, args.height, args.scheme)


if __name__ == "__main__":
    main()
