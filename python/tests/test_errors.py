"""Exceptions: one class per core error code, and real triggers of the common ones."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import itassist
from conftest import MAN, closed_port, model_dir


def test_every_core_code_has_its_own_class() -> None:
    codes = set(itassist.ERROR_CODES)
    assert codes == set(itassist.ERROR_CLASSES), "mapping out of date with Error::CODES"
    classes = list(itassist.ERROR_CLASSES.values())
    assert len(set(classes)) == len(classes)
    for code, cls in itassist.ERROR_CLASSES.items():
        assert issubclass(cls, itassist.ItassistError)
        assert cls is not itassist.ItassistError
        assert cls.code == code
        assert cls.__module__ == "itassist"
        assert getattr(itassist, cls.__name__) is cls
        assert cls.__name__ in itassist.__all__
        assert cls.__doc__
        # Constructible like a plain exception, with a message.
        assert str(cls("boom")) == "boom"


def test_builtin_bases() -> None:
    assert issubclass(itassist.InvalidInputError, ValueError)
    assert issubclass(itassist.PathNotFoundError, FileNotFoundError)
    assert issubclass(itassist.IoError, OSError)
    assert issubclass(itassist.DocumentNotFoundError, LookupError)
    assert issubclass(itassist.ModelNotFoundError, LookupError)
    assert issubclass(itassist.OllamaUnreachableError, ConnectionError)
    assert issubclass(itassist.RequestTimeoutError, TimeoutError)
    assert issubclass(itassist.ItassistError, Exception)


def test_per_file_failures_are_in_the_report(fresh: itassist.Assistant, tmp_path: Path) -> None:
    docs = tmp_path / "bad"
    docs.mkdir()
    pdf = (MAN.parent.parent / "pdf" / "refcard-en-a4.pdf").read_bytes()
    (docs / "truncated.pdf").write_bytes(pdf[:1000])
    (docs / "tool.exe").write_bytes(bytes([0x4D, 0x5A, 0x90, 0x00, 0x03, 0x00]))
    report = fresh.ingest(
        [docs / "truncated.pdf", docs / "tool.exe", MAN / "ssh-keysign.8", tmp_path / "nope.md"]
    )
    by_name = {Path(f.path).name: f for f in report.files}
    assert report.failed == 3 and report.added == 1 and not report.is_success
    assert {Path(f.path).name for f in report.failures()} == {"truncated.pdf", "tool.exe", "nope.md"}
    cases = {
        "truncated.pdf": itassist.CorruptDocumentError,
        "tool.exe": itassist.UnsupportedFormatError,
        "nope.md": itassist.PathNotFoundError,
    }
    for name, cls in cases.items():
        f = by_name[name]
        assert f.status == "failed" and not f.ok
        assert f.error_code == cls.code
        assert isinstance(f.error, cls)
        assert f.error.code == cls.code
        assert name in f.error.message and str(f.error) == f.error.message
        assert f"error_code='{cls.code}'" in repr(f)
    assert by_name["ssh-keysign.8"].status == "added"


def test_document_not_found(assistant: itassist.Assistant) -> None:
    with pytest.raises(itassist.DocumentNotFoundError) as info:
        assistant.remove("no-such-document.txt")
    assert info.value.code == "document_not_found"
    assert "no-such-document.txt" in str(info.value)
    with pytest.raises(LookupError):
        assistant.document(987654321)


def test_invalid_input(assistant: itassist.Assistant, tmp_path: Path) -> None:
    with pytest.raises(itassist.InvalidInputError) as info:
        assistant.search("   ")
    assert info.value.code == "invalid_input"
    with pytest.raises(ValueError, match="overlap"):
        itassist.Assistant(tmp_path / "x", chunk_tokens=64, chunk_overlap=40, lazy=True)
    with pytest.raises(itassist.InvalidInputError, match="backend"):
        itassist.Assistant(tmp_path / "x", backend="telepathy", lazy=True)


def test_embedding_model_unavailable(corpus: Path, tmp_path: Path) -> None:
    empty = tmp_path / "no-model"
    empty.mkdir()
    with pytest.raises(itassist.EmbeddingModelUnavailableError) as info:
        itassist.Assistant(tmp_path / "index", model_dir=empty)
    assert info.value.code == "embedding_model_unavailable"
    assert "model_dir" in str(info.value)  # says what to do next
    # The async variant raises it from the first awaited call.
    lazy = itassist.AsyncAssistant(tmp_path / "index2", model_dir=empty)
    with pytest.raises(itassist.EmbeddingModelUnavailableError):
        asyncio.run(lazy.stats())


def test_same_directory_twice_in_one_process(assistant: itassist.Assistant) -> None:
    # A re-run notebook cell: same or other settings both work on the one open index.
    again = itassist.Assistant(assistant.data_dir, model_dir=model_dir(), ocr=False)
    assert again.stats().documents == assistant.stats().documents
    other = itassist.Assistant(assistant.data_dir, model_dir=model_dir(), ocr=False, top_k=9)
    assert other.stats().documents == assistant.stats().documents


def test_embedding_model_mismatch(corpus: Path, tmp_path: Path) -> None:
    itassist.Assistant(tmp_path / "index", model_dir=model_dir(), lazy=True).stats()
    # The fp32 model, provisioned beside the default int8 one: the index refuses its vectors
    # and says how to move it to that model.
    other = itassist.Assistant(
        tmp_path / "index", model_dir=model_dir(), embedding_model="all-MiniLM-L6-v2",
        lazy=True,
    )
    with pytest.raises(itassist.EmbeddingModelMismatchError, match="itassist reindex --model"):
        other.stats()
    unknown = itassist.Assistant(
        tmp_path / "index", model_dir=model_dir(), embedding_model="acme/other-model", lazy=True
    )
    with pytest.raises(itassist.EmbeddingModelUnavailableError, match="acme/other-model"):
        unknown.stats()


def test_ollama_unreachable(corpus: Path, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    a = itassist.Assistant(tmp_path / "index", ollama_url=url, model_dir=model_dir(), ocr=False)
    a.ingest(MAN / "scp.1")
    for call in (lambda: a.models(), lambda: a.ask("How do I copy files with scp?")):
        with pytest.raises(itassist.OllamaUnreachableError) as info:
            call()
        assert info.value.code == "ollama_unreachable"
        assert url.replace("http://", "") in str(info.value)
    stream = a.ask_stream("How do I copy files with scp?")
    with pytest.raises(ConnectionError):
        list(stream)
    assert stream.answer is None

    async def main() -> None:
        b = itassist.AsyncAssistant.from_sync(a)
        with pytest.raises(itassist.OllamaUnreachableError):
            await b.models()
        with pytest.raises(itassist.OllamaUnreachableError):
            await b.ask("How do I copy files with scp?")
        with pytest.raises(itassist.OllamaUnreachableError):
            async for _ in b.ask_stream("How do I copy files with scp?"):
                pass

    asyncio.run(main())
