#!/usr/bin/env bash
# Sets up a fresh machine (scripts/setup.sh test) and runs every test of the project:
# the minimum Rust version, Rust (fmt, clippy, unit/integration/doc tests), the crate as
# `cargo package` makes it, the HTTP server with its browser test, the Python package and the
# Node package (each also installed as a user gets it, in another directory, running the
# README's snippet), the Docker files, and the README's main job in a fresh clone of the
# repository with no ../shared beside it.
# Builds are cached under ${ITASSIST_CACHE:-~/.cache/itassist} (one cargo target directory for
# every step), never in the repository. Ends with the time each step took.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export ITASSIST_CACHE="${ITASSIST_CACHE:-$HOME/.cache/itassist}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ITASSIST_CACHE/target}"
T0=$SECONDS
times=()
step_name="" step_t=$SECONDS
step() {
  [ -z "$step_name" ] || times+=("$(printf '%-44s %6d s' "$step_name" $((SECONDS - step_t)))")
  step_name="$*" step_t=$SECONDS
  echo; echo "=== $* ===" >&2
}

step "set-up (scripts/setup.sh test)"
# Everything of `setup.sh test`, with llama-server's compile (9 minutes of a fresh set-up) in
# the background at the lowest priority: it takes the CPU time the downloads and the Rust
# builds leave idle, and the Rust tests, the first step to use it, wait for it.
eval "$(bash scripts/setup.sh base rust | sed 's/^/export /')"
mkdir -p "$ITASSIST_CACHE"
llama_env="$(mktemp)" llama_log="$ITASSIST_CACHE/provision-llama.log"
nice -n 19 bash scripts/provision-llama.sh --print-env >"$llama_env" 2>"$llama_log" &
llama_pid=$! llama_t=$SECONDS
eval "$(bash scripts/setup.sh ocr models multilingual | sed 's/^/export /')"
echo "test: ORT_DYLIB_PATH=$ORT_DYLIB_PATH ITASSIST_MODEL_DIR=$ITASSIST_MODEL_DIR" >&2
echo "test: llama-server is provisioned in the background (log: $llama_log)" >&2
# wait_for_llama: waits for the background provisioning, then exports LLAMA_SERVER/LLAMA_MODEL.
wait_for_llama() {
  local t=$SECONDS
  if ! wait "$llama_pid"; then
    cat "$llama_log" >&2; echo "test: provisioning llama-server failed (log above)" >&2; exit 1
  fi
  eval "$(sed 's/^/export /' "$llama_env")"
  rm -f "$llama_env"
  echo "test: llama-server ready after $((SECONDS - llama_t)) s in the background (waited $((SECONDS - t)) s): LLAMA_SERVER=$LLAMA_SERVER" >&2
}

step "minimum Rust version (scripts/check-msrv.sh)"
cargo fetch --locked
bash scripts/check-msrv.sh
# The check must fail when the declared version or the Docker image is too old.
if bash scripts/check-msrv.sh --declared 1.88 >/dev/null 2>&1; then
  echo "test: check-msrv.sh passed with --declared 1.88; it must fail" >&2; exit 1
fi
old_dockerfile="$(mktemp)"
sed 's/^FROM rust:[0-9.]*/FROM rust:1.88/' Dockerfile >"$old_dockerfile"
if bash scripts/check-msrv.sh --dockerfile "$old_dockerfile" >/dev/null 2>&1; then
  rm -f "$old_dockerfile"; echo "test: check-msrv.sh passed with rust:1.88 in the Dockerfile; it must fail" >&2; exit 1
fi
rm -f "$old_dockerfile"
echo "test: check-msrv.sh fails, as it must, with --declared 1.88 and with FROM rust:1.88" >&2

step "rustfmt and clippy"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings

step "Rust tests"
cargo test --workspace --no-run 2>&1
# The test binaries that start llama-server (they include tests/support/llama_server.rs) run
# last, after wait_for_llama; every other test runs first, while llama-server's compile
# finishes in the background on the CPU those tests leave idle.
early=() late=()
for file in crates/*/tests/*.rs benches/tests/*.rs; do
  name="$(basename "$file" .rs)"
  if grep -q '^mod llama_server;' "$file"; then late+=(--test "$name"); else early+=(--test "$name"); fi
done
[ "${#late[@]}" -gt 0 ] || { echo "test: no test starts llama-server; tests/support moved?" >&2; exit 1; }
cargo test --workspace --lib --bins "${early[@]}" 2>&1
cargo test --workspace --doc 2>&1

# The steps that need no model server also run before waiting for it.
step "crate package (cargo package -p itassist)"
bash scripts/check-package.sh

step "Docker files (scripts/check-docker.sh)"
bash scripts/check-docker.sh

step "Rust tests with llama-server"
wait_for_llama
cargo test --workspace "${late[@]}" 2>&1

step "HTTP server in a real browser"
SKIP_RUST=1 bash scripts/test-server.sh

step "Python package"
bash scripts/test-python.sh

step "Node package"
bash scripts/test-node.sh

step "README main job in a fresh clone, no ../shared"
# Nothing a user runs may name the test data beside the repository.
if grep -nE '\.\./shared|shared/corpus' README.md scripts/demo.sh scripts/fetch-demo-docs.sh \
     scripts/setup.sh scripts/provision-*.sh examples/python/*.py examples/node/*.mjs \
     node/package.json node/index.js python/pyproject.toml python/itassist/*.py Dockerfile \
     docker-compose.yml scripts/docker-entrypoint.sh; then
  echo "test: the files above (run by users) refer to ../shared" >&2; exit 1
fi
bash scripts/test-clone-demo.sh

step "done"
echo; echo "=== times ===" >&2
printf '%s\n' "${times[@]}" >&2
printf '%-44s %6d s\n' "total" $((SECONDS - T0)) >&2
