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

# The README's main job, on a small set of real documents, with the debug build.
demo_dir="$(mktemp -d)"
trap 'rm -rf "$demo_dir"' EXIT
ITASSIST_PROFILE=debug ITASSIST_DATA_DIR="$demo_dir" bash scripts/demo.sh \
  "$root/../shared/corpus/debdocs/man/openssh" "$root/../shared/corpus/debdocs/pdf/refcard-en-a4.pdf"
