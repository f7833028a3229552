"""AsyncAssistant: every method awaited inside a running event loop."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import numpy as np
import pytest

import itassist
from conftest import MAN, model_dir


def test_methods_are_coroutines() -> None:
    for name in [
        "open", "ingest", "ingest_bytes", "search", "embed", "documents", "document",
        "remove", "stats", "models", "ask",
    ]:
        assert inspect.iscoroutinefunction(getattr(itassist.AsyncAssistant, name)), name
    assert not inspect.iscoroutinefunction(itassist.AsyncAssistant.ask_stream)


def test_every_async_method(corpus: Path, tmp_path: Path, docs_dir: Path) -> None:
    async def main() -> None:
        # Opening loads the model off the event loop.
        a = await itassist.AsyncAssistant.open(tmp_path / "index", model_dir=model_dir(), ocr=False)
        assert repr(a).startswith("AsyncAssistant(") and a.blocking.is_open
        assert a.data_dir == tmp_path / "index"
        seen: list[str] = []
        report = await a.ingest(docs_dir, progress=lambda d, t, p, s: seen.append(s))
        assert report.added == 3 and seen == ["added"] * 3
        upload = await a.ingest_bytes("scp.1", (MAN / "scp.1").read_bytes())
        assert upload.status == "added"
        hits = await a.search("list the identities held by the agent", k=2)
        assert len(hits) == 2 and isinstance(hits[0], itassist.Passage)
        vectors = await a.embed(["one", "two", "three"])
        assert isinstance(vectors, np.ndarray) and vectors.shape == (3, 384)
        assert vectors.dtype == np.float32
        docs = await a.documents()
        assert len(docs) == 4
        doc = await a.document("scp.1")
        assert doc.name == "scp.1" and doc.source.endswith("/scp.1")
        stats = await a.stats()
        assert stats.documents == 4
        removed = await a.remove(doc)
        assert removed.id == doc.id
        assert (await a.stats()).documents == 3
        # Results match the sync API over the same core.
        sync_hits = a.blocking.search("list the identities held by the agent", k=2)
        assert [h.chunk_id for h in sync_hits] == [h.chunk_id for h in hits]
        with pytest.raises(itassist.DocumentNotFoundError):
            await a.remove("scp.1")
        with pytest.raises(itassist.InvalidInputError):
            await a.search("")

    asyncio.run(main())


def test_concurrent_calls_and_a_responsive_loop(assistant: itassist.Assistant) -> None:
    a = itassist.AsyncAssistant.from_sync(assistant)

    async def main() -> None:
        ticks = 0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.001)

        t = asyncio.create_task(ticker())
        queries = ["scp recursive copy", "ssh-add list keys", "ssh-copy-id port", "agent lifetime"]
        results = await asyncio.gather(*(a.search(q, k=2) for q in queries))
        # Tasks work too (coroutines, not bare futures).
        task = asyncio.create_task(a.embed(["x"] * 64))
        vectors = await task
        done.set()
        await t
        assert all(len(r) == 2 for r in results)
        assert vectors.shape == (64, 384)
        assert ticks > 5, "the event loop was blocked"

    asyncio.run(main())


def test_inside_an_already_running_loop(assistant: itassist.Assistant) -> None:
    """Jupyter-style: a loop is already running and code awaits inside it."""
    a = itassist.AsyncAssistant.from_sync(assistant)
    loop = asyncio.new_event_loop()
    results: list[object] = []

    async def cell() -> None:
        # Awaiting inside the running loop, and the sync API from inside it too.
        results.append(await a.search("copy files", k=1))
        results.append(assistant.search("copy files", k=1))
        results.append(await asyncio.wait_for(a.stats(), timeout=30))

    try:
        loop.run_until_complete(cell())
    finally:
        loop.close()
    assert len(results) == 3
    assert isinstance(results[2], itassist.IndexStats)


def test_cancelling_an_async_call(assistant: itassist.Assistant) -> None:
    a = itassist.AsyncAssistant.from_sync(assistant)

    async def main() -> None:
        task = asyncio.create_task(a.embed(["text"] * 512))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The assistant keeps working afterwards.
        assert len(await a.search("scp", k=1)) == 1

    asyncio.run(main())
