//! The task registry's types: what a creator submits, what the chain keeps per task and round.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::pallet_prelude::*;
use pol_primitives::{
	AggregationRule, ArtifactUri, DatasetSpec, Hash, Hyperparameters, ModelSpecText, Phase,
	RoundIndex, Schedule, VerificationSpec,
};
use scale_info::TypeInfo;
use sp_runtime::Perbill;

/// Everything a task creator fixes for a task. No miner can change any of it: a miner that
/// could pick its own learning rate or batch size could forge its proofs.
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct TaskSpec<Balance> {
	/// The model, e.g. `mlp:64-128-10` (see [`pol_primitives::ModelArch`]).
	pub model: ModelSpecText,
	/// Model hash of the initial global model W₀.
	pub initial_model_hash: Hash,
	/// Where W₀ can be fetched.
	pub initial_model_uri: ArtifactUri,
	/// The data set, its shards and its validation split.
	pub dataset: DatasetSpec,
	/// SGD hyperparameters every miner uses.
	pub hyperparameters: Hyperparameters,
	/// How validators check runs.
	pub verification: VerificationSpec,
	/// How validators combine the updates that passed into the next global model.
	pub aggregation: AggregationRule,
	/// Blocks per phase and number of rounds.
	pub schedule: Schedule,
	/// What each round pays, miners and validators together.
	pub reward_per_round: Balance,
	/// The validators' part of each round's reward.
	pub validator_share: Perbill,
	/// The most miners that may join.
	pub max_miners: u32,
}

/// Where a task is in its life.
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
pub enum TaskStatus {
	/// Rounds are running.
	Active,
	/// The creator cancelled it during a round in which miners had committed: the round runs
	/// to its end and pays, then the task ends.
	Cancelling,
	/// It ended; its budget was refunded.
	Ended(EndReason),
}

/// Why a task ended.
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
pub enum EndReason {
	/// Every round of the schedule ran.
	Completed,
	/// The budget could not pay another round.
	OutOfBudget,
	/// The creator cancelled it.
	Cancelled,
	/// `MaxIdleRounds` rounds in a row closed without a single commitment: nobody trains it.
	Expired,
	/// Governance ended it (`force_end_task`).
	ForceEnded,
}

/// A model accepted as a task's global model.
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct GlobalModel<BlockNumber> {
	/// Its model hash. (Not `hash`: polkadot.js reserves that name on structs.)
	pub model_hash: Hash,
	/// Where it can be fetched.
	pub uri: ArtifactUri,
	/// The block that accepted it (the creation block for W₀).
	pub accepted_at: BlockNumber,
}

/// A task as the chain keeps it.
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct TaskInfo<AccountId, Balance, BlockNumber> {
	/// Who created it, pays for it, and may fund or cancel it.
	pub creator: AccountId,
	/// What the creator fixed.
	pub spec: TaskSpec<Balance>,
	/// What the task still owes: held from the creator, paid out round by round.
	pub budget: Balance,
	/// Where it is in its life.
	pub status: TaskStatus,
	/// The current round (the last one, once ended; while it is being pruned, the newest round
	/// whose records are left).
	pub round: RoundIndex,
	/// The current round's phase.
	pub phase: Phase,
	/// The last block of the current phase; the next phase starts after it.
	pub phase_ends: BlockNumber,
	/// The global model the current round trains from.
	pub model: GlobalModel<BlockNumber>,
	/// Miners that joined (and have not left).
	pub miners: u32,
	/// Held from the creator for the storage the task occupies (`TaskDeposit` plus
	/// `RoundDeposit` per scheduled round); returned when the task is pruned.
	pub deposit: Balance,
	/// Rounds in a row that closed without a commitment.
	pub idle_rounds: u32,
	/// The block the task ended at; it may be pruned `RetentionPeriod` blocks later.
	pub ended_at: Option<BlockNumber>,
}

/// A round of a task: its seeds and what happened in it.
#[derive(
	Clone,
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
pub struct RoundRecord<BlockNumber> {
	/// The block the round started at.
	pub started_at: BlockNumber,
	/// `round_seed`, recorded at the round's first block.
	pub seed: Hash,
	/// `challenge_seed`, recorded when the reveal phase ends.
	pub challenge_seed: Option<Hash>,
	/// Miners that committed.
	pub commits: u32,
	/// Miners that revealed.
	pub reveals: u32,
	/// The global model accepted in this round, if any.
	pub accepted: Option<Hash>,
}

/// A miner's commitment in a round, and its reveal.
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct MinerUpdate {
	/// `commit_hash(commitment, miner, salt)`.
	pub commit: Hash,
	/// The revealed commitment, once revealed.
	pub revealed: Option<pol_primitives::UpdateCommitment>,
	/// The miner left (or was removed from) the task before the reveal phase ended: the
	/// update is dropped, and the entry stays only so that the round's commitments stay
	/// capped at `max_miners` and the miner cannot commit again in this round.
	pub withdrawn: bool,
}

/// The stake behind one proposed global model.
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct ProposalTally<Balance> {
	/// The proposed model hash.
	pub model_hash: Hash,
	/// Revealed stake of the validators that proposed it.
	pub stake: Balance,
	/// How many validators proposed it.
	pub proposers: u32,
}

/// One validator's proposal of a round's global model.
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct Proposal {
	/// The proposed model hash.
	pub model_hash: Hash,
	/// Where this proposer serves it.
	pub uri: ArtifactUri,
}

/// Task deadlines, soonest first: the round machine's queue.
pub type DeadlineQueue<BlockNumber, Max> = BoundedVec<(BlockNumber, pol_primitives::TaskId), Max>;

/// Proposals of a round, one entry per distinct hash.
pub type Tallies<Balance, Max> = BoundedVec<ProposalTally<Balance>, Max>;

/// Where a task's current global model is served: each proposer of it, with its URI.
pub type ModelSourcesOf<AccountId, Max> = BoundedVec<(AccountId, ArtifactUri), Max>;

/// A task's current round as clients see it (the runtime API `PolApi`): its phase, when each
/// of its phases ends, its seeds and what happened so far.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub struct RoundStatus<BlockNumber> {
	/// The round.
	pub round: RoundIndex,
	/// Its current phase.
	pub phase: Phase,
	/// The last block of the current phase and of each phase after it, in order: a phase's
	/// calls are accepted up to and including its last block. (Later phases start on time
	/// unless more tasks change phase in one block than `MaxTransitionsPerBlock`.)
	pub phase_ends: alloc::vec::Vec<(Phase, BlockNumber)>,
	/// The block the round started at.
	pub started_at: BlockNumber,
	/// `round_seed`, from which miners derive their batches.
	pub seed: Hash,
	/// `challenge_seed`, once the reveal phase ended.
	pub challenge_seed: Option<Hash>,
	/// Miners that committed.
	pub commits: u32,
	/// Miners that revealed.
	pub reveals: u32,
	/// The global model the round trains from.
	pub model: Hash,
	/// Whether the task still runs, is cancelling or ended.
	pub status: TaskStatus,
}
