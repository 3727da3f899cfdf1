"""Fork safety: what a forked child must make anew, declared once per class.

Pre-fork servers (gunicorn ``--preload``) fork after ``init_app``. A child must not share the
parent's counts, locks, pooled connections or threads. A class that holds any of them derives
from :class:`ForkAware` and names them in ``fork_fresh``: each attribute's factory makes it in
``__init__`` *and* again in a forked child, so the two can never disagree. A lock is never made
any other way in this package (a test checks that every lock reachable from an app's state is
a new object in a forked child).

A class may also define ``before_fork`` and ``after_fork_in_parent`` (the flusher uses them so
that a process never forks while its flush thread is in the middle of a database call), and
``after_fork`` for what is not a plain attribute (an engine's pool). An object that needs one of
its attributes anew at another time (a new stop event per flush thread) calls :meth:`ForkAware.renew`,
so that even then it is made by the factory declared in ``fork_fresh``. A test walks an app's state
in a forked child and fails on any lock or pool left over from the parent; another fails on a lock
made anywhere but in a ``fork_fresh`` declaration.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from typing import Any, ClassVar

_objects: weakref.WeakSet[ForkAware] = weakref.WeakSet()
_guard = threading.Lock()  # module-level, held only to add or list objects; made anew in a child
_hooked = False
_forking = threading.local()  # per forking thread: the objects whose before_fork ran


def _snapshot() -> list[ForkAware]:
    with _guard:
        return list(_objects)


def _before_fork() -> None:
    prepared: list[ForkAware] = []
    _forking.prepared = prepared
    for obj in _snapshot():
        obj.before_fork()
        prepared.append(obj)


def _after_fork_in_parent() -> None:
    prepared: list[ForkAware] = getattr(_forking, "prepared", [])
    while prepared:
        prepared.pop().after_fork_in_parent()


def _after_fork_in_child() -> None:
    global _guard
    _guard = threading.Lock()  # another thread may have held it at the fork: it does not exist here
    _forking.prepared = []
    for obj in list(_objects):
        obj.make_fresh()
        obj.after_fork()


def _register(obj: ForkAware) -> None:
    global _hooked
    with _guard:
        if not _hooked:
            os.register_at_fork(
                before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
            )
            _hooked = True
        _objects.add(obj)


class ForkAware:
    """Base class of everything that holds per-process resources.

    ``fork_fresh`` maps attribute names to factories (``{"_lock": threading.Lock}``); the
    attributes are set by :meth:`make_fresh`, which ``__init__`` calls and which runs again in
    every forked child. Subclasses call ``super().__init__()`` first.

    .. versionadded:: 0.2.0
    """

    fork_fresh: ClassVar[dict[str, Callable[[], Any]]] = {}

    def __init__(self) -> None:
        self.make_fresh()
        _register(self)

    def make_fresh(self) -> None:
        """Make every attribute of ``fork_fresh`` (of this class and its bases) anew."""
        for cls in reversed(type(self).__mro__):
            for name, factory in vars(cls).get("fork_fresh", {}).items():
                setattr(self, name, factory())

    def renew(self, name: str) -> None:
        """Make the ``fork_fresh`` attribute ``name`` anew, with its declared factory.

        .. versionadded:: 0.2.0
        """
        for cls in type(self).__mro__:
            factory = vars(cls).get("fork_fresh", {}).get(name)
            if factory is not None:
                setattr(self, name, factory())
                return
        raise AttributeError(f"{type(self).__name__}.fork_fresh declares no {name!r}")

    def before_fork(self) -> None:
        """Called in the parent just before a fork."""

    def after_fork_in_parent(self) -> None:
        """Called in the parent just after a fork (for each object whose before_fork ran)."""

    def after_fork(self) -> None:
        """Called in the child after :meth:`make_fresh`, for what is not a plain attribute."""
