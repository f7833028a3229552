#!/usr/bin/env bash
# Builds the itassist wheel (abi3, with maturin), installs it into a fresh virtualenv with pytest
# and mypy, and runs the Python tests (python/tests: API, async, errors, fork, GIL, stubtest,
# docs/python.md) and examples/python/quickstart.py. Then, as a user gets the package: the same
# wheel alone into another fresh venv in a temporary directory outside the repository, where the
# README's Python snippet runs on a docs/ folder of real files.
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
# The example's default documents are this machine's OpenSSH man pages.
out="$("$venv/bin/python" "$root/examples/python/quickstart.py")"
grep -q 'ssh-add' <<<"$out" || { echo "$out"; echo "test-python: quickstart.py found no ssh-add passage" >&2; exit 1; }
echo "test-python: examples/python/quickstart.py ran ($(grep -c . <<<"$out") lines)" >&2

# ---- as a user gets it: the wheel alone, in another directory, and the README's snippet ----
t0=$SECONDS
case "$(basename "$wheel")" in
  *-abi3-*) ;;
  *) echo "test-python: $(basename "$wheel") is not an abi3 wheel" >&2; exit 1 ;;
esac
user="$(mktemp -d)"
trap 'rm -rf "$wheels" "$user"' EXIT
"$python" -m venv "$user/venv"
"$user/venv/bin/pip" install -q --disable-pip-version-check "$wheel"
mkdir -p "$user/project/docs"
corpus="$root/../shared/corpus/debdocs/man/openssh"   # test data (tests may read it; users never)
cp "$corpus/ssh-add.1" "$corpus/scp.1" "$user/project/docs/"
# The first ```python block of the README, as a user would paste it.
awk '/^```python$/ { on = 1; next } on && /^```$/ { exit } on' "$root/README.md" >"$user/project/snippet.py"
[ -s "$user/project/snippet.py" ] || { echo "test-python: no python block in README.md" >&2; exit 1; }
cd "$user/project"
where="$(env -u ORT_DYLIB_PATH "$user/venv/bin/python" -c 'import itassist; print(itassist.__file__)')"
[[ "$where" == "$user/venv/"* ]] || { echo "test-python: itassist imported from $where" >&2; exit 1; }
out="$(env -u ORT_DYLIB_PATH "$user/venv/bin/python" snippet.py)"
echo "$out" | sed 's/^/  snippet: /' >&2
grep -q 'ssh-add' <<<"$out" || { echo "test-python: the README snippet found no ssh-add passage" >&2; exit 1; }
echo "test-python: README snippet ran with the wheel installed alone in $user/venv ($((SECONDS - t0)) s)" >&2
