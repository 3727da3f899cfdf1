"""The dashboard in a real browser (headless Chromium) over a served collector filled by real
reports over HTTP: the numbers on the pages equal the API's, an installation opens from the
list, markup in a report shows as text, nothing loads from elsewhere, light and dark.

``CAMUNDA_TELEMETRY_SCREENSHOTS=docs/_static`` saves the screenshots the docs show.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .support.browser import PageErrors
from .support.processes import Server, serve, server_env
from .support.reports import RECEIVED_AT_HEADER, demo_fleet, engine_report, get_json, post_report

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Dialog, Page, ViewportSize

SCRIPT_COMMAND = '<script>alert("command")</script>'
SCRIPT_CUSTOMER = '<script>alert("customer")</script><b>ACME</b>'
MARKED_COUNT = 60_000  # among the fleet's top 20 commands
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
FOUR_METRICS = ("root-process-instance-start", "activity-instance-start", "executed-decision-instances",
                "executed-decision-elements")


@dataclass(frozen=True)
class Fleet:
    server: Server
    base: str
    marked: str  # the installation whose report carries markup

    def api(self, path: str) -> Any:
        reply = get_json(self.server.port, "/collector/api/" + path)
        assert reply.status == 200, reply
        return reply.body


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """A collector under waitress, filled with 25 installations reporting over 90 days."""
    tmp = tmp_path_factory.mktemp("collector")
    url = f"sqlite:///{tmp / 'collector.sqlite'}"
    env = server_env(url, CAMUNDA_TELEMETRY_COLLECTOR_DATABASE_URI=url, COLLECTOR_APP_INSTANCE_PATH=str(tmp))
    now = dt.datetime.now(dt.UTC)
    with serve("waitress", env, tmp, app="tests.support.collector_app:create_app") as server:
        def send(item: tuple[dt.datetime, str, dict[str, Any]]) -> None:
            received, report_id, document = item
            headers = {RECEIVED_AT_HEADER: received.isoformat(), "Telemetry-Report-Id": report_id}
            assert post_report(server.port, document, headers).status == 202

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(send, demo_fleet(25, 90, now - dt.timedelta(hours=1))))
        marked = engine_report(commands={SCRIPT_COMMAND: MARKED_COUNT, "StartProcessInstanceCmd": 3},
                               metrics={"root-process-instance-start": 3}, customer=SCRIPT_CUSTOMER,
                               edition="enterprise")
        assert post_report(server.port, marked).status == 202
        yield Fleet(server, f"http://127.0.0.1:{server.port}/collector", marked["installation"])
        assert server.errors() == [], server.failure("errors in the collector's log")


def _number(text: str) -> int:
    return int(text.replace(",", "").strip())


def _table(page: Page, table: str) -> list[tuple[str, int]]:
    """(row heading, number in the last cell) of each row of a table."""
    found = []
    rows = page.locator(f"#{table} tbody tr")
    for row in (rows.nth(i) for i in range(rows.count())):  # text_content: also in a closed <details>
        label = row.locator("th .label")
        heading = (label if label.count() else row.locator("th")).text_content() or ""
        found.append((heading.strip(), _number(row.locator("td").last.text_content() or "")))
    return found


def _by_count(counter: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))


def test_the_overview_shows_the_apis_numbers(fleet: Fleet, page: Page) -> None:
    installations = fleet.api("installations")
    usage = fleet.api("usage")
    page.set_viewport_size(DESKTOP)
    response = page.goto(fleet.base + "/")
    assert response is not None and response.status == 200
    assert _number(page.locator("#installations-total").inner_text()) == len(installations) == 26
    active_since = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    active = [i for i in installations if dt.datetime.fromisoformat(i["last-report"]) >= active_since]
    assert _number(page.locator("#installations-active").inner_text()) == len(active)
    reports = sum(i["reports"] for i in installations)
    assert _number(page.locator("#reports-total").inner_text()) == reports
    assert sum(n for _, n in _table(page, "reports-per-day")) == reports  # every report is within 90 days
    top = sorted(usage["commands"].items(), key=lambda item: (-item[1], item[0]))[:20]
    assert _table(page, "top-commands") == top
    assert _table(page, "metrics") == [(name, usage["metrics"].get(name, 0)) for name in FOUR_METRICS]
    assert _table(page, "by-1") == _by_count(Counter(i["product"]["version"] for i in installations))
    assert _table(page, "by-2") == _by_count(Counter(i["product"]["edition"] for i in installations))
    listed = page.locator("#installation-list tbody th a").all_inner_texts()
    assert listed == [i["installation"] for i in installations][:len(listed)]


def test_an_installation_page_opens_from_the_list(fleet: Fleet, page: Page) -> None:
    installations = fleet.api("installations")
    page.goto(fleet.base + "/")
    second = installations[1]["installation"]
    page.get_by_role("link", name=second).click()
    page.wait_for_url(f"**/collector/installations/{second}")
    assert page.locator("#installation-id").inner_text() == second
    assert _number(page.locator("#installation-reports").inner_text()) == installations[1]["reports"]
    usage = fleet.api(f"usage?installation={second}")
    assert _table(page, "metrics") == [(name, usage["metrics"].get(name, 0)) for name in FOUR_METRICS]
    top = sorted(usage["commands"].items(), key=lambda item: (-item[1], item[0]))[:20]
    assert _table(page, "top-commands") == top
    assert page.locator("#report-list tbody tr").count() == min(installations[1]["reports"], 50)
    page.get_by_role("link", name="Fleet").click()
    page.wait_for_url(fleet.base + "/")


def test_markup_in_a_report_shows_as_text(fleet: Fleet, page: Page) -> None:
    dialogs: list[str] = []
    def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.goto(fleet.base + "/")
    assert (SCRIPT_COMMAND, MARKED_COUNT) in _table(page, "top-commands")
    page.goto(f"{fleet.base}/installations/{fleet.marked}")
    environment = dict(zip(page.locator("#environment dt").all_inner_texts(),
                           page.locator("#environment dd").all_inner_texts(), strict=True))
    assert environment["License customer"] == SCRIPT_CUSTOMER
    assert json.dumps(SCRIPT_COMMAND) in page.locator("#latest-document").inner_text()
    assert page.locator("script").count() == 0 and page.locator("b").count() == 0
    assert dialogs == []


def test_nothing_is_loaded_from_another_origin_and_the_policy_is_strict(fleet: Fleet, page: Page) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    for path in ("/", f"/installations/{fleet.marked}"):
        response = page.goto(fleet.base + path)
        assert response is not None
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy
        page.wait_for_load_state("networkidle")
    origin = f"http://127.0.0.1:{fleet.server.port}/"
    assert requested and all(url.startswith(origin) for url in requested), requested


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_both_pages_follow_the_systems_colour_scheme(fleet: Fleet, browser: Browser, scheme: str) -> None:
    context = browser.new_context(viewport=DESKTOP, color_scheme=scheme)  # type: ignore[arg-type]
    page = context.new_page()
    errors = PageErrors(page)
    backgrounds = []
    busiest = max(fleet.api("installations"), key=lambda i: (i["reports"], i["installation"]))["installation"]
    for name, path in (("overview", "/"), ("installation", f"/installations/{busiest}")):
        page.goto(fleet.base + path)
        backgrounds.append(page.evaluate("getComputedStyle(document.body).backgroundColor"))
        shots = os.environ.get("CAMUNDA_TELEMETRY_SCREENSHOTS")
        if shots and scheme == "light":
            page.screenshot(path=str(Path(shots) / f"collector-{name}.png"), full_page=True)
    context.close()
    assert errors.messages == []
    lightness = [sum(int(v) for v in color[color.index("(") + 1:-1].split(",")[:3]) for color in backgrounds]
    assert all((value > 600) == (scheme == "light") for value in lightness), backgrounds
