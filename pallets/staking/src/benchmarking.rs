//! Benchmarks of the staking pallet (`frame_benchmarking::v2`), each at its worst case.

use super::*;
use crate::Pallet as Staking;
use frame_benchmarking::v2::*;
use frame_support::traits::fungible::Mutate;
use frame_system::RawOrigin;
use sp_runtime::traits::Bounded;

/// A funded account with ample free balance.
fn funded<T: Config>(name: &'static str, index: u32) -> T::AccountId {
	let who: T::AccountId = account(name, index, 0);
	let amount = BalanceOf::<T>::max_value() / 1_000u32.into();
	T::Currency::set_balance(&who, amount);
	who
}

fn min_validator<T: Config>() -> BalanceOf<T> {
	T::MinValidatorBond::get()
}

/// A bonded validator with `chunks` unlocking chunks, each from a different block.
fn validator_with_chunks<T: Config>(chunks: u32) -> T::AccountId {
	let who = funded::<T>("validator", 0);
	let amount = min_validator::<T>().saturating_mul(4u32.into());
	assert!(Staking::<T>::bond(
		RawOrigin::Signed(who.clone()).into(),
		Role::Validator,
		amount
	)
	.is_ok());
	for i in 0..chunks {
		frame_system::Pallet::<T>::set_block_number((i + 1).into());
		assert!(Staking::<T>::unbond(RawOrigin::Signed(who.clone()).into(), 1u32.into()).is_ok());
	}
	who
}

/// `MaxValidators` candidates with the minimum bond.
fn fill_candidates<T: Config>() {
	for i in Validators::<T>::count()..T::MaxValidators::get() {
		let who = funded::<T>("candidate", i);
		assert!(Staking::<T>::bond(
			RawOrigin::Signed(who).into(),
			Role::Validator,
			min_validator::<T>()
		)
		.is_ok());
	}
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn bond() {
		// Worst case: the candidate list is full, and the newcomer displaces the weakest.
		fill_candidates::<T>();
		let who = funded::<T>("validator", 0);
		let amount = min_validator::<T>().saturating_mul(2u32.into());
		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), Role::Validator, amount);
		assert_eq!(Staking::<T>::stake_of(&who), amount);
		assert_eq!(Validators::<T>::count(), T::MaxValidators::get());
	}

	#[benchmark]
	fn bond_extra() {
		let who = validator_with_chunks::<T>(0);
		let before = Staking::<T>::stake_of(&who);
		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), min_validator::<T>());
		assert!(Staking::<T>::stake_of(&who) > before);
	}

	#[benchmark]
	fn unbond() {
		// Worst case: a new chunk pushed behind the most chunks that leave room for it.
		let who = validator_with_chunks::<T>(T::MaxUnlockingChunks::get() - 1);
		frame_system::Pallet::<T>::set_block_number(T::MaxUnlockingChunks::get().into());
		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), 1u32.into());
		assert_eq!(
			Ledger::<T>::get(&who).map(|l| l.unlocking.len() as u32),
			Some(T::MaxUnlockingChunks::get())
		);
	}

	#[benchmark]
	fn withdraw_unbonded() {
		// Worst case: every chunk ripe and the whole bond gone, so the staker is removed.
		let who = funded::<T>("validator", 0);
		let amount = min_validator::<T>();
		assert!(Staking::<T>::bond(
			RawOrigin::Signed(who.clone()).into(),
			Role::Validator,
			amount
		)
		.is_ok());
		assert!(Staking::<T>::set_endpoint(
			RawOrigin::Signed(who.clone()).into(),
			b"http://127.0.0.1:8700".to_vec()
		)
		.is_ok());
		assert!(Staking::<T>::unbond(RawOrigin::Signed(who.clone()).into(), amount).is_ok());
		let now = frame_system::Pallet::<T>::block_number();
		frame_system::Pallet::<T>::set_block_number(now.saturating_add(T::UnbondingPeriod::get()));
		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()));
		assert!(Ledger::<T>::get(&who).is_none());
	}

	#[benchmark]
	fn chill() {
		let who = validator_with_chunks::<T>(0);
		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()));
		assert!(!Validators::<T>::contains_key(&who));
	}

	#[benchmark]
	fn resume() {
		// Worst case: the candidate list filled up while it was chilled; it displaces one.
		let who = validator_with_chunks::<T>(0);
		assert!(Staking::<T>::chill(RawOrigin::Signed(who.clone()).into()).is_ok());
		fill_candidates::<T>();
		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()));
		assert!(Validators::<T>::contains_key(&who));
	}

	#[benchmark]
	fn set_endpoint(l: Linear<10, { T::MaxEndpointLen::get() }>) {
		let who = validator_with_chunks::<T>(0);
		let mut url = b"https://".to_vec();
		url.resize(l as usize, b'a');
		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), url.clone());
		assert_eq!(Endpoints::<T>::get(&who).map(|e| e.to_vec()), Some(url));
	}

	#[benchmark]
	fn set_challenge_key() {
		let who = validator_with_chunks::<T>(0);
		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), [7; 32]);
		assert_eq!(ChallengeKeys::<T>::get(&who), Some([7; 32]));
	}

	/// The election over `c` candidates, each with session keys.
	#[benchmark]
	fn new_session(c: Linear<1, { T::MaxValidators::get() }>) {
		// Validators from genesis step aside, so that exactly `c` stand.
		for v in Validators::<T>::iter_keys().collect::<Vec<_>>() {
			assert!(Staking::<T>::chill(RawOrigin::Signed(v).into()).is_ok());
		}
		for i in 0..c {
			let who = funded::<T>("candidate", i);
			let amount = min_validator::<T>().saturating_add(i.into());
			assert!(Staking::<T>::bond(
				RawOrigin::Signed(who.clone()).into(),
				Role::Validator,
				amount
			)
			.is_ok());
			T::BenchmarkHelper::set_session_keys(&who);
		}
		#[block]
		{
			let _ = <Staking<T> as pallet_session::SessionManager<T::AccountId>>::new_session(1);
		}
		if c >= MinAuthorities::<T>::get() {
			let expected = c.min(T::MaxAuthorities::get()) as usize;
			assert_eq!(Authorities::<T>::get().len(), expected);
		}
	}

	impl_benchmark_test_suite!(Staking, crate::mock::new_test_ext(), crate::mock::Test);
}
