#!/usr/bin/env bash
# Hostile members and hostile clients against a release build of `planet serve`, all on
# loopback, then the server's health: /feed.atom's p99 (wrk, 64 connections) must stay
# under 20 ms and resident memory under 64 MB.
# - Member round: feeds on 127.0.0.2 (allowed one by one, as a public host would be) that
#   redirect to an internal service on 127.0.0.1 (which must never be asked), hold <div>
#   nested 1.5 million deep, a 9 MB title, and 100,000 items.
# - Client round: connections that never finish their headers (held open while wrk runs,
#   then checked to be closed by the server), and a flood of subscription requests with
#   unique 8 KB X-Forwarded-For values.
# - Third round (scripts/hostile_third_round.py): a member flooding new GUIDs of random text
#   (river members, pass times, index size), digest and render-cache abuse (resident memory,
#   /feed.atom meanwhile), one address opening thousands of connections and h2c clients
#   (slots held), then a damaged body log (pages answered after a restart, export salvage).
# Usage: scripts/hostile.sh [--short]
# --short (CI): fewer items and connections, and the p99 and memory figures are printed,
# not enforced: a 2-second wrk run on a shared 2-core VM is a smoke test of the harness, not
# a measurement (CI saw one 2-second window at p99 27 ms where the full run gives 4-5 ms).
# The functional checks (nothing internal asked, every slow connection closed) always hold.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/harness.sh
short=${1:-}
items=100000 slow=2000 flood=5000 seconds=5 enforce=1 flood_passes=8 connections=4100
if [ "$short" = "--short" ]; then items=20000 slow=400 flood=1000 seconds=2 enforce=0 flood_passes=4 connections=600; fi
ulimit -n 16384 2>/dev/null || ulimit -n "$(ulimit -Hn)"
build_planet
work=$(mktemp -d)
trap 'stop_jobs_and_remove "$work"' EXIT
internal_port=$(free_port)
member_port=$(free_port)
port=$(free_port)
token=$(python3 -c 'import secrets; print(secrets.token_hex(32))')

# The internal service (127.0.0.1) and the hostile members' host (127.0.0.2).
python3 - "$work" "$internal_port" "$member_port" "$items" <<'PY' &
import http.server, pathlib, sys, threading
work, internal_port, member_port, items = pathlib.Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def rss(entries): return ("<rss version='2.0'><channel><title>t</title>" + entries + "</channel></rss>").encode()
item = lambda i, title, body: (f"<item><title>{title}</title><link>https://h.example.cn/{i}</link><guid>h-{i}</guid>"
                               f"<pubDate>Mon, 23 Nov 2026 {i % 24:02d}:{i % 60:02d}:00 +0800</pubDate><description>{body}</description></item>")
documents = {
    "/nested": rss(item(1, "nested", "<![CDATA[" + "<div>" * 1_500_000 + "deep]]>")),
    "/title": rss(item(2, "长" * 3_000_000, "big title")),
    "/items": rss("".join(item(i, f"item {i}", f"body {i}") for i in range(items))),
    "/normal": rss("".join(item(i, f"正常的文章 {i}", f"&lt;p&gt;依赖注入 {i}&lt;/p&gt;") for i in range(50))),
}
class Member(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/redirect":
            self.send_response(302); self.send_header("Location", f"http://127.0.0.1:{internal_port}/secret"); self.end_headers(); return
        body = documents.get(self.path)
        self.send_response(200 if body else 404); self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body or b""))); self.end_headers(); self.wfile.write(body or b"")
    def log_message(self, *args): pass
class Internal(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        (work / "internal-asked").write_text(self.path)
        self.send_response(200); self.end_headers(); self.wfile.write(rss(item(9, "SECRET", "internal")))
    def log_message(self, *args): pass
servers = [http.server.ThreadingHTTPServer(("127.0.0.2", member_port), Member),
           http.server.ThreadingHTTPServer(("127.0.0.1", internal_port), Internal)]
for server in servers[1:]:
    threading.Thread(target=server.serve_forever, daemon=True).start()
servers[0].serve_forever()
PY
wait_for "http://127.0.0.2:$member_port/normal"
{
    printf '[site]\ntitle = "hostile"\nurl = "http://127.0.0.1:%s/"\n[store]\npath = "%s/store"\ncache_mb = 8\n' "$port" "$work"
    printf '[fetch]\nallow_addresses = ["127.0.0.2"]\nschedule = "0 0 0 1 1 *"\ntimeout = "60s"\nmax_body_bytes = 33554432\n'
    printf '[digest]\nfrom = "digest@planet.example.cn"\nsmtp_host = "127.0.0.1"\nsmtp_port = %s\nsmtp_security = "none"\nschedule = "0 0 9 1 1 *"\n' "$(free_port)"
    for name in redirect nested title items normal; do
        printf '[[members]]\nid = "%s"\nname = "%s"\nfeed = "http://127.0.0.2:%s/%s"\n' "$name" "$name" "$member_port" "$name"
    done
} > "$work/feeds.toml"
PLANET_ADMIN_TOKEN=$token PLANET_DIGEST_SECRET=hostile-digest-secret RUST_LOG=planet=info \
    "$planet" --config "$work/feeds.toml" serve --listen "127.0.0.1:$port" 2>"$work/serve.log" &
pid=$!
wait_for "http://127.0.0.1:$port/healthz"

# The start-up pass fetches every member; wait for it (bounded).
python3 - "$port" <<'PY'
import json, sys, time, urllib.request
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    health = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz"))
    if health.get("last_pass"):
        sys.exit(0)
    time.sleep(0.2)
sys.exit("hostile: the fetch pass did not finish in 120 s")
PY
health() {  # ROUND: wrk on /feed.atom, then p99 and RSS against the targets
    local output p99 rss
    output=$(wrk -t2 -c64 -d"${seconds}s" --latency "http://127.0.0.1:$port/feed.atom")
    p99=$(awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub("us", "", v); v /= 1000 } else if (v ~ /ms$/) { sub("ms", "", v) } else if (v ~ /s$/) { sub("s", "", v); v *= 1000 } print v }' <<<"$output")
    rss=$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
    echo "hostile: $1: /feed.atom p99 ${p99} ms (target < 20), RSS ${rss} MB (target < 64)"
    if ! awk -v p="$p99" -v r="$rss" 'BEGIN { exit !(p < 20 && r < 64) }'; then
        echo "$output"
        if [ "$enforce" = 1 ]; then exit 1; fi
        echo "hostile: (short run: figures reported, not enforced)"
    fi
}

python3 - "$port" "$work" <<'PY'
import json, pathlib, sys, urllib.request
port, work = sys.argv[1], pathlib.Path(sys.argv[2])
members = {m["id"]: m for m in json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/members"))["members"]}
error = members["redirect"]["feeds"][0]["last_error"] or ""
assert error.startswith("refused") and "127.0.0.1" not in error, error
assert not (work / "internal-asked").exists(), "the internal service was asked"
atom = urllib.request.urlopen(f"http://127.0.0.1:{port}/feed.atom").read()
assert b"SECRET" not in atom and len(atom) < 2_000_000, len(atom)
warnings = {w.split(":")[0] for m in members.values() for f in m["feeds"] for w in f.get("warnings", [])}
print(f"hostile: members: redirect refused ({error}); /feed.atom {len(atom)} bytes; warnings {sorted(warnings)}")
PY
health "after the hostile members"

# Clients: slow headers held open during the measurement, and an X-Forwarded-For flood.
python3 - "$port" "$slow" "$flood" "$work/slow-ready" "$work/slow-done" <<'PY' &
import pathlib, socket, sys, time, http.client
port, slow, flood = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ready, done = pathlib.Path(sys.argv[4]), pathlib.Path(sys.argv[5])
held = []
for _ in range(slow):
    s = socket.create_connection(("127.0.0.1", port)); s.sendall(b"GET /feed.atom HTTP/1.1\r\nHost: planet\r\nX-Slow: ")
    held.append(s)
connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
statuses = {}
for i in range(flood):
    body = f"email=flood{i}%40mail.example.cn"
    headers = {"X-Forwarded-For": f"{i}-" + "x" * 8192, "Content-Type": "application/x-www-form-urlencoded"}
    connection.request("POST", "/subscribe", body=body, headers=headers)
    response = connection.getresponse(); response.read()
    statuses[response.status] = statuses.get(response.status, 0) + 1
ready.write_text(f"{slow} slow connections held; subscribe flood answered {dict(sorted(statuses.items()))}")
# The server closes each within its 15 s header timeout.
deadline = time.monotonic() + 30
closed = 0
for s in held:
    s.settimeout(max(0.1, deadline - time.monotonic()))
    try:
        s.recv(1024)  # the end of the stream (or a 408 before it): the server let go
        closed += 1
    except socket.timeout:
        pass
done.write_text(f"{closed} of {slow} slow connections closed by the server")
PY
client=$!
for _ in $(seq 600); do [ -f "$work/slow-ready" ] && break; sleep 0.1; done
[ -f "$work/slow-ready" ] || { echo "hostile: the client round did not start"; exit 1; }
echo "hostile: clients: $(cat "$work/slow-ready")"
health "during the hostile clients"
wait "$client"
echo "hostile: clients: $(cat "$work/slow-done")"
grep -q "^$slow of" "$work/slow-done" || { echo "hostile: slow connections were left open"; exit 1; }
kill "$pid"; wait "$pid" || true

# Third round: one member, one client or one damaged byte against what every reader shares.
# Ten members with a few posts each, and a flooder that, once armed, lists 200 new undated
# GUIDs of ~40 KB random text on every fetch (8 MB a pass).
round3=$work/round3
mkdir -p "$round3"
flood_port=$(free_port)
python3 - "$round3" "$flood_port" <<'PY' &
import http.server, os, pathlib, sys, time
work, port = pathlib.Path(sys.argv[1]), int(sys.argv[2])
now = time.time()
def date(seconds_ago): return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(now - seconds_ago))
def rss(entries): return ("<rss version='2.0'><channel><title>t</title>" + entries + "</channel></rss>").encode()
normal = {f"/m{m}": rss("".join(
    f"<item><title>member {m} post {i}</title><link>https://m{m}.example.cn/{i}</link><guid>m{m}-{i}</guid>"
    f"<pubDate>{date((m * 6 + i) * 7200 + 86400 * (i % 9))}</pubDate><description>&lt;p&gt;依赖注入 {m} {i}&lt;/p&gt;</description></item>"
    for i in range(6))) for m in range(10)}
fetches = [0]
class Members(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        if self.path == "/flood":
            entries = ""
            if (work / "flood-armed").exists():
                fetches[0] += 1
                for i in range(200):
                    words = os.urandom(20_000).hex()
                    text = " ".join(words[j:j + 8] for j in range(0, len(words), 8))
                    entries += f"<item><title>flood {fetches[0]}-{i}</title><guid>flood-{fetches[0]}-{i}</guid><link>https://flood.example.cn/{fetches[0]}/{i}</link><description>{text}</description></item>"
            body = rss(entries)
        else:
            body = normal.get(self.path)
        self.send_response(200 if body else 404); self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body or b""))); self.end_headers(); self.wfile.write(body or b"")
    def log_message(self, *args): pass
http.server.ThreadingHTTPServer(("127.0.0.2", port), Members).serve_forever()
PY
wait_for "http://127.0.0.2:$flood_port/m0"
port=$(free_port)
{
    printf '[site]\ntitle = "hostile 3"\nurl = "http://127.0.0.1:%s/"\n[store]\npath = "%s/store"\ncache_mb = 8\n' "$port" "$round3"
    printf '[fetch]\nallow_addresses = ["127.0.0.2"]\nschedule = "0 0 0 1 1 *"\ntimeout = "60s"\nmax_body_bytes = 33554432\n'
    printf '[digest]\nfrom = "digest@planet.example.cn"\nsmtp_host = "127.0.0.1"\nsmtp_port = %s\nsmtp_security = "none"\nschedule = "0 0 9 1 1 *"\n' "$(free_port)"
    for m in 0 1 2 3 4 5 6 7 8 9 flood; do
        name=m$m; [ "$m" = flood ] && name=flood
        printf '[[members]]\nid = "%s"\nname = "%s"\nfeed = "http://127.0.0.2:%s/%s"\n' "$name" "$name" "$flood_port" "$name"
    done
} > "$round3/feeds.toml"
start_round3() {
    PLANET_ADMIN_TOKEN=$token PLANET_DIGEST_SECRET=hostile-digest-secret RUST_LOG=planet=info \
        "$planet" --config "$round3/feeds.toml" serve --listen "127.0.0.1:$port" 2>>"$round3/serve.log" &
    pid=$!
    wait_for "http://127.0.0.1:$port/healthz"
}
start_round3
python3 scripts/hostile_third_round.py "$port" "$pid" "$round3" "$token" "$flood_passes" "$connections"

# A damaged body log: the second half of the file gone and ten bytes flipped, then a restart.
kill "$pid"; wait "$pid" || true
log=$(ls "$round3"/store/bodies-*.log | head -1)
size=$(stat -c %s "$log")
truncate -s $((size / 2)) "$log"
printf '\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff' | dd of="$log" bs=1 seek=$((size / 8)) conv=notrunc status=none
start_round3
python3 - "$port" <<'PY'
import json, sys, urllib.error, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
paths = ["/", "/feed.atom", "/feed.rss", "/feed.json", "/api/v1/posts?limit=100", "/members/m0", "/members/flood",
         "/feed.atom?member=flood", "/api/v1/posts?q=%E4%BE%9D%E8%B5%96", "/search?q=%E4%BE%9D%E8%B5%96", "/digest", "/digest.atom"]
answered = 0
for path in paths:
    try:
        answered += urllib.request.urlopen(base + path, timeout=60).status == 200
    except urllib.error.HTTPError as error:
        print(f"hostile: {path} answered {error.code}")
health = json.load(urllib.request.urlopen(base + "/healthz"))
print(f"hostile: pages answered with a damaged log: {answered} of {len(paths)}; /healthz {health['status']}, {health['damaged_posts']} damaged posts found")
assert answered == len(paths) and health["status"] == "degraded" and health["damaged_posts"] > 0
PY
kill "$pid"; wait "$pid" || true
export_output=$(RUST_LOG=off "$planet" --config "$round3/feeds.toml" export --output "$round3/salvage.jsonl" 2>&1 | tr '\n' ' ')
echo "hostile: export of the damaged store: $export_output"
echo "hostile: passed"
