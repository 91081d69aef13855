//! # polchain rewards
//!
//! Pays settled rounds out of tasks' budgets, and an optional block emission to the
//! authorities.
//!
//! ## Overview
//!
//! - As [`pol_primitives::RoundRewards`] (called by scoring when a round is settled), it splits
//!   the round's budget into the validators' part (the task's validator share) and the
//!   miners' part. Miners that passed share theirs in proportion to their consensus scores;
//!   validators that revealed share theirs in proportion to stake × round trust. Every
//!   payment comes out of the task's held budget through [`pol_primitives::TaskFunds`]; what
//!   nobody earned (rounding included, and a payment that could not be made) stays in the
//!   budget. Nothing is created or destroyed: paid + returned = the round's budget.
//! - `EmissionPerBlock` (zero switches it off) is minted each block to the current
//!   authorities in proportion to their stake.
//! - [`LifetimeEarnings`] keeps what each account earned, from rounds and emission.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;
pub use weights::WeightInfo;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod weights;

use alloc::vec::Vec;
use frame_support::{
	pallet_prelude::*,
	traits::fungible::{self, Inspect, Mutate},
};
use frame_system::pallet_prelude::*;
use pol_primitives::{
	RoundBudget, RoundIndex, RoundOutcome, RoundRewards, StakeInfo, TaskFunds, TaskId,
};
use sp_runtime::traits::{Saturating, UniqueSaturatedFrom, UniqueSaturatedInto, Zero};

/// The balance type of the pallet's currency.
pub type BalanceOf<T> =
	<<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

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
		/// The currency rewards are paid in; emission is minted in it.
		type Currency: fungible::Mutate<Self::AccountId>;

		/// Pays out of tasks' budgets (the task registry).
		type Funds: TaskFunds<Self::AccountId, BalanceOf<Self>>;

		/// Stake of the authorities, for the emission split (the staking pallet).
		type Stake: StakeInfo<Self::AccountId, BalanceOf<Self>>;

		/// The current block authorities.
		type Authorities: Get<Vec<Self::AccountId>>;

		/// Minted each block to the authorities by stake; zero for none.
		#[pallet::constant]
		type EmissionPerBlock: Get<BalanceOf<Self>>;

		/// The most miners paid in one round.
		#[pallet::constant]
		type MaxMiners: Get<u32>;

		/// The most validators paid in one round.
		#[pallet::constant]
		type MaxValidators: Get<u32>;

		/// The most authorities that share the emission.
		#[pallet::constant]
		type MaxAuthorities: Get<u32>;

		/// Weights of this pallet's hooks, from its benchmarks.
		type WeightInfo: WeightInfo;

		/// Sets up a funded task, authorities and the emission for the benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: BenchmarkHelper<Self::AccountId, BalanceOf<Self>>;
	}

	/// What each account earned in all, from rounds and emission.
	#[pallet::storage]
	pub type LifetimeEarnings<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, BalanceOf<T>, ValueQuery>;

	/// Everything minted by the emission.
	#[pallet::storage]
	pub type TotalEmitted<T: Config> = StorageValue<_, BalanceOf<T>, ValueQuery>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// `miner` earned `amount` in round `round` of `task`.
		MinerRewarded {
			task: TaskId,
			round: RoundIndex,
			miner: T::AccountId,
			amount: BalanceOf<T>,
		},
		/// `validator` earned `amount` in round `round` of `task`.
		ValidatorRewarded {
			task: TaskId,
			round: RoundIndex,
			validator: T::AccountId,
			amount: BalanceOf<T>,
		},
		/// Round `round` of `task` paid `paid` of `budget`; `returned` stays in the task's budget.
		RoundRewarded {
			task: TaskId,
			round: RoundIndex,
			budget: BalanceOf<T>,
			paid: BalanceOf<T>,
			returned: BalanceOf<T>,
		},
		/// A payment of `amount` to `who` could not be made (for example below its existential
		/// deposit); it stays in the task's budget.
		PaymentFailed {
			task: TaskId,
			round: RoundIndex,
			who: T::AccountId,
			amount: BalanceOf<T>,
		},
		/// Authority `who` was minted `amount` of the block emission.
		Emitted {
			who: T::AccountId,
			amount: BalanceOf<T>,
		},
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(_n: BlockNumberFor<T>) -> Weight {
			Self::emit()
		}

		fn integrity_test() {
			assert!(T::MaxMiners::get() > 0, "MaxMiners must be positive");
			assert!(
				T::MaxValidators::get() > 0,
				"MaxValidators must be positive"
			);
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}
}

/// What the benchmarks need from the runtime.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper<AccountId, Balance> {
	/// A task that can pay `budget` through [`Config::Funds`].
	fn funded_task(budget: Balance) -> TaskId;
	/// Makes `authorities` the current block authorities, each with stake.
	fn set_authorities(authorities: &[AccountId]);
	/// Sets the block emission to `amount` (the benchmark needs it non-zero).
	fn set_emission(amount: Balance);
}

/// `amount · part / whole`, rounded down; zero when `whole` is zero.
pub fn share(amount: u128, part: u128, whole: u128) -> u128 {
	if whole == 0 {
		return 0;
	}
	sp_runtime::helpers_128bit::multiply_by_rational_with_rounding(
		amount,
		part,
		whole,
		sp_runtime::Rounding::Down,
	)
	.unwrap_or(0)
}

/// How `total` splits over `weights`, each share rounded down (so the shares never add up to
/// more than `total`). Weights whose sum would overflow are halved together until it does not,
/// which keeps their proportions (to rounding) and the sum exact.
pub fn split(total: u128, weights: &[u128]) -> Vec<u128> {
	let mut scaled = weights.to_vec();
	let whole = loop {
		match scaled.iter().try_fold(0u128, |s, w| s.checked_add(*w)) {
			Some(whole) => break whole,
			None => scaled.iter_mut().for_each(|w| *w >>= 1),
		}
	};
	scaled.iter().map(|w| share(total, *w, whole)).collect()
}

impl<T: Config> Pallet<T> {
	fn pay(
		task: TaskId,
		round: RoundIndex,
		who: &T::AccountId,
		amount: u128,
		miner: bool,
	) -> BalanceOf<T> {
		let amount = BalanceOf::<T>::unique_saturated_from(amount);
		if amount.is_zero() {
			return amount;
		}
		if T::Funds::pay(task, who, amount).is_err() {
			Self::deposit_event(Event::PaymentFailed {
				task,
				round,
				who: who.clone(),
				amount,
			});
			return Zero::zero();
		}
		LifetimeEarnings::<T>::mutate(who, |e| *e = e.saturating_add(amount));
		Self::deposit_event(if miner {
			Event::MinerRewarded {
				task,
				round,
				miner: who.clone(),
				amount,
			}
		} else {
			Event::ValidatorRewarded {
				task,
				round,
				validator: who.clone(),
				amount,
			}
		});
		amount
	}

	/// Pays `outcome` out of `budget`; returns what was paid.
	pub fn do_reward(
		task: TaskId,
		round: RoundIndex,
		budget: RoundBudget<BalanceOf<T>>,
		outcome: &RoundOutcome<T::AccountId>,
	) -> BalanceOf<T> {
		let total: u128 = budget.total.unique_saturated_into();
		let validators_part = budget.validator_share.mul_floor(total);
		let miners_part = total.saturating_sub(validators_part);
		let mut paid = BalanceOf::<T>::zero();
		let scores: Vec<u128> = outcome
			.miners
			.iter()
			.map(|(_, s)| u128::from(s.deconstruct()))
			.collect();
		for ((miner, _), amount) in outcome.miners.iter().zip(split(miners_part, &scores)) {
			paid = paid.saturating_add(Self::pay(task, round, miner, amount, true));
		}
		let weights: Vec<u128> = outcome.validators.iter().map(|(_, w)| *w).collect();
		for ((validator, _), amount) in outcome
			.validators
			.iter()
			.zip(split(validators_part, &weights))
		{
			paid = paid.saturating_add(Self::pay(task, round, validator, amount, false));
		}
		Self::deposit_event(Event::RoundRewarded {
			task,
			round,
			budget: budget.total,
			paid,
			returned: budget.total.saturating_sub(paid),
		});
		paid
	}

	/// Mints the block emission to the authorities by stake. Returns the weight used.
	pub fn emit() -> Weight {
		let emission = T::EmissionPerBlock::get();
		if emission.is_zero() {
			return T::WeightInfo::emit(0);
		}
		let mut authorities = T::Authorities::get();
		authorities.truncate(T::MaxAuthorities::get() as usize);
		let stakes: Vec<u128> = authorities
			.iter()
			.map(|a| T::Stake::stake_of(a).unique_saturated_into())
			.collect();
		let total: u128 = emission.unique_saturated_into();
		for (who, amount) in authorities.iter().zip(split(total, &stakes)) {
			let amount = BalanceOf::<T>::unique_saturated_from(amount);
			if amount.is_zero() {
				continue;
			}
			// Minting to an account below its existential deposit fails: that share is not made.
			if T::Currency::mint_into(who, amount).is_ok() {
				LifetimeEarnings::<T>::mutate(who, |e| *e = e.saturating_add(amount));
				TotalEmitted::<T>::mutate(|t| *t = t.saturating_add(amount));
				Self::deposit_event(Event::Emitted {
					who: who.clone(),
					amount,
				});
			}
		}
		T::WeightInfo::emit(authorities.len() as u32)
	}
}

impl<T: Config> Pallet<T> {
	/// Checks the pallet's invariant: everything emitted was earned by someone, so the
	/// lifetime earnings add up to at least the total emission.
	#[cfg(any(test, feature = "try-runtime"))]
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		let earned = LifetimeEarnings::<T>::iter_values()
			.fold(BalanceOf::<T>::zero(), |t, e| t.saturating_add(e));
		ensure!(
			earned >= TotalEmitted::<T>::get(),
			"more was emitted than anyone earned"
		);
		Ok(())
	}
}

impl<T: Config> RoundRewards<T::AccountId, BalanceOf<T>> for Pallet<T> {
	fn reward_round(
		task: TaskId,
		round: RoundIndex,
		budget: RoundBudget<BalanceOf<T>>,
		outcome: &RoundOutcome<T::AccountId>,
	) -> Weight {
		Self::do_reward(task, round, budget, outcome);
		T::WeightInfo::reward_round(outcome.miners.len() as u32, outcome.validators.len() as u32)
	}
	fn max_weight() -> Weight {
		T::WeightInfo::reward_round(T::MaxMiners::get(), T::MaxValidators::get())
	}
}
