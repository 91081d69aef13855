//! `polchain-node --dev --tmp` produces and finalizes blocks, and serves its chain over RPC.

mod common;

use common::Node;
use serde_json::json;

#[test]
fn dev_node_finalizes_block_three() {
	let mut node = Node::start("dev", &["--dev"]);
	assert!(node.wait_finalized(3) >= 3);

	// The chain is the one our runtime describes, stored in ParityDB.
	let version = node.call("state_getRuntimeVersion", json!([]));
	assert_eq!(version["specName"], "polchain");
	let props = node.call("system_properties", json!([]));
	assert_eq!(props["tokenSymbol"], "POL");
	assert_eq!(props["tokenDecimals"], 12);
	let log = std::fs::read_to_string(&node.log).expect("the log is readable");
	assert!(
		log.contains("Database: ParityDb"),
		"the node opens ParityDB:\n{}",
		node.log_tail()
	);

	// The `pol_*` RPC serves the runtime API `PolApi` as JSON: Alice, the genesis validator,
	// is the one authority; no task exists yet.
	let validators = node.call("pol_validators", json!([]));
	assert_eq!(
		validators.as_array().map(|v| v.len()),
		Some(1),
		"{validators}"
	);
	assert_eq!(
		validators[0]["account"],
		"5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
	);
	assert_eq!(validators[0]["stake"], "10000000000000000");
	assert_eq!(validators[0]["authority"], true);
	assert_eq!(node.call("pol_taskIds", json!([])), json!([]));
	assert_eq!(node.call("pol_runningTasks", json!([])), json!([]));
	assert_eq!(node.call("pol_task", json!([0])), json!(null));
	assert_eq!(node.call("pol_roundStatus", json!([0])), json!(null));
	assert_eq!(node.call("pol_leaderboard", json!([5])), json!([]));

	// Prometheus metrics are served.
	let metrics = common::http_get(node.prometheus_port, "/metrics").expect("metrics are served");
	assert!(
		metrics.contains("substrate_block_height"),
		"metrics list the block height"
	);
}
