# shellcheck shell=bash
# Starting and stopping a polchain network on loopback: validator nodes, miners, validator
# workers and the demo task. Sourced (after scripts/env.sh) by testnet.sh, dev.sh and e2e.sh.
#
# Every process runs in its own session (setsid), so that Ctrl-C at the terminal reaches the
# script only and the script stops them in order: workers first, then nodes, each whole process
# group, TERM then KILL. Each logs to $TN_DIR/logs/<name>.log; "<name> <pid>" lines go to
# $TN_DIR/pids, so that `scripts/testnet.sh stop` can stop a detached network later.
#
# Ports: node i (1-based) has RPC (HTTP and WebSocket) on $TN_RPC_BASE+i-1 (9944…) and p2p on
# $TN_P2P_BASE+i-1 (30333…); miner j listens on 8710+j, validator worker i on 8810+i.

TN_RPC_BASE="${POL_RPC_PORT:-9944}"
TN_P2P_BASE="${POL_P2P_PORT:-30333}"
TN_MINER_PORT_BASE="${POL_MINER_PORT:-8710}"
TN_VALIDATOR_PORT_BASE="${POL_VALIDATOR_PORT:-8810}"
TN_AUTHORITIES=(alice bob charlie dave eve ferdie)
# The first 8 are endowed at genesis; //Gina and //Henry are not (scripts/e2e.sh funds them
# from //Alice).
TN_MINERS=(//Eve //Ferdie //Alice//stash //Bob//stash //Charlie//stash //Dave//stash //Eve//stash //Ferdie//stash //Gina //Henry)
# The peer id of node 1 (its --node-key is 0x…01), the others' boot node.
TN_BOOT_PEER=12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp
TN_NODE_BIN="${POL_NODE_BIN:-$POL_BIN/polchain-node}"
TN_WORKER_BIN="${POL_WORKER_BIN:-$POL_BIN/pol-worker}"

TN_DIR=""
TN_NODES=0
TN_TASK=""
TN_NAMES=()           # started processes, in start order
declare -A TN_PID=()  # name -> pid (= its process group and session)
declare -A TN_GONE=() # names stopped on purpose (tn_kill), not a failure
declare -A TN_CMD=()  # name -> its command, shell-quoted (tn_restart)

# tn_trace_errors SCRIPT: a command that stops SCRIPT under `set -e` without saying why (its
# output went to a log, or nowhere) is named with its line, beside the disk's free space (a full
# disk fails quietly).
tn_trace_errors() {
	TN_SCRIPT="$1"
	set -E # functions and subshells report too
	trap 'tn_on_error "$LINENO" "$BASH_COMMAND"' ERR
}
tn_on_error() {
	echo "error: ${TN_SCRIPT:-$0} line $1: \`$2\` failed" >&2
	df -h "${TN_DIR:-.}" >&2 || true
}

tn_say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# tn_init DIR: a fresh run directory (its nodes/, workers/, logs/ and pids are wiped).
tn_init() {
	TN_DIR="$1"
	mkdir -p "$TN_DIR"
	if [ -s "$TN_DIR/pids" ]; then tn_stop_pidfile "$TN_DIR/pids"; fi
	rm -rf "$TN_DIR/nodes" "$TN_DIR/workers" "$TN_DIR/logs" "$TN_DIR/pids"
	mkdir -p "$TN_DIR/nodes" "$TN_DIR/workers" "$TN_DIR/logs"
	: >"$TN_DIR/pids"
}

tn_log() { echo "$TN_DIR/logs/$1.log"; }

# tn_spawn NAME CMD...: starts CMD in a new session, output to its log; sets TN_PID[NAME].
# With TN_STDOUT=FILE set, its standard output goes to FILE instead (stderr to the log).
tn_spawn() {
	local name="$1"
	shift
	if [ -n "${TN_STDOUT:-}" ]; then
		setsid "$@" </dev/null >"$TN_STDOUT" 2>"$(tn_log "$name")" &
	else
		setsid "$@" </dev/null >>"$(tn_log "$name")" 2>&1 &
	fi
	[ -n "${TN_PID[$name]:-}" ] || TN_NAMES+=("$name")
	TN_PID[$name]=$!
	TN_CMD[$name]="$(printf '%q ' "$@")"
	echo "$name $!" >>"$TN_DIR/pids"
}

# tn_restart NAME: kills NAME (SIGKILL: no chance to tidy up) and starts the same command again,
# its output appended to the same log after a `--- restarted ---` line.
tn_restart() {
	local name="$1"
	tn_signal_group "${TN_PID[$name]}" KILL
	wait "${TN_PID[$name]}" 2>/dev/null || true
	tn_start_again "$name"
}

# tn_start_again NAME: starts NAME, stopped earlier (tn_kill), again with the same command, its
# output appended to the same log after a `--- restarted ---` line; it is watched again.
tn_start_again() {
	local name="$1"
	unset 'TN_GONE[$name]'
	echo "--- restarted ---" >>"$(tn_log "$name")"
	eval "tn_spawn $(printf '%q' "$name") ${TN_CMD[$name]}"
}

# tn_running NAME: the process is alive (a zombie is not).
tn_running() {
	local pid="${TN_PID[$1]:-}" state
	[ -n "$pid" ] || return 1
	state="$(ps -o stat= -p "$pid" 2>/dev/null || true)"
	[ -n "$state" ] && [[ "$state" != Z* ]]
}

# tn_signal_group PID SIGNAL: signals the process group PID leads (ignores a gone one).
tn_signal_group() { kill "-$2" -- "-$1" 2>/dev/null || true; }

# tn_kill NAME [SIGNAL]: stops one process on purpose (default SIGKILL), and reaps it.
tn_kill() {
	local name="$1" sig="${2:-KILL}"
	TN_GONE[$name]=1
	tn_signal_group "${TN_PID[$name]}" "$sig"
	wait "${TN_PID[$name]}" 2>/dev/null || true
}

# tn_stop_all: stops everything started, newest first (workers before their nodes).
tn_stop_all() {
	local i name pid deadline
	for ((i = ${#TN_NAMES[@]} - 1; i >= 0; i--)); do
		# One stopped on purpose (tn_kill) or found dead was reaped: its pid may be another's now.
		[ -n "${TN_GONE[${TN_NAMES[$i]}]:-}" ] || tn_signal_group "${TN_PID[${TN_NAMES[$i]}]}" TERM
	done
	deadline=$((SECONDS + 20))
	for ((i = ${#TN_NAMES[@]} - 1; i >= 0; i--)); do
		name="${TN_NAMES[$i]}"
		pid="${TN_PID[$name]}"
		[ -z "${TN_GONE[$name]:-}" ] || continue
		while tn_running "$name" && ((SECONDS < deadline)); do sleep 0.2; done
		tn_running "$name" && tn_signal_group "$pid" KILL
		wait "$pid" 2>/dev/null || true
	done
	TN_NAMES=()
	if [ -n "$TN_DIR" ]; then : >"$TN_DIR/pids"; fi
}

# tn_stop_pidfile FILE: stops the processes a detached run listed (not children of this shell).
# A pid is only signalled while it still runs one of our binaries (pids get reused).
tn_stop_pidfile() {
	local file="$1" name pid pids=() deadline
	while read -r name pid; do
		[ -n "$pid" ] || continue
		if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qE 'polchain-node|pol-worker'; then
			echo "stopping $name (pid $pid)"
			tn_signal_group "$pid" TERM
			pids+=("$pid")
		fi
	done < <(tac "$file")
	deadline=$((SECONDS + 20))
	for pid in "${pids[@]}"; do
		while [ -e "/proc/$pid" ] && ((SECONDS < deadline)); do sleep 0.2; done
		[ -e "/proc/$pid" ] && tn_signal_group "$pid" KILL
	done
	: >"$file"
}

# tn_fail MESSAGE [NAME…]: prints MESSAGE and the last lines of those processes' logs, exits 1.
tn_fail() {
	local msg="$1" name
	shift
	echo "error: $msg" >&2
	for name in "$@"; do
		echo "---- last lines of $(tn_log "$name") ----" >&2
		tail -n 30 "$(tn_log "$name")" >&2 2>/dev/null || true
	done
	exit 1
}

# tn_check_alive: fails (with its log) if a started process ended unexpectedly with an error.
tn_check_alive() {
	local name rc
	for name in "${TN_NAMES[@]}"; do
		[ -z "${TN_GONE[$name]:-}" ] || continue
		tn_running "$name" && continue
		rc=0
		wait "${TN_PID[$name]}" 2>/dev/null || rc=$?
		TN_GONE[$name]=1
		((rc == 0)) || tn_fail "$name exited with status $rc" "$name"
	done
}

# tn_need_port PORT WHAT: fails if something on this machine already listens on PORT.
tn_need_port() {
	if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
		tn_fail "port $1 ($2) is in use: is another polchain network running? (scripts/testnet.sh stop; or set POL_RPC_PORT, POL_P2P_PORT, POL_MINER_PORT, POL_VALIDATOR_PORT)"
	fi
}

tn_rpc_port() { echo $((TN_RPC_BASE + $1 - 1)); }
tn_ws() { echo "ws://127.0.0.1:$(tn_rpc_port "$1")"; }

# tn_rpc PORT METHOD [PARAMS_JSON]: the `result` of a JSON-RPC call over HTTP (fails if none).
tn_rpc() {
	local reply
	reply="$(curl -sf -m 5 -H 'Content-Type: application/json' \
		-d "{\"id\":1,\"jsonrpc\":\"2.0\",\"method\":\"$2\",\"params\":${3:-[]}}" \
		"http://127.0.0.1:$1")" || return 1
	jq -ec '.result' <<<"$reply"
}

# tn_finalized PORT: the number of the node's finalized block (fails if the node does not answer).
tn_finalized() {
	local hash number
	hash="$(tn_rpc "$1" chain_getFinalizedHead)" || return 1
	number="$(tn_rpc "$1" chain_getHeader "[$hash]")" || return 1
	number="$(jq -er '.number' <<<"$number")" || return 1
	echo $((number))
}

# tn_wait_finalized NODE MIN TIMEOUT_S: waits until node NODE (1-based) has finalized block MIN.
tn_wait_finalized() {
	local node="$1" min="$2" deadline=$((SECONDS + $3)) n
	while :; do
		n="$(tn_finalized "$(tn_rpc_port "$node")" 2>/dev/null || echo -1)"
		((n >= min)) && return 0
		((SECONDS < deadline)) || tn_fail "node $node finalized #$n, not #$min, within $3 s" "node$node"
		tn_check_alive
		sleep 1
	done
}

# tn_start_nodes N CHAIN: N validator nodes of chain spec CHAIN (a file, or `dev` for one --dev
# node), named node1…nodeN; node i runs authority i's keys (--alice, --bob, …).
tn_start_nodes() {
	local n="$1" chain="$2" i args
	[ -x "$TN_NODE_BIN" ] || tn_fail "no polchain-node at $TN_NODE_BIN (build it first)"
	TN_NODES="$n"
	for ((i = 1; i <= n; i++)); do
		tn_need_port "$(tn_rpc_port "$i")" "node$i RPC"
		tn_need_port $((TN_P2P_BASE + i - 1)) "node$i p2p"
		# Archive state: a task's past rounds stay readable (scripts/js/bin/outcome.js).
		args=(--base-path "$TN_DIR/nodes/node$i" --rpc-port "$(tn_rpc_port "$i")"
			--port $((TN_P2P_BASE + i - 1)) --state-pruning archive --rpc-cors all --no-prometheus
			--no-telemetry --no-mdns --name "node$i")
		if [ "$chain" = dev ]; then
			args+=(--dev)
		else
			args+=(--chain "$chain" "--${TN_AUTHORITIES[$((i - 1))]}" --node-key "$(printf '%064x' "$i")")
			# A validator of a live chain must be given its network key; node 1's is the boot node.
			((i == 1)) || args+=(--bootnodes "/ip4/127.0.0.1/tcp/$TN_P2P_BASE/p2p/$TN_BOOT_PEER")
		fi
		tn_spawn "node$i" "$TN_NODE_BIN" "${args[@]}"
	done
}

# tn_node_urls FIRST: `--node URL` flags for every node, node FIRST first, then the others in
# order (a worker fails over down the list when its node goes away).
tn_node_urls() {
	local first="$1" i
	TN_URLS=(--node "$(tn_ws "$first")")
	for ((i = 1; i <= TN_NODES; i++)); do
		((i == first)) || TN_URLS+=(--node "$(tn_ws "$i")")
	done
}

# tn_create_task SPEC SURI: creates the task; sets TN_TASK to its id.
tn_create_task() {
	local spec="$1" suri="$2" out
	tn_node_urls 1
	out="$("$TN_WORKER_BIN" task create "${TN_URLS[@]}" --suri "$suri" --spec "$spec" --json 2>"$(tn_log task-create)")" ||
		tn_fail "pol-worker task create failed" task-create
	TN_TASK="$(grep '^{' <<<"$out" | tail -n 1 | jq -er '.task' 2>/dev/null)" ||
		tn_fail "pol-worker task create printed no {\"task\": ID}: $out" task-create
	echo "$out" >>"$(tn_log task-create)"
}

# tn_wait_bonded M [TIMEOUT]: waits until miners 1…M logged that they are bonded (so that, with
# the task created after this, they join in time for round 0).
tn_wait_bonded() {
	local m="$1" deadline=$((SECONDS + ${2:-120})) j
	for ((j = 1; j <= m; j++)); do
		until grep -q "bonded as a miner" "$(tn_log "miner$j")" 2>/dev/null; do
			((SECONDS < deadline)) || tn_fail "miner $j did not bond in time" "miner$j"
			sleep 1
		done
	done
}

# tn_task_flags: `--task ID` when a task was created (else the workers take every active task).
tn_task_flags() {
	TN_TASK_FLAGS=()
	if [ -n "$TN_TASK" ]; then TN_TASK_FLAGS=(--task "$TN_TASK"); fi
}

# TN_MINER_PROXY[j]="WORKER_SURI STASH": miner j signs with WORKER_SURI as STASH's Worker proxy
# (STASH bonded with its own key, then `pol-worker worker-key`) instead of with TN_MINERS' key.
declare -A TN_MINER_PROXY=()

# tn_start_miners M [FAULTS]: miners 1…M (accounts in TN_MINERS' order); miner j uses node
# ((j-1) mod N)+1 first and listens on 8710+j. FAULTS: "3:lazy 4:copy" gives miner 3 --fault lazy…
tn_start_miners() {
	local m="$1" faults="${2:-}" j port fault key worker stash
	((m <= ${#TN_MINERS[@]})) || tn_fail "at most ${#TN_MINERS[@]} miners"
	tn_task_flags
	for ((j = 1; j <= m; j++)); do
		port=$((TN_MINER_PORT_BASE + j))
		tn_need_port "$port" "miner$j"
		tn_node_urls $(((j - 1) % TN_NODES + 1))
		fault=()
		for f in $faults; do
			if [ "${f%%:*}" = "$j" ]; then fault=(--fault "${f#*:}"); fi
		done
		key=(--suri "${TN_MINERS[$((j - 1))]}")
		if [ -n "${TN_MINER_PROXY[$j]:-}" ]; then
			read -r worker stash <<<"${TN_MINER_PROXY[$j]}"
			key=(--suri "$worker" --stash "$stash")
		fi
		tn_spawn "miner$j" "$TN_WORKER_BIN" miner "${TN_URLS[@]}" "${key[@]}" \
			--work-dir "$TN_DIR/workers/miner$j" --listen "127.0.0.1:$port" \
			--public-url "http://127.0.0.1:$port" "${TN_TASK_FLAGS[@]}" "${fault[@]}" --no-progress
	done
}

# TN_PROXY[i]="WORKER_SURI STASH": validator worker i signs with WORKER_SURI as STASH's Worker
# proxy (`pol-worker worker-key` set it up) instead of with the authority's own key.
declare -A TN_PROXY=()
# TN_VALIDATOR_FAULT[i]=MODE: validator worker i runs with --fault MODE (a colluding validator).
declare -A TN_VALIDATOR_FAULT=()

# tn_start_validators V: validator workers 1…V (//Alice, //Bob, …: the authorities); worker i
# uses node i first (node 1 when there are fewer nodes) and listens on 8810+i.
tn_start_validators() {
	local v="$1" i port suri key worker stash fault
	((v <= ${#TN_AUTHORITIES[@]})) || tn_fail "at most ${#TN_AUTHORITIES[@]} validator workers"
	tn_task_flags
	for ((i = 1; i <= v; i++)); do
		port=$((TN_VALIDATOR_PORT_BASE + i))
		tn_need_port "$port" "validator$i"
		suri="//${TN_AUTHORITIES[$((i - 1))]^}"
		key=(--suri "$suri")
		if [ -n "${TN_PROXY[$i]:-}" ]; then
			read -r worker stash <<<"${TN_PROXY[$i]}"
			key=(--suri "$worker" --stash "$stash")
		fi
		fault=()
		if [ -n "${TN_VALIDATOR_FAULT[$i]:-}" ]; then fault=(--fault "${TN_VALIDATOR_FAULT[$i]}"); fi
		tn_node_urls $(((i - 1) % TN_NODES + 1))
		tn_spawn "validator$i" "$TN_WORKER_BIN" validator "${TN_URLS[@]}" "${key[@]}" \
			--work-dir "$TN_DIR/workers/validator$i" --listen "127.0.0.1:$port" \
			--public-url "http://127.0.0.1:$port" "${TN_TASK_FLAGS[@]}" "${fault[@]}" --no-progress
	done
}

# tn_summary: where everything is, for people.
tn_summary() {
	local name
	echo "run directory: $TN_DIR"
	for name in "${TN_NAMES[@]}"; do
		printf '  %-12s pid %-7s log %s\n' "$name" "${TN_PID[$name]}" "$(tn_log "$name")"
	done
	if ((TN_NODES > 1)); then
		echo "RPC: $(tn_ws 1) … $(tn_ws "$TN_NODES") (polkadot.js apps can connect to any)"
	else
		echo "RPC: $(tn_ws 1) (polkadot.js apps can connect to it)"
	fi
	if [ -n "$TN_TASK" ]; then echo "task: $TN_TASK"; fi
}
