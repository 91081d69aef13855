//! The artifact server: `GET /v1/artifacts/{hash}` (with byte ranges) and `GET /v1/health`,
//! on hyper's HTTP/1 over one small tokio runtime, built for a hostile network.
//!
//! Every peer may be an attacker holding connections open: the server caps connections per
//! peer (an IPv4 address, an IPv6 /64: [`peer_key`]) and in total (answering 503 to the rest),
//! and at the total cap gives a newcomer that holds fewer connections than the heaviest peer one
//! of that peer's instead ([`ServerLimits::max_connections`]), so that an outsider holding the
//! cap from a few addresses cannot lock a validator out of a miner's checkpoints. It bounds the
//! time to send a request head, drops a connection that makes no progress for a while and any
//! connection that lives too long, and never spawns a thread per connection. A failed `accept` (say, out of file
//! descriptors) is logged and retried, never the end of the server; if the server stops anyway,
//! [`ServerHandle::check`] says so and the worker exits non-zero for its supervisor to restart.

use super::Store;
use crate::config::{hex32, parse_hash};
use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use pol_primitives::Hash;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::SeekFrom;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncSeekExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio_util::io::ReaderStream;

/// How much a server gives each peer, and everyone together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerLimits {
	/// Open connections at once. At the cap, a connection from a peer that holds at least two
	/// fewer than the peer holding the most takes the place of one of that peer's (the fair
	/// share: an outsider that fills the cap from a few addresses cannot keep a validator out);
	/// any other gets 503.
	pub max_connections: usize,
	/// Open connections at once from one peer ([`peer_key`]: an IPv4 address, an IPv6 /64);
	/// more get 503.
	pub max_per_peer: usize,
	/// Time a client has to send its request head.
	pub header_timeout: Duration,
	/// A connection that reads or writes nothing for this long is closed.
	pub stall_timeout: Duration,
	/// No connection lives longer than this, however it trickles.
	pub max_connection_time: Duration,
}

impl Default for ServerLimits {
	fn default() -> Self {
		ServerLimits {
			// An idle connection costs a task, two socket buffers and a file descriptor (and a
			// second descriptor while it reads an artifact): about 1024 of them fit in a few
			// tens of MiB and, with the file descriptor limit raised ([`serve_with`]), in the
			// descriptors of any host. The more there are, the more distinct addresses an
			// outsider needs to fill the cap with one connection each, the one flood the fair
			// share cannot answer (32 per peer fill 1024 from 32 addresses, but those lose their
			// connections to any newcomer; one each needs about 1024 addresses).
			max_connections: 1024,
			// Twice what one validator opens to an honest miner's server: 8 lanes for the
			// miner's artifacts and 8 for its other fetches (final models,
			// [`crate::store::lanes_for`]), so two validators behind one address are let in too.
			max_per_peer: 32,
			header_timeout: Duration::from_secs(10),
			stall_timeout: Duration::from_secs(20),
			max_connection_time: Duration::from_secs(600),
		}
	}
}

/// How a dishonest miner's server misbehaves (`pol-worker miner --fault
/// withhold|frame|manifest-only|stall-voters`).
#[derive(Debug, Default)]
pub struct ServeFaults {
	/// Never served (404): a withheld checkpoint.
	pub withheld: BTreeSet<Hash>,
	/// Served corrupt to the first request, intact afterwards: framing the first asker.
	pub framed: BTreeSet<Hash>,
	/// Answered `200` but never delivered, each in its way: a fetch held until the fetcher's
	/// deadline, to pass as the fetcher's own lateness.
	pub stalled: BTreeMap<Hash, Stall>,
	/// Served intact to the first request, then stalled ([`Stall::Hang`]) for every later one:
	/// the first asker gets it, nobody after it does.
	pub served_once: BTreeSet<Hash>,
}

/// How a [`ServeFaults::stalled`] artifact is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stall {
	/// A Content-Length of [`super::DEFAULT_MAX_BYTES`] and zeros trickled at
	/// [`STALL_BYTES_PER_SEC`], just above the clients' minimum rate: a legal stream that ends
	/// long after any deadline.
	Trickle,
	/// The artifact's own Content-Length, its first bytes, then nothing: a response that stops
	/// before the minimum rate is ever measured again.
	Hang,
	/// The artifact as it is, its response head held back this long first: legal within the
	/// clients' grace, it keeps a lane busy (a server that owes a batch spends the batch's time
	/// on it).
	Late(Duration),
}

/// The rate a [`Stall::Trickle`] sends at: above the 64 KiB/s a client requires.
pub const STALL_BYTES_PER_SEC: u64 = 72 << 10;

/// The most recent artifacts served that a handle remembers (for tests and logs).
const SERVED_LOG: usize = 4096;

/// What the server counts, for operators.
#[derive(Debug, Default)]
pub struct ServerStats {
	/// Artifacts served (200 and 206).
	pub served: AtomicU64,
	/// Bytes of artifact bodies handed to the connection.
	pub bytes: AtomicU64,
	/// Connections refused with 503 (over a cap).
	pub refused: AtomicU64,
	/// Connections closed at the total cap to make room for a peer that held fewer
	/// ([`ServerLimits::max_connections`]).
	pub evicted: AtomicU64,
	/// Connections closed for a timeout.
	pub timed_out: AtomicU64,
}

struct Shared {
	store: Store,
	faults: Arc<Mutex<ServeFaults>>,
	served: Mutex<VecDeque<Hash>>,
	stats: Arc<ServerStats>,
	peers: Mutex<Peers>,
	limits: ServerLimits,
}

/// The open connections, by peer ([`peer_key`]).
#[derive(Default)]
struct Peers {
	/// Open connections in all.
	total: usize,
	/// The next connection's number: numbers grow with the time of admission.
	next: u64,
	/// Each peer's open connections, by number (oldest first), each with the sender that
	/// closes it.
	by_peer: BTreeMap<IpAddr, BTreeMap<u64, tokio::sync::oneshot::Sender<()>>>,
}

/// The key a peer's connections are counted under for [`ServerLimits::max_per_peer`] and the
/// fair share: an IPv4 address as it is; an IPv6 address by its /64 prefix, since one host is
/// commonly given a whole /64 and could otherwise open each connection from an address of its
/// own; an IPv4 address mapped into IPv6 (a dual-stack listener's IPv4 peers, `::ffff:a.b.c.d`)
/// as the IPv4 address, never as the /64 that all IPv4 peers share.
pub fn peer_key(ip: IpAddr) -> IpAddr {
	match ip {
		IpAddr::V4(_) => ip,
		IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
			Some(v4) => IpAddr::V4(v4),
			None => {
				let prefix = u128::from(v6) & !((1u128 << 64) - 1);
				IpAddr::V6(std::net::Ipv6Addr::from(prefix))
			}
		},
	}
}

/// A running artifact server.
pub struct ServerHandle {
	/// Where it listens.
	pub addr: SocketAddr,
	shared: Arc<Shared>,
	alive: Arc<AtomicBool>,
	shutdown: Option<tokio::sync::oneshot::Sender<()>>,
	thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerHandle {
	/// The base URL, `http://addr`.
	pub fn url(&self) -> String {
		format!("http://{}", self.addr)
	}

	/// How this server misbehaves: empty unless a dishonest miner sets it.
	pub fn faults(&self) -> Arc<Mutex<ServeFaults>> {
		self.shared.faults.clone()
	}

	/// The artifacts served most recently (200 and 206 responses), oldest first: what clients
	/// fetched. Bounded: the last 4096.
	pub fn served(&self) -> Vec<Hash> {
		self.shared
			.served
			.lock()
			.map(|v| v.iter().copied().collect())
			.unwrap_or_default()
	}

	/// Connections open now (admitted, not closed nor evicted).
	pub fn connections(&self) -> usize {
		self.shared
			.peers
			.lock()
			.map(|p| p.total)
			.unwrap_or_else(|e| e.into_inner().total)
	}

	/// What it counted.
	pub fn stats(&self) -> Arc<ServerStats> {
		self.shared.stats.clone()
	}

	/// An error once the server no longer serves: a worker that commits runs nobody can fetch
	/// must stop, so that its supervisor restarts it.
	pub fn check(&self) -> Result<()> {
		if !self.alive.load(Ordering::SeqCst) {
			bail!("the artifact server on {} stopped serving", self.addr);
		}
		Ok(())
	}

	/// Stops the server and waits for it.
	pub fn stop(mut self) {
		if let Some(tx) = self.shutdown.take() {
			let _ = tx.send(());
		}
		if let Some(t) = self.thread.take() {
			let _ = t.join();
		}
	}

	/// Serves until the process ends; an error if the server stops.
	pub fn wait(mut self) -> Result<()> {
		if let Some(t) = self.thread.take() {
			let _ = t.join();
		}
		bail!("the artifact server on {} stopped serving", self.addr)
	}
}

/// Starts serving `store` on `addr` (e.g. `127.0.0.1:8700`; port 0 picks a free one) with the
/// default limits.
pub fn serve(store: Store, addr: &str) -> Result<ServerHandle> {
	serve_with(store, addr, ServerLimits::default())
}

/// Starts serving `store` on `addr` within `limits`.
pub fn serve_with(store: Store, addr: &str, limits: ServerLimits) -> Result<ServerHandle> {
	anyhow::ensure!(
		limits.max_connections > 0 && limits.max_per_peer > 0,
		"the server needs room for at least one connection"
	);
	let mut limits = limits;
	let room = descriptor_room();
	if limits.max_connections > room {
		// Past the descriptor limit `accept` fails before the cap is reached, and the fair
		// share, which works at the cap, never comes into play: a flood would then keep
		// everyone out.
		log::warn!(
			"the artifact server takes {room} connections at once, not {}: this process may \
			 open too few files (raise its limit, `ulimit -n`)",
			limits.max_connections
		);
		limits.max_connections = room.max(1);
	}
	let listener =
		std::net::TcpListener::bind(addr).with_context(|| format!("listening on {addr}"))?;
	listener.set_nonblocking(true)?;
	let local = listener.local_addr()?;
	let runtime = tokio::runtime::Builder::new_multi_thread()
		.worker_threads(2)
		.thread_name("pol-artifacts")
		.enable_all()
		.build()
		.context("starting the artifact server's runtime")?;
	let shared = Arc::new(Shared {
		store,
		faults: Arc::new(Mutex::new(ServeFaults::default())),
		served: Mutex::new(VecDeque::new()),
		stats: Arc::new(ServerStats::default()),
		peers: Mutex::new(Peers::default()),
		limits,
	});
	let alive = Arc::new(AtomicBool::new(true));
	let (tx, rx) = tokio::sync::oneshot::channel();
	let dir = shared.store.dir().display().to_string();
	let thread = {
		let shared = shared.clone();
		let alive = alive.clone();
		std::thread::Builder::new()
			.name("pol-artifacts".into())
			.spawn(move || {
				let result = runtime.block_on(accept_loop(listener, shared, rx));
				if let Err(e) = result {
					log::error!("the artifact server stopped: {e:#}");
				}
				alive.store(false, Ordering::SeqCst);
			})
			.context("starting the artifact server's thread")?
	};
	log::info!("serving artifacts from {dir} on http://{local}");
	Ok(ServerHandle {
		addr: local,
		shared,
		alive,
		shutdown: Some(tx),
		thread: Some(thread),
	})
}

async fn accept_loop(
	listener: std::net::TcpListener,
	shared: Arc<Shared>,
	mut shutdown: tokio::sync::oneshot::Receiver<()>,
) -> Result<()> {
	let listener = tokio::net::TcpListener::from_std(listener)?;
	loop {
		let accepted = tokio::select! {
			_ = &mut shutdown => return Ok(()),
			a = listener.accept() => a,
		};
		let (stream, peer) = match accepted {
			Ok(a) => a,
			Err(e) => {
				// Out of file descriptors, a connection reset before accept: transient. Wait
				// a little (others' connections close meanwhile) and go on serving.
				log::warn!("accepting a connection: {e}");
				tokio::time::sleep(Duration::from_millis(100)).await;
				continue;
			}
		};
		let _ = stream.set_nodelay(true);
		let Some((guard, mut evicted)) = admit(&shared, peer.ip()) else {
			shared.stats.refused.fetch_add(1, Ordering::Relaxed);
			crate::metrics::global().refused_connections.inc();
			tokio::spawn(refuse(stream));
			continue;
		};
		let shared = shared.clone();
		tokio::spawn(async move {
			let _guard = guard;
			// Evicted: the connection is dropped where it is, its socket closed.
			tokio::select! {
				_ = connection(stream, shared) => {}
				Ok(()) = &mut evicted => log::debug!("evicted a connection of {peer} at the cap"),
			}
		});
	}
}

/// A connection's place under both caps, released when dropped.
struct Admitted {
	shared: Arc<Shared>,
	peer: IpAddr,
	id: u64,
}

impl Drop for Admitted {
	fn drop(&mut self) {
		let mut peers = self.shared.peers.lock().unwrap_or_else(|e| e.into_inner());
		// Absent when it was evicted: its place was given away then.
		release(&mut peers, &self.peer, Some(self.id));
	}
}

/// Takes connection `id` of `peer` (with `None`, its oldest) out of `peers`, with its closing
/// sender; `None` when it is not there.
fn release(
	peers: &mut Peers,
	peer: &IpAddr,
	id: Option<u64>,
) -> Option<tokio::sync::oneshot::Sender<()>> {
	let conns = peers.by_peer.get_mut(peer)?;
	let closer = match id {
		Some(id) => conns.remove(&id)?,
		None => conns.pop_first()?.1,
	};
	if conns.is_empty() {
		peers.by_peer.remove(peer);
	}
	peers.total = peers.total.saturating_sub(1);
	Some(closer)
}

/// A place for a connection from `ip`, and the receiver that says when it is evicted; `None`
/// when it gets 503.
///
/// Over its peer's cap it is refused. At the total cap it is admitted only in the place of a
/// connection of the peer that holds the most, when that peer holds at least two more than the
/// newcomer's: so an outsider that fills the cap from a few addresses yields to a validator
/// arriving from a fresh one, and nobody is locked out unless the cap is held by about as many
/// peers as it has places, one each. "Two more", not "one more": two peers one apart would
/// otherwise take each other's places at each new connection, for ever.
///
/// The victim is the oldest connection of that peer (of the heaviest peers, the one whose oldest
/// connection is oldest): holding places is what a flood does, while an honest client opens a
/// connection per request and lets it go when the request is done; and a choice by age, not by
/// address, gives an attacker no address to pick that makes others' connections go first.
fn admit(
	shared: &Arc<Shared>,
	ip: IpAddr,
) -> Option<(Admitted, tokio::sync::oneshot::Receiver<()>)> {
	let peer = peer_key(ip);
	let mut peers = shared.peers.lock().unwrap_or_else(|e| e.into_inner());
	let mine = peers.by_peer.get(&peer).map_or(0, |c| c.len());
	if mine >= shared.limits.max_per_peer {
		return None;
	}
	if peers.total >= shared.limits.max_connections {
		let heaviest = peers
			.by_peer
			.iter()
			.filter_map(|(p, conns)| {
				let oldest = *conns.keys().next()?;
				Some((conns.len(), std::cmp::Reverse(oldest), *p))
			})
			.max()?;
		let (held, _, victim) = heaviest;
		if held < mine + 2 {
			return None;
		}
		let closer = release(&mut peers, &victim, None)?;
		// The connection's task closes it; already gone, it has nothing left to close.
		let _ = closer.send(());
		shared.stats.evicted.fetch_add(1, Ordering::Relaxed);
		crate::metrics::global().evicted_connections.inc();
	}
	let id = peers.next;
	peers.next += 1;
	let (tx, rx) = tokio::sync::oneshot::channel();
	peers.by_peer.entry(peer).or_default().insert(id, tx);
	peers.total += 1;
	Some((
		Admitted {
			shared: shared.clone(),
			peer,
			id,
		},
		rx,
	))
}

/// The connections this process can hold at once within its limit on open files, raised first
/// to the hard limit: each may hold two descriptors (its socket and an artifact's file), and a
/// few hundred are left for the rest of the worker (its store, the chain's connection, its own
/// fetches).
fn descriptor_room() -> usize {
	let mut lim = libc::rlimit {
		rlim_cur: 0,
		rlim_max: 0,
	};
	// SAFETY: getrlimit and setrlimit only read and write the struct handed to them.
	unsafe {
		if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
			return usize::MAX;
		}
		if lim.rlim_cur < lim.rlim_max {
			let raised = libc::rlimit {
				rlim_cur: lim.rlim_max,
				rlim_max: lim.rlim_max,
			};
			if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
				lim.rlim_cur = lim.rlim_max;
			}
		}
	}
	if lim.rlim_cur == libc::RLIM_INFINITY {
		return usize::MAX;
	}
	let files = usize::try_from(lim.rlim_cur).unwrap_or(usize::MAX);
	files.saturating_sub(256) / 2
}

/// 503 to a connection over a cap, without reading its request; bounded in time.
async fn refuse(mut stream: tokio::net::TcpStream) {
	let reply = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\nRetry-After: 1\r\n\
		Connection: close\r\n\r\nbusy\n";
	let _ = tokio::time::timeout(Duration::from_secs(2), async {
		let _ = stream.write_all(reply).await;
		let _ = stream.shutdown().await;
	})
	.await;
}

async fn connection(stream: tokio::net::TcpStream, shared: Arc<Shared>) {
	let limits = shared.limits.clone();
	let stalled = Arc::new(AtomicBool::new(false));
	let io = TokioIo::new(Stalling::new(stream, limits.stall_timeout, stalled.clone()));
	let service = {
		let shared = shared.clone();
		hyper::service::service_fn(move |req| {
			let shared = shared.clone();
			async move { Ok::<_, std::convert::Infallible>(respond(&shared, req).await) }
		})
	};
	let conn = hyper::server::conn::http1::Builder::new()
		.timer(TokioTimer::new())
		.header_read_timeout(limits.header_timeout)
		.keep_alive(true)
		.max_buf_size(64 << 10)
		.serve_connection(io, service);
	let timed_out = match tokio::time::timeout(limits.max_connection_time, conn).await {
		Ok(Ok(())) => false,
		Ok(Err(e)) => {
			log::debug!("artifact connection: {e}");
			e.is_timeout()
		}
		Err(_) => {
			log::debug!(
				"artifact connection closed after {:?}",
				limits.max_connection_time
			);
			true
		}
	};
	// hyper may close a connection that stalled before its first request as if it ended.
	if timed_out || stalled.load(Ordering::Relaxed) {
		shared.stats.timed_out.fetch_add(1, Ordering::Relaxed);
		crate::metrics::global().timed_out_connections.inc();
	}
}

type Body = BoxBody<Bytes, std::io::Error>;

fn text(code: StatusCode, body: impl Into<String>) -> Response<Body> {
	let mut r = Response::new(
		Full::new(Bytes::from(body.into() + "\n"))
			.map_err(|never| match never {})
			.boxed(),
	);
	*r.status_mut() = code;
	r
}

async fn respond(shared: &Shared, req: Request<hyper::body::Incoming>) -> Response<Body> {
	let path = req.uri().path().to_string();
	log::debug!("{} {path}", req.method());
	if req.method() != hyper::Method::GET && req.method() != hyper::Method::HEAD {
		return text(StatusCode::METHOD_NOT_ALLOWED, "only GET");
	}
	if path == "/v1/health" {
		return text(StatusCode::OK, "ok");
	}
	if path == "/metrics" {
		let mut r = text(StatusCode::OK, crate::metrics::global().encode());
		r.headers_mut().insert(
			hyper::header::CONTENT_TYPE,
			hyper::header::HeaderValue::from_static(
				"application/openmetrics-text; version=1.0.0; charset=utf-8",
			),
		);
		return r;
	}
	let Some(hash_text) = path.strip_prefix("/v1/artifacts/") else {
		return text(StatusCode::NOT_FOUND, "no such route");
	};
	let Ok(hash) = parse_hash(hash_text) else {
		return text(StatusCode::BAD_REQUEST, "not a 32-byte hex hash");
	};
	let (withheld, framed, stalled) = match shared.faults.lock() {
		Ok(mut f) => {
			let stalled = f.stalled.get(&hash).copied();
			if f.served_once.remove(&hash) {
				f.stalled.insert(hash, Stall::Hang);
			}
			(f.withheld.contains(&hash), f.framed.remove(&hash), stalled)
		}
		Err(_) => (false, false, None),
	};
	let Some(path) = shared.store.path(&hash).filter(|_| !withheld) else {
		return text(
			StatusCode::NOT_FOUND,
			format!("no artifact {}", hex32(&hash.0)),
		);
	};
	if let Some(Stall::Late(d)) = stalled {
		tokio::time::sleep(d).await;
	} else if let Some(stall) = stalled {
		return match stalling(&path, stall).await {
			Ok(r) => r,
			Err(e) => {
				log::warn!("stalling {}: {e:#}", hex32(&hash.0));
				text(
					StatusCode::INTERNAL_SERVER_ERROR,
					"the artifact cannot be read",
				)
			}
		};
	}
	match artifact(
		shared,
		&hash,
		&path,
		req.headers().get(hyper::header::RANGE),
		framed,
	)
	.await
	{
		Ok(r) => r,
		Err(e) => {
			log::warn!("serving {}: {e:#}", hex32(&hash.0));
			text(
				StatusCode::INTERNAL_SERVER_ERROR,
				"the artifact cannot be read",
			)
		}
	}
}

/// A byte range of a file of `len` bytes, from a `Range` header; `None` for the whole file,
/// `Err` for one that cannot be satisfied.
pub fn parse_range(header: &str, len: u64) -> std::result::Result<Option<(u64, u64)>, ()> {
	let spec = header.trim().strip_prefix("bytes=").ok_or(())?;
	if spec.contains(',') {
		// One range only; a client that wants more asks again.
		return Err(());
	}
	let (a, b) = spec.split_once('-').ok_or(())?;
	let (a, b) = (a.trim(), b.trim());
	let (start, end) = match (a.is_empty(), b.is_empty()) {
		// The last `b` bytes.
		(true, false) => {
			let n: u64 = b.parse().map_err(|_| ())?;
			if n == 0 || len == 0 {
				return Err(());
			}
			(len.saturating_sub(n), len - 1)
		}
		(false, _) => {
			let start: u64 = a.parse().map_err(|_| ())?;
			let end = if b.is_empty() {
				len.checked_sub(1).ok_or(())?
			} else {
				b.parse::<u64>().map_err(|_| ())?.min(len.saturating_sub(1))
			};
			(start, end)
		}
		(true, true) => return Err(()),
	};
	if start > end || start >= len {
		return Err(());
	}
	Ok(Some((start, end)))
}

async fn artifact(
	shared: &Shared,
	hash: &Hash,
	path: &std::path::Path,
	range: Option<&hyper::header::HeaderValue>,
	framed: bool,
) -> Result<Response<Body>> {
	let record = |bytes: u64| {
		shared.stats.served.fetch_add(1, Ordering::Relaxed);
		shared.stats.bytes.fetch_add(bytes, Ordering::Relaxed);
		let m = crate::metrics::global();
		m.served_artifacts.inc();
		m.served_bytes.inc_by(bytes);
		if let Ok(mut list) = shared.served.lock() {
			if list.len() == SERVED_LOG {
				list.pop_front();
			}
			list.push_back(*hash);
		}
	};
	let octets = hyper::header::HeaderValue::from_static("application/octet-stream");
	if framed {
		let mut bytes = tokio::fs::read(path).await?;
		if let Some(last) = bytes.last_mut() {
			*last ^= 0x5a;
		}
		record(bytes.len() as u64);
		let mut r = Response::new(
			Full::new(Bytes::from(bytes))
				.map_err(|never| match never {})
				.boxed(),
		);
		r.headers_mut().insert(hyper::header::CONTENT_TYPE, octets);
		return Ok(r);
	}
	let mut file = tokio::fs::File::open(path).await?;
	let len = file.metadata().await?.len();
	let range = match range.map(|h| h.to_str().map_err(|_| ()).and_then(|h| parse_range(h, len))) {
		None => None,
		Some(Ok(r)) => r,
		Some(Err(())) => {
			let mut r = text(StatusCode::RANGE_NOT_SATISFIABLE, "unsatisfiable range");
			r.headers_mut().insert(
				hyper::header::CONTENT_RANGE,
				format!("bytes */{len}").parse().context("a header")?,
			);
			return Ok(r);
		}
	};
	let (start, end) = range.unwrap_or((0, len.saturating_sub(1)));
	let count = if len == 0 { 0 } else { end - start + 1 };
	file.seek(SeekFrom::Start(start)).await?;
	use tokio::io::AsyncReadExt;
	let stream = ReaderStream::with_capacity(file.take(count), 64 << 10);
	let body = StreamBody::new(Frames(stream));
	let mut r = Response::new(BodyExt::boxed(body));
	let headers = r.headers_mut();
	headers.insert(hyper::header::CONTENT_TYPE, octets);
	headers.insert(hyper::header::CONTENT_LENGTH, count.into());
	headers.insert(
		hyper::header::ACCEPT_RANGES,
		hyper::header::HeaderValue::from_static("bytes"),
	);
	if range.is_some() {
		headers.insert(
			hyper::header::CONTENT_RANGE,
			format!("bytes {start}-{end}/{len}")
				.parse()
				.context("a header")?,
		);
	}
	if range.is_some() {
		*r.status_mut() = StatusCode::PARTIAL_CONTENT;
	}
	record(count);
	Ok(r)
}

/// A `200` for the artifact at `path` that never completes (see [`Stall`]).
async fn stalling(path: &std::path::Path, stall: Stall) -> Result<Response<Body>> {
	let len = tokio::fs::metadata(path).await?.len();
	let period = Duration::from_millis(100);
	let (announced, body) = match stall {
		Stall::Trickle => (
			super::DEFAULT_MAX_BYTES,
			Trickle {
				left: super::DEFAULT_MAX_BYTES,
				chunk: (STALL_BYTES_PER_SEC / 10) as usize,
				period,
				timer: Box::pin(tokio::time::sleep(period)),
				hang: false,
			},
		),
		Stall::Hang | Stall::Late(_) => (
			len,
			Trickle {
				left: len.min(64),
				chunk: 64,
				period,
				timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
				hang: true,
			},
		),
	};
	let mut r = Response::new(BodyExt::boxed(StreamBody::new(body)));
	let headers = r.headers_mut();
	headers.insert(
		hyper::header::CONTENT_TYPE,
		hyper::header::HeaderValue::from_static("application/octet-stream"),
	);
	headers.insert(hyper::header::CONTENT_LENGTH, announced.into());
	Ok(r)
}

/// Zeros, `chunk` bytes every `period`, `left` in all; then the end of the body, or (`hang`)
/// nothing ever again.
struct Trickle {
	left: u64,
	chunk: usize,
	period: Duration,
	timer: Pin<Box<tokio::time::Sleep>>,
	hang: bool,
}

impl futures_core::Stream for Trickle {
	type Item = std::io::Result<Frame<Bytes>>;
	fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
		if self.left == 0 {
			return if self.hang {
				Poll::Pending
			} else {
				Poll::Ready(None)
			};
		}
		if self.timer.as_mut().poll(cx).is_pending() {
			return Poll::Pending;
		}
		let next = tokio::time::Instant::now() + self.period;
		self.timer.as_mut().reset(next);
		let n = (self.chunk as u64).min(self.left);
		self.left -= n;
		Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![0u8; n as usize])))))
	}
}

/// A stream of byte chunks as body frames (what `StreamExt::map` would do).
struct Frames<S>(S);

impl<S> futures_core::Stream for Frames<S>
where
	S: futures_core::Stream<Item = std::io::Result<Bytes>> + Unpin,
{
	type Item = std::io::Result<Frame<Bytes>>;
	fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
		Pin::new(&mut self.0)
			.poll_next(cx)
			.map(|item| item.map(|chunk| chunk.map(Frame::data)))
	}
}

/// A stream that fails with `TimedOut` once it has made no progress, reading or writing, for
/// `stall` while asked to: a peer that trickles nothing holds no connection.
struct Stalling<S> {
	inner: S,
	stall: Duration,
	timer: Pin<Box<tokio::time::Sleep>>,
	/// Set once the timer fired.
	fired: Arc<AtomicBool>,
}

impl<S> Stalling<S> {
	fn new(inner: S, stall: Duration, fired: Arc<AtomicBool>) -> Self {
		Stalling {
			inner,
			stall,
			timer: Box::pin(tokio::time::sleep(stall)),
			fired,
		}
	}

	fn progress(&mut self) {
		let next = tokio::time::Instant::now() + self.stall;
		self.timer.as_mut().reset(next);
	}

	fn stalled(&mut self, cx: &mut TaskContext<'_>) -> bool {
		let fired = self.timer.as_mut().poll(cx).is_ready();
		if fired {
			self.fired.store(true, Ordering::Relaxed);
		}
		fired
	}
}

fn timed_out() -> std::io::Error {
	std::io::Error::new(std::io::ErrorKind::TimedOut, "the peer made no progress")
}

use std::future::Future;

impl<S: AsyncRead + Unpin> AsyncRead for Stalling<S> {
	fn poll_read(
		mut self: Pin<&mut Self>,
		cx: &mut TaskContext<'_>,
		buf: &mut ReadBuf<'_>,
	) -> Poll<std::io::Result<()>> {
		match Pin::new(&mut self.inner).poll_read(cx, buf) {
			Poll::Ready(r) => {
				self.progress();
				Poll::Ready(r)
			}
			Poll::Pending if self.stalled(cx) => Poll::Ready(Err(timed_out())),
			Poll::Pending => Poll::Pending,
		}
	}
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Stalling<S> {
	fn poll_write(
		mut self: Pin<&mut Self>,
		cx: &mut TaskContext<'_>,
		buf: &[u8],
	) -> Poll<std::io::Result<usize>> {
		match Pin::new(&mut self.inner).poll_write(cx, buf) {
			Poll::Ready(r) => {
				self.progress();
				Poll::Ready(r)
			}
			Poll::Pending if self.stalled(cx) => Poll::Ready(Err(timed_out())),
			Poll::Pending => Poll::Pending,
		}
	}

	fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
		match Pin::new(&mut self.inner).poll_flush(cx) {
			Poll::Ready(r) => Poll::Ready(r),
			Poll::Pending if self.stalled(cx) => Poll::Ready(Err(timed_out())),
			Poll::Pending => Poll::Pending,
		}
	}

	fn poll_shutdown(
		mut self: Pin<&mut Self>,
		cx: &mut TaskContext<'_>,
	) -> Poll<std::io::Result<()>> {
		Pin::new(&mut self.inner).poll_shutdown(cx)
	}
}
