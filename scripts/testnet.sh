#!/usr/bin/env bash
# A polchain network on loopback: N validator nodes, M miners and V validator workers, with
# the demo task, and a log per process. Ctrl-C stops everything it started.
#
#   scripts/testnet.sh N M V     e.g. scripts/testnet.sh 4 4 3
#   scripts/testnet.sh stop      stops a network started with POL_TESTNET_DETACH=1
#
# Nodes: node i runs authority i (alice, bob, charlie, dave, eve, ferdie; all bonded validators
# in a chain spec made by chainspec.sh), RPC on 9944+i-1, p2p on 30333+i-1; node 1 is the boot
# node. Miners: //Eve, //Ferdie, //Alice//stash, //Bob//stash, //Charlie//stash, //Dave//stash,
# //Eve//stash, //Ferdie//stash,
# miner j on node ((j-1) mod N)+1 first (the others after it, to fail over to), serving on
# 127.0.0.1:(8710+j). Validator workers: //Alice, //Bob, … on their own node, serving on
# 127.0.0.1:(8810+i). With M = V = 0 only the nodes start (no task).
#
# Environment:
#   POL_RUN_DIR          run directory (default $POL_CACHE/testnet): nodes/, workers/, logs/, pids
#   POL_FAULTS           faulty miners, e.g. "3:lazy 4:copy" (miner 3 --fault lazy, miner 4 --fault copy)
#   POL_TASK_SPEC        the task (default ml-worker/tasks/digits-demo.toml), created by //Alice
#   POL_TESTNET_DETACH=1 start, write $POL_RUN_DIR/pids and return (stop with `testnet.sh stop`)
#   POL_RPC_PORT, POL_P2P_PORT, POL_MINER_PORT, POL_VALIDATOR_PORT: the port bases above
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
source "$POL_ROOT/scripts/lib/testnet.sh"
cd "$POL_ROOT"

RUN_DIR="${POL_RUN_DIR:-$POL_CACHE/testnet}"
usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

if [ "${1:-}" = stop ]; then
	if [ -s "$RUN_DIR/pids" ]; then tn_stop_pidfile "$RUN_DIR/pids"; else echo "nothing runs from $RUN_DIR"; fi
	exit 0
fi
[ $# -eq 3 ] || usage
N="$1" M="$2" V="$3"
[[ "$N" =~ ^[1-6]$ ]] || { echo "error: N must be 1 to 6 validator nodes" >&2; exit 2; }
[[ "$M" =~ ^[0-8]$ ]] || { echo "error: M must be 0 to 8 miners" >&2; exit 2; }
if ! [[ "$V" =~ ^[0-9]+$ ]] || ((V > N)); then echo "error: V must be 0 to N validator workers (each is one of the N authorities)" >&2; exit 2; fi

tn_init "$RUN_DIR"
if [ "${POL_TESTNET_DETACH:-}" != 1 ]; then
	trap 'tn_stop_all; echo "stopped (logs in $RUN_DIR/logs)"' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
else
	# Started but not finished: stop what did start.
	trap 'tn_stop_all' EXIT
fi

tn_say "chain spec of $N authorities"
scripts/chainspec.sh "$N" "$RUN_DIR/chain-spec.json"
tn_say "$N validator nodes"
tn_start_nodes "$N" "$RUN_DIR/chain-spec.json"
# Block 1 finalized on every node: they peer and GRANDPA runs.
for ((i = 1; i <= N; i++)); do tn_wait_finalized "$i" 1 180; done
echo "finalizing: node 1 at #$(tn_finalized "$(tn_rpc_port 1)")"

if ((M + V > 0)); then
	spec="${POL_TASK_SPEC:-ml-worker/tasks/digits-demo.toml}"
	# Workers first (they take every task), so that the miners are bonded before round 0.
	tn_say "$V validator workers, $M miners${POL_FAULTS:+ (faults: $POL_FAULTS)}"
	tn_start_validators "$V"
	tn_start_miners "$M" "${POL_FAULTS:-}"
	tn_wait_bonded "$M"
	tn_say "task from $spec"
	tn_create_task "$spec" //Alice
	echo "task: $TN_TASK"
fi
tn_summary

if [ "${POL_TESTNET_DETACH:-}" = 1 ]; then
	trap - EXIT
	echo "detached: pids in $RUN_DIR/pids; stop with: scripts/testnet.sh stop"
	exit 0
fi
echo "running; Ctrl-C stops everything."
while :; do
	tn_check_alive
	sleep 2
done
