//! What a task creator fixes for a task, and a miner cannot change: the model, the data, the
//! hyperparameters, the verification rule and the schedule. Bounded, so the chain can store
//! them; parsed here, so the chain rejects a spec the worker could not run.

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sp_core::ConstU32;
use sp_runtime::{BoundedVec, FixedU64, Perbill};

/// Longest model spec string.
pub const MAX_MODEL_SPEC_LEN: u32 = 128;
/// Most layers a model spec may name.
pub const MAX_LAYERS: usize = 16;
/// Widest layer a model spec may name.
pub const MAX_WIDTH: u32 = 4096;
/// Largest bound of a norm-clip aggregation. Updates of a model with at most [`MAX_LAYERS`]
/// layers of [`MAX_WIDTH`] have far smaller norms, and below 2⁵³/10⁹ a bound with 9 decimals
/// survives the workers' JSON manifests bit for bit.
pub const MAX_NORM_CLIP: u32 = 1_000_000;
/// Most segments a run may have (n = local_steps / checkpoint_interval): its manifest lists n + 1
/// checkpoints, and the chain's Merkle proofs and accusations stay small. 200 segments is what the
/// shipped tasks use to reach 99% detection with 3 validators at a 4% replay.
pub const MAX_SEGMENTS: u32 = 1024;
/// Most segments a validator replays of one run (`segments_per_check`). Enough for any
/// detection target the protocol aims at (with 3 validators, 99% detection of a miner forging a
/// quarter of its segments needs 7), and it bounds the chain's work to check an accusation.
pub const MAX_SEGMENTS_PER_CHECK: u32 = 64;
/// Largest tolerance of a `tolerance` comparison: 1% of a segment's update. A miner may steer
/// each segment by up to the tolerance without failing a replay; relative to the segment's own
/// update (not the whole model's norm), 1% keeps that drift a small share of honest progress,
/// and cross-hardware float noise over a segment stays orders of magnitude below it.
pub const MAX_TOLERANCE: Perbill = Perbill::from_parts(10_000_000);

/// Most libtorch intra-op threads a determinism profile may name: a spec must not make every
/// validator spawn more threads than a large server has cores.
pub const MAX_PROFILE_THREADS: u8 = 64;

/// A declarative model, e.g. `mlp:64-128-10` or `cnn:8x8x1-c16-c32-10`, as UTF-8 bytes.
pub type ModelSpecText = BoundedVec<u8, ConstU32<MAX_MODEL_SPEC_LEN>>;

/// A parsed model spec. Parameter names are fixed by the architecture, so every miner's
/// checkpoints name the same tensors.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ModelArch {
	/// Fully connected layers with ReLU between them: `mlp:<in>-<hidden>…-<out>`.
	/// Parameters `fc{i}.weight` (`[out, in]`) and `fc{i}.bias`, `i` from 0.
	Mlp {
		/// Layer widths, input first, at least two.
		widths: Vec<u32>,
	},
	/// 3×3 convolutions (padding 1) each followed by ReLU and 2×2 max-pooling, then one linear
	/// layer: `cnn:<h>x<w>x<c>-c<ch>…-<classes>`. Parameters `conv{i}.weight`
	/// (`[out, in, 3, 3]`), `conv{i}.bias`, `fc.weight`, `fc.bias`.
	Cnn {
		/// Input height.
		height: u32,
		/// Input width.
		width: u32,
		/// Input channels.
		channels: u32,
		/// Output channels of each convolution.
		conv: Vec<u32>,
		/// Number of classes.
		classes: u32,
	},
}

/// Why a model spec was rejected.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ModelSpecError {
	/// Not UTF-8, or not `mlp:…` / `cnn:…`.
	UnknownKind,
	/// A number is missing, malformed, zero or above [`MAX_WIDTH`].
	BadNumber,
	/// Too few or too many layers.
	BadLayerCount,
	/// The input image is too small for the number of poolings.
	ImageTooSmall,
}

fn number(s: &str) -> Result<u32, ModelSpecError> {
	let n: u32 = s.parse().map_err(|_| ModelSpecError::BadNumber)?;
	if n == 0 || n > MAX_WIDTH || s.starts_with('+') || s.starts_with('0') {
		return Err(ModelSpecError::BadNumber);
	}
	Ok(n)
}

impl ModelArch {
	/// Parses a spec string.
	pub fn parse(spec: &[u8]) -> Result<ModelArch, ModelSpecError> {
		let text = core::str::from_utf8(spec).map_err(|_| ModelSpecError::UnknownKind)?;
		if let Some(rest) = text.strip_prefix("mlp:") {
			let widths = rest.split('-').map(number).collect::<Result<Vec<_>, _>>()?;
			if widths.len() < 2 || widths.len() > MAX_LAYERS + 1 {
				return Err(ModelSpecError::BadLayerCount);
			}
			Ok(ModelArch::Mlp { widths })
		} else if let Some(rest) = text.strip_prefix("cnn:") {
			let parts: Vec<&str> = rest.split('-').collect();
			if parts.len() < 3 || parts.len() > MAX_LAYERS + 2 {
				return Err(ModelSpecError::BadLayerCount);
			}
			let dims = parts[0]
				.split('x')
				.map(number)
				.collect::<Result<Vec<_>, _>>()?;
			let [height, width, channels] = dims[..] else {
				return Err(ModelSpecError::BadNumber);
			};
			let conv = parts[1..parts.len() - 1]
				.iter()
				.map(|p| {
					p.strip_prefix('c')
						.ok_or(ModelSpecError::BadNumber)
						.and_then(number)
				})
				.collect::<Result<Vec<_>, _>>()?;
			let classes = number(parts[parts.len() - 1])?;
			// Each convolution halves the image; it must not vanish.
			let shrink = 1u32.checked_shl(conv.len() as u32).unwrap_or(u32::MAX);
			if height < shrink || width < shrink {
				return Err(ModelSpecError::ImageTooSmall);
			}
			Ok(ModelArch::Cnn {
				height,
				width,
				channels,
				conv,
				classes,
			})
		} else {
			Err(ModelSpecError::UnknownKind)
		}
	}

	/// Number of input features (`h·w·c` for a CNN).
	pub fn input_features(&self) -> u32 {
		match self {
			ModelArch::Mlp { widths } => widths[0],
			ModelArch::Cnn {
				height,
				width,
				channels,
				..
			} => height.saturating_mul(*width).saturating_mul(*channels),
		}
	}

	/// Number of outputs (classes).
	pub fn outputs(&self) -> u32 {
		match self {
			ModelArch::Mlp { widths } => widths[widths.len() - 1],
			ModelArch::Cnn { classes, .. } => *classes,
		}
	}
}

/// Where a task's data comes from.
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub enum DatasetSource {
	/// The UCI handwritten digits (8×8, 1,797 samples, 10 classes).
	Digits,
	/// A deterministic synthetic classification set.
	Synthetic {
		/// Generator seed.
		seed: u64,
		/// Number of samples.
		samples: u32,
		/// Features per sample.
		features: u32,
		/// Number of classes.
		classes: u32,
	},
}

/// How the training part of a data set is split into miners' shards.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum Partition {
	/// Samples dealt out evenly in a seeded random order.
	Iid,
	/// Non-IID: each class spread over the shards by Dirichlet(α) proportions, seeded by the
	/// task id. Smaller α, more skew.
	Dirichlet {
		/// The concentration α.
		alpha: FixedU64,
	},
}

/// A task's data: the set, its split into shards, and the held-out validation part.
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct DatasetSpec {
	/// The data set.
	pub source: DatasetSource,
	/// Number of miners' shards.
	pub num_shards: u32,
	/// How shards are drawn.
	pub partition: Partition,
	/// Share of the set held out for validation, disjoint from every shard.
	pub validation: Perbill,
}

/// The training hyperparameters every miner of a task uses.
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct Hyperparameters {
	/// SGD learning rate.
	pub learning_rate: FixedU64,
	/// SGD momentum (0 for plain SGD).
	pub momentum: FixedU64,
	/// Samples per step.
	pub batch_size: u32,
	/// SGD steps per round, `S`.
	pub local_steps: u32,
	/// Steps between checkpoints, `k`; it divides `local_steps`.
	pub checkpoint_interval: u32,
}

impl Hyperparameters {
	/// Segments per round, `n = S / k`; `None` if `k` is zero or does not divide `S`.
	pub fn num_segments(&self) -> Option<u32> {
		if self.checkpoint_interval == 0 || self.local_steps == 0 {
			return None;
		}
		(self.local_steps % self.checkpoint_interval == 0)
			.then(|| self.local_steps / self.checkpoint_interval)
	}
}

/// How a replayed segment is compared with the committed checkpoint.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum Comparison {
	/// Model hashes must be equal (same hardware class and thread count).
	Exact,
	/// Distance relative to the segment's own update at most this, for the parameters
	/// (`‖W′ − W_s‖₂ / ‖W′ − W_{s−1}‖₂`) and for the momentum buffers (`‖M′ − M_s‖₂ / ‖M′‖₂`),
	/// `′` the replay; at most [`MAX_TOLERANCE`].
	Tolerance(Perbill),
}

/// How validators check a miner's run.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct VerificationSpec {
	/// Segments each validator replays, `Q`: the last one (whose end is the update) and `Q − 1`
	/// others drawn from the validator's challenge randomness.
	pub segments_per_check: u32,
	/// How replays are compared.
	pub comparison: Comparison,
	/// What every miner trains and every validator replays under.
	pub profile: DeterminismProfile,
}

/// The device a task's runs are trained and replayed on.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Default,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum ProfileDevice {
	/// libtorch's CPU kernels.
	#[default]
	Cpu,
	/// The first CUDA device, with deterministic algorithms only and TF32 off.
	Cuda,
}

/// The widest CPU instruction set libtorch's kernels (ATen, MKL, oneDNN) may use. Kernels of
/// different widths add in different orders, so they give different bits.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Default,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum CpuIsa {
	/// The scalar kernels every CPU runs (the only level on non-x86 hosts).
	Default,
	/// AVX2 with FMA: the widest level common to x86-64 servers of the last decade.
	#[default]
	Avx2,
	/// AVX-512 (F, BW, VL, DQ).
	Avx512,
}

/// The bytes of a [`GpuClass`]: as long as NVML's model names may be (96; the longest seen,
/// "NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition", is 55).
pub const GPU_CLASS_BYTES: usize = 96;

/// A CUDA device class: the GPU's model as NVIDIA's driver names it (`/proc/driver/nvidia/gpus/
/// */information`, e.g. `NVIDIA H100 80GB HBM3`; older drivers drop the `NVIDIA ` of some), printable
/// ASCII, zero-padded. A name that differs in any byte is another class (which only excludes
/// workers: it never makes an honest one wrong). cuBLAS and cuDNN
/// pick their kernels, and so their reduction orders, by the device, so a CUDA run replays bit
/// for bit only on the same model: the task pins it, and a run recorded on another is the
/// miner's fault (a class it names cannot make the honest validators abstain).
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct GpuClass(pub [u8; GPU_CLASS_BYTES]);

impl GpuClass {
	/// The class named `name`, if it is 1 to [`GPU_CLASS_BYTES`] printable ASCII characters
	/// with no space at either end.
	pub fn new(name: &str) -> Option<GpuClass> {
		let bytes = name.as_bytes();
		let valid = !bytes.is_empty()
			&& bytes.len() <= GPU_CLASS_BYTES
			&& name.trim() == name
			&& bytes.iter().all(|b| (0x20..0x7f).contains(b));
		if !valid {
			return None;
		}
		let mut out = [0u8; GPU_CLASS_BYTES];
		out[..bytes.len()].copy_from_slice(bytes);
		Some(GpuClass(out))
	}

	/// The name, without its padding; `None` if the bytes are not a valid class (a name, then
	/// zeros only).
	pub fn name(&self) -> Option<&str> {
		let len = self
			.0
			.iter()
			.position(|b| *b == 0)
			.unwrap_or(GPU_CLASS_BYTES);
		let name = core::str::from_utf8(&self.0[..len]).ok()?;
		let padded = self.0[len..].iter().all(|b| *b == 0);
		(padded && GpuClass::new(name) == Some(*self)).then_some(name)
	}
}

/// How exact replay is made possible: a run is reproduced bit for bit only under the same
/// device kind (and GPU class, on CUDA), CPU kernel width and thread count. Miners train under the task's profile and
/// validators replay under it; a worker that cannot run it does not take part.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct DeterminismProfile {
	/// Where the run is trained.
	pub device: ProfileDevice,
	/// The CPU kernel width.
	pub isa: CpuIsa,
	/// libtorch intra-op threads, 1 to [`MAX_PROFILE_THREADS`]. Reductions split across
	/// threads add in another order, so the count is part of the result.
	pub threads: u8,
	/// The GPU class a CUDA profile pins; `None` on the CPU.
	pub gpu: Option<GpuClass>,
}

impl Default for DeterminismProfile {
	/// CPU, AVX2, one thread: what any x86-64 server can replay.
	fn default() -> Self {
		Self {
			device: ProfileDevice::Cpu,
			isa: CpuIsa::Avx2,
			threads: 1,
			gpu: None,
		}
	}
}

impl DeterminismProfile {
	/// Whether the chain accepts it: 1 to [`MAX_PROFILE_THREADS`] threads, and a valid GPU
	/// class exactly when the device is CUDA.
	pub fn is_valid(&self) -> bool {
		let gpu_ok = match (self.device, &self.gpu) {
			(ProfileDevice::Cpu, None) => true,
			(ProfileDevice::Cuda, Some(class)) => class.name().is_some(),
			_ => false,
		};
		(1..=MAX_PROFILE_THREADS).contains(&self.threads) && gpu_ok
	}
}

/// How validators combine the updates that passed into the next global model. Part of the
/// task, so every validator aggregates alike and their proposals can agree on one hash.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Default,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum AggregationRule {
	/// Mean weighted by consensus score.
	#[default]
	FedAvg,
	/// Coordinate-wise median: robust to a minority of bad updates.
	Median,
	/// Coordinate-wise mean after dropping this share of the values at each end.
	TrimmedMean {
		/// Share trimmed at each end; below one half.
		trim: Perbill,
	},
	/// FedAvg of the updates' deltas from the current model, each clipped to this L2 norm.
	NormClip {
		/// Largest delta norm; positive, at most [`MAX_NORM_CLIP`].
		max_norm: FixedU64,
	},
}

impl AggregationRule {
	/// Whether its parameter is in range: a trim below one half, a norm bound in
	/// (0, [`MAX_NORM_CLIP`]].
	pub fn is_valid(&self) -> bool {
		match self {
			AggregationRule::FedAvg | AggregationRule::Median => true,
			AggregationRule::TrimmedMean { trim } => *trim < Perbill::from_percent(50),
			AggregationRule::NormClip { max_norm } => {
				max_norm.into_inner() > 0 && *max_norm <= FixedU64::from_u32(MAX_NORM_CLIP)
			}
		}
	}

	/// How many of `m` values a trimmed mean drops at each end: `⌊trim · m⌋`, in integers so
	/// that every validator drops the same number, and at least one once there are 3 values and
	/// the trim is not zero (0 for the other rules). A trim that dropped nothing would be a plain
	/// mean, which one forged update moves by `1/m` of any jump it makes.
	pub fn trimmed_count(&self, m: u32) -> u32 {
		match self {
			AggregationRule::TrimmedMean { trim } => {
				let share = (u64::from(trim.deconstruct()) * u64::from(m) / 1_000_000_000) as u32;
				// `trim < ½` keeps `2·share < m`; one at each end needs `m ≥ 3` for the same.
				if share == 0 && !trim.is_zero() && m >= 3 {
					1
				} else {
					share
				}
			}
			_ => 0,
		}
	}
}

/// The blocks of each phase of a round (see [`crate::Phase`]), and the number of rounds.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct Schedule {
	/// Train and commit.
	pub commit_blocks: u32,
	/// Reveal.
	pub reveal_blocks: u32,
	/// Validators replay, score and commit their scores.
	pub verify_blocks: u32,
	/// Validators reveal their scores; `Fail` and `NotServed` verdicts open disputes.
	pub score_reveal_blocks: u32,
	/// The scorers replay the claimed segments and commit their dispute votes.
	pub vote_commit_blocks: u32,
	/// The scorers reveal their dispute votes.
	pub vote_reveal_blocks: u32,
	/// Global-model proposals; the round closes at its end.
	pub finalize_blocks: u32,
	/// Rounds the task runs.
	pub rounds: u32,
}

impl Schedule {
	/// Blocks per round; `None` if a phase is empty or the sum overflows.
	pub fn round_blocks(&self) -> Option<u32> {
		let phases = [
			self.commit_blocks,
			self.reveal_blocks,
			self.verify_blocks,
			self.score_reveal_blocks,
			self.vote_commit_blocks,
			self.vote_reveal_blocks,
			self.finalize_blocks,
		];
		if phases.contains(&0) {
			return None;
		}
		phases.iter().try_fold(0u32, |acc, p| acc.checked_add(*p))
	}
}
