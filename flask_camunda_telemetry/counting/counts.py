"""In-memory counts: the only thing the request path touches.

A :class:`PendingCounts` holds per-name counts under one lock. Increments go to ``pending`` (the
deltas not yet written to the database); :meth:`PendingCounts.take` hands them to a flush, which
either confirms them (:meth:`PendingCounts.confirm`) or gives them back
(:meth:`PendingCounts.restore`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from ..forking import ForkAware

__all__ = ["PendingCounts", "ReportedCounts"]


def _add_into(target: dict[str, int], deltas: Mapping[str, int]) -> None:
    for name, n in deltas.items():
        target[name] = target.get(name, 0) + n


class PendingCounts(ForkAware):
    """Thread-safe counts per name for one process.

    ``process totals`` = what this process flushed (``confirmed``) + what it has not (``pending``).
    After a fork the child starts from zero: the parent keeps, and flushes, what it counted.
    """

    fork_fresh = {"_lock": threading.Lock, "_pending": dict, "_confirmed": dict, "_taken": dict}
    _lock: threading.Lock
    _pending: dict[str, int]
    _confirmed: dict[str, int]
    #: what the flush in progress took and has neither confirmed nor restored yet
    _taken: dict[str, int]

    def add(self, name: str, n: int = 1) -> None:
        """Count ``n`` occurrences of ``name``. O(1), no I/O."""
        with self._lock:
            pending = self._pending
            pending[name] = pending.get(name, 0) + n

    def take(self) -> dict[str, int]:
        """Remove and return the deltas not yet flushed."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._taken = pending
        return pending

    def confirm(self, deltas: Mapping[str, int]) -> None:
        """The deltas from :meth:`take` were written: keep them in this process's totals."""
        with self._lock:
            _add_into(self._confirmed, deltas)
            self._taken = {}

    def restore(self, deltas: Mapping[str, int]) -> None:
        """A flush failed: put its deltas back so the next flush writes them."""
        with self._lock:
            _add_into(self._pending, deltas)
            self._taken = {}

    def unwritten(self) -> dict[str, int]:
        """The deltas not written yet, without taking them: pending, and those a flush in
        progress took (a shutdown that cannot wait for that flush reports them as lost).

        .. versionadded:: 0.2.0
        """
        with self._lock:
            unwritten = dict(self._taken)
            _add_into(unwritten, self._pending)
        return unwritten

    def totals(self) -> dict[str, int]:
        """This process's counts since it started (or was reset), flushed or not."""
        with self._lock:
            totals = dict(self._confirmed)
            _add_into(totals, self._pending)
        return totals

    def reset(self) -> None:
        """Forget everything counted in this process."""
        with self._lock:
            self._pending = {}
            self._confirmed = {}
            self._taken = {}


class ReportedCounts(ForkAware):
    """What this process has reported of its own counts (process scope): the document shows
    the totals minus this, and the totals themselves are never lowered by a report.

    .. versionadded:: 0.2.0
    """

    fork_fresh = {"_lock": threading.Lock, "_reported": dict}
    _lock: threading.Lock
    _reported: dict[str, int]

    def add(self, counts: Mapping[str, int]) -> None:
        """``counts`` were reported."""
        with self._lock:
            _add_into(self._reported, counts)

    def unreported(self, totals: Mapping[str, int]) -> dict[str, int]:
        """``totals`` minus what was reported, without the names left at zero."""
        with self._lock:
            reported = self._reported
            return {name: n - reported.get(name, 0) for name, n in totals.items() if n > reported.get(name, 0)}

    def cover(self, totals: Mapping[str, int]) -> None:
        """Count everything in ``totals`` as reported (consent given: nothing before it is sent)."""
        with self._lock:
            self._reported = dict(totals)

    def reset(self) -> None:
        with self._lock:
            self._reported = {}
