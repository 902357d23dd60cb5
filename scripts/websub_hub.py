#!/usr/bin/env python3
"""A real WebSub hub on loopback for planet's tests: flask-websub's hub (PyPI), its celery
tasks run eagerly inside each request (no broker), `hub.mode=publish` accepted, SQLite
storage in DIRECTORY (a new temporary one if not given). Prints "listening PORT" once it
accepts connections and serves until killed. Callers that kill it (the tests, the push bench)
pass a directory they remove themselves: a killed hub cleans up nothing.

    python3 scripts/websub_hub.py [SIGNATURE_ALGORITHM [DIRECTORY]]    # sha512 (its default), sha256, sha1
"""
import logging
import os
import sys
import tempfile

from celery import Celery
from flask import Flask
from flask_websub.hub import Hub, SQLite3HubStorage
from werkzeug.serving import make_server


def main():
    algorithm = sys.argv[1] if len(sys.argv) > 1 else "sha512"
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    app = Flask("hub")
    app.config["PUBLISH_SUPPORTED"] = True
    # Planet asks for leases of days; a test renews early, so short ones are allowed.
    app.config["HUB_MIN_LEASE_SECONDS"] = 1
    celery = Celery("hub", broker="memory://", backend="cache+memory://")
    celery.conf.task_always_eager = True
    celery.conf.task_eager_propagates = False
    directory = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="websub-hub-")
    storage = SQLite3HubStorage(os.path.join(directory, "hub.sqlite3"))
    hub = Hub(storage, celery, PUBLISH_SUPPORTED=True, REQUEST_TIMEOUT=5, SIGNATURE_ALGORITHM=algorithm, MAX_ATTEMPTS=1)
    app.register_blueprint(hub.build_blueprint(url_prefix="/hub"))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print("listening", server.port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
