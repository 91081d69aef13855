#!/usr/bin/env bash
# Rewrites ml-worker/chain-api/metadata/polchain.scale from the runtime in this workspace, after a
# change to the runtime's types. The worker does not compile against stale metadata, so this
# builds the workspace's tests with --keep-going (the worker's may fail) and runs only the
# metadata test, from the same build as scripts/test.sh: `cargo test -p pol-chain-api` alone
# would compile the runtime a second time with other features.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$POL_ROOT"

bin=$(cargo build --release --workspace --tests --locked --keep-going --message-format=json 2>/dev/null \
	| jq -r 'select(.reason == "compiler-artifact" and .profile.test and .target.name == "pol_chain_api") | .executable' \
	| tail -n 1 || true)
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
	echo "error: the metadata test of pol-chain-api did not build; see: cargo build --release -p polchain-runtime" >&2
	exit 1
fi
POL_BLESS_METADATA=1 CARGO_MANIFEST_DIR="$POL_ROOT/ml-worker/chain-api" "$bin" checked_in_metadata_is_the_runtimes --quiet
git status --short ml-worker/chain-api/metadata
echo "metadata rewritten; now: cargo build --release --workspace"
