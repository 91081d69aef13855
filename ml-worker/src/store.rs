//! The artifact store: content-addressed files, served over HTTP (`GET /v1/artifacts/{hash}`),
//! and a client that checks the hash and a size limit before anything uses what it fetched.
//!
//! An artifact's address is the model hash of its tensors when it is a safetensors file (a
//! checkpoint, or a model), else the BLAKE2b-256 of its bytes (a manifest). The model hash is
//! what the chain knows (leaves, `final_model_hash`), so a validator can ask for a checkpoint by
//! the hash it read from a leaf and check what comes back against that same hash.

use crate::config::hex32;
use crate::model::hash_named;
use crate::proof::{read_safetensors, write_atomic, Manifest, MANIFEST_FILE};
use anyhow::{bail, ensure, Context, Result};
use pol_primitives::{hashing, Hash};
use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Default largest artifact, stored or fetched: 256 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 256 << 20;

/// The address of an artifact's bytes: the model hash of a safetensors file's tensors, or the
/// BLAKE2b-256 of any other bytes.
pub fn artifact_hash(bytes: &[u8]) -> Hash {
	if let Ok(tensors) = read_safetensors(bytes) {
		if let Ok(h) = hash_named(&tensors) {
			return h;
		}
	}
	hashing::hash(bytes)
}

/// A directory of artifacts, each in a file named by its hash.
#[derive(Clone, Debug)]
pub struct Store {
	dir: PathBuf,
	max_bytes: u64,
}

impl Store {
	/// Opens (creating) the store in `dir`, refusing artifacts over `max_bytes`.
	pub fn open(dir: &Path, max_bytes: u64) -> Result<Store> {
		std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
		Ok(Store {
			dir: dir.to_path_buf(),
			max_bytes,
		})
	}

	/// The store's directory.
	pub fn dir(&self) -> &Path {
		&self.dir
	}

	/// The file of artifact `hash`, if stored.
	pub fn path(&self, hash: &Hash) -> Option<PathBuf> {
		let p = self.dir.join(hex::encode(hash.0));
		p.is_file().then_some(p)
	}

	/// Stores `bytes` under their hash; returns it.
	pub fn put(&self, bytes: &[u8]) -> Result<Hash> {
		ensure!(
			bytes.len() as u64 <= self.max_bytes,
			"artifact of {} bytes is over the store's limit of {} bytes",
			bytes.len(),
			self.max_bytes
		);
		let hash = artifact_hash(bytes);
		let path = self.dir.join(hex::encode(hash.0));
		if !path.exists() {
			write_atomic(&path, bytes)?;
		}
		Ok(hash)
	}

	/// Stores `bytes` only if they hash to `expected`.
	pub fn put_checked(&self, bytes: &[u8], expected: &Hash) -> Result<()> {
		let actual = artifact_hash(bytes);
		ensure!(
			&actual == expected,
			"artifact hashes to {}, expected {}",
			hex32(&actual.0),
			hex32(&expected.0)
		);
		self.put(bytes).map(|_| ())
	}

	/// The bytes of artifact `hash`, checked against it (a store on disk can rot too).
	pub fn get(&self, hash: &Hash) -> Result<Vec<u8>> {
		let path = self
			.path(hash)
			.with_context(|| format!("artifact {} is not in the store", hex32(&hash.0)))?;
		let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
		let actual = artifact_hash(&bytes);
		ensure!(
			&actual == hash,
			"stored artifact {} is corrupt (hashes to {})",
			hex32(&hash.0),
			hex32(&actual.0)
		);
		Ok(bytes)
	}

	/// Stores a proof bundle: every checkpoint (by its leaf's model hash; the last one is the
	/// `final_model_hash`), and the manifest (by its BLAKE2b-256). Returns the manifest's hash.
	pub fn put_bundle(&self, bundle: &Path) -> Result<Hash> {
		let manifest = Manifest::read(bundle)?;
		for j in 0..manifest.checkpoints.len() as u32 {
			let path = crate::proof::checkpoint_path(bundle, &manifest, j)?;
			let bytes =
				std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
			let expected = crate::config::parse_hash(&manifest.checkpoints[j as usize].model_hash)?;
			self.put_checked(&bytes, &expected)
				.with_context(|| format!("checkpoint {j} of {}", bundle.display()))?;
		}
		let manifest_bytes = std::fs::read(bundle.join(MANIFEST_FILE))?;
		self.put(&manifest_bytes)
	}
}

/// How a dishonest miner's server misbehaves (`pol-worker miner --fault withhold|frame`).
#[derive(Debug, Default)]
pub struct ServeFaults {
	/// Never served (404): a withheld checkpoint.
	pub withheld: std::collections::BTreeSet<Hash>,
	/// Served corrupt to the first request, intact afterwards: framing the first asker.
	pub framed: std::collections::BTreeSet<Hash>,
}

/// A running artifact server.
pub struct ServerHandle {
	/// Where it listens.
	pub addr: SocketAddr,
	server: Arc<tiny_http::Server>,
	thread: Option<std::thread::JoinHandle<()>>,
	served: Arc<Mutex<Vec<Hash>>>,
	faults: Arc<Mutex<ServeFaults>>,
}

impl ServerHandle {
	/// The base URL, `http://addr`.
	pub fn url(&self) -> String {
		format!("http://{}", self.addr)
	}

	/// How this server misbehaves: empty unless a dishonest miner sets it.
	pub fn faults(&self) -> Arc<Mutex<ServeFaults>> {
		self.faults.clone()
	}

	/// The artifacts served so far (200 responses), in order: what clients fetched.
	pub fn served(&self) -> Vec<Hash> {
		self.served.lock().map(|v| v.clone()).unwrap_or_default()
	}

	/// Stops the server and waits for it.
	pub fn stop(mut self) {
		self.server.unblock();
		if let Some(t) = self.thread.take() {
			let _ = t.join();
		}
	}

	/// Serves until the process ends.
	pub fn wait(mut self) {
		if let Some(t) = self.thread.take() {
			let _ = t.join();
		}
	}
}

/// Starts serving `store` on `addr` (e.g. `127.0.0.1:8700`; port 0 picks a free one).
pub fn serve(store: Store, addr: &str) -> Result<ServerHandle> {
	let server =
		tiny_http::Server::http(addr).map_err(|e| anyhow::anyhow!("listening on {addr}: {e}"))?;
	let server = Arc::new(server);
	let local = server
		.server_addr()
		.to_ip()
		.context("the server listens on no IP address")?;
	let s = server.clone();
	let dir = store.dir().display().to_string();
	let served = Arc::new(Mutex::new(Vec::new()));
	let record = served.clone();
	let faults = Arc::new(Mutex::new(ServeFaults::default()));
	let misbehave = faults.clone();
	let thread = std::thread::spawn(move || {
		for request in s.incoming_requests() {
			let store = store.clone();
			let record = record.clone();
			let misbehave = misbehave.clone();
			// One thread per request: a slow client must not hold up the others.
			std::thread::spawn(move || {
				if let Err(e) = respond(&store, request, &record, &misbehave) {
					log::debug!("artifact request failed: {e:#}");
				}
			});
		}
	});
	log::info!("serving artifacts from {dir} on http://{local}");
	Ok(ServerHandle {
		addr: local,
		server,
		thread: Some(thread),
		served,
		faults,
	})
}

fn respond(
	store: &Store,
	request: tiny_http::Request,
	served: &Mutex<Vec<Hash>>,
	faults: &Mutex<ServeFaults>,
) -> Result<()> {
	let url = request.url().to_string();
	log::debug!("{} {url}", request.method());
	let text = |code: u16, body: String| {
		tiny_http::Response::from_string(body + "\n").with_status_code(code)
	};
	if request.method() != &tiny_http::Method::Get {
		return Ok(request.respond(text(405, "only GET".into()))?);
	}
	if url == "/v1/health" {
		return Ok(request.respond(text(200, "ok".into()))?);
	}
	let Some(hash_text) = url.strip_prefix("/v1/artifacts/") else {
		return Ok(request.respond(text(404, "no such route".into()))?);
	};
	let Ok(hash) = crate::config::parse_hash(hash_text) else {
		return Ok(request.respond(text(400, "not a 32-byte hex hash".into()))?);
	};
	let (withheld, framed) = match faults.lock() {
		Ok(mut f) => (f.withheld.contains(&hash), f.framed.remove(&hash)),
		Err(_) => (false, false),
	};
	let path = store.path(&hash).filter(|_| !withheld);
	let Some(path) = path else {
		return Ok(request.respond(text(404, format!("no artifact {}", hex32(&hash.0))))?);
	};
	if let Ok(mut list) = served.lock() {
		list.push(hash);
	}
	let header =
		tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/octet-stream"[..])
			.map_err(|_| anyhow::anyhow!("bad header"))?;
	if framed {
		let mut bytes = std::fs::read(&path)?;
		if let Some(last) = bytes.last_mut() {
			*last ^= 0x5a;
		}
		return Ok(request.respond(tiny_http::Response::from_data(bytes).with_header(header))?);
	}
	let file = std::fs::File::open(&path)?;
	Ok(request.respond(tiny_http::Response::from_file(file).with_header(header))?)
}

/// Why a fetch failed.
#[derive(Debug)]
pub enum FetchError {
	/// The URL is not `http://host[:port]/path`.
	BadUrl(String),
	/// The server could not be reached or the connection broke.
	Io(std::io::Error),
	/// The server answered 404.
	NotFound,
	/// The server answered another non-200 status.
	Status(u16),
	/// The response is not HTTP/1.x as expected.
	BadResponse(String),
	/// The artifact is larger than the limit.
	TooLarge {
		/// The limit.
		limit: u64,
		/// The announced size, or `None` when it ran over while reading.
		size: Option<u64>,
	},
	/// The bytes do not hash to the hash asked for.
	HashMismatch {
		/// Asked for.
		expected: Hash,
		/// Got.
		actual: Hash,
	},
}

impl fmt::Display for FetchError {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		match self {
			FetchError::BadUrl(u) => write!(f, "bad artifact URL {u:?} (want http://host:port/…)"),
			FetchError::Io(e) => write!(f, "artifact server unreachable or connection broken: {e}"),
			FetchError::NotFound => write!(f, "the artifact is missing on the server (404)"),
			FetchError::Status(c) => write!(f, "the artifact server answered HTTP {c}"),
			FetchError::BadResponse(why) => write!(f, "malformed HTTP response: {why}"),
			FetchError::TooLarge {
				limit,
				size: Some(s),
			} => write!(f, "the artifact is {s} bytes, over the limit of {limit}"),
			FetchError::TooLarge { limit, size: None } => {
				write!(f, "the artifact runs over the limit of {limit} bytes")
			}
			FetchError::HashMismatch { expected, actual } => write!(
				f,
				"corrupt artifact: asked for {}, the bytes hash to {}",
				hex32(&expected.0),
				hex32(&actual.0)
			),
		}
	}
}

impl std::error::Error for FetchError {}

impl From<std::io::Error> for FetchError {
	fn from(e: std::io::Error) -> Self {
		FetchError::Io(e)
	}
}

/// `base/v1/artifacts/<hash>`.
pub fn artifact_url(base: &str, hash: &Hash) -> String {
	format!(
		"{}/v1/artifacts/{}",
		base.trim_end_matches('/'),
		hex32(&hash.0)
	)
}

/// Fetches artifact `expected` from `base` (`http://host:port`), at most `max_bytes`, and
/// checks its hash before handing it back.
pub fn fetch(
	base: &str,
	expected: &Hash,
	max_bytes: u64,
	progress: bool,
) -> std::result::Result<Vec<u8>, FetchError> {
	let bytes = http_get(&artifact_url(base, expected), max_bytes, progress)?;
	let actual = artifact_hash(&bytes);
	if &actual != expected {
		return Err(FetchError::HashMismatch {
			expected: *expected,
			actual,
		});
	}
	Ok(bytes)
}

/// A plain HTTP/1.1 GET of at most `max_bytes` of body. Small on purpose: artifact servers are
/// other workers' `pol-worker serve`, and TLS, if wanted, belongs to a proxy in front.
pub fn http_get(
	url: &str,
	max_bytes: u64,
	progress: bool,
) -> std::result::Result<Vec<u8>, FetchError> {
	let rest = url
		.strip_prefix("http://")
		.ok_or_else(|| FetchError::BadUrl(url.into()))?;
	let (host, path) = match rest.find('/') {
		Some(i) => (&rest[..i], &rest[i..]),
		None => (rest, "/"),
	};
	if host.is_empty() || host.contains(char::is_whitespace) || path.contains(char::is_whitespace) {
		return Err(FetchError::BadUrl(url.into()));
	}
	let authority = if host.contains(':') {
		host.to_string()
	} else {
		format!("{host}:80")
	};
	let addr = authority
		.to_socket_addrs()
		.map_err(|_| FetchError::BadUrl(url.into()))?
		.next()
		.ok_or_else(|| FetchError::BadUrl(url.into()))?;
	let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
	stream.set_read_timeout(Some(Duration::from_secs(60)))?;
	stream.set_write_timeout(Some(Duration::from_secs(30)))?;
	write!(
		stream,
		"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: pol-worker\r\nConnection: close\r\n\r\n"
	)?;
	// Headers, up to 64 KiB.
	let mut buf = Vec::new();
	let mut chunk = [0u8; 8192];
	let header_end = loop {
		if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
			break i + 4;
		}
		if buf.len() > 64 << 10 {
			return Err(FetchError::BadResponse("headers over 64 KiB".into()));
		}
		let n = stream.read(&mut chunk)?;
		if n == 0 {
			return Err(FetchError::BadResponse(
				"connection closed in the headers".into(),
			));
		}
		buf.extend_from_slice(&chunk[..n]);
	};
	let head = std::str::from_utf8(&buf[..header_end])
		.map_err(|_| FetchError::BadResponse("headers are not text".into()))?;
	let mut lines = head.split("\r\n");
	let status_line = lines.next().unwrap_or("");
	let mut parts = status_line.split_whitespace();
	let version = parts.next().unwrap_or("");
	if !version.starts_with("HTTP/1.") {
		return Err(FetchError::BadResponse(format!(
			"status line {status_line:?}"
		)));
	}
	let code: u16 = parts
		.next()
		.and_then(|c| c.parse().ok())
		.ok_or_else(|| FetchError::BadResponse(format!("status line {status_line:?}")))?;
	let mut length: Option<u64> = None;
	let mut chunked = false;
	for line in lines {
		if let Some((k, v)) = line.split_once(':') {
			let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
			if k == "content-length" {
				length = Some(
					v.parse()
						.map_err(|_| FetchError::BadResponse(format!("Content-Length {v:?}")))?,
				);
			} else if k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked") {
				chunked = true;
			}
		}
	}
	match code {
		200 => {}
		404 => return Err(FetchError::NotFound),
		c => return Err(FetchError::Status(c)),
	}
	if let Some(len) = length {
		if len > max_bytes {
			return Err(FetchError::TooLarge {
				limit: max_bytes,
				size: Some(len),
			});
		}
	}
	let bar = crate::train::progress_bar(progress, length.unwrap_or(0), "download");
	let mut raw = buf[header_end..].to_vec();
	// Chunked framing adds a little; allow for it while reading, check the body after.
	let cap = max_bytes.saturating_add(if chunked { 1 << 20 } else { 0 });
	loop {
		if raw.len() as u64 > cap {
			return Err(FetchError::TooLarge {
				limit: max_bytes,
				size: None,
			});
		}
		if let Some(len) = length {
			if raw.len() as u64 >= len {
				break;
			}
		}
		let n = stream.read(&mut chunk)?;
		if n == 0 {
			break;
		}
		raw.extend_from_slice(&chunk[..n]);
		bar.set_position(raw.len() as u64);
	}
	bar.finish_and_clear();
	let body = if chunked {
		dechunk(&raw)?
	} else {
		if let Some(len) = length {
			if (raw.len() as u64) < len {
				return Err(FetchError::BadResponse(format!(
					"body of {} bytes, {len} announced",
					raw.len()
				)));
			}
			raw.truncate(len as usize);
		}
		raw
	};
	if body.len() as u64 > max_bytes {
		return Err(FetchError::TooLarge {
			limit: max_bytes,
			size: Some(body.len() as u64),
		});
	}
	Ok(body)
}

fn dechunk(raw: &[u8]) -> std::result::Result<Vec<u8>, FetchError> {
	let bad = |why: &str| FetchError::BadResponse(format!("chunked body: {why}"));
	let mut out = Vec::new();
	let mut at = 0usize;
	loop {
		let line_end = raw[at..]
			.windows(2)
			.position(|w| w == b"\r\n")
			.ok_or_else(|| bad("no chunk size"))?;
		let size_text = std::str::from_utf8(&raw[at..at + line_end]).map_err(|_| bad("size"))?;
		let size_text = size_text.split(';').next().unwrap_or("").trim();
		let size = usize::from_str_radix(size_text, 16).map_err(|_| bad("size"))?;
		at += line_end + 2;
		if size == 0 {
			return Ok(out);
		}
		let end = at.checked_add(size).ok_or_else(|| bad("size"))?;
		if end + 2 > raw.len() {
			return Err(bad("truncated"));
		}
		out.extend_from_slice(&raw[at..end]);
		at = end + 2;
	}
}

/// Fetches a bundle's manifest from `base` by its hash into `dir` (created); returns its size in
/// bytes. The checkpoints are fetched as a verification needs them
/// ([`crate::verify::verify_remote`]).
pub fn fetch_manifest(
	base: &str,
	manifest_hash: &Hash,
	dir: &Path,
	max_bytes: u64,
	progress: bool,
) -> Result<u64> {
	std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
	let bytes = fetch(base, manifest_hash, max_bytes, progress).context("fetching the manifest")?;
	write_atomic(&dir.join(MANIFEST_FILE), &bytes)?;
	Ok(bytes.len() as u64)
}

/// Fetches a whole bundle from `base` into `dir`: the manifest by its hash, then every
/// checkpoint by its leaf's model hash.
pub fn fetch_bundle(
	base: &str,
	manifest_hash: &Hash,
	dir: &Path,
	max_bytes: u64,
	progress: bool,
) -> Result<Manifest> {
	std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
	let bytes = fetch(base, manifest_hash, max_bytes, progress).context("fetching the manifest")?;
	write_atomic(&dir.join(MANIFEST_FILE), &bytes)?;
	let manifest = Manifest::read(dir)?;
	for j in 0..manifest.checkpoints.len() as u32 {
		let hash = crate::config::parse_hash(&manifest.checkpoints[j as usize].model_hash)?;
		let path = crate::proof::checkpoint_path(dir, &manifest, j)?;
		let bytes = fetch(base, &hash, max_bytes, progress)
			.with_context(|| format!("fetching checkpoint {j}"))?;
		write_atomic(&path, &bytes)?;
	}
	if manifest.checkpoints.is_empty() {
		bail!("the manifest lists no checkpoints");
	}
	Ok(manifest)
}
