from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flask import Flask

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

from .support.apps import make_app
from .support.browser import checked_page, open_browser
from .support.databases import fresh_database, selected_backends


@pytest.fixture(params=selected_backends())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: one run per backend (SQLite, PostgreSQL, MariaDB)."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def app(tmp_path: Path, database_url: str) -> Flask:
    """The engine-like test app with the extension (pytest-flask's ``client`` uses it)."""
    return make_app(database_url, tmp_path / "instance")


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Flask:
    """The test app on a SQLite file, for behaviour that does not depend on the database."""
    return make_app(f"sqlite:///{tmp_path / 'telemetry.sqlite'}", tmp_path / "instance")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the session (skips without it, fails under CI=true)."""
    with open_browser() as chromium:
        yield chromium


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser page; the test fails if the page logged an error or broke its CSP."""
    with checked_page(browser) as new_page:
        yield new_page
