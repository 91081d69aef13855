//! The artifact client: a GET with a deadline, a minimum transfer rate, a size limit and retries
//! with backoff, on `ureq`; the bytes are checked against the hash asked for before anything
//! uses them.

use super::artifact_hash;
use crate::config::hex32;
use crate::proof::{write_atomic, Manifest, MANIFEST_FILE};
use anyhow::{bail, Context, Result};
use pol_primitives::Hash;
use std::fmt;
use std::io::Read;
use std::path::Path;
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
}

impl FetchPolicy {
	/// Done within `d` from now, with the default rate and attempts.
	pub fn within(d: Duration) -> FetchPolicy {
		FetchPolicy {
			deadline: Instant::now() + d,
			min_bytes_per_sec: 64 << 10,
			grace: Duration::from_secs(10),
			attempts: 4,
		}
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
	let mut backoff = Duration::from_millis(250);
	let mut attempt = 1;
	loop {
		let result = get(&url, max_bytes, progress, policy).and_then(|bytes| {
			let actual = artifact_hash(&bytes);
			if &actual != expected {
				return Err(FetchError::HashMismatch {
					expected: *expected,
					actual,
				});
			}
			Ok(bytes)
		});
		let err = match result {
			Ok(bytes) => return Ok(bytes),
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
		if !retry || attempt >= policy.attempts || wake >= policy.deadline {
			return Err(err);
		}
		log::debug!("fetching {url} (attempt {attempt}): {err}; again in {backoff:?}");
		std::thread::sleep(backoff);
		backoff = backoff.saturating_mul(2);
		attempt += 1;
	}
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
	if !url.starts_with("http://") {
		return Err(FetchError::BadUrl(url.into()));
	}
	let remaining = policy.deadline.saturating_duration_since(Instant::now());
	if remaining.is_zero() {
		return Err(FetchError::Timeout);
	}
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
	let started = Instant::now();
	let mut body = Vec::with_capacity(announced.unwrap_or(0).min(max_bytes) as usize);
	let mut chunk = vec![0u8; 64 << 10];
	loop {
		let n = reader.read(&mut chunk).map_err(from_io)?;
		if n == 0 {
			break;
		}
		body.extend_from_slice(&chunk[..n]);
		if body.len() as u64 > max_bytes {
			return Err(FetchError::TooLarge {
				limit: max_bytes,
				size: None,
			});
		}
		bar.set_position(body.len() as u64);
		let elapsed = started.elapsed();
		if elapsed > policy.grace {
			let rate = (body.len() as f64 / elapsed.as_secs_f64()) as u64;
			if rate < policy.min_bytes_per_sec {
				return Err(FetchError::TooSlow {
					bytes_per_sec: rate,
				});
			}
		}
	}
	bar.finish_and_clear();
	crate::metrics::global()
		.fetched_bytes
		.inc_by(body.len() as u64);
	if let Some(len) = announced {
		if (body.len() as u64) < len {
			return Err(FetchError::BadResponse(format!(
				"body of {} bytes, {len} announced",
				body.len()
			)));
		}
	}
	Ok(body)
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
	let limit = max_bytes.min(MAX_MANIFEST_BYTES);
	let bytes = fetch(base, manifest_hash, limit, progress).context("fetching the manifest")?;
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
