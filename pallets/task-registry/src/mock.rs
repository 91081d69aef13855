//! A test runtime: System, Balances and the registry, with settable stake, revealed scores and
//! a round-end hook that pays whatever the test asks it to.

use crate as pallet_task_registry;
use frame_support::{
	derive_impl,
	traits::{ConstU128, ConstU32},
};
use pol_primitives::{
	DatasetSource, DatasetSpec, Hyperparameters, OnRoundEnd, OnRoundStart, Partition,
	RevealedStake, Role, RoundBudget, RoundIndex, Schedule, SettlementLock, StakeInfo, TaskFunds,
	TaskId, VerificationSpec,
};
use sp_runtime::{BuildStorage, FixedU64, Perbill, Weight};
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
	pub type Balances = pallet_balances;
	#[runtime::pallet_index(2)]
	pub type Registry = pallet_task_registry;
}

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountId = AccountId;
	type Lookup = sp_runtime::traits::IdentityLookup<AccountId>;
	type AccountData = pallet_balances::AccountData<Balance>;
}

pub const ED: Balance = 10;

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type Balance = Balance;
	type ExistentialDeposit = ConstU128<ED>;
	type AccountStore = System;
	type RuntimeHoldReason = RuntimeHoldReason;
}

thread_local! {
	static STAKE: RefCell<BTreeMap<AccountId, (Role, Balance)>> = RefCell::new(BTreeMap::new());
	static REVEALED: RefCell<BTreeMap<(TaskId, RoundIndex, AccountId), Balance>> =
		RefCell::new(BTreeMap::new());
	static PAYOUTS: RefCell<Vec<(AccountId, Balance)>> = RefCell::new(Vec::new());
	static ROUND_ENDS: RefCell<Vec<(TaskId, RoundIndex, RoundBudget<Balance>)>> =
		RefCell::new(Vec::new());
	static ROUND_END_WEIGHT: RefCell<Weight> = const { RefCell::new(Weight::from_parts(1_000, 0)) };
	static DISCARDED: RefCell<Vec<(TaskId, RoundIndex)>> = RefCell::new(Vec::new());
	static ROUND_STARTS: RefCell<Vec<(TaskId, RoundIndex)>> = RefCell::new(Vec::new());
	static LOCKS: RefCell<BTreeMap<AccountId, u32>> = RefCell::new(BTreeMap::new());
}

/// What settling a round weighs, at most and every time (tests of the round machine's
/// metering set it high).
pub fn set_round_end_weight(w: Weight) {
	ROUND_END_WEIGHT.with(|r| *r.borrow_mut() = w);
}

/// Active stakers set by tests.
pub struct MockStake;
impl StakeInfo<AccountId, Balance> for MockStake {
	fn stake_of(who: &AccountId) -> Balance {
		STAKE.with(|s| s.borrow().get(who).map_or(0, |(_, b)| *b))
	}
	fn role_of(who: &AccountId) -> Option<Role> {
		STAKE.with(|s| s.borrow().get(who).map(|(r, _)| *r))
	}
	fn is_active(who: &AccountId, role: Role) -> bool {
		Self::role_of(who) == Some(role)
	}
}
pub fn set_stake(who: AccountId, role: Role, stake: Balance) {
	STAKE.with(|s| s.borrow_mut().insert(who, (role, stake)));
}
pub fn unstake(who: AccountId) {
	STAKE.with(|s| s.borrow_mut().remove(&who));
}

/// Revealed scores set by tests.
pub struct MockScores;
impl RevealedStake<AccountId, Balance> for MockScores {
	fn revealed_stake(task: TaskId, round: RoundIndex, who: &AccountId) -> Option<Balance> {
		REVEALED.with(|r| r.borrow().get(&(task, round, *who)).copied())
	}
	fn total_revealed_stake(task: TaskId, round: RoundIndex) -> Balance {
		REVEALED.with(|r| {
			r.borrow()
				.iter()
				.filter(|((t, n, _), _)| *t == task && *n == round)
				.map(|(_, s)| *s)
				.sum()
		})
	}
}
pub fn reveal(task: TaskId, round: RoundIndex, who: AccountId, stake: Balance) {
	REVEALED.with(|r| r.borrow_mut().insert((task, round, who), stake));
}

/// At a round's end, pays the payouts the test queued (each one capped by the round budget),
/// and records the call.
pub struct MockRoundEnd;
impl OnRoundEnd<Balance> for MockRoundEnd {
	fn on_round_end(task: TaskId, round: RoundIndex, budget: RoundBudget<Balance>) -> Weight {
		ROUND_ENDS.with(|e| e.borrow_mut().push((task, round, budget)));
		let mut left = budget.total;
		for (to, amount) in PAYOUTS.with(|p| p.borrow().clone()) {
			let amount = amount.min(left);
			if Registry::pay(task, &to, amount).is_ok() {
				left -= amount;
			}
		}
		ROUND_END_WEIGHT.with(|r| *r.borrow())
	}
	fn discard_round(task: TaskId, round: RoundIndex) -> Weight {
		DISCARDED.with(|d| d.borrow_mut().push((task, round)));
		Weight::zero()
	}
	fn max_weight() -> Weight {
		ROUND_END_WEIGHT.with(|r| *r.borrow())
	}
}
/// The rounds discarded so far (cancelled or force-ended before they could settle).
pub fn discarded() -> Vec<(TaskId, RoundIndex)> {
	DISCARDED.with(|d| d.borrow().clone())
}

/// Records the rounds that started.
pub struct MockRoundStart;
impl OnRoundStart for MockRoundStart {
	fn on_round_start(task: TaskId, round: RoundIndex) -> Weight {
		ROUND_STARTS.with(|s| s.borrow_mut().push((task, round)));
		Weight::zero()
	}
	fn max_weight() -> Weight {
		Weight::zero()
	}
}
/// The rounds that started so far.
pub fn round_starts() -> Vec<(TaskId, RoundIndex)> {
	ROUND_STARTS.with(|s| s.borrow().clone())
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
/// Every round end pays `to` up to `amount` (within the round's budget).
pub fn pay_each_round(to: AccountId, amount: Balance) {
	PAYOUTS.with(|p| p.borrow_mut().push((to, amount)));
}
/// The round ends seen so far.
pub fn round_ends() -> Vec<(TaskId, RoundIndex, RoundBudget<Balance>)> {
	ROUND_ENDS.with(|e| e.borrow().clone())
}

pub const MAX_MINERS: u32 = 4;
pub const MAX_TASKS: u32 = 3;
pub const MAX_PROPOSALS: u32 = 2;
/// More than the mock task's 4 segments: every segment of its run can be claimed at once.
pub const MAX_SCORERS: u32 = 16;
pub const TASK_DEPOSIT: Balance = 500;
pub const ROUND_DEPOSIT: Balance = 10;
pub const MIN_REWARD: Balance = 100;
pub const MAX_ROUNDS: u32 = 50;
pub const MAX_PHASE_BLOCKS: u32 = 100;
pub const MAX_TASKS_PER_CREATOR: u32 = 2;
pub const MAX_IDLE_ROUNDS: u32 = 3;
pub const RETENTION: u64 = 10;

impl pallet_task_registry::Config for Test {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Stake = MockStake;
	type Scores = MockScores;
	type RoundEnd = MockRoundEnd;
	type RoundStart = MockRoundStart;
	type Settlement = MockSettlement;
	type AdminOrigin = frame_system::EnsureRoot<AccountId>;
	type TaskDeposit = ConstU128<TASK_DEPOSIT>;
	type RoundDeposit = ConstU128<ROUND_DEPOSIT>;
	type MinRewardPerRound = ConstU128<MIN_REWARD>;
	type MaxRounds = ConstU32<MAX_ROUNDS>;
	type MaxPhaseBlocks = ConstU32<MAX_PHASE_BLOCKS>;
	type MaxTasksPerCreator = ConstU32<MAX_TASKS_PER_CREATOR>;
	type MaxIdleRounds = ConstU32<MAX_IDLE_ROUNDS>;
	type RetentionPeriod = frame_support::traits::ConstU64<RETENTION>;
	type MaxActiveTasks = ConstU32<MAX_TASKS>;
	type MaxMinersPerTask = ConstU32<MAX_MINERS>;
	type MaxProposals = ConstU32<MAX_PROPOSALS>;
	type MaxScorers = ConstU32<MAX_SCORERS>;
	type MaxSegments = ConstU32<64>;
	type MinPhaseBlocks = ConstU32<1>;
	type MaxTransitionsPerBlock = ConstU32<2>;
	type ExpectedBlockTime = frame_support::traits::ConstU64<3_000>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = MockStake;
}

#[cfg(feature = "runtime-benchmarks")]
impl crate::BenchmarkHelper<AccountId, Balance> for MockStake {
	fn make_active(who: &AccountId, role: Role) {
		set_stake(*who, role, 1_000);
	}
	fn reveal_scores(task: TaskId, round: RoundIndex, who: &AccountId) -> Balance {
		reveal(task, round, *who, 1_000);
		1_000
	}
}

/// The creator of tasks in tests.
pub const CREATOR: AccountId = 1;
/// Phase lengths of [`spec`]: commit 4, reveal 3, verify 10 (the least for its model at
/// 3-second blocks), score reveal 2, finalize 3.
pub const SCHEDULE: Schedule = Schedule {
	commit_blocks: 4,
	reveal_blocks: 3,
	verify_blocks: 10,
	score_reveal_blocks: 2,
	vote_commit_blocks: 10,
	vote_reveal_blocks: 5,
	finalize_blocks: 3,
	rounds: 3,
};
/// Blocks per round under [`SCHEDULE`].
pub const ROUND_BLOCKS: u64 = 37;
pub const REWARD: Balance = 1_000;

/// A valid digits task: `mlp:64-32-10`, 4 segments of 5 steps, 2 checked.
pub fn spec() -> crate::TaskSpec<Balance> {
	crate::TaskSpec {
		model: b"mlp:64-32-10".to_vec().try_into().unwrap(),
		initial_model_hash: [7u8; 32].into(),
		initial_model_uri: b"http://creator/v1/artifacts/07"
			.to_vec()
			.try_into()
			.unwrap(),
		dataset: DatasetSpec {
			source: DatasetSource::Digits,
			num_shards: 4,
			partition: Partition::Dirichlet {
				alpha: FixedU64::from_rational(1, 2),
			},
			validation: Perbill::from_percent(20),
		},
		hyperparameters: Hyperparameters {
			learning_rate: FixedU64::from_rational(1, 10),
			momentum: FixedU64::from_rational(9, 10),
			batch_size: 32,
			local_steps: 20,
			checkpoint_interval: 5,
		},
		verification: VerificationSpec {
			segments_per_check: 2,
			comparison: pol_primitives::Comparison::Exact,
			profile: Default::default(),
		},
		aggregation: Default::default(),
		schedule: SCHEDULE,
		reward_per_round: REWARD,
		validator_share: Perbill::from_percent(20),
		max_miners: 3,
	}
}

/// Accounts 1..=20 start with 100_000 each.
pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut t = frame_system::GenesisConfig::<Test>::default()
		.build_storage()
		.unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: (1..=20).map(|a| (a, 100_000)).collect(),
		..Default::default()
	}
	.assimilate_storage(&mut t)
	.unwrap();
	let mut ext = sp_io::TestExternalities::new(t);
	ext.execute_with(|| System::set_block_number(1));
	STAKE.with(|s| s.borrow_mut().clear());
	REVEALED.with(|r| r.borrow_mut().clear());
	PAYOUTS.with(|p| p.borrow_mut().clear());
	ROUND_ENDS.with(|e| e.borrow_mut().clear());
	DISCARDED.with(|d| d.borrow_mut().clear());
	ROUND_STARTS.with(|s| s.borrow_mut().clear());
	LOCKS.with(|l| l.borrow_mut().clear());
	set_round_end_weight(Weight::from_parts(1_000, 0));
	ext
}

/// Runs `test`, then checks the pallet's invariants.
pub fn test(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		test();
		Registry::do_try_state().expect("invariants hold after the test");
	});
}

/// Runs blocks up to and including `n`, with the registry's `on_initialize` in each.
pub fn run_to_block(n: u64) {
	use frame_support::traits::Hooks;
	while System::block_number() < n {
		let next = System::block_number() + 1;
		System::set_block_number(next);
		System::set_parent_hash(sp_core::H256::repeat_byte(next as u8));
		Registry::on_initialize(next);
		Registry::do_try_state().expect("invariants hold after every block");
	}
}

/// The events this pallet emitted, oldest first; clears them.
pub fn registry_events() -> Vec<crate::Event<Test>> {
	let events = System::events()
		.into_iter()
		.filter_map(|r| match r.event {
			RuntimeEvent::Registry(e) => Some(e),
			_ => None,
		})
		.collect();
	System::reset_events();
	events
}
