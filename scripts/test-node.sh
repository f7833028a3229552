#!/usr/bin/env bash
# Builds the Node package (bindings/node + node/) and runs its tests:
#   1. npm ci --ignore-scripts     (registry only; onnxruntime-node's download script is skipped:
#                                   its package already carries libonnxruntime.so.1)
#   2. napi build --release        (the addon, binding.js and index.d.ts, into node/)
#   3. node --test                 (node/test/*.test.mjs, on real corpus files)
#   4. tsc --noEmit                (node/examples/typed.ts against the generated index.d.ts)
#   5. as a user gets it           `npm pack` (the same addon), the tarball installed into a fresh
#                                  project in a temporary directory outside the repository, and
#                                  the README's JavaScript snippet run there on real files
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
  # The dev build carries ~270 MB of debug info that neither the tests nor `npm pack` need.
  strip --strip-debug itassist.linux-x64-gnu.node
fi

npx tsc --noEmit -p examples/tsconfig.json
echo "test-node: tsc --noEmit examples/typed.ts passed" >&2

node --test --test-reporter=spec test/*.test.mjs

# ---- 5. as a user gets it: npm pack, a fresh project elsewhere, the README's snippet -------
t0=$SECONDS
user="$(mktemp -d)"
trap 'rm -rf "$user"' EXIT
tarball="$(npm pack --silent --pack-destination "$user")"
tarball="$user/$tarball"
listing="$(tar -tzf "$tarball")"
for f in package/package.json package/index.js package/index.d.ts package/binding.js \
         package/itassist.linux-x64-gnu.node; do
  grep -qx "$f" <<<"$listing" || { echo "test-node: $f is not in $(basename "$tarball")" >&2; exit 1; }
done
if grep -E '^package/(test|bench|examples|node_modules)/' <<<"$listing"; then
  echo "test-node: the tarball carries development files (above)" >&2; exit 1
fi
mkdir -p "$user/app/docs"
corpus="$root/../shared/corpus/debdocs/man/openssh"   # test data (tests may read it; users never)
cp "$corpus/ssh-add.1" "$corpus/scp.1" "$user/app/docs/"
cd "$user/app"
npm init -y >/dev/null
# --ignore-scripts: onnxruntime-node's install script downloads extra (GPU) binaries; its
# package already carries libonnxruntime.so.1, which is all itassist needs.
npm install --ignore-scripts --no-audit --no-fund --loglevel=error "$tarball"
awk '/^```js$/ { on = 1; next } on && /^```$/ { exit } on' "$root/README.md" >snippet.mjs
[ -s snippet.mjs ] || { echo "test-node: no js block in README.md" >&2; exit 1; }
where="$(node --input-type=module -e "console.log(import.meta.resolve('itassist'))")"
[[ "$where" == "file://$user/app/node_modules/itassist/"* ]] \
  || { echo "test-node: 'itassist' resolves to $where" >&2; exit 1; }
out="$(env -u ORT_DYLIB_PATH node snippet.mjs)"
echo "$out" | sed 's/^/  snippet: /' >&2
grep -q 'ssh-add' <<<"$out" || { echo "test-node: the README snippet found no ssh-add passage" >&2; exit 1; }
echo "test-node: README snippet ran with $(basename "$tarball") ($(du -h "$tarball" | cut -f1)) installed in a fresh project ($((SECONDS - t0)) s)" >&2
