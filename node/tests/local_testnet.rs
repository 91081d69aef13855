//! A `local_testnet` of three authorities on loopback finalizes blocks: GRANDPA needs votes
//! from two of the three, so finality proves that the nodes found each other and agree.

mod common;

use common::Node;
use serde_json::json;

/// Alice's fixed node key, so the others can name her as their boot node.
const ALICE_NODE_KEY: &str = "0000000000000000000000000000000000000000000000000000000000000001";
/// The libp2p peer id of that key.
const ALICE_PEER_ID: &str = "12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp";

#[test]
fn three_authorities_finalize() {
	let mut alice = Node::start(
		"alice",
		&["--chain", "local", "--alice", "--node-key", ALICE_NODE_KEY],
	);
	let boot = format!("/ip4/127.0.0.1/tcp/{}/p2p/{ALICE_PEER_ID}", alice.p2p_port);
	// A validator of a live chain must be given its network key (it will not invent one).
	let key = |i: u8| format!("{i:064x}");
	let (bob_key, charlie_key) = (key(2), key(3));
	let mut bob = Node::start(
		"bob",
		&[
			"--chain",
			"local",
			"--bob",
			"--node-key",
			&bob_key,
			"--bootnodes",
			&boot,
		],
	);
	let mut charlie = Node::start(
		"charlie",
		&[
			"--chain",
			"local",
			"--charlie",
			"--node-key",
			&charlie_key,
			"--bootnodes",
			&boot,
		],
	);

	for node in [&mut alice, &mut bob, &mut charlie] {
		node.wait_finalized(3);
	}
	// Each sees both others, and all three finalize the same block 3.
	let mut hashes = Vec::new();
	for node in [&mut alice, &mut bob, &mut charlie] {
		let health = node.call("system_health", json!([]));
		assert_eq!(
			health["peers"], 2,
			"{} should see both other nodes",
			node.name
		);
		hashes.push(node.call("chain_getBlockHash", json!([3])));
	}
	assert!(
		hashes.windows(2).all(|w| w[0] == w[1]),
		"one chain: {hashes:?}"
	);
}
