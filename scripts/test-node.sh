#!/usr/bin/env bash
# Builds the Node package (bindings/node + node/) and runs its tests:
#   1. npm ci --ignore-scripts     (registry only; onnxruntime-node's download script is skipped:
#                                   its package already carries libonnxruntime.so.1)
#   2. napi build --release        (the addon, binding.js and index.d.ts, into node/)
#   3. node --test                 (node/test/*.test.mjs, on real corpus files)
#   4. tsc --noEmit                (node/examples/typed.ts against the generated index.d.ts)
# Cargo's target dir is ${CARGO_TARGET_DIR:-${ITASSIST_CACHE:-~/.cache/itassist}/target};
# napi-rs always passes --target, so the addon builds under target/<triple>/release.
# The embedding model, ONNX Runtime and llama-server (for the answer tests) come from
# scripts/provision-models.sh and scripts/provision-llama.sh unless already in the environment.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export ITASSIST_CACHE="${ITASSIST_CACHE:-$HOME/.cache/itassist}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ITASSIST_CACHE/target}"
if [ -z "${ITASSIST_MODEL_DIR:-}" ] || [ -z "${ORT_DYLIB_PATH:-}" ]; then
  eval "$(bash scripts/provision-models.sh --print-env | sed 's/^/export /')"
fi
if [ -z "${LLAMA_SERVER:-}" ] || [ -z "${LLAMA_MODEL:-}" ]; then
  eval "$(bash scripts/provision-llama.sh --print-env | sed 's/^/export /')"
fi
echo "test-node: node $(node --version), npm $(npm --version 2>/dev/null)" >&2

cd node
if [ -f package-lock.json ]; then
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
else
  npm install --ignore-scripts --no-audit --no-fund --loglevel=error
fi

# The addon is built with cargo's dev profile, which shares its (optimised) dependencies with
# `cargo test`; `npm run build` (napi build --release) makes the release addon and regenerates
# binding.js and index.d.ts for publishing.
if [ "${ITASSIST_NODE_RELEASE:-}" = 1 ]; then
  npx napi build --platform --release \
    --manifest-path ../bindings/node/Cargo.toml --package-json-path package.json \
    --output-dir . --js binding.js --dts index.d.ts
else
  (cd "$root" && cargo build -p itassist-node)
  cp "$CARGO_TARGET_DIR/debug/libitassist_node.so" itassist.linux-x64-gnu.node
fi

npx tsc --noEmit -p examples/tsconfig.json
echo "test-node: tsc --noEmit examples/typed.ts passed" >&2

node --test --test-reporter=spec test/*.test.mjs
