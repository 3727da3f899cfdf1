"""Per-request cost in process: the WSGI app called directly, the modes interleaved round by round.

Every mode serves the same 40 requests; *us/request* is this thread's CPU time (other tenants'
load does not inflate it), *wall* the wall-clock time. Overheads and ratios are taken round by
round against bare, then the median. Below the table, each extension mode against the
hand-written counter, and the counting hook alone.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from typing import Any

from flask import Flask

from . import harness
from .bench_app import MODES, create_app, request_mix
from .harness import EXT_MODES, Spread, mark, median, table

#: The extension's per-request overhead must be within this of the hand-written counter's.
TARGET_OVER_HANDWRITTEN_US = 5.0
HOOK_MODES = ("handwritten", "ext-process", "ext-cluster")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=0, help="per-request rounds (default 41; --quick 15)")


def _hook_alone(apps: dict[str, Flask], rounds: int, calls: int) -> dict[str, list[float]]:
    """Each mode's ``before_request`` counting function called directly inside a request
    context (what it adds, without Flask's dispatch around it): ns per call, interleaved rounds."""
    hooks = {mode: apps[mode].before_request_funcs[None][0] for mode in HOOK_MODES}
    result: dict[str, list[float]] = {mode: [] for mode in HOOK_MODES}
    rng = random.Random(3)
    for _ in range(rounds):
        for mode in rng.sample(HOOK_MODES, len(HOOK_MODES)):
            hook = hooks[mode]
            # Pushing the context matches the URL: request.endpoint is set, as in a real request.
            with apps[mode].test_request_context("/engine-rest/task/count"):
                begin = time.thread_time_ns()
                for _ in range(calls):
                    hook()
                result[mode].append((time.thread_time_ns() - begin) / calls)
    return result


def _rounds(apps: dict[str, Flask], environs: list[Any], batch: int, rounds: int) -> tuple[dict[str, list[float]], ...]:
    """CPU and wall-clock us/request per mode and round, the modes in a shuffled order each round."""
    wall: dict[str, list[float]] = {mode: [] for mode in MODES}

    def cpu_us(mode: str) -> float:
        gc.collect()
        cpu, wall_us = harness.drive(apps[mode], environs, batch)
        wall[mode].append(wall_us)
        return cpu

    return harness.interleaved(MODES, rounds, 5, cpu_us, "per-request"), wall


def measure(args: argparse.Namespace) -> dict[str, Any]:
    rounds = args.rounds or (15 if args.quick else 41)
    environs = harness.prepare(request_mix())
    batch = (400 if args.quick else 1200) // len(environs) * len(environs)
    with harness.workspace(args) as space:
        apps = {mode: space.ext_app(mode, f"per-request-{mode}") if mode in EXT_MODES else create_app(mode)
                for mode in MODES}  # fmt: skip
        for mode, app in apps.items():  # every route answers 200 in every mode
            for environ in environs:
                status, _ = harness.fetch(app, environ)
                if not status.startswith("200"):
                    raise SystemExit(f"{mode}: {environ[0]['REQUEST_METHOD']} {environ[0]['PATH_INFO']} gave {status}")
        for app in apps.values():  # warm-up
            harness.drive(app, environs, batch)
        harness_us = median([harness.drive(harness.noop_app, environs, batch)[0] for _ in range(5)])
        cpu, wall = _rounds(apps, environs, batch, rounds)
        sent = len(environs) + batch * (rounds + 1)
        counted = {mode: harness.counted(mode, app) for mode, app in apps.items()}
        hooks = _hook_alone(apps, rounds, 20_000 if args.quick else 50_000)
        for app in apps.values():
            harness.close_app(app)
    return _figures(cpu, wall, hooks, counted, sent, rounds=rounds, batch=batch, harness_us=harness_us)


def _figures(
    cpu: dict[str, list[float]],
    wall: dict[str, list[float]],
    hooks: dict[str, list[float]],
    counted: dict[str, int | None],
    sent: int,
    **run: Any,
) -> dict[str, Any]:
    """Every figure the report shows, each computed once."""
    bare, hand = cpu["bare"], cpu["handwritten"]
    verdicts = {mode: "-" if n is None else "exact" if n == sent else f"{n} of {sent}" for mode, n in counted.items()}
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
                "counted": verdicts[mode],
            }
            for mode in MODES
        },
        "vs_handwritten": {mode: Spread.diffs(cpu[mode], hand) for mode in EXT_MODES},
        "share_of_prometheus": {mode: over_bare[mode].median / prometheus_over for mode in EXT_MODES},
        "prometheus_over": prometheus_over,
        "hook_ns": {mode: median(hooks[mode]) for mode in HOOK_MODES},
        "hook_over_handwritten": {mode: Spread.diffs(hooks[mode], hooks["handwritten"]).median for mode in EXT_MODES},
    }


def report(results: dict[str, Any]) -> str:
    modes = results["modes"]
    lines = [
        "Per-request cost in process (WSGI app called directly; 40 routes, 30 GET + 10 POST with JSON)",
        f"   {results['rounds']} rounds x {results['batch']} requests per mode, in a shuffled order each round",
        "   us/request = this thread's CPU time; wall = wall-clock time; overhead and ratio taken round by round "
        "against bare, then the median",
        f"   harness alone (no-op WSGI app): {results['harness_us']:.1f} us/request",
        "",
    ]
    rows = []
    for mode in MODES:
        over = modes[mode]["over_bare"]
        spread = "-" if over is None else f"{over.p25:+.2f}..{over.p75:+.2f} us"
        rows.append([mode, f"{modes[mode]['cpu_us']:.2f}", f"{modes[mode]['wall_us']:.2f}",
                     "-" if over is None else f"{over.median:+.2f} us", spread,
                     f"{modes[mode]['ratio'].median:.3f}", modes[mode]["counted"]])  # fmt: skip
    header = ["mode", "us/request", "wall", "overhead vs bare", "p25..p75", "ratio", "counted"]
    lines += [*table(header, rows), ""]
    target, prometheus = TARGET_OVER_HANDWRITTEN_US, results["prometheus_over"]
    for mode in EXT_MODES:
        diff = results["vs_handwritten"][mode]
        lines.append(
            f"   {mark(diff.median <= target)} {mode} vs handwritten: {diff.median:+.2f} us "
            f"(p25..p75 {diff.p25:+.2f}..{diff.p75:+.2f}; target: within {target:g} us); its "
            f"overhead is {results['share_of_prometheus'][mode]:.0%} of prometheus' {prometheus:+.2f} us"
        )
    hook = results["hook_ns"]
    lines += [
        "",
        "   The counting hook alone (called directly in a request context; CPU ns per call, median over rounds):",
        f"   handwritten {hook['handwritten']:.0f} ns; "
        + "; ".join(f"{m} {hook[m]:.0f} ns ({results['hook_over_handwritten'][m]:+.0f} ns)" for m in EXT_MODES),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(harness.main(__spec__.name))
