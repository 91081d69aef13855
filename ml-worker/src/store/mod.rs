//! The artifact store: content-addressed files ([`Store`]), served over HTTP
//! (`GET /v1/artifacts/{hash}`, [`server`]), and a client that checks the hash, a size limit and
//! a deadline before anything uses what it fetched ([`client`]).
//!
//! An artifact's address is the model hash of its tensors when it is a safetensors file (a
//! checkpoint, or a model), else the BLAKE2b-256 of its bytes (a manifest). The model hash is
//! what the chain knows (leaves, `final_model_hash`), so a validator can ask for a checkpoint by
//! the hash it read from a leaf and check what comes back against that same hash.

use crate::config::hex32;
use crate::model::hash_named;
use crate::proof::{read_safetensors, write_atomic, Manifest, MANIFEST_FILE};
use anyhow::{ensure, Context, Result};
use pol_primitives::{hashing, Hash};
use std::path::{Path, PathBuf};

pub mod client;
pub mod server;

pub use client::{
	artifact_url, download, fetch, fetch_bundle, fetch_manifest, fetch_with, http_get, lanes_for,
	lanes_to, server_key, server_name, Downloaded, FetchError, FetchPolicy, Keep, Lanes,
	MAX_MANIFEST_BYTES,
};
pub use server::{peer_key, serve, serve_with, ServeFaults, ServerHandle, ServerLimits, Stall};

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

/// Checks that `bytes` are the artifact `expected`.
fn check_hash(bytes: &[u8], expected: &Hash) -> Result<()> {
	let actual = artifact_hash(bytes);
	ensure!(
		&actual == expected,
		"artifact hashes to {}, expected {}",
		hex32(&actual.0),
		hex32(&expected.0)
	);
	Ok(())
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
		let p = self.file_of(hash);
		p.is_file().then_some(p)
	}

	/// Stores `bytes` under their hash; returns it.
	pub fn put(&self, bytes: &[u8]) -> Result<Hash> {
		self.check_size(bytes.len() as u64)?;
		let hash = artifact_hash(bytes);
		self.write_new(&hash, bytes)?;
		Ok(hash)
	}

	/// Stores `bytes` only if they hash to `expected`.
	pub fn put_checked(&self, bytes: &[u8], expected: &Hash) -> Result<()> {
		self.check_size(bytes.len() as u64)?;
		check_hash(bytes, expected)?;
		self.write_new(expected, bytes)
	}

	/// Stores the file `file` only if its bytes hash to `expected`: as a hard link where the
	/// store and the file share a file system (a miner's bundle of a gigabyte is not copied
	/// every round), else as a copy. The file must not be rewritten in place afterwards: a
	/// bundle's files never are (each is written to a temporary file and renamed).
	pub fn put_file_checked(&self, file: &Path, expected: &Hash) -> Result<()> {
		let path = self.file_of(expected);
		if path.exists() {
			return Ok(());
		}
		let size = std::fs::metadata(file)
			.with_context(|| format!("reading {}", file.display()))?
			.len();
		self.check_size(size)?;
		let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
		check_hash(&bytes, expected)?;
		let tmp = path.with_extension(format!("tmp{}", std::process::id()));
		let _ = std::fs::remove_file(&tmp);
		match std::fs::hard_link(file, &tmp) {
			Ok(()) => std::fs::rename(&tmp, &path)
				.with_context(|| format!("renaming to {}", path.display())),
			// Another file system, or one without links: copy what was checked.
			Err(_) => write_atomic(&path, &bytes),
		}
	}

	/// Where artifact `hash` lives, stored or not.
	fn file_of(&self, hash: &Hash) -> PathBuf {
		self.dir.join(hex::encode(hash.0))
	}

	/// Writes artifact `hash` unless it is stored already (same hash, same bytes).
	fn write_new(&self, hash: &Hash, bytes: &[u8]) -> Result<()> {
		let path = self.file_of(hash);
		if path.exists() {
			return Ok(());
		}
		write_atomic(&path, bytes)
	}

	fn check_size(&self, size: u64) -> Result<()> {
		ensure!(
			size <= self.max_bytes,
			"artifact of {size} bytes is over the store's limit of {} bytes",
			self.max_bytes
		);
		Ok(())
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
			let expected = crate::config::parse_hash(&manifest.checkpoints[j as usize].model_hash)?;
			self.put_file_checked(&path, &expected)
				.with_context(|| format!("checkpoint {j} of {}", bundle.display()))?;
		}
		let manifest_bytes = std::fs::read(bundle.join(MANIFEST_FILE))?;
		self.put(&manifest_bytes)
	}
}
