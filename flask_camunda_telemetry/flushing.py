"""The background flush: one daemon thread per serving process.

It starts on the first count in a process (so after a fork, in the worker that serves), never
at import or in ``init_app``. It calls ``sync()`` when it starts, then every
``CAMUNDA_TELEMETRY_FLUSH_INTERVAL`` seconds; at interpreter exit (or :meth:`Flusher.stop`) it
calls it one last time. ``sync()`` returning False means the app is gone: the thread ends.

With ``final`` (a last flush, and what it left unwritten), shutdown waits for a flush in progress
at most ``wait`` seconds, then runs that last flush, itself bounded by the database timeout;
what it could not write is logged as a warning, by name.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from .forking import ForkAware

__all__ = ["FORK_WAIT", "Flusher", "StopAtExit"]

log = logging.getLogger("flask_camunda_telemetry")

#: How long a fork waits for a flush in progress to end (seconds).
FORK_WAIT = 30.0


class StopAtExit(ForkAware):
    """The started objects of one kind (flushers, reporter threads) whose ``stop()`` runs at
    interpreter exit, by one exit handler per kind: registering one per object would leave one
    behind for every app ever collected. Held weakly.

    .. versionadded:: 0.2.0
    """

    fork_fresh = {"_lock": threading.Lock}
    _lock: threading.Lock

    def __init__(self) -> None:
        super().__init__()
        self._started: weakref.WeakSet[Any] = weakref.WeakSet()
        self._hooked = False

    def add(self, stoppable: Any) -> None:
        """Have ``stoppable.stop()`` called at exit (if it is still alive then)."""
        with self._lock:
            self._started.add(stoppable)
            if not self._hooked:
                atexit.register(self._stop_all)
                self._hooked = True

    def _stop_all(self) -> None:
        for stoppable in list(self._started):
            stoppable.stop()


#: The flushers that have started a thread in this process.
_at_exit = StopAtExit()


class Flusher(ForkAware):
    """Calls ``sync`` every ``interval`` seconds in a daemon thread, and at exit."""

    fork_fresh = {
        "_lock": threading.Lock,
        "_stop": threading.Event,
        #: held during a sync, and by a thread that forks (so that no fork happens mid-sync).
        "_busy": threading.RLock,
        "_thread": lambda: None,
        "started": lambda: False,
        "_failing": lambda: False,
        "_held_for_fork": lambda: False,
    }
    _lock: threading.Lock
    _stop: threading.Event
    _busy: threading.RLock
    _thread: threading.Thread | None
    started: bool
    _failing: bool
    _held_for_fork: bool

    def __init__(
        self,
        sync: Callable[[], bool],
        interval: float,
        name: str,
        *,
        final: tuple[Callable[[], object], Callable[[], Mapping[str, int]]] | None = None,
        wait: float | None = None,
    ) -> None:
        super().__init__()
        self._sync = sync
        self.interval = interval
        self.name = name
        self._final = final
        self._wait = interval + 5 if wait is None else wait

    def start(self) -> None:
        """Start the thread if this process has none yet (cheap to call again)."""
        with self._lock:
            if self.started:
                return
            self.renew("_stop")  # the stop event of a previous thread stays set for that thread
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
            _at_exit.add(self)
            self.started = True

    @property
    def stopping(self) -> bool:
        """Whether the thread was told to stop (its last sync may still be running).

        .. versionadded:: 0.2.0
        """
        return self._stop.is_set()

    def run_once(self) -> bool:
        """One sync; failures are logged once per outage and retried at the next tick.
        False when the app is gone."""
        with self._busy:
            try:
                alive = self._sync()
            except Exception as exc:  # noqa: BLE001 - a flush must never take the process down
                if not self._failing:
                    log.warning("telemetry flush failed, will retry every %ss: %s", self.interval, exc)
                self._failing = True
                return True
            if self._failing:
                log.info("telemetry flush recovered")
            self._failing = False
            return alive

    def _run(self) -> None:
        # A first sync right away: it writes the first counts and, in process scope, records the
        # shared start date this process began under, so a reset made before the first tick is seen.
        stop = self._stop
        if not self.run_once():
            return
        while not stop.wait(self.interval):
            if not self.run_once():
                return

    def stop(self, final_sync: bool = True) -> None:
        """Stop the thread; with ``final_sync``, wait for it and sync what is left (graceful
        shutdown, ``close``)."""
        self._stop.set()
        if not final_sync:
            self.started = False
            return
        thread = self._thread
        stuck = False
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout=self._wait)
            stuck = thread.is_alive()
        if self.started and self._final is None:
            self.run_once()
        elif self.started:
            self._last_flush(stuck)
        self.started = False

    def _last_flush(self, stuck: bool) -> None:
        """The final flush, skipped when a flush is still stuck on the database; logs what is lost."""
        assert self._final is not None
        flush, unwritten = self._final
        reason = f"a flush has been waiting on the database for over {self._wait:g} s"
        if not stuck:
            try:
                flush()
                return
            except Exception as exc:  # noqa: BLE001 - shutdown goes on; the loss is logged
                reason = str(exc)
        lost = dict(unwritten())
        if lost:
            log.warning(
                "telemetry shutdown: %d counts could not be written and are lost (%s): %s",
                sum(lost.values()), reason, ", ".join(f"{name}={n}" for name, n in sorted(lost.items())),
            )

    def before_fork(self) -> None:
        # Wait for a sync in progress: forking in its middle would leave the child an import, a
        # connection or SQLite's locks half-taken by a thread it does not have.
        self._held_for_fork = self._busy.acquire(timeout=FORK_WAIT)
        if not self._held_for_fork:
            log.warning("forking while a telemetry flush has been running for over %ss", FORK_WAIT)

    def after_fork_in_parent(self) -> None:
        if self._held_for_fork:
            self._held_for_fork = False
            self._busy.release()
