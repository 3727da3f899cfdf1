"""In-memory counters: the only thing the request path touches.

A :class:`Counter` holds per-name counts under one lock. Increments go to ``pending`` (the deltas
not yet written to the database); :meth:`Counter.take` hands them to a flush, which either
confirms them (:meth:`Counter.confirm`) or gives them back (:meth:`Counter.restore`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from . import forking

__all__ = ["Counter"]

class Counter:
    """Thread-safe counts per name for one process.

    ``process totals`` = what this process flushed (``confirmed``) + what it has not (``pending``).
    After a fork the child starts from zero: the parent keeps, and flushes, what it counted.
    """

    __slots__ = ("__weakref__", "_confirmed", "_lock", "_pending")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, int] = {}
        self._confirmed: dict[str, int] = {}
        forking.register(self)

    def add(self, name: str, n: int = 1) -> None:
        """Count ``n`` occurrences of ``name``. O(1), no I/O."""
        with self._lock:
            pending = self._pending
            pending[name] = pending.get(name, 0) + n

    def take(self) -> dict[str, int]:
        """Remove and return the deltas not yet flushed."""
        with self._lock:
            pending, self._pending = self._pending, {}
        return pending

    def confirm(self, deltas: Mapping[str, int]) -> None:
        """The deltas from :meth:`take` were written: keep them in this process's totals."""
        with self._lock:
            confirmed = self._confirmed
            for name, n in deltas.items():
                confirmed[name] = confirmed.get(name, 0) + n

    def restore(self, deltas: Mapping[str, int]) -> None:
        """A flush failed: put its deltas back so the next flush writes them."""
        with self._lock:
            pending = self._pending
            for name, n in deltas.items():
                pending[name] = pending.get(name, 0) + n

    def has_pending(self) -> bool:
        return bool(self._pending)

    def totals(self) -> dict[str, int]:
        """This process's counts since it started (or was reset), flushed or not."""
        with self._lock:
            totals = dict(self._confirmed)
            for name, n in self._pending.items():
                totals[name] = totals.get(name, 0) + n
        return totals

    def reset(self) -> None:
        """Forget everything counted in this process."""
        with self._lock:
            self._pending = {}
            self._confirmed = {}

    def _after_fork(self) -> None:
        # The lock may have been held by another thread of the parent at fork time.
        self._lock = threading.Lock()
        self._pending = {}
        self._confirmed = {}
