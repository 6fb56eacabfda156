"""polykv.integrations is imported on use only: ``import polykv`` loads none of the adapted projects, and an
adapter whose project is missing raises MissingDependencyError naming the extra to install."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_import_polykv_imports_no_integration_package() -> None:
    code = (
        "import sys, polykv, polykv.integrations, polykv.compat.eric_sse; polykv.connect('memory://');"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('eric_sse', 'zarr', 'numpy')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("module", "package", "extra"), [("eric_sse", "eric_sse", "eric-sse"), ("zarr", "zarr", "zarr")]
)
def test_a_missing_package_names_the_extra(module: str, package: str, extra: str) -> None:
    code = (
        f"import sys; sys.modules[{package!r}] = None\n"  # as if it were not installed
        "from polykv.errors import MissingDependencyError\n"
        f"try:\n    import polykv.integrations.{module}\n"
        "except MissingDependencyError as exc:\n    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert f'pip install "polykv-core[{extra}]"' in out.stdout, out.stdout + out.stderr
