"""The shared edge-case table (tests/edge_cases.json) through the Python package.

The Rust core, Node and HTTP run the same table: one input, one outcome, whatever the door.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import itassist
from conftest import REPO, model_dir, require

TABLE_PATH = REPO / "tests" / "edge_cases.json"


def table() -> dict[str, Any]:
    require(TABLE_PATH.exists(), f"{TABLE_PATH} (run the tests from a checkout)")
    return json.loads(TABLE_PATH.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def query_of(case: dict[str, Any]) -> str:
    if "query_repeat" in case:
        text, times = case["query_repeat"]
        return str(text) * int(times)
    return str(case["query"])


@pytest.fixture(scope="module")
def edge_assistant(tmp_path_factory: pytest.TempPathFactory) -> itassist.Assistant:
    a = itassist.Assistant(tmp_path_factory.mktemp("edge") / "index", model_dir=model_dir(), ocr=False)
    doc = table()["document"]
    assert a.ingest_bytes(doc["name"], doc["text"].encode()).status == "added"
    return a


def test_search_cases(edge_assistant: itassist.Assistant) -> None:
    for case in table()["search"]:
        if "error" in case:
            with pytest.raises(itassist.ItassistError) as raised:
                edge_assistant.search(query_of(case), k=case["k"])
            assert raised.value.code == case["error"], case["case"]
        else:
            hits = edge_assistant.search(query_of(case), k=case["k"])
            assert len(hits) >= case["ok"]["min_results"], case["case"]
            assert hits[0].name == case["ok"]["first_name"], case["case"]


def test_upload_cases(edge_assistant: itassist.Assistant) -> None:
    for case in table()["upload"]:
        report = edge_assistant.ingest_bytes(case["name"], case["text"].encode())
        assert report.status == case["ok"]["status"], case["case"]
        assert report.document is not None
        assert report.document.name == case["ok"]["name"], case["case"]


def test_ingest_path_cases(edge_assistant: itassist.Assistant) -> None:
    for case in table()["ingest_path"]:
        report = edge_assistant.ingest([case["path"]])
        assert report.files[0].error_code == case["file_error"], case["case"]


def test_errors_carry_their_details(tmp_path: Path) -> None:
    first = itassist.Assistant(tmp_path / "index", model_dir=model_dir(), ocr=False)
    with pytest.raises(itassist.EmbeddingModelMismatchError) as raised:
        itassist.Assistant(
            tmp_path / "index",
            model_dir=model_dir(),
            ocr=False,
            # The fp32 model, provisioned beside the default int8 one: same dimensions,
            # other vectors, so the index refuses it.
            embedding_model="all-MiniLM-L6-v2",
        )
    error = raised.value
    assert error.code == "embedding_model_mismatch"
    assert error.index_model == first.stats().embedding_model  # type: ignore[attr-defined]
    assert error.requested_model == "sentence-transformers/all-MiniLM-L6-v2"  # type: ignore[attr-defined]
    assert "itassist reindex --model" in str(error)
    assert isinstance(error.index_dimensions, int)  # type: ignore[attr-defined]


def test_every_core_error_kind_has_its_class() -> None:
    assert sorted(itassist.ERROR_CLASSES) == sorted(itassist.ERROR_CODES)
    for code, cls in itassist.ERROR_CLASSES.items():
        assert issubclass(cls, itassist.ItassistError)
        assert cls.code == code
        assert getattr(itassist, cls.__name__) is cls
