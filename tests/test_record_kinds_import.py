"""Model libraries stay optional: polykv imports pydantic, msgspec and attrs only when the caller does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import polykv

PROBE = """
import dataclasses, sys
import polykv
from polykv.backends.memory import MemoryStore
from polykv.backends.sqlite import SQLiteStore

@dataclasses.dataclass
class User:
    id: str
    name: str

for store in (MemoryStore(), SQLiteStore(":memory:")):
    store.insert_record("users", "1", User("1", "Ada"))
    assert store.get_record("users", User, "1") == User("1", "Ada")
    assert store.filter_record("users", User, name="Ada")
loaded = sorted(m for m in ("pydantic", "pydantic_core", "msgspec", "attrs", "attr") if m in sys.modules)
print(",".join(loaded))
"""


def test_records_import_no_model_library() -> None:
    root = str(Path(polykv.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=60, check=True
    ).stdout
    assert out.strip() == "", f"import polykv and dataclass records loaded {out.strip()}"


def test_a_model_class_is_recognised_once_its_library_is_imported() -> None:
    pydantic = pytest.importorskip("pydantic")
    from polykv.record_kinds import PydanticKind, kind_of

    class Thing(pydantic.BaseModel):
        id: str

    assert isinstance(kind_of(Thing), PydanticKind)
    assert kind_of(dict) is None and kind_of(int) is None
