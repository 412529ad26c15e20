#!/usr/bin/env bash
# Benchmarks of the git side (BENCHMARKS.md, "Git hooks"):
#   1. `hook pre-receive` for a push that changes one runtime, on a bare repository holding the
#      generator's output (N DeploymentRuntimes), base comparison included;
#   2. the same through a real `git push` to the bare repository with the hook installed;
#   3. `check --rev main` on the bare repository against `check` on its checkout.
#
# Usage: scripts/bench-hooks.sh [N] [WORKDIR]      (N defaults to 20000)
# Needs git and hyperfine (Debian: apt-get install hyperfine). WORKDIR is reused when it
# already holds the generated repository.
set -euo pipefail

N=${1:-20000}
WORK=${2:-/tmp/nautes-lint-bench-hooks-$N}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-10}

cd "$ROOT"
cargo build --release --bin nautes-lint --example generate
BIN=$ROOT/target/release/nautes-lint
GEN=$ROOT/target/release/examples/generate

# git isolated from the machine's configuration.
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
CO=$WORK/checkout
BARE=$WORK/bare.git

if [ ! -d "$BARE" ]; then
    mkdir -p "$WORK"
    "$GEN" "$CO" "$N"
    git -c init.defaultBranch=main init -q "$CO"
    git -C "$CO" add -A
    git -C "$CO" commit -qm "generated: $N runtimes"
    git clone -q --bare "$CO" "$BARE"
    git -C "$BARE" gc -q
fi
OLD=$(git -C "$BARE" rev-parse main)

# The change: one runtime file edited (still valid), committed on top of main.
git -C "$CO" checkout -q -B bench-change "$OLD"
RUNTIMES=("$CO"/runtimes/*.yaml)
FILE=$(basename "${RUNTIMES[0]}")
printf '# touched by bench-hooks.sh\n' | cat - "$CO/runtimes/$FILE" > "$WORK/changed.yaml"
mv "$WORK/changed.yaml" "$CO/runtimes/$FILE"
git -C "$CO" commit -qam "bench: change runtimes/$FILE"
NEW=$(git -C "$CO" rev-parse HEAD)
echo "repository: $(git -C "$CO" ls-files | wc -l) files; push $OLD..$NEW changes runtimes/$FILE"
uptime

# 1. The hook alone, fed the line git would pass. The objects are put in place first (no hook
#    installed yet), so this measures the validation, not the transfer.
rm -f "$BARE/hooks/pre-receive"
git -C "$CO" push -q "$BARE" "bench-change:refs/heads/bench-staging"
LINE="$OLD $NEW refs/heads/main"
(cd "$BARE" && printf '%s\n' "$LINE" | GIT_DIR=. "$BIN" hook pre-receive)
hyperfine --warmup 2 --runs "$RUNS" \
    --command-name "hook pre-receive (one file changed, $N runtimes)" \
    "cd '$BARE' && printf '%s\n' '$LINE' | GIT_DIR=. '$BIN' hook pre-receive"
git -C "$BARE" update-ref -d refs/heads/bench-staging

# 2. A real push with the hook installed; the ref is reset before each run, so every run is the
#    same one-commit push (its objects go through git's quarantine).
sed "s|\${NAUTES_LINT:-nautes-lint}|$BIN|" "$ROOT/hooks/pre-receive" > "$BARE/hooks/pre-receive"
chmod +x "$BARE/hooks/pre-receive"
hyperfine --warmup 1 --runs "$RUNS" \
    --prepare "git -C '$BARE' update-ref refs/heads/main $OLD" \
    --command-name "git push (pre-receive hook installed)" \
    "git -C '$CO' push -q '$BARE' bench-change:main"
rm -f "$BARE/hooks/pre-receive"
git -C "$BARE" update-ref refs/heads/main "$OLD"
git -C "$CO" checkout -q main

# 3. A revision from the object database against the same files on disk.
hyperfine --warmup 1 --runs "$RUNS" \
    --command-name "check --rev main (bare repository)" "'$BIN' check --rev main '$BARE'" \
    --command-name "check (checkout)" "'$BIN' check '$CO'"

# 4. The CI job's case: a checkout compared with a base revision (`check --base`). Unchanged
#    files are matched to the base by hashing what was read the way git names blobs, so the
#    comparison should cost little more than the base's own check. The checkout holds the
#    one-file change against main.
git -C "$CO" checkout -q bench-change
hyperfine --warmup 1 --runs "$RUNS" \
    --command-name "check (checkout)" "'$BIN' check '$CO'" \
    --command-name "check --base main (checkout)" "'$BIN' check --base main '$CO'" \
    ${BEFORE:+--command-name "check --base main (checkout, $BEFORE)" "'$BEFORE' check --base main '$CO'"}
git -C "$CO" checkout -q main
