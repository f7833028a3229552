#!/bin/sh
# The Docker image's entry point: `itassist "$@"`, except that the first `itassist serve` with
# no user configured creates one, so that `docker compose up` gives a page one can log in to.
#
#   no ITASSIST_USERS and no ITASSIST_USERS_FILE set, and no $ITASSIST_DATA_DIR/users yet:
#     creates the user `admin` (or $ITASSIST_ADMIN_USER) with a random password, stores its
#     Argon2 hash in $ITASSIST_DATA_DIR/users (mode 600, on the data volume, so it survives
#     restarts) and prints the password once in the log (`docker compose logs assistant`);
#   then serves with ITASSIST_USERS_FILE=$ITASSIST_DATA_DIR/users.
# Users set through ITASSIST_USERS or ITASSIST_USERS_FILE are used as they are; nothing is
# created. Other commands (`ingest`, `serve --hash-password`, ...) run unchanged.
# POSIX sh: the runtime image is debian:bookworm-slim (dash).
set -eu
itassist="${ITASSIST_BIN:-itassist}"

case "${1:-}" in
  serve) ;;
  *) exec "$itassist" "$@" ;;
esac
for arg in "$@"; do
  [ "$arg" = --hash-password ] && exec "$itassist" "$@"
done

if [ -z "${ITASSIST_USERS:-}" ] && [ -z "${ITASSIST_USERS_FILE:-}" ]; then
  data_dir="${ITASSIST_DATA_DIR:-/data}"
  users_file="$data_dir/users"
  if [ ! -s "$users_file" ]; then
    name="${ITASSIST_ADMIN_USER:-admin}"
    # 20 characters from [A-Za-z0-9]: about 119 bits.
    password="$(head -c 64 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 20)"
    hash="$(printf '%s' "$password" | "$itassist" serve --hash-password)"
    mkdir -p "$data_dir"
    old_umask="$(umask)"
    umask 077
    printf '%s:%s\n' "$name" "$hash" >"$users_file.tmp"
    umask "$old_umask"
    mv -f "$users_file.tmp" "$users_file"
    cat >&2 <<EOF
itassist: first run: no user was configured, so one was created.
itassist:   user:     $name
itassist:   password: $password
itassist: Its hash is in $users_file (on the data volume); the password is not stored and
itassist: is shown only now. To add users or change it, put NAME:HASH lines in that file
itassist: (hash: echo -n 'PASSWORD' | docker compose run --rm -T assistant serve --hash-password)
itassist: or set ITASSIST_USERS; delete the file to get a new random password.
EOF
  fi
  ITASSIST_USERS_FILE="$users_file"
  export ITASSIST_USERS_FILE
fi
exec "$itassist" "$@"
