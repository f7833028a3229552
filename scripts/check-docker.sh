#!/usr/bin/env bash
# Checks the Docker path without a Docker engine (none runs on the CI machines):
#
#   1. docker-compose.yml parses (`docker compose config`, or Debian's docker-compose, which
#      is installed when neither is there);
#   2. every variable the Dockerfile's runtime stage and the compose file's `assistant` service
#      set is one the code reads (a string in crates/*/src, or in the script that reads it),
#      and the paths agree: ORT_DYLIB_PATH and ITASSIST_MODEL_DIR are where the image copies
#      them, ITASSIST_DATA_DIR is the image's volume, owned by its user, and the compose
#      volume's target; the port of ITASSIST_ADDR is the one exposed and published; every
#      file the Dockerfile copies from the build context exists and is not .dockerignored;
#   3. the image's entry point (scripts/docker-entrypoint.sh), run here with the debug
#      `itassist`, on a fresh data directory and no user configured, as in the compose file's
#      first run: it creates a user and prints its password, the page (GET /) loads with it
#      and is refused without it; a restart creates nobody new and the same password works.
#
# Usage: bash scripts/check-docker.sh   (builds `itassist` with cargo's dev profile if needed;
# ORT_DYLIB_PATH and ITASSIST_MODEL_DIR as printed by scripts/setup.sh). About 10 s.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export ITASSIST_CACHE="${ITASSIST_CACHE:-$HOME/.cache/itassist}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ITASSIST_CACHE/target}"
t0=$SECONDS

# ---- 1. the compose file parses ----------------------------------------------------------
if docker compose version >/dev/null 2>&1; then compose=(docker compose); else
  if ! command -v docker-compose >/dev/null 2>&1; then
    sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    echo "check-docker: installing docker-compose (apt) to parse the compose file" >&2
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends docker-compose >/dev/null \
      || { "${sudo_cmd[@]}" apt-get update -qq && "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends docker-compose >/dev/null; }
  fi
  compose=(docker-compose)
fi
"${compose[@]}" -f docker-compose.yml config -q
echo "check-docker: docker-compose.yml parses (${compose[*]})"

# ---- 2. variables and paths ----------------------------------------------------------------
python3 - <<'EOF'
import glob, fnmatch, os, re, sys

problems = []
code = ""
for path in glob.glob("crates/*/src/**/*.rs", recursive=True):
    code += open(path, encoding="utf-8").read()
scripts = {p: open(p, encoding="utf-8").read()
           for p in ("scripts/provision-models.sh", "scripts/docker-entrypoint.sh")}

def read_by(name):
    if f'"{name}"' in code:
        return "the code"
    for path, text in scripts.items():
        if re.search(r"\$\{?" + name + r"\b", text):
            return path
    return None

# Dockerfile: stages, ENV, COPY, VOLUME, EXPOSE (continuation lines joined).
lines, cur = [], ""
for raw in open("Dockerfile", encoding="utf-8"):
    s = raw.rstrip("\n")
    if s.lstrip().startswith("#") and not cur:
        continue
    if s.endswith("\\"):
        cur += s[:-1] + " "
        continue
    lines.append(cur + s); cur = ""
stages, stage = {}, None
for line in lines:
    m = re.match(r"\s*FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.I)
    if m:
        stage = m.group(2) or m.group(1)
        stages[stage] = []
        continue
    if stage and line.strip():
        stages[stage].append(line.strip())
runtime = list(stages)[-1]

def env_of(instructions):
    env = {}
    for ins in instructions:
        if ins.upper().startswith("ENV "):
            for k, v in re.findall(r"(\w+)=(\"[^\"]*\"|\S+)", ins[4:]):
                env[k] = v.strip('"')
    return env

renv = env_of(stages[runtime])
copies = []  # (from_stage or None, src, dest)
for st, inss in stages.items():
    for ins in inss:
        if ins.upper().startswith("COPY "):
            parts = ins.split()[1:]
            frm = next((p.split("=", 1)[1] for p in parts if p.startswith("--from=")), None)
            parts = [p for p in parts if not p.startswith("--")]
            copies.append((st, frm, parts[:-1], parts[-1]))
for name, value in renv.items():
    who = read_by(name)
    if not who:
        problems.append(f"Dockerfile sets {name}, which nothing reads")
    else:
        print(f"  Dockerfile ENV {name}={value}: read by {who}")
dests = {dest for st, frm, srcs, dest in copies if st == runtime}
for name in ("ORT_DYLIB_PATH", "ITASSIST_MODEL_DIR"):
    if renv.get(name) not in dests:
        problems.append(f"Dockerfile: {name}={renv.get(name)} is not where a COPY puts a file")
data_dir = renv.get("ITASSIST_DATA_DIR")
run_text = " ".join(i for i in stages[runtime] if i.upper().startswith("RUN "))
volumes = " ".join(i for i in stages[runtime] if i.upper().startswith("VOLUME "))
if not data_dir or f'"{data_dir}"' not in volumes:
    problems.append(f"Dockerfile: ITASSIST_DATA_DIR={data_dir} is not the VOLUME ({volumes})")
if not data_dir or not re.search(r"chown\s+\S+\s+(\S+\s+)*" + re.escape(data_dir) + r"\b", run_text):
    problems.append(f"Dockerfile: ITASSIST_DATA_DIR={data_dir} is not chowned to the image's user")
port = renv.get("ITASSIST_ADDR", "").rsplit(":", 1)[-1]
expose = [i.split()[1] for i in stages[runtime] if i.upper().startswith("EXPOSE ")]
if port not in expose:
    problems.append(f"Dockerfile: ITASSIST_ADDR port {port} is not EXPOSEd ({expose})")

# Build-context COPY sources exist and are not excluded by .dockerignore.
ignore = [l.strip() for l in open(".dockerignore") if l.strip() and not l.startswith("#")]
def ignored(path):
    for pat in ignore:
        p = pat.rstrip("/")
        if fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path, p + "/*") or path.startswith(p + "/"):
            return True
        if p.startswith("**/") and any(fnmatch.fnmatch(part, p[3:]) for part in path.split("/")):
            return True
    return False
for st, frm, srcs, dest in copies:
    if frm:
        continue
    for src in srcs:
        if src == ".":
            continue
        if not os.path.exists(src):
            problems.append(f"Dockerfile ({st}): COPY {src}: no such file in the repository")
        elif ignored(src):
            problems.append(f"Dockerfile ({st}): COPY {src}: excluded by .dockerignore")

# docker-compose.yml: the assistant service (a block-style subset of YAML, as written here).
text = open("docker-compose.yml", encoding="utf-8").read().splitlines()
def block(lines, key, indent):
    out, inside = [], False
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        ind = len(line) - len(line.lstrip())
        if inside:
            if ind <= indent:
                break
            out.append(line)
        elif ind == indent and line.strip() == f"{key}:":
            inside = True
    return out
services = block(text, "services", 0)
assistant = block(services, "assistant", 2)
if not assistant:
    problems.append("docker-compose.yml: no `assistant` service")
cenv = {}
for line in block(assistant, "environment", 4):
    m = re.match(r"\s*(\w+):\s*(.*)", line)
    if m:
        cenv[m.group(1)] = m.group(2)
for name, value in cenv.items():
    who = read_by(name)
    if not who:
        problems.append(f"docker-compose.yml sets {name}, which nothing reads")
    else:
        print(f"  compose environment {name}: read by {who}")
if cenv.get("ITASSIST_DATA_DIR", data_dir) != data_dir:
    problems.append(f"docker-compose.yml: ITASSIST_DATA_DIR={cenv['ITASSIST_DATA_DIR']} != image's {data_dir}")
targets = [l.strip()[2:].split(":")[1] for l in block(assistant, "volumes", 4) if l.strip().startswith("- ")]
if targets != [data_dir]:
    problems.append(f"docker-compose.yml: assistant volumes mount {targets}, the image keeps its data in {data_dir}")
ports = [l.strip()[2:].strip('"') for l in block(assistant, "ports", 4) if l.strip().startswith("- ")]
if not any(p.rsplit(":", 1)[-1] == port for p in ports):
    problems.append(f"docker-compose.yml: no published port maps to the container's {port} ({ports})")
image = [l.split(":", 1)[1].strip() for l in assistant if l.strip().startswith("image:")]
print(f"  compose assistant: image {image[0] if image else '-'}, volumes {targets}, ports {ports}")

if problems:
    for p in problems:
        print(f"check-docker: {p}", file=sys.stderr)
    sys.exit(1)
print("check-docker: every variable set is read by the code, and every path and port agrees")
EOF

# ---- 3. the entry point's first run --------------------------------------------------------
if [ -z "${ITASSIST_MODEL_DIR:-}" ] || [ -z "${ORT_DYLIB_PATH:-}" ]; then
  eval "$(bash scripts/provision-models.sh --print-env | sed 's/^/export /')"
fi
cargo build -q -p itassist-cli
bin="$CARGO_TARGET_DIR/debug/itassist"
work="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

# start_entrypoint LOG: the image's `CMD ["serve"]` with the compose file's environment.
start_entrypoint() {
  env -u ITASSIST_USERS_FILE ITASSIST_USERS="" ITASSIST_BIN="$bin" ITASSIST_DATA_DIR="$work/data" \
    ITASSIST_ADDR="127.0.0.1:$port" OLLAMA_HOST="http://127.0.0.1:9" ITASSIST_MAX_UPLOAD=64M \
    ITASSIST_CORS_ORIGINS="" sh scripts/docker-entrypoint.sh serve >"$1" 2>&1 &
  pid=$!
}
# probe USER PASSWORD: prints the HTTP status of GET / (and checks the page when 200).
probe() {
  python3 - "$port" "$1" "$2" "$pid" <<'EOF'
import base64, os, sys, time, urllib.error, urllib.request
port, user, password, pid = sys.argv[1:]
deadline = time.time() + 60
while True:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
        break
    except Exception:
        if time.time() > deadline or not os.path.exists(f"/proc/{pid}"):
            print("down"); sys.exit(0)
        time.sleep(0.2)
req = urllib.request.Request(f"http://127.0.0.1:{port}/")
if user:
    req.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
try:
    with urllib.request.urlopen(req, timeout=10) as r:
        body = r.read().decode("utf-8", "replace")
        print(r.status if "<html" in body.lower() and "itassist" in body.lower() else f"{r.status}-not-the-page")
except urllib.error.HTTPError as e:
    print(e.code)
EOF
}
stop_entrypoint() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; }

start_entrypoint "$work/first.log"
status_anon="$(probe "" "")"
password="$(sed -n 's/^itassist:   password: //p' "$work/first.log")"
user="$(sed -n 's/^itassist:   user: *//p' "$work/first.log")"
status_user="$(probe "$user" "$password")"
stop_entrypoint
fail=0
if [ -z "$password" ] || [ "$user" != admin ]; then
  echo "check-docker: the first run printed no user and password:" >&2; cat "$work/first.log" >&2; fail=1
fi
perm="$(stat -c %a "$work/data/users" 2>/dev/null || echo missing)"
[ "$perm" = 600 ] || { echo "check-docker: $work/data/users is $perm, not 600" >&2; fail=1; }
[ "$status_anon" = 401 ] || { echo "check-docker: GET / without a user answered $status_anon, not 401" >&2; fail=1; }
[ "$status_user" = 200 ] || { echo "check-docker: GET / as $user answered $status_user, not the page" >&2; cat "$work/first.log" >&2; fail=1; }

start_entrypoint "$work/second.log"
status_again="$(probe "$user" "$password")"
stop_entrypoint
if grep -q 'first run' "$work/second.log"; then echo "check-docker: the restart created another user" >&2; fail=1; fi
[ "$status_again" = 200 ] || { echo "check-docker: after a restart GET / as $user answered $status_again" >&2; cat "$work/second.log" >&2; fail=1; }
((fail == 0)) || exit 1
echo "check-docker: first run created '$user' (users file mode $perm); GET / -> $status_user with it, $status_anon without; after a restart -> $status_again, no new user ($((SECONDS - t0)) s)"
