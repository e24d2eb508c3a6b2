#!/usr/bin/env bash
# `rampart vuln scan` against `cargo audit` on the same lockfile and the same RustSec database
# (../shared/data/rustsec), both offline: mean wall time of each and the ratio (goal ≥ 2×).
# Also runs the engine's own benchmark (5,000 components against RustSec + PyPA, import rate).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

DATA=../shared/data
[[ -d $DATA/rustsec ]] || die "$DATA/rustsec is missing (see ../shared/data/README.md)"
LOCKFILE=${BENCH_LOCKFILE:-Cargo.lock}
BIN=target/release/rampart
command -v hyperfine >/dev/null || { apt-get install -y hyperfine || { apt-get update && apt-get install -y hyperfine; }; }
command -v cargo-audit >/dev/null || cargo install --locked --version 0.22.2 cargo-audit

say "building: cargo build --release -p rampart"
cargo build --release -p rampart
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# cargo-audit reads the database as a git repository.
cp -r "$DATA/rustsec" "$work/db"
git -C "$work/db" init -q && git -C "$work/db" add -A && \
    git -C "$work/db" -c user.name=bench -c user.email=bench@localhost commit -qm db

say "lockfile: $LOCKFILE ($(grep -c '^\[\[package\]\]' "$LOCKFILE") packages)"
hyperfine --warmup 3 --runs "${BENCH_RUNS:-20}" -N -i --export-json "$work/times.json" \
    "$BIN vuln scan $LOCKFILE --advisories $work/db" \
    "cargo-audit audit --no-fetch --no-yanked --stale --db $work/db --file $LOCKFILE"
python3 - "$work/times.json" <<'PY'
import json, sys
rampart, audit = json.load(open(sys.argv[1]))["results"]
print(f"\nrampart vuln scan: {rampart['mean']*1e3:.1f} ms ± {rampart['stddev']*1e3:.1f}")
print(f"cargo audit:       {audit['mean']*1e3:.1f} ms ± {audit['stddev']*1e3:.1f}")
print(f"ratio: {audit['mean']/rampart['mean']:.2f}x (goal >= 2x)")
PY

if [[ ${BENCH_VULN_ENGINE:-1} == 1 ]]; then
    say "engine: cargo bench -p vuln --bench matching (BENCH_VULN_ENGINE=0 skips it)"
    cargo bench -p vuln --bench matching 2>&1 | grep -E "time:|advisories|components|load" || true
fi
