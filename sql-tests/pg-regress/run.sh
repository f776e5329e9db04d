#!/usr/bin/env bash
# Runs PostgreSQL's regression files (this folder; see README.md) against a temporary sledgres:
# builds the release binary, starts it on a free port with a throw-away data directory, runs
# score.py and prints per-file scores and the total. Extra arguments go to score.py
# (e.g. `--only int4 select`, `--diff union`, `--json FILE`, `--results DIR`).
# Needs python3 and psql (PostgreSQL 15's client) on PATH. Exit status: score.py's (0 only when
# every statement passed), or 2 when the server could not be started.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

cargo build --release -q -p sledgres --manifest-path "$root/Cargo.toml"
bin="$root/target/release/sledgres"

port="${PG_REGRESS_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
data="$(mktemp -d)"
"$bin" --listen "127.0.0.1:$port" --data-dir "$data" >"$data.log" 2>&1 &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$data" "$data.log"
}
trap cleanup EXIT

for _ in $(seq 1 100); do
  if psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c 'select 1' >/dev/null 2>&1; then
    break
  fi
  sleep 0.1
done
if ! kill -0 "$pid" 2>/dev/null; then
  echo "run.sh: sledgres did not start:" >&2
  cat "$data.log" >&2
  exit 2
fi

cd "$here"
python3 score.py --host 127.0.0.1 --port "$port" --user postgres --set . "$@"
