"""Ports on 127.0.0.1 for the servers the tests start, and raw HTTP a client library would not send."""

from __future__ import annotations

import json
import socket
from typing import Any

__all__ = ["free_port", "raw_request"]


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def raw_request(port: int, head: str, body: bytes, timeout: float = 30.0) -> tuple[int, dict[str, str], Any]:
    """Send ``head`` (the request line and headers, without the blank line) and ``body`` as they
    are to 127.0.0.1:``port``, then end the sending side (a body cut short ends there); the
    answer's status, headers (lower-case names) and body (parsed when JSON)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode("latin-1") + b"\r\n\r\n" + body)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    header_block, _, payload = received.partition(b"\r\n\r\n")
    status_line, *lines = header_block.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    if headers.get("transfer-encoding") == "chunked":
        payload = _dechunk(payload)
    parsed = json.loads(payload) if headers.get("content-type", "").startswith("application/json") else payload
    return int(status_line.split()[1]), headers, parsed


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2:]
    return out
