#!/usr/bin/env bash
# Foundation benchmark: start-up to ready, idle memory, authenticated GET throughput.
# Everything runs on 127.0.0.1 with fixed durations; temp dirs and servers are removed on exit.
# Usage: bash bench/foundation.sh        (see bench/README.md)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source bench/lib.sh

STARTS="${BENCH_STARTS:-20}"            # start-up samples
DURATION="${BENCH_DURATION:-15s}"       # each measured wrk run
WARMUP="${BENCH_WARMUP:-3s}"
LOG_LEVEL="${BENCH_LOG_LEVEL:-info}"    # the shipped default; the server's stderr goes to a file
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/release/rampart"

WORK="$(mktemp -d -t rampart-bench.XXXXXX)"
SERVER_PID=""

cleanup() {
    local status=$?
    stop_pid "$SERVER_PID"
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- 1-2. build and tools
build_and_tools

# ---------------------------------------------------------------- init
DATA="$WORK/data"
export RAMPART_DATA_DIR="$DATA"
export RAMPART_LOG_LEVEL="$LOG_LEVEL"
unset RAMPART_DATABASE_URL
say "init in $DATA"
"$BIN" init --organization Bench --email bench@example.com --json >"$WORK/init.json"
read -r ORG_ID SECRET < <(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(d["organization"]["id"], d["api_key"]["secret"])' "$WORK/init.json")
[[ -n "$ORG_ID" && -n "$SECRET" ]] || die "cannot parse init --json output"
echo "provider organization: $ORG_ID"

# ---------------------------------------------------------------- 3. start-up to ready
say "start-up to ready: $STARTS starts (spawn -> GET /readyz 200), SIGTERM between"
python3 - "$BIN" "$STARTS" "$WORK" >"$WORK/startup.txt" <<'PY'
import os, signal, socket, statistics, subprocess, sys, time

binary, runs, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def ready(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
            s.sendall(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False

starts, stops = [], []
for i in range(runs):
    port = free_port()
    env = dict(os.environ, RAMPART_LISTEN=f"127.0.0.1:{port}")
    with open(os.path.join(work, "startup-server.log"), "ab") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = t0 + 30
            while not ready(port):
                if proc.poll() is not None:
                    sys.exit(f"serve exited with {proc.returncode} during start {i + 1}")
                if time.perf_counter() > deadline:
                    sys.exit(f"not ready after 30 s on start {i + 1}")
                time.sleep(0.0005)
            starts.append((time.perf_counter() - t0) * 1e3)
            t1 = time.perf_counter()
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30)
            stops.append((time.perf_counter() - t1) * 1e3)
            if code != 0:
                sys.exit(f"serve exited with {code} after SIGTERM on start {i + 1}")
        finally:
            if proc.poll() is None:
                proc.kill(); proc.wait()

def p90(xs):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))]

print(f"{statistics.median(starts):.1f} {p90(starts):.1f} {min(starts):.1f} {max(starts):.1f} "
      f"{statistics.median(stops):.1f}")
PY
read -r START_MED START_P90 START_MIN START_MAX STOP_MED <"$WORK/startup.txt"
echo "start-up: median ${START_MED} ms, p90 ${START_P90} ms (min ${START_MIN}, max ${START_MAX}); SIGTERM->exit median ${STOP_MED} ms"

# ---------------------------------------------------------------- 4. idle memory
PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"
say "idle memory: serve on $BASE"
RAMPART_LISTEN="127.0.0.1:$PORT" "$BIN" serve >"$WORK/serve.out" 2>/dev/null &
SERVER_PID=$!
wait_ready "$BASE" "$SERVER_PID"

AUTH="Authorization: Bearer $SECRET"
ORG_URL="$BASE/v1/organizations/$ORG_ID"
code() { curl -sS -o /dev/null -w '%{http_code}' "$@"; }
CODE_AUTH="$(code -H "$AUTH" "$ORG_URL")"
CODE_NOAUTH="$(code "$ORG_URL")"
CODE_BADKEY="$(code -H "Authorization: Bearer not-a-key" "$ORG_URL")"
for path in /healthz /readyz /metrics /v1/openapi.json; do curl -fsS -o /dev/null "$BASE$path"; done
for _ in 1 2 3 4 5; do curl -fsS -o /dev/null -H "$AUTH" "$ORG_URL"; done
echo "spot checks: GET org with key -> $CODE_AUTH, without -> $CODE_NOAUTH, bad key -> $CODE_BADKEY"
[[ "$CODE_AUTH" == 200 ]] || die "authenticated GET returned $CODE_AUTH, not 200"
sleep 2
rss_mb() { awk -v f="$1" '$1 == f":" { printf "%.1f", $2 / 1024 }' "/proc/$SERVER_PID/status"; }
IDLE_RSS="$(rss_mb VmRSS)"
echo "idle VmRSS: ${IDLE_RSS} MB"

# ---------------------------------------------------------------- 5. throughput
# wrk prints "Non-2xx or 3xx responses" and "Socket errors" itself when there are any.
parse_wrk() { # file -> "req/s p50_ms p99_ms non2xx socket_errors requests"
    python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def ms(v, unit):
    return float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]
def pct(p):
    m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
    return ms(*m.groups()) if m else float("nan")
rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
total = re.search(r"(\d+) requests in", text)
non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
print(f"{float(rps.group(1)) if rps else 0:.0f} {pct(50):.2f} {pct(99):.2f} "
      f"{non2xx.group(1) if non2xx else 0} {sum(map(int, errs.groups())) if errs else 0} "
      f"{total.group(1) if total else 0}")
PY
}
run_wrk() { # name connections url [header]
    local name=$1 conns=$2 url=$3; shift 3
    local args=(-t1 -c"$conns" -d"$DURATION" --latency)
    [[ $# -gt 0 ]] && args+=(-H "$1")
    wrk "${args[@]}" "$url" >"$WORK/wrk-$name.txt"
    cat "$WORK/wrk-$name.txt"
    read -r rps p50 p99 non2xx errs total < <(parse_wrk "$WORK/wrk-$name.txt")
    printf -v "R_${name}" '%s' "$rps"; printf -v "P50_${name}" '%s' "$p50"
    printf -v "P99_${name}" '%s' "$p99"; printf -v "BAD_${name}" '%s' "$non2xx"
    printf -v "ERR_${name}" '%s' "$errs"; printf -v "N_${name}" '%s' "$total"
}

say "throughput: warm-up $WARMUP (-c32), then wrk -t1 -d$DURATION --latency at -c32 and -c64"
wrk -t1 -c32 -d"$WARMUP" -H "$AUTH" "$ORG_URL" >/dev/null
run_wrk org32 32 "$ORG_URL" "$AUTH"
run_wrk org64 64 "$ORG_URL" "$AUTH"
say "reference: unauthenticated GET /healthz, -c32 (same router and middleware, no store)"
run_wrk health32 32 "$BASE/healthz"
CODE_AFTER="$(code -H "$AUTH" "$ORG_URL")"
LOADED_RSS="$(rss_mb VmRSS)"
PEAK_RSS="$(rss_mb VmHWM)"

kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || die "serve did not exit cleanly after SIGTERM"
SERVER_PID=""

# ---------------------------------------------------------------- 6. summary
CPU="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
COMMIT="$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git status --porcelain 2>/dev/null)" ]]; then COMMIT="$COMMIT (+ uncommitted changes)"; fi
verdict() { python3 -c 'import sys; v,op,g=float(sys.argv[1]),sys.argv[2],float(sys.argv[3]); print("ok" if (v<g if op=="<" else v>=g) else "MISSED")' "$@"; }

cat <<EOF

==================== Rampart foundation benchmark ====================
date        $(date -u +%Y-%m-%dT%H:%M:%SZ)
commit      $COMMIT
machine     $(nproc) cores, $(uname -m), ${CPU:-unknown CPU}
rustc       $(rustc --version 2>/dev/null || echo unknown)
setup       SQLite in a temp dir, release build, log level $LOG_LEVEL (stderr to /dev/null),
            wrk 1 thread on the same $(nproc) cores as the server, loopback only
start-up    spawn -> /readyz 200, $STARTS starts:  median ${START_MED} ms, p90 ${START_P90} ms   goal < 300 ms  [$(verdict "$START_P90" "<" 300)]
idle RSS    after a few requests + 2 s:  ${IDLE_RSS} MB   goal < 30 MB  [$(verdict "$IDLE_RSS" "<" 30)]
            (after the load runs: ${LOADED_RSS} MB, peak ${PEAK_RSS} MB)
GET org     authenticated GET /v1/organizations/{id}, $DURATION each:
  -c32      ${R_org32} req/s, p50 ${P50_org32} ms, p99 ${P99_org32} ms   goal >= 20000 req/s [$(verdict "$R_org32" ">=" 20000)], p99 < 5 ms [$(verdict "$P99_org32" "<" 5)]
  -c64      ${R_org64} req/s, p50 ${P50_org64} ms, p99 ${P99_org64} ms   goal >= 20000 req/s [$(verdict "$R_org64" ">=" 20000)], p99 < 5 ms [$(verdict "$P99_org64" "<" 5)]
  checks    non-2xx: ${BAD_org32} / ${N_org32} and ${BAD_org64} / ${N_org64}; socket errors: ${ERR_org32}, ${ERR_org64}
            with key ${CODE_AUTH} (after load ${CODE_AFTER}), no key ${CODE_NOAUTH}, bad key ${CODE_BADKEY}
reference   GET /healthz -c32: ${R_health32} req/s, p50 ${P50_health32} ms, p99 ${P99_health32} ms (no goal)
======================================================================
EOF
