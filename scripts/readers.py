"""What real readers make of a running planet's outputs, as JSON on standard output, for the
tests that check what a subscriber sees (tests/it/server/readers.rs):

  readers.py feedparser BASE PATH      Python's feedparser: the feed and every entry
  readers.py newsboat BASE PATH...     newsboat reloads the paths (or imports BASE/opml.xml
                                       with --opml) and the items it stored are read back
                                       from its cache
  readers.py rss2email BASE PATH       rss2email mails every entry through a real SMTP
                                       server on loopback; the decoded mails

BASE is the server's URL (loopback only). newsboat and rss2email are Debian packages that
scripts/test.sh installs.
"""
import email
import email.policy
import json
import os
import pathlib
import socket
import sqlite3
import subprocess
import sys
import tempfile

def feedparser_entries(base, path):
    import feedparser

    parsed = feedparser.parse(base + path)

    def entry(e):
        return {
            "id": e.get("id"),
            "title": e.get("title"),
            "title_type": e.get("title_detail", {}).get("type"),
            "link": e.get("link"),
            "summary": e.get("summary"),
            "content": [c.get("value") for c in e.get("content", [])],
            "author": e.get("author"),
            "authors": [a.get("name") for a in e.get("authors", []) if a.get("name")],
            "tags": [t.get("term") for t in e.get("tags", [])],
            "published": e.get("published"),
            "updated": e.get("updated"),
            "media_thumbnail": [m.get("url") for m in e.get("media_thumbnail", [])],
        }

    return {
        "bozo": bool(parsed.bozo),
        "bozo_exception": str(parsed.get("bozo_exception", "")),
        "version": parsed.get("version"),
        "status": parsed.get("status"),
        "title": parsed.feed.get("title"),
        "entries": [entry(e) for e in parsed.entries],
    }


def newsboat_items(base, paths, opml):
    with tempfile.TemporaryDirectory() as home:
        home = pathlib.Path(home)
        urls, cache = home / "urls", home / "cache.db"
        urls.write_text("".join(f"{base}{path}\n" for path in paths))
        run = lambda *args: subprocess.run(
            ["newsboat", "-u", str(urls), "-c", str(cache), "-C", "/dev/null", *args],
            env={**os.environ, "HOME": str(home)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        if opml:
            opml_file = home / "planet.opml"
            opml_file.write_bytes(fetch(base, "/opml.xml"))
            urls.write_text("")
            imported = run("-i", str(opml_file))
            assert imported.returncode == 0, imported.stderr
        reloaded = run("-x", "reload")
        assert reloaded.returncode == 0, reloaded.stderr
        subscribed = [line for line in urls.read_text().splitlines() if line.startswith("http")]
        items = {}
        if cache.exists():
            with sqlite3.connect(cache) as db:
                rows = db.execute("select feedurl, title, author, content, pubDate, url from rss_item order by pubDate desc")
                for feed, title, author, content, date, url in rows:
                    items.setdefault(feed, []).append(
                        {"title": title, "author": author, "content": content, "date": date, "url": url}
                    )
        return {"subscribed": subscribed, "items": items}


def fetch(base, path):
    import urllib.request

    with urllib.request.urlopen(base + path, timeout=10) as response:
        return response.read()


def rss2email_mails(base, path):
    from aiosmtpd.controller import Controller

    mails = []

    class Collect:
        async def handle_DATA(self, server, session, envelope):
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            body = message.get_body(preferencelist=("plain", "html"))
            mails.append(
                {"subject": str(message["Subject"]), "from": str(message["From"]), "body": body.get_content() if body else ""}
            )
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Collect(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with tempfile.TemporaryDirectory() as home:
            home = pathlib.Path(home)
            config, data = home / "r2e.cfg", home / "r2e.json"
            r2e = lambda *args: subprocess.run(
                ["r2e", "-c", str(config), "-d", str(data), *args],
                env={**os.environ, "HOME": str(home)},
                capture_output=True,
                text=True,
                timeout=120,
            )
            config.write_text(
                "[DEFAULT]\nto = reader@example.cn\nfrom = planet-reader@example.cn\nforce-from = True\n"
                f"email-protocol = smtp\nsmtp-server = 127.0.0.1\nsmtp-port = {port}\nsmtp-auth = False\n"
            )
            added = r2e("add", "planet", base + path)
            assert added.returncode == 0, added.stderr
            ran = r2e("run")
            assert ran.returncode == 0, ran.stderr + ran.stdout
            # Each mail was accepted (handle_DATA returned) before rss2email's send returned.
        return {"mails": mails}
    finally:
        controller.stop()


def main():
    command, base = sys.argv[1], sys.argv[2].rstrip("/")
    assert base.startswith("http://127.0.0.1:"), "loopback only"
    if command == "feedparser":
        result = feedparser_entries(base, sys.argv[3])
    elif command == "newsboat":
        opml = "--opml" in sys.argv[3:]
        result = newsboat_items(base, [p for p in sys.argv[3:] if p != "--opml"], opml)
    elif command == "rss2email":
        result = rss2email_mails(base, sys.argv[3])
    else:
        sys.exit(f"unknown reader {command}")
    json.dump(result, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
