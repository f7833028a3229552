#!/usr/bin/env bash
# Gets the documents of scripts/demo.sh: real IT documentation in English and Spanish that any
# Debian or Ubuntu machine can get from its own package archive, with `apt-get download` (no
# root needed, nothing is installed) and `dpkg-deb -x` into the cache:
#
#   en/debian-reference.en.pdf   Debian Reference (the system administration guide), 261 pages
#   en/refcard-en-a4.pdf         Debian reference card, 2 pages
#   es/ch01-06.es.html           Debian Reference in Spanish, its first six chapters (tutorials,
#                                package management, system initialisation, authentication,
#                                network setup, network applications), one HTML file each
#   es/refcard-es-a4.pdf         Debian reference card in Spanish
#
# from the packages debian-reference-en, debian-reference-es and debian-refcard (about 6 MB to
# download). Without apt, or when the archive cannot be reached, it falls back to the machine's
# own man pages (English, and Spanish when manpages-es is installed), and says so.
#
#   bash scripts/fetch-demo-docs.sh      # prints the folders to ingest, one per line
#
# Cached in ${ITASSIST_CACHE:-~/.cache/itassist}/demo-docs; a second run takes well under a
# second. ITASSIST_DEMO_DOCS=local forces the man-page fallback. Log on stderr.
set -euo pipefail
CACHE="${ITASSIST_CACHE:-$HOME/.cache/itassist}"
mkdir -p "$CACHE"
CACHE="$(cd "$CACHE" && pwd -P)"
DOCS="$CACHE/demo-docs"
PACKAGES=(debian-reference-en debian-reference-es debian-refcard)
# Which files are taken; change it when the selection below changes, so caches are renewed.
SELECTION="selection 2: en pdf + refcard, es ch01-06 + refcard"
log() { printf 'fetch-demo-docs: %s\n' "$*" >&2; }
t0=$SECONDS
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo -n)

human() { awk -v b="$1" 'BEGIN { split("B KB MB GB", u); i = 1; while (b >= 1000 && i < 4) { b /= 1000; i++ } printf (i == 1 ? "%d %s" : "%.1f %s"), b, u[i] }'; }

# describe DIR: one line per file (name, size, pages for PDFs).
describe() {
  local f pages
  for f in "$1"/*; do
    pages=""
    if [[ "$f" == *.pdf ]] && command -v pdfinfo >/dev/null 2>&1; then
      pages="$(pdfinfo "$f" 2>/dev/null | awk '/^Pages:/ {print ", " $2 " pages"}')"
    fi
    log "    $(basename "$f") ($(human "$(stat -c %s "$f")")$pages)"
  done
}

# ---- cached ----------------------------------------------------------------------------
if [[ "${ITASSIST_DEMO_DOCS:-}" != local && -f "$DOCS/.complete" ]] \
   && [[ "$(head -n1 "$DOCS/.complete")" == "$SELECTION" ]] \
   && [[ -n "$(ls -A "$DOCS/en" 2>/dev/null)" && -n "$(ls -A "$DOCS/es" 2>/dev/null)" ]]; then
  log "cached in $DOCS (from $(tail -n +2 "$DOCS/.complete" | tr '\n' ' '))"
  echo "$DOCS/en"; echo "$DOCS/es"
  exit 0
fi

# ---- Debian's documentation packages ---------------------------------------------------
# apt_download DIR: downloads the packages into DIR; prints "name version url size" lines.
apt_download() {
  local dir=$1 uris
  command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1 || return 1
  if ! uris="$(apt-get download --print-uris "${PACKAGES[@]}" 2>/dev/null)" || [ -z "$uris" ]; then
    # A fresh machine may have no package lists yet.
    log "apt has no package lists for ${PACKAGES[*]}: running apt-get update"
    "${sudo_cmd[@]}" apt-get update -qq >&2 || return 1
    uris="$(apt-get download --print-uris "${PACKAGES[@]}" 2>/dev/null)" || return 1
  fi
  # apt's downloader runs as the _apt user when it can: let it write into the directory.
  if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then chown _apt "$dir"; fi
  (cd "$dir" && apt-get download -q=2 "${PACKAGES[@]}" >&2) || return 1
  # 'URL' FILE SIZE HASH  ->  FILE URL SIZE
  awk '{ gsub("\x27", "", $1); print $2, $1, $3 }' <<<"$uris"
}

fetch_debian() {
  local tmp list file url size pkg
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  chmod 755 "$tmp"
  mkdir "$tmp/debs"
  list="$(apt_download "$tmp/debs")" || return 1
  rm -rf "$DOCS.new"; mkdir -p "$DOCS.new/en" "$DOCS.new/es" "$DOCS.new/debs"
  printf '%s\n' "$SELECTION" >"$DOCS.new/.complete"
  while read -r file url size; do
    [ -f "$tmp/debs/$file" ] || { log "apt-get download gave no $file"; return 1; }
    log "  $file ($(human "$size")) from $url"
    mv "$tmp/debs/$file" "$DOCS.new/debs/"
    pkg="${file%%_*}"
    dpkg-deb -x "$DOCS.new/debs/$file" "$tmp/x-$pkg"
    printf '%s\n' "${file%.deb}" >>"$DOCS.new/.complete"
  done <<<"$list"
  local ref="$tmp/x-debian-reference-en/usr/share/debian-reference"
  local ref_es="$tmp/x-debian-reference-es/usr/share/debian-reference"
  local card="$tmp/x-debian-refcard/usr/share/doc/debian-refcard"
  cp "$ref/debian-reference.en.pdf" "$DOCS.new/en/"
  cp "$ref_es"/ch0[1-6].es.html "$DOCS.new/es/"
  gunzip -c "$card/refcard-en-a4.pdf.gz" >"$DOCS.new/en/refcard-en-a4.pdf"
  gunzip -c "$card/refcard-es-a4.pdf.gz" >"$DOCS.new/es/refcard-es-a4.pdf"
  rm -rf "$DOCS"; mv "$DOCS.new" "$DOCS"
}

# ---- fallback: this machine's man pages --------------------------------------------------
MAN_PAGES=(man1/ssh.1 man1/scp.1 man1/ssh-keygen.1 man1/ssh-copy-id.1 man5/ssh_config.5
           man5/sshd_config.5 man8/apt-get.8 man8/apt-cache.8 man8/apt.8 man1/dpkg.1
           man5/sources.list.5 man5/fstab.5 man5/crontab.5 man8/useradd.8 man1/passwd.1
           man8/sudo.8 man1/systemctl.1 man1/journalctl.1 man1/tar.1 man1/rsync.1 man1/bash.1)
fetch_local() {
  local lang dir page f n
  rm -rf "$DOCS.new"; mkdir -p "$DOCS.new/en" "$DOCS.new/es"
  for lang in en es; do
    dir=/usr/share/man; [ "$lang" = es ] && dir=/usr/share/man/es
    n=0
    for page in "${MAN_PAGES[@]}"; do
      for f in "$dir/$page" "$dir/$page.gz"; do
        [ -f "$f" ] && { cp -L "$f" "$DOCS.new/$lang/"; n=$((n + 1)); break; }
      done
    done
    log "  $n $lang man pages from $dir"
  done
  [ -n "$(ls -A "$DOCS.new/en")" ] || { log "error: no man pages in /usr/share/man either"; return 1; }
  [ -n "$(ls -A "$DOCS.new/es")" ] || log "  no Spanish man pages (apt-get install manpages-es adds them)"
  rm -rf "$DOCS"; mv "$DOCS.new" "$DOCS"
}

if [[ "${ITASSIST_DEMO_DOCS:-}" != local ]] && { log "downloading ${PACKAGES[*]} (apt-get download)"; fetch_debian; }; then
  log "got Debian's documentation packages in $((SECONDS - t0)) s:"
else
  log "could not get ${PACKAGES[*]} from the package archive: using this machine's man pages"
  fetch_local
  log "got this machine's man pages in $((SECONDS - t0)) s:"
fi
for lang in en es; do
  [ -d "$DOCS/$lang" ] || continue
  log "  $DOCS/$lang:"; describe "$DOCS/$lang"
done
echo "$DOCS/en"
[ -n "$(ls -A "$DOCS/es" 2>/dev/null)" ] && echo "$DOCS/es"
exit 0
