"""The package's background threads: one class, :class:`Periodic`, carries the flusher and the reporter.

A Periodic calls ``tick()`` in a daemon thread, inside its app's context: at once when it
starts, then again after the number of seconds ``tick`` returned (its ``interval`` when it
returned None), or at once after :meth:`Periodic.wake`. Every one of them behaves the same way:

* **started by the state, never at import or in init_app**: on the first count in a process (so
  after a fork, in the worker that serves);
* **stopped at exit**: one exit handler per process stops every started Periodic, the reporters
  before the flushers, each waiting at most its own bound and then doing its ``final`` work (the
  flusher's last flush);
* **held across a fork**: a fork waits, at most :data:`FORK_WAIT` seconds, for ``busy`` (held for
  a whole tick, or by the tick itself around its database work only), so that no child is born
  with a lock or a connection half-taken by a thread it does not have; the child starts afresh;
* **logged once while failing**: an error of ``tick`` is logged once as a warning (and again only
  if its kind changes), and its recovery once; meanwhile it tries again every ``retry`` seconds;
* **ended with its app**: it holds the app weakly, and ends once the app is gone.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections.abc import Callable

from flask import Flask

from .forking import ForkAware

log = logging.getLogger("flask_camunda_telemetry")

#: How long a fork waits for a tick's database work in progress to end (seconds).
FORK_WAIT = 30.0


class AppGoneError(RuntimeError):
    """The app a background thread or a read works for was garbage-collected."""


class _StopAtExit(ForkAware):
    """The started Periodics, stopped at interpreter exit by one exit handler (one per object
    would leave one behind for every app ever collected). Held weakly."""

    fork_fresh = {"_lock": threading.Lock}
    _lock: threading.Lock

    def __init__(self) -> None:
        super().__init__()
        self._started: weakref.WeakSet[Periodic] = weakref.WeakSet()
        self._hooked = False

    def add(self, periodic: Periodic) -> None:
        with self._lock:
            self._started.add(periodic)
            if not self._hooked:
                atexit.register(self.stop_all)
                self._hooked = True

    def stop_all(self) -> None:
        for periodic in sorted(self._started, key=lambda p: p.exit_order):
            periodic.stop(periodic.exit_wait)


_at_exit = _StopAtExit()


class Periodic(ForkAware):
    """Runs ``tick()`` in the context of the app ``app`` refers to, in a daemon thread named
    ``name``, again after the seconds it returns (``interval`` when it returns None).

    :param what: what the thread does, for its log lines (``"flush"``, ``"reporting"``).
    :param retry: seconds to wait after a failed tick.
    :param hold_tick: hold ``busy`` for the whole tick (else the tick takes it where it needs).
    :param final: called by :meth:`stop` after the thread ended, with whether it ended in time.
    :param exit_wait: how long the exit handler's :meth:`stop` waits for the thread.
    :param exit_order: the exit handler stops lower orders first.
    """

    fork_fresh = {
        "_lock": threading.Lock,
        #: held during a tick's database work, and by a thread that forks (never mid-work).
        "busy": threading.RLock,
        "_held_for_fork": lambda: False,
        "_stop": threading.Event,
        "_wake": threading.Event,
        "_thread": lambda: None,
        "started": lambda: False,
        "_failing": lambda: None,
    }
    _lock: threading.Lock
    busy: threading.RLock
    _held_for_fork: bool
    _stop: threading.Event
    _wake: threading.Event
    _thread: threading.Thread | None
    started: bool
    _failing: type[BaseException] | None

    def __init__(
        self,
        name: str,
        tick: Callable[[], float | None],
        app: weakref.ref[Flask],
        *,
        what: str,
        retry: float,
        interval: float | None = None,
        hold_tick: bool = True,
        final: Callable[[bool], None] | None = None,
        exit_wait: float = 2.0,
        exit_order: int = 0,
    ) -> None:
        super().__init__()
        self.name = name
        self._tick = tick
        self._app = app
        self.interval = retry if interval is None else interval
        self.what = what
        self.retry = retry
        self._hold_tick = hold_tick
        self._final = final
        self.exit_wait = exit_wait
        self.exit_order = exit_order

    @property
    def alive(self) -> bool:
        """Whether the thread is running."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopping(self) -> threading.Event:
        """Set once the thread is told to stop (a tick waiting between attempts gives up)."""
        return self._stop

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

    def wake(self) -> None:
        """Tick now rather than at the end of the current pause."""
        self._wake.set()

    def _once(self) -> float | None:
        """One tick in the app's context; raises AppGoneError once the app is gone."""
        app = self._app()
        if app is None:
            raise AppGoneError(f"the app of {self.name} is gone")
        with app.app_context():
            del app  # the context holds it for the tick, and no longer
            if not self._hold_tick:
                return self._tick()
            with self.busy:
                return self._tick()

    def _run(self) -> None:
        stop, wake = self._stop, self._wake
        while not stop.is_set():
            try:
                pause = self._once()
            except AppGoneError:
                return
            except Exception as exc:  # noqa: BLE001 - a background thread must survive every error
                if type(exc) is not self._failing:
                    log.warning("telemetry %s failed, will try again every %gs: %s", self.what, self.retry, exc)
                self._failing = type(exc)
                pause = self.retry
            else:
                if self._failing is not None:
                    log.info("telemetry %s recovered", self.what)
                self._failing = None
            wake.wait(self.interval if pause is None else pause)
            wake.clear()

    def stop(self, wait: float, *, final: bool = True) -> None:
        """Stop the thread, waiting at most ``wait`` seconds for a tick in progress; then, with
        ``final``, the ``final`` work (told whether the thread ended in time)."""
        self._stop.set()
        self._wake.set()
        thread, was_started = self._thread, self.started
        if wait > 0 and thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout=wait)
        self.started = False
        if final and was_started and self._final is not None:
            self._final(thread is None or not thread.is_alive() or thread is threading.current_thread())

    def before_fork(self) -> None:
        self._held_for_fork = self.busy.acquire(timeout=FORK_WAIT)
        if not self._held_for_fork:
            log.warning("forking while the telemetry %s has been busy for over %ss", self.what, FORK_WAIT)

    def after_fork_in_parent(self) -> None:
        if self._held_for_fork:
            self._held_for_fork = False
            self.busy.release()
