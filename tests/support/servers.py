"""Private database servers for tests that stop and restart a server.

A :class:`PostgreSQLServer` or :class:`MariaDBServer` initializes a data directory in a new
temporary directory, listens on a free port of 127.0.0.1 only, and is controlled through the PID
of the server process it started (never by name), so other tests and the shared servers are not
disturbed::

    with private_server("postgresql") as server:   # initialized and started
        url = server.create_database("app")        # a URL for SQLAlchemy
        server.stop()                              # the server is really down: connections are refused
        server.start()                             # same data, same port
    # stopped and its directory removed

Binaries are found on the usual Debian paths, or through ``CAMUNDA_TELEMETRY_TEST_PG_BINDIR``
(the directory with ``initdb`` and ``postgres``) and ``CAMUNDA_TELEMETRY_TEST_MARIADBD`` (the
``mariadbd`` executable). Without them, :func:`private_server` skips the test (fails under ``CI=true``).
As root, PostgreSQL runs as the ``postgres`` user (it refuses to run as root); MariaDB runs as root.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import sqlalchemy as sa

from .children import tied
from .databases import unavailable
from .net import free_port

__all__ = [
    "DatabaseServer",
    "MariaDBServer",
    "PostgreSQLServer",
    "ServerUnavailableError",
    "free_port",
    "private_server",
]

#: how long a server may take to accept connections after being started (a guard, not an assertion)
STARTUP_LIMIT = 60.0


class ServerUnavailableError(RuntimeError):
    """The binaries to run a private server are not installed."""



class DatabaseServer:
    """A server process on ``127.0.0.1:port`` with its data in a temporary directory.

    :meth:`start` initializes the data directory on first use and waits until the server
    accepts connections; :meth:`stop` stops the process it started (by its PID) and waits for it
    to exit; :meth:`restart` does both. :meth:`close` stops it and removes the directory.
    """

    backend: str = ""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.directory = Path(tempfile.mkdtemp(prefix=f"ft-{self.backend}-"))
        self.data = self.directory / "data"
        self.log = self.directory / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._initialized = False

    # -- to be provided by the backends -------------------------------------------------

    def _initialize(self) -> None:
        raise NotImplementedError

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _popen_options(self) -> dict[str, object]:
        return {}

    #: the signal that shuts the server down, disconnecting its clients
    stop_signal: signal.Signals = signal.SIGTERM

    @property
    def url(self) -> str:
        """The administrator's URL (the server's default database)."""
        raise NotImplementedError

    # -- control ----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        if self.running:
            return
        if not self._initialized:
            self._initialize()
            self._initialized = True
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self._command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=tied(),  # dies with this process (its own children follow the postmaster's death)
                **self._popen_options(),  # type: ignore[call-overload]
            )
        self._wait_until_ready()

    def stop(self) -> None:
        """Shut the server down (clients are disconnected) and wait until the process is gone."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(self.stop_signal)
        try:
            process.wait(timeout=STARTUP_LIMIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the server and remove its directory."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> DatabaseServer:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _wait_until_ready(self) -> None:
        engine = sa.create_engine(self.url, poolclass=sa.NullPool, connect_args={"connect_timeout": 2})
        deadline = time.monotonic() + STARTUP_LIMIT
        try:
            while True:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.backend} server exited with {self.process.returncode}:\n{self.tail()}")
                try:
                    with engine.connect():
                        return
                except sa.exc.DBAPIError:
                    if time.monotonic() > deadline:
                        self.stop()
                        message = f"{self.backend} server did not accept connections:\n{self.tail()}"
                        raise RuntimeError(message) from None
                    time.sleep(0.05)
        finally:
            engine.dispose()

    def tail(self, lines: int = 30) -> str:
        """The end of the server's log, for error messages."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # -- databases --------------------------------------------------------------------------

    def database_url(self, name: str) -> str:
        return sa.make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def create_database(self, name: str) -> str:
        """Create an empty database ``name`` and return its URL."""
        engine = sa.create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        try:
            with engine.connect() as conn:
                conn.execute(sa.text(f"CREATE DATABASE {name}"))
        finally:
            engine.dispose()
        return self.database_url(name)


def _find_pg_bindir() -> Path:
    configured = os.environ.get("CAMUNDA_TELEMETRY_TEST_PG_BINDIR")
    candidates = [configured] if configured else sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    on_path = shutil.which("initdb")
    if on_path and not configured:
        candidates.append(str(Path(on_path).parent))
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists() and (Path(candidate) / "postgres").exists():
            return Path(candidate)
    raise ServerUnavailableError(
        "PostgreSQL binaries (initdb, postgres) not found; set CAMUNDA_TELEMETRY_TEST_PG_BINDIR"
    )


class PostgreSQLServer(DatabaseServer):
    backend = "postgresql"
    stop_signal = signal.SIGINT  # "fast" shutdown: disconnect the clients (SIGTERM would wait for them)

    def __init__(self, port: int | None = None) -> None:
        self.bindir = _find_pg_bindir()
        super().__init__(port)
        self.user: str | None = None
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            try:
                entry = pwd.getpwnam("postgres")
            except KeyError:
                self.close()
                message = "running as root and there is no 'postgres' user to run PostgreSQL"
                raise ServerUnavailableError(message) from None
            self.user = "postgres"
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)

    def _popen_options(self) -> dict[str, object]:
        return {"user": self.user, "group": self.user, "extra_groups": []} if self.user else {}

    def _initialize(self) -> None:
        result = subprocess.run(
            [str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
             "--no-sync", "--no-instructions"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **self._popen_options(),  # type: ignore[call-overload]
        )
        if result.returncode:
            raise RuntimeError(f"initdb failed:\n{result.stdout.decode(errors='replace')}")

    def _command(self) -> list[str]:
        return [
            str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            "-c", "max_connections=100", "-c", "shared_buffers=16MB",
        ]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"


def _find_mariadbd() -> tuple[Path, Path]:
    configured = os.environ.get("CAMUNDA_TELEMETRY_TEST_MARIADBD")
    server = configured or shutil.which("mariadbd") or "/usr/sbin/mariadbd"
    installer = shutil.which("mariadb-install-db") or str(Path(server).parent.parent / "bin" / "mariadb-install-db")
    if not Path(server).exists() or not Path(installer).exists():
        raise ServerUnavailableError("MariaDB binaries (mariadbd, mariadb-install-db) not found; "
                                "set CAMUNDA_TELEMETRY_TEST_MARIADBD")
    return Path(server), Path(installer)


class MariaDBServer(DatabaseServer):
    backend = "mariadb"
    stop_signal = signal.SIGTERM  # a normal shutdown; it disconnects the clients

    def __init__(self, port: int | None = None) -> None:
        self.server, self.installer = _find_mariadbd()
        super().__init__(port)
        self.user = pwd.getpwuid(os.geteuid()).pw_name

    def _initialize(self) -> None:
        result = subprocess.run(
            [str(self.installer), "--no-defaults", f"--datadir={self.data}", f"--user={self.user}",
             "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        if result.returncode:
            raise RuntimeError(f"mariadb-install-db failed:\n{result.stdout.decode(errors='replace')}")

    def _command(self) -> list[str]:
        return [
            str(self.server), "--no-defaults", f"--datadir={self.data}", f"--port={self.port}",
            "--bind-address=127.0.0.1", f"--socket={self.directory / 'mysqld.sock'}",
            f"--pid-file={self.directory / 'mysqld.pid'}", f"--user={self.user}", "--skip-name-resolve",
            "--skip-log-bin", "--skip-performance-schema", "--innodb-buffer-pool-size=32M",
            "--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0", "--max-connections=200",
            f"--log-error={self.log}",
        ]

    @property
    def url(self) -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/mysql"


SERVERS: dict[str, type[DatabaseServer]] = {"postgresql": PostgreSQLServer, "mariadb": MariaDBServer}


@contextmanager
def private_server(backend: str) -> Iterator[DatabaseServer]:
    """A started private server of ``backend`` (``postgresql`` or ``mariadb``); stopped and
    removed afterwards. Skips the test when the binaries are missing (fails under ``CI=true``)."""
    try:
        server = SERVERS[backend]()
    except ServerUnavailableError as exc:
        unavailable(str(exc))
        raise AssertionError("unreachable") from None  # unavailable() always raises
    with server:
        yield server
