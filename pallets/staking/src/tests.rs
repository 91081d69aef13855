//! Tests of the staking pallet: every call's success and every error, slashing, the election,
//! and hold accounting against pallet-balances at every step.

use crate::{
	mock::*, Authorities, ChallengeKeys, Endpoints, Error, Event, Ledger, Participation, Role,
	TotalBonded, Unsettled, Validators,
};
use frame_support::{
	assert_noop, assert_ok,
	traits::{fungible::Inspect, fungible::InspectHold, Hooks},
};
use pallet_session::SessionManager;
use pol_primitives::{ScorerSet, SettlementLock, Slash, StakeInfo};
use sp_runtime::{BuildStorage, Perbill};

fn hold_of(who: AccountId) -> Balance {
	Balances::balance_on_hold(&crate::HoldReason::Staking.into(), &who)
}

/// The account's hold equals its ledger's total, and its free balance is what it started with
/// less what is held, less `spent` (slashed).
fn assert_books(who: AccountId, spent: Balance) {
	let total = Ledger::<Test>::get(who).map(|l| l.total()).unwrap_or(0);
	assert_eq!(hold_of(who), total, "hold of {who} matches its ledger");
	assert_eq!(
		Balances::free_balance(who) + hold_of(who) + spent,
		100_000,
		"funds of {who} add up"
	);
	Staking::do_try_state().unwrap();
}

fn bond(who: AccountId, role: Role, amount: Balance) {
	assert_ok!(Staking::bond(RuntimeOrigin::signed(who), role, amount));
}

fn run_to(n: u64) {
	System::set_block_number(n);
}

#[test]
fn integrity_test_passes() {
	test(|| <Staking as Hooks<u64>>::integrity_test());
}

#[test]
fn bond_holds_funds_and_records_the_ledger() {
	test(|| {
		bond(1, Role::Miner, 500);
		bond(2, Role::Validator, 2_000);
		assert_books(1, 0);
		assert_books(2, 0);
		assert_eq!(Ledger::<Test>::get(1).unwrap().role, Role::Miner);
		assert_eq!(Ledger::<Test>::get(2).unwrap().active, 2_000);
		assert_eq!(TotalBonded::<Test>::get(), 2_500);
		assert!(!Validators::<Test>::contains_key(1));
		assert!(Validators::<Test>::contains_key(2));
		assert_eq!(
			staking_events(),
			vec![
				Event::Bonded {
					who: 1,
					role: Role::Miner,
					amount: 500
				},
				Event::Bonded {
					who: 2,
					role: Role::Validator,
					amount: 2_000
				},
			]
		);
	});
}

#[test]
fn bond_errors() {
	test(|| {
		assert_noop!(
			Staking::bond(RuntimeOrigin::signed(1), Role::Miner, MIN_MINER - 1),
			Error::<Test>::BelowMinimumBond
		);
		assert_noop!(
			Staking::bond(RuntimeOrigin::signed(1), Role::Validator, MIN_VALIDATOR - 1),
			Error::<Test>::BelowMinimumBond
		);
		assert_noop!(
			Staking::bond(RuntimeOrigin::signed(1), Role::Miner, 0),
			Error::<Test>::BelowMinimumBond
		);
		// The whole balance cannot be held: the account must keep the existential deposit.
		assert_noop!(
			Staking::bond(RuntimeOrigin::signed(1), Role::Miner, 100_001),
			Error::<Test>::InsufficientBalance
		);
		bond(1, Role::Miner, 500);
		assert_noop!(
			Staking::bond(RuntimeOrigin::signed(1), Role::Miner, 500),
			Error::<Test>::AlreadyBonded
		);
		// Changing role needs a full unbond first.
		assert_noop!(
			Staking::bond(RuntimeOrigin::signed(1), Role::Validator, 5_000),
			Error::<Test>::AlreadyBonded
		);
		assert_noop!(
			Staking::bond(RuntimeOrigin::none(), Role::Miner, 500),
			sp_runtime::DispatchError::BadOrigin
		);
		assert_books(1, 0);
	});
}

#[test]
fn too_many_validators() {
	test(|| {
		for v in 1..=MAX_VALIDATORS as u64 {
			bond(v, Role::Validator, MIN_VALIDATOR);
		}
		// No stronger than the weakest: refused.
		assert_noop!(
			Staking::bond(RuntimeOrigin::signed(15), Role::Validator, MIN_VALIDATOR),
			Error::<Test>::TooManyValidators
		);
		// Miners are not limited by it.
		bond(15, Role::Miner, MIN_MINER);
		// A chilled validator frees a place, and cannot come back while it is taken by one
		// as strong.
		assert_ok!(Staking::chill(RuntimeOrigin::signed(1)));
		bond(16, Role::Validator, MIN_VALIDATOR);
		assert_noop!(
			Staking::resume(RuntimeOrigin::signed(1)),
			Error::<Test>::TooManyValidators
		);
	});
}

#[test]
fn bond_extra_adds_to_the_active_bond() {
	test(|| {
		assert_noop!(
			Staking::bond_extra(RuntimeOrigin::signed(1), 10),
			Error::<Test>::NotBonded
		);
		bond(1, Role::Miner, 500);
		assert_noop!(
			Staking::bond_extra(RuntimeOrigin::signed(1), 0),
			Error::<Test>::ZeroAmount
		);
		assert_noop!(
			Staking::bond_extra(RuntimeOrigin::signed(1), 99_500),
			Error::<Test>::InsufficientBalance
		);
		assert_ok!(Staking::bond_extra(RuntimeOrigin::signed(1), 250));
		assert_eq!(Ledger::<Test>::get(1).unwrap().active, 750);
		assert_books(1, 0);
		assert_eq!(
			staking_events().last(),
			Some(&Event::BondedExtra {
				who: 1,
				amount: 250
			})
		);
	});
}

#[test]
fn unbond_moves_funds_into_chunks() {
	test(|| {
		bond(2, Role::Validator, 5_000);
		assert_ok!(Staking::unbond(RuntimeOrigin::signed(2), 1_000));
		// A second unbond in the same block joins the same chunk.
		assert_ok!(Staking::unbond(RuntimeOrigin::signed(2), 500));
		let l = Ledger::<Test>::get(2).unwrap();
		assert_eq!(l.active, 3_500);
		assert_eq!(l.unlocking.len(), 1);
		assert_eq!(l.unlocking[0].value, 1_500);
		assert_eq!(l.unlocking[0].unlock_at, 1 + UNBONDING);
		// Unlocking funds stay held.
		assert_books(2, 0);
		assert_eq!(Staking::stake_of(&2), 3_500);
		assert!(Validators::<Test>::contains_key(2));
		assert_eq!(
			staking_events().last(),
			Some(&Event::Unbonded {
				who: 2,
				amount: 500,
				unlock_at: 11
			})
		);
	});
}

#[test]
fn unbond_errors() {
	test(|| {
		assert_noop!(
			Staking::unbond(RuntimeOrigin::signed(2), 1),
			Error::<Test>::NotBonded
		);
		bond(2, Role::Validator, 5_000);
		assert_noop!(
			Staking::unbond(RuntimeOrigin::signed(2), 0),
			Error::<Test>::ZeroAmount
		);
		assert_noop!(
			Staking::unbond(RuntimeOrigin::signed(2), 5_001),
			Error::<Test>::InsufficientActiveBond
		);
		// What stays must be zero or at least the minimum.
		assert_noop!(
			Staking::unbond(RuntimeOrigin::signed(2), 5_000 - MIN_VALIDATOR + 1),
			Error::<Test>::BelowMinimumBond
		);
		for n in 0..MAX_CHUNKS as u64 {
			run_to(2 + n);
			assert_ok!(Staking::unbond(RuntimeOrigin::signed(2), 100));
		}
		run_to(10);
		assert_noop!(
			Staking::unbond(RuntimeOrigin::signed(2), 100),
			Error::<Test>::NoMoreChunks
		);
		assert_books(2, 0);
	});
}

#[test]
fn unbonding_everything_stops_taking_part() {
	test(|| {
		bond(2, Role::Validator, 5_000);
		assert!(Staking::is_active(&2, Role::Validator));
		assert_ok!(Staking::unbond(RuntimeOrigin::signed(2), 5_000));
		let l = Ledger::<Test>::get(2).unwrap();
		assert_eq!(l.participation, Participation::Chilled);
		assert!(!Validators::<Test>::contains_key(2));
		assert!(!Staking::is_active(&2, Role::Validator));
		assert_books(2, 0);
	});
}

#[test]
fn withdraw_unbonded_releases_ripe_chunks_only() {
	test(|| {
		bond(1, Role::Miner, 1_000);
		assert_ok!(Staking::unbond(RuntimeOrigin::signed(1), 200));
		run_to(5);
		assert_ok!(Staking::unbond(RuntimeOrigin::signed(1), 300));
		assert_noop!(
			Staking::withdraw_unbonded(RuntimeOrigin::signed(1)),
			Error::<Test>::NothingToWithdraw
		);
		run_to(1 + UNBONDING);
		assert_ok!(Staking::withdraw_unbonded(RuntimeOrigin::signed(1)));
		assert_eq!(hold_of(1), 800);
		assert_eq!(Ledger::<Test>::get(1).unwrap().unlocking.len(), 1);
		assert_books(1, 0);
		assert_eq!(
			staking_events().last(),
			Some(&Event::Withdrawn {
				who: 1,
				amount: 200
			})
		);
		run_to(5 + UNBONDING);
		assert_ok!(Staking::withdraw_unbonded(RuntimeOrigin::signed(1)));
		assert_eq!(hold_of(1), 500);
		assert_books(1, 0);
		assert_noop!(
			Staking::withdraw_unbonded(RuntimeOrigin::signed(9)),
			Error::<Test>::NotBonded
		);
	});
}

#[test]
fn full_withdrawal_removes_the_staker_and_frees_the_role() {
	test(|| {
		bond(1, Role::Miner, 1_000);
		assert_ok!(Staking::set_endpoint(
			RuntimeOrigin::signed(1),
			b"http://10.0.0.1:8700".to_vec()
		));
		assert_ok!(Staking::unbond(RuntimeOrigin::signed(1), 1_000));
		run_to(1 + UNBONDING);
		assert_ok!(Staking::withdraw_unbonded(RuntimeOrigin::signed(1)));
		assert!(Ledger::<Test>::get(1).is_none());
		assert!(Endpoints::<Test>::get(1).is_none());
		assert_eq!(Balances::free_balance(1), 100_000);
		assert_eq!(
			staking_events().last(),
			Some(&Event::StakerRemoved { who: 1 })
		);
		// Now it may bond in the other role.
		bond(1, Role::Validator, 2_000);
		assert_books(1, 0);
	});
}

#[test]
fn chill_and_resume() {
	test(|| {
		assert_noop!(
			Staking::chill(RuntimeOrigin::signed(2)),
			Error::<Test>::NotBonded
		);
		assert_noop!(
			Staking::resume(RuntimeOrigin::signed(2)),
			Error::<Test>::NotBonded
		);
		bond(2, Role::Validator, 2_000);
		assert_noop!(
			Staking::resume(RuntimeOrigin::signed(2)),
			Error::<Test>::NotChilled
		);
		assert_ok!(Staking::chill(RuntimeOrigin::signed(2)));
		assert_noop!(
			Staking::chill(RuntimeOrigin::signed(2)),
			Error::<Test>::AlreadyChilled
		);
		assert!(!Validators::<Test>::contains_key(2));
		assert!(!Staking::is_active(&2, Role::Validator));
		// The bond stays.
		assert_eq!(Staking::stake_of(&2), 2_000);
		assert_books(2, 0);
		assert_ok!(Staking::resume(RuntimeOrigin::signed(2)));
		assert!(Validators::<Test>::contains_key(2));
		assert_eq!(
			staking_events()[1..],
			[Event::Chilled { who: 2 }, Event::Resumed { who: 2 }]
		);
	});
}

#[test]
fn a_challenge_key_needs_a_bond_and_goes_with_it() {
	test(|| {
		assert_noop!(
			Staking::set_challenge_key(RuntimeOrigin::signed(1), [7; 32]),
			Error::<Test>::NotBonded
		);
		bond(1, Role::Validator, 2_000);
		assert_ok!(Staking::set_challenge_key(
			RuntimeOrigin::signed(1),
			[7; 32]
		));
		assert_eq!(ChallengeKeys::<Test>::get(1), Some([7; 32]));
		assert_eq!(
			staking_events().last(),
			Some(&Event::ChallengeKeySet {
				who: 1,
				key: [7; 32]
			})
		);
		// Another key replaces it.
		assert_ok!(Staking::set_challenge_key(
			RuntimeOrigin::signed(1),
			[8; 32]
		));
		assert_eq!(ChallengeKeys::<Test>::get(1), Some([8; 32]));
		// Unbonding keeps it (the account may still score rounds it was elected for); the
		// final withdrawal removes it with the ledger.
		assert_ok!(Staking::unbond(RuntimeOrigin::signed(1), 2_000));
		assert_eq!(ChallengeKeys::<Test>::get(1), Some([8; 32]));
		run_to(1 + UNBONDING);
		assert_ok!(Staking::withdraw_unbonded(RuntimeOrigin::signed(1)));
		assert_eq!(ChallengeKeys::<Test>::get(1), None);
	});
}

#[test]
fn set_endpoint_accepts_http_urls_only() {
	test(|| {
		assert_noop!(
			Staking::set_endpoint(RuntimeOrigin::signed(1), b"http://a.b".to_vec()),
			Error::<Test>::NotBonded
		);
		bond(1, Role::Miner, 500);
		for good in [
			&b"http://127.0.0.1:8700"[..],
			b"https://miner.example.org/v1/",
			b"http://[::1]:8700/artifacts",
			b"https://host",
		] {
			assert_ok!(Staking::set_endpoint(
				RuntimeOrigin::signed(1),
				good.to_vec()
			));
			assert_eq!(Endpoints::<Test>::get(1).unwrap().to_vec(), good.to_vec());
		}
		for bad in [
			&b"ftp://host/x"[..],
			b"http://",
			b"http:///path",
			b"host:8700",
			b"http://host:port",
			b"http://host:123456",
			b"http://user@host",
			b"http://ho st",
			b"http://host/\n",
			b"",
		] {
			assert_noop!(
				Staking::set_endpoint(RuntimeOrigin::signed(1), bad.to_vec()),
				Error::<Test>::InvalidEndpoint
			);
		}
		let long = [b"https://".to_vec(), vec![b'a'; 57]].concat();
		assert_noop!(
			Staking::set_endpoint(RuntimeOrigin::signed(1), long),
			Error::<Test>::EndpointTooLong
		);
		let event = staking_events()
			.into_iter()
			.rev()
			.find(|e| matches!(e, Event::EndpointSet { .. }));
		assert_eq!(
			event,
			Some(Event::EndpointSet {
				who: 1,
				endpoint: b"https://host".to_vec()
			})
		);
	});
}

#[test]
fn slash_takes_active_then_latest_chunks_and_pays_the_treasury() {
	test(|| {
		bond(2, Role::Validator, 5_000);
		assert_ok!(Staking::unbond(RuntimeOrigin::signed(2), 1_000));
		run_to(3);
		assert_ok!(Staking::unbond(RuntimeOrigin::signed(2), 1_000));
		// active 3_000, chunks [1_000 @11, 1_000 @13]
		let treasury = Balances::free_balance(TreasuryAccount::get());
		assert_eq!(Staking::slash_amount(&2, 3_500), 3_500);
		let l = Ledger::<Test>::get(2).unwrap();
		assert_eq!(l.active, 0);
		assert_eq!(l.unlocking.len(), 2);
		assert_eq!(
			l.unlocking[1].value, 500,
			"the chunk that unlocks last pays first"
		);
		assert_eq!(l.unlocking[0].value, 1_000);
		assert_eq!(
			Balances::free_balance(TreasuryAccount::get()),
			treasury + 3_500
		);
		assert_books(2, 3_500);
		// Slashed below the minimum: no longer a candidate.
		assert!(!Validators::<Test>::contains_key(2));
		assert_eq!(
			staking_events().last(),
			Some(&Event::Slashed {
				who: 2,
				amount: 3_500,
				requested: 3_500
			})
		);
	});
}

#[test]
fn slashing_more_than_is_held_slashes_what_there_is() {
	test(|| {
		bond(1, Role::Miner, 1_000);
		assert_ok!(Staking::unbond(RuntimeOrigin::signed(1), 400));
		let treasury = Balances::free_balance(TreasuryAccount::get());
		assert_eq!(Staking::slash_amount(&1, 50_000), 1_000);
		assert!(
			Ledger::<Test>::get(1).is_none(),
			"nothing left: the staker is gone"
		);
		assert_eq!(
			Balances::free_balance(TreasuryAccount::get()),
			treasury + 1_000
		);
		assert_books(1, 1_000);
		let events = staking_events();
		assert!(events.contains(&Event::Slashed {
			who: 1,
			amount: 1_000,
			requested: 50_000
		}));
		assert!(events.contains(&Event::StakerRemoved { who: 1 }));
		// An account with nothing bonded: nothing slashed, no event, no failure.
		assert_eq!(Staking::slash_amount(&7, 100), 0);
		assert_eq!(Staking::slash_fraction(&7, Perbill::from_percent(50)), 0);
		assert!(staking_events().is_empty());
	});
}

#[test]
fn slash_fraction_applies_to_active_and_unlocking() {
	test(|| {
		bond(1, Role::Miner, 1_000);
		assert_ok!(Staking::unbond(RuntimeOrigin::signed(1), 600));
		assert_eq!(Staking::slash_fraction(&1, Perbill::from_percent(10)), 100);
		let l = Ledger::<Test>::get(1).unwrap();
		assert_eq!(l.active, 300);
		assert_eq!(l.unlocking[0].value, 600);
		assert_books(1, 100);
		// Still at least the miner minimum: still active.
		assert!(Staking::is_active(&1, Role::Miner));
		assert_eq!(Staking::slash_fraction(&1, Perbill::from_percent(80)), 720);
		assert!(!Staking::is_active(&1, Role::Miner));
		assert_noop!(
			Staking::resume(RuntimeOrigin::signed(1)),
			Error::<Test>::BelowMinimumBond
		);
		assert_books(1, 820);
	});
}

#[test]
fn stake_info_reports_roles() {
	test(|| {
		bond(1, Role::Miner, 500);
		bond(2, Role::Validator, 2_000);
		assert_eq!(Staking::role_of(&1), Some(Role::Miner));
		assert_eq!(Staking::role_of(&2), Some(Role::Validator));
		assert_eq!(Staking::role_of(&3), None);
		assert!(Staking::is_active(&1, Role::Miner));
		assert!(!Staking::is_active(&1, Role::Validator));
		assert_eq!(Staking::stake_of(&3), 0);
	});
}

fn validators(stakes: &[(AccountId, Balance)]) {
	for &(v, s) in stakes {
		bond(v, Role::Validator, s);
		set_keys(v);
	}
}

#[test]
fn election_orders_by_stake_times_trust() {
	test(|| {
		validators(&[(1, 1_000), (2, 4_000), (3, 3_000), (4, 2_000)]);
		set_trust(2, Perbill::from_percent(50)); // 2_000
		set_trust(3, Perbill::from_percent(90)); // 2_700
		let (set, candidates) = Staking::elect();
		assert_eq!(candidates, 4);
		assert_eq!(set.unwrap().to_vec(), vec![3, 2, 4]);
	});
}

#[test]
fn election_breaks_ties_by_account() {
	test(|| {
		validators(&[(5, 2_000), (3, 2_000), (4, 2_000), (9, 2_000)]);
		assert_eq!(Staking::elect().0.unwrap().to_vec(), vec![3, 4, 5]);
	});
}

#[test]
fn election_needs_session_keys_and_participation() {
	test(|| {
		validators(&[(1, 1_000), (2, 2_000)]);
		bond(3, Role::Validator, 9_000); // no keys
		bond(4, Role::Validator, 8_000);
		set_keys(4);
		assert_ok!(Staking::chill(RuntimeOrigin::signed(4)));
		bond(5, Role::Miner, 9_000); // miners never stand
		set_keys(5);
		let (set, candidates) = Staking::elect();
		assert_eq!(candidates, 2);
		assert_eq!(set.unwrap().to_vec(), vec![2, 1]);
	});
}

#[test]
fn too_few_candidates_keep_the_previous_set() {
	test(|| {
		validators(&[(1, 1_000), (2, 2_000)]);
		assert_eq!(Staking::new_session(2), Some(vec![2, 1]));
		assert_eq!(Authorities::<Test>::get().to_vec(), vec![2, 1]);
		assert_eq!(
			staking_events().last(),
			Some(&Event::AuthoritiesElected {
				session: 2,
				authorities: vec![2, 1],
				candidates: 2
			})
		);
		assert_ok!(Staking::chill(RuntimeOrigin::signed(1)));
		// One candidate is fewer than MinAuthorities (2): no change.
		assert_eq!(Staking::new_session(3), None);
		assert_eq!(Authorities::<Test>::get().to_vec(), vec![2, 1]);
		assert_eq!(
			staking_events().last(),
			Some(&Event::ElectionSkipped {
				session: 3,
				candidates: 1
			})
		);
	});
}

#[test]
fn genesis_bonds_the_initial_stakers() {
	let mut t = frame_system::GenesisConfig::<Test>::default()
		.build_storage()
		.unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: vec![(1, 100_000), (2, 100_000)],
		..Default::default()
	}
	.assimilate_storage(&mut t)
	.unwrap();
	crate::GenesisConfig::<Test> {
		stakers: vec![(1, Role::Validator, 5_000), (2, Role::Miner, 700)],
		min_authorities: Some(1),
	}
	.assimilate_storage(&mut t)
	.unwrap();
	sp_io::TestExternalities::new(t).execute_with(|| {
		assert_eq!(Staking::stake_of(&1), 5_000);
		assert_eq!(Staking::role_of(&2), Some(Role::Miner));
		assert!(Validators::<Test>::contains_key(1));
		assert_eq!(TotalBonded::<Test>::get(), 5_700);
		assert_eq!(Balances::total_balance(&1), 100_000);
		assert_eq!(crate::MinAuthorities::<Test>::get(), 1);
		Staking::do_try_state().unwrap();
	});
}

#[test]
fn try_state_catches_a_broken_ledger() {
	test(|| {
		bond(1, Role::Miner, 500);
		Ledger::<Test>::mutate(1, |l| l.as_mut().unwrap().active = 400);
		assert!(Staking::do_try_state().is_err());
		Ledger::<Test>::mutate(1, |l| l.as_mut().unwrap().active = 500);
	});
}

// Attacks on staking (issue 15).

#[test]
fn candidate_squatting_a_stronger_validator_displaces_the_weakest() {
	test(|| {
		// A cartel of minimum-bond validators fills every candidate slot first.
		for v in 1..=MAX_VALIDATORS as u64 {
			bond(v, Role::Validator, MIN_VALIDATOR);
		}
		set_trust(3, Perbill::from_percent(50));
		// A stronger newcomer takes the place of the weakest (3: half trust).
		bond(15, Role::Validator, 2 * MIN_VALIDATOR);
		assert!(staking_events().contains(&Event::ValidatorDisplaced { who: 3, by: 15 }));
		assert!(Validators::<Test>::contains_key(15));
		assert!(!Validators::<Test>::contains_key(3));
		assert_eq!(
			Ledger::<Test>::get(3).unwrap().participation,
			Participation::Chilled
		);
		assert_eq!(Validators::<Test>::count(), MAX_VALIDATORS);
		// Among equals the higher account goes; a resume that is stronger displaces too.
		assert_ok!(Staking::bond_extra(
			RuntimeOrigin::signed(3),
			5 * MIN_VALIDATOR
		));
		set_trust(3, Perbill::one());
		assert_ok!(Staking::resume(RuntimeOrigin::signed(3)));
		assert!(staking_events().contains(&Event::ValidatorDisplaced { who: 8, by: 3 }));
	});
}

#[test]
fn slash_escape_unbonded_funds_stay_until_the_round_settles() {
	test(|| {
		bond(1, Role::Miner, 1_000);
		// The miner committed in a round, then unbonds everything at once.
		<Staking as SettlementLock<_>>::lock(&1);
		assert_ok!(Staking::unbond(RuntimeOrigin::signed(1), 1_000));
		run_to(1 + UNBONDING);
		assert_noop!(
			Staking::withdraw_unbonded(RuntimeOrigin::signed(1)),
			Error::<Test>::UnsettledRounds
		);
		// The round settles with a dispute upheld: the unlocking funds are slashed.
		assert_eq!(
			<Staking as Slash<_, _>>::slash_fraction(&1, Perbill::from_percent(10)),
			100
		);
		<Staking as SettlementLock<_>>::unlock(&1);
		assert_eq!(Unsettled::<Test>::get(1), 0);
		assert_ok!(Staking::withdraw_unbonded(RuntimeOrigin::signed(1)));
		assert_books(1, 100);
	});
}

#[test]
fn the_elected_authorities_are_the_scorers_with_their_stake_frozen() {
	test(|| {
		validators(&[(1, 1_000), (2, 2_000), (3, 3_000), (4, 4_000)]);
		assert_eq!(Staking::new_session(2), Some(vec![4, 3, 2]));
		let mut scorers = <Staking as ScorerSet<_, _>>::scorers();
		scorers.sort();
		assert_eq!(scorers, vec![(2, 2_000), (3, 3_000), (4, 4_000)]);
		// Stake bonded later counts from the next election on.
		assert_ok!(Staking::bond_extra(RuntimeOrigin::signed(1), 9_000));
		assert!(<Staking as ScorerSet<_, _>>::scorers()
			.iter()
			.all(|(v, _)| *v != 1));
	});
}

#[test]
fn a_network_too_small_to_elect_still_has_scorers() {
	test(|| {
		// One candidate, fewer than MinAuthorities (2): the set stands, but rounds are scored.
		validators(&[(1, 1_000)]);
		assert_eq!(Staking::new_session(2), None);
		assert_eq!(<Staking as ScorerSet<_, _>>::scorers(), vec![(1, 1_000)]);
	});
}
