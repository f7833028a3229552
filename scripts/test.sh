#!/usr/bin/env bash
# Sets up a fresh machine (scripts/setup.sh) and runs every test of the project.
# Builds are cached under ${ITASSIST_CACHE:-~/.cache/itassist}, never in the repository.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export ITASSIST_CACHE="${ITASSIST_CACHE:-$HOME/.cache/itassist}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ITASSIST_CACHE/target}"
eval "$(bash scripts/setup.sh | sed 's/^/export /')"
echo "test: ORT_DYLIB_PATH=$ORT_DYLIB_PATH ITASSIST_MODEL_DIR=$ITASSIST_MODEL_DIR" >&2

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace 2>&1
