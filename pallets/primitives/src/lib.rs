//! # pol-primitives
//!
//! What two implementations of polchain must agree on, in one place: the ids, the miner's
//! [`UpdateCommitment`], the validator's [`Verdict`], every hash and seed derivation of the
//! protocol ([`hashing`]), and the checkpoint Merkle tree ([`merkle`]). The runtime and the
//! worker both use this crate; `test-vectors.json` pins every function's output so that an
//! implementation in another language can prove it agrees.
//!
//! Conventions (see the design's "Hashes and encodings"): BLAKE2b-256 everywhere; integers
//! little-endian and fixed-width (task id `u64`, round `u32`, step `u32`, index `u32`, `q`
//! `u32`); accounts as their 32 bytes; every preimage starts with an ASCII domain tag
//! (`pol-round`, `pol-data`, …) so that no two derivations can collide.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod challenge;
pub mod decide;
pub mod hashing;
pub mod merkle;
pub mod serving;
pub mod specs;
pub mod traits;

pub use challenge::ChallengeProof;
pub use specs::{
	AggregationRule, Comparison, CpuIsa, DatasetSource, DatasetSpec, DeterminismProfile, GpuClass,
	Hyperparameters, ModelArch, ModelSpecText, Partition, ProfileDevice, Schedule,
	VerificationSpec,
};
pub use traits::{
	ChallengeKeys, OnRoundEnd, OnRoundStart, RevealedStake, Role, RoundBudget, RoundInfo,
	RoundOutcome, RoundRewards, ScorerSet, SettlementLock, Slash, StakeInfo, TaskFunds,
	TrustProvider,
};

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sp_core::{ConstU32, H256};
use sp_runtime::{BoundedVec, FixedU64};

/// A training task's id.
pub type TaskId = u64;
/// A round of a task, counted from 0.
pub type RoundIndex = u32;
/// A training step within a round, counted from 0.
pub type StepIndex = u32;
/// A segment of a training run: segment `j` (1-based) replays from checkpoint `j − 1` to `j`.
pub type SegmentIndex = u32;
/// A 32-byte hash: model hashes, Merkle roots, seeds.
pub type Hash = H256;
/// A 32-byte account id, as the runtime's `AccountId32` encodes it.
pub type AccountBytes = [u8; 32];
/// The salt a miner or validator blinds a commitment with.
pub type Salt = [u8; 32];

/// Longest artifact URI (`http(s)://host/v1/artifacts/<hash>` and the like).
pub const MAX_URI_LEN: u32 = 256;
/// An artifact URI, bounded.
pub type ArtifactUri = BoundedVec<u8, ConstU32<MAX_URI_LEN>>;

/// The most items one page of a list query (`PolApi`, the `pol_*` RPC) returns; a larger
/// `limit` is read as this.
pub const MAX_PAGE: u32 = 1_000;

/// What a miner reveals after a round's training: it binds the whole run.
///
/// The commit hash over it (see [`hashing::commit_hash`]) also binds the miner's account and a
/// salt, so another miner cannot submit a copy as its own.
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct UpdateCommitment {
	/// Merkle root (see [`merkle`]) over the leaves of checkpoints `0..=num_segments`.
	pub checkpoint_root: Hash,
	/// Model hash of the last checkpoint `C_n`, all of its tensors (the parameters and, with
	/// momentum, the momentum buffers): leaf `n`'s model hash, proven at reveal by a
	/// [`FinalLeafProof`]. Its parameters are the miner's update.
	pub final_model_hash: Hash,
	/// Number of segments `n = local_steps / checkpoint_interval`.
	pub num_segments: SegmentIndex,
	/// Mean training loss over the run, as the miner measured it.
	pub train_loss: FixedU64,
	/// Where the miner serves the proof bundle and checkpoints.
	pub artifact_uri: ArtifactUri,
}

/// The phases of a round, in order. Each lasts the number of blocks the task's
/// [`Schedule`] gives it.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	PartialOrd,
	Ord,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum Phase {
	/// Miners train from the global model and commit to their runs (`commit_update`).
	Commit,
	/// Miners reveal their commitments (`reveal_update`).
	Reveal,
	/// Validators replay challenged segments, score the updates and commit their scores.
	Verify,
	/// Validators reveal their scores; `Fail` and `NotServed` verdicts open disputes.
	ScoreReveal,
	/// The round's scorers replay the claimed segments and commit their dispute votes, sealed:
	/// nobody sees which way a vote goes before every vote is committed.
	VoteCommit,
	/// The scorers reveal their dispute votes; every dispute is decided by the phase's end.
	VoteReveal,
	/// Validators propose the next global model from the updates the decided disputes leave;
	/// the round closes at the end of this phase.
	Finalize,
}

impl Phase {
	/// The phase after this one, `None` after [`Phase::Finalize`].
	pub const fn next(self) -> Option<Phase> {
		match self {
			Phase::Commit => Some(Phase::Reveal),
			Phase::Reveal => Some(Phase::Verify),
			Phase::Verify => Some(Phase::ScoreReveal),
			Phase::ScoreReveal => Some(Phase::VoteCommit),
			Phase::VoteCommit => Some(Phase::VoteReveal),
			Phase::VoteReveal => Some(Phase::Finalize),
			Phase::Finalize => None,
		}
	}

	/// How many blocks this phase lasts under `schedule`.
	pub const fn blocks(self, schedule: &Schedule) -> u32 {
		match self {
			Phase::Commit => schedule.commit_blocks,
			Phase::Reveal => schedule.reveal_blocks,
			Phase::Verify => schedule.verify_blocks,
			Phase::ScoreReveal => schedule.score_reveal_blocks,
			Phase::VoteCommit => schedule.vote_commit_blocks,
			Phase::VoteReveal => schedule.vote_reveal_blocks,
			Phase::Finalize => schedule.finalize_blocks,
		}
	}
}

/// A validator's verdict on one miner's update in one round.
///
/// Only what the validator can show another validator is a verdict: a segment that fails
/// (`Fail`) or a checkpoint it could not get (`NotServed`). Both open a dispute over that one
/// segment, which every other validator checks for itself. A validator that could not check a
/// miner for a reason of its own (its disk, data, device, a determinism mismatch) reports no
/// verdict at all on that miner: it abstains.
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
pub enum Verdict {
	/// Every challenged segment replayed to the committed checkpoint.
	Pass,
	/// This segment did not replay to the committed checkpoint, or the miner's served files
	/// prove a fault in it (a norm, start or final model that is not what the tree says):
	/// opens a dispute. A validator whose `Fail` is rejected by the stake is slashed.
	Fail {
		/// The failing segment (1-based).
		segment: SegmentIndex,
	},
	/// A checkpoint of this segment (or the manifest, reported as segment `n`) was not served,
	/// or its bytes did not match their leaf, within the phase: opens a dispute in which the
	/// other validators try to fetch it themselves. Withholding loses like a failed replay; an
	/// accuser that reported it honestly is never slashed when the others could fetch it.
	NotServed {
		/// The segment whose checkpoints were not served (1-based).
		segment: SegmentIndex,
	},
}

impl Verdict {
	/// Whether the verdict judges the update: a pass, or a claim that a segment does not
	/// replay. A `NotServed` claim says only that the bytes did not arrive, so it judges
	/// nothing (it counts toward no quorum and moves no consensus).
	pub const fn judges(&self) -> bool {
		matches!(self, Verdict::Pass | Verdict::Fail { .. })
	}

	/// The segment a dispute is opened over, for `Fail` and `NotServed`.
	pub const fn disputed_segment(&self) -> Option<SegmentIndex> {
		match self {
			Verdict::Pass => None,
			Verdict::Fail { segment } | Verdict::NotServed { segment } => Some(*segment),
		}
	}
}

/// Longest Merkle proof a reveal carries: a tree of up to 2³² leaves.
pub const MAX_PROOF_DEPTH: u32 = 32;

/// What a miner reveals besides its commitment to prove that `final_model_hash` is leaf `n`
/// of its checkpoint tree (the update that is scored and aggregated is the last checkpoint the
/// validators verify, not a file the miner picks afterwards).
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct FinalLeafProof {
	/// `‖C_n − C_{n−1}‖₂` as the bits of an `f32` (the leaf hashes its little-endian bytes).
	pub update_norm_bits: u32,
	/// Sibling hashes from leaf `n` up to the root.
	pub siblings: BoundedVec<Hash, ConstU32<MAX_PROOF_DEPTH>>,
}

/// Why a [`FinalLeafProof`] does not prove the final model hash.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FinalLeafError {
	/// The update norm is NaN, infinite or negative: the run's parameters are not finite.
	NonFiniteNorm,
	/// `leaf(n, final_model_hash, norm)` is not leaf `n` of the tree with `checkpoint_root`.
	NotLeafN,
}

impl FinalLeafProof {
	/// The proof of leaf `n` among `leaves` (`n + 1` of them), with its norm.
	pub fn from_leaves(leaves: &[Hash], update_norm: f32) -> Option<FinalLeafProof> {
		let n = u32::try_from(leaves.len().checked_sub(1)?).ok()?;
		let p = merkle::proof(leaves, n)?;
		Some(FinalLeafProof {
			update_norm_bits: update_norm.to_bits(),
			siblings: p.siblings.try_into().ok()?,
		})
	}

	/// Checks that `commitment.final_model_hash` with this norm is leaf `num_segments` of the
	/// tree whose root is `commitment.checkpoint_root`.
	pub fn verify(&self, commitment: &UpdateCommitment) -> Result<(), FinalLeafError> {
		let norm = f32::from_bits(self.update_norm_bits);
		if !norm.is_finite() || norm < 0.0 {
			return Err(FinalLeafError::NonFiniteNorm);
		}
		let n = commitment.num_segments;
		let leaf = hashing::leaf_hash(n, &commitment.final_model_hash, norm);
		let leaves = n.checked_add(1).ok_or(FinalLeafError::NotLeafN)?;
		if merkle::verify(
			&commitment.checkpoint_root,
			&self.siblings,
			leaves,
			n,
			&leaf,
		) {
			Ok(())
		} else {
			Err(FinalLeafError::NotLeafN)
		}
	}
}

/// A run of `num_segments` segments made of hashes alone, with its commitment and the proof of
/// its final leaf: what the chain sees of a run, for tests and benchmarks (the chain never sees
/// a model). `tag` tells runs apart; checkpoint `j`'s model hash is
/// `blake2_256([tag] ‖ j)` and its norm `j`.
pub fn synthetic_run(
	tag: u8,
	num_segments: SegmentIndex,
	artifact_uri: ArtifactUri,
) -> (UpdateCommitment, FinalLeafProof) {
	let model = |j: u32| hashing::hash(&[&[tag][..], &j.to_le_bytes()].concat());
	let leaves: alloc::vec::Vec<Hash> = (0..=num_segments)
		.map(|j| hashing::leaf_hash(j, &model(j), j as f32))
		.collect();
	let proof =
		FinalLeafProof::from_leaves(&leaves, num_segments as f32).unwrap_or(FinalLeafProof {
			update_norm_bits: 0,
			siblings: BoundedVec::new(),
		});
	let commitment = UpdateCommitment {
		checkpoint_root: merkle::root(&leaves),
		final_model_hash: model(num_segments),
		num_segments,
		train_loss: FixedU64::from_rational(1, 2),
		artifact_uri,
	};
	(commitment, proof)
}

/// The element type of a tensor, with the code the model hash uses.
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
pub enum DType {
	/// 32-bit float (code 0).
	F32,
	/// 64-bit float (code 1).
	F64,
	/// IEEE half (code 2).
	F16,
	/// bfloat16 (code 3).
	BF16,
	/// 64-bit signed integer (code 4).
	I64,
}

impl DType {
	/// The byte that stands for this type in a model hash.
	pub const fn code(self) -> u8 {
		match self {
			DType::F32 => 0,
			DType::F64 => 1,
			DType::F16 => 2,
			DType::BF16 => 3,
			DType::I64 => 4,
		}
	}

	/// The type a code stands for.
	pub const fn from_code(code: u8) -> Option<DType> {
		match code {
			0 => Some(DType::F32),
			1 => Some(DType::F64),
			2 => Some(DType::F16),
			3 => Some(DType::BF16),
			4 => Some(DType::I64),
			_ => None,
		}
	}

	/// Bytes per element.
	pub const fn size(self) -> usize {
		match self {
			DType::F32 => 4,
			DType::F64 | DType::I64 => 8,
			DType::F16 | DType::BF16 => 2,
		}
	}
}

#[cfg(test)]
mod tests;
