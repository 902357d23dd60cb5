#!/usr/bin/env bash
# Runs every test of planet on a fresh machine: installs what the tests use besides Rust
# (Python's feedparser, jsonschema and openapi-spec-validator; Debian's jing for the Atom
# schema), then the whole cargo test suite, and closes with one line of totals.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c 'import feedparser, jsonschema, openapi_spec_validator' 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
fi
if ! command -v jing >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        (apt-get install -y -q jing || (apt-get update -q && apt-get install -y -q jing)) >/dev/null
    else
        echo "jing is missing: sudo apt-get install jing" >&2
        exit 1
    fi
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --locked --all-targets "$@" -- --show-output 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
