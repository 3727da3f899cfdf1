"""The background flush: one daemon thread per serving process.

It starts on the first count in a process (so after a fork, in the worker that serves), never
at import or in ``init_app``. It calls the state's ``sync()`` when it starts, then every
``CAMUNDA_TELEMETRY_FLUSH_INTERVAL`` seconds; at interpreter exit it calls it one last time.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections.abc import Callable

from . import forking

__all__ = ["Flusher"]

log = logging.getLogger("flask_camunda_telemetry")

#: How long a fork waits for a flush in progress to end (seconds).
FORK_WAIT = 30.0


def _stop_at_exit(ref: weakref.ref[Flusher]) -> None:
    flusher = ref()
    if flusher is not None:
        flusher.stop()


class Flusher:
    """Calls ``sync`` every ``interval`` seconds in a daemon thread, and at exit."""

    def __init__(self, sync: Callable[[], None], interval: float, name: str) -> None:
        self._sync = sync
        self.interval = interval
        self.name = name
        self.started = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        self._atexit_registered = False
        #: held during a sync, and by a thread that forks (so that no fork happens mid-sync).
        self._busy = threading.RLock()
        self._held_for_fork = False
        forking.register(self)

    def start(self) -> None:
        """Start the thread if this process has none yet (cheap to call again)."""
        with self._lock:
            if self.started:
                return
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
            if not self._atexit_registered:
                atexit.register(_stop_at_exit, weakref.ref(self))
                self._atexit_registered = True
            self.started = True

    def run_once(self) -> bool:
        """One sync; failures are logged once per outage, and retried at the next tick."""
        with self._busy:
            try:
                self._sync()
            except Exception as exc:  # noqa: BLE001 - a flush must never take the process down
                if not self._failing:
                    log.warning("telemetry flush failed, will retry every %ss: %s", self.interval, exc)
                self._failing = True
                return False
            if self._failing:
                log.info("telemetry flush recovered")
            self._failing = False
            return True

    def _run(self) -> None:
        # A first sync right away: it writes the first counts and, in process scope, records the
        # shared start date this process began under, so a reset made before the first tick is seen.
        stop = self._stop
        self.run_once()
        while not stop.wait(self.interval):
            self.run_once()

    def stop(self) -> None:
        """Stop the thread and flush what is left (graceful shutdown)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout=self.interval + 5)
        if self.started:
            self.run_once()
        self.started = False

    def _before_fork(self) -> None:
        # Wait for a sync in progress: forking in its middle would leave the child an import, a
        # connection or SQLite's locks half-taken by a thread it does not have.
        self._held_for_fork = self._busy.acquire(timeout=FORK_WAIT)
        if not self._held_for_fork:
            log.warning("forking while a telemetry flush has been running for over %ss", FORK_WAIT)

    def _after_fork_in_parent(self) -> None:
        if self._held_for_fork:
            self._held_for_fork = False
            self._busy.release()

    def _after_fork(self) -> None:
        # Threads do not survive fork: the child starts its own on its first count. The parent's
        # thread may have held the locks (or the stop event's) at fork time: make them anew.
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._busy = threading.RLock()
        self._held_for_fork = False
        self._thread = None
        self.started = False
        self._failing = False
