#!/usr/bin/env bash
# Runs `pol-worker bench` on each task file, then the PyTorch loop of bench_torch.py in both
# styles (idiomatic and hand-written; the faster is compared) with as many steps as the Rust
# bare loop ran (the JSON's loop_steps), each side REPEAT times keeping its best run (the
# machine may be shared: the best run is the one least disturbed), and prints a Markdown table
# (for docs/PERFORMANCE.md, section "Worker"), one row per task, then a `targets:` block marking
# each task ✓/✗ for: verification by 1 validator ≤ 5% of the miner's run, detection by 3
# validators at f = 25% ≥ 99%, proof gap (miner run vs the same steps without proofs) ≤ 5%, by
# whole runs and by segments interleaved (the machine's drift cancelled), miner run ≥ PyTorch
# eager.
#
# A task whose bench fails, prints JSON without the table's fields, or whose PyTorch loop fails
# is reported as `skipped <task>: <last error line of its stderr>` and the next task runs; every
# run's stdout and stderr are kept under BENCH_LOG_DIR (<task>.rust.json/.log,
# <task>.torch.json.<style>, <task>.torch.log).
#
# Usage: scripts/bench/run.sh [task.toml …]   (default: ml-worker/tasks/*.toml)
# Env: REPEAT (default 3), BENCH_LOG_DIR (default /tmp/pol-bench-logs),
#      STRICT=1: exit 1 when a target is missed or a task skipped (default: exit 0 after printing;
#      exit 1 in any case when no task could be measured).
# Needs a built pol-worker ($POL_BIN/pol-worker) and the venv of scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh
REPEAT="${REPEAT:-3}"
STRICT="${STRICT:-0}"
LOG_DIR="${BENCH_LOG_DIR:-/tmp/pol-bench-logs}"
mkdir -p "$LOG_DIR"
TASKS=("$@")
[ ${#TASKS[@]} -gt 0 ] || TASKS=(ml-worker/tasks/*.toml)
if [ ! -x "$POL_BIN/pol-worker" ]; then
	echo "no pol-worker at $POL_BIN: cargo build --release -p pol-worker" >&2
	exit 1
fi

# Why a step failed, from its log: the error line of a usage error (clap's `error: …`, followed
# by usage and hints), else the last non-empty line that is not a hint (anyhow's deepest cause,
# Python's exception), else its exit status. No pipeline, so nothing here fails under pipefail.
why() {
	awk -v rc="$2" '
		/^error: / { e = $0; next }
		NF && !/^(note: |For more information|Usage: )/ { l = $0; sub(/^[ \t]+/, "", l) }
		END { print (e != "" ? e : l != "" ? l : "exit status " rc ", nothing on stderr") }' "$1"
}

measured=() # task, Rust JSON file, PyTorch JSON file, for each task measured
skipped=0
for t in "${TASKS[@]}"; do
	name="$(basename "$t" .toml)"
	rust_out="$LOG_DIR/$name.rust.json" rust_log="$LOG_DIR/$name.rust.log"
	py_out="$LOG_DIR/$name.torch.json" py_log="$LOG_DIR/$name.torch.log"
	echo "bench $t (logs: $LOG_DIR/$name.*)" >&2
	rc=0
	"$POL_BIN/pol-worker" bench --config "$t" --json --no-progress --repeat "$REPEAT" \
		>"$rust_out" 2>"$rust_log" || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "skipped $t: $(why "$rust_log" "$rc")"
		skipped=$((skipped + 1))
		continue
	fi
	if ! steps="$(python3 - "$rust_out" 2>>"$rust_log" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
need = ('loop_steps num_segments checkpoint_interval segments_per_check bare_steps_per_s '
        'train_steps_per_s train_secs proof_overhead proof_overhead_interleaved proof_thread_fraction proof_writer_cpu_secs verify_fraction detection_1 detection_3 bundle_bytes '
        'fetched_bytes verdict').split()
missing = [k for k in need if k not in r]
if missing:
    sys.exit('the JSON of pol-worker bench lacks ' + ', '.join(missing))
print(int(r['loop_steps']))
PY
	)"; then
		echo "skipped $t: $(why "$rust_log" 1)"
		skipped=$((skipped + 1))
		continue
	fi
	# Both styles of the PyTorch loop; the faster is the one compared (on a small model the
	# hand-written update beats torch.optim.SGD's).
	rc=0
	for style in idiomatic handwritten; do
		python3 scripts/bench/bench_torch.py "$t" --style "$style" --loop-steps "$steps" \
			--repeat "$REPEAT" >"$py_out.$style" 2>"$py_log" || rc=$?
		[ "$rc" -eq 0 ] || break
	done
	if [ "$rc" -ne 0 ]; then
		echo "skipped $t: $(why "$py_log" "$rc")"
		skipped=$((skipped + 1))
		continue
	fi
	measured+=("$t" "$rust_out" "$py_out")
done

if [ ${#measured[@]} -eq 0 ]; then
	echo "no task measured (${#TASKS[@]} skipped)"
	exit 1
fi

# Exits 0, or 3 when a target is missed (after printing everything).
rc=0
python3 - "${measured[@]}" <<'PY' || rc=$?
import json, sys

args = sys.argv[1:]
rows = []
for i in range(0, len(args), 3):
    with open(args[i + 1]) as f:
        r = json.load(f)
    styles = []
    for style in ('idiomatic', 'handwritten'):
        with open(f"{args[i + 2]}.{style}") as f:
            styles.append(json.load(f))
    p = max(styles, key=lambda x: x['loop_steps_per_s'])
    rows.append((args[i].split('/')[-1], r, p))


def pct(x, signed=False):
    return f"{100 * x:+.1f}%" if signed else f"{100 * x:.1f}%"


def mb(b):
    return f"{b / 1e6:.3g}"


print("| task | n × k, Q | bare Rust loop steps/s | miner run with proofs steps/s (proof gap, median: whole runs paired, segments interleaved; proofs on the training thread; writer's CPU) "
      "| PyTorch eager steps/s (faster style) | proofs/eager | verify / train, 1 validator "
      "| detection at f = 25%, 1 / 3 validators | bundle / fetched |")
print("|---|---|---|---|---|---|---|---|---|")
for task, r, p in rows:
    eager = p['loop_steps_per_s']
    verdict = '' if r['verdict'] == 'Pass' else f" (verdict: {r['verdict']})"
    print(f"| {task} | {r['num_segments']} × {r['checkpoint_interval']}, {r['segments_per_check']} "
          f"| {r['bare_steps_per_s']:.0f} "
          f"| {r['train_steps_per_s']:.0f} ({pct(r['proof_overhead'], signed=True)}, "
          f"{pct(r['proof_overhead_interleaved'], signed=True)} interleaved; "
          f"{pct(r['proof_thread_fraction'])} on the training thread; "
          f"{pct(r['proof_writer_cpu_secs'] / r['train_secs'])} writer CPU) "
          f"| {eager:.0f} ({p['style']}) | {r['train_steps_per_s'] / eager:.2f} "
          f"| {pct(r['verify_fraction'])}{verdict} "
          f"| {100 * r['detection_1']:.2f}% / {100 * r['detection_3']:.2f}% "
          f"| {mb(r['bundle_bytes'])} / {mb(r['fetched_bytes'])} MB |")

print()
print("targets:")
missed = 0
for task, r, p in rows:
    eager = p['loop_steps_per_s']
    checks = [
        ("verify ≤ 5%", r['verify_fraction'] <= 0.05, pct(r['verify_fraction'])),
        ("detection by 3 ≥ 99%", r['detection_3'] >= 0.99, f"{100 * r['detection_3']:.2f}%"),
        ("proof gap ≤ 5%", r['proof_overhead'] <= 0.05, pct(r['proof_overhead'], signed=True)),
        ("proof gap interleaved ≤ 5%", r['proof_overhead_interleaved'] <= 0.05,
         pct(r['proof_overhead_interleaved'], signed=True)),
        ("miner run ≥ PyTorch eager", r['train_steps_per_s'] >= eager,
         f"{r['train_steps_per_s'] / eager:.2f}×"),
    ]
    missed += sum(not ok for _, ok, _ in checks)
    print(f"- {task}: " + ", ".join(f"{name} {'✓' if ok else '✗'} ({v})" for name, ok, v in checks))
sys.exit(3 if missed else 0)
PY
if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
	echo "the table failed (exit $rc)" >&2
	exit "$rc"
fi
if [ "$skipped" -gt 0 ]; then
	echo "$skipped of ${#TASKS[@]} tasks skipped (above)"
fi
if [ "$STRICT" = 1 ] && { [ "$rc" -eq 3 ] || [ "$skipped" -gt 0 ]; }; then
	echo "STRICT=1: a target was missed or a task skipped" >&2
	exit 1
fi
exit 0
