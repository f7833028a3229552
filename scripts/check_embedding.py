#!/usr/bin/env python3
"""Verify a provisioned all-MiniLM-L6-v2 model directory and ONNX Runtime library.

Runs the model the way fastembed does (tokenizer.json with BatchLongest padding and
truncation at min(512, model_max_length), inputs input_ids / attention_mask /
token_type_ids, mean pooling over the attention mask, L2 normalisation) with the
Python `onnxruntime` and `tokenizers` packages, and checks:

  1. the files and JSON fields fastembed's `load_tokenizer` requires are there;
  2. model.onnx has the expected inputs/outputs (names, int64/float32, dynamic axes);
  3. "The cat sits on the mat" embeds to a unit vector starting with REFERENCE
     (within 1e-4 per component);
  4. in a padded batch of two texts of different lengths, the short text gets the
     same vector (within 1e-5) as when embedded alone (the attention mask works);
  5. optionally (--ort-lib, checked first), the extracted libonnxruntime.so loads with ctypes and
     reports the expected version through OrtGetApiBase()->GetVersionString().

Exits non-zero with a message on the first failure.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

REFERENCE_TEXT = "The cat sits on the mat"
REFERENCE = np.array([0.13489, -0.03206, -0.02034, 0.03590, -0.02833, 0.04150], dtype=np.float32)
REF_TOL = 1e-4
PAD_TOL = 1e-5
FASTEMBED_DEFAULT_MAX_LENGTH = 512
HIDDEN = 384


def fail(msg: str) -> None:
    print(f"  FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def check_files(model_dir: Path) -> dict:
    for name in ("model.onnx", "tokenizer.json", "config.json",
                 "tokenizer_config.json", "special_tokens_map.json"):
        if not (model_dir / name).is_file():
            fail(f"{model_dir / name} is missing")
    tok_cfg = json.loads((model_dir / "tokenizer_config.json").read_text())
    mml = tok_cfg.get("model_max_length")
    if not isinstance(mml, (int, float)) or isinstance(mml, bool):
        fail("tokenizer_config.json: model_max_length must be a number (fastembed requires it)")
    pad = tok_cfg.get("pad_token")
    if not (isinstance(pad, str) or (isinstance(pad, dict) and isinstance(pad.get("content"), str))):
        fail("tokenizer_config.json: pad_token must be a string (fastembed requires it)")
    json.loads((model_dir / "special_tokens_map.json").read_text())  # must parse
    json.loads((model_dir / "config.json").read_text())
    return tok_cfg


def check_io(session: ort.InferenceSession) -> None:
    ins = {i.name: i for i in session.get_inputs()}
    outs = session.get_outputs()
    for name in ("input_ids", "attention_mask", "token_type_ids"):
        if name not in ins:
            fail(f"model.onnx has no input {name}")
        if ins[name].type != "tensor(int64)" or len(ins[name].shape) != 2 \
                or any(isinstance(d, int) for d in ins[name].shape):
            fail(f"input {name}: expected int64 [batch, seq] dynamic, got {ins[name].type} {ins[name].shape}")
    if len(outs) != 1 or outs[0].name != "last_hidden_state" or outs[0].type != "tensor(float)" \
            or outs[0].shape[2] != HIDDEN:
        fail(f"unexpected outputs: {[(o.name, o.type, o.shape) for o in outs]}")
    for i in session.get_inputs():
        print(f"  input  {i.name}: {i.type} {i.shape}")
    print(f"  output {outs[0].name}: {outs[0].type} {outs[0].shape}")


def make_tokenizer(model_dir: Path, tok_cfg: dict) -> Tokenizer:
    """Configure the tokenizer as fastembed's load_tokenizer does."""
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    config = json.loads((model_dir / "config.json").read_text())
    pad = tok_cfg["pad_token"] if isinstance(tok_cfg["pad_token"], str) else tok_cfg["pad_token"]["content"]
    pad_id = config.get("pad_token_id")
    if pad_id is None:
        pad_id = tok.token_to_id(pad) or 0
    tok.enable_padding(pad_id=pad_id, pad_token=pad)  # BatchLongest by default
    tok.enable_truncation(max_length=int(min(FASTEMBED_DEFAULT_MAX_LENGTH, tok_cfg["model_max_length"])))
    return tok


def embed(session: ort.InferenceSession, tok: Tokenizer, texts: list[str]) -> np.ndarray:
    enc = tok.encode_batch(texts, add_special_tokens=True)
    ids = np.array([e.ids for e in enc], dtype=np.int64)
    mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
    types = np.array([e.type_ids for e in enc], dtype=np.int64)
    (hidden,) = session.run(["last_hidden_state"],
                            {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
    m = mask[:, :, None].astype(np.float32)
    pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
    return pooled / (np.linalg.norm(pooled, axis=1, keepdims=True) + 1e-12)


def check_ort_lib(lib_path: Path, expected_version: str) -> None:
    """dlopen the shared library and ask it for its version string."""

    class OrtApiBase(ctypes.Structure):
        _fields_ = [("GetApi", ctypes.c_void_p),
                    ("GetVersionString", ctypes.CFUNCTYPE(ctypes.c_char_p))]

    try:
        lib = ctypes.CDLL(str(lib_path))
    except OSError as e:
        fail(f"cannot load {lib_path}: {e}")
    lib.OrtGetApiBase.restype = ctypes.POINTER(OrtApiBase)
    version = lib.OrtGetApiBase().contents.GetVersionString().decode()
    if version != expected_version:
        fail(f"{lib_path} reports version {version}, expected {expected_version}")
    # Make sure it is this very file that got mapped (and not another copy with the same soname).
    real = str(lib_path.resolve())
    if real not in Path("/proc/self/maps").read_text():
        fail(f"{real} was not the library the loader mapped")
    print(f"  {lib_path} loads; OrtGetApiBase()->GetVersionString() = {version}")


def main() -> int:
    ap = argparse.ArgumentParser(description="Verify the provisioned embedding model.")
    ap.add_argument("--model-dir", required=True, type=Path)
    ap.add_argument("--ort-lib", type=Path, help="libonnxruntime.so to dlopen and version-check")
    ap.add_argument("--ort-version", default="1.32.0")
    args = ap.parse_args()

    # 5 first: the shared library fastembed will dlopen (before this process runs any model).
    if args.ort_lib is not None:
        check_ort_lib(args.ort_lib, args.ort_version)

    tok_cfg = check_files(args.model_dir)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # stay light on a shared 2-core machine
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(str(args.model_dir / "model.onnx"), opts,
                                   providers=["CPUExecutionProvider"])
    check_io(session)
    tok = make_tokenizer(args.model_dir, tok_cfg)

    # 3. reference vector
    vec = embed(session, tok, [REFERENCE_TEXT])[0]
    head = vec[: len(REFERENCE)]
    print(f"  '{REFERENCE_TEXT}' -> [{', '.join(f'{x:.5f}' for x in head)}, ...] "
          f"(dim {vec.shape[0]}, norm {np.linalg.norm(vec):.6f})")
    err = float(np.abs(head - REFERENCE).max())
    if vec.shape[0] != HIDDEN or err > REF_TOL:
        fail(f"reference mismatch: max abs diff {err:.2e} > {REF_TOL:g}")
    print(f"  reference check ok: max abs diff {err:.2e} (tolerance {REF_TOL:g})")

    # 4. padding invariance
    short = "A short sentence."
    long = ("This is a much longer sentence that will force the short one to be padded "
            "with quite a few padding tokens in the same batch.")
    alone = embed(session, tok, [short])[0]
    batch = embed(session, tok, [short, long])
    n_short = len(tok.encode(short).ids)
    n_long = len(tok.encode(long).ids)
    pad_err = float(np.abs(batch[0] - alone).max())
    if pad_err > PAD_TOL:
        fail(f"padded batch differs from single embedding: max abs diff {pad_err:.2e} > {PAD_TOL:g}")
    print(f"  padding check ok: {n_short} vs {n_long} tokens, max abs diff {pad_err:.2e} "
          f"(tolerance {PAD_TOL:g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
