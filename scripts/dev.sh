#!/usr/bin/env bash
# Builds polchain and runs it on one machine: a development chain (one node, Alice the sole
# authority, ws://127.0.0.1:9944), the demo task on the digits (ml-worker/tasks/digits-demo.toml),
# two miners (//Eve, //Ferdie) and a validator worker (//Alice), each with its log; then prints
# every round as it completes: the accepted global model, its accuracy on the test split, and
# the rewards paid. Ctrl-C stops everything it started.
#
# Environment: POL_RUN_DIR (default $POL_CACHE/dev: the node's database, the workers' files, and
# logs/), POL_TASK_SPEC, POL_SKIP_BUILD=1 (run what is built: no setup, build or doctor), and
# testnet.sh's port variables (POL_RPC_PORT…).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
source "$POL_ROOT/scripts/lib/testnet.sh"
cd "$POL_ROOT"

if [ "${POL_SKIP_BUILD:-}" != 1 ]; then
	"$POL_ROOT/scripts/setup.sh"
	tn_say "cargo build --release --workspace"
	cargo build --release --workspace --locked
	"$TN_WORKER_BIN" doctor --steps 10
fi

RUN_DIR="${POL_RUN_DIR:-$POL_CACHE/dev}"
tn_init "$RUN_DIR"
tn_trace_errors scripts/dev.sh
trap 'tn_stop_all; echo; echo "stopped (logs in $RUN_DIR/logs)"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

tn_say "dev node"
tn_start_nodes 1 dev
tn_wait_finalized 1 1 300

spec="${POL_TASK_SPEC:-ml-worker/tasks/digits-demo.toml}"
tn_say "1 validator, 2 miners, then the demo task ($spec)"
# Workers first (they take every task), so that the miners are bonded before round 0 starts.
tn_start_validators 1
tn_start_miners 2
tn_wait_bonded 2
tn_create_task "$spec" //Alice
tn_summary
echo "polkadot.js apps: connect to $(tn_ws 1); status: node scripts/js/bin/status.js --task $TN_TASK"

tn_say "rounds of task $TN_TASK (Ctrl-C stops everything)"
"$TN_WORKER_BIN" task watch --node "$(tn_ws 1)" --task "$TN_TASK"
