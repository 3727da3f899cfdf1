"""The request hook: which requests are commands, under what name, and the count itself.

:class:`CommandCounter` is the hook, one object: it runs as a ``before_request`` function (so a
view that raises is counted too), finds the request's command name once per endpoint, and adds
one to this process's in-memory counts. Its only work per request is a dict look-up and an
increment under a lock; no database, no thread start (but once per process, on its first count).

Not a command:

* a request that matched no route (404, 405: ``request.endpoint`` is None);
* the static files, the extension's own routes and pages, its OpenAPI and Prometheus routes, and
  ``CAMUNDA_TELEMETRY_EXCLUDED_ENDPOINTS``;
* a CORS preflight: an ``OPTIONS`` request with ``Origin`` and ``Access-Control-Request-Method``,
  whoever answers it (Flask, or a view such as flask-cors's ``@cross_origin()``);
* what Flask answers by itself: an automatic ``OPTIONS``, and a ``HEAD`` on a view that does not
  declare ``HEAD`` (Flask runs the ``GET`` view and drops the body);
* an endpoint the ``name_command`` hook names ``None``.

The name of a command is, in this order:

1. the name given with ``@telemetry.command("StartProcessInstanceCmd")`` on the view (function or
   view class);
2. what the ``name_command`` hook returns, ``hook(endpoint, view)``, if the app has one;
3. the class name of a class-based view (``View.as_view``);
4. the Flask endpoint with ``.`` turned into ``_`` (``engine.start`` becomes ``engine_start``), as
   Camunda turns nested class separators into ``_``.

Names come from the app's endpoints, never from the request path, so the set of names is bounded
by the routes the app registered. A name from 2 to 4 that is too long or holds unprintable
characters is escaped and cut to a stable, safe name once per endpoint, with a warning (see
:mod:`.names`); a name given with ``@telemetry.command`` is checked when it is given.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from flask import Flask, Request, current_app, request

from ..forking import ForkAware
from .counts import PendingCounts
from .names import MAX_NAME_LENGTH, safe_name, validate_command_name

#: The attribute ``@telemetry.command`` sets on a view function.
COMMAND_ATTRIBUTE = "__camunda_telemetry_command__"
#: ``name_command(endpoint, view)``: the command name of an endpoint, or None to not count it.
NameCommand = Callable[[str, Callable[..., Any] | None], "str | None"]

log = logging.getLogger("flask_camunda_telemetry")

F = TypeVar("F", bound=Callable[..., Any])
_UNSET = object()


class Startable(Protocol):
    """A background thread the first count starts (cheap to start again)."""

    def start(self) -> None: ...


class Hooks(Protocol):
    """The extension object's hooks, read when a request needs them (they may be set later)."""

    name_command: NameCommand | None


def mark_command(view: F, name: str) -> F:
    """Name the command ``view`` counts as (``@telemetry.command``)."""
    setattr(view, COMMAND_ATTRIBUTE, validate_command_name(name))
    return view


def _safe(derived: str, endpoint: str, source: str) -> str:
    name = safe_name(derived)
    if name != derived:
        log.warning(
            "the command name %.80r of endpoint %.80r (%s) is longer than %d characters or holds unprintable "
            "characters; it is counted as %r. Name the view with @telemetry.command(...) to choose its name.",
            derived, endpoint, source, MAX_NAME_LENGTH, name,
        )
    return name


def default_command_name(endpoint: str, view: Callable[..., Any] | None) -> str:
    """The name of ``endpoint`` without a ``name_command`` hook: the ``@telemetry.command`` name,
    else the view class's name, else the endpoint with ``.`` turned into ``_``; a derived name is
    made safe for the counts table (with a warning) when it is not."""
    explicit = _explicit(view)
    if explicit is not None:
        return explicit
    view_class = getattr(view, "view_class", None)
    derived = view_class.__name__ if isinstance(view_class, type) else endpoint.replace(".", "_")
    return _safe(derived, endpoint, "derived")


def _explicit(view: Callable[..., Any] | None) -> str | None:
    view_class = getattr(view, "view_class", None)
    explicit = getattr(view, COMMAND_ATTRIBUTE, None) or getattr(view_class, COMMAND_ATTRIBUTE, None)
    return None if explicit is None else str(explicit)


class CommandCounter(ForkAware):
    """Counts one command per request routed to a view: :meth:`count` is the app's
    ``before_request`` hook (a bound method: Flask checks every hook for a coroutine, which is
    quick for a function or method and slow for another callable).

    ``excluded``: endpoints never counted; ``blueprints``: blueprint names whose endpoints are
    never counted (the extension's own); ``starts``: the background threads started by the first
    count in a process (and again after :meth:`rearm`).
    """

    fork_fresh = {"_counting": lambda: False}
    _counting: bool

    def __init__(
        self,
        app: Flask,
        commands: PendingCounts,
        hooks: Hooks,
        *,
        excluded: frozenset[str],
        blueprints: frozenset[str],
        starts: Sequence[Startable],
    ) -> None:
        super().__init__()
        self._app = weakref.ref(app)
        self._commands = commands
        self._hooks = hooks
        self._excluded = excluded
        self._blueprints = blueprints
        self._starts = starts
        #: endpoint -> command name (None: not counted); filled on first use of each endpoint.
        self.names: dict[str, str | None] = {}

    def count(self) -> None:
        """Count the current request's command, if it is one."""
        req: Request = request._get_current_object()  # type: ignore[attr-defined]  # one proxy look-up
        endpoint = req.endpoint
        if endpoint is None:
            return
        name = self.names.get(endpoint, _UNSET)
        if name is _UNSET:
            name = self.resolve(endpoint)
        if name is None:
            return
        method = req.method
        if (method == "OPTIONS" or method == "HEAD") and _not_a_command(req, method, endpoint):
            return
        self._commands.add(name)  # type: ignore[arg-type]
        if not self._counting:
            self._counting = True
            for thread in self._starts:
                thread.start()

    def rearm(self) -> None:
        """Start the background threads again on the next count (they were stopped)."""
        self._counting = False

    def resolve(self, endpoint: str) -> str | None:
        """The command name of ``endpoint``, or None when it is not counted. Cached."""
        name: str | None = None
        app = self._app()
        if app is not None and not self._is_excluded(endpoint):
            view = app.view_functions.get(endpoint)
            name = _explicit(view)
            if name is None:
                name = self._named(endpoint, view)
        self.names[endpoint] = name
        return name

    def _is_excluded(self, endpoint: str) -> bool:
        return (
            endpoint in self._excluded
            or endpoint == "static"
            or endpoint.endswith(".static")
            or endpoint.partition(".")[0] in self._blueprints
        )

    def _named(self, endpoint: str, view: Callable[..., Any] | None) -> str | None:
        """The name the ``name_command`` hook gives (a bad answer falls back to the default)."""
        hook = self._hooks.name_command
        if hook is None:
            return default_command_name(endpoint, view)
        try:
            name = hook(endpoint, view)
        except Exception:
            log.exception("the name_command hook failed for endpoint %.80r; it is counted under its default name",
                          endpoint)
            return default_command_name(endpoint, view)
        if name is None:
            return None
        if not isinstance(name, str):
            log.error("the name_command hook returned %.80r for endpoint %.80r, not a str or None; it is counted "
                      "under its default name", name, endpoint)
            return default_command_name(endpoint, view)
        return _safe(name, endpoint, "from the name_command hook")


def _not_a_command(req: Request, method: str, endpoint: str) -> bool:
    """Whether this ``OPTIONS`` or ``HEAD`` request is not a command: a CORS preflight, Flask's
    automatic ``OPTIONS``, or a ``HEAD`` for a view that does not list ``HEAD`` in its methods
    (a view class with a ``head`` method does)."""
    if method == "OPTIONS":
        headers = req.headers
        if "Origin" in headers and "Access-Control-Request-Method" in headers:
            return True
        return bool(getattr(req.url_rule, "provide_automatic_options", False))
    view = current_app.view_functions.get(endpoint)
    return "HEAD" not in (getattr(view, "methods", None) or ())
