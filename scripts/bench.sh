#!/usr/bin/env bash
# Whole-run benchmarks of `nautes-lint check` for BENCHMARKS.md.
#   scripts/bench.sh [SIZES...]     default: 1000 10000 100000
# Needs hyperfine (apt-get install hyperfine). Writes repositories under ${BENCH_DIR:-/tmp/nautes-bench}.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("${@:-1000 10000 100000}")
read -r -a sizes <<<"${sizes[*]}"
dir=${BENCH_DIR:-/tmp/nautes-bench}
mkdir -p "$dir"
cargo build --release --quiet --bin nautes-lint --example generate --example baseline
bin=target/release/nautes-lint
base=target/release/examples/baseline
for n in "${sizes[@]}"; do
  repo="$dir/r$n"
  [ -d "$repo" ] || target/release/examples/generate "$repo" "$n" >/dev/null
  echo "## $n runtimes ($(find "$repo"/{envs,runtimes,projects,code-repos} -type f | wc -l) resource files)"
  # The page cache is warm for every command alike: each runs once before timing starts.
  hyperfine --warmup 1 --runs "${RUNS:-5}" --style basic --export-markdown "$dir/r$n.md" \
    -n "cat (bare read)" "find $repo/envs $repo/runtimes $repo/projects $repo/code-repos -type f -print0 | xargs -0 -P2 -n 2000 cat > /dev/null" \
    -n "walk+read (parallel)" "$base read $repo" \
    -n "walk+read+saphyr parse (parallel)" "$base parse $repo" \
    -n "nautes-lint check (with clusters)" "$bin check $repo" >/dev/null
  cat "$dir/r$n.md"
  /usr/bin/time -f "peak memory of check: %M KB" "$bin" check "$repo" >/dev/null
  echo
done
