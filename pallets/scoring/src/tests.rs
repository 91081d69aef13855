//! Tests of validator scoring: commit-reveal, consensus, trust, disputes and the outcome.

use crate::{mock::*, Error, Event, *};
use frame_support::{assert_noop, assert_ok, pallet_prelude::DispatchResult};
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

fn segments(list: &[u32]) -> BoundedVec<u32, <Test as Config>::MaxScorers> {
	list.to_vec().try_into().unwrap()
}

/// `who`'s sealed vote on the dispute over `miner`, confirming `confirmed` (a segment `0` in
/// it stands for "not served to me either").
fn sealed(who: AccountId, miner: AccountId, confirmed: &[u32]) -> Hash {
	let (confirmed, not_served) = split(confirmed);
	hashing::vote_commit_hash(
		0,
		0,
		&hashing::account_bytes(&miner),
		&confirmed,
		not_served,
		&hashing::account_bytes(&who),
		&vote_salt(who),
	)
}

/// The segments of a test's vote and whether it says "not served" (segment `0`, which no claim
/// can name).
fn split(confirmed: &[u32]) -> (Vec<u32>, bool) {
	(
		confirmed.iter().copied().filter(|s| *s != 0).collect(),
		confirmed.contains(&0),
	)
}

/// `who` commits, in the vote-commit phase, a vote on `miner`'s dispute confirming `confirmed`.
fn commit_vote(who: AccountId, miner: AccountId, confirmed: &[u32]) -> DispatchResult {
	set_phase(Phase::VoteCommit);
	Scoring::commit_vote(
		RuntimeOrigin::signed(who),
		0,
		0,
		miner,
		sealed(who, miner, confirmed),
	)
}

/// `who` reveals, in the vote-reveal phase, its vote on `miner`'s dispute confirming
/// `confirmed`.
fn reveal_vote(who: AccountId, miner: AccountId, confirmed: &[u32]) -> DispatchResult {
	set_phase(Phase::VoteReveal);
	let (confirmed, not_served) = split(confirmed);
	Scoring::reveal_vote(
		RuntimeOrigin::signed(who),
		0,
		0,
		miner,
		segments(&confirmed),
		not_served,
		vote_salt(who),
	)
}

/// The segments `who` replays of miner 1's run of 4 segments, 2 per check.
fn draw_of_miner_1(who: AccountId) -> Vec<u32> {
	hashing::challenge_segments(
		&challenge(who).1,
		&hashing::account_bytes(&who),
		&hashing::account_bytes(&1u64),
		4,
		2,
	)
}

/// The dispute over `miner`'s tally: (upheld, rejected) stake.
fn tally(miner: AccountId) -> (u128, u128) {
	let t = Scoring::dispute_tally(0, 0, &miner).unwrap();
	(t.upheld, t.rejected)
}

/// Scorer `who` commits and reveals a vote on the dispute over `miner` that confirms
/// `confirmed` (upholds it when not empty).
fn vote_on(who: AccountId, miner: AccountId, confirmed: &[u32]) {
	assert_ok!(commit_vote(who, miner, confirmed));
	assert_ok!(reveal_vote(who, miner, confirmed));
}

/// Scorer `who` votes on the dispute over `miner`: `upheld`, confirming every segment another
/// scorer claimed (its own, when no other claimed one), or rejected.
fn vote(who: AccountId, miner: AccountId, upheld: bool) {
	let d = Disputes::<Test>::get((0, 0), miner).unwrap();
	let mut confirmed: Vec<u32> = if !upheld {
		Vec::new()
	} else if d.claims.iter().any(|c| c.accuser != who) {
		d.claims
			.iter()
			.filter(|c| c.accuser != who)
			.map(|c| c.segment)
			.collect()
	} else {
		d.claims.iter().map(|c| c.segment).collect()
	};
	confirmed.sort();
	confirmed.dedup();
	vote_on(who, miner, &confirmed);
}

/// `who` commits `e` and reveals it, refused entries and all; returns the events of the
/// reveal.
fn reveal_with_refusals(who: AccountId, e: &EntriesOf<Test>) -> Vec<Event<Test>> {
	set_phase(Phase::Verify);
	assert_ok!(Scoring::commit_scores(
		RuntimeOrigin::signed(who),
		0,
		0,
		hash_of(who, e)
	));
	set_phase(Phase::ScoreReveal);
	scoring_events();
	assert_ok!(Scoring::reveal_scores(
		RuntimeOrigin::signed(who),
		0,
		0,
		e.clone(),
		salt(who),
		challenge(who).0
	));
	scoring_events()
}

/// Settles a round whose disputes stay undecided: no miner is paid, nobody is slashed.
fn settle_undecided() {
	let outcome = settle();
	assert!(outcome.miners.is_empty(), "paid {:?}", outcome.miners);
	assert!(slashes().is_empty(), "slashed {:?}", slashes());
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
			// A new round for each validator, so that it is among the scorers.
			start_round();
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
	});
}

#[test]
fn a_bad_entry_is_refused_alone_and_the_rest_of_the_reveal_stands() {
	// Attack (a manifest-only miner): a fault planted where a validator could not see it made
	// the validator claim a segment it was not challenged with; the chain refused its whole
	// reveal, and it forfeited its deposit and was left out of the round. Now only the entry
	// goes.
	test(|| {
		set_miners(&[1, 2]);
		set_stake(10, 1_000);
		let refused = |events: &[Event<Test>]| -> Vec<(AccountId, EntryRefusal)> {
			events
				.iter()
				.filter_map(|e| match e {
					Event::EntryRefused { miner, reason, .. } => Some((*miner, *reason)),
					_ => None,
				})
				.collect()
		};
		let events = reveal_with_refusals(
			10,
			&entries(&[
				(1, 0, Verdict::Fail { segment: 5 }),
				(2, 60, Verdict::Pass),
				(3, 50, Verdict::Pass),
			]),
		);
		assert_eq!(
			refused(&events),
			vec![
				(1, EntryRefusal::InvalidSegment),
				(3, EntryRefusal::MinerNotRevealed)
			]
		);
		let kept: Vec<_> = Reveals::<Test>::get((0, 0), 10)
			.unwrap()
			.iter()
			.map(|e| e.miner)
			.collect();
		assert_eq!(kept, vec![2]);
		assert_eq!(Disputes::<Test>::iter().count(), 0);
		let outcome = settle();
		assert!(
			forfeits().is_empty(),
			"an honest reveal forfeited its deposit"
		);
		assert_eq!(outcome.miners, vec![(2, p(60))]);
		assert_eq!(outcome.validators, vec![(10, 1_000)]);
		// Segment 0 is no segment either.
		start_round();
		let events = reveal_with_refusals(10, &entries(&[(1, 0, Verdict::Fail { segment: 0 })]));
		assert_eq!(refused(&events), vec![(1, EntryRefusal::InvalidSegment)]);
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
		// Weights are stake × the miners scored, each weighted by agreement with consensus;
		// each scored two, and 12 deviated by 40 points on each.
		let mut validators = outcome.validators.clone();
		validators.sort();
		assert_eq!(validators, vec![(10, 800), (11, 600), (12, 360)]);
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
		set_miners(&[1, 2]);
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
			let events =
				reveal_with_refusals(10, &entries(&[(1, 0, verdict), (2, 50, Verdict::Pass)]));
			assert!(events.contains(&Event::EntryRefused {
				task: 0,
				round: 0,
				validator: 10,
				miner: 1,
				reason: EntryRefusal::SegmentNotChallenged,
			}));
			assert_eq!(
				Disputes::<Test>::iter().count(),
				0,
				"the claim opened a dispute"
			);
			assert_eq!(Reveals::<Test>::get((0, 0), 10).unwrap().len(), 1);
			settle();
			start_round();
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
			Disputes::<Test>::get((0, 0), 1).unwrap().claims[0].segment,
			challenged[1]
		);
	});
}

/// 10 claims miner 1's segment 4 was not served and passes miner 2; 11 passes both; each voter
/// reveals a pass of miner 2, and of miner 1 when it could fetch and replay it (it votes to
/// reject), then votes.
fn not_served_round(votes: &[(AccountId, Balance, bool)]) -> RoundOutcome<AccountId> {
	set_miners(&[1, 2]);
	set_stake(10, 1_000);
	set_stake(11, 1_000);
	for (v, stake, _) in votes {
		set_stake(*v, *stake);
	}
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
	for (v, _, upheld) in votes {
		let mut own = vec![(2, 50, Verdict::Pass)];
		if !upheld {
			own.insert(0, (1, 50, Verdict::Pass));
		}
		score(*v, &entries(&own));
	}
	assert_eq!(
		Disputes::<Test>::get((0, 0), 1).unwrap().claims[0].kind,
		DisputeKind::NotServed
	);
	for (v, _, upheld) in votes {
		vote(*v, 1, *upheld);
	}
	settle()
}

#[test]
fn withholding_loses_like_a_failed_replay() {
	// The voters could not fetch the segment either: the miner is slashed and not paid.
	test(|| {
		let outcome = not_served_round(&[(20, 3_000, true), (21, 300, false)]);
		assert_eq!(slashes(), vec![(1, MINER_SLASH)]);
		assert_eq!(outcome.miners, vec![(2, p(50))]);
		assert!(forfeits().is_empty());
	});
}

#[test]
fn an_honest_not_served_report_is_never_slashed() {
	// The voters fetched the segment and it replays: the miner is paid, and the accuser, who
	// reported what it really could not get (a framing miner may have served it alone corrupt
	// bytes), loses nothing.
	test(|| {
		let outcome = not_served_round(&[(20, 3_000, false), (21, 300, true)]);
		assert!(slashes().is_empty(), "{:?}", slashes());
		assert!(forfeits().is_empty(), "{:?}", forfeits());
		assert_eq!(outcome.miners, vec![(1, p(50)), (2, p(50))]);
		assert!(scoring_events().iter().any(|e| matches!(
			e,
			Event::DisputeResolved {
				outcome: DisputeOutcome::Rejected,
				offenders,
				..
			} if offenders.is_empty()
		)));
	});
}

#[test]
fn free_censorship_a_not_served_claim_the_majority_rejects_withholds_no_pay() {
	// Attack: a scorer claims "not served" against every miner to keep their updates out and
	// their pay withheld. The majority fetches and replays: every miner is judged and paid
	// (the claims judge nothing, so they do not move the consensus either).
	test(|| {
		set_miners(&[1, 2, 3]);
		set_stake(10, 100);
		set_stake(11, 1_000);
		let not_served = Verdict::NotServed { segment: 4 };
		score(
			10,
			&entries(&[(1, 0, not_served), (2, 0, not_served), (3, 0, not_served)]),
		);
		let pass = Verdict::Pass;
		score(11, &entries(&[(1, 50, pass), (2, 50, pass), (3, 50, pass)]));
		// Until a vote is cast, the claim's stake is all that speaks: it keeps the updates out.
		// The model is read once every vote is revealed.
		assert_eq!(Scoring::consensus(0, 0), vec![]);
		for miner in 1..=3 {
			vote(11, miner, false);
		}
		assert_eq!(
			Scoring::consensus(0, 0),
			vec![(1, p(50)), (2, p(50)), (3, p(50))]
		);
		let outcome = settle();
		assert_eq!(outcome.miners, vec![(1, p(50)), (2, p(50)), (3, p(50))]);
		assert!(slashes().is_empty());
	});
}

/// The accusers that `DisputeResolved` events of the round named as offenders.
fn offenders() -> Vec<AccountId> {
	scoring_events()
		.into_iter()
		.filter_map(|e| match e {
			Event::DisputeResolved { offenders, .. } => Some(offenders),
			_ => None,
		})
		.flatten()
		.map(|(who, _)| who)
		.collect()
}

#[test]
fn dispute_shield_a_free_not_served_claim_first_cannot_shield_a_forged_segment() {
	// Attack: an accomplice of the miner claims "not served" on an honest segment first, and
	// a voter rejects it at once, hoping the real accusation finds the dispute taken (or, later,
	// that a claim made late voids the votes already cast).
	test(|| {
		set_miners(&[1]);
		set_stake(10, 1_000);
		set_stake(11, 1_000);
		set_stake(12, 1_000);
		set_stake(20, 1_000);
		score(10, &entries(&[(1, 50, Verdict::NotServed { segment: 4 })]));
		// No vote before every claim is in: the vote window opens after the last claim.
		assert_noop!(
			Scoring::commit_vote(RuntimeOrigin::signed(20), 0, 0, 1, sealed(20, 1, &[])),
			Error::<Test>::VoteCommitClosed
		);
		score(11, &entries(&[(1, 0, Verdict::Fail { segment: 2 })]));
		score(12, &entries(&[(1, 0, Verdict::Fail { segment: 3 })]));
		let d = Disputes::<Test>::get((0, 0), 1).unwrap();
		let claims: Vec<_> = d
			.claims
			.iter()
			.map(|c| (c.accuser, c.segment, c.kind))
			.collect();
		assert_eq!(
			claims,
			vec![
				(10, 4, DisputeKind::NotServed),
				(11, 2, DisputeKind::Replay),
				(12, 3, DisputeKind::Replay)
			]
		);
		// Every voter covers every claim; the accusers confirm each other.
		for v in [20, 11, 12] {
			vote(v, 1, true);
		}
		assert_eq!(tally(1), (3_000, 0));
		let outcome = settle();
		assert!(outcome.miners.is_empty());
		assert_eq!(slashes(), vec![(1, MINER_SLASH)]);
	});
}

#[test]
fn dispute_shield_an_accomplice_sacrificing_a_false_replay_claim_cannot_shield_a_forged_segment() {
	// Attack: the accomplice claims that an honest segment fails, first, ready to lose a
	// `FalseAccusationSlash` if the miner keeps its pay; then it votes that everything
	// replays.
	test(|| {
		set_miners(&[1]);
		set_stake(10, 1_000);
		set_stake(11, 1_000);
		set_stake(20, 1_500);
		score(10, &entries(&[(1, 50, Verdict::Fail { segment: 4 })]));
		score(11, &entries(&[(1, 0, Verdict::Fail { segment: 2 })]));
		let claimed: Vec<_> = Disputes::<Test>::get((0, 0), 1)
			.unwrap()
			.claims
			.iter()
			.map(|c| c.segment)
			.collect();
		assert_eq!(claimed, vec![4, 2], "the honest claim was shut out");
		assert_ok!(commit_vote(10, 1, &[]));
		assert_noop!(reveal_vote(10, 1, &[]), Error::<Test>::AccuserCannotReject);
		// The voter and the honest accuser replay both claimed segments: segment 2 fails.
		vote(20, 1, true);
		vote(11, 1, true);
		let outcome = settle();
		assert!(outcome.miners.is_empty(), "the forged update was paid");
		assert_eq!(slashes(), vec![(1, MINER_SLASH)]);
		assert_eq!(offenders(), vec![1]);
	});
}

#[test]
fn a_forgery_every_scorer_finds_is_upheld_by_the_accusers_confirming_each_other() {
	test(|| {
		set_miners(&[1]);
		for v in [10, 11, 12] {
			set_stake(v, 1_000);
		}
		for (v, segment) in [(10, 1), (11, 2), (12, 3)] {
			score(v, &entries(&[(1, 0, Verdict::Fail { segment })]));
		}
		for v in [10, 11, 12] {
			vote(v, 1, true);
		}
		let outcome = settle();
		assert!(outcome.miners.is_empty());
		assert_eq!(slashes(), vec![(1, MINER_SLASH)]);
		// Each accuser is paid for its judgement, its upheld claim and its winning vote.
		let mut validators = outcome.validators;
		validators.sort();
		assert_eq!(validators, vec![(10, 3_000), (11, 3_000), (12, 3_000)]);
	});
}

/// What `v` was paid as a validator in `outcome`.
fn validator_pay(outcome: &RoundOutcome<AccountId>, v: AccountId) -> Balance {
	outcome
		.validators
		.iter()
		.find(|(w, _)| *w == v)
		.map_or(0, |(_, a)| *a)
}

#[test]
fn a_fail_decoy_beside_an_upheld_claim_earns_nothing() {
	// Attack (late review of session 16): a colluder claims a free `Fail` on a segment of the
	// forger's run that replays (a decoy, to use up the voters' time), and the dispute is upheld
	// on the honest accuser's evidence. Credited for riding it, the decoy would be paid as much
	// as the honest accuser; only accusers of a segment the voters confirmed earn the claim.
	test(|| {
		set_miners(&[1]);
		set_segments_per_check(2);
		set_stake(10, 1_000);
		set_stake(11, 100);
		set_stake(12, 1_000);
		set_stake(13, 1_000);
		let forged = draw_of_miner_1(10)[1];
		assert_ne!(forged, 4);
		score(10, &entries(&[(1, 0, Verdict::Fail { segment: forged })]));
		score(11, &entries(&[(1, 0, Verdict::Fail { segment: 4 })]));
		// The voters replay both claimed segments: only the forged one fails.
		vote_on(12, 1, &[forged]);
		vote_on(13, 1, &[forged]);
		let outcome = settle();
		assert_eq!(slashes(), vec![(1, MINER_SLASH)]);
		let pay = |v: AccountId| validator_pay(&outcome, v);
		// Pay weighs each credit by stake (10 holds ten times 11's): 10 earns its judgement
		// and its confirmed claim, 11 its judgement alone.
		assert!(pay(11) > 0);
		assert_eq!(pay(10), 2 * 10 * pay(11));
	});
}

#[test]
fn a_forger_withholding_from_the_voters_does_not_cost_the_honest_accuser_its_claim() {
	// The forger serves its forged segment's end to the accuser only and withholds it from the
	// voters: they uphold as not served, confirming no segment. The accuser still earns its
	// claim (and the forger is slashed).
	test(|| {
		set_miners(&[1]);
		set_stake(10, 1_000);
		set_stake(11, 1_000);
		set_stake(12, 1_000);
		score(10, &entries(&[(1, 0, Verdict::Fail { segment: 4 })]));
		score(11, &entries(&[(1, 0, Verdict::NotServed { segment: 4 })]));
		score(12, &entries(&[(1, 0, Verdict::NotServed { segment: 4 })]));
		// Segment 0: "not served to me either".
		for v in [10, 11, 12] {
			vote_on(v, 1, &[0]);
		}
		let outcome = settle();
		assert_eq!(slashes(), vec![(1, MINER_SLASH)]);
		let pay = |v: AccountId| validator_pay(&outcome, v);
		// 10: its judgement, its claim and its vote; 11 and 12: their vote (a `NotServed`
		// claim judges nothing and earns nothing).
		assert_eq!(pay(10), 3 * pay(11));
		assert_eq!(pay(11), pay(12));
	});
}

#[test]
fn dispute_frame_a_cartel_of_accusers_confirming_each_other_is_outvoted_and_each_slashed() {
	// Attack: two cartel accounts claim that honest segments of an honest miner fail and
	// confirm each other's claims.
	test(|| {
		set_miners(&[1]);
		set_stake(10, 100);
		set_stake(11, 100);
		set_stake(20, 1_000);
		score(10, &entries(&[(1, 0, Verdict::Fail { segment: 1 })]));
		score(11, &entries(&[(1, 0, Verdict::Fail { segment: 2 })]));
		score(20, &entries(&[(1, 50, Verdict::Pass)]));
		for (v, upheld) in [(10, true), (11, true), (20, false)] {
			vote(v, 1, upheld);
		}
		let outcome = settle();
		assert_eq!(outcome.miners, vec![(1, p(50))]);
		assert_eq!(
			slashes(),
			vec![(10, FALSE_ACCUSATION_SLASH), (11, FALSE_ACCUSATION_SLASH)]
		);
		assert_eq!(offenders(), vec![10, 11]);
	});
}

/// 10 accuses miner 1 over segment 3 and passes miner 2; 11 passes both; each voter reveals a
/// pass of miner 2, and of miner 1 when its replay of segment 3 matched (it votes to reject),
/// then votes.
fn dispute_round(votes: &[(AccountId, Balance, bool)]) -> RoundOutcome<AccountId> {
	set_miners(&[1, 2]);
	set_stake(10, 1_000);
	set_stake(11, 1_000);
	for (v, stake, _) in votes {
		set_stake(*v, *stake);
	}
	score(
		10,
		&entries(&[(1, 0, Verdict::Fail { segment: 3 }), (2, 50, Verdict::Pass)]),
	);
	score(
		11,
		&entries(&[(1, 50, Verdict::Pass), (2, 50, Verdict::Pass)]),
	);
	for (v, _, upheld) in votes {
		let mut own = vec![(2, 50, Verdict::Pass)];
		if !upheld {
			own.insert(0, (1, 50, Verdict::Pass));
		}
		score(*v, &entries(&own));
	}
	assert!(Disputes::<Test>::contains_key((0, 0), 1));
	for (v, _, upheld) in votes {
		vote(*v, 1, *upheld);
	}
	settle()
}

#[test]
fn upheld_dispute_slashes_the_miner() {
	test(|| {
		let outcome = dispute_round(&[(20, 3_000, true), (21, 300, false)]);
		assert_eq!(slashes(), vec![(1, MINER_SLASH)]);
		assert_eq!(outcome.miners, vec![(2, p(50))]);
		assert!(scoring_events().iter().any(|e| matches!(
			e,
			Event::DisputeResolved {
				outcome: DisputeOutcome::Upheld,
				offenders,
				..
			} if offenders.iter().map(|(who, _)| *who).eq([1])
		)));
		assert_eq!(DisputeVotes::<Test>::iter().count(), 0);
		assert_eq!(Disputes::<Test>::iter().count(), 0);
	});
}

#[test]
fn rejected_dispute_slashes_the_accuser() {
	test(|| {
		let outcome = dispute_round(&[(20, 3_000, false), (21, 300, true)]);
		assert_eq!(slashes(), vec![(10, FALSE_ACCUSATION_SLASH)]);
		// The miner's segment replays: it is paid, at the consensus of those that judged it.
		assert_eq!(outcome.miners, vec![(1, p(50)), (2, p(50))]);
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
fn a_dispute_is_decided_only_by_more_than_half_of_the_stake_eligible_to_vote() {
	// Attack (stalled voters): a forger stalls every honest voter's fetch of the claimed
	// segment; they stay away, and one colluding scorer's vote would decide the dispute by the
	// majority of the stake that voted. Now absent stake decides nothing.
	test(|| {
		// 10 accuses (1 000, a lone accuser: not eligible); of the 2 800 eligible, the
		// colluder's 300 rejects, and 22's 1 500 (stalled) stays away.
		set_stake(22, 1_500);
		let outcome = dispute_round(&[(21, 300, false)]);
		assert_eq!(
			Disputes::<Test>::iter().count(),
			0,
			"settled disputes are cleared"
		);
		assert!(slashes().is_empty());
		assert!(scoring_events().iter().any(|e| matches!(
			e,
			Event::DisputeResolved { outcome: DisputeOutcome::Undecided, eligible_stake, .. }
				if *eligible_stake == 2_800
		)));
		assert_eq!(outcome.miners, vec![(2, p(50))]);
	});
	test(|| {
		// The same with the colluder alone voting: undecided, the accuser keeps its bond.
		set_miners(&[1]);
		for v in [10, 11, 12] {
			set_stake(v, 1_000);
		}
		set_stake(20, 100);
		score(10, &entries(&[(1, 0, Verdict::Fail { segment: 4 })]));
		vote(20, 1, false);
		settle();
		assert!(slashes().is_empty(), "{:?}", slashes());
	});
	test(|| {
		// The other side: a cartel's false claim and its own vote to uphold, while the honest
		// voters are kept away, slash no honest miner.
		set_miners(&[1]);
		for v in [10, 11] {
			set_stake(v, 1_000);
		}
		set_stake(20, 100);
		set_stake(21, 100);
		score(20, &entries(&[(1, 0, Verdict::Fail { segment: 4 })]));
		score(21, &entries(&[(1, 0, Verdict::Fail { segment: 4 })]));
		vote(21, 1, true);
		settle();
		assert!(slashes().is_empty(), "{:?}", slashes());
	});
}

#[test]
fn dispute_vote_errors() {
	test(|| {
		set_miners(&[1, 2]);
		set_stake(10, 1_000);
		set_stake(11, 1_000);
		score(10, &entries(&[(1, 0, Verdict::Fail { segment: 2 })]));
		// Not before the vote-commit phase: every claim is in by then.
		set_phase(Phase::ScoreReveal);
		assert_noop!(
			Scoring::commit_vote(RuntimeOrigin::signed(11), 0, 0, 1, sealed(11, 1, &[2])),
			Error::<Test>::VoteCommitClosed
		);
		// A lone accuser never decides its own dispute.
		assert_noop!(commit_vote(10, 1, &[2]), Error::<Test>::NoOtherClaim);
		assert_noop!(commit_vote(11, 2, &[2]), Error::<Test>::NoDispute);
		assert_noop!(commit_vote(99, 1, &[2]), Error::<Test>::NotActiveValidator);
		// Revealed only in the vote-reveal phase, and only what was committed.
		assert_noop!(reveal_vote(11, 1, &[2]), Error::<Test>::VoteNotCommitted);
		assert_ok!(commit_vote(11, 1, &[2]));
		assert_noop!(commit_vote(11, 1, &[]), Error::<Test>::AlreadyVoted);
		assert_noop!(
			Scoring::reveal_vote(
				RuntimeOrigin::signed(11),
				0,
				0,
				1,
				segments(&[2]),
				false,
				vote_salt(11)
			),
			Error::<Test>::VoteRevealClosed
		);
		// Another way than committed, or another salt: refused.
		assert_noop!(reveal_vote(11, 1, &[]), Error::<Test>::VoteMismatch);
		assert_noop!(reveal_vote(11, 1, &[0, 2]), Error::<Test>::VoteMismatch);
		assert_noop!(
			Scoring::reveal_vote(
				RuntimeOrigin::signed(11),
				0,
				0,
				1,
				segments(&[2]),
				false,
				[0; 32]
			),
			Error::<Test>::VoteMismatch
		);
		assert_ok!(reveal_vote(11, 1, &[2]));
		assert_noop!(reveal_vote(11, 1, &[2]), Error::<Test>::AlreadyVoted);
		// Too late to commit once the reveals began.
		set_stake(12, 1_000);
		assert_noop!(
			Scoring::commit_vote(RuntimeOrigin::signed(12), 0, 0, 1, sealed(12, 1, &[2])),
			Error::<Test>::VoteCommitClosed
		);
		set_phase(Phase::Finalize);
		assert_noop!(
			Scoring::reveal_vote(
				RuntimeOrigin::signed(11),
				0,
				0,
				1,
				segments(&[2]),
				false,
				vote_salt(11)
			),
			Error::<Test>::VoteRevealClosed
		);
	});
}

#[test]
fn a_revealed_vote_confirms_only_claimed_segments_in_order() {
	test(|| {
		set_miners(&[1]);
		for v in [10, 11, 12, 13] {
			set_stake(v, 1_000);
		}
		score(10, &entries(&[(1, 0, Verdict::Fail { segment: 2 })]));
		score(11, &entries(&[(1, 0, Verdict::Fail { segment: 3 })]));
		// A segment nobody claimed, or segments out of order: refused at reveal.
		assert_ok!(commit_vote(12, 1, &[2, 5]));
		assert_noop!(
			reveal_vote(12, 1, &[2, 5]),
			Error::<Test>::SegmentNotClaimed
		);
		assert_ok!(commit_vote(13, 1, &[3, 2]));
		assert_noop!(reveal_vote(13, 1, &[3, 2]), Error::<Test>::UnsortedSegments);
		// An accuser confirming its own segment upholds, and its own segment's tally is not
		// raised by it; confirming another's is.
		vote_on(10, 1, &[2, 3]);
		let d = Disputes::<Test>::get((0, 0), 1).unwrap();
		assert_eq!(tally(1), (1_000, 0));
		assert_eq!(d.confirmed.to_vec(), vec![(3, 1_000)]);
		vote_on(11, 1, &[3]);
		let d = Disputes::<Test>::get((0, 0), 1).unwrap();
		assert_eq!(tally(1), (2_000, 0));
		assert_eq!(d.confirmed.to_vec(), vec![(3, 1_000)]);
		assert!(scoring_events().contains(&Event::DisputeVoted {
			task: 0,
			round: 0,
			miner: 1,
			validator: 11,
			upheld: true,
			confirmed: vec![3],
			not_served: false,
			stake: 1_000,
		}));
	});
}

#[test]
fn scorer_race_minimum_bond_accounts_committing_first_take_no_slot() {
	test(|| {
		set_miners(&[1]);
		// Honest validators hold most stake; a cartel of six minimum-bond accounts is ready
		// to commit in the first verify block.
		set_stake(10, 1_000);
		set_stake(11, 1_000);
		for v in 20..26 {
			set_stake(v, 100);
		}
		start_round();
		// The snapshot holds the five strongest: the honest two and three of the cartel.
		let scorers: Vec<_> = RoundScorers::<Test>::get((0, 0))
			.iter()
			.map(|(v, _)| *v)
			.collect();
		assert_eq!(scorers, vec![10, 11, 20, 21, 22]);
		set_phase(Phase::Verify);
		for v in 20..23 {
			assert_ok!(Scoring::commit_scores(
				RuntimeOrigin::signed(v),
				0,
				0,
				[1; 32].into()
			));
		}
		for v in 23..26 {
			assert_noop!(
				Scoring::commit_scores(RuntimeOrigin::signed(v), 0, 0, [1; 32].into()),
				Error::<Test>::NotScorer
			);
		}
		// The honest validators commit last and still score.
		assert_ok!(Scoring::commit_scores(
			RuntimeOrigin::signed(10),
			0,
			0,
			[1; 32].into()
		));
		assert_ok!(Scoring::commit_scores(
			RuntimeOrigin::signed(11),
			0,
			0,
			[1; 32].into()
		));
		// A validator that bonds after the round started scores the rounds after.
		set_stake(30, 50_000);
		assert_noop!(
			Scoring::commit_scores(RuntimeOrigin::signed(30), 0, 0, [1; 32].into()),
			Error::<Test>::NotScorer
		);
		// Every scorer's bond is held until the round settles: from the snapshot, and for its
		// committed scores.
		assert_eq!(locks(10), 2);
		settle();
		assert_eq!(locks(10), 0);
	});
}

#[test]
fn a_committed_score_that_is_never_revealed_forfeits_the_deposit() {
	test(|| {
		set_miners(&[1]);
		set_stake(10, 1_000);
		set_stake(11, 1_000);
		set_phase(Phase::Verify);
		assert_ok!(Scoring::commit_scores(
			RuntimeOrigin::signed(10),
			0,
			0,
			[1; 32].into()
		));
		score(11, &entries(&[(1, 50, Verdict::Pass)]));
		settle();
		assert_eq!(forfeits(), vec![(10, SCORE_DEPOSIT)]);
		assert!(scoring_events().contains(&Event::ScoresNotRevealed {
			task: 0,
			round: 0,
			validator: 10,
			forfeited: SCORE_DEPOSIT
		}));
	});
}

#[test]
fn an_empty_reveal_neither_proposes_nor_weighs_in_the_model_vote() {
	test(|| {
		set_miners(&[1]);
		set_stake(10, 1_000);
		set_stake(11, 5_000);
		score(10, &entries(&[(1, 50, Verdict::Pass)]));
		score(11, &entries(&[]));
		assert_eq!(Scoring::revealed_stake(0, 0, &10), Some(1_000));
		assert_eq!(Scoring::revealed_stake(0, 0, &11), None);
		assert_eq!(Scoring::total_revealed_stake(0, 0), 1_000);
	});
}

#[test]
fn stake_added_or_removed_after_the_snapshot_leaves_a_scorers_weight_as_frozen() {
	test(|| {
		set_miners(&[1]);
		set_stake(10, 1_000);
		set_stake(11, 1_000);
		set_phase(Phase::Commit);
		start_round();
		set_stake(10, 9_000);
		set_stake(11, 400);
		assert_eq!(Scoring::scorer_stake(0, 0, &10), Some(1_000));
		assert_eq!(Scoring::scorer_stake(0, 0, &11), Some(1_000));
		assert_eq!(Scoring::snapshot_stake(0, 0), 2_000);
	});
}

#[test]
fn discarding_a_round_slashes_nobody_and_releases_every_lock() {
	test(|| {
		set_miners(&[1]);
		set_stake(10, 1_000);
		set_stake(11, 1_000);
		score(10, &entries(&[(1, 0, Verdict::Fail { segment: 4 })]));
		set_phase(Phase::Verify);
		set_phase(Phase::ScoreReveal);
		// 11 committed nothing; 10 accused: the task is cancelled before the round settles.
		<Scoring as OnRoundEnd<Balance>>::discard_round(0, 0);
		assert!(slashes().is_empty());
		assert!(forfeits().is_empty());
		assert!(outcomes().is_empty());
		assert_eq!(locks(10), 0);
		assert_eq!(Disputes::<Test>::iter().count(), 0);
		assert_eq!(Reveals::<Test>::iter().count(), 0);
		assert_eq!(RoundScorers::<Test>::iter().count(), 0);
		assert_eq!(RoundChallengeKeys::<Test>::iter().count(), 0);
		assert_eq!(Scoring::trust(&10), p(50));
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
		// It forfeits its deposit and is not paid. Only 11 revealed, with 400 of the 1 000
		// snapshot stake: the miner is not judged, so 11's score earns nothing either. With
		// one scorer left the round moves no trust (`MinScorersForTrust`), its zero included.
		assert_eq!(forfeits(), vec![(10, SCORE_DEPOSIT)]);
		assert!(outcome.validators.is_empty());
		assert!(outcome.miners.is_empty());
		assert_eq!(Scoring::trust(&10), t10);
		assert_eq!(Scoring::trust(&11), t11);
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
fn try_state_catches_a_per_round_item_that_outlived_its_round() {
	new_test_ext().execute_with(|| {
		set_miners(&[1]);
		set_stake(10, 600);
		score(10, &entries(&[(1, 0, Verdict::Fail { segment: 2 })]));
		assert_ok!(Scoring::do_try_state());
		// Round 0 of task 0 closes in the registry without being settled here.
		end_round();
		assert_eq!(
			Scoring::do_try_state(),
			Err("a per-round item outlived its round".into())
		);
	});
}

#[test]
fn dispute_vote_race_a_cartel_of_small_accounts_cannot_outvote_the_honest_stake() {
	test(|| {
		set_miners(&[1]);
		// The accuser and one honest voter hold 2 000; a cartel of three small accounts, 300.
		set_stake(10, 1_000);
		set_stake(11, 1_000);
		for v in 20..23 {
			set_stake(v, 100);
		}
		score(10, &entries(&[(1, 0, Verdict::Fail { segment: 4 })]));
		// The cartel votes first, all of it.
		for v in 20..23 {
			vote_on(v, 1, &[]);
		}
		// Arrival order excludes nobody: the honest vote comes last and still counts.
		vote_on(11, 1, &[4]);
		// An outsider with a large bond bonded after the round started has no vote.
		set_stake(30, 50_000);
		assert_noop!(commit_vote(30, 1, &[]), Error::<Test>::NotScorer);
		let outcome = settle();
		assert!(outcome.miners.is_empty());
		assert_eq!(slashes(), vec![(1, MINER_SLASH)]);
		assert_eq!(DisputeVotes::<Test>::iter().count(), 0);
	});
}

#[test]
fn slashes_are_capped_at_one_per_account_per_round() {
	test(|| {
		// A validator whose hardware disagrees with three honest miners loses every dispute,
		// and is slashed once, not three times.
		set_miners(&[1, 2, 3]);
		set_stake(10, 1_000);
		set_stake(11, 5_000);
		let fail = Verdict::Fail { segment: 4 };
		score(10, &entries(&[(1, 0, fail), (2, 0, fail), (3, 0, fail)]));
		for miner in 1..=3 {
			vote(11, miner, false);
		}
		settle();
		assert_eq!(slashes(), vec![(10, FALSE_ACCUSATION_SLASH)]);
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

#[test]
fn key_grinding_a_challenge_key_changed_after_the_round_started_is_not_used() {
	test(|| {
		set_miners(&[1]);
		set_stake(10, 1_000);
		set_stake(11, 1_000);
		start_round();
		// The seed is known: validator 10 registers a key whose challenges it prefers (here,
		// account 99's) and reveals with it. The round fixed 10's key when it started.
		register_key(10, 99);
		let e = entries(&[(1, 60, Verdict::Pass)]);
		set_phase(Phase::Verify);
		assert_ok!(Scoring::commit_scores(
			RuntimeOrigin::signed(10),
			0,
			0,
			hash_of(10, &e)
		));
		set_phase(Phase::ScoreReveal);
		let ground = pol_primitives::challenge::prove(&key(99), &CHALLENGE_SEED.into()).0;
		assert_noop!(
			Scoring::reveal_scores(RuntimeOrigin::signed(10), 0, 0, e.clone(), salt(10), ground),
			Error::<Test>::BadChallengeProof
		);
		// With the key it had when the round started, the reveal goes through.
		assert_ok!(Scoring::reveal_scores(
			RuntimeOrigin::signed(10),
			0,
			0,
			e,
			salt(10),
			challenge(10).0
		));
		// The snapshot goes with the round.
		settle();
		assert_eq!(RoundChallengeKeys::<Test>::iter().count(), 0);
	});
}

#[test]
fn a_registered_challenge_key_is_used_from_the_next_round_on() {
	test(|| {
		set_miners(&[1]);
		set_stake(10, 1_000);
		// Registered before the round starts (a worker key held by the validator's host): the
		// round takes it, and the account's own key no longer proves anything.
		register_key(10, 42);
		start_round();
		let e = entries(&[(1, 60, Verdict::Pass)]);
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
				e.clone(),
				salt(10),
				challenge(10).0
			),
			Error::<Test>::BadChallengeProof
		);
		let hot = pol_primitives::challenge::prove(&key(42), &CHALLENGE_SEED.into()).0;
		assert_ok!(Scoring::reveal_scores(
			RuntimeOrigin::signed(10),
			0,
			0,
			e,
			salt(10),
			hot
		));
	});
}

#[test]
fn trust_farming_a_lone_scorer_or_a_cheap_round_moves_no_trust() {
	test(|| {
		// One validator scoring its own task alone: paid, but its trust does not move.
		set_miners(&[1]);
		set_stake(10, 1_000);
		score(10, &entries(&[(1, 50, Verdict::Pass)]));
		let outcome = settle();
		assert_eq!(outcome.validators, vec![(10, 1_000)]);
		assert_eq!(Trust::<Test>::get(10), None);
		// Two scorers, but a round that pays less than `MinBudgetForTrust`.
		set_stake(11, 1_000);
		score(10, &entries(&[(1, 50, Verdict::Pass)]));
		score(11, &entries(&[(1, 50, Verdict::Pass)]));
		set_phase(Phase::Finalize);
		let cheap = RoundBudget {
			total: MIN_BUDGET_FOR_TRUST - 1,
			validator_share: p(20),
		};
		<Scoring as OnRoundEnd<Balance>>::on_round_end(0, 0, cheap);
		assert_eq!(Trust::<Test>::get(10), None);
		// Enough scorers and budget: it moves.
		score(10, &entries(&[(1, 50, Verdict::Pass)]));
		score(11, &entries(&[(1, 50, Verdict::Pass)]));
		settle();
		assert_eq!(Scoring::trust(&10), ema(p(50), p(100), p(20)));
	});
}

#[test]
fn lazy_validators_earn_for_the_work_they_do() {
	test(|| {
		// Equal stake: 10 and 11 judge all four miners, 12 only one. Pay follows the miners
		// judged.
		set_miners(&[1, 2, 3, 4]);
		for v in [10, 11, 12] {
			set_stake(v, 1_000);
		}
		let pass = Verdict::Pass;
		let all = entries(&[(1, 50, pass), (2, 50, pass), (3, 50, pass), (4, 50, pass)]);
		score(10, &all);
		score(11, &all);
		score(12, &entries(&[(1, 50, pass)]));
		let mut validators = settle().validators;
		validators.sort();
		assert_eq!(validators, vec![(10, 4_000), (11, 4_000), (12, 1_000)]);
	});
}

#[test]
fn dispute_votes_on_the_prevailing_side_are_paid() {
	test(|| {
		set_miners(&[1]);
		set_stake(10, 1_000);
		set_stake(11, 1_000);
		set_stake(12, 500);
		score(10, &entries(&[(1, 0, Verdict::Fail { segment: 4 })]));
		// 11 votes with the majority, 12 against; neither revealed scores.
		vote(11, 1, true);
		let outcome = dispute_votes_then_settle(&[(12, false)]);
		// 10: one miner scored in agreement (consensus 0) and its upheld accusation; 11: one
		// winning vote; 12: nothing.
		assert_eq!(outcome.validators, vec![(10, 2_000), (11, 1_000)]);
	});
}

fn dispute_votes_then_settle(votes: &[(AccountId, bool)]) -> RoundOutcome<AccountId> {
	for (v, upheld) in votes {
		vote(*v, 1, *upheld);
	}
	settle()
}

#[test]
fn a_miner_judged_by_half_the_snapshot_stake_or_less_is_not_judged_paid_or_aggregated() {
	// Attack (the miner picks its judges): a host record or a stall makes every honest scorer
	// abstain on the miner, and one colluding scorer passes it with a perfect score, which was
	// the whole consensus.
	test(|| {
		set_miners(&[1, 2]);
		for v in [10, 11, 12] {
			set_stake(v, 1_000);
		}
		set_stake(20, 500);
		let pass = Verdict::Pass;
		for v in [10, 11, 12] {
			score(v, &entries(&[(2, 50, pass)]));
		}
		score(20, &entries(&[(1, 100, pass), (2, 50, pass)]));
		// Not eligible for the global model.
		assert_eq!(Scoring::consensus(0, 0), vec![(2, p(50))]);
		scoring_events();
		let outcome = settle();
		assert_eq!(outcome.miners, vec![(2, p(50))]);
		assert!(slashes().is_empty());
		assert!(scoring_events().contains(&Event::MinerNotJudged {
			task: 0,
			round: 0,
			miner: 1,
			judged_stake: 500,
			snapshot_stake: 3_500,
		}));
		// The colluder is paid for the miner that was judged, not for its pass of the other.
		let mut validators = outcome.validators;
		validators.sort();
		assert_eq!(
			validators,
			vec![(10, 1_000), (11, 1_000), (12, 1_000), (20, 500)]
		);
	});
	test(|| {
		// Scorers holding more than half of the snapshot judge it: paid, at their median,
		// though the largest scorer abstained.
		set_miners(&[1]);
		set_stake(10, 1_000);
		set_stake(11, 1_000);
		set_stake(20, 1_500);
		score(10, &entries(&[(1, 40, Verdict::Pass)]));
		score(11, &entries(&[(1, 40, Verdict::Pass)]));
		assert_eq!(Scoring::consensus(0, 0), vec![(1, p(40))]);
		assert_eq!(settle().miners, vec![(1, p(40))]);
	});
	test(|| {
		// A `NotServed` claim judges nothing: the claimant's stake does not make the quorum.
		set_miners(&[1]);
		set_stake(10, 1_000);
		set_stake(11, 900);
		score(10, &entries(&[(1, 0, Verdict::NotServed { segment: 4 })]));
		score(11, &entries(&[(1, 70, Verdict::Pass)]));
		assert!(Scoring::consensus(0, 0).is_empty());
	});
}

#[test]
fn lazy_validation_a_pass_of_a_miner_whose_dispute_is_upheld_earns_nothing_and_costs_trust() {
	test(|| {
		set_miners(&[1, 2]);
		set_stake(10, 1_000);
		set_stake(11, 2_000);
		set_stake(12, 1_000);
		let pass = Verdict::Pass;
		// 10 found the forged segment; 11 passed miner 1 (its draw missed the segment) and
		// confirms the claim in the vote; 12 passed both without replaying anything.
		score(
			10,
			&entries(&[(1, 0, Verdict::Fail { segment: 4 }), (2, 50, pass)]),
		);
		score(11, &entries(&[(1, 50, pass), (2, 50, pass)]));
		score(12, &entries(&[(1, 90, pass), (2, 50, pass)]));
		vote(11, 1, true);
		let outcome = settle();
		assert_eq!(slashes(), vec![(1, MINER_SLASH)]);
		assert_eq!(outcome.miners, vec![(2, p(50))]);
		// 10: miner 2, its judgement of miner 1 and its upheld claim; 11: miner 2 and its
		// winning vote; 12: miner 2 only. A pass of the forger earns nothing.
		let mut validators = outcome.validators;
		validators.sort();
		assert_eq!(validators, vec![(10, 3_000), (11, 4_000), (12, 1_000)]);
		// The pass of the forger is a full deviation: round trust ½ for 12 and 11, 1 for 10.
		assert_eq!(Scoring::trust(&10), ema(p(50), p(100), p(20)));
		assert_eq!(Scoring::trust(&12), ema(p(50), p(50), p(20)));
	});
}

#[test]
fn a_replay_claim_keeps_the_update_out_of_the_model_unless_the_majority_rejects_it() {
	// The model is read once every vote is revealed: an upheld dispute leaves the update out, a
	// rejected one keeps it, and one left undecided over a `Fail` claim leaves it out while
	// more of the voting stake upholds than rejects.
	test(|| {
		set_miners(&[1, 2]);
		for v in [10, 11, 12] {
			set_stake(v, 1_000);
		}
		let pass = Verdict::Pass;
		let fail = Verdict::Fail { segment: 4 };
		score(10, &entries(&[(1, 0, fail), (2, 0, fail)]));
		score(11, &entries(&[(1, 50, pass), (2, 50, pass)]));
		score(12, &entries(&[(1, 50, pass), (2, 50, pass)]));
		// No votes yet: undecided, the accuser's 1 000 against nothing.
		assert_eq!(Scoring::consensus(0, 0), vec![]);
		vote(11, 1, true);
		vote(11, 2, false);
		// 1 000 each way: not yet more than half of the 2 000 eligible (upholding) or of the
		// 3 000 snapshot (rejecting); over 1 the claim and 11 lead, over 2 they are even.
		assert_eq!(Scoring::consensus(0, 0), vec![(2, p(50))]);
		vote(12, 1, true);
		vote(12, 2, false);
		assert_eq!(Scoring::consensus(0, 0), vec![(2, p(50))]);
	});
}

#[test]
fn an_honest_pass_that_did_not_draw_the_forged_segment_costs_no_trust() {
	// Attack (a trust squeeze): a cartel's miner forges a segment on a cheap task so that the
	// honest scorers whose draw missed it pass it and lose trust, while the cartel stays away.
	test(|| {
		set_miners(&[1]);
		set_segments_per_check(2);
		set_stake(10, 1_000);
		set_stake(11, 2_000);
		set_stake(12, 1_000);
		// A segment 10 drew and 12 did not; 11 replays it in the vote and upholds.
		let forged = draw_of_miner_1(10)[1];
		assert!(
			!draw_of_miner_1(12).contains(&forged),
			"pick accounts whose draws differ"
		);
		score(10, &entries(&[(1, 0, Verdict::Fail { segment: forged })]));
		score(12, &entries(&[(1, 70, Verdict::Pass)]));
		vote(11, 1, true);
		let outcome = settle();
		assert_eq!(slashes(), vec![(1, MINER_SLASH)]);
		// 12 earns nothing for its pass and keeps its trust: its draw missed the segment.
		assert!(outcome.validators.iter().all(|(v, _)| *v != 12));
		assert_eq!(Trust::<Test>::get(12), None);
	});
}

#[test]
fn a_colluders_false_claim_on_the_last_segment_costs_the_honest_passers_no_trust() {
	// Attack (second review, finding 4): beside an honest claim on the forged segment, the
	// forger's accomplice claims that segment n fails, which every validator replays. The
	// dispute is upheld, and if every `Replay` claim's segment counted, every honest passer
	// would take a full deviation for "missing" segment n. A second colluder confirms segment
	// n in its vote. Only segments the voters confirmed by more than half of the eligible stake
	// count.
	test(|| {
		set_miners(&[1]);
		set_segments_per_check(2);
		set_stake(10, 1_000);
		set_stake(11, 500);
		set_stake(12, 500);
		let forged = draw_of_miner_1(10)[1];
		assert_ne!(forged, 4);
		// Two honest scorers whose draws missed the forged segment.
		let passers: Vec<AccountId> = (13..60)
			.filter(|v| !draw_of_miner_1(*v).contains(&forged))
			.take(2)
			.collect();
		assert_eq!(passers.len(), 2);
		for v in &passers {
			set_stake(*v, 1_000);
		}
		score(10, &entries(&[(1, 0, Verdict::Fail { segment: forged })]));
		score(11, &entries(&[(1, 0, Verdict::Fail { segment: 4 })]));
		for v in &passers {
			score(*v, &entries(&[(1, 70, Verdict::Pass)]));
		}
		// The voters replay both claimed segments: the forged one fails, segment 4 replays.
		for v in &passers {
			vote_on(*v, 1, &[forged]);
		}
		vote_on(10, 1, &[forged]);
		vote_on(11, 1, &[4]);
		vote_on(12, 1, &[forged, 4]);
		// Of the 4 000 eligible: the forged segment 2 500, segment 4 only the second
		// colluder's 500 (the first's own claim is no evidence).
		let d = Disputes::<Test>::get((0, 0), 1).unwrap();
		let mut want = vec![(forged, 2_500), (4, 500)];
		want.sort();
		assert_eq!(d.confirmed.to_vec(), want);
		settle();
		assert_eq!(slashes(), vec![(1, MINER_SLASH)]);
		// The honest passers were challenged with segment 4, not with the forged one: their
		// trust does not move.
		for v in &passers {
			assert_eq!(Trust::<Test>::get(v), None, "{v}");
		}
	});
}

#[test]
fn sealed_votes_show_nothing_before_the_reveal_and_an_unrevealed_vote_counts_for_nothing() {
	// Herding: with votes in the clear, a voter could wait and join the side already winning.
	// Sealed, the commitments say nothing of their side, and a vote committed and never
	// revealed decides nothing.
	test(|| {
		set_miners(&[1]);
		for v in [10, 11, 12] {
			set_stake(v, 1_000);
		}
		score(10, &entries(&[(1, 0, Verdict::Fail { segment: 2 })]));
		assert_ok!(commit_vote(11, 1, &[2]));
		assert_ok!(commit_vote(12, 1, &[]));
		assert_eq!(tally(1), (0, 0));
		assert_eq!(DisputeVotes::<Test>::get((0, 0, 1)).len(), 0);
		assert_eq!(VoteCommits::<Test>::get((0, 0, 1)).len(), 2);
		// 11 reveals; 12 does not: 1 000 of the 2 000 eligible, undecided.
		assert_ok!(reveal_vote(11, 1, &[2]));
		scoring_events();
		let outcome = settle();
		assert!(slashes().is_empty());
		assert!(outcome.miners.is_empty());
		assert!(scoring_events().iter().any(|e| matches!(
			e,
			Event::DisputeResolved {
				outcome: DisputeOutcome::Undecided,
				upheld: 1_000,
				rejected: 0,
				..
			}
		)));
		assert_eq!(VoteCommits::<Test>::iter().count(), 0);
	});
}

#[test]
fn a_voters_stake_is_held_until_settlement_and_leaving_after_voting_changes_nothing() {
	// Attack (reviews of the sealed votes): a colluder claims that an honest miner's segment 4
	// fails and a second colluder confirms it; the honest scorers reject. The second colluder
	// then unbonds. Weighed at its stake now, its vote would shrink with it, and with it the
	// stake eligible: the model (read at the vote-reveal phase's last block) and the pay (at the
	// round's end) could read the dispute differently; and a vote whose stake was withdrawn
	// before the round settled would have risked nothing. Every scorer's bond is held from the
	// snapshot to the settlement, and every weight is the snapshot's.
	test(|| {
		set_miners(&[1]);
		set_stake(10, 10);
		set_stake(11, 110);
		set_stake(12, 100);
		set_stake(13, 100);
		score(10, &entries(&[(1, 0, Verdict::Fail { segment: 4 })]));
		assert_ok!(commit_vote(11, 1, &[4]));
		assert_eq!(locks(11), 1);
		assert_ok!(reveal_vote(11, 1, &[4]));
		vote_on(12, 1, &[]);
		vote_on(13, 1, &[]);
		set_stake(11, 0);
		// Of the 310 eligible (the lone accuser's 10 is not), 110 upheld and 200 rejected.
		assert_eq!(tally(1), (110, 200));
		settle();
		assert_eq!(slashes(), vec![(10, FALSE_ACCUSATION_SLASH)]);
		for v in [10, 11, 12, 13] {
			assert_eq!(locks(v), 0, "{v} is still locked after the settlement");
		}
	});
}

#[test]
fn a_dispute_reads_the_same_for_the_model_and_for_the_pay_whatever_stake_moves_between() {
	// Attack (second review of the sealed votes): the validators read the model at the last
	// vote-reveal block and the chain settles at the round's end. Had a vote weighed its
	// voter's stake at the time it is read, a voter slashed elsewhere (or unbonding) in between
	// would turn an upheld dispute undecided: the forged update kept out of the model, and its
	// forger neither slashed nor the honest passers judged.
	test(|| {
		set_miners(&[1]);
		for v in [10, 11, 12, 13] {
			set_stake(v, 1_000);
		}
		score(10, &entries(&[(1, 0, Verdict::Fail { segment: 4 })]));
		score(11, &entries(&[(1, 70, Verdict::Pass)]));
		score(12, &entries(&[(1, 70, Verdict::Pass)]));
		vote_on(11, 1, &[4]);
		vote_on(12, 1, &[4]);
		set_phase(Phase::Finalize);
		// 2,000 of the 3,000 eligible upheld: the update is out of the model.
		assert!(Scoring::consensus(0, 0).is_empty());
		set_stake(12, 0);
		assert_eq!(tally(1), (2_000, 0));
		settle();
		assert_eq!(slashes(), vec![(1, MINER_SLASH)]);
	});
}

#[test]
fn a_segment_withheld_from_the_voters_upholds_but_costs_the_passers_no_trust() {
	// Attack (review of the sealed votes): a colluder claims that segment 4 of a cartel miner's
	// run fails, and the miner then withholds segment 4 from the voters. They uphold (what is not
	// served is against the miner), and if "not served" counted as a confirmed failure, every
	// honest passer, challenged with segment 4, would take a full deviation for 10% of one
	// miner's bond.
	test(|| {
		set_miners(&[1]);
		for v in [10, 11, 12] {
			set_stake(v, 1_000);
		}
		score(10, &entries(&[(1, 0, Verdict::Fail { segment: 4 })]));
		score(11, &entries(&[(1, 70, Verdict::Pass)]));
		score(12, &entries(&[(1, 70, Verdict::Pass)]));
		vote_on(11, 1, &[0]);
		vote_on(12, 1, &[0]);
		assert!(Disputes::<Test>::get((0, 0), 1)
			.unwrap()
			.confirmed
			.is_empty());
		settle();
		assert_eq!(slashes(), vec![(1, MINER_SLASH)]);
		assert_eq!(Trust::<Test>::get(11), None);
		assert_eq!(Trust::<Test>::get(12), None);
	});
}

#[test]
fn an_update_whose_replay_claim_is_left_undecided_stays_out_of_the_model() {
	// Attack (review of the sealed votes): a forger's honest accuser claims alone, and the
	// forger (with a colluder's decoy claims elsewhere) keeps the voters from deciding. An
	// undecided `Replay` dispute keeps the update out of the model; an undecided `NotServed` one,
	// which costs its maker nothing, does not.
	test(|| {
		set_miners(&[1, 2]);
		for v in [10, 11, 12] {
			set_stake(v, 1_000);
		}
		score(
			10,
			&entries(&[
				(1, 0, Verdict::Fail { segment: 4 }),
				(2, 0, Verdict::NotServed { segment: 4 }),
			]),
		);
		score(
			11,
			&entries(&[(1, 60, Verdict::Pass), (2, 60, Verdict::Pass)]),
		);
		score(
			12,
			&entries(&[(1, 60, Verdict::Pass), (2, 60, Verdict::Pass)]),
		);
		// 11 got to check miner 1's segment 4 and found it failing; 12 was kept from it. 1,000
		// of the 2,000 eligible upheld: undecided, with more stake upholding. 12 got miner 2's
		// checkpoints: 1,000 of the 3,000 rejecting, undecided, and even with the claim.
		vote_on(11, 1, &[4]);
		vote_on(12, 2, &[]);
		set_phase(Phase::Finalize);
		assert_eq!(Scoring::consensus(0, 0), vec![(2, p(60))]);
		settle_undecided();
	});
}

#[test]
fn a_lone_replay_claim_that_more_stake_rejects_than_backs_censors_nothing() {
	// Attack (second review of the sealed votes): a minimum-bond scorer claims that an honest
	// miner's segment fails, at no cost while the dispute stays undecided: the cartel's stake
	// stays silent and most honest stake is away. Had an undecided `Replay` dispute kept the
	// update out of the model, one cheap claim a round would censor any miner.
	test(|| {
		set_miners(&[1]);
		set_stake(10, 10);
		set_stake(11, 1_000);
		set_stake(12, 1_000);
		set_stake(13, 3_000);
		score(10, &entries(&[(1, 0, Verdict::Fail { segment: 4 })]));
		for v in [11, 12, 13] {
			score(v, &entries(&[(1, 80, Verdict::Pass)]));
		}
		// 11 replays segment 4 and rejects; 1,000 of the 5,010 snapshot: still undecided, but
		// more stake says it replays than the 10 of the claim: the update is aggregated.
		vote_on(11, 1, &[]);
		set_phase(Phase::Finalize);
		assert_eq!(Scoring::consensus(0, 0), vec![(1, p(80))]);
		settle_undecided();
	});
}

#[test]
fn a_minority_cartel_cannot_reject_a_large_honest_accusers_claim() {
	// Attack (found by the protocol simulator): a cartel's miner forges a segment that only one
	// honest validator, holding most of the stake, drew. Its claim is alone, so its stake may not
	// vote; weighed against the stake left, the cartel's 300 rejecting outweighed the other
	// honest validator's 100 upholding: the claim was rejected, the honest accuser slashed, the
	// forger paid and aggregated. Rejecting now takes more than half of the whole snapshot.
	test(|| {
		set_miners(&[1]);
		set_stake(10, 600);
		set_stake(11, 100);
		set_stake(12, 300);
		score(10, &entries(&[(1, 0, Verdict::Fail { segment: 4 })]));
		score(11, &entries(&[(1, 80, Verdict::Pass)]));
		score(12, &entries(&[(1, 100, Verdict::Pass)]));
		vote_on(11, 1, &[4]);
		vote_on(12, 1, &[]);
		assert_eq!(tally(1), (100, 300));
		set_phase(Phase::Finalize);
		// Undecided: 100 of the 400 eligible upheld, 300 of the 1,000 rejected. The claim's 600
		// and the 100 upholding outweigh the 300: the update stays out of the model.
		assert!(Scoring::consensus(0, 0).is_empty());
		settle_undecided();
	});
}

#[test]
fn stake_withdrawn_before_acting_does_not_weigh_in_the_round() {
	// Attack (review of session 16): a scorer ranked with 10,000 when the session began unbonds
	// all but 1,000 before the round starts (or after, before it acts), withdraws it once the
	// unbonding period has passed, and then claims falsely with the snapshot's 10,000: its
	// slash would fall on 1,000. The snapshot takes the lesser of the ranking and the stake
	// now, and holds every scorer until the round is settled, so nothing it weighs with can be
	// withdrawn first.
	test(|| {
		set_miners(&[1]);
		set_stake(10, 1_000);
		set_ranked_stake(10, 10_000);
		set_stake(11, 2_000);
		start_round();
		assert_eq!(Scoring::scorer_stake(0, 0, &10), Some(1_000));
		assert_eq!(Scoring::snapshot_stake(0, 0), 3_000);
		assert_eq!((locks(10), locks(11)), (1, 1));
		settle();
		assert_eq!((locks(10), locks(11)), (0, 0));
	});
}
