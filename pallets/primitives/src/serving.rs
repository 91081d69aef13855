//! What a miner's artifact server owes the validators that fetch from it, and the phase length
//! that makes the debt enforceable.
//!
//! A validator asks for every checkpoint it needs at once, at the start of the verify phase.
//! A server that keeps to the protocol's minimum rate delivers them all within
//! [`serve_millis`] of the bytes asked for, measured from that start; whatever it has not
//! delivered by then it withheld, and the validator reports it as not served. That is only
//! enforceable when the phase outlasts the debt: otherwise a stall runs into the validator's own
//! deadline and reads as the validator's lateness (an abstention), which a forger could aim at
//! exactly the validators that drew its forged segment. So the task registry refuses a task
//! whose verify phase is shorter than [`min_verify_blocks`], and worker and chain compute the
//! debt from the same constants (docs/PROTOCOL.md, "What a server owes").

use crate::specs::ModelArch;

/// Seconds a server has before the minimum rate applies: the connection and the response head.
pub const SERVE_GRACE_SECS: u64 = 10;
/// The slowest a server may send, bytes a second; a transfer below it after the grace is
/// abandoned (and retried), and the time owed for `b` bytes is `b` at this rate.
pub const MIN_SERVE_BYTES_PER_SEC: u64 = 64 * 1024;
/// Requests a validator keeps in flight to one server at once (fewer only when it needs fewer):
/// a server is owed a round trip per wave of this many requests.
pub const FETCH_LANES: u32 = 8;
/// What a server is owed per wave of requests besides the bytes: a round trip and a response
/// head, on a slow or distant link.
pub const REQUEST_ALLOWANCE_MILLIS: u64 = 1_000;
/// Blocks a validator keeps at a phase's end for its own transaction to be included.
pub const PHASE_MARGIN_BLOCKS: u32 = 3;
/// Blocks a validator may take to see that a phase has begun: the block that began it and one
/// more (it reads the chain, draws its challenge, loads the model).
pub const PHASE_NOTICE_BLOCKS: u32 = 2;

/// A manifest's bytes besides its checkpoint entries: the task spec, the host record, the
/// hashes (an honest one is under 4 KiB).
pub const MANIFEST_BASE_BYTES: u64 = 16 * 1024;
/// A manifest's bytes per checkpoint: the entry (a model hash and a norm) and a segment loss
/// (an honest one, pretty-printed, about 300).
pub const MANIFEST_BYTES_PER_CHECKPOINT: u64 = 384;
/// A checkpoint's header bytes per tensor (safetensors' JSON: the name, dtype, shape and
/// offsets; an honest one under 160), and in all.
pub const CHECKPOINT_HEADER_BYTES_PER_TENSOR: u64 = 256;
/// A checkpoint's header bytes besides those of its tensors (the length prefix, padding).
pub const CHECKPOINT_HEADER_BASE_BYTES: u64 = 64;

/// The largest manifest of a run of `segments` segments: what a validator fetches at most,
/// and what a server is owed the time for. A larger one is the miner's fault.
pub fn manifest_bytes_bound(segments: u32) -> u64 {
	MANIFEST_BASE_BYTES.saturating_add(
		MANIFEST_BYTES_PER_CHECKPOINT.saturating_mul(u64::from(segments).saturating_add(1)),
	)
}

/// The element count of each parameter tensor of `arch`, in no particular order: an MLP's
/// `fc{i}.weight` and `fc{i}.bias`; a CNN's `conv{i}.weight` (3×3 kernels), `conv{i}.bias`,
/// `fc.weight` (over the image halved once per convolution) and `fc.bias`.
pub fn parameter_tensors(arch: &ModelArch) -> alloc::vec::Vec<u64> {
	let mut out = alloc::vec::Vec::new();
	match arch {
		ModelArch::Mlp { widths } => {
			for w in widths.windows(2) {
				out.push(u64::from(w[0]).saturating_mul(u64::from(w[1])));
				out.push(u64::from(w[1]));
			}
		}
		ModelArch::Cnn {
			height,
			width,
			channels,
			conv,
			classes,
		} => {
			let (mut h, mut w, mut c_in) = (u64::from(*height), u64::from(*width), *channels);
			for c_out in conv {
				let kernel = u64::from(c_in)
					.saturating_mul(u64::from(*c_out))
					.saturating_mul(9);
				out.push(kernel);
				out.push(u64::from(*c_out));
				c_in = *c_out;
				h /= 2;
				w /= 2;
			}
			let features = h.saturating_mul(w).saturating_mul(u64::from(c_in));
			out.push(features.saturating_mul(u64::from(*classes)));
			out.push(u64::from(*classes));
		}
	}
	out
}

/// The largest checkpoint of a model `arch`, with a momentum buffer per parameter when
/// `with_momentum`: every value an `f32`, the header at its bound. A worker's checkpoint is
/// never larger (a test of the worker's exact size holds it to this).
pub fn checkpoint_bytes_bound(arch: &ModelArch, with_momentum: bool) -> u64 {
	let tensors = parameter_tensors(arch);
	let copies: u64 = if with_momentum { 2 } else { 1 };
	let values: u64 = tensors.iter().fold(0u64, |a, n| a.saturating_add(*n));
	let header = CHECKPOINT_HEADER_BASE_BYTES.saturating_add(
		CHECKPOINT_HEADER_BYTES_PER_TENSOR
			.saturating_mul(tensors.len() as u64)
			.saturating_mul(copies),
	);
	values
		.saturating_mul(4)
		.saturating_mul(copies)
		.saturating_add(header)
}

/// The most checkpoints a validator fetches from a miner's server to check `q` of `segments`
/// segments: both ends of each challenged segment.
pub fn checkpoints_fetched(segments: u32, q: u32) -> u64 {
	u64::from(q.min(segments)).saturating_mul(2)
}

/// Milliseconds a server that keeps to the minimum rate takes to deliver `bytes` in `requests`
/// requests, asked for together ([`FETCH_LANES`] at a time; a manifest's first): the grace, a
/// [`REQUEST_ALLOWANCE_MILLIS`] per wave of requests, then the bytes at
/// [`MIN_SERVE_BYTES_PER_SEC`] (rounded up).
pub fn serve_millis(bytes: u64, requests: u32) -> u64 {
	let transfer = bytes
		.saturating_mul(1_000)
		.div_ceil(MIN_SERVE_BYTES_PER_SEC);
	let waves = u64::from(requests.div_ceil(FETCH_LANES));
	SERVE_GRACE_SECS
		.saturating_mul(1_000)
		.saturating_add(waves.saturating_mul(REQUEST_ALLOWANCE_MILLIS))
		.saturating_add(transfer)
}

/// The bytes a validator may ask one miner's server for in a verify phase: the manifest and
/// the checkpoints of `q` challenged segments of `segments`, each checkpoint at most
/// `checkpoint_bytes`.
pub fn verify_fetch_bytes(segments: u32, q: u32, checkpoint_bytes: u64) -> u64 {
	manifest_bytes_bound(segments)
		.saturating_add(checkpoints_fetched(segments, q).saturating_mul(checkpoint_bytes))
}

/// The requests of a verification, counted in whole waves: the manifest alone, then its
/// checkpoints together.
pub fn verify_fetch_requests(segments: u32, q: u32) -> u32 {
	let checkpoints = u32::try_from(checkpoints_fetched(segments, q)).unwrap_or(u32::MAX);
	checkpoints
		.div_ceil(FETCH_LANES)
		.saturating_add(1)
		.saturating_mul(FETCH_LANES)
}

/// The shortest phase, in blocks of `block_millis`, in which a stall of a server that owes
/// `bytes` in `requests` can be told from a validator's own lateness: the blocks the debt takes,
/// the blocks a validator needs to notice the phase, and the blocks it keeps for its
/// transaction. What the validator computes after (its replays) needs more, which the task's
/// creator gives on top.
pub fn min_fetch_phase_blocks(bytes: u64, requests: u32, block_millis: u64) -> u32 {
	let owed = serve_millis(bytes, requests).div_ceil(block_millis.max(1));
	u32::try_from(owed)
		.unwrap_or(u32::MAX)
		.saturating_add(PHASE_NOTICE_BLOCKS)
		.saturating_add(PHASE_MARGIN_BLOCKS)
}

/// [`min_fetch_phase_blocks`] of a task's verify phase: a model `arch` (with momentum buffers
/// when `with_momentum`), `segments` segments, `q` checked.
pub fn min_verify_blocks(
	arch: &ModelArch,
	with_momentum: bool,
	segments: u32,
	q: u32,
	block_millis: u64,
) -> u32 {
	let bytes = verify_fetch_bytes(segments, q, checkpoint_bytes_bound(arch, with_momentum));
	min_fetch_phase_blocks(bytes, verify_fetch_requests(segments, q), block_millis)
}

/// The shortest phase in which a validator reveals what it committed: the blocks it needs to
/// notice the phase and the blocks it keeps for its transaction. Shorter, an honest reveal can
/// miss the phase for no fault of its maker.
pub const fn min_reveal_blocks() -> u32 {
	PHASE_NOTICE_BLOCKS + PHASE_MARGIN_BLOCKS
}

/// [`min_fetch_phase_blocks`] of a task's vote-commit phase: a voter fetches the manifest and
/// both ends of every segment claimed against a miner, and a claim may land in the score-reveal
/// phase's last block, so the phase after it must hold those fetches. A dispute names at most
/// one segment per scorer (`scorers`, the most a round snapshots), so at most
/// `min(segments, scorers)` of them. Sized for fewer, a cartel's free `Fail` decoys on a
/// forger's other segments would use up the voters' time before they reached the forged one
/// (the dispute then undecided, the forger unslashed); sized for one, a colluding scorer's late
/// claim could leave an honest miner's dispute undecided (unpaid).
pub fn min_vote_commit_blocks(
	arch: &ModelArch,
	with_momentum: bool,
	segments: u32,
	scorers: u32,
	block_millis: u64,
) -> u32 {
	min_verify_blocks(arch, with_momentum, segments, scorers.max(1), block_millis)
}
