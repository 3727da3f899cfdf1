"""The reporter's daemon thread: ticks when told, survives every error, and is fork-safe.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager

from ..flushing import FORK_WAIT, StopAtExit
from ..forking import ForkAware
from .delivery import AppGoneError

__all__ = ["SHUTDOWN_WAIT", "ReporterThread"]

log = logging.getLogger("flask_camunda_telemetry")

#: How long a graceful shutdown waits for a report in flight (seconds); nothing is sent then.
SHUTDOWN_WAIT = 2.0


#: The reporter threads started in this process.
_at_exit = StopAtExit()


class ReporterThread(ForkAware):
    """Runs ``tick()`` (in ``context()``) in a daemon thread, again after the number of seconds
    it returns, or at once when :meth:`wake` is called; ``poll`` seconds after an error, which
    is logged once until a tick succeeds. Ends when ``context()`` raises AppGoneError."""

    fork_fresh = {
        "_lock": threading.Lock,
        #: held during the reporter's database work, and by a thread that forks (never mid-work).
        "busy": threading.RLock,
        "_held_for_fork": lambda: False,
        "stopping": threading.Event,
        "_wake": threading.Event,
        "_thread": lambda: None,
        "started": lambda: False,
        "_failing": lambda: "",
    }
    _lock: threading.Lock
    busy: threading.RLock
    _held_for_fork: bool
    stopping: threading.Event
    _wake: threading.Event
    _thread: threading.Thread | None
    started: bool
    _failing: str

    def __init__(
        self, tick: Callable[[], float], context: Callable[[], AbstractContextManager[object]], poll: float
    ) -> None:
        super().__init__()
        self._tick = tick
        self._context = context
        self.poll = poll

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        stop, wake = self.stopping, self._wake
        while not stop.is_set():
            try:
                with self._context():
                    pause = self._tick()
                if self._failing:
                    log.info("telemetry reporting recovered")
                self._failing = ""
            except AppGoneError:
                return
            except Exception as exc:  # noqa: BLE001 - the reporter must survive every error
                if str(exc) != self._failing:
                    log.warning("telemetry reporting failed, will try again in %ss: %s", self.poll, exc)
                self._failing = str(exc)
                pause = self.poll
            wake.wait(pause)
            wake.clear()

    def start(self) -> None:
        """Start the thread if this process has none yet (cheap to call again)."""
        with self._lock:
            if self.started:
                return
            self.renew("stopping")  # the stop event of a previous thread stays set for that thread
            self._thread = threading.Thread(target=self._run, name="camunda-telemetry-report", daemon=True)
            self._thread.start()
            _at_exit.add(self)
            self.started = True

    def stop(self, wait: float = SHUTDOWN_WAIT) -> None:
        """Stop the thread, waiting at most ``wait`` seconds for a report in flight (which
        then ends unconfirmed and is sent again, under the same id, by a later report).
        Sends nothing itself."""
        self.stopping.set()
        self._wake.set()
        thread = self._thread
        if wait > 0 and thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout=wait)
        self.started = False

    def before_fork(self) -> None:
        # As the flush thread: no fork in the middle of the reporter's database work (an HTTP
        # attempt in flight is no matter: the child never sees it).
        self._held_for_fork = self.busy.acquire(timeout=FORK_WAIT)
        if not self._held_for_fork:
            log.warning("forking while the telemetry reporter's database work has run for over %ss", FORK_WAIT)

    def after_fork_in_parent(self) -> None:
        if self._held_for_fork:
            self._held_for_fork = False
            self.busy.release()
