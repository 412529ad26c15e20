#!/usr/bin/env bash
# Peak memory of `nautes-lint serve` fed the hostile archives of issue 9, bug 1 (results:
# BENCHMARKS.md, "Webhook service: memory under hostile archives").
#
#   scripts/bench-serve-memory.sh [CASES]
#
# Each case starts the fake GitLab (examples/fake_gitlab.rs) serving one archive written by
# scripts/hostile-archive.py as every revision, starts the service under `/usr/bin/time -v`
# with its default settings (2 workers), posts push events, waits for every final status, stops
# the service with SIGTERM and prints its "Maximum resident set size". BIN picks another build
# of nautes-lint (default: the release build made here), e.g. the commit before a fix;
# NO_BUILD=1 skips the build (the fake GitLab example must have been built).
#
# Cases (default: all):
#   long-name        one push, a 400 MiB GNU long name in a small archive
#   yaml             one push, 480 resource files of 1 MiB (a new branch: head only)
#   yaml-head-base   one push with a `before`: the same archive as head and base
#   yaml-two-jobs    two such pushes (head and base) to two branches at once
#   fits-two-jobs    two pushes with a `before`, 31 files of 1 MiB: the largest jobs with a base
#                    the default --max-job-yaml-bytes (64 MiB for head and base together) accepts
#   fits-two-heads   two pushes of new branches, 63 files of 1 MiB: the largest heads it accepts
#                    (every file parsed and checked; with a base, unchanged files are checked once)
#   dense-two-heads  the same with node-dense YAML (yaml-dense: a map of short labels)
set -euo pipefail
CASES=${1:-long-name yaml yaml-head-base yaml-two-jobs fits-two-jobs fits-two-heads dense-two-heads}
cd "$(dirname "$0")/.."
[ -n "${NO_BUILD:-}" ] || cargo build --release --bin nautes-lint --example fake_gitlab >&2
BIN=${BIN:-target/release/nautes-lint}
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
export NAUTES_LINT_WEBHOOK_SECRET=bench-secret NAUTES_LINT_GITLAB_TOKEN=bench-token
GL_PORT=18281 SVC_PORT=18280
ZERO=0000000000000000000000000000000000000000

run_case() { # $1 = case, $2 = archive, $3 = events, $4 = before sha
  local case=$1 archive=$2 events=$3 before=$4
  target/release/examples/fake_gitlab "127.0.0.1:$GL_PORT" bench-token "$archive" 2>"$WORK/gitlab.log" &
  local gl=$!
  PIDS+=("$gl")
  /usr/bin/time -v -o "$WORK/time.txt" "$BIN" serve --listen "127.0.0.1:$SVC_PORT" \
    --gitlab-url "http://127.0.0.1:$GL_PORT" --database "$WORK/$case.db" >"$WORK/service.log" 2>&1 &
  local timer=$!
  PIDS+=("$timer")
  for _ in $(seq 200); do
    curl -fsS "http://127.0.0.1:$SVC_PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.05
  done
  for i in $(seq "$events"); do
    local sha
    sha=$(printf '%040x' "$((0xbeef0000 + i))")
    curl -fsS -o /dev/null -X POST "http://127.0.0.1:$SVC_PORT/webhook/gitlab" \
      -H 'X-Gitlab-Event: Push Hook' -H "X-Gitlab-Token: $NAUTES_LINT_WEBHOOK_SECRET" \
      -H 'Content-Type: application/json' \
      --data "{\"object_kind\":\"push\",\"before\":\"$before\",\"after\":\"$sha\",\"ref\":\"refs/heads/b$i\",\"checkout_sha\":\"$sha\",\"project_id\":15,\"project\":{\"id\":15}}"
  done
  local done_=0
  for _ in $(seq 1200); do
    done_=$(curl -fsS "http://127.0.0.1:$GL_PORT/_stats" | sed -E 's/.*"final_statuses":([0-9]+).*/\1/')
    [ "$done_" -ge "$events" ] && break
    # The service may be killed by the kernel on a small machine: that is a result too.
    kill -0 "$timer" 2>/dev/null || break
    sleep 0.5
  done
  local svc
  svc=$(pgrep -P "$timer" || true)
  [ -n "$svc" ] && kill -TERM "$svc"
  wait "$timer" || true
  kill "$gl" 2>/dev/null || true
  wait "$gl" 2>/dev/null || true
  local peak
  peak=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
  local said
  said=$(grep -o '"outcome":"[a-z]*"' "$WORK/service.log" | sort | uniq -c | tr -s ' \n' ' ' || true)
  local reason
  reason=$(grep -o '"error":"[^"]*"' "$WORK/service.log" | head -1 || true)
  printf '%-15s archive %7s KiB, %s event(s), %s final status(es), peak RSS %s KiB; jobs: %s %s\n' \
    "$case" "$(( $(stat -c %s "$archive") / 1024 ))" "$events" "$done_" "$peak" "${said:-none}" "$reason"
}

echo "== $(nproc) cores, $(uname -r), $BIN"
for c in $CASES; do
  case $c in
    long-name)
      python3 scripts/hostile-archive.py long-name "$WORK/ln.tar.gz" 400
      run_case "$c" "$WORK/ln.tar.gz" 1 "$ZERO" ;;
    yaml | yaml-head-base | yaml-two-jobs)
      [ -f "$WORK/yaml.tar.gz" ] || python3 scripts/hostile-archive.py yaml "$WORK/yaml.tar.gz" 480
      case $c in
        yaml) run_case "$c" "$WORK/yaml.tar.gz" 1 "$ZERO" ;;
        yaml-head-base) run_case "$c" "$WORK/yaml.tar.gz" 1 "$(printf '%040x' 0xba5e)" ;;
        yaml-two-jobs) run_case "$c" "$WORK/yaml.tar.gz" 2 "$(printf '%040x' 0xba5e)" ;;
      esac ;;
    fits-two-jobs)
      python3 scripts/hostile-archive.py yaml "$WORK/fits.tar.gz" 31
      run_case "$c" "$WORK/fits.tar.gz" 2 "$(printf '%040x' 0xba5e)" ;;
    fits-two-heads)
      python3 scripts/hostile-archive.py yaml "$WORK/heads.tar.gz" 63
      run_case "$c" "$WORK/heads.tar.gz" 2 "$ZERO" ;;
    dense-two-heads)
      python3 scripts/hostile-archive.py yaml-dense "$WORK/dense.tar.gz" 63
      run_case "$c" "$WORK/dense.tar.gz" 2 "$ZERO" ;;
    *) echo "unknown case $c" >&2; exit 2 ;;
  esac
done
