#!/usr/bin/env bash
# Everything planet proves about itself, in one run: the benchmarks (ingest per core
# against Python's feedparser and Go's gofeed + bluemonday, a 1,000-feed fetch pass, serving
# against nginx, scale to 100,000 posts, push from a WebSub publish to a robot and to 20
# targets) and the survival checks (SIGKILL crash test, soak, API fuzzing, hostile members
# and clients). Hostile feeds at scale run in the test suite
# (tests/it/corpus/payloads.rs and hostile_at_scale.rs). Installs wrk, nginx, Go with gofeed
# and bluemonday, and schemathesis if missing (root). `--short` is the CI version: every
# harness runs, briefly, so none rots.
# Usage: [PLANET_PROFILE=release] scripts/prove.sh [--short]
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

# Each step's wall time, so a slow CI run says where its minutes went.
step() {
    local started=$SECONDS
    "$@"
    echo "prove: $* took $((SECONDS - started)) s"
}

# Every bench binary and the server in one cargo run: their crates compile side by side
# instead of one after another as each step first needs them. The scripts run the server
# this built (`PLANET_BIN`): `cargo build --release` would build it again without the
# dev-dependencies' features on shared crates, 229 s more on 2 cores in CI.
# PLANET_PROFILE names another cargo profile to build with: CI's `ci`, shared with its tests.
profile=${PLANET_PROFILE:-release}
bench() { cargo bench --profile "$profile" "$@"; }
step bench --no-run --quiet
export PLANET_BIN=$PWD/target/$profile/planet

if [ "$short" = "--short" ]; then
    step bench --bench ingest -- --seconds 1
    step bench --bench fetch_pass -- --feeds 100
    step bench --bench scale -- --sizes 3000 --crawl-seconds 5
    step bench --bench push -- --publishes 5 --posts 200 --targets 7
    step scripts/bench_serving.sh 2
    step scripts/crash_test.sh 3
    step scripts/soak.sh 240 100
    step scripts/fuzz_api.sh 20
    step scripts/hostile.sh --short
else
    step bench --bench ingest -- --seconds 10
    step bench --bench fetch_pass -- --feeds 1000
    step bench --bench scale -- --sizes 1000,10000,100000
    step bench --bench push -- --publishes 50 --posts 1000 --targets 20
    step scripts/bench_serving.sh 10
    step scripts/crash_test.sh 20
    step scripts/soak.sh 600 200
    step scripts/fuzz_api.sh 200
    step scripts/hostile.sh
fi
echo "prove: all benchmarks ran and every survival check passed"
