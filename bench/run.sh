#!/usr/bin/env bash
# bench/run.sh — pgbench against sledgres and PostgreSQL 15, alternating, same scripts.
#
#   bench/run.sh                      # defaults: 4 clients, 5 s per run, 2 rounds, 10000 rows
#   CLIENTS=8 SECONDS_PER_RUN=10 ROUNDS=3 bench/run.sh
#   PG_CONN="host=127.0.0.1 port=5432 user=postgres dbname=postgres" bench/run.sh
#   SCRIPTS="select update" bench/run.sh
#   SCRIPTS=tpcb TPCB_SCALE=4 bench/run.sh
#
# Scripts: bench/<name>.sql over bench_accounts, plus `tpcb`, pgbench's built-in TPC-B
# ("sort of") script on the tables `pgbench -i -s $TPCB_SCALE` creates.
# sledgres: built --release and started by this script on a temporary data dir.
# PostgreSQL: the server in PG_CONN if given, else a scratch server started here from the
# installed binaries (/usr/lib/postgresql/15/bin; as user postgres when run as root).
# For each script the two servers alternate (sledgres, PostgreSQL, sledgres, …) so drift in
# the machine's load hits both. Prints every run's tps, then a table with the best tps of each
# side and the ratio sledgres/PostgreSQL. A side that fails is reported and the run goes on.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
CLIENTS=${CLIENTS:-4}
THREADS=${THREADS:-2}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
ROUNDS=${ROUNDS:-2}
ROWS=${ROWS:-10000}
SCRIPTS=${SCRIPTS:-"select update insert tpcb"}
TPCB_SCALE=${TPCB_SCALE:-1}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGBENCH=$(command -v pgbench || echo "$PGBIN/pgbench")
[ -x "$PGBENCH" ] || { echo "bench: pgbench not found (install postgresql-15 or postgresql-contrib)" >&2; exit 1; }

work=$(mktemp -d /tmp/sledgres-bench.XXXXXX)
chmod 755 "$work"
sled_pid=""; pg_started=""
cleanup() {
  [ -n "$sled_pid" ] && kill "$sled_pid" 2>/dev/null && wait "$sled_pid" 2>/dev/null
  if [ -n "$pg_started" ]; then as_pg "$PGBIN/pg_ctl" -D "$work/pg" -m fast -w stop >/dev/null 2>&1; fi
  rm -rf "$work"
}
trap cleanup EXIT
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- sledgres -------------------------------------------------------------------------------
sled_ok=1
echo "bench: building sledgres (release)…"
if ! (cd "$root" && cargo build --release -q -p sledgres); then
  echo "bench: sledgres does not build: sledgres runs are skipped"; sled_ok=0
fi
sled_port=$(free_port)
sled_conn="host=127.0.0.1 port=$sled_port user=postgres dbname=postgres"
if [ $sled_ok = 1 ]; then
  "$root/target/release/sledgres" --listen "127.0.0.1:$sled_port" --data-dir "$work/sled" \
    >"$work/sledgres.log" 2>&1 &
  sled_pid=$!
  for _ in $(seq 50); do psql "$sled_conn" -XAtqc 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.2; done
  if ! psql "$sled_conn" -XAtqc 'SELECT 1' >/dev/null 2>&1; then
    echo "bench: sledgres did not start or answer SELECT 1 (log: $(tail -3 "$work/sledgres.log" | tr '\n' ' ')): sledgres runs are skipped"
    sled_ok=0
  fi
fi

# --- PostgreSQL -----------------------------------------------------------------------------
pg_ok=1
if [ -n "${PG_CONN:-}" ]; then
  pg_conn=$PG_CONN
else
  pg_port=$(free_port)
  mkdir -p "$work/pg"; [ "$(id -u)" = 0 ] && chown postgres "$work/pg"
  if as_pg "$PGBIN/initdb" -D "$work/pg" -U postgres -A trust -E UTF8 --locale=C >/dev/null 2>&1 &&
     as_pg "$PGBIN/pg_ctl" -D "$work/pg" -l "$work/pg/log" -w \
       -o "-c listen_addresses=127.0.0.1 -c port=$pg_port -c unix_socket_directories=$work/pg" start >/dev/null; then
    pg_started=1
    pg_conn="host=127.0.0.1 port=$pg_port user=postgres dbname=postgres"
  else
    echo "bench: could not start a scratch PostgreSQL from $PGBIN: PostgreSQL runs are skipped"; pg_ok=0
    pg_conn=""
  fi
fi

# --- data -----------------------------------------------------------------------------------
setup() { # conn
  local conn=$1
  psql "$conn" -Xq -v ON_ERROR_STOP=1 >/dev/null 2>"$work/setup.err" <<SQL || { cat "$work/setup.err"; return 1; }
DROP TABLE IF EXISTS bench_accounts;
DROP TABLE IF EXISTS bench_inserts;
CREATE TABLE bench_accounts (id integer PRIMARY KEY, balance integer NOT NULL, filler text);
CREATE TABLE bench_inserts (client integer, v integer);
SQL
  # Plain multi-row INSERTs (no generate_series or COPY), 1000 rows each.
  python3 - "$ROWS" >"$work/load.sql" <<'PY'
import sys
rows = int(sys.argv[1])
for start in range(1, rows + 1, 1000):
    end = min(start + 999, rows)
    vals = ",".join(f"({i},0,'{'x' * 80}')" for i in range(start, end + 1))
    print(f"INSERT INTO bench_accounts VALUES {vals};")
PY
  psql "$conn" -Xq -v ON_ERROR_STOP=1 -f "$work/load.sql" >/dev/null 2>"$work/setup.err" || { cat "$work/setup.err"; return 1; }
  # The built-in TPC-B script's tables, with pgbench's own (client-side) initialisation.
  case " $SCRIPTS " in
    *" tpcb "*) "$PGBENCH" -i -q -s "$TPCB_SCALE" "$conn" >"$work/setup.err" 2>&1 || { tail -5 "$work/setup.err"; return 1; } ;;
  esac
}
if [ $sled_ok = 1 ]; then setup "$sled_conn" || { echo "bench: loading sledgres failed: sledgres runs are skipped"; sled_ok=0; }; fi
if [ $pg_ok = 1 ]; then setup "$pg_conn" || { echo "bench: loading PostgreSQL failed: PostgreSQL runs are skipped"; pg_ok=0; }; fi

# --- runs -----------------------------------------------------------------------------------
run() { # name conn script -> prints tps or FAIL
  local conn=$1 script=$2 out
  local what=(-D rows="$ROWS" -f "$here/$script.sql")
  [ "$script" = tpcb ] && what=(-b tpcb-like)
  out=$("$PGBENCH" -n -c "$CLIENTS" -j "$THREADS" -T "$SECONDS_PER_RUN" "${what[@]}" "$conn" 2>&1)
  local tps
  tps=$(printf '%s\n' "$out" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | tail -1)
  local failed
  failed=$(printf '%s\n' "$out" | sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p')
  if [ -z "$tps" ] || { [ -n "$failed" ] && [ "$failed" != 0 ]; } || printf '%s\n' "$out" | grep -q 'aborted'; then
    printf '%s\n' "$out" | grep -iE 'error|abort|fatal' | head -3 >&2
    echo FAIL
  else
    echo "$tps"
  fi
}
best() { printf '%s\n' "$@" | grep -v FAIL | sort -g | tail -1; }

echo "bench: $CLIENTS clients, $THREADS threads, ${SECONDS_PER_RUN}s per run, $ROUNDS rounds, $ROWS rows, TPC-B scale $TPCB_SCALE"
declare -A S P
for script in $SCRIPTS; do
  s_all=(); p_all=()
  for round in $(seq "$ROUNDS"); do
    if [ $sled_ok = 1 ]; then
      t=$(run "$sled_conn" "$script"); s_all+=("$t"); echo "  $script round $round sledgres:   $t tps"
    fi
    if [ $pg_ok = 1 ]; then
      t=$(run "$pg_conn" "$script"); p_all+=("$t"); echo "  $script round $round postgresql: $t tps"
    fi
  done
  S[$script]=$( [ ${#s_all[@]} -gt 0 ] && best "${s_all[@]}" )
  P[$script]=$( [ ${#p_all[@]} -gt 0 ] && best "${p_all[@]}" )
done

echo
printf '%-8s %14s %14s %10s\n' script sledgres_tps postgres_tps ratio
for script in $SCRIPTS; do
  s=${S[$script]:-}; p=${P[$script]:-}
  ratio=$(python3 -c "import sys; s,p=sys.argv[1:]; print(f'{float(s)/float(p):.3f}' if s and p else '-')" "$s" "$p")
  printf '%-8s %14s %14s %10s\n' "$script" "${s:--}" "${p:--}" "$ratio"
done
