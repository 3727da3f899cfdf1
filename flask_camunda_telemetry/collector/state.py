"""Per-app state of the collector, kept in ``app.extensions["camunda_telemetry_collector"]``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from flask import Flask

from ..clock import now
from ..hosting import app_state
from .config import CollectorConfig
from .store import CollectorStore

EXTENSION_KEY = "camunda_telemetry_collector"


def utc_now() -> dt.datetime:
    """Now, as the collector stores times: naive UTC."""
    return now().astimezone(dt.UTC).replace(tzinfo=None)


class Hooks(Protocol):
    """The collector object's ``authorize`` hook, read when a request needs it."""

    authorize: Callable[[], Any] | None


@dataclass
class CollectorState:
    """Everything the collector keeps for one app.

    .. versionadded:: 0.2.0
    """

    config: CollectorConfig
    store: CollectorStore
    #: the collector object: its ``authorize`` hook may be set after init_app (``@collector.authorizer``).
    ext: Hooks
    #: the time a report is received at (naive UTC); replaceable for tests and benchmarks.
    clock: Callable[[], dt.datetime] = field(default=utc_now)

    def close(self) -> None:
        """Dispose of the collector's own engine (never the host's)."""
        self.store.lazy_engine.dispose()


def get_collector_state(app: Flask | None = None) -> CollectorState:
    """The collector state of ``app`` (default: the current app).

    :raises NotInitializedError: no app and no app context, or ``init_app`` never ran on it.

    .. versionadded:: 0.2.0
    """
    return app_state(app, EXTENSION_KEY, CollectorState, "TelemetryCollector")
