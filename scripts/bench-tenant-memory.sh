#!/usr/bin/env bash
# Memory of `nautes-lint serve --tenant-project` holding the namespace index of a large tenant
# (results: BENCHMARKS.md, "Tenant context").
#
#   scripts/bench-tenant-memory.sh [PRODUCTS=1000] [RUNTIMES=100]
#
# The fake GitLab of examples/tenant_scale.rs serves the tenant repository and PRODUCTS
# `default.project` repositories of RUNTIMES DeploymentRuntimes (one explicit namespace each).
# The service starts on an empty database, crawls them all (one archive per product), and the
# script prints its resident memory once the crawl is done, then again after one
# `GET /api/v1/context` (the whole document built and sent), and the peak ("Maximum resident
# set size" of /usr/bin/time -v) after SIGTERM; then once more after a restart on the same
# database (the context loaded from it, every head unchanged). PROFILE=release measures a release build
# (default: the debug build, whose heap is laid out the same). Talks only to 127.0.0.1.
set -euo pipefail
PRODUCTS=${1:-1000}
RUNTIMES=${2:-100}
PROFILE=${PROFILE:-debug}
cd "$(dirname "$0")/.."
if [ "$PROFILE" = release ]; then
  cargo build --release --bin nautes-lint --example tenant_scale >&2
else
  cargo build --bin nautes-lint --example tenant_scale >&2
fi
BIN=target/$PROFILE/nautes-lint
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
export NAUTES_LINT_WEBHOOK_SECRET=bench-secret NAUTES_LINT_GITLAB_TOKEN=bench-token
export NAUTES_LINT_CONTEXT_TOKEN=bench-context
GL_PORT=18381 SVC_PORT=18380

"target/$PROFILE/examples/tenant_scale" "127.0.0.1:$GL_PORT" bench-token "$PRODUCTS" "$RUNTIMES" 2>"$WORK/gitlab.log" &
PIDS+=($!)
for _ in $(seq 1200); do grep -q "fake GitLab on" "$WORK/gitlab.log" && break; sleep 0.1; done
grep -q "fake GitLab on" "$WORK/gitlab.log" || { echo "the fake GitLab did not start" >&2; exit 1; }

/usr/bin/time -v -o "$WORK/time.txt" "$BIN" serve --listen "127.0.0.1:$SVC_PORT" \
  --gitlab-url "http://127.0.0.1:$GL_PORT" --database "$WORK/q.db" \
  --tenant-project tenant/config >"$WORK/service.log" 2>&1 &
timer=$!
PIDS+=("$timer")
svc=""
for _ in $(seq 100); do svc=$(pgrep -P "$timer" || true); [ -n "$svc" ] && break; sleep 0.05; done
started=$(date +%s.%N)
for _ in $(seq 36000); do grep -q '"tenant context crawl done"' "$WORK/service.log" && break; sleep 0.1; done
grep -q '"tenant context crawl done"' "$WORK/service.log" || { echo "the crawl did not finish" >&2; tail "$WORK/service.log" >&2; exit 1; }
crawled=$(date +%s.%N)
mem() { awk '/^VmRSS|^VmHWM/ {printf "%s %d MB  ", $1, $2/1024}' "/proc/$svc/status"; echo; }
echo "products=$PRODUCTS runtimes=$RUNTIMES profile=$PROFILE"
grep '"tenant context crawl done"' "$WORK/service.log" | sed -E 's/.*"products":([0-9]+).*"complete":([a-z]+).*/crawl: \1 products, complete=\2/'
echo "crawl took $(echo "$crawled - $started" | bc) s"
echo -n "after the crawl:           "; mem
# The crawl's threads of the blocking pool end after 10 s idle.
sleep 15
echo -n "15 s later:                "; mem
bytes=$(curl -fsS -H "Authorization: Bearer $NAUTES_LINT_CONTEXT_TOKEN" "http://127.0.0.1:$SVC_PORT/api/v1/context" | wc -c)
echo "context document: $bytes bytes"
echo -n "after GET /api/v1/context: "; mem
kill -TERM "$svc"
wait "$timer" || true
grep "Maximum resident set size" "$WORK/time.txt"

# A restart on the same database: the context comes from its tables, and the crawl finds every
# head unchanged (no archive is downloaded).
"$BIN" serve --listen "127.0.0.1:$SVC_PORT" --gitlab-url "http://127.0.0.1:$GL_PORT" \
  --database "$WORK/q.db" --tenant-project tenant/config >"$WORK/service2.log" 2>&1 &
svc=$!
PIDS+=("$svc")
for _ in $(seq 36000); do grep -q '"tenant context crawl done"' "$WORK/service2.log" && break; sleep 0.1; done
echo -n "after a restart:           "; mem
