"""``POST <prefix>/pings``: a report arrives.

Checked in this order, each failure a JSON error in Camunda's shape and nothing stored: the
bearer token (401), the content type (415), the size (413), a body the server could not read
(a broken chunked encoding, a body cut short: 400), the report id header and the body (400). A
good report answers 202 with ``{"installation", "replaced"}``; a message of an owner who did not
agree to report (see :attr:`.Received.declined`) is kept apart and answers 202 with
``{"installation", "declined": true}``.
"""

from __future__ import annotations

import hmac
import logging
import re

from flask import Response, request
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge, UnsupportedMediaType

from ..document.report import REPORT_ID_HEADER
from ..web.guards import allow
from ..web.responses import error_response, json_response
from .payload import InvalidReportError, read_report
from .state import get_collector_state

#: The headers a sender may name its report id in (the first one present counts): this package's
#: reporting sends ``Telemetry-Report-Id``; ``X-Telemetry-Report-Id`` is taken too.
REPORT_ID_HEADERS = (REPORT_ID_HEADER, "X-Telemetry-Report-Id")
_REPORT_ID = re.compile(r"[\x21-\x7e]{1,128}")
log = logging.getLogger("flask_camunda_telemetry")


def _token_refused(tokens: tuple[str, ...]) -> Response | None:
    """None when ``tokens`` is empty or the request presents one of them, else the 401."""
    if not tokens:
        return None
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    given = presented.strip().encode()
    # Compare with every token (no early exit), in constant time each.
    matches = [hmac.compare_digest(given, token.encode()) for token in tokens]
    if scheme.lower() == "bearer" and any(matches):
        return None
    message = "This collector accepts reports only with a valid token: send 'Authorization: Bearer <token>'."
    response = error_response(401, message, type_="AuthenticationException")
    invalid = ', error="invalid_token"' if presented else ""
    response.headers["WWW-Authenticate"] = f'Bearer realm="telemetry collector"{invalid}'
    return response


def _body(limit: int) -> bytes:
    too_large = RequestEntityTooLarge(
        f"The report is larger than {limit} bytes (CAMUNDA_TELEMETRY_COLLECTOR_MAX_BODY)."
    )
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    try:
        body = request.stream.read(limit + 1)
    except HTTPException:  # ClientDisconnected (a body shorter than its length), MAX_CONTENT_LENGTH
        raise
    except Exception as exc:  # noqa: BLE001 - the server's reader failed on what the client sent
        # (Werkzeug's dev server: OSError; gunicorn: InvalidChunkSize, NoMoreData, ...)
        log.info("telemetry collector: a report's body could not be read: %s: %s", type(exc).__name__, exc)
        raise BadRequest(f"The body could not be read ({type(exc).__name__}): send a well-formed "
                             "chunked body, or one with Content-Length.") from None
    if len(body) > limit:
        raise too_large
    return body


def _report_id() -> str | None:
    """The report id: each header present must be well formed; the first one present counts."""
    found = []
    for header in REPORT_ID_HEADERS:
        value = request.headers.get(header)
        if value is not None:
            if not _REPORT_ID.fullmatch(value):
                raise BadRequest(f"{header} must be 1 to 128 visible ASCII characters.")
            found.append(value)
    return found[0] if found else None


def receive_report() -> Response:
    options = allow("POST")
    if options is not None:
        return options
    state = get_collector_state()
    refused = _token_refused(state.config.tokens)
    if refused is not None:
        return refused
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("A report is sent with 'Content-Type: application/json'.")
    body = _body(state.config.max_body)
    report_id = _report_id()
    try:
        report = read_report(body, report_id, state.clock())
    except InvalidReportError as exc:
        raise BadRequest(str(exc)) from None
    if report.declined:
        state.store.keep_declined(report)
        return json_response({"installation": report.installation, "declined": True}, 202)
    replaced = state.store.ingest(report)
    return json_response({"installation": report.installation, "replaced": replaced}, 202)
