"""sync / failures on real files in a temporary folder and a real index."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

import itassist
from conftest import MAN, model_dir


def test_sync_adds_moves_removes_and_remembers_failures(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(MAN / "scp.1", docs / "scp.1")
    shutil.copy(MAN / "ssh-add.1", docs / "ssh-add.1")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    a = itassist.Assistant(tmp_path / "index", model_dir=model_dir(), ocr=False)

    dry = a.sync(docs, dry_run=True)
    assert dry["dry_run"] and dry["totals"]["added"] == 3
    assert a.documents() == []

    seen: list[tuple[int, int, str, str]] = []
    first = a.sync(docs, progress=lambda *e: seen.append(e))
    assert first["totals"]["added"] == 2 and first["totals"]["failed"] == 1
    assert seen and seen[-1][0] == seen[-1][1]
    [failure] = a.failures()
    assert failure["source"].endswith("broken.pdf") and failure["code"] == "corrupt_document"

    (docs / "scp.1").rename(docs / "scp-renamed.1")
    (docs / "ssh-add.1").unlink()
    second = asyncio.run(itassist.AsyncAssistant.from_sync(a).sync([docs]))
    totals = second["totals"]
    assert (totals["moved"], totals["removed"], totals["known_failures"]) == (1, 1, 1)
    [move] = [c for c in second["changes"] if c["action"] == "move"]
    assert move["path"].endswith("scp-renamed.1") and move["from"].endswith("scp.1")
    assert [d.name for d in a.documents()] == ["scp-renamed.1"]

    with pytest.raises(itassist.PathNotFoundError):
        a.sync(tmp_path / "missing")
