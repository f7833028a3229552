#!/usr/bin/env bash
# Runs every benchmark of itassist and writes docs/benchmarks.md from their outputs.
#   bash scripts/bench.sh            # everything below, in this order (about 45 minutes on 2 cores)
#   bash scripts/bench.sh ingest     # ingest/search figures on the debdocs PDFs
#   bash scripts/bench.sh scifact    # SciFact retrieval quality (dense, BM25, hybrid)
#   bash scripts/bench.sh micro      # criterion micro-benchmarks (cargo bench)
#   bash scripts/bench.sh peer       # the LangChain + Chroma peer on the same files and queries
#                                    # (needs ingest and scifact figures in docs/bench/); the
#                                    # peer's SciFact run is kept in ~/.cache/itassist/peer and
#                                    # reused (PEER_RERUN=1 runs it again): it does not change
#   bash scripts/bench.sh ingest-peer  # itassist's ingest then the peer's, back to back, so the
#                                    # ratio is taken under the same load
#   bash scripts/bench.sh scifact-256  # not in "all": SciFact with 256-token chunks, the setting
#                                    # itassist's 128-token default was chosen against
#   bash scripts/bench.sh models     # SciFact and embedding speed, all-MiniLM-L6-v2 fp32 vs int8
#   bash scripts/bench.sh ingest-fp32  # the ingest figures of the 10 PDFs with the fp32 model
#                                    # (the default is int8)
#   bash scripts/bench.sh followups  # recall@5 of follow-up questions (last turn, joined, weighted,
#                                    # and the model rewrite with llama-server when provisioned)
#   bash scripts/bench.sh spanish    # hit@5 of 54 Spanish questions over shared/corpus/spanish,
#                                    # English-only vs per-language keyword analysis (and with
#                                    # multilingual-e5-small-q4 when provisioned)
#   bash scripts/bench.sh scale      # search at 100,000 real chunks: SciFact, shared/corpus and the
#                                    # HTML manuals of python3.11-doc and postgresql-doc-15 (fetched
#                                    # with apt-get download); the index is kept in
#                                    # ~/.cache/itassist/bench-100k (the first run embeds ~100k
#                                    # chunks: about an hour on 2 cores)
#   bash scripts/bench.sh report     # only re-assemble docs/benchmarks.md from docs/bench/
# Figures go to docs/bench/*.json and *.md; docs/benchmarks.md is assembled from them.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export ITASSIST_CACHE="${ITASSIST_CACHE:-$HOME/.cache/itassist}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ITASSIST_CACHE/target}"
what="${1:-all}"
if [ "$what" != report ]; then
  eval "$(bash scripts/setup.sh | sed 's/^/export /')"
  cargo build --release -p itassist-bench
fi
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$ITASSIST_CACHE/onnxruntime/libonnxruntime.so.1.32.0}"
bench="$CARGO_TARGET_DIR/release/itassist-bench"
out="$root/docs/bench"
if [ "$what" = all ] || [ "$what" = ingest ] || [ "$what" = ingest-peer ]; then
  echo "bench: ingest, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  "$bench" ingest --out "$out"
fi
if [ "$what" = all ] || [ "$what" = scifact ]; then
  # The index is kept between runs (only retrieval settings change from run to run), and the
  # whole-document (MTEB setting) embedding is skipped: it takes most of an hour on 2 busy cores.
  "$bench" scifact --cache "$ITASSIST_CACHE/bench-cache" --skip-mteb --out "$out"
fi
if [ "$what" = scifact-256 ]; then
  "$bench" scifact --chunk-tokens 256 --chunk-overlap 64 --skip-mteb --name scifact-256 --out "$out"
fi
if [ "$what" = all ] || [ "$what" = ingest-fp32 ]; then
  # The same PDFs with the fp32 model, for the comparison in the models section.
  fp32_out="$(mktemp -d)"
  "$bench" ingest --model all-MiniLM-L6-v2 --out "$fp32_out"
  cp "$fp32_out/ingest.json" "$out/ingest.fp32.json"
  cp "$fp32_out/ingest.md" "$out/ingest.fp32.md"
  rm -rf "$fp32_out"
fi
if [ "$what" = all ] || [ "$what" = models ]; then
  # all-MiniLM-L6-v2 fp32 and int8 (scripts/provision-models.sh), one after the other on SciFact.
  models="$ITASSIST_CACHE/models"
  raw="$ITASSIST_CACHE/bench-models"
  mkdir -p "$raw"
  for variant in all-MiniLM-L6-v2 all-MiniLM-L6-v2-int8; do
    # Default settings only: the comparison needs no tuning grid (most of a run's time).
    # The index is kept per model in bench-cache, where `bench.sh scifact` finds the default's.
    "$bench" scifact --model-dir "$models/$variant" --model "$variant" --name "$variant" \
      --skip-tuning --cache "$ITASSIST_CACHE/bench-cache" --out "$raw"
  done
  python3 scripts/bench_models.py --out "$out" \
    "all-MiniLM-L6-v2 (fp32)=$raw/all-MiniLM-L6-v2.json" \
    "all-MiniLM-L6-v2-int8=$raw/all-MiniLM-L6-v2-int8.json"
fi
if [ "$what" = all ] || [ "$what" = followups ]; then
  # The model rewrite needs a chat model: llama-server with SmolLM2 when provisioned.
  rewrite=()
  if [ -n "${LLAMA_SERVER:-}" ] && [ -n "${LLAMA_MODEL:-}" ]; then
    lport="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    "$LLAMA_SERVER" -m "$LLAMA_MODEL" --host 127.0.0.1 --port "$lport" -c 4096 -t 1 -np 1 \
      >"$ITASSIST_CACHE/bench-followups-llama.log" 2>&1 &
    llama_pid=$!
    trap 'kill "$llama_pid" 2>/dev/null || true' EXIT
    for _ in $(seq 1 600); do curl -fsS "http://127.0.0.1:$lport/health" >/dev/null 2>&1 && break; sleep 0.2; done
    rewrite=(--rewrite-url "http://127.0.0.1:$lport")
  fi
  "$bench" followups --cache "$ITASSIST_CACHE/bench-followups-index" --out "$out" "${rewrite[@]}"
  if [ -n "${llama_pid:-}" ]; then kill "$llama_pid" 2>/dev/null || true; fi
fi
if [ "$what" = all ] || [ "$what" = spanish ]; then
  extra=()
  if [ -f "$ITASSIST_CACHE/models/multilingual-e5-small-q4/model.onnx" ]; then
    extra=(--model multilingual-e5-small-q4)
  fi
  "$bench" spanish --cache "$ITASSIST_CACHE/bench-spanish" --out "$out" "${extra[@]}"
fi
if [ "$what" = all ] || [ "$what" = scale ]; then
  big="$ITASSIST_CACHE/bench-100k"
  mkdir -p "$big/debs"
  for pkg in python3.11-doc postgresql-doc-15; do
    if ! ls "$big/debs/${pkg}"_*.deb >/dev/null 2>&1; then
      (cd "$big/debs" && apt-get download "$pkg")
    fi
  done
  if [ ! -d "$big/unpacked" ]; then
    for deb in "$big"/debs/*.deb; do dpkg-deb -x "$deb" "$big/unpacked"; done
  fi
  # SciFact's abstracts, one file each (written by `itassist-bench scifact --cache`).
  if [ ! -d "$ITASSIST_CACHE/bench-cache/scifact-0-0/docs" ]; then
    "$bench" scifact --cache "$ITASSIST_CACHE/bench-cache" --skip-mteb --out "$ITASSIST_CACHE/bench-cache/figures"
  fi
  py="$big/unpacked/usr/share/doc/python3.11/html"
  "$bench" scale --index "$big/index" --out "$out" \
    --corpus "$root/../shared/corpus" \
    --corpus "$ITASSIST_CACHE/bench-cache/scifact-0-0/docs" \
    --corpus "$big/unpacked/usr/share/doc/postgresql-doc-15/html" \
    $(for d in c-api distributing extending faq howto install installing library reference tutorial using whatsnew; do echo --corpus "$py/$d"; done)
fi
if [ "$what" = all ] || [ "$what" = micro ]; then
  # Only this run's results: criterion keeps old ones, including renamed benchmarks.
  rm -rf "$CARGO_TARGET_DIR/criterion"
  cargo bench -p itassist-bench --bench steps
  "$bench" micro --criterion "$CARGO_TARGET_DIR/criterion" --out "$out"
fi
if [ "$what" = all ] || [ "$what" = peer ] || [ "$what" = ingest-peer ]; then
  venv="$ITASSIST_CACHE/venv-peer"
  if ! "$venv/bin/python" -c 'import chromadb, langchain_text_splitters, pypdf' 2>/dev/null; then
    echo "bench: installing the peer stack into $venv (benches/peer/requirements.txt)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --cache-dir "$ITASSIST_CACHE/pip" -r benches/peer/requirements.txt
  fi
  raw="$ITASSIST_CACHE/peer"
  mkdir -p "$raw"
  echo "bench: peer ingest, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  "$venv/bin/python" benches/peer/peer.py ingest --corpus "$root/../shared/corpus/debdocs/pdf" \
    --queries "$out/ingest.json" --out "$raw/peer-ingest.json"
  scifact=(--scifact "$raw/peer-scifact.json")
  if [ "$what" = ingest-peer ] && [ ! -f "$raw/peer-scifact.json" ] && [ -f "$out/peer.json" ]; then
    # Only the ingest was re-run: the peer's SciFact figures are taken from the last peer.json.
    scifact=()
  elif [ ! -f "$raw/peer-scifact.json" ] || [ -n "${PEER_RERUN:-}" ]; then
    "$venv/bin/python" benches/peer/peer.py scifact --data "$root/../shared/data/scifact" \
      --out "$raw/peer-scifact.json"
  fi
  "$bench" peer --ingest "$raw/peer-ingest.json" "${scifact[@]}" --figures "$out"
fi

{
  echo "# Benchmarks"
  echo
  echo "Generated by \`bash scripts/bench.sh\` on $(date -u +%Y-%m-%d) from the files in \`docs/bench/\`;"
  # The sections are re-run at different times, possibly on different hosts: the header names
  # the host of the ingest figures (recorded in ingest.json), the scale section names its own.
  if [ -f "$out/ingest.json" ]; then
    machine="$(python3 -c 'import json, sys
m = json.load(open(sys.argv[1]))["machine"]
print("{} cores ({}, {}), {} GiB RAM".format(m["cpus"], m["cpu_model"], m.get("simd", "vector level not recorded"), round(m["memory_gib"])))' "$out/ingest.json")"
  else
    machine="not recorded"
  fi
  echo "do not edit by hand. Machine of the ingest figures: $machine, no GPU;"
  echo "the 100,000-chunk search section names the machine it ran on. ONNX Runtime $(basename "$ORT_DYLIB_PATH" | sed 's/libonnxruntime.so.//'); the embedding model is"
  echo "the one each section names (the default is all-MiniLM-L6-v2-int8 since 2026-12-01; fp32 before)."
  echo
  if [ -f "$out/ingest.md" ]; then
    echo "## Ingest, embedding and search"
    echo
    echo "Command: \`itassist-bench ingest\` (corpus: the 10 Debian PDFs of \`shared/corpus/debdocs/pdf\`)."
    echo
    cat "$out/ingest.md"
    echo
    echo "Searches below \`exact_search_below\` (1,000,000 chunks by default) use the in-memory vector"
    echo "scan (see \"Search at 100,000 chunks\"); the \"tree recall\" row measures the arroy path used"
    echo "above that size."
    echo "\"pipeline / pure embedding\" compares the whole ingest (parse, chunk, embed, write) with"
    echo "embedding the same chunks alone in the same process; both are CPU-bound on the same 2 cores,"
    echo "so figures taken while other work runs on the machine are lower than on an idle one."
    echo
    if [ -f "$out/ingest.changes.md" ]; then
      cat "$out/ingest.changes.md"
      echo
    fi
  fi
  if [ -f "$out/scale.md" ]; then
    echo "## Search at 100,000 chunks"
    echo
    echo "Command: \`bash scripts/bench.sh scale\` (\`itassist-bench scale\`): one index of real chunks from"
    echo "SciFact's abstracts, \`shared/corpus\` and the HTML manuals of Python 3.11 and PostgreSQL 15"
    echo "(Debian's python3.11-doc and postgresql-doc-15), with the default embedding model (named below)"
    echo "and settings. From query text, the BM25 ranking runs on a second thread while the query is embedded."
    echo "An index written by an older keyword analyzer or postings format is rewritten first"
    echo "(\`Index::rebuild_keyword_index\`), so the BM25 figures are those of the current layout; the"
    echo "size on disk is then that of the file, which LMDB does not shrink after the rewrite."
    echo
    cat "$out/scale.md"
    echo
    if grep -q '"sources": \[\]' "$out/scale.json"; then
      echo "This run searched an index filled beforehand, in stages: 522 documents of \`shared/corpus\`"
      echo "(a full-corpus ingest stopped at half), then SciFact and the two manuals with \`itassist ingest\`."
      echo "\`bash scripts/bench.sh scale\` ingests the whole corpus, so its index is somewhat larger."
      echo
    fi
    echo "The vector scan keeps the sign bits (48 bytes) and int8 codes (384 bytes) of every vector in"
    echo "memory; a query takes the shortlist nearest by Hamming distance in one pass (within a distance"
    echo "estimated from 4,096 of the vectors; on one thread up to 524,288 vectors), re-ranks it by int8 dot"
    echo "product, and re-scores the best \`max(2k, 100)\` exactly on the stored f32 vectors. Below"
    echo "\`exact_search_below\` chunks it replaces the arroy trees, which are then not built at all."
    echo
  fi
  if [ -f "$out/scifact.md" ]; then
    echo "## Retrieval quality: BEIR SciFact"
    echo
    echo "Command: \`itassist-bench scifact\`. Hybrid settings (BM25, the fusion method: reciprocal rank or"
    echo "min-max scores, and its weights and depth) are tuned on the train split; scores are on the test split."
    echo "Hybrid rankings are fused as the product fuses them: the top \`fusion_candidates\` of each list"
    echo "(50 by default) give the head that nDCG@10 and MRR@10 read; the rest of the ranking, which"
    echo "Recall@100 reads, comes from fusing the lists 300 deep, as a caller asking for that many passages gets it."
    echo
    cat "$out/scifact.md"
    echo
  fi
  if [ -f "$out/spanish.md" ]; then
    echo "## Spanish retrieval"
    echo
    echo "Command: \`itassist-bench spanish\` (\`bash scripts/bench.sh spanish\`). The questions are"
    echo "\`benches/data/spanish-questions.json\`: 54 questions an administrator would ask, paraphrased"
    echo "(some typed without accents), each with the files of \`shared/corpus/spanish\` that answer it."
    echo "hit@5: a passage of a right file is among the 5 returned. \"Before\" is the English-only keyword"
    echo "analyzer, \"after\" the per-language one ([languages.md](languages.md)); both read the same ingest."
    echo
    cat "$out/spanish.md"
    echo
  fi
  if [ -f "$out/peer.md" ]; then
    echo "## Against the original sketch's stack (LangChain + Chroma)"
    echo
    echo "Command: \`python benches/peer/peer.py ingest|scifact\` (the peer, on the same PDFs, the same timed"
    echo "queries and SciFact), then \`itassist-bench peer\`, which scores the peer's rankings with the same code"
    echo "as itassist's and joins both. The sketch embedded with sentence-transformers; torch from PyPI pulls"
    echo "gigabytes of CUDA wheels, so the peer uses Chroma's own ONNX all-MiniLM-L6-v2 embedding function"
    echo "(same model and pooling; it pads every text to 256 tokens, as Chroma does), reading the local model."
    echo "The peer's chunks are 1000 characters with 200 overlap, so its chunk counts differ from itassist's."
    echo
    cat "$out/peer.md"
    echo
  fi
  if [ -f "$out/micro.md" ]; then
    echo "## Micro-benchmarks (criterion)"
    echo
    echo "Command: \`cargo bench -p itassist-bench --bench steps\`, collected by \`itassist-bench micro\`."
    echo "Inputs are real: \`debdocs/text/developers-reference.txt\` for chunking, its chunks for embedding and"
    echo "index writes, and 12 files of the Node.js API reference (Markdown) for search."
    echo
    cat "$out/micro.md"
    echo
  fi
  if [ -f "$out/scifact-256.md" ]; then
    echo "### SciFact with 256-token chunks (overlap 64)"
    echo
    echo "Command: \`bash scripts/bench.sh scifact-256\` (not part of the full run). Dense retrieval scores"
    echo "higher with 128-token chunks, BM25 and hybrid with 256; the default stays at 128 tokens so that"
    echo "dense retrieval on its own, too, beats the peer stack above."
    echo
    cat "$out/scifact-256.md"
    echo
  fi
  if [ -f "$out/models.md" ]; then
    echo "## Embedding models: fp32 and int8"
    echo
    echo "Command: \`bash scripts/bench.sh models\` (\`itassist-bench scifact --model-dir\` for each model, joined by"
    echo "\`scripts/bench_models.py\`). int8 is all-MiniLM-L6-v2 dynamically quantized by onnxruntime's tools"
    echo "(per-channel QInt8 MatMul weights, \`scripts/provision-models.sh\`); see \`docs/models.md\`."
    echo
    cat "$out/models.md"
    echo
    if [ -f "$out/ingest.fp32.md" ] && [ -f "$out/ingest.json" ]; then
      echo "The 10 debdocs PDFs with each model (\`bash scripts/bench.sh ingest\` for the default, int8;"
      echo "\`bash scripts/bench.sh ingest-fp32\` for fp32):"
      echo
      python3 - "$out/ingest.json" "$out/ingest.fp32.json" <<'PY'
import json, sys
runs = [json.load(open(p)) for p in sys.argv[1:]]
print("| model | ingest time | pipeline / pure embedding | peak RSS during ingest | first search after opening |")
print("|---|---|---|---|---|")
for r in runs:
    first = r["open_seconds"] + r["first_search_ms"] / 1000
    print(f"| {r['model']} | {r['ingest_seconds']:.1f} s | {100 * r['pipeline_to_pure_embedding_ratio']:.1f}% "
          f"| {r['peak_rss_mib_during_ingest']:.0f} MiB | {first:.2f} s |")
PY
      echo
    fi
    if [ -f "$out/models.default.md" ]; then cat "$out/models.default.md"; echo; fi
  fi
  if [ -f "$out/followups.md" ]; then
    echo "## Follow-up questions in a conversation"
    echo
    echo "Command: \`bash scripts/bench.sh followups\` (\`itassist-bench followups\`; the set is"
    echo "\`benches/data/followups.json\`). \`weighted\` is itassist's default conversation-aware query (no"
    echo "model); \`rewrite\` is the chat model's standalone rewrite; see \`docs/chat.md\`."
    echo
    cat "$out/followups.md"
    echo
  fi
} > docs/benchmarks.md
echo "wrote docs/benchmarks.md" >&2
