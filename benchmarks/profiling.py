"""Profile one mode's request path, or a read of 10,000 commands: ``python -m benchmarks.profiling
TARGET`` (pyinstrument when installed, else cProfile). Not a section of the report."""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import pstats
import sys
from collections.abc import Iterator, Sequence

from . import harness
from .bench_app import MODES, Call, create_app, request_mix

TARGETS = (*MODES, "read-process", "read-cluster")


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name}", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("target", choices=TARGETS, help="a mode's request path, or read-process / read-cluster")
    harness.common_arguments(parser)
    args = parser.parse_args(argv)
    with harness.workspace(args) as space:
        if args.target.startswith("read-"):
            mode = "ext-" + args.target.removeprefix("read-")
            app = space.ext_app(mode, f"profile-{mode}", flush_interval=3600)
            telemetry = app.extensions["bench_telemetry"]
            for i in range(10_000):
                telemetry.count_command(f"Cmd{i}", app=app)
            telemetry.flush(app=app)
            environs, title, n = harness.prepare([Call("GET", "/telemetry/data")]), "10,000 commands, 20 reads", 20
        else:
            mode = args.target
            app = space.ext_app(mode, f"profile-{mode}") if mode in harness.EXT_MODES else create_app(mode)
            environs, title, n = harness.prepare(request_mix()), "40,000 requests of the mix", 40_000
        harness.drive(app, environs, 2)
        with profiled(f"{args.target}: {title}"):
            harness.drive(app, environs, n)
        harness.close_app(app)
    return 0


if __name__ == "__main__":
    sys.exit(main())
