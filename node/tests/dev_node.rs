//! `polchain-node --dev --tmp` produces and finalizes blocks, and serves its chain over RPC.

mod common;

use common::{wait_finalized, Node};
use jsonrpsee::{core::client::ClientT, rpc_params};

#[tokio::test(flavor = "multi_thread")]
async fn dev_node_finalizes_block_three() {
	let mut node = Node::start("dev", &["--dev"]);
	let finalized = wait_finalized(&mut node, 3).await;
	assert!(finalized >= 3);

	// The chain is the one our runtime describes, with ParityDB underneath.
	let client = node.client().await;
	let version: serde_json::Value =
		client.request("state_getRuntimeVersion", rpc_params![]).await.unwrap();
	assert_eq!(version["specName"], "polchain");
	let props: serde_json::Value =
		client.request("system_properties", rpc_params![]).await.unwrap();
	assert_eq!(props["tokenSymbol"], "POL");
	assert_eq!(props["tokenDecimals"], 12);
	assert!(
		std::fs::read_to_string(&node.log).unwrap().contains("Database: ParityDb"),
		"the node opens ParityDB:\n{}",
		node.log_tail()
	);
}
