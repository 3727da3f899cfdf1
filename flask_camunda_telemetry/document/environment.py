"""What the document says about the environment: runtime, WSGI server, database.

* ``jdk``: the Python interpreter (implementation as ``vendor``, e.g. ``CPython``; ``version``
  as ``platform.python_version()``), Camunda's slot for the language runtime.
* ``application-server``: read from the WSGI environ's ``SERVER_SOFTWARE`` of the server that
  actually serves the request, as Camunda reads ``ServletContext.getServerInfo()``: ``vendor``
  is the server's name and ``version`` its full server string (``gunicorn/23.0.0``).
* ``database``: asked of the live connection (SQLite's library version, the server's own version
  string for PostgreSQL and MariaDB/MySQL).
"""

from __future__ import annotations

import importlib.metadata
import platform
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from .model import ApplicationServer, Database, Jdk

_VENDOR = re.compile(r"[\sA-Za-z]+")
# Servers that name themselves without a version: the distribution to ask for it.
_DISTRIBUTIONS = {"waitress": "waitress", "gunicorn": "gunicorn", "werkzeug": "werkzeug"}


def python_runtime() -> Jdk:
    return Jdk(version=platform.python_version(), vendor=platform.python_implementation())


def _installed_version(name: str) -> str | None:
    dist = _DISTRIBUTIONS.get(name.lower())
    if dist is None:
        return None
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def detect_application_server(environ: Mapping[str, Any]) -> ApplicationServer | None:
    """The serving WSGI server from ``SERVER_SOFTWARE``; ``None`` if the environ has none."""
    info = environ.get("SERVER_SOFTWARE")
    if not isinstance(info, str) or not info.strip():
        return None
    info = info.strip()
    name, sep, _ = info.partition("/")
    if sep and name and " " not in name:
        return ApplicationServer(vendor=name, version=info)
    match = _VENDOR.match(info)
    vendor = match.group(0).strip() if match else ""
    version = _installed_version(vendor)
    return ApplicationServer(vendor=vendor, version=f"{vendor}/{version}" if version else info)


def detect_database(connection: Connection) -> Database:
    """Vendor and version of the database behind ``connection``."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        return Database("SQLite", str(connection.execute(text("select sqlite_version()")).scalar_one()))
    if dialect == "postgresql":
        return Database("PostgreSQL", str(connection.execute(text("show server_version")).scalar_one()))
    if dialect in ("mysql", "mariadb"):
        version = str(connection.execute(text("select version()")).scalar_one())
        return Database("MariaDB" if "mariadb" in version.lower() else "MySQL", version)
    info = connection.dialect.server_version_info
    return Database(dialect, ".".join(str(part) for part in info) if info else None)
