"""The Python snippets of docs/python.md, executed in order like a notebook."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from conftest import CORPUS, model_dir

DOC = Path(__file__).resolve().parents[2] / "docs" / "python.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def snippets() -> list[str]:
    return BLOCK.findall(DOC.read_text(encoding="utf-8")) if DOC.exists() else []


def test_the_guide_has_snippets() -> None:
    from conftest import require

    require(DOC.exists(), f"{DOC} (run the tests from a checkout)")
    assert len(snippets()) >= 4


def test_snippets_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import require

    require(DOC.exists(), f"{DOC} (run the tests from a checkout)")
    # The guide works in a folder with a `docs/` subfolder of documents.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ITASSIST_MODEL_DIR", model_dir())
    (tmp_path / "docs").symlink_to(CORPUS / "debdocs" / "man" / "openssh")
    namespace: dict[str, object] = {"__name__": "__guide__"}
    for n, code in enumerate(snippets(), 1):
        try:
            exec(compile(code, f"docs/python.md#snippet-{n}", "exec"), namespace)
        except Exception as e:  # pragma: no cover - the message names the snippet
            raise AssertionError(f"snippet {n} failed:\n{code}") from e
    assert os.path.isdir(tmp_path / "itassist-data")
