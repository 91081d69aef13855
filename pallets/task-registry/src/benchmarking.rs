//! Benchmarks of the task registry (`frame_benchmarking::v2`), each at its worst case.

use super::*;
use crate::Pallet as Registry;
use alloc::{vec, vec::Vec};
use frame_benchmarking::v2::*;
use frame_support::traits::{
	fungible::{InspectHold, Mutate},
	Hooks,
};
use frame_system::RawOrigin;
use pol_primitives::{
	Comparison, DatasetSpec, Hyperparameters, Partition, Schedule, VerificationSpec,
};
use sp_runtime::{traits::Bounded, FixedU64};

fn funded<T: Config>(name: &'static str, index: u32) -> T::AccountId {
	let who: T::AccountId = account(name, index, 0);
	T::Currency::set_balance(&who, BalanceOf::<T>::max_value() / 1_000u32.into());
	who
}

fn bounded<S: Get<u32>>(bytes: &[u8]) -> BoundedVec<u8, S> {
	BoundedVec::truncate_from(bytes.to_vec())
}

/// A valid digits task with `rounds` rounds, the most miners, and the shortest phases (the
/// verify phase as long as its fetches need).
fn spec<T: Config>(rounds: u32) -> TaskSpec<BalanceOf<T>> {
	let phase = T::MinPhaseBlocks::get();
	let mut spec = TaskSpec {
		model: bounded(b"mlp:64-128-10"),
		initial_model_hash: [7u8; 32].into(),
		initial_model_uri: bounded(b"http://creator.example:8700/v1/artifacts/0707"),
		dataset: DatasetSpec {
			source: DatasetSource::Digits,
			num_shards: 8,
			partition: Partition::Dirichlet {
				alpha: FixedU64::from_rational(1, 2),
			},
			validation: Perbill::from_percent(20),
		},
		hyperparameters: Hyperparameters {
			learning_rate: FixedU64::from_rational(1, 10),
			momentum: FixedU64::from_rational(9, 10),
			batch_size: 32,
			local_steps: T::MaxSegments::get(),
			checkpoint_interval: 1,
		},
		verification: VerificationSpec {
			// The most a validator's accusation can make the chain check.
			segments_per_check: pol_primitives::specs::MAX_SEGMENTS_PER_CHECK
				.min(T::MaxSegments::get()),
			comparison: Comparison::Exact,
			profile: Default::default(),
		},
		aggregation: Default::default(),
		schedule: Schedule {
			commit_blocks: phase,
			reveal_blocks: phase,
			verify_blocks: phase,
			score_reveal_blocks: phase,
			vote_commit_blocks: phase,
			vote_reveal_blocks: phase.max(pol_primitives::serving::min_reveal_blocks()),
			finalize_blocks: phase,
			rounds,
		},
		reward_per_round: T::MinRewardPerRound::get(),
		validator_share: Perbill::from_percent(20),
		max_miners: T::MaxMinersPerTask::get(),
	};
	if let Ok(arch) = pol_primitives::ModelArch::parse(&spec.model) {
		let hp = &spec.hyperparameters;
		let fetch = pol_primitives::serving::min_verify_blocks(
			&arch,
			!hp.momentum.is_zero(),
			hp.num_segments().unwrap_or(1),
			spec.verification.segments_per_check,
			T::ExpectedBlockTime::get(),
		);
		spec.schedule.verify_blocks = phase.max(fetch);
		let vote = pol_primitives::serving::min_vote_commit_blocks(
			&arch,
			!hp.momentum.is_zero(),
			hp.num_segments().unwrap_or(1),
			T::MaxScorers::get(),
			T::ExpectedBlockTime::get(),
		);
		spec.schedule.vote_commit_blocks = phase.max(vote);
	}
	spec
}

/// A task's budget: a hundred rounds of the smallest reward.
fn budget<T: Config>() -> BalanceOf<T> {
	T::MinRewardPerRound::get().saturating_mul(100u32.into())
}

/// A task created by a funded creator of its own; returns its id and creator.
fn task<T: Config>(rounds: u32) -> (TaskId, T::AccountId) {
	let id = NextTaskId::<T>::get();
	let creator = funded::<T>("creator", id as u32);
	let budget = budget::<T>();
	assert!(Registry::<T>::create_task(
		RawOrigin::Signed(creator.clone()).into(),
		spec::<T>(rounds),
		budget
	)
	.is_ok());
	(id, creator)
}

/// Puts `task` in `phase`, due to leave it at the next block; returns that block.
fn due_in<T: Config>(task: TaskId, phase: Phase) -> BlockNumberFor<T> {
	let now = frame_system::Pallet::<T>::block_number();
	Tasks::<T>::mutate(task, |info| {
		if let Some(info) = info {
			info.phase = phase;
			info.phase_ends = now;
		}
	});
	let next = now.saturating_add(1u32.into());
	Deadlines::<T>::mutate(|q| {
		q.retain(|(_, t)| *t != task);
		q.try_insert(0, (next, task)).expect("room for one task");
	});
	next
}

/// A joined miner of `task` (in storage, with its stake from the helper).
fn miner<T: Config>(task: TaskId, i: u32) -> T::AccountId {
	let who = funded::<T>("miner", i);
	T::BenchmarkHelper::make_active(&who, Role::Miner);
	Miners::<T>::insert(task, &who, 0);
	Tasks::<T>::mutate(task, |info| {
		if let Some(info) = info {
			info.miners = info.miners.saturating_add(1);
		}
	});
	who
}

fn commitment(i: u32) -> UpdateCommitment {
	let mut root = [0u8; 32];
	root[..4].copy_from_slice(&i.to_le_bytes());
	UpdateCommitment {
		checkpoint_root: root.into(),
		final_model_hash: [9u8; 32].into(),
		num_segments: 0,
		train_loss: FixedU64::from_rational(1, 3),
		artifact_uri: bounded(&[b'x'; pol_primitives::MAX_URI_LEN as usize]),
	}
}

/// A running task whose round 0 is in `phase`, in which each of `miners` joined and revealed
/// an update. Set-up for the benchmarks of pallets that act on rounds (scoring), through
/// [`Pallet::benchmark_task_with_revealed_miners`].
pub(crate) fn task_with_revealed_miners<T: Config>(
	phase: Phase,
	miners: &[T::AccountId],
) -> TaskId {
	let (id, _) = task::<T>(1);
	for (i, who) in miners.iter().enumerate() {
		T::BenchmarkHelper::make_active(who, Role::Miner);
		Miners::<T>::insert(id, who, 0);
		T::Settlement::lock(who);
		let mut c = commitment(i as u32);
		c.num_segments = T::MaxSegments::get();
		RevealedRoots::<T>::insert((id, 0), c.checkpoint_root, who);
		Updates::<T>::insert(
			(id, 0),
			who,
			MinerUpdate {
				commit: Hash::zero(),
				revealed: Some(c),
				withdrawn: false,
			},
		);
	}
	let count = miners.len() as u32;
	Tasks::<T>::mutate(id, |info| {
		if let Some(info) = info {
			info.miners = info.miners.saturating_add(count);
			info.phase = phase;
		}
	});
	Rounds::<T>::mutate(id, 0, |r| {
		if let Some(r) = r {
			r.commits = count;
			r.reveals = count;
			if phase > Phase::Reveal {
				// The runtime's benchmark challenger has a proof over this seed.
				r.challenge_seed = Some([4u8; 32].into());
			}
		}
	});
	id
}

/// A running task that can pay `budget` more than its round reward.
pub(crate) fn funded_task<T: Config>(budget: BalanceOf<T>) -> TaskId {
	let (id, creator) = task::<T>(1);
	let _ = Registry::<T>::fund_task(RawOrigin::Signed(creator).into(), id, budget);
	id
}

/// Moves `task`'s current round to `phase` (its deadline unchanged).
pub(crate) fn set_phase<T: Config>(task: TaskId, phase: Phase) {
	Tasks::<T>::mutate(task, |info| {
		if let Some(info) = info {
			info.phase = phase;
		}
	});
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn create_task() {
		// Worst case: a queue with one slot left, the new task sorted to its end.
		let creator = funded::<T>("creator", u32::MAX);
		for _ in 1..T::MaxActiveTasks::get() {
			let _ = task::<T>(1);
		}
		let budget = budget::<T>();
		#[extrinsic_call]
		_(RawOrigin::Signed(creator), spec::<T>(10), budget);
		assert_eq!(Deadlines::<T>::get().len() as u32, T::MaxActiveTasks::get());
	}

	#[benchmark]
	fn fund_task() {
		let (id, creator) = task::<T>(1);
		#[extrinsic_call]
		_(RawOrigin::Signed(creator), id, 1_000u32.into());
		assert!(Tasks::<T>::get(id).is_some_and(|t| t.budget > budget::<T>()));
	}

	#[benchmark]
	fn cancel_task(m: Linear<0, { T::MaxMinersPerTask::get() }>) {
		let (id, creator) = task::<T>(1);
		for i in 0..m {
			miner::<T>(id, i);
		}
		#[extrinsic_call]
		_(RawOrigin::Signed(creator), id);
		assert!(Tasks::<T>::get(id)
			.is_some_and(|t| t.status == TaskStatus::Ended(EndReason::Cancelled)));
	}

	#[benchmark]
	fn join_task() {
		let (id, _) = task::<T>(1);
		for i in 1..T::MaxMinersPerTask::get() {
			miner::<T>(id, i);
		}
		let who = funded::<T>("miner", 0);
		T::BenchmarkHelper::make_active(&who, Role::Miner);
		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), id);
		assert!(Miners::<T>::contains_key(id, &who));
	}

	#[benchmark]
	fn leave_task() {
		let (id, _) = task::<T>(1);
		let who = miner::<T>(id, 0);
		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), id);
		assert!(!Miners::<T>::contains_key(id, &who));
	}

	#[benchmark]
	fn commit_update() {
		let (id, _) = task::<T>(1);
		let who = miner::<T>(id, 0);
		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), id, 0, [1u8; 32].into());
		assert!(Updates::<T>::contains_key((id, 0), &who));
	}

	#[benchmark]
	fn reveal_update() {
		let (id, _) = task::<T>(1);
		let who = miner::<T>(id, 0);
		// The longest proof: a tree of `MaxSegments + 1` leaves.
		let (c, final_leaf) = pol_primitives::synthetic_run(
			0,
			T::MaxSegments::get(),
			bounded(&[b'x'; pol_primitives::MAX_URI_LEN as usize]),
		);
		let salt = [3u8; 32];
		let hash = hashing::commit_hash(&c, &hashing::account_bytes(&who), &salt);
		assert!(
			Registry::<T>::commit_update(RawOrigin::Signed(who.clone()).into(), id, 0, hash)
				.is_ok()
		);
		Tasks::<T>::mutate(id, |info| {
			if let Some(info) = info {
				info.phase = Phase::Reveal;
			}
		});
		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), id, 0, c, salt, final_leaf);
		assert!(<Registry<T> as pol_primitives::RoundInfo<_>>::has_revealed(
			id, 0, &who
		));
	}

	#[benchmark]
	fn propose_global_model(p: Linear<1, { T::MaxProposals::get() }>) {
		// Worst case: the hash is new, behind `p − 1` others, and the proposal accepts it.
		let (id, _) = task::<T>(1);
		Tasks::<T>::mutate(id, |info| {
			if let Some(info) = info {
				info.phase = Phase::Finalize;
			}
		});
		let others: Vec<_> = (1..p)
			.map(|i| ProposalTally {
				model_hash: commitment(i).checkpoint_root,
				stake: Zero::zero(),
				proposers: 0,
			})
			.collect();
		ProposalTallies::<T>::insert((id, 0), BoundedVec::truncate_from(others));
		let who = funded::<T>("validator", 0);
		T::BenchmarkHelper::make_active(&who, Role::Validator);
		T::BenchmarkHelper::reveal_scores(id, 0, &who);
		let uri = bounded(&[b'u'; pol_primitives::MAX_URI_LEN as usize]);
		#[extrinsic_call]
		_(RawOrigin::Signed(who), id, 0, [5u8; 32].into(), uri);
		assert_eq!(
			ModelHistory::<T>::get(id, 0).map(|m| m.model_hash),
			Some([5u8; 32].into())
		);
	}

	#[benchmark]
	fn on_initialize_idle() {
		// A full queue, none due.
		for _ in 0..T::MaxActiveTasks::get() {
			let _ = task::<T>(1);
		}
		let now = frame_system::Pallet::<T>::block_number();
		#[block]
		{
			Registry::<T>::on_initialize(now);
		}
		assert_eq!(Deadlines::<T>::get().len() as u32, T::MaxActiveTasks::get());
	}

	#[benchmark]
	fn advance_phase() {
		// The costliest move that does not close a round: reveal → verify records the seed.
		let (id, _) = task::<T>(1);
		let at = due_in::<T>(id, Phase::Reveal);
		frame_system::Pallet::<T>::set_block_number(at);
		#[block]
		{
			Registry::<T>::advance_rounds(at);
		}
		assert!(Rounds::<T>::get(id, 0).is_some_and(|r| r.challenge_seed.is_some()));
	}

	#[benchmark]
	fn close_round(
		u: Linear<0, { T::MaxMinersPerTask::get() }>,
		p: Linear<0, { T::MaxMinersPerTask::get() }>,
		m: Linear<0, { T::MaxMinersPerTask::get() }>,
	) {
		// The task's last round closes with `u` updates and `p` proposers, and the task ends,
		// letting its `m` miners go.
		let (id, creator) = task::<T>(1);
		for i in 0..m {
			miner::<T>(id, i);
		}
		for i in 0..u {
			let who: T::AccountId = account("updater", i, 0);
			T::Settlement::lock(&who);
			let c = commitment(i);
			RevealedRoots::<T>::insert((id, 0), c.checkpoint_root, &who);
			Updates::<T>::insert(
				(id, 0),
				&who,
				MinerUpdate {
					commit: [0u8; 32].into(),
					revealed: Some(c),
					withdrawn: false,
				},
			);
		}
		Rounds::<T>::mutate(id, 0, |r| {
			if let Some(r) = r {
				r.commits = u;
				r.reveals = u;
			}
		});
		// Every proposer proposed the accepted hash: each becomes a model source.
		let uri: ArtifactUri = bounded(&[b'u'; pol_primitives::MAX_URI_LEN as usize]);
		for i in 0..p {
			let who: T::AccountId = account("proposer", i, 0);
			let proposal = Proposal {
				model_hash: [5u8; 32].into(),
				uri: uri.clone(),
			};
			Proposals::<T>::insert((id, 0), &who, proposal);
		}
		if p > 0 {
			let tally = ProposalTally {
				model_hash: [5u8; 32].into(),
				stake: Zero::zero(),
				proposers: p,
			};
			ProposalTallies::<T>::insert((id, 0), BoundedVec::truncate_from(vec![tally]));
			let model = GlobalModel {
				model_hash: [5u8; 32].into(),
				uri,
				accepted_at: Zero::zero(),
			};
			ModelHistory::<T>::insert(id, 0, model);
		}
		let at = due_in::<T>(id, Phase::Finalize);
		frame_system::Pallet::<T>::set_block_number(at);
		#[block]
		{
			Registry::<T>::advance_rounds(at);
		}
		assert!(Tasks::<T>::get(id)
			.is_some_and(|t| t.status == TaskStatus::Ended(EndReason::Completed)));
		assert_eq!(
			T::Currency::balance_on_hold(&HoldReason::TaskBudget.into(), &creator),
			Zero::zero()
		);
	}

	#[benchmark]
	fn prune_task(n: Linear<1, 1_000>) {
		// An ended task with `n` rounds of records left (each a record and a model), pruned in
		// one call.
		let (id, creator) = task::<T>(1);
		assert!(Registry::<T>::cancel_task(RawOrigin::Signed(creator.clone()).into(), id).is_ok());
		let record = Rounds::<T>::get(id, 0).unwrap_or_default();
		let model = GlobalModel {
			model_hash: [5u8; 32].into(),
			uri: bounded(&[b'u'; pol_primitives::MAX_URI_LEN as usize]),
			accepted_at: Zero::zero(),
		};
		for round in 0..n {
			Rounds::<T>::insert(id, round, record.clone());
			ModelHistory::<T>::insert(id, round, model.clone());
		}
		Tasks::<T>::mutate(id, |info| {
			if let Some(info) = info {
				info.round = n - 1;
			}
		});
		let now = frame_system::Pallet::<T>::block_number();
		frame_system::Pallet::<T>::set_block_number(now.saturating_add(T::RetentionPeriod::get()));
		let caller = funded::<T>("pruner", 0);
		#[extrinsic_call]
		_(RawOrigin::Signed(caller), id, n);
		assert!(!Tasks::<T>::contains_key(id));
		assert_eq!(
			T::Currency::balance_on_hold(&HoldReason::TaskDeposit.into(), &creator),
			Zero::zero()
		);
	}

	#[benchmark]
	fn remove_inactive_miner() {
		// Worst case: the miner's revealed update of the current round is dropped.
		let (id, _) = task::<T>(1);
		let who: T::AccountId = account("gone", 0, 0);
		Miners::<T>::insert(id, &who, 0);
		let c = commitment(0);
		RevealedRoots::<T>::insert((id, 0), c.checkpoint_root, &who);
		Updates::<T>::insert(
			(id, 0),
			&who,
			MinerUpdate {
				commit: Hash::zero(),
				revealed: Some(c),
				withdrawn: false,
			},
		);
		Tasks::<T>::mutate(id, |info| {
			if let Some(info) = info {
				info.miners = info.miners.saturating_add(1);
				info.phase = Phase::Reveal;
			}
		});
		Rounds::<T>::mutate(id, 0, |r| {
			if let Some(r) = r {
				r.commits = 1;
				r.reveals = 1;
			}
		});
		let reporter = funded::<T>("reporter", 0);
		#[extrinsic_call]
		_(RawOrigin::Signed(reporter), id, who.clone());
		assert!(!Miners::<T>::contains_key(id, &who));
	}

	impl_benchmark_test_suite!(Registry, crate::mock::new_test_ext(), crate::mock::Test);
}
