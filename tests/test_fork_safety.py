"""Fork safety that cannot be forgotten: a forked child shares no lock and no pool with its parent,
and every lock of the package is declared in a ``ForkAware.fork_fresh`` table."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import os
import signal
import threading
import types
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Flask

from flask_camunda_telemetry import forking
from flask_camunda_telemetry.forking import ForkAware
from flask_camunda_telemetry.state import TelemetryState, get_state
from flask_camunda_telemetry.storage.engines import LazyEngine

PACKAGE = Path(forking.__file__).resolve().parent
#: What makes a lock (or holds one): calling these anywhere but from ``fork_fresh`` is a bug.
LOCK_FACTORIES = frozenset({"Lock", "RLock", "Event", "Condition", "Semaphore", "BoundedSemaphore", "Barrier"})
LOCK_TYPES = (
    type(threading.Lock()),
    type(threading.RLock()),
    threading.Event,
    threading.Condition,
    threading.Semaphore,
    threading.Barrier,
)
#: Modules allowed to make a lock outside ``fork_fresh``: the mechanism itself (its own guard,
#: which it makes anew in a child).
LOCK_MAKERS = {"forking.py"}
MAX_OBJECTS = 5000


def _walk(roots: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """``(path, object)`` for every object reachable from ``roots`` through the package's own
    objects, containers and closures (bounded); locks and SQLAlchemy pools are not entered."""
    seen: set[int] = set()
    todo = list(roots.items())
    while todo and len(seen) < MAX_OBJECTS:
        path, obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        yield path, obj
        if isinstance(obj, LOCK_TYPES):
            continue
        if isinstance(obj, dict):
            todo += [(f"{path}[{k!r}]", v) for k, v in obj.items()]
        elif isinstance(obj, list | tuple | set | frozenset):
            todo += [(f"{path}[{i}]", v) for i, v in enumerate(obj)]
        elif isinstance(obj, types.FunctionType):
            cells = obj.__closure__ or ()
            todo += [(f"{path}.<closure {i}>", c.cell_contents) for i, c in enumerate(cells)]
        elif type(obj).__module__.startswith("flask_camunda_telemetry") and hasattr(obj, "__dict__"):
            todo += [(f"{path}.{name}", value) for name, value in vars(obj).items()]


def _locks(state: TelemetryState) -> dict[str, Any]:
    roots = {"state": state, "forking._guard": forking._guard}
    return {path: obj for path, obj in _walk(roots) if isinstance(obj, LOCK_TYPES)}


def _pools(state: TelemetryState) -> dict[str, Any]:
    engines = {path: obj for path, obj in _walk({"state": state}) if isinstance(obj, LazyEngine)}
    return {f"{path}._engine.pool": e._engine.pool for path, e in engines.items() if e.owned and e._engine}


def _in_child(state: TelemetryState, app: Flask, parent: dict[str, int]) -> dict[str, Any]:
    """What the child sees: the parent's locks and pools still reachable, and whether it counts."""
    now = {path: id(obj) for path, obj in {**_locks(state), **_pools(state)}.items()}
    kept = sorted(path for path, ident in now.items() if ident in parent.values())
    state.count("InChildCmd", 1)
    with app.app_context():
        state.flush()
        commands = state.counts.shown().commands
    return {"kept": kept, "found": sorted(now), "child_counted": commands.get("InChildCmd", 0)}


def _fork(work: Any) -> dict[str, Any]:
    """Run ``work()`` in a forked child; its JSON result comes back through a pipe."""
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with the flush thread running
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.close(read_end)
            signal.alarm(60)  # a deadlock on a lock taken from the parent ends the child
            os.write(write_end, json.dumps(work()).encode())
            code = 0
        except BaseException as exc:  # noqa: BLE001 - told to the parent through the pipe
            os.write(write_end, json.dumps({"error": repr(exc)}).encode())
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        answer: dict[str, Any] = json.loads(pipe.read() or b"{}")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, answer
    return answer


def test_a_forked_child_shares_no_lock_and_no_pool_with_its_parent(sqlite_app: Flask) -> None:
    """After init_app, a count (the flush thread starts), a read (the engine and its pool are
    made) and a flush, every lock reachable from the app's state and the owned engine's pool are
    new objects in a forked child, and the child counts and flushes on its own."""
    state = get_state(sqlite_app)
    state.count("InParentCmd", 1)
    with sqlite_app.app_context():
        state.document()
        state.flush()
    assert state.flusher.started
    parent_objects = {**_locks(state), **_pools(state)}  # kept alive here: no id is reused in the child
    engine = state.store.lazy_engine._engine
    assert engine is not None
    expected = (state.flusher._lock, state.counts.commands._lock, engine.pool)
    assert {id(obj) for obj in expected} <= {id(obj) for obj in parent_objects.values()}, sorted(parent_objects)
    answer = _fork(lambda: _in_child(state, sqlite_app, {p: id(o) for p, o in parent_objects.items()}))
    assert answer.get("kept") == [], answer
    assert set(answer["found"]) >= set(parent_objects)  # each was made anew, not dropped
    assert answer["child_counted"] == 1
    state.close()


def _allowed_nodes(tree: ast.AST) -> set[int]:
    """Nodes of ``fork_fresh = {...}`` values in class bodies, and of annotations."""
    allowed: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for statement in node.body:
                value: ast.expr | None
                if isinstance(statement, ast.Assign):
                    targets, value = statement.targets, statement.value
                elif isinstance(statement, ast.AnnAssign):
                    targets, value = [statement.target], statement.value
                else:
                    continue
                if value is not None and any(isinstance(t, ast.Name) and t.id == "fork_fresh" for t in targets):
                    allowed |= {id(n) for n in ast.walk(value)}
        annotations = [getattr(node, "annotation", None), getattr(node, "returns", None)]
        allowed |= {id(n) for a in annotations if a is not None for n in ast.walk(a)}
    return allowed


def _lock_references(tree: ast.AST) -> Iterator[ast.expr]:
    """``threading.Lock`` (called or not) and names imported from threading that make locks."""
    imported = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "threading"
        for alias in node.names
        if alias.name in LOCK_FACTORIES
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in LOCK_FACTORIES and isinstance(node.value, ast.Name):
            if node.value.id == "threading":
                yield node
        elif isinstance(node, ast.Name) and node.id in imported and isinstance(node.ctx, ast.Load):
            yield node


def test_the_package_makes_locks_only_in_fork_fresh_declarations() -> None:
    stray = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name in LOCK_MAKERS:
            continue
        tree = ast.parse(path.read_text(), str(path))
        allowed = _allowed_nodes(tree)
        stray += [
            f"{path.relative_to(PACKAGE.parent)}:{n.lineno}" for n in _lock_references(tree) if id(n) not in allowed
        ]
    assert stray == [], (
        "a lock made outside a ForkAware.fork_fresh declaration is shared with forked children; declare it "
        "in the class's fork_fresh (and use renew() to make it anew later):\n" + "\n".join(stray)
    )


def test_every_class_declaring_fork_fresh_is_fork_aware() -> None:
    declaring = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        module = importlib.import_module(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and "fork_fresh" in vars(cls):
                declaring.append(cls)
                assert issubclass(cls, ForkAware), f"{cls.__qualname__} declares fork_fresh but is not ForkAware"
    assert len(declaring) >= 5  # the state, the flusher, the counts, the store, the engine
