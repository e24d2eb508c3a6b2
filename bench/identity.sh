#!/usr/bin/env bash
# Identity benchmark over HTTP: p99 latency of an authenticated GET /v1/organizations/{id}
# (API key) while a password-login flood runs, against the same GET without the flood.
# Everything runs against 127.0.0.1 with fixed durations; servers, clients and temp dirs are
# removed on exit. Usage: bash bench/identity.sh        (see bench/README.md)
#
# The per-IP login bucket (a burst of 30, then 1 per 5 s) would answer a flood from one source
# address with cheap 429s after 30 logins, and the per-account policy admits 100 attempts an
# hour, successes included. So the flood logs in with correct passwords, round-robin over
# BENCH_ACCOUNTS accounts, and moves to a new loopback source address (127.A.B.1, any address
# of 127.0.0.0/8 is local on Linux) every BENCH_PER_IP logins (< 30): every login reaches
# argon2. The flood's own counts (200 / 429 / 401) are reported, and the server's CPU time
# during the flood is compared with what that many argon2 hashes cost. A short flood from
# 127.0.0.1 alone shows the per-IP bucket at work.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source bench/lib.sh

DURATION="${BENCH_DURATION:-20}"        # seconds of each measured GET run
FLOOD_WARMUP="${BENCH_FLOOD_WARMUP:-5}" # seconds of flood before the GET run starts
ACCOUNTS="${BENCH_ACCOUNTS:-100}"       # accounts the flood cycles through
FLOOD_CONNS="${BENCH_FLOOD_CONNS:-8}"   # logins in flight (the pool computes 2 at once)
PER_IP="${BENCH_PER_IP:-20}"            # logins per loopback source address (bucket: 30)
HASH_POOL="${BENCH_HASH_POOL:-2}"       # [passwords] max_concurrent_hashes (shipped: 2)
PROBE_CONNS="${BENCH_PROBE_CONNS:-4}"   # paced GET probe: connections ...
PROBE_DELAY_MS="${BENCH_PROBE_DELAY_MS:-5}" # ... each waiting this long between requests
SATURATE_CONNS="${BENCH_SATURATE_CONNS:-32}" # closed-loop GET run (as foundation.sh); 0 skips
LOG_LEVEL="${BENCH_LOG_LEVEL:-info}"
# BENCH_COMMIT names the commit when the sources are not a git checkout.
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/release/rampart"

WORK="$(mktemp -d -t rampart-bench-identity.XXXXXX)"
SERVER_PID=""
FLOOD_PID=""
FLOOD_RUNS=0

cleanup() {
    local status=$?
    stop_pid "$FLOOD_PID"
    stop_pid "$SERVER_PID"
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- build and tools
build_and_tools
python3 - <<'PY' || die "cannot bind a client socket to 127.1.1.1 (needed to spread logins over source addresses)"
import socket
s = socket.socket(); s.bind(("127.1.1.1", 0)); s.close()
PY

# ---------------------------------------------------------------- init and serve
DATA="$WORK/data"
CONFIG="$WORK/rampart.toml"
cat >"$CONFIG" <<EOF
[passwords]
max_concurrent_hashes = $HASH_POOL
EOF
export RAMPART_DATA_DIR="$DATA"
export RAMPART_LOG_LEVEL="$LOG_LEVEL"
unset RAMPART_DATABASE_URL
say "init in $DATA (config: [passwords] max_concurrent_hashes = $HASH_POOL)"
"$BIN" init --config "$CONFIG" --organization Bench --email bench@example.com --json >"$WORK/init.json"
read -r ORG_ID SECRET < <(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(d["organization"]["id"], d["api_key"]["secret"])' "$WORK/init.json")
[[ -n "$ORG_ID" && -n "$SECRET" ]] || die "cannot parse init --json output"

PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"
say "serve on $BASE"
RAMPART_LISTEN="127.0.0.1:$PORT" "$BIN" serve --config "$CONFIG" >"$WORK/serve.out" 2>"$WORK/serve.log" &
SERVER_PID=$!
wait_ready "$BASE" "$SERVER_PID" "$WORK/serve.log"
AUTH="Authorization: Bearer $SECRET"
ORG_URL="$BASE/v1/organizations/$ORG_ID"
code() { curl -sS -o /dev/null -w '%{http_code}' "$@"; }
[[ "$(code -H "$AUTH" "$ORG_URL")" == 200 ]] || die "authenticated GET is not 200"

# ---------------------------------------------------------------- accounts by invitation
say "creating $ACCOUNTS accounts by invitation (outbox -> accept)"
python3 - "$BASE" "$ORG_ID" "$SECRET" "$ACCOUNTS" "$DATA/outbox" "$WORK/accounts.txt" <<'PY'
import concurrent.futures, glob, json, re, sys, time, urllib.request

base, org, secret, n, outbox, out = sys.argv[1:7]
n = int(n)
password = "correct horse battery staple"

def post(path, body, headers=None):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
        headers={"content-type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status

t0 = time.perf_counter()
emails = [f"member{i:04d}@customer.example" for i in range(n)]
for email in emails:
    assert post(f"/v1/organizations/{org}/invitations", {"email": email},
                {"authorization": f"Bearer {secret}"}) in (200, 201)
tokens = {}
for path in glob.glob(outbox + "/*.eml"):
    text = open(path).read()
    to = re.search(r"^To: (.+?)\r?$", text, re.M).group(1).strip()
    tokens[to] = re.search(r"rampart_invite_[A-Za-z0-9_-]+", text).group(0)
missing = [e for e in emails if e not in tokens]
if missing:
    sys.exit(f"no invitation mail for {len(missing)} accounts")
with concurrent.futures.ThreadPoolExecutor(4) as pool:
    codes = list(pool.map(lambda e: post("/v1/auth/invitations/accept",
                                         {"token": tokens[e], "password": password}), emails))
assert all(c == 201 for c in codes), codes
open(out, "w").write("\n".join(emails) + "\n")
print(f"{n} accounts in {time.perf_counter() - t0:.1f} s")
PY

# ---------------------------------------------------------------- the flood client
cat >"$WORK/flood.py" <<'PY'
# Password logins in a loop from `conns` threads, keep-alive, round-robin over the accounts.
# mode "spread": a new connection from a new loopback source address every `per_ip` logins;
# mode "single": everything from 127.0.0.1. Prints a JSON summary at the end.
# Usage: flood.py PORT ACCOUNTS_FILE CONNS SECONDS spread|single PER_IP FIRST_IP
import http.client, itertools, json, sys, threading, time

port, accounts_file, conns, seconds, mode, per_ip, first_ip = sys.argv[1:8]
port, conns, seconds, per_ip = int(port), int(conns), float(seconds), int(per_ip)
accounts = [line.strip() for line in open(accounts_file) if line.strip()]
password = "correct horse battery staple"
# Each flood starts at its own `first_ip`, so no run inherits a bucket an earlier one drained.
next_account, next_ip = itertools.count(), itertools.count(int(first_ip))
lock = threading.Lock()
counts, ok_latencies, sources = {}, [], set()
t0 = time.monotonic()
deadline = t0 + seconds

def source(n):  # 127.A.B.1 with A, B in 1..250: 62,500 addresses
    return f"127.{1 + (n // 250) % 250}.{1 + n % 250}.1"

def worker():
    conn, used, address = None, 0, "127.0.0.1"
    while time.monotonic() < deadline:
        if conn is None or (mode == "spread" and used >= per_ip):
            if conn is not None:
                conn.close()
            address = source(next(next_ip)) if mode == "spread" else "127.0.0.1"
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60,
                                              source_address=(address, 0))
            used = 0
        body = json.dumps({"email": accounts[next(next_account) % len(accounts)],
                           "password": password})
        start = time.perf_counter()
        try:
            conn.request("POST", "/v1/auth/login", body, {"content-type": "application/json"})
            response = conn.getresponse()
            response.read()
            status = response.status
        except Exception as error:  # counted, and a fresh connection next time
            status = "error:" + type(error).__name__
            conn.close()
            conn = None
        latency = time.perf_counter() - start
        used += 1
        with lock:
            counts[str(status)] = counts.get(str(status), 0) + 1
            sources.add(address)
            if status == 200:
                ok_latencies.append(latency)

threads = [threading.Thread(target=worker, daemon=True) for _ in range(conns)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.monotonic() - t0
ok_latencies.sort()
pct = lambda q: ok_latencies[max(0, int(len(ok_latencies) * q + 0.999999) - 1)] * 1e3 if ok_latencies else float("nan")
print(json.dumps({"mode": mode, "seconds": round(elapsed, 2), "counts": counts,
                  "ok_per_s": round(counts.get("200", 0) / elapsed, 1),
                  "ok_p50_ms": round(pct(0.5), 1), "ok_p99_ms": round(pct(0.99), 1),
                  "sources": len(sources)}))
PY

# ---------------------------------------------------------------- helpers
cat >"$WORK/paced.lua" <<EOF
-- Each connection waits ${PROBE_DELAY_MS} ms between requests: a steady, non-saturating probe.
function delay() return ${PROBE_DELAY_MS} end
EOF
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
server_cpu() { # user+system seconds of the server so far
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$SERVER_PID/stat"
}
machine_busy() { # busy seconds of the whole machine so far
    awk -v hz="$(getconf CLK_TCK)" '/^cpu / { printf "%.2f", ($2+$3+$4+$7+$8+$9) / hz }' /proc/stat
}
# get NAME KIND: one GET run of $DURATION s; KIND paced or saturating. Sets R_, P50_, P99_, ...
get_run() {
    local name=$1 kind=$2 args
    if [[ $kind == paced ]]; then
        args=(-t1 -c"$PROBE_CONNS" -d"${DURATION}s" --latency -s "$WORK/paced.lua")
    else
        args=(-t1 -c"$SATURATE_CONNS" -d"${DURATION}s" --latency)
    fi
    wrk "${args[@]}" -H "$AUTH" "$ORG_URL" >"$WORK/wrk-$name.txt"
    read -r rps p50 p99 non2xx errs total < <(parse_wrk "$WORK/wrk-$name.txt")
    printf -v "R_${name}" '%s' "$rps"; printf -v "P50_${name}" '%s' "$p50"
    printf -v "P99_${name}" '%s' "$p99"; printf -v "BAD_${name}" '%s' "$non2xx"
    printf -v "ERR_${name}" '%s' "$errs"; printf -v "N_${name}" '%s' "$total"
    printf '   GET %-10s %s req/s, p50 %s ms, p99 %s ms, non-2xx %s/%s, socket errors %s\n' \
        "$kind" "$rps" "$p50" "$p99" "$non2xx" "$total" "$errs"
}
# flood_run NAME KIND: GET run of kind KIND while the spread flood runs (it starts
# $FLOOD_WARMUP s earlier and ends 1 s later). Sets F_<NAME> (flood JSON), CPU_<NAME>, OTHER_<NAME>.
flood_run() {
    local name=$1 kind=$2 seconds=$((FLOOD_WARMUP + DURATION + 1))
    FLOOD_RUNS=$((FLOOD_RUNS + 1))
    python3 "$WORK/flood.py" "$PORT" "$WORK/accounts.txt" "$FLOOD_CONNS" "$seconds" spread "$PER_IP" \
        $((FLOOD_RUNS * 10000)) >"$WORK/flood-$name.json" &
    FLOOD_PID=$!
    sleep "$FLOOD_WARMUP"
    local cpu0 busy0 t0 cpu1 busy1 t1
    cpu0=$(server_cpu); busy0=$(machine_busy); t0=$(date +%s.%N)
    get_run "$name" "$kind"
    cpu1=$(server_cpu); busy1=$(machine_busy); t1=$(date +%s.%N)
    wait "$FLOOD_PID" || die "the flood client failed"
    FLOOD_PID=""
    printf -v "F_${name}" '%s' "$(cat "$WORK/flood-$name.json")"
    printf -v "CPU_${name}" '%s' "$(python3 -c "print(f'{($cpu1-$cpu0)/($t1-$t0):.2f}')")"
    printf -v "OTHER_${name}" '%s' "$(python3 -c "print(f'{max(0.0, ($busy1-$busy0)-($cpu1-$cpu0))/($t1-$t0):.2f}')")"
    echo "   flood: $(cat "$WORK/flood-$name.json")"
}

# ---------------------------------------------------------------- runs
wrk -t1 -c4 -d3s -H "$AUTH" "$ORG_URL" >/dev/null # warm-up
say "GET without flood: paced probe (-c$PROBE_CONNS, ${PROBE_DELAY_MS} ms between requests), ${DURATION} s"
get_run calm paced
if [[ "$SATURATE_CONNS" -gt 0 ]]; then
    say "GET without flood: closed loop -c$SATURATE_CONNS, ${DURATION} s"
    get_run calmsat saturating
fi
say "GET with flood: $FLOOD_CONNS logins in flight, new source address every $PER_IP logins, flood starts ${FLOOD_WARMUP} s earlier"
flood_run flood paced
if [[ "$SATURATE_CONNS" -gt 0 ]]; then
    say "GET with flood: closed loop -c$SATURATE_CONNS"
    flood_run floodsat saturating
fi
say "per-IP bucket check: the same flood from 127.0.0.1 only, 8 s"
SINGLE="$(python3 "$WORK/flood.py" "$PORT" "$WORK/accounts.txt" "$FLOOD_CONNS" 8 single "$PER_IP" 0)"
echo "   flood: $SINGLE"
CODE_AFTER="$(code -H "$AUTH" "$ORG_URL")"

stop_pid "$SERVER_PID"
SERVER_PID=""

# ---------------------------------------------------------------- summary
CPU="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
if [[ -n "${BENCH_COMMIT:-}" ]]; then
    COMMIT="$BENCH_COMMIT"
else
    COMMIT="$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
    if [[ -n "$(git status --porcelain 2>/dev/null)" ]]; then COMMIT="$COMMIT (+ uncommitted changes)"; fi
fi
verdict() { python3 -c 'import sys; v,op,g=float(sys.argv[1]),sys.argv[2],float(sys.argv[3]); print("ok" if (v<g if op=="<" else v>=g) else "MISSED")' "$@"; }
CHECKS_SAT=""
if [[ "$SATURATE_CONNS" -gt 0 ]]; then
    CHECKS_SAT=", ${BAD_calmsat}/${N_calmsat}, ${BAD_floodsat}/${N_floodsat}"
fi
flood_line() { # JSON -> "N logins/s (200: a, 429: b, 401: c, other: d; p99 e ms; f source addresses)"
    python3 - "$1" <<'PY'
import json, sys
d = json.loads(sys.argv[1]); c = dict(d["counts"])
ok, t429, t401 = c.pop("200", 0), c.pop("429", 0), c.pop("401", 0)
print(f'{d["ok_per_s"]} logins/s ({ok} x 200 = reached argon2, {t429} x 429, {t401} x 401, '
      f'{sum(c.values())} other; login p50 {d["ok_p50_ms"]} ms, p99 {d["ok_p99_ms"]} ms; '
      f'{d["sources"]} source addresses)')
PY
}

cat <<EOF

==================== Rampart identity benchmark (HTTP) ====================
date        $(date -u +%Y-%m-%dT%H:%M:%SZ)
commit      $COMMIT
machine     $(nproc) cores, $(uname -m), ${CPU:-unknown CPU}; load $(cut -d' ' -f1-3 /proc/loadavg)
setup       release build, SQLite in a temp dir, log level $LOG_LEVEL (stderr to a file),
            [passwords] max_concurrent_hashes = $HASH_POOL, argon2id m=19456 t=2 p=1 (shipped),
            $ACCOUNTS accounts by invitation; wrk and the python flood share the $(nproc) cores
flood       $FLOOD_CONNS logins in flight, correct passwords, round-robin over the accounts,
            a new loopback source address every $PER_IP logins (per-IP bucket: 30 then 1/5 s)
GET probe   authenticated GET /v1/organizations/{id} (API key), ${DURATION} s each,
            paced: wrk -c$PROBE_CONNS with ${PROBE_DELAY_MS} ms between requests per connection
  no flood  paced: ${R_calm} req/s, p50 ${P50_calm} ms, p99 ${P99_calm} ms
  flood     paced: ${R_flood} req/s, p50 ${P50_flood} ms, p99 ${P99_flood} ms   goal p99 < 10 ms [$(verdict "$P99_flood" "<" 10)]
            flood: $(flood_line "$F_flood")
            server CPU ${CPU_flood} cores; everything else (wrk, flood client, other users) ${OTHER_flood} cores
EOF
if [[ "$SATURATE_CONNS" -gt 0 ]]; then
cat <<EOF
  closed    -c$SATURATE_CONNS no flood: ${R_calmsat} req/s, p50 ${P50_calmsat} ms, p99 ${P99_calmsat} ms
            -c$SATURATE_CONNS flood:    ${R_floodsat} req/s, p50 ${P50_floodsat} ms, p99 ${P99_floodsat} ms (no goal)
            flood: $(flood_line "$F_floodsat")
            server CPU ${CPU_floodsat} cores; everything else ${OTHER_floodsat} cores
EOF
fi
cat <<EOF
  checks    GET non-2xx: ${BAD_calm}/${N_calm}, ${BAD_flood}/${N_flood}${CHECKS_SAT}; GET after the floods: ${CODE_AFTER}
one IP      same flood from 127.0.0.1 only, 8 s: $(flood_line "$SINGLE")
===========================================================================
EOF
