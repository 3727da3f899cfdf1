"""A bounded checkout from an engine whose connect arguments are not ours (the host's ``db``).

The host's engine may connect without a timeout, and may pre-ping: against a server that
answers nothing (stopped, or a dead network) its checkout never returns. Here it runs in a
helper thread, waited for at most what is left of the bound; a checkout abandoned that way
finishes in the background (its connection, if it ever comes, goes straight back to the pool),
and while such an abandoned checkout is pending the next checkout of that engine fails at once:
once a connect is known to hang, no more threads wait on it. Checkouts made while none is stuck
(the flush thread's and a read's, at the same moment) each go ahead.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import queue
import threading
import time
import weakref
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from ..exceptions import DatabaseUnavailableError
from ..forking import ForkAware

#: Engines made by the extension: their connects are bounded by their connect arguments.
OWN_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


class _Attempt:
    """One checkout in a helper thread; ``abandoned``/``delivered`` are changed under the lock."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.result: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.abandoned = False
        self.delivered = False


class _Checkouts(ForkAware):
    fork_fresh = {"_lock": threading.Lock, "_stuck": weakref.WeakKeyDictionary}
    _lock: threading.Lock
    #: per engine, an abandoned checkout that has not finished yet.
    _stuck: weakref.WeakKeyDictionary[Engine, _Attempt]

    def checkout(self, engine: Engine, wait: float) -> Connection:
        with self._lock:
            stuck = self._stuck.get(engine)
            if stuck is not None:
                raise DatabaseUnavailableError(
                    f"Cannot reach the telemetry database: a connect to it has been pending for "
                    f"{time.monotonic() - stuck.started:.1f} s; counts are kept in memory; retry later."
                )
        attempt = _Attempt()
        threading.Thread(
            target=self._connect, args=(engine, attempt), name="camunda-telemetry-connect", daemon=True
        ).start()
        try:
            result = attempt.result.get(timeout=wait)
        except queue.Empty:
            with self._lock:
                if not attempt.delivered:
                    attempt.abandoned = True
                    self._stuck[engine] = attempt
                    raise DatabaseUnavailableError(
                        f"Cannot reach the telemetry database: no connection within {wait:.1f} s "
                        "(CAMUNDA_TELEMETRY_DB_TIMEOUT); counts are kept in memory; retry later."
                    ) from None
            result = attempt.result.get()
        if isinstance(result, BaseException):
            raise result
        connection: Connection = result
        return connection

    def _connect(self, engine: Engine, attempt: _Attempt) -> None:
        result: Any
        try:
            result = engine.connect()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            result = exc
        with self._lock:
            if self._stuck.get(engine) is attempt:
                del self._stuck[engine]
            if not attempt.abandoned:
                attempt.delivered = True
                attempt.result.put(result)
                return
        if isinstance(result, Connection):
            result.close()  # nobody waits for it any more: back to the pool


_checkouts = _Checkouts()


def bounded_checkout(engine: Engine, wait: float) -> Connection:
    """``engine.connect()``, waited for at most ``wait`` seconds (DatabaseUnavailableError
    after that, or at once while an earlier abandoned checkout of ``engine`` is pending).
    The extension's own engines and SQLite (whose pools may be per thread) connect directly."""
    if engine in OWN_ENGINES or engine.dialect.name == "sqlite":
        return engine.connect()
    return _checkouts.checkout(engine, wait)
