//! The small traits through which polchain's pallets meet. Each pallet implements or consumes
//! them; the runtime wires them together. No pallet reads another's storage.

use crate::{Hash, Phase, RoundIndex, SegmentIndex, TaskId};
use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sp_runtime::{DispatchError, Perbill, Weight};

/// What a bonded account does.
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
	serde::Serialize,
	serde::Deserialize,
)]
pub enum Role {
	/// Trains tasks' models and commits to its runs.
	Miner,
	/// Verifies and scores miners; a candidate block authority.
	Validator,
}

/// Who has staked how much, in which role (implemented by the staking pallet).
pub trait StakeInfo<AccountId, Balance> {
	/// The account's active stake (bonded and not unlocking); zero if it has none.
	fn stake_of(who: &AccountId) -> Balance;
	/// The account's role, if it is bonded.
	fn role_of(who: &AccountId) -> Option<Role>;
	/// Whether the account takes part: bonded in `role`, not chilled, at least the minimum bond.
	fn is_active(who: &AccountId, role: Role) -> bool;
}

/// Slashing of bonded funds (implemented by the staking pallet).
pub trait Slash<AccountId, Balance> {
	/// Slashes `fraction` of the account's bonded funds (active and unlocking). Returns what was
	/// slashed. Never fails: an account with nothing bonded is slashed nothing.
	fn slash_fraction(who: &AccountId, fraction: Perbill) -> Balance;
	/// Slashes up to `amount` of the account's bonded funds, active first, then unlocking
	/// chunks. Returns what was slashed, which is less than `amount` if less was bonded.
	fn slash_amount(who: &AccountId, amount: Balance) -> Balance;
}

/// A validator's trust, from its scoring record (implemented by the scoring pallet).
pub trait TrustProvider<AccountId> {
	/// The account's trust in `[0, 1]`.
	fn trust_of(who: &AccountId) -> Perbill;
}

/// Full trust for everyone: the stand-in until the scoring pallet provides a record.
impl<AccountId> TrustProvider<AccountId> for () {
	fn trust_of(_: &AccountId) -> Perbill {
		Perbill::one()
	}
}

/// What the task registry tells the scoring pallet about rounds (implemented by the registry).
pub trait RoundInfo<AccountId> {
	/// The phase of `round` of `task` if it is the task's current round, else `None`.
	fn current_phase(task: TaskId, round: RoundIndex) -> Option<Phase>;
	/// Whether `miner` revealed an update in `round` of `task`.
	fn has_revealed(task: TaskId, round: RoundIndex, miner: &AccountId) -> bool;
	/// The miners that revealed in `round` of `task` (at most the task's miner limit).
	fn revealed_miners(task: TaskId, round: RoundIndex) -> Vec<AccountId>;
	/// The number of segments of each miner's run in `task`.
	fn num_segments(task: TaskId) -> Option<SegmentIndex>;
	/// What the validators' challenges in `round` of `task` derive from: the round's challenge
	/// seed (recorded when the reveal phase ends) and the task's segments per check. `None`
	/// before the seed is recorded.
	fn challenge_params(task: TaskId, round: RoundIndex) -> Option<(Hash, u32)>;
}

/// No tasks: every round is unknown.
impl<AccountId> RoundInfo<AccountId> for () {
	fn current_phase(_: TaskId, _: RoundIndex) -> Option<Phase> {
		None
	}
	fn has_revealed(_: TaskId, _: RoundIndex, _: &AccountId) -> bool {
		false
	}
	fn revealed_miners(_: TaskId, _: RoundIndex) -> Vec<AccountId> {
		Vec::new()
	}
	fn num_segments(_: TaskId) -> Option<SegmentIndex> {
		None
	}
	fn challenge_params(_: TaskId, _: RoundIndex) -> Option<(Hash, u32)> {
		None
	}
}

/// Which of a round's scorers revealed at least one score, with the stake they weigh with
/// (implemented by the scoring pallet; the registry weighs global-model proposals with it).
pub trait RevealedStake<AccountId, Balance> {
	/// The stake `who` weighs with in `round` of `task` if it is one of the round's scorers and
	/// revealed at least one score; `None` otherwise.
	fn revealed_stake(task: TaskId, round: RoundIndex, who: &AccountId) -> Option<Balance>;
	/// The stake of every scorer that revealed at least one score in `round` of `task`.
	fn total_revealed_stake(task: TaskId, round: RoundIndex) -> Balance;
}

/// Nobody revealed.
impl<AccountId, Balance: Default> RevealedStake<AccountId, Balance> for () {
	fn revealed_stake(_: TaskId, _: RoundIndex, _: &AccountId) -> Option<Balance> {
		None
	}
	fn total_revealed_stake(_: TaskId, _: RoundIndex) -> Balance {
		Balance::default()
	}
}

/// The reward of a closing round: what the task pays at most, and how it splits.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct RoundBudget<Balance> {
	/// What the round may pay in all (the task's reward per round, or what is left of its
	/// budget if that is less).
	pub total: Balance,
	/// The validators' part of `total`; the rest is the miners'.
	pub validator_share: Perbill,
}

/// Called by the task registry when a round closes (implemented by scoring, which settles
/// disputes and consensus and hands the outcome to rewards).
pub trait OnRoundEnd<Balance> {
	/// `round` of `task` closed; it may pay up to `budget` through [`TaskFunds`]. Returns the
	/// weight used, at most [`OnRoundEnd::max_weight`].
	fn on_round_end(task: TaskId, round: RoundIndex, budget: RoundBudget<Balance>) -> Weight;
	/// `round` of `task` was cut short (its task was cancelled or ended by governance before
	/// it could settle): forget it without paying, slashing or touching anyone's trust, and
	/// release what it locked. Returns the weight used, at most [`OnRoundEnd::max_weight`].
	fn discard_round(task: TaskId, round: RoundIndex) -> Weight;
	/// The most [`OnRoundEnd::on_round_end`] can weigh, at the runtime's bounds.
	fn max_weight() -> Weight;
}

/// Nothing happens at the end of a round: nothing is paid.
impl<Balance> OnRoundEnd<Balance> for () {
	fn on_round_end(_: TaskId, _: RoundIndex, _: RoundBudget<Balance>) -> Weight {
		Weight::zero()
	}
	fn discard_round(_: TaskId, _: RoundIndex) -> Weight {
		Weight::zero()
	}
	fn max_weight() -> Weight {
		Weight::zero()
	}
}

/// Called by the task registry when a round starts (implemented by scoring, which snapshots
/// the round's scorers then, so that nobody can race for a place among them later).
pub trait OnRoundStart {
	/// `round` of `task` started. Returns the weight used, at most
	/// [`OnRoundStart::max_weight`].
	fn on_round_start(task: TaskId, round: RoundIndex) -> Weight;
	/// The most [`OnRoundStart::on_round_start`] can weigh.
	fn max_weight() -> Weight;
}

/// Nothing happens when a round starts.
impl OnRoundStart for () {
	fn on_round_start(_: TaskId, _: RoundIndex) -> Weight {
		Weight::zero()
	}
	fn max_weight() -> Weight {
		Weight::zero()
	}
}

/// The validators that may score rounds that start now, each with the stake it stands with
/// (implemented by the staking pallet, which elects them by stake × trust each session).
pub trait ScorerSet<AccountId, Balance> {
	/// The current scorers, at most the runtime's bound, in no particular order.
	fn scorers() -> Vec<(AccountId, Balance)>;
}

/// Nobody scores.
impl<AccountId, Balance> ScorerSet<AccountId, Balance> for () {
	fn scorers() -> Vec<(AccountId, Balance)> {
		Vec::new()
	}
}

/// Holds an account's bond while a round it took part in (a commitment, a reveal, a score or
/// a dispute) is unsettled, so that what settling may slash cannot leave first (implemented
/// by the staking pallet; the registry and scoring take and release the locks).
pub trait SettlementLock<AccountId> {
	/// `who` has one more unsettled round: its unbonded funds stay until it is settled.
	fn lock(who: &AccountId);
	/// One of `who`'s unsettled rounds was settled (or discarded).
	fn unlock(who: &AccountId);
}

/// No bonds to hold.
impl<AccountId> SettlementLock<AccountId> for () {
	fn lock(_: &AccountId) {}
	fn unlock(_: &AccountId) {}
}

/// Payment out of a task's held budget (implemented by the task registry).
pub trait TaskFunds<AccountId, Balance> {
	/// Pays `amount` of `task`'s budget to `to`, as free balance. Fails, paying nothing, if the
	/// task has less left or the transfer cannot be made (for example below the recipient's
	/// existential deposit); what was not paid stays in the budget.
	fn pay(task: TaskId, to: &AccountId, amount: Balance) -> Result<(), DispatchError>;
}

/// What a settled round hands to rewards (built by the scoring pallet).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RoundOutcome<AccountId> {
	/// Miners that passed, with their consensus scores: they share the miners' part.
	pub miners: Vec<(AccountId, Perbill)>,
	/// Validators that did work, with their weight: stake × (each miner scored, weighted by
	/// agreement with consensus, plus each dispute vote on the side that prevailed). They share
	/// the validators' part in proportion.
	pub validators: Vec<(AccountId, u128)>,
}

/// Pays a settled round (implemented by the rewards pallet).
pub trait RoundRewards<AccountId, Balance> {
	/// Pays `outcome` out of `budget` through [`TaskFunds`]. Returns the weight used, at most
	/// [`RoundRewards::max_weight`].
	fn reward_round(
		task: TaskId,
		round: RoundIndex,
		budget: RoundBudget<Balance>,
		outcome: &RoundOutcome<AccountId>,
	) -> Weight;
	/// The most [`RoundRewards::reward_round`] can weigh, at the runtime's bounds.
	fn max_weight() -> Weight;
}

/// Nobody is paid.
impl<AccountId, Balance> RoundRewards<AccountId, Balance> for () {
	fn reward_round(
		_: TaskId,
		_: RoundIndex,
		_: RoundBudget<Balance>,
		_: &RoundOutcome<AccountId>,
	) -> Weight {
		Weight::zero()
	}
	fn max_weight() -> Weight {
		Weight::zero()
	}
}

/// The sr25519 public key a validator's challenge proofs (VRF) are checked with.
pub trait ChallengeKeys<AccountId> {
	/// `who`'s key; `None` if it has none.
	fn challenge_key(who: &AccountId) -> Option<[u8; 32]>;
}
