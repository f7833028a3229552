#!/usr/bin/env python3
"""Join the SciFact runs of several embedding models into docs/bench/models.{json,md}.

Each input is the NAME.json that `itassist-bench scifact --name NAME` wrote for one model
(same corpus, same queries, same settings, one after the other in the same run of
`scripts/bench.sh models`). The first input is the reference (fp32); int8 becomes the
recommended default only if its default hybrid nDCG@10 is within 0.005 of the reference's.

Usage: bench_models.py --out DIR LABEL=PATH.json [LABEL=PATH.json ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

TOLERANCE = 0.005


def row(figures: dict, prefix: str) -> dict:
    for r in figures["rows"]:
        if r["retriever"].startswith(prefix):
            return r
    raise SystemExit(f"no retriever row starting with {prefix!r} in {figures['rows']!r}")


def summarise(label: str, figures: dict) -> dict:
    out = {
        "model": label,
        "documents": figures["documents"],
        "chunks": figures["chunks"],
        "whole_document_seconds": round(figures["mteb_embedding_seconds"], 1),
        "whole_documents_per_second": round(figures["documents"] / figures["mteb_embedding_seconds"], 1),
        "ingest_seconds": round(figures["ingest_seconds"], 1),
        "ingest_chunks_per_second": round(figures["chunks"] / figures["ingest_seconds"], 1),
    }
    for key, prefix in [("dense_mteb", "dense all-MiniLM"), ("dense_chunks", "dense, itassist"),
                        ("bm25", "BM25"), ("hybrid_default", "hybrid RRF, defaults")]:
        r = row(figures, prefix)
        out[key] = {"test_ndcg_at_10": round(r["test"]["ndcg_at_10"], 4),
                    "test_recall_at_100": round(r["test"]["recall_at_100"], 4),
                    "train_ndcg_at_10": round(r["train"]["ndcg_at_10"], 4)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("runs", nargs="+", help="LABEL=PATH.json, the reference first")
    args = ap.parse_args()
    runs = []
    for spec in args.runs:
        label, _, path = spec.partition("=")
        runs.append(summarise(label, json.loads(Path(path).read_text())))
    ref = runs[0]
    for r in runs[1:]:
        r["speedup_whole_documents"] = round(r["whole_documents_per_second"] / ref["whole_documents_per_second"], 2)
        r["speedup_ingest"] = round(r["ingest_chunks_per_second"] / ref["ingest_chunks_per_second"], 2)
        r["hybrid_delta"] = round(r["hybrid_default"]["test_ndcg_at_10"] - ref["hybrid_default"]["test_ndcg_at_10"], 4)
        r["dense_mteb_delta"] = round(r["dense_mteb"]["test_ndcg_at_10"] - ref["dense_mteb"]["test_ndcg_at_10"], 4)
        r["within_tolerance"] = r["hybrid_delta"] >= -TOLERANCE
    int8 = next((r for r in runs[1:] if "int8" in r["model"]), None)
    if int8 is None:
        decision = "no int8 run"
    elif int8["within_tolerance"]:
        decision = (f"int8 qualifies for the default on quality: its hybrid nDCG@10 is "
                    f"{int8['hybrid_delta']:+.4f} from fp32's (tolerance {TOLERANCE}); whether it becomes "
                    f"the default also depends on its ingest speed and memory on the PDFs (below)")
    else:
        decision = (f"fp32 stays the default: int8's hybrid nDCG@10 is {int8['hybrid_delta']:+.4f} "
                    f"from fp32's, outside the tolerance of {TOLERANCE}")
    result = {"runs": runs, "tolerance": TOLERANCE, "decision": decision}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "models.json").write_text(json.dumps(result, indent=2) + "\n")

    lines = [
        f"SciFact ({ref['documents']} documents, {ref['chunks']} chunks), the same settings for every model, "
        "one model after the other in one run.",
        "",
        "| model | whole documents/s | ingest chunks/s | dense nDCG@10 (MTEB) | dense nDCG@10 (chunks) "
        "| hybrid nDCG@10 (default) | hybrid Δ vs first |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        delta = f"{r['hybrid_delta']:+.4f}" if "hybrid_delta" in r else "—"
        speed = (f" ({r['speedup_whole_documents']:.2f}×)" if "speedup_whole_documents" in r else "")
        ingest = (f" ({r['speedup_ingest']:.2f}×)" if "speedup_ingest" in r else "")
        lines.append(
            f"| {r['model']} | {r['whole_documents_per_second']:.1f}{speed} | {r['ingest_chunks_per_second']:.1f}{ingest} "
            f"| {r['dense_mteb']['test_ndcg_at_10']:.4f} | {r['dense_chunks']['test_ndcg_at_10']:.4f} "
            f"| {r['hybrid_default']['test_ndcg_at_10']:.4f} | {delta} |")
    lines += ["", f"Decision: {decision}."]
    (args.out / "models.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
