//! # polchain task registry
//!
//! Training tasks, their budgets and their rounds; miners' commit-reveal of updates; the
//! global model each round agrees on.
//!
//! ## Overview
//!
//! - A creator posts a task with [`Pallet::create_task`]: the model, the data, the
//!   hyperparameters, the verification rule, the schedule and the rewards, all fixed for the
//!   task's life. Its budget is held from the creator under [`HoldReason::TaskBudget`] and paid
//!   out round by round through [`pol_primitives::TaskFunds`]. [`Pallet::fund_task`] adds to it;
//!   [`Pallet::cancel_task`] refunds what was not paid.
//! - Active miners ([`pol_primitives::StakeInfo`]) join with [`Pallet::join_task`], up to the
//!   task's limit, and leave with [`Pallet::leave_task`].
//! - Each round runs the phases of [`Phase`], advanced in `on_initialize`: at its first block
//!   the round records `round_seed`; miners [`Pallet::commit_update`] then
//!   [`Pallet::reveal_update`]; when the reveal phase ends the round records `challenge_seed`;
//!   validators score, claim and vote on disputes (scoring pallet), then, in the finalize phase,
//!   [`Pallet::propose_global_model`]; a hash is accepted
//!   once its proposers hold more than 2/3 of the stake that revealed scores
//!   ([`pol_primitives::RevealedStake`]). At the end of the finalize phase the round closes:
//!   [`pol_primitives::OnRoundEnd`] settles and pays it, and the next round starts from the
//!   accepted model (or the old one if none was accepted).
//! - The task ends after its last round, when its budget is spent, or when cancelled; what is
//!   left of the budget goes back to the creator. Every accepted model stays in
//!   [`ModelHistory`].
//!
//! The round machine does bounded work per block: a queue of deadlines ([`Deadlines`]) is read
//! once, and at most `MaxTransitionsPerBlock` tasks change phase in one block, fewer when the
//! worst case of another would not fit [`ROUND_MACHINE_SHARE`] of the block (a later one waits
//! a block, which only lengthens its phase).

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;
pub use types::*;
pub use weights::WeightInfo;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod types;
pub mod weights;

use alloc::vec::Vec;
use frame_support::{
	pallet_prelude::*,
	traits::{
		fungible::{self, Inspect, MutateHold},
		tokens::{Fortitude, Precision, Restriction},
	},
};
use frame_system::pallet_prelude::*;
use pol_primitives::{
	hashing, ArtifactUri, DatasetSource, FinalLeafError, FinalLeafProof, Hash, ModelArch,
	OnRoundEnd, OnRoundStart, Phase, RevealedStake, Role, RoundBudget, RoundIndex, Salt,
	SegmentIndex, SettlementLock, StakeInfo, TaskFunds, TaskId, UpdateCommitment,
};
use sp_runtime::{
	traits::{Saturating, UniqueSaturatedInto, Zero},
	Perbill,
};

/// The balance type of the pallet's currency.
pub type BalanceOf<T> =
	<<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;
/// A task as stored.
pub type TaskInfoOf<T> =
	TaskInfo<<T as frame_system::Config>::AccountId, BalanceOf<T>, BlockNumberFor<T>>;

const LOG_TARGET: &str = "runtime::task-registry";

/// The share of a block's weight the round machine may use in `on_initialize` beyond its
/// first transition; the rest is for transactions.
pub const ROUND_MACHINE_SHARE: Perbill = Perbill::from_percent(50);

use pol_primitives::MAX_PAGE;

#[frame_support::pallet]
pub mod pallet {
	use super::*;

	/// The in-code storage version.
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(0);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// A task's unpaid budget, held from its creator.
		#[codec(index = 0)]
		TaskBudget,
		/// A task's storage deposit, held from its creator until the task is pruned.
		#[codec(index = 1)]
		TaskDeposit,
	}

	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// The currency budgets are held and paid in.
		type Currency: fungible::Mutate<Self::AccountId>
			+ fungible::MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The runtime's hold reason, which includes this pallet's.
		type RuntimeHoldReason: From<HoldReason>;

		/// Who is an active miner or validator, and with how much stake (the staking pallet).
		type Stake: StakeInfo<Self::AccountId, BalanceOf<Self>>;

		/// Which validators revealed scores in a round, with what stake (the scoring pallet).
		type Scores: RevealedStake<Self::AccountId, BalanceOf<Self>>;

		/// Settles and pays a closing round (the scoring pallet, then rewards).
		type RoundEnd: OnRoundEnd<BalanceOf<Self>>;

		/// Told when a round starts (the scoring pallet snapshots the round's scorers).
		type RoundStart: OnRoundStart;

		/// Holds a committing miner's bond until its round is settled (the staking pallet).
		type Settlement: SettlementLock<Self::AccountId>;

		/// Who may end any task (`force_end_task`): governance.
		type AdminOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// Held from a task's creator for the task's own storage, returned when it is pruned.
		#[pallet::constant]
		type TaskDeposit: Get<BalanceOf<Self>>;

		/// Held from a task's creator for each scheduled round (a round record and a model
		/// kept until the task is pruned), returned when it is pruned.
		#[pallet::constant]
		type RoundDeposit: Get<BalanceOf<Self>>;

		/// The smallest reward per round a task may offer.
		#[pallet::constant]
		type MinRewardPerRound: Get<BalanceOf<Self>>;

		/// The most rounds a task may schedule.
		#[pallet::constant]
		type MaxRounds: Get<u32>;

		/// The most blocks a phase may last.
		#[pallet::constant]
		type MaxPhaseBlocks: Get<u32>;

		/// The most tasks one creator may run at once.
		#[pallet::constant]
		type MaxTasksPerCreator: Get<u32>;

		/// A task whose rounds close this many times in a row without a commitment ends.
		#[pallet::constant]
		type MaxIdleRounds: Get<u32>;

		/// Blocks an ended task's records stay before anyone may prune them (`prune_task`).
		#[pallet::constant]
		type RetentionPeriod: Get<BlockNumberFor<Self>>;

		/// The most tasks running at once.
		#[pallet::constant]
		type MaxActiveTasks: Get<u32>;

		/// The most miners in one task.
		#[pallet::constant]
		type MaxMinersPerTask: Get<u32>;

		/// The most distinct global models proposed in one round.
		#[pallet::constant]
		type MaxProposals: Get<u32>;

		/// The most segments a run may have (`local_steps / checkpoint_interval`).
		#[pallet::constant]
		type MaxSegments: Get<u32>;

		/// The fewest blocks a phase may last.
		#[pallet::constant]
		type MinPhaseBlocks: Get<u32>;

		/// The most tasks that change phase in one block; the rest wait a block.
		#[pallet::constant]
		type MaxTransitionsPerBlock: Get<u32>;

		/// The most scorers a round snapshots (the scoring pallet's `MaxScorers`): a dispute names
		/// at most one segment per scorer, and a task's vote-commit phase must hold a voter's
		/// fetch of every one (`pol_primitives::serving::min_vote_commit_blocks`).
		#[pallet::constant]
		type MaxScorers: Get<u32>;

		/// The chain's block time in milliseconds: a task's verify phase must last the blocks a
		/// miner's server needs to deliver what a validator fetches at the protocol's minimum
		/// rate (`pol_primitives::serving::min_verify_blocks`).
		#[pallet::constant]
		type ExpectedBlockTime: Get<u64>;

		/// Weights of this pallet's calls and hooks, from its benchmarks.
		type WeightInfo: WeightInfo;

		/// Sets up miners, validators and revealed scores for the benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: BenchmarkHelper<Self::AccountId, BalanceOf<Self>>;
	}

	/// How many running tasks each creator has.
	#[pallet::storage]
	pub type CreatorTasks<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, u32, ValueQuery>;

	/// Where each task's current global model is served: every proposer of it, with its URI
	/// (the initial model has none; see the task spec). Replaced when a round accepts a model.
	#[pallet::storage]
	pub type ModelSources<T: Config> = StorageMap<
		_,
		Twox64Concat,
		TaskId,
		ModelSourcesOf<T::AccountId, T::MaxProposals>,
		ValueQuery,
	>;

	/// The id the next task gets.
	#[pallet::storage]
	pub type NextTaskId<T: Config> = StorageValue<_, TaskId, ValueQuery>;

	/// Every task, running or ended (until pruned).
	#[pallet::storage]
	pub type Tasks<T: Config> = StorageMap<_, Twox64Concat, TaskId, TaskInfoOf<T>, OptionQuery>;

	/// The running tasks' next phase changes, `(block, task)` soonest first: at `block` the task
	/// leaves its current phase.
	#[pallet::storage]
	pub type Deadlines<T: Config> =
		StorageValue<_, DeadlineQueue<BlockNumberFor<T>, T::MaxActiveTasks>, ValueQuery>;

	/// The miners of each task, with the round each joined in.
	#[pallet::storage]
	pub type Miners<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		TaskId,
		Blake2_128Concat,
		T::AccountId,
		RoundIndex,
		OptionQuery,
	>;

	/// Each round's seeds and counts. Kept after the round, so its seeds stay auditable, until
	/// the task is pruned.
	#[pallet::storage]
	pub type Rounds<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		TaskId,
		Twox64Concat,
		RoundIndex,
		RoundRecord<BlockNumberFor<T>>,
		OptionQuery,
	>;

	/// The current round's commitments and reveals, by miner; cleared when the round closes.
	#[pallet::storage]
	pub type Updates<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		(TaskId, RoundIndex),
		Blake2_128Concat,
		T::AccountId,
		MinerUpdate,
		OptionQuery,
	>;

	/// The current round's revealed checkpoint roots and who revealed each: a second miner
	/// revealing a root already revealed is a copy. Cleared when the round closes.
	#[pallet::storage]
	pub type RevealedRoots<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		(TaskId, RoundIndex),
		Identity,
		Hash,
		T::AccountId,
		OptionQuery,
	>;

	/// The model hash each validator proposed in the current round and where it serves it;
	/// cleared when the round closes.
	#[pallet::storage]
	pub type Proposals<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		(TaskId, RoundIndex),
		Blake2_128Concat,
		T::AccountId,
		Proposal,
		OptionQuery,
	>;

	/// The stake behind each model hash proposed in the current round; cleared when it closes.
	#[pallet::storage]
	pub type ProposalTallies<T: Config> = StorageMap<
		_,
		Twox64Concat,
		(TaskId, RoundIndex),
		Tallies<BalanceOf<T>, T::MaxProposals>,
		ValueQuery,
	>;

	/// Every accepted global model: `(task, round)` → the model round `round` produced. Kept
	/// until the task is pruned.
	#[pallet::storage]
	pub type ModelHistory<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		TaskId,
		Twox64Concat,
		RoundIndex,
		GlobalModel<BlockNumberFor<T>>,
		OptionQuery,
	>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// `creator` created `task` with `budget` held; round 0 has started.
		TaskCreated {
			task: TaskId,
			creator: T::AccountId,
			budget: BalanceOf<T>,
		},
		/// `amount` was added to `task`'s budget, which is now `budget`.
		TaskFunded {
			task: TaskId,
			amount: BalanceOf<T>,
			budget: BalanceOf<T>,
		},
		/// The creator cancelled `task` while miners had committed in round `round`: the round
		/// runs to its end and pays, then the task ends.
		TaskCancelling { task: TaskId, round: RoundIndex },
		/// `task` ended; `refunded` went back to its creator.
		TaskEnded {
			task: TaskId,
			reason: EndReason,
			refunded: BalanceOf<T>,
		},
		/// `miner` joined `task`.
		MinerJoined { task: TaskId, miner: T::AccountId },
		/// `miner` left `task`; `dropped` says whether its update of the current round was
		/// dropped (it left before the reveal phase ended).
		MinerLeft {
			task: TaskId,
			miner: T::AccountId,
			dropped: bool,
		},
		/// `miner`, no longer an active miner, was removed from `task` by `reporter`.
		MinerRemoved {
			task: TaskId,
			miner: T::AccountId,
			reporter: T::AccountId,
			dropped: bool,
		},
		/// `task`'s records were pruned; its creator got `deposit` back.
		TaskPruned {
			task: TaskId,
			creator: T::AccountId,
			deposit: BalanceOf<T>,
		},
		/// The records of `removed` more rounds of `task` were pruned; call `prune_task` again
		/// for the rest.
		TaskPartiallyPruned { task: TaskId, removed: u32 },
		/// Round `round` of `task` started from `model`; `seed` is its `round_seed`.
		RoundStarted {
			task: TaskId,
			round: RoundIndex,
			seed: Hash,
			model: Hash,
		},
		/// Round `round` of `task` entered `phase`, which lasts until block `ends_at`.
		PhaseStarted {
			task: TaskId,
			round: RoundIndex,
			phase: Phase,
			ends_at: BlockNumberFor<T>,
		},
		/// The reveals of round `round` of `task` closed; `seed` is its `challenge_seed`.
		ChallengeSeedRecorded {
			task: TaskId,
			round: RoundIndex,
			seed: Hash,
		},
		/// `miner` committed to its update for round `round` of `task`.
		UpdateCommitted {
			task: TaskId,
			round: RoundIndex,
			miner: T::AccountId,
			commit: Hash,
		},
		/// `miner` revealed its update for round `round` of `task`.
		UpdateRevealed {
			task: TaskId,
			round: RoundIndex,
			miner: T::AccountId,
			checkpoint_root: Hash,
			final_model_hash: Hash,
			artifact_uri: ArtifactUri,
		},
		/// `validator` proposed `model_hash` as round `round`'s global model, with `stake`.
		ModelProposed {
			task: TaskId,
			round: RoundIndex,
			validator: T::AccountId,
			model_hash: Hash,
			stake: BalanceOf<T>,
		},
		/// `model_hash` is round `round`'s global model: its proposers hold `stake` of the
		/// `revealed_stake` that revealed scores.
		ModelAccepted {
			task: TaskId,
			round: RoundIndex,
			model_hash: Hash,
			uri: ArtifactUri,
			stake: BalanceOf<T>,
			revealed_stake: BalanceOf<T>,
		},
		/// Round `round` of `task` closed; `model` is the accepted global model (`None`: no hash
		/// was accepted, the next round starts from the old one); `paid` left the budget.
		RoundClosed {
			task: TaskId,
			round: RoundIndex,
			model: Option<Hash>,
			paid: BalanceOf<T>,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// No task has this id. Check the id in the `TaskCreated` event.
		TaskNotFound,
		/// The task has ended. Pick a running task.
		TaskEnded,
		/// The task is being cancelled: it takes no new miners or funds.
		TaskCancelling,
		/// Only the task's creator may do this.
		NotCreator,
		/// The model spec does not parse: use `mlp:<in>-<hidden>…-<out>` or
		/// `cnn:<h>x<w>x<c>-c<ch>…-<classes>`.
		InvalidModelSpec,
		/// The model's inputs or outputs do not match the data set's features or classes.
		ModelDoesNotFitData,
		/// The data set needs at least one shard, a validation share strictly between 0 and 1,
		/// a Dirichlet α above zero, and (synthetic) at least 2 classes and as many samples as
		/// shards.
		InvalidDataset,
		/// The learning rate and batch size must be positive, momentum below 1, and the
		/// checkpoint interval must divide the local steps into at most `MaxSegments` segments.
		InvalidHyperparameters,
		/// Segments per check must be between 1 and the number of segments (and at most
		/// `MAX_SEGMENTS_PER_CHECK`, 64), a tolerance must be above 0 and at most
		/// `MAX_TOLERANCE` (1% of a segment's update), and the determinism profile must name
		/// 1 to `MAX_PROFILE_THREADS` (64) threads.
		InvalidVerification,
		/// A trimmed mean must trim less than half at each end, and a norm clip needs a bound
		/// above 0 and at most `MAX_NORM_CLIP` (10⁶).
		InvalidAggregation,
		/// Every phase must last between `MinPhaseBlocks` and `MaxPhaseBlocks` blocks, and the
		/// task must run between 1 and `MaxRounds` rounds.
		InvalidSchedule,
		/// The miner limit must be between 1 and `MaxMinersPerTask`.
		InvalidMinerLimit,
		/// A URI must not be empty.
		EmptyUri,
		/// The reward per round must be at least `MinRewardPerRound`.
		RewardTooLow,
		/// The budget must cover at least one round's reward.
		BudgetBelowRoundReward,
		/// The amount must be positive.
		ZeroAmount,
		/// The free balance cannot cover the budget and the task's deposit (the account must
		/// also keep its existential deposit). Fund less.
		InsufficientBalance,
		/// `MaxActiveTasks` tasks are running. Wait for one to end.
		TooManyTasks,
		/// The caller runs `MaxTasksPerCreator` tasks already. Wait for one to end, or cancel
		/// one.
		TooManyTasksOfCreator,
		/// The task is still running, or ended less than `RetentionPeriod` blocks ago: prune it
		/// later.
		TooEarlyToPrune,
		/// The miner is still an active miner: only a miner that unbonded or was chilled can be
		/// removed by someone else.
		MinerStillActive,
		/// The caller left this task in its current round after committing: it may join again
		/// from the next round.
		LeftThisRound,
		/// The round has as many commitments as the task's `max_miners`: commit in the next
		/// round.
		RoundFull,
		/// The caller's update of this round was dropped when it left the task.
		UpdateWithdrawn,
		/// The caller is not an active miner. Bond as a miner (and `resume` if chilled).
		NotActiveMiner,
		/// The caller is not an active validator. Bond as a validator (and `resume` if chilled).
		NotActiveValidator,
		/// The caller has joined this task already.
		AlreadyJoined,
		/// The caller has not joined this task. `join_task` first.
		NotJoined,
		/// The task has as many miners as its limit.
		TaskFull,
		/// That round is over. Use the task's current round.
		RoundOver,
		/// That round has not started. Use the task's current round.
		RoundNotStarted,
		/// The commit phase of this round is over: commit in the next round.
		CommitPhaseOver,
		/// The caller committed in this round already: one commitment per miner per round.
		AlreadyCommitted,
		/// The reveal phase has not started: reveal after the commit phase ends.
		RevealNotOpen,
		/// The reveal phase is over: an update not revealed in time is not scored.
		RevealPhaseOver,
		/// The caller did not commit in this round, so it has nothing to reveal.
		NotCommitted,
		/// The caller revealed in this round already.
		AlreadyRevealed,
		/// The commitment and salt do not hash to the caller's commit (the hash binds the
		/// miner's account: a copied commitment fails here).
		CommitmentMismatch,
		/// The commitment's segment count is not the task's `local_steps / checkpoint_interval`.
		WrongSegmentCount,
		/// Another miner revealed the same checkpoint root in this round: a copied update.
		DuplicateUpdate,
		/// The final model hash with the given norm is not leaf `n` of the committed checkpoint
		/// tree: reveal the hash of the run's last checkpoint (all its tensors), its update norm
		/// and its Merkle proof (`FinalLeafProof::from_leaves`).
		FinalModelNotLeafN,
		/// The final segment's update norm is NaN, infinite or negative: the run's parameters
		/// are not finite, and such an update would poison the global model.
		NonFiniteUpdate,
		/// Proposals open in the finalize phase, after scores are revealed and disputes decided.
		ProposalsNotOpen,
		/// The caller is not one of the round's scorers with at least one revealed score; only
		/// they may propose.
		DidNotRevealScores,
		/// The caller proposed a model in this round already.
		AlreadyProposed,
		/// Another global model was accepted for this round already: propose that one (it adds
		/// your URI to its sources) or none.
		ModelAlreadyAccepted,
		/// `MaxProposals` distinct models were proposed in this round: propose one of them.
		TooManyProposals,
		/// The task's budget is smaller than the payment.
		InsufficientBudget,
		/// The verify phase is too short for a miner's server to deliver, at the protocol's
		/// minimum rate, the manifest and the checkpoints a validator fetches for this model,
		/// segments and segments per check: a stall could not then be told from a validator's
		/// own lateness. Lengthen the verify phase to at least
		/// `pol_primitives::serving::min_verify_blocks` blocks (10 for a small model at 3-second
		/// blocks, 12 for the demo task), or check fewer segments or a smaller model.
		VerifyPhaseTooShort,
		/// The vote-commit phase is too short for a voter to fetch, at the protocol's minimum
		/// rate, the manifest and both ends of every segment claimed in the score-reveal phase
		/// (one per scorer, up to `MaxScorers`): a claim could then go unchecked. Lengthen it to
		/// at least `pol_primitives::serving::min_vote_commit_blocks` blocks (26 for the demo
		/// task at 3-second blocks), or use fewer segments or a smaller model.
		VoteCommitPhaseTooShort,
		/// The vote-reveal phase is too short for a voter to notice it and have its reveal
		/// included: make it at least `pol_primitives::serving::min_reveal_blocks` (5) blocks.
		VoteRevealPhaseTooShort,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			Self::advance_rounds(now)
		}

		fn integrity_test() {
			assert!(
				T::MaxActiveTasks::get() > 0,
				"MaxActiveTasks must be positive"
			);
			assert!(
				T::MaxMinersPerTask::get() > 0,
				"MaxMinersPerTask must be positive"
			);
			assert!(T::MaxProposals::get() > 0, "MaxProposals must be positive");
			assert!(T::MaxSegments::get() > 0, "MaxSegments must be positive");
			assert!(
				T::MinPhaseBlocks::get() > 0,
				"MinPhaseBlocks must be positive"
			);
			assert!(
				T::MaxTransitionsPerBlock::get() > 0,
				"MaxTransitionsPerBlock must be positive"
			);
			assert!(
				T::ExpectedBlockTime::get() > 0,
				"ExpectedBlockTime must be positive"
			);
			assert!(
				T::MaxPhaseBlocks::get() >= T::MinPhaseBlocks::get(),
				"MaxPhaseBlocks must be at least MinPhaseBlocks"
			);
			assert!(T::MaxRounds::get() > 0, "MaxRounds must be positive");
			assert!(
				T::MaxTasksPerCreator::get() > 0,
				"MaxTasksPerCreator must be positive"
			);
			assert!(
				T::MaxIdleRounds::get() > 0,
				"MaxIdleRounds must be positive"
			);
			assert!(
				!T::MinRewardPerRound::get().is_zero(),
				"MinRewardPerRound must be positive: a zero reward lets tasks occupy slots for free"
			);
			// The round machine's worst block must leave room for transactions: at least one
			// transition at the bounds must fit its share.
			let worst =
				T::WeightInfo::on_initialize_idle().saturating_add(Self::worst_case_transition());
			let max = <T as frame_system::Config>::BlockWeights::get().max_block;
			assert!(
				worst.all_lte(ROUND_MACHINE_SHARE * max),
				"closing one round at the bounds ({worst:?}) exceeds the round machine's share of \
				 the block ({max:?}): lower the bounds"
			);
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Creates a task from `spec` and holds `budget` from the caller; round 0 starts now.
		/// The budget must cover at least one round's reward. The task's deposit
		/// ([`Pallet::task_deposit`]) is held too, until the task is pruned after it ends.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::create_task().saturating_add(T::RoundStart::max_weight()))]
		pub fn create_task(
			origin: OriginFor<T>,
			spec: TaskSpec<BalanceOf<T>>,
			#[pallet::compact] budget: BalanceOf<T>,
		) -> DispatchResult {
			let creator = ensure_signed(origin)?;
			Self::validate_spec(&spec)?;
			ensure!(
				budget >= spec.reward_per_round,
				Error::<T>::BudgetBelowRoundReward
			);
			let mut queue = Deadlines::<T>::get();
			ensure!(!queue.is_full(), Error::<T>::TooManyTasks);
			let running = CreatorTasks::<T>::get(&creator);
			ensure!(
				running < T::MaxTasksPerCreator::get(),
				Error::<T>::TooManyTasksOfCreator
			);
			let deposit = Self::task_deposit(spec.schedule.rounds);
			T::Currency::hold(&HoldReason::TaskDeposit.into(), &creator, deposit)
				.map_err(|_| Error::<T>::InsufficientBalance)?;
			Self::hold(&creator, budget)?;
			CreatorTasks::<T>::insert(&creator, running.saturating_add(1));

			let task = NextTaskId::<T>::get();
			NextTaskId::<T>::put(task.saturating_add(1));
			let now = frame_system::Pallet::<T>::block_number();
			let model = GlobalModel {
				model_hash: spec.initial_model_hash,
				uri: spec.initial_model_uri.clone(),
				accepted_at: now,
			};
			let mut info = TaskInfo {
				creator: creator.clone(),
				spec,
				budget,
				status: TaskStatus::Active,
				round: 0,
				phase: Phase::Commit,
				phase_ends: now,
				model,
				miners: 0,
				deposit,
				idle_rounds: 0,
				ended_at: None,
			};
			Self::deposit_event(Event::TaskCreated {
				task,
				creator,
				budget,
			});
			Self::start_round(task, &mut info, 0, now);
			Self::schedule(&mut queue, task, &info);
			Tasks::<T>::insert(task, info);
			Deadlines::<T>::put(queue);
			Ok(())
		}

		/// Adds `amount` of the caller's free balance to the budget of `task`. Only the creator
		/// funds a task, while it runs.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::fund_task())]
		pub fn fund_task(
			origin: OriginFor<T>,
			task: TaskId,
			#[pallet::compact] amount: BalanceOf<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
			let mut info = Tasks::<T>::get(task).ok_or(Error::<T>::TaskNotFound)?;
			ensure!(info.creator == who, Error::<T>::NotCreator);
			Self::ensure_active(&info)?;
			Self::hold(&who, amount)?;
			info.budget = info.budget.saturating_add(amount);
			let budget = info.budget;
			Tasks::<T>::insert(task, info);
			Self::deposit_event(Event::TaskFunded {
				task,
				amount,
				budget,
			});
			Ok(())
		}

		/// Cancels `task` and refunds what was not paid. If miners committed in the current
		/// round, that round runs to its end and pays first (they did the work); otherwise the
		/// task ends now.
		#[pallet::call_index(2)]
		#[pallet::weight(
			T::WeightInfo::cancel_task(T::MaxMinersPerTask::get())
				.saturating_add(T::RoundEnd::max_weight())
		)]
		pub fn cancel_task(origin: OriginFor<T>, task: TaskId) -> DispatchResultWithPostInfo {
			let who = ensure_signed(origin)?;
			let mut info = Tasks::<T>::get(task).ok_or(Error::<T>::TaskNotFound)?;
			ensure!(info.creator == who, Error::<T>::NotCreator);
			Self::ensure_active(&info)?;
			let commits = Rounds::<T>::get(task, info.round).map_or(0, |r| r.commits);
			if commits > 0 {
				info.status = TaskStatus::Cancelling;
				let round = info.round;
				Tasks::<T>::insert(task, info);
				Self::deposit_event(Event::TaskCancelling { task, round });
				return Ok(Some(T::WeightInfo::cancel_task(0)).into());
			}
			let miners = info.miners;
			Self::discard_current_round(task, &mut info, EndReason::Cancelled);
			Ok(
				Some(T::WeightInfo::cancel_task(miners).saturating_add(T::RoundEnd::max_weight()))
					.into(),
			)
		}

		/// Joins `task` as a miner. The caller must be an active miner, and the task must have
		/// room.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::join_task())]
		pub fn join_task(origin: OriginFor<T>, task: TaskId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			ensure!(
				T::Stake::is_active(&who, Role::Miner),
				Error::<T>::NotActiveMiner
			);
			let mut info = Tasks::<T>::get(task).ok_or(Error::<T>::TaskNotFound)?;
			Self::ensure_active(&info)?;
			ensure!(
				!Miners::<T>::contains_key(task, &who),
				Error::<T>::AlreadyJoined
			);
			// A miner that committed and left this round has its (withdrawn) update here.
			ensure!(
				!Updates::<T>::contains_key((task, info.round), &who),
				Error::<T>::LeftThisRound
			);
			ensure!(
				info.miners < info.spec.max_miners.min(T::MaxMinersPerTask::get()),
				Error::<T>::TaskFull
			);
			Miners::<T>::insert(task, &who, info.round);
			info.miners = info.miners.saturating_add(1);
			Tasks::<T>::insert(task, info);
			Self::deposit_event(Event::MinerJoined { task, miner: who });
			Ok(())
		}

		/// Leaves `task`. Before the current round's reveal phase ends, the caller's update of
		/// the round (committed or revealed) is dropped, and it may join again from the next
		/// round; after it, the update is scored and settled as any other (leaving does not
		/// escape a dispute).
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::leave_task())]
		pub fn leave_task(origin: OriginFor<T>, task: TaskId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let dropped = Self::remove_miner(task, &who)?;
			Self::deposit_event(Event::MinerLeft {
				task,
				miner: who,
				dropped,
			});
			Ok(())
		}

		/// Commits to the caller's update for `round` of `task`, during its commit phase:
		/// `commit = blake2_256("pol-commit" ‖ SCALE(commitment) ‖ miner ‖ salt)`. One
		/// commitment per miner per round.
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::commit_update())]
		pub fn commit_update(
			origin: OriginFor<T>,
			task: TaskId,
			round: RoundIndex,
			commit: Hash,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let info = Self::miner_round(&who, task, round)?;
			ensure!(info.phase == Phase::Commit, Error::<T>::CommitPhaseOver);
			ensure!(
				!Updates::<T>::contains_key((task, round), &who),
				Error::<T>::AlreadyCommitted
			);
			let mut record = Rounds::<T>::get(task, round).ok_or(Error::<T>::RoundNotStarted)?;
			// Withdrawn updates count too: leaving and joining cannot put more than
			// `max_miners` updates into one round.
			ensure!(record.commits < info.spec.max_miners, Error::<T>::RoundFull);
			Updates::<T>::insert(
				(task, round),
				&who,
				MinerUpdate {
					commit,
					revealed: None,
					withdrawn: false,
				},
			);
			record.commits = record.commits.saturating_add(1);
			Rounds::<T>::insert(task, round, record);
			// Its bond stays until the round is settled: a dispute can still reach it.
			T::Settlement::lock(&who);
			Self::deposit_event(Event::UpdateCommitted {
				task,
				round,
				miner: who,
				commit,
			});
			Ok(())
		}

		/// Reveals the caller's update for `round` of `task`, during its reveal phase. The
		/// commitment and salt must hash to the caller's commit, its segment count must be the
		/// task's, and `final_leaf` must prove that `final_model_hash` is leaf `n` of the
		/// committed checkpoint tree with a finite update norm: the update that is scored and
		/// aggregated is the last checkpoint validators verify, nothing else.
		#[pallet::call_index(6)]
		#[pallet::weight(T::WeightInfo::reveal_update())]
		pub fn reveal_update(
			origin: OriginFor<T>,
			task: TaskId,
			round: RoundIndex,
			commitment: UpdateCommitment,
			salt: Salt,
			final_leaf: FinalLeafProof,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let info = Self::miner_round(&who, task, round)?;
			ensure!(info.phase != Phase::Commit, Error::<T>::RevealNotOpen);
			ensure!(info.phase == Phase::Reveal, Error::<T>::RevealPhaseOver);
			let mut update =
				Updates::<T>::get((task, round), &who).ok_or(Error::<T>::NotCommitted)?;
			ensure!(!update.withdrawn, Error::<T>::UpdateWithdrawn);
			ensure!(update.revealed.is_none(), Error::<T>::AlreadyRevealed);
			ensure!(
				hashing::commit_hash(&commitment, &hashing::account_bytes(&who), &salt)
					== update.commit,
				Error::<T>::CommitmentMismatch
			);
			ensure!(
				Some(commitment.num_segments) == info.spec.hyperparameters.num_segments(),
				Error::<T>::WrongSegmentCount
			);
			ensure!(!commitment.artifact_uri.is_empty(), Error::<T>::EmptyUri);
			final_leaf.verify(&commitment).map_err(|e| match e {
				FinalLeafError::NonFiniteNorm => Error::<T>::NonFiniteUpdate,
				FinalLeafError::NotLeafN => Error::<T>::FinalModelNotLeafN,
			})?;
			ensure!(
				!RevealedRoots::<T>::contains_key((task, round), commitment.checkpoint_root),
				Error::<T>::DuplicateUpdate
			);
			RevealedRoots::<T>::insert((task, round), commitment.checkpoint_root, &who);
			Rounds::<T>::mutate(task, round, |r| {
				if let Some(r) = r {
					r.reveals = r.reveals.saturating_add(1);
				}
			});
			Self::deposit_event(Event::UpdateRevealed {
				task,
				round,
				miner: who.clone(),
				checkpoint_root: commitment.checkpoint_root,
				final_model_hash: commitment.final_model_hash,
				artifact_uri: commitment.artifact_uri.clone(),
			});
			update.revealed = Some(commitment);
			Updates::<T>::insert((task, round), &who, update);
			Ok(())
		}

		/// Proposes `model_hash`, served at `uri`, as the global model of `round` of `task`,
		/// during its finalize phase. The caller must be an active validator among the round's
		/// scorers that revealed at least one score; the hash is accepted once its proposers
		/// hold more than 2/3 of the stake of those scorers. Every proposer's URI of the
		/// accepted hash is kept ([`ModelSources`]), so one dead URI strands nobody; proposing
		/// the accepted hash after its acceptance adds a source.
		#[pallet::call_index(7)]
		#[pallet::weight(T::WeightInfo::propose_global_model(T::MaxProposals::get()))]
		pub fn propose_global_model(
			origin: OriginFor<T>,
			task: TaskId,
			round: RoundIndex,
			model_hash: Hash,
			uri: ArtifactUri,
		) -> DispatchResultWithPostInfo {
			let who = ensure_signed(origin)?;
			ensure!(
				T::Stake::is_active(&who, Role::Validator),
				Error::<T>::NotActiveValidator
			);
			let info = Self::current_round(task, round)?;
			ensure!(info.phase == Phase::Finalize, Error::<T>::ProposalsNotOpen);
			let mut record = Rounds::<T>::get(task, round).ok_or(Error::<T>::RoundNotStarted)?;
			ensure!(
				record.accepted.is_none_or(|h| h == model_hash),
				Error::<T>::ModelAlreadyAccepted
			);
			let stake = T::Scores::revealed_stake(task, round, &who)
				.ok_or(Error::<T>::DidNotRevealScores)?;
			ensure!(
				!Proposals::<T>::contains_key((task, round), &who),
				Error::<T>::AlreadyProposed
			);
			ensure!(!uri.is_empty(), Error::<T>::EmptyUri);

			let mut tallies = ProposalTallies::<T>::get((task, round));
			let entries = tallies.len() as u32;
			let index = match tallies.iter().position(|t| t.model_hash == model_hash) {
				Some(i) => i,
				None => {
					// Only scorers propose, one hash each, so with `MaxProposals` at least the
					// most scorers a round has, this bound is never reached.
					tallies
						.try_push(ProposalTally {
							model_hash,
							stake: Zero::zero(),
							proposers: 0,
						})
						.map_err(|_| Error::<T>::TooManyProposals)?;
					tallies.len() - 1
				}
			};
			let tally = &mut tallies[index];
			tally.stake = tally.stake.saturating_add(stake);
			tally.proposers = tally.proposers.saturating_add(1);
			let tally_stake = tally.stake;
			Proposals::<T>::insert(
				(task, round),
				&who,
				Proposal {
					model_hash,
					uri: uri.clone(),
				},
			);
			ProposalTallies::<T>::insert((task, round), tallies);
			Self::deposit_event(Event::ModelProposed {
				task,
				round,
				validator: who,
				model_hash,
				stake,
			});

			let revealed_stake = T::Scores::total_revealed_stake(task, round);
			if record.accepted.is_none()
				&& exceeds_two_thirds::<BalanceOf<T>>(tally_stake, revealed_stake)
			{
				record.accepted = Some(model_hash);
				Rounds::<T>::insert(task, round, record);
				let now = frame_system::Pallet::<T>::block_number();
				ModelHistory::<T>::insert(
					task,
					round,
					GlobalModel {
						model_hash,
						uri: uri.clone(),
						accepted_at: now,
					},
				);
				Self::deposit_event(Event::ModelAccepted {
					task,
					round,
					model_hash,
					uri,
					stake: tally_stake,
					revealed_stake,
				});
			}
			Ok(Some(T::WeightInfo::propose_global_model(entries)).into())
		}

		/// Ends `task` now, whatever its state: its current round is dropped unpaid (nobody is
		/// slashed for it), its budget goes back to its creator. For governance, against a
		/// task that should not run.
		#[pallet::call_index(8)]
		#[pallet::weight(
			T::WeightInfo::cancel_task(T::MaxMinersPerTask::get())
				.saturating_add(T::RoundEnd::max_weight())
		)]
		pub fn force_end_task(origin: OriginFor<T>, task: TaskId) -> DispatchResultWithPostInfo {
			T::AdminOrigin::ensure_origin(origin)?;
			let mut info = Tasks::<T>::get(task).ok_or(Error::<T>::TaskNotFound)?;
			ensure!(
				!matches!(info.status, TaskStatus::Ended(_)),
				Error::<T>::TaskEnded
			);
			let miners = info.miners;
			Self::discard_current_round(task, &mut info, EndReason::ForceEnded);
			Ok(
				Some(T::WeightInfo::cancel_task(miners).saturating_add(T::RoundEnd::max_weight()))
					.into(),
			)
		}

		/// Removes an ended task's records (its round records and accepted models, of at most
		/// `limit` rounds a call, newest first) once `RetentionPeriod` blocks have passed since
		/// it ended; the call that reaches round 0 removes the task and returns its deposit to
		/// its creator. Anyone may call it; events and indexers keep the history.
		#[pallet::call_index(9)]
		#[pallet::weight(T::WeightInfo::prune_task(*limit))]
		pub fn prune_task(
			origin: OriginFor<T>,
			task: TaskId,
			limit: u32,
		) -> DispatchResultWithPostInfo {
			ensure_signed(origin)?;
			let info = Tasks::<T>::get(task).ok_or(Error::<T>::TaskNotFound)?;
			let now = frame_system::Pallet::<T>::block_number();
			let prunable = info
				.ended_at
				.is_some_and(|at| now >= at.saturating_add(T::RetentionPeriod::get()));
			ensure!(prunable, Error::<T>::TooEarlyToPrune);
			// Newest round first, down to round 0; `info.round` keeps the progress.
			let mut info = info;
			let mut removed = 0u32;
			let done = loop {
				if removed >= limit.max(1) {
					break false;
				}
				Rounds::<T>::remove(task, info.round);
				ModelHistory::<T>::remove(task, info.round);
				removed = removed.saturating_add(1);
				if info.round == 0 {
					break true;
				}
				info.round = info.round.saturating_sub(1);
			};
			if !done {
				Tasks::<T>::insert(task, info);
				Self::deposit_event(Event::TaskPartiallyPruned { task, removed });
				return Ok(Some(T::WeightInfo::prune_task(removed)).into());
			}
			ModelSources::<T>::remove(task);
			Tasks::<T>::remove(task);
			let deposit = T::Currency::release(
				&HoldReason::TaskDeposit.into(),
				&info.creator,
				info.deposit,
				Precision::BestEffort,
			)
			.unwrap_or_else(|e| {
				log::error!(target: LOG_TARGET, "deposit of task {task} not released: {e:?}");
				Zero::zero()
			});
			Self::deposit_event(Event::TaskPruned {
				task,
				creator: info.creator,
				deposit,
			});
			Ok(Some(T::WeightInfo::prune_task(removed)).into())
		}

		/// Removes `miner` from `task` because it is no longer an active miner (it unbonded,
		/// was chilled or slashed below the minimum), freeing its place. Anyone may call it.
		/// Its update of the current round is treated as if it had left.
		#[pallet::call_index(10)]
		#[pallet::weight(T::WeightInfo::remove_inactive_miner())]
		pub fn remove_inactive_miner(
			origin: OriginFor<T>,
			task: TaskId,
			miner: T::AccountId,
		) -> DispatchResult {
			let reporter = ensure_signed(origin)?;
			ensure!(
				!T::Stake::is_active(&miner, Role::Miner),
				Error::<T>::MinerStillActive
			);
			let dropped = Self::remove_miner(task, &miner)?;
			Self::deposit_event(Event::MinerRemoved {
				task,
				miner,
				reporter,
				dropped,
			});
			Ok(())
		}
	}
}

/// Whether `part` is more than 2/3 of `whole`, exactly (`3·part > 2·whole`, in 128 bits).
pub fn exceeds_two_thirds<B: UniqueSaturatedInto<u128>>(part: B, whole: B) -> bool {
	let (part, whole): (u128, u128) = (part.unique_saturated_into(), whole.unique_saturated_into());
	!whole.is_zero() && part.saturating_mul(3) > whole.saturating_mul(2)
}

/// What the benchmarks need from the runtime.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper<AccountId, Balance> {
	/// Makes `who` an active miner or validator (bonding it with what it needs).
	fn make_active(who: &AccountId, role: Role);
	/// Records that validator `who` revealed scores in `round` of `task`; returns its stake.
	fn reveal_scores(task: TaskId, round: RoundIndex, who: &AccountId) -> Balance;
}

impl<T: Config> Pallet<T> {
	/// Checks a task spec: the model parses and fits the data, and every parameter is in range.
	pub fn validate_spec(spec: &TaskSpec<BalanceOf<T>>) -> DispatchResult {
		let arch = ModelArch::parse(&spec.model).map_err(|_| Error::<T>::InvalidModelSpec)?;
		let data = &spec.dataset;
		let (features, classes, samples) = match data.source {
			DatasetSource::Digits => (64, 10, 1797),
			DatasetSource::Synthetic {
				samples,
				features,
				classes,
				..
			} => (features, classes, samples),
		};
		ensure!(
			arch.input_features() == features && arch.outputs() == classes,
			Error::<T>::ModelDoesNotFitData
		);
		let alpha_ok = match data.partition {
			pol_primitives::Partition::Iid => true,
			pol_primitives::Partition::Dirichlet { alpha } => !alpha.is_zero(),
		};
		ensure!(
			data.num_shards > 0
				&& classes >= 2
				&& samples >= data.num_shards
				&& !data.validation.is_zero()
				&& data.validation != Perbill::one()
				&& alpha_ok,
			Error::<T>::InvalidDataset
		);
		let hp = &spec.hyperparameters;
		let segments = hp
			.num_segments()
			.ok_or(Error::<T>::InvalidHyperparameters)?;
		ensure!(
			!hp.learning_rate.is_zero()
				&& hp.momentum < sp_runtime::FixedU64::from_u32(1)
				&& hp.batch_size > 0
				&& segments <= T::MaxSegments::get(),
			Error::<T>::InvalidHyperparameters
		);
		let q = spec.verification.segments_per_check;
		let tolerance_ok = match spec.verification.comparison {
			pol_primitives::Comparison::Exact => true,
			pol_primitives::Comparison::Tolerance(t) => {
				!t.is_zero() && t <= pol_primitives::specs::MAX_TOLERANCE
			}
		};
		ensure!(
			q >= 1
				&& q <= segments
				&& q <= pol_primitives::specs::MAX_SEGMENTS_PER_CHECK
				&& tolerance_ok
				&& spec.verification.profile.is_valid(),
			Error::<T>::InvalidVerification
		);
		ensure!(spec.aggregation.is_valid(), Error::<T>::InvalidAggregation);
		let min = T::MinPhaseBlocks::get();
		let s = &spec.schedule;
		let max = T::MaxPhaseBlocks::get();
		ensure!(
			s.round_blocks().is_some()
				&& s.rounds > 0
				&& s.rounds <= T::MaxRounds::get()
				&& [
					s.commit_blocks,
					s.reveal_blocks,
					s.verify_blocks,
					s.score_reveal_blocks,
					s.vote_commit_blocks,
					s.vote_reveal_blocks,
					s.finalize_blocks
				]
				.iter()
				.all(|b| *b >= min && *b <= max),
			Error::<T>::InvalidSchedule
		);
		let min_verify = pol_primitives::serving::min_verify_blocks(
			&arch,
			!hp.momentum.is_zero(),
			segments,
			q,
			T::ExpectedBlockTime::get(),
		);
		ensure!(
			s.verify_blocks >= min_verify,
			Error::<T>::VerifyPhaseTooShort
		);
		let min_vote_commit = pol_primitives::serving::min_vote_commit_blocks(
			&arch,
			!hp.momentum.is_zero(),
			segments,
			T::MaxScorers::get(),
			T::ExpectedBlockTime::get(),
		);
		ensure!(
			s.vote_commit_blocks >= min_vote_commit,
			Error::<T>::VoteCommitPhaseTooShort
		);
		ensure!(
			s.vote_reveal_blocks >= pol_primitives::serving::min_reveal_blocks(),
			Error::<T>::VoteRevealPhaseTooShort
		);
		ensure!(
			spec.max_miners >= 1 && spec.max_miners <= T::MaxMinersPerTask::get(),
			Error::<T>::InvalidMinerLimit
		);
		ensure!(!spec.initial_model_uri.is_empty(), Error::<T>::EmptyUri);
		ensure!(
			spec.reward_per_round >= T::MinRewardPerRound::get(),
			Error::<T>::RewardTooLow
		);
		Ok(())
	}

	/// What creating a task of `rounds` rounds holds for its storage until it is pruned:
	/// `TaskDeposit + rounds × RoundDeposit`.
	pub fn task_deposit(rounds: u32) -> BalanceOf<T> {
		T::TaskDeposit::get().saturating_add(T::RoundDeposit::get().saturating_mul(rounds.into()))
	}

	/// The phase of `round` of `task`, if it is the task's current round and the task runs.
	pub fn phase_of(task: TaskId, round: RoundIndex) -> Option<Phase> {
		Tasks::<T>::get(task)
			.filter(|info| !matches!(info.status, TaskStatus::Ended(_)) && info.round == round)
			.map(|info| info.phase)
	}

	/// `task`'s current round: its phase, the last block of the current phase and of each one
	/// after it, its seeds and counts. `None` for an unknown task.
	pub fn round_status(task: TaskId) -> Option<RoundStatus<BlockNumberFor<T>>> {
		let info = Tasks::<T>::get(task)?;
		let record = Rounds::<T>::get(task, info.round).unwrap_or_default();
		let mut phase_ends = Vec::new();
		let mut phase = Some(info.phase);
		let mut end = info.phase_ends;
		while let Some(p) = phase {
			phase_ends.push((p, end));
			phase = p.next();
			if let Some(next) = phase {
				end = end.saturating_add(next.blocks(&info.spec.schedule).into());
			}
		}
		Some(RoundStatus {
			round: info.round,
			phase: info.phase,
			phase_ends,
			started_at: record.started_at,
			seed: record.seed,
			challenge_seed: record.challenge_seed,
			commits: record.commits,
			reveals: record.reveals,
			model: info.model.model_hash,
			status: info.status,
		})
	}

	/// The global models `task` accepted in rounds `from..from + limit`, oldest first.
	pub fn model_history(
		task: TaskId,
		from: RoundIndex,
		limit: u32,
	) -> Vec<(RoundIndex, GlobalModel<BlockNumberFor<T>>)> {
		let last = Tasks::<T>::get(task).map_or(0, |info| info.round);
		let to = from
			.saturating_add(limit.min(MAX_PAGE))
			.min(last.saturating_add(1));
		(from..to)
			.filter_map(|round| ModelHistory::<T>::get(task, round).map(|m| (round, m)))
			.collect()
	}

	/// The ids of the stored tasks (running, or ended and not yet pruned) among
	/// `from..from + limit`, in order.
	pub fn task_ids(from: TaskId, limit: u32) -> Vec<TaskId> {
		let to = from
			.saturating_add(limit.min(MAX_PAGE).into())
			.min(NextTaskId::<T>::get());
		(from..to).filter(|t| Tasks::<T>::contains_key(t)).collect()
	}

	/// The running tasks (at most `MaxActiveTasks`), by id: what workers look for work in.
	pub fn running_tasks() -> Vec<TaskId> {
		let mut tasks: Vec<TaskId> = Deadlines::<T>::get().iter().map(|(_, t)| *t).collect();
		tasks.sort_unstable();
		tasks
	}

	/// Where `task`'s current global model is served: each of its proposers with its URI
	/// (empty for the initial model, served at the spec's `initial_model_uri`).
	pub fn model_sources(task: TaskId) -> Vec<(T::AccountId, ArtifactUri)> {
		ModelSources::<T>::get(task).into_inner()
	}

	/// The updates revealed in `round` of `task`, by miner (empty once the round closed).
	pub fn revealed_updates(
		task: TaskId,
		round: RoundIndex,
	) -> Vec<(T::AccountId, UpdateCommitment)> {
		Updates::<T>::iter_prefix((task, round))
			.filter_map(|(miner, update)| update.revealed.map(|c| (miner, c)))
			.collect()
	}

	fn ensure_active(info: &TaskInfoOf<T>) -> DispatchResult {
		match info.status {
			TaskStatus::Active => Ok(()),
			TaskStatus::Cancelling => Err(Error::<T>::TaskCancelling.into()),
			TaskStatus::Ended(_) => Err(Error::<T>::TaskEnded.into()),
		}
	}

	/// The task, if `round` is its current round and it has not ended.
	fn current_round(task: TaskId, round: RoundIndex) -> Result<TaskInfoOf<T>, DispatchError> {
		let info = Tasks::<T>::get(task).ok_or(Error::<T>::TaskNotFound)?;
		ensure!(
			!matches!(info.status, TaskStatus::Ended(_)),
			Error::<T>::TaskEnded
		);
		ensure!(round >= info.round, Error::<T>::RoundOver);
		ensure!(round == info.round, Error::<T>::RoundNotStarted);
		Ok(info)
	}

	/// The task, for a joined, active miner acting in `round`.
	fn miner_round(
		who: &T::AccountId,
		task: TaskId,
		round: RoundIndex,
	) -> Result<TaskInfoOf<T>, DispatchError> {
		let info = Self::current_round(task, round)?;
		ensure!(Miners::<T>::contains_key(task, who), Error::<T>::NotJoined);
		ensure!(
			T::Stake::is_active(who, Role::Miner),
			Error::<T>::NotActiveMiner
		);
		Ok(info)
	}

	/// Takes `who` out of `task`'s miners. Before the current round's reveal phase ends, its
	/// update of the round is withdrawn (dropped, but kept as an entry so that the round's
	/// commitments stay capped and it cannot commit again). Returns whether an update was
	/// dropped.
	fn remove_miner(task: TaskId, who: &T::AccountId) -> Result<bool, DispatchError> {
		ensure!(
			Miners::<T>::take(task, who).is_some(),
			Error::<T>::NotJoined
		);
		let Some(mut info) = Tasks::<T>::get(task) else {
			return Ok(false);
		};
		info.miners = info.miners.saturating_sub(1);
		let round = info.round;
		let open = !matches!(info.status, TaskStatus::Ended(_))
			&& matches!(info.phase, Phase::Commit | Phase::Reveal);
		let mut dropped = false;
		if let Some(mut update) = Updates::<T>::get((task, round), who).filter(|_| open) {
			if !update.withdrawn {
				if let Some(revealed) = update.revealed.take() {
					RevealedRoots::<T>::remove((task, round), revealed.checkpoint_root);
					Rounds::<T>::mutate(task, round, |r| {
						if let Some(r) = r {
							r.reveals = r.reveals.saturating_sub(1);
						}
					});
				}
				update.withdrawn = true;
				Updates::<T>::insert((task, round), who, update);
				dropped = true;
			}
		}
		Tasks::<T>::insert(task, info);
		Ok(dropped)
	}

	/// Ends `task` at once, dropping its current round unsettled: nothing of it is paid or
	/// slashed, and what it locked is released.
	fn discard_current_round(task: TaskId, info: &mut TaskInfoOf<T>, reason: EndReason) {
		Deadlines::<T>::mutate(|q| q.retain(|(_, t)| *t != task));
		let round = info.round;
		T::RoundEnd::discard_round(task, round);
		Self::clear_round(task, round, None);
		Self::end_task(task, info, reason);
		Tasks::<T>::insert(task, info.clone());
	}

	fn hold(who: &T::AccountId, amount: BalanceOf<T>) -> DispatchResult {
		T::Currency::hold(&HoldReason::TaskBudget.into(), who, amount)
			.map_err(|_| Error::<T>::InsufficientBalance.into())
	}

	/// Puts `task`'s next phase change into the queue, in block order.
	fn schedule(
		queue: &mut DeadlineQueue<BlockNumberFor<T>, T::MaxActiveTasks>,
		task: TaskId,
		info: &TaskInfoOf<T>,
	) {
		let at = info.phase_ends.saturating_add(1u32.into());
		let index = queue.partition_point(|(b, t)| (*b, *t) <= (at, task));
		if queue.try_insert(index, (at, task)).is_err() {
			// The queue holds one entry per running task and a task only runs once it has an
			// entry (create_task checks for room), so this cannot happen.
			log::error!(target: LOG_TARGET, "deadline queue full: task {task} not scheduled");
		}
	}

	/// Starts `round` of `task` at block `now`: records its seed and opens the commit phase.
	fn start_round(
		task: TaskId,
		info: &mut TaskInfoOf<T>,
		round: RoundIndex,
		now: BlockNumberFor<T>,
	) {
		let parent = frame_system::Pallet::<T>::parent_hash();
		let seed = hashing::round_seed(task, round, &Hash::from_slice(parent.as_ref()));
		Rounds::<T>::insert(
			task,
			round,
			RoundRecord {
				started_at: now,
				seed,
				..Default::default()
			},
		);
		info.round = round;
		Self::deposit_event(Event::RoundStarted {
			task,
			round,
			seed,
			model: info.model.model_hash,
		});
		// Who scores this round is fixed now, before anyone knows what there is to score.
		T::RoundStart::on_round_start(task, round);
		Self::enter_phase(task, info, Phase::Commit, now);
	}

	fn enter_phase(task: TaskId, info: &mut TaskInfoOf<T>, phase: Phase, now: BlockNumberFor<T>) {
		info.phase = phase;
		info.phase_ends =
			now.saturating_add(phase.blocks(&info.spec.schedule).saturating_sub(1).into());
		Self::deposit_event(Event::PhaseStarted {
			task,
			round: info.round,
			phase,
			ends_at: info.phase_ends,
		});
	}

	/// The round machine: moves every task whose phase is over into its next phase, at most
	/// `MaxTransitionsPerBlock` of them.
	pub(crate) fn advance_rounds(now: BlockNumberFor<T>) -> Weight {
		let mut weight = T::WeightInfo::on_initialize_idle();
		let mut queue = Deadlines::<T>::get();
		let mut done = 0u32;
		// Each transition may close a round at the bounds; one always runs, further ones only
		// while the worst case still fits the round machine's share of the block.
		let worst = Self::worst_case_transition();
		let limit = ROUND_MACHINE_SHARE * T::BlockWeights::get().max_block;
		while done < T::MaxTransitionsPerBlock::get() {
			match queue.first() {
				Some((at, _)) if *at <= now => {}
				_ => break,
			}
			if done > 0 && weight.saturating_add(worst).any_gt(limit) {
				break;
			}
			let (_, task) = queue.remove(0);
			done = done.saturating_add(1);
			let Some(mut info) = Tasks::<T>::get(task) else {
				log::error!(target: LOG_TARGET, "task {task} in the deadline queue is missing");
				continue;
			};
			weight.saturating_accrue(Self::advance(task, &mut info, now));
			if !matches!(info.status, TaskStatus::Ended(_)) {
				Self::schedule(&mut queue, task, &info);
			}
			Tasks::<T>::insert(task, info);
		}
		if done > 0 {
			Deadlines::<T>::put(queue);
		}
		weight
	}

	/// Moves `task` out of its current phase at block `now`. Returns the weight used.
	fn advance(task: TaskId, info: &mut TaskInfoOf<T>, now: BlockNumberFor<T>) -> Weight {
		let round = info.round;
		match info.phase.next() {
			Some(next) => {
				if next == Phase::Verify {
					let parent = frame_system::Pallet::<T>::parent_hash();
					let seed =
						hashing::challenge_seed(task, round, &Hash::from_slice(parent.as_ref()));
					Rounds::<T>::mutate(task, round, |r| {
						if let Some(r) = r {
							r.challenge_seed = Some(seed);
						}
					});
					Self::deposit_event(Event::ChallengeSeedRecorded { task, round, seed });
				}
				Self::enter_phase(task, info, next, now);
				T::WeightInfo::advance_phase()
			}
			None => Self::close_round(task, info, now),
		}
	}

	/// Closes the current round of `task`: settles and pays it, then starts the next round or
	/// ends the task.
	fn close_round(task: TaskId, info: &mut TaskInfoOf<T>, now: BlockNumberFor<T>) -> Weight {
		let round = info.round;
		let before = info.budget;
		let budget = RoundBudget {
			total: info.spec.reward_per_round.min(info.budget),
			validator_share: info.spec.validator_share,
		};
		// The task is written first: `OnRoundEnd` pays through `TaskFunds`, which reads it.
		Tasks::<T>::insert(task, info.clone());
		let mut weight = T::RoundEnd::on_round_end(task, round, budget);
		if let Some(updated) = Tasks::<T>::get(task) {
			*info = updated;
		}
		let paid = before.saturating_sub(info.budget);
		let accepted = ModelHistory::<T>::get(task, round);
		let commits = Rounds::<T>::get(task, round).map_or(0, |r| r.commits);
		let (updates, proposers) =
			Self::clear_round(task, round, accepted.as_ref().map(|m| m.model_hash));
		info.idle_rounds = if commits == 0 {
			info.idle_rounds.saturating_add(1)
		} else {
			0
		};
		Self::deposit_event(Event::RoundClosed {
			task,
			round,
			model: accepted.as_ref().map(|m| m.model_hash),
			paid,
		});
		if let Some(model) = accepted {
			info.model = model;
		}
		let end = if info.status == TaskStatus::Cancelling {
			Some(EndReason::Cancelled)
		} else if round.saturating_add(1) >= info.spec.schedule.rounds {
			Some(EndReason::Completed)
		} else if info.budget.is_zero() {
			Some(EndReason::OutOfBudget)
		} else if info.idle_rounds >= T::MaxIdleRounds::get() {
			Some(EndReason::Expired)
		} else {
			None
		};
		let miners = info.miners;
		match end {
			Some(reason) => Self::end_task(task, info, reason),
			None => Self::start_round(task, info, round.saturating_add(1), now),
		}
		weight.saturating_accrue(T::WeightInfo::close_round(updates, proposers, miners));
		weight
	}

	/// Removes the per-round storage of `round` of `task` and releases its miners' settlement
	/// locks. The proposers of `accepted` become the task's [`ModelSources`]. Returns how many
	/// updates and proposals it removed.
	fn clear_round(task: TaskId, round: RoundIndex, accepted: Option<Hash>) -> (u32, u32) {
		ProposalTallies::<T>::remove((task, round));
		// Bounded: commitments are capped at the task's `max_miners`, and withdrawn ones count.
		let mut updates = 0u32;
		for (miner, _) in Updates::<T>::drain_prefix((task, round)) {
			T::Settlement::unlock(&miner);
			updates = updates.saturating_add(1);
		}
		let _ = RevealedRoots::<T>::clear_prefix((task, round), T::MaxMinersPerTask::get(), None);
		// Bounded: only the round's scorers propose, once each.
		let mut proposers = 0u32;
		let mut sources = ModelSourcesOf::<T::AccountId, T::MaxProposals>::default();
		for (who, proposal) in Proposals::<T>::drain_prefix((task, round)) {
			proposers = proposers.saturating_add(1);
			if Some(proposal.model_hash) == accepted {
				let _ = sources.try_push((who, proposal.uri));
			}
		}
		if accepted.is_some() {
			ModelSources::<T>::insert(task, sources);
		}
		(updates, proposers)
	}

	/// Ends `task`: refunds its budget to the creator and lets its miners go.
	fn end_task(task: TaskId, info: &mut TaskInfoOf<T>, reason: EndReason) {
		let refunded = T::Currency::release(
			&HoldReason::TaskBudget.into(),
			&info.creator,
			info.budget,
			Precision::BestEffort,
		)
		.unwrap_or_else(|e| {
			log::error!(target: LOG_TARGET, "refund of task {task} failed: {e:?}");
			Zero::zero()
		});
		info.budget = Zero::zero();
		info.status = TaskStatus::Ended(reason);
		info.ended_at = Some(frame_system::Pallet::<T>::block_number());
		CreatorTasks::<T>::mutate_exists(&info.creator, |n| {
			*n = n.map(|n| n.saturating_sub(1)).filter(|n| *n > 0);
		});
		let _ = Miners::<T>::clear_prefix(task, info.miners, None);
		info.miners = 0;
		Self::deposit_event(Event::TaskEnded {
			task,
			reason,
			refunded,
		});
	}

	/// The most one phase transition can weigh: closing a round at the bounds.
	pub fn worst_case_transition() -> Weight {
		let max = T::MaxMinersPerTask::get();
		// A validator proposes once, so proposals are bounded by the validators; the scoring
		// pallet's own bound is not known here, so take the miners' bound as a proxy.
		T::WeightInfo::close_round(max, max, max)
			.saturating_add(T::RoundEnd::max_weight())
			.saturating_add(T::RoundStart::max_weight())
			.max(T::WeightInfo::advance_phase())
	}

	/// The weight of the round machine's busiest block: one worst transition, and further ones
	/// only while they fit [`ROUND_MACHINE_SHARE`] of the block.
	pub fn worst_case_on_initialize() -> Weight {
		let max_block = T::BlockWeights::get().max_block;
		let one = T::WeightInfo::on_initialize_idle().saturating_add(Self::worst_case_transition());
		let all = T::WeightInfo::on_initialize_idle().saturating_add(
			Self::worst_case_transition().saturating_mul(T::MaxTransitionsPerBlock::get().into()),
		);
		all.min(one.max(ROUND_MACHINE_SHARE * max_block))
	}

	/// Checks the pallet's invariants: every running task is queued exactly once, its budget
	/// is held from its creator and counted among the creator's tasks; every stored task's
	/// deposit is held; miner counts match; rounds are recorded; no per-round item outlives
	/// its round, and no round has more commitments than its task's `max_miners`.
	#[cfg(any(test, feature = "try-runtime"))]
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		use alloc::collections::btree_map::BTreeMap;
		use frame_support::traits::fungible::InspectHold;
		let queue = Deadlines::<T>::get();
		ensure!(
			queue.windows(2).all(|w| w[0] <= w[1]),
			"the deadline queue is out of order"
		);
		let mut owed: BTreeMap<T::AccountId, BalanceOf<T>> = BTreeMap::new();
		let mut deposits: BTreeMap<T::AccountId, BalanceOf<T>> = BTreeMap::new();
		let mut running_of: BTreeMap<T::AccountId, u32> = BTreeMap::new();
		let mut running = 0usize;
		for (task, info) in Tasks::<T>::iter() {
			let queued = queue.iter().filter(|(_, t)| *t == task).count();
			let miners = Miners::<T>::iter_prefix(task).count() as u32;
			ensure!(
				miners == info.miners,
				"a task's miner count disagrees with its miners"
			);
			let deposit = deposits
				.entry(info.creator.clone())
				.or_insert_with(Zero::zero);
			*deposit = deposit.saturating_add(info.deposit);
			match info.status {
				TaskStatus::Ended(_) => {
					ensure!(queued == 0, "an ended task is still queued");
					ensure!(info.budget.is_zero(), "an ended task still has a budget");
					ensure!(info.ended_at.is_some(), "an ended task has no end block");
				}
				_ => {
					running += 1;
					ensure!(queued == 1, "a running task is not queued exactly once");
					let record = Rounds::<T>::get(task, info.round)
						.ok_or("a running task's round is not recorded")?;
					let updates = Updates::<T>::iter_prefix((task, info.round)).count() as u32;
					ensure!(
						updates == record.commits,
						"a round's commit count disagrees with its updates"
					);
					ensure!(
						record.commits <= info.spec.max_miners,
						"a round has more commitments than the task's max_miners"
					);
					let entry = owed.entry(info.creator.clone()).or_insert_with(Zero::zero);
					*entry = entry.saturating_add(info.budget);
					*running_of.entry(info.creator.clone()).or_default() += 1;
				}
			}
		}
		ensure!(
			running == queue.len(),
			"the queue holds a task that does not run"
		);
		for (creator, budget) in owed {
			ensure!(
				T::Currency::balance_on_hold(&HoldReason::TaskBudget.into(), &creator) == budget,
				"a creator's held budget differs from what its tasks still owe"
			);
		}
		for (creator, deposit) in deposits {
			ensure!(
				T::Currency::balance_on_hold(&HoldReason::TaskDeposit.into(), &creator) == deposit,
				"a creator's held deposit differs from its stored tasks' deposits"
			);
		}
		ensure!(
			CreatorTasks::<T>::iter().all(|(c, n)| running_of.get(&c) == Some(&n)),
			"a creator's running-task count is wrong"
		);
		ensure!(
			running_of
				.iter()
				.all(|(c, n)| CreatorTasks::<T>::get(c) == *n),
			"a creator's running task is not counted"
		);
		// Per-round items exist only for a running task's current round.
		let current = |(task, round): (TaskId, RoundIndex)| {
			Tasks::<T>::get(task).is_some_and(|info| {
				!matches!(info.status, TaskStatus::Ended(_)) && info.round == round
			})
		};
		ensure!(
			Updates::<T>::iter_keys().all(|(key, _)| current(key)),
			"an update outlived its round"
		);
		ensure!(
			RevealedRoots::<T>::iter_keys().all(|(key, _)| current(key)),
			"a revealed root outlived its round"
		);
		ensure!(
			Proposals::<T>::iter_keys().all(|(key, _)| current(key)),
			"a proposal outlived its round"
		);
		ensure!(
			ProposalTallies::<T>::iter_keys().all(current),
			"a proposal tally outlived its round"
		);
		ensure!(
			ModelSources::<T>::iter_keys().all(|task| Tasks::<T>::contains_key(task)),
			"model sources outlived their task"
		);
		Ok(())
	}
}

/// Set-up for the benchmarks of other pallets, wired by the runtime's benchmark helpers.
#[cfg(feature = "runtime-benchmarks")]
impl<T: Config> Pallet<T> {
	/// Creates a running task whose round 0 is in `phase` and in which each of `miners` joined
	/// and revealed an update.
	pub fn benchmark_task_with_revealed_miners(phase: Phase, miners: &[T::AccountId]) -> TaskId {
		benchmarking::task_with_revealed_miners::<T>(phase, miners)
	}
	/// Creates a running task with `budget` more to pay than it starts with.
	pub fn benchmark_funded_task(budget: BalanceOf<T>) -> TaskId {
		benchmarking::funded_task::<T>(budget)
	}
	/// Moves `task`'s current round to `phase`.
	pub fn benchmark_set_phase(task: TaskId, phase: Phase) {
		benchmarking::set_phase::<T>(task, phase)
	}
}

impl<T: Config> TaskFunds<T::AccountId, BalanceOf<T>> for Pallet<T> {
	fn pay(task: TaskId, to: &T::AccountId, amount: BalanceOf<T>) -> DispatchResult {
		Tasks::<T>::try_mutate(task, |info| {
			let info = info.as_mut().ok_or(Error::<T>::TaskNotFound)?;
			ensure!(amount <= info.budget, Error::<T>::InsufficientBudget);
			let reason = HoldReason::TaskBudget.into();
			if *to == info.creator {
				T::Currency::release(&reason, to, amount, Precision::Exact)?;
			} else {
				T::Currency::transfer_on_hold(
					&reason,
					&info.creator,
					to,
					amount,
					Precision::Exact,
					Restriction::Free,
					Fortitude::Polite,
				)?;
			}
			info.budget = info.budget.saturating_sub(amount);
			Ok(())
		})
	}
}

impl<T: Config> pol_primitives::RoundInfo<T::AccountId> for Pallet<T> {
	fn current_phase(task: TaskId, round: RoundIndex) -> Option<Phase> {
		Self::phase_of(task, round)
	}
	fn has_revealed(task: TaskId, round: RoundIndex, miner: &T::AccountId) -> bool {
		Updates::<T>::get((task, round), miner).is_some_and(|u| u.revealed.is_some())
	}
	fn revealed_miners(task: TaskId, round: RoundIndex) -> Vec<T::AccountId> {
		Self::revealed_updates(task, round)
			.into_iter()
			.map(|(m, _)| m)
			.collect()
	}
	fn num_segments(task: TaskId) -> Option<SegmentIndex> {
		Tasks::<T>::get(task).and_then(|info| info.spec.hyperparameters.num_segments())
	}
	fn challenge_params(task: TaskId, round: RoundIndex) -> Option<(Hash, u32)> {
		let q = Tasks::<T>::get(task)?.spec.verification.segments_per_check;
		Some((Rounds::<T>::get(task, round)?.challenge_seed?, q))
	}
}
