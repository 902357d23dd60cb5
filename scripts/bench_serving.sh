#!/usr/bin/env bash
# Serving benchmark: wrk at 64 connections against planet's /feed.atom, /feed.json,
# /api/v1/posts, / and a conditional /feed.atom (304), and, in the same run, nginx serving
# the same /feed.atom bytes as a static file. Both are measured twice: uncompressed (the
# issue's comparison) and with `Accept-Encoding: gzip`, which is what feed readers send
# (nginx then serves the same gzip bytes precompressed, with gzip_static). Prints a table
# and a one-line summary.
# Loopback only; each run lasts DURATION seconds (default 10).
# Usage: scripts/bench_serving.sh [DURATION]   (needs wrk and nginx: apt-get install wrk nginx-light)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/harness.sh
duration=${1:-10}
build_planet
work=$(mktemp -d)
trap '[ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; stop_jobs_and_remove "$work"' EXIT

port=$(free_port)
{
    printf '[site]\ntitle = "bench"\nurl = "http://127.0.0.1:%s/"\n[store]\npath = "%s/store"\ncache_mb = 16\n' "$port" "$work"
    printf '[fetch]\nallow_private = true\nschedule = "0 0 0 1 1 *"\n'
    for m in $(seq 0 49); do printf '[[members]]\nid = "m%s"\nname = "Member %s"\nfeed = "http://127.0.0.1:9/m%s.xml"\n' "$m" "$m" "$m"; done
} > "$work/feeds.toml"
python3 - "$work/posts.jsonl" <<'PY'
import json, sys, datetime
now = datetime.datetime.now(datetime.timezone.utc)
with open(sys.argv[1], "w") as out:
    for i in range(2000):
        m = i % 50
        published = (now - datetime.timedelta(minutes=i)).isoformat()
        post = {"kind": "post", "id": f"{i:032x}", "member": f"m{m}", "feed_url": f"http://127.0.0.1:9/m{m}.xml", "guid": f"g{i}",
                "url": f"https://m{m}.example.cn/{i}", "title": f"Post {i} · 依赖注入与中间件", "author": None, "published": published,
                "updated": None, "first_seen": published, "date_source": "feed", "tags": ["dotnet"],
                "excerpt": "长沙.NET技术社区的文章摘要。" * 5, "content_html": "<p>" + "ASP.NET Core 中间件与依赖注入。" * 40 + "</p>",
                "content_hash": f"h{i}"}
        out.write(json.dumps(post, ensure_ascii=False) + "\n")
PY
"$planet" --config "$work/feeds.toml" import "$work/posts.jsonl" 2>/dev/null
"$planet" --config "$work/feeds.toml" serve --listen "127.0.0.1:$port" 2>/dev/null &
wait_for "http://127.0.0.1:$port/healthz"
# nginx's workers run as an unprivileged user: mktemp's directory (0700) would answer 403.
chmod 755 "$work"
mkdir -p "$work/static"
curl -sf "http://127.0.0.1:$port/feed.atom" -o "$work/static/feed.atom"
curl -sf -H "Accept-Encoding: gzip" "http://127.0.0.1:$port/feed.atom" -o "$work/static/feed.atom.gz"
etag=$(curl -sfI "http://127.0.0.1:$port/feed.atom" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')

nginx_port=$(free_port)
cat > "$work/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    # A production static setup: open files (and the .gz beside each) stay cached.
    open_file_cache max=100;
    open_file_cache_valid 60s;
    types { application/atom+xml atom; }
    server { listen 127.0.0.1:$nginx_port; root $work/static; gzip_static on; }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work"

run() { # name url [header]
    local output
    if [ -n "${3:-}" ]; then
        output=$(wrk -t2 -c64 -d"${duration}s" --latency -H "$3" "$2")
    else
        output=$(wrk -t2 -c64 -d"${duration}s" --latency "$2")
    fi
    # A row counts only if every answer was a success: an error page is fast and proves nothing.
    if grep -q "Non-2xx or 3xx responses" <<<"$output"; then
        echo "bench_serving: $1 answered errors: $(grep 'Non-2xx' <<<"$output")" >&2
        exit 1
    fi
    local rps p50 p99
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$output")
    p50=$(awk '$1=="50%" {print $2}' <<<"$output")
    p99=$(awk '$1=="99%" {print $2}' <<<"$output")
    printf '%-32s %12s %10s %10s\n' "$1" "$rps" "$p50" "$p99"
    echo "$1 $rps" >> "$work/results"
}
echo "serving: wrk, 2 threads, 64 connections, ${duration}s each, on $(nproc) cores shared with the server; /feed.atom is $(wc -c <"$work/static/feed.atom") bytes, $(wc -c <"$work/static/feed.atom.gz") gzipped"
printf '%-32s %12s %10s %10s\n' "target" "requests/s" "p50" "p99"
run "planet /feed.atom" "http://127.0.0.1:$port/feed.atom"
run "planet /feed.atom (gzip)" "http://127.0.0.1:$port/feed.atom" "Accept-Encoding: gzip"
run "planet /feed.atom (304)" "http://127.0.0.1:$port/feed.atom" "If-None-Match: $etag"
run "planet /feed.json" "http://127.0.0.1:$port/feed.json"
run "planet /api/v1/posts" "http://127.0.0.1:$port/api/v1/posts"
run "planet /" "http://127.0.0.1:$port/"
run "nginx static /feed.atom" "http://127.0.0.1:$nginx_port/feed.atom"
run "nginx static /feed.atom (gzip)" "http://127.0.0.1:$nginx_port/feed.atom" "Accept-Encoding: gzip"
python3 - "$work/results" <<'PY'
import sys
results = dict(line.rsplit(" ", 1) for line in open(sys.argv[1]).read().splitlines())
def ratio(suffix):
    return float(results["planet /feed.atom" + suffix]) / float(results["nginx static /feed.atom" + suffix])
print(f"summary: planet serves /feed.atom at {ratio(''):.2f}x nginx's requests/s uncompressed and {ratio(' (gzip)'):.2f}x with gzip "
      f"(target: at least 0.5x; p99 target < 10 ms)")
PY
