//! Tests of rewards: the split, conservation, failed payments, emission.

use crate::{mock::*, Event, *};
use frame_support::traits::Hooks;
use pol_primitives::{RoundBudget, RoundOutcome};
use proptest::prelude::*;
use sp_runtime::Perbill;

fn p(percent: u32) -> Perbill {
	Perbill::from_percent(percent)
}

fn free(who: AccountId) -> Balance {
	Balances::free_balance(who)
}

#[test]
fn split_rounds_down_and_never_overpays() {
	assert_eq!(split(100, &[1, 1, 1]), vec![33, 33, 33]);
	assert_eq!(split(100, &[]), Vec::<u128>::new());
	assert_eq!(split(100, &[0, 0]), vec![0, 0]);
	assert_eq!(split(10, &[3, 1]), vec![7, 2]);
	// Weights whose sum overflows: still never more than the total, to the unit.
	assert_eq!(split(u128::MAX, &[u128::MAX, 1]), vec![u128::MAX, 0]);
	assert_eq!(
		split(1_000, &[u128::MAX / 2, u128::MAX / 2, u128::MAX / 2]),
		vec![333, 333, 333]
	);
}

#[test]
fn round_pays_miners_by_score_and_validators_by_weight() {
	new_test_ext().execute_with(|| {
		set_budget(1_000);
		let outcome = RoundOutcome {
			miners: vec![(1, p(60)), (2, p(20))],
			validators: vec![(10, 300), (11, 100)],
		};
		let round_budget = RoundBudget {
			total: 1_000,
			validator_share: p(20),
		};
		let paid = Rewards::do_reward(0, 3, round_budget, &outcome);
		// Miners share 800 as 60:20; validators 200 as 300:100.
		assert_eq!(free(1), 1_000 + 600);
		assert_eq!(free(2), 1_000 + 200);
		assert_eq!(free(10), 1_000 + 150);
		assert_eq!(free(11), 1_000 + 50);
		assert_eq!(paid, 1_000);
		assert_eq!(budget(), 0);
		assert_eq!(LifetimeEarnings::<Test>::get(1), 600);
		let events = reward_events();
		assert!(events.contains(&Event::MinerRewarded {
			task: 0,
			round: 3,
			miner: 1,
			amount: 600
		}));
		assert!(events.contains(&Event::ValidatorRewarded {
			task: 0,
			round: 3,
			validator: 11,
			amount: 50
		}));
		assert_eq!(
			events.last(),
			Some(&Event::RoundRewarded {
				task: 0,
				round: 3,
				budget: 1_000,
				paid: 1_000,
				returned: 0
			})
		);
	});
}

#[test]
fn what_nobody_earned_stays_in_the_budget() {
	new_test_ext().execute_with(|| {
		set_budget(1_000);
		// No miner passed: the miners' part stays; one validator takes its whole part.
		let outcome = RoundOutcome {
			miners: vec![],
			validators: vec![(10, 5)],
		};
		let paid = Rewards::do_reward(
			0,
			0,
			RoundBudget {
				total: 1_000,
				validator_share: p(30),
			},
			&outcome,
		);
		assert_eq!(paid, 300);
		assert_eq!(budget(), 700);
	});
}

#[test]
fn a_payment_below_the_existential_deposit_stays_in_the_budget() {
	new_test_ext().execute_with(|| {
		set_budget(100);
		// Account 50 does not exist; 5 is below its existential deposit of 10.
		let outcome = RoundOutcome {
			miners: vec![(50, p(5)), (1, p(95))],
			validators: vec![],
		};
		let paid = Rewards::do_reward(
			0,
			0,
			RoundBudget {
				total: 100,
				validator_share: p(0),
			},
			&outcome,
		);
		assert_eq!(paid, 95);
		assert_eq!(budget(), 5);
		assert!(reward_events().contains(&Event::PaymentFailed {
			task: 0,
			round: 0,
			who: 50,
			amount: 5
		}));
	});
}

#[test]
fn emission_goes_to_authorities_by_stake() {
	new_test_ext().execute_with(|| {
		// Off: nothing is minted.
		set_authorities(&[(1, 300), (2, 100)]);
		let issuance = Balances::total_issuance();
		Rewards::on_initialize(2);
		assert_eq!(Balances::total_issuance(), issuance);
		set_emission(100);
		Rewards::on_initialize(3);
		assert_eq!(free(1), 1_000 + 75);
		assert_eq!(free(2), 1_000 + 25);
		assert_eq!(TotalEmitted::<Test>::get(), 100);
		assert_eq!(Balances::total_issuance(), issuance + 100);
		assert_eq!(LifetimeEarnings::<Test>::get(2), 25);
		assert!(reward_events().contains(&Event::Emitted { who: 1, amount: 75 }));
	});
}

proptest! {
	#![proptest_config(ProptestConfig::with_cases(200))]

	/// Paid + returned = the round's budget, to the unit, whatever the scores and weights.
	#[test]
	fn conservation(
		total in 0u128..10_000_000,
		share in 0u32..=1_000_000_000,
		miners in proptest::collection::vec(0u32..=1_000_000_000, 0..16),
		validators in proptest::collection::vec(0u128..1_000_000, 0..8),
	) {
		new_test_ext().execute_with(|| {
			set_budget(total);
			let outcome = RoundOutcome {
				miners: miners.iter().enumerate().map(|(i, s)| (100 + i as u64, Perbill::from_parts(*s))).collect(),
				validators: validators.iter().enumerate().map(|(i, w)| (200 + i as u64, *w)).collect(),
			};
			let before = free(POT);
			let paid = Rewards::do_reward(0, 0, RoundBudget { total, validator_share: Perbill::from_parts(share) }, &outcome);
			let received: u128 = (100..116).chain(200..208).map(free).sum();
			prop_assert_eq!(received, paid);
			prop_assert_eq!(before - free(POT), paid);
			prop_assert_eq!(paid + budget(), total);
			let returned = reward_events().into_iter().find_map(|e| match e {
				Event::RoundRewarded { returned, paid: p, .. } => Some((p, returned)),
				_ => None,
			});
			prop_assert_eq!(returned, Some((paid, total - paid)));
			Ok(())
		})?;
	}
}

#[test]
fn try_state_holds_after_emission_and_catches_unearned_emission() {
	new_test_ext().execute_with(|| {
		set_authorities(&[(1, 300), (2, 100)]);
		set_emission(100);
		Rewards::on_initialize(2);
		assert_eq!(TotalEmitted::<Test>::get(), 100);
		assert_eq!(Rewards::do_try_state(), Ok(()));
		TotalEmitted::<Test>::put(101);
		assert!(Rewards::do_try_state().is_err());
	});
}
