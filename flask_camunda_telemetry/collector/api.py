"""The JSON API for scripts: ``<prefix>/api/installations`` (in pages, see :mod:`.paging`) and
``<prefix>/api/usage``.

Both are guarded by the ``authorize`` hook. Times are ISO 8601 in UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from flask import Response, request, url_for
from marshmallow import Schema, fields
from werkzeug.exceptions import BadRequest

from ..document.schemas import DashKeyedSchema
from ..web.guards import allow, check_hook, refusal_response
from ..web.responses import json_response
from .paging import cursor_of, read_cursor, read_limit
from .state import CollectorState, get_collector_state
from .statements import COMMAND, METRIC
from .store import Usage


class ProductSummarySchema(DashKeyedSchema):
    name = fields.String()
    version = fields.String()
    edition = fields.String()


class InstallationSchema(DashKeyedSchema):
    """One installation: its latest product, its first and last report, how many are stored."""

    installation = fields.String()
    product = fields.Nested(ProductSummarySchema)
    first_report = fields.AwareDateTime(format="iso")
    last_report = fields.AwareDateTime(format="iso")
    reports = fields.Integer()


class UsageSchema(Schema):
    """Totals summed over the matching reports; names whose total is 0 are left out."""

    commands = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    metrics = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


_installations = InstallationSchema(many=True)
_FILTERS = ("installation", "since", "until", "version")


def utc(value: dt.datetime) -> dt.datetime:
    """A stored (naive UTC) time made aware."""
    return value.replace(tzinfo=dt.UTC)


def installation_record(row: Any) -> dict[str, Any]:
    """An installation row as :class:`InstallationSchema` dumps it."""
    return {
        "installation": row.installation,
        "product": {"name": row.product_name, "version": row.product_version, "edition": row.edition},
        "first_report": utc(row.first_report),
        "last_report": utc(row.last_report),
        "reports": int(row.reports),
    }


def _moment(name: str, text: str, end: bool) -> dt.datetime:
    """A ``since``/``until`` value as naive UTC: a date is its whole day; a date-time that instant."""
    try:
        if "T" not in text.upper():
            day = dt.date.fromisoformat(text)
            if end and day == dt.date.max:
                return dt.datetime.max
            return dt.datetime.combine(day + dt.timedelta(days=1 if end else 0), dt.time())
        moment = dt.datetime.fromisoformat(text.upper())
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
        return moment + dt.timedelta(microseconds=1) if end and moment < dt.datetime.max else moment
    except (ValueError, OverflowError):
        raise BadRequest(
            f"{name}={text!r} is not an ISO date (2025-01-31) or date-time (2025-01-31T12:00:00Z)."
        ) from None


def usage_filters(args: Mapping[str, str]) -> dict[str, Any]:
    """The store's ``usage()`` arguments from ``?installation=&since=&until=&version=``."""
    unknown = sorted(set(args) - set(_FILTERS))
    if unknown:
        raise BadRequest(f"Unknown parameter(s) {', '.join(unknown)}; the filters are {', '.join(_FILTERS)}.")
    empty = [name for name in _FILTERS if args.get(name) == ""]
    if empty:
        raise BadRequest(f"Empty parameter(s) {', '.join(empty)}: leave a filter out to not filter.")
    nul = [name for name in ("installation", "version") if "\x00" in args.get(name, "")]
    if nul:
        raise BadRequest(f"{', '.join(nul)}: no report has a NUL in it.")
    filters: dict[str, Any] = {"installation": args.get("installation"), "version": args.get("version")}
    filters["since"] = _moment("since", args["since"], end=False) if "since" in args else None
    filters["until"] = _moment("until", args["until"], end=True) if "until" in args else None
    return filters


def usage_record(usage: Usage) -> dict[str, dict[str, int]]:
    """``{"commands": ..., "metrics": ...}``, each largest first."""
    def ranked(totals: dict[str, int]) -> dict[str, int]:
        return dict(sorted(totals.items(), key=lambda item: (-item[1], item[0])))

    return {"commands": ranked(usage[COMMAND]), "metrics": ranked(usage[METRIC])}


def guard(*methods: str) -> CollectorState | Response:
    """The state when the request may read the collector's data; else the answer (OPTIONS, 401, 403)."""
    options = allow(*methods)
    if options is not None:
        return options
    state = get_collector_state()
    refusal = check_hook(state.ext.authorize)
    return state if refusal is None else refusal_response(refusal)


def api_installations() -> Response:
    """A page of installations (``?limit=``), with a ``Link: <...>; rel="next"`` header to the
    next page (``?after=``, a cursor) unless it is the last (see :mod:`.paging`)."""
    state = guard("GET", "HEAD")
    if isinstance(state, Response):
        return state
    unknown = sorted(set(request.args) - {"limit", "after"})
    if unknown:
        raise BadRequest(f"Unknown parameter(s) {', '.join(unknown)}; GET /api/installations takes limit and after.")
    limit = read_limit(request.args)
    after = read_cursor("after", request.args["after"]) if "after" in request.args else None
    rows = state.store.installations(limit + 1, after=after)
    response = json_response(_installations.dump([installation_record(row) for row in rows[:limit]]))
    if len(rows) > limit:
        following = url_for(request.endpoint or "", limit=limit, after=cursor_of(rows[limit - 1]), _external=True)
        response.headers["Link"] = f'<{following}>; rel="next"'
    return response


def api_usage() -> Response:
    state = guard("GET", "HEAD")
    if isinstance(state, Response):
        return state
    filters = usage_filters(request.args)
    return json_response(usage_record(state.store.usage(**filters)))
