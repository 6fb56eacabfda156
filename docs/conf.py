"""Sphinx configuration for the polykv documentation (html with furo; doctest runs the examples)."""

from __future__ import annotations

import doctest
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
sys.path[:0] = [str(ROOT), str(EXAMPLES)]  # the checkout's polykv, and the plugin-author example store

import polykv  # noqa: E402

project = "polykv"
author = "polykv developers"
copyright = "polykv developers"
release = polykv.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.viewcode",
]

exclude_patterns = ["_build"]
templates_path: list[str] = []

html_theme = "furo"
html_title = f"polykv {release}"

# -- autodoc -------------------------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_default_options = {"members": True, "show-inheritance": True}


# -- doctest ------------------------------------------------------------------------------------
# Every ``.. doctest::`` / ``>>>`` block in the guide runs with ``sphinx-build -b doctest``.
doctest_global_setup = f"""
import pathlib
import polykv
EXAMPLES = pathlib.Path({str(EXAMPLES)!r})
"""
doctest_test_doctest_blocks = "default"
# Sphinx's default flags include IGNORE_EXCEPTION_DETAIL, which would let a documented error message drift
# from the real one: the messages are part of what the guide promises, so they are compared too.
doctest_default_flags = doctest.ELLIPSIS | doctest.DONT_ACCEPT_TRUE_FOR_1
