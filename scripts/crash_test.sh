#!/usr/bin/env bash
# Survival under SIGKILL. Starts `planet serve` against feeds served from loopback (fetching
# every two seconds while the feeds keep growing), kills it with SIGKILL at a random moment
# (often while it indexes a pass's posts for search), restarts it, and checks each time that
# the store opens, that every post seen before the kill is still there, that no post is
# stored twice, and that the search index agrees with the store once the posts it missed are
# taken in (`planet reindex --check`, which does what a start does). Then kills `planet digest send`
# in the middle of mailing 200 recipients, resumes it, and checks that every recipient got
# exactly one message. Loopback only; bounded: ROUNDS rounds (default 20).
#
# Usage: scripts/crash_test.sh [ROUNDS]   (needs python3 with aiosmtpd; builds release)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/harness.sh
rounds=${1:-20}
build_planet
work=$(mktemp -d)
trap 'if [ -n "${KEEP:-}" ]; then stop_jobs_and_remove; else stop_jobs_and_remove "$work"; fi' EXIT
mkdir -p "$work/feeds"

grow_feeds() { # $1 = round: every feed gains a post per round
    python3 - "$work/feeds" "$1" <<'PY'
import sys, pathlib
root, n = pathlib.Path(sys.argv[1]), int(sys.argv[2])
for m in range(20):
    items = "".join(f"<item><title>m{m} post {i}</title><link>https://m{m}.example.cn/{i}</link><guid>m{m}-{i}</guid>"
                    f"<pubDate>Mon, 02 Nov 2026 {i % 24:02d}:00:00 GMT</pubDate><description>body {i}</description></item>" for i in range(n + 5))
    (root / f"m{m}.xml").write_text(f"<rss version='2.0'><channel><title>m{m}</title>{items}</channel></rss>")
PY
}
grow_feeds 0
port=$(free_port)
(cd "$work/feeds" && exec python3 -m http.server --bind 127.0.0.1 "$port" >/dev/null 2>&1) &
wait_for "http://127.0.0.1:$port/m0.xml"
{
    printf '[site]\ntitle = "crash"\nurl = "http://127.0.0.1/"\n[store]\npath = "%s/store"\ncache_mb = 8\n' "$work"
    printf '[fetch]\nallow_private = true\nschedule = "*/2 * * * * *"\ntimeout = "5s"\n'
    for m in $(seq 0 19); do printf '[[members]]\nid = "m%s"\nname = "M%s"\nfeed = "http://127.0.0.1:%s/m%s.xml"\n' "$m" "$m" "$port" "$m"; done
} > "$work/feeds.toml"

check_store() { # exports, fails on duplicates or lost posts, keeps the ids for the next round
    "$planet" --config "$work/feeds.toml" export -o "$work/export.jsonl" 2>/dev/null
    python3 - "$work/export.jsonl" "$work/seen.txt" <<'PY'
import json, sys, pathlib
posts = [json.loads(l) for l in open(sys.argv[1]) if '"kind":"post"' in l]
ids = [p["id"] for p in posts]
keys = [(p["member"], p["guid"]) for p in posts]
assert len(ids) == len(set(ids)), "a post id is stored twice"
assert len(keys) == len(set(keys)), "a (member, guid) is stored twice: a duplicate post"
seen_path = pathlib.Path(sys.argv[2])
before = set(seen_path.read_text().split()) if seen_path.exists() else set()
lost = before - set(ids)
assert not lost, f"{len(lost)} posts flushed before the kill are gone"
seen_path.write_text("\n".join(ids))
print(len(ids))
PY
}

for round in $(seq 1 "$rounds"); do
    grow_feeds "$round"
    RUST_LOG=planet=info "$planet" --config "$work/feeds.toml" serve --listen 127.0.0.1:0 2>>"$work/serve.log" &
    pid=$!
    sleep "$(python3 -c 'import random; print(round(random.uniform(0.3, 3.0), 2))')"
    kill -9 "$pid"; wait "$pid" 2>/dev/null || true
    count=$(check_store) || { tail -20 "$work/serve.log"; exit 1; }
    "$planet" --config "$work/feeds.toml" reindex --check > "$work/index-check.txt" 2>&1 \
        || { cat "$work/index-check.txt"; exit 1; }
    echo "round $round: killed planet serve; store opens, $count posts, none lost, none twice; $(head -1 "$work/index-check.txt")"
done

# The digest: 200 recipients, killed mid-send, resumed; each recipient exactly once.
maildir="$work/mail"
coproc SINK { python3 scripts/smtp_sink.py "$maildir"; }
read -r line <&"${SINK[0]}"; smtp_port=${line#listening }
recipients=$(python3 -c 'print(", ".join(f"\"r{i}@x.example.cn\"" for i in range(200)))')
printf '[digest]\nfrom = "d@x.example.cn"\nrecipients = [%s]\nsmtp_host = "127.0.0.1"\nsmtp_port = %s\nsmtp_security = "none"\nsend_empty = true\n' "$recipients" "$smtp_port" >> "$work/feeds.toml"
for attempt in 1 2 3; do
    "$planet" --config "$work/feeds.toml" digest send >/dev/null 2>&1 &
    pid=$!
    sleep 0.4
    kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
done
"$planet" --config "$work/feeds.toml" digest send > "$work/digest-resume.txt" 2>&1 || true
tail -1 "$work/digest-resume.txt"
python3 - "$maildir" "$work/digest-resume.txt" <<'PY'
import json, pathlib, sys, collections
counts = collections.Counter()
for path in pathlib.Path(sys.argv[1]).glob("*.json"):
    if path.name != "control.json":
        for r in json.loads(path.read_text())["rcpt_tos"]:
            counts[r] += 1
twice = [r for r, n in counts.items() if n > 1]
assert not twice, f"mailed twice: {twice[:5]}"
# A kill in the instant a message is in flight leaves that recipient uncertain (at most one
# per kill): planet does not mail it again rather than risk a second copy.
assert len(counts) >= 200 - 3, f"only {len(counts)} of 200 recipients got the digest"
# Whoever was never mailed must be named by planet, so the admin knows whom --force would mail.
uncertain = {line.split()[1].rstrip(":") for line in open(sys.argv[2]) if line.startswith("uncertain ")}
never = {f"r{i}@x.example.cn" for i in range(200)} - set(counts)
assert never <= uncertain, f"never mailed and not reported uncertain: {sorted(never - uncertain)}"
print(f"digest: killed 3 times mid-send and resumed; {len(counts)} of 200 recipients mailed once, none twice, "
      f"{len(never)} never mailed, all among the {len(uncertain)} planet reports as uncertain")
PY
echo "crash test: $rounds rounds passed"
