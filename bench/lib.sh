# Shared by the HTTP benchmark scripts (sourced, not run): messages, the release build, the
# load tools, free loopback ports and waiting for a server to be ready.

say() { printf '\n== %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Stop a background process (if still running) and reap it.
stop_pid() {
    local pid=$1
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
}

# Build the release binary at $BIN, install wrk when missing, check the other tools.
build_and_tools() {
    say "building: cargo build --release -p rampart"
    cargo build --release -p rampart
    [[ -x "$BIN" ]] || die "no binary at $BIN"
    if ! command -v wrk >/dev/null 2>&1; then
        say "installing wrk"
        apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }
    fi
    local tool
    for tool in curl python3 wrk; do
        command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
    done
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Wait until BASE answers /readyz, failing if PID exits first (LOG: its stderr, for the error).
wait_ready() {
    local base=$1 pid=$2 log=${3:-/dev/null}
    for _ in $(seq 1 3000); do
        curl -fsS -o /dev/null "$base/readyz" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || die "serve exited early: $(tail -5 "$log")"
        sleep 0.01
    done
    die "serve not ready"
}
