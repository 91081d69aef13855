//! Helpers for the node's end-to-end tests: start `polchain-node` processes on free loopback
//! ports and watch their finality over JSON-RPC.
//!
//! The RPC client is a few lines of HTTP/1.1 over `std::net`: the node's dev-dependencies add
//! no crate features, so `cargo test` reuses the crates `cargo build` compiled.

#![allow(dead_code)]

use serde_json::{json, Value};
use std::{
	io::{Read, Write},
	net::{TcpListener, TcpStream},
	path::PathBuf,
	process::{Child, Command, Stdio},
	thread::sleep,
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

/// The body of an HTTP GET on loopback.
pub fn http_get(port: u16, path: &str) -> Result<String, String> {
	let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
	stream
		.set_read_timeout(Some(Duration::from_secs(30)))
		.map_err(|e| e.to_string())?;
	write!(
		stream,
		"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
	)
	.map_err(|e| e.to_string())?;
	let mut response = String::new();
	stream
		.read_to_string(&mut response)
		.map_err(|e| e.to_string())?;
	let (head, body) = response.split_once("\r\n\r\n").ok_or("no HTTP body")?;
	if !head.starts_with("HTTP/1.1 200") {
		return Err(format!("GET {path}: {head}"));
	}
	Ok(body.to_string())
}

/// One JSON-RPC call over HTTP; `Err` when the node is not (yet) answering.
pub fn rpc(port: u16, method: &str, params: Value) -> Result<Value, String> {
	let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }).to_string();
	let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
	stream
		.set_read_timeout(Some(Duration::from_secs(30)))
		.map_err(|e| e.to_string())?;
	write!(
		stream,
		"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
		 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
		body.len()
	)
	.map_err(|e| e.to_string())?;
	let mut response = String::new();
	stream
		.read_to_string(&mut response)
		.map_err(|e| e.to_string())?;
	let (_, payload) = response.split_once("\r\n\r\n").ok_or("no HTTP body")?;
	let reply: Value = serde_json::from_str(payload).map_err(|e| format!("{e}: {payload}"))?;
	match reply.get("result") {
		Some(result) => Ok(result.clone()),
		None => Err(format!("{method} failed: {reply}")),
	}
}

/// A running `polchain-node`, killed when dropped.
pub struct Node {
	pub name: String,
	pub rpc_port: u16,
	pub p2p_port: u16,
	pub prometheus_port: u16,
	pub log: PathBuf,
	child: Child,
}

impl Node {
	/// Starts `polchain-node` with `args`, on fresh RPC and p2p ports, logging to a file.
	pub fn start(name: &str, args: &[&str]) -> Node {
		let rpc_port = free_port();
		let p2p_port = free_port();
		let prometheus_port = free_port();
		let log = std::env::temp_dir().join(format!(
			"polchain-test-{}-{}-{name}.log",
			std::process::id(),
			rpc_port
		));
		let log_file = std::fs::File::create(&log).expect("log file can be created");
		let child = Command::new(env!("CARGO_BIN_EXE_polchain-node"))
			.args(args)
			.args([
				"--tmp",
				"--rpc-port",
				&rpc_port.to_string(),
				"--prometheus-port",
				&prometheus_port.to_string(),
				"--no-telemetry",
				"--no-mdns",
				"--listen-addr",
				&format!("/ip4/127.0.0.1/tcp/{p2p_port}"),
			])
			.stdout(Stdio::null())
			.stderr(log_file)
			.spawn()
			.expect("polchain-node starts");
		Node {
			name: name.to_string(),
			rpc_port,
			p2p_port,
			prometheus_port,
			log,
			child,
		}
	}

	/// The last lines of the node's log, for failure messages.
	pub fn log_tail(&self) -> String {
		let text = std::fs::read_to_string(&self.log).unwrap_or_default();
		let lines: Vec<&str> = text.lines().collect();
		lines[lines.len().saturating_sub(40)..].join("\n")
	}

	/// A JSON-RPC call, retried while the node starts; panics with the log after [`PATIENCE`].
	pub fn call(&mut self, method: &str, params: Value) -> Value {
		let deadline = Instant::now() + PATIENCE;
		loop {
			if let Ok(Some(status)) = self.child.try_wait() {
				panic!("{} exited with {status}:\n{}", self.name, self.log_tail());
			}
			match rpc(self.rpc_port, method, params.clone()) {
				Ok(v) => return v,
				Err(_) if Instant::now() < deadline => sleep(Duration::from_millis(500)),
				Err(e) => panic!("{}: {e}\n{}", self.name, self.log_tail()),
			}
		}
	}

	/// The number of the node's last finalized block.
	pub fn finalized_number(&mut self) -> u64 {
		let hash = self.call("chain_getFinalizedHead", json!([]));
		let header = self.call("chain_getHeader", json!([hash]));
		let number = header["number"]
			.as_str()
			.expect("a header has a hex number");
		u64::from_str_radix(number.trim_start_matches("0x"), 16).expect("the number is hex")
	}

	/// Waits until the node has finalized block `target`; panics with its log after
	/// [`PATIENCE`].
	pub fn wait_finalized(&mut self, target: u64) -> u64 {
		let deadline = Instant::now() + PATIENCE;
		loop {
			let n = self.finalized_number();
			if n >= target {
				return n;
			}
			if Instant::now() > deadline {
				panic!(
					"{} finalized only #{n} of #{target} in {PATIENCE:?}:\n{}",
					self.name,
					self.log_tail()
				);
			}
			sleep(Duration::from_millis(500));
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
