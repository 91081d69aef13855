#!/usr/bin/env bash
# Everything polchain tests: Rust unit and integration tests (the node's own end-to-end tests
# included), the end-to-end test of a 4-node testnet with miners and validator workers
# (scripts/e2e.sh), and the polkadot.js tests against a dev node.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$POL_ROOT"

"$POL_ROOT/scripts/setup.sh"

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }

t0=$(date +%s)
step "cargo build --release --workspace"
cargo build --release --workspace --locked
echo "build: $(elapsed "$t0")"

step "no RocksDB in the dependency tree"
if cargo tree --release --workspace --locked -i librocksdb-sys >/dev/null 2>&1; then
	cargo tree --release --workspace --locked -i librocksdb-sys
	echo "error: librocksdb-sys is in the dependency tree; the node must use ParityDB only" >&2
	exit 1
fi
echo "ok: librocksdb-sys is not a dependency"

t1=$(date +%s)
step "cargo test --release --workspace"
# Node tests start several nodes each; one test binary at a time keeps the 2-core machine sane.
cargo test --release --workspace --locked --no-fail-fast -- --test-threads=1
echo "rust tests: $(elapsed "$t1")"

t2=$(date +%s)
step "end-to-end: 4 nodes, 4 validator workers (one colluding), 10 miners (scripts/e2e.sh)"
"$POL_ROOT/scripts/e2e.sh"
echo "e2e: $(elapsed "$t2")"

t3=$(date +%s)
step "polkadot.js tests (scripts/js)"
(cd scripts/js && POL_NODE_BIN="$POL_BIN/polchain-node" npm test --silent)
echo "js tests: $(elapsed "$t3")"
echo "all tests passed in $(elapsed "$t0")"
