//! Helpers for the node's end-to-end tests: start `polchain-node` processes on free loopback
//! ports and watch their finality over JSON-RPC.

#![allow(dead_code)]

use jsonrpsee::{
	core::client::ClientT,
	rpc_params,
	ws_client::{WsClient, WsClientBuilder},
};
use std::{
	net::TcpListener,
	path::PathBuf,
	process::{Child, Command, Stdio},
	time::{Duration, Instant},
};

/// The longest a test waits for a node to reach a block. Generous: the CI machine has two
/// cores and may be busy; a healthy node needs a few seconds per block.
pub const PATIENCE: Duration = Duration::from_secs(240);

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
	TcpListener::bind("127.0.0.1:0")
		.and_then(|l| l.local_addr())
		.map(|a| a.port())
		.expect("the OS hands out a free loopback port")
}

/// A running `polchain-node`, killed when dropped.
pub struct Node {
	pub name: String,
	pub rpc_port: u16,
	pub p2p_port: u16,
	pub log: PathBuf,
	child: Child,
}

impl Node {
	/// Starts `polchain-node` with `args`, on fresh RPC and p2p ports, logging to a file.
	pub fn start(name: &str, args: &[&str]) -> Node {
		let rpc_port = free_port();
		let p2p_port = free_port();
		let log = std::env::temp_dir()
			.join(format!("polchain-test-{}-{}-{name}.log", std::process::id(), rpc_port));
		let log_file = std::fs::File::create(&log).expect("log file can be created");
		let child = Command::new(env!("CARGO_BIN_EXE_polchain-node"))
			.args(args)
			.args([
				"--tmp",
				"--rpc-port",
				&rpc_port.to_string(),
				"--port",
				&p2p_port.to_string(),
				"--no-prometheus",
				"--no-telemetry",
				"--no-mdns",
				"--listen-addr",
				&format!("/ip4/127.0.0.1/tcp/{p2p_port}"),
			])
			.stdout(Stdio::null())
			.stderr(log_file)
			.spawn()
			.expect("polchain-node starts");
		Node { name: name.to_string(), rpc_port, p2p_port, log, child }
	}

	/// The node's log so far, for failure messages.
	pub fn log_tail(&self) -> String {
		let text = std::fs::read_to_string(&self.log).unwrap_or_default();
		let lines: Vec<&str> = text.lines().collect();
		lines[lines.len().saturating_sub(40)..].join("\n")
	}

	/// A WebSocket RPC client, retrying while the node starts.
	pub async fn client(&mut self) -> WsClient {
		let url = format!("ws://127.0.0.1:{}", self.rpc_port);
		let deadline = Instant::now() + PATIENCE;
		loop {
			if let Ok(Some(status)) = self.child.try_wait() {
				panic!("{} exited with {status} before serving RPC:\n{}", self.name, self.log_tail());
			}
			match WsClientBuilder::default().build(&url).await {
				Ok(client) => return client,
				Err(_) if Instant::now() < deadline =>
					tokio::time::sleep(Duration::from_millis(500)).await,
				Err(e) => panic!("{}: no RPC at {url}: {e}\n{}", self.name, self.log_tail()),
			}
		}
	}
}

impl Drop for Node {
	fn drop(&mut self) {
		let _ = self.child.kill();
		let _ = self.child.wait();
		if !std::thread::panicking() {
			let _ = std::fs::remove_file(&self.log);
		}
	}
}

/// The number of the node's last finalized block.
pub async fn finalized_number(client: &WsClient) -> u64 {
	let hash: String = client
		.request("chain_getFinalizedHead", rpc_params![])
		.await
		.expect("chain_getFinalizedHead answers");
	let header: serde_json::Value = client
		.request("chain_getHeader", rpc_params![hash])
		.await
		.expect("chain_getHeader answers");
	let number = header["number"].as_str().expect("a header has a hex number");
	u64::from_str_radix(number.trim_start_matches("0x"), 16).expect("the number is hex")
}

/// Waits until `node` has finalized block `target`; panics with its log after [`PATIENCE`].
pub async fn wait_finalized(node: &mut Node, target: u64) -> u64 {
	let client = node.client().await;
	let deadline = Instant::now() + PATIENCE;
	loop {
		let n = finalized_number(&client).await;
		if n >= target {
			return n;
		}
		if Instant::now() > deadline {
			panic!(
				"{} finalized only #{n} of #{target} in {PATIENCE:?}:\n{}",
				node.name,
				node.log_tail()
			);
		}
		tokio::time::sleep(Duration::from_millis(500)).await;
	}
}
