# Shared by the benchmark and survival scripts (sourced, not run): the release binary, free
# loopback ports, and waiting for a server started in the background.

# Builds the release binary and sets $planet to it; PLANET_BIN names another binary to run
# instead (to compare two builds with the same script).
build_planet() {
    if [ -n "${PLANET_BIN:-}" ]; then
        planet=$PLANET_BIN
        return
    fi
    cargo build --release --quiet --bin planet
    planet=$PWD/target/release/planet
}

# For an EXIT trap: stops this script's background jobs and removes PATHs once they are gone.
# A server still shutting down writes into its directory (the search index's last commit),
# and `rm -rf` then fails on a directory that was not empty when it looked (seen in CI, after
# a soak that passed). Waits at most 10 s, then kills what is left.
stop_jobs_and_remove() {
    local left
    left=$(jobs -pr)
    if [ -n "$left" ]; then kill $left 2>/dev/null || true; fi
    for _ in $(seq 50); do
        left=$(jobs -pr)
        [ -z "$left" ] && break
        sleep 0.2
    done
    if [ -n "$left" ]; then kill -9 $left 2>/dev/null || true; fi
    wait 2>/dev/null || true
    rm -rf "$@"
}

# A free TCP port on 127.0.0.1.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits up to 10 s for URL to answer 2xx (the callers' later requests say what went wrong).
wait_for() {
    for _ in $(seq 100); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done
}
