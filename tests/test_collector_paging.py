"""The installation list in pages: the API's ``?limit=`` and ``Link: <...>; rel="next"`` (a keyset
cursor), the dashboard's Newer and Older links; every installation once, in order, also while
installations report during the walk; a bad limit or cursor is a 400."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from flask_camunda_telemetry.collector.paging import Position, cursor_of
from flask_camunda_telemetry.collector.state import get_collector_state

from .support.collector_app import make_collector_app
from .support.documents import json_of
from .support.reports import engine_report

PINGS = "/collector/pings"
API = "/collector/api/installations"
BASE = dt.datetime(2025, 6, 1, 12, 0, 0, 250000)
#: Ids that differ only in case, reporting in the same microsecond: a cursor between them must
#: not skip or repeat one (names compare exactly on every backend).
CASES = ("fleet-A", "fleet-a", "fleet-B", "fleet-b")


def _post(app: Flask, installation: str, when: dt.datetime, report_id: str) -> None:
    get_collector_state(app).clock = lambda: when
    response = app.test_client().post(PINGS, json=engine_report(installation, {"StartProcessInstanceCmd": 1}),
                                      headers={"Telemetry-Report-Id": report_id})
    assert response.status_code == 202, json_of(response)


def _fleet(app: Flask, n: int) -> dict[str, dt.datetime]:
    """``n`` installations and the four of :data:`CASES`; three of them report in each second (ties)."""
    last = {str(uuid.UUID(int=k * 7919 + 1, version=4)): BASE + dt.timedelta(seconds=k // 3) for k in range(n)}
    last.update(dict.fromkeys(CASES, BASE + dt.timedelta(seconds=n // 6)))
    for installation, when in last.items():
        _post(app, installation, when, "first")
    return last


def _next(response: TestResponse) -> str | None:
    link = response.headers.get("Link")
    if link is None:
        return None
    match = re.fullmatch(r'<(http://localhost/collector/api/installations\?[^>]+)>; rel="next"', link)
    assert match, link
    return match[1]


def _page(client: FlaskClient, url: str) -> tuple[list[dict[str, Any]], str | None]:
    response = client.get(url)
    assert response.status_code == 200, json_of(response)
    assert response.mimetype == "application/json"
    return json_of(response), _next(response)


def _walk(client: FlaskClient, url: str) -> list[list[dict[str, Any]]]:
    pages = []
    next_url: str | None = url
    while next_url is not None:
        page, next_url = _page(client, next_url)
        pages.append(page)
    return pages


def _ids(rows: list[dict[str, Any]]) -> list[str]:
    return [row["installation"] for row in rows]


def test_walking_the_pages_lists_every_installation_once_in_order(database_url: str, tmp_path: Path) -> None:
    app = make_collector_app(database_url, tmp_path)
    last = _fleet(app, 300)
    client = app.test_client()
    whole, more = _page(client, f"{API}?limit=1000")
    assert more is None and len(whole) == len(last) == 304
    expected = sorted(last, key=lambda i: (last[i], i), reverse=True)
    assert [i for i in _ids(whole) if i not in CASES] == [i for i in expected if i not in CASES]
    assert sorted(_ids(whole)) == sorted(last)
    times = [dt.datetime.fromisoformat(row["last-report"]) for row in whole]
    assert times == sorted(times, reverse=True)

    for limit, sizes in ((None, [100, 100, 100, 4]), (7, [7] * 43 + [3]), (3, [3] * 101 + [1]), (304, [304])):
        pages = _walk(client, API if limit is None else f"{API}?limit={limit}")
        assert [len(page) for page in pages] == sizes, limit
        assert [row for page in pages for row in page] == whole, limit


def test_a_made_up_position_pages_from_there(database_url: str, tmp_path: Path) -> None:
    """A cursor names a position, not a row: one before or past every installation is a page too."""
    app = make_collector_app(database_url, tmp_path)
    last = _fleet(app, 20)
    client = app.test_client()
    newest = sorted(last, key=lambda i: (last[i], i), reverse=True)
    top = cursor_of(Position(dt.datetime.max, "~"))
    assert _ids(_page(client, f"{API}?limit=5&after={top}")[0]) == newest[:5]
    bottom = cursor_of(Position(dt.datetime.min, "0"))
    assert _page(client, f"{API}?after={bottom}") == ([], None)
    middle = cursor_of(Position(last[newest[10]], newest[10]))
    assert _ids(_page(client, f"{API}?after={middle}")[0]) == newest[11:]


def test_an_installation_that_reports_during_a_walk_moves_to_the_front(database_url: str, tmp_path: Path) -> None:
    """While a client pages, installations report: each one that did not is listed exactly once,
    in order; one that did is listed once if the walk had passed it, else not at all; a new one
    not at all. Reading the first pages again down to the walk's start finds all of those."""
    app = make_collector_app(database_url, tmp_path)
    before = _fleet(app, 200)
    client = app.test_client()
    initial = _ids(_page(client, f"{API}?limit=1000")[0])
    started = BASE + dt.timedelta(days=1)
    seen: list[str] = []
    passed: set[str] = set()
    ahead: set[str] = set()
    new: set[str] = set()
    next_url: str | None = f"{API}?limit=10"
    while next_url is not None:
        page, next_url = _page(client, next_url)
        seen += _ids(page)
        k = len(passed)
        later = [i for i in initial if i not in seen and i not in ahead]
        movers = [seen[-1], *later[25:26]]  # one the walk passed, one it has still to reach
        for installation in movers:
            _post(app, installation, started + dt.timedelta(seconds=k), f"during-{k}")
        new.add(f"new-{k}")
        _post(app, f"new-{k}", started + dt.timedelta(seconds=k), "first")
        passed.add(movers[0])
        ahead.update(movers[1:])

    assert ahead and passed
    assert seen == [i for i in initial if i not in ahead]
    assert not new & set(seen)
    since_start: list[str] = []
    for page in _walk(client, f"{API}?limit=7"):
        fresh = [row for row in page if dt.datetime.fromisoformat(row["last-report"]) >= started.replace(tzinfo=dt.UTC)]
        since_start += _ids(fresh)
        if len(fresh) < len(page):
            break
    assert sorted(since_start) == sorted(passed | ahead | new)
    assert set(seen) | set(since_start) == set(before) | new


@pytest.mark.parametrize(
    ("good", "bad"),
    [("limit=1", "limit=0"), ("limit=1000", "limit=1001"), ("limit=5", "limit=-5"), ("limit=5", "limit=%2B5"),
     ("limit=5", "limit=5.0"), ("limit=5", "limit="), ("limit=5", "limit=five"), ("limit=1", "limit=%D9%A1"),
     ("limit=5", "limit=99999999999999999999999"), ("limit=5", "limit=5&page=2"), ("limit=5", "limit=5&offset=3"),
     ("after={cursor}", "after="), ("after={cursor}", "after=x"), ("after={cursor}", "after=!!!!"),
     ("after={cursor}", "after=AAAA"), ("after={cursor}", "after=" + "A" * 5000), ("after={cursor}", "after=%00"),
     ("after={cursor}", "after=%F0%9F%98%80"), ("after={cursor}&limit=2", "after={cursor}&limit=2000")],
)
def test_a_bad_limit_or_cursor_is_a_400(tmp_path: Path, good: str, bad: str) -> None:
    app = make_collector_app(f"sqlite:///{tmp_path / 'c.sqlite'}", tmp_path)
    _fleet(app, 3)
    client = app.test_client()
    cursor = cursor_of(Position(dt.datetime.max, "~"))
    assert client.get(f"{API}?{good.format(cursor=cursor)}").status_code == 200
    response = client.get(f"{API}?{bad.format(cursor=cursor)}")
    assert response.status_code == 400, bad
    assert json_of(response)["type"] == "InvalidRequestException"
    assert "Link" not in response.headers


def _tampered(cursor: str) -> list[str]:
    """Every one-character change of ``cursor``, its cuts, and its padded and standard-base64 forms."""
    alphabet = "AQgw0_-z"
    changed = [cursor[:k] + next(c for c in alphabet if c != cursor[k]) + cursor[k + 1:] for k in range(len(cursor))]
    cut = [cursor[:k] for k in range(1, len(cursor))] + [cursor[1:], cursor + "A", cursor + "=", cursor + "=="]
    return changed + cut + [cursor.replace("-", "+").replace("_", "/") + "+/"]


def test_a_changed_or_cut_cursor_is_a_400_never_another_page(tmp_path: Path) -> None:
    app = make_collector_app(f"sqlite:///{tmp_path / 'c.sqlite'}", tmp_path)
    _fleet(app, 12)
    client = app.test_client()
    _, following = _page(client, f"{API}?limit=5")
    assert following is not None
    cursor = following.rpartition("after=")[2]
    assert re.fullmatch(r"[A-Za-z0-9_-]+", cursor)
    assert client.get(f"{API}?after={cursor}").status_code == 200
    for bad in _tampered(cursor):
        for url in (f"{API}?after={bad}", f"/collector/?after={bad}", f"/collector/?before={bad}"):
            response = client.get(url)
            assert response.status_code == 400, url
            assert json_of(response)["type"] == "InvalidRequestException"


_ROW = re.compile(r'<th scope="row"><a class="mono" href="[^"]*">([^<]*)</a></th>')
_LINK = re.compile(r'<a rel="(prev|next)" href="([^"]*)">')


def _dashboard(client: FlaskClient, url: str) -> tuple[list[str], dict[str, str]]:
    """The installations a page of the overview lists, and its links (rel -> URL)."""
    response = client.get(url)
    assert response.status_code == 200, url
    html = response.get_data(as_text=True)
    links = {rel: href.replace("&amp;", "&") for rel, href in _LINK.findall(html)}
    return _ROW.findall(html), links


def test_the_dashboards_list_pages_both_ways(database_url: str, tmp_path: Path) -> None:
    app = make_collector_app(database_url, tmp_path, CAMUNDA_TELEMETRY_COLLECTOR_PAGE_SIZE=7)
    last = _fleet(app, 60)
    client = app.test_client()
    listed = _ids(_page(client, API)[0])  # all 64 (fewer than a page of the API)
    pages: list[list[str]] = []
    url: str | None = "/collector/"
    while url is not None:
        rows, links = _dashboard(client, url)
        assert ("prev" in links) == bool(pages), url  # Newer on every page but the first
        pages.append(rows)
        url = links.get("next")
        assert url is None or ("after=" in url and "page=" not in url)
    assert [len(rows) for rows in pages] == [7] * 9 + [1]
    assert [i for rows in pages for i in rows] == listed and len(listed) == len(last)
    back = [pages[-1]]
    url = _dashboard(client, "/collector/?after=" + cursor_of(Position(last[listed[-2]], listed[-2])))[1].get("prev")
    while url is not None:
        rows, links = _dashboard(client, url)
        back.append(rows)
        url = links.get("prev")
        assert "next" in links
    assert back[::-1] == pages
    assert _dashboard(client, "/collector/?before=" + cursor_of(Position(last[listed[3]], listed[3])))[0] == pages[0]


def test_a_dashboard_page_past_the_last_installation_leads_back(tmp_path: Path) -> None:
    app = make_collector_app(f"sqlite:///{tmp_path / 'c.sqlite'}", tmp_path, CAMUNDA_TELEMETRY_COLLECTOR_PAGE_SIZE=5)
    _fleet(app, 8)
    client = app.test_client()
    listed = _ids(_page(client, API)[0])
    rows, links = _dashboard(client, "/collector/?after=" + _cursor_at(client, len(listed) - 1))
    assert rows == [] and "next" not in links
    rows, links = _dashboard(client, links["prev"])  # the five before the cursor's position
    assert rows == listed[-6:-1]
    assert _dashboard(client, links["next"])[0] == listed[-1:]
    first = _dashboard(client, "/collector/")
    assert first[0] == listed[:5] and "prev" not in first[1]
    assert _dashboard(client, "/collector/?after=" + cursor_of(Position(dt.datetime.max, "~")))[0] == listed[:5]


def _cursor_at(client: FlaskClient, index: int) -> str:
    """The cursor of the installation at ``index`` of the list."""
    row = _page(client, API)[0][index]
    return cursor_of(Position(dt.datetime.fromisoformat(row["last-report"]).replace(tzinfo=None), row["installation"]))
