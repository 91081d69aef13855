//! The artifact client: a GET with a deadline, a minimum transfer rate, a size limit and retries
//! with backoff, on `ureq`; the bytes are checked against the hash asked for before anything
//! uses them.

use super::artifact_hash;
use crate::config::hex32;
use crate::proof::{write_atomic, Manifest, MANIFEST_FILE};
use anyhow::{bail, Context, Result};
use pol_primitives::{serving, Hash};
use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Largest manifest fetched: a manifest lists at most `MaxSegments` + 1 checkpoints and is a
/// few KiB; a server must not make a validator read 256 MiB to find that out.
pub const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// How long and how slowly a fetch may go.
#[derive(Clone, Debug)]
pub struct FetchPolicy {
	/// When the artifact must be in hand, retries included (the phase's end, say).
	pub deadline: Instant,
	/// Below this rate, once `grace` has passed, the transfer is abandoned (and retried).
	pub min_bytes_per_sec: u64,
	/// Time before the minimum rate applies.
	pub grace: Duration,
	/// Attempts at most.
	pub attempts: u32,
	/// Whether the caller holds a lane to the server for each request under this policy
	/// ([`lanes_to`]), taken before it began counting what the server owes: the request then
	/// takes none of its own. `false`: each request takes one, waiting for it at most until the
	/// deadline.
	pub lane_held: bool,
}

impl FetchPolicy {
	/// Done within `d` from now, with the protocol's minimum rate and grace
	/// ([`pol_primitives::serving`]) and the default attempts.
	pub fn within(d: Duration) -> FetchPolicy {
		FetchPolicy {
			deadline: Instant::now() + d,
			min_bytes_per_sec: serving::MIN_SERVE_BYTES_PER_SEC,
			grace: Duration::from_secs(serving::SERVE_GRACE_SECS),
			attempts: 4,
			lane_held: false,
		}
	}

	/// This policy for a fetch owed `owed` from `since` (under a lane taken before `since`,
	/// [`lanes_to`]): due then when that falls before the deadline, and asked for again (a 503,
	/// a broken connection) until it arrives or is due, never given up after a few attempts: an
	/// honest server under a flood of connections gets every chance its debt gives it.
	pub fn owing(&self, since: Instant, owed: Duration) -> FetchPolicy {
		let mut policy = self.clone();
		if let Some(due) = since.checked_add(owed).filter(|due| *due <= self.deadline) {
			policy.deadline = due;
		}
		policy.attempts = u32::MAX;
		policy.lane_held = true;
		policy
	}
}

impl FetchPolicy {
	/// Whether `e`, from a fetch under this policy, is the server's doing: not when it is the
	/// fetcher's own trouble, nor a timeout of a deadline that has passed (the fetcher ran out of
	/// time, which says nothing about the server). Where the artifact's size is known, see
	/// [`FetchPolicy::blames_server_of`], which holds a server to it.
	pub fn blames_server(&self, e: &FetchError) -> bool {
		!(e.is_local() || matches!(e, FetchError::Timeout) && Instant::now() >= self.deadline)
	}

	/// The longest a server that keeps to the protocol's minimum rate takes to deliver `size`
	/// bytes asked for together: the grace, then `size` at `min_bytes_per_sec`, rounded up to
	/// the millisecond ([`pol_primitives::serving::serve_millis`] under the protocol's rate and
	/// grace). It is measured from the first request (the connection and the response head
	/// included), so a server that takes longer fell below the minimum rate somewhere, or
	/// served the requests one after another more slowly than that.
	pub fn time_owed(&self, size: u64) -> Duration {
		let transfer = size
			.saturating_mul(1_000)
			.div_ceil(self.min_bytes_per_sec.max(1));
		self.grace + Duration::from_millis(transfer)
	}

	/// [`FetchPolicy::time_owed`] of `size` bytes in `requests` requests asked for together,
	/// [`serving::FETCH_LANES`] at a time: a [`serving::REQUEST_ALLOWANCE_MILLIS`] more per wave
	/// of requests ([`pol_primitives::serving::serve_millis`] under the protocol's rate and
	/// grace).
	pub fn time_owed_batch(&self, size: u64, requests: u32) -> Duration {
		let waves = u64::from(requests.div_ceil(serving::FETCH_LANES));
		self.time_owed(size)
			+ Duration::from_millis(waves.saturating_mul(serving::REQUEST_ALLOWANCE_MILLIS))
	}

	/// Whether `e`, from a fetch that is part of a batch asked of one server together and owed
	/// within `owed` of `started` (its bytes known before the first arrives, as checkpoints'
	/// are: [`FetchPolicy::time_owed_batch`]), is the server's doing. Anything but the fetcher's
	/// own trouble is; a timeout too, when the batch began early enough to be owed before the
	/// deadline (`started + owed ≤ deadline`): a server that had that time and did not deliver
	/// withheld the artifact, however it stalled (a trickle above the minimum rate under a
	/// Content-Length it never meant to fill, a response that stops, a request it let wait
	/// behind the others). Only a batch begun too late for that is this fetcher's own lateness.
	/// A 503 or 429 ("busy", what a server under a flood of connections answers) is the
	/// server's only as a timeout is: when it had its time and still refused; a batch begun too
	/// late that met a busy server learnt nothing about it.
	pub fn blames_server_of(&self, e: &FetchError, started: Instant, owed: Duration) -> bool {
		if e.is_local() {
			return false;
		}
		let owed_by = started.checked_add(owed);
		let had_its_time = owed_by.is_some_and(|t| t <= self.deadline);
		if matches!(e, FetchError::Timeout) {
			return Instant::now() < self.deadline || had_its_time;
		}
		if matches!(e, FetchError::Status(503 | 429)) {
			return had_its_time;
		}
		true
	}
}

impl Default for FetchPolicy {
	/// Two minutes, 64 KiB/s after 10 s, 4 attempts.
	fn default() -> Self {
		FetchPolicy::within(Duration::from_secs(120))
	}
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
	/// The response is not HTTP as expected.
	BadResponse(String),
	/// The artifact is larger than the limit.
	TooLarge {
		/// The limit.
		limit: u64,
		/// The announced size, or `None` when it ran over while reading.
		size: Option<u64>,
	},
	/// The artifact did not arrive before the deadline.
	Timeout,
	/// The server sent the body slower than the policy's minimum rate.
	TooSlow {
		/// The rate it sent at, bytes a second.
		bytes_per_sec: u64,
	},
	/// The bytes do not hash to the hash asked for.
	HashMismatch {
		/// Asked for.
		expected: Hash,
		/// Got.
		actual: Hash,
	},
	/// The fetcher's own trouble (its disk): no evidence against the server.
	Local(std::io::Error),
	/// This process's own fetches held every connection it allows itself to the server
	/// ([`lanes_to`]) until the deadline: never asked, no evidence against the server.
	NoLane,
}

impl FetchError {
	/// Whether the failure is the fetcher's own, not the server's.
	pub fn is_local(&self) -> bool {
		matches!(self, FetchError::Local(_) | FetchError::NoLane)
	}
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
			FetchError::Timeout => write!(f, "the artifact did not arrive before the deadline"),
			FetchError::TooSlow { bytes_per_sec } => write!(
				f,
				"the artifact server sends {bytes_per_sec} bytes/s, below the minimum rate"
			),
			FetchError::HashMismatch { expected, actual } => write!(
				f,
				"corrupt artifact: asked for {}, the bytes hash to {}",
				hex32(&expected.0),
				hex32(&actual.0)
			),
			FetchError::Local(e) => write!(f, "storing the artifact here: {e}"),
			FetchError::NoLane => write!(
				f,
				"not asked: this host's own fetches held every connection it opens to the server \
				 until the deadline"
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

/// Fetches artifact `expected` from `base` (`http://host:port`), at most `max_bytes`, under the
/// default policy, and checks its hash before handing it back.
pub fn fetch(
	base: &str,
	expected: &Hash,
	max_bytes: u64,
	progress: bool,
) -> std::result::Result<Vec<u8>, FetchError> {
	fetch_with(base, expected, max_bytes, progress, &FetchPolicy::default())
}

/// [`fetch`] under `policy`: transient failures (the connection, a 5xx, a timeout, a slow or
/// corrupt transfer) are retried with backoff until the attempts or the deadline run out; a
/// 404, a bad URL or an oversized artifact is final.
pub fn fetch_with(
	base: &str,
	expected: &Hash,
	max_bytes: u64,
	progress: bool,
	policy: &FetchPolicy,
) -> std::result::Result<Vec<u8>, FetchError> {
	let url = artifact_url(base, expected);
	with_retries(&url, policy, || {
		let bytes = get(&url, max_bytes, progress, policy)?;
		let actual = artifact_hash(&bytes);
		if &actual != expected {
			return Err(FetchError::HashMismatch {
				expected: *expected,
				actual,
			});
		}
		Ok(bytes)
	})
}

/// The longest wait between two attempts: a fetcher that retries through a long window (a
/// server owes a batch for minutes) keeps asking every few seconds, and an honest server that
/// was busy (a flood of connections, 503) is asked again soon after it has room.
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Runs `attempt` until it succeeds, fails for good, or `policy`'s attempts or deadline run
/// out: transient failures (the connection, a 5xx, a timeout, a slow or corrupt transfer) are
/// retried with backoff (doubling, at most [`MAX_BACKOFF`]); a 404, a bad URL or an oversized
/// artifact is final.
fn with_retries<T>(
	url: &str,
	policy: &FetchPolicy,
	mut attempt: impl FnMut() -> std::result::Result<T, FetchError>,
) -> std::result::Result<T, FetchError> {
	let mut backoff = Duration::from_millis(250);
	let mut tries = 1;
	loop {
		let err = match attempt() {
			Ok(v) => return Ok(v),
			Err(e) => e,
		};
		let retry = matches!(
			err,
			FetchError::Io(_)
				| FetchError::Timeout
				| FetchError::TooSlow { .. }
				| FetchError::BadResponse(_)
				| FetchError::HashMismatch { .. }
		) || matches!(err, FetchError::Status(c) if c >= 500 || c == 429);
		let wake = Instant::now() + backoff;
		if !retry || tries >= policy.attempts || wake >= policy.deadline {
			return Err(err);
		}
		log::debug!("fetching {url} (attempt {tries}): {err}; again in {backoff:?}");
		std::thread::sleep(backoff);
		backoff = backoff.saturating_mul(2).min(MAX_BACKOFF);
		tries += 1;
	}
}

/// What [`download`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Downloaded {
	/// Bytes written.
	pub bytes: u64,
	/// BLAKE2b-256 of those bytes, computed as they arrived when one was expected.
	pub blake2: Option<Hash>,
}

/// How [`download`] keeps what it fetched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
	/// Flushed to the disk before it is renamed into place: it must survive a crash (a
	/// manifest or model this host serves or builds on).
	Durable,
	/// Left to the page cache: a copy that can be fetched again (a checkpoint a validator
	/// reads once), so no fsync per file on the verification's path.
	Cache,
}

/// GETs `url` into the file `path` under `policy` (retries included), streaming: the body goes
/// to disk as it arrives, never whole in memory. Given `blake2`, its BLAKE2b-256 is computed on
/// the way and checked (a mismatch is retried as a corrupt transfer); artifacts checked another
/// way (a checkpoint by its tensors' hash) are not hashed twice. The file appears only complete
/// (written beside it, then renamed), readable by this user only; on any failure nothing is left
/// at `path`.
pub fn download(
	url: &str,
	path: &Path,
	max_bytes: u64,
	progress: bool,
	policy: &FetchPolicy,
	blake2: Option<&Hash>,
	keep: Keep,
) -> std::result::Result<Downloaded, FetchError> {
	use std::io::Write;
	use std::os::unix::fs::OpenOptionsExt;
	let part = path.with_extension(format!("part{}", std::process::id()));
	let result = with_retries(url, policy, || {
		let mut file = std::fs::OpenOptions::new()
			.write(true)
			.create(true)
			.truncate(true)
			.mode(0o600)
			.open(&part)
			.map_err(FetchError::Local)?;
		let mut state = blake2.map(|_| blake2b_simd::Params::new().hash_length(32).to_state());
		let bytes = get_into(url, max_bytes, progress, policy, &mut |chunk| {
			if let Some(state) = &mut state {
				state.update(chunk);
			}
			file.write_all(chunk)
		})?;
		let actual = state.map(|s| Hash::from_slice(s.finalize().as_bytes()));
		if let (Some(expected), Some(actual)) = (blake2, actual) {
			if *expected != actual {
				return Err(FetchError::HashMismatch {
					expected: *expected,
					actual,
				});
			}
		}
		if keep == Keep::Durable {
			file.sync_all().map_err(FetchError::Local)?;
		}
		Ok(Downloaded {
			bytes,
			blake2: actual,
		})
	})
	.and_then(|d| {
		std::fs::rename(&part, path).map_err(FetchError::Local)?;
		Ok(d)
	});
	if result.is_err() {
		let _ = std::fs::remove_file(&part);
	}
	result
}

/// One GET of at most `max_bytes` of body, by `policy`'s deadline and minimum rate. Plain
/// HTTP: artifact servers are other workers' `pol-worker serve`, and TLS, if wanted, belongs
/// to a proxy in front.
pub fn get(
	url: &str,
	max_bytes: u64,
	progress: bool,
	policy: &FetchPolicy,
) -> std::result::Result<Vec<u8>, FetchError> {
	let mut body = Vec::new();
	get_into(url, max_bytes, progress, policy, &mut |chunk| {
		body.extend_from_slice(chunk);
		Ok(())
	})?;
	Ok(body)
}

/// One GET of at most `max_bytes` of body by `policy`'s deadline and minimum rate, each chunk
/// handed to `sink` as it arrives; returns the body's length.
pub(crate) fn get_into(
	url: &str,
	max_bytes: u64,
	progress: bool,
	policy: &FetchPolicy,
	sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
) -> std::result::Result<u64, FetchError> {
	if !url.starts_with("http://") {
		return Err(FetchError::BadUrl(url.into()));
	}
	if policy.deadline <= Instant::now() {
		return Err(FetchError::Timeout);
	}
	// A lane of this process's to the server, for this request's life, unless the caller holds
	// one. The wait is before `started`: a request this host holds back is not the server's
	// lateness.
	let _lane = if policy.lane_held {
		None
	} else {
		Some(lanes_to(url, 1, policy.deadline).ok_or(FetchError::NoLane)?)
	};
	let remaining = policy.deadline.saturating_duration_since(Instant::now());
	if remaining.is_zero() {
		return Err(FetchError::Timeout);
	}
	// The minimum rate is measured from the request: a server that is slow to connect or to
	// send its response head spends its grace on that ([`FetchPolicy::time_owed`]).
	let started = Instant::now();
	let agent: ureq::Agent = ureq::Agent::config_builder()
		.timeout_global(Some(remaining))
		.timeout_connect(Some(remaining.min(Duration::from_secs(10))))
		.timeout_per_read(Some(remaining.min(Duration::from_secs(20))))
		.http_status_as_error(false)
		.max_redirects(0)
		.max_response_header_size(64 << 10)
		.user_agent("pol-worker")
		.build()
		.into();
	let mut response = agent.get(url).call().map_err(from_ureq)?;
	match response.status().as_u16() {
		200 => {}
		404 => return Err(FetchError::NotFound),
		c => return Err(FetchError::Status(c)),
	}
	let announced = response.body().content_length();
	if let Some(len) = announced {
		if len > max_bytes {
			return Err(FetchError::TooLarge {
				limit: max_bytes,
				size: Some(len),
			});
		}
	}
	let bar = crate::train::progress_bar(progress, announced.unwrap_or(0), "download");
	// One byte over the limit tells "exactly the limit" from "more".
	let mut reader = response
		.body_mut()
		.with_config()
		.limit(max_bytes.saturating_add(1))
		.reader();
	// Time in `sink` (this host's disk and hashing): a fetcher's own slowness is not the
	// server's, so the minimum rate is measured over the rest.
	let mut own = Duration::ZERO;
	let mut len: u64 = 0;
	let mut chunk = vec![0u8; 64 << 10];
	loop {
		let n = reader.read(&mut chunk).map_err(from_io)?;
		if n == 0 {
			break;
		}
		len = len.saturating_add(n as u64);
		if len > max_bytes {
			return Err(FetchError::TooLarge {
				limit: max_bytes,
				size: None,
			});
		}
		// Only the fetcher's own trouble (its disk) can fail here.
		let t = Instant::now();
		sink(&chunk[..n]).map_err(FetchError::Local)?;
		bar.set_position(len);
		own += t.elapsed();
		let waited = started.elapsed().saturating_sub(own);
		if waited > policy.grace {
			let rate = (len as f64 / waited.as_secs_f64()) as u64;
			if rate < policy.min_bytes_per_sec {
				return Err(FetchError::TooSlow {
					bytes_per_sec: rate,
				});
			}
		}
	}
	bar.finish_and_clear();
	crate::metrics::global().fetched_bytes.inc_by(len);
	if let Some(announced) = announced {
		if len < announced {
			return Err(FetchError::BadResponse(format!(
				"body of {len} bytes, {announced} announced"
			)));
		}
	}
	Ok(len)
}

/// One GET under the default policy (no hash check: the caller checks what it expects).
pub fn http_get(
	url: &str,
	max_bytes: u64,
	progress: bool,
) -> std::result::Result<Vec<u8>, FetchError> {
	get(url, max_bytes, progress, &FetchPolicy::default())
}

fn from_io(e: std::io::Error) -> FetchError {
	// ureq reports its own errors (a timeout, the body limit) through the reader as io errors
	// wrapping a ureq::Error.
	match e
		.get_ref()
		.and_then(|inner| inner.downcast_ref::<ureq::Error>())
	{
		Some(ureq::Error::Timeout(_)) => FetchError::Timeout,
		Some(ureq::Error::BodyExceedsLimit(limit)) => FetchError::TooLarge {
			limit: limit.saturating_sub(1),
			size: None,
		},
		_ if e.kind() == std::io::ErrorKind::TimedOut => FetchError::Timeout,
		_ => FetchError::Io(e),
	}
}

fn from_ureq(e: ureq::Error) -> FetchError {
	match e {
		ureq::Error::StatusCode(404) => FetchError::NotFound,
		ureq::Error::StatusCode(c) => FetchError::Status(c),
		ureq::Error::Timeout(_) => FetchError::Timeout,
		ureq::Error::Io(e) => from_io(e),
		ureq::Error::BadUri(u) => FetchError::BadUrl(u),
		ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => FetchError::Io(
			std::io::Error::new(std::io::ErrorKind::ConnectionRefused, e.to_string()),
		),
		other => FetchError::BadResponse(other.to_string()),
	}
}

/// Connections this process holds open to each artifact server: at most
/// [`serving::FETCH_LANES`] for one miner's artifacts there (a verification's batch, a dispute's
/// claim checks, [`lanes_for`]) and as many for its other fetches from it (final models,
/// [`lanes_to`], by [`server_key`]). That is what a server is held to serve one peer at once
/// for one miner (what it owes is counted in waves of that many requests,
/// [`FetchPolicy::time_owed_batch`]); the two together are half of an honest server's default
/// cap per peer ([`super::ServerLimits`]): a validator never trips a miner's cap by itself and
/// then blames the 503s on the miner.
///
/// Why lanes are taken up front, by the batch, rather than each request waiting its turn: what
/// a server owes a batch is counted from its first request, so a batch whose requests waited
/// here for this host's other fetches would have the server's debt running while this host
/// itself held the requests back. A batch takes its lanes ([`lanes_to`]) before it starts
/// counting, and keeps them until its requests are done: no wait of its own is ever inside the
/// time it gives the server, and it counts what the server owes by the lanes it got (fewer
/// lanes, more waves of requests). A request outside a batch takes a lane of its own for its
/// life, its wait before its own clock starts ([`get_into`]).
struct Hosts {
	held: Mutex<BTreeMap<String, usize>>,
	freed: Condvar,
}

fn hosts() -> &'static Hosts {
	static HOSTS: OnceLock<Hosts> = OnceLock::new();
	HOSTS.get_or_init(|| Hosts {
		held: Mutex::new(BTreeMap::new()),
		freed: Condvar::new(),
	})
}

/// Lanes to one server held by this process ([`lanes_to`]); handed back when dropped or
/// [`Lanes::release`]d.
#[derive(Debug)]
pub struct Lanes {
	key: String,
	count: usize,
	held: Mutex<usize>,
}

impl Lanes {
	/// The lanes taken: requests in flight at once under them.
	pub fn count(&self) -> usize {
		self.count
	}

	/// Up to `want` more lanes counted with these (to the same server, for the same miner),
	/// waiting for one until `until` at most.
	pub fn more(&self, want: usize, until: Instant) -> Option<Lanes> {
		take_lanes(self.key.clone(), want, until)
	}

	/// Whether the lanes are still held (not [`Lanes::release`]d).
	pub fn is_held(&self) -> bool {
		*self.held.lock().unwrap_or_else(|e| e.into_inner()) > 0
	}

	/// Hands the lanes back now (the batch is fetched; what comes after, a replay, needs none).
	pub fn release(&self) {
		let n = std::mem::take(&mut *self.held.lock().unwrap_or_else(|e| e.into_inner()));
		if n == 0 {
			return;
		}
		let hosts = hosts();
		let mut held = hosts.held.lock().unwrap_or_else(|e| e.into_inner());
		if let Some(h) = held.get_mut(&self.key) {
			*h = h.saturating_sub(n);
			if *h == 0 {
				held.remove(&self.key);
			}
		}
		hosts.freed.notify_all();
	}
}

impl Drop for Lanes {
	fn drop(&mut self) {
		self.release();
	}
}

/// Takes up to `want` (at least one) of this process's [`serving::FETCH_LANES`] lanes to the
/// server of `url` (`http://host:port[/…]`), as many as are free once one is, waiting for one
/// until `until` at most; `None` if none came free by then.
pub fn lanes_to(url: &str, want: usize, until: Instant) -> Option<Lanes> {
	take_lanes(server_key(url), want, until)
}

/// [`lanes_to`] for the fetches of one miner's artifacts (`miner`'s account bytes): counted
/// apart from every other miner's, even one that names the same server. Miners that share a
/// server (a cartel's sybils co-hosted with a forger) would otherwise hold the lanes with legal
/// trickles while the forger's check waited for one, a wait that is this host's own lateness
/// (review of session 17). An honest server serves one miner, so it is never asked for more
/// than a miner's lanes and the server-wide ones ([`lanes_to`]) together: 16, half its per-peer
/// cap;
/// a hostile miner naming an honest one's server gets 404s for its own artifacts at once, and a
/// 503 meanwhile is asked again until what the server owes is due.
pub fn lanes_for(url: &str, miner: &[u8; 32], want: usize, until: Instant) -> Option<Lanes> {
	take_lanes(
		format!("{}#{}", server_key(url), hex::encode(miner)),
		want,
		until,
	)
}

fn take_lanes(key: String, want: usize, until: Instant) -> Option<Lanes> {
	let most = serving::FETCH_LANES as usize;
	let hosts = hosts();
	let mut held = hosts.held.lock().unwrap_or_else(|e| e.into_inner());
	loop {
		let busy = held.get(&key).copied().unwrap_or(0);
		if busy < most {
			let count = want.clamp(1, most - busy);
			held.insert(key.clone(), busy + count);
			return Some(Lanes {
				key,
				count,
				held: Mutex::new(count),
			});
		}
		let left = until.saturating_duration_since(Instant::now());
		if left.is_zero() {
			return None;
		}
		held = hosts
			.freed
			.wait_timeout(held, left)
			.unwrap_or_else(|e| e.into_inner())
			.0;
	}
}

/// The server a URL names as written, `host:port` (port 80 when none is written), lowercase,
/// without resolving it: what groups fetches by server where a name lookup would cost time.
pub fn server_name(url: &str) -> String {
	let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
	let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
	let authority = authority.rsplit('@').next().unwrap_or(authority);
	let has_port = match authority.rfind(']') {
		Some(close) => authority[close..].contains(':'),
		None => authority.contains(':'),
	};
	let with_port = if has_port {
		authority.to_string()
	} else {
		format!("{authority}:80")
	};
	with_port.to_ascii_lowercase()
}

/// The server a URL names, as [`lanes_to`] counts it: its [`server_name`], as written, never
/// resolved. Keyed by a resolved address, a hostile miner's name that resolves to an honest
/// miner's address for the count (and to its own server for the connection, a DNS answer that
/// changes between the two lookups) would let its legal trickles hold the honest miner's lanes,
/// and every validator abstain on it. Keyed by name, one server named two ways may get a
/// validator's lanes twice over (16, half its per-peer cap); a hostile miner that names an honest
/// one's server gets 404s for its own artifacts there at once, so the honest server is asked
/// for nothing it holds long.
pub fn server_key(url: &str) -> String {
	server_name(url)
}

/// Fetches a bundle's manifest from `base` by its hash (its bytes' BLAKE2b-256) into `dir`
/// (created), streamed and hashed on the way, under `policy`; returns its size in bytes. The
/// checkpoints are fetched as a verification needs them ([`crate::verify::verify_remote`]).
pub fn fetch_manifest(
	base: &str,
	manifest_hash: &Hash,
	dir: &Path,
	max_bytes: u64,
	progress: bool,
	policy: &FetchPolicy,
) -> std::result::Result<u64, FetchError> {
	std::fs::create_dir_all(dir).map_err(FetchError::Local)?;
	let limit = max_bytes.min(MAX_MANIFEST_BYTES);
	let url = artifact_url(base, manifest_hash);
	let path = dir.join(MANIFEST_FILE);
	Ok(download(
		&url,
		&path,
		limit,
		progress,
		policy,
		Some(manifest_hash),
		Keep::Durable,
	)?
	.bytes)
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
	let limit = max_bytes.min(MAX_MANIFEST_BYTES);
	let bytes = fetch(base, manifest_hash, limit, progress).context("fetching the manifest")?;
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
