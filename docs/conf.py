"""Sphinx configuration: ``sphinx-build -W -b html docs docs/_build/html`` (``pip install -e '.[docs]'``).

No network: intersphinx is off and the theme is Sphinx's bundled alabaster.
"""

from __future__ import annotations

import configparser
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))

project = "flask-camunda-telemetry"
copyright = "the flask-camunda-telemetry authors"
_setup = configparser.ConfigParser()
_setup.read(Path(__file__).resolve().parent.parent / "setup.cfg")
release = _setup["metadata"]["version"]  # the one place the version is written
version = ".".join(release.split(".")[:2])

extensions = ["sphinx.ext.autodoc", "config_keys"]
exclude_patterns = ["_build"]
templates_path: list[str] = []

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "show-inheritance": True}

html_theme = "alabaster"
html_static_path: list[str] = []
html_theme_options = {"description": "Camunda 7's GET /telemetry/data for Flask apps", "fixed_sidebar": True}

