#!/usr/bin/env bash
# Regenerates a pallet's weights.rs from its benchmarks with the release node.
#   scripts/weights/generate.sh pallet_pol_staking pallets/staking/src/weights.rs
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
cd "$POL_ROOT"
pallet="${1:?usage: generate.sh <pallet_name> <output weights.rs>}"
output="${2:?usage: generate.sh <pallet_name> <output weights.rs>}"
"$POL_BIN/polchain-node" benchmark pallet \
	--runtime "$CARGO_TARGET_DIR/release/wbuild/polchain-runtime/polchain_runtime.compact.compressed.wasm" \
	--genesis-builder=runtime --genesis-builder-preset=development \
	--pallet "$pallet" --extrinsic '*' \
	--steps "${STEPS:-50}" --repeat "${REPEAT:-20}" \
	--wasm-execution compiled --heap-pages 4096 \
	--template scripts/weights/pallet-weights.hbs \
	--output "$output"
