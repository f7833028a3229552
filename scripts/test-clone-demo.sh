#!/usr/bin/env bash
# The README's main job as a new user runs it: clones this repository into a temporary folder
# with no ../shared beside it, runs the first command of the README's quick start there
# (`bash scripts/demo.sh`), and checks what it printed: the documents it took and from where,
# the ingest, one English and one Spanish answer each with numbered sources, which chat-model
# server answered, the next commands, and the times.
#
#   bash scripts/test-clone-demo.sh
#
# To stay within CI's time it reuses what scripts/test.sh already built: the same cargo target
# directory and the debug profile (ITASSIST_PROFILE=debug; only the clone's own three crates
# are compiled again, since their path changed), the provisioned models and llama-server, and
# the cached documents. The index is new (a temporary ITASSIST_DATA_DIR), so the ingest is real.
# In CI the checkout is clean, so this is a plain `git clone`; in a working tree with
# uncommitted changes they are copied over the clone, so that what is tested is what is here.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ITASSIST_CACHE="${ITASSIST_CACHE:-$HOME/.cache/itassist}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ITASSIST_CACHE/target}"
t0=$SECONDS

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
clone="$tmp/itassist"
git clone --quiet --no-hardlinks "$root" "$clone"
if [ -n "$(git -C "$root" status --porcelain)" ]; then
  echo "test-clone-demo: copying the working tree's uncommitted changes over the clone" >&2
  (cd "$root" && git ls-files -z --modified --others --exclude-standard \
     | while IFS= read -r -d '' f; do
         if [ -e "$f" ]; then mkdir -p "$clone/$(dirname "$f")"; cp -p "$f" "$clone/$f"; else rm -f "$clone/$f"; fi
       done)
fi
if [ -e "$clone/../shared" ]; then echo "test-clone-demo: $clone/../shared exists" >&2; exit 1; fi

# The README's main-job command: the first line of the first sh block of its quick start.
cmd="$(awk '/^## Quick start/ { q = 1 } q && /^```sh$/ { getline; print; exit }' "$clone/README.md" \
       | sed 's/[[:space:]]*#.*//')"
[ "$cmd" = "bash scripts/demo.sh" ] \
  || { echo "test-clone-demo: the README's quick start starts with '$cmd', not 'bash scripts/demo.sh'" >&2; exit 1; }
echo "test-clone-demo: running '$cmd' in $clone (no $tmp/shared)" >&2

log="$tmp/demo.log"
(cd "$clone" && ITASSIST_PROFILE=debug ITASSIST_DATA_DIR="$tmp/index" bash -c "$cmd" </dev/null 2>&1) | tee "$log"
rc=${PIPESTATUS[0]}
((rc == 0)) || { echo "test-clone-demo: '$cmd' exited with $rc" >&2; exit 1; }

fail=0
check() {  # check DESCRIPTION EXTENDED-REGEX [MIN_COUNT]
  local n
  n="$(grep -cE -- "$2" "$log" || true)"
  if ((n < ${3:-1})); then echo "test-clone-demo: FAILED: $1 (/$2/ matched $n lines)" >&2; fail=1
  else echo "test-clone-demo: ok: $1" >&2; fi
}
check "says which documents it took, from where" 'debian-reference-(en|es)_[^ ]+\.deb .* from http|cached in .*demo-docs'
check "ingests them" '^[0-9]+ added, .* [0-9]+ chunks, [0-9]+ pages in'
check "nothing failed to ingest" ', 0 failed[;,]'
check "asks one English question" '^\$ itassist ask "How '
check "asks one Spanish question" '^\$ itassist ask "¿'
check "prints numbered sources after each answer" '^Sources:$' 2
check "says which server answered" '^answers by: (llama-server|Ollama)'
# Each answer: some text, then numbered sources with document and page or section, from the
# documents in the question's language.
python3 - "$log" <<'EOF' || fail=1
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
blocks = re.split(r"^\$ itassist ask ", text, flags=re.M)[1:]
want = [("English", r"debian-reference\.en\.pdf, page \d+|refcard-en-a4\.pdf, page \d+"),
        ("Spanish", r"ch\d\d\.es\.html, § |refcard-es-a4\.pdf, page \d+")]
ok = len(blocks) == 2
for (lang, pattern), block in zip(want, blocks):
    question, _, rest = block.partition("\n")
    answer, _, sources = rest.partition("\nSources:\n")
    numbered = re.findall(r"^  \[(\d+)\] (.*) \[score [0-9.]+\](\s+\(cited\))?$", sources, flags=re.M)
    cited = [n for n, _, c in numbered if c]
    good = (answer.strip() and numbered and [int(n) for n, _, _ in numbered] == list(range(1, len(numbered) + 1))
            and re.search(pattern, numbered[0][1]))
    print(f"test-clone-demo: {'ok' if good else 'FAILED'}: the {lang} question {question} was answered "
          f"({len(answer.split())} words) with {len(numbered)} numbered sources, the first "
          f"{numbered[0][1] if numbered else '-'}; the answer cites {cited or 'none of them'}",
          file=sys.stderr)
    ok = ok and bool(good)
sys.exit(0 if ok else 1)
EOF
check "says a tiny model gives rough answers (without Ollama)" 'tiny model|^answers by: Ollama'
check "prints the next commands" 'itassist (--backend openai --ollama-url [^ ]+ )?ask '
check "including serve and the page's URL" 'http://127\.0\.0\.1:8000/'
check "prints the times" '^total '
((fail == 0)) || exit 1
echo "test-clone-demo: the README's main job ran in a fresh clone ($((SECONDS - t0)) s)" >&2
