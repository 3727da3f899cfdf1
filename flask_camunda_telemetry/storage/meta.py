"""The counts table's ``meta`` rows that reporting keeps, and what was reported.

A report's bookkeeping is in the counts table, next to the counts: what has been reported in
rows of kind ``command-reported`` / ``metric-reported`` (the lifetime rows are never lowered by a
report), and the schedule in rows of kind ``meta`` (which ``flask telemetry reset`` leaves alone),
each an integer: microseconds since the epoch, or a code.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import Table, and_, insert, select, update
from sqlalchemy.engine import Connection

from ..clock import from_us
from ..document.counts import Kind
from .resets import META
from .store import START_DATE

#: Lifetime kind -> the kind recording what has been reported of it.
REPORTED = {kind: f"{kind}-reported" for kind in Kind}
#: When the next report is due (cluster scope).
DUE = "report-due"
#: Until when the process that claimed the due report holds the claim (0: nobody).
LEASE = "report-lease"
#: When consent was last given (0 while it is not true; 1: from the start, by INITIALIZE).
CONSENT_GIVEN = "consent-given"
#: The last attempt: when it ended, the HTTP status (0: no answer), the failure code (0: none).
LAST_AT = "report-last-at"
LAST_STATUS = "report-last-status"
LAST_ERROR = "report-last-error"


def document_counts(
    rows: Mapping[str, Mapping[str, int]],
) -> tuple[dict[str, int], dict[str, int], dt.datetime | None]:
    """From one read of the counts table (``{kind: {name: total}}``, so one consistent
    snapshot): lifetime minus reported for commands and metrics, without the names at zero,
    and the start date (None if it was never set)."""
    unreported = []
    for kind in REPORTED:
        lifetime, reported = rows.get(kind, {}), rows.get(REPORTED[kind], {})
        unreported.append(
            {name: n - reported.get(name, 0) for name, n in lifetime.items() if n > reported.get(name, 0)}
        )
    start = rows.get(META, {}).get(START_DATE)
    return unreported[0], unreported[1], None if start is None else from_us(start)


class MetaRows:
    """Reads and writes of the ``meta`` rows of one counts table, inside a caller's transaction."""

    def __init__(self, count: Table) -> None:
        self.count = count

    def read(self, conn: Connection) -> dict[str, int]:
        count = self.count
        rows = conn.execute(select(count.c.name, count.c.total).where(count.c.kind == META)).all()
        return {name: int(total) for name, total in rows}

    def put(self, conn: Connection, name: str, value: int) -> None:
        """Set a row (raises IntegrityError when a concurrent insert of it won)."""
        count = self.count
        match = and_(count.c.kind == META, count.c.name == name)
        if not conn.execute(update(count).where(match).values(total=value)).rowcount:
            conn.execute(insert(count).values(kind=META, name=name, total=value))

    def swap(self, conn: Connection, name: str, expected: int, value: int) -> bool:
        """Set a row to ``value`` if it holds ``expected`` (a missing row holds 0)."""
        count = self.count
        match = and_(count.c.kind == META, count.c.name == name, count.c.total == expected)
        if conn.execute(update(count).where(match).values(total=value)).rowcount:
            return True
        exists = conn.execute(select(count.c.total).where(and_(count.c.kind == META, count.c.name == name))).first()
        if exists is not None or expected != 0:
            return False
        conn.execute(insert(count).values(kind=META, name=name, total=value))
        return True
