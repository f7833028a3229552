#!/usr/bin/env bash
# The OpenAI-compatible API (/v1) against the official clients: starts a real llama-server
# (SmolLM2-135M) and a real `itassist serve` on 127.0.0.1 over real corpus documents, creates an
# API key with `itassist serve --new-api-key`, then runs
#   - test_openai.py   with the `openai` Python package (a venv in the itassist cache), and
#   - openai.test.mjs  with the `openai` npm package (installed here from package.json),
# each asking for the models, a plain completion, a streamed one and a three-turn conversation.
#
# Env: ITASSIST_BIN (default $CARGO_TARGET_DIR/debug/itassist), LLAMA_SERVER, LLAMA_MODEL
# (scripts/provision-llama.sh), ORT_DYLIB_PATH and ITASSIST_MODEL_DIR (embedding model).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
cache="${ITASSIST_CACHE:-$HOME/.cache/itassist}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}"
bin="${ITASSIST_BIN:-$CARGO_TARGET_DIR/debug/itassist}"
corpus="$root/../shared/corpus"
[ -x "$bin" ] || { echo "openai tests: $bin missing: cargo build -p itassist-cli" >&2; exit 1; }
[ -n "${LLAMA_SERVER:-}" ] && [ -n "${LLAMA_MODEL:-}" ] || {
  echo "openai tests: LLAMA_SERVER/LLAMA_MODEL unset: run scripts/provision-llama.sh and export what it prints" >&2
  exit 1
}

tmp="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() {
  for _ in $(seq 1 600); do
    curl -fsS "$1" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "openai tests: $1 did not come up; logs:" >&2
  tail -n 20 "$tmp"/*.log >&2
  return 1
}

lport="$(free_port)"
"$LLAMA_SERVER" -m "$LLAMA_MODEL" --host 127.0.0.1 --port "$lport" -c 4096 -t 1 -np 1 \
  >"$tmp/llama.log" 2>&1 &
pids+=($!)
wait_up "http://127.0.0.1:$lport/health"

data="$tmp/data"
common=(--data-dir "$data" --backend openai --ollama-url "http://127.0.0.1:$lport")
"$bin" "${common[@]}" ingest "$corpus/debdocs/man/openssh/scp.1" \
  "$corpus/debdocs/man/openssh/ssh-keygen.1" "$corpus/debdocs/html/apt-guide/ch2.html" >/dev/null
key="$("$bin" "${common[@]}" serve --new-api-key openai-tests 2>/dev/null)"
grep -q "^openai-tests " "$data/api-keys"
! grep -q "${key#itk-}" "$data/api-keys"   # only the hash is stored

port="$(free_port)"
hash="$(printf 'secret-pw\n' | "$bin" serve --hash-password)"
ITASSIST_USERS="tester:$hash" ITASSIST_CHAT_MODEL="SmolLM2-135M-Instruct" \
  "$bin" "${common[@]}" serve --addr "127.0.0.1:$port" >"$tmp/server.log" 2>&1 &
pids+=($!)
wait_up "http://127.0.0.1:$port/health"

export ITASSIST_OPENAI_BASE="http://127.0.0.1:$port/v1"
export ITASSIST_API_KEY="$key"

venv="$cache/venv-openai"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import openai' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check openai
fi
"$venv/bin/python" "$here/test_openai.py"

cd "$here"
[ -d node_modules/openai ] || npm install --no-audit --no-fund --loglevel=error
node --test openai.test.mjs
