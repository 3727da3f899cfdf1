"""A reset reaches the counts every process still holds in memory.

Two apps on one database stand for two processes (each has its own state, counts and flush
thread); the gunicorn tests in ``test_cluster_counts.py`` show the same with real workers.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

from flask_camunda_telemetry.clock import now_us
from flask_camunda_telemetry.counting.counts import MAX_SLICES, SLICE_US, PendingCounts, since
from flask_camunda_telemetry.state import get_state

from .support.apps import make_app
from .support.processes import wait_for


def test_a_reset_elsewhere_drops_what_was_counted_before_it_and_keeps_what_came_after(
    database_url: str, tmp_path: Path
) -> None:
    apps = [make_app(database_url, tmp_path / name, CAMUNDA_TELEMETRY_FLUSH_INTERVAL=3600) for name in ("a", "b")]
    counting, resetting = (get_state(app) for app in apps)
    counting.count("Warmup", 1)  # starts the flush thread, whose first sync writes it
    wait_for(lambda: resetting.lifetime().commands == {"Warmup": 1}, "the first flush")
    counting.count("Before", 3)  # held in memory: the next tick is an hour away
    start = resetting.counts.reset()
    counting.count("After", 2)
    counting.count("Before", 1)
    counting.flush()
    lifetime = resetting.lifetime()
    commands, shown_start = lifetime.commands, lifetime.start
    assert commands == {"After": 2, "Before": 1}
    assert shown_start == start
    assert counting.lifetime().commands == commands


BURST = 50


def _micros(when: dt.datetime) -> int:
    return (when - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


def test_counts_racing_flushes_and_resets_land_on_their_side_of_the_last_reset(
    database_url: str, tmp_path: Path
) -> None:
    """One thread counts without pause, another flushes without pause, while another app resets
    four times. Afterwards the totals hold every count made after the last reset returned, and
    none made before it began (a count made while it ran may fall on either side)."""
    apps = [make_app(database_url, tmp_path / name, CAMUNDA_TELEMETRY_FLUSH_INTERVAL=3600) for name in ("a", "b")]
    counting, resetting = (get_state(app) for app in apps)
    stop = threading.Event()
    stamps: list[tuple[int, int]] = []  # (just before, just after) each burst of BURST counts

    def count() -> None:
        while not stop.is_set():
            before = now_us()
            for _ in range(BURST):
                counting.count("X", 1)
            stamps.append((before, now_us()))

    def flush() -> None:
        while not stop.is_set():
            counting.flush()

    threads = [threading.Thread(target=count), threading.Thread(target=flush)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(4):
            time.sleep(0.3)
            cut = _micros(resetting.counts.reset())
            returned = now_us()
        time.sleep(0.3)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    counting.flush()
    after = BURST * sum(1 for before, _ in stamps if before > returned)
    during = BURST * sum(1 for before, just_after in stamps if just_after >= cut and before <= returned)
    total = resetting.lifetime().commands.get("X", 0)
    assert after > 0
    assert after <= total <= after + during, (after, during, total)


def test_a_failed_flush_keeps_what_it_took_with_when_it_was_made() -> None:
    counts = PendingCounts()
    counts.add("A", 2)
    taken = counts.take()
    counts.add("A", 1)
    counts.restore(taken)
    again = counts.take()
    assert since(again) == {"A": 3}
    assert since(again, max(again) + SLICE_US) == {}


def test_counts_held_through_a_long_outage_stay_bounded_and_exact() -> None:
    counts = PendingCounts()
    hours = {made * SLICE_US: {"A": 1, "B": 2} for made in range(10 * MAX_SLICES)}  # 20 minutes of slices
    counts.restore(hours)
    held = counts.take()
    assert len(held) <= MAX_SLICES
    assert since(held) == {"A": 10 * MAX_SLICES, "B": 20 * MAX_SLICES}
    newest = max(hours)
    assert since(held, newest) == {"A": 1, "B": 2}  # the recent slices are kept apart


def test_settled_counts_are_kept_until_a_reset_and_pending_ones_are_cut_by_time() -> None:
    counts = PendingCounts()
    counts.restore({0: {"old": 1}, 10 * SLICE_US: {"new": 1}})
    counts.settle(5 * SLICE_US)
    assert counts.totals() == {"old": 1, "new": 1}
    counts.reset(before=10 * SLICE_US)
    assert counts.totals() == {"new": 1}
    counts.reset()
    assert counts.totals() == {}


def test_counts_held_while_nothing_can_be_flushed_or_settled_stay_bounded() -> None:
    counts = PendingCounts()
    with counts._lock:  # twenty minutes of slices, as counting would leave them
        counts._pending = {made * SLICE_US: {"A": 1} for made in range(10 * MAX_SLICES)}
    counts.bound()
    assert counts.totals() == {"A": 10 * MAX_SLICES}
    assert len(counts.take()) <= MAX_SLICES
