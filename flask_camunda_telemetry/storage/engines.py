"""Which database the extension uses, and its engine, made on first use.

In this order: the host's Flask-SQLAlchemy ``db`` (its metadata and engine, ``BIND_KEY`` picking
a bind), ``CAMUNDA_TELEMETRY_DATABASE_URI``, the URI of ``SQLALCHEMY_BINDS[BIND_KEY]``,
``SQLALCHEMY_DATABASE_URI``, and last a SQLite file in the instance folder. As in
Flask-SQLAlchemy, a relative SQLite path is a file in the instance folder.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import QueuePool

from ..exceptions import ConfigurationError
from ..forking import ForkAware
from ..settings import Key, parse_optional_str
from .checkout import OWN_ENGINES
from .timeouts import SESSION_BOUNDS, after_connect, connect_args
from .urls import check_database_uri, parse_database_uri

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy

#: The SQLite file in the instance folder used when nothing else names a database.
SQLITE_FILE = "camunda_telemetry.sqlite"


def database_keys(fallback: str) -> tuple[Key, Key]:
    """``DATABASE_URI`` and ``BIND_KEY``, as this extension and the collector declare them;
    ``fallback``: the database used when nothing names one.

    .. versionadded:: 0.2.0
    """
    return (
        Key("DATABASE_URI", None, parse_database_uri,
            f"The database; ``None`` uses ``db`` if given, then ``SQLALCHEMY_DATABASE_URI``, then {fallback}. "
            "Checked at ``init_app`` without connecting: a URI SQLAlchemy cannot parse, an unknown backend, a "
            "driver that is not installed or an asyncio one (``postgresql+asyncpg``) fails there."),
        Key("BIND_KEY", None, parse_optional_str,
            "A Flask-SQLAlchemy bind: with ``db`` its engine, without ``db`` the URI in ``SQLALCHEMY_BINDS``."),
    )


class LazyEngine(ForkAware):
    """An engine made by ``factory`` on first use.

    ``owned``: the extension made it, so it disposes of it (in a forked child, leaving the
    parent's connections to the parent, and on :meth:`dispose`); the host's engine is the host's.
    ``timeout``: the bound on every wait on this database (``CAMUNDA_TELEMETRY_DB_TIMEOUT``;
    None: unbounded), see :mod:`.timeouts`.
    """

    fork_fresh = {"_lock": threading.Lock}
    _lock: threading.Lock

    def __init__(self, factory: Callable[[], Engine], *, owned: bool, timeout: float | None = None) -> None:
        super().__init__()
        self._factory = factory
        self.owned = owned
        self.timeout = timeout
        self._engine: Engine | None = None

    def __call__(self) -> Engine:
        engine = self._engine
        if engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = self._factory()
                engine = self._engine
        return engine

    def after_fork(self) -> None:
        if self.owned and self._engine is not None:
            self._engine.dispose(close=False)

    def dispose(self) -> None:
        """Close the pooled connections of an owned engine (it is made anew if used again)."""
        with self._lock:
            engine, self._engine = self._engine, None
        if engine is not None and self.owned:
            engine.dispose()


def _in_memory(url: URL) -> bool:
    """Whether ``url`` names an in-memory SQLite database (which lives in its connection)."""
    path = url.database or ""
    return url.get_backend_name() == "sqlite" and (
        path in ("", ":memory:") or "mode=memory" in path or url.query.get("mode") == "memory"
    )


def create_own_engine(uri: str, makedirs: str | None = None, timeout: float | None = None) -> Engine:
    """An engine for the extension's own use, with connects bounded by ``timeout`` seconds.

    No pre-ping: a ping of a server that answers nothing would wait unboundedly at checkout;
    a dead pooled connection is retried once, fresh, by :func:`.transactions.run_transaction`.
    """
    if makedirs is not None:
        os.makedirs(makedirs, exist_ok=True)
    url = make_url(uri)
    backend = url.get_backend_name()
    options: dict[str, Any] = {}
    if _in_memory(url):
        # The database is its one connection: lent to one thread at a time (the others wait for
        # it, at most the bound).
        options.update(poolclass=QueuePool, pool_size=1, max_overflow=0, connect_args={"check_same_thread": False})
        if timeout is not None:
            options["pool_timeout"] = timeout
    else:
        options["connect_args"] = connect_args(backend, url.get_driver_name(), timeout)
    engine = create_engine(url, **options)
    if url.get_driver_name() == "pymysql" and timeout is not None:
        event.listen(engine, "connect", after_connect)
    if "options" in options.get("connect_args", {}) and timeout is not None:
        SESSION_BOUNDS[engine] = timeout
    OWN_ENGINES.add(engine)
    return engine


def _relative_sqlite_in_instance(uri: str, instance_path: str) -> str | None:
    """The URI with the path in the instance folder, or None if ``uri`` is not a relative
    SQLite file path."""
    url = make_url(uri)
    path = url.database
    if url.get_backend_name() != "sqlite" or not path or path == ":memory:" or path.startswith("file:"):
        return None
    if os.path.isabs(path):
        return None
    return url.set(database=os.path.join(instance_path, path)).render_as_string(hide_password=False)


def _host_uri(app: Flask, bind_key: str | None) -> tuple[str, object]:
    """The config key naming the host's database and its value: ``SQLALCHEMY_DATABASE_URI``, or
    the URI of ``SQLALCHEMY_BINDS[bind_key]`` (a URI, or a dict of engine options with ``url``)."""
    if bind_key is None:
        return "SQLALCHEMY_DATABASE_URI", app.config.get("SQLALCHEMY_DATABASE_URI")
    bind = (app.config.get("SQLALCHEMY_BINDS") or {}).get(bind_key)
    return f"SQLALCHEMY_BINDS[{bind_key!r}]", bind.get("url") if isinstance(bind, dict) else bind


def _bind_uri(app: Flask, bind_key: str) -> str:
    """The URI of ``SQLALCHEMY_BINDS[bind_key]``; ConfigurationError when it names none."""
    key, uri = _host_uri(app, bind_key)
    if not isinstance(uri, str) or not uri:
        raise ConfigurationError(
            "CAMUNDA_TELEMETRY_BIND_KEY", bind_key, "expected a key of SQLALCHEMY_BINDS that names a database URI"
        )
    check_database_uri(key, uri)
    return uri


def _refuse_host_in_memory(app: Flask, bind_key: str | None) -> None:
    """An in-memory SQLite database of the host's: its pool (the host's) lends its one connection
    to several threads at once, so the extension's flushes would interleave with the host's work."""
    key, uri = _host_uri(app, bind_key)
    if isinstance(uri, str | URL) and _in_memory(make_url(uri)):
        raise ConfigurationError(
            key, str(uri), "the telemetry counts cannot share the host's in-memory SQLite database (its one "
            "connection would be used by several threads at once); use a file (sqlite:///app.sqlite), or give "
            "the extension a database of its own with CAMUNDA_TELEMETRY_DATABASE_URI (a file, or sqlite:// in tests)",
        )


def _host_engine(app_ref: weakref.ref[Flask], db: SQLAlchemy, bind_key: str | None) -> Engine:
    app = app_ref()
    if app is None:
        raise RuntimeError("the app this telemetry state belongs to has been garbage-collected")
    if has_app_context() and current_app._get_current_object() is app:  # type: ignore[attr-defined]
        return db.engines[bind_key]
    with app.app_context():
        return db.engines[bind_key]


def resolve_database(
    app: Flask,
    db: SQLAlchemy | None,
    bind_key: str | None,
    uri: str | None,
    default_file: str = SQLITE_FILE,
    timeout: float | None = None,
) -> tuple[MetaData, LazyEngine]:
    """Where the tables are defined and the engine to use, without connecting.

    ``default_file``: the SQLite file in the instance folder when nothing names a database;
    ``timeout``: the bound on every wait on it (None: unbounded).
    """
    if db is not None and uri is None:
        _refuse_host_in_memory(app, bind_key)
        metadata = db.metadatas.get(bind_key) or db._make_metadata(bind_key)
        app_ref = weakref.ref(app)  # never the app itself: the state must not keep it alive
        return metadata, LazyEngine(lambda: _host_engine(app_ref, db, bind_key), owned=False, timeout=timeout)
    if uri is None and bind_key is not None:
        uri = _bind_uri(app, bind_key)
    if uri is None:
        uri = app.config.get("SQLALCHEMY_DATABASE_URI") or f"sqlite:///{default_file}"
        check_database_uri("SQLALCHEMY_DATABASE_URI", uri)
    in_instance = _relative_sqlite_in_instance(uri, app.instance_path)
    if in_instance is not None:
        instance_path = app.instance_path
        factory = lambda: create_own_engine(in_instance, instance_path, timeout)  # noqa: E731
        return MetaData(), LazyEngine(factory, owned=True, timeout=timeout)
    own_uri = uri
    return MetaData(), LazyEngine(lambda: create_own_engine(own_uri, None, timeout), owned=True, timeout=timeout)
