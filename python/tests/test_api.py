"""The synchronous API on real documents."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import itassist
from conftest import BASE_DOCS, MAN, model_dir


def test_version_and_exports() -> None:
    assert itassist.__version__
    for name in itassist.__all__:
        assert hasattr(itassist, name), name
    assert itassist.Passage.__module__ == "itassist"


def test_keyword_arguments_leave_the_defaults_to_the_core(tmp_path: Path) -> None:
    sync = inspect.signature(itassist.Assistant).parameters
    asyn = inspect.signature(itassist.AsyncAssistant).parameters
    assert set(sync) - {"lazy"} == set(asyn)
    for name in set(asyn) - {"data_dir"}:
        assert sync[name].default is None and asyn[name].default is None, name
    opened = itassist.Assistant(tmp_path, lazy=True).config
    core = json.loads(itassist._native._core_config(str(tmp_path)))
    # The package only adds where its bundled ONNX Runtime lives.
    opened["embedding"].pop("onnxruntime", None)
    core["embedding"].pop("onnxruntime", None)
    assert opened == core
    top = itassist.Assistant(tmp_path, lazy=True, top_k=9, ocr_languages=("spa",)).config
    assert top["retrieval"]["top_k"] == 9 and top["loading"]["ocr_languages"] == ["spa"]


def test_ingest_report(fresh: itassist.Assistant, docs_dir: Path) -> None:
    seen: list[tuple[int, int, str, str]] = []
    report = fresh.ingest(docs_dir, progress=lambda *a: seen.append(a))
    assert isinstance(report, itassist.IngestReport)
    assert report.added == 3 and report.failed == 0 and report.is_success
    assert report.chunks > 0 and report.tokens > 0 and report.bytes > 0
    assert report.elapsed > 0 and report.embedding_time > 0
    assert len(report) == 3 and len(list(report)) == 3
    assert [s[:2] for s in seen] == [(1, 3), (2, 3), (3, 3)]
    assert {s[3] for s in seen} == {"added"}
    f = report.files[0]
    assert f.status == "added" and f.ok and f.error is None and f.error_code is None
    assert f.document is not None and f.document_id == f.document.id
    assert repr(report).startswith("IngestReport(files=3, added=3")
    assert "status='added'" in repr(f)
    d = report.to_dict()
    assert d["totals"]["added"] == 3 and len(d["files"]) == 3
    # Unchanged files cost nothing the second time.
    again = fresh.ingest([str(p) for p in sorted(docs_dir.iterdir())])
    assert again.unchanged == 3 and again.added == 0
    assert {f.status for f in again.files} == {"unchanged"}
    # A changed file is replaced.
    target = docs_dir / "ssh-argv0.1"
    target.write_text(target.read_text() + "\n.PP\nA new closing paragraph about argv0.\n")
    changed = fresh.ingest(target)
    assert changed.replaced == 1
    assert changed.files[0].previous_id is not None


def test_ingest_bytes(fresh: itassist.Assistant) -> None:
    data = (MAN / "ssh-keyscan.1").read_bytes()
    report = fresh.ingest_bytes("../../etc/ssh-keyscan.1", data)
    assert report.status == "added"
    assert report.document is not None
    # The name is only a display name; the source key also holds the content hash, so an
    # upload never replaces another because they share a name.
    assert report.document.name == "ssh-keyscan.1"
    assert report.document.source.startswith("upload:")
    assert report.document.source.endswith("/ssh-keyscan.1")
    dup = fresh.ingest_bytes("copy.1", data)
    assert dup.status == "duplicate" and dup.duplicate_of == report.document.source
    other = fresh.ingest_bytes("dir/ssh-keyscan.1", data + b"\n.\\\" changed\n")
    assert other.status == "added" and other.document is not None
    assert other.document.id != report.document.id


def test_search(assistant: itassist.Assistant) -> None:
    hits = assistant.search("copy a public key to a remote server's authorized_keys", k=3)
    assert 1 <= len(hits) <= 3
    assert all(isinstance(h, itassist.Passage) for h in hits)
    assert hits[0].name == "ssh-copy-id.1"
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    top = hits[0]
    assert top.text and top.chunk_id >= 0 and top.document_id > 0
    assert top.span[0] < top.span[1]
    assert top.path == Path(top.source)
    assert top.citation().startswith("ssh-copy-id.1")
    assert repr(top).startswith("Passage(score=0.")
    assert top == hits[0] and hash(top) == hash(hits[0])
    assert top.to_dict()["chunk_id"] == top.chunk_id
    # k defaults to the assistant's top_k (5).
    assert len(assistant.search("ssh agent identities")) == 5


def test_embed(assistant: itassist.Assistant, tmp_path: Path) -> None:
    texts = ["The cat sits on the mat", "scp copies files between hosts"]
    vectors = assistant.embed(texts)
    assert isinstance(vectors, np.ndarray)
    assert vectors.dtype == np.float32 and vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    # all-MiniLM-L6-v2 at fp32, chosen by name, gives sentence-transformers' reference
    # vector; the default (int8) stays within a small angle of it.
    fp32 = itassist.Assistant(tmp_path / "fp32", model_dir=model_dir(), embedding_model="all-MiniLM-L6-v2")
    assert fp32.stats().embedding_model == "sentence-transformers/all-MiniLM-L6-v2"
    reference = fp32.embed(texts)
    ref = [0.13489, -0.03206, -0.02034, 0.03590, -0.02833, 0.04150]
    assert np.allclose(reference[0, :6], ref, atol=2e-3)
    assert np.all(np.sum(vectors * reference, axis=1) > 0.97)
    assert assistant.embed("one text").shape == (1, 384)
    assert assistant.embed([]).shape == (0, 384)
    with pytest.raises(TypeError):
        assistant.embed([1, 2])  # type: ignore[list-item]


def test_documents_document_stats(assistant: itassist.Assistant) -> None:
    docs = assistant.documents()
    assert sorted(d.name for d in docs) == sorted(p.name for p in BASE_DOCS)
    doc = docs[0]
    assert doc.format == "man" and doc.chunk_count > 0 and len(doc.sha256) == 64
    assert repr(doc).startswith(f"Document(id={doc.id}, name=")
    assert assistant.document(doc.id) == doc
    assert assistant.document(doc) == doc
    assert assistant.document(doc.name) == doc
    assert assistant.document(Path(doc.source)) == doc
    stats = assistant.stats()
    assert stats.documents == 3 and stats.dimensions == 384
    assert stats.chunks == sum(d.chunk_count for d in docs)
    assert stats.embedding_model == "sentence-transformers/all-MiniLM-L6-v2+int8"
    assert "IndexStats(documents=3" in repr(stats)
    assert stats.to_dict()["documents"] == 3


def test_remove(fresh: itassist.Assistant, docs_dir: Path) -> None:
    fresh.ingest(docs_dir)
    by_name = fresh.remove("ssh-agent.1")
    assert by_name.name == "ssh-agent.1"
    docs = fresh.documents()
    assert len(docs) == 2
    removed = fresh.remove(docs[0])
    assert removed.id == docs[0].id
    fresh.remove(docs[1].id)
    assert fresh.documents() == []
    assert fresh.stats().chunks == 0
    assert fresh.search("ssh") == []


def test_repr_and_config(assistant: itassist.Assistant) -> None:
    assert repr(assistant).startswith("Assistant(data_dir=")
    assert assistant.is_open
    cfg = assistant.config
    assert cfg["retrieval"]["top_k"] == 5 and cfg["loading"]["ocr"] is False
    assert "api_key" not in cfg["answer"]


def test_lazy_open(corpus: Path, tmp_path: Path) -> None:
    a = itassist.Assistant(tmp_path / "lazy", model_dir=model_dir(), lazy=True)
    assert not a.is_open
    assert a.stats().documents == 0
    assert a.is_open


def test_onnxruntime_found_from_the_python_package() -> None:
    lib = itassist._onnxruntime_library()
    assert lib is not None, "the onnxruntime dependency is not installed"
    assert Path(lib).is_file() and "onnxruntime" in Path(lib).name


def test_answer_types_are_exposed() -> None:
    # Full answers need a model server: see test_ask.py.
    for cls in [itassist.Answer, itassist.Timings, itassist.ModelInfo, itassist.AnswerStream]:
        assert cls.__module__ == "itassist"


def test_onnxruntime_without_ort_dylib_path(corpus: Path, tmp_path: Path) -> None:
    # No ORT_DYLIB_PATH and a HOME without the provisioned copy: only the wheel can provide it.
    env = {k: v for k, v in os.environ.items() if k != "ORT_DYLIB_PATH"}
    env["HOME"] = str(tmp_path)
    code = (
        "import itassist, sys\n"
        "a = itassist.Assistant(sys.argv[1], model_dir=sys.argv[2])\n"
        "print(a.config['embedding']['onnxruntime'])\n"
        "print(a.embed('hello').shape)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "index"), model_dir()],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    lib, shape = out.stdout.split("\n")[:2]
    assert "onnxruntime" in lib and "capi" in lib
    assert shape == "(1, 384)"
