#!/usr/bin/env bash
# Writes a chain spec of N authorities (1 ≤ N ≤ 6: alice, bob, charlie, dave, eve, ferdie) to
# OUT.json: the `local` chain spec with each of them bonded as a validator in
# `polStaking.stakers` (10,000 POL, like the genesis authorities) and given session keys (Aura:
# its sr25519 key; GRANDPA: its ed25519 key, as `polchain-node --<name>` inserts them).
#
#   scripts/chainspec.sh 4 /tmp/polchain-4.json
#   polchain-node --chain /tmp/polchain-4.json --dave …
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

usage() { echo "usage: $0 N OUT.json   (1 ≤ N ≤ 6 authorities: alice bob charlie dave eve ferdie)" >&2; exit 2; }
[ $# -eq 2 ] || usage
n="$1" out="$2"
[[ "$n" =~ ^[1-6]$ ]] || usage
node_bin="${POL_NODE_BIN:-$POL_BIN/polchain-node}"
[ -x "$node_bin" ] || { echo "error: no polchain-node at $node_bin (build it: cargo build --release)" >&2; exit 1; }

names=(Alice Bob Charlie Dave Eve Ferdie)
base="$(mktemp)"
errors="$(mktemp)"
trap 'rm -f "$base" "$errors"' EXIT
# The node's log goes to a file, shown only if it fails (a full disk, a broken binary).
if ! "$node_bin" build-spec --chain local 2>"$errors" >"$base"; then
	echo "error: $node_bin build-spec --chain local failed:" >&2
	tail -n 20 "$errors" >&2
	df -h "$(dirname "$out")" >&2 || true
	exit 1
fi

# One line per authority: ss58 of its sr25519 key (account and Aura), ss58 of its ed25519 key.
keys=""
for name in "${names[@]:0:$n}"; do
	sr="$("$node_bin" key inspect --scheme sr25519 "//$name" --output-type json)"
	ed="$("$node_bin" key inspect --scheme ed25519 "//$name" --output-type json)"
	keys+="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["ss58Address"], json.loads(sys.argv[2])["ss58Address"])' "$sr" "$ed")"$'\n'
done

# The spec carries the runtime's genesis as a JSON patch over its defaults (genesis.runtimeGenesis.
# patch); lists in it replace the preset's, so the stakers and the session keys are written whole.
POL_AUTHORITY_KEYS="$keys" python3 - "$base" "$out" "$n" <<'PY'
import json, os, sys
base, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
spec = json.load(open(base))
patch = spec["genesis"]["runtimeGenesis"]["patch"]
bond = patch["polStaking"]["stakers"][0][2]  # the preset's genesis validator bond
authorities = [line.split() for line in os.environ["POL_AUTHORITY_KEYS"].splitlines() if line.strip()]
assert len(authorities) == n, authorities
endowed = {acc for acc, _ in patch["balances"]["balances"]}
for sr, _ in authorities:
    assert sr in endowed, f"{sr} is not endowed in the local spec"
patch["polStaking"]["stakers"] = [[sr, "Validator", bond] for sr, _ in authorities]
patch["session"]["keys"] = [[sr, sr, {"aura": sr, "grandpa": ed}] for sr, ed in authorities]
spec["name"] = f"polchain local testnet ({n} authorities)"
spec["id"] = f"polchain_local_{n}"
# The local spec names a boot node on 30333 with another key; the caller passes --bootnodes.
spec["bootNodes"] = []
with open(out, "w") as f:
    json.dump(spec, f, indent=1)
    f.write("\n")
PY
echo "chain spec of $n authorities (${names[*]:0:$n}) written to $out"
