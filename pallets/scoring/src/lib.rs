//! # polchain validator scoring
//!
//! Validators' scores of miners' updates, the consensus they reach, the trust each validator
//! earns by agreeing with it, and disputes over failed replays.
//!
//! ## Overview
//!
//! - In a round's verify phase each active validator commits to its score vector with
//!   [`Pallet::commit_scores`]: `blake2_256("pol-commit" ‖ SCALE(entries) ‖ validator ‖ salt)`.
//!   In the score-reveal phase it reveals the entries with [`Pallet::reveal_scores`]: one
//!   `(miner, score, verdict)` per miner it checked, sorted by miner. Nobody sees another's
//!   scores before committing, so nobody can copy them.
//! - A `Fail { segment }` or `NotServed { segment }` verdict is a claim against that miner;
//!   the segment must be among the accuser's challenges of that miner
//!   ([`pol_primitives::hashing::challenge_segments`]; faults of the whole run are claimed on
//!   segment `n`, which every validator is challenged with). An entry that breaks a rule is
//!   refused alone ([`Event::EntryRefused`]): the rest of the reveal stands. The first claim
//!   opens the dispute over the miner and every scorer's claim joins it, so no claim made
//!   first can shut out another. Claims are made in the score-reveal phase; the round's
//!   scorers fetch and replay every claimed segment and commit their votes sealed in the
//!   vote-commit phase after it ([`Pallet::commit_vote`]), then reveal them in the vote-reveal
//!   phase ([`Pallet::reveal_vote`]), so every vote covers every claim and no voter sees which
//!   way the others went before its own is fixed. A vote names the claimed segments the voter
//!   found failing (or not served to it either): upheld if it names one, rejected if it names
//!   none (every claimed segment replays). A dispute is upheld only by more than half of the
//!   stake eligible to vote on it: the round's snapshot stake ([`Pallet::snapshot_stake`]),
//!   less a lone accuser's; it is rejected only by more than half of the whole snapshot stake,
//!   so a minority never rejects a large accuser's claim. Voters that stay away, or are kept
//!   away, decide nothing. An accuser votes only to confirm another's
//!   claim (never its own), and an accuser of a `Fail` only to uphold. Upheld: the miner is
//!   slashed by `MinerSlash`, not paid, and its update is left out of the model; an accuser
//!   of a `Fail` earns the claim only when more than half of the eligible stake confirmed its
//!   segment (a decoy on a segment that replays earns nothing), or none was confirmed (the
//!   miner withheld what the voters asked for). Rejected:
//!   each accuser of a `Fail` is slashed by `FalseAccusationSlash`; an accuser of a
//!   `NotServed` is not (a miner can serve one validator corrupt bytes and the others good
//!   ones), and the miner is paid. Undecided: nobody is slashed, and the miner is not paid
//!   this round; its update stays out of the model only when more stake upholds it (a lone
//!   accuser's claim included) than rejects it. A validator that could not check a miner for reasons of its own
//!   leaves it out of its entries: it abstains.
//! - When the round closes ([`pol_primitives::OnRoundEnd`], called by the task registry): a
//!   miner is judged only when scorers holding more than half of the snapshot stake judged it
//!   (passed it, or claimed a replay fault); otherwise it is not judged
//!   ([`Event::MinerNotJudged`]): unpaid, not in the model, and nobody slashed for it. The
//!   consensus score of a judged miner is the stake-weighted median (κ = ½, the lower median)
//!   of its judges' scores, so stake below one half cannot move it. A validator's round trust
//!   is `1 − mean |score − consensus|` over the miners it judged, in either direction (a pass
//!   of a miner whose dispute was upheld is a full deviation); its trust is an exponential
//!   moving average of round trusts (`TrustSmoothing`; a pass counts as a full deviation only
//!   when the passer was challenged with a segment that more than half of the eligible stake
//!   confirmed failing), and a validator that committed but
//!   did not reveal takes a zero and forfeits `ScoreDeposit`. Trust moves only in rounds with
//!   at least `MinScorersForTrust` scorers and a budget of at least `MinBudgetForTrust`. Trust
//!   is served to staking through [`pol_primitives::TrustProvider`]. Miners that passed
//!   (judged, no upheld or undecided dispute) and validators that did work are handed to
//!   rewards ([`pol_primitives::RoundRewards`]): a validator's weight is its stake × the
//!   miners it judged, each weighted by agreement with consensus (nothing for a pass of a
//!   forger), plus its dispute votes on the side that prevailed.
//! - Who scores is fixed when a round starts ([`RoundScorers`]): the authorities the staking
//!   pallet elected by stake × trust ([`pol_primitives::ScorerSet`]), each weighing the stake
//!   it had then, frozen for the round. Only they commit scores and vote on disputes, so no
//!   arrival order and no stake bonded later decides a round, and a dispute reads the same
//!   whenever it is read; every scorer's bond is held from the snapshot until the round is
//!   settled ([`pol_primitives::SettlementLock`]), so what it weighs with stays within reach of
//!   a slash. An account is slashed at most once a round.

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
mod simulator;
#[cfg(test)]
mod tests;
pub mod types;
pub mod weights;

use alloc::vec::Vec;
use frame_support::{pallet_prelude::*, traits::tokens::Balance as BalanceT};
use frame_system::pallet_prelude::*;
use pol_primitives::{
	hashing, ChallengeKeys, ChallengeProof, Hash, OnRoundEnd, OnRoundStart, Phase, Role,
	RoundBudget, RoundIndex, RoundInfo, RoundOutcome, RoundRewards, Salt, ScorerSet,
	SettlementLock, Slash, StakeInfo, TaskId, TrustProvider, Verdict,
};
use sp_runtime::{
	traits::{Saturating, UniqueSaturatedInto, Zero},
	Perbill,
};

/// A validator's revealed entries.
pub type EntriesOf<T> =
	BoundedVec<ScoreEntry<<T as frame_system::Config>::AccountId>, <T as Config>::MaxMiners>;
/// The dispute over a miner: at most one claim per scorer.
pub type DisputeOf<T> = Dispute<
	<T as frame_system::Config>::AccountId,
	<T as Config>::Balance,
	<T as Config>::MaxScorers,
>;
/// A round's scorers with the stake each stands with, sorted by account.
pub type ScorersOf<T> = BoundedVec<
	(
		<T as frame_system::Config>::AccountId,
		<T as Config>::Balance,
	),
	<T as Config>::MaxScorers,
>;
/// A round's scorers' challenge keys, in the scorers' order.
pub type ChallengeKeysOf<T> =
	BoundedVec<(<T as frame_system::Config>::AccountId, [u8; 32]), <T as Config>::MaxScorers>;

#[frame_support::pallet]
pub mod pallet {
	use super::*;

	/// The in-code storage version.
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(0);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// The balance type of stakes.
		type Balance: BalanceT;

		/// Who is an active validator, with what stake (the staking pallet).
		type Stake: StakeInfo<Self::AccountId, Self::Balance>;

		/// Rounds, their phases and their revealed miners (the task registry).
		type Rounds: RoundInfo<Self::AccountId>;

		/// Slashes miners and false accusers (the staking pallet).
		type Slasher: Slash<Self::AccountId, Self::Balance>;

		/// Pays a settled round (the rewards pallet).
		type Rewards: RoundRewards<Self::AccountId, Self::Balance>;

		/// Who may score the rounds that start now, with what stake (the staking pallet's
		/// elected authorities): snapshotted at each round's start.
		type Scorers: ScorerSet<Self::AccountId, Self::Balance>;

		/// Holds a scorer's bond from its commitment until its round is settled (staking).
		type Settlement: SettlementLock<Self::AccountId>;

		/// What a validator forfeits from its bond when it commits scores and does not reveal
		/// them: a commitment that is never opened blocks nothing and costs its maker.
		#[pallet::constant]
		type ScoreDeposit: Get<Self::Balance>;

		/// Trust moves only in rounds where at least this many scorers revealed scores: one
		/// validator scoring its own task alone earns no trust.
		#[pallet::constant]
		type MinScorersForTrust: Get<u32>;

		/// Trust moves only in rounds that pay at least this much: trust cannot be farmed on
		/// 1-planck tasks.
		#[pallet::constant]
		type MinBudgetForTrust: Get<Self::Balance>;

		/// The trust of a validator with no record yet.
		#[pallet::constant]
		type InitialTrust: Get<Perbill>;

		/// The weight of the latest round in the trust average (α of the EMA).
		#[pallet::constant]
		type TrustSmoothing: Get<Perbill>;

		/// The share of its bond a miner loses when a dispute against it is upheld.
		#[pallet::constant]
		type MinerSlash: Get<Perbill>;

		/// The share of its bond a validator loses when its accusation is rejected.
		#[pallet::constant]
		type FalseAccusationSlash: Get<Perbill>;

		/// The most miners a score vector covers (the task registry's `MaxMinersPerTask`).
		#[pallet::constant]
		type MaxMiners: Get<u32>;

		/// The most validators that score one round (the size of a round's scorer snapshot).
		#[pallet::constant]
		type MaxScorers: Get<u32>;

		/// The sr25519 key each validator's challenge proof (VRF) is checked with.
		type ChallengeKeys: ChallengeKeys<Self::AccountId>;

		/// Weights of this pallet's calls and hooks, from its benchmarks.
		type WeightInfo: WeightInfo;

		/// Sets up validators, tasks and revealed miners for the benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: BenchmarkHelper<Self::AccountId>;
	}

	/// The scorers of each running round, with the stake each weighs with (at most; less if its
	/// active stake fell since), sorted by account: fixed when the round starts, cleared when
	/// it closes. Only they commit scores and vote on disputes, so no arrival order decides
	/// who does.
	#[pallet::storage]
	pub type RoundScorers<T: Config> =
		StorageMap<_, Twox64Concat, (TaskId, RoundIndex), ScorersOf<T>, ValueQuery>;

	/// Each scorer's challenge key (sr25519 public key) for a running round, fixed with the
	/// scorers when the round starts and cleared when it closes: a key changed after the round's
	/// challenge seed is known cannot be used to choose challenges. A scorer without a key has no
	/// entry.
	#[pallet::storage]
	pub type RoundChallengeKeys<T: Config> =
		StorageMap<_, Twox64Concat, (TaskId, RoundIndex), ChallengeKeysOf<T>, ValueQuery>;

	/// Each validator's score commitment in a round; cleared when the round closes.
	#[pallet::storage]
	pub type ScoreCommits<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		(TaskId, RoundIndex),
		Blake2_128Concat,
		T::AccountId,
		Hash,
		OptionQuery,
	>;

	/// How many validators committed scores in a round; cleared when the round closes.
	#[pallet::storage]
	pub type CommitCount<T: Config> =
		StorageMap<_, Twox64Concat, (TaskId, RoundIndex), u32, ValueQuery>;

	/// Each validator's challenge randomness in a round (its VRF output over the challenge
	/// seed, checked at reveal): its challenges of every miner derive from it. Cleared when the
	/// round closes.
	#[pallet::storage]
	pub type ChallengeRandomness<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		(TaskId, RoundIndex),
		Blake2_128Concat,
		T::AccountId,
		Hash,
		OptionQuery,
	>;

	/// Each validator's revealed entries in a round; cleared when the round closes.
	#[pallet::storage]
	pub type Reveals<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		(TaskId, RoundIndex),
		Blake2_128Concat,
		T::AccountId,
		EntriesOf<T>,
		OptionQuery,
	>;

	/// The stake each validator revealed with; cleared when the round closes.
	#[pallet::storage]
	pub type RevealStake<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		(TaskId, RoundIndex),
		Blake2_128Concat,
		T::AccountId,
		T::Balance,
		OptionQuery,
	>;

	/// The stake of every validator that revealed in a round; cleared when the round closes.
	#[pallet::storage]
	pub type RevealedTotal<T: Config> =
		StorageMap<_, Twox64Concat, (TaskId, RoundIndex), T::Balance, ValueQuery>;

	/// Open disputes of a round, by miner; cleared when the round closes.
	#[pallet::storage]
	pub type Disputes<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		(TaskId, RoundIndex),
		Blake2_128Concat,
		T::AccountId,
		DisputeOf<T>,
		OptionQuery,
	>;

	/// The sealed votes on the dispute over a miner (`(task, round, miner)`): each voter's
	/// [`hashing::vote_commit_hash`], committed in the vote-commit phase; cleared when the round
	/// closes. One item per dispute, so closing a round removes one item per dispute however many
	/// validators voted.
	#[pallet::storage]
	pub type VoteCommits<T: Config> = StorageMap<
		_,
		Blake2_128Concat,
		(TaskId, RoundIndex, T::AccountId),
		BoundedVec<(T::AccountId, Hash), T::MaxScorers>,
		ValueQuery,
	>;

	/// Who revealed a vote on the dispute over a miner (`(task, round, miner)`), and how
	/// (`true`: upheld); cleared when the round closes. One item per dispute, like
	/// [`VoteCommits`].
	#[pallet::storage]
	pub type DisputeVotes<T: Config> = StorageMap<
		_,
		Blake2_128Concat,
		(TaskId, RoundIndex, T::AccountId),
		BoundedVec<(T::AccountId, bool), T::MaxScorers>,
		ValueQuery,
	>;

	/// Each validator's trust: the moving average of its round trusts.
	#[pallet::storage]
	pub type Trust<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, Perbill, OptionQuery>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// `validator` committed its scores for round `round` of `task`.
		ScoresCommitted {
			task: TaskId,
			round: RoundIndex,
			validator: T::AccountId,
		},
		/// `validator` revealed `entries` scores with `stake`.
		ScoresRevealed {
			task: TaskId,
			round: RoundIndex,
			validator: T::AccountId,
			entries: u32,
			stake: T::Balance,
		},
		/// `accuser` says `segment` of `miner`'s run does not replay (`kind` `Replay`) or was
		/// not served to it (`NotServed`). The first claim opens the dispute over `miner`;
		/// each later one joins it (`claims` is their number now). Claims are made only in the
		/// score-reveal phase and votes only in the vote phases after it, so every vote covers
		/// every claim.
		DisputeOpened {
			task: TaskId,
			round: RoundIndex,
			miner: T::AccountId,
			accuser: T::AccountId,
			segment: u32,
			kind: DisputeKind,
			claims: u32,
		},
		/// `validator` committed a sealed vote on the dispute over `miner`.
		DisputeVoteCommitted {
			task: TaskId,
			round: RoundIndex,
			miner: T::AccountId,
			validator: T::AccountId,
		},
		/// `validator` revealed its vote on the dispute over `miner`, with `stake`: the claimed
		/// segments it found failing (`confirmed`) and whether one was not served to it either
		/// (`not_served`); `upheld` when either holds.
		DisputeVoted {
			task: TaskId,
			round: RoundIndex,
			miner: T::AccountId,
			validator: T::AccountId,
			upheld: bool,
			confirmed: Vec<pol_primitives::SegmentIndex>,
			not_served: bool,
			stake: T::Balance,
		},
		/// The dispute over `miner` ended with `outcome`, decided by `upheld` and `rejected`
		/// stake against `eligible_stake` (the round's snapshot stake, less a lone accuser's:
		/// more than half of it decides); each of `offenders` (the miner when upheld, the
		/// `Replay` accusers when rejected) lost the amount beside it, which is zero for one
		/// slashed earlier in the round.
		DisputeResolved {
			task: TaskId,
			round: RoundIndex,
			miner: T::AccountId,
			outcome: DisputeOutcome,
			upheld: T::Balance,
			rejected: T::Balance,
			eligible_stake: T::Balance,
			offenders: Vec<(T::AccountId, T::Balance)>,
		},
		/// Scorers holding only `judged_stake` of the round's `snapshot_stake` judged `miner`
		/// (passed it or claimed a replay fault), not more than half: its update is not paid,
		/// not eligible for the global model, and nobody is slashed for it.
		MinerNotJudged {
			task: TaskId,
			round: RoundIndex,
			miner: T::AccountId,
			judged_stake: T::Balance,
			snapshot_stake: T::Balance,
		},
		/// One entry of `validator`'s reveal, the one on `miner`, was refused for `reason`; the
		/// rest of the reveal stands.
		EntryRefused {
			task: TaskId,
			round: RoundIndex,
			validator: T::AccountId,
			miner: T::AccountId,
			reason: EntryRefusal,
		},
		/// `miner`'s consensus score in round `round` of `task`, among the scorers that judged
		/// it (more than half of the snapshot stake); `passed` says whether it is paid.
		MinerScored {
			task: TaskId,
			round: RoundIndex,
			miner: T::AccountId,
			consensus: Perbill,
			passed: bool,
		},
		/// `validator` committed scores in round `round` of `task` and did not reveal them: it
		/// forfeited `forfeited` of its bond (`ScoreDeposit`).
		ScoresNotRevealed {
			task: TaskId,
			round: RoundIndex,
			validator: T::AccountId,
			forfeited: T::Balance,
		},
		/// `validator`'s trust after round `round` of `task` (`round_trust` in that round).
		TrustUpdated {
			task: TaskId,
			round: RoundIndex,
			validator: T::AccountId,
			round_trust: Perbill,
			trust: Perbill,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The caller is not an active validator. Bond as a validator (and `resume` if chilled).
		NotActiveValidator,
		/// That round is not the task's current round (or the task does not run).
		NotCurrentRound,
		/// Scores are committed in the verify phase, after miners reveal: wait for it.
		CommitNotOpen,
		/// The verify phase is over: scores can no longer be committed this round.
		CommitPhaseOver,
		/// The caller committed scores in this round already.
		AlreadyCommitted,
		/// The caller is not among the round's scorers (the authorities elected before the round
		/// started, by stake × trust): it may score rounds that start after it is elected.
		NotScorer,
		/// Scores are revealed in the score-reveal phase: wait for it.
		RevealNotOpen,
		/// The score-reveal phase is over: unrevealed scores count for nothing.
		RevealPhaseOver,
		/// The caller did not commit scores in this round.
		NotCommitted,
		/// The caller revealed its scores in this round already.
		AlreadyRevealed,
		/// The entries and salt do not hash to the caller's commitment.
		CommitmentMismatch,
		/// Entries must be sorted by miner account, each miner once.
		UnsortedEntries,
		/// The challenge proof is not the caller's sr25519 VRF proof over the round's challenge
		/// seed (`pol_primitives::challenge::prove` with the validator account's key).
		BadChallengeProof,
		/// There is no dispute over this miner in this round.
		NoDispute,
		/// An accuser votes only to confirm another validator's claim: its own claim is not
		/// evidence. Wait for a claim by another scorer, or leave the vote to the others.
		NoOtherClaim,
		/// An accuser of a `Replay` claim says the miner's run fails, so it cannot vote that
		/// every claimed segment replays: confirm a segment (its own, once another claim joined).
		AccuserCannotReject,
		/// The caller committed (or revealed) a vote on this dispute already.
		AlreadyVoted,
		/// Dispute votes are committed in the vote-commit phase of their round, after every
		/// claim is in (claims are made in the score-reveal phase before it).
		VoteCommitClosed,
		/// Dispute votes are revealed in the vote-reveal phase of their round, after the
		/// vote-commit phase.
		VoteRevealClosed,
		/// The caller committed no vote on this dispute: only a committed vote is revealed.
		VoteNotCommitted,
		/// The confirmed segments and salt do not hash to the caller's vote commitment
		/// (`pol_primitives::hashing::vote_commit_hash`).
		VoteMismatch,
		/// A vote's confirmed segments must be in increasing order, each once.
		UnsortedSegments,
		/// A vote confirms only segments that a claim in the dispute names.
		SegmentNotClaimed,
		/// Every scorer of the round voted on this dispute already.
		TooManyVoters,
		/// Every scorer of the round claimed against this miner already.
		TooManyClaims,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn integrity_test() {
			assert!(T::MaxMiners::get() > 0, "MaxMiners must be positive");
			assert!(T::MaxScorers::get() > 0, "MaxScorers must be positive");
			assert!(
				!T::TrustSmoothing::get().is_zero(),
				"TrustSmoothing must be positive, or trust never changes"
			);
			let worst = Self::max_round_end_weight();
			let max = <T as frame_system::Config>::BlockWeights::get().max_block;
			assert!(
				worst.all_lte(Perbill::from_percent(50) * max),
				"settling a round at the bounds ({worst:?}) exceeds half of the block ({max:?})"
			);
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Commits to the caller's scores for `round` of `task`, during its verify phase:
		/// `commit = blake2_256("pol-commit" ‖ SCALE(entries) ‖ validator ‖ salt)`.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::commit_scores())]
		pub fn commit_scores(
			origin: OriginFor<T>,
			task: TaskId,
			round: RoundIndex,
			commit: Hash,
		) -> DispatchResult {
			let who = Self::ensure_validator(origin)?;
			match T::Rounds::current_phase(task, round) {
				None => return Err(Error::<T>::NotCurrentRound.into()),
				Some(p) if p < Phase::Verify => return Err(Error::<T>::CommitNotOpen.into()),
				Some(p) if p > Phase::Verify => return Err(Error::<T>::CommitPhaseOver.into()),
				Some(_) => {}
			}
			ensure!(
				!ScoreCommits::<T>::contains_key((task, round), &who),
				Error::<T>::AlreadyCommitted
			);
			ensure!(
				Self::scorer_stake(task, round, &who).is_some(),
				Error::<T>::NotScorer
			);
			CommitCount::<T>::mutate((task, round), |c| *c = c.saturating_add(1));
			ScoreCommits::<T>::insert((task, round), &who, commit);
			// Its bond stays until the round is settled: its accusations can still be rejected.
			T::Settlement::lock(&who);
			Self::deposit_event(Event::ScoresCommitted {
				task,
				round,
				validator: who,
			});
			Ok(())
		}

		/// Reveals the caller's scores for `round` of `task`, during its score-reveal phase.
		/// `entries` are sorted by miner, each a miner that revealed this round (a validator
		/// that could not check a miner leaves it out). `challenge` is the caller's VRF proof
		/// over the round's challenge seed; its output is the randomness the caller's challenges
		/// derive from, and a `Fail` or `NotServed` verdict must name one of them. Such a
		/// verdict is a claim: it opens the dispute over that miner, or joins the open one.
		/// An entry that breaks these rules is refused alone ([`Event::EntryRefused`]); the rest
		/// of the reveal stands, so a fault a miner planted where a validator could not see it
		/// never costs the validator its reveal.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::reveal_scores(entries.len() as u32))]
		pub fn reveal_scores(
			origin: OriginFor<T>,
			task: TaskId,
			round: RoundIndex,
			entries: EntriesOf<T>,
			salt: Salt,
			challenge: ChallengeProof,
		) -> DispatchResult {
			let who = Self::ensure_validator(origin)?;
			match T::Rounds::current_phase(task, round) {
				None => return Err(Error::<T>::NotCurrentRound.into()),
				Some(p) if p < Phase::ScoreReveal => return Err(Error::<T>::RevealNotOpen.into()),
				Some(p) if p > Phase::ScoreReveal => return Err(Error::<T>::RevealPhaseOver.into()),
				Some(_) => {}
			}
			let commit =
				ScoreCommits::<T>::get((task, round), &who).ok_or(Error::<T>::NotCommitted)?;
			ensure!(
				!Reveals::<T>::contains_key((task, round), &who),
				Error::<T>::AlreadyRevealed
			);
			ensure!(
				hashing::commit_hash_of(&entries, &hashing::account_bytes(&who), &salt) == commit,
				Error::<T>::CommitmentMismatch
			);
			ensure!(
				entries.windows(2).all(|w| w[0].miner < w[1].miner),
				Error::<T>::UnsortedEntries
			);
			let segments = T::Rounds::num_segments(task).unwrap_or(0);
			let (seed, q) =
				T::Rounds::challenge_params(task, round).ok_or(Error::<T>::BadChallengeProof)?;
			let key = Self::round_challenge_key(task, round, &who)
				.ok_or(Error::<T>::BadChallengeProof)?;
			let randomness = pol_primitives::challenge::randomness(&key, &seed, &challenge)
				.ok_or(Error::<T>::BadChallengeProof)?;
			let validator = hashing::account_bytes(&who);
			let refusal = |entry: &ScoreEntry<T::AccountId>| -> Option<EntryRefusal> {
				if !T::Rounds::has_revealed(task, round, &entry.miner) {
					return Some(EntryRefusal::MinerNotRevealed);
				}
				let segment = entry.verdict.disputed_segment()?;
				if segment < 1 || segment > segments {
					return Some(EntryRefusal::InvalidSegment);
				}
				// Only a segment the accuser was challenged with: it cannot pick the segment of
				// an honest run its hardware happens to disagree on, nor one it never fetched.
				let challenged = hashing::challenge_segments(
					&randomness,
					&validator,
					&hashing::account_bytes(&entry.miner),
					segments,
					q,
				);
				(!challenged.contains(&segment)).then_some(EntryRefusal::SegmentNotChallenged)
			};
			let mut kept = EntriesOf::<T>::new();
			for entry in entries.into_iter() {
				if let Some(reason) = refusal(&entry) {
					Self::deposit_event(Event::EntryRefused {
						task,
						round,
						validator: who.clone(),
						miner: entry.miner,
						reason,
					});
					continue;
				}
				// At most as many as were revealed: the bound holds.
				let _ = kept.try_push(entry);
			}
			let entries = kept;
			for entry in entries.iter() {
				let (segment, kind) = match entry.verdict {
					Verdict::Pass => continue,
					Verdict::Fail { segment } => (segment, DisputeKind::Replay),
					Verdict::NotServed { segment } => (segment, DisputeKind::NotServed),
				};
				// Every scorer's claim joins the miner's dispute: an accomplice's claim on an
				// honest segment cannot shut out the claim on a forged one. No vote is cast
				// before the vote-commit phase, so every vote covers every claim.
				let mut dispute =
					Disputes::<T>::get((task, round), &entry.miner).unwrap_or(Dispute {
						claims: BoundedVec::new(),
						confirmed: BoundedVec::new(),
					});
				dispute
					.claims
					.try_push(Claim {
						accuser: who.clone(),
						segment,
						kind,
					})
					.map_err(|_| Error::<T>::TooManyClaims)?;
				let claims = dispute.claims.len() as u32;
				Disputes::<T>::insert((task, round), &entry.miner, dispute);
				Self::deposit_event(Event::DisputeOpened {
					task,
					round,
					miner: entry.miner.clone(),
					accuser: who.clone(),
					segment,
					kind,
					claims,
				});
			}
			ChallengeRandomness::<T>::insert((task, round), &who, randomness);
			let stake = Self::scorer_stake(task, round, &who).ok_or(Error::<T>::NotScorer)?;
			RevealStake::<T>::insert((task, round), &who, stake);
			// Only scores weigh in the global-model vote: an empty reveal is an abstention.
			if !entries.is_empty() {
				RevealedTotal::<T>::mutate((task, round), |t| *t = t.saturating_add(stake));
			}
			let count = entries.len() as u32;
			Reveals::<T>::insert((task, round), &who, entries);
			Self::deposit_event(Event::ScoresRevealed {
				task,
				round,
				validator: who,
				entries: count,
				stake,
			});
			Ok(())
		}

		/// Commits a sealed vote on the dispute over `miner` in `round` of `task`, in its
		/// vote-commit phase: `commitment` is
		/// [`hashing::vote_commit_hash`]`(task, round, miner, confirmed, caller, salt)`, revealed
		/// with [`Pallet::reveal_vote`] in the vote-reveal phase after it. Every claim is made in
		/// the score-reveal phase before it, so each vote covers every claim; sealed, no voter
		/// can follow the side that is winning. An accuser votes only once another scorer has
		/// claimed too: its own claim is not evidence.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::commit_vote())]
		pub fn commit_vote(
			origin: OriginFor<T>,
			task: TaskId,
			round: RoundIndex,
			miner: T::AccountId,
			commitment: Hash,
		) -> DispatchResult {
			let who = Self::ensure_validator(origin)?;
			ensure!(
				T::Rounds::current_phase(task, round) == Some(Phase::VoteCommit),
				Error::<T>::VoteCommitClosed
			);
			let dispute = Disputes::<T>::get((task, round), &miner).ok_or(Error::<T>::NoDispute)?;
			if dispute.claim_of(&who).is_some() {
				ensure!(
					dispute.claims.iter().any(|c| c.accuser != who),
					Error::<T>::NoOtherClaim
				);
			}
			Self::scorer_stake(task, round, &who).ok_or(Error::<T>::NotScorer)?;
			let key = (task, round, miner.clone());
			let mut commits = VoteCommits::<T>::get(&key);
			ensure!(
				commits.iter().all(|(v, _)| *v != who),
				Error::<T>::AlreadyVoted
			);
			commits
				.try_push((who.clone(), commitment))
				.map_err(|_| Error::<T>::TooManyVoters)?;
			VoteCommits::<T>::insert(&key, commits);
			Self::deposit_event(Event::DisputeVoteCommitted {
				task,
				round,
				miner,
				validator: who,
			});
			Ok(())
		}

		/// Reveals the caller's vote on the dispute over `miner` in `round` of `task`, in its
		/// vote-reveal phase: `confirmed`, the claimed segments it found failing in its replay,
		/// in increasing order; `not_served`, whether a claimed segment's checkpoints were not
		/// served to it either; and the `salt` of its commitment. A vote that confirms a segment
		/// or was not served upholds the dispute; any other rejects it (every claimed segment
		/// replays). An accuser of a `Replay` claim cannot reject. A vote weighs the caller's
		/// stake in the round's snapshot ([`Pallet::scorer_stake`]).
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::reveal_vote())]
		pub fn reveal_vote(
			origin: OriginFor<T>,
			task: TaskId,
			round: RoundIndex,
			miner: T::AccountId,
			confirmed: BoundedVec<pol_primitives::SegmentIndex, T::MaxScorers>,
			not_served: bool,
			salt: Salt,
		) -> DispatchResult {
			let who = Self::ensure_validator(origin)?;
			ensure!(
				T::Rounds::current_phase(task, round) == Some(Phase::VoteReveal),
				Error::<T>::VoteRevealClosed
			);
			let key = (task, round, miner.clone());
			let commitment = VoteCommits::<T>::get(&key)
				.iter()
				.find(|(v, _)| *v == who)
				.map(|(_, c)| *c)
				.ok_or(Error::<T>::VoteNotCommitted)?;
			ensure!(
				hashing::vote_commit_hash(
					task,
					round,
					&hashing::account_bytes(&miner),
					&confirmed,
					not_served,
					&hashing::account_bytes(&who),
					&salt,
				) == commitment,
				Error::<T>::VoteMismatch
			);
			let mut votes = DisputeVotes::<T>::get(&key);
			ensure!(
				votes.iter().all(|(v, _)| *v != who),
				Error::<T>::AlreadyVoted
			);
			let mut dispute =
				Disputes::<T>::get((task, round), &miner).ok_or(Error::<T>::NoDispute)?;
			ensure!(
				confirmed.windows(2).all(|w| w[0] < w[1]),
				Error::<T>::UnsortedSegments
			);
			ensure!(
				confirmed
					.iter()
					.all(|s| dispute.claims.iter().any(|c| c.segment == *s)),
				Error::<T>::SegmentNotClaimed
			);
			let upheld = !confirmed.is_empty() || not_served;
			if let Some(own) = dispute.claim_of(&who) {
				ensure!(
					upheld || own.kind == DisputeKind::NotServed,
					Error::<T>::AccuserCannotReject
				);
			}
			let stake = Self::scorer_stake(task, round, &who).ok_or(Error::<T>::NotScorer)?;
			votes
				.try_push((who.clone(), upheld))
				.map_err(|_| Error::<T>::TooManyVoters)?;
			for &segment in confirmed.iter() {
				if !dispute.claimed_by_another(segment, &who) {
					continue;
				}
				match dispute
					.confirmed
					.binary_search_by_key(&segment, |(s, _)| *s)
				{
					Ok(at) => {
						if let Some((_, total)) = dispute.confirmed.get_mut(at) {
							*total = total.saturating_add(stake);
						}
					}
					// At most one entry per claimed segment, and at most one claim per scorer.
					Err(at) => dispute
						.confirmed
						.try_insert(at, (segment, stake))
						.map_err(|_| Error::<T>::TooManyClaims)?,
				}
			}
			DisputeVotes::<T>::insert(&key, votes);
			Disputes::<T>::insert((task, round), &miner, dispute);
			Self::deposit_event(Event::DisputeVoted {
				task,
				round,
				miner,
				validator: who,
				upheld,
				confirmed: confirmed.into_inner(),
				not_served,
				stake,
			});
			Ok(())
		}
	}
}

/// What the benchmarks need from the runtime.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper<AccountId> {
	/// Makes `who` an active validator.
	fn make_validator(who: &AccountId);
	/// A task in round 0's `phase` whose `miners` miners revealed updates; returns their
	/// accounts.
	fn task_with_revealed_miners(phase: Phase, miners: u32) -> (TaskId, Vec<AccountId>);
	/// Moves the benchmark task to `phase`.
	fn set_phase(task: TaskId, phase: Phase);
	/// A validator account whose key can prove its challenge over `seed`, with that proof.
	fn challenger(seed: &Hash) -> (AccountId, ChallengeProof);
	/// Makes `scorers` the current [`ScorerSet`].
	fn set_scorers(scorers: &[AccountId]);
}

/// The stake-weighted median with κ = ½: the smallest score at which the stake of scores at
/// or below it reaches half the total. `None` when the total stake is zero.
pub fn weighted_median(mut scores: Vec<(Perbill, u128)>) -> Option<Perbill> {
	scores.sort_by_key(|(score, _)| *score);
	let total = scores.iter().fold(0u128, |t, (_, s)| t.saturating_add(*s));
	if total == 0 {
		return None;
	}
	let mut below = 0u128;
	for (score, stake) in scores {
		below = below.saturating_add(stake);
		// below ≥ total / 2, without rounding.
		if below.saturating_mul(2) >= total {
			return Some(score);
		}
	}
	None
}

/// A `Perbill`'s parts in one.
const PARTS: u32 = 1_000_000_000;

/// `1 − mean |score − consensus|` over the pairs; `None` for no pairs.
pub fn round_trust(pairs: &[(Perbill, Perbill)]) -> Option<Perbill> {
	if pairs.is_empty() {
		return None;
	}
	let deviation: u64 = pairs
		.iter()
		.map(|(s, c)| u64::from(s.deconstruct().abs_diff(c.deconstruct())))
		.sum();
	let mean = deviation / pairs.len() as u64;
	Some(Perbill::one().saturating_sub(Perbill::from_parts(mean.min(1_000_000_000) as u32)))
}

/// Whether `stake` is more than half of `total` (never, for a total of zero).
pub fn more_than_half(stake: u128, total: u128) -> bool {
	total > 0 && stake > total / 2
}

/// `α · latest + (1 − α) · previous`.
pub fn ema(previous: Perbill, latest: Perbill, alpha: Perbill) -> Perbill {
	(alpha * latest).saturating_add(Perbill::one().saturating_sub(alpha) * previous)
}

impl<T: Config> Pallet<T> {
	fn ensure_validator(origin: OriginFor<T>) -> Result<T::AccountId, DispatchError> {
		let who = ensure_signed(origin)?;
		ensure!(
			T::Stake::is_active(&who, Role::Validator),
			Error::<T>::NotActiveValidator
		);
		Ok(who)
	}

	/// The stake `who` weighs with in `round` of `task`: its stake in the round's scorer
	/// snapshot, frozen when the round started (at most what it had then), whatever it has
	/// since. Every scorer in the snapshot is held by [`SettlementLock`] from then until the
	/// round is settled (it may unbond, but not withdraw), so what it weighs with stays within
	/// reach of a slash; and since no weight moves after the snapshot, a dispute reads the same
	/// whenever it is read (the model at the last vote-reveal block, the pay at the round's
	/// end). `None` if it is not one of the round's scorers.
	pub fn scorer_stake(task: TaskId, round: RoundIndex, who: &T::AccountId) -> Option<T::Balance> {
		let scorers = RoundScorers::<T>::get((task, round));
		let at = scorers.binary_search_by(|(v, _)| v.cmp(who)).ok()?;
		scorers.get(at).map(|(_, s)| *s)
	}

	/// Snapshots the scorers of `round` of `task`: the current [`ScorerSet`], at most
	/// `MaxScorers`, sorted by account.
	pub(crate) fn snapshot_scorers(task: TaskId, round: RoundIndex) {
		// Each at most the stake it has now (the set was ranked when the session began, and
		// stake may have left since), and held from now until the round is settled: the weight
		// frozen here stays within reach of a slash whenever its holder acts.
		let mut scorers: Vec<_> = T::Scorers::scorers()
			.into_iter()
			.map(|(who, stake)| {
				let now = T::Stake::stake_of(&who);
				(who, stake.min(now))
			})
			.filter(|(_, stake)| !stake.is_zero())
			.collect();
		scorers.sort_by(|a, b| a.0.cmp(&b.0));
		scorers.dedup_by(|a, b| a.0 == b.0);
		scorers.truncate(T::MaxScorers::get() as usize);
		for (who, _) in scorers.iter() {
			T::Settlement::lock(who);
		}
		let keys: Vec<_> = scorers
			.iter()
			.filter_map(|(who, _)| T::ChallengeKeys::challenge_key(who).map(|k| (who.clone(), k)))
			.collect();
		RoundChallengeKeys::<T>::insert((task, round), ChallengeKeysOf::<T>::truncate_from(keys));
		RoundScorers::<T>::insert((task, round), ScorersOf::<T>::truncate_from(scorers));
	}

	/// `who`'s challenge key in `round` of `task`: the one fixed when the round started. A
	/// round that started before keys were fixed (a runtime upgrade) uses the current one.
	pub fn round_challenge_key(
		task: TaskId,
		round: RoundIndex,
		who: &T::AccountId,
	) -> Option<[u8; 32]> {
		if !RoundChallengeKeys::<T>::contains_key((task, round)) {
			return T::ChallengeKeys::challenge_key(who);
		}
		RoundChallengeKeys::<T>::get((task, round))
			.iter()
			.find(|(v, _)| v == who)
			.map(|(_, k)| *k)
	}

	/// A validator's trust (the initial trust if it has no record).
	pub fn trust(who: &T::AccountId) -> Perbill {
		Trust::<T>::get(who).unwrap_or_else(T::InitialTrust::get)
	}

	/// The updates of `round` of `task` eligible for the global model now, with their
	/// consensus scores: those that scorers holding more than half of the round's snapshot
	/// stake judged (the consensus is the stake-weighted median of their scores), less those
	/// whose dispute a majority of the eligible stake has upheld, or left undecided with more
	/// stake upholding it (a lone accuser's claim included) than rejecting
	/// ([`Tally::excludes`]).
	/// Validators call this (through the runtime API) to aggregate, all at the same finalized
	/// block, the vote-reveal phase's last, so that they agree; every weight is frozen
	/// ([`Pallet::scorer_stake`]), so the round's settlement reads the disputes the same way.
	pub fn consensus(task: TaskId, round: RoundIndex) -> Vec<(T::AccountId, Perbill)> {
		let reveals = Self::reveals(task, round);
		let scorers = Self::scorer_stakes(task, round);
		let snapshot = scorers.iter().fold(0u128, |t, (_, s)| t.saturating_add(*s));
		T::Rounds::revealed_miners(task, round)
			.into_iter()
			.filter(|m| {
				Disputes::<T>::get((task, round), m).is_none_or(|d| {
					let votes = DisputeVotes::<T>::get((task, round, m.clone()));
					!Self::dispute_outcome(&d, &votes, &scorers, snapshot).excludes()
				})
			})
			.filter_map(|m| {
				let (judged, c) = Self::judgement(&reveals, &m);
				more_than_half(judged, snapshot)
					.then_some(c)
					.flatten()
					.map(|c| (m, c))
			})
			.collect()
	}

	/// How `dispute` stands with its revealed `votes`, each weighed by its voter's frozen stake
	/// (`scorers`, [`Pallet::scorer_stakes`]), and the stake eligible to vote on it: the
	/// snapshot's (`snapshot`, of `scorers`), less a lone accuser's (its own claim is not
	/// evidence, so it may not vote on it). More than half of that upholds; rejecting takes more
	/// than half of the whole snapshot, the lone accuser's stake included, so that the stake
	/// beside a large honest accuser, which a minority cartel may outweigh, cannot reject its
	/// claim. The two never both hold (the upholders and rejecters are apart from the lone
	/// accuser, so `upheld > (S − a)/2` leaves `rejected < (S − a)/2 ≤ S/2`), and a cartel
	/// below half of the snapshot reaches neither alone: to uphold a claim it made itself it needs
	/// `u > (S − a)/2` with `u + a < S/2`. The confirmations of a segment (`Dispute::confirmed`)
	/// are weighed against the eligible stake.
	fn dispute_outcome(
		dispute: &DisputeOf<T>,
		votes: &[(T::AccountId, bool)],
		scorers: &[(T::AccountId, u128)],
		snapshot: u128,
	) -> Tally {
		let stake_of = |who: &T::AccountId| {
			scorers
				.binary_search_by(|(v, _)| v.cmp(who))
				.ok()
				.and_then(|at| scorers.get(at))
				.map_or(0, |(_, s)| *s)
		};
		let eligible = match dispute.claims.as_slice() {
			[only] => snapshot.saturating_sub(stake_of(&only.accuser)),
			_ => snapshot,
		};
		let (mut upheld, mut rejected) = (0u128, 0u128);
		for (voter, up) in votes {
			let side = if *up { &mut upheld } else { &mut rejected };
			*side = side.saturating_add(stake_of(voter));
		}
		// Rejecting takes more than half of the whole snapshot, the lone accuser's stake
		// included: weighed against the eligible stake only, a minority cartel outweighed what is
		// left beside a large honest accuser and had its true claim rejected (and it slashed).
		let outcome = if more_than_half(upheld, eligible) {
			DisputeOutcome::Upheld
		} else if more_than_half(rejected, snapshot) {
			DisputeOutcome::Rejected
		} else {
			DisputeOutcome::Undecided
		};
		Tally {
			outcome,
			upheld,
			rejected,
			eligible,
			snapshot,
		}
	}

	/// How the dispute over `miner` in `round` of `task` stands now; `None` without one.
	pub fn dispute_tally(task: TaskId, round: RoundIndex, miner: &T::AccountId) -> Option<Tally> {
		let dispute = Disputes::<T>::get((task, round), miner)?;
		let votes = DisputeVotes::<T>::get((task, round, miner.clone()));
		let scorers = Self::scorer_stakes(task, round);
		let snapshot = scorers.iter().fold(0u128, |t, (_, s)| t.saturating_add(*s));
		Some(Self::dispute_outcome(&dispute, &votes, &scorers, snapshot))
	}

	/// The round's scorers with the stake each weighs with ([`Pallet::scorer_stake`]: the
	/// snapshot's), sorted by account.
	fn scorer_stakes(task: TaskId, round: RoundIndex) -> Vec<(T::AccountId, u128)> {
		RoundScorers::<T>::get((task, round))
			.into_iter()
			.map(|(who, frozen)| (who, frozen.unique_saturated_into()))
			.collect()
	}

	/// The stake of `round` of `task`'s scorers as the round's snapshot froze it (like their
	/// votes and scores): the whole of which more than half decides a miner's judgement and a
	/// dispute. A scorer that stays away, or leaves, decides nothing but still counts in it.
	pub fn snapshot_stake(task: TaskId, round: RoundIndex) -> T::Balance {
		Self::scorer_stakes(task, round)
			.iter()
			.fold(0u128, |t, (_, s)| t.saturating_add(*s))
			.unique_saturated_into()
	}

	/// Every reveal of the round: (validator, stake, entries).
	fn reveals(task: TaskId, round: RoundIndex) -> Vec<(T::AccountId, u128, EntriesOf<T>)> {
		Reveals::<T>::iter_prefix((task, round))
			.map(|(v, entries)| {
				let stake = RevealStake::<T>::get((task, round), &v)
					.unwrap_or_default()
					.unique_saturated_into();
				(v, stake, entries)
			})
			.collect()
	}

	fn entry_of<'a>(
		entries: &'a EntriesOf<T>,
		miner: &T::AccountId,
	) -> Option<&'a ScoreEntry<T::AccountId>> {
		entries
			.binary_search_by(|e| e.miner.cmp(miner))
			.ok()
			.and_then(|i| entries.get(i))
	}

	/// The stake of the scorers that judged `miner` (passed it, or claimed that a segment does
	/// not replay), and the stake-weighted median of their scores. A `NotServed` claim or an
	/// abstention judges nothing, so it neither counts toward the quorum nor moves the median.
	fn judgement(
		reveals: &[(T::AccountId, u128, EntriesOf<T>)],
		miner: &T::AccountId,
	) -> (u128, Option<Perbill>) {
		let scores: Vec<(Perbill, u128)> = reveals
			.iter()
			.filter_map(|(_, stake, entries)| {
				Self::entry_of(entries, miner)
					.filter(|e| e.verdict.judges())
					.map(|e| (e.score, *stake))
			})
			.collect();
		let judged = scores.iter().fold(0u128, |t, (_, s)| t.saturating_add(*s));
		(judged, weighted_median(scores))
	}

	/// Settles `round` of `task`: disputes, consensus, trust; hands the outcome to rewards and
	/// clears the round's storage. Returns the weight used.
	pub(crate) fn settle(
		task: TaskId,
		round: RoundIndex,
		budget: RoundBudget<T::Balance>,
	) -> Weight {
		let key = (task, round);
		let reveals = Self::reveals(task, round);
		let mut miners = T::Rounds::revealed_miners(task, round);
		// Sorted like every validator's entries, so lookups below are binary searches: the
		// work stays O(validators × miners × log miners) at the bounds.
		miners.sort();
		// More than half of this decides a judgement or a dispute: absent scorers count as not
		// deciding, so staying away (or being made to) never tips anything.
		let scorers = Self::scorer_stakes(task, round);
		let snapshot = scorers.iter().fold(0u128, |t, (_, s)| t.saturating_add(*s));
		let snapshot_stake: T::Balance = snapshot.unique_saturated_into();

		// Disputes first: they decide who may be paid. An account is slashed at most once per
		// round, however many disputes it lost: a validator whose hardware disagrees with many
		// miners at once loses one `FalseAccusationSlash`, not its bond.
		let mut blocked: Vec<T::AccountId> = Vec::new();
		// Each upheld miner with the segments its `Replay` claims named, sorted by miner.
		let mut upheld_miners: Vec<(T::AccountId, Vec<pol_primitives::SegmentIndex>)> = Vec::new();
		let mut slashed_once: Vec<T::AccountId> = Vec::new();
		let mut slash_once = |who: &T::AccountId, fraction: Perbill| -> T::Balance {
			match slashed_once.binary_search(who) {
				Ok(_) => Zero::zero(),
				Err(at) => {
					slashed_once.insert(at, who.clone());
					T::Slasher::slash_fraction(who, fraction)
				}
			}
		};
		let mut disputes = 0u32;
		// Each vote on the side that prevailed (and an upheld accusation) is a unit of work.
		let mut winning_votes: Vec<(T::AccountId, u32)> = Vec::new();
		let mut credit =
			|who: &T::AccountId| match winning_votes.binary_search_by(|(v, _)| v.cmp(who)) {
				Ok(at) => {
					if let Some((_, n)) = winning_votes.get_mut(at) {
						*n = n.saturating_add(1);
					}
				}
				Err(at) => winning_votes.insert(at, (who.clone(), 1)),
			};
		for (miner, dispute) in Disputes::<T>::drain_prefix(key) {
			disputes = disputes.saturating_add(1);
			let votes = DisputeVotes::<T>::take((task, round, miner.clone()));
			VoteCommits::<T>::remove((task, round, miner.clone()));
			let tally = Self::dispute_outcome(&dispute, &votes, &scorers, snapshot);
			let outcome = tally.outcome;
			let prevailed = match outcome {
				DisputeOutcome::Upheld => Some(true),
				DisputeOutcome::Rejected => Some(false),
				DisputeOutcome::Undecided => None,
			};
			for (voter, upheld) in votes.iter() {
				if Some(*upheld) == prevailed {
					credit(voter);
				}
			}
			// A `Replay` claim stakes the accuser's bond on the miner's run failing. A
			// `NotServed` one risks nothing, so it earns nothing either: a miner can serve one
			// validator corrupt bytes and the others good ones, so a rejected `NotServed` claim
			// is no evidence against its maker (and, rejected, it withheld nothing: the miner
			// is paid and in the model).
			let accusers = |kind: DisputeKind| {
				dispute
					.claims
					.iter()
					.filter(move |c| c.kind == kind)
					.map(|c| &c.accuser)
			};
			let offenders: Vec<(T::AccountId, T::Balance)> = match outcome {
				DisputeOutcome::Upheld => {
					// The segments a passer should have found failing: those of `Replay`
					// claims that more than half of the eligible stake confirmed. A
					// colluder's false claim on a segment every validator replays confirms
					// nothing, and costs the honest passers nothing.
					let found: Vec<pol_primitives::SegmentIndex> = dispute
						.confirmed
						.iter()
						.filter(|(segment, stake)| {
							more_than_half((*stake).unique_saturated_into(), tally.eligible)
								&& dispute
									.claims
									.iter()
									.any(|c| c.segment == *segment && c.kind == DisputeKind::Replay)
						})
						.map(|(segment, _)| *segment)
						.collect();
					// Only the accusers of those segments earn the claim: a free `Fail` decoy
					// on a segment that replays, riding a dispute others' evidence upheld,
					// earns nothing. Upheld with none confirmed (the miner withheld what the
					// voters asked for), every `Fail` accuser earns it: the miner's stall must
					// not cost the honest accuser its pay.
					dispute
						.claims
						.iter()
						.filter(|c| {
							c.kind == DisputeKind::Replay
								&& (found.is_empty() || found.contains(&c.segment))
						})
						.for_each(|c| credit(&c.accuser));
					if let Err(at) = upheld_miners.binary_search_by(|(m, _)| m.cmp(&miner)) {
						upheld_miners.insert(at, (miner.clone(), found));
					}
					alloc::vec![(miner.clone(), slash_once(&miner, T::MinerSlash::get()))]
				}
				DisputeOutcome::Rejected => accusers(DisputeKind::Replay)
					.map(|a| (a.clone(), slash_once(a, T::FalseAccusationSlash::get())))
					.collect(),
				DisputeOutcome::Undecided => Vec::new(),
			};
			if outcome != DisputeOutcome::Rejected {
				// Unpaid; and out of the model too when `tally.excludes` (`consensus`).
				if let Err(at) = blocked.binary_search(&miner) {
					blocked.insert(at, miner.clone());
				}
			}
			Self::deposit_event(Event::DisputeResolved {
				task,
				round,
				miner,
				outcome,
				upheld: tally.upheld.unique_saturated_into(),
				rejected: tally.rejected.unique_saturated_into(),
				eligible_stake: tally.eligible.unique_saturated_into(),
				offenders,
			});
		}

		// Consensus and who passed: only miners that scorers holding more than half of the
		// snapshot stake judged. One colluding scorer's score is no consensus when the honest
		// ones were made to abstain.
		let mut consensus: Vec<(T::AccountId, Perbill)> = Vec::new();
		let mut passed: Vec<(T::AccountId, Perbill)> = Vec::new();
		for miner in miners.iter() {
			// A miner whose dispute was upheld forged its run, whatever its scores said: the
			// majority that upheld it judged it.
			let upheld = upheld_miners
				.binary_search_by(|(m, _)| m.cmp(miner))
				.is_ok();
			let (judged, c) = Self::judgement(&reveals, miner);
			let c = if upheld { Some(Perbill::zero()) } else { c };
			let Some(c) = c.filter(|_| upheld || more_than_half(judged, snapshot)) else {
				Self::deposit_event(Event::MinerNotJudged {
					task,
					round,
					miner: miner.clone(),
					judged_stake: judged.unique_saturated_into(),
					snapshot_stake,
				});
				continue;
			};
			// Every verdict but `Pass` opened (or joined) a dispute: only its outcome decides.
			let ok = blocked.binary_search(miner).is_err();
			consensus.push((miner.clone(), c));
			if ok {
				passed.push((miner.clone(), c));
			}
			Self::deposit_event(Event::MinerScored {
				task,
				round,
				miner: miner.clone(),
				consensus: c,
				passed: ok,
			});
		}

		// Trust: round trust of those that revealed, a zero for those that only committed; it
		// moves only in rounds with enough scorers and budget, so it cannot be farmed alone on
		// cheap tasks.
		let alpha = T::TrustSmoothing::get();
		let scorers_with_scores = reveals
			.iter()
			.filter(|(_, _, entries)| !entries.is_empty())
			.count() as u32;
		let trust_moves = scorers_with_scores >= T::MinScorersForTrust::get()
			&& budget.total >= T::MinBudgetForTrust::get();
		// Pay is for work: each miner judged, weighted by agreement with consensus
		// (`1 − |score − consensus|`), and each vote on the side that prevailed, times stake.
		// A pass of a miner whose dispute was upheld earns nothing. It is a full disagreement
		// in trust when a segment of a `Replay` claim that more than half of the eligible stake
		// confirmed was among the passer's own challenges (it replayed that segment, or should
		// have); otherwise its draw missed the forgery, as an honest validator's may, and it
		// leaves its trust alone.
		let (segments, q) = (
			T::Rounds::num_segments(task).unwrap_or(0),
			T::Rounds::challenge_params(task, round).map_or(0, |(_, q)| q),
		);
		let mut validators: Vec<(T::AccountId, u128)> = Vec::new();
		for (v, stake, entries) in reveals.iter() {
			let randomness = ChallengeRandomness::<T>::get(key, v);
			let should_have_found = |miner: &T::AccountId, claimed: &[u32]| -> bool {
				randomness.is_some_and(|r| {
					hashing::challenge_segments(
						&r,
						&hashing::account_bytes(v),
						&hashing::account_bytes(miner),
						segments,
						q,
					)
					.iter()
					.any(|s| claimed.contains(s))
				})
			};
			let pairs: Vec<(Perbill, Perbill)> = entries
				.iter()
				.filter(|e| e.verdict.judges())
				.filter_map(|e| {
					let at = consensus.binary_search_by(|(m, _)| m.cmp(&e.miner)).ok()?;
					let (_, c) = consensus.get(at)?;
					let upheld = upheld_miners
						.binary_search_by(|(m, _)| m.cmp(&e.miner))
						.ok()
						.and_then(|at| upheld_miners.get(at));
					match (e.verdict, upheld) {
						(Verdict::Pass, Some((m, claimed))) => should_have_found(m, claimed)
							.then_some((Perbill::one(), Perbill::zero())),
						(_, Some(_)) => Some((Perbill::zero(), Perbill::zero())),
						_ => Some((e.score, *c)),
					}
				})
				.collect();
			let agreement: u128 = pairs
				.iter()
				.map(|(s, c)| {
					u128::from(PARTS.saturating_sub(s.deconstruct().abs_diff(c.deconstruct())))
				})
				.sum();
			let votes = winning_votes
				.binary_search_by(|(w, _)| w.cmp(v))
				.ok()
				.and_then(|at| winning_votes.get(at))
				.map_or(0, |(_, n)| *n);
			let work =
				agreement.saturating_add(u128::from(votes).saturating_mul(u128::from(PARTS)));
			if work > 0 {
				validators.push((v.clone(), stake.saturating_mul(work) / u128::from(PARTS)));
			}
			let Some(rt) = round_trust(&pairs).filter(|_| trust_moves) else {
				continue;
			};
			let trust = ema(Self::trust(v), rt, alpha);
			Trust::<T>::insert(v, trust);
			Self::deposit_event(Event::TrustUpdated {
				task,
				round,
				validator: v.clone(),
				round_trust: rt,
				trust,
			});
		}
		// Scorers that voted on the winning side without revealing scores are paid the votes.
		for (v, votes) in winning_votes.iter() {
			if reveals.iter().any(|(r, _, _)| r == v) {
				continue;
			}
			let stake: u128 = Self::scorer_stake(task, round, v)
				.unwrap_or_default()
				.unique_saturated_into();
			validators.push((v.clone(), stake.saturating_mul(u128::from(*votes))));
		}
		let commits = CommitCount::<T>::take(key);
		for (v, _) in ScoreCommits::<T>::drain_prefix(key) {
			T::Settlement::unlock(&v);
			if !reveals.iter().any(|(r, _, _)| *r == v) {
				let forfeited = T::Slasher::slash_amount(&v, T::ScoreDeposit::get());
				Self::deposit_event(Event::ScoresNotRevealed {
					task,
					round,
					validator: v.clone(),
					forfeited,
				});
				if !trust_moves {
					continue;
				}
				let trust = ema(Self::trust(&v), Perbill::zero(), alpha);
				Trust::<T>::insert(&v, trust);
				Self::deposit_event(Event::TrustUpdated {
					task,
					round,
					validator: v,
					round_trust: Perbill::zero(),
					trust,
				});
			}
		}
		for (v, _) in RoundScorers::<T>::take(key) {
			T::Settlement::unlock(&v);
		}
		RoundChallengeKeys::<T>::remove(key);

		let outcome = RoundOutcome {
			miners: passed,
			validators,
		};
		let mut weight = T::Rewards::reward_round(task, round, budget, &outcome);
		let scorers = reveals.len() as u32;
		let _ = Reveals::<T>::clear_prefix(key, scorers, None);
		let _ = ChallengeRandomness::<T>::clear_prefix(key, scorers, None);
		let _ = RevealStake::<T>::clear_prefix(key, scorers, None);
		RevealedTotal::<T>::remove(key);
		weight.saturating_accrue(T::WeightInfo::on_round_end(
			miners.len() as u32,
			scorers,
			disputes,
			commits.saturating_sub(scorers),
		));
		weight
	}

	/// Forgets `round` of `task` without paying, slashing or changing trust (its task was
	/// cancelled or force-ended before it could settle), and releases the scorers' locks.
	pub(crate) fn discard(task: TaskId, round: RoundIndex) -> Weight {
		let key = (task, round);
		let mut commits = 0u32;
		for (v, _) in ScoreCommits::<T>::drain_prefix(key) {
			T::Settlement::unlock(&v);
			commits = commits.saturating_add(1);
		}
		let mut disputes = 0u32;
		for (miner, _) in Disputes::<T>::drain_prefix(key) {
			VoteCommits::<T>::remove((task, round, miner.clone()));
			DisputeVotes::<T>::remove((task, round, miner));
			disputes = disputes.saturating_add(1);
		}
		let _ = Reveals::<T>::clear_prefix(key, commits, None);
		let _ = ChallengeRandomness::<T>::clear_prefix(key, commits, None);
		let _ = RevealStake::<T>::clear_prefix(key, commits, None);
		RevealedTotal::<T>::remove(key);
		CommitCount::<T>::remove(key);
		for (v, _) in RoundScorers::<T>::take(key) {
			T::Settlement::unlock(&v);
		}
		RoundChallengeKeys::<T>::remove(key);
		T::WeightInfo::on_round_end(T::MaxMiners::get(), commits, disputes, 0)
	}

	/// The segments `validator` replays of `miner` in `round` of `task`, from the randomness
	/// its score reveal proved; `None` before it revealed.
	pub fn challenges(
		task: TaskId,
		round: RoundIndex,
		validator: &T::AccountId,
		miner: &T::AccountId,
	) -> Option<Vec<pol_primitives::SegmentIndex>> {
		let randomness = ChallengeRandomness::<T>::get((task, round), validator)?;
		let (_, q) = T::Rounds::challenge_params(task, round)?;
		let n = T::Rounds::num_segments(task)?;
		Some(hashing::challenge_segments(
			&randomness,
			&hashing::account_bytes(validator),
			&hashing::account_bytes(miner),
			n,
			q,
		))
	}

	/// The most settling a round can weigh, at the bounds.
	pub fn max_round_end_weight() -> Weight {
		// Scorers either reveal or not; each costs at most the dearer of the two.
		let (m, v) = (T::MaxMiners::get(), T::MaxScorers::get());
		T::WeightInfo::on_round_end(m, v, m, 0)
			.max(T::WeightInfo::on_round_end(m, 1, m, v))
			.saturating_add(T::Rewards::max_weight())
	}

	/// Checks the pallet's invariants: trust within bounds is implied by `Perbill`; every
	/// reveal has a commitment and a stake, and revealed totals (of non-empty reveals) add up;
	/// only a round's scorers commit and vote, and every scorer snapshot is sorted.
	#[cfg(any(test, feature = "try-runtime"))]
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		use alloc::collections::btree_map::BTreeMap;
		// Every per-round item belongs to a round that is still running: settling or discarding
		// a round clears them all.
		let running = |(task, round): (TaskId, RoundIndex)| -> Result<(), &'static str> {
			ensure!(
				T::Rounds::current_phase(task, round).is_some(),
				"a per-round item outlived its round"
			);
			Ok(())
		};
		RoundScorers::<T>::iter_keys().try_for_each(running)?;
		RoundChallengeKeys::<T>::iter_keys().try_for_each(running)?;
		ScoreCommits::<T>::iter_keys().try_for_each(|(key, _)| running(key))?;
		CommitCount::<T>::iter_keys().try_for_each(running)?;
		Reveals::<T>::iter_keys().try_for_each(|(key, _)| running(key))?;
		RevealedTotal::<T>::iter_keys().try_for_each(running)?;
		ChallengeRandomness::<T>::iter_keys().try_for_each(|(key, _)| running(key))?;
		Disputes::<T>::iter_keys().try_for_each(|(key, _)| running(key))?;
		DisputeVotes::<T>::iter_keys().try_for_each(|(task, round, _)| running((task, round)))?;
		VoteCommits::<T>::iter_keys().try_for_each(|(task, round, _)| running((task, round)))?;
		let mut totals: BTreeMap<(TaskId, RoundIndex), T::Balance> = BTreeMap::new();
		for (key, v, stake) in RevealStake::<T>::iter() {
			let entries = Reveals::<T>::get(key, &v).ok_or("a revealed stake without entries")?;
			ensure!(
				ScoreCommits::<T>::contains_key(key, &v),
				"a reveal without a commitment"
			);
			let t = totals.entry(key).or_insert_with(Zero::zero);
			if !entries.is_empty() {
				*t = t.saturating_add(stake);
			}
		}
		for (_, scorers) in RoundScorers::<T>::iter() {
			ensure!(
				scorers.windows(2).all(|w| w[0].0 < w[1].0),
				"a scorer snapshot is not sorted by account"
			);
		}
		for (key, v, _) in ScoreCommits::<T>::iter() {
			ensure!(
				RoundScorers::<T>::get(key).iter().any(|(s, _)| *s == v),
				"a commitment by a validator outside the round's scorers"
			);
		}
		for ((task, round, _), votes) in DisputeVotes::<T>::iter() {
			let scorers = RoundScorers::<T>::get((task, round));
			ensure!(
				votes
					.iter()
					.all(|(v, _)| scorers.iter().any(|(s, _)| s == v)),
				"a dispute vote by a validator outside the round's scorers"
			);
		}
		for (key, total) in totals.iter() {
			ensure!(
				RevealedTotal::<T>::get(key) == *total,
				"a round's revealed total differs from its reveals"
			);
		}
		for (key, count) in CommitCount::<T>::iter() {
			ensure!(
				ScoreCommits::<T>::iter_prefix(key).count() as u32 == count,
				"a round's commit count differs from its commitments"
			);
		}
		for (key, v, _) in ChallengeRandomness::<T>::iter() {
			ensure!(
				Reveals::<T>::contains_key(key, &v),
				"challenge randomness without a reveal"
			);
		}
		for (key, miner, dispute) in Disputes::<T>::iter() {
			ensure!(!dispute.claims.is_empty(), "a dispute without a claim");
			for (i, claim) in dispute.claims.iter().enumerate() {
				ensure!(
					ChallengeRandomness::<T>::contains_key(key, &claim.accuser),
					"a claim whose accuser proved no challenge"
				);
				ensure!(
					dispute
						.claims
						.iter()
						.skip(i + 1)
						.all(|c| c.accuser != claim.accuser),
					"two claims by one accuser against one miner"
				);
			}
			let commits = VoteCommits::<T>::get((key.0, key.1, miner.clone()));
			let votes = DisputeVotes::<T>::get((key.0, key.1, miner));
			ensure!(
				votes
					.iter()
					.all(|(v, _)| commits.iter().any(|(c, _)| c == v)),
				"a revealed dispute vote without a commitment"
			);
			ensure!(
				dispute.confirmed.windows(2).all(|w| w[0].0 < w[1].0)
					&& dispute
						.confirmed
						.iter()
						.all(|(s, _)| dispute.claims.iter().any(|c| c.segment == *s)),
				"a confirmed segment that is unsorted or not claimed"
			);
			for (voter, upheld) in votes.iter() {
				if let Some(own) = dispute.claim_of(voter) {
					ensure!(
						*upheld || own.kind == DisputeKind::NotServed,
						"an accuser of a replay claim voted to reject it"
					);
				}
			}
		}
		Ok(())
	}
}

/// Set-up for the benchmarks of other pallets, wired by the runtime's benchmark helpers.
#[cfg(feature = "runtime-benchmarks")]
impl<T: Config> Pallet<T> {
	/// Records that `who`, one of the round's scorers, committed and revealed a score with
	/// `stake` in `round` of `task`.
	pub fn benchmark_record_reveal(
		task: TaskId,
		round: RoundIndex,
		who: &T::AccountId,
		stake: T::Balance,
	) {
		let key = (task, round);
		if !ScoreCommits::<T>::contains_key(key, who) {
			CommitCount::<T>::mutate(key, |c| *c = c.saturating_add(1));
			ScoreCommits::<T>::insert(key, who, Hash::zero());
		}
		// One score, so that the reveal counts (an empty one is an abstention).
		let entry = ScoreEntry {
			miner: who.clone(),
			score: Perbill::from_percent(50),
			verdict: Verdict::Pass,
		};
		Reveals::<T>::insert(key, who, EntriesOf::<T>::truncate_from(alloc::vec![entry]));
		ChallengeRandomness::<T>::insert(key, who, Hash::zero());
		RoundScorers::<T>::mutate(key, |scorers| {
			let mut list = scorers.to_vec();
			if let Err(at) = list.binary_search_by(|(v, _)| v.cmp(who)) {
				list.insert(at, (who.clone(), stake));
			}
			*scorers = ScorersOf::<T>::truncate_from(list);
		});
		if let Some(old) = RevealStake::<T>::get(key, who) {
			RevealedTotal::<T>::mutate(key, |t| *t = t.saturating_sub(old));
		}
		RevealStake::<T>::insert(key, who, stake);
		RevealedTotal::<T>::mutate(key, |t| *t = t.saturating_add(stake));
	}
}

impl<T: Config> OnRoundEnd<T::Balance> for Pallet<T> {
	fn on_round_end(task: TaskId, round: RoundIndex, budget: RoundBudget<T::Balance>) -> Weight {
		Self::settle(task, round, budget)
	}
	fn discard_round(task: TaskId, round: RoundIndex) -> Weight {
		Self::discard(task, round)
	}
	fn max_weight() -> Weight {
		Self::max_round_end_weight()
	}
}

impl<T: Config> OnRoundStart for Pallet<T> {
	fn on_round_start(task: TaskId, round: RoundIndex) -> Weight {
		Self::snapshot_scorers(task, round);
		T::WeightInfo::on_round_start()
	}
	fn max_weight() -> Weight {
		T::WeightInfo::on_round_start()
	}
}

impl<T: Config> pol_primitives::RevealedStake<T::AccountId, T::Balance> for Pallet<T> {
	fn revealed_stake(task: TaskId, round: RoundIndex, who: &T::AccountId) -> Option<T::Balance> {
		let entries = Reveals::<T>::get((task, round), who)?;
		if entries.is_empty() {
			return None;
		}
		RevealStake::<T>::get((task, round), who)
	}
	fn total_revealed_stake(task: TaskId, round: RoundIndex) -> T::Balance {
		RevealedTotal::<T>::get((task, round))
	}
}

impl<T: Config> TrustProvider<T::AccountId> for Pallet<T> {
	fn trust_of(who: &T::AccountId) -> Perbill {
		Self::trust(who)
	}
}
