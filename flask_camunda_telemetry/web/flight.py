"""Single flight: at most one thread per process waits on the database for a read.

A read for a route (``/telemetry/data``, the page, the Prometheus series, the consent) runs in a
thread of its own, and the request waits for it at most ``CAMUNDA_TELEMETRY_DB_TIMEOUT``. A read
arriving while one is in flight does not start another: it shares the in-flight read's result
when that comes within :data:`SHARE_WAIT` (and is the same read), and otherwise answers 503 at
once. So however the database hangs, the host's request threads are each held at most the
bound (the first) or :data:`SHARE_WAIT` (the others), and never more than one thread waits on it.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from ..exceptions import DatabaseUnavailableError
from ..forking import ForkAware

T = TypeVar("T")

#: How long a read waits for another read in flight (seconds) before answering 503.
SHARE_WAIT = 0.5


class _Flight(ForkAware):
    """One read in flight: what it reads (``key``), when it started, and its outcome."""

    fork_fresh = {"done": threading.Event}
    done: threading.Event

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key
        self.started = time.monotonic()
        self.result: Any = None
        self.error: BaseException | None = None

    def outcome(self) -> Any:
        if isinstance(self.error, DatabaseUnavailableError):
            raise DatabaseUnavailableError(str(self.error)) from self.error  # a new one per waiting thread
        if self.error is not None:
            raise self.error
        return self.result


def _busy(flight: _Flight) -> DatabaseUnavailableError:
    return DatabaseUnavailableError(
        f"Another read of the telemetry database has been waiting for "
        f"{time.monotonic() - flight.started:.1f} s; counts are kept in memory; retry later."
    )


class SingleFlight(ForkAware):
    """Runs reads one at a time, each in a daemon thread, with a bounded wait for its result."""

    fork_fresh = {"_lock": threading.Lock, "_flight": lambda: None}
    _lock: threading.Lock
    _flight: _Flight | None

    def __init__(self, name: str = "camunda-telemetry-read") -> None:
        super().__init__()
        self.name = name

    def run(
        self, key: str, work: Callable[[], T], timeout: float, context: Callable[[], AbstractContextManager[object]]
    ) -> T:
        """``work()`` (inside ``context()``) in the single flight; DatabaseUnavailableError when
        it takes more than ``timeout`` seconds, or when another read is in flight for longer
        than :data:`SHARE_WAIT`. Reads of the same ``key`` in flight together share one result."""
        share_until = time.monotonic() + SHARE_WAIT
        while True:
            flight, leader = self._join(key, work, context)
            if leader:
                if not flight.done.wait(timeout):
                    raise DatabaseUnavailableError(
                        f"The telemetry database did not answer within {timeout:g} s "
                        "(CAMUNDA_TELEMETRY_DB_TIMEOUT); counts are kept in memory; retry later."
                    )
                result: T = flight.outcome()
                return result
            if not flight.done.wait(max(0.0, share_until - time.monotonic())):
                raise _busy(flight)
            if flight.key == key:
                shared: T = flight.outcome()
                return shared
            # another kind of read ended: lead ours (or share the next one) within SHARE_WAIT

    def _join(
        self, key: str, work: Callable[[], Any], context: Callable[[], AbstractContextManager[object]]
    ) -> tuple[_Flight, bool]:
        """The flight in progress (False), or a new one started for ``work`` (True)."""
        with self._lock:
            if self._flight is not None:
                return self._flight, False
            flight = self._flight = _Flight(key)
        thread = threading.Thread(target=self._fly, args=(flight, work, context), name=self.name, daemon=True)
        try:
            thread.start()
        except BaseException:
            self._land(flight)
            raise
        return flight, True

    def _fly(
        self, flight: _Flight, work: Callable[[], Any], context: Callable[[], AbstractContextManager[object]]
    ) -> None:
        try:
            with context():
                flight.result = work()
        except BaseException as exc:  # noqa: BLE001 - handed to the threads waiting for it
            flight.error = exc
        finally:
            self._land(flight)

    def _land(self, flight: _Flight) -> None:
        with self._lock:
            if self._flight is flight:
                self._flight = None
        flight.done.set()
