"""The counts of an app's scope (``CAMUNDA_TELEMETRY_SCOPE``), chosen once, by the app's state.

Both scopes keep the same small protocol, :class:`ScopedCounts`, their base; each reads top to bottom in one
file, from the count to the report: :mod:`.cluster` (every process and host on the database
shares one set of counts) and :mod:`.process` (each process reports its own, as Camunda's nodes).

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, ClassVar

from ..counting.counts import PendingCounts
from ..document.counts import Counts
from ..forking import ForkAware
from ..storage.store import TelemetryStore

if TYPE_CHECKING:
    from ..reporting.reporter import Schedule, Timing


class ScopedCounts(ForkAware):
    """What the rest of the package asks of an app's counts, whatever its scope: the base of both.

    Both hold this process's counts not yet written or settled (the request hook adds to
    :attr:`commands`, ``mark_occurrence`` to :attr:`metrics`) and the store they sync with.
    """

    #: what the counts cover, as the page says it; whether other processes' counts are included.
    covers: ClassVar[str]
    shared: ClassVar[bool]

    def __init__(self, store: TelemetryStore, timeout: float) -> None:
        super().__init__()
        self.store = store
        #: the longest a lock held by a stuck database call is waited for (``DB_TIMEOUT``).
        self._timeout = timeout
        self.commands = PendingCounts()
        self.metrics = PendingCounts()

    def _bound(self) -> None:
        """Merge the oldest slices of the pending counts when the database has been out of reach
        for long (first in a sync: the rest of it fails then)."""
        self.commands.bound()
        self.metrics.bound()

    def sync(self) -> None:
        """The flush thread's periodic work."""
        raise NotImplementedError

    def flush(self) -> None:
        """Write this process's counts to the database now (where the scope shares them)."""
        raise NotImplementedError

    def shown(self) -> Counts:
        """What the document shows: the counts since the last report."""
        raise NotImplementedError

    def lifetime(self) -> Counts:
        """The counts since the start date (Prometheus); only a reset lowers them."""
        raise NotImplementedError

    def reset(self) -> dt.datetime:
        """Zero the counts everywhere; returns the new start date."""
        raise NotImplementedError

    def schedule(self, timing: Timing) -> Schedule:
        """The matching report schedule (with ``REPORT_URL``)."""
        raise NotImplementedError

    def close(self, ended: bool) -> None:
        """The last work at shutdown, after the flush thread ended (``ended``) or not."""
        raise NotImplementedError
