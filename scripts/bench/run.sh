#!/usr/bin/env bash
# Runs `pol-worker bench` and the PyTorch loop of bench_torch.py side by side on the same task
# files, and prints a Markdown table (the one in docs/PERFORMANCE.md, section "Worker").
#
# Usage: scripts/bench/run.sh [task.toml …]   (default: ml-worker/tasks/*.toml)
# Needs a built pol-worker ($POL_BIN/pol-worker) and the venv of scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh
STEPS="${LOOP_STEPS:-500}"
TASKS=("$@")
[ ${#TASKS[@]} -gt 0 ] || TASKS=(ml-worker/tasks/*.toml)
echo "| task | model | threads | batch | Rust loop steps/s | PyTorch loop steps/s | Rust/PyTorch | miner run steps/s | replay steps/s | verify / train cost |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for t in "${TASKS[@]}"; do
	rust=$("$POL_BIN/pol-worker" bench --config "$t" --loop-steps "$STEPS" --json --no-progress 2>/dev/null)
	py=$(python3 scripts/bench/bench_torch.py "$t" --loop-steps "$STEPS")
	python3 - "$t" "$rust" "$py" <<'PY'
import json, sys
t, r, p = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(f"| {t.split('/')[-1]} | `{r['model']}` | {r['threads']} | {r['batch_size']} "
      f"| {r['loop_steps_per_s']:.0f} | {p['loop_steps_per_s']:.0f} "
      f"| {r['loop_steps_per_s'] / p['loop_steps_per_s']:.2f} "
      f"| {r['train_steps_per_s']:.0f} | {r['replay_steps_per_s']:.0f} "
      f"| {100 * r['verify_fraction']:.1f}% ({r['verdict']}) |")
PY
done
