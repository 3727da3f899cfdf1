"""One HTTP attempt at a report, with urllib3 (``pip install 'flask-camunda-telemetry[reporting]'``).

Any 2xx is success. A redirect is not followed and, like any other status, is a failure; so are
a timeout, a refused or reset connection, a connection closed before an answer, an answer that
cannot be read (a malformed status line, more than 100 header lines...), and a TLS error
(certificates are verified against the system's CA store). An attempt never lasts more than
twice ``timeout``: a watchdog shuts the socket down, so a collector that trickles its answer a
byte at a time cannot hold it longer. The ``Retry-After`` of a 429 or 503 (seconds, or an
HTTP-date) is kept in the answer, for the next attempt to wait at least that long.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import http.client
import re
import socket
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from urllib3.connection import HTTPConnection


#: Failure codes (what the database records of the last attempt) and what they mean.
HTTP_STATUS, TIMEOUT, REFUSED, CLOSED, TLS, NETWORK, INVALID, UNREADABLE = 1, 2, 3, 4, 5, 6, 7, 8
FAILURES = {
    HTTP_STATUS: "the collector answered with a status that is not 2xx",
    TIMEOUT: "timed out",
    REFUSED: "connection refused",
    CLOSED: "connection closed without an answer",
    TLS: "TLS error",
    NETWORK: "network error",
    INVALID: "invalid document, nothing sent",
    UNREADABLE: "invalid answer: the collector's answer could not be read",
}
#: The statuses whose ``Retry-After`` is honoured.
RETRY_AFTER_STATUSES = frozenset({429, 503})
_DELTA_SECONDS = re.compile(r"[0-9]+")
#: How much of the collector's answer is kept (``flask telemetry report`` prints it).
ANSWER_BYTES = 4096


@dataclass(frozen=True)
class Answer:
    """The outcome of one attempt: ``failure`` 0 is success (a 2xx status)."""

    status: int | None
    reason: str
    body: bytes
    failure: int
    message: str
    #: seconds the collector asked to wait before the next attempt (``Retry-After`` of a 429 or
    #: 503); None when it did not.
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.failure == 0


def _connection(url: str, timeout: float) -> tuple[HTTPConnection, str]:
    from urllib3.connection import HTTPConnection, HTTPSConnection

    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = parts.hostname or ""
    if parts.scheme == "https":
        return HTTPSConnection(host, parts.port, timeout=timeout, cert_reqs="CERT_REQUIRED"), target
    return HTTPConnection(host, parts.port, timeout=timeout), target


def _shut(conn: HTTPConnection, fired: list[bool]) -> None:
    fired.append(True)
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's, also under TLS


def _failure(exc: BaseException, fired: bool) -> tuple[int, str]:
    """The failure code and a message for an exception raised by an attempt."""
    from urllib3 import exceptions as u3

    if fired:
        return TIMEOUT, "timed out (no complete answer in time)"
    if isinstance(exc, u3.NameResolutionError):
        return NETWORK, f"cannot resolve the collector's host ({exc.__cause__ or exc})"
    if isinstance(exc, u3.NewConnectionError):
        cause = exc.__cause__
        if isinstance(cause, ConnectionRefusedError):
            return REFUSED, "connection refused"
        return NETWORK, f"cannot connect ({cause or exc})"
    if isinstance(exc, (u3.TimeoutError, TimeoutError)):
        return TIMEOUT, "timed out"
    if isinstance(exc, (ssl.SSLError, u3.SSLError, ssl.CertificateError)):
        return TLS, f"TLS error ({exc})"
    if isinstance(exc, (ConnectionError, u3.ProtocolError)):  # http.client's RemoteDisconnected too
        return CLOSED, f"connection closed without an answer ({type(exc).__name__})"
    if isinstance(exc, http.client.HTTPException):
        return UNREADABLE, f"{FAILURES[UNREADABLE]} ({type(exc).__name__}: {exc!s:.200})"
    return NETWORK, f"network error ({type(exc).__name__}: {exc})"


def retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """The seconds a ``Retry-After`` header value asks to wait: delta-seconds, or an HTTP-date
    (one already past is 0). None without a value or for one that is neither.

    .. versionadded:: 0.2.0
    """
    if value is None:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        return float(value)  # inf for an absurd number of digits: capped by the caller
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": UTC, as HTTP-dates are
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Answer:
    """POST ``body`` to ``url`` once. Never raises for a network failure: the Answer says it."""
    conn, target = _connection(url, timeout)
    fired: list[bool] = []  # the watchdog's mark (a plain list: no lock to share with a forked child)
    watchdog = threading.Timer(2 * timeout, _shut, (conn, fired))
    watchdog.daemon = True
    watchdog.start()
    try:
        try:
            conn.request("POST", target, body=body, headers=dict(headers), preload_content=False)
            response = conn.getresponse()
        except Exception as exc:  # noqa: BLE001 - OSError, http.client's and urllib3's errors: all are failures
            failure, message = _failure(exc, bool(fired))
            return Answer(None, "", b"", failure, message)
        status, reason = response.status, response.reason or ""
        wait = retry_after(response.headers.get("Retry-After")) if status in RETRY_AFTER_STATUSES else None
        try:
            answer = response.read(ANSWER_BYTES)
        except Exception:  # noqa: BLE001 - the status decides; the answer's text is a courtesy
            answer = b""
    finally:
        watchdog.cancel()
        conn.close()
    if 200 <= status < 300:
        return Answer(status, reason, answer, 0, f"{status} {reason}".strip())
    message = f"the collector answered {status} {reason}".strip()
    if 300 <= status < 400:
        message += f" (a redirect to {response.headers.get('Location')!r}; redirects are not followed)"
    if wait is not None:
        message += f" (retry after {wait:.0f} s)"
    return Answer(status, reason, answer, HTTP_STATUS, message, wait)
