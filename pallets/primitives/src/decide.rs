//! What an honest validator concludes from what it was served, as pure functions: where it
//! makes a claim, what it reveals on a miner, and how it votes on a dispute. The worker's
//! verifier and voter call them, and the scoring pallet's protocol simulator drives the real
//! pallet with them, so the simulator judges the decisions the network actually makes.

use crate::{SegmentIndex, Verdict};
use alloc::{collections::BTreeSet, vec::Vec};

/// What a validator found of one segment it checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finding {
	/// It replayed to the committed checkpoint.
	Replays,
	/// It did not replay, or its files prove a fault in it (a norm, a start or a final model
	/// that is not what the tree says).
	Fails,
	/// A checkpoint it needs was not delivered within what the server owed, or its bytes did
	/// not match their leaf.
	NotServed,
}

/// What a validator found of a miner's run as a whole, before any segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunFinding {
	/// The manifest is the committed run, and the run's ends are what the round says.
	Sound,
	/// The manifest, its host record, leaf 0, the path or the final model is at fault: a fault
	/// of the whole run.
	Faulty,
	/// The manifest was not delivered within what the server owed.
	NotServed,
	/// The validator's own trouble (its disk, data, device, clock): no evidence against anyone.
	OwnTrouble,
}

/// Where a fault of the whole run is claimed: segment `n`, which every validator is challenged
/// with; in a replay of one segment only (a dispute's), that segment. `None` without challenges.
pub fn home_segment(challenged: &[SegmentIndex], n: SegmentIndex) -> Option<SegmentIndex> {
	if challenged.contains(&n) {
		Some(n)
	} else {
		challenged.first().copied()
	}
}

/// The segment a claim about `segment` is made on: `segment` itself when it is among the
/// validator's `challenged`, else the home segment ([`home_segment`]). The chain refuses a
/// claim outside the claimant's challenges, so a fault read where the validator was not
/// challenged (leaf 0, a norm read at both ends of an unchallenged segment) is claimed where it
/// may be.
pub fn claim_segment(
	segment: SegmentIndex,
	challenged: &[SegmentIndex],
	n: SegmentIndex,
) -> SegmentIndex {
	if challenged.contains(&segment) {
		segment
	} else {
		home_segment(challenged, n).unwrap_or(segment)
	}
}

/// A validator's verdict on a miner from what it found: `None` (it abstains: leaves the miner
/// out of its entries) for its own trouble. A fault of the whole run is claimed on the home
/// segment; then the first segment, in `segments`' order, that was not served or fails, each
/// claimed where the chain accepts it ([`claim_segment`]); otherwise a pass.
pub fn verdict(
	run: RunFinding,
	segments: &[(SegmentIndex, Finding)],
	challenged: &[SegmentIndex],
	n: SegmentIndex,
) -> Option<Verdict> {
	let home = home_segment(challenged, n).unwrap_or(n);
	match run {
		RunFinding::OwnTrouble => return None,
		RunFinding::NotServed => return Some(Verdict::NotServed { segment: home }),
		RunFinding::Faulty => return Some(Verdict::Fail { segment: home }),
		RunFinding::Sound => {}
	}
	for &(segment, finding) in segments {
		let segment = claim_segment(segment, challenged, n);
		match finding {
			Finding::Replays => {}
			Finding::Fails => return Some(Verdict::Fail { segment }),
			Finding::NotServed => return Some(Verdict::NotServed { segment }),
		}
	}
	Some(Verdict::Pass)
}

/// The claimed segments a voter checks, `(miner, segment, claimed to fail)` each, in the order
/// it checks them (its replays queue in this order, whichever server delivers first), from the
/// claims `due`, `(miner, segment, claimed to fail, accuser)` each. First the claims on miners
/// the voter itself passed (`passed`), then the others; within each, the accusers take turns:
/// one claim of each accuser, then a second of each, and so on, a `Fail` before a `NotServed`
/// in each turn; each accuser's claims, and the accusers in a turn, in an order drawn from
/// `salt` (fresh randomness, never shown) and the account bytes (`account`: the miner's). A
/// segment claimed twice is checked once, at its first place, as a `Fail` if either claim is.
///
/// Why: a voter's phase holds a bounded number of replays (the registry sizes the vote-commit
/// phase for the fetches only, `serving::min_vote_commit_blocks`). A cartel's sybils fill the
/// round with claims that cost it nothing (review of session 17: co-hosted sybils): decoys of its
/// own scorers, and honest validators' `NotServed` claims on sybils that withheld from them.
/// Only an update that honest validators passed can be paid or aggregated, so the claims on
/// the miners this voter passed come first: a sybil withheld from this voter is no threat to
/// the model. Taking turns, each accuser's first claim is among the first as many checks as
/// there are accusers, however many decoys another made. And the order is unforeseeable: a
/// server must not know which of its segments is fetched or replayed first.
pub fn check_order<M: Ord + Clone>(
	due: Vec<(M, SegmentIndex, bool, crate::AccountBytes)>,
	account: impl Fn(&M) -> crate::AccountBytes,
	passed: impl Fn(&M) -> bool,
	salt: &[u8; 32],
) -> Vec<(M, SegmentIndex, bool)> {
	let draw = |parts: &[&[u8]]| crate::hashing::hash(&[&salt[..], &parts.concat()].concat());
	// Each claim with its tier, its accuser's draw and its own.
	let mut keyed: Vec<_> = due
		.into_iter()
		.map(|(miner, segment, fail, accuser)| {
			let own = draw(&[&account(&miner), &segment.to_le_bytes()]);
			let by = draw(&[b"accuser", &accuser]);
			(!passed(&miner), by, !fail, own, miner, segment, fail)
		})
		.collect();
	// Each accuser's claims of a tier in its order, numbered: that number is the claim's turn.
	keyed.sort_by(|a, b| (a.0, a.1, a.2, a.3).cmp(&(b.0, b.1, b.2, b.3)));
	let mut turned = Vec::with_capacity(keyed.len());
	let mut previous = None;
	let mut turn = 0u32;
	for (tier, by, not_fail, own, miner, segment, fail) in keyed {
		turn = if previous == Some((tier, by)) {
			turn.saturating_add(1)
		} else {
			0
		};
		previous = Some((tier, by));
		turned.push(((tier, turn, not_fail, by, own), miner, segment, fail));
	}
	turned.sort_by(|a, b| a.0.cmp(&b.0));
	let mut order: Vec<(M, SegmentIndex, bool)> = Vec::with_capacity(turned.len());
	let mut placed: alloc::collections::BTreeMap<(M, SegmentIndex), usize> = Default::default();
	for (_, miner, segment, fail) in turned {
		match placed.get(&(miner.clone(), segment)) {
			Some(&at) => {
				if let Some(placed) = order.get_mut(at) {
					placed.2 |= fail;
				}
			}
			None => {
				placed.insert((miner.clone(), segment), order.len());
				order.push((miner, segment, fail));
			}
		}
	}
	order
}

/// One claim of a dispute as a voter sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
	/// The voter made it.
	pub mine: bool,
	/// The segment it names.
	pub segment: SegmentIndex,
	/// A `Fail` (a `NotServed` otherwise).
	pub fail: bool,
}

/// A vote on a dispute from its `claims` and what the voter's checks `found` of each claimed
/// segment (`None`: not checked, or its own trouble): the claimed segments that fail here, and
/// whether one was not served here either (the dispute is upheld when either holds, rejected
/// when every claimed segment replays). `None` (no vote) when it may not vote (only its own
/// claims are in) or could not check a claim and found no fault elsewhere: an unchecked segment
/// might be the forged one. Like the chain, it counts its own claim as no evidence, and it never
/// rejects a `Fail` it claimed.
pub fn vote(
	claims: &[Claim],
	found: impl Fn(SegmentIndex) -> Option<Finding>,
) -> Option<(Vec<SegmentIndex>, bool)> {
	if claims.iter().all(|c| c.mine) {
		return None;
	}
	let (mut confirmed, mut not_served, mut unchecked) = (BTreeSet::new(), false, false);
	for c in claims {
		if c.mine && c.fail {
			// Its own `Fail` stands, whatever a second replay here said (the chain does not
			// count its own segment toward the segment's confirmations).
			confirmed.insert(c.segment);
			continue;
		}
		match found(c.segment) {
			Some(Finding::Fails) => {
				confirmed.insert(c.segment);
			}
			Some(Finding::NotServed) => not_served = true,
			Some(Finding::Replays) => {}
			None => unchecked = true,
		}
	}
	if unchecked && confirmed.is_empty() && !not_served {
		return None;
	}
	Some((confirmed.into_iter().collect(), not_served))
}

#[cfg(test)]
mod tests {
	use super::*;
	use alloc::vec;

	#[test]
	fn a_claim_outside_the_challenges_is_made_on_segment_n_or_the_one_replayed() {
		// Challenged with n = 6 and two drawn segments: a claim on 1 is moved to 6; one on a
		// challenged segment stays; a dispute's replay of segment 3 alone claims on 3.
		assert_eq!(claim_segment(1, &[6, 2, 5], 6), 6);
		assert_eq!(claim_segment(5, &[6, 2, 5], 6), 5);
		assert_eq!(claim_segment(6, &[3], 6), 3);
		assert_eq!(home_segment(&[], 6), None);
	}

	#[test]
	fn a_verdict_claims_the_whole_run_on_n_and_abstains_only_on_its_own_trouble() {
		let challenged = [6, 2, 5];
		let ok = [
			(2, Finding::Replays),
			(5, Finding::Replays),
			(6, Finding::Replays),
		];
		assert_eq!(
			verdict(RunFinding::Sound, &ok, &challenged, 6),
			Some(Verdict::Pass)
		);
		assert_eq!(verdict(RunFinding::OwnTrouble, &ok, &challenged, 6), None);
		assert_eq!(
			verdict(RunFinding::Faulty, &ok, &challenged, 6),
			Some(Verdict::Fail { segment: 6 })
		);
		assert_eq!(
			verdict(RunFinding::NotServed, &ok, &challenged, 6),
			Some(Verdict::NotServed { segment: 6 })
		);
		let bad = [
			(2, Finding::Replays),
			(5, Finding::NotServed),
			(6, Finding::Fails),
		];
		assert_eq!(
			verdict(RunFinding::Sound, &bad, &challenged, 6),
			Some(Verdict::NotServed { segment: 5 })
		);
		// A segment outside the challenges (a norm read at both ends) is claimed on n.
		assert_eq!(
			verdict(RunFinding::Sound, &[(1, Finding::Fails)], &challenged, 6),
			Some(Verdict::Fail { segment: 6 })
		);
	}

	#[test]
	fn claims_to_fail_are_checked_before_free_not_served_decoys_in_an_unforeseeable_order() {
		// Attack (review of session 16): colluders claim "not served" on a forger's other
		// segments, free, and the forger serves those at the minimum rate: checked first (in
		// the order of the segments), they held the lanes until the forged segment's check ran
		// out of time, and the voter could not vote.
		let due: Vec<(u8, SegmentIndex, bool, crate::AccountBytes)> =
			[(1, false), (2, false), (3, false), (4, true), (5, false)]
				.into_iter()
				.map(|(segment, fail)| (7, segment, fail, [9; 32]))
				.collect();
		let mut seconds = alloc::collections::BTreeSet::new();
		for byte in 0..16u8 {
			let order = check_order(due.clone(), |m| [*m; 32], |_| true, &[byte; 32]);
			assert_eq!(order[0], (7, 4, true), "the claim to fail comes first");
			seconds.insert(order[1].1);
		}
		// The decoys' order depends on the salt, not on the segments.
		assert!(
			seconds.len() > 1,
			"the same decoy came second for every salt"
		);
	}

	#[test]
	fn one_accusers_decoys_cannot_push_back_another_accusers_claim() {
		// Attack (review of session 17, co-hosted sybils): one colluding scorer claims a `Fail`
		// on every segment of 40 sybil miners (their servers deliver at once); an honest
		// scorer's one claim, a `NotServed` on the forger (1) that withheld from it, came after
		// all of them in the voter's queue, past what its phase holds.
		let cartel = [2; 32];
		let honest = [3; 32];
		let mut due: Vec<(u8, SegmentIndex, bool, crate::AccountBytes)> = Vec::new();
		for sybil in 10..50u8 {
			for segment in 1..=6 {
				due.push((sybil, segment, true, cartel));
			}
		}
		due.push((1, 6, false, honest));
		// A second cartel scorer's claim on the same segments checks each once, as a `Fail`.
		due.push((10, 1, false, [4; 32]));
		for byte in 0..32u8 {
			let order = check_order(due.clone(), |m| [*m; 32], |_| true, &[byte; 32]);
			let at = order
				.iter()
				.position(|c| *c == (1, 6, false))
				.expect("every claim is in the order; qed");
			assert!(at < 3, "the honest claim came {at}th of {}", order.len());
			assert_eq!(order.len(), 40 * 6 + 1);
			assert!(order.contains(&(10, 1, true)));
		}
		// An accuser's claims to fail come before its `NotServed`s.
		let mixed = vec![
			(5, 1, false, honest),
			(6, 2, true, honest),
			(7, 3, false, honest),
		];
		for byte in 0..8u8 {
			assert_eq!(
				check_order(mixed.clone(), |m| [*m; 32], |_| true, &[byte; 32])[0],
				(6, 2, true)
			);
		}
	}

	#[test]
	fn claims_on_miners_the_voter_passed_come_before_claims_on_sybils_that_withheld_from_it() {
		// Attack (review of session 18): sybils withhold from every validator in the verify
		// phase, so every honest validator's list holds a free `NotServed` on each, and a
		// forger withholds from its catcher, whose claim is a `NotServed` among those. The voter
		// passed the forger (it was served), not the sybils: the forger's claim comes first.
		let honest: Vec<crate::AccountBytes> = (20..26).map(|b| [b; 32]).collect();
		let mut due: Vec<(u8, SegmentIndex, bool, crate::AccountBytes)> = Vec::new();
		for accuser in &honest {
			for sybil in 10..60u8 {
				due.push((sybil, 4, false, *accuser));
			}
		}
		due.push((1, 2, false, honest[0]));
		for byte in 0..32u8 {
			let order = check_order(due.clone(), |m| [*m; 32], |m| *m == 1, &[byte; 32]);
			assert_eq!(order[0], (1, 2, false));
			assert_eq!(order.len(), 51);
		}
	}

	#[test]
	fn a_vote_names_what_failed_apart_from_what_was_not_served() {
		use Finding::*;
		let theirs = |segment| Claim {
			mine: false,
			segment,
			fail: true,
		};
		let mine = |segment, fail| Claim {
			mine: true,
			segment,
			fail,
		};
		let at = |map: &'static [(SegmentIndex, Finding)]| {
			move |s| map.iter().find(|(x, _)| *x == s).map(|(_, c)| *c)
		};
		// Every claimed segment replays: rejected.
		assert_eq!(
			vote(&[theirs(3), theirs(7)], at(&[(3, Replays), (7, Replays)])),
			Some((vec![], false))
		);
		// Each failing segment is named; one not served here upholds without naming it (a miner
		// may withhold it from the voters on purpose: that proves no replay failure).
		assert_eq!(
			vote(
				&[theirs(3), theirs(7), theirs(9)],
				at(&[(3, Fails), (7, NotServed), (9, Fails)])
			),
			Some((vec![3, 9], true))
		);
		assert_eq!(
			vote(&[theirs(7)], at(&[(7, NotServed)])),
			Some((vec![], true))
		);
		// A segment it could not check might be the forged one: no rejection, so no vote ...
		assert_eq!(vote(&[theirs(3), theirs(7)], at(&[(3, Replays)])), None);
		// ... unless another fails.
		assert_eq!(
			vote(&[theirs(3), theirs(7)], at(&[(3, Fails)])),
			Some((vec![3], false))
		);
		// Its own claim alone: no vote. Its own `Fail` beside another's claim stands, whatever a
		// replay here said of it; its own "not served" is rejected once it got and replayed it.
		assert_eq!(vote(&[mine(5, true)], at(&[])), None);
		assert_eq!(
			vote(
				&[mine(5, true), theirs(7)],
				at(&[(5, Replays), (7, Replays)])
			),
			Some((vec![5], false))
		);
		assert_eq!(
			vote(
				&[mine(5, false), theirs(7)],
				at(&[(5, Replays), (7, Replays)])
			),
			Some((vec![], false))
		);
	}
}
