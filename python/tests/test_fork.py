"""An Assistant keeps working in a child after fork (multiprocessing, gunicorn, os.fork)."""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import signal
import time
from typing import Optional

import pytest

import itassist
from conftest import MAN

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")

# Set before forking; read by the children (inherited memory).
_SHARED: dict[str, itassist.Assistant] = {}


def _child_search(query: str) -> tuple[int, list[int], str]:
    a = _SHARED["a"]
    hits = a.search(query, k=3)
    vec = a.embed(query)
    return os.getpid(), [h.chunk_id for h in hits], f"{vec.shape}"


def _child_async(query: str) -> list[int]:
    import asyncio

    a = itassist.AsyncAssistant.from_sync(_SHARED["a"])
    return [h.chunk_id for h in asyncio.run(a.search(query, k=3))]


def _in_spawned(a: itassist.Assistant) -> int:
    return a.stats().documents


def test_multiprocessing_fork_pool(assistant: itassist.Assistant) -> None:
    # The parent has used the index and the model (ONNX threads, rayon, tokio) before forking.
    parent = [h.chunk_id for h in assistant.search("copy files to a remote host", k=3)]
    assistant.embed(["warm up the tokenizer's thread pool"] * 40)
    _SHARED["a"] = assistant
    ctx = mp.get_context("fork")
    with ctx.Pool(2) as pool:
        results = pool.map_async(_child_search, ["copy files to a remote host"] * 4).get(timeout=120)
        async_results = pool.map_async(_child_async, ["copy files to a remote host"] * 2).get(
            timeout=120
        )
    pids = {pid for pid, _, _ in results}
    assert os.getpid() not in pids
    for _, ids, shape in results:
        assert ids == parent and shape == "(1, 384)"
    assert all(ids == parent for ids in async_results)
    # The parent is unaffected.
    assert [h.chunk_id for h in assistant.search("copy files to a remote host", k=3)] == parent


def _wait(pid: int, timeout: float) -> Optional[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def test_raw_os_fork_search_and_ingest(fresh: itassist.Assistant) -> None:
    fresh.ingest(MAN / "scp.1")
    parent = [h.chunk_id for h in fresh.search("recursive copy", k=2)]
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            os.close(read_end)
            hits = [h.chunk_id for h in fresh.search("recursive copy", k=2)]
            report = fresh.ingest(MAN / "ssh-agent.1")  # writes and rebuilds the trees
            ok = hits == parent and report.added == 1 and fresh.stats().documents == 2
            os.write(write_end, b"ok" if ok else f"bad {hits} {parent} {report}".encode())
            code = 0
        except BaseException as e:  # report anything to the parent
            os.write(write_end, f"error {type(e).__name__}: {e}".encode())
        finally:
            os._exit(code)
    os.close(write_end)
    status = _wait(pid, timeout=120)
    message = os.read(read_end, 4096).decode()
    os.close(read_end)
    assert status == 0, f"child hung or failed: {status} {message}"
    assert message == "ok", message
    # The child's write is visible to the parent (LMDB is multi-process).
    assert {d.name for d in fresh.documents()} == {"scp.1", "ssh-agent.1"}
    assert fresh.search("agent forwarding socket", k=1)[0].name == "ssh-agent.1"


def test_pickle_for_spawned_workers(assistant: itassist.Assistant) -> None:
    data = pickle.dumps(assistant)
    assert b"data_dir" in data
    ctx = mp.get_context("spawn")
    assert pickle.loads(data).stats().documents == 3  # same process: shares the open index
    with ctx.Pool(1) as pool:
        assert pool.apply_async(_in_spawned, (assistant,)).get(timeout=120) == 3


def test_child_detects_fork() -> None:
    assert not itassist._native._is_forked_child()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write_end, b"1" if itassist._native._is_forked_child() else b"0")
        os._exit(0)
    os.close(write_end)
    assert _wait(pid, 30) == 0
    assert os.read(read_end, 1) == b"1"
    os.close(read_end)
