#!/usr/bin/env bash
# `rampart mask` throughput on a generated plain-SQL dump (default 1 GB) with HMAC and fake
# rules: MB/s of input per second of wall time and per second of CPU time (goal ≥ 100 MB/s per
# core). Set BENCH_MASK_MB for another size.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

SIZE_MB=${BENCH_MASK_MB:-1024}
BIN=target/release/rampart
say "building: cargo build --release -p rampart"
cargo build --release -p rampart
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

say "generating a ${SIZE_MB} MB dump (customers and orders joined by email)"
python3 - "$work/prod.sql" "$SIZE_MB" <<'PY'
import random, sys
path, size = sys.argv[1], int(sys.argv[2]) * 1_000_000
rng = random.Random(7)
first = ["ada", "grace", "alan", "edsger", "barbara", "donald", "frances", "ken", "margaret", "linus"]
last = ["lovelace", "hopper", "turing", "dijkstra", "liskov", "knuth", "allen", "thompson", "hamilton"]
with open(path, "w") as out:
    out.write("SET client_encoding = 'UTF8';\n\n")
    out.write("COPY public.customers (id, email, full_name, phone, plan, notes) FROM stdin;\n")
    written, n = 0, 0
    half = size // 2
    while written < half:
        n += 1
        name = f"{rng.choice(first)} {rng.choice(last)}"
        email = f"{name.replace(' ', '.')}{n}@example.org"
        line = f"{n}\t{email}\t{name}\t+33 6 {n % 100:02d} {n % 97:02d} {n % 89:02d} {n % 83:02d}\tpro\tcustomer since {2000 + n % 25}\\twith a tab\n"
        out.write(line); written += len(line)
    out.write("\\.\n\n")
    out.write("COPY public.orders (id, customer_email, total, status) FROM stdin;\n")
    m = 0
    while written < size:
        m += 1
        c = rng.randint(1, n)
        name = f"{first[c % len(first)]}.{last[c % len(last)]}"
        line = f"{m}\tcustomer{c}@example.org\t{rng.randint(1, 99999) / 100}\tshipped\n"
        out.write(line); written += len(line)
    out.write("\\.\n")
PY
cat > "$work/rules.toml" <<'TOML'
[columns]
"public.customers.id" = { rule = "keep" }
"public.customers.email" = { rule = "fake", kind = "email" }
"public.customers.full_name" = { rule = "fake", kind = "name" }
"public.customers.phone" = { rule = "hmac", domain = "phone", length = 16 }
"public.customers.plan" = { rule = "keep" }
"public.customers.notes" = { rule = "keep" }
"public.orders.id" = { rule = "keep" }
"public.orders.customer_email" = { rule = "hmac", domain = "email", length = 24 }
"public.orders.total" = { rule = "keep" }
"public.orders.status" = { rule = "keep" }
TOML
python3 -c 'import os; print(os.urandom(32).hex())' > "$work/key"
bytes=$(stat -c %s "$work/prod.sql")

say "masking $((bytes / 1000000)) MB"
/usr/bin/time -f '%e %U %S' -o "$work/time" \
    "$BIN" mask --rules "$work/rules.toml" --key-file "$work/key" \
    --input "$work/prod.sql" --output "$work/test.sql" 2> "$work/summary"
read -r wall user sys < "$work/time"
tail -n 15 "$work/summary"
python3 - "$bytes" "$wall" "$user" "$sys" <<'PY'
import sys
size, wall, user, sys_ = int(sys.argv[1]), *map(float, sys.argv[2:])
cpu = user + sys_
print(f"\ninput: {size/1e6:.0f} MB  wall: {wall:.2f} s  cpu: {cpu:.2f} s")
print(f"throughput: {size/1e6/wall:.1f} MB/s wall, {size/1e6/cpu:.1f} MB/s per CPU-second (goal >= 100)")
PY
original=$(grep -m1 -P '^1\t' "$work/prod.sql" | cut -f2)
! grep -qF "$original" "$work/test.sql" || die "an original email survived: $original"
echo "checked: the first customer's email ($original) is not in the output"
