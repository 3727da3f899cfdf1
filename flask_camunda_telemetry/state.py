"""Per-app state, kept in ``app.extensions["camunda_telemetry"]``, and how it becomes data.

Where things come from:

* counts are made in :mod:`.counting` (called by :mod:`.hooks` and the public API);
* every database access is in :mod:`.storage`;
* the JSON keys are set in :mod:`.schemas`, from the objects built by :meth:`TelemetryState.collect`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import forking
from .config import TelemetryConfig
from .counting import Counter
from .environment import detect_application_server, python_runtime
from .flushing import Flusher
from .metrics import INTERNAL_NAMES, output_name
from .model import ApplicationServer, Count, Internals, Product, TelemetryData
from .naming import command_name
from .storage import TelemetryStore

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["EXTENSION_KEY", "OPENAPI_ENDPOINT", "TelemetryState"]

EXTENSION_KEY = "camunda_telemetry"
#: The endpoint serving CAMUNDA_TELEMETRY_OPENAPI_URL (never counted).
OPENAPI_ENDPOINT = "camunda_telemetry_openapi"

COMMANDS = "command"
METRICS = "metric"


def _now() -> dt.datetime:
    return dt.datetime.now().astimezone()


@dataclass(eq=False)
class TelemetryState:
    """Everything the extension keeps for one app."""

    app: weakref.ref[Flask]
    config: TelemetryConfig
    store: TelemetryStore
    #: the names the blueprint is registered under (one per URL prefix); never counted.
    blueprint_names: frozenset[str]
    #: returns the current ``authorize`` hook (it may be set after init_app with ``@ext.authorizer``).
    authorizer: Callable[[], Callable[[], Any] | None] = lambda: None
    commands: Counter = field(default_factory=Counter)
    metrics: Counter = field(default_factory=Counter)
    started_at: dt.datetime = field(default_factory=_now)
    application_server: ApplicationServer | None = None
    #: endpoint -> command name (None: not counted); filled on first use of each endpoint.
    names: dict[str, str | None] = field(default_factory=dict)
    flusher: Flusher = field(init=False)
    _shared_start: dt.datetime | None = field(default=None, init=False)
    _sync_lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self.flusher = Flusher(self.sync_in_app, self.config.flush_interval, "camunda-telemetry-flush")
        forking.register(self)

    # -- counting (request path: memory only) --------------------------------------------

    def resolve_name(self, endpoint: str) -> str | None:
        """The command name for ``endpoint``, or None when it is not counted. Cached."""
        try:
            return self.names[endpoint]
        except KeyError:
            pass
        name: str | None = None
        excluded = (
            endpoint in self.config.excluded_endpoints
            or endpoint == "static"
            or endpoint.endswith(".static")
            or endpoint.partition(".")[0] in self.blueprint_names
            or endpoint == OPENAPI_ENDPOINT
        )
        app = self.app()
        if not excluded and app is not None:
            name = command_name(endpoint, app.view_functions.get(endpoint))
        self.names[endpoint] = name
        return name

    def count_command(self, name: str, n: int = 1) -> None:
        self.commands.add(name, n)
        if not self.flusher.started:
            self.flusher.start()

    def mark_metric(self, internal_name: str, n: int = 1) -> None:
        self.metrics.add(internal_name, n)
        if not self.flusher.started:
            self.flusher.start()

    def observe_server(self, environ: Mapping[str, Any]) -> None:
        if self.application_server is None:
            self.application_server = detect_application_server(environ)

    # -- syncing with the database --------------------------------------------------------

    def flush(self) -> None:
        """Cluster scope: write this process's unflushed deltas; on failure keep them."""
        if self.config.scope != "cluster":
            return
        with self._sync_lock:
            commands, metrics = self.commands.take(), self.metrics.take()
            try:
                self.store.add_counts({COMMANDS: commands, METRICS: metrics})
            except BaseException:
                self.commands.restore(commands)
                self.metrics.restore(metrics)
                raise
            self.commands.confirm(commands)
            self.metrics.confirm(metrics)

    def sync(self) -> None:
        """The periodic work: flush (cluster scope) and notice a reset made elsewhere."""
        self.flush()
        with self._sync_lock:  # not interleaved with a reset() made in this process
            shared = self.store.start_date(self.started_at)
            if self._shared_start is not None and shared != self._shared_start and self.config.scope == "process":
                self.commands.reset()
                self.metrics.reset()
                self.started_at = shared
            self._shared_start = shared

    def sync_in_app(self) -> None:
        app = self.app()
        if app is None:
            return
        with app.app_context():
            self.sync()

    def reset(self) -> dt.datetime:
        """Zero the counts (shared and this process's) and move the start date."""
        now = _now()
        with self._sync_lock:
            self.store.reset(now)
            self.commands.reset()
            self.metrics.reset()
            self.started_at = now
            self._shared_start = now
        return now

    # -- the document ---------------------------------------------------------------------

    def _counts(self) -> tuple[dict[str, int], dict[str, int], dt.datetime]:
        if self.config.scope == "cluster":
            self.flush()
            shared = self.store.read_counts()
            start = self.store.start_date(self.started_at)
            return shared.get(COMMANDS, {}), shared.get(METRICS, {}), start
        return self.commands.totals(), self.metrics.totals(), self.started_at

    def collect(self) -> TelemetryData:
        """Build the document. Raises DatabaseUnavailableError when the database is needed and down."""
        installation = self.store.installation_id()
        commands, metrics, start = self._counts()
        config = self.config
        internals = Internals(
            database=self.store.database(),
            application_server=self.application_server,
            license_key=(
                dataclasses.replace(config.license_key, customer=None, raw=None)
                if config.license_key is not None and config.redact_license
                else config.license_key
            ),
            camunda_integration=list(config.integrations),
            data_collection_start_date=start,
            commands={name: Count(n) for name, n in sorted(commands.items())},
            metrics={output_name(name, config.metric_names): Count(metrics.get(name, 0)) for name in INTERNAL_NAMES},
            webapps=list(config.webapps),
            jdk=python_runtime(),
        )
        product = Product(
            name=config.product_name, version=config.product_version, edition=config.edition, internals=internals
        )
        return TelemetryData(installation=installation, product=product)

    def _after_fork(self) -> None:
        self._sync_lock = threading.Lock()
        self.started_at = _now() if self.config.scope == "process" else self.started_at
        # The child's counts all postdate the fork: its first sync sets the start it compares with.
        self._shared_start = None
