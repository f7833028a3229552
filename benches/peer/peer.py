"""The peer in itassist's benchmark: the original sketch's Python stack, measured on the same
files and queries as itassist.

Stack: pypdf page text (what LangChain's PyPDFLoader returns), LangChain's
RecursiveCharacterTextSplitter (1000 characters, 200 overlap), and a persistent Chroma
collection. The sketch embedded with sentence-transformers all-MiniLM-L6-v2; torch from PyPI
pulls gigabytes of CUDA wheels, so this uses the closest equivalent that installs: Chroma's own
ONNX all-MiniLM-L6-v2 embedding function (the same model, mean pooling, 256-token window),
pointed at the local model files instead of its download URL.

    python peer.py ingest  --corpus DIR --queries ingest.json --out peer-ingest.json
    python peer.py scifact --data DIR --out peer-scifact.json

The output holds raw figures and rankings; `itassist-bench peer` scores them with the same
code that scores itassist and writes the comparison table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import chromadb
from chromadb.config import Settings
from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2
from langchain_text_splitters import RecursiveCharacterTextSplitter
from pypdf import PdfReader

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200
MODEL_FILES = [
    "config.json",
    "model.onnx",
    "special_tokens_map.json",
    "tokenizer_config.json",
    "tokenizer.json",
]


def local_chroma_model(model_dir: Path, cache: Path) -> Path:
    """Lays out the local model the way Chroma's embedding function expects its download.

    Chroma looks for `<root>/onnx/{model files, vocab.txt}` and downloads only when one is
    missing; the files are links to the model itassist uses, and vocab.txt is written from
    tokenizer.json (the WordPiece vocabulary in id order)."""
    root = cache / "chroma-onnx" / "all-MiniLM-L6-v2"
    onnx = root / "onnx"
    onnx.mkdir(parents=True, exist_ok=True)
    for name in MODEL_FILES:
        source = model_dir / name
        if not source.exists():
            sys.exit(f"peer: {source} is missing: run `bash scripts/provision-models.sh`")
        link = onnx / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(source.resolve())
    vocab = json.loads((model_dir / "tokenizer.json").read_text())["model"]["vocab"]
    words = sorted(vocab, key=vocab.get)
    (onnx / "vocab.txt").write_text("\n".join(words) + "\n")
    return root


def embedding_function(model_dir: Path, cache: Path) -> ONNXMiniLM_L6_V2:
    root = local_chroma_model(model_dir, cache)

    class LocalMiniLM(ONNXMiniLM_L6_V2):
        DOWNLOAD_PATH = root

    function = LocalMiniLM(preferred_providers=["CPUExecutionProvider"])
    # Load the ONNX session before any clock starts, as itassist's figures do.
    function(["warm up"])
    return function


def collection(path: Path, function: ONNXMiniLM_L6_V2, name: str):
    client = chromadb.PersistentClient(
        path=str(path), settings=Settings(anonymized_telemetry=False)
    )
    return client, client.create_collection(
        name, embedding_function=function, metadata={"hnsw:space": "cosine"}
    )


def add_all(client, coll, ids, texts, metadatas) -> None:
    batch = min(client.get_max_batch_size(), 1024)
    for start in range(0, len(ids), batch):
        end = start + batch
        coll.add(ids=ids[start:end], documents=texts[start:end], metadatas=metadatas[start:end])
        print(f"  peer: {min(end, len(ids))}/{len(ids)} chunks", file=sys.stderr, flush=True)


def percentile(sorted_ms: list[float], p: float) -> float:
    if not sorted_ms:
        return 0.0
    rank = round(p / 100 * (len(sorted_ms) - 1))
    return sorted_ms[int(rank)]


def run_ingest(args) -> dict:
    pdfs = sorted(Path(args.corpus).glob("*.pdf"))
    queries = json.loads(Path(args.queries).read_text())["queries"]
    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    function = embedding_function(Path(args.model_dir), Path(args.cache))
    with tempfile.TemporaryDirectory() as tmp:
        load_at_start = os.getloadavg()[0]
        started = time.perf_counter()
        client, coll = collection(Path(tmp) / "db", function, "debdocs")
        ids, texts, metadatas = [], [], []
        pages = 0
        megabytes = 0.0
        for pdf in pdfs:
            megabytes += pdf.stat().st_size / 1e6
            reader = PdfReader(pdf)
            for number, page in enumerate(reader.pages, start=1):
                pages += 1
                text = page.extract_text() or ""
                for i, chunk in enumerate(splitter.split_text(text)):
                    ids.append(f"{pdf.name}:{number}:{i}")
                    texts.append(chunk)
                    metadatas.append({"source": pdf.name, "page": number})
        parsed = time.perf_counter()
        print(f"peer: {len(pdfs)} PDFs, {pages} pages, {len(texts)} chunks", file=sys.stderr)
        add_all(client, coll, ids, texts, metadatas)
        ingest_seconds = time.perf_counter() - started
        load_at_end = os.getloadavg()[0]
        latencies = []
        for q in queries:
            t = time.perf_counter()
            coll.query(query_texts=[q], n_results=10)
            latencies.append((time.perf_counter() - t) * 1000)
        latencies.sort()
        disk = sum(f.stat().st_size for f in Path(tmp).rglob("*") if f.is_file())
    return {
        "files": len(pdfs),
        "pages": pages,
        "chunks": len(texts),
        "megabytes": megabytes,
        "parse_and_split_seconds": parsed - started,
        "ingest_seconds": ingest_seconds,
        "search_queries": len(latencies),
        "search_p50_ms": percentile(latencies, 50),
        "search_p95_ms": percentile(latencies, 95),
        "search_p99_ms": percentile(latencies, 99),
        "index_disk_mib": disk / 1048576,
        "load_average": [load_at_start, load_at_end],
    }


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_scifact(args) -> dict:
    data = Path(args.data)
    corpus = read_jsonl(data / "corpus.jsonl")
    queries = {q["_id"]: q["text"] for q in read_jsonl(data / "queries.jsonl")}
    test = sorted({line.split("\t")[0] for line in (data / "qrels/test.tsv").read_text().splitlines()[1:] if line})
    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    function = embedding_function(Path(args.model_dir), Path(args.cache))
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        client, coll = collection(Path(tmp) / "db", function, "scifact")
        ids, texts, metadatas = [], [], []
        for doc in corpus:
            text = f"{doc.get('title', '')} {doc.get('text', '')}"
            for i, chunk in enumerate(splitter.split_text(text)):
                ids.append(f"{doc['_id']}:{i}")
                texts.append(chunk)
                metadatas.append({"doc": doc["_id"]})
        add_all(client, coll, ids, texts, metadatas)
        ingest_seconds = time.perf_counter() - started
        runs = {}
        for q in test:
            found = coll.query(query_texts=[queries[q]], n_results=300, include=["metadatas"])
            ranked = []
            for meta in found["metadatas"][0]:
                if meta["doc"] not in ranked:
                    ranked.append(meta["doc"])
            runs[q] = ranked[:100]
    return {
        "documents": len(corpus),
        "chunks": len(texts),
        "ingest_seconds": ingest_seconds,
        "test_runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["ingest", "scifact"])
    parser.add_argument("--corpus", help="folder of PDFs (ingest)")
    parser.add_argument("--queries", help="itassist's ingest.json, whose queries are timed")
    parser.add_argument("--data", help="the SciFact folder (scifact)")
    parser.add_argument("--out", required=True)
    cache_root = Path(os.environ.get("ITASSIST_CACHE", Path.home() / ".cache/itassist"))
    # Chroma ships all-MiniLM-L6-v2 at fp32: the peer runs the fp32 model itassist provisions,
    # whatever itassist's own default (ITASSIST_MODEL_DIR names the int8 one).
    parser.add_argument("--model-dir", default=str(cache_root / "models" / "all-MiniLM-L6-v2"))
    parser.add_argument("--cache", default=str(cache_root / "peer"))
    args = parser.parse_args()
    described = Path(args.model_dir, "itassist-model.json")
    if described.exists() and json.loads(described.read_text()).get("quantization", "fp32") != "fp32":
        sys.exit(f"peer: {args.model_dir} is not the fp32 model Chroma ships: pass --model-dir")
    result = run_ingest(args) if args.command == "ingest" else run_scifact(args)
    result["stack"] = {
        "splitter": f"langchain-text-splitters RecursiveCharacterTextSplitter {CHUNK_SIZE}/{CHUNK_OVERLAP}",
        "store": f"chromadb {chromadb.__version__} PersistentClient (HNSW, cosine)",
        "embedding": "Chroma ONNXMiniLM_L6_V2 (all-MiniLM-L6-v2, onnxruntime CPU)",
        "pdf": "pypdf page text (as LangChain's PyPDFLoader)",
    }
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"peer: wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
