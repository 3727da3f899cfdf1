"""What every route checks first: the request's method and the ``authorize`` hook.

The hook is passed in (read off the extension object when the request needs it), so the engine's
routes, its page and the collector's share these checks and answer a refusal each in its own form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Response, current_app, request
from werkzeug.exceptions import MethodNotAllowed

from ..exceptions import AuthenticationRequired, AuthorizationDenied
from .responses import authorization_error, error_response

#: What an ``authorize`` hook is: no arguments; truthy allows.
Hook = Callable[[], object]

#: The challenge a 401 carries.
WWW_AUTHENTICATE = 'Bearer realm="telemetry"'


def allow(*methods: str) -> Response | None:
    """None when the request's method is one of ``methods``; the OPTIONS answer; else raise a 405.

    The routes take every method (:mod:`.routes`), so that each view answers a wrong one here
    rather than the host app's 405; OPTIONS is answered with the real methods."""
    allowed = [*methods, "OPTIONS"]
    if request.method == "OPTIONS":
        response = current_app.response_class(status=200)
        response.headers["Allow"] = ", ".join(allowed)
        return response
    if request.method not in methods:
        raise MethodNotAllowed(valid_methods=allowed)
    return None


@dataclass(frozen=True)
class Refusal:
    """Why the ``authorize`` hook refused the request: 401 (not authenticated) or 403."""

    status: int
    message: str
    user_id: str | None = None
    #: the ``WWW-Authenticate`` header of a 401 (default :data:`WWW_AUTHENTICATE`)
    challenge: str | None = None


def check_hook(hook: Hook | None) -> Refusal | None:
    """None when the ``authorize`` hook lets the request go on (or there is none), else the refusal."""
    if hook is None:
        return None
    try:
        allowed = hook()
    except AuthenticationRequired as exc:
        return Refusal(401, str(exc), challenge=exc.challenge)
    except AuthorizationDenied as exc:
        return Refusal(403, str(exc), exc.user_id)
    return None if allowed else Refusal(403, "the telemetry data may not be read by this request")


def refusal_response(refusal: Refusal, permission: str = "READ") -> Response:
    """The refusal in Camunda's JSON shape (401 with ``WWW-Authenticate``, or the 403 body naming
    the missing ``permission``: ``READ`` the data, ``SET`` the consent)."""
    if refusal.status == 401:
        response = error_response(401, refusal.message, type_="AuthenticationException")
        response.headers["WWW-Authenticate"] = refusal.challenge or WWW_AUTHENTICATE
        return response
    return authorization_error(refusal.user_id, permission)


def admit(methods: tuple[str, ...], hook: Hook | None, refuse: Callable[[Refusal], Response]) -> Response | None:
    """None when the request may go on (an allowed method, and ``hook`` agrees); else what to
    answer: the OPTIONS answer, or ``refuse(refusal)``. A wrong method raises a 405."""
    options = allow(*methods)
    if options is not None:
        return options
    refusal = check_hook(hook)
    return None if refusal is None else refuse(refusal)
