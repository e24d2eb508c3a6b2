#!/usr/bin/env bash
# Authorisation benchmark: HTTP `POST /v1/authorize` throughput and latency on loopback, and
# `POST /v1/authorize/batch`, against an organisation of 10,000 users, 300 groups, 200
# applications, 50 projects and 1,000 policies (plus raw Cedar policies, one a forbid).
#
# The organisation is seeded straight into the SQLite file (as a restore would, not through
# the API: creating 1,000 policies one by one would measure the validation of each change,
# not decisions), then `rampart serve` loads and compiles it on the first question.
# Usage: bash bench/authorization.sh        (see bench/README.md)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source bench/lib.sh

DURATION="${BENCH_DURATION:-15s}"
WARMUP="${BENCH_WARMUP:-3s}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
BATCH="${BENCH_BATCH:-100}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/release/rampart"

WORK="$(mktemp -d -t rampart-bench-authz.XXXXXX)"
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

build_and_tools

DATA="$WORK/data"
export RAMPART_DATA_DIR="$DATA"
export RAMPART_LOG_LEVEL="${BENCH_LOG_LEVEL:-info}"
unset RAMPART_DATABASE_URL
"$BIN" init --organization Bench --email bench@example.com --json >"$WORK/init.json"
read -r ORG_ID SECRET < <(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(d["organization"]["id"], d["api_key"]["secret"])' "$WORK/init.json")

say "seeding the organisation"
python3 - "$DATA/rampart.db" "$ORG_ID" "$WORK" <<'PY'
import json, random, sqlite3, sys, uuid

db, org, work = sys.argv[1], uuid.UUID(sys.argv[2]), sys.argv[3]
rng = random.Random(7)
con = sqlite3.connect(db)
# Reuse the stored time format of the row init wrote.
(at,) = con.execute("SELECT created_at FROM users LIMIT 1").fetchone()

def uid():
    return uuid.UUID(int=rng.getrandbits(128), version=4)

users = [uid() for _ in range(10_000)]
groups = [uid() for _ in range(300)]
apps = [uid() for _ in range(200)]
projects = [uid() for _ in range(50)]
con.executemany(
    "INSERT INTO users (id, organization_id, email, email_folded, role, created_at, display_name, status) "
    "VALUES (?, ?, ?, ?, 'member', ?, ?, 'active')",
    [(u.bytes, org.bytes, f"u{i}@bench.example", f"u{i}@bench.example", at, f"User {i}")
     for i, u in enumerate(users)])
con.executemany(
    "INSERT INTO groups (id, organization_id, name, name_folded, created_at) VALUES (?, ?, ?, ?, ?)",
    [(g.bytes, org.bytes, f"group-{i}", f"group-{i}", at) for i, g in enumerate(groups)])
con.executemany(
    "INSERT INTO applications (id, organization_id, name, name_folded, description, created_at) "
    "VALUES (?, ?, ?, ?, '', ?)",
    [(a.bytes, org.bytes, f"app-{i}", f"app-{i}", at) for i, a in enumerate(apps)])
con.executemany(
    "INSERT INTO projects (id, organization_id, name, name_folded, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?)",
    [(p.bytes, org.bytes, f"project-{i}", f"project-{i}", at, at) for i, p in enumerate(projects)])
memberships = set()
for u in users:
    for g in rng.sample(groups, 2):
        memberships.add((g, u, "user"))
for a in apps:
    memberships.add((rng.choice(groups), a, "application"))
con.executemany(
    "INSERT INTO group_members (group_id, member_kind, member_id, added_at) VALUES (?, ?, ?, ?)",
    [(g.bytes, kind, m.bytes, at) for g, m, kind in memberships])

SETS = ["OrganizationManager", "IAMReadOnly", "AuditTrailReadOnly", "SecurityAnalyst",
        "ComplianceManager", "ProjectManager", "ReadOnly"]
def rule():
    r = {"permission_sets": rng.sample(SETS, rng.randint(1, 2)),
         "scope": "organization" if rng.random() < 0.7
                  else {"projects": [str(p) for p in rng.sample(projects, rng.randint(1, 3))]}}
    roll = rng.random()
    if roll < 0.08:
        r["condition"] = {"source_ip": ["10.0.0.0/8", "192.168.0.0/16"]}
    elif roll < 0.14:
        r["condition"] = {"mfa": True}
    elif roll < 0.18:
        r["condition"] = {"time_window": {"days": ["monday", "tuesday", "wednesday", "thursday", "friday"],
                                          "start_minute": 420, "end_minute": 1200}}
    return r

holders = ([("user", u) for u in rng.sample(users, 500)] + [("group", g) for g in rng.sample(groups, 250)]
           + [("group", g) for g in rng.sample(groups, 150)] + [("application", a) for a in rng.sample(apps, 100)])
con.executemany(
    "INSERT INTO authz_policies (id, organization_id, principal_kind, principal_id, description, rules, "
    "created_by, created_at, updated_at) VALUES (?, ?, ?, ?, '', ?, NULL, ?, ?)",
    [(uid().bytes, org.bytes, kind, h.bytes, json.dumps([rule() for _ in range(rng.randint(1, 3))]), at, at)
     for kind, h in holders])
raw = [
    f'forbid(principal in Rampart::Group::"{groups[0]}", action == Rampart::Action::"iam:users:write", resource);',
    'permit(principal, action == Rampart::Action::"organizations:organization:read", resource) when { context.mfa };',
    f'permit(principal == Rampart::User::"{users[1]}", action, resource);',
]
con.executemany(
    "INSERT INTO authz_raw_policies (id, organization_id, description, text, created_by, created_at, updated_at) "
    "VALUES (?, ?, '', ?, NULL, ?, ?)",
    [(uid().bytes, org.bytes, text, at, at) for text in raw])
con.commit()

ACTIONS = ["projects:projects:read", "projects:projects:write", "iam:users:read", "iam:users:write",
           "audit:events:read", "organizations:organization:read", "iam:groups:read", "audit:export:read"]
def question():
    kind, who = ("application", rng.choice(apps)) if rng.random() < 0.05 else ("user", rng.choice(users))
    resource = ({"organization": str(org)} if rng.random() < 0.6
                else {"project": {"organization": str(org), "project": str(rng.choice(projects))}})
    context = {"source_ip": rng.choice(["10.1.2.3", "203.0.113.9"]), "mfa": rng.random() < 0.5,
               "user_agent": "bench/1.0"}
    return {"principal": {"type": kind, "id": str(who)}, "action": rng.choice(ACTIONS),
            "resource": resource, "context": context}
bodies = [json.dumps(question()) for _ in range(2_000)]
with open(f"{work}/single.lua", "w") as out:
    out.write("local bodies = {\n")
    for b in bodies:
        out.write("  [==[" + b + "]==],\n")
    out.write("}\nlocal n = 0\n")
    out.write("request = function()\n  n = n % #bodies + 1\n"
              "  return wrk.format('POST', '/v1/authorize', nil, bodies[n])\nend\n")
PY
python3 - "$WORK" "$ORG_ID" "$BATCH" <<'PY'
import json, re, sys
work, org, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
text = open(f"{work}/single.lua").read()
bodies = re.findall(r"\[==\[(.*?)\]==\]", text)
groups = [bodies[i:i + batch] for i in range(0, len(bodies) - batch + 1, batch)]
with open(f"{work}/batch.lua", "w") as out:
    out.write("local bodies = {\n")
    for g in groups:
        out.write("  [==[" + json.dumps({"requests": [json.loads(b) for b in g]}) + "]==],\n")
    out.write("}\nlocal n = 0\n")
    out.write("request = function()\n  n = n % #bodies + 1\n"
              "  return wrk.format('POST', '/v1/authorize/batch', nil, bodies[n])\nend\n")
PY

PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"
RAMPART_LISTEN="127.0.0.1:$PORT" "$BIN" serve >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVER_PID=$!
wait_ready "$BASE" "$SERVER_PID" "$WORK/serve.err"

AUTH="Authorization: Bearer $SECRET"
say "first question (loads and compiles the organisation)"
FIRST_BODY="$(python3 -c 'import re,sys; print(re.findall(r"\[==\[(.*?)\]==\]", open(sys.argv[1]).read())[0])' "$WORK/single.lua")"
curl -sS -o "$WORK/first.json" -w 'status %{http_code}, %{time_total} s\n' -H "$AUTH" \
    -H 'content-type: application/json' -d "$FIRST_BODY" "$BASE/v1/authorize"
cat "$WORK/first.json"; echo
grep -q '"decision"' "$WORK/first.json" || die "the check API did not answer a decision"
python3 - "$WORK/single.lua" "$BASE" "$SECRET" <<'PY'
import collections, json, re, sys, urllib.request
bodies = re.findall(r"\[==\[(.*?)\]==\]", open(sys.argv[1]).read())[:300]
seen = collections.Counter()
for body in bodies:
    req = urllib.request.Request(sys.argv[2] + "/v1/authorize", data=body.encode(),
        headers={"authorization": "Bearer " + sys.argv[3], "content-type": "application/json"})
    seen[json.load(urllib.request.urlopen(req))["decision"]] += 1
print(f"decisions over 300 sample questions: {dict(seen)}")
if len(seen) < 2:
    sys.exit("the sample should hold both allowed and denied questions")
PY

run() {  # run LABEL SCRIPT
    wrk -t2 -c"$CONNECTIONS" -d"$WARMUP" -s "$2" -H "$AUTH" -H 'content-type: application/json' \
        "$BASE" >/dev/null
    wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$2" -H "$AUTH" \
        -H 'content-type: application/json' "$BASE" | tee "$WORK/$1.txt"
}
say "POST /v1/authorize: $CONNECTIONS connections, $DURATION"
run single "$WORK/single.lua"
say "POST /v1/authorize/batch: $BATCH questions per request, $CONNECTIONS connections, $DURATION"
run batch "$WORK/batch.lua"

python3 - "$WORK" "$BATCH" <<'PY'
import re, sys
work, batch = sys.argv[1], int(sys.argv[2])
def parse(name):
    text = open(f"{work}/{name}.txt").read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    def pct(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", text)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return rps, pct(50), pct(99), int(errors.group(1)) if errors else 0
s_rps, s_p50, s_p99, s_err = parse("single")
b_rps, b_p50, b_p99, b_err = parse("batch")
print("\n==== Summary: authorisation benchmark ====")
print(f"POST /v1/authorize: {s_rps:,.0f} decisions/s, p50 {s_p50:.2f} ms, p99 {s_p99:.2f} ms, "
      f"non-2xx {s_err}   goal >= 20,000/s and p99 < 5 ms: "
      f"{'MET' if s_rps >= 20_000 and s_p99 < 5 and s_err == 0 else 'MISSED'}")
print(f"POST /v1/authorize/batch ({batch}/request): {b_rps * batch:,.0f} decisions/s "
      f"({b_rps:,.0f} requests/s, p50 {b_p50:.2f} ms, p99 {b_p99:.2f} ms, non-2xx {b_err})")
PY
echo "machine: nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)')"
