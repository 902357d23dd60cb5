#!/usr/bin/env bash
# Tests planet the way a newcomer meets it: clones the committed HEAD into an empty temporary
# directory that has no sibling folders, runs the README's test command there, and prints how
# long it took. Nothing from this checkout's target/ is reused, so it builds from scratch
# (the crates themselves come from cargo's registry cache when it has them).
# Usage: scripts/fresh_clone_test.sh [arguments for scripts/test.sh]
set -euo pipefail
source_repository=$(cd "$(dirname "$0")/.." && pwd)
workspace=$(mktemp -d)
trap 'rm -rf "$workspace"' EXIT
git clone --quiet --no-local "$source_repository" "$workspace/planet"
cd "$workspace/planet"
echo "fresh clone of $(git rev-parse --short HEAD) in $workspace/planet; beside it: $(ls -A "$workspace" | tr '\n' ' ')"
started=$(date +%s)
status=0
scripts/test.sh "$@" || status=$?
echo "fresh clone: the README's test command took $(($(date +%s) - started)) s and exited $status"
exit "$status"
