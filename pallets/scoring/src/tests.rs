//! Tests of validator scoring: commit-reveal, consensus, trust, disputes and the outcome.

use crate::{mock::*, Error, Event, *};
use frame_support::{assert_noop, assert_ok};
use pol_primitives::{OnRoundEnd, RevealedStake};

type Scoring = crate::Pallet<Test>;

const BUDGET: RoundBudget<Balance> = RoundBudget {
	total: 1_000,
	validator_share: Perbill::from_percent(20),
};

fn p(percent: u32) -> Perbill {
	Perbill::from_percent(percent)
}

fn entries(list: &[(AccountId, u32, Verdict)]) -> EntriesOf<Test> {
	list.iter()
		.map(|(miner, score, verdict)| ScoreEntry {
			miner: *miner,
			score: p(*score),
			verdict: *verdict,
		})
		.collect::<Vec<_>>()
		.try_into()
		.unwrap()
}

fn salt(who: AccountId) -> [u8; 32] {
	[who as u8; 32]
}

fn hash_of(who: AccountId, e: &EntriesOf<Test>) -> Hash {
	hashing::commit_hash_of(e, &hashing::account_bytes(&who), &salt(who))
}

/// Validator `who` commits (verify phase) and reveals (score-reveal phase) `e`.
fn score(who: AccountId, e: &EntriesOf<Test>) {
	set_phase(Phase::Verify);
	assert_ok!(Scoring::commit_scores(
		RuntimeOrigin::signed(who),
		0,
		0,
		hash_of(who, e)
	));
	set_phase(Phase::ScoreReveal);
	assert_ok!(Scoring::reveal_scores(
		RuntimeOrigin::signed(who),
		0,
		0,
		e.clone(),
		salt(who),
		challenge(who).0
	));
}

fn settle() -> RoundOutcome<AccountId> {
	set_phase(Phase::Finalize);
	<Scoring as OnRoundEnd<Balance>>::on_round_end(0, 0, BUDGET);
	outcomes().last().unwrap().1.clone()
}

#[test]
fn weighted_median_with_ties_and_even_counts() {
	let m = |v: &[(u32, u128)]| weighted_median(v.iter().map(|(s, w)| (p(*s), *w)).collect());
	assert_eq!(m(&[]), None);
	assert_eq!(m(&[(40, 0)]), None);
	assert_eq!(m(&[(40, 1)]), Some(p(40)));
	// Odd count, equal stake: the middle.
	assert_eq!(m(&[(90, 1), (10, 1), (50, 1)]), Some(p(50)));
	// Even count, equal stake: the lower middle (κ = ½ reached exactly there).
	assert_eq!(m(&[(20, 1), (40, 1), (60, 1), (80, 1)]), Some(p(40)));
	// Ties.
	assert_eq!(m(&[(30, 1), (30, 1), (70, 1)]), Some(p(30)));
	assert_eq!(m(&[(30, 1), (70, 1), (70, 1)]), Some(p(70)));
	// Stake, not heads: one heavy validator decides.
	assert_eq!(m(&[(10, 1), (20, 1), (90, 5)]), Some(p(90)));
}

#[test]
fn stake_below_half_cannot_move_consensus() {
	// Honest validators hold 51 of 100 and agree on 60%; the other 49 score anything.
	let mut seed = 7u64;
	for _ in 0..500 {
		let mut scores = vec![(p(60), 30u128), (p(60), 21)];
		let mut left = 49u128;
		while left > 0 {
			seed = seed
				.wrapping_mul(6364136223846793005)
				.wrapping_add(1442695040888963407);
			let stake = 1 + (seed >> 33) as u128 % left;
			let s = Perbill::from_parts(((seed >> 7) % 1_000_000_001) as u32);
			scores.push((s, stake));
			left -= stake;
		}
		assert_eq!(weighted_median(scores), Some(p(60)));
	}
}

#[test]
fn trust_penalises_deviation_both_ways() {
	assert_eq!(round_trust(&[]), None);
	assert_eq!(round_trust(&[(p(50), p(50))]), Some(p(100)));
	// Over-scoring and under-scoring by the same amount cost the same.
	assert_eq!(round_trust(&[(p(90), p(50))]), Some(p(60)));
	assert_eq!(round_trust(&[(p(10), p(50))]), Some(p(60)));
	// The mean over miners.
	assert_eq!(round_trust(&[(p(90), p(50)), (p(50), p(50))]), Some(p(80)));
	// Scores are Perbill: the worst is a full deviation, trust zero (never below).
	assert_eq!(round_trust(&[(p(100), p(0))]), Some(p(0)));
	assert_eq!(ema(p(50), p(100), p(20)), p(60));
	assert_eq!(ema(p(50), p(0), p(20)), p(40));
}

#[test]
fn commit_and_reveal_errors() {
	test(|| {
		set_miners(&[1, 2]);
		set_stake(10, 1_000);
		let e = entries(&[(1, 50, Verdict::Pass), (2, 60, Verdict::Pass)]);
		let h = hash_of(10, &e);
		assert_noop!(
			Scoring::commit_scores(RuntimeOrigin::signed(99), 0, 0, h),
			Error::<Test>::NotActiveValidator
		);
		assert_noop!(
			Scoring::commit_scores(RuntimeOrigin::signed(10), 0, 0, h),
			Error::<Test>::NotCurrentRound
		);
		set_phase(Phase::Reveal);
		assert_noop!(
			Scoring::commit_scores(RuntimeOrigin::signed(10), 0, 0, h),
			Error::<Test>::CommitNotOpen
		);
		set_phase(Phase::Verify);
		assert_ok!(Scoring::commit_scores(RuntimeOrigin::signed(10), 0, 0, h));
		assert_noop!(
			Scoring::commit_scores(RuntimeOrigin::signed(10), 0, 0, h),
			Error::<Test>::AlreadyCommitted
		);
		assert_noop!(
			Scoring::reveal_scores(
				RuntimeOrigin::signed(10),
				0,
				0,
				e.clone(),
				salt(10),
				challenge(10).0
			),
			Error::<Test>::RevealNotOpen
		);
		set_phase(Phase::ScoreReveal);
		assert_noop!(
			Scoring::commit_scores(RuntimeOrigin::signed(10), 0, 1, h),
			Error::<Test>::NotCurrentRound
		);
		set_stake(11, 1_000);
		assert_noop!(
			Scoring::commit_scores(RuntimeOrigin::signed(11), 0, 0, h),
			Error::<Test>::CommitPhaseOver
		);
		assert_noop!(
			Scoring::reveal_scores(
				RuntimeOrigin::signed(11),
				0,
				0,
				e.clone(),
				salt(11),
				challenge(11).0
			),
			Error::<Test>::NotCommitted
		);
		assert_noop!(
			Scoring::reveal_scores(
				RuntimeOrigin::signed(10),
				0,
				0,
				e.clone(),
				salt(11),
				challenge(10).0
			),
			Error::<Test>::CommitmentMismatch
		);
		assert_ok!(Scoring::reveal_scores(
			RuntimeOrigin::signed(10),
			0,
			0,
			e.clone(),
			salt(10),
			challenge(10).0
		));
		assert_noop!(
			Scoring::reveal_scores(
				RuntimeOrigin::signed(10),
				0,
				0,
				e.clone(),
				salt(10),
				challenge(10).0
			),
			Error::<Test>::AlreadyRevealed
		);
		assert_eq!(Scoring::revealed_stake(0, 0, &10), Some(1_000));
		assert_eq!(Scoring::total_revealed_stake(0, 0), 1_000);
		set_phase(Phase::Finalize);
		assert_noop!(
			Scoring::reveal_scores(
				RuntimeOrigin::signed(10),
				0,
				0,
				e,
				salt(10),
				challenge(10).0
			),
			Error::<Test>::RevealPhaseOver
		);
	});
}

#[test]
fn reveal_checks_entries() {
	test(|| {
		set_miners(&[1, 2]);
		let bad = |who: AccountId, e: EntriesOf<Test>, err: Error<Test>| {
			set_stake(who, 1_000);
			set_phase(Phase::Verify);
			assert_ok!(Scoring::commit_scores(
				RuntimeOrigin::signed(who),
				0,
				0,
				hash_of(who, &e)
			));
			set_phase(Phase::ScoreReveal);
			assert_noop!(
				Scoring::reveal_scores(
					RuntimeOrigin::signed(who),
					0,
					0,
					e,
					salt(who),
					challenge(who).0
				),
				err
			);
		};
		bad(
			10,
			entries(&[(2, 50, Verdict::Pass), (1, 50, Verdict::Pass)]),
			Error::UnsortedEntries,
		);
		bad(
			11,
			entries(&[(1, 50, Verdict::Pass), (1, 50, Verdict::Pass)]),
			Error::UnsortedEntries,
		);
		bad(
			12,
			entries(&[(1, 50, Verdict::Pass), (3, 50, Verdict::Pass)]),
			Error::MinerNotRevealed,
		);
		bad(
			13,
			entries(&[(1, 0, Verdict::Fail { segment: 5 })]),
			Error::InvalidSegment,
		);
		bad(
			14,
			entries(&[(1, 0, Verdict::Fail { segment: 0 })]),
			Error::InvalidSegment,
		);
	});
}

#[test]
fn scores_cannot_be_copied_before_reveal() {
	test(|| {
		set_miners(&[1]);
		set_stake(10, 1_000);
		set_stake(11, 1_000);
		let e = entries(&[(1, 70, Verdict::Pass)]);
		score(10, &e);
		// 11 saw 10's reveal and submits it under 10's commitment hash: the hash binds the
		// validator, and 11 had to commit in the verify phase, before 10 revealed.
		set_phase(Phase::ScoreReveal);
		assert_noop!(
			Scoring::commit_scores(RuntimeOrigin::signed(11), 0, 0, hash_of(10, &e)),
			Error::<Test>::CommitPhaseOver
		);
		assert_noop!(
			Scoring::reveal_scores(
				RuntimeOrigin::signed(11),
				0,
				0,
				e,
				salt(10),
				challenge(11).0
			),
			Error::<Test>::NotCommitted
		);
	});
}

#[test]
fn consensus_trust_and_outcome() {
	test(|| {
		set_miners(&[1, 2]);
		// 10 and 11 agree; 12 over-scores miner 1 and under-scores miner 2; 13 only commits.
		for (v, stake) in [(10, 400), (11, 300), (12, 300), (13, 100)] {
			set_stake(v, stake);
		}
		score(
			10,
			&entries(&[(1, 60, Verdict::Pass), (2, 40, Verdict::Pass)]),
		);
		score(
			11,
			&entries(&[(1, 60, Verdict::Pass), (2, 40, Verdict::Pass)]),
		);
		score(
			12,
			&entries(&[(1, 100, Verdict::Pass), (2, 0, Verdict::Pass)]),
		);
		set_phase(Phase::Verify);
		assert_ok!(Scoring::commit_scores(
			RuntimeOrigin::signed(13),
			0,
			0,
			[0; 32].into()
		));
		assert_eq!(Scoring::consensus(0, 0), vec![(1, p(60)), (2, p(40))]);
		scoring_events();
		let outcome = settle();
		assert_eq!(outcome.miners, vec![(1, p(60)), (2, p(40))]);
		// Weights are stake × round trust; 12 deviated by 40 points on each miner.
		let mut validators = outcome.validators.clone();
		validators.sort();
		assert_eq!(validators, vec![(10, 400), (11, 300), (12, 180)]);
		// Trust EMA (α = 20%) from the initial 50%.
		assert_eq!(Scoring::trust(&10), p(60));
		assert_eq!(Scoring::trust(&12), ema(p(50), p(60), p(20)));
		// Committed without revealing: the EMA takes a zero.
		assert_eq!(Scoring::trust(&13), p(40));
		assert_eq!(<Scoring as TrustProvider<AccountId>>::trust_of(&99), p(50));
		assert!(scoring_events().contains(&Event::TrustUpdated {
			task: 0,
			round: 0,
			validator: 13,
			round_trust: Perbill::zero(),
			trust: p(40)
		}));
		// The round's storage is gone.
		assert_eq!(Reveals::<Test>::iter().count(), 0);
		assert_eq!(ScoreCommits::<Test>::iter().count(), 0);
		assert_eq!(CommitCount::<Test>::iter().count(), 0);
		assert_eq!(Scoring::total_revealed_stake(0, 0), 0);
		assert_eq!(outcomes()[0].0, BUDGET);
	});
}

#[test]
fn a_segment_outside_the_accusers_challenges_is_refused() {
	// Attack: a validator whose hardware disagrees with an honest run on some segment (or
	// that wants a miner unpaid) accuses a segment it was never challenged with.
	test(|| {
		set_miners(&[1]);
		set_segments_per_check(2);
		set_stake(10, 1_000);
		let challenged = pol_primitives::hashing::challenge_segments(
			&challenge(10).1,
			&pol_primitives::hashing::account_bytes(&10u64),
			&pol_primitives::hashing::account_bytes(&1u64),
			4,
			2,
		);
		assert_eq!(challenged.len(), 2);
		assert_eq!(challenged[0], 4, "segment n is always challenged");
		let other = (1..=4).find(|s| !challenged.contains(s)).unwrap();
		for verdict in [
			Verdict::Fail { segment: other },
			Verdict::NotServed { segment: other },
		] {
			let e = entries(&[(1, 0, verdict)]);
			set_phase(Phase::Verify);
			assert_ok!(Scoring::commit_scores(
				RuntimeOrigin::signed(10),
				0,
				0,
				hash_of(10, &e)
			));
			set_phase(Phase::ScoreReveal);
			assert_noop!(
				Scoring::reveal_scores(
					RuntimeOrigin::signed(10),
					0,
					0,
					e,
					salt(10),
					challenge(10).0
				),
				Error::<Test>::SegmentNotChallenged
			);
			ScoreCommits::<Test>::remove((0, 0), 10);
			CommitCount::<Test>::remove((0, 0));
		}
		score(
			10,
			&entries(&[(
				1,
				0,
				Verdict::Fail {
					segment: challenged[1],
				},
			)]),
		);
		assert_eq!(
			Disputes::<Test>::get((0, 0), 1).unwrap().segment,
			challenged[1]
		);
	});
}

fn not_served_round(votes: &[(AccountId, Balance, bool)]) -> RoundOutcome<AccountId> {
	set_miners(&[1, 2]);
	set_stake(10, 1_000);
	set_stake(11, 1_000);
	score(
		10,
		&entries(&[
			(1, 0, Verdict::NotServed { segment: 4 }),
			(2, 50, Verdict::Pass),
		]),
	);
	score(
		11,
		&entries(&[(1, 50, Verdict::Pass), (2, 50, Verdict::Pass)]),
	);
	assert_eq!(
		Disputes::<Test>::get((0, 0), 1).unwrap().kind,
		DisputeKind::NotServed
	);
	set_phase(Phase::Finalize);
	for (v, stake, upheld) in votes {
		set_stake(*v, *stake);
		assert_ok!(Scoring::vote_dispute(
			RuntimeOrigin::signed(*v),
			0,
			0,
			1,
			*upheld
		));
	}
	settle()
}

#[test]
fn withholding_loses_like_a_failed_replay() {
	// The voters could not fetch the segment either: the miner is slashed and not paid.
	test(|| {
		let outcome = not_served_round(&[(20, 500, true), (21, 300, false)]);
		assert_eq!(slashes(), vec![(1, MINER_SLASH)]);
		assert_eq!(outcome.miners, vec![(2, p(50))]);
	});
}

#[test]
fn an_honest_not_served_report_is_never_slashed() {
	// The voters fetched the segment and it replays: the miner is paid, and the accuser, who
	// reported what it really could not get, keeps its stake.
	test(|| {
		let outcome = not_served_round(&[(20, 500, false), (21, 300, true)]);
		assert!(slashes().is_empty(), "{:?}", slashes());
		assert_eq!(outcome.miners, vec![(1, p(0)), (2, p(50))]);
		assert!(scoring_events().iter().any(|e| matches!(
			e,
			Event::DisputeResolved {
				outcome: DisputeOutcome::Rejected,
				offender: None,
				..
			}
		)));
	});
}

#[test]
fn a_replay_claim_replaces_a_not_served_one() {
	// Attack: an accomplice of the miner claims "not served" on an honest segment first (it
	// costs nothing), hoping to shield the segment an honest validator finds forged.
	test(|| {
		set_miners(&[1]);
		set_stake(10, 1_000);
		set_stake(11, 1_000);
		score(10, &entries(&[(1, 50, Verdict::NotServed { segment: 4 })]));
		set_stake(20, 100);
		set_phase(Phase::ScoreReveal);
		assert_ok!(Scoring::vote_dispute(
			RuntimeOrigin::signed(20),
			0,
			0,
			1,
			false
		));
		score(11, &entries(&[(1, 0, Verdict::Fail { segment: 2 })]));
		let d = Disputes::<Test>::get((0, 0), 1).unwrap();
		assert_eq!((d.accuser, d.segment, d.kind), (11, 2, DisputeKind::Replay));
		assert_eq!(
			(d.upheld, d.rejected),
			(0, 0),
			"votes on the old claim are void"
		);
		assert!(DisputeVotes::<Test>::get((0, 0, 1)).is_empty());
		// A second replay claim does not replace the first.
		set_stake(12, 1_000);
		score(12, &entries(&[(1, 0, Verdict::Fail { segment: 3 })]));
		assert_eq!(Disputes::<Test>::get((0, 0), 1).unwrap().accuser, 11);
	});
}

fn dispute_round(votes: &[(AccountId, Balance, bool)]) -> RoundOutcome<AccountId> {
	set_miners(&[1, 2]);
	set_stake(10, 1_000);
	// 10 accuses miner 1 over segment 3; 11 scores both as passing.
	set_stake(11, 1_000);
	score(
		10,
		&entries(&[(1, 0, Verdict::Fail { segment: 3 }), (2, 50, Verdict::Pass)]),
	);
	score(
		11,
		&entries(&[(1, 50, Verdict::Pass), (2, 50, Verdict::Pass)]),
	);
	assert!(Disputes::<Test>::contains_key((0, 0), 1));
	set_phase(Phase::Finalize);
	for (v, stake, upheld) in votes {
		set_stake(*v, *stake);
		assert_ok!(Scoring::vote_dispute(
			RuntimeOrigin::signed(*v),
			0,
			0,
			1,
			*upheld
		));
	}
	settle()
}

#[test]
fn upheld_dispute_slashes_the_miner() {
	test(|| {
		let outcome = dispute_round(&[(20, 500, true), (21, 300, false)]);
		assert_eq!(slashes(), vec![(1, MINER_SLASH)]);
		assert_eq!(outcome.miners, vec![(2, p(50))]);
		assert!(scoring_events().iter().any(|e| matches!(
			e,
			Event::DisputeResolved {
				outcome: DisputeOutcome::Upheld,
				offender: Some(1),
				..
			}
		)));
		assert_eq!(DisputeVotes::<Test>::iter().count(), 0);
		assert_eq!(Disputes::<Test>::iter().count(), 0);
	});
}

#[test]
fn rejected_dispute_slashes_the_accuser() {
	test(|| {
		let outcome = dispute_round(&[(20, 500, false), (21, 300, true)]);
		assert_eq!(slashes(), vec![(10, FALSE_ACCUSATION_SLASH)]);
		// The miner's segment replays: it is paid, at the consensus of both validators.
		assert_eq!(outcome.miners, vec![(1, p(0)), (2, p(50))]);
	});
}

#[test]
fn undecided_dispute_slashes_nobody_and_pays_nothing() {
	test(|| {
		let outcome = dispute_round(&[]);
		assert!(slashes().is_empty());
		assert_eq!(outcome.miners, vec![(2, p(50))]);
	});
	test(|| {
		// A tie is no decision either.
		let outcome = dispute_round(&[(20, 500, false), (21, 500, true)]);
		assert!(slashes().is_empty());
		assert_eq!(outcome.miners, vec![(2, p(50))]);
	});
}

#[test]
fn dispute_vote_errors() {
	test(|| {
		set_miners(&[1, 2]);
		set_stake(10, 1_000);
		set_stake(11, 1_000);
		score(10, &entries(&[(1, 0, Verdict::Fail { segment: 2 })]));
		assert_noop!(
			Scoring::vote_dispute(RuntimeOrigin::signed(10), 0, 0, 1, true),
			Error::<Test>::AccuserCannotVote
		);
		assert_noop!(
			Scoring::vote_dispute(RuntimeOrigin::signed(11), 0, 0, 2, true),
			Error::<Test>::NoDispute
		);
		assert_noop!(
			Scoring::vote_dispute(RuntimeOrigin::signed(99), 0, 0, 1, true),
			Error::<Test>::NotActiveValidator
		);
		assert_ok!(Scoring::vote_dispute(
			RuntimeOrigin::signed(11),
			0,
			0,
			1,
			true
		));
		assert_noop!(
			Scoring::vote_dispute(RuntimeOrigin::signed(11), 0, 0, 1, false),
			Error::<Test>::AlreadyVoted
		);
		set_phase(Phase::Verify);
		set_stake(12, 1_000);
		assert_noop!(
			Scoring::vote_dispute(RuntimeOrigin::signed(12), 0, 0, 1, true),
			Error::<Test>::VotingClosed
		);
	});
}

#[test]
fn too_many_scorers() {
	test(|| {
		set_miners(&[1]);
		set_phase(Phase::Verify);
		for v in 10..16 {
			set_stake(v, 100);
		}
		for v in 10..15 {
			assert_ok!(Scoring::commit_scores(
				RuntimeOrigin::signed(v),
				0,
				0,
				[1; 32].into()
			));
		}
		assert_noop!(
			Scoring::commit_scores(RuntimeOrigin::signed(15), 0, 0, [1; 32].into()),
			Error::<Test>::TooManyScorers
		);
	});
}

#[test]
fn trust_is_a_moving_average_across_rounds() {
	test(|| {
		set_miners(&[1]);
		set_stake(10, 600);
		set_stake(11, 400);
		// 10 scores with the consensus every round; 11 over-scores by 30 points.
		let (mut t10, mut t11) = (p(50), p(50));
		for _ in 0..5 {
			score(10, &entries(&[(1, 50, Verdict::Pass)]));
			score(11, &entries(&[(1, 80, Verdict::Pass)]));
			settle();
			t10 = ema(t10, p(100), p(20));
			t11 = ema(t11, p(70), p(20));
			assert_eq!(Scoring::trust(&10), t10);
			assert_eq!(Scoring::trust(&11), t11);
		}
		// Five rounds of agreement: 1 − ½ · 0.8⁵ ≈ 0.836. The deviating one tends to its round
		// trust of 0.7: 0.7 − 0.2 · 0.8⁵ ≈ 0.634.
		assert!(Scoring::trust(&10) > p(83) && Scoring::trust(&10) < p(84));
		assert!(Scoring::trust(&11) > p(63) && Scoring::trust(&11) < p(64));
		// 10 commits but does not reveal: its trust takes a zero.
		set_phase(Phase::Verify);
		assert_ok!(Scoring::commit_scores(
			RuntimeOrigin::signed(10),
			0,
			0,
			[3; 32].into()
		));
		score(11, &entries(&[(1, 80, Verdict::Pass)]));
		let outcome = settle();
		assert_eq!(Scoring::trust(&10), ema(t10, p(0), p(20)));
		// And is not paid: only 11 revealed.
		assert_eq!(outcome.validators, vec![(11, 400)]);
	});
}

#[test]
fn try_state_catches_inconsistent_reveals() {
	new_test_ext().execute_with(|| {
		set_miners(&[1]);
		set_stake(10, 600);
		score(10, &entries(&[(1, 50, Verdict::Pass)]));
		assert_ok!(Scoring::do_try_state());
		RevealedTotal::<Test>::insert((0, 0), 1);
		assert!(Scoring::do_try_state().is_err());
		RevealedTotal::<Test>::insert((0, 0), 600);
		CommitCount::<Test>::insert((0, 0), 2);
		assert!(Scoring::do_try_state().is_err());
		CommitCount::<Test>::insert((0, 0), 1);
		ScoreCommits::<Test>::remove((0, 0), 10);
		assert!(Scoring::do_try_state().is_err());
	});
}

#[test]
fn votes_on_a_dispute_are_bounded() {
	test(|| {
		set_miners(&[1]);
		set_stake(10, 1_000);
		score(10, &entries(&[(1, 0, Verdict::Fail { segment: 1 })]));
		// `MaxScorers` is 5 in the mock: the first five votes count.
		for v in 20..25 {
			set_stake(v, 100);
			assert_ok!(Scoring::vote_dispute(
				RuntimeOrigin::signed(v),
				0,
				0,
				1,
				true
			));
		}
		set_stake(25, 100);
		assert_noop!(
			Scoring::vote_dispute(RuntimeOrigin::signed(25), 0, 0, 1, false),
			Error::<Test>::TooManyVoters
		);
		assert_eq!(DisputeVotes::<Test>::get((0, 0, 1)).len(), 5);
		let outcome = settle();
		assert!(outcome.miners.is_empty());
		assert_eq!(slashes(), vec![(1, MINER_SLASH)]);
		assert_eq!(DisputeVotes::<Test>::iter().count(), 0);
	});
}

#[test]
fn a_challenge_proof_must_be_the_callers_over_the_rounds_seed() {
	// Attack: a validator that wants to choose its challenges (to spare an accomplice's forged
	// segment, or to accuse one of its choice) presents another key's proof, or a proof over a
	// seed of its choosing.
	test(|| {
		set_miners(&[1]);
		set_stake(10, 1_000);
		let e = entries(&[(1, 50, Verdict::Pass)]);
		set_phase(Phase::Verify);
		assert_ok!(Scoring::commit_scores(
			RuntimeOrigin::signed(10),
			0,
			0,
			hash_of(10, &e)
		));
		set_phase(Phase::ScoreReveal);
		let other_seed = pol_primitives::challenge::prove(&key(10), &[6; 32].into()).0;
		for proof in [challenge(11).0, other_seed] {
			assert_noop!(
				Scoring::reveal_scores(RuntimeOrigin::signed(10), 0, 0, e.clone(), salt(10), proof),
				Error::<Test>::BadChallengeProof
			);
		}
		assert_eq!(
			Scoring::challenges(0, 0, &10, &1),
			None,
			"nothing before the reveal"
		);
		assert_ok!(Scoring::reveal_scores(
			RuntimeOrigin::signed(10),
			0,
			0,
			e,
			salt(10),
			challenge(10).0
		));
		// After it, anyone can see which segments it had to replay.
		let (_, randomness) = challenge(10);
		assert_eq!(
			Scoring::challenges(0, 0, &10, &1),
			Some(pol_primitives::hashing::challenge_segments(
				&randomness,
				&pol_primitives::hashing::account_bytes(&10u64),
				&pol_primitives::hashing::account_bytes(&1u64),
				4,
				4
			))
		);
	});
}
