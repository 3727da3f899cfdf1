"""Headless Chromium (Debian's ``chromium``), driven by Playwright, for the page tests.

``open_browser()`` starts one browser; :class:`PageErrors` collects what the page logs as an
error (console errors, uncaught exceptions, CSP violations) so a test can assert there were none.
Without ``/usr/bin/chromium`` (or Playwright) the tests skip with the reason; under ``CI=true``
they fail instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .databases import unavailable

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Error, Page

__all__ = ["CHROMIUM", "PageErrors", "checked_page", "open_browser"]

CHROMIUM = os.environ.get("CAMUNDA_TELEMETRY_TEST_CHROMIUM", "/usr/bin/chromium")
_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def open_browser() -> Iterator[Browser]:
    """A headless Chromium, closed afterwards."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright is not installed: pip install -e '.[test]'")
    if shutil.which(CHROMIUM) is None:
        unavailable(f"{CHROMIUM} not found: apt-get install chromium (or set CAMUNDA_TELEMETRY_TEST_CHROMIUM)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


class PageErrors:
    """What a page reported as an error while a test drove it."""

    def __init__(self, page: Page) -> None:
        self.messages: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", self._exception)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning") or "Content Security Policy" in message.text:
            self.messages.append(f"console {message.type}: {message.text}")

    def _exception(self, error: Error) -> None:
        self.messages.append(f"uncaught: {error}")


@contextmanager
def checked_page(browser: Browser, **options: Any) -> Iterator[Page]:
    """A page in a new browser context made with ``options`` (viewport, color_scheme,
    java_script_enabled, ...); fails afterwards if the page reported an error."""
    context = browser.new_context(**options)
    try:
        page = context.new_page()
        errors = PageErrors(page)
        yield page
    finally:
        context.close()
    assert not errors.messages, errors.messages
