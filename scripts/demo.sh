#!/usr/bin/env bash
# Sets up a fresh machine (scripts/setup.sh), builds the `itassist` command, ingests a set of
# real documents and searches them. Usage: bash scripts/demo.sh [DOCS...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export ITASSIST_CACHE="${ITASSIST_CACHE:-$HOME/.cache/itassist}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ITASSIST_CACHE/target}"
eval "$(bash scripts/setup.sh | sed 's/^/export /')"
profile="${ITASSIST_PROFILE:-release}"   # test.sh runs it with the debug build
if [ "$profile" = release ]; then cargo build --release -p itassist-cli; else cargo build -p itassist-cli; fi
bin="$CARGO_TARGET_DIR/$profile/itassist"
export ITASSIST_DATA_DIR="${ITASSIST_DATA_DIR:-$ITASSIST_CACHE/demo-index}"
corpus="$root/../shared/corpus"
if (($#)); then docs=("$@"); else
  docs=("$corpus/debdocs/pdf" "$corpus/debdocs/man/openssh" "$corpus/owasp-asvs/docx")
fi
"$bin" ingest "${docs[@]}"
"$bin" stats
for q in "How do I copy my public key to a remote server?" \
         "Where should configuration files live according to the filesystem hierarchy?" \
         "What are the password security requirements?"; do
  echo; echo "== $q"
  "$bin" search "$q" -k 3
done
