#!/usr/bin/env bash
# Everything planet proves about itself, in one run: the benchmarks (ingest per core
# against Python's feedparser and Go's gofeed + bluemonday, a 1,000-feed fetch pass, serving
# against nginx, scale to 100,000 posts, push from a WebSub publish to a robot and to 20
# targets) and the survival checks (SIGKILL crash test, soak, API fuzzing, hostile members
# and clients). Hostile feeds at scale run in the test suite
# (tests/it/corpus/payloads.rs and hostile_at_scale.rs). Installs wrk, nginx, Go with gofeed
# and bluemonday, and schemathesis if missing (root). `--short` is the CI version: every
# harness runs, briefly, so none rots.
# Usage: scripts/prove.sh [--short]
set -euo pipefail
cd "$(dirname "$0")/.."
short=${1:-}

debian=()
command -v wrk >/dev/null || debian+=(wrk)
command -v nginx >/dev/null || debian+=(nginx-light)
# The ingest bench's compiled peer: Go's gofeed and bluemonday, built in GOPATH mode.
command -v go >/dev/null || debian+=(golang-go)
[ -d /usr/share/gocode/src/github.com/mmcdole/gofeed ] || debian+=(golang-github-mmcdole-gofeed-dev)
[ -d /usr/share/gocode/src/github.com/microcosm-cc/bluemonday ] || debian+=(golang-github-microcosm-cc-bluemonday-dev)
if [ ${#debian[@]} -gt 0 ]; then
    (apt-get install -y -q "${debian[@]}" || (apt-get update -q && apt-get install -y -q "${debian[@]}")) >/dev/null
fi
python3 -c 'import schemathesis' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check 'schemathesis>=4,<5'
python3 -c 'import feedparser, aiosmtpd, flask_websub, celery' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check -r requirements-test.txt

if [ "$short" = "--short" ]; then
    cargo bench --bench ingest -- --seconds 1
    cargo bench --bench fetch_pass -- --feeds 100
    cargo bench --bench scale -- --sizes 1000,5000 --crawl-seconds 5
    cargo bench --bench push -- --publishes 5 --posts 200 --targets 7
    scripts/bench_serving.sh 2
    scripts/crash_test.sh 3
    scripts/soak.sh 240 100
    scripts/fuzz_api.sh 20
    scripts/hostile.sh --short
else
    cargo bench --bench ingest -- --seconds 10
    cargo bench --bench fetch_pass -- --feeds 1000
    cargo bench --bench scale -- --sizes 1000,10000,100000
    cargo bench --bench push -- --publishes 50 --posts 1000 --targets 20
    scripts/bench_serving.sh 10
    scripts/crash_test.sh 20
    scripts/soak.sh 600 200
    scripts/fuzz_api.sh 200
    scripts/hostile.sh
fi
echo "prove: all benchmarks ran and every survival check passed"
