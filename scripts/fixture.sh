#!/usr/bin/env bash
# Writes the whole tree of a rule's fixture into DIR (created; a new temporary folder when not
# given) and prints DIR, so that a reader can run it:
#
#   nautes-lint check "$(scripts/fixture.sh dr-project-not-found)"
#
# A fixture folder holding `without.txt` is laid over fixtures/base/: the base's files, minus the
# paths without.txt lists (and the folders they leave empty), with the folder's own files written
# over them. A folder without it is used as it is, its sub-folders looked at the same way
# (dr-destination-changed/base and /head).
# The tests compose fixtures with tests/it/common/fixture_tree.rs, and check that this script
# writes the same trees.
set -euo pipefail

usage="usage: scripts/fixture.sh RULE [DIR]   (RULE: a folder of fixtures/invalid/, or RULE/base, RULE/head)"
[ $# -ge 1 ] && [ $# -le 2 ] || { echo "$usage" >&2; exit 2; }
fixtures="$(cd "$(dirname "$0")/../fixtures" && pwd)"
src="$fixtures/invalid/$1"
[ -d "$src" ] || { echo "no fixture folder fixtures/invalid/$1" >&2; echo "$usage" >&2; exit 2; }
if [ $# -eq 2 ]; then
  dir="$2"
  if [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
    echo "$dir is not empty" >&2
    exit 2
  fi
  mkdir -p "$dir"
else
  dir="$(mktemp -d "${TMPDIR:-/tmp}/fixture-$(echo "$1" | tr / -).XXXXXX")"
fi

# compose SRC TO: writes the tree of fixture folder SRC into TO.
compose() {
  local src="$1" to="$2"
  mkdir -p "$to"
  if [ -f "$src/without.txt" ]; then
    cp -R "$fixtures/base/." "$to/"
    local path
    while IFS= read -r path || [ -n "$path" ]; do
      path="$(echo "$path" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')"
      case "$path" in '' | '#'*) continue ;; esac
      [ -f "$to/$path" ] || { echo "$src/without.txt: \`$path\` is not a file of fixtures/base/" >&2; exit 1; }
      rm "$to/$path"
      # Git holds no empty folder, so the tree of a checkout has none either.
      local d
      d="$(dirname "$path")"
      while [ "$d" != . ] && rmdir "$to/$d" 2>/dev/null; do d="$(dirname "$d")"; done
    done < "$src/without.txt"
    # -P: a link is copied as a link (a fixture's link that leaves the tree still does).
    (cd "$src" && find . -mindepth 1 -maxdepth 1 ! -name without.txt -exec cp -RP --remove-destination {} "$to/" \;)
  else
    local entry
    for entry in "$src"/* "$src"/.[!.]* "$src"/..?*; do
      [ -e "$entry" ] || [ -L "$entry" ] || continue
      if [ -d "$entry" ] && [ ! -L "$entry" ]; then
        compose "$entry" "$to/$(basename "$entry")"
      else
        cp -P "$entry" "$to/"
      fi
    done
  fi
}

compose "$src" "$dir"
echo "$dir"
