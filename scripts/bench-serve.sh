#!/usr/bin/env bash
# Load benchmark of `nautes-lint serve` on loopback (results: BENCHMARKS.md, "Webhook service").
#
#   scripts/bench-serve.sh [RUNTIMES=1000] [EVENTS=200] [DURATION=10s]
#
# Part A, accept path: wrk, 2 threads, 64 connections, DURATION, distinct push events; the service
#   runs with --workers 0 so only the 202 path (auth, parse, group-committed SQLite insert) is
#   measured, once with --synchronous full (the default) and once with normal. Afterwards the rows in the database are counted: every 202 must
#   be a stored job.
# Parts B and C, end to end: EVENTS push events for a generated repository of RUNTIMES
#   DeploymentRuntimes (examples/generate.rs), served by the fake GitLab (examples/fake_gitlab.rs)
#   on loopback; measures the time from the first event posted to the last success/failed
#   status. B: new branches (`before` all zeros, one tree per event); C: pushes with a `before`
#   (two archives fetched and two trees validated per event, for the new/old classification).
# Peak memory is the service's VmHWM from /proc. Every run is bounded (wrk -d, a deadline on
# polling) and talks only to 127.0.0.1.
# Part P, accept path with two replicas on one PostgreSQL: as A, but two services on one
#   database and two wrk processes (-t1 -c32 each, one per replica; P_CONNECTIONS sets another
#   count) at once; then the rows are counted. P_DELAY_MS paces each connection (a pause before
#   each request) for a fixed offered rate: 2 x P_CONNECTIONS x 1000 / (P_DELAY_MS + latency). Needs a PostgreSQL: PG_TEST_DURABLE=1 PARTS=P scripts/pg-test.sh scripts/bench-serve.sh
#   (durable: fsync and synchronous_commit on, as a production server).
# PARTS picks the parts (default "A B C", and P when NAUTES_LINT_TEST_POSTGRES is set); BIN another build of nautes-lint to measure (default
# the release build made here), e.g. to compare two commits on one machine.
set -euo pipefail
RUNTIMES=${1:-1000}
EVENTS=${2:-200}
DURATION=${3:-10s}
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 2; }
cargo build --release --bin nautes-lint --example fake_gitlab --example generate >&2
BIN=${BIN:-target/release/nautes-lint}
PARTS=${PARTS:-A B C${NAUTES_LINT_TEST_POSTGRES:+ P}}
has_part() { [[ " $PARTS " == *" $1 "* ]]; }
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
export BENCH_SECRET=bench-secret
export NAUTES_LINT_WEBHOOK_SECRET=$BENCH_SECRET NAUTES_LINT_GITLAB_TOKEN=bench-token
GL_PORT=18181 SVC_PORT=18180

target/release/examples/generate "$WORK/repo" "$RUNTIMES" >&2
target/release/examples/fake_gitlab "127.0.0.1:$GL_PORT" bench-token "$WORK/repo" 2>"$WORK/gitlab.log" &
PIDS+=($!)

start_service() { # $1 = database, rest = extra flags
  local db=$1; shift
  "$BIN" serve --listen "127.0.0.1:$SVC_PORT" --gitlab-url "http://127.0.0.1:$GL_PORT" \
    --database "$db" "$@" >>"$WORK/service.log" 2>&1 &
  SVC=$!
  PIDS+=($SVC)
  for _ in $(seq 200); do
    curl -fsS "http://127.0.0.1:$SVC_PORT/healthz" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "service did not start" >&2; cat "$WORK/service.log" >&2; exit 1
}
peak_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
cpu_s() { awk -v t="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat"; }
stop_service() { kill -TERM "$SVC"; wait "$SVC" 2>/dev/null || true; }

echo "== machine: $(nproc) cores, $(uname -r), disk of $WORK: $(df --output=source "$WORK" | tail -1)"
for SYNC in full normal; do
  has_part A || break
  echo "== A: accept path, wrk -t2 -c64 -d$DURATION, --workers 0, --synchronous $SYNC (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  start_service "$WORK/a-$SYNC.db" --workers 0 --synchronous "$SYNC"
  wrk -t2 -c64 -d"$DURATION" --latency -s scripts/wrk-push.lua "http://127.0.0.1:$SVC_PORT/webhook/gitlab"
  echo "service peak RSS: $(peak_kib "$SVC") KiB, CPU time: $(cpu_s "$SVC") s"
  stop_service
  echo "jobs stored: $(sqlite3 "$WORK/a-$SYNC.db" 'SELECT COUNT(*) FROM jobs')"
done

if has_part P; then
  [ -n "${NAUTES_LINT_TEST_POSTGRES:-}" ] || {
    echo "part P needs a PostgreSQL: PG_TEST_DURABLE=1 PARTS=P scripts/pg-test.sh scripts/bench-serve.sh" >&2
    exit 2
  }
  psql -q "$NAUTES_LINT_TEST_POSTGRES" -c "DROP DATABASE IF EXISTS nautes_lint_bench" \
    -c "CREATE DATABASE nautes_lint_bench"
  PG_DB="${NAUTES_LINT_TEST_POSTGRES%/*}/nautes_lint_bench"
  PC=${P_CONNECTIONS:-32}
  echo "== P: accept path, 2 replicas on PostgreSQL $(psql -tA "$PG_DB" -c 'SHOW server_version'), 2 x wrk -t1 -c$PC -d$DURATION, pause ${P_DELAY_MS:-0} ms per request and connection, --workers 0 (fsync $(psql -tA "$PG_DB" -c 'SHOW fsync'), synchronous_commit $(psql -tA "$PG_DB" -c 'SHOW synchronous_commit'); load: $(cut -d' ' -f1-3 /proc/loadavg))"
  REPLICAS=()
  for port in 18180 18182; do
    SVC_PORT=$port start_service "$PG_DB" --workers 0
    REPLICAS+=("$SVC")
  done
  WRKS=()
  for n in 1 2; do
    port=$((18178 + 2 * n))
    BENCH_PREFIX=$n BENCH_DELAY_MS=${P_DELAY_MS:-0} wrk -t1 -c"$PC" -d"$DURATION" --latency -s scripts/wrk-push.lua \
      "http://127.0.0.1:$port/webhook/gitlab" >"$WORK/wrk-$n.txt" 2>&1 &
    WRKS+=($!)
  done
  wait "${WRKS[@]}"
  for n in 1 2; do echo "-- replica $n:"; cat "$WORK/wrk-$n.txt"; done
  for SVC in "${REPLICAS[@]}"; do
    echo "replica $SVC peak RSS: $(peak_kib "$SVC") KiB, CPU time: $(cpu_s "$SVC") s"
    stop_service
  done
  SVC_PORT=18180
  echo "jobs stored: $(psql -tA "$PG_DB" -c 'SELECT COUNT(*) FROM jobs')"
fi

end_to_end() { # $1 = label, $2 = database, $3 = before sha
  echo "== $1: end to end, $EVENTS push events, $RUNTIMES runtimes, default workers (2), before=$3 (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  start_service "$2" --clusters "$WORK/repo/clusters"
  local base_stats
  base_stats=$(curl -fsS "http://127.0.0.1:$GL_PORT/_stats" | sed -E 's/.*"final_statuses":([0-9]+).*/\1/')
  for i in $(seq "$EVENTS"); do
    sha=$(printf '%040x' "$((0x${1,,}e2e000000 + i))")
    printf '{"object_kind":"push","before":"%s","after":"%s","ref":"refs/heads/b%d","checkout_sha":"%s","project_id":15,"project":{"id":15}}' "$3" "$sha" "$i" "$sha"
    echo
  done > "$WORK/events.jsonl"
  local t0 t1
  t0=$(date +%s.%N)
  while read -r body; do
    curl -fsS -o /dev/null -H 'X-Gitlab-Event: Push Hook' -H "X-Gitlab-Token: $BENCH_SECRET" \
      -H 'Content-Type: application/json' --data "$body" "http://127.0.0.1:$SVC_PORT/webhook/gitlab"
  done < "$WORK/events.jsonl"
  t1=$(date +%s.%N)
  echo "posted $EVENTS events in $(echo "$t1 - $t0" | bc) s"
  local deadline=$(( $(date +%s) + 600 )) done_n stats
  while :; do
    stats=$(curl -fsS "http://127.0.0.1:$GL_PORT/_stats")
    done_n=$(( $(echo "$stats" | sed -E 's/.*"final_statuses":([0-9]+).*/\1/') - base_stats ))
    [ "$done_n" -ge "$EVENTS" ] && break
    [ "$(date +%s)" -lt "$deadline" ] || { echo "timeout: $stats" >&2; exit 1; }
    sleep 0.2
  done
  local t2
  t2=$(date +%s.%N)
  echo "results posted: $done_n, $(echo "$t2 - $t0" | bc) s after the first event -> $(echo "scale=2; $done_n / ($t2 - $t0)" | bc) events/s end to end"
  echo "service peak RSS: $(peak_kib "$SVC") KiB, CPU time: $(cpu_s "$SVC") s"
  curl -fsS "http://127.0.0.1:$SVC_PORT/metrics" | grep -E '^nautes_lint_(jobs_total|job_duration_seconds_(sum|count))'
  stop_service
}

if has_part B; then end_to_end B "$WORK/b.db" 0000000000000000000000000000000000000000; fi
if has_part C; then end_to_end C "$WORK/c.db" 1111111111111111111111111111111111111111; fi
