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


def _renamed_model(tmp_path: Path, name: str) -> Path:
    """The local model's files under another model name (a 96-token window, so that the
    vectors of longer passages change): what a second embedding model looks like offline."""
    copy = tmp_path / name
    copy.mkdir()
    for f in Path(model_dir()).iterdir():
        if f.name != "itassist-model.json":
            (copy / f.name).symlink_to(f)
    (copy / "itassist-model.json").write_text(f'{{"name": "{name}", "max_length": 96}}')
    return copy


def _indexed_scp(tmp_path: Path) -> itassist.Assistant:
    """An assistant over a fresh index holding scp(1)."""
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(MAN / "scp.1", docs / "scp.1")
    a = itassist.Assistant(tmp_path / "index", model_dir=model_dir(), ocr=False)
    a.ingest(docs)
    return a


def test_reindex_swaps_the_model_and_keeps_the_same_assistant_working(tmp_path: Path) -> None:
    a = _indexed_scp(tmp_path)
    # The identity the index records (the configured name is the default's short name).
    old_model = a.stats().embedding_model
    before = a.search("copy files to a remote host", k=1)
    # A second handle on the same directory, opened before the swap.
    b = itassist.Assistant(tmp_path / "index", model_dir=model_dir(), ocr=False)
    b.open()

    seen: list[tuple[int, int]] = []
    report = a.reindex(
        "minilm-short-window",
        model_dir=_renamed_model(tmp_path, "minilm-short-window"),
        progress=lambda done, total: seen.append((done, total)),
    )
    assert report["previous_model"] == old_model
    assert report["model"] == "minilm-short-window" and report["dimensions"] == 384
    assert report["chunks"] == a.stats().chunks and not report["cancelled"]
    assert seen and seen[-1][0] == seen[-1][1] == report["chunks"]

    # The same object now searches with the new model; the document is still found.
    assert a.config["embedding"]["model"] == "minilm-short-window"
    after = a.search("copy files to a remote host", k=1)
    assert after[0].source == before[0].source
    # One opened before the swap must be reopened, and the error names what to do.
    with pytest.raises(itassist.EmbeddingModelMismatchError, match="reindex"):
        b.search("copy files")


def test_reindex_stopped_by_progress_keeps_the_old_index(tmp_path: Path) -> None:
    a = _indexed_scp(tmp_path)
    old_model = a.config["embedding"]["model"]

    def stop(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        a.reindex(
            "minilm-short-window",
            model_dir=_renamed_model(tmp_path, "minilm-short-window"),
            progress=stop,
        )
    assert a.config["embedding"]["model"] == old_model
    assert a.search("secure copy", k=1)[0].source.endswith("scp.1")
    # Async twin: the same operation from AsyncAssistant.
    report = asyncio.run(
        itassist.AsyncAssistant.from_sync(a).reindex(
            "minilm-short-window", model_dir=tmp_path / "minilm-short-window"
        )
    )
    assert report["model"] == "minilm-short-window"
