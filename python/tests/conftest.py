"""Shared fixtures: the real corpus, the provisioned embedding model, an index of man pages."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from typing import Iterator

import pytest

import itassist

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("ITASSIST_CORPUS", REPO.parent / "shared" / "corpus")).resolve()
MAN = CORPUS / "debdocs" / "man" / "openssh"
# Small real documents: three man pages, indexed once per test session.
BASE_DOCS = [MAN / "scp.1", MAN / "ssh-add.1", MAN / "ssh-copy-id.1"]


def require(condition: bool, what: str) -> None:
    """Fails (never skips) when something a test needs is missing, naming how to get it."""
    if not condition:
        pytest.fail(f"missing test prerequisite: {what}", pytrace=False)


def model_dir() -> str:
    value = os.environ.get("ITASSIST_MODEL_DIR", "")
    require(
        bool(value) and Path(value, "model.onnx").exists(),
        "ITASSIST_MODEL_DIR must name the local embedding model: run `bash scripts/provision-models.sh`",
    )
    return value


def closed_port() -> int:
    """A localhost port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def corpus() -> Path:
    require(MAN.is_dir(), f"the shared test corpus at {CORPUS} (set ITASSIST_CORPUS)")
    return CORPUS


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("itassist")


@pytest.fixture(scope="session")
def assistant(corpus: Path, session_dir: Path) -> itassist.Assistant:
    """An assistant over an index of BASE_DOCS (shared: tests must not remove them)."""
    a = itassist.Assistant(session_dir / "index", model_dir=model_dir(), ocr=False)
    report = a.ingest(BASE_DOCS)
    assert report.added == len(BASE_DOCS), report.files
    return a


@pytest.fixture()
def fresh(corpus: Path, tmp_path: Path) -> Iterator[itassist.Assistant]:
    """An assistant over a new, empty index."""
    yield itassist.Assistant(tmp_path / "index", model_dir=model_dir(), ocr=False)


@pytest.fixture()
def docs_dir(corpus: Path, tmp_path: Path) -> Path:
    """A folder with copies of a few corpus files (safe to modify)."""
    d = tmp_path / "docs"
    d.mkdir()
    for name in ["ssh-keyscan.1", "ssh-argv0.1", "ssh-agent.1"]:
        shutil.copy(MAN / name, d / name)
    return d
