"""The dashboard a person reads: ``<prefix>/`` (the fleet) and ``<prefix>/installations/<id>``.

Server-rendered with Jinja (every value escaped), charts as server-made SVG with their numbers
in tables, one stylesheet shipped in the package, no script, and a strict Content Security
Policy. Both pages are guarded by the ``authorize`` hook.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from flask import Response, current_app, render_template, request
from werkzeug.exceptions import NotFound

from ..document.metrics import INTERNAL_NAMES, PUBLIC_NAMES
from .api import guard
from .charts import bar_rows, column_chart
from .paging import Position, cursor_of, read_cursor
from .payload import shown
from .schemas import storable
from .statements import COMMAND, METRIC
from .store import CollectorStore

#: Nothing but this origin's stylesheet and images; no script at all.
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")
DAYS = 90
TOP_COMMANDS = 20
#: Dashboard title -> the installation field it groups by.
GROUPS = {
    "Product version": "product_version",
    "Edition": "edition",
    "Database": "database_vendor",
    "Application server": "server_vendor",
    "Runtime": "runtime",
}


def _page(template: str, **context: Any) -> Response:
    # a lone surrogate a report held (from a \\ud800 escape; UTF-8 has none) shows as its escape
    page = shown(render_template(f"camunda_telemetry_collector/{template}", **context))
    response = current_app.response_class(page)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _metrics(totals: dict[str, int]) -> list[tuple[str, str | None, int]]:
    """The four metrics (0 when none was reported), then any other metric reported."""
    rows: list[tuple[str, str | None, int]] = [
        (name, PUBLIC_NAMES[name] if PUBLIC_NAMES[name] != name else None, totals.get(name, 0))
        for name in INTERNAL_NAMES
    ]
    return rows + [(name, None, n) for name, n in sorted(totals.items()) if name not in PUBLIC_NAMES]


def _positions() -> tuple[Position | None, Position | None]:
    """``?after=`` and ``?before=`` (with both, ``after`` counts)."""
    args = request.args
    if "after" in args:
        return read_cursor("after", args["after"]), None
    return None, read_cursor("before", args["before"]) if "before" in args else None


def _listing(store: CollectorStore, size: int, after: Position | None, before: Position | None,
             ) -> tuple[list[Any], str | None, str | None]:
    """The page of the installation list past ``after`` or before ``before`` (neither: the
    first), and the cursors of the newer and the older page next to it (None: none)."""
    if before is not None:
        rows = store.installations(size + 1, before=before)
        if len(rows) > size:  # a page in the middle; else what is before fits the first page: shown whole
            return rows[1:], cursor_of(rows[1]), cursor_of(rows[-1])
    rows = store.installations(size + 1, after=after)
    older = cursor_of(rows[size - 1]) if len(rows) > size else None
    newer = None
    if after is not None and store.installations(1, before=after):
        newer = cursor_of(rows[0] if rows else after)
    return rows[:size], newer, older


def overview_page() -> Response:
    state = guard("GET", "HEAD")
    if isinstance(state, Response):
        return state
    store, config = state.store, state.config
    after, before = _positions()
    now = state.clock()
    first_day = now.date() - dt.timedelta(days=DAYS - 1)
    per_day = store.reports_per_day(dt.datetime.combine(first_day, dt.time()))
    days = [(day.isoformat(), per_day.get(day, 0)) for day in (first_day + dt.timedelta(n) for n in range(DAYS))]
    installations, active, reports = store.fleet(now - dt.timedelta(days=config.active_days))
    declined, _ = store.declined()
    rows, newer, older = _listing(store, config.page_size, after, before)
    metrics = dict(store.top(METRIC, 1000))
    return _page(
        "overview.html",
        installations=installations,
        active=active,
        active_days=config.active_days,
        reports=reports,
        declined=declined,
        days=days,
        reports_chart=column_chart(days, tick_every=15),
        groups={title: bar_rows(store.installations_by(column)) for title, column in GROUPS.items()},
        commands=bar_rows(store.top(COMMAND, TOP_COMMANDS), limit=TOP_COMMANDS),
        metrics=_metrics(metrics),
        rows=rows,
        newer=newer,
        older=older,
    )


def _details(document: Any) -> list[tuple[str, str]]:
    """What a person looks for in a document, read defensively (older senders leave keys out)."""
    def get(*path: str) -> Any:
        value = document
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    def text(*values: Any) -> str:
        return " ".join(str(v) for v in values if v not in (None, "")) or "(not reported)"

    def listed(value: Any) -> str:
        return ", ".join(str(v) for v in value) if isinstance(value, list) and value else "(none)"

    internals = ("product", "internals")
    return [
        ("Product", text(get("product", "name"), get("product", "version"), get("product", "edition"))),
        ("Database", text(get(*internals, "database", "vendor"), get(*internals, "database", "version"))),
        ("Application server", text(get(*internals, "application-server", "vendor"),
                                    get(*internals, "application-server", "version"))),
        ("Runtime", text(get(*internals, "jdk", "vendor"), get(*internals, "jdk", "version"))),
        ("License customer", text(get(*internals, "license-key", "customer"))),
        ("License valid until", text(get(*internals, "license-key", "valid-until"))),
        ("Integrations", listed(get(*internals, "camunda-integration"))),
        ("Webapps", listed(get(*internals, "webapps"))),
        ("Data collected since", text(get(*internals, "data-collection-start-date"))),
    ]


def installation_page(installation: str) -> Response:
    state = guard("GET", "HEAD")
    if isinstance(state, Response):
        return state
    store = state.store
    row = store.installation(installation) if storable(installation) else None
    if row is None:
        raise NotFound(f"No report from installation {installation!r} is stored.")
    reports = store.reports(installation, state.config.page_size)
    points = [(r.received_at.strftime("%Y-%m-%d %H:%M"), int(r.commands)) for r in reversed(reports)]
    raw = store.latest_document(installation) or "{}"
    document = json.loads(raw)
    return _page(
        "installation.html",
        row=row,
        reports=reports,
        commands_chart=column_chart(points, tick_every=max(1, math.ceil(len(points) / 6))),
        details=_details(document),
        commands=bar_rows(store.top(COMMAND, TOP_COMMANDS, installation=installation), limit=TOP_COMMANDS),
        metrics=_metrics(store.usage(installation=installation)[METRIC]),
        document=json.dumps(document, indent=2, ensure_ascii=False),
    )
