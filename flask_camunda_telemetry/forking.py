"""Fork awareness: objects that must start afresh in a child process after ``os.fork()``.

Pre-fork servers (gunicorn ``--preload``) fork after ``init_app``. A child must not share the
parent's counts, locks, pooled connections or flush thread; registered objects get their
``_after_fork()`` called in the child. The hook is registered once, on first use.

An object may also define ``_before_fork()`` and ``_after_fork_in_parent()``: the flusher uses
them so that a process never forks while its flush thread is in the middle of a sync (holding
an import lock, a database connection or SQLite's process-wide locks that the child would
inherit half-taken, and hang on).
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Protocol

__all__ = ["register"]


class _ForkAware(Protocol):
    def _after_fork(self) -> None: ...


_objects: weakref.WeakSet[_ForkAware] = weakref.WeakSet()
_guard = threading.Lock()
_hooked = False
# Per forking thread: the objects whose _before_fork ran, for the matching _after_fork_in_parent.
_forking = threading.local()


def _prepared() -> list[_ForkAware]:
    prepared: list[_ForkAware] | None = getattr(_forking, "prepared", None)
    if prepared is None:
        prepared = _forking.prepared = []
    return prepared


def _before_fork() -> None:
    prepared = _prepared()
    for obj in list(_objects):
        before = getattr(obj, "_before_fork", None)
        if before is not None:
            before()
            prepared.append(obj)


def _after_fork_in_parent() -> None:
    prepared = _prepared()
    while prepared:
        prepared.pop()._after_fork_in_parent()  # type: ignore[attr-defined]


def _after_fork_in_child() -> None:
    _prepared().clear()
    for obj in list(_objects):
        obj._after_fork()


def register(obj: _ForkAware) -> None:
    global _hooked
    with _guard:
        if not _hooked:
            os.register_at_fork(
                before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
            )
            _hooked = True
        _objects.add(obj)
