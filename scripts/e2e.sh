#!/usr/bin/env bash
# The end-to-end test: a 4-node testnet (Alice, Bob, Charlie, Dave authorities), validator
# workers for Alice, Bob and Charlie, a colluding one for Dave (it passes every miner without
# replaying and votes to reject every dispute), and ten miners on the demo task (aggregated by median,
# so the validators must take the rule from the chain): //Eve and //Ferdie
# honest, //Alice//stash lazy (trains fewer steps than the task says), //Bob//stash a copier
# (copies another miner's commitment and reveal), and the adaptive attackers of docs/SECURITY.md:
# //Charlie//stash swap-final (reveals a final model other than its last checkpoint),
# //Dave//stash withhold (forges its last segment and never serves its end), //Eve//stash frame
# (serves a corrupt copy of each checkpoint to the first validator that asks), //Ferdie//stash
# manifest-only (serves only a manifest whose leaf 0 is not the round's start), //Gina
# foreign-host (an honest run whose host record names another libtorch build), //Henry
# stall-voters (forges its last segment, serves its end to the first validator that asks and
# stalls it for everyone after, the voters included, beside Dave's rejecting votes). Over rounds 0…3 it
# checks that a global model is accepted every round and that its accuracy rises. Validator 3
# signs as //Charlie's Worker proxy with a key of its own (`pol-worker worker-key` sets it up),
# and must reveal its scores every round; miner 1 likewise as //Eve's (bonded with polkadot.js
# first, since a proxy cannot bond), and must commit and reveal every round. And:
# - round 1: it kills node 2 and checks that the chain keeps finalizing and that the workers
#   that used node 2 reconnect elsewhere. Once round 1's model is accepted it kills the
#   validator worker whose URI the chain accepted it with (its artifact server dies with it)
#   before round 2's miners fetch that model; miner 2 (//Ferdie), stopped meanwhile, is started
#   again and must fetch the model from another proposer and commit in round 2. The validator
#   comes back before round 2's verify phase.
# - round 2: it kills miner 1 after its commit and restarts it, which must reveal what it saved
#   and be paid.
# - round 3: it kills miner 2 for good once every validator passed its update: the round must
#   still aggregate that update (from the validators' own copies) into its model, and pay it.
# Then the JavaScript side (scripts/js/test/e2e-outcome.test.js) reads the same outcome through
# polkadot.js: the honest miners paid, the lazy one failed, disputed, slashed and never paid,
# the copy and the swapped final never revealed nor paid, the withholder, the manifest-only, the
# foreign-host and the stall-voters miners slashed and never paid (the last over Dave's
# rejecting vote), no validator slashed (nor a deposit forfeited),
# the models those the watch saw and aggregated from honest work only.
#
# Four nodes, not three: GRANDPA finalizes with votes of more than 2/3 of the authorities. Of 3
# equal voters that is all 3, so with one node down nothing finalizes; of 4 it is 3, so one
# node may go down and the chain keeps finalizing.
#
# Environment: POL_RUN_DIR (default $POL_CACHE/e2e; logs in $POL_RUN_DIR/logs, kept after the
# run), POL_E2E_ROUND_TIMEOUT (seconds a round may take, default 600), POL_TASK_SPEC (default
# ml-worker/tasks/digits-demo.toml), and testnet.sh's port variables.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
source "$POL_ROOT/scripts/lib/testnet.sh"
cd "$POL_ROOT"

RUN_DIR="${POL_RUN_DIR:-$POL_CACHE/e2e}"
ROUNDS=4 # rounds 0…3
ROUND_TIMEOUT="${POL_E2E_ROUND_TIMEOUT:-600}"
SPEC="${POL_TASK_SPEC:-ml-worker/tasks/digits-demo.toml}"
WATCH="$RUN_DIR/watch.jsonl"
WORKERS=(validator1 validator2 validator3 validator4 miner1 miner2 miner3 miner4 miner5 miner6 miner7 miner8 miner9 miner10)
MINERS=10
FAULTS="3:lazy 4:copy 5:swap-final 6:withhold 7:frame 8:manifest-only 9:foreign-host 10:stall-voters"

tn_init "$RUN_DIR"
tn_trace_errors scripts/e2e.sh
finish() {
	local rc=$?
	tn_stop_all
	if ((rc == 0)); then echo "e2e: passed (logs in $RUN_DIR/logs)"; else echo "e2e: FAILED (logs in $RUN_DIR/logs)" >&2; fi
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
t0=$SECONDS
since() { echo "$((SECONDS - t0))s"; }

tn_say "e2e: 4 validator nodes"
scripts/chainspec.sh 4 "$RUN_DIR/chain-spec.json"
tn_start_nodes 4 "$RUN_DIR/chain-spec.json"
for i in 1 2 3 4; do tn_wait_finalized "$i" 1 300; done
echo "all 4 nodes finalize ($(since))"

tn_say "e2e: validator 3 signs as //Charlie's Worker proxy, with a key that cannot move the stake"
# //Charlie's key sets it up once (as an operator would, where the stash's key is): the worker
# key becomes its Worker proxy and its challenge key, and gets POL for fees. Validator 3 then
# runs with //Charlie//worker only; the key is fixed in the rounds that start after this.
charlie=5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y
charlie_worker=5EcW1VWcNMahKGRazbE8UU2K5c6bkhuEEjg8kfRjEp41vjwN
tn_node_urls 1
"$TN_WORKER_BIN" worker-key "${TN_URLS[@]}" --suri //Charlie --worker "$charlie_worker" --fund 10 \
	>>"$(tn_log worker-key)" 2>&1 || tn_fail "pol-worker worker-key failed" worker-key
TN_PROXY[3]="//Charlie//worker $charlie"
echo "$charlie_worker is //Charlie's Worker proxy and challenge key ($(since))"

tn_say "e2e: miner 1 signs as //Eve's Worker proxy"
# A proxy cannot bond (the key that can bond can move the stake), so //Eve bonds once with its
# own key, through polkadot.js as an operator would; the worker sets its endpoint as the proxy.
eve=5HGjWAeFDfFCWPsjFQdVV2Msvz2XtMktvgocEZcCj68kUMaw
eve_worker=5GTGUvxzyq1RiDu9NG6ZweB2hjYBrBa41uwj4WmjYTWgqT5a
(cd scripts/js && node bin/bond.js --ws "$(tn_ws 1)" --suri //Eve --role miner --amount 100) \
	>>"$(tn_log bond)" 2>&1 || tn_fail "bonding //Eve with scripts/js/bin/bond.js failed" bond
"$TN_WORKER_BIN" worker-key "${TN_URLS[@]}" --suri //Eve --worker "$eve_worker" --fund 10 \
	>>"$(tn_log worker-key)" 2>&1 || tn_fail "pol-worker worker-key failed for //Eve" worker-key
TN_MINER_PROXY[1]="//Eve//worker $eve"
echo "$eve_worker is //Eve's Worker proxy ($(since))"

tn_say "e2e: //Gina and //Henry, miners 9 and 10, funded by //Alice (not endowed at genesis)"
(cd scripts/js && POL_WS="$(tn_ws 1)" node --input-type=module -e '
import { connect, keypair, signAndWait, UNIT } from "./lib/polchain.js";
const api = await connect(process.env.POL_WS);
const alice = await keypair("//Alice");
for (const suri of ["//Gina", "//Henry"]) {
  const who = await keypair(suri);
  await signAndWait(api, api.tx.balances.transferKeepAlive(who.address, 1000n * UNIT), alice);
}
await api.disconnect();
') >>"$(tn_log bond)" 2>&1 || tn_fail "funding //Gina and //Henry from //Alice failed" bond

tn_say "e2e: 4 validator workers (the 4th colluding), $MINERS miners ($FAULTS), then the demo task"
# The workers start first and take every task, so that all miners are bonded and join in
# time for round 0's commit phase.
TN_VALIDATOR_FAULT[4]=collude
tn_start_validators 4
tn_start_miners "$MINERS" "$FAULTS"
tn_wait_bonded "$MINERS"
echo "all $MINERS miners bonded ($(since))"
# The task aggregates by coordinate-wise median, not the default FedAvg: the validators have no
# flag for the rule, so they must take it from the task's spec on chain, and still agree.
TASK_FILE="$RUN_DIR/task.toml"
# Drops the spec's [aggregation] table, whatever spaces, comment or CR its header line carries.
awk '/^[ \t]*\[/ { h = $0; sub(/#.*/, "", h); gsub(/[ \t\r]/, "", h); skip = (h == "[aggregation]") } !skip' \
	"$SPEC" >"$TASK_FILE"
printf '\n[aggregation]\nrule = "median"\n' >>"$TASK_FILE"
tn_create_task "$TASK_FILE" //Alice
echo "task: $TN_TASK"
# The watch reads through node 1 (never killed), and may fail over to 3 and 4.
TN_STDOUT="$WATCH" tn_spawn watch "$TN_WORKER_BIN" task watch --node "$(tn_ws 1)" --node "$(tn_ws 3)" \
	--node "$(tn_ws 4)" --task "$TN_TASK" --rounds "$ROUNDS" --json
tn_summary

# watch_rounds: how many rounds the watch has printed.
watch_rounds() { grep -c '^{' "$WATCH" 2>/dev/null || true; }

# wait_rounds N: waits until the watch has printed N rounds, ROUND_TIMEOUT per round.
wait_rounds() {
	local want="$1" have last deadline
	last="$(watch_rounds)"
	deadline=$((SECONDS + ROUND_TIMEOUT))
	while have="$(watch_rounds)" && ((have < want)); do
		if ((have > last)); then
			last="$have"
			deadline=$((SECONDS + ROUND_TIMEOUT))
			echo "round $((have - 1)) done ($(since)): $(tail -n 1 "$WATCH")"
		fi
		((SECONDS < deadline)) || tn_fail "round $have did not complete within $ROUND_TIMEOUT s" watch "${WORKERS[@]}"
		tn_check_alive
		if ! tn_running watch; then
			sleep 1
			have="$(watch_rounds)"
			((have >= want)) || tn_fail "pol-worker task watch ended after $have of $want rounds" watch "${WORKERS[@]}"
		fi
		sleep 2
	done
	if ((have > last)); then echo "round $((have - 1)) done ($(since)): $(tail -n 1 "$WATCH")"; fi
}

# //Ferdie, miner 2.
ferdie=5CiPPseXPECbkjWCa6MnjNokrgYjMqmKndv2rSnekmSK2DjL

# task_status: `pol-worker task status --json` of the task, read at the finalized head through
# node 1 (else 3 or 4): its round, phase and model history ([round, hash, URI] each).
task_status() {
	"$TN_WORKER_BIN" task status --node "$(tn_ws 1)" --node "$(tn_ws 3)" --node "$(tn_ws 4)" \
		--task "$TN_TASK" --json 2>>"$(tn_log task-status)"
}

# restarted_log NAME: NAME's log from its first `--- restarted ---` line on. (Read into a
# variable before grepping: `sed … | grep -q` fails under pipefail when grep stops reading early.)
restarted_log() { sed -n '/^--- restarted ---$/,$p' "$(tn_log "$1")"; }

# wait_passed R: waits until every validator worker logged that miner 2's round-R update passed
# its check. A validator keeps the last checkpoint it verified in its store and aggregates from
# that copy (validator.rs), so from then on round R needs nothing more from miner 2. Fails at
# once if a validator committed its scores without passing it (it scores every update first).
wait_passed() {
	local r="$1" v log scored deadline=$((SECONDS + 2 * ROUND_TIMEOUT))
	for v in validator1 validator2 validator3; do
		log="$(tn_log "$v")"
		while :; do
			# Commit first: the pass is logged before the commit, so this order never misses it.
			scored=0
			if grep -q "commit scores task $TN_TASK round $r: sent" "$log"; then scored=1; fi
			if grep -q "task $TN_TASK round $r: miner $ferdie: Pass" "$log"; then break; fi
			((scored == 0)) || tn_fail "$v committed its round-$r scores without passing miner 2 (//Ferdie)" "$v" miner2
			((SECONDS < deadline)) || tn_fail "$v did not pass miner 2 (//Ferdie) in round $r" "$v" miner2
			tn_check_alive
			sleep 1
		done
	done
}

tn_say "e2e: round 0"
wait_rounds 1

tn_say "e2e: round 1: kill node 2 (SIGKILL)"
before="$(tn_finalized "$(tn_rpc_port 1)")" || tn_fail "node 1 does not answer" node1
tn_kill node2 KILL
echo "node 2 killed at finalized #$before ($(since))"
# Three of four GRANDPA voters remain: finality goes on (a few blocks, a minute at most).
deadline=$((SECONDS + 120))
while now="$(tn_finalized "$(tn_rpc_port 1)" 2>/dev/null || echo -1)" && ((now < before + 5)); do
	((SECONDS < deadline)) || tn_fail "node 1 finalized #$now, not #$((before + 5)), within 120 s of node 2's death" node1 node3 node4
	tn_check_alive
	sleep 2
done
echo "node 1 finalized #$now, $((now - before)) blocks on without node 2 ($(since))"

# The workers that used node 2 first (validator 2; miner 2, as miner j starts on node
# ((j-1) mod 4)+1) go over to another node.
moved=(validator2 miner2)
deadline=$((SECONDS + 180))
for name in "${moved[@]}"; do
	until grep -q 'reconnected to ws://' "$(tn_log "$name")"; do
		((SECONDS < deadline)) || tn_fail "$name did not log 'reconnected to ws://…' within 180 s of node 2's death" "$name"
		tn_check_alive
		sleep 2
	done
	echo "$name: $(grep -m1 'reconnected to ws://' "$(tn_log "$name")")"
done

tn_say "e2e: round 1: the URI round 1's model was accepted with is dead when round 2 starts"
# Round 2's miners fetch round 1's model from the URI the chain accepted it with, then from every
# other proposer's (round.rs, TaskContext::model): one dead server must strand nobody. The
# chain records the URI of the proposal that carried the model past 2/3 of the revealed stake
# (of three equal validators that all revealed, the last of the three to land, not the first),
# so whose it is is read from the chain. Killing that validator the moment the model is accepted
# would race the miners, who see the new round and fetch a few seconds later (6 to 9 s in past
# runs); so miner 2 is stopped first, once every validator passed its round-1 update (from then
# on nothing asks miner 2 for anything until round 2's commit phase), and started again only
# once that validator is dead: it must fetch the model from another proposer.
wait_passed 1
tn_kill miner2
round_now=""
for _ in 1 2 3; do
	round_now="$(task_status | jq -er '.round')" && break
	sleep 1
done
[ -n "$round_now" ] || tn_fail "pol-worker task status failed" task-status
# In a later round miner 2 might already have fetched the model from the URI about to die.
((round_now == 1)) || tn_fail "round 1 was over (round $round_now) before miner 2 was stopped: the e2e fell behind the chain" miner2
echo "miner 2 stopped after every validator passed its round-1 update ($(since))"
accepted=""
deadline=$((SECONDS + ROUND_TIMEOUT))
until [ -n "$accepted" ]; do
	((SECONDS < deadline)) || tn_fail "no model accepted in round 1 within $ROUND_TIMEOUT s" validator1 validator2 validator3 task-status
	tn_check_alive
	sleep 1
	# Nothing is accepted before a validator proposes: the chain is asked only from then on.
	grep -qs "propose model task $TN_TASK round 1: sent" "$(tn_log validator1)" "$(tn_log validator2)" \
		"$(tn_log validator3)" || continue
	st="$(task_status)" || continue # a node busy or gone: ask again (task-status.log says why)
	accepted="$(jq -r '.history[] | select(.[0] == 1) | "\(.[1]) \(.[2])"' <<<"$st")"
	if [ -z "$accepted" ] && (($(jq -r '.round' <<<"$st") > 1)); then
		tn_fail "round 1 closed without a model" validator1 validator2 validator3
	fi
done
read -r model1 uri1 <<<"$accepted"
victim=""
for i in 1 2 3 4; do
	if [[ "$uri1" == "http://127.0.0.1:$((TN_VALIDATOR_PORT_BASE + i))/"* ]]; then victim="validator$i"; fi
done
[ -n "$victim" ] || tn_fail "round 1's model $model1 was accepted with $uri1, which is no validator worker's"
tn_kill "$victim"
echo "round 1's model $model1 was accepted with $uri1: $victim killed, its server with it ($(since))"
tn_start_again miner2
echo "miner 2 started again ($(since))"

tn_say "e2e: round 2: miner 1 killed after its commit, and restarted"
# What it committed to is on disk: the restarted miner must reveal it, not train again.
deadline=$((SECONDS + 3 * ROUND_TIMEOUT))
until grep -q "commit task $TN_TASK round 2: finalized" "$(tn_log miner1)"; do
	((SECONDS < deadline)) || tn_fail "miner 1 did not commit in round 2" miner1
	tn_check_alive
	sleep 1
done
tn_restart miner1
echo "miner 1 restarted after committing round 2 ($(since))"

# Miner 2 fetches round 1's model first thing in round 2 (round.rs logs where it got it from:
# the accepted URI comes first, so another one means that one was tried, found dead, and the
# next source served the model). Then the dead validator comes back at once: a validator does
# nothing in the commit and reveal phases, so its absence there costs nothing, and it is up
# long before round 2's verify phase, where it must commit and reveal its scores again. (Dead
# through all of verify it would only go unpaid; dead between its commit and its reveal it would
# forfeit its deposit, and the JavaScript side checks that no validator was slashed.)
deadline=$((SECONDS + ROUND_TIMEOUT))
until fetched="$(grep -m1 -o "model $model1: fetched from [^ ]*" <<<"$(restarted_log miner2)")"; do
	((SECONDS < deadline)) || tn_fail "miner 2 did not log fetching round 1's model ('model $model1: fetched from <URI>')" miner2
	tn_check_alive
	sleep 1
done
tn_start_again "$victim"
echo "$victim started again once miner 2 had round 1's model ($(since))"
fetched="${fetched##* }"
[ "$fetched" != "$uri1" ] || tn_fail "miner 2 fetched round 1's model from $uri1, whose server was dead" miner2
echo "miner 2 fetched round 1's model from $fetched, not from the dead $uri1"
deadline=$((SECONDS + ROUND_TIMEOUT))
until grep -q "commit task $TN_TASK round 2: finalized" <<<"$(restarted_log miner2)"; do
	((SECONDS < deadline)) || tn_fail "miner 2, started again while $victim was dead, did not commit in round 2" miner2
	tn_check_alive
	sleep 1
done
echo "miner 2 committed round 2 ($(since))"

tn_say "e2e: round 3: miner 2 killed for good after it passed"
# Its update must still be aggregated: each validator aggregates from the copy it verified.
wait_passed 3
tn_kill miner2
# Only an aggregation after the kill shows anything: none may have happened yet (the score
# reveal phase, 5 blocks, lies between the last pass and the first aggregation).
if grep -qs "task $TN_TASK round 3: aggregated" "$(tn_log validator1)" "$(tn_log validator2)" "$(tn_log validator3)"; then
	tn_fail "a validator aggregated round 3 before miner 2 was killed: the e2e fell behind the chain"
fi
echo "miner 2 killed for good after every validator passed its round-3 update ($(since))"

tn_say "e2e: rounds 1…$((ROUNDS - 1)) closing"
wait_rounds "$ROUNDS"
after_restart="$(restarted_log miner1)"
grep -q "reveal task $TN_TASK round 2: finalized" <<<"$after_restart" ||
	tn_fail "the restarted miner 1 did not reveal its round-2 commitment" miner1
if grep -q "task $TN_TASK round 2: trained" <<<"$after_restart"; then
	tn_fail "the restarted miner 1 trained round 2 again instead of using its saved state" miner1
fi
echo "miner 1 revealed round 2's commitment after its restart, without training again"
grep -q "reveal scores task $TN_TASK round 2: finalized" <<<"$(restarted_log "$victim")" ||
	tn_fail "$victim, back in round 2's commit phase, did not reveal its round-2 scores" "$victim"
echo "$victim, dead when round 2 started, scored round 2"
# Round 3's model (the watch saw one) was aggregated after miner 2's death, with its update.
for v in validator1 validator2 validator3; do
	grep -q "task $TN_TASK round 3: aggregated [0-9]* update(s) by .*; miners .*$ferdie" "$(tn_log "$v")" ||
		tn_fail "$v did not aggregate the update of miner 2 (//Ferdie), killed after it passed, into round 3's model" "$v"
done
echo "every validator aggregated miner 2's round-3 update after its death"
for v in validator1 validator2 validator3; do
	grep -q "task $TN_TASK round [0-9]*: aggregated [0-9]* update(s) by median into" "$(tn_log "$v")" ||
		tn_fail "$v did not aggregate by the task's rule (median)" "$v"
done
echo "the validators aggregated by the task's rule: $(grep -m1 -o 'aggregated .* by median' "$(tn_log validator1)")"
# Validator 3 signed every round call as //Charlie's proxy: its scores were revealed (with
# proofs made by the worker key the chain fixed for the rounds) in every round.
grep -q "signing as $charlie_worker, a Worker proxy of $charlie" "$(tn_log validator3)" ||
	tn_fail "validator 3 did not sign as //Charlie's Worker proxy" validator3
for ((r = 0; r < ROUNDS; r++)); do
	grep -q "reveal scores task $TN_TASK round $r: finalized" "$(tn_log validator3)" ||
		tn_fail "validator 3 (//Charlie's proxy) did not reveal its round-$r scores" validator3
done
echo "validator 3 revealed its scores in every round as //Charlie's Worker proxy"
# Miner 1 signed every call as //Eve's proxy, and its work counted as //Eve's in every round
# (the JavaScript side checks that //Eve was paid).
grep -q "signing as $eve_worker, a Worker proxy of $eve" "$(tn_log miner1)" ||
	tn_fail "miner 1 did not sign as //Eve's Worker proxy" miner1
for ((r = 0; r < ROUNDS; r++)); do
	for call in commit reveal; do
		grep -q "$call task $TN_TASK round $r: finalized" "$(tn_log miner1)" ||
			tn_fail "miner 1 (//Eve's proxy) did not $call in round $r" miner1
	done
done
echo "miner 1 committed and revealed in every round as //Eve's Worker proxy"

tn_say "e2e: the attackers"
# The miners whose work must never be aggregated: //Alice//stash (lazy), //Bob//stash (copy),
# //Charlie//stash (swap-final), //Dave//stash (withhold), //Ferdie//stash (manifest-only),
# //Gina (foreign-host), //Henry (stall-voters).
bad_miners=(5GNJqTPyNqANBkUVMN1LPPrxXnFouWXoe2wNSmmEoLctxiZY 5HpG9w8EBLe5XCrbczpwq5TSXvedjrBGCwqxK1iQ7qUsSWFc
	5Ck5SLSHYac6WFt5UZRSsdJjwmpSZq85fd5TRNAdZQVzEAPT 5HKPmK9GYtE1PSLsS1qiYU9xQ9Si1NcEhdeCq9sw5bqu4ns8)
for suri in //Ferdie//stash //Gina //Henry; do
	bad_miners+=("$("$TN_NODE_BIN" key inspect --scheme sr25519 "$suri" --output-type json | jq -r .ss58Address)")
done
for v in validator1 validator2 validator3; do
	for m in "${bad_miners[@]}"; do
		aggregated="$(grep "aggregated .* update(s)" "$(tn_log "$v")" || true)"
		if grep -q "$m" <<<"$aggregated"; then
			tn_fail "$v aggregated the update of attacker $m" "$v"
		fi
	done
done
echo "no validator aggregated an attacker's update"
grep -q "FinalModelNotLeafN" "$(tn_log miner5)" ||
	tn_fail "the swap-final miner's reveal was not refused with FinalModelNotLeafN" miner5
echo "swap-final (miner 5): $(grep -m1 -o 'reveal task [0-9]* round [0-9]*.*FinalModelNotLeafN' "$(tn_log miner5)")"
grep -q "NotServed { segment" "$(tn_log validator1)" "$(tn_log validator2)" "$(tn_log validator3)" ||
	tn_fail "no validator reported a segment not served (withhold, frame)"
echo "withhold (miner 6) and frame (miner 7): $(cat "$(tn_log validator1)" "$(tn_log validator2)" "$(tn_log validator3)" | grep -c 'NotServed { segment') not-served reports"
# The miners whose manifest alone convicts them: every validator claims a fault of the whole run
# on segment n (which all of them replay), never a segment outside its own challenges (which
# would have cost it its reveal: the chain refuses such an entry, and e2e-outcome.test.js finds
# no validator slashed). (An abstention is not checked for: the validator killed in round 1
# may abstain on any miner it had no time for.)
for m in 8 9; do
	account="${bad_miners[$((m - 4))]}"
	for v in validator1 validator2 validator3; do
		grep -qE "task $TN_TASK round [0-9]+: miner $account: (Fail|NotServed) \{ segment" "$(tn_log "$v")" ||
			tn_fail "$v never claimed a fault of miner $m ($account)" "$v" "miner$m"
	done
done
echo "manifest-only (miner 8) and foreign-host (miner 9): claimed by every validator"
# The stall-voters miner: the validators it stalled in the verify phase claimed it not served,
# and every honest voter, stalled too, upheld the dispute; the colluding validator voted to
# reject it (e2e-outcome.test.js checks the rejecting stake lost and the miner was slashed).
henry="${bad_miners[6]}"
for v in validator1 validator2 validator3; do
	grep -qE "task $TN_TASK round [0-9]+: dispute over $henry .*: upheld" "$(tn_log "$v")" ||
		tn_fail "$v never voted to uphold the dispute over the stall-voters miner ($henry)" "$v" miner10
done
grep -q "fault collude: rejecting the dispute over $henry" "$(tn_log validator4)" ||
	tn_fail "the colluding validator 4 never voted to reject the dispute over miner 10 ($henry)" validator4
echo "stall-voters (miner 10): upheld by every honest voter, rejected by the colluder"
after="$(tn_finalized "$(tn_rpc_port 1)")"
echo "node 1 finalized #$after at the end ($(since))"

tn_say "e2e: the watch's rounds"
# Every round 0…3 accepted a model, and the last one is more accurate than round 0's.
# //Eve, miner 1; //Ferdie, miner 2, is paid for rounds 1 and 3 though it was dead when they
# closed (stopped in round 1, killed for good in round 3, both times after it passed).
eve=5HGjWAeFDfFCWPsjFQdVV2Msvz2XtMktvgocEZcCj68kUMaw
jq -s -e -r --argjson n "$ROUNDS" --arg eve "$eve" --arg ferdie "$ferdie" '
	(map(.round) | sort) as $r
	| if $r != [range(0; $n)] then error("rounds \($r), want 0…\($n - 1)") else . end
	| map(select(.model == null)) as $none
	| if ($none | length) > 0 then error("no model accepted in round(s) \($none | map(.round))") else . end
	| (map(select(.round == 0))[0]) as $first
	| (map(select(.round == $n - 1))[0]) as $last
	| if ($first.accuracy | type) != "number" or ($last.accuracy | type) != "number"
		then error("no accuracy in round 0 or \($n - 1)") else . end
	| if $last.accuracy <= $first.accuracy
		then error("accuracy did not rise: round 0 \($first.accuracy), round \($n - 1) \($last.accuracy)") else . end
	| (map(select(.round == 2))[0].rewards[$eve] // "0" | tonumber) as $paid
	| if $paid <= 0 then error("miner 1 (//Eve), restarted in round 2, was not paid for it") else . end
	| . as $all
	| ([1, $n - 1] | map(. as $k
		| select(([$all[] | select(.round == $k) | .rewards[$ferdie] // "0" | tonumber] | first // 0) <= 0)))
		as $unpaid
	| if ($unpaid | length) > 0
		then error("miner 2 (//Ferdie), dead after it passed, was not paid for round(s) \($unpaid)") else . end
	| "accuracy: W₀ \($first.start_accuracy // "?"), round 0 \($first.accuracy), round \($n - 1) \($last.accuracy)"
' "$WATCH" || { cat "$WATCH" >&2; tn_fail "the watch's rounds are not as expected"; }

tn_say "e2e: the outcome through polkadot.js"
(cd scripts/js && POL_E2E_WS="$(tn_ws 1)" POL_E2E_TASK="$TN_TASK" POL_E2E_WATCH="$WATCH" POL_E2E_ROUNDS="$ROUNDS" \
	node --test --test-reporter=spec test/e2e-outcome.test.js) || tn_fail "the outcome read through polkadot.js is not as expected"
echo "e2e: $(since) in all"
