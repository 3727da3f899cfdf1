"""Per-request cost in process: the WSGI app called directly, the modes interleaved round by round.

Every mode serves the same 40 requests; *us/request* is this thread's CPU time (other tenants'
load does not inflate it), *wall* the wall-clock time. Overheads are taken round by round against
bare, then the median, with the quartiles of the per-round differences and a 95% confidence
interval of their median. ``bare-2``, a second bare app measured as if it were a mode, is the A/A
control: its "overhead" is the noise floor. The rounds are spread over several fresh sets of apps,
each made in a shuffled order (one app instance keeps a bias of its own, from its memory layout).
Goal: each scope within 1 us of the hand-written counter. Below the table, the counting hook
alone, called directly.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from flask import Flask

from . import harness
from .bench_app import create_app, request_mix
from .harness import EXT_MODES, Goal, Spread, Workspace, goal_table, median, table

#: The goal (issue 21): each scope's per-request overhead within this of the hand-written counter's.
GOAL_OVER_HANDWRITTEN_US = 1.0
#: A second bare app, measured as if it were a mode: the A/A control.
CONTROL = "bare-2"
MODES = ("bare", CONTROL, "handwritten", "prometheus", *EXT_MODES)
HOOK_MODES = ("handwritten", *EXT_MODES)
#: Requests per mode and round: two passes of the mix. Short batches, many rounds: the modes
#: measured a few milliseconds apart share the machine's state, and the medians come out tighter
#: than with long batches for the same time.
BATCH = 80
#: Requests each app serves before it is measured.
WARM_UP = 400
#: Rounds in all, and fresh sets of apps they are spread over, by ``--quick``.
ROUNDS = {True: 1200, False: 3000}
SETS = {True: 3, False: 5}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=0,
                        help=f"per-request rounds in all (default {ROUNDS[False]}; --quick {ROUNDS[True]})")
    parser.add_argument("--per-request-sets", type=int, default=0,
                        help=f"fresh sets of apps the per-request rounds are spread over (default {SETS[False]}; "
                        f"--quick {SETS[True]})")  # fmt: skip


def _noop() -> None:
    """What calling any Python function as a hook costs (the hook-alone floor)."""


def _hook_alone(apps: dict[str, Flask], rounds: int, calls: int) -> dict[str, list[float]]:
    """Each mode's ``before_request`` counting function called directly inside a request
    context (what it adds, without Flask's dispatch around it), next to an empty function:
    CPU ns per call, interleaved rounds."""
    hooks: dict[str, tuple[Flask, Callable[[], Any]]] = {"noop": (apps["bare"], _noop)}
    hooks.update({mode: (apps[mode], apps[mode].before_request_funcs[None][0]) for mode in HOOK_MODES})
    result: dict[str, list[float]] = {mode: [] for mode in hooks}
    rng = random.Random(3)
    for _ in range(rounds):
        for mode in rng.sample(list(hooks), len(hooks)):
            app, hook = hooks[mode]
            # Pushing the context matches the URL: request.endpoint is set, as in a real request.
            with app.test_request_context("/engine-rest/task/count"):
                begin = time.thread_time_ns()
                for _ in range(calls):
                    hook()
                result[mode].append((time.thread_time_ns() - begin) / calls)
    return result


def _make_set(space: Workspace, number: int, environs: list[Any]) -> dict[str, Flask]:
    """A fresh app per mode, made in a shuffled order; every route checked to answer 200; warmed up."""
    order = random.Random(100 + number).sample(MODES, len(MODES))
    apps = {mode: space.ext_app(mode, f"per-request-{mode}-{number}") if mode in EXT_MODES
            else create_app("bare" if mode == CONTROL else mode) for mode in order}  # fmt: skip
    for mode, app in apps.items():
        for environ in environs:
            status, _ = harness.fetch(app, environ)
            if not status.startswith("200"):
                raise SystemExit(f"{mode}: {environ[0]['REQUEST_METHOD']} {environ[0]['PATH_INFO']} gave {status}")
        harness.drive(app, environs, WARM_UP)
    return apps


def _one_set(space: Workspace, number: int, environs: list[Any], batch: int, rounds: int,
             hook_rounds: int, calls: int) -> dict[str, Any]:  # fmt: skip
    """The rounds of one set of apps: CPU and wall us/request per mode and round, the hook alone,
    and whether each counter holds exactly the requests sent."""
    apps = _make_set(space, number, environs)
    gc.collect()
    gc.freeze()  # the apps' long-lived objects: out of every collection, in every mode alike
    wall: dict[str, list[float]] = {mode: [] for mode in MODES}

    def cpu_us(mode: str) -> float:
        gc.collect()
        cpu, wall_us = harness.drive(apps[mode], environs, batch)
        wall[mode].append(wall_us)
        return cpu

    try:
        cpu = harness.interleaved(MODES, rounds, 5 + number, cpu_us)
        sent = len(environs) + WARM_UP + batch * rounds
        counted = {mode: harness.counted(mode, app) for mode, app in apps.items()}  # before the hooks count more
        hooks = _hook_alone(apps, hook_rounds, calls)
    finally:
        gc.unfreeze()
        for app in apps.values():
            harness.close_app(app)
    wrong = {mode: f"{n} of {sent}" for mode, n in counted.items() if n is not None and n != sent}
    return {"cpu": cpu, "wall": wall, "hooks": hooks, "wrong": wrong}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    sets = args.per_request_sets or SETS[args.quick]
    rounds = max(sets, args.rounds or ROUNDS[args.quick]) // sets
    environs = harness.prepare(request_mix())
    batch = BATCH // len(environs) * len(environs)
    hook_rounds, calls = (10, 20_000) if args.quick else (20, 20_000)
    harness_us = median([harness.drive(harness.noop_app, environs, batch)[0] for _ in range(15)])
    cpu: dict[str, list[float]] = {mode: [] for mode in MODES}
    wall: dict[str, list[float]] = {mode: [] for mode in MODES}
    hooks: dict[str, list[float]] = {}
    wrong: dict[str, str] = {}
    with harness.workspace(args) as space:
        for number in range(sets):
            one = _one_set(space, number, environs, batch, rounds, hook_rounds, calls)
            harness.log(f"  per-request: set {number + 1}/{sets} done ({rounds} rounds)")
            for mode in MODES:
                cpu[mode] += one["cpu"][mode]
                wall[mode] += one["wall"][mode]
            for mode, values in one["hooks"].items():
                hooks.setdefault(mode, []).extend(values)
            wrong.update(one["wrong"])
    return _figures(cpu, wall, hooks, wrong, rounds=rounds * sets, sets=sets, batch=batch, harness_us=harness_us)


def _figures(
    cpu: dict[str, list[float]],
    wall: dict[str, list[float]],
    hooks: dict[str, list[float]],
    wrong: dict[str, str],
    **run: Any,
) -> dict[str, Any]:
    """Every figure the report shows, each computed once."""
    bare, hand = cpu["bare"], cpu["handwritten"]
    over_bare = {mode: Spread.diffs(cpu[mode], bare) for mode in MODES if mode != "bare"}
    prometheus_over = over_bare["prometheus"].median
    return {
        **run,
        "modes": {
            mode: {
                "cpu_us": median(cpu[mode]),
                "wall_us": median(wall[mode]),
                "over_bare": over_bare.get(mode),
                "ratio": Spread.ratios(cpu[mode], bare),
                "counted": "-" if mode in ("bare", CONTROL) else wrong.get(mode, "exact"),
            }
            for mode in MODES
        },
        "vs_handwritten": {mode: Spread.diffs(cpu[mode], hand) for mode in EXT_MODES},
        "control_vs_bare": over_bare[CONTROL],
        "share_of_prometheus": {mode: over_bare[mode].median / prometheus_over for mode in EXT_MODES},
        "prometheus_over": prometheus_over,
        "hook_ns": {mode: Spread.of(values) for mode, values in hooks.items()},
        "hook_over_handwritten": {mode: Spread.diffs(hooks[mode], hooks["handwritten"]) for mode in EXT_MODES},
    }


def _hand_rows(results: dict[str, Any]) -> list[list[str]]:
    prometheus = results["prometheus_over"]
    return [[mode, f"{d.median:+.2f} us", d.quartiles("us"), d.interval("us"), f"{d.low:+.1f}..{d.high:+.1f} us",
             f"{results['share_of_prometheus'][mode]:.0%} of {prometheus:+.2f} us"]
            for mode, d in results["vs_handwritten"].items()]  # fmt: skip


def _hook_rows(results: dict[str, Any]) -> list[list[str]]:
    hook, over = results["hook_ns"], results["hook_over_handwritten"]
    rows = []
    for mode, spread in hook.items():
        gap = over.get(mode)
        versus = ["-", "-"] if gap is None else [f"{gap.median:+.0f} ns", gap.interval("ns", 0)]
        rows.append([mode, f"{spread.median:.0f}", f"{spread.ci_low:.0f}..{spread.ci_high:.0f}", *versus])
    return rows


def report(results: dict[str, Any]) -> str:
    modes = results["modes"]
    lines = [
        "Per-request cost in process (WSGI app called directly; 40 routes, 30 GET + 10 POST with JSON)",
        f"   {results['rounds']} rounds x {results['batch']} requests per mode over {results['sets']} fresh sets of "
        f"apps, in a shuffled order each round; '{CONTROL}' is a second bare app (the A/A control)",
        "   us/request = this thread's CPU time; wall = wall-clock time; overhead and ratio taken round by round "
        "against bare, then the median;",
        "   p25..p75 = quartiles of the per-round differences; 95% CI = confidence interval of their median",
        f"   harness alone (no-op WSGI app): {results['harness_us']:.1f} us/request",
        "",
    ]
    rows = []
    for mode in MODES:
        over = modes[mode]["over_bare"]
        figures = ["-"] * 3 if over is None else [f"{over.median:+.2f} us", over.quartiles("us"), over.interval("us")]
        rows.append([mode, f"{modes[mode]['cpu_us']:.2f}", f"{modes[mode]['wall_us']:.2f}", *figures,
                     f"{modes[mode]['ratio'].median:.3f}", modes[mode]["counted"]])  # fmt: skip
    header = ["mode", "us/request", "wall", "overhead vs bare", "p25..p75", "95% CI", "ratio", "counted"]
    lines += [*table(header, rows), ""]
    lines += [
        "   Each scope against the hand-written counter (per-round difference of us/request):",
        *table(["mode", "vs handwritten", "p25..p75", "95% CI", "min..max", "share of prometheus' overhead"],
               _hand_rows(results)),
        "",
        "   The counting hook alone (called directly in a request context; CPU ns per call, median over rounds;",
        "   'noop' is an empty function called the same way):",
        *table(["hook", "ns/call", "95% CI", "vs handwritten", "95% CI"], _hook_rows(results)),
        "",
    ]  # fmt: skip
    control, goal = results["control_vs_bare"], GOAL_OVER_HANDWRITTEN_US
    goals = [
        Goal(f"{mode} overhead over the hand-written counter's", f"{d.median:+.2f} us (95% CI {d.interval('us')})",
             f"<= {goal:g} us", d.median <= goal,
             "the hook does more than the hand-written one: see the hook alone above (benchmarks/README.rst, "
             "'Where the request path spends')")
        for mode, d in results["vs_handwritten"].items()
    ]  # fmt: skip
    goals.append(Goal(f"noise floor: the A/A control ({CONTROL} - bare)",
                      f"{control.median:+.2f} us (95% CI {control.interval('us')})", f"within +-{goal / 2:g} us",
                      abs(control.median) <= goal / 2,
                      "two identical apps differ by more than half the goal: the run cannot resolve it; rerun with "
                      "more --rounds or --per-request-sets, on a quieter machine"))  # fmt: skip
    lines += goal_table(goals)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(harness.main(__spec__.name))
