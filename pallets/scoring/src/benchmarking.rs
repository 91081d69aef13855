//! Benchmarks of validator scoring (`frame_benchmarking::v2`), each at its worst case.

use super::*;
use crate::Pallet as Scoring;
use alloc::vec::Vec;
use frame_benchmarking::v2::*;
use frame_system::RawOrigin;

fn validator<T: Config>(i: u32) -> T::AccountId {
	let who: T::AccountId = account("validator", i, 0);
	T::BenchmarkHelper::make_validator(&who);
	who
}

/// The stake each benchmark scorer stands with.
const SCORER_STAKE: u32 = 1_000_000;

/// Puts `who` into the scorer snapshot of round 0 of `task`.
fn make_scorer<T: Config>(task: TaskId, who: &T::AccountId) {
	RoundScorers::<T>::mutate((task, 0), |scorers| {
		let mut list = scorers.to_vec();
		if let Err(at) = list.binary_search_by(|(v, _)| v.cmp(who)) {
			list.insert(at, (who.clone(), T::Balance::from(SCORER_STAKE)));
			// As the snapshot would: held until the round is settled.
			T::Settlement::lock(who);
		}
		*scorers = BoundedVec::truncate_from(list);
	});
	if let Some(key) = T::ChallengeKeys::challenge_key(who) {
		RoundChallengeKeys::<T>::mutate((task, 0), |keys| {
			let mut list = keys.to_vec();
			list.retain(|(v, _)| v != who);
			list.push((who.clone(), key));
			*keys = BoundedVec::truncate_from(list);
		});
	}
}

/// Entries for every miner, sorted, all with the given verdict.
fn entries<T: Config>(miners: &[T::AccountId], verdict: Verdict) -> EntriesOf<T> {
	let mut sorted = miners.to_vec();
	sorted.sort();
	let list: Vec<_> = sorted
		.into_iter()
		.enumerate()
		.map(|(i, miner)| ScoreEntry {
			miner,
			score: Perbill::from_percent((i % 100) as u32),
			verdict,
		})
		.collect();
	BoundedVec::truncate_from(list)
}

/// A dispute with a claim of `kind` by each of `accusers`, on segments 1, 2, ….
fn dispute<T: Config>(accusers: &[T::AccountId], kind: DisputeKind) -> DisputeOf<T> {
	let claims: Vec<_> = accusers
		.iter()
		.enumerate()
		.map(|(i, accuser)| Claim {
			accuser: accuser.clone(),
			segment: i as u32 + 1,
			kind,
		})
		.collect();
	Dispute {
		claims: BoundedVec::truncate_from(claims),
		confirmed: BoundedVec::new(),
	}
}

/// `n` votes by other accounts, each `upheld` or not.
fn votes<T: Config>(n: u32, upheld: bool) -> BoundedVec<(T::AccountId, bool), T::MaxScorers> {
	let list: Vec<_> = (0..n)
		.map(|i| (account::<T::AccountId>("voter", i, 0), upheld))
		.collect();
	BoundedVec::truncate_from(list)
}

/// A dispute over the one miner of a fresh task in `phase`, with a `Replay` claim by every
/// scorer but `who` and then by `who`, on segments 1, 2, …; `who` a scorer.
fn full_dispute<T: Config>(phase: Phase) -> (TaskId, T::AccountId, T::AccountId) {
	let (task, miners) = T::BenchmarkHelper::task_with_revealed_miners(phase, 1);
	let miner = miners[0].clone();
	let who = validator::<T>(1);
	make_scorer::<T>(task, &who);
	let mut accusers: Vec<T::AccountId> = (0..T::MaxScorers::get().saturating_sub(1))
		.map(|i| account("accuser", i, 0))
		.collect();
	accusers.push(who.clone());
	Disputes::<T>::insert(
		(task, 0),
		&miner,
		dispute::<T>(&accusers, DisputeKind::Replay),
	);
	(task, miner, who)
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn commit_scores() {
		let (task, _) = T::BenchmarkHelper::task_with_revealed_miners(Phase::Verify, 1);
		let who = validator::<T>(0);
		make_scorer::<T>(task, &who);
		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), task, 0, [1u8; 32].into());
		assert!(ScoreCommits::<T>::contains_key((task, 0), &who));
	}

	#[benchmark]
	fn reveal_scores(e: Linear<1, { T::MaxMiners::get() }>) {
		// Worst case: every entry a `Fail` that joins a dispute holding every other scorer's
		// claim, each checked against the caller's challenges (the task's most segments and
		// segments per check); the challenge proof (one VRF verification) is checked first.
		let (task, miners) = T::BenchmarkHelper::task_with_revealed_miners(Phase::Verify, e);
		let (seed, _) = T::Rounds::challenge_params(task, 0).expect("the task has a seed");
		let (who, proof) = T::BenchmarkHelper::challenger(&seed);
		T::BenchmarkHelper::make_validator(&who);
		make_scorer::<T>(task, &who);
		let n = T::Rounds::num_segments(task).unwrap_or(1);
		let list = entries::<T>(&miners, Verdict::Fail { segment: n });
		let salt = [2u8; 32];
		let hash = hashing::commit_hash_of(&list, &hashing::account_bytes(&who), &salt);
		assert!(
			Scoring::<T>::commit_scores(RawOrigin::Signed(who.clone()).into(), task, 0, hash)
				.is_ok()
		);
		let others: Vec<T::AccountId> = (0..T::MaxScorers::get().saturating_sub(1))
			.map(|i| account("accuser", i, 0))
			.collect();
		for miner in miners.iter() {
			Disputes::<T>::insert((task, 0), miner, dispute::<T>(&others, DisputeKind::Replay));
		}
		T::BenchmarkHelper::set_phase(task, Phase::ScoreReveal);
		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), task, 0, list, salt, proof);
		for miner in miners.iter() {
			let d = Disputes::<T>::get((task, 0), miner).expect("the dispute stays open");
			assert_eq!(d.claims.len() as u32, T::MaxScorers::get());
		}
	}

	#[benchmark]
	fn commit_vote() {
		// Worst case: the caller is the last of every scorer's claims (its own claim is looked
		// up, and another's), and its commitment is the last that fits.
		let (task, miner, who) = full_dispute::<T>(Phase::VoteCommit);
		let others: Vec<_> = (0..T::MaxScorers::get().saturating_sub(1))
			.map(|i| (account::<T::AccountId>("voter", i, 0), Hash::repeat_byte(1)))
			.collect();
		VoteCommits::<T>::insert(
			(task, 0, miner.clone()),
			BoundedVec::<_, T::MaxScorers>::truncate_from(others),
		);
		#[extrinsic_call]
		_(
			RawOrigin::Signed(who.clone()),
			task,
			0,
			miner.clone(),
			Hash::repeat_byte(2),
		);
		assert_eq!(
			VoteCommits::<T>::get((task, 0, miner)).len() as u32,
			T::MaxScorers::get()
		);
	}

	#[benchmark]
	fn reveal_vote() {
		// Worst case: the caller confirms every claimed segment (each claimed by another, each
		// a new entry of the tally), its commitment is the last of a full list, and its vote the
		// last that fits.
		let (task, miner, who) = full_dispute::<T>(Phase::VoteReveal);
		let confirmed: Vec<u32> = (1..=T::MaxScorers::get()).collect();
		let salt = [7u8; 32];
		let commitment = hashing::vote_commit_hash(
			task,
			0,
			&hashing::account_bytes(&miner),
			&confirmed,
			false,
			&hashing::account_bytes(&who),
			&salt,
		);
		let mut commits: Vec<_> = (0..T::MaxScorers::get().saturating_sub(1))
			.map(|i| (account::<T::AccountId>("voter", i, 0), Hash::repeat_byte(1)))
			.collect();
		commits.push((who.clone(), commitment));
		VoteCommits::<T>::insert(
			(task, 0, miner.clone()),
			BoundedVec::<_, T::MaxScorers>::truncate_from(commits),
		);
		DisputeVotes::<T>::insert(
			(task, 0, miner.clone()),
			votes::<T>(T::MaxScorers::get().saturating_sub(1), true),
		);
		let confirmed = BoundedVec::<_, T::MaxScorers>::truncate_from(confirmed);
		#[extrinsic_call]
		_(
			RawOrigin::Signed(who.clone()),
			task,
			0,
			miner.clone(),
			confirmed,
			false,
			salt,
		);
		assert_eq!(
			DisputeVotes::<T>::get((task, 0, miner.clone())).len() as u32,
			T::MaxScorers::get()
		);
		let d = Disputes::<T>::get((task, 0), &miner).expect("the dispute stays open");
		// Its own segment (the last) is not tallied: only it claimed it.
		assert_eq!(
			d.confirmed.len() as u32,
			T::MaxScorers::get().saturating_sub(1)
		);
	}

	#[benchmark]
	fn on_round_end(
		m: Linear<1, { T::MaxMiners::get() }>,
		v: Linear<1, { T::MaxScorers::get() }>,
		d: Linear<0, { T::MaxMiners::get() }>,
		u: Linear<0, { T::MaxScorers::get() }>,
	) {
		// `v` validators, the round's scorers, judged all `m` miners; `d` disputes, each with a
		// `Replay` claim by every one of them and voted on by all of them. The first is rejected
		// (each of the `v` accusers is slashed, once a round), the others upheld (each slashes
		// its miner): the most slashes a round can make. `u` more committed and never revealed
		// (each forfeits its deposit).
		let (task, miners) = T::BenchmarkHelper::task_with_revealed_miners(Phase::Finalize, m);
		let validators: Vec<T::AccountId> = (0..v).map(validator::<T>).collect();
		let list = entries::<T>(&miners, Verdict::Pass);
		// The `v` are the whole snapshot (not beside the genesis authorities, whose stake would
		// leave every dispute undecided: no slash, not the worst case).
		RoundScorers::<T>::remove((task, 0));
		RoundChallengeKeys::<T>::remove((task, 0));
		for who in validators.iter() {
			make_scorer::<T>(task, who);
			T::Settlement::lock(who);
			ScoreCommits::<T>::insert((task, 0), who, Hash::zero());
			Reveals::<T>::insert((task, 0), who, list.clone());
			RevealStake::<T>::insert((task, 0), who, T::Balance::from(SCORER_STAKE));
		}
		for i in 0..u {
			let silent = validator::<T>(v + i);
			T::Settlement::lock(&silent);
			ScoreCommits::<T>::insert((task, 0), &silent, Hash::zero());
		}
		CommitCount::<T>::insert((task, 0), v + u);
		RevealedTotal::<T>::insert((task, 0), T::Balance::from(SCORER_STAKE * v));
		for (i, miner) in miners.iter().take(d as usize).enumerate() {
			let upheld = i > 0;
			let claims = dispute::<T>(&validators, DisputeKind::Replay);
			Disputes::<T>::insert((task, 0), miner, claims);
			let votes: Vec<(T::AccountId, bool)> =
				validators.iter().map(|v| (v.clone(), upheld)).collect();
			DisputeVotes::<T>::insert(
				(task, 0, miner.clone()),
				BoundedVec::<_, T::MaxScorers>::truncate_from(votes),
			);
			let commits: Vec<(T::AccountId, Hash)> = validators
				.iter()
				.map(|v| (v.clone(), Hash::zero()))
				.collect();
			VoteCommits::<T>::insert(
				(task, 0, miner.clone()),
				BoundedVec::<_, T::MaxScorers>::truncate_from(commits),
			);
		}
		let budget = RoundBudget {
			total: Zero::zero(),
			validator_share: Perbill::from_percent(20),
		};
		// The disputes are decided, as the worst case needs: the upheld ones (all but the first)
		// leave their miners out, and will slash them. (A lone scorer's claims decide nothing,
		// since a lone accuser is not eligible; undecided over a `Fail`, those its votes lean to
		// upholding leave their miners out, the first, leaning to rejecting, does not.)
		let out = d.min(m).saturating_sub(1);
		assert_eq!(Scoring::<T>::consensus(task, 0).len() as u32, m - out);
		#[block]
		{
			Scoring::<T>::settle(task, 0, budget);
		}
		assert_eq!(Reveals::<T>::iter_prefix((task, 0)).count(), 0);
		assert_eq!(DisputeVotes::<T>::iter().count(), 0);
		assert_eq!(VoteCommits::<T>::iter().count(), 0);
	}

	#[benchmark]
	fn on_round_start() {
		// The most scorers a snapshot holds.
		let scorers: Vec<T::AccountId> = (0..T::MaxScorers::get()).map(validator::<T>).collect();
		T::BenchmarkHelper::set_scorers(&scorers);
		#[block]
		{
			Scoring::<T>::snapshot_scorers(0, 0);
		}
		assert_eq!(
			RoundScorers::<T>::get((0, 0)).len() as u32,
			T::MaxScorers::get()
		);
	}

	impl_benchmark_test_suite!(Scoring, crate::mock::new_test_ext(), crate::mock::Test);
}
