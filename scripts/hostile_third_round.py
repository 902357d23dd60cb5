"""The third round of scripts/hostile.sh: what one member, one client or one damaged byte
can take from everyone. Drives a running `planet serve` (started by hostile.sh) on loopback
and prints one line of figures per resource:
- river members under a flood (a member with 200 new GUIDs of random text every pass),
  with each pass's time and the search index's size;
- resident memory under digest and render-cache abuse;
- connection slots held by one address, and HTTP/2 without TLS.
Usage (from hostile.sh): hostile_third_round.py PORT PID WORK TOKEN FLOOD_PASSES CONNECTIONS
"""

import concurrent.futures
import datetime
import json
import pathlib
import socket
import sys
import time
import urllib.error
import urllib.request

port, pid, work, token = int(sys.argv[1]), int(sys.argv[2]), pathlib.Path(sys.argv[3]), sys.argv[4]
flood_passes, connections = int(sys.argv[5]), int(sys.argv[6])
base = f"http://127.0.0.1:{port}"


def get(path, headers=None):
    request = urllib.request.Request(base + path, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def post(request):
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def rss_mb():
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def directory_mb(path):
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / (1024 * 1024)


def last_pass():
    return json.loads(get("/healthz")[1]).get("last_pass")


def run_pass():
    """One fetch pass through the admin endpoint; its wall time in seconds. A pass already
    running (409) is waited for first. A pass records its start as `last_pass`, so ours is
    done when `last_pass` is no earlier than our request."""
    started = time.monotonic()
    deadline = started + 300
    request = urllib.request.Request(base + "/admin/refresh", method="POST",
                                     headers={"Authorization": f"Bearer {token}"})
    while True:
        asked = datetime.datetime.now(datetime.timezone.utc)
        status, _ = post(request)
        if status == 202:
            break
        if status != 409 or time.monotonic() > deadline:
            sys.exit(f"hostile: the admin refresh answered {status}")
        time.sleep(0.05)
        started = time.monotonic()
    while True:
        done = last_pass()
        if done and datetime.datetime.fromisoformat(done.replace("Z", "+00:00")) >= asked:
            return time.monotonic() - started
        if time.monotonic() > deadline:
            sys.exit("hostile: a pass did not finish in 300 s")
        time.sleep(0.05)


def river_members(path):
    status, body = get(path)
    assert status == 200, (path, status)
    if path.endswith(".json"):
        items = json.loads(body)["items"]
        return {item["authors"][0]["name"] for item in items}, len(items)
    text = body.decode()
    names = {part.split("</name>")[0] for part in text.split("<author><name>")[1:]}
    return names, text.count("<entry>")


# --- Hostile member: a flood of new GUIDs of random text, every pass ------------------------
index = pathlib.Path(str(work / "store") + ".search")
# The start-up pass first (bounded).
deadline = time.monotonic() + 120
while last_pass() is None:
    if time.monotonic() > deadline:
        sys.exit("hostile: the start-up pass did not finish in 120 s")
    time.sleep(0.05)
normal = [run_pass() for _ in range(2)]
(work / "flood-armed").write_text("1")
flood_times, index_sizes = [], []
for _ in range(flood_passes):
    flood_times.append(run_pass())
    index_sizes.append(directory_mb(index))
members, entries = river_members("/feed.atom")
json_members, _ = river_members("/feed.json")
status, page = get("/api/v1/members/flood")
warnings = [w for f in json.loads(page)["feeds"] for w in f.get("warnings", []) if w.startswith("daily_budget")]
print(f"hostile: flood: passes {', '.join(f'{t:.2f}' for t in flood_times)} s (normal {max(normal):.2f} s); "
      f"index {', '.join(f'{s:.1f}' for s in index_sizes)} MB; store {directory_mb(work / 'store'):.1f} MB; "
      f"budget warning: {'yes' if warnings else 'no'}")
print(f"hostile: river members under the flood: /feed.atom {len(members)} of 11 in {entries} entries, "
      f"/feed.json {len(json_members)} of 11")
assert len(members) == 11 and len(json_members) == 11, (members, json_members)
assert max(flood_times[-2:]) <= 2 * max(flood_times[0], max(normal)), ("passes grew", flood_times)

# --- Hostile clients: digest and render-cache abuse ----------------------------------------
rss_start = rss_mb()
with concurrent.futures.ThreadPoolExecutor(3) as pool:
    statuses = list(pool.map(lambda p: get(p)[0], ["/digest", "/digest.atom", "/digest"] * 3))
rss_digest = rss_mb()
long_tag = "t" * 50
feed_statuses = {}


def abuse(n):
    client = {"X-Real-IP": f"198.51.{n // 50 // 250}.{n // 50 % 250}"}
    kind = n % 3
    path = (f"/api/v1/posts?tag={long_tag[:-4]}{n:04d}" if kind == 0 else
            f"/feed.atom?q=word{n}" if kind == 1 else f"/feed.atom?tag=tag{n}")
    return get(path, client)[0]


with concurrent.futures.ThreadPoolExecutor(8) as pool:
    futures = [pool.submit(abuse, n) for n in range(2000)]
    for n in range(200):
        status, _ = get("/feed.atom")
        feed_statuses[status] = feed_statuses.get(status, 0) + 1
    abuse_statuses = {}
    for future in futures:
        abuse_statuses[future.result()] = abuse_statuses.get(future.result(), 0) + 1
repeated = get("/api/v1/posts?" + "&".join(["limit=1"] * 500))[0]
rss_abuse = rss_mb()
_, metrics = get("/metrics")
cache_bytes = next(l.split()[1] for l in metrics.decode().splitlines() if l.startswith("planet_render_cache_bytes"))
run_pass()  # a pass ends by giving freed memory back to the system
print(f"hostile: RSS {rss_start:.1f} MB before, {rss_digest:.1f} MB after 9 digest GETs ({sorted(set(statuses))}), "
      f"{rss_abuse:.1f} MB after 2,000 query-keyed requests {dict(sorted(abuse_statuses.items()))} "
      f"(render cache {int(cache_bytes) / 1048576:.1f} MB), {rss_mb():.1f} MB after the next pass; "
      f"/feed.atom meanwhile {dict(sorted(feed_statuses.items()))}; repeated parameters {repeated}")
assert feed_statuses.get(200, 0) == 200, feed_statuses
assert repeated == 400

# --- Hostile clients: connection slots -----------------------------------------------------
held, refused = [], 0
for n in range(connections):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: planet\r\nX-Real-IP: 203.0.113.66\r\n\r\n")
    s.settimeout(10)
    head = s.recv(4096)
    if head.startswith(b"HTTP/1.1 200"):
        held.append(s)
    else:
        refused += 1
        s.close()
other_status, _ = get("/feed.atom", {"X-Real-IP": "198.51.100.200"})
h2_closed = 0
for n in range(100):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
    s.settimeout(10)
    answer = b""
    while chunk := s.recv(4096):
        answer += chunk
    h2_closed += answer.startswith(b"HTTP/1.1 505")
    s.close()
print(f"hostile: slots held by one address: {len(held)} of {connections} tried ({refused} got 503); "
      f"another client meanwhile: {other_status}; h2c prior knowledge: {h2_closed} of 100 refused and closed")
assert len(held) <= 256 and other_status == 200 and h2_closed == 100
for s in held:
    s.close()
