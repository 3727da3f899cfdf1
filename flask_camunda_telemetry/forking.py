"""Fork awareness: objects that must start afresh in a child process after ``os.fork()``.

Pre-fork servers (gunicorn ``--preload``) fork after ``init_app``. A child must not share the
parent's counts, locks, pooled connections or flush thread; registered objects get their
``_after_fork()`` called in the child. The hook is registered once, on first use.
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


def _after_fork_in_child() -> None:
    for obj in list(_objects):
        obj._after_fork()


def register(obj: _ForkAware) -> None:
    global _hooked
    with _guard:
        if not _hooked:
            os.register_at_fork(after_in_child=_after_fork_in_child)
            _hooked = True
        _objects.add(obj)
