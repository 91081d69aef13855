//! A test runtime: System and the scoring pallet, with settable stake and rounds, a slasher
//! that records, and rewards that record the outcome.

use crate as pallet_validator_scoring;
use frame_support::{derive_impl, traits::ConstU32};
use pol_primitives::{
	Phase, Role, RoundBudget, RoundIndex, RoundInfo, RoundOutcome, RoundRewards, ScorerSet,
	SegmentIndex, SettlementLock, Slash, StakeInfo, TaskId,
};
use sp_runtime::{BuildStorage, Perbill, Weight};
use std::{cell::RefCell, collections::BTreeMap};

pub type AccountId = u64;
pub type Balance = u128;
type Block = frame_system::mocking::MockBlock<Test>;

#[frame_support::runtime]
mod runtime {
	#[runtime::runtime]
	#[runtime::derive(
		RuntimeCall,
		RuntimeEvent,
		RuntimeError,
		RuntimeOrigin,
		RuntimeFreezeReason,
		RuntimeHoldReason,
		RuntimeSlashReason,
		RuntimeLockId,
		RuntimeTask,
		RuntimeViewFunction
	)]
	pub struct Test;

	#[runtime::pallet_index(0)]
	pub type System = frame_system;
	#[runtime::pallet_index(1)]
	pub type Scoring = pallet_validator_scoring;
}

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountId = AccountId;
	type Lookup = sp_runtime::traits::IdentityLookup<AccountId>;
}

thread_local! {
	static STAKE: RefCell<BTreeMap<AccountId, Balance>> = RefCell::new(BTreeMap::new());
	static PHASE: RefCell<Option<Phase>> = const { RefCell::new(None) };
	static MINERS: RefCell<Vec<AccountId>> = RefCell::new(Vec::new());
	static SEGMENTS_PER_CHECK: RefCell<u32> = const { RefCell::new(4) };
	static SLASHES: RefCell<Vec<(AccountId, Perbill)>> = RefCell::new(Vec::new());
	static OUTCOMES: RefCell<Vec<(RoundBudget<Balance>, RoundOutcome<AccountId>)>> =
		RefCell::new(Vec::new());
	static FORFEITS: RefCell<Vec<(AccountId, Balance)>> = RefCell::new(Vec::new());
	static LOCKS: RefCell<BTreeMap<AccountId, u32>> = RefCell::new(BTreeMap::new());
	static KEY_OF: RefCell<BTreeMap<AccountId, AccountId>> = RefCell::new(BTreeMap::new());
	static RANKED_STAKE: RefCell<BTreeMap<AccountId, Balance>> = RefCell::new(BTreeMap::new());
}

/// The scorers: the `MaxScorers` accounts with the most stake (ties to the lower account), as
/// the staking pallet's election would give.
pub struct MockScorers;
impl ScorerSet<AccountId, Balance> for MockScorers {
	fn scorers() -> Vec<(AccountId, Balance)> {
		let mut all: Vec<(AccountId, Balance)> = STAKE.with(|s| {
			s.borrow()
				.iter()
				.map(|(a, b)| {
					let ranked = RANKED_STAKE.with(|r| r.borrow().get(a).copied());
					(*a, ranked.unwrap_or(*b))
				})
				.collect()
		});
		all.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
		all.truncate(MAX_SCORERS as usize);
		all
	}
}

/// The scorer set reports `stake` for `who` (what it had when the session's set was ranked),
/// whatever it has now.
pub fn set_ranked_stake(who: AccountId, stake: Balance) {
	RANKED_STAKE.with(|r| r.borrow_mut().insert(who, stake));
}

/// Counts each account's settlement locks, as the staking pallet would.
pub struct MockSettlement;
impl SettlementLock<AccountId> for MockSettlement {
	fn lock(who: &AccountId) {
		LOCKS.with(|l| *l.borrow_mut().entry(*who).or_default() += 1);
	}
	fn unlock(who: &AccountId) {
		LOCKS.with(|l| {
			let mut l = l.borrow_mut();
			let n = l.entry(*who).or_default();
			assert!(*n > 0, "unlocking {who}, which holds no lock");
			*n -= 1;
		});
	}
}
/// `who`'s settlement locks.
pub fn locks(who: AccountId) -> u32 {
	LOCKS.with(|l| l.borrow().get(&who).copied().unwrap_or(0))
}

/// Starts round 0 of task 0: snapshots its scorers from the accounts with stake now.
pub fn start_round() {
	<crate::Pallet<Test> as pol_primitives::OnRoundStart>::on_round_start(0, 0);
}

/// Validators with stake, set by tests (any account with stake is an active validator).
pub struct MockStake;
impl StakeInfo<AccountId, Balance> for MockStake {
	fn stake_of(who: &AccountId) -> Balance {
		STAKE.with(|s| s.borrow().get(who).copied().unwrap_or(0))
	}
	fn role_of(who: &AccountId) -> Option<Role> {
		(Self::stake_of(who) > 0).then_some(Role::Validator)
	}
	fn is_active(who: &AccountId, role: Role) -> bool {
		Self::role_of(who) == Some(role)
	}
}
pub fn set_stake(who: AccountId, stake: Balance) {
	STAKE.with(|s| s.borrow_mut().insert(who, stake));
}

/// Task 0's round 0, in the phase tests set, with the miners tests set; 4 segments, each
/// validator challenged with `SEGMENTS_PER_CHECK` of them.
pub struct MockRounds;
impl RoundInfo<AccountId> for MockRounds {
	fn current_phase(task: TaskId, round: RoundIndex) -> Option<Phase> {
		if (task, round) == (0, 0) {
			PHASE.with(|p| *p.borrow())
		} else {
			None
		}
	}
	fn has_revealed(task: TaskId, round: RoundIndex, miner: &AccountId) -> bool {
		(task, round) == (0, 0) && MINERS.with(|m| m.borrow().contains(miner))
	}
	fn revealed_miners(task: TaskId, round: RoundIndex) -> Vec<AccountId> {
		if (task, round) == (0, 0) {
			MINERS.with(|m| m.borrow().clone())
		} else {
			Vec::new()
		}
	}
	fn num_segments(_: TaskId) -> Option<SegmentIndex> {
		Some(4)
	}
	fn challenge_params(task: TaskId, round: RoundIndex) -> Option<(pol_primitives::Hash, u32)> {
		((task, round) == (0, 0)).then(|| {
			(
				CHALLENGE_SEED.into(),
				SEGMENTS_PER_CHECK.with(|q| *q.borrow()),
			)
		})
	}
}
/// Round 0's challenge seed.
pub const CHALLENGE_SEED: [u8; 32] = [5; 32];
/// Sets the task's segments per check (4 by default: every segment is challenged).
pub fn set_segments_per_check(q: u32) {
	SEGMENTS_PER_CHECK.with(|s| *s.borrow_mut() = q);
}
/// Moves round 0 of task 0 to `phase`. A round that reaches the verify phase without a scorer
/// snapshot gets one now, as if it had started with the stakes the test set so far.
pub fn set_phase(phase: Phase) {
	PHASE.with(|p| *p.borrow_mut() = Some(phase));
	if phase >= Phase::Verify && crate::RoundScorers::<Test>::get((0, 0)).is_empty() {
		start_round();
	}
}
/// Round 0 of task 0 is no longer running (as if the registry had closed it).
pub fn end_round() {
	PHASE.with(|p| *p.borrow_mut() = None);
}
pub fn set_miners(miners: &[AccountId]) {
	MINERS.with(|m| *m.borrow_mut() = miners.to_vec());
}

/// Records slashes; slashes `fraction` of the stake.
pub struct MockSlash;
impl Slash<AccountId, Balance> for MockSlash {
	fn slash_fraction(who: &AccountId, fraction: Perbill) -> Balance {
		SLASHES.with(|s| s.borrow_mut().push((*who, fraction)));
		fraction * MockStake::stake_of(who)
	}
	fn slash_amount(who: &AccountId, amount: Balance) -> Balance {
		FORFEITS.with(|f| f.borrow_mut().push((*who, amount)));
		amount
	}
}
/// What `slash_amount` took, from whom.
pub fn forfeits() -> Vec<(AccountId, Balance)> {
	FORFEITS.with(|f| f.borrow().clone())
}
pub fn slashes() -> Vec<(AccountId, Perbill)> {
	SLASHES.with(|s| s.borrow().clone())
}

/// Records what it is asked to pay.
pub struct MockRewards;
impl RoundRewards<AccountId, Balance> for MockRewards {
	fn reward_round(
		_: TaskId,
		_: RoundIndex,
		budget: RoundBudget<Balance>,
		outcome: &RoundOutcome<AccountId>,
	) -> Weight {
		OUTCOMES.with(|o| o.borrow_mut().push((budget, outcome.clone())));
		Weight::zero()
	}
	fn max_weight() -> Weight {
		Weight::zero()
	}
}
pub fn outcomes() -> Vec<(RoundBudget<Balance>, RoundOutcome<AccountId>)> {
	OUTCOMES.with(|o| o.borrow().clone())
}

pub const MINER_SLASH: Perbill = Perbill::from_percent(10);
pub const MAX_SCORERS: u32 = 5;
pub const SCORE_DEPOSIT: Balance = 7;
pub const MIN_SCORERS_FOR_TRUST: u32 = 2;
pub const MIN_BUDGET_FOR_TRUST: Balance = 100;
pub const FALSE_ACCUSATION_SLASH: Perbill = Perbill::from_percent(5);

frame_support::parameter_types! {
	pub const InitialTrust: Perbill = Perbill::from_percent(50);
	pub const TrustSmoothing: Perbill = Perbill::from_percent(20);
	pub const MinerSlash: Perbill = MINER_SLASH;
	pub const FalseAccusationSlash: Perbill = FALSE_ACCUSATION_SLASH;
}

impl pallet_validator_scoring::Config for Test {
	type Balance = Balance;
	type Stake = MockStake;
	type Rounds = MockRounds;
	type Slasher = MockSlash;
	type Rewards = MockRewards;
	type Scorers = MockScorers;
	type Settlement = MockSettlement;
	type ScoreDeposit = frame_support::traits::ConstU128<SCORE_DEPOSIT>;
	type MinScorersForTrust = ConstU32<MIN_SCORERS_FOR_TRUST>;
	type MinBudgetForTrust = frame_support::traits::ConstU128<MIN_BUDGET_FOR_TRUST>;
	type InitialTrust = InitialTrust;
	type TrustSmoothing = TrustSmoothing;
	type MinerSlash = MinerSlash;
	type FalseAccusationSlash = FalseAccusationSlash;
	type MaxMiners = ConstU32<8>;
	type MaxScorers = ConstU32<MAX_SCORERS>;
	type ChallengeKeys = MockKeys;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = MockRounds;
}

/// The salt `who` blinds its score commitment with.
pub fn salt(who: AccountId) -> [u8; 32] {
	[who as u8; 32]
}

/// The salt `who` blinds its sealed votes with.
pub fn vote_salt(who: AccountId) -> [u8; 32] {
	[(who as u8) ^ 0x5a; 32]
}

/// Account `who`'s sr25519 key: seeded by its number.
pub fn key(who: AccountId) -> sp_core::sr25519::Pair {
	use sp_core::Pair as _;
	sp_core::sr25519::Pair::from_seed(&pol_primitives::hashing::hash(&who.to_le_bytes()).0)
}

/// `who`'s challenge proof over round 0's seed, and its randomness.
pub fn challenge(who: AccountId) -> (pol_primitives::ChallengeProof, pol_primitives::Hash) {
	pol_primitives::challenge::prove(&key(who), &CHALLENGE_SEED.into())
}

/// Every account has the key [`key`] gives it, unless a test registered another
/// ([`register_key`]).
pub struct MockKeys;
impl pol_primitives::ChallengeKeys<AccountId> for MockKeys {
	fn challenge_key(who: &AccountId) -> Option<[u8; 32]> {
		use sp_core::Pair as _;
		let of = KEY_OF
			.with(|k| k.borrow().get(who).copied())
			.unwrap_or(*who);
		Some(key(of).public().0)
	}
}

/// From now on `who`'s challenge key is account `of`'s ([`key`]).
pub fn register_key(who: AccountId, of: AccountId) {
	KEY_OF.with(|k| k.borrow_mut().insert(who, of));
}

#[cfg(feature = "runtime-benchmarks")]
impl crate::BenchmarkHelper<AccountId> for MockRounds {
	fn challenger(seed: &pol_primitives::Hash) -> (AccountId, pol_primitives::ChallengeProof) {
		let who = 77;
		(who, pol_primitives::challenge::prove(&key(who), seed).0)
	}
	fn make_validator(who: &AccountId) {
		set_stake(*who, 1_000);
	}
	fn task_with_revealed_miners(phase: Phase, miners: u32) -> (TaskId, Vec<AccountId>) {
		let accounts: Vec<AccountId> = (0..miners as u64).map(|i| 1_000 + i).collect();
		set_miners(&accounts);
		set_phase(phase);
		(0, accounts)
	}
	fn set_phase(_: TaskId, phase: Phase) {
		set_phase(phase);
	}
	fn set_scorers(scorers: &[AccountId]) {
		STAKE.with(|s| s.borrow_mut().clear());
		for who in scorers {
			set_stake(*who, 1_000);
		}
	}
}

pub fn new_test_ext() -> sp_io::TestExternalities {
	let t = frame_system::GenesisConfig::<Test>::default()
		.build_storage()
		.unwrap();
	let mut ext = sp_io::TestExternalities::new(t);
	ext.execute_with(|| System::set_block_number(1));
	STAKE.with(|s| s.borrow_mut().clear());
	PHASE.with(|p| *p.borrow_mut() = None);
	MINERS.with(|m| m.borrow_mut().clear());
	SEGMENTS_PER_CHECK.with(|q| *q.borrow_mut() = 4);
	SLASHES.with(|s| s.borrow_mut().clear());
	OUTCOMES.with(|o| o.borrow_mut().clear());
	FORFEITS.with(|f| f.borrow_mut().clear());
	LOCKS.with(|l| l.borrow_mut().clear());
	RANKED_STAKE.with(|r| r.borrow_mut().clear());
	ext
}

/// Runs `test`, then checks the pallet's invariants.
pub fn test(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		test();
		Scoring::do_try_state().expect("invariants hold after the test");
	});
}

/// The events this pallet emitted, oldest first; clears them.
pub fn scoring_events() -> Vec<crate::Event<Test>> {
	let events = System::events()
		.into_iter()
		.filter_map(|r| match r.event {
			RuntimeEvent::Scoring(e) => Some(e),
			_ => None,
		})
		.collect();
	System::reset_events();
	events
}
