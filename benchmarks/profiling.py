"""Profile one mode's request path, or a read of 10,000 commands: ``python -m benchmarks.profiling
TARGET`` (pyinstrument when installed, else cProfile). Not a section of the report.

Two more targets look at the counting hook itself: ``hook-lines`` runs 40,000 requests of the mix
in each extension scope with line_profiler on the hook and on every function of the modules the
counting path runs through (:data:`HOOK_MODULES`; the per-line times include the profiler's own
cost per line and per call, so compare lines with each other, not with the benchmark's figures);
``hook-parts`` times each
step of the hook alone inside a request context (the best of several repetitions, ns per call),
next to the hand-written counter's.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import importlib
import pstats
import sys
import threading
import time
import timeit
import types
from collections.abc import Iterator, Sequence
from typing import Any

from flask import Flask, request

from flask_camunda_telemetry.state import get_state

from . import harness
from .bench_app import MODES, Call, create_app, request_mix

TARGETS = (*MODES, "read-process", "read-cluster", "hook-lines", "hook-parts")
#: Where hook-parts times the steps: a counted route of the benchmark app.
HOOK_PATH = "/engine-rest/task/count"
#: The modules the counting path runs through (those that exist are profiled by hook-lines).
HOOK_MODULES = ("flask_camunda_telemetry.counting.commands", "flask_camunda_telemetry.counting.counts",
                "flask_camunda_telemetry.state", "flask_camunda_telemetry.periodic")  # fmt: skip


@contextlib.contextmanager
def profiled(title: str) -> Iterator[None]:
    try:
        from pyinstrument import Profiler
    except ImportError:
        profile = cProfile.Profile()
        with profile:
            yield
        print(f"== cProfile: {title}")
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
        return
    profiler = Profiler(interval=0.0001)
    with profiler:
        yield
    print(f"== pyinstrument: {title}")
    print(profiler.output_text(unicode=True, color=False, show_all=False))


def _functions(modules: Sequence[str]) -> list[types.FunctionType]:
    """The functions and methods defined in those of ``modules`` that exist (tested by their exact
    type: a module's LocalProxy, such as ``request``, raises on any other look-up outside a request)."""
    found: list[types.FunctionType] = []
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        for obj in vars(module).values():
            if type(obj) is types.FunctionType and obj.__module__ == name:
                found.append(obj)
            elif type(obj) is type and obj.__module__ == name:
                found += [f for f in vars(obj).values() if type(f) is types.FunctionType]
    return found


def hook_lines(space: harness.Workspace) -> None:
    """line_profiler over the counting path during 40,000 requests of the mix, in each scope."""
    try:
        from line_profiler import LineProfiler
    except ImportError:
        raise SystemExit("hook-lines needs line_profiler: pip install -r benchmarks/requirements.txt") from None
    environs = harness.prepare(request_mix())
    for mode in harness.EXT_MODES:
        app = space.ext_app(mode, f"lines-{mode}")
        harness.drive(app, environs, 400)
        profiler = LineProfiler()
        profiler.add_function(app.before_request_funcs[None][0])
        for function in _functions(HOOK_MODULES):
            profiler.add_function(function)
        profiler.enable_by_count()
        harness.drive(app, environs, 40_000)
        profiler.disable_by_count()
        print(f"== line_profiler: {mode}, 40,000 requests of the mix (ns)")
        profiler.print_stats(output_unit=1e-9, stripzeros=True)
        harness.close_app(app)


def _best_ns(statement: str, scope: dict[str, Any], number: int = 100_000) -> str:
    """ns per run of ``statement``, best of 7; "n/a" when it fails (the package's internals it
    names have changed)."""
    try:
        exec(statement, scope)
    except Exception as exc:  # noqa: BLE001 - a step that no longer applies is shown as such
        return f"n/a ({type(exc).__name__})"
    return f"{min(timeit.repeat(statement, globals=scope, number=number, repeat=7)) / number * 1e9:.0f}"


def hook_parts(space: harness.Workspace) -> None:
    """Each step of the counting hook alone, in a request context: ns per call (best of 7)."""
    app = space.ext_app("ext-cluster", "parts")
    hand = create_app("handwritten")
    state = get_state(app)
    steps = {
        "request.endpoint (through the proxy)": "request.endpoint",
        "request.method (through the proxy)": "request.method",
        "request._get_current_object()": "request._get_current_object()",
        "req.endpoint (the request object)": "req.endpoint",
        "req.method (the request object)": "req.method",
        "names.get(endpoint, UNSET)": "names.get(endpoint, UNSET)",
        "state.counts.commands.add(name)": "state.counts.commands.add(name)",
        "time.time() (add's clock)": "clock()",
        "not counter._counting": "not counter._counting",
        "with lock: d[k] = d.get(k, 0) + 1": "with lock: counts[name] = counts.get(name, 0) + 1",
        "an empty function": "noop()",
        "the extension's hook": "ext_hook()",
        "the hand-written hook": "hand_hook()",
    }
    with app.test_request_context(HOOK_PATH):
        ext_hook = app.before_request_funcs[None][0]
        ext_hook()  # the endpoint's name resolved and cached
        endpoint = request.endpoint
        real = request._get_current_object()  # type: ignore[attr-defined]  # werkzeug's LocalProxy method
        names = state.counter.names
        scope = {"request": request, "req": real, "names": names, "state": state, "endpoint": endpoint,
                 "UNSET": object(), "counter": state.counter,
                 "name": names.get(endpoint or ""), "clock": time.time, "lock": threading.Lock(),
                 "counts": {}, "noop": lambda: None, "ext_hook": ext_hook,
                 "hand_hook": hand.before_request_funcs[None][0]}  # fmt: skip
        timed = {label: _best_ns(statement, scope) for label, statement in steps.items()}
    with hand.test_request_context(HOOK_PATH):  # the hand-written hook in its own app
        timed["the hand-written hook"] = _best_ns("hand_hook()", scope)
    harness.close_app(app)
    print(f"== the counting hook's steps alone, in a request context ({HOOK_PATH}); ns per call, best of 7")
    print("\n".join(harness.table(["step", "ns"], [[label, ns] for label, ns in timed.items()])))


def _profile_path(space: harness.Workspace, target: str) -> None:
    app: Flask
    if target.startswith("read-"):
        mode = "ext-" + target.removeprefix("read-")
        app = space.ext_app(mode, f"profile-{mode}", flush_interval=3600)
        telemetry = app.extensions["bench_telemetry"]
        for i in range(10_000):
            telemetry.count_command(f"Cmd{i}", app=app)
        telemetry.flush(app=app)
        environs, title, n = harness.prepare([Call("GET", "/telemetry/data")]), "10,000 commands, 20 reads", 20
    else:
        app = space.ext_app(target, f"profile-{target}") if target in harness.EXT_MODES else create_app(target)
        environs, title, n = harness.prepare(request_mix()), "40,000 requests of the mix", 40_000
    harness.drive(app, environs, 2)
    with profiled(f"{target}: {title}"):
        harness.drive(app, environs, n)
    harness.close_app(app)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name}", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("target", choices=TARGETS,
                        help="a mode's request path, read-process / read-cluster, hook-lines, hook-parts")  # fmt: skip
    harness.common_arguments(parser)
    args = parser.parse_args(argv)
    with harness.workspace(args) as space:
        if args.target == "hook-lines":
            hook_lines(space)
        elif args.target == "hook-parts":
            hook_parts(space)
        else:
            _profile_path(space, args.target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
