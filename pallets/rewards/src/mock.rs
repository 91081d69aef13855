//! A test runtime: System, Balances and rewards, with a task budget held by a pot account.

use crate as pallet_pol_rewards;
use frame_support::{
	derive_impl,
	traits::{fungible::Mutate, tokens::Preservation, ConstU128, ConstU32, Get},
};
use pol_primitives::{Role, StakeInfo, TaskFunds, TaskId};
use sp_runtime::{BuildStorage, DispatchError};
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
	pub type Rewards = pallet_pol_rewards;
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
}

/// The account that holds task budgets in this mock.
pub const POT: AccountId = 1_000;

thread_local! {
	static BUDGET: RefCell<Balance> = const { RefCell::new(0) };
	static STAKE: RefCell<BTreeMap<AccountId, Balance>> = RefCell::new(BTreeMap::new());
	static AUTHORITIES: RefCell<Vec<AccountId>> = RefCell::new(Vec::new());
	static EMISSION: RefCell<Balance> = const { RefCell::new(0) };
}

/// Pays from the pot, within the task's budget.
pub struct MockFunds;
impl TaskFunds<AccountId, Balance> for MockFunds {
	fn pay(_: TaskId, to: &AccountId, amount: Balance) -> Result<(), DispatchError> {
		if amount > budget() {
			return Err(DispatchError::Other("over budget"));
		}
		Balances::transfer(&POT, to, amount, Preservation::Preserve)?;
		BUDGET.with(|b| *b.borrow_mut() -= amount);
		Ok(())
	}
}
pub fn budget() -> Balance {
	BUDGET.with(|b| *b.borrow())
}
pub fn set_budget(amount: Balance) {
	BUDGET.with(|b| *b.borrow_mut() = amount);
	let _ = Balances::mint_into(&POT, amount + ED);
}

pub struct MockStake;
impl StakeInfo<AccountId, Balance> for MockStake {
	fn stake_of(who: &AccountId) -> Balance {
		STAKE.with(|s| s.borrow().get(who).copied().unwrap_or(0))
	}
	fn role_of(_: &AccountId) -> Option<Role> {
		Some(Role::Validator)
	}
	fn is_active(_: &AccountId, _: Role) -> bool {
		true
	}
}

pub struct MockAuthorities;
impl Get<Vec<AccountId>> for MockAuthorities {
	fn get() -> Vec<AccountId> {
		AUTHORITIES.with(|a| a.borrow().clone())
	}
}
pub fn set_authorities(list: &[(AccountId, Balance)]) {
	AUTHORITIES.with(|a| *a.borrow_mut() = list.iter().map(|(w, _)| *w).collect());
	STAKE.with(|s| s.borrow_mut().extend(list.iter().copied()));
}

pub struct Emission;
impl Get<Balance> for Emission {
	fn get() -> Balance {
		EMISSION.with(|e| *e.borrow())
	}
}
pub fn set_emission(amount: Balance) {
	EMISSION.with(|e| *e.borrow_mut() = amount);
}

impl pallet_pol_rewards::Config for Test {
	type Currency = Balances;
	type Funds = MockFunds;
	type Stake = MockStake;
	type Authorities = MockAuthorities;
	type EmissionPerBlock = Emission;
	type MaxMiners = ConstU32<16>;
	type MaxValidators = ConstU32<8>;
	type MaxAuthorities = ConstU32<4>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = MockFunds;
}

#[cfg(feature = "runtime-benchmarks")]
impl crate::BenchmarkHelper<AccountId, Balance> for MockFunds {
	fn funded_task(budget: Balance) -> TaskId {
		set_budget(budget);
		0
	}
	fn set_authorities(authorities: &[AccountId]) {
		let list: Vec<(AccountId, Balance)> = authorities.iter().map(|a| (*a, 1_000)).collect();
		set_authorities(&list);
	}
	fn set_emission(amount: Balance) {
		set_emission(amount);
	}
}

/// Accounts 1..=20 start with 1_000 each.
pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut t = frame_system::GenesisConfig::<Test>::default()
		.build_storage()
		.unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: (1..=20).map(|a| (a, 1_000)).collect(),
		..Default::default()
	}
	.assimilate_storage(&mut t)
	.unwrap();
	let mut ext = sp_io::TestExternalities::new(t);
	ext.execute_with(|| System::set_block_number(1));
	BUDGET.with(|b| *b.borrow_mut() = 0);
	STAKE.with(|s| s.borrow_mut().clear());
	AUTHORITIES.with(|a| a.borrow_mut().clear());
	EMISSION.with(|e| *e.borrow_mut() = 0);
	ext
}

/// The events this pallet emitted, oldest first; clears them.
pub fn reward_events() -> Vec<crate::Event<Test>> {
	let events = System::events()
		.into_iter()
		.filter_map(|r| match r.event {
			RuntimeEvent::Rewards(e) => Some(e),
			_ => None,
		})
		.collect();
	System::reset_events();
	events
}
