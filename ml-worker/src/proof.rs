//! Proofs of learning: checkpoints as safetensors, the checkpoint tree, and the proof bundle (a
//! directory with the checkpoints and a JSON manifest).
//!
//! Checkpoint `C_j` is the model's parameters after `j·k` steps and, when the task trains with
//! momentum, the optimizer's momentum buffers (named `momentum.<parameter>`), so that a segment
//! can be replayed from its first checkpoint alone. Leaf `j` commits to the model hash of all
//! of `C_j`'s tensors (momentum included: a miner cannot pick the momentum that makes a forged
//! step replay) and to `‖C_j − C_{j−1}‖₂` over the parameters. `final_model_hash` is leaf `n`'s
//! model hash, of all of the last checkpoint's tensors, so that the chain can check at reveal
//! that it is leaf `n` of the committed tree; the last checkpoint's parameters are the update
//! that is scored and aggregated.

use crate::config::{hex32, parse_account, parse_hash, TaskSpec};
use crate::model::{hash_named, hash_renamed, l2_distance, NamedTensor};
use crate::profile::Host;
use anyhow::{bail, ensure, Context, Result};
use pol_primitives::{
	hashing, merkle, AccountBytes, ArtifactUri, Hash, RoundIndex, UpdateCommitment,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Name prefix of the optimizer's momentum buffers in a checkpoint.
pub const MOMENTUM_PREFIX: &str = "momentum.";
/// File name of a bundle's manifest.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Format version of the manifest.
pub const MANIFEST_VERSION: u32 = 2;

/// A checkpoint: parameters and (with momentum) the momentum buffers, both sorted by name.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
	/// The model's parameters.
	pub params: Vec<NamedTensor>,
	/// One buffer per parameter, same names and shapes; empty for plain SGD.
	pub momentum: Vec<NamedTensor>,
}

impl Checkpoint {
	/// A checkpoint of `params` with zero momentum (a round's start), or none for plain SGD.
	pub fn start(params: Vec<NamedTensor>, with_momentum: bool) -> Checkpoint {
		let mut params = params;
		params.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
		let momentum = if with_momentum {
			params
				.iter()
				.map(|p| NamedTensor {
					name: p.name.clone(),
					dims: p.dims.clone(),
					data: vec![0.0; p.data.len()],
				})
				.collect()
		} else {
			Vec::new()
		};
		Checkpoint { params, momentum }
	}

	/// Every tensor as stored: parameters, then momentum buffers under their prefixed names.
	pub fn stored(&self) -> Vec<NamedTensor> {
		self.stored_views()
			.map(|(name, t)| NamedTensor {
				name,
				dims: t.dims.clone(),
				data: t.data.clone(),
			})
			.collect()
	}

	/// [`Checkpoint::stored`]'s names with the tensors they name, without copying a value.
	fn stored_views(&self) -> impl Iterator<Item = (String, &NamedTensor)> {
		self.params.iter().map(|p| (p.name.clone(), p)).chain(
			self.momentum
				.iter()
				.map(|m| (format!("{MOMENTUM_PREFIX}{}", m.name), m)),
		)
	}

	/// The model hash of all stored tensors: what leaf `j` commits to.
	pub fn hash(&self) -> Result<Hash> {
		hash_renamed(self.stored_views())
	}

	/// The model hash of the parameters alone.
	pub fn model_hash(&self) -> Result<Hash> {
		hash_named(&self.params)
	}

	/// The safetensors bytes of the checkpoint.
	pub fn to_safetensors(&self) -> Result<Vec<u8>> {
		let stored: Vec<(String, &NamedTensor)> = self.stored_views().collect();
		let bytes: Vec<_> = stored.iter().map(|(_, t)| t.le_view()).collect();
		let views = stored
			.iter()
			.zip(&bytes)
			.map(|((name, t), b)| {
				let shape = t.dims.iter().map(|&d| d as usize).collect();
				safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape, b)
					.map(|v| (name.clone(), v))
					.map_err(|e| anyhow::anyhow!("tensor {name}: {e:?}"))
			})
			.collect::<Result<Vec<_>>>()?;
		safetensors::serialize(views.iter().map(|(n, v)| (n.clone(), v)), &None)
			.map_err(|e| anyhow::anyhow!("serializing a checkpoint: {e:?}"))
	}

	/// A checkpoint from safetensors bytes: f32 tensors only, every momentum buffer matching a
	/// parameter. Any malformed input is an error.
	pub fn from_safetensors(bytes: &[u8]) -> Result<Checkpoint> {
		let tensors = read_safetensors(bytes)?;
		let (momentum, params): (Vec<NamedTensor>, Vec<NamedTensor>) = tensors
			.into_iter()
			.partition(|t| t.name.starts_with(MOMENTUM_PREFIX));
		let momentum: Vec<NamedTensor> = momentum
			.into_iter()
			.map(|mut m| {
				m.name = m.name[MOMENTUM_PREFIX.len()..].to_string();
				m
			})
			.collect();
		let mut ckpt = Checkpoint { params, momentum };
		ckpt.params
			.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
		ckpt.momentum
			.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
		if !ckpt.momentum.is_empty() {
			let layout: Vec<(String, Vec<u64>)> = ckpt
				.params
				.iter()
				.map(|p| (p.name.clone(), p.dims.clone()))
				.collect();
			crate::model::check_same_layout(&layout, &ckpt.momentum)
				.context("the momentum buffers do not match the parameters")?;
		}
		Ok(ckpt)
	}

	/// Reads a checkpoint file.
	pub fn read(path: &Path) -> Result<Checkpoint> {
		let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
		Checkpoint::from_safetensors(&bytes).with_context(|| format!("in {}", path.display()))
	}

	/// Writes a checkpoint file (through a temporary file, so a crash leaves no torn file).
	pub fn write(&self, path: &Path) -> Result<()> {
		write_atomic(path, &self.to_safetensors()?)
	}
}

/// The exact size in bytes of a checkpoint whose parameters have `layout` (names and shapes),
/// with a momentum buffer per parameter when `with_momentum`, as [`Checkpoint::to_safetensors`]
/// writes it: every checkpoint of a run has these tensors, so a validator knows the size of a
/// checkpoint before its first byte arrives and fetches no more (docs/PROTOCOL.md, "Checkpoint
/// size"). The header is serialized by the same encoder as a checkpoint's; the values are not
/// built.
pub fn checkpoint_size(layout: &[(String, Vec<u64>)], with_momentum: bool) -> Result<u64> {
	/// A tensor of known shape whose values are never read: safetensors lays out its header from
	/// the shapes and lengths alone.
	struct Shape {
		shape: Vec<usize>,
		len: usize,
	}
	impl safetensors::View for Shape {
		fn dtype(&self) -> safetensors::Dtype {
			safetensors::Dtype::F32
		}
		fn shape(&self) -> &[usize] {
			&self.shape
		}
		fn data(&self) -> std::borrow::Cow<'_, [u8]> {
			std::borrow::Cow::Borrowed(&[])
		}
		fn data_len(&self) -> usize {
			self.len
		}
	}
	let mut tensors = Vec::new();
	let mut data: u64 = 0;
	let prefixes: &[&str] = if with_momentum {
		&["", MOMENTUM_PREFIX]
	} else {
		&[""]
	};
	for prefix in prefixes {
		for (name, dims) in layout {
			let shape = dims
				.iter()
				.map(|&d| usize::try_from(d).ok())
				.collect::<Option<Vec<usize>>>()
				.with_context(|| format!("tensor {name} is too large"))?;
			let len = shape
				.iter()
				.try_fold(4usize, |n, &d| n.checked_mul(d))
				.with_context(|| format!("tensor {name} is too large"))?;
			data = data.saturating_add(len as u64);
			tensors.push((format!("{prefix}{name}"), Shape { shape, len }));
		}
	}
	let header = safetensors::serialize(tensors, &None)
		.map_err(|e| anyhow::anyhow!("laying out a checkpoint: {e:?}"))?;
	Ok(header.len() as u64 + data)
}

/// The f32 tensors of safetensors bytes.
pub fn read_safetensors(bytes: &[u8]) -> Result<Vec<NamedTensor>> {
	let st = safetensors::SafeTensors::deserialize(bytes)
		.map_err(|e| anyhow::anyhow!("not a safetensors file: {e:?}"))?;
	let mut out = Vec::new();
	for (name, view) in st.tensors() {
		ensure!(
			view.dtype() == safetensors::Dtype::F32,
			"tensor {name} is {:?}, checkpoints hold f32 only",
			view.dtype()
		);
		let data = view
			.data()
			.chunks_exact(4)
			.map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
			.collect();
		out.push(NamedTensor {
			name,
			dims: view.shape().iter().map(|&d| d as u64).collect(),
			data,
		});
	}
	out.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
	Ok(out)
}

/// Writes `bytes` to `path` through a temporary file in the same directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
	let tmp = path.with_extension(format!("tmp{}", std::process::id()));
	std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
	std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
}

/// [`write_atomic`], the file readable and writable by this user only (mode 0600), from its
/// creation on: nobody else ever sees the bytes.
pub fn write_atomic_private(path: &Path, bytes: &[u8]) -> Result<()> {
	use std::io::Write;
	use std::os::unix::fs::OpenOptionsExt;
	let tmp = path.with_extension(format!("tmp{}", std::process::id()));
	let mut f = std::fs::OpenOptions::new()
		.write(true)
		.create(true)
		.truncate(true)
		.mode(0o600)
		.open(&tmp)
		.with_context(|| format!("creating {}", tmp.display()))?;
	f.write_all(bytes)
		.and_then(|()| f.sync_all())
		.with_context(|| format!("writing {}", tmp.display()))?;
	std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
}

/// Leaf `j`'s parts and its hash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointEntry {
	/// Checkpoint index `j`, 0..=n.
	pub index: u32,
	/// File name in the bundle.
	pub file: String,
	/// Model hash of all the checkpoint's tensors.
	pub model_hash: String,
	/// `‖C_j − C_{j−1}‖₂` over the parameters (0 for j = 0).
	pub update_norm: f32,
	/// The leaf hash.
	pub leaf: String,
}

/// A proof bundle's manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
	/// Format version.
	pub version: u32,
	/// The task, as the miner trained it.
	pub spec: TaskSpec,
	/// Task id (also in `spec`; here for people and scripts).
	pub task: u64,
	/// Round.
	pub round: RoundIndex,
	/// The miner's account.
	pub miner: String,
	/// The round seed the batches derive from.
	pub round_seed: String,
	/// The miner's shard.
	pub shard: u32,
	/// Model hash of the round's starting model (the parameters of checkpoint 0).
	pub initial_model_hash: String,
	/// What libtorch ran the training with, under the spec's determinism profile.
	pub host: Host,
	/// Checkpoints `0..=n`.
	pub checkpoints: Vec<CheckpointEntry>,
	/// Merkle root over the leaves.
	pub checkpoint_root: String,
	/// Model hash of the last checkpoint, all of its tensors (leaf `n`'s model hash).
	pub final_model_hash: String,
	/// Segments, n.
	pub num_segments: u32,
	/// Mean training loss over the run.
	pub train_loss: f64,
	/// Mean training loss of each segment.
	pub segment_losses: Vec<f64>,
}

impl Manifest {
	/// The miner's account bytes.
	pub fn miner_account(&self) -> Result<AccountBytes> {
		parse_account(&self.miner)
	}

	/// The leaves, parsed.
	pub fn leaves(&self) -> Result<Vec<Hash>> {
		self.checkpoints
			.iter()
			.map(|c| parse_hash(&c.leaf).with_context(|| format!("leaf {}", c.index)))
			.collect()
	}

	/// The committed update norms, by checkpoint.
	pub fn norms(&self) -> Vec<f32> {
		self.checkpoints.iter().map(|c| c.update_norm).collect()
	}

	/// The commitment a miner would reveal for this bundle.
	pub fn commitment(&self, artifact_uri: &str) -> Result<UpdateCommitment> {
		Ok(UpdateCommitment {
			checkpoint_root: parse_hash(&self.checkpoint_root)?,
			final_model_hash: parse_hash(&self.final_model_hash)?,
			num_segments: self.num_segments,
			train_loss: crate::config::fixed(self.train_loss.max(0.0)),
			artifact_uri: ArtifactUri::try_from(artifact_uri.as_bytes().to_vec())
				.map_err(|_| anyhow::anyhow!("artifact URI longer than the chain allows"))?,
		})
	}

	/// Reads `manifest.json` of a bundle.
	pub fn read(bundle: &Path) -> Result<Manifest> {
		let path = bundle.join(MANIFEST_FILE);
		let text = std::fs::read_to_string(&path)
			.with_context(|| format!("reading {}", path.display()))?;
		let m: Manifest =
			serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
		ensure!(
			m.version == MANIFEST_VERSION,
			"manifest version {} (this worker reads {MANIFEST_VERSION})",
			m.version
		);
		Ok(m)
	}

	/// Writes `manifest.json` into a bundle.
	pub fn write(&self, bundle: &Path) -> Result<()> {
		let text = serde_json::to_string_pretty(self).context("encoding the manifest")?;
		write_atomic(&bundle.join(MANIFEST_FILE), format!("{text}\n").as_bytes())
	}
}

/// The leaves of a run's checkpoints, and the entries of its manifest.
pub fn leaves_of(checkpoints: &[Checkpoint]) -> Result<Vec<CheckpointEntry>> {
	let mut entries = Vec::with_capacity(checkpoints.len());
	for (j, c) in checkpoints.iter().enumerate() {
		let norm = if j == 0 {
			0.0
		} else {
			l2_distance(&c.params, &checkpoints[j - 1].params)? as f32
		};
		entries.push(entry(j as u32, &c.hash()?, norm));
	}
	Ok(entries)
}

/// The manifest entry of checkpoint `j`.
pub fn entry(j: u32, model_hash: &Hash, update_norm: f32) -> CheckpointEntry {
	CheckpointEntry {
		index: j,
		file: checkpoint_file(j),
		model_hash: hex32(&model_hash.0),
		update_norm,
		leaf: hex32(&hashing::leaf_hash(j, model_hash, update_norm).0),
	}
}

/// The file name of checkpoint `j` in a bundle.
pub fn checkpoint_file(j: u32) -> String {
	format!("ckpt-{j:05}.safetensors")
}

/// What a bundle's writer fills in besides the checkpoints.
pub struct BundleInfo {
	/// The task.
	pub spec: TaskSpec,
	/// Round.
	pub round: RoundIndex,
	/// Miner.
	pub miner: AccountBytes,
	/// Round seed.
	pub round_seed: Hash,
	/// Shard.
	pub shard: u32,
	/// What libtorch ran the training with.
	pub host: Host,
	/// Loss of each step.
	pub losses: Vec<f64>,
}

/// Writes a bundle of `checkpoints` (0..=n) into `dir` and returns its manifest.
pub fn write_bundle(dir: &Path, info: &BundleInfo, checkpoints: &[Checkpoint]) -> Result<Manifest> {
	let mut writer = BundleWriter::new(dir)?;
	for c in checkpoints {
		writer.push(c)?;
	}
	writer.finish(info)
}

/// Writes a bundle one checkpoint at a time, as training produces them, so that a run never
/// holds more than two checkpoints in memory ([`BackgroundWriter`] does it beside training).
pub struct BundleWriter {
	dir: PathBuf,
	entries: Vec<CheckpointEntry>,
	prev: Option<Vec<NamedTensor>>,
	initial: Option<Hash>,
	last: Option<Hash>,
	cpu_secs: Option<f64>,
}

impl BundleWriter {
	/// A writer into `dir` (created).
	pub fn new(dir: &Path) -> Result<BundleWriter> {
		std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
		Ok(BundleWriter {
			dir: dir.to_path_buf(),
			entries: Vec::new(),
			prev: None,
			initial: None,
			last: None,
			cpu_secs: None,
		})
	}

	/// Writes the next checkpoint (0 first) and records its leaf.
	pub fn push(&mut self, c: &Checkpoint) -> Result<()> {
		self.push_owned(c.clone())
	}

	/// [`BundleWriter::push`], keeping the checkpoint's parameters for the next norm without
	/// copying them.
	pub fn push_owned(&mut self, c: Checkpoint) -> Result<()> {
		let j = self.entries.len() as u32;
		let norm = match &self.prev {
			Some(prev) => l2_distance(&c.params, prev)? as f32,
			None => 0.0,
		};
		let hash = c.hash()?;
		let e = entry(j, &hash, norm);
		c.write(&self.dir.join(&e.file))?;
		if self.initial.is_none() {
			self.initial = Some(c.model_hash()?);
		}
		self.last = Some(hash);
		self.prev = Some(c.params);
		self.entries.push(e);
		Ok(())
	}

	/// This writer on a thread of its own: checkpoints are hashed and written while training
	/// goes on. The thread never calls libtorch, so the profile's threads and its determinism
	/// are untouched.
	pub fn spawn(self) -> BackgroundWriter {
		// Two in flight: training waits for the writer only when it falls two checkpoints
		// behind, and at most four checkpoints (two queued, one written, one kept) are held.
		let (tx, rx) = std::sync::mpsc::sync_channel::<Checkpoint>(2);
		let pending = std::sync::Arc::new(Pending::default());
		let seen = pending.clone();
		let thread = std::thread::Builder::new()
			.name("bundle-writer".into())
			.spawn(move || -> Result<BundleWriter> {
				let mut writer = self;
				let written = rx.iter().try_for_each(|c| {
					let r = writer.push_owned(c);
					seen.done(r.is_err());
					r
				});
				// Stopped, one way or another: nobody may wait for it any more.
				seen.done(true);
				written?;
				// The thread did nothing else: its CPU time is the writer's.
				writer.cpu_secs = crate::cpu_time::thread_cpu_secs();
				Ok(writer)
			});
		BackgroundWriter {
			tx: Some(tx),
			thread: Some(thread),
			pending,
		}
	}

	/// Writes the manifest and returns it.
	pub fn finish(self, info: &BundleInfo) -> Result<Manifest> {
		ensure!(
			self.entries.len() >= 2,
			"a bundle needs at least two checkpoints"
		);
		let (Some(initial), Some(last)) = (self.initial, self.last) else {
			bail!("a bundle needs at least two checkpoints");
		};
		let leaves: Vec<Hash> = self
			.entries
			.iter()
			.map(|e| parse_hash(&e.leaf))
			.collect::<Result<_>>()?;
		let n = (self.entries.len() - 1) as u32;
		let k = info.spec.hyperparameters.checkpoint_interval.max(1) as usize;
		let segment_losses = info
			.losses
			.chunks(k)
			.map(|c| c.iter().sum::<f64>() / c.len() as f64)
			.collect();
		let train_loss = if info.losses.is_empty() {
			0.0
		} else {
			info.losses.iter().sum::<f64>() / info.losses.len() as f64
		};
		let manifest = Manifest {
			version: MANIFEST_VERSION,
			spec: info.spec.clone(),
			task: info.spec.task.id,
			round: info.round,
			miner: hex32(&info.miner),
			round_seed: hex32(&info.round_seed.0),
			shard: info.shard,
			initial_model_hash: hex32(&initial.0),
			host: info.host.clone(),
			checkpoints: self.entries,
			checkpoint_root: hex32(&merkle::root(&leaves).0),
			final_model_hash: hex32(&last.0),
			num_segments: n,
			train_loss,
			segment_losses,
		};
		manifest.write(&self.dir)?;
		Ok(manifest)
	}
}

/// A [`BundleWriter`] on its own thread ([`BundleWriter::spawn`]).
pub struct BackgroundWriter {
	tx: Option<std::sync::mpsc::SyncSender<Checkpoint>>,
	thread: Option<std::io::Result<std::thread::JoinHandle<Result<BundleWriter>>>>,
	pending: std::sync::Arc<Pending>,
}

/// Checkpoints handed to a [`BackgroundWriter`] and not yet written, so that one can wait until
/// it is idle ([`BackgroundWriter::wait_idle`]).
#[derive(Default)]
struct Pending {
	count: std::sync::Mutex<usize>,
	idle: std::sync::Condvar,
}

impl Pending {
	fn count(&self) -> std::sync::MutexGuard<'_, usize> {
		self.count.lock().unwrap_or_else(|e| e.into_inner())
	}

	fn add(&self) {
		*self.count() += 1;
	}

	/// One written, or (`all`) the writer stopped: none left to wait for.
	fn done(&self, all: bool) {
		let mut count = self.count();
		*count = if all { 0 } else { count.saturating_sub(1) };
		if *count == 0 {
			self.idle.notify_all();
		}
	}
}

impl BackgroundWriter {
	/// Hands the next checkpoint to the writer; waits only while two are queued. An error of
	/// the writer (a full disk) is returned here, at the latest on the next push.
	pub fn push(&mut self, c: Checkpoint) -> Result<()> {
		self.pending.add();
		let sent = match &self.tx {
			Some(tx) => tx.send(c).is_ok(),
			None => false,
		};
		if sent {
			return Ok(());
		}
		// The writer stopped: its own error says why.
		self.tx = None;
		match self.join() {
			Err(e) => Err(e),
			Ok(_) => bail!("the bundle writer stopped"),
		}
	}

	/// Waits until every checkpoint handed over so far is written (or the writer stopped: the
	/// next push or `finish` says why). The bench uses it to keep the writer's work inside the
	/// segments it times.
	pub fn wait_idle(&self) {
		let mut count = self.pending.count();
		while *count > 0 {
			count = self
				.pending
				.idle
				.wait(count)
				.unwrap_or_else(|e| e.into_inner());
		}
	}

	/// Waits for every checkpoint to be written, then writes the manifest.
	pub fn finish(self, info: &BundleInfo) -> Result<Manifest> {
		Ok(self.finish_timed(info)?.0)
	}

	/// [`BackgroundWriter::finish`], also returning the writer thread's CPU seconds, where the
	/// platform says: the proofs' work beside training.
	pub fn finish_timed(mut self, info: &BundleInfo) -> Result<(Manifest, Option<f64>)> {
		self.tx = None;
		let writer = self.join()?;
		let cpu = writer.cpu_secs;
		Ok((writer.finish(info)?, cpu))
	}

	fn join(&mut self) -> Result<BundleWriter> {
		match self.thread.take() {
			Some(Ok(handle)) => match handle.join() {
				Ok(result) => result.context("writing the bundle"),
				Err(_) => bail!("the bundle writer panicked"),
			},
			Some(Err(e)) => Err(anyhow::anyhow!("starting the bundle writer: {e}")),
			None => bail!("the bundle writer already stopped"),
		}
	}
}

/// The path of checkpoint `j` of a bundle, checked to stay inside it.
pub fn checkpoint_path(bundle: &Path, manifest: &Manifest, j: u32) -> Result<PathBuf> {
	let e = manifest
		.checkpoints
		.get(j as usize)
		.with_context(|| format!("the manifest has no checkpoint {j}"))?;
	// A manifest names files; it must not lead the verifier out of the bundle.
	if e.file.contains('/') || e.file.contains('\\') || e.file.starts_with('.') || e.file.is_empty()
	{
		bail!("checkpoint {j} has an unsafe file name {:?}", e.file);
	}
	Ok(bundle.join(&e.file))
}
