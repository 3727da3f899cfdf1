"""Run the benchmark's sections and write the report: ``python -m benchmarks.run [--quick]``.

A section is any module ``benchmarks/<name>.py`` with ``measure(args)`` and ``report(results)``
(see :mod:`benchmarks.harness`); the ones in :data:`ORDER` run first, in that order, then the
others by name. The report is printed and written to ``benchmarks/results/<date>-<host>.txt``.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from . import harness

#: The sections this folder started with, in the order the report shows them.
ORDER = ("per_request", "read_cost", "end_to_end", "flush_cost")


def sections() -> dict[str, ModuleType]:
    """Every section module, by name (``per-request``), in report order."""
    names = [info.name for info in pkgutil.iter_modules([str(Path(__file__).parent)]) if not info.name.startswith("_")]
    names.sort(key=lambda name: (ORDER.index(name) if name in ORDER else len(ORDER), name))
    modules = [importlib.import_module(f"{__package__}.{name}") for name in names]
    return {m.__name__.rpartition(".")[2].replace("_", "-"): m for m in modules
            if callable(getattr(m, "measure", None)) and callable(getattr(m, "report", None))}  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    found = sections()
    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name}", description=(__doc__ or "").split("\n\n")[0])
    harness.common_arguments(parser)
    for module in found.values():
        if hasattr(module, "add_arguments"):
            module.add_arguments(parser)
    parser.add_argument("--sections", default=",".join(found), help=f"a comma-separated subset of {', '.join(found)}")
    parser.add_argument("--no-save", action="store_true", help="print the report only, do not write results/")
    args = parser.parse_args(argv)
    chosen = [s.strip().replace("_", "-") for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in found]
    if unknown:
        parser.error(f"unknown sections: {', '.join(unknown)}; choose from {', '.join(found)}")
    report = harness.run_sections([found[name] for name in chosen], args)
    print(report)
    if not args.no_save:
        harness.log(f"written to {harness.save(report).relative_to(harness.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
