"""The .pyi stubs match the compiled module, and typed user code checks with mypy."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import itassist

REPO = Path(__file__).resolve().parents[2]


def _mypy_available() -> bool:
    try:
        import mypy  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(autouse=True)
def _mypy_is_installed() -> None:
    from conftest import require

    require(_mypy_available(), "mypy: `pip install mypy` in the test venv")


def test_stubtest(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "itassist"],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_py_typed_is_shipped() -> None:
    assert (Path(itassist.__file__).parent / "py.typed").exists()
    assert (Path(itassist.__file__).parent / "_native.pyi").exists()


def test_example_type_checks(tmp_path: Path) -> None:
    example = REPO / "examples" / "python" / "quickstart.py"
    from conftest import require

    require(example.exists(), f"{example} (run the tests from a checkout)")
    copy = tmp_path / "quickstart.py"
    shutil.copy(example, copy)
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(copy)],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
