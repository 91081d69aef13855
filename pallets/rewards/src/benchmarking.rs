//! Benchmarks of rewards (`frame_benchmarking::v2`), each at its worst case.

use super::*;
use crate::Pallet as Rewards;
use frame_benchmarking::v2::*;
use pol_primitives::RoundBudget;
use sp_runtime::Perbill;

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn reward_round(
		m: Linear<0, { T::MaxMiners::get() }>,
		v: Linear<0, { T::MaxValidators::get() }>,
	) {
		// Worst case: every payment is made, each to a new account.
		let budget = BalanceOf::<T>::unique_saturated_from(1_000_000_000_000_000u128);
		let task = T::BenchmarkHelper::funded_task(budget);
		let outcome = RoundOutcome {
			miners: (0..m)
				.map(|i| (account("miner", i, 0), Perbill::from_percent(50)))
				.collect(),
			validators: (0..v)
				.map(|i| (account("validator", i, 0), 1_000u128))
				.collect(),
		};
		let budget = RoundBudget {
			total: budget,
			validator_share: Perbill::from_percent(20),
		};
		#[block]
		{
			Rewards::<T>::do_reward(task, 0, budget, &outcome);
		}
		if let Some((miner, _)) = outcome.miners.first() {
			assert!(!LifetimeEarnings::<T>::get(miner).is_zero());
		}
	}

	#[benchmark]
	fn emit(a: Linear<0, { T::MaxAuthorities::get() }>) {
		let authorities: Vec<T::AccountId> = (0..a).map(|i| account("authority", i, 0)).collect();
		T::BenchmarkHelper::set_authorities(&authorities);
		T::BenchmarkHelper::set_emission(BalanceOf::<T>::unique_saturated_from(
			1_000_000_000_000_000u128,
		));
		#[block]
		{
			Rewards::<T>::emit();
		}
		if let Some(first) = authorities.first() {
			assert!(!LifetimeEarnings::<T>::get(first).is_zero());
		}
	}

	impl_benchmark_test_suite!(Rewards, crate::mock::new_test_ext(), crate::mock::Test);
}
