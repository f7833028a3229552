#!/usr/bin/env bash
# Checks, offline, that the minimum Rust version itassist declares is true:
#
#   1. every workspace crate declares the same `rust-version` (the root Cargo.toml's
#      [workspace.package] rust-version, inherited);
#   2. no locked dependency (Cargo.lock, every package `cargo metadata --locked` lists) declares a
#      `rust-version` above it: otherwise `cargo build --locked` and `cargo add itassist` fail on
#      the declared version;
#   3. the Dockerfile's builder image `FROM rust:X.Y[...]` is at least that version, so
#      `docker compose up --build` compiles;
#   4. the toolchain here (rustc --version) is at least that version.
#
# Usage:
#   bash scripts/check-msrv.sh                      # check; exit 1 on any violation
#   bash scripts/check-msrv.sh --declared 1.88      # pretend the workspace declares 1.88
#   bash scripts/check-msrv.sh --dockerfile FILE    # check another Dockerfile
# The two overrides exist so the test can show the check fails when it should.
# Needs the dependencies' sources in cargo's registry cache (`cargo fetch --locked` once);
# it makes no network request (`cargo metadata --offline`). Takes about a second.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

declared_override=""
dockerfile="$root/Dockerfile"
while (($#)); do
  case "$1" in
    --declared) declared_override="$2"; shift 2 ;;
    --dockerfile) dockerfile="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "check-msrv: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done

meta="$(mktemp)"
trap 'rm -f "$meta"' EXIT
if ! cargo metadata --locked --offline --format-version 1 >"$meta" 2>"$meta.err"; then
  cat "$meta.err" >&2; rm -f "$meta.err"
  echo "check-msrv: cargo metadata failed; if sources are missing, run \`cargo fetch --locked\` first" >&2
  exit 2
fi
rm -f "$meta.err"

python3 - "$meta" "$dockerfile" "$declared_override" "$(rustc --version)" <<'EOF'
import json, re, sys

meta_path, dockerfile, declared_override, rustc = sys.argv[1:]
meta = json.load(open(meta_path))

def parse(v):
    parts = [int(x) for x in re.findall(r"\d+", v)[:3]]
    return tuple(parts + [0] * (3 - len(parts)))

def show(v):
    return ".".join(str(x) for x in v[:2]) + (f".{v[2]}" if v[2] else "")

problems = []
members = set(meta["workspace_members"])
declared = {p["name"]: p.get("rust_version") for p in meta["packages"] if p["id"] in members}
missing = sorted(n for n, v in declared.items() if not v)
if missing:
    problems.append(f"workspace crates without rust-version: {', '.join(missing)}")
values = sorted({v for v in declared.values() if v})
if len(values) > 1:
    problems.append(f"workspace crates declare different rust-versions: {declared}")
if declared_override:
    msrv = parse(declared_override)
    print(f"declared rust-version: {show(msrv)} (overridden with --declared)")
elif values:
    msrv = parse(values[0])
    print(f"declared rust-version: {show(msrv)} ({len(declared)} workspace crates)")
else:
    print("check-msrv: FAILED: no rust-version declared", file=sys.stderr)
    sys.exit(1)

deps = [(parse(p["rust_version"]), p["name"], p["version"])
        for p in meta["packages"] if p["id"] not in members and p.get("rust_version")]
deps.sort(reverse=True)
top = deps[0][0] if deps else (0, 0, 0)
above = [d for d in deps if d[0] > msrv]
print(f"locked dependencies: {len(meta['packages']) - len(members)} packages, "
      f"{len(deps)} declare a rust-version, highest {show(top)}: "
      + ", ".join(f"{n} {v}" for r, n, v in deps if r == top))
for r, n, v in above:
    problems.append(f"dependency {n} {v} needs Rust {show(r)} > declared {show(msrv)}")

# FROM rust:1.92-bookworm AS builder  /  FROM docker.io/library/rust:1.92.0-slim
froms = []
for line in open(dockerfile, encoding="utf-8"):
    m = re.match(r"\s*FROM\s+(?:--platform=\S+\s+)?(\S+)", line, re.I)
    if m and re.match(r"(?:(?:docker\.io/)?library/)?rust:", m.group(1)):
        froms.append(m.group(1))
if not froms:
    problems.append(f"{dockerfile}: no `FROM rust:<version>` builder stage")
for image in froms:
    tag = image.split(":", 1)[1].split("@")[0]
    m = re.match(r"(\d+\.\d+(?:\.\d+)?)(?:-|$)", tag)
    if not m:
        problems.append(f"{dockerfile}: builder image {image} does not pin a Rust version")
        continue
    image_version = parse(m.group(1))
    verdict = "ok" if image_version >= msrv else "TOO OLD"
    print(f"Dockerfile builder: {image} (Rust {show(image_version)}): {verdict}")
    if image_version < msrv:
        problems.append(f"{dockerfile}: {image} is Rust {show(image_version)} < declared {show(msrv)}")

local = parse(rustc.split()[1])
print(f"this toolchain: {rustc}")
if local < msrv:
    problems.append(f"this toolchain ({rustc}) is older than the declared {show(msrv)}")

if problems:
    for p in problems:
        print(f"check-msrv: {p}", file=sys.stderr)
    print(f"check-msrv: FAILED ({len(problems)} problem(s))", file=sys.stderr)
    sys.exit(1)
print(f"check-msrv: ok: no locked dependency needs more than Rust {show(msrv)}, "
      "and the Docker builder image has it")
EOF
