//! No single parameter bricks the chain, and block space costs what it occupies (issue 15).
//! Each test runs the attack on the real runtime.

use frame_support::{
	dispatch::{DispatchClass, DispatchInfo},
	traits::{Get, Hooks},
	weights::Weight,
};
use pallet_session::{PeriodicSessions, SessionManager, ShouldEndSession};
use polchain_runtime::{
	configs::{
		dynamic_params::pol, BoundedSessionPeriod, CappedEmissionPerBlock, RuntimeParameters,
		SessionOffset, TransactionByteFee, MAX_EMISSION_PER_BLOCK,
	},
	genesis_config_presets, AccountId, PolStaking, Runtime, RuntimeOrigin, System,
};
use sp_keyring::Sr25519Keyring as K;
use sp_runtime::FixedPointNumber;

mod common;
use common::ext;

fn set(parameter: RuntimeParameters) {
	pallet_parameters::Pallet::<Runtime>::set_parameter(RuntimeOrigin::root(), parameter)
		.expect("root sets parameters");
}

#[test]
fn bricking_a_session_period_of_zero_is_read_as_one_block() {
	ext(genesis_config_presets::development_config_genesis()).execute_with(|| {
		set(RuntimeParameters::Pol(pol::Parameters::SessionPeriod(
			pol::SessionPeriod,
			Some(0),
		)));
		assert_eq!(pol::SessionPeriod::get(), 0);
		assert_eq!(BoundedSessionPeriod::get(), 1);
		// pallet-session asks every block; with a raw period of 0 it would divide by zero.
		for n in 1..10u32 {
			assert!(
				<PeriodicSessions<BoundedSessionPeriod, SessionOffset> as ShouldEndSession<u32>>::should_end_session(n)
			);
		}
		// Only root sets parameters.
		let alice: AccountId = K::Alice.to_account_id();
		assert!(pallet_parameters::Pallet::<Runtime>::set_parameter(
			RuntimeOrigin::signed(alice),
			RuntimeParameters::Pol(pol::Parameters::SessionPeriod(pol::SessionPeriod, Some(5))),
		)
		.is_err());
	});
}

#[test]
fn bricking_an_unbounded_emission_is_capped() {
	ext(genesis_config_presets::development_config_genesis()).execute_with(|| {
		assert_eq!(CappedEmissionPerBlock::get(), 0, "off by default");
		set(RuntimeParameters::Pol(pol::Parameters::EmissionPerBlock(
			pol::EmissionPerBlock,
			Some(u128::MAX),
		)));
		assert_eq!(CappedEmissionPerBlock::get(), MAX_EMISSION_PER_BLOCK);
	});
}

#[test]
fn block_stuffing_pays_for_length_and_raises_the_fee_multiplier() {
	ext(genesis_config_presets::development_config_genesis()).execute_with(|| {
		let info = DispatchInfo {
			call_weight: Weight::from_parts(10_000_000, 0),
			..Default::default()
		};
		let fee =
			|len: u32| pallet_transaction_payment::Pallet::<Runtime>::compute_fee(len, &info, 0);
		// Every byte is paid for.
		assert_eq!(fee(10_000) - fee(0), 10_000 * TransactionByteFee::get());
		assert!(fee(0) > 0);
		// A run of full blocks makes the next transactions dearer.
		let before = pallet_transaction_payment::NextFeeMultiplier::<Runtime>::get();
		let normal = <Runtime as frame_system::Config>::BlockWeights::get()
			.get(DispatchClass::Normal)
			.max_total
			.expect("normal blocks have a maximum");
		for n in 1..=10u32 {
			System::set_block_number(n);
			System::register_extra_weight_unchecked(normal, DispatchClass::Normal);
			pallet_transaction_payment::Pallet::<Runtime>::on_finalize(n);
			System::reset_events();
			frame_system::BlockWeight::<Runtime>::kill();
		}
		let after = pallet_transaction_payment::NextFeeMultiplier::<Runtime>::get();
		assert!(after > before, "{after:?} > {before:?}");
		assert!(
			after.into_inner() > sp_runtime::FixedU128::saturating_from_integer(1u32).into_inner()
		);
	});
}

#[test]
fn bricking_the_authority_set_needs_four_candidates_outside_the_dev_chain() {
	// The local testnet: three genesis authorities, fewer than the four an election needs.
	ext(genesis_config_presets::local_config_genesis()).execute_with(|| {
		assert_eq!(pallet_pol_staking::MinAuthorities::<Runtime>::get(), 4);
		// Slashing or unbonding two of them cannot shrink block production to one node: the
		// election is skipped and the set stands.
		for k in [K::Bob, K::Charlie] {
			PolStaking::chill(RuntimeOrigin::signed(k.to_account_id())).expect("chills");
		}
		assert_eq!(PolStaking::new_session(2), None);
	});
	// The development chain's genesis lowers it to one node.
	ext(genesis_config_presets::development_config_genesis()).execute_with(|| {
		assert_eq!(pallet_pol_staking::MinAuthorities::<Runtime>::get(), 1);
	});
}

#[test]
fn the_genesis_authorities_score_the_first_rounds() {
	// Tasks created before the first session change still have scorers: the genesis election.
	ext(genesis_config_presets::local_config_genesis()).execute_with(|| {
		let mut scorers: Vec<AccountId> = pallet_pol_staking::Scorers::<Runtime>::get()
			.into_iter()
			.map(|(v, _)| v)
			.collect();
		scorers.sort();
		let mut genesis: Vec<AccountId> = [K::Alice, K::Bob, K::Charlie]
			.iter()
			.map(|k| k.to_account_id())
			.collect();
		genesis.sort();
		assert_eq!(scorers, genesis);
	});
}
