"""``TelemetryExt``: the Flask extension object."""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask, current_app, has_app_context
from sqlalchemy import Engine, MetaData
from sqlalchemy.engine import make_url

from .config import load_config
from .exceptions import AlreadyInitializedError, ConfigurationError, NotInitializedError
from .hooks import install_counting_hook
from .metrics import canonical_metric
from .model import TelemetryData
from .naming import mark_command, validate_command_name
from .state import EXTENSION_KEY, TelemetryState
from .storage import OwnEngine, TelemetryStore
from .tables import define_tables
from .views import BLUEPRINT_NAME, OPENAPI_ENDPOINT, make_blueprint, serve_openapi

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy

__all__ = ["TelemetryExt"]

F = TypeVar("F", bound=Callable[..., Any])

SQLITE_FILE = "camunda_telemetry.sqlite"


def _relative_sqlite_in_instance(uri: str, instance_path: str) -> str | None:
    """Flask-SQLAlchemy's rule, for both database URI keys: a relative SQLite file path is in the
    instance folder (so the extension shares the host's file whether or not ``db`` is passed).
    The URI with that path, or None if ``uri`` is not a relative SQLite file path."""
    url = make_url(uri)
    path = url.database
    if url.get_backend_name() != "sqlite" or not path or path == ":memory:" or path.startswith("file:"):
        return None
    if os.path.isabs(path):
        return None
    return url.set(database=os.path.join(instance_path, path)).render_as_string(hide_password=False)


def _bind_uri(app: Flask, bind_key: str) -> str:
    """The URI of ``SQLALCHEMY_BINDS[bind_key]`` (a URI, or a dict of engine options with ``url``)."""
    bind = (app.config.get("SQLALCHEMY_BINDS") or {}).get(bind_key)
    uri = bind.get("url") if isinstance(bind, dict) else bind
    if not isinstance(uri, str) or not uri:
        raise ConfigurationError(
            "CAMUNDA_TELEMETRY_BIND_KEY", bind_key, "expected a key of SQLALCHEMY_BINDS that names a database URI"
        )
    return uri


class TelemetryExt:
    """Serve Camunda's ``GET /telemetry/data`` from a Flask app.

    :param app: the app; or call :meth:`init_app` later (app factory).
    :param db: a Flask-SQLAlchemy ``SQLAlchemy`` object: the tables join its metadata (so
        ``db.create_all()`` and Alembic see them) and its engine is used (``bind_key`` option /
        ``CAMUNDA_TELEMETRY_BIND_KEY`` picks a bind).
    :param authorize: a callable with no arguments deciding whether the current request may read
        the data: truthy allows, falsy answers 403; it may raise
        :class:`~.AuthenticationRequired` (401) or :class:`~.AuthorizationDenied` (403).
    :param options: defaults for the ``CAMUNDA_TELEMETRY_*`` keys, named in lower case without
        the prefix (``scope="process"``); values already in ``app.config`` win.

    Per-app state lives in ``app.extensions["camunda_telemetry"]``; one object can serve many apps.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        db: SQLAlchemy | None = None,
        authorize: Callable[[], Any] | None = None,
        **options: Any,
    ) -> None:
        self.db = db
        self._authorize = authorize
        self._options = options
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Validate the config, then install the hook, the blueprint and the CLI on ``app``.

        Opens no connection and starts no thread: safe before a fork (gunicorn ``--preload``).
        """
        if EXTENSION_KEY in app.extensions:
            raise AlreadyInitializedError(
                f"TelemetryExt is already initialized on app {app.import_name!r}; "
                "call init_app once per app and reuse that extension object."
            )
        config = load_config(app.config, self._options)
        metadata, engine = self._database(app, config.bind_key, config.database_uri)
        try:
            tables = define_tables(metadata, config.property_table, config.count_table)
        except ValueError as exc:
            raise ConfigurationError("CAMUNDA_TELEMETRY_PROPERTY_TABLE", config.property_table, str(exc)) from None
        blueprint_names = tuple(
            BLUEPRINT_NAME if i == 0 else f"{BLUEPRINT_NAME}_{i + 1}" for i in range(len(config.url_prefixes))
        )
        state = TelemetryState(
            app=weakref.ref(app),
            config=config,
            store=TelemetryStore(tables, engine, config.create_tables),
            blueprint_names=frozenset(blueprint_names),
            authorizer=lambda: self._authorize,
        )
        app.extensions[EXTENSION_KEY] = state
        install_counting_hook(app, state)
        if config.url_prefixes:
            blueprint = make_blueprint()
            for name, prefix in zip(blueprint_names, config.url_prefixes, strict=True):
                app.register_blueprint(blueprint, name=name, url_prefix=prefix or None)
        if config.openapi_url:
            app.add_url_rule(config.openapi_url, OPENAPI_ENDPOINT, serve_openapi, methods=["GET"])
        from .cli import telemetry_cli

        app.cli.add_command(telemetry_cli)

    def _database(self, app: Flask, bind_key: str | None, uri: str | None) -> tuple[MetaData, Callable[[], Engine]]:
        """Where the tables live and how to get an engine, without connecting."""
        db = self.db
        if db is not None and uri is None:
            metadata = db.metadatas.get(bind_key) or db._make_metadata(bind_key)
            app_ref = weakref.ref(app)
            cache: list[Engine] = []

            def host_engine() -> Engine:
                if not cache:
                    target = app_ref()
                    if has_app_context() and current_app._get_current_object() is target:  # type: ignore[attr-defined]
                        cache.append(db.engines[bind_key])
                    else:
                        assert target is not None
                        with target.app_context():
                            cache.append(db.engines[bind_key])
                return cache[0]

            return metadata, host_engine
        if uri is None and bind_key is not None:
            uri = _bind_uri(app, bind_key)
        if uri is None:
            uri = app.config.get("SQLALCHEMY_DATABASE_URI") or f"sqlite:///{SQLITE_FILE}"
        # a relative SQLite file is in the instance folder, made on first use
        in_instance = _relative_sqlite_in_instance(uri, app.instance_path)
        if in_instance is not None:
            own = OwnEngine(in_instance)

            def instance_engine() -> Engine:
                os.makedirs(app.instance_path, exist_ok=True)
                return own()

            return MetaData(), instance_engine
        return MetaData(), OwnEngine(uri)

    # -- per-app access -------------------------------------------------------------------

    def state(self, app: Flask | None = None) -> TelemetryState:
        """The state of ``app`` (default: the current app)."""
        if app is None:
            if not has_app_context():
                raise NotInitializedError(
                    "No app given and no app context: pass app=..., or run inside 'with app.app_context():'."
                )
            app = current_app._get_current_object()  # type: ignore[attr-defined]
        assert app is not None
        try:
            state: TelemetryState = app.extensions[EXTENSION_KEY]
        except KeyError:
            raise NotInitializedError(
                f"TelemetryExt is not initialized on app {app.import_name!r}: did you forget to call init_app(app)?"
            ) from None
        return state

    # -- public API -----------------------------------------------------------------------

    def command(self, name: str) -> Callable[[F], F]:
        """Name the command a view counts as: ``@telemetry.command("StartProcessInstanceCmd")``.

        Works on view functions and on class-based views (the class).
        """
        validate_command_name(name)
        return lambda view: mark_command(view, name)

    def authorizer(self, hook: F) -> F:
        """Decorator form of the ``authorize`` option; applies to apps initialized afterwards
        and to those already initialized by this object."""
        self._authorize = hook
        return hook

    def count_command(self, name: str, n: int = 1, *, app: Flask | None = None) -> None:
        """Count a command run outside a request (a job, a CLI command)."""
        validate_command_name(name)
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"count_command(n={n!r}): n must be a positive integer")
        self.state(app).count_command(name, n)

    def mark_occurrence(self, name: str, count: int = 1, *, app: Flask | None = None) -> None:
        """Mark ``count`` occurrences of one of the four metrics (internal or public name)."""
        internal = canonical_metric(name)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError(f"mark_occurrence(count={count!r}): count must be a positive integer")
        self.state(app).mark_metric(internal, count)

    def data(self, *, app: Flask | None = None) -> TelemetryData:
        """The current document as objects (what ``/telemetry/data`` serializes)."""
        return self.state(app).collect()

    def flush(self, *, app: Flask | None = None) -> None:
        """Write this process's unflushed counts to the database now (cluster scope)."""
        self.state(app).flush()

    def reset(self, *, app: Flask | None = None) -> None:
        """Zero the counts of every instance sharing the database; move the start date."""
        self.state(app).reset()
