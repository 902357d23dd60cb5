#!/usr/bin/env bash
# API fuzzing: schemathesis (PyPI) generates requests from /api/openapi.json against a
# running planet with posts in its store, and fails on any 5xx or any response that breaks
# the schema. Loopback only; MAX_EXAMPLES per operation (default 100).
# Usage: scripts/fuzz_api.sh [MAX_EXAMPLES]   (pip install schemathesis)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/harness.sh
examples=${1:-100}
build_planet
work=$(mktemp -d)
trap 'stop_jobs_and_remove "$work"' EXIT
port=$(free_port)
{
    printf '[site]\ntitle = "fuzz"\nurl = "http://127.0.0.1:%s/"\n[store]\npath = "%s/store"\ncache_mb = 8\n' "$port" "$work"
    printf '[fetch]\nallow_private = true\nschedule = "0 0 0 1 1 *"\n'
    for m in 0 1 2; do printf '[[members]]\nid = "m%s"\nname = "M%s <b>&</b>"\nfeed = "http://127.0.0.1:9/m%s.xml"\n' "$m" "$m" "$m"; done
} > "$work/feeds.toml"
python3 - "$work/posts.jsonl" <<'PY'
import json, sys, datetime
now = datetime.datetime.now(datetime.timezone.utc)
with open(sys.argv[1], "w") as out:
    for i in range(60):
        published = (now - datetime.timedelta(hours=i * 7)).isoformat()
        out.write(json.dumps({"kind": "post", "id": f"{i:032x}", "member": f"m{i % 3}", "feed_url": f"http://127.0.0.1:9/m{i % 3}.xml",
            "guid": f"g{i}", "url": f"https://m{i % 3}.example.cn/{i}", "title": f"Post {i} 依赖注入 <T>", "author": None,
            "published": published, "updated": None, "first_seen": published, "date_source": "feed", "tags": ["dotnet", "c#"],
            "excerpt": "摘要", "content_html": "<p>x</p>", "content_hash": str(i)}, ensure_ascii=False) + "\n")
PY
"$planet" --config "$work/feeds.toml" import "$work/posts.jsonl" 2>/dev/null
"$planet" --config "$work/feeds.toml" serve --listen "127.0.0.1:$port" 2>"$work/serve.log" &
wait_for "http://127.0.0.1:$port/healthz"
schemathesis run "http://127.0.0.1:$port/api/openapi.json" \
    --url "http://127.0.0.1:$port" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "$examples" --phases examples,fuzzing --no-color
if grep -q "ERROR" "$work/serve.log"; then
    echo "errors in the server log:"; grep ERROR "$work/serve.log" | head; exit 1
fi
echo "fuzz: no 5xx, every response matches /api/openapi.json"
