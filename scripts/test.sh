#!/usr/bin/env bash
# Runs every test of planet on a fresh machine: installs what the tests use besides Rust
# (Python's feedparser, jsonschema, openapi-spec-validator, aiosmtpd and standardwebhooks;
# Debian's jing, Chromium, a CJK font, newsboat, rss2email and nginx; playwright-core from npm
# into target/browser-tools), then the whole cargo test suite, and closes with one line of
# totals.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c 'import feedparser, jsonschema, openapi_spec_validator, aiosmtpd, standardwebhooks, flask_websub, celery' 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
fi
debian_packages=()
command -v jing >/dev/null || debian_packages+=(jing)
command -v chromium >/dev/null || debian_packages+=(chromium)
command -v newsboat >/dev/null || debian_packages+=(newsboat)
command -v r2e >/dev/null || debian_packages+=(rss2email)
command -v nginx >/dev/null || debian_packages+=(nginx-light)
[ -d /usr/share/fonts/truetype/wqy ] || debian_packages+=(fonts-wqy-zenhei)
if [ ${#debian_packages[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        (apt-get install -y -q "${debian_packages[@]}" || (apt-get update -q && apt-get install -y -q "${debian_packages[@]}")) >/dev/null
    else
        echo "missing Debian packages: sudo apt-get install ${debian_packages[*]}" >&2
        exit 1
    fi
fi
if [ ! -d target/browser-tools/node_modules/playwright-core ]; then
    mkdir -p target/browser-tools
    (cd target/browser-tools && npm install --no-save --no-audit --no-fund --silent playwright-core@1.65.1 >/dev/null)
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --locked --all-targets "$@" -- --show-output 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
