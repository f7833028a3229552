"""Per-call overhead of `search` and embedding throughput: Python against Rust.

    python examples/python/bench_overhead.py [SEARCHES]

Indexes the OpenSSH man pages of the shared corpus into a temporary directory, times SEARCHES
searches (default 1000; best of three rounds), 10,000 `stats()` calls (no model involved: the
binding's own cost shows there) and one `embed` of 256 corpus passages from Python, then runs the Rust
example `bindings/python/examples/python_overhead.rs` on the same index and texts, and prints both.
Needs ITASSIST_MODEL_DIR, cargo, and CARGO_TARGET_DIR (defaults to ~/.cache/itassist/target).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import itassist

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO.parent / "shared" / "corpus" / "debdocs" / "man" / "openssh"
QUERY = "how do I list the keys held by the agent?"


def per_call(call: Callable[[], object], n: int) -> float:
    """Microseconds per call of `call`, over `n` calls."""
    start = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - start) * 1e6 / n


def main(searches: int) -> None:
    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", str(Path.home() / ".cache/itassist/target"))
    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "itassist-python", "--example", "python_overhead"],
        cwd=REPO, env=env, check=True,
    )
    binary = Path(env["CARGO_TARGET_DIR"]) / "release" / "examples" / "python_overhead"
    with tempfile.TemporaryDirectory(prefix="itassist-bench-") as tmp:
        data_dir = Path(tmp) / "index"
        a = itassist.Assistant(data_dir, ocr=False)
        chunks = a.ingest(DOCS).chunks
        texts = [p.text for p in a.search("ssh options and files", k=256)]
        while len(texts) < 256:
            texts += texts[: 256 - len(texts)]
        (Path(tmp) / "texts.json").write_text(json.dumps(texts))

        for _ in range(10):
            a.search(QUERY, k=5)
        py_search = min(per_call(lambda: a.search(QUERY, k=5), searches) for _ in range(3))
        py_stats = min(per_call(a.stats, 10_000) for _ in range(3))
        a.embed(texts[:32])
        start = time.perf_counter()
        vectors = a.embed(texts)
        py_embed = len(vectors) / (time.perf_counter() - start)
        a.close()

        out = subprocess.run(
            [str(binary), str(data_dir), QUERY, str(searches), str(Path(tmp) / "texts.json")],
            env=env, check=True, capture_output=True, text=True,
        )
        rust = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"search, {searches} calls, k=5, {chunks} chunks")
    print(f"  Python: {py_search:9.1f} us/call")
    print(f"  Rust:   {rust['search_us_per_call']:9.1f} us/call")
    print(f"  overhead: {py_search - rust['search_us_per_call']:+.1f} us/call")
    print("stats (one LMDB read, no model), 10000 calls")
    print(f"  Python: {py_stats:9.1f} us/call")
    print(f"  Rust:   {rust['stats_us_per_call']:9.1f} us/call")
    print(f"  overhead: {py_stats - rust['stats_us_per_call']:+.1f} us/call")
    print(f"embed, {len(texts)} passages in one call")
    print(f"  Python: {py_embed:7.1f} texts/s")
    print(f"  Rust:   {rust['embed_texts_per_second']:7.1f} texts/s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
