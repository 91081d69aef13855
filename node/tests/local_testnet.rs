//! A `local_testnet` of three authorities on loopback finalizes blocks: GRANDPA needs votes
//! from two of the three, so finality proves that the nodes found each other and agree.

mod common;

use common::{finalized_number, wait_finalized, Node};
use jsonrpsee::{core::client::ClientT, rpc_params};

/// Alice's fixed node key, so the others can name her as their boot node.
const ALICE_NODE_KEY: &str = "0000000000000000000000000000000000000000000000000000000000000001";
/// The libp2p peer id of that key.
const ALICE_PEER_ID: &str = "12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp";

#[tokio::test(flavor = "multi_thread")]
async fn three_authorities_finalize() {
	let mut alice =
		Node::start("alice", &["--chain", "local", "--alice", "--node-key", ALICE_NODE_KEY]);
	let boot = format!("/ip4/127.0.0.1/tcp/{}/p2p/{ALICE_PEER_ID}", alice.p2p_port);
	let mut bob = Node::start("bob", &["--chain", "local", "--bob", "--bootnodes", &boot]);
	let mut charlie =
		Node::start("charlie", &["--chain", "local", "--charlie", "--bootnodes", &boot]);

	for node in [&mut alice, &mut bob, &mut charlie] {
		wait_finalized(node, 3).await;
	}

	// All three see the same three authorities and are connected to both others.
	for node in [&mut alice, &mut bob, &mut charlie] {
		let client = node.client().await;
		let health: serde_json::Value =
			client.request("system_health", rpc_params![]).await.unwrap();
		assert_eq!(health["peers"], 2, "{} should see both other nodes", node.name);
		assert!(finalized_number(&client).await >= 3);
	}
}
