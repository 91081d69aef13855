//! Tests of the task registry: specs, budgets, miners, the round machine, commit-reveal and
//! global-model acceptance.

use crate::{mock::*, Error, Event, *};
use frame_support::{assert_noop, assert_ok, traits::fungible::InspectHold};
use pol_primitives::{
	hashing, AggregationRule, Comparison, FinalLeafProof, Role, UpdateCommitment,
};
use sp_runtime::{traits::BadOrigin, FixedU64, Perbill};

type Registry = crate::Pallet<Test>;

/// Round 0 of a task created at block 1: commit 1..=4, reveal 5..=7, verify 8..=17,
/// score reveal 18..=19, finalize 20..=22; round 1 starts at block 23.
const REVEAL_AT: u64 = 5;
const VERIFY_AT: u64 = 8;
const SCORE_REVEAL_AT: u64 = 18;
const VOTE_COMMIT_AT: u64 = 20;
const VOTE_REVEAL_AT: u64 = 30;
const FINALIZE_AT: u64 = 35;
const NEXT_ROUND_AT: u64 = 38;

/// What [`spec`]'s 3-round task holds for its storage until pruned.
const DEPOSIT: Balance = TASK_DEPOSIT + 3 * ROUND_DEPOSIT;

fn create_by(creator: AccountId, spec: TaskSpec<Balance>, budget: Balance) -> TaskId {
	let id = NextTaskId::<Test>::get();
	assert_ok!(Registry::create_task(
		RuntimeOrigin::signed(creator),
		spec,
		budget
	));
	id
}

fn create_with(spec: TaskSpec<Balance>, budget: Balance) -> TaskId {
	create_by(CREATOR, spec, budget)
}

fn create() -> TaskId {
	create_with(spec(), 10 * REWARD)
}

fn held(who: AccountId) -> Balance {
	Balances::balance_on_hold(&HoldReason::TaskBudget.into(), &who)
}

fn deposit_held(who: AccountId) -> Balance {
	Balances::balance_on_hold(&HoldReason::TaskDeposit.into(), &who)
}

fn free(who: AccountId) -> Balance {
	Balances::free_balance(who)
}

/// Makes `who` an active miner and joins it to `task`.
fn join(who: AccountId, task: TaskId) {
	set_stake(who, Role::Miner, 100);
	assert_ok!(Registry::join_task(RuntimeOrigin::signed(who), task));
}

/// `who`'s run of 4 segments: its commitment and the proof of its final leaf.
fn run(who: AccountId) -> (UpdateCommitment, FinalLeafProof) {
	let uri = b"http://miner/v1/artifacts/x".to_vec().try_into().unwrap();
	pol_primitives::synthetic_run(who as u8, 4, uri)
}

fn commitment(who: AccountId) -> UpdateCommitment {
	run(who).0
}

fn final_leaf(who: AccountId) -> FinalLeafProof {
	run(who).1
}

fn salt(who: AccountId) -> [u8; 32] {
	[who as u8 + 200; 32]
}

fn commit_of(who: AccountId, c: &UpdateCommitment) -> Hash {
	hashing::commit_hash(c, &hashing::account_bytes(&who), &salt(who))
}

fn commit(who: AccountId, task: TaskId, round: RoundIndex) {
	assert_ok!(Registry::commit_update(
		RuntimeOrigin::signed(who),
		task,
		round,
		commit_of(who, &commitment(who))
	));
}

fn reveal_update(who: AccountId, task: TaskId, round: RoundIndex) {
	assert_ok!(Registry::reveal_update(
		RuntimeOrigin::signed(who),
		task,
		round,
		commitment(who),
		salt(who),
		final_leaf(who)
	));
}

fn uri() -> ArtifactUri {
	b"http://validator/v1/artifacts/m"
		.to_vec()
		.try_into()
		.unwrap()
}

fn propose(
	who: AccountId,
	task: TaskId,
	round: RoundIndex,
	model: u8,
) -> DispatchResultWithPostInfo {
	Registry::propose_global_model(
		RuntimeOrigin::signed(who),
		task,
		round,
		[model; 32].into(),
		uri(),
	)
}

/// Validators 11, 12, 13 with the given revealed stakes in round `round` of `task`.
fn validators(task: TaskId, round: RoundIndex, stakes: &[Balance]) {
	for (i, stake) in stakes.iter().enumerate() {
		let who = 11 + i as AccountId;
		set_stake(who, Role::Validator, *stake);
		mock::reveal(task, round, who, *stake);
	}
}

#[test]
fn create_task_holds_budget_and_starts_round_zero() {
	test(|| {
		let task = create();
		assert_eq!(task, 0);
		assert_eq!(held(CREATOR), 10 * REWARD);
		assert_eq!(deposit_held(CREATOR), DEPOSIT);
		assert_eq!(free(CREATOR), 100_000 - 10 * REWARD - DEPOSIT);
		let info = Tasks::<Test>::get(task).unwrap();
		assert_eq!(info.deposit, DEPOSIT);
		assert_eq!(CreatorTasks::<Test>::get(CREATOR), 1);
		assert_eq!(round_starts(), vec![(task, 0)]);
		assert_eq!(info.status, TaskStatus::Active);
		assert_eq!(
			(info.round, info.phase, info.phase_ends),
			(0, Phase::Commit, 4)
		);
		assert_eq!(info.model.model_hash, spec().initial_model_hash);
		let seed = hashing::round_seed(task, 0, &System::parent_hash());
		assert_eq!(Rounds::<Test>::get(task, 0).unwrap().seed, seed);
		assert_eq!(
			Deadlines::<Test>::get().into_inner(),
			vec![(REVEAL_AT, task)]
		);
		assert_eq!(
			registry_events(),
			vec![
				Event::TaskCreated {
					task,
					creator: CREATOR,
					budget: 10 * REWARD
				},
				Event::RoundStarted {
					task,
					round: 0,
					seed,
					model: spec().initial_model_hash
				},
				Event::PhaseStarted {
					task,
					round: 0,
					phase: Phase::Commit,
					ends_at: 4
				},
			]
		);
		assert_eq!(NextTaskId::<Test>::get(), 1);
	});
}

#[test]
fn create_task_rejects_bad_specs() {
	test(|| {
		let bad = |f: fn(&mut TaskSpec<Balance>), err: Error<Test>| {
			let mut s = spec();
			f(&mut s);
			assert_noop!(
				Registry::create_task(RuntimeOrigin::signed(CREATOR), s, 10 * REWARD),
				err
			);
		};
		bad(
			|s| s.model = b"transformer:big".to_vec().try_into().unwrap(),
			Error::InvalidModelSpec,
		);
		bad(
			|s| s.model = b"mlp:64-32-9".to_vec().try_into().unwrap(),
			Error::ModelDoesNotFitData,
		);
		bad(|s| s.dataset.num_shards = 0, Error::InvalidDataset);
		bad(
			|s| s.dataset.validation = Perbill::zero(),
			Error::InvalidDataset,
		);
		bad(
			|s| {
				s.dataset.partition = pol_primitives::Partition::Dirichlet {
					alpha: FixedU64::from_u32(0),
				}
			},
			Error::InvalidDataset,
		);
		bad(
			|s| s.hyperparameters.checkpoint_interval = 3,
			Error::InvalidHyperparameters,
		);
		bad(
			|s| s.hyperparameters.learning_rate = FixedU64::from_u32(0),
			Error::InvalidHyperparameters,
		);
		bad(
			|s| s.hyperparameters.momentum = FixedU64::from_u32(1),
			Error::InvalidHyperparameters,
		);
		bad(
			|s| s.hyperparameters.batch_size = 0,
			Error::InvalidHyperparameters,
		);
		bad(
			// 1000 segments of one step: above MaxSegments (64).
			|s| {
				s.hyperparameters.local_steps = 1000;
				s.hyperparameters.checkpoint_interval = 1;
			},
			Error::InvalidHyperparameters,
		);
		bad(
			|s| s.verification.segments_per_check = 0,
			Error::InvalidVerification,
		);
		bad(
			|s| s.verification.segments_per_check = 5,
			Error::InvalidVerification,
		);
		// No threads, or more than a validator can be asked to spawn.
		bad(
			|s| s.verification.profile.threads = 0,
			Error::InvalidVerification,
		);
		bad(
			|s| s.verification.profile.threads = pol_primitives::specs::MAX_PROFILE_THREADS + 1,
			Error::InvalidVerification,
		);
		bad(
			|s| {
				s.aggregation = AggregationRule::TrimmedMean {
					trim: Perbill::from_percent(50),
				}
			},
			Error::InvalidAggregation,
		);
		bad(
			|s| {
				s.aggregation = AggregationRule::NormClip {
					max_norm: FixedU64::from_u32(0),
				}
			},
			Error::InvalidAggregation,
		);
		bad(
			|s| {
				s.aggregation = AggregationRule::NormClip {
					max_norm: FixedU64::from_u32(pol_primitives::specs::MAX_NORM_CLIP + 1),
				}
			},
			Error::InvalidAggregation,
		);
		bad(|s| s.schedule.verify_blocks = 0, Error::InvalidSchedule);
		bad(|s| s.schedule.rounds = 0, Error::InvalidSchedule);
		bad(|s| s.max_miners = 0, Error::InvalidMinerLimit);
		bad(|s| s.max_miners = MAX_MINERS + 1, Error::InvalidMinerLimit);
		bad(
			|s| s.initial_model_uri = Default::default(),
			Error::EmptyUri,
		);
		bad(|s| s.reward_per_round = 0, Error::RewardTooLow);
		bad(|s| s.reward_per_round = MIN_REWARD - 1, Error::RewardTooLow);
		assert_noop!(
			Registry::create_task(RuntimeOrigin::signed(CREATOR), spec(), REWARD - 1),
			Error::<Test>::BudgetBelowRoundReward
		);
		assert_noop!(
			Registry::create_task(RuntimeOrigin::signed(CREATOR), spec(), 100_000),
			Error::<Test>::InsufficientBalance
		);
		assert_noop!(
			Registry::create_task(RuntimeOrigin::none(), spec(), REWARD),
			BadOrigin
		);
		// A synthetic set fits a model of its own shape, and a tolerance comparison is fine.
		let mut s = spec();
		s.model = b"mlp:20-16-3".to_vec().try_into().unwrap();
		s.dataset.source = DatasetSource::Synthetic {
			seed: 1,
			samples: 500,
			features: 20,
			classes: 3,
		};
		s.verification.comparison = Comparison::Tolerance(Perbill::from_percent(1));
		s.aggregation = AggregationRule::TrimmedMean {
			trim: Perbill::from_percent(20),
		};
		assert_ok!(Registry::create_task(
			RuntimeOrigin::signed(CREATOR),
			s,
			REWARD
		));
	});
}

/// A verify phase shorter than what a miner's server owes a validator (the manifest and both
/// ends of every challenged segment at the protocol's minimum rate, the blocks to notice the
/// phase and to get a transaction in) would let a stall pass for the validator's own lateness:
/// the task is refused, and the bound grows with the model.
#[test]
fn a_verify_phase_that_cannot_hold_the_fetches_is_refused() {
	test(|| {
		let min = |s: &TaskSpec<Balance>| {
			let arch = pol_primitives::ModelArch::parse(&s.model).unwrap();
			pol_primitives::serving::min_verify_blocks(
				&arch,
				!s.hyperparameters.momentum.is_zero(),
				s.hyperparameters.num_segments().unwrap(),
				s.verification.segments_per_check,
				3_000,
			)
		};
		let small = spec();
		// The grace (10 s), a second for each of the two waves of requests (the manifest, then
		// the 4 checkpoints) and the bytes: 5 blocks; 2 to notice the phase, 3 of margin.
		assert_eq!(min(&small), 10);
		let mut short = spec();
		short.schedule.verify_blocks = min(&small) - 1;
		assert_noop!(
			Registry::create_task(RuntimeOrigin::signed(CREATOR), short, 10 * REWARD),
			Error::<Test>::VerifyPhaseTooShort
		);
		// A model of 4096·4096 weights: 64 MiB a checkpoint, with momentum 128 MiB; 4
		// checkpoints at 64 KiB/s are over 8,000 s, some 2,700 blocks.
		let mut big = spec();
		big.model = b"mlp:64-4096-4096-10".to_vec().try_into().unwrap();
		let needed = min(&big);
		assert!(needed > 2_700, "{needed}");
		big.schedule.verify_blocks = MAX_PHASE_BLOCKS;
		assert_noop!(
			Registry::create_task(RuntimeOrigin::signed(CREATOR), big, 10 * REWARD),
			Error::<Test>::VerifyPhaseTooShort
		);
		let mut exact = spec();
		exact.schedule.verify_blocks = min(&small);
		assert_ok!(Registry::create_task(
			RuntimeOrigin::signed(CREATOR),
			exact,
			10 * REWARD
		));
	});
}

#[test]
fn a_vote_commit_phase_that_cannot_hold_every_claimed_segments_fetch_is_refused() {
	// Attacks: (1) a colluding scorer claims against an honest miner in the score-reveal
	// phase's last block; (2) colluding scorers each claim a free `Fail` on another segment of
	// a forger's run, so that a voter runs out of time before it reaches the forged one. If the
	// voters cannot fetch and replay every claimed segment before votes are sealed, they do not
	// vote, and the dispute is left undecided: the honest miner unpaid, the forger unslashed.
	test(|| {
		let arch = |s: &TaskSpec<Balance>| pol_primitives::ModelArch::parse(&s.model).unwrap();
		let fetch = |s: &TaskSpec<Balance>, q: u32| {
			pol_primitives::serving::min_verify_blocks(
				&arch(s),
				!s.hyperparameters.momentum.is_zero(),
				s.hyperparameters.num_segments().unwrap(),
				q,
				3_000,
			)
		};
		let min = |s: &TaskSpec<Balance>| {
			pol_primitives::serving::min_vote_commit_blocks(
				&arch(s),
				!s.hyperparameters.momentum.is_zero(),
				s.hyperparameters.num_segments().unwrap(),
				MAX_SCORERS,
				3_000,
			)
		};
		let small = spec();
		// Every one of the run's 4 segments may be claimed (16 scorers): the grace (10 s), a
		// second for each of the two waves (the manifest, then 8 checkpoints) and the bytes: 5
		// blocks; 2 to notice the phase, 3 of margin. A phase for one claim is no shorter here,
		// but holds fewer checkpoints' bytes.
		assert_eq!(min(&small), 10);
		assert_eq!(min(&small), fetch(&small, 4));
		let mut short = spec();
		short.schedule.vote_commit_blocks = min(&small) - 1;
		assert_noop!(
			Registry::create_task(RuntimeOrigin::signed(CREATOR), short, 10 * REWARD),
			Error::<Test>::VoteCommitPhaseTooShort
		);
		// A large model: a phase that holds one claimed segment's fetch, or a validator's Q
		// segments', does not hold the fetch of every segment a dispute can name.
		let mut big = spec();
		big.model = b"mlp:64-4096-4096-10".to_vec().try_into().unwrap();
		assert!(
			min(&big) == fetch(&big, 4)
				&& min(&big) > fetch(&big, 2)
				&& fetch(&big, 2) > fetch(&big, 1),
			"{} {} {}",
			min(&big),
			fetch(&big, 2),
			fetch(&big, 1)
		);
		let mut exact = spec();
		exact.schedule.vote_commit_blocks = min(&small);
		assert_ok!(Registry::create_task(
			RuntimeOrigin::signed(CREATOR),
			exact,
			10 * REWARD
		));
		// A vote-reveal phase too short for an honest reveal to land.
		let mut hurried = spec();
		hurried.schedule.vote_reveal_blocks = 4;
		assert_noop!(
			Registry::create_task(RuntimeOrigin::signed(CREATOR), hurried, 10 * REWARD),
			Error::<Test>::VoteRevealPhaseTooShort
		);
	});
}

#[test]
fn too_many_tasks() {
	test(|| {
		for creator in 0..MAX_TASKS {
			create_by(2 + creator as AccountId, spec(), REWARD);
		}
		assert_noop!(
			Registry::create_task(RuntimeOrigin::signed(CREATOR), spec(), REWARD),
			Error::<Test>::TooManyTasks
		);
	});
}

#[test]
fn fund_task_by_creator_only() {
	test(|| {
		let task = create();
		assert_noop!(
			Registry::fund_task(RuntimeOrigin::signed(2), task, 500),
			Error::<Test>::NotCreator
		);
		assert_noop!(
			Registry::fund_task(RuntimeOrigin::signed(CREATOR), 9, 500),
			Error::<Test>::TaskNotFound
		);
		assert_noop!(
			Registry::fund_task(RuntimeOrigin::signed(CREATOR), task, 0),
			Error::<Test>::ZeroAmount
		);
		assert_noop!(
			Registry::fund_task(RuntimeOrigin::signed(CREATOR), task, 95_000),
			Error::<Test>::InsufficientBalance
		);
		registry_events();
		assert_ok!(Registry::fund_task(
			RuntimeOrigin::signed(CREATOR),
			task,
			500
		));
		assert_eq!(Tasks::<Test>::get(task).unwrap().budget, 10 * REWARD + 500);
		assert_eq!(held(CREATOR), 10 * REWARD + 500);
		assert_eq!(
			registry_events(),
			vec![Event::TaskFunded {
				task,
				amount: 500,
				budget: 10 * REWARD + 500
			}]
		);
	});
}

#[test]
fn join_and_leave() {
	test(|| {
		let task = create();
		assert_noop!(
			Registry::join_task(RuntimeOrigin::signed(2), task),
			Error::<Test>::NotActiveMiner
		);
		set_stake(11, Role::Validator, 1_000);
		assert_noop!(
			Registry::join_task(RuntimeOrigin::signed(11), task),
			Error::<Test>::NotActiveMiner
		);
		join(2, task);
		assert_noop!(
			Registry::join_task(RuntimeOrigin::signed(2), task),
			Error::<Test>::AlreadyJoined
		);
		set_stake(9, Role::Miner, 100);
		assert_noop!(
			Registry::join_task(RuntimeOrigin::signed(9), 7),
			Error::<Test>::TaskNotFound
		);
		join(3, task);
		join(4, task);
		// The task's own limit is 3 miners.
		assert_noop!(
			Registry::join_task(RuntimeOrigin::signed(9), task),
			Error::<Test>::TaskFull
		);
		assert_eq!(Tasks::<Test>::get(task).unwrap().miners, 3);
		assert_ok!(Registry::leave_task(RuntimeOrigin::signed(3), task));
		assert_noop!(
			Registry::leave_task(RuntimeOrigin::signed(3), task),
			Error::<Test>::NotJoined
		);
		assert_eq!(Tasks::<Test>::get(task).unwrap().miners, 2);
		assert_ok!(Registry::join_task(RuntimeOrigin::signed(9), task));
		assert!(registry_events().contains(&Event::MinerLeft {
			task,
			miner: 3,
			dropped: false
		}));
	});
}

#[test]
fn phases_advance_on_schedule_and_record_seeds() {
	test(|| {
		let task = create();
		registry_events();
		let phase_at = |n: u64| {
			run_to_block(n);
			Tasks::<Test>::get(task).unwrap().phase
		};
		assert_eq!(phase_at(4), Phase::Commit);
		assert_eq!(phase_at(REVEAL_AT), Phase::Reveal);
		assert_eq!(phase_at(VERIFY_AT - 1), Phase::Reveal);
		assert!(Rounds::<Test>::get(task, 0)
			.unwrap()
			.challenge_seed
			.is_none());
		assert_eq!(phase_at(VERIFY_AT), Phase::Verify);
		let challenge = hashing::challenge_seed(task, 0, &System::parent_hash());
		assert_eq!(
			Rounds::<Test>::get(task, 0).unwrap().challenge_seed,
			Some(challenge)
		);
		assert_eq!(phase_at(SCORE_REVEAL_AT), Phase::ScoreReveal);
		assert_eq!(phase_at(VOTE_COMMIT_AT), Phase::VoteCommit);
		assert_eq!(phase_at(VOTE_REVEAL_AT), Phase::VoteReveal);
		assert_eq!(phase_at(FINALIZE_AT), Phase::Finalize);
		assert_eq!(phase_at(NEXT_ROUND_AT - 1), Phase::Finalize);
		assert_eq!(phase_at(NEXT_ROUND_AT), Phase::Commit);
		let info = Tasks::<Test>::get(task).unwrap();
		assert_eq!((info.round, info.phase_ends), (1, NEXT_ROUND_AT + 3));
		let seed1 = hashing::round_seed(task, 1, &System::parent_hash());
		assert_eq!(Rounds::<Test>::get(task, 1).unwrap().seed, seed1);
		assert_eq!(
			registry_events(),
			vec![
				Event::PhaseStarted {
					task,
					round: 0,
					phase: Phase::Reveal,
					ends_at: 7
				},
				Event::ChallengeSeedRecorded {
					task,
					round: 0,
					seed: challenge
				},
				Event::PhaseStarted {
					task,
					round: 0,
					phase: Phase::Verify,
					ends_at: SCORE_REVEAL_AT - 1
				},
				Event::PhaseStarted {
					task,
					round: 0,
					phase: Phase::ScoreReveal,
					ends_at: VOTE_COMMIT_AT - 1
				},
				Event::PhaseStarted {
					task,
					round: 0,
					phase: Phase::VoteCommit,
					ends_at: VOTE_REVEAL_AT - 1
				},
				Event::PhaseStarted {
					task,
					round: 0,
					phase: Phase::VoteReveal,
					ends_at: FINALIZE_AT - 1
				},
				Event::PhaseStarted {
					task,
					round: 0,
					phase: Phase::Finalize,
					ends_at: NEXT_ROUND_AT - 1
				},
				Event::RoundClosed {
					task,
					round: 0,
					model: None,
					paid: 0
				},
				Event::RoundStarted {
					task,
					round: 1,
					seed: seed1,
					model: spec().initial_model_hash
				},
				Event::PhaseStarted {
					task,
					round: 1,
					phase: Phase::Commit,
					ends_at: NEXT_ROUND_AT + 3
				},
			]
		);
		assert_eq!(
			round_ends(),
			vec![(
				task,
				0,
				RoundBudget {
					total: REWARD,
					validator_share: Perbill::from_percent(20)
				}
			)]
		);
	});
}

#[test]
fn commit_and_reveal() {
	test(|| {
		let task = create();
		join(2, task);
		commit(2, task, 0);
		assert_eq!(Rounds::<Test>::get(task, 0).unwrap().commits, 1);
		run_to_block(REVEAL_AT);
		registry_events();
		reveal_update(2, task, 0);
		let c = commitment(2);
		assert_eq!(
			registry_events(),
			vec![Event::UpdateRevealed {
				task,
				round: 0,
				miner: 2,
				checkpoint_root: c.checkpoint_root,
				final_model_hash: c.final_model_hash,
				artifact_uri: c.artifact_uri.clone(),
			}]
		);
		assert_eq!(Registry::revealed_updates(task, 0), vec![(2, c)]);
		assert!(<Registry as pol_primitives::RoundInfo<_>>::has_revealed(
			task, 0, &2
		));
		assert_eq!(
			<Registry as pol_primitives::RoundInfo<AccountId>>::num_segments(task),
			Some(4)
		);
		assert_eq!(Rounds::<Test>::get(task, 0).unwrap().reveals, 1);
		// The round's updates are cleared when it closes; the record stays.
		run_to_block(NEXT_ROUND_AT);
		assert!(Registry::revealed_updates(task, 0).is_empty());
		assert_eq!(Rounds::<Test>::get(task, 0).unwrap().reveals, 1);
	});
}

#[test]
fn commit_errors() {
	test(|| {
		let task = create();
		let hash = commit_of(2, &commitment(2));
		let call =
			|who, round| Registry::commit_update(RuntimeOrigin::signed(who), task, round, hash);
		set_stake(2, Role::Miner, 100);
		assert_noop!(call(2, 0), Error::<Test>::NotJoined);
		join(2, task);
		assert_noop!(call(2, 1), Error::<Test>::RoundNotStarted);
		assert_noop!(
			Registry::commit_update(RuntimeOrigin::signed(2), 5, 0, hash),
			Error::<Test>::TaskNotFound
		);
		unstake(2);
		assert_noop!(call(2, 0), Error::<Test>::NotActiveMiner);
		set_stake(2, Role::Miner, 100);
		assert_ok!(call(2, 0));
		assert_noop!(call(2, 0), Error::<Test>::AlreadyCommitted);
		join(3, task);
		run_to_block(REVEAL_AT);
		assert_noop!(call(3, 0), Error::<Test>::CommitPhaseOver);
		run_to_block(NEXT_ROUND_AT);
		assert_noop!(call(3, 0), Error::<Test>::RoundOver);
		assert_ok!(call(3, 1));
	});
}

#[test]
fn reveal_errors() {
	test(|| {
		let task = create();
		join(2, task);
		join(3, task);
		commit(2, task, 0);
		let reveal = |who, c: UpdateCommitment, s| {
			Registry::reveal_update(RuntimeOrigin::signed(who), task, 0, c, s, final_leaf(2))
		};
		assert_noop!(
			reveal(2, commitment(2), salt(2)),
			Error::<Test>::RevealNotOpen
		);
		run_to_block(REVEAL_AT);
		assert_noop!(
			reveal(3, commitment(3), salt(3)),
			Error::<Test>::NotCommitted
		);
		assert_noop!(
			reveal(2, commitment(2), salt(3)),
			Error::<Test>::CommitmentMismatch
		);
		let mut other = commitment(2);
		other.train_loss = FixedU64::from_rational(1, 4);
		assert_noop!(reveal(2, other, salt(2)), Error::<Test>::CommitmentMismatch);
		reveal_update(2, task, 0);
		assert_noop!(
			reveal(2, commitment(2), salt(2)),
			Error::<Test>::AlreadyRevealed
		);
		run_to_block(VERIFY_AT);
		assert_noop!(
			reveal(2, commitment(2), salt(2)),
			Error::<Test>::RevealPhaseOver
		);
	});
}

#[test]
fn reveal_checks_segments_and_uri() {
	test(|| {
		let task = create();
		join(2, task);
		join(3, task);
		let mut wrong = commitment(2);
		wrong.num_segments = 5;
		let mut no_uri = commitment(3);
		no_uri.artifact_uri = Default::default();
		for (who, c) in [(2, &wrong), (3, &no_uri)] {
			assert_ok!(Registry::commit_update(
				RuntimeOrigin::signed(who),
				task,
				0,
				commit_of(who, c)
			));
		}
		run_to_block(REVEAL_AT);
		assert_noop!(
			Registry::reveal_update(
				RuntimeOrigin::signed(2),
				task,
				0,
				wrong,
				salt(2),
				final_leaf(2)
			),
			Error::<Test>::WrongSegmentCount
		);
		assert_noop!(
			Registry::reveal_update(
				RuntimeOrigin::signed(3),
				task,
				0,
				no_uri,
				salt(3),
				final_leaf(3)
			),
			Error::<Test>::EmptyUri
		);
	});
}

#[test]
fn reveal_binds_the_final_model_hash_to_leaf_n() {
	// Attack: a miner that trains honestly and serves its honest bundle, but commits another
	// final model hash W* (any model, a NaN-filled one included) to have it scored and
	// aggregated. Its commit hash is right, so only the proof of leaf n stops it.
	test(|| {
		let task = create();
		join(2, task);
		join(3, task);
		join(4, task);
		let mut swapped = commitment(2);
		swapped.final_model_hash = [0xEE; 32].into();
		// Miner 3 reveals leaf n − 1's model hash as final with a proof for it.
		let (honest3, _) = run(3);
		let uri = b"http://miner/v1/artifacts/x".to_vec().try_into().unwrap();
		let (short, short_leaf) = pol_primitives::synthetic_run(3, 3, uri);
		let mut early = honest3.clone();
		early.final_model_hash = short.final_model_hash;
		// Miner 4 claims a NaN final norm.
		let mut nan_leaf = final_leaf(4);
		nan_leaf.update_norm_bits = f32::NAN.to_bits();
		for (who, c) in [(2, &swapped), (3, &early), (4, &commitment(4))] {
			assert_ok!(Registry::commit_update(
				RuntimeOrigin::signed(who),
				task,
				0,
				commit_of(who, c)
			));
		}
		run_to_block(REVEAL_AT);
		assert_noop!(
			Registry::reveal_update(
				RuntimeOrigin::signed(2),
				task,
				0,
				swapped,
				salt(2),
				final_leaf(2)
			),
			Error::<Test>::FinalModelNotLeafN
		);
		assert_noop!(
			Registry::reveal_update(
				RuntimeOrigin::signed(3),
				task,
				0,
				early,
				salt(3),
				short_leaf
			),
			Error::<Test>::FinalModelNotLeafN
		);
		assert_noop!(
			Registry::reveal_update(
				RuntimeOrigin::signed(4),
				task,
				0,
				commitment(4),
				salt(4),
				nan_leaf
			),
			Error::<Test>::NonFiniteUpdate
		);
		reveal_update(4, task, 0);
		assert_eq!(Registry::revealed_updates(task, 0).len(), 1);
	});
}

#[test]
fn tolerance_above_the_bound_is_refused() {
	test(|| {
		for (tolerance, ok) in [
			(Perbill::zero(), false),
			(Perbill::from_parts(1), true),
			(pol_primitives::specs::MAX_TOLERANCE, true),
			(
				Perbill::from_parts(pol_primitives::specs::MAX_TOLERANCE.deconstruct() + 1),
				false,
			),
			(Perbill::from_percent(50), false),
		] {
			let mut s = spec();
			s.verification.comparison = pol_primitives::Comparison::Tolerance(tolerance);
			let r = Registry::validate_spec(&s);
			if ok {
				assert_ok!(r);
			} else {
				assert_noop!(r, Error::<Test>::InvalidVerification);
			}
		}
	});
}

#[test]
fn copied_commitment_is_rejected() {
	test(|| {
		let task = create();
		join(2, task);
		join(3, task);
		join(4, task);
		commit(2, task, 0);
		// Miner 3 cannot know 2's commitment before 2 reveals, so it commits to something of
		// its own, then submits 2's reveal (commitment and salt) word for word.
		commit(3, task, 0);
		// Miner 4 even committed to 2's commitment under its own account and salt (as if it
		// had learnt it early): the root is still 2's.
		assert_ok!(Registry::commit_update(
			RuntimeOrigin::signed(4),
			task,
			0,
			commit_of(4, &commitment(2))
		));
		run_to_block(REVEAL_AT);
		reveal_update(2, task, 0);
		assert_noop!(
			Registry::reveal_update(
				RuntimeOrigin::signed(3),
				task,
				0,
				commitment(2),
				salt(2),
				final_leaf(2)
			),
			Error::<Test>::CommitmentMismatch
		);
		assert_noop!(
			Registry::reveal_update(
				RuntimeOrigin::signed(4),
				task,
				0,
				commitment(2),
				salt(4),
				final_leaf(2)
			),
			Error::<Test>::DuplicateUpdate
		);
		assert_eq!(Registry::revealed_updates(task, 0).len(), 1);
	});
}

#[test]
fn a_miner_that_left_cannot_reveal() {
	test(|| {
		let task = create();
		join(2, task);
		commit(2, task, 0);
		assert_ok!(Registry::leave_task(RuntimeOrigin::signed(2), task));
		run_to_block(REVEAL_AT);
		assert_noop!(
			Registry::reveal_update(
				RuntimeOrigin::signed(2),
				task,
				0,
				commitment(2),
				salt(2),
				final_leaf(2)
			),
			Error::<Test>::NotJoined
		);
	});
}

#[test]
fn two_thirds_rule_is_exact() {
	assert!(!exceeds_two_thirds(2u128, 3));
	assert!(exceeds_two_thirds(3u128, 4));
	assert!(!exceeds_two_thirds(666u128, 999));
	assert!(exceeds_two_thirds(667u128, 999));
	assert!(!exceeds_two_thirds(0u128, 0));
	assert!(!exceeds_two_thirds(u128::MAX / 2, u128::MAX));
}

#[test]
fn proposal_at_two_thirds_is_not_accepted_above_is() {
	test(|| {
		let task = create();
		validators(task, 0, &[1_000, 1_000, 1_000]);
		run_to_block(FINALIZE_AT);
		registry_events();
		// 1000 of 3000: below.
		assert_ok!(propose(11, task, 0, 9));
		// 2000 of 3000: exactly 2/3, not more.
		assert_ok!(propose(12, task, 0, 9));
		assert!(Rounds::<Test>::get(task, 0).unwrap().accepted.is_none());
		assert!(ModelHistory::<Test>::get(task, 0).is_none());
		// 3000 of 3000: above.
		assert_ok!(propose(13, task, 0, 9));
		let model: Hash = [9u8; 32].into();
		assert_eq!(Rounds::<Test>::get(task, 0).unwrap().accepted, Some(model));
		let events = registry_events();
		assert_eq!(
			events.last(),
			Some(&Event::ModelAccepted {
				task,
				round: 0,
				model_hash: model,
				uri: uri(),
				stake: 3_000,
				revealed_stake: 3_000
			})
		);
		assert_eq!(
			events
				.iter()
				.filter(|e| matches!(e, Event::ModelProposed { .. }))
				.count(),
			3
		);
		// The next round trains from it, and the history keeps it.
		run_to_block(NEXT_ROUND_AT);
		assert_eq!(Tasks::<Test>::get(task).unwrap().model.model_hash, model);
		assert_eq!(
			ModelHistory::<Test>::get(task, 0).unwrap().model_hash,
			model
		);
		assert_eq!(
			ModelHistory::<Test>::get(task, 0).unwrap().accepted_at,
			FINALIZE_AT
		);
		assert!(ProposalTallies::<Test>::get((task, 0)).is_empty());
		assert_eq!(Proposals::<Test>::iter_prefix((task, 0)).count(), 0);
	});
}

#[test]
fn proposal_just_above_two_thirds_is_accepted() {
	test(|| {
		let task = create();
		validators(task, 0, &[1_001, 2_000, 999]);
		run_to_block(FINALIZE_AT);
		// 2000 of 4000: below.
		assert_ok!(propose(12, task, 0, 9));
		assert!(Rounds::<Test>::get(task, 0).unwrap().accepted.is_none());
		// 2999 of 4000 = 0.74975 > 2/3.
		assert_ok!(propose(13, task, 0, 9));
		assert_eq!(
			Rounds::<Test>::get(task, 0).unwrap().accepted,
			Some([9u8; 32].into())
		);
		assert_noop!(propose(11, task, 0, 8), Error::<Test>::ModelAlreadyAccepted);
		// A late proposer of the accepted hash adds a source.
		assert_ok!(propose(11, task, 0, 9));
		run_to_block(NEXT_ROUND_AT);
		let mut sources: Vec<_> = Registry::model_sources(task)
			.into_iter()
			.map(|(v, _)| v)
			.collect();
		sources.sort();
		// Bounded by `MaxProposals` (the runtime sets it to the most scorers a round has).
		assert_eq!(sources.len() as u32, MAX_PROPOSALS);
		assert!(sources.iter().all(|v| [11, 12, 13].contains(v)));
	});
}

#[test]
fn split_proposals_close_the_round_without_a_model() {
	test(|| {
		let task = create();
		validators(task, 0, &[1_000, 1_000, 1_000]);
		run_to_block(FINALIZE_AT);
		assert_ok!(propose(11, task, 0, 1));
		assert_ok!(propose(12, task, 0, 2));
		// Two distinct hashes is the mock's bound.
		assert_noop!(propose(13, task, 0, 3), Error::<Test>::TooManyProposals);
		assert_ok!(propose(13, task, 0, 2));
		assert!(Rounds::<Test>::get(task, 0).unwrap().accepted.is_none());
		registry_events();
		run_to_block(NEXT_ROUND_AT);
		assert!(registry_events().contains(&Event::RoundClosed {
			task,
			round: 0,
			model: None,
			paid: 0
		}));
		let info = Tasks::<Test>::get(task).unwrap();
		assert_eq!(info.model.model_hash, spec().initial_model_hash);
		assert!(ModelHistory::<Test>::get(task, 0).is_none());
	});
}

#[test]
fn proposal_errors() {
	test(|| {
		let task = create();
		validators(task, 0, &[1_000, 1_000]);
		set_stake(14, Role::Validator, 1_000);
		set_stake(2, Role::Miner, 100);
		assert_noop!(propose(2, task, 0, 9), Error::<Test>::NotActiveValidator);
		assert_noop!(propose(11, task, 0, 9), Error::<Test>::ProposalsNotOpen);
		run_to_block(VERIFY_AT);
		assert_noop!(propose(11, task, 0, 9), Error::<Test>::ProposalsNotOpen);
		run_to_block(FINALIZE_AT);
		assert_noop!(propose(11, task, 1, 9), Error::<Test>::RoundNotStarted);
		assert_noop!(propose(14, task, 0, 9), Error::<Test>::DidNotRevealScores);
		assert_noop!(
			Registry::propose_global_model(
				RuntimeOrigin::signed(11),
				task,
				0,
				[9; 32].into(),
				Default::default()
			),
			Error::<Test>::EmptyUri
		);
		assert_ok!(propose(11, task, 0, 9));
		assert_noop!(propose(11, task, 0, 8), Error::<Test>::AlreadyProposed);
		run_to_block(NEXT_ROUND_AT);
		assert_noop!(propose(12, task, 0, 9), Error::<Test>::RoundOver);
	});
}

#[test]
fn rounds_pay_from_the_budget_and_the_task_completes() {
	test(|| {
		let task = create();
		pay_each_round(2, 600);
		run_to_block(1 + 3 * ROUND_BLOCKS);
		let info = Tasks::<Test>::get(task).unwrap();
		assert_eq!(info.status, TaskStatus::Ended(EndReason::Completed));
		assert_eq!(free(2), 100_000 + 3 * 600);
		// Three rounds paid 600 each; the rest came back, but the deposit until pruned.
		assert_eq!(free(CREATOR), 100_000 - 3 * 600 - DEPOSIT);
		assert_eq!(held(CREATOR), 0);
		assert!(Deadlines::<Test>::get().is_empty());
		let events = registry_events();
		assert!(events.contains(&Event::TaskEnded {
			task,
			reason: EndReason::Completed,
			refunded: 10 * REWARD - 3 * 600
		}));
		assert_eq!(
			events
				.iter()
				.filter(|e| matches!(e, Event::RoundClosed { paid: 600, .. }))
				.count(),
			3
		);
		// Nothing runs any more.
		run_to_block(1 + 5 * ROUND_BLOCKS);
		assert_eq!(round_ends().len(), 3);
		set_stake(3, Role::Miner, 100);
		assert_noop!(
			Registry::join_task(RuntimeOrigin::signed(3), task),
			Error::<Test>::TaskEnded
		);
	});
}

#[test]
fn a_task_that_runs_out_of_budget_ends_cleanly() {
	test(|| {
		let mut s = spec();
		s.schedule.rounds = 10;
		let task = create_with(s, 2 * REWARD + REWARD / 2);
		join(2, task);
		pay_each_round(2, REWARD);
		run_to_block(1 + 3 * ROUND_BLOCKS);
		let info = Tasks::<Test>::get(task).unwrap();
		assert_eq!(info.status, TaskStatus::Ended(EndReason::OutOfBudget));
		assert_eq!(info.round, 2);
		assert_eq!(info.miners, 0);
		let budgets: Vec<_> = round_ends().iter().map(|(_, _, b)| b.total).collect();
		assert_eq!(budgets, vec![REWARD, REWARD, REWARD / 2]);
		assert_eq!(free(2), 100_000 + 2 * REWARD + REWARD / 2);
		assert_eq!(
			free(CREATOR) + held(CREATOR),
			100_000 - 2 * REWARD - REWARD / 2 - Registry::task_deposit(10)
		);
		assert!(registry_events().contains(&Event::TaskEnded {
			task,
			reason: EndReason::OutOfBudget,
			refunded: 0
		}));
	});
}

#[test]
fn cancel_without_commitments_refunds_everything_now() {
	test(|| {
		let task = create();
		join(2, task);
		pay_each_round(2, 300);
		run_to_block(NEXT_ROUND_AT);
		assert_noop!(
			Registry::cancel_task(RuntimeOrigin::signed(2), task),
			Error::<Test>::NotCreator
		);
		registry_events();
		assert_ok!(Registry::cancel_task(RuntimeOrigin::signed(CREATOR), task));
		// Round 0 paid 300; everything else is back, to the unit, but the deposit.
		assert_eq!(free(CREATOR), 100_000 - 300 - DEPOSIT);
		assert_eq!(discarded(), vec![(task, 1)]);
		assert_eq!(held(CREATOR), 0);
		let info = Tasks::<Test>::get(task).unwrap();
		assert_eq!(info.status, TaskStatus::Ended(EndReason::Cancelled));
		assert_eq!((info.budget, info.miners), (0, 0));
		assert!(Deadlines::<Test>::get().is_empty());
		assert_eq!(
			registry_events(),
			vec![Event::TaskEnded {
				task,
				reason: EndReason::Cancelled,
				refunded: 10 * REWARD - 300
			}]
		);
		assert_noop!(
			Registry::cancel_task(RuntimeOrigin::signed(CREATOR), task),
			Error::<Test>::TaskEnded
		);
		assert_noop!(
			Registry::fund_task(RuntimeOrigin::signed(CREATOR), task, 5),
			Error::<Test>::TaskEnded
		);
	});
}

#[test]
fn cancel_after_commitments_pays_the_round_first() {
	test(|| {
		let task = create();
		join(2, task);
		commit(2, task, 0);
		pay_each_round(2, 400);
		assert_ok!(Registry::cancel_task(RuntimeOrigin::signed(CREATOR), task));
		assert_eq!(
			Tasks::<Test>::get(task).unwrap().status,
			TaskStatus::Cancelling
		);
		assert_noop!(
			Registry::cancel_task(RuntimeOrigin::signed(CREATOR), task),
			Error::<Test>::TaskCancelling
		);
		set_stake(3, Role::Miner, 100);
		assert_noop!(
			Registry::join_task(RuntimeOrigin::signed(3), task),
			Error::<Test>::TaskCancelling
		);
		// The round goes on: the miner reveals, and is paid at the end.
		run_to_block(REVEAL_AT);
		reveal_update(2, task, 0);
		registry_events();
		run_to_block(NEXT_ROUND_AT);
		assert_eq!(free(2), 100_000 + 400);
		assert_eq!(free(CREATOR), 100_000 - 400 - DEPOSIT);
		assert!(registry_events().contains(&Event::TaskEnded {
			task,
			reason: EndReason::Cancelled,
			refunded: 10 * REWARD - 400
		}));
		assert_eq!(round_ends().len(), 1);
	});
}

#[test]
fn paying_from_a_task() {
	test(|| {
		let task = create();
		assert_noop!(
			<Registry as TaskFunds<_, _>>::pay(task, &5, 10 * REWARD + 1),
			Error::<Test>::InsufficientBudget
		);
		assert_noop!(
			<Registry as TaskFunds<_, _>>::pay(9, &5, 1),
			Error::<Test>::TaskNotFound
		);
		// Below the existential deposit of a new account: fails, nothing moves.
		assert!(<Registry as TaskFunds<_, _>>::pay(task, &50, ED - 1).is_err());
		assert_eq!(Tasks::<Test>::get(task).unwrap().budget, 10 * REWARD);
		assert_ok!(<Registry as TaskFunds<_, _>>::pay(task, &5, 250));
		// Paying the creator releases its own hold.
		assert_ok!(<Registry as TaskFunds<_, _>>::pay(task, &CREATOR, 50));
		assert_eq!(Tasks::<Test>::get(task).unwrap().budget, 10 * REWARD - 300);
		assert_eq!(free(5), 100_000 + 250);
		assert_eq!(free(CREATOR), 100_000 - 10 * REWARD - DEPOSIT + 50);
	});
}

#[test]
fn at_most_max_transitions_per_block() {
	test(|| {
		let tasks: Vec<_> = (0..3)
			.map(|c| create_by(2 + c, spec(), 10 * REWARD))
			.collect();
		run_to_block(REVEAL_AT);
		let phases: Vec<_> = tasks
			.iter()
			.map(|t| Tasks::<Test>::get(t).unwrap().phase)
			.collect();
		// Two move in block 5; the third waits a block, and its reveal phase still lasts 3.
		assert_eq!(phases, vec![Phase::Reveal, Phase::Reveal, Phase::Commit]);
		run_to_block(REVEAL_AT + 1);
		let third = Tasks::<Test>::get(tasks[2]).unwrap();
		assert_eq!(
			(third.phase, third.phase_ends),
			(Phase::Reveal, REVEAL_AT + 3)
		);
	});
}

#[test]
fn heavy_round_ends_are_spread_over_blocks() {
	test(|| {
		// Settling a round weighs 30% of a block: one close fits the round machine's half of
		// the block, a second would not, so it waits a block even under the transition cap.
		let weights: frame_system::limits::BlockWeights =
			<<Test as frame_system::Config>::BlockWeights as Get<_>>::get();
		let max_block = weights.max_block;
		set_round_end_weight(Perbill::from_percent(30) * max_block);
		let tasks: Vec<_> = (0..2).map(|_| create()).collect();
		// Cheap phase changes still share a block.
		run_to_block(REVEAL_AT);
		let phase = |t: TaskId| Tasks::<Test>::get(t).unwrap().phase;
		assert_eq!(
			(phase(tasks[0]), phase(tasks[1])),
			(Phase::Reveal, Phase::Reveal)
		);
		run_to_block(NEXT_ROUND_AT);
		let round = |t: TaskId| Tasks::<Test>::get(t).unwrap().round;
		assert_eq!((round(tasks[0]), round(tasks[1])), (1, 0));
		run_to_block(NEXT_ROUND_AT + 1);
		assert_eq!(round(tasks[1]), 1);
		assert!(Registry::worst_case_on_initialize().all_lte(max_block));
	});
}

#[test]
fn account_bytes_pads_short_accounts() {
	let bytes = hashing::account_bytes(&0x0102u64);
	assert_eq!(&bytes[..8], &0x0102u64.to_le_bytes());
	assert_eq!(&bytes[8..], &[0u8; 24]);
}

// Attacks on the registry's economics (issue 15): each test runs the attack and fails if the
// defence is removed.

#[test]
fn task_flood_is_capped_per_creator_and_costs_a_deposit() {
	test(|| {
		// A flooder runs at most `MaxTasksPerCreator` tasks, each holding a deposit.
		let flooder = 2;
		for _ in 0..MAX_TASKS_PER_CREATOR {
			create_by(flooder, spec(), MIN_REWARD.max(REWARD));
		}
		assert_eq!(
			deposit_held(flooder),
			MAX_TASKS_PER_CREATOR as Balance * DEPOSIT
		);
		assert_noop!(
			Registry::create_task(RuntimeOrigin::signed(flooder), spec(), REWARD),
			Error::<Test>::TooManyTasksOfCreator
		);
		// A deposit the creator cannot pay refuses the task, holding nothing.
		assert_noop!(
			Registry::create_task(RuntimeOrigin::signed(3), spec(), 100_000 - DEPOSIT),
			Error::<Test>::InsufficientBalance
		);
		// Task creation stays open to everyone else.
		create_by(CREATOR, spec(), REWARD);
		// Free or endless tasks are refused.
		let mut cheap = spec();
		cheap.reward_per_round = MIN_REWARD - 1;
		assert_noop!(
			Registry::create_task(RuntimeOrigin::signed(3), cheap, REWARD),
			Error::<Test>::RewardTooLow
		);
		let mut endless = spec();
		endless.schedule.commit_blocks = MAX_PHASE_BLOCKS + 1;
		assert_noop!(
			Registry::create_task(RuntimeOrigin::signed(3), endless, REWARD),
			Error::<Test>::InvalidSchedule
		);
		let mut endless = spec();
		endless.schedule.rounds = MAX_ROUNDS + 1;
		assert_noop!(
			Registry::create_task(RuntimeOrigin::signed(3), endless, REWARD),
			Error::<Test>::InvalidSchedule
		);
	});
}

#[test]
fn a_task_nobody_trains_expires_and_frees_its_slot() {
	test(|| {
		let mut s = spec();
		s.schedule.rounds = 20;
		let task = create_with(s, 20 * REWARD);
		run_to_block(1 + MAX_IDLE_ROUNDS as u64 * ROUND_BLOCKS);
		let info = Tasks::<Test>::get(task).unwrap();
		assert_eq!(info.status, TaskStatus::Ended(EndReason::Expired));
		assert_eq!(info.round, MAX_IDLE_ROUNDS - 1);
		assert_eq!(CreatorTasks::<Test>::get(CREATOR), 0);
		assert!(Deadlines::<Test>::get().is_empty());
		assert_eq!(held(CREATOR), 0);
		// A commitment in a round resets the count.
		let task = create_with(spec(), 10 * REWARD);
		let start = System::block_number();
		join(2, task);
		run_to_block(start + ROUND_BLOCKS);
		commit(2, task, 1);
		run_to_block(start + 3 * ROUND_BLOCKS + 1);
		assert_eq!(
			Tasks::<Test>::get(task).unwrap().status,
			TaskStatus::Ended(EndReason::Completed)
		);
	});
}

#[test]
fn ended_tasks_are_pruned_after_the_retention_period_and_return_the_deposit() {
	let mut ext = new_test_ext();
	let task = ext.execute_with(|| {
		let task = create();
		validators(task, 0, &[1_000]);
		run_to_block(FINALIZE_AT);
		assert_ok!(propose(11, task, 0, 9));
		run_to_block(NEXT_ROUND_AT);
		assert_ok!(Registry::cancel_task(RuntimeOrigin::signed(CREATOR), task));
		let ended = System::block_number();
		assert_noop!(
			Registry::prune_task(RuntimeOrigin::signed(5), task, 100),
			Error::<Test>::TooEarlyToPrune
		);
		run_to_block(ended + RETENTION);
		task
	});
	// Pruning's limit counts what earlier blocks stored: commit them to the backend.
	ext.commit_all().unwrap();
	ext.execute_with(|| {
		// Two rounds: a limit of 1 prunes in two calls.
		assert_ok!(Registry::prune_task(RuntimeOrigin::signed(5), task, 1));
		assert!(Tasks::<Test>::contains_key(task));
		assert!(Rounds::<Test>::get(task, 1).is_none());
		assert!(ModelHistory::<Test>::get(task, 0).is_some());
		assert_eq!(deposit_held(CREATOR), DEPOSIT);
		assert_ok!(Registry::prune_task(RuntimeOrigin::signed(5), task, 1));
		assert!(!Tasks::<Test>::contains_key(task));
		assert_eq!(Rounds::<Test>::iter_prefix(task).count(), 0);
		assert_eq!(ModelHistory::<Test>::iter_prefix(task).count(), 0);
		assert!(ModelSources::<Test>::get(task).is_empty());
		assert_eq!(deposit_held(CREATOR), 0);
		assert_eq!(free(CREATOR), 100_000);
		assert!(registry_events().contains(&Event::TaskPruned {
			task,
			creator: CREATOR,
			deposit: DEPOSIT
		}));
		assert_noop!(
			Registry::prune_task(RuntimeOrigin::signed(5), task, 1),
			Error::<Test>::TaskNotFound
		);
		// A running task is never pruned.
		let running = create();
		run_to_block(System::block_number() + RETENTION);
		assert_noop!(
			Registry::prune_task(RuntimeOrigin::signed(5), running, 100),
			Error::<Test>::TooEarlyToPrune
		);
		Registry::do_try_state().unwrap();
	});
}

#[test]
fn governance_ends_any_task_and_nobody_else_can() {
	test(|| {
		let task = create();
		join(2, task);
		commit(2, task, 0);
		assert_noop!(
			Registry::force_end_task(RuntimeOrigin::signed(CREATOR), task),
			BadOrigin
		);
		assert_ok!(Registry::force_end_task(RuntimeOrigin::root(), task));
		let info = Tasks::<Test>::get(task).unwrap();
		assert_eq!(info.status, TaskStatus::Ended(EndReason::ForceEnded));
		// The round is dropped unsettled: no round end, its storage gone, the lock released.
		assert_eq!(discarded(), vec![(task, 0)]);
		assert!(round_ends().is_empty());
		assert_eq!(Updates::<Test>::iter_prefix((task, 0)).count(), 0);
		assert_eq!(locks(2), 0);
		assert_eq!(held(CREATOR), 0);
		assert_noop!(
			Registry::force_end_task(RuntimeOrigin::root(), task),
			Error::<Test>::TaskEnded
		);
	});
}

#[test]
fn miner_slot_squatting_ends_when_the_squatters_unbond() {
	test(|| {
		// `max_miners` accounts join, then unbond: the task looks full.
		let task = create();
		for squatter in [2, 3, 4] {
			join(squatter, task);
		}
		for squatter in [2, 3, 4] {
			unstake(squatter);
		}
		set_stake(5, Role::Miner, 100);
		assert_noop!(
			Registry::join_task(RuntimeOrigin::signed(5), task),
			Error::<Test>::TaskFull
		);
		// Anyone removes them; an active miner cannot be removed.
		set_stake(4, Role::Miner, 100);
		assert_noop!(
			Registry::remove_inactive_miner(RuntimeOrigin::signed(5), task, 4),
			Error::<Test>::MinerStillActive
		);
		assert_ok!(Registry::remove_inactive_miner(
			RuntimeOrigin::signed(5),
			task,
			2
		));
		assert!(registry_events().contains(&Event::MinerRemoved {
			task,
			miner: 2,
			reporter: 5,
			dropped: false
		}));
		assert_ok!(Registry::join_task(RuntimeOrigin::signed(5), task));
		assert_eq!(Tasks::<Test>::get(task).unwrap().miners, 3);
	});
}

#[test]
fn leave_and_rejoin_cannot_put_more_than_max_miners_updates_in_a_round() {
	test(|| {
		let task = create();
		for miner in [2, 3, 4] {
			join(miner, task);
			commit(miner, task, 0);
		}
		// Miner 2 leaves: its update is dropped, and its place taken by 5.
		assert_ok!(Registry::leave_task(RuntimeOrigin::signed(2), task));
		assert!(registry_events().contains(&Event::MinerLeft {
			task,
			miner: 2,
			dropped: true
		}));
		join(5, task);
		assert_noop!(
			Registry::commit_update(RuntimeOrigin::signed(5), task, 0, [1u8; 32].into()),
			Error::<Test>::RoundFull
		);
		// 2 cannot come back this round; a withdrawn update cannot be revealed.
		assert_ok!(Registry::leave_task(RuntimeOrigin::signed(5), task));
		assert_noop!(
			Registry::join_task(RuntimeOrigin::signed(2), task),
			Error::<Test>::LeftThisRound
		);
		run_to_block(REVEAL_AT);
		let record = Rounds::<Test>::get(task, 0).unwrap();
		assert_eq!(record.commits, 3);
		assert_eq!(Updates::<Test>::iter_prefix((task, 0)).count(), 3);
		// Every update is cleared when the round closes, and every lock released.
		run_to_block(NEXT_ROUND_AT);
		assert_eq!(Updates::<Test>::iter_prefix((task, 0)).count(), 0);
		for miner in [2, 3, 4] {
			assert_eq!(locks(miner), 0);
		}
		// From the next round 2 may join again.
		join(2, task);
	});
}

#[test]
fn a_miner_that_leaves_after_the_reveal_phase_is_still_settled() {
	test(|| {
		let task = create();
		join(2, task);
		commit(2, task, 0);
		assert_eq!(locks(2), 1);
		run_to_block(REVEAL_AT);
		reveal_update(2, task, 0);
		run_to_block(VERIFY_AT);
		// Leaving now does not drop the update: validators are scoring it.
		assert_ok!(Registry::leave_task(RuntimeOrigin::signed(2), task));
		assert!(<Registry as pol_primitives::RoundInfo<_>>::has_revealed(
			task, 0, &2
		));
		assert_eq!(locks(2), 1);
		run_to_block(NEXT_ROUND_AT);
		assert_eq!(locks(2), 0);
	});
}

#[test]
fn a_dead_uri_strands_nobody_every_proposer_is_a_source() {
	test(|| {
		let task = create();
		validators(task, 0, &[1_000, 1_000]);
		run_to_block(FINALIZE_AT);
		let dead: ArtifactUri = b"http://nowhere.invalid/m".to_vec().try_into().unwrap();
		assert_ok!(Registry::propose_global_model(
			RuntimeOrigin::signed(11),
			task,
			0,
			[9u8; 32].into(),
			dead.clone()
		));
		assert_ok!(propose(12, task, 0, 9));
		run_to_block(NEXT_ROUND_AT);
		let mut sources = Registry::model_sources(task);
		sources.sort();
		assert_eq!(sources, vec![(11, dead), (12, uri())]);
		// Only scorers with a revealed score propose at all.
		run_to_block(NEXT_ROUND_AT + FINALIZE_AT - 1);
		set_stake(14, Role::Validator, 5_000);
		assert_noop!(propose(14, task, 1, 9), Error::<Test>::DidNotRevealScores);
	});
}

#[test]
fn lists_are_paged() {
	test(|| {
		let a = create_by(2, spec(), REWARD);
		let b = create_by(3, spec(), REWARD);
		let c = create_by(4, spec(), REWARD);
		assert_eq!(Registry::task_ids(0, 2), vec![a, b]);
		assert_eq!(Registry::task_ids(2, 2), vec![c]);
		assert_eq!(Registry::running_tasks(), vec![a, b, c]);
		assert_ok!(Registry::cancel_task(RuntimeOrigin::signed(3), b));
		assert_eq!(Registry::running_tasks(), vec![a, c]);
		assert_eq!(Registry::task_ids(0, 10), vec![a, b, c]);
	});
}
