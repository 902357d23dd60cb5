#!/usr/bin/env bash
# Soak: a steady stream of mixed requests (feeds, API, pages, conditional requests) for
# SECONDS (default 600) while fetch passes run every five seconds against feeds on loopback
# whose posts are edited every five seconds (so every pass parses and updates, while the
# amount of data stays the same: growth in memory then means a leak, not more posts).
# Fails on any 5xx, any ERROR in planet's log, or resident memory that grows more than 10%
# after warm-up. Memory is sampled every second; warm-up is the first quarter of the run
# (at least 20 s: the sled cache and the render cache fill during the first passes), and
# the check compares the median of the first third after warm-up with the median of the
# last third, so a sample taken in the middle of a pass does not read as a leak.
# Bounded in time and rate (RATE requests/s).
# Usage: scripts/soak.sh [SECONDS] [RATE]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/harness.sh
seconds=${1:-600}
rate=${2:-200}
build_planet
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/feeds"
python3 - "$work/feeds" <<'PY'
import sys, pathlib
root = pathlib.Path(sys.argv[1])
for m in range(20):
    items = "".join(f"<item><title>m{m} post {i} 依赖注入</title><link>https://m{m}.example.cn/{i}</link><guid>m{m}-{i}</guid>"
                    f"<pubDate>Mon, 02 Nov 2026 {i % 24:02d}:00:00 GMT</pubDate><description>&lt;p&gt;body {i}&lt;/p&gt;</description></item>" for i in range(20))
    (root / f"m{m}.xml").write_text(f"<rss version='2.0'><channel><title>m{m}</title>{items}</channel></rss>")
PY
feed_port=$(free_port)
port=$(free_port)
(cd "$work/feeds" && exec python3 -m http.server --bind 127.0.0.1 "$feed_port" >/dev/null 2>&1) &
wait_for "http://127.0.0.1:$feed_port/m0.xml"
{
    printf '[site]\ntitle = "soak"\nurl = "http://127.0.0.1:%s/"\n[store]\npath = "%s/store"\ncache_mb = 8\n' "$port" "$work"
    printf '[fetch]\nallow_private = true\nschedule = "*/5 * * * * *"\n'
    for m in $(seq 0 19); do printf '[[members]]\nid = "m%s"\nname = "M%s"\nfeed = "http://127.0.0.1:%s/m%s.xml"\n' "$m" "$m" "$feed_port" "$m"; done
} > "$work/feeds.toml"
RUST_LOG=planet=info "$planet" --config "$work/feeds.toml" serve --listen "127.0.0.1:$port" 2>"$work/serve.log" &
pid=$!
wait_for "http://127.0.0.1:$port/healthz"

python3 - "$port" "$pid" "$seconds" "$rate" "$work/feeds" <<'PY'
import http.client, pathlib, random, statistics, sys, time
port, pid, seconds, rate, feeds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), pathlib.Path(sys.argv[5])
paths = ["/feed.atom", "/feed.rss", "/feed.json", "/api/v1/posts", "/api/v1/posts?limit=5&member=m3", "/api/v1/members",
         "/api/v1/stats", "/", "/members/m1", "/about", "/opml.xml", "/digest", "/healthz", "/metrics"]
def rss_mb():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
etags, statuses, samples = {}, {}, []
start = time.monotonic(); sent = 0; next_growth = start + 5; growth = 20; next_sample = start + 1
while (now := time.monotonic()) - start < seconds:
    if now >= next_sample:
        samples.append((now - start, rss_mb()))
        next_sample = now + 1
    if now >= next_growth:  # edit every post, so the next pass parses and updates them all
        growth += 1
        for m in range(20):
            items = "".join(f"<item><title>m{m} post {i} edit {growth}</title><link>https://m{m}.example.cn/{i}</link><guid>m{m}-{i}</guid>"
                            f"<pubDate>Mon, 02 Nov 2026 {i % 24:02d}:00:00 GMT</pubDate><description>&lt;p&gt;body {i} edit {growth}&lt;/p&gt;</description></item>" for i in range(20))
            (feeds / f"m{m}.xml").write_text(f"<rss version='2.0'><channel><title>m{m}</title>{items}</channel></rss>")
        next_growth = now + 5
    path = random.choice(paths)
    headers = {"If-None-Match": etags[path]} if path in etags and random.random() < 0.3 else {}
    connection.request("GET", path, headers=headers)
    response = connection.getresponse(); response.read()
    statuses[response.status] = statuses.get(response.status, 0) + 1
    if response.getheader("etag"):
        etags[path] = response.getheader("etag")
    if response.status >= 500:
        sys.exit(f"soak: {path} answered {response.status}")
    sent += 1
    time.sleep(max(0.0, start + sent / rate - time.monotonic()))
warm_up = min(max(20.0, seconds * 0.25), seconds / 2)
warm = [mb for t, mb in samples if t >= warm_up]
if len(warm) < 3:
    sys.exit(f"soak: only {len(warm)} memory samples after warm-up; run for longer")
third = max(1, len(warm) // 3)
baseline, final = statistics.median(warm[:third]), statistics.median(warm[-third:])
print(f"soak: {sent} requests in {seconds:.0f}s at {rate:.0f}/s; statuses {dict(sorted(statuses.items()))}; RSS {baseline:.1f} MB after warm-up, {final:.1f} MB at the end")
if final > baseline * 1.10:
    print("soak: RSS MB each second: " + " ".join(f"{mb:.1f}" for _, mb in samples))
    sys.exit(f"soak: memory grew {100 * (final / baseline - 1):.0f}% (limit 10%)")
PY
if grep -q " ERROR " "$work/serve.log"; then
    echo "soak: errors in the log:"; grep " ERROR " "$work/serve.log" | head; exit 1
fi
passes=$(grep -c "fetch pass finished" "$work/serve.log" || true)
echo "soak: passed; $passes fetch passes ran, no 5xx, no error logged"
