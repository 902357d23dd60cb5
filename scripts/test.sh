#!/usr/bin/env bash
# Runs every test of planet on a fresh machine: installs what the tests use besides Rust
# (Python's feedparser, the reference for the parity test), then the whole cargo test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c 'import feedparser' 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
fi
cargo test --locked "$@"
