"""itassist: a local assistant over an IT team's documents.

Ingest PDF, HTML, Markdown, office files, man pages and scanned images (OCR); embed them on
the machine (ONNX Runtime, all-MiniLM-L6-v2); search an embedded LMDB vector index; answer
questions with a local model served by Ollama, citing the passages used.

>>> import itassist
>>> assistant = itassist.Assistant("./itassist-data")      # doctest: +SKIP
>>> assistant.ingest(["./docs"])                           # doctest: +SKIP
>>> assistant.search("how do I rotate ssh keys?", k=3)     # doctest: +SKIP

Everything is implemented by the Rust core (``itassist._native``); this module re-exports its
classes, adds :class:`AsyncAssistant` (coroutines over the same core) and points the core at
the ONNX Runtime library of the ``onnxruntime`` package.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

from . import _native
from ._native import (
    ERROR_CLASSES,
    ERROR_CODES,
    Answer,
    AnswerStream,
    Assistant,
    AsyncAnswerStream,
    ContextOverflowError,
    ConversationNotFoundError,
    CorruptDocumentError,
    Document,
    DocumentNotFoundError,
    DocumentTimeoutError,
    DocumentTooLargeError,
    EmbeddingFailedError,
    EmbeddingModelMismatchError,
    EmbeddingModelUnavailableError,
    EmptyDocumentError,
    FileReport,
    IndexCorruptError,
    IndexFullError,
    IndexLockedError,
    IndexStats,
    IndexStorageError,
    IngestReport,
    InvalidInputError,
    IoError,
    ItassistError,
    ModelInfo,
    ModelNotFoundError,
    NotARegularFileError,
    OcrFailedError,
    OcrUnavailableError,
    OllamaError,
    OllamaUnreachableError,
    OperationCancelledError,
    Passage,
    PathNotFoundError,
    RequestTimeoutError,
    RuntimeUnavailableError,
    Timings,
    UnsupportedFormatError,
)

__version__: str = _native.__version__

StrPath = Union[str, "os.PathLike[str]"]
"""A path: ``str`` or ``os.PathLike``."""

ProgressCallback = Callable[[int, int, str, str], object]
"""``progress(done, total, path, status)``, called after each ingested file."""

_LIBRARY_GLOBS = {
    "linux": "libonnxruntime.so*",
    "darwin": "libonnxruntime*.dylib",
    "win32": "onnxruntime.dll",
}


def _onnxruntime_library() -> Optional[str]:
    """The ONNX Runtime shared library shipped by the installed ``onnxruntime`` package.

    Found without importing ``onnxruntime`` (``importlib.util.find_spec``). ``None`` when the
    package is not installed; the core then tries ``ORT_DYLIB_PATH`` and the usual locations.
    """
    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        return None
    pattern = _LIBRARY_GLOBS.get(sys.platform, "libonnxruntime.so*")
    for location in spec.submodule_search_locations:
        found = sorted(Path(location, "capi").glob(pattern), key=lambda p: len(p.name))
        # The longest name is the real file (libonnxruntime.so.1.32.0), not a symlink.
        if found:
            return str(found[-1])
    return None


class AsyncAssistant:
    """The asynchronous twin of :class:`Assistant`: the same methods, as coroutines.

    Construction does no I/O; the index is opened and the embedding model loaded on the first
    awaited call (or by ``await AsyncAssistant.open(...)``). Blocking work runs on a Rust
    thread pool, never on the event loop, so it can be used inside an already running loop
    (Jupyter, FastAPI). Keyword arguments are those of :class:`Assistant`.
    """

    __slots__ = ("_inner",)

    def __init__(
        self,
        data_dir: StrPath,
        *,
        model_dir: Optional[StrPath] = None,
        embedding_model: Optional[str] = None,
        onnxruntime: Optional[StrPath] = None,
        top_k: Optional[int] = None,
        chunk_tokens: Optional[int] = None,
        chunk_overlap: Optional[int] = None,
        ocr: Optional[bool] = None,
        ocr_languages: Optional[Sequence[str]] = None,
        ollama_url: Optional[str] = None,
        backend: Optional[str] = None,
        model: Optional[str] = None,
        temperature: Optional[float] = None,
        num_ctx: Optional[int] = None,
        num_predict: Optional[int] = None,
        seed: Optional[int] = None,
        api_key: Optional[str] = None,
        batch_size: Optional[int] = None,
        threads: Optional[int] = None,
        connect_timeout: Optional[float] = None,
        request_timeout: Optional[float] = None,
        generation_timeout: Optional[float] = None,
    ) -> None:
        self._inner = Assistant(
            data_dir,
            model_dir=model_dir,
            embedding_model=embedding_model,
            onnxruntime=onnxruntime,
            top_k=top_k,
            chunk_tokens=chunk_tokens,
            chunk_overlap=chunk_overlap,
            ocr=ocr,
            ocr_languages=None if ocr_languages is None else list(ocr_languages),
            ollama_url=ollama_url,
            backend=backend,
            model=model,
            temperature=temperature,
            num_ctx=num_ctx,
            num_predict=num_predict,
            seed=seed,
            api_key=api_key,
            batch_size=batch_size,
            threads=threads,
            connect_timeout=connect_timeout,
            request_timeout=request_timeout,
            generation_timeout=generation_timeout,
            lazy=True,
        )

    @classmethod
    async def open(cls, data_dir: StrPath, **options: Any) -> AsyncAssistant:
        """Creates the assistant and opens it (index and embedding model) right away."""
        assistant = cls(data_dir, **options)
        await assistant._inner._aopen()
        return assistant

    @classmethod
    def from_sync(cls, assistant: Assistant) -> AsyncAssistant:
        """An async view of an existing :class:`Assistant` (sharing its open index)."""
        view = cls.__new__(cls)
        view._inner = assistant
        return view

    @property
    def blocking(self) -> Assistant:
        """The synchronous :class:`Assistant` behind this one (same index, same model)."""
        return self._inner

    @property
    def data_dir(self) -> Path:
        """The index directory."""
        return Path(self._inner.data_dir)

    async def ingest(
        self,
        paths: Union[StrPath, Sequence[StrPath]],
        *,
        progress: Optional[ProgressCallback] = None,
    ) -> IngestReport:
        """Ingests files, folders (recursively) and glob patterns; see :meth:`Assistant.ingest`.

        Cancelling the task stops the run after the current file.
        """
        return await self._inner._aingest(paths, progress)

    async def ingest_bytes(self, name: str, data: bytes) -> FileReport:
        """Ingests one uploaded document given as bytes; see :meth:`Assistant.ingest_bytes`."""
        return await self._inner._aingest_bytes(name, data)

    async def sync(
        self,
        paths: Union[StrPath, Sequence[StrPath]],
        *,
        dry_run: bool = False,
        retry_failed: bool = False,
        progress: Optional[ProgressCallback] = None,
    ) -> dict[str, Any]:
        """Makes the index match folders; see :meth:`Assistant.sync`."""
        return await self._inner._async(paths, dry_run, retry_failed, progress)

    async def failures(self) -> list[dict[str, Any]]:
        """The files that failed at the last ingest, sync or watch."""
        return await self._inner._afailures()

    async def reindex(
        self,
        embedding_model: Optional[str] = None,
        *,
        model_dir: Optional[StrPath] = None,
        progress: Optional[Callable[[int, int], object]] = None,
    ) -> dict[str, Any]:
        """Re-embeds the index with another model; see :meth:`Assistant.reindex`."""
        return await self._inner._areindex(embedding_model, model_dir, progress)

    async def search(self, query: str, k: Optional[int] = None) -> list[Passage]:
        """The ``k`` passages that best match ``query``, best first."""
        return await self._inner._asearch(query, k)

    async def embed(self, texts: Union[str, Sequence[str]]) -> npt.NDArray[np.float32]:
        """Embeds texts: a float32 array of shape ``[len(texts), dimensions]``."""
        return await self._inner._aembed(texts)

    async def documents(self) -> list[Document]:
        """All documents in the index."""
        return await self._inner._adocuments()

    async def document(self, doc: Union[Document, int, StrPath]) -> Document:
        """Finds a document by id, ``Document``, source path, ``upload:NAME`` or name."""
        return await self._inner._adocument(doc)

    async def remove(self, doc: Union[Document, int, StrPath]) -> Document:
        """Removes a document with its chunks and vectors; returns what was removed."""
        return await self._inner._aremove(doc)

    async def stats(self) -> IndexStats:
        """Counts and sizes of the index."""
        return await self._inner._astats()

    async def models(self) -> list[ModelInfo]:
        """The models the chat-model server has."""
        return await self._inner._amodels()

    async def ask(
        self,
        question: str,
        *,
        model: Optional[str] = None,
        top_k: Optional[int] = None,
        no_context: bool = False,
        temperature: Optional[float] = None,
        num_ctx: Optional[int] = None,
        num_predict: Optional[int] = None,
        seed: Optional[int] = None,
    ) -> Answer:
        """Answers a question from the indexed documents; see :meth:`Assistant.ask`."""
        return await self._inner._aask(
            question, model, top_k, no_context, temperature, num_ctx, num_predict, seed
        )

    def ask_stream(
        self,
        question: str,
        *,
        model: Optional[str] = None,
        top_k: Optional[int] = None,
        no_context: bool = False,
        temperature: Optional[float] = None,
        num_ctx: Optional[int] = None,
        num_predict: Optional[int] = None,
        seed: Optional[int] = None,
    ) -> AsyncAnswerStream:
        """Streams an answer: ``async for token in stream``, then ``stream.answer``."""
        return self._inner._aask_stream(
            question, model, top_k, no_context, temperature, num_ctx, num_predict, seed
        )

    async def chat(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        model: Optional[str] = None,
        top_k: Optional[int] = None,
        no_context: bool = False,
        temperature: Optional[float] = None,
        num_ctx: Optional[int] = None,
        num_predict: Optional[int] = None,
        seed: Optional[int] = None,
    ) -> Answer:
        """Answers the last user message of a conversation; see :meth:`Assistant.chat`."""
        return await self._inner._achat(messages, model, top_k, no_context, temperature, num_ctx, num_predict, seed)

    def chat_stream(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        model: Optional[str] = None,
        top_k: Optional[int] = None,
        no_context: bool = False,
        temperature: Optional[float] = None,
        num_ctx: Optional[int] = None,
        num_predict: Optional[int] = None,
        seed: Optional[int] = None,
    ) -> AsyncAnswerStream:
        """Streams :meth:`chat`: ``async for token in stream``, then ``stream.answer``."""
        return self._inner._achat_stream(messages, model, top_k, no_context, temperature, num_ctx, num_predict, seed)

    async def continue_conversation(
        self,
        conversation_id: int,
        question: str,
        *,
        model: Optional[str] = None,
        top_k: Optional[int] = None,
        no_context: bool = False,
        temperature: Optional[float] = None,
        num_ctx: Optional[int] = None,
        num_predict: Optional[int] = None,
        seed: Optional[int] = None,
    ) -> Answer:
        """Asks in a stored conversation; see :meth:`Assistant.continue_conversation`."""
        return await self._inner._acontinue_conversation(conversation_id, question, model, top_k, no_context, temperature, num_ctx, num_predict, seed)

    def continue_conversation_stream(
        self,
        conversation_id: int,
        question: str,
        *,
        model: Optional[str] = None,
        top_k: Optional[int] = None,
        no_context: bool = False,
        temperature: Optional[float] = None,
        num_ctx: Optional[int] = None,
        num_predict: Optional[int] = None,
        seed: Optional[int] = None,
    ) -> AsyncAnswerStream:
        """Streams :meth:`continue_conversation`; the turn is stored when the stream ends."""
        return self._inner._acontinue_conversation_stream(conversation_id, question, model, top_k, no_context, temperature, num_ctx, num_predict, seed)

    async def new_conversation(self, title: Optional[str] = None) -> dict[str, Any]:
        """Starts a stored conversation; see :meth:`Assistant.new_conversation`."""
        return await self._inner._anew_conversation(title)

    async def conversations(self) -> list[dict[str, Any]]:
        """The stored conversations, most recently updated first."""
        return await self._inner._aconversations()

    async def conversation(self, conversation_id: int) -> dict[str, Any]:
        """A stored conversation with its turns."""
        return await self._inner._aconversation(conversation_id)

    async def delete_conversation(self, conversation_id: int) -> dict[str, Any]:
        """Deletes a stored conversation; returns what was deleted."""
        return await self._inner._adelete_conversation(conversation_id)

    def __repr__(self) -> str:
        return "Async" + repr(self._inner)


__all__ = [
    "Answer",
    "AnswerStream",
    "Assistant",
    "AsyncAnswerStream",
    "AsyncAssistant",
    "ContextOverflowError",
    "ConversationNotFoundError",
    "CorruptDocumentError",
    "Document",
    "DocumentNotFoundError",
    "DocumentTimeoutError",
    "DocumentTooLargeError",
    "ERROR_CLASSES",
    "ERROR_CODES",
    "EmbeddingFailedError",
    "EmbeddingModelMismatchError",
    "EmbeddingModelUnavailableError",
    "EmptyDocumentError",
    "FileReport",
    "IndexCorruptError",
    "IndexFullError",
    "IndexLockedError",
    "IndexStats",
    "IndexStorageError",
    "IngestReport",
    "InvalidInputError",
    "IoError",
    "ItassistError",
    "ModelInfo",
    "ModelNotFoundError",
    "NotARegularFileError",
    "OcrFailedError",
    "OcrUnavailableError",
    "OllamaError",
    "OllamaUnreachableError",
    "OperationCancelledError",
    "Passage",
    "PathNotFoundError",
    "ProgressCallback",
    "RequestTimeoutError",
    "RuntimeUnavailableError",
    "StrPath",
    "Timings",
    "UnsupportedFormatError",
    "__version__",
]
