"""Keyset paging of the installation list: the API's ``?limit=&after=``, the dashboard's
``?after=`` and ``?before=``.

The list is ordered by ``last_report`` descending, ties by the installation id descending: an
order in which every installation has a position of its own, (last report, installation). A
page is the rows past a position, never an OFFSET: the database walks its index on
(last_report, installation) from there, so the thousandth page costs what the first does.

A position travels as a cursor: the position's time (microseconds since the year 1) and the
installation id, behind a short digest, in URL-safe base64 without padding. It is opaque to
clients, and one that was changed, cut or made up is refused (400). The digest tells a changed
cursor from one this collector wrote, not a forged one from a real one: a forged cursor only
names a position in the list, which shows nothing the reader could not page to.

What paging sees while reports arrive: an installation's position moves only when it reports
(to the front of the list). A walk from the first page to the last, at any pace, lists every
installation that did not report meanwhile exactly once, in order; one that reported meanwhile
at most once (at its old position if the walk had passed it, else not at all: it is at the front
now). Installations new since the walk began are not in it. So a client that notes the time
before its walk and then reads the first pages again down to that time has seen every
installation.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, and_, or_, select
from sqlalchemy.sql import Select
from werkzeug.exceptions import BadRequest

from .schemas import storable
from .tables import NAME_LENGTH

#: Installations per page of ``/api/installations`` without ``?limit=``.
DEFAULT_LIMIT = 100
#: The largest ``?limit=``.
MAX_LIMIT = 1000
_DIGEST = 6
#: The longest cursor, in characters: base64 of the digest, 20 digits, a dot and the longest id.
MAX_CURSOR = -(-(_DIGEST + 21 + 4 * NAME_LENGTH) * 4 // 3)
_CURSOR = re.compile(r"[A-Za-z0-9_-]+")
_MICROSECOND = dt.timedelta(microseconds=1)
_REFUSED = "start again from the first page (leave '{name}' out) and follow the links the answers carry"


@dataclass(frozen=True)
class Position:
    """A place in the installation list: the last report (naive UTC) and the installation id."""

    last_report: dt.datetime
    installation: str


def _digest(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=_DIGEST, person=b"collector-page").digest()


def cursor_of(row: Any) -> str:
    """The cursor naming the position of an installation row."""
    micros = (row.last_report - dt.datetime.min) // _MICROSECOND
    payload = f"{micros}.{row.installation}".encode()
    return base64.urlsafe_b64encode(_digest(payload) + payload).rstrip(b"=").decode("ascii")


def read_cursor(name: str, text: str) -> Position:
    """The position a cursor names; a 400 for any text :func:`cursor_of` did not write."""
    refused = BadRequest(f"{name}: not a cursor of this collector's list; {_REFUSED.format(name=name)}.")
    if len(text) > MAX_CURSOR or not _CURSOR.fullmatch(text):
        raise refused
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise refused from None
    digest, payload = raw[:_DIGEST], raw[_DIGEST:]
    if len(raw) <= _DIGEST or digest != _digest(payload):
        raise refused
    try:
        micros, dot, installation = payload.decode("utf-8").partition(".")
        position = Position(dt.datetime.min + int(micros) * _MICROSECOND, installation)
    except (UnicodeDecodeError, ValueError, OverflowError):
        raise refused from None
    if not (dot and micros.isascii() and micros.isdigit() and storable(installation)) or cursor_of(position) != text:
        raise refused  # the one way this collector writes it: also no other padding bits, no sign
    return position


def read_limit(args: Mapping[str, str], default: int = DEFAULT_LIMIT) -> int:
    """``?limit=``: a whole number from 1 to :data:`MAX_LIMIT`; ``default`` without it."""
    text = args.get("limit")
    if text is None:
        return default
    if not (text.isascii() and text.isdigit() and len(text) <= 4 and 1 <= int(text) <= MAX_LIMIT):
        raise BadRequest(f"limit={text[:20]!r}: expected a whole number from 1 to {MAX_LIMIT}.")
    return int(text)


def installations_query(table: Table, limit: int | None, after: Position | None = None,
                        before: Position | None = None) -> Select[Any]:
    """The installation rows of a page: the first ``limit`` of the list, those past ``after``,
    or (``before``) the ``limit`` nearest before it, nearest first (the caller turns them round)."""
    last, installation = table.c.last_report, table.c.installation
    if before is not None:  # (last, installation) > before, in the index's order
        return (select(table).where(and_(last >= before.last_report, or_(
            last > before.last_report, installation > before.installation)))
            .order_by(last, installation).limit(limit))
    query = select(table).order_by(last.desc(), installation.desc()).limit(limit)
    if after is not None:  # (last, installation) < after: a range of the index, on every backend
        query = query.where(and_(last <= after.last_report, or_(
            last < after.last_report, installation < after.installation)))
    return query
