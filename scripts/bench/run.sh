#!/usr/bin/env bash
# Runs `pol-worker bench` and the PyTorch loop of bench_torch.py side by side on the same task
# files, alternating them REPEAT times (default 3) and keeping each one's best run (the machine
# may be shared: the best run is the one least disturbed), and prints a Markdown table (the one
# in docs/PERFORMANCE.md, section "Worker").
#
# Usage: scripts/bench/run.sh [task.toml …]   (default: ml-worker/tasks/*.toml)
# Env: LOOP_STEPS (default 1000), REPEAT (default 3).
# Needs a built pol-worker ($POL_BIN/pol-worker) and the venv of scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh
STEPS="${LOOP_STEPS:-1000}"
REPEAT="${REPEAT:-3}"
TASKS=("$@")
[ ${#TASKS[@]} -gt 0 ] || TASKS=(ml-worker/tasks/*.toml)
echo "| task | model | threads | batch | Rust loop steps/s | PyTorch loop steps/s | Rust/PyTorch | miner run steps/s | replay steps/s | verify / train cost |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for t in "${TASKS[@]}"; do
	runs=()
	for _ in $(seq "$REPEAT"); do
		runs+=("$("$POL_BIN/pol-worker" bench --config "$t" --loop-steps "$STEPS" --json --no-progress 2>/dev/null | tr -d '\n')")
		runs+=("$(python3 scripts/bench/bench_torch.py "$t" --loop-steps "$STEPS")")
	done
	python3 - "$t" "${runs[@]}" <<'PY'
import json, sys
t, runs = sys.argv[1], [json.loads(r) for r in sys.argv[2:]]
rust = [r for r in runs if 'train_steps' in r]
py = [r for r in runs if 'torch' in r]
r = max(rust, key=lambda x: x['loop_steps_per_s'])
p = max(py, key=lambda x: x['loop_steps_per_s'])
train = max(x['train_steps_per_s'] for x in rust)
replay = max(x['replay_steps_per_s'] for x in rust)
frac = min(x['verify_fraction'] for x in rust)
verdicts = sorted({x['verdict'] for x in rust})
print(f"| {t.split('/')[-1]} | `{r['model']}` | {r['threads']} | {r['batch_size']} "
      f"| {r['loop_steps_per_s']:.0f} | {p['loop_steps_per_s']:.0f} "
      f"| {r['loop_steps_per_s'] / p['loop_steps_per_s']:.2f} "
      f"| {train:.0f} | {replay:.0f} | {100 * frac:.1f}% ({', '.join(verdicts)}) |")
PY
done
