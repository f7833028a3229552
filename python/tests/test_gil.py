"""Long calls release the GIL and stop on Ctrl-C."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import itassist
from conftest import MAN

LONG_DOCS = [MAN / n for n in ["ssh.1", "ssh_config.5", "ssh-keygen.1", "sftp.1", "ssh-agent.1"]]


@pytest.fixture(autouse=True)
def ctrl_c_raises_keyboard_interrupt() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt, as in a terminal, even when the tests were started in
    the background by a shell without job control: that shell ignores SIGINT in its children,
    and Python then leaves it ignored instead of installing its handler."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


class Counter(threading.Thread):
    """Counts in pure Python while the main thread is inside Rust."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.count = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.count += 1
            time.sleep(0.001)


def test_ingest_releases_the_gil(fresh: itassist.Assistant) -> None:
    counter = Counter()
    counter.start()
    start = time.monotonic()
    report = fresh.ingest(LONG_DOCS)
    elapsed = time.monotonic() - start
    counter.stop.set()
    counter.join()
    assert report.added == len(LONG_DOCS)
    # With the GIL held the counter would not move during the ingest (~1000 ticks/s if free).
    assert counter.count > 50 * elapsed, (counter.count, elapsed)


def test_embed_and_search_release_the_gil(assistant: itassist.Assistant) -> None:
    counter = Counter()
    counter.start()
    assistant.embed(["a sentence about ssh keys and agents"] * 256)
    for _ in range(20):
        assistant.search("forward the authentication agent")
    counter.stop.set()
    counter.join()
    assert counter.count > 10


def test_threads_share_one_assistant(assistant: itassist.Assistant) -> None:
    errors: list[BaseException] = []
    results: list[int] = []

    def work() -> None:
        try:
            for _ in range(5):
                results.append(len(assistant.search("scp preserve times", k=2)))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [2] * 20


def test_ctrl_c_stops_an_ingest_after_the_current_file(fresh: itassist.Assistant) -> None:
    seen: list[str] = []

    def progress(done: int, total: int, path: str, status: str) -> None:
        seen.append(path)
        if done == 1:
            # Ctrl-C arrives while the next files are being processed.
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        fresh.ingest(LONG_DOCS, progress=progress)
    # Stopped early; what was written before stays, and the assistant keeps working.
    indexed = fresh.documents()
    assert 1 <= len(indexed) < len(LONG_DOCS)
    assert len(seen) < len(LONG_DOCS)
    assert fresh.search("ssh", k=1)
    rest = fresh.ingest(LONG_DOCS)
    assert rest.unchanged == len(indexed) and rest.added == len(LONG_DOCS) - len(indexed)


def test_an_exception_in_progress_stops_the_ingest(fresh: itassist.Assistant) -> None:
    def progress(done: int, total: int, path: str, status: str) -> None:
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        fresh.ingest(LONG_DOCS[:3], progress=progress)
    assert len(fresh.documents()) == 1


def test_ctrl_c_during_a_wait_on_the_model_server(tmp_path: Path, corpus: Path) -> None:
    """A sync call waiting on the network is interruptible too (a server that never answers)."""
    import socket

    from conftest import model_dir

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)  # accepts connections, never answers
    port = server.getsockname()[1]
    a = itassist.Assistant(
        tmp_path / "index", model_dir=model_dir(), ollama_url=f"http://127.0.0.1:{port}",
        request_timeout=60.0,
    )
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    start = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            a.models()
    finally:
        timer.cancel()
        server.close()
    assert time.monotonic() - start < 10
