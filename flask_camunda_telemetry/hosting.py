"""What the package's extension objects share: the Flask extension pattern's constructor, the
``authorize`` and ``name_command`` hooks' decorators, and the one way to an app's state in
``app.extensions``.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask, current_app, has_app_context

from .exceptions import NotInitializedError

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy

__all__ = ["ExtensionObject", "app_state"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
#: A ``name_command`` hook: ``(endpoint, view) -> command name or None``.
N = TypeVar("N", bound=Callable[[str, Callable[..., Any] | None], str | None])


def app_state(app: Flask | None, key: str, kind: type[T], owner: str) -> T:
    """The state ``owner`` keeps in ``app.extensions[key]`` (default app: the current one).

    :raises NotInitializedError: no app and no app context, or ``init_app`` never ran on it.
    """
    if app is None:
        if not has_app_context():
            raise NotInitializedError(
                "No app given and no app context: pass app=..., or run inside 'with app.app_context():'."
            )
        app = current_app._get_current_object()  # type: ignore[attr-defined]
    assert app is not None
    state = app.extensions.get(key)
    if not isinstance(state, kind):
        raise NotInitializedError(
            f"{owner} is not initialized on app {app.import_name!r}: did you forget to call init_app(app)?"
        )
    return state


class ExtensionObject:
    """``Extension(app=None, *, db=None, authorize=None, name_command=None, **options)``, then
    :meth:`init_app` (also later, for an app factory). The object keeps only these; per-app state
    lives in ``app.extensions``, so one object can serve many apps. ``name_command`` is used by
    an extension that counts commands (:class:`~flask_camunda_telemetry.TelemetryExt`)."""

    def __init__(
        self,
        app: Flask | None = None,
        *,
        db: SQLAlchemy | None = None,
        authorize: Callable[[], Any] | None = None,
        name_command: Callable[[str, Callable[..., Any] | None], str | None] | None = None,
        **options: Any,
    ) -> None:
        self.db = db
        self.authorize = authorize
        self.name_command = name_command
        self._options = options
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        raise NotImplementedError

    def authorizer(self, hook: F) -> F:
        """Decorator form of the ``authorize`` option; applies to apps initialized afterwards
        and to those already initialized by this object."""
        self.authorize = hook
        return hook

    def command_namer(self, hook: N) -> N:
        """Decorator form of the ``name_command`` option; applies to apps initialized afterwards
        and to those already initialized by this object, for the endpoints not yet named (set
        it before the first request).

        .. versionadded:: 0.2.0
        """
        self.name_command = hook
        return hook
