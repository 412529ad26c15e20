#!/usr/bin/env bash
# Adversarial scaling of the reference rules, for BENCHMARKS.md: for each rule, every reference
# it checks is broken (the name gets `-old` appended, as a bad merge of a renamed product would
# leave it: no name within the "did you mean" limit, so every search runs to its end), at 10k,
# 20k and 40k runtimes. Prints one markdown row per rule with the CPU seconds (user + system) of
# `check` (the least of RUNS runs, default 3) and the 40k/10k ratio; a linear rule stays near 4.
#   scripts/bench-broken.sh [SIZES...]     default: 10000 20000 40000
# CPU time rather than wall time: the ratio is then less sensitive to other load on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("${@:-10000 20000 40000}")
read -r -a sizes <<<"${sizes[*]}"
dir=${BENCH_DIR:-/tmp/nautes-bench-broken}
mkdir -p "$dir"
cargo build --release --quiet --bin nautes-lint --example generate
bin=$PWD/target/release/nautes-lint

# rule | files (find expression below the repository) | perl substitution
cases=(
  "dr-environment-not-found|runtimes|s/^(    environment: )(\S+)\$/\${1}\${2}-old/"
  "dr-coderepo-not-found|runtimes|s/^(    codeRepo: )(\S+)\$/\${1}\${2}-old/"
  "dr-project-not-found|runtimes|s/^(  - )(\S+)\$/\${1}\${2}-old/"
  "dr-all-three|runtimes|s/^(    environment: |    codeRepo: |  - )(\S+)\$/\${1}\${2}-old/"
  "env-cluster-not-found|envs|s/^(  cluster: )(\S+)\$/\${1}\${2}-old/"
  "coderepo-project-not-found|code-repos/*/repo-*.yaml|s/^(  project: )(\S+)\$/\${1}\${2}-old/"
  "binding-coderepo-not-found|code-repos/*/[gs]*.yaml|s/^(  codeRepo: )(\S+)\$/\${1}\${2}-old/"
  "binding-project-not-found|code-repos/*/grant-*.yaml|s/^(  - )(\S+)\$/\${1}\${2}-old/"
  "ppr-environment-not-found|projects/*/*-pipeline-*.yaml|s/^(    environment: )(\S+)\$/\${1}\${2}-old/"
  "ppr-coderepo-not-found|projects/*/*-pipeline-*.yaml|s/^(  pipelineSource: )(\S+)\$/\${1}\${2}-old/"
  "ppr-project-not-found|projects/*/*-pipeline-*.yaml|s/^(  project: )(\S+)\$/\${1}\${2}-old/"
)

declare -A cpu
for n in "${sizes[@]}"; do
  clean="$dir/clean-$n"
  [ -d "$clean" ] || target/release/examples/generate "$clean" "$n" >/dev/null
  for c in "${cases[@]}"; do
    IFS='|' read -r rule files subst <<<"$c"
    # Broken in place and mended after: no name the generator writes ends in `-old`.
    # shellcheck disable=SC2086 # the glob is meant to expand
    (cd "$clean" && find $files -name '*.yaml' -print0 | xargs -0 perl -pi -e "$subst")
    # The least CPU time of RUNS runs (default 3): other load on the machine only adds to it.
    # `check` exits 1 on these trees: that is the point, not a failure of the benchmark.
    best=""
    for _ in $(seq "${RUNS:-3}"); do
      t=$( { /usr/bin/time -f "%U %S" "$bin" check "$clean" --format json >"$dir/report.json" || true; } 2>&1 | tail -1)
      t=$(awk '{printf "%.2f", $1 + $2}' <<<"$t")
      best=$(awk -v a="$t" -v b="$best" 'BEGIN {print (b == "" || a < b) ? a : b}')
    done
    found=$(grep -c "\"rule\": \"${rule%-all-three}" "$dir/report.json" || true)
    # shellcheck disable=SC2086
    (cd "$clean" && find $files -name '*.yaml' -print0 | xargs -0 perl -pi -e 's/-old$//')
    cpu[$rule,$n]=$best
    echo "$rule at $n runtimes: ${cpu[$rule,$n]} s CPU, $found findings of the rule" >&2
  done
done
rm -f "$dir/report.json"

header="| rule (every reference broken) |"
line="|---|"
for n in "${sizes[@]}"; do header+=" $n |"; line+="---:|"; done
header+=" ${sizes[-1]} / ${sizes[0]} |"
line+="---:|"
echo "$header"
echo "$line"
for c in "${cases[@]}"; do
  IFS='|' read -r rule _ _ <<<"$c"
  row="| \`$rule\` |"
  for n in "${sizes[@]}"; do row+=" ${cpu[$rule,$n]} s |"; done
  row+=" $(awk -v a="${cpu[$rule,${sizes[-1]}]}" -v b="${cpu[$rule,${sizes[0]}]}" 'BEGIN {printf "%.2fx", a / b}') |"
  echo "$row"
done
