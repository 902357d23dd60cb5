"""The reference side of the ingest benchmark: Python's feedparser parsing the same files as
planet, for about SECONDS seconds on one core. Prints one JSON line: bytes, posts, seconds.
Usage: bench_feedparser.py SECONDS FILE..."""
import json
import sys
import time

import feedparser

seconds = float(sys.argv[1])
documents = [open(path, "rb").read() for path in sys.argv[2:]]
total_bytes = total_posts = rounds = 0
start = time.perf_counter()
while time.perf_counter() - start < seconds or rounds == 0:
    for document in documents:
        total_posts += len(feedparser.parse(document).entries)
        total_bytes += len(document)
    rounds += 1
elapsed = time.perf_counter() - start
print(json.dumps({"bytes": total_bytes, "posts": total_posts, "seconds": elapsed, "rounds": rounds}))
