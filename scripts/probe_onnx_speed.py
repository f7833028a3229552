"""Throughput of an embedding model's ONNX graph in onnxruntime alone, outside itassist.

Runs batches of random token ids (all positions real, no padding) through the graph with the
session settings itassist uses (2 intra-op threads, all graph optimisations) and prints
tokens per second and the process's peak RSS. This is the figure the "fused operators" row
of docs/bench/ingest.changes.md compares:

    ~/.cache/itassist/venv-tools/bin/python scripts/probe_onnx_speed.py \\
        ~/.cache/itassist/models/all-MiniLM-L6-v2/model.onnx --seq 96

(venv-tools is made by scripts/provision-models.sh and has onnxruntime and numpy.)
Run one model per process on an idle machine: the peak RSS is per process.
"""
import argparse
import resource
import time

import numpy as np
import onnxruntime as ort


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="path of model.onnx")
    ap.add_argument("--seq", type=int, default=96, help="tokens per text (default 96)")
    ap.add_argument("--batch", type=int, default=32, help="texts per run (default 32)")
    ap.add_argument("--runs", type=int, default=12, help="timed runs (default 12)")
    args = ap.parse_args()

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    inputs = {i.name for i in session.get_inputs()}
    rng = np.random.default_rng(0)

    def feed() -> dict:
        ids = rng.integers(1000, 29000, size=(args.batch, args.seq)).astype(np.int64)
        ids[:, 0], ids[:, -1] = 101, 102  # [CLS] ... [SEP]
        run = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        if "token_type_ids" in inputs:
            run["token_type_ids"] = np.zeros_like(ids)
        return run

    warm = feed()
    session.run(None, warm)
    session.run(None, warm)
    started = time.perf_counter()
    for _ in range(args.runs):
        session.run(None, feed())
    seconds = time.perf_counter() - started
    tokens = args.runs * args.batch * args.seq
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.model}: {tokens / seconds:,.0f} tokens/s "
          f"(batches of {args.batch} x {args.seq} tokens), peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
