#!/usr/bin/env bash
# Builds polchain and runs a development chain: one node (Alice, sole authority) on
# ws://127.0.0.1:9944, showing blocks as they are produced and finalized. Ctrl-C stops it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$POL_ROOT"

"$POL_ROOT/scripts/setup.sh"
printf '\033[1m==> %s\033[0m\n' "cargo build --release --workspace"
cargo build --release --workspace --locked

"$POL_BIN/pol-worker" doctor --steps 10

LOG_DIR="${POL_LOG_DIR:-$POL_CACHE/logs}"
mkdir -p "$LOG_DIR"
NODE_LOG="$LOG_DIR/dev-node.log"
"$POL_BIN/polchain-node" --dev --tmp --rpc-port "${POL_RPC_PORT:-9944}" --no-telemetry >"$NODE_LOG" 2>&1 &
NODE_PID=$!
trap 'kill $NODE_PID 2>/dev/null; wait $NODE_PID 2>/dev/null; echo; echo "stopped (log: $NODE_LOG)"' EXIT INT TERM

echo "dev node running (pid $NODE_PID), RPC on ws://127.0.0.1:${POL_RPC_PORT:-9944}, log in $NODE_LOG"
echo "polkadot.js apps: connect to ws://127.0.0.1:${POL_RPC_PORT:-9944}. Ctrl-C stops."
# Follow the node's own import and finality lines.
tail -n +1 -F "$NODE_LOG" 2>/dev/null | grep --line-buffered -E "Imported #|finalized #|Database|Error|error" &
TAIL_PID=$!
trap 'kill $TAIL_PID $NODE_PID 2>/dev/null; wait $NODE_PID 2>/dev/null; echo; echo "stopped (log: $NODE_LOG)"' EXIT INT TERM
wait $NODE_PID
