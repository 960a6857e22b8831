#!/usr/bin/env bash
# Benchmark of userstream-source: users/s served over loopback at
# results=5000 (one server thread per core), measured with wrk (Debian
# package `wrk`), plus the server's memory. Prints a Markdown block for
# docs/benchmarks.md. Each run asks for fresh random seeds (no seed in the
# URL), so every response is newly generated.
#
#   bench/source/bench_source.sh [BINARY]
#   RUNS=5 SECONDS_PER_RUN=10 CONNECTIONS=4 WRK_THREADS=1 PORT=18150 FORMAT=json bench/source/bench_source.sh
set -euo pipefail

cd "$(dirname "$0")/../.."
BIN=${1:-build/src/source/userstream-source}
RUNS=${RUNS:-5}
SECS=${SECONDS_PER_RUN:-10}
CONNS=${CONNECTIONS:-4}
WRK_THREADS=${WRK_THREADS:-1}
PORT=${PORT:-18150}
FORMAT=${FORMAT:-json}
THREADS=$(nproc)
URL="http://127.0.0.1:${PORT}/api/?results=5000&format=${FORMAT}"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }
[ -x "$BIN" ] || { echo "no binary at $BIN (build first)" >&2; exit 2; }

"$BIN" --port "$PORT" --metrics-port 0 --threads "$THREADS" --now 2026-11-24 --log-level warn &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    curl -fs -o /dev/null "http://127.0.0.1:${PORT}/api/?results=1" && break
    sleep 0.1
done
# Check the answer is what we measure: 5000 users of ~1 KB.
BYTES=$(curl -fs "$URL" | wc -c)
wrk -t"$WRK_THREADS" -c"$CONNS" -d2s "$URL" >/dev/null   # warm-up

# Server CPU time (user + system clock ticks), to report users per
# CPU-second of the server: much less sensitive to a busy machine.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
TICKS_BEFORE=$(cpu_ticks)
TOTAL_REQ=0
RATES=()
for i in $(seq "$RUNS"); do
    out=$(wrk -t"$WRK_THREADS" -c"$CONNS" -d"${SECS}s" "$URL")
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    TOTAL_REQ=$((TOTAL_REQ + $(awk '/requests in/ {print $1}' <<<"$out")))
    users=$(awk -v r="$rps" 'BEGIN {printf "%d", r * 5000}')
    RATES+=("$users")
    echo "run $i: $rps requests/s = $users users/s" >&2
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
CPU_S=$(awk -v t=$(($(cpu_ticks) - TICKS_BEFORE)) -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", t / hz}')
PER_CPU=$(awk -v r="$TOTAL_REQ" -v c="$CPU_S" 'BEGIN {printf "%d", (c > 0 ? r * 5000 / c : 0)}')
RSS=$(awk '/^VmRSS/ {print $2}' /proc/$PID/status)
HWM=$(awk '/^VmHWM/ {print $2}' /proc/$PID/status)
MEDIAN=$(printf '%s\n' "${RATES[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')

cat <<MD
- machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(. /etc/os-release; echo "$PRETTY_NAME"), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
- date: $(date -u +%Y-%m-%dT%H:%MZ); userstream-source $("$BIN" --version | cut -d' ' -f2), $THREADS server threads
- command: \`wrk -t$WRK_THREADS -c$CONNS -d${SECS}s '$URL'\`, $RUNS runs (bench/source/bench_source.sh)
- response: $BYTES bytes for 5000 users
- users/s per run: ${RATES[*]}; **median $MEDIAN users/s**
- server CPU: $CPU_S s for $TOTAL_REQ responses = **$PER_CPU users per server CPU-second**
- server memory after the runs: RSS $((RSS / 1024)) MiB, peak $((HWM / 1024)) MiB
- load average (1/5/15 min) before: $LOAD_BEFORE, after: $LOAD_AFTER
MD
