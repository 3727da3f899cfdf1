"""In-memory counts: the only thing the request path touches.

A :class:`PendingCounts` holds per-name counts under one lock. Increments go to ``pending`` (the
deltas not yet written to the database), each in the slice of time it was made in
(:data:`SLICE_US`, by the wall clock), so that a flush can leave out what was made before a reset
that another process made meanwhile; :meth:`PendingCounts.take` hands them to a flush, which
either confirms them (:meth:`PendingCounts.confirm`) or gives them back
(:meth:`PendingCounts.restore`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

from ..clock import now_us
from ..forking import ForkAware

#: The width of a slice of time pending counts are kept apart by (microseconds). A reset cuts
#: at a slice boundary (it waits for the next one), so the slices say exactly what came before it.
SLICE_US = 100_000
#: Slices kept apart while flushes fail; beyond, the older ones are merged per COARSE_US.
MAX_SLICES = 1200
COARSE_US = 60_000_000

#: Counts by the start of the slice they were made in (microseconds since the epoch), then name.
Stamped = dict[int, dict[str, int]]


_clock = time.time


def next_cut() -> int:
    """The next slice boundary (microseconds since the epoch), once the clock has passed it: a
    reset cuts there, so every count is on one side of it (waits at most one slice)."""
    cut = (now_us() // SLICE_US + 1) * SLICE_US
    while (left := cut - now_us()) > 0:
        time.sleep(left / 1e6)
    return cut


def _add_into(target: dict[str, int], deltas: Mapping[str, int]) -> None:
    for name, n in deltas.items():
        target[name] = target.get(name, 0) + n


def since(stamped: Mapping[int, Mapping[str, int]], start: int | None = None) -> dict[str, int]:
    """The counts of the slices that began at or after ``start`` (None: all), per name.

    .. versionadded:: 0.2.0
    """
    total: dict[str, int] = {}
    for made, counts in stamped.items():
        if start is None or made >= start:
            _add_into(total, counts)
    return total


def _merge(target: Stamped, stamped: Mapping[int, Mapping[str, int]]) -> None:
    for made, counts in stamped.items():
        _add_into(target.setdefault(made, {}), counts)


def _bounded(stamped: Stamped) -> Stamped:
    """``stamped`` with at most about MAX_SLICES slices: the older ones merged per COARSE_US,
    each into the start of its span (so a reset inside the span leaves them out)."""
    if len(stamped) <= MAX_SLICES:
        return stamped
    recent = sorted(stamped)[-MAX_SLICES // 2 :]
    bounded: Stamped = {made: stamped[made] for made in recent}
    for made in sorted(stamped)[: -MAX_SLICES // 2]:
        _add_into(bounded.setdefault(made - made % COARSE_US, {}), stamped[made])
    return bounded


class PendingCounts(ForkAware):
    """Thread-safe counts per name for one process.

    ``process totals`` = what this process flushed or settled (``confirmed``) + what it has not
    (``pending``, by slice of time). After a fork the child starts from zero: the parent keeps,
    and flushes, what it counted.
    """

    fork_fresh = {
        "_lock": threading.Lock,
        "_pending": dict,
        "_confirmed": dict,
        #: the counts of the slice ``add`` counts in (in ``_pending``), and when it ends (0: none).
        "_current": dict,
        "_end": float,
        #: what the flush in progress took and has neither confirmed nor restored yet.
        "_taken": dict,
    }
    _lock: threading.Lock
    _pending: Stamped
    _confirmed: dict[str, int]
    _current: dict[str, int]
    _end: float
    _taken: Stamped

    def add(self, name: str, n: int = 1) -> None:
        """Count ``n`` occurrences of ``name``, in the current slice of time. O(1), no I/O."""
        with self._lock:
            if _clock() >= self._end:  # a float comparison while within the slice
                made = now_us() // SLICE_US * SLICE_US
                self._current = self._pending.setdefault(made, {})
                self._end = (made + SLICE_US) / 1e6
            current = self._current
            current[name] = current.get(name, 0) + n

    def take(self) -> Stamped:
        """Remove and return the deltas not yet flushed, by slice."""
        with self._lock:
            pending, self._pending, self._end = self._pending, {}, 0.0
            self._taken = pending
        return pending

    def confirm(self, deltas: Mapping[str, int]) -> None:
        """The deltas from :meth:`take` were written: keep them in this process's totals."""
        with self._lock:
            _add_into(self._confirmed, deltas)
            self._taken = {}

    def restore(self, deltas: Mapping[int, Mapping[str, int]]) -> None:
        """A flush failed: put its deltas (from :meth:`take`) back so the next flush writes them."""
        with self._lock:
            _merge(self._pending, deltas)
            self._pending, self._end = _bounded(self._pending), 0.0
            self._taken = {}

    def unwritten(self) -> dict[str, int]:
        """The deltas not written yet, without taking them: pending, and those a flush in
        progress took (a shutdown that cannot wait for that flush reports them as lost).

        .. versionadded:: 0.2.0
        """
        with self._lock:
            unwritten = since(self._taken)
            _add_into(unwritten, since(self._pending))
        return unwritten

    def bound(self) -> None:
        """Merge the oldest slices when there are too many (the database has been out of reach
        for long: nothing was flushed or settled).

        .. versionadded:: 0.2.0
        """
        with self._lock:
            self._pending, self._end = _bounded(self._pending), 0.0

    def settle(self, before: int) -> None:
        """Keep the pending counts of the slices that ended by ``before`` (microseconds since the
        epoch) as one, without their times (process scope: no reset can cut them any more).

        .. versionadded:: 0.2.0
        """
        with self._lock:
            for made in [made for made in self._pending if made + SLICE_US <= before]:
                _add_into(self._confirmed, self._pending.pop(made))
            self._end = 0.0

    def totals(self) -> dict[str, int]:
        """This process's counts since it started (or was reset), flushed or not."""
        with self._lock:
            totals = dict(self._confirmed)
            _add_into(totals, since(self._pending))
        return totals

    def reset(self, before: int | None = None) -> None:
        """Forget what this process confirmed, and its pending counts made before ``before``
        (microseconds since the epoch; None: all of them)."""
        with self._lock:
            pending = self._pending
            kept = {} if before is None else {made: counts for made, counts in pending.items() if made >= before}
            self._pending, self._confirmed, self._end, self._taken = kept, {}, 0.0, {}


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
