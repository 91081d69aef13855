//! Every hash and seed derivation of the protocol.
//!
//! Each preimage starts with an ASCII domain tag. Integers are little-endian and fixed-width;
//! accounts are their 32 bytes. `test-vectors.json` (next to this crate's `Cargo.toml`) pins
//! the output of every function here.

use crate::{
	AccountBytes, DType, Hash, RoundIndex, Salt, SegmentIndex, StepIndex, TaskId, UpdateCommitment,
};
use alloc::vec::Vec;
use codec::Encode;

/// Domain tag of [`round_seed`].
pub const TAG_ROUND: &[u8] = b"pol-round";
/// Domain tag of [`sample_index`].
pub const TAG_DATA: &[u8] = b"pol-data";
/// Domain tag of [`shard_of`].
pub const TAG_SHARD: &[u8] = b"pol-shard";
/// Domain tag of [`commit_hash`].
pub const TAG_COMMIT: &[u8] = b"pol-commit";
/// Domain tag of [`challenge_seed`].
pub const TAG_CHALLENGE_SEED: &[u8] = b"pol-challenge-seed";
/// Domain tag of [`challenge_segments`].
pub const TAG_CHALLENGE: &[u8] = b"pol-challenge";
/// Domain tag of [`leaf_hash`].
pub const TAG_LEAF: &[u8] = b"pol-leaf";

fn hash_parts(parts: &[&[u8]]) -> Hash {
	let mut state = blake2b_simd::Params::new().hash_length(32).to_state();
	for part in parts {
		state.update(part);
	}
	Hash::from_slice(state.finalize().as_bytes())
}

/// The first 8 bytes of a hash as a little-endian `u64`.
fn u64_prefix(h: &Hash) -> u64 {
	let mut b = [0u8; 8];
	b.copy_from_slice(&h.as_bytes()[..8]);
	u64::from_le_bytes(b)
}

/// BLAKE2b-256, as `sp_core::hashing::blake2_256` (and `BlakeTwo256`) compute it.
pub fn hash(data: &[u8]) -> Hash {
	hash_parts(&[data])
}

/// The seed of round `round` of task `task`, recorded at the round's first block:
/// `blake2_256("pol-round" ‖ task ‖ round ‖ parent_hash)`.
pub fn round_seed(task: TaskId, round: RoundIndex, parent_hash: &Hash) -> Hash {
	hash_parts(&[
		TAG_ROUND,
		&task.to_le_bytes(),
		&round.to_le_bytes(),
		parent_hash.as_bytes(),
	])
}

/// A miner's data seed for a round: `blake2_256(round_seed ‖ miner)`. It fixes the miner's
/// batch order, so a copied commitment cannot match another account's data.
pub fn data_seed(round_seed: &Hash, miner: &AccountBytes) -> Hash {
	hash_parts(&[round_seed.as_bytes(), miner])
}

/// Index `b` of the batch of step `step`, in a shard of `shard_len` samples:
/// `u64_le(blake2_256("pol-data" ‖ data_seed ‖ step ‖ b)[0..8]) mod shard_len`.
/// `None` for an empty shard.
pub fn sample_index(data_seed: &Hash, step: StepIndex, b: u32, shard_len: u64) -> Option<u64> {
	if shard_len == 0 {
		return None;
	}
	let h = hash_parts(&[
		TAG_DATA,
		data_seed.as_bytes(),
		&step.to_le_bytes(),
		&b.to_le_bytes(),
	]);
	Some(u64_prefix(&h) % shard_len)
}

/// The `batch_size` sample indices of step `step` (sampling with replacement); `None` for an
/// empty shard.
pub fn batch_indices(
	data_seed: &Hash,
	step: StepIndex,
	batch_size: u32,
	shard_len: u64,
) -> Option<Vec<u64>> {
	(0..batch_size)
		.map(|b| sample_index(data_seed, step, b, shard_len))
		.collect()
}

/// The shard of a public data set that `miner` trains on in task `task`:
/// `u64_le(blake2_256("pol-shard" ‖ task ‖ miner)[0..8]) mod num_shards`. `None` when the task
/// has no shards.
pub fn shard_of(task: TaskId, miner: &AccountBytes, num_shards: u32) -> Option<u32> {
	if num_shards == 0 {
		return None;
	}
	let h = hash_parts(&[TAG_SHARD, &task.to_le_bytes(), miner]);
	// The remainder is below `num_shards`, so it fits in a u32.
	Some((u64_prefix(&h) % u64::from(num_shards)) as u32)
}

/// An account as the 32 bytes the hashes use: its SCALE encoding, which is exactly 32 bytes for
/// the runtime's `AccountId32`. Shorter encodings (the `u64` accounts of test runtimes) are
/// padded with zeros; longer ones are hashed.
pub fn account_bytes<A: Encode>(who: &A) -> AccountBytes {
	who.using_encoded(|encoded| {
		let mut out = [0u8; 32];
		if encoded.len() <= 32 {
			out[..encoded.len()].copy_from_slice(encoded);
		} else {
			out = hash(encoded).0;
		}
		out
	})
}

/// The hash a miner commits to before revealing:
/// `blake2_256("pol-commit" ‖ SCALE(commitment) ‖ miner ‖ salt)`.
pub fn commit_hash(commitment: &UpdateCommitment, miner: &AccountBytes, salt: &Salt) -> Hash {
	commit_hash_of(commitment, miner, salt)
}

/// `blake2_256("pol-commit" ‖ SCALE(value) ‖ who ‖ salt)`: the commit hash of any revealed
/// value (a miner's commitment, a validator's score vector).
pub fn commit_hash_of<T: Encode>(value: &T, who: &AccountBytes, salt: &Salt) -> Hash {
	value.using_encoded(|encoded| hash_parts(&[TAG_COMMIT, encoded, who, salt]))
}

/// The hash a scorer commits its dispute vote to in the vote-commit phase:
/// `commit_hash_of((task, round, miner, confirmed, not_served), voter, salt)`, where `confirmed`
/// lists the claimed segments the voter found failing in its replay, in increasing order, and
/// `not_served` says whether a claimed segment was not served to it either; neither rejects the
/// dispute. Binding the task, round and miner keeps a commitment from being replayed in another
/// dispute; binding the voter keeps it from being copied.
pub fn vote_commit_hash(
	task: TaskId,
	round: RoundIndex,
	miner: &AccountBytes,
	confirmed: &[SegmentIndex],
	not_served: bool,
	voter: &AccountBytes,
	salt: &Salt,
) -> Hash {
	commit_hash_of(&(task, round, miner, confirmed, not_served), voter, salt)
}

/// The seed of a round's challenges, recorded at the end of the reveal phase:
/// `blake2_256("pol-challenge-seed" ‖ task ‖ round ‖ parent_hash)`. Miners have revealed by
/// then, so none can know which segments will be checked while it still can change its run.
pub fn challenge_seed(task: TaskId, round: RoundIndex, parent_hash: &Hash) -> Hash {
	hash_parts(&[
		TAG_CHALLENGE_SEED,
		&task.to_le_bytes(),
		&round.to_le_bytes(),
		parent_hash.as_bytes(),
	])
}

/// The segments validator `validator` replays of miner `miner`'s run of `num_segments`
/// segments: first segment `n` (its end is the update that is scored and aggregated, so it is
/// always checked), then `min(Q − 1, n − 1)` distinct segments drawn from `1..n` without
/// replacement. Draw `i` (from 0) takes element
/// `u64_le(blake2_256("pol-challenge" ‖ randomness ‖ validator ‖ miner ‖ i)[0..8]) mod (n − 1 − i)`
/// of the segments not drawn yet, in increasing order. Empty when there are no segments or
/// `Q = 0`. `randomness` is the validator's VRF output over the round's challenge seed
/// ([`crate::challenge`]), which only it can compute.
///
/// Nothing the miner commits (such as its update norms) steers the draw: a forged segment is
/// found with the probability of drawing it, whatever the miner claims about it.
pub fn challenge_segments(
	randomness: &Hash,
	validator: &AccountBytes,
	miner: &AccountBytes,
	num_segments: SegmentIndex,
	segments_per_check: u32,
) -> Vec<SegmentIndex> {
	let mut out = Vec::new();
	if num_segments == 0 || segments_per_check == 0 {
		return out;
	}
	out.push(num_segments);
	let mut left: Vec<SegmentIndex> = (1..num_segments).collect();
	let draws = segments_per_check.saturating_sub(1).min(num_segments - 1);
	for i in 0..draws {
		let h = hash_parts(&[
			TAG_CHALLENGE,
			randomness.as_bytes(),
			validator,
			miner,
			&i.to_le_bytes(),
		]);
		// `left` is not empty: `draws ≤ n − 1 = left.len()` at the start, one less each draw.
		let at = (u64_prefix(&h) % left.len() as u64) as usize;
		out.push(left.remove(at));
	}
	out
}

/// Leaf `j` of the checkpoint tree:
/// `blake2_256("pol-leaf" ‖ j ‖ model_hash(C_j) ‖ f32_le(‖C_j − C_{j−1}‖₂))`, norm 0 for `j = 0`.
pub fn leaf_hash(j: u32, model_hash: &Hash, update_norm: f32) -> Hash {
	hash_parts(&[
		TAG_LEAF,
		&j.to_le_bytes(),
		model_hash.as_bytes(),
		&update_norm.to_le_bytes(),
	])
}

/// Why a model hash could not be computed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ModelHashError {
	/// Tensors must come sorted by name (byte order), each name once.
	NotSorted {
		/// Index of the offending tensor.
		index: usize,
	},
	/// The data is not `product(dims) × element size` bytes long.
	DataLength {
		/// Index of the offending tensor.
		index: usize,
		/// Bytes the shape and type call for (`None` if that overflows).
		expected: Option<usize>,
		/// Bytes given.
		actual: usize,
	},
	/// A name longer than `u32::MAX` bytes or more than `u32::MAX` dimensions.
	TooLarge {
		/// Index of the offending tensor.
		index: usize,
	},
}

/// One named tensor, as the model hash sees it: contiguous little-endian data.
#[derive(Clone, Copy, Debug)]
pub struct TensorView<'a> {
	/// The parameter's fixed name, e.g. `fc1.weight`.
	pub name: &'a str,
	/// Element type.
	pub dtype: DType,
	/// Shape.
	pub dims: &'a [u64],
	/// Contiguous little-endian element bytes.
	pub data: &'a [u8],
}

/// Incremental model hash: feed tensors in name order with [`ModelHasher::tensor`], then
/// [`ModelHasher::finish`]. Streaming, so a large model is hashed without a second copy.
pub struct ModelHasher {
	state: blake2b_simd::State,
	last_name: Option<Vec<u8>>,
	count: usize,
}

impl Default for ModelHasher {
	fn default() -> Self {
		Self::new()
	}
}

impl ModelHasher {
	/// An empty hasher.
	pub fn new() -> Self {
		ModelHasher {
			state: blake2b_simd::Params::new().hash_length(32).to_state(),
			last_name: None,
			count: 0,
		}
	}

	/// Adds the next tensor: name length (u32) and bytes, dtype code (u8), ndim (u32), each dim
	/// (u64), then the data.
	pub fn tensor(&mut self, t: TensorView<'_>) -> Result<(), ModelHashError> {
		let index = self.count;
		if let Some(last) = &self.last_name {
			if t.name.as_bytes() <= last.as_slice() {
				return Err(ModelHashError::NotSorted { index });
			}
		}
		let expected = t
			.dims
			.iter()
			.try_fold(1usize, |acc, &d| acc.checked_mul(usize::try_from(d).ok()?))
			.and_then(|n| n.checked_mul(t.dtype.size()));
		if expected != Some(t.data.len()) {
			return Err(ModelHashError::DataLength {
				index,
				expected,
				actual: t.data.len(),
			});
		}
		let name_len =
			u32::try_from(t.name.len()).map_err(|_| ModelHashError::TooLarge { index })?;
		let ndim = u32::try_from(t.dims.len()).map_err(|_| ModelHashError::TooLarge { index })?;
		self.state.update(&name_len.to_le_bytes());
		self.state.update(t.name.as_bytes());
		self.state.update(&[t.dtype.code()]);
		self.state.update(&ndim.to_le_bytes());
		for d in t.dims {
			self.state.update(&d.to_le_bytes());
		}
		self.state.update(t.data);
		self.last_name = Some(t.name.as_bytes().to_vec());
		self.count += 1;
		Ok(())
	}

	/// The model hash.
	pub fn finish(self) -> Hash {
		Hash::from_slice(self.state.finalize().as_bytes())
	}
}

/// The model hash of `tensors`, which must be sorted by name.
pub fn model_hash(tensors: &[TensorView<'_>]) -> Result<Hash, ModelHashError> {
	let mut h = ModelHasher::new();
	for t in tensors {
		h.tensor(*t)?;
	}
	Ok(h.finish())
}
