#!/usr/bin/env bash
# Ingestion benchmark: users per second from a randomuser-compatible API into PostgreSQL
# (committed), for userstream-load (COPY), a row-by-row INSERT baseline, and the "seed design"
# (one HTTP request per user). See bench/README.md.
#
# Self-contained: starts a scratch PostgreSQL 15 cluster (migrations of stack/sql applied, role
# loader, password in a pgpass file) and a userstream-source, runs every variant in
# the same session, prints a Markdown table, and removes everything it started.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BENCH_BUILD_DIR:-$REPO/build}
LOADER=${BENCH_LOADER:-$BUILD/src/load/userstream-load}
SOURCE_BIN=${BENCH_SOURCE_BIN:-$BUILD/src/source/userstream-source}
PG_BIN=${BENCH_PG_BIN:-/usr/lib/postgresql/15/bin}
PG_PORT=${BENCH_PG_PORT:-18232}
SOURCE_PORT=${BENCH_SOURCE_PORT:-18299}
PAGES=${BENCH_PAGES:-40}                 # COPY run: PAGES x RESULTS users
RESULTS=${BENCH_RESULTS:-5000}
CONCURRENCY=${BENCH_CONCURRENCY:-4}
DB_CONNECTIONS=${BENCH_DB_CONNECTIONS:-2}
ROWS_PAGES=${BENCH_ROWS_PAGES:-8}        # row-by-row baseline: fewer pages, it is slow
SEED_USERS=${BENCH_SEED_USERS:-2000}     # seed design: one request per user
REPEAT=${BENCH_REPEAT:-3}                # runs of each variant; the median is reported

die() { echo "load_bench: $*" >&2; exit 1; }
[[ -x $LOADER ]] || die "no loader at $LOADER (build first: cmake -S . -B build -G Ninja && ninja -C build)"
[[ -n ${BENCH_SOURCE_URL:-} || -x $SOURCE_BIN ]] || die "no userstream-source at $SOURCE_BIN (or set BENCH_SOURCE_URL)"
[[ -x $PG_BIN/initdb ]] || die "no PostgreSQL binaries in $PG_BIN"

WORK=$(mktemp -d /tmp/userstream-bench.XXXXXX)
SOURCE_PID=
as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
    [[ -n $SOURCE_PID ]] && kill "$SOURCE_PID" 2>/dev/null && wait "$SOURCE_PID" 2>/dev/null || true
    [[ -f $WORK/pg/postmaster.pid ]] && as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg" -m fast stop >/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
[[ $(id -u) == 0 ]] && chown postgres "$WORK"

# --- scratch PostgreSQL ---------------------------------------------------------------------
PW=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
as_pg "$PG_BIN/initdb" -D "$WORK/pg" -U postgres --auth-local=trust --auth-host=scram-sha-256 >/dev/null
cat >> "$WORK/pg/postgresql.conf" <<CONF
port = $PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
wal_level = logical
shared_buffers = 256MB
max_wal_size = 2GB
wal_compression = lz4
CONF
as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg.log" -w start >/dev/null
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h "$WORK" -p "$PG_PORT" -U postgres)
# the stack's roles (docs/development.md); only the loader logs in here
"${PSQL[@]}" -c "CREATE DATABASE userstream" -c "CREATE ROLE loader LOGIN PASSWORD '$PW'" \
    -c "CREATE ROLE relay REPLICATION" -c "CREATE ROLE ops" -c "CREATE ROLE airflow" -c "CREATE ROLE registry"
for f in "$REPO"/stack/sql/*.sql; do "${PSQL[@]}" -d userstream -f "$f" >/dev/null 2>&1 || die "migration $f failed"; done
echo "127.0.0.1:$PG_PORT:userstream:loader:$PW" > "$WORK/pgpass"
chmod 600 "$WORK/pgpass"
export PGPASSFILE=$WORK/pgpass US_PG_HOST=127.0.0.1 US_PG_PORT=$PG_PORT US_PG_DATABASE=userstream \
       US_PG_LOADER_USER=loader US_CONFIG=

# --- source -----------------------------------------------------------------------------------
if [[ -n ${BENCH_SOURCE_URL:-} ]]; then
    URL=$BENCH_SOURCE_URL
else
    "$SOURCE_BIN" --port "$SOURCE_PORT" --metrics-port 0 --log-level warn > "$WORK/source.log" 2>&1 &
    SOURCE_PID=$!
    URL="http://127.0.0.1:$SOURCE_PORT/api/1.4/"
    for _ in $(seq 100); do curl -sf -o /dev/null "$URL?results=1" && break; sleep 0.1; done
fi
curl -sf -o /dev/null "$URL?results=$RESULTS&seed=warmup" || die "source not answering at $URL"

# --- variants ---------------------------------------------------------------------------------
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }

# Fetch only: the source's own speed, bodies discarded (curl, CONCURRENCY at a time).
fetch_only() {
    local seed=$1 t0 t1
    t0=$(date +%s.%N)
    seq 1 "$PAGES" | xargs -P "$CONCURRENCY" -I{} curl -sf -o /dev/null "$URL?results=$RESULTS&seed=$seed&page={}"
    t1=$(date +%s.%N)
    awk -v n="$((PAGES * RESULTS))" -v a="$t0" -v b="$t1" 'BEGIN {print n / (b - a)}'
}

# CPU seconds (user + system, children reaped included) of a process.
cpu_of() { [[ -n $1 && -r /proc/$1/stat ]] && awk '{print ($14 + $15 + $16 + $17) / 100}' "/proc/$1/stat" || echo 0; }
# PostgreSQL: the postmaster, its live children and the children it has reaped.
pg_cpu() {
    local pm total=0
    pm=$(head -1 "$WORK/pg/postmaster.pid")
    total=$(cpu_of "$pm")
    for c in $(pgrep -P "$pm"); do total=$(awk -v a="$total" -v b="$(cpu_of "$c")" 'BEGIN {print a + b}'); done
    echo "$total"
}

# One loader run; checks the committed count, prints users/s and appends
# "users loader_cpu source_cpu pg_cpu" to $WORK/cpu.<variant>.
load_run() {
    local seed=$1 pages=$2 results=$3; shift 3
    local out staged secs s0 p0 lcpu
    s0=$(cpu_of "$SOURCE_PID"); p0=$(pg_cpu)
    { TIMEFORMAT='%U %S'; time "$LOADER" --url "$URL" --seed "$seed" --pages "$pages" \
        --results "$results" --concurrency "$CONCURRENCY" --db-connections "$DB_CONNECTIONS" \
        --log-level warn "$@" > "$WORK/out" 2> "$WORK/err"; } 2> "$WORK/time" \
        || die "loader failed: $(cat "$WORK/out" "$WORK/err")"
    out=$(cat "$WORK/out")
    sleep 1 # let the postmaster reap the loader's backends
    lcpu=$(awk '{print $1 + $2}' "$WORK/time")
    echo "$((pages * results)) $lcpu $(awk -v a="$s0" -v b="$(cpu_of "$SOURCE_PID")" 'BEGIN {print b - a}') $(awk -v a="$p0" -v b="$(pg_cpu)" 'BEGIN {print b - a}')" >> "$WORK/cpu.${seed%%-*}"
    staged=$(field staged <<<"$out")
    secs=$(field seconds <<<"$out")
    [[ $staged == $((pages * results)) ]] || die "expected $((pages * results)) staged, got: $out"
    [[ $("${PSQL[@]}" -d userstream -At -c "SELECT count(*) FROM staging.users WHERE source_seed = '$seed'") == "$staged" ]] \
        || die "staging.users does not hold $staged rows of $seed"
    awk -v n="$staged" -v s="$secs" 'BEGIN {print n / s}'
}

declare -A RESULT
run_variant() {
    local name=$1; shift
    local values=()
    for i in $(seq "$REPEAT"); do values+=("$("$@" "$name-$i-$RANDOM")"); done
    RESULT[$name]=$(printf '%s\n' "${values[@]}" | median)
    printf '%-12s %s users/s (runs: %s)\n' "$name" "$(printf '%.0f' "${RESULT[$name]}")" \
        "$(printf '%.0f ' "${values[@]}")" >&2
}
copy_run() { load_run "$1" "$PAGES" "$RESULTS"; }
rows_run() { load_run "$1" "$ROWS_PAGES" "$RESULTS" --insert-mode rows; }
seed_run() { load_run "$1" "$SEED_USERS" 1; }

run_variant fetch fetch_only
run_variant copy copy_run
run_variant rows rows_run
run_variant seed seed_run

# CPU seconds per 100,000 users of the COPY runs (sums over the runs), and what two
# dedicated cores would allow if nothing else ran.
read -r CPU_LOADER CPU_SOURCE CPU_PG <<<"$(awk '{u += $1; l += $2; s += $3; p += $4}
    END {printf "%.2f %.2f %.2f", l * 1e5 / u, s * 1e5 / u, p * 1e5 / u}' "$WORK/cpu.copy")"
CEILING=$(awk -v a="$CPU_LOADER" -v b="$CPU_SOURCE" -v c="$CPU_PG" 'BEGIN {print 2 * 1e5 / (a + b + c)}')

# --- report -------------------------------------------------------------------------------------
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
MEM=$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)
fmt() { printf "%'.0f" "$1"; }
cat <<REPORT

Machine: $(nproc) cores ($CPU), $MEM, $(. /etc/os-release && echo "$PRETTY_NAME"), PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}'); load average before: $(cut -d' ' -f1-3 /proc/loadavg)
Date: $(date -u +%Y-%m-%dT%H:%MZ). Median of $REPEAT runs; every run's rows checked in staging.users.

| variant | what | users/s (committed) |
|---|---|---|
| userstream-load (COPY) | $PAGES pages x $RESULTS users, $CONCURRENCY concurrent fetches, $DB_CONNECTIONS DB connections: COPY to a temp table + INSERT ... ON CONFLICT, one transaction per page | $(fmt "${RESULT[copy]}") |
| row-by-row INSERT | same loader and pages ($ROWS_PAGES x $RESULTS), one prepared INSERT ... ON CONFLICT per user, one transaction per page | $(fmt "${RESULT[rows]}") |
| seed design | one HTTP request per user ($SEED_USERS requests of results=1, $CONCURRENCY concurrent), one transaction per user | $(fmt "${RESULT[seed]}") |
| (source alone) | curl, $PAGES pages x $RESULTS users, $CONCURRENCY concurrent, bodies discarded: the ceiling the source sets | $(fmt "${RESULT[fetch]}") |

CPU seconds per 100,000 users in the COPY runs: loader $CPU_LOADER, userstream-source $CPU_SOURCE,
PostgreSQL $CPU_PG (all its processes). Two cores doing nothing else would allow about
$(fmt "$CEILING") users/s end to end.
REPORT
