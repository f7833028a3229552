#!/usr/bin/env bash
# itassist's main job, end to end, on a fresh Debian/Ubuntu machine:
#
#   1. set-up      python3 with venv, Rust, ONNX Runtime and the embedding model
#                  (scripts/setup.sh demo; nothing else);
#   2. build       the `itassist` command (cargo, release profile);
#   3. model       the chat-model server: Ollama when one answers at $OLLAMA_HOST (default
#                  http://localhost:11434) and has a model; otherwise llama.cpp's llama-server
#                  with SmolLM2-135M-Instruct, built once and started here (scripts/setup.sh llama);
#   4. documents   Debian Reference and the Debian reference card, in English and Spanish, from
#                  Debian's documentation packages (scripts/fetch-demo-docs.sh), or your own;
#   5. ingest      with a progress bar on a terminal;
#   6. search and ask: one English and one Spanish question, answered with numbered sources;
#   7. next        the commands to try next.
#
# Usage:
#   bash scripts/demo.sh                          # the Debian documents and questions above
#   bash scripts/demo.sh DOC_OR_FOLDER...         # your own documents instead
#   bash scripts/demo.sh DOCS... -q "QUESTION"    # and your own questions (repeatable)
#
# Environment: ITASSIST_CACHE (default ~/.cache/itassist: models, builds, documents, index),
# ITASSIST_DATA_DIR (the index; default $ITASSIST_CACHE/demo-index, or demo-index-yours with your
# documents), OLLAMA_HOST, OLLAMA_MODEL (the Ollama model to use), ITASSIST_PROFILE (release or
# debug; test.sh uses debug), LLAMA_THREADS (llama-server threads, default 1).
# Nothing is written inside the repository, and nothing outside it is read but your documents.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export ITASSIST_CACHE="${ITASSIST_CACHE:-$HOME/.cache/itassist}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ITASSIST_CACHE/target}"
profile="${ITASSIST_PROFILE:-release}"

docs=() questions=()
while (($#)); do
  case "$1" in
    -q|--question) [ $# -ge 2 ] || { echo "demo: $1 needs a question" >&2; exit 2; }
                   questions+=("$2"); shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --) shift; docs+=("$@"); break ;;
    *) docs+=("$1"); shift ;;
  esac
done
own_docs=0; ((${#docs[@]})) && own_docs=1

T0=$SECONDS
step_no=0 step_t=0 summary=()
fmt() { local s=$1; if ((s >= 60)); then printf '%dm%02ds' $((s / 60)) $((s % 60)); else printf '%ds' "$s"; fi; }
step() { step_no=$((step_no + 1)); step_t=$SECONDS; step_name="$1"; printf '\n== %d. %s\n' "$step_no" "$1"; }
step_done() {
  local d=$((SECONDS - step_t))
  printf -- '-- %s: %s\n' "$step_name" "$(fmt "$d")${1:+ ($1)}"
  summary+=("$(printf '%-26s %8s' "$step_no. $step_name" "$(fmt "$d")")")
}
die() { printf '\ndemo: error: %s\n' "$*" >&2; exit 1; }

server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

# ---- 1. set-up ------------------------------------------------------------------------------
step "set-up"
echo "python3 with venv, Rust >= $(sed -n 's/^rust-version *= *"\(.*\)"/\1/p' Cargo.toml), ONNX Runtime and all-MiniLM-L6-v2 (scripts/setup.sh demo)"
env_lines="$(bash scripts/setup.sh demo)" || die "set-up failed (see above)"
eval "$(sed 's/^/export /' <<<"$env_lines")"
step_done "ONNX Runtime: $ORT_DYLIB_PATH"

# ---- 2. build ---------------------------------------------------------------------------------
step "build"
if [ "$profile" = release ]; then
  [ -x "$CARGO_TARGET_DIR/release/itassist" ] \
    || echo "first build of the release binary: about 9 minutes on 2 idle cores (about 900 CPU-seconds)"
  cargo build --release --locked -p itassist-cli
else
  cargo build --locked -p itassist-cli
fi
bin="$CARGO_TARGET_DIR/$profile/itassist"
[ -x "$bin" ] || die "cargo built no $bin"
step_done "$bin"

# ---- 3. chat-model server ---------------------------------------------------------------------
step "chat model"
ollama_url="${OLLAMA_HOST:-http://localhost:11434}"
backend_args=() model_args=() sampling=() answer_by=""
if models_json="$("$bin" --json --backend ollama --ollama-url "$ollama_url" models 2>/dev/null)"; then
  model="$(MODELS_JSON="$models_json" python3 - "${OLLAMA_MODEL:-}" <<'EOF'
import json, os, sys
wanted = sys.argv[1]
names = [m.get("name", "") for m in json.loads(os.environ["MODELS_JSON"])]
pick = ([n for n in names if wanted and (n == wanted or n.split(":")[0] == wanted)]
        or [n for n in names if n.split(":")[0] == "llama3"] or names)
print(pick[0] if pick else "")
EOF
)"
  if [ -n "$model" ]; then
    backend_args=(--backend ollama --ollama-url "$ollama_url")
    model_args=(--model "$model")
    answer_by="Ollama at $ollama_url, model $model"
  else
    echo "Ollama answers at $ollama_url but has no model (\`ollama pull llama3.2\` gives it one); using llama-server instead"
  fi
else
  echo "no Ollama answers at $ollama_url (OLLAMA_HOST): using llama.cpp's llama-server instead"
fi
if [ -z "$answer_by" ]; then
  if [ -z "${LLAMA_SERVER:-}" ] || [ ! -x "${LLAMA_SERVER:-}" ] || [ ! -f "${LLAMA_MODEL:-}" ]; then
    [ -x "$ITASSIST_CACHE/llama/bin/llama-server" ] \
      || echo "building llama-server once (scripts/setup.sh llama): 8-12 minutes on 2 cores"
    eval "$(bash scripts/setup.sh llama | sed 's/^/export /')"
  fi
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  server_log="$ITASSIST_CACHE/demo-llama-server.log"
  "$LLAMA_SERVER" -m "$LLAMA_MODEL" --host 127.0.0.1 --port "$port" -c 4096 -t "${LLAMA_THREADS:-1}" \
    >"$server_log" 2>&1 &
  server_pid=$!
  python3 - "$port" "$server_pid" <<'EOF' || die "llama-server did not start (log: $server_log)"
import os, sys, time, urllib.request
port, pid = sys.argv[1:]
deadline = time.time() + 120
while time.time() < deadline and os.path.exists(f"/proc/{pid}"):
    try:
        if urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).status == 200:
            sys.exit(0)
    except Exception:
        pass
    time.sleep(0.3)
sys.exit(1)
EOF
  backend_args=(--backend openai --ollama-url "127.0.0.1:$port")
  # A fixed seed makes a run repeatable; at lower temperatures this model repeats itself.
  sampling=(--temperature 0.7 --seed 7)
  answer_by="llama-server on 127.0.0.1:$port with $(basename "$LLAMA_MODEL")"
  echo "note: SmolLM2-135M is a tiny model (135 million parameters): its answers are rough. The"
  echo "      passages found and their sources are what to look at; Ollama with a larger model"
  echo "      (e.g. \`ollama pull llama3\`) writes much better answers from the same sources."
fi
echo "answers by: $answer_by"
step_done "$answer_by"

# ---- 4. documents -------------------------------------------------------------------------------
step "documents"
if ((own_docs)); then
  export ITASSIST_DATA_DIR="${ITASSIST_DATA_DIR:-$ITASSIST_CACHE/demo-index-yours}"
  for d in "${docs[@]}"; do [ -e "$d" ] || echo "warning: $d does not exist (ingest reports it as path_not_found)"; done
  echo "your documents: ${docs[*]}"
  ((${#questions[@]})) || questions=("What are these documents about? Name their main topics.")
else
  export ITASSIST_DATA_DIR="${ITASSIST_DATA_DIR:-$ITASSIST_CACHE/demo-index}"
  mapfile -t docs < <(bash scripts/fetch-demo-docs.sh)
  ((${#docs[@]})) || die "no documents"
  ((${#questions[@]})) || questions=(
    "How can I log in to a remote host with SSH without typing a password?"
    "¿Cómo se genera una contraseña cifrada para un usuario?"
  )
fi
step_done "${#docs[@]} path(s)"

# ---- 5. ingest ----------------------------------------------------------------------------------
step "ingest"
ingest_args=()
if ! ((own_docs)); then
  ingest_args+=(--no-ocr)   # born-digital PDFs and HTML: nothing to OCR
elif ! command -v tesseract >/dev/null 2>&1; then
  ingest_args+=(--no-ocr)
  echo "note: Tesseract is not installed, so scanned pages and images are skipped"
  echo "      (\`bash scripts/setup.sh ocr\` installs it, ~40 s)"
fi
echo "index: $ITASSIST_DATA_DIR"
set +e
"$bin" ingest "${ingest_args[@]}" "${docs[@]}"
rc=$?
set -e
((rc != 2)) || die "ingest failed (exit code 2)"
((rc == 0)) || echo "(some files failed, listed above; the others are indexed)"
"$bin" stats
step_done

# ---- 6. search and ask --------------------------------------------------------------------------
step "search and ask"
echo; echo "\$ itassist search \"${questions[0]}\" -k 3"
"$bin" search "${questions[0]}" -k 3
answered=0
for q in "${questions[@]}"; do
  echo; echo "\$ itassist ask \"$q\""
  out="$(mktemp)"
  # --stream prints the answer as it is written; the numbered sources follow it, then the
  # model's timings (on stderr, merged here so that they come last).
  if "$bin" "${backend_args[@]}" ask "$q" "${model_args[@]}" "${sampling[@]}" --stream \
       --num-predict 256 2>&1 | tee "$out"; then
    grep -q '^Sources:' "$out" && answered=$((answered + 1))
  else
    echo "(no answer: see the error above)"
  fi
  rm -f "$out"
done
((answered == ${#questions[@]})) || die "$answered of ${#questions[@]} questions were answered with sources"
step_done "$answered answers, by $answer_by"

# ---- 7. next ----------------------------------------------------------------------------------------
step "next"
# Flags for the same chat-model server: global ones (before the command), the model (after).
if [ "${backend_args[1]}" = openai ]; then
  start_server="$LLAMA_SERVER -m $LLAMA_MODEL --port 8080 -c 4096 &   # the server this demo used"
  global="--backend openai --ollama-url 127.0.0.1:8080 "
  ask_model="" serve_model=""
else
  start_server=""
  global=""
  [ "$ollama_url" = http://localhost:11434 ] || global="--ollama-url $ollama_url "
  ask_model=" --model ${model_args[1]}" serve_model=" --chat-model ${model_args[1]}"
fi
next_search="ssh-copy-id" next_question="How do I pin a package version?"
if ((own_docs)); then next_search="${questions[0]}" next_question="${questions[0]}"; fi
chat_line=""
if "$bin" help chat >/dev/null 2>&1; then
  chat_line="  itassist ${global}chat$ask_model     # a conversation over the same documents"
fi
cat <<EOF
The index stays in $ITASSIST_DATA_DIR. In a new shell:

  export ITASSIST_DATA_DIR=$ITASSIST_DATA_DIR
  export ITASSIST_MODEL_DIR=$ITASSIST_MODEL_DIR
  export ORT_DYLIB_PATH=$ORT_DYLIB_PATH
  alias itassist=$bin     # or: cargo install --locked --path crates/itassist-cli
${start_server:+  $start_server
}  itassist search "$next_search" -k 5
  itassist ${global}ask "$next_question"$ask_model --stream
${chat_line:+$chat_line
}  itassist ingest ~/my-docs     # add your own documents (or: bash scripts/demo.sh ~/my-docs)
  HASH=\$(echo -n 'pick a password' | itassist serve --hash-password)
  ITASSIST_USERS="me:\$HASH" itassist ${global}serve$serve_model
  # then open http://127.0.0.1:8000/ and log in as "me"
EOF
step_done

echo
echo "== times"
printf '%s\n' "${summary[@]}"
printf '%-26s %8s\n' "total" "$(fmt $((SECONDS - T0)))"
