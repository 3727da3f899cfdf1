"""The package's shape, read from its source: rooms in layers, imports pointing down, small parts.

A *room* is a top-level module (``state``) or subpackage (``storage``) of the package. Each room
sits in one layer of :data:`LAYERS`; a module may import from its own room and from rooms of lower
layers only, never sideways or up, and no import sits inside a function to dodge a cycle. A new
room is one more name on the line of :data:`LAYERS` it belongs to.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "flask_camunda_telemetry"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

#: Lowest first. A room may import rooms of lower lines only (not rooms of its own line).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("exceptions",),
    ("clock", "commandline", "forking", "hosting", "settings"),
    ("counting", "document", "periodic", "web"),
    ("openapi", "storage"),
    ("collector", "config", "reporting"),
    ("scopes",),
    ("state",),
    ("cli", "pages", "prometheus", "rest"),
    ("initializing",),
    ("extension",),
    ("__init__",),
)

#: Large enough that no class is split across files to fit it.
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 50
#: ``"module:function"`` -> why it may be longer (none today).
LONG_FUNCTIONS: dict[str, str] = {}
#: ``"module"`` -> why it may be longer (none today).
LONG_MODULES: dict[str, str] = {}
#: Modules of the package imported inside the function that uses them, and why: they need an
#: optional extra, or only an app that uses them pays for them (importing the package stays
#: light). ``"flask_camunda_telemetry.x"`` -> the reason.
LAZY_MODULES: dict[str, str] = {
    "flask_camunda_telemetry.prometheus": "needs the prometheus extra (prometheus_client)",
    "flask_camunda_telemetry.initializing": "what init_app installs, loaded with the first app",
    "flask_camunda_telemetry.state": "an app's state, made by init_app, reached by the extension's calls",
    "flask_camunda_telemetry.reporting.reporter": "reporting, loaded when CAMUNDA_TELEMETRY_REPORT_URL is set",
    "flask_camunda_telemetry.storage.reporting": "reporting's database side, loaded with reporting",
}


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, dotted
    target: str  # the imported module of the package, dotted
    line: int
    in_function: bool


def modules() -> dict[str, Path]:
    """Every module of the package, dotted name -> file (a package is its ``__init__``)."""
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def room(module: str) -> str:
    """``flask_camunda_telemetry.storage.store`` -> ``storage``; the package itself -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def layer_of(room_name: str) -> int | None:
    return next((i for i, rooms in enumerate(LAYERS) if room_name in rooms), None)


def _resolve(known: dict[str, Path], source: str, node: ast.ImportFrom) -> Iterator[str]:
    is_package = known[source].name == "__init__.py"
    base = source.split(".") if is_package else source.split(".")[:-1]
    if node.level:
        base = base[: len(base) - node.level + 1]
        prefix = ".".join([*base, node.module] if node.module else base)
    else:
        prefix = node.module or ""
    if not (prefix == PACKAGE or prefix.startswith(PACKAGE + ".")):
        return
    for alias in node.names:  # ``from . import config`` names a module; ``from .x import y`` a name
        candidate = f"{prefix}.{alias.name}"
        yield candidate if candidate in known else prefix


def imports() -> list[Import]:
    """Every import of a package module by a package module, wherever it stands in the file."""
    known = modules()
    found: list[Import] = []
    for source, path in known.items():
        tree = ast.parse(path.read_text(), str(path))
        functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        inside = {id(n) for f in functions for n in ast.walk(f) if n is not f}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                targets = list(_resolve(known, source, node))
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name == PACKAGE or a.name.startswith(PACKAGE + ".")]
            else:
                continue
            found += [Import(source, t, node.lineno, id(node) in inside) for t in targets if t != source]
    return found


def test_every_module_is_in_a_layer() -> None:
    named = [r for rooms in LAYERS for r in rooms]
    assert len(named) == len(set(named)), f"a room stands on two lines of LAYERS: {named}"
    unplaced = sorted({room(m) for m in modules() if layer_of(room(m)) is None})
    assert unplaced == [], (
        f"rooms in no layer: {unplaced}. Add each to the line of LAYERS in {Path(__file__).name} where it "
        "belongs: above every room it imports, below every room that imports it."
    )


def test_imports_point_down() -> None:
    wrong = []
    for imp in imports():
        here, there = room(imp.source), room(imp.target)
        if here == there:
            continue
        high, low = layer_of(here), layer_of(there)
        if high is not None and low is not None and low >= high:
            way = "sideways" if low == high else "up"
            wrong.append(f"{imp.source}:{imp.line} imports {imp.target} ({here} -> {there} points {way})")
    assert wrong == [], "\n".join(wrong) + "\n\nThe layers as the imports draw them:\n" + drawing()


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = {m: set() for m in modules()}
    for imp in imports():
        graph[imp.source].add(imp.target)
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        if module in path:
            return [*path[path.index(module):], module]
        if module in done:
            return None
        path.append(module)
        for target in sorted(graph[module]):
            cycle = visit(target)
            if cycle:
                return cycle
        path.pop()
        done.add(module)
        return None

    for module in sorted(graph):
        cycle = visit(module)
        assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_package_import_inside_a_function() -> None:
    hidden = [f"{i.source}:{i.line} imports {i.target}" for i in imports() if i.in_function]
    hidden = [line for line in hidden if line.rpartition(" imports ")[2] not in LAZY_MODULES]
    assert hidden == [], "imports of the package belong at the top of the module:\n" + "\n".join(hidden)


def _functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def test_modules_and_functions_are_small() -> None:
    too_long = []
    for module, path in modules().items():
        source = path.read_text()
        lines = len(source.splitlines())
        if lines > MAX_MODULE_LINES and module not in LONG_MODULES:
            too_long.append(f"{module}: {lines} lines (at most {MAX_MODULE_LINES})")
        for function in _functions(ast.parse(source)):
            first = min([function.lineno, *(d.lineno for d in function.decorator_list)])
            length = (function.end_lineno or function.lineno) - first + 1
            name = f"{module}:{function.name}"
            if length > MAX_FUNCTION_LINES and name not in LONG_FUNCTIONS:
                too_long.append(f"{name} at line {first}: {length} lines (at most {MAX_FUNCTION_LINES})")
    assert too_long == [], "split these up:\n" + "\n".join(too_long)


def drawing() -> str:
    """The layout drawn from the imports: each layer, top first, with the rooms each room imports."""
    arrows: dict[str, set[str]] = {}
    for imp in imports():
        if room(imp.source) != room(imp.target):
            arrows.setdefault(room(imp.source), set()).add(room(imp.target))
    present = {room(m) for m in modules()}
    layers = [[f"{r:<12} -> {', '.join(sorted(arrows.get(r, ()))) or '(nothing)'}" for r in rooms if r in present]
              for rooms in reversed(LAYERS)]  # fmt: skip
    return f"\n{'-' * 40}\n".join("\n".join(layer) for layer in layers if layer)


if __name__ == "__main__":  # python -m tests.test_architecture
    print(drawing())
