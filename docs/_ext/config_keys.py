"""The configuration tables, generated from a package's ``KEYS``.

In the docs, ``.. config-keys:: flask_camunda_telemetry.config`` renders the table of that
module's ``KEYS`` (names without its ``PREFIX``) at build time. The README cannot run a Sphinx
directive, so it holds the same table between two comment lines, and
``python docs/_ext/config_keys.py`` rewrites it there; ``tests/test_docs.py`` fails when the
README's table and ``KEYS`` disagree.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flask_camunda_telemetry.config import KEYS

__all__ = ["README_BEGIN", "README_END", "readme_table", "render_keys", "setup", "write_readme_table"]

#: The comment lines around the README's generated table.
README_BEGIN = ".. The table below is generated from flask_camunda_telemetry.config.KEYS by docs/_ext/config_keys.py."
README_END = ".. End of the generated table."
README = Path(__file__).resolve().parents[2] / "README.rst"


def default_literal(value: object) -> str:
    """A default as the docs write it: ``"text"``, ``None``, ``True``, ``10.0``, ``[]``."""
    if isinstance(value, str):
        return f"``{json.dumps(value)}``"
    if isinstance(value, list | tuple | set | frozenset):
        return "``[" + ", ".join(json.dumps(v) for v in value) + "]``"
    if isinstance(value, dict):
        return "``" + json.dumps(value) + "``"
    return f"``{value!r}``"


def render_keys(keys: Iterable[Any]) -> list[str]:
    """The reStructuredText lines of a list-table of ``keys`` (``settings.Key`` objects)."""
    lines = [".. list-table::", "   :header-rows: 1", "   :widths: 22 22 56", "", "   * - Key", "     - Default",
             "     - Meaning"]
    for key in keys:
        lines += [f"   * - ``{key.name}``", f"     - {default_literal(key.default)}", f"     - {key.doc}"]
    return lines


def readme_table() -> list[str]:
    """The README's block: the two comment lines around the table of ``config.KEYS``."""
    return [README_BEGIN, "", *render_keys(KEYS), "", README_END]


def write_readme_table(readme: Path = README) -> bool:
    """Rewrite the README's generated table; True if it changed."""
    text = readme.read_text()
    begin, end = text.index(README_BEGIN), text.index(README_END) + len(README_END)
    new = text[:begin] + "\n".join(readme_table()) + text[end:]
    readme.write_text(new)
    return new != text


def setup(app: Any) -> dict[str, Any]:
    """The Sphinx extension: registers the ``config-keys`` directive."""
    from docutils import nodes
    from docutils.statemachine import StringList
    from sphinx.util.docutils import SphinxDirective

    class ConfigKeys(SphinxDirective):
        """``.. config-keys:: module``: the table of ``module.KEYS``."""

        required_arguments = 1

        def run(self) -> list[nodes.Node]:
            module = importlib.import_module(self.arguments[0])
            if module.__file__:
                self.env.note_dependency(module.__file__)
            container = nodes.container()
            self.state.nested_parse(StringList(render_keys(module.KEYS), self.get_source_info()[0]), 0, container)
            return list(container.children)

    app.add_directive("config-keys", ConfigKeys)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    changed = write_readme_table()
    print("README.rst: configuration table " + ("rewritten" if changed else "already up to date"), file=sys.stderr)
