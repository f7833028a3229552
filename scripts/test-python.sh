#!/usr/bin/env bash
# Builds the itassist wheel, installs it into a fresh virtualenv with pytest and mypy, and runs
# the Python tests (python/tests: API, async, errors, fork, GIL, stubtest, docs/python.md).
#
#   bash scripts/test-python.sh [PYTEST ARGS...]
#
# Builds go to ${CARGO_TARGET_DIR:-${ITASSIST_CACHE:-~/.cache/itassist}/target} (shared with the
# Rust build, so the release dependencies are reused), the wheel to a temporary directory, the
# venv to ${ITASSIST_CACHE}/venv-py-test; nothing is written into the repository.
# The tests run without ORT_DYLIB_PATH: the venv gets ONNX Runtime from the `onnxruntime`
# wheel. ITASSIST_MODEL_DIR (scripts/provision-models.sh) provides the embedding model; when
# LLAMA_SERVER/LLAMA_MODEL are set (scripts/provision-llama.sh) the ask tests run end to end.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${ITASSIST_CACHE:-$HOME/.cache/itassist}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}"
python="${PYTHON:-python3}"
venv="$cache/venv-py-test"
tools="$cache/venv-py-build"

if [ -z "${ITASSIST_MODEL_DIR:-}" ]; then
  eval "$(bash "$root/scripts/provision-models.sh" --print-env | sed 's/^/export /')"
fi
# The end-to-end ask tests use llama-server when scripts/provision-llama.sh has built it.
if [ -z "${LLAMA_SERVER:-}" ] && [ -x "$cache/llama/bin/llama-server" ] \
  && [ -f "$cache/models/SmolLM2-135M-Instruct.Q4_1.gguf" ]; then
  export LLAMA_SERVER="$cache/llama/bin/llama-server"
  export LLAMA_MODEL="$cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"
fi

# maturin in its own venv (kept between runs).
if [ ! -x "$tools/bin/maturin" ]; then
  "$python" -m venv "$tools"
  "$tools/bin/pip" install -q --disable-pip-version-check "maturin>=1.16,<2"
fi

wheels="$(mktemp -d)"
trap 'rm -rf "$wheels"' EXIT
echo "test-python: building the wheel (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)" >&2
(cd "$root/python" && "$tools/bin/maturin" build --profile "${ITASSIST_PY_PROFILE:-dev}" --quiet --out "$wheels" >&2)
wheel="$(ls "$wheels"/itassist-*.whl)"
echo "test-python: built $(basename "$wheel")" >&2

# A fresh venv every run: the wheel and its dependencies as a user gets them.
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check "$wheel" pytest mypy

# The installed package, not the source tree, is tested: run from outside python/.
cd "$root/python/tests"
# ONNX Runtime must come from the onnxruntime wheel (ORT_DYLIB_PATH is for the Rust tests).
env -u ORT_DYLIB_PATH "$venv/bin/python" -m pytest -p no:cacheprovider -q \
  --rootdir "$root/python/tests" "$@" .
"$venv/bin/python" "$root/examples/python/quickstart.py" >/dev/null
echo "test-python: examples/python/quickstart.py ran" >&2
