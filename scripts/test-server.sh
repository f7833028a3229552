#!/usr/bin/env bash
# Tests of the HTTP service: the Rust tests over a real socket, then the web page in a real
# headless Chromium (Debian `chromium` + npm `playwright-core`; never `npx playwright install`).
#
#   bash scripts/test-server.sh            # both
#   SKIP_RUST=1 bash scripts/test-server.sh  # browser test only
#
# With LLAMA_SERVER and LLAMA_MODEL set (scripts/provision-llama.sh), the browser test asks a
# real model; otherwise it checks the page's `ollama_unreachable` error display.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/itassist/target}"
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$HOME/.cache/itassist/onnxruntime/libonnxruntime.so.1.32.0}"
export ITASSIST_MODEL_DIR="${ITASSIST_MODEL_DIR:-$HOME/.cache/itassist/models/all-MiniLM-L6-v2-int8}"

if [ -z "${SKIP_RUST:-}" ]; then
  cargo test -p itassist-server
  cargo build -p itassist-cli
else
  # scripts/test.sh has built every test target of the workspace, the `itassist` binary
  # included, so the same command has nothing to rebuild. (`cargo build -p itassist-cli`
  # would rebuild 16 crates, whose features differ without the workspace's tests.)
  cargo test --workspace --no-run
fi
export ITASSIST_BIN="$CARGO_TARGET_DIR/debug/itassist"

if [ ! -x /usr/bin/chromium ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends chromium
fi

cd crates/itassist-server/browser
if [ ! -d node_modules/playwright-core ]; then
  npm install --no-audit --no-fund
fi
node --test

# The OpenAI-compatible API (/v1) with the official `openai` Python and npm packages, against
# the real server and llama-server (crates/itassist-server/tests/openai/run.sh).
if [ -z "${LLAMA_SERVER:-}" ] || [ -z "${LLAMA_MODEL:-}" ]; then
  eval "$(bash ../../../scripts/provision-llama.sh --print-env | sed 's/^/export /')"
fi
bash ../tests/openai/run.sh
