"""The counts of an app's scope (``CAMUNDA_TELEMETRY_SCOPE``), chosen once, by the app's state.

Both scopes keep the same small protocol, :class:`ScopedCounts`; each reads top to bottom in one
file, from the count to the report: :mod:`.cluster` (every process and host on the database
shares one set of counts) and :mod:`.process` (each process reports its own, as Camunda's nodes).

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Protocol

from ..counting.counts import PendingCounts
from ..document.counts import Counts

if TYPE_CHECKING:
    from ..reporting.reporter import Schedule, Timing


class ScopedCounts(Protocol):
    """What the rest of the package asks of an app's counts, whatever its scope."""

    #: this process's counts not yet written or settled (the request hook adds to ``commands``).
    commands: PendingCounts
    metrics: PendingCounts
    #: what the counts cover, as the page says it; whether other processes' counts are included.
    covers: str
    shared: bool

    def sync(self) -> None:
        """The flush thread's periodic work."""

    def flush(self) -> None:
        """Write this process's counts to the database now (where the scope shares them)."""

    def shown(self) -> Counts:
        """What the document shows: the counts since the last report."""

    def lifetime(self) -> Counts:
        """The counts since the start date (Prometheus); only a reset lowers them."""

    def reset(self) -> dt.datetime:
        """Zero the counts everywhere; returns the new start date."""

    def schedule(self, timing: Timing) -> Schedule:
        """The matching report schedule."""

    def close(self, ended: bool) -> None:
        """The last work at shutdown, after the flush thread ended (``ended``) or not."""

