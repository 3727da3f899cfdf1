"""Storing one report, in the transaction given: which stored report it replaces, if any.

* With a report id, the same id (and start date) is the same report: an upsert on
  (installation, ``report_key``, node 0) replaces it, whatever its counts.
* With a start date and no report id (Camunda 7.19-7.21), a report replaces a stored one with the
  same installation and start date only when it is a resend of it: every count at least the
  stored one's (a retry carries the same counts plus what was counted meanwhile). Of several
  such, the one with the largest total (the least grown from). Otherwise it is stored beside
  them under the next node number: the nodes of a cluster started in the same second each count.
* With neither (Camunda 7.14-7.18), the same document from the same installation within the
  resend window replaces the latest such; any other document is stored.

Without a report id the decision is made from what is read, so the transaction first holds the
installation's summary row (a write that changes nothing): the reports of one installation are
decided one after the other, each seeing what the one before stored. The first reports of an
installation have no such row to hold; should two of them take the same node number (a unique
violation), or a report be replaced under a decision all the same (its ``rev`` moved), this
raises, and the caller runs the transaction again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, delete, func, select
from sqlalchemy.engine import Connection

from .payload import DOCUMENT, REPORT_ID, Received
from .statements import COMMAND, ENVIRONMENT, METRIC, REPLACED, REPORT, Writes
from .tables import CollectorTables

__all__ = ["ReportMovedError", "day_of", "store_report"]

Counts = dict[tuple[str, str], int]


class ReportMovedError(Exception):
    """The stored report a resend was to replace was replaced meanwhile: run the transaction again."""


def _counts(r: Received) -> Counts:
    counts = {(COMMAND, name): n for name, n in r.commands.items()}
    counts.update({(METRIC, name): n for name, n in r.metrics.items()})
    return counts


def _row(r: Received) -> dict[str, Any]:
    return {"installation": r.installation, "report_key": r.report_key, "node": 0, "rev": 1,
            "received_at": r.received_at, "period_start": r.period_start,
            **{name: getattr(r, name) for name in ENVIRONMENT}, "commands": sum(r.commands.values()),
            "document": r.document}


def store_report(conn: Connection, t: CollectorTables, writes: Writes, r: Received, window: dt.timedelta) -> bool:
    """Store ``r``; True when it replaced a stored report."""
    if r.identity == REPORT_ID:
        return _by_report_id(conn, t, writes, r)
    conn.execute(writes.hold, {"held": r.installation})
    rc = t.report.c
    key = and_(rc.installation == r.installation, rc.report_key == r.report_key)
    found = select(rc.id, rc.node, rc.rev, rc.received_at, rc.product_version).where(key)
    if r.identity == DOCUMENT:  # a resend only within the window
        found = found.where(rc.received_at >= r.received_at - window)
    candidates = conn.execute(found).all() if window or r.identity != DOCUMENT else []
    stored = _stored_counts(conn, t, [c.id for c in candidates])
    new = _counts(r)
    target = _resent(r, candidates, stored, new)
    if target is None:
        top = conn.execute(select(func.max(rc.node)).where(key)).scalar()
        row = {**_row(r), "node": 0 if top is None else top + 1}
        report_id = conn.execute(writes.new_report, row).scalar_one()
        _finish(conn, t, writes, r, (report_id, r.received_at, r.product_version), new, None)
        return False
    values = {f"new_{c}": _row(r)[c] for c in REPLACED}
    if conn.execute(writes.resent_report, {"old_id": target.id, "old_rev": target.rev, **values}).rowcount != 1:
        raise ReportMovedError(f"report {target.id} was replaced meanwhile")
    conn.execute(delete(t.count).where(t.count.c.report_id == target.id))
    _finish(conn, t, writes, r, (target.id, target.received_at, target.product_version), new, stored[target.id])
    return True


def day_of(value: Any) -> dt.date:
    """The day of a stored time (a ``datetime``, or its text from SQLite)."""
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _stored_counts(conn: Connection, t: CollectorTables, ids: list[int]) -> dict[int, Counts]:
    stored: dict[int, Counts] = {report_id: {} for report_id in ids}
    if ids:
        c = t.count.c
        for report_id, kind, name, value in conn.execute(
            select(c.report_id, c.kind, c.name, c.value).where(c.report_id.in_(ids))
        ):
            stored[report_id][(kind, name)] = int(value)
    return stored


def _resent(r: Received, candidates: Sequence[Any], stored: dict[int, Counts], new: Counts) -> Any:
    """The candidate ``r`` is a resend of, or None."""
    if r.identity == DOCUMENT:  # the same document: the latest one
        return max(candidates, key=lambda c: (c.received_at, c.id), default=None)
    resent = [c for c in candidates if all(n <= new.get(key, 0) for key, n in stored[c.id].items())]
    return max(resent, key=lambda c: (sum(stored[c.id].values()), c.node), default=None)


def _by_report_id(conn: Connection, t: CollectorTables, writes: Writes, r: Received) -> bool:
    report, new = _row(r), _counts(r)
    if writes.whole is not None:  # one statement does it all for a report new to its key
        kinds, names, values = [k for k, _ in new], [name for _, name in new], list(new.values())
        arrays = {"c_kind": kinds, "c_name": names, "c_value": values, "increment": 1}
        report_id, rev, received_at, version = conn.execute(writes.whole, {**report, **arrays}).one()
        if rev == 1:
            return False
    else:
        report_id, rev, received_at, version = conn.execute(writes.report, report).one()
    old: Counts | None = None
    if rev > 1:  # a resend: take back what the report it replaces added
        owned = t.count.c.report_id == report_id
        old = {(k, name): int(v) for k, name, v in conn.execute(
            select(t.count.c.kind, t.count.c.name, t.count.c.value).where(owned))}
        conn.execute(delete(t.count).where(owned))
    _finish(conn, t, writes, r, (report_id, received_at, version), new, old)
    return bool(rev > 1)


def _finish(conn: Connection, t: CollectorTables, writes: Writes, r: Received, stored: tuple[int, Any, str],
            counts: Counts, old: Counts | None) -> None:
    """Store the counts of the report row ``stored`` (id, received at, version); add the
    difference to ``old`` (the counts of the report it replaced; None: a new report) to the
    daily summary, and count the installation."""
    report_id, received_at, version = stored
    rows = [{"report_id": report_id, "kind": k, "name": name, "value": n} for (k, name), n in counts.items()]
    counts = {**counts, (REPORT, "*"): 1}
    before = {} if old is None else {**old, (REPORT, "*"): 1}
    deltas = [{"day": day_of(received_at), "product_version": version, "kind": k, "name": name, "total": delta}
              for k, name in sorted(counts.keys() | before.keys())
              if (delta := counts.get((k, name), 0) - before.get((k, name), 0))]
    environment = {name: getattr(r, name) for name in ENVIRONMENT}
    writes.rest(conn, rows, deltas, {"installation": r.installation, "first_report": received_at,
                                     "last_report": received_at, "reports": 1, **environment,
                                     "product_version": version, "increment": 0 if old is not None else 1})
