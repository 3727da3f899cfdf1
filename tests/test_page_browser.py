"""The page in a real browser: headless Chromium (Debian's) on the example app served by gunicorn
with 4 workers, after real requests. The ``page`` fixture fails a test on any console error,
uncaught exception or Content-Security-Policy violation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from example_app import create_app
from example_app.engine import telemetry

from .support.browser import checked_page
from .support.pages import example_server, page_figures, traffic
from .support.processes import Server, counts, read_everywhere, serve, server_env

SCRIPT_COMMAND = "<script>window.injected = 1</script>"
SCRIPT_CUSTOMER = "<img src=x onerror=\"window.injected = 2\">ACME"
PREFIXES = ("", "/engine-rest")
UNUSED_COLLECTOR = "http://127.0.0.1:9/collector"  # nothing listens; no report is due in these tests


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The example app after a round of traffic; one command with a ``<script>`` name was counted
    by another process (the public API) before, and the license customer holds markup too."""
    folder = tmp_path_factory.mktemp("page-browser")
    url = f"sqlite:///{folder / 'telemetry.sqlite'}"
    other = create_app({"CAMUNDA_TELEMETRY_DATABASE_URI": url})
    telemetry.count_command(SCRIPT_COMMAND, app=other)
    telemetry.close(other)
    license_key = f"customer={SCRIPT_CUSTOMER};expiryDate=2031-12-31;camundaBPM=true"
    with example_server(folder, url, traffic(), {SCRIPT_COMMAND: 1}, license_key=license_key) as served:
        yield served


def _open(page: Page, server: Server, prefix: str = "/engine-rest", query: str = "") -> None:
    response = page.goto(f"http://127.0.0.1:{server.port}{prefix}/telemetry/{query}")
    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_the_numbers_on_the_page_are_the_jsons(page: Page, server: Server, prefix: str) -> None:
    _open(page, server, prefix)
    shown = page_figures(page)
    doc, _ = server.telemetry(f"{prefix}/telemetry/data")
    commands, metrics = counts(doc)
    assert shown == {
        "installation": doc["installation"],
        "commands": commands,
        "metrics": metrics,
        "total": sum(commands.values()),
        "distinct": len(commands),
    }
    runs = list(shown["commands"].values())  # in the table's order
    assert runs == sorted(runs, reverse=True) and len(runs) == 7
    assert page.locator("h1").inner_text().startswith(doc["product"]["name"])
    internals = doc["product"]["internals"]
    environment = page.locator("section[aria-labelledby=environment-heading]").inner_text()
    wsgi, database, runtime = internals["application-server"], internals["database"], internals["jdk"]
    for value in (database["vendor"], database["version"], wsgi["vendor"], wsgi["version"], runtime["version"]):
        assert value in environment
    assert page.locator("a", has_text="JSON document").get_attribute("href") == "data"
    json_link = page.locator("a", has_text="JSON document").evaluate("a => a.href")
    assert json_link == f"http://127.0.0.1:{server.port}{prefix}/telemetry/data"
    assert page.locator("a", has_text="OpenAPI description").get_attribute("href") == "/telemetry/openapi.json"


def test_the_filter_narrows_the_table(page: Page, server: Server) -> None:
    _open(page, server)
    rows = page.locator("#command-table tbody tr")
    visible = page.locator("#command-table tbody tr:visible")
    assert visible.count() == rows.count() == 7
    box = page.get_by_label("Filter commands")
    box.fill("external")
    expect(page.locator("#command-status")).to_have_text("Showing 2 of 7 commands")
    assert visible.all_inner_texts() == [
        text for text in rows.all_inner_texts() if "external" in text.split("\t")[0].lower()
    ]
    names = [row.split("\t")[0] for row in visible.all_inner_texts()]
    assert names == ["FetchExternalTasksCmd", "CompleteExternalTaskCmd"]
    box.fill("nothing like this")
    expect(page.locator("#command-empty")).to_be_visible()
    expect(page.locator("#command-status")).to_have_text("Showing 0 of 7 commands")
    assert visible.count() == 0
    box.press("Enter")  # a submit keeps the live filter, no reload
    box.fill("")
    expect(page.locator("#command-empty")).to_be_hidden()
    assert visible.count() == 7


def test_markup_in_values_shows_as_text(page: Page, server: Server) -> None:
    _open(page, server)
    assert page.evaluate("window.injected") is None
    assert page.locator("#command-table tbody th", has_text="<script>").inner_text() == SCRIPT_COMMAND
    license_text = page.locator("section[aria-labelledby=license-heading]").inner_text()
    assert SCRIPT_CUSTOMER in license_text
    assert page.locator("section img").count() == 0


@pytest.mark.parametrize("prefix", PREFIXES)
def test_the_page_is_readable_without_javascript(browser: Browser, server: Server, prefix: str) -> None:
    with checked_page(browser, java_script_enabled=False) as page:
        _open(page, server, prefix)
        doc, _ = server.telemetry(f"{prefix}/telemetry/data")
        commands, metrics = counts(doc)
        figures = page_figures(page)
        assert (figures["commands"], figures["metrics"]) == (commands, metrics)
        assert page.locator("meter").count() == len(commands)
        assert "Nothing is ever sent." in page.locator("#consent").inner_text()
        # the filter box is a form: without a script the server filters
        page.get_by_label("Filter commands").fill("process")
        page.get_by_role("button", name="Filter").click()
        page.wait_for_url("**/telemetry/?q=process")
        assert sorted(page_figures(page)["commands"]) == [
            "GetProcessInstanceCmd", "StartProcessInstanceCmd", "engine_query_process_instances"
        ]
        assert page.locator("#command-status").inner_text() == "Showing 3 of 7 commands"


@pytest.mark.parametrize(("scheme", "dark"), [("light", False), ("dark", True)])
def test_light_and_dark_follow_the_browser(browser: Browser, server: Server, scheme: str, dark: bool) -> None:
    with checked_page(browser, color_scheme=scheme) as page:
        _open(page, server)
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        text = page.evaluate("getComputedStyle(document.body).color")
        assert (_luminance(background) < 0.2) is dark
        assert abs(_luminance(background) - _luminance(text)) > 0.5  # readable either way


def _luminance(css: str) -> float:
    """The brightness (0 to 1) of an ``rgb(r, g, b)`` colour."""
    red, green, blue = (int(part) for part in css[css.index("(") + 1 : css.index(")")].split(",")[:3])
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255


@pytest.mark.parametrize(("width", "height"), [(360, 740), (768, 1024), (1440, 900)])
def test_the_page_fits_from_a_phone_to_a_wide_screen(
    browser: Browser, server: Server, tmp_path: Path, width: int, height: int
) -> None:
    with checked_page(browser, viewport={"width": width, "height": height}) as page:
        _open(page, server)
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
        table = page.locator(".table-scroll").evaluate("box => [box.scrollWidth, box.clientWidth]")
        assert table[0] <= table[1]  # nor inside the table
        assert page.locator("h1").count() == 1 and page.locator("h2").count() >= 7
        assert page.get_by_label("Filter commands").is_visible()
        page.screenshot(path=str(tmp_path / f"telemetry-{width}.png"), full_page=True)
        assert (tmp_path / f"telemetry-{width}.png").stat().st_size > 10_000


def test_the_switch_changes_what_every_worker_answers(page: Page, database_url: str, tmp_path: Path) -> None:
    """The consent switch on the page, against gunicorn's 4 workers on each database: every
    worker's ``GET /telemetry/configuration`` answers what the switch set."""
    env = server_env(database_url, report_url=UNUSED_COLLECTOR, initialize="null", report_delay=3600)
    with serve("gunicorn", env, tmp_path) as served:  # the serving app: it names the worker that answers
        page.goto(f"http://127.0.0.1:{served.port}/engine-rest/telemetry/")
        switch = page.get_by_role("switch", name="Send reports to 127.0.0.1:9")
        expect(switch).to_be_enabled()
        assert switch.evaluate("box => box.indeterminate") is True
        expect(page.locator("#consent-value")).to_have_text("undecided")
        for wanted, text in ((True, "given"), (False, "refused"), (True, "given")):
            switch.click()
            expect(page.locator("#consent-message")).to_have_text(f"Saved: consent is now {text}.")
            expect(page.locator("#consent-value")).to_have_text(text)
            assert switch.is_checked() is wanted and switch.is_enabled()
            expect(page.locator("#next-report")).to_have_text(
                "scheduled: reload the page to see when" if wanted else "none without consent"
            )
            answers = read_everywhere(served, path="/engine-rest/telemetry/configuration")
            assert {pid for pid, _ in answers} >= served.worker_pids()
            assert {json.dumps(answer) for _, answer in answers} == {json.dumps({"enableTelemetry": wanted})}
        page.reload()  # what the server renders agrees
        expect(page.locator("#consent-value")).to_have_text("given")
        expect(switch).to_be_checked()
        expect(page.locator("#next-report")).to_contain_text("(in 59 minutes)")  # REPORT_DELAY: an hour
        assert served.errors() == [], served.failure("errors in the server log")
