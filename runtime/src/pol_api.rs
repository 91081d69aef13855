//! `PolApi`: what clients ask polchain about its tasks, rounds, validators and rewards. The
//! node serves the same answers as JSON over its `pol_*` RPC; polkadot.js calls it as
//! `api.call.polApi.*` (it is in the metadata).

use alloc::vec::Vec;
use codec::{Codec, Decode, Encode};
use pol_primitives::{ArtifactUri, Role, RoundIndex, SegmentIndex, TaskId};
use scale_info::TypeInfo;
use sp_runtime::Perbill;

pub use pallet_task_registry::{GlobalModel, RoundStatus, TaskInfo};

/// A validator as the election sees it.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub struct ValidatorInfo<AccountId, Balance> {
	/// Its account.
	pub account: AccountId,
	/// Its active stake.
	pub stake: Balance,
	/// Its trust, from its scoring record.
	pub trust: Perbill,
	/// Whether it is a block authority this session.
	pub authority: bool,
}

/// An account's earnings, for the leaderboard.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub struct Earner<AccountId, Balance> {
	/// Its account.
	pub account: AccountId,
	/// Its role, if it is bonded.
	pub role: Option<Role>,
	/// What it earned in all, from rounds and emission.
	pub earned: Balance,
}

sp_api::decl_runtime_apis! {
	/// polchain's queries: tasks, rounds, challenges, the leaderboard, validators and the
	/// global model's history.
	pub trait PolApi<AccountId, Balance, BlockNumber>
	where
		AccountId: Codec,
		Balance: Codec,
		BlockNumber: Codec,
	{
		/// The ids of the stored tasks (running, or ended and not yet pruned) among
		/// `from..from + limit` (at most 1 000 a page).
		fn task_ids(from: TaskId, limit: u32) -> Vec<TaskId>;
		/// The running tasks, by id: where workers look for work.
		fn running_tasks() -> Vec<TaskId>;
		/// A task: its spec, budget, status, current round and phase.
		fn task(task: TaskId) -> Option<TaskInfo<AccountId, Balance, BlockNumber>>;
		/// A task's current round with its phase deadlines and seeds.
		fn round_status(task: TaskId) -> Option<RoundStatus<BlockNumber>>;
		/// The segments `validator` had to replay of `miner`'s run in `round` of `task`: the
		/// last segment, then `segments_per_check − 1` others drawn from the validator's
		/// challenge randomness (its VRF output over the challenge seed, which only it can
		/// compute; `pol_primitives::hashing::challenge_segments`). An accusation must name one
		/// of them. `None` until the validator revealed its scores, which proves the randomness.
		fn challenges(
			task: TaskId,
			round: RoundIndex,
			validator: AccountId,
			miner: AccountId,
		) -> Option<Vec<SegmentIndex>>;
		/// The revealed updates of `round` of `task`, by miner.
		fn revealed_updates(
			task: TaskId,
			round: RoundIndex,
		) -> Vec<(AccountId, pol_primitives::UpdateCommitment)>;
		/// The updates of `round` of `task` eligible for the global model now, with their
		/// consensus scores (stake-weighted median of their judges' scores): judged by scorers
		/// holding more than half of the snapshot stake, with no dispute a majority has upheld.
		/// Validators read it at a finalized block early in the finalize phase and aggregate it.
		fn consensus(task: TaskId, round: RoundIndex) -> Vec<(AccountId, Perbill)>;
		/// The `limit` accounts that earned most, best first.
		fn leaderboard(limit: u32) -> Vec<Earner<AccountId, Balance>>;
		/// Every active validator with its stake and trust, by stake × trust, best first.
		fn validators() -> Vec<ValidatorInfo<AccountId, Balance>>;
		/// The global models `task` accepted in rounds `from..from + limit` (at most 1 000 a
		/// page), oldest first.
		fn model_history(
			task: TaskId,
			from: RoundIndex,
			limit: u32,
		) -> Vec<(RoundIndex, GlobalModel<BlockNumber>)>;
		/// Where `task`'s current global model is served: every proposer of it with its URI
		/// (empty for the initial model, which the spec's `initial_model_uri` serves).
		fn model_sources(task: TaskId) -> Vec<(AccountId, ArtifactUri)>;
	}
}
