#!/usr/bin/env bash
# Sets up a fresh machine (scripts/setup.sh) and runs every test of the project:
# Rust (fmt, clippy, unit/integration/doc tests), the HTTP server with its browser test,
# the Python package, the Node package, the compose file, and the README's main job.
# Builds are cached under ${ITASSIST_CACHE:-~/.cache/itassist}, never in the repository.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export ITASSIST_CACHE="${ITASSIST_CACHE:-$HOME/.cache/itassist}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ITASSIST_CACHE/target}"
eval "$(bash scripts/setup.sh | sed 's/^/export /')"
echo "test: ORT_DYLIB_PATH=$ORT_DYLIB_PATH ITASSIST_MODEL_DIR=$ITASSIST_MODEL_DIR LLAMA_SERVER=${LLAMA_SERVER:-}" >&2

step() { echo; echo "=== $* ===" >&2; }

step "rustfmt and clippy"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings

step "Rust tests"
cargo test --workspace 2>&1

step "HTTP server in a real browser"
SKIP_RUST=1 bash scripts/test-server.sh

step "Python package"
bash scripts/test-python.sh

step "Node package"
bash scripts/test-node.sh

step "docker compose file"
if docker compose version >/dev/null 2>&1; then compose=(docker compose); else
  if ! command -v docker-compose >/dev/null 2>&1; then
    sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends docker-compose >&2
  fi
  compose=(docker-compose)
fi
"${compose[@]}" -f docker-compose.yml config -q
echo "docker-compose.yml parses" >&2

step "README main job (scripts/demo.sh) on a small set of real documents"
demo_dir="$(mktemp -d)"
trap 'rm -rf "$demo_dir"' EXIT
ITASSIST_PROFILE=debug ITASSIST_DATA_DIR="$demo_dir" bash scripts/demo.sh \
  "$root/../shared/corpus/debdocs/man/openssh" "$root/../shared/corpus/debdocs/pdf/refcard-en-a4.pdf"
