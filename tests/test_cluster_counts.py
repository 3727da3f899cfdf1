"""Counts that agree across gunicorn workers, app processes, restarts and resets, on every database.

Every server runs ``tests.support.serving_app`` with ``CAMUNDA_TELEMETRY_FLUSH_INTERVAL=0.3`` unless a test
says otherwise. Waiting is done by polling with a generous deadline; what is asserted never
depends on timing.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .support.processes import (
    Counts,
    Reply,
    Server,
    assert_served,
    counts,
    drive,
    flask_cli,
    read_everywhere,
    serve,
    server_env,
    shared_counts,
    wait_for,
    wait_for_counts,
)
from .support.serving_app import ALL_METRICS, expected_counts, mixed_traffic

NOTHING: Counts = ({}, dict.fromkeys(ALL_METRICS, 0))


def by_process(replies: Iterable[tuple[tuple[str, str], Reply, float]]) -> dict[int, Counts]:
    """The counts each process must report in process scope: those of the requests it answered."""
    answered: dict[int, list[tuple[str, str]]] = {}
    for request, reply, _ in replies:
        assert reply.pid is not None
        answered.setdefault(reply.pid, []).append(request)
    return {pid: expected_counts(requests) for pid, requests in answered.items()}


def top_up(server: Server, replies: list[tuple[tuple[str, str], Reply, float]]) -> None:
    """Send a few more requests until every worker of ``server`` has served some (a worker may be
    slow to boot on a busy machine); their replies are added to ``replies``."""

    def everyone_served() -> bool:
        if {reply.pid for _, reply, _ in replies} >= server.worker_pids():
            return True
        replies.extend(drive(server, mixed_traffic(1)))
        return False

    wait_for(everyone_served, "every worker to serve requests")


def start_date(doc: dict[str, Any]) -> dt.datetime:
    return dt.datetime.strptime(doc["product"]["internals"]["data-collection-start-date"], "%Y-%m-%dT%H:%M:%S.%f%z")


def reset_by_cli(env: dict[str, str]) -> dt.datetime:
    """``flask telemetry reset --yes`` in a process of its own; returns the new start date."""
    result = flask_cli(env, "telemetry", "reset", "--yes")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Counts reset; data-collection-start-date is now "), result.stdout
    return dt.datetime.fromisoformat(result.stdout.strip().rsplit(" ", 1)[1].rstrip("."))


def same_instant(shown: dt.datetime, exact: dt.datetime) -> bool:
    """The document shows dates to the millisecond."""
    return dt.timedelta(0) <= exact - shown < dt.timedelta(milliseconds=1)


def test_every_read_reports_the_exact_totals(database_url: str, tmp_path: Path) -> None:
    """Cluster scope: 4 gunicorn workers and a waitress process on another port share one
    database. Once the counts are flushed, every read from every process shows exactly the
    requests all of them served, read after read."""
    env = server_env(database_url)
    with serve("gunicorn", env, tmp_path) as gunicorn, serve("waitress", env, tmp_path) as waitress:
        replies = drive([gunicorn, waitress], mixed_traffic(300))
        top_up(gunicorn, replies)
        assert_served(gunicorn, replies)
        wanted = expected_counts(request for request, _, _ in replies)

        wait_for_counts(gunicorn, wanted)
        for server in (gunicorn, waitress):
            reads = read_everywhere(server)
            assert [counts(doc) for _, doc in reads] == [wanted] * len(reads), server.failure("a read differed")
            identity = {(doc["installation"], start_date(doc)) for _, doc in reads}
            assert len(identity) == 1
        assert counts(waitress.telemetry()[0]) == counts(gunicorn.telemetry()[0]) == wanted
        assert gunicorn.errors() == [] and waitress.errors() == [], gunicorn.failure(waitress.stderr())


def test_graceful_restarts_and_shutdown_lose_no_count(database_url: str, tmp_path: Path) -> None:
    """With a flush interval longer than the test, counts reach the database only when a worker
    ends gracefully: recycled by ``--max-requests``, replaced on ``HUP`` while traffic flows, or
    stopped with the server (SIGTERM). Every count arrives."""
    env = server_env(database_url, flush_interval=600)
    # --preload: a recycled worker is a fork of the master, quick to start.
    with serve("gunicorn", env, tmp_path, ["--preload", "--max-requests", "40"]) as server:
        chunks = [mixed_traffic(40, seed=seed) for seed in range(3)]
        replies = drive(server, chunks[0])
        first_workers = server.worker_pids()
        server.signal(signal.SIGHUP)  # the workers are replaced while the next chunk is served
        replies += drive(server, chunks[1])
        server.signal(signal.SIGHUP)
        replies += drive(server, chunks[2])
        assert_served(server, replies)
        wait_for(lambda: not first_workers & server.worker_pids(), "HUP to replace every worker")
        assert "Autorestarting worker" in server.stderr(), "workers were recycled by --max-requests"
        assert server.stop() == 0
    assert server.errors() == [], server.failure("gunicorn logged errors")
    assert shared_counts(database_url) == expected_counts(chunks[0] + chunks[1] + chunks[2])


def test_sigkill_loses_only_what_the_worker_had_not_flushed(database_url: str, tmp_path: Path) -> None:
    """A worker killed with SIGKILL cannot flush at exit. Counts already flushed are never lost;
    what is lost is at most what that worker counted and had not flushed yet (at most one flush
    interval of its traffic); nothing is counted twice."""
    env = server_env(database_url)
    with serve("gunicorn", env, tmp_path) as server:
        # 1. Killed after everything was flushed: nothing is lost.
        quiet = mixed_traffic(60, seed=1)
        replies = drive(server, quiet)
        assert_served(server, replies)
        wanted = expected_counts(quiet)
        wait_for_counts(server, wanted)
        victim = replies[-1][1].pid
        assert victim is not None
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: victim not in server.worker_pids() and len(server.worker_pids()) == 4, "a new worker")
        reads = read_everywhere(server)
        assert [counts(doc) for _, doc in reads] == [wanted] * len(reads)

        # 2. Killed right after its last request, before it could flush it.
        busy = mixed_traffic(100, seed=2)
        replies = drive(server, busy)
        assert_served(server, replies)
        victim = replies[-1][1].pid
        assert victim is not None
        flushed_before = shared_counts(database_url)
        os.kill(victim, signal.SIGKILL)
        victim_served = expected_counts(request for request, reply, _ in replies if reply.pid == victim)
        errors = [line for line in server.errors() if "was sent SIGKILL" not in line]  # the master saw the kills
    # The other workers flush at their graceful exit.
    assert errors == [], server.failure("gunicorn logged errors")
    served = expected_counts(quiet + busy)
    final = shared_counts(database_url)
    for kind in (0, 1):
        for name, n in served[kind].items():
            lost = n - final[kind].get(name, 0)
            assert 0 <= lost <= victim_served[kind].get(name, 0), (name, n, final, victim_served)
            assert lost <= n - flushed_before[kind].get(name, 0), (name, n, final, flushed_before)
    lost_requests = sum(served[0].values()) - sum(final[0].values())
    print(f"SIGKILL: {lost_requests} of the killed worker's {sum(victim_served[0].values())} requests lost")


def test_reset_zeroes_every_instance_at_once(database_url: str, tmp_path: Path) -> None:
    """Cluster scope: ``flask telemetry reset --yes`` (another process) zeroes the counts and
    moves the start date; every worker of a running server reports it from its next read."""
    env = server_env(database_url)
    with serve("gunicorn", env, tmp_path) as server:
        before = mixed_traffic(60, seed=3)
        assert_served(server, drive(server, before))
        wanted = expected_counts(before)
        old_start = start_date(wait_for_counts(server, wanted))

        new_start = reset_by_cli(env)
        assert new_start > old_start
        reads = read_everywhere(server)
        assert [counts(doc) for _, doc in reads] == [NOTHING] * len(reads)
        assert all(same_instant(start_date(doc), new_start) for _, doc in reads)

        after = mixed_traffic(20, seed=4)
        assert_served(server, drive(server, after))
        wanted = expected_counts(after)
        wait_for_counts(server, wanted, "the totals counted since the reset")
        reads = read_everywhere(server)
        assert [counts(doc) for _, doc in reads] == [wanted] * len(reads)
        assert server.errors() == [], server.failure("gunicorn logged errors")


def test_process_scope_reports_own_counts_and_follows_a_reset(database_url: str, tmp_path: Path) -> None:
    """Process scope: each worker reports exactly the requests it served itself. After a reset
    made elsewhere, each notices at its next flush tick: zero counts, the new start date."""
    env = server_env(database_url, scope="process")
    with serve("gunicorn", env, tmp_path) as server:
        replies = drive(server, mixed_traffic(60, seed=5))
        top_up(server, replies)
        assert_served(server, replies)
        own = by_process(replies)
        for pid, doc in read_everywhere(server):
            assert counts(doc) == own[pid], f"worker {pid}"

        new_start = reset_by_cli(env)

        def all_reset() -> bool:
            return all(
                counts(doc) == NOTHING and same_instant(start_date(doc), new_start)
                for _, doc in read_everywhere(server, minimum=8)
            )

        wait_for(all_reset, "every worker to notice the reset")

        replies = drive(server, mixed_traffic(10, seed=6))
        assert_served(server, replies)
        own = by_process(replies)
        for pid, doc in read_everywhere(server):
            assert counts(doc) == own.get(pid, NOTHING), f"worker {pid}"
        assert server.errors() == [], server.failure("gunicorn logged errors")



def test_a_reset_leaves_out_what_workers_had_not_flushed(database_url: str, tmp_path: Path) -> None:
    """Cluster scope, ``--preload -w 4`` with a flush interval longer than the test: the workers
    still hold every count in memory when ``flask telemetry reset`` runs. What they counted before
    it never reaches the database; what they count after it all does (at SIGTERM)."""
    env = server_env(database_url, flush_interval=600)
    with serve("gunicorn", env, tmp_path, ["--preload"]) as server:
        before = mixed_traffic(20, seed=8)
        replies = drive(server, before)
        top_up(server, replies)
        assert_served(server, replies)
        reset_by_cli(env)
        after = mixed_traffic(10, seed=9)
        replies = drive(server, after)
        assert_served(server, replies)
        assert server.stop() == 0
    assert server.errors() == [], server.failure("gunicorn logged errors")
    assert shared_counts(database_url) == expected_counts(after)


def test_process_scope_keeps_what_was_counted_after_a_reset(database_url: str, tmp_path: Path) -> None:
    """Process scope: requests served right after a reset made elsewhere, before the workers'
    next tick notices it, are kept; only what came before the reset is dropped."""
    env = server_env(database_url, scope="process", flush_interval=5)
    with serve("gunicorn", env, tmp_path) as server:
        replies = drive(server, mixed_traffic(20, seed=10))
        top_up(server, replies)
        assert_served(server, replies)
        new_start = reset_by_cli(env)
        replies = drive(server, mixed_traffic(10, seed=11))
        assert_served(server, replies)
        own = by_process(replies)

        def all_follow() -> bool:
            return all(
                counts(doc) == own.get(pid, NOTHING) and same_instant(start_date(doc), new_start)
                for pid, doc in read_everywhere(server, minimum=8)
            )

        wait_for(all_follow, "every worker to show exactly what it served after the reset")
        assert server.errors() == [], server.failure("gunicorn logged errors")
