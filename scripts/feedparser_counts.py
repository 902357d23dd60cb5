"""Prints, for each file named on standard input (one path per line), one JSON line with
the number of entries Python's feedparser reads from it: the reference for planet's
"never fewer posts than feedparser" check (tests/it/corpus/parity.rs)."""
import json
import sys

import feedparser

for line in sys.stdin:
    path = line.rstrip("\n")
    if not path:
        continue
    try:
        with open(path, "rb") as handle:
            result = feedparser.parse(handle.read())
        entries = len(result.entries)
    except Exception as error:  # a crash in feedparser counts as nothing read
        entries = 0
    print(json.dumps({"path": path, "entries": entries}), flush=True)
