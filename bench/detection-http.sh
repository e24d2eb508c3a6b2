#!/usr/bin/env bash
# Detection benchmark: ingest-to-alert throughput over HTTP NDJSON with every SigmaHQ Windows
# rule loaded (`rules.dir`), on a mostly benign Windows event mix (the regression events of
# the shared data, each with nine benign variants: 90 % benign), against the engines on the
# same rules and the same NDJSON lines (`cargo run -p detect --release --features jemalloc
# --example throughput`, which also writes the batches: the allocator the server uses, so
# the ratio compares like with like).
#
# End to end = from the first `POST …/events` until the rules have evaluated the last stored
# event (the backlog read from the SQLite file is zero). Per core = events over the server
# process's CPU time (user + system, from /proc), so idle waits between detection passes and
# a busy machine do not count.
# Usage: bash bench/detection-http.sh        (see bench/README.md)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source bench/lib.sh

N_EVENTS="${BENCH_EVENTS:-100000}"
BATCH="${BENCH_BATCH:-2000}"
ENGINE_SECONDS="${BENCH_ENGINE_SECONDS:-5}"
SIGMA="${SIGMA_DATA:-$ROOT/../shared/data/sigma}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/release/rampart"

[[ -d "$SIGMA/rules/windows" ]] || die "SigmaHQ rules not found under $SIGMA"
for tool in curl python3; do command -v "$tool" >/dev/null 2>&1 || die "$tool is required"; done

WORK="$(mktemp -d -t rampart-bench-detect.XXXXXX)"
SERVER_PID=""
cleanup() {
    local status=$?
    stop_pid "$SERVER_PID"
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT

say "building: cargo build --release -p rampart"
cargo build --release -p rampart
[[ -x "$BIN" ]] || die "no binary at $BIN"

say "generating $N_EVENTS events in batches of $BATCH: cargo run -p detect --release --features jemalloc --example throughput -- --write"
cargo build -q -p detect --release --features jemalloc --example throughput
ENGINE="$TARGET_DIR/release/examples/throughput"
"$ENGINE" --write "$WORK/batches" "$N_EVENTS" "$BATCH"

say "starting rampart serve with every SigmaHQ Windows rule"
DATA="$WORK/data"
export RAMPART_DATA_DIR="$DATA"
export RAMPART_LOG_LEVEL="${BENCH_LOG_LEVEL:-warn}"
unset RAMPART_DATABASE_URL
cat >"$WORK/rampart.toml" <<TOML
[intake]
max_backlog = 10000000
[rules]
dir = "$SIGMA/rules/windows"
TOML
"$BIN" init --config "$WORK/rampart.toml" --organization Bench --email bench@example.com \
    --json >"$WORK/init.json"
read -r ORG_ID SECRET < <(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(d["organization"]["id"], d["api_key"]["secret"])' "$WORK/init.json")
PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"
RAMPART_LISTEN="127.0.0.1:$PORT" "$BIN" serve --config "$WORK/rampart.toml" \
    >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVER_PID=$!
wait_ready "$BASE" "$SERVER_PID" "$WORK/serve.err"
curl -fsS -H "authorization: Bearer $SECRET" "$BASE/v1/detection/rules" \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); print("rules loaded:", d["loaded"], " not loaded:", d["n_failed"])'

cpu_seconds() {
    python3 -c '
import os, sys
fields = open("/proc/%s/stat" % sys.argv[1]).read().rsplit(")", 1)[1].split()
print((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))' "$SERVER_PID"
}
backlog() {
    python3 -c '
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=30)
row = db.execute("SELECT COALESCE(SUM(h.size - COALESCE(c.next_seq, 0)), -1) FROM event_heads h "
                 "LEFT JOIN event_detection_cursors c ON c.organization_id = h.organization_id").fetchone()
print(row[0])' "$DATA/rampart.db"
}

say "sending $N_EVENTS events over HTTP"
CPU_START="$(cpu_seconds)"
START="$(date +%s.%N)"
refused=0
for file in "$WORK"/batches/*.ndjson; do
    while true; do
        status="$(curl -sS -o "$WORK/answer.json" -w '%{http_code}' -X POST \
            -H "authorization: Bearer $SECRET" -H "content-type: application/x-ndjson" \
            --data-binary "@$file" "$BASE/v1/organizations/$ORG_ID/events")"
        [[ "$status" == 200 ]] && break
        [[ "$status" == 429 ]] || {
            tail -n 20 "$WORK/serve.err" >&2
            die "POST answered $status: $(cat "$WORK/answer.json")"
        }
        refused=$((refused + 1))
        sleep 1
    done
done
SENT="$(date +%s.%N)"
while [[ "$(backlog)" != 0 ]]; do sleep 0.2; done
DONE="$(date +%s.%N)"
CPU_END="$(cpu_seconds)"
ALERTS="$(curl -fsS -H "authorization: Bearer $SECRET" \
    "$BASE/v1/organizations/$ORG_ID/detection/noise" | python3 -c '
import json, sys
rules = json.load(sys.stdin)
print("%d alerts raised by %d rules, %d detections counted into them"
      % (sum(r["alerts"] for r in rules), len(rules), sum(r["detections"] for r in rules)))')"

python3 - "$N_EVENTS" "$START" "$SENT" "$DONE" "$CPU_START" "$CPU_END" "$refused" "$ALERTS" "$WORK/end_to_end" <<'PY'
import sys
n, start, sent, done, cpu0, cpu1 = int(sys.argv[1]), *map(float, sys.argv[2:7])
refused, alerts, out = sys.argv[7], sys.argv[8], sys.argv[9]
cpu = cpu1 - cpu0
print("sent in %.2f s (%.0f events/s accepted; %s batches answered 429 and were retried)"
      % (sent - start, n / (sent - start), refused))
print("ingest to evaluated: %.2f s wall, %.2f s server CPU" % (done - start, cpu))
print("end to end: %.0f events/s wall, %.0f events per CPU-second (per core)"
      % (n / (done - start), n / cpu))
print("alerts: %s" % alerts)
open(out, "w").write("%f" % (n / cpu))
PY
stop_pid "$SERVER_PID"
SERVER_PID=""

say "the engines on the same rules and events, on one core"
"$ENGINE" "$ENGINE_SECONDS" | tee "$WORK/engine.txt"
python3 - "$WORK/end_to_end" "$WORK/engine.txt" <<'PY'
import re, sys
e2e = float(open(sys.argv[1]).read())
text = open(sys.argv[2]).read()
rate = lambda label: float(re.search(re.escape(label) + r"\s+(\d+) events/s", text).group(1))
bare = rate("bare rsigma-eval, from the line")
routed = rate("routed, with correlation, from the line")
print("\nend to end per core / bare rsigma-eval from the line: %.2f (goal: at least 0.75)" % (e2e / bare))
print("end to end per core / routed engine from the line: %.2f" % (e2e / routed))
print("end to end per core / routed engine on parsed events: %.2f"
      % (e2e / rate("routed, with correlation (evaluate)")))
print("end to end: %.0f events/s per core (goal: 50,000)" % e2e)
PY
