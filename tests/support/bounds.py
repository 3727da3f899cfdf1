"""Calls that must end within a bound: the test fails (instead of hanging) when one does not."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def within(limit: float, call: Callable[[], T]) -> tuple[T, float]:
    """``call()``'s result and how long it took; re-raises what it raised; fails when it takes
    more than ``limit`` seconds (the call is left running in a daemon thread: before the
    bounds, such calls never returned)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    start = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    elapsed = time.monotonic() - start
    assert not thread.is_alive(), f"no answer within {limit:g} s"
    if "error" in box:
        raise box["error"]
    return box["result"], elapsed
