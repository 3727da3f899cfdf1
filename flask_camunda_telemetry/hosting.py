"""What the package's extension objects share: the Flask extension pattern's constructor, the
``authorize`` hook's decorator, and the one way to an app's state in ``app.extensions``.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask, current_app, has_app_context

from .exceptions import NotInitializedError

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy


T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


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
    """``Extension(app=None, *, db=None, authorize=None, **options)``, then :meth:`init_app`
    (also later, for an app factory). The object keeps only these; per-app state lives in
    ``app.extensions``, so one object can serve many apps."""

    def __init__(
        self,
        app: Flask | None = None,
        *,
        db: SQLAlchemy | None = None,
        authorize: Callable[[], Any] | None = None,
        **options: Any,
    ) -> None:
        self.db = db
        self.authorize = authorize
        #: the keyword options: defaults for the config keys (values in ``app.config`` win).
        self.options = options
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        raise NotImplementedError

    def authorizer(self, hook: F) -> F:
        """Decorator form of the ``authorize`` option; applies to apps initialized afterwards
        and to those already initialized by this object."""
        self.authorize = hook
        return hook
