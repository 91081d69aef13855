//! A test runtime: System, Balances and this pallet, with a settable trust and session-key
//! registry.

use crate as pallet_pol_staking;
use frame_support::{
	derive_impl, parameter_types,
	traits::{tokens::imbalance::ResolveTo, ConstU128, ConstU32, ConstU64, ValidatorRegistration},
	PalletId,
};
use pol_primitives::TrustProvider;
use sp_runtime::{traits::AccountIdConversion, BuildStorage, Perbill};
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
	pub type Staking = pallet_pol_staking;
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

parameter_types! {
	pub const TreasuryPalletId: PalletId = PalletId(*b"pol/trsy");
	pub TreasuryAccount: AccountId = TreasuryPalletId::get().into_account_truncating();
}

thread_local! {
	static TRUST: RefCell<BTreeMap<AccountId, Perbill>> = RefCell::new(BTreeMap::new());
	static KEYS: RefCell<Vec<AccountId>> = RefCell::new(Vec::new());
}

/// Trust set by tests; full trust for anyone not set.
pub struct MockTrust;
impl TrustProvider<AccountId> for MockTrust {
	fn trust_of(who: &AccountId) -> Perbill {
		TRUST.with(|t| t.borrow().get(who).copied().unwrap_or(Perbill::one()))
	}
}
pub fn set_trust(who: AccountId, trust: Perbill) {
	TRUST.with(|t| t.borrow_mut().insert(who, trust));
}

/// Session keys set by tests.
pub struct MockKeys;
impl ValidatorRegistration<AccountId> for MockKeys {
	fn is_registered(who: &AccountId) -> bool {
		KEYS.with(|k| k.borrow().contains(who))
	}
}
pub fn set_keys(who: AccountId) {
	KEYS.with(|k| k.borrow_mut().push(who));
}

pub const MIN_MINER: Balance = 100;
pub const MIN_VALIDATOR: Balance = 1_000;
pub const UNBONDING: u64 = 10;
pub const MAX_CHUNKS: u32 = 3;
pub const MAX_VALIDATORS: u32 = 8;
pub const MAX_AUTHORITIES: u32 = 3;

impl pallet_pol_staking::Config for Test {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type OnSlash = ResolveTo<TreasuryAccount, Balances>;
	type Trust = MockTrust;
	type SessionKeys = MockKeys;
	type MinMinerBond = ConstU128<MIN_MINER>;
	type MinValidatorBond = ConstU128<MIN_VALIDATOR>;
	type UnbondingPeriod = ConstU64<UNBONDING>;
	type MaxUnlockingChunks = ConstU32<MAX_CHUNKS>;
	type MaxValidators = ConstU32<MAX_VALIDATORS>;
	type MaxAuthorities = ConstU32<MAX_AUTHORITIES>;
	type MinAuthorities = ConstU32<2>;
	type MaxEndpointLen = ConstU32<64>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = MockKeys;
}

/// Accounts 1..=20 start with 100_000 each; the treasury exists with the existential deposit.
pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut t = frame_system::GenesisConfig::<Test>::default()
		.build_storage()
		.unwrap();
	let mut balances: Vec<(AccountId, Balance)> = (1..=20).map(|a| (a, 100_000)).collect();
	balances.push((TreasuryAccount::get(), ED));
	pallet_balances::GenesisConfig::<Test> {
		balances,
		..Default::default()
	}
	.assimilate_storage(&mut t)
	.unwrap();
	let mut ext = sp_io::TestExternalities::new(t);
	ext.execute_with(|| System::set_block_number(1));
	TRUST.with(|t| t.borrow_mut().clear());
	KEYS.with(|k| k.borrow_mut().clear());
	ext
}

/// Runs `test`, then checks the pallet's invariants.
pub fn test(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		test();
		Staking::do_try_state().expect("invariants hold after the test");
	});
}

/// The events this pallet emitted, oldest first; clears them.
pub fn staking_events() -> Vec<crate::Event<Test>> {
	let events = System::events()
		.into_iter()
		.filter_map(|r| match r.event {
			RuntimeEvent::Staking(e) => Some(e),
			_ => None,
		})
		.collect();
	System::reset_events();
	events
}

#[cfg(feature = "runtime-benchmarks")]
impl crate::BenchmarkHelper<AccountId> for MockKeys {
	fn set_session_keys(who: &AccountId) {
		set_keys(*who);
	}
}
