"""Lets the example tests import ``dictstore`` as if the example plugin were installed (a real plugin is)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
