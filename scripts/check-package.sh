#!/usr/bin/env bash
# Checks that the `itassist` crate is self-contained, so that `cargo add itassist` works once it
# is published: `cargo package -p itassist` (offline, from the locked dependencies) must succeed,
# and the .crate it writes must
#   - hold the sources, the manifest and the README it names, and nothing that reads files
#     outside the crate (tests and benches that need ../shared test data are left out);
#   - have a normalised manifest with no path dependency and the workspace's rust-version;
#   - build on its own (cargo package's verification: the .crate unpacked and compiled with
#     the locked dependencies), unless ITASSIST_PACKAGE_VERIFY=0.
# The verification compiles the packaged crate as its own workspace, with the same dev-profile
# settings as this one (dependencies at opt-level 2 without debug info), in the shared target
# directory, so the dependencies already built by `cargo test` are reused where their features
# agree.
#
#   bash scripts/check-package.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export ITASSIST_CACHE="${ITASSIST_CACHE:-$HOME/.cache/itassist}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ITASSIST_CACHE/target}"
t0=$SECONDS
# --allow-dirty: a working tree with uncommitted changes (CI's clean checkout needs none).
args=(-p itassist --locked --offline --allow-dirty --config 'profile.dev.package."*".opt-level=2'
  --config 'profile.dev.package."*".debug=false' --config 'profile.dev.debug="line-tables-only"')
[ "${ITASSIST_PACKAGE_VERIFY:-1}" = 1 ] || args+=(--no-verify)

files="$(cargo package "${args[@]}" --list 2>/dev/null)"
fail=0
for f in Cargo.toml Cargo.toml.orig Cargo.lock README.md src/lib.rs; do
  grep -qx "$f" <<<"$files" || { echo "check-package: $f is not in the package" >&2; fail=1; }
done
if grep -E '^(tests|benches)/' <<<"$files"; then
  echo "check-package: the package carries the tests or benches above (they need ../shared)" >&2; fail=1
fi
# Sources that name a file outside the crate would not compile from the .crate (a doctest
# include of the README is allowed: cargo package copies the README into the crate).
while IFS= read -r f; do
  if grep -nE 'include_(str|bytes)!\("\.\./\.\./' "$f" | grep -v 'README.md'; then
    echo "check-package: $f includes a file outside the crate" >&2; fail=1
  fi
done < <(grep -E '^src/.*\.rs$' <<<"$files" | sed "s|^|crates/itassist/|")
((fail == 0)) || exit 1

cargo package "${args[@]}"
crate="$CARGO_TARGET_DIR/package/itassist-$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n1).crate"
[ -f "$crate" ] || { echo "check-package: no $crate" >&2; exit 1; }
want="$(sed -n 's/^rust-version *= *"\(.*\)"/\1/p' Cargo.toml | head -n1)"
tar -xOzf "$crate" --wildcards '*/Cargo.toml' | python3 -c '
import sys, tomllib
m = tomllib.loads(sys.stdin.read())
want = sys.argv[1]
tables = [("", m)] + [(f"target.{t}.", v) for t, v in m.get("target", {}).items()]
bad = [f"{pre}{kind}.{name}" for pre, t in tables
       for kind in ("dependencies", "dev-dependencies", "build-dependencies")
       for name, spec in t.get(kind, {}).items() if isinstance(spec, dict) and "path" in spec]
if bad:
    sys.exit("check-package: path dependencies in the packaged Cargo.toml: " + ", ".join(bad))
got = m["package"].get("rust-version")
if got != want:
    sys.exit(f"check-package: the packaged Cargo.toml declares rust-version {got!r}, not {want!r}")
' "$want"
verified="verified: it builds on its own"
[ "${ITASSIST_PACKAGE_VERIFY:-1}" = 1 ] || verified="not verified (ITASSIST_PACKAGE_VERIFY=0)"
echo "check-package: $(basename "$crate") ($(du -h "$crate" | cut -f1), $(grep -c . <<<"$files") files), rust-version $want, no path dependency; $verified ($((SECONDS - t0)) s)"
