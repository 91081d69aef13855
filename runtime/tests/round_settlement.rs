//! One task round through the real runtime wiring: the task registry, validator scoring,
//! rewards and staking meet only through their traits, so this is where we see that a dispute
//! slashes a lazy miner into the treasury, the honest miner and the validators are paid out of
//! the task's held budget, trust moves, and the global model is accepted.

use frame_support::traits::{
	fungible::{Inspect, InspectHold},
	IntegrityTest, OnInitialize,
};
use pallet_task_registry::TaskSpec;
use pallet_validator_scoring::{EntriesOf, ScoreEntry};
use pol_primitives::{
	hashing, Comparison, DatasetSource, DatasetSpec, Hyperparameters, Partition, Phase, Role,
	Schedule, TrustProvider, UpdateCommitment, Verdict, VerificationSpec,
};
use polchain_runtime::{
	configs::TreasuryAccount, genesis_config_presets, AccountId, AllPalletsWithSystem, Balance,
	Balances, PolScoring, PolStaking, Runtime, RuntimeEvent, RuntimeOrigin, System, TaskRegistry,
	UNIT,
};
use sp_keyring::Sr25519Keyring as K;
use sp_runtime::{BoundedVec, FixedU64, Perbill};

mod common;

/// The `development` preset: Alice the one genesis validator, the dev accounts endowed.
fn new_ext() -> sp_io::TestExternalities {
	common::ext(genesis_config_presets::development_config_genesis())
}

fn run_to(n: u32) {
	while System::block_number() < n {
		let next = System::block_number() + 1;
		System::set_block_number(next);
		<AllPalletsWithSystem as OnInitialize<u32>>::on_initialize(next);
	}
}

fn signed(k: K) -> RuntimeOrigin {
	RuntimeOrigin::signed(k.to_account_id())
}

fn free(k: K) -> Balance {
	Balances::balance(&k.to_account_id())
}

fn uri(s: &str) -> BoundedVec<u8, sp_core::ConstU32<{ pol_primitives::MAX_URI_LEN }>> {
	s.as_bytes().to_vec().try_into().expect("short")
}

const PHASE: u32 = 3;
/// The verify phase: the least the registry allows for this model at 3-second blocks (a miner's
/// server must have the time to deliver what a validator fetches).
const VERIFY_PHASE: u32 = 10;
/// The vote-reveal phase: the shortest the registry takes (2 blocks to notice it, 3 for the reveal).
const VOTE_REVEAL_PHASE: u32 = 5;
const REWARD: Balance = 1_000 * UNIT;

fn spec() -> TaskSpec<Balance> {
	TaskSpec {
		model: b"mlp:64-32-10".to_vec().try_into().expect("short"),
		initial_model_hash: [1u8; 32].into(),
		initial_model_uri: uri("http://creator/v1/artifacts/01"),
		dataset: DatasetSpec {
			source: DatasetSource::Digits,
			num_shards: 4,
			partition: Partition::Iid,
			validation: Perbill::from_percent(20),
		},
		hyperparameters: Hyperparameters {
			learning_rate: FixedU64::from_rational(1, 10),
			momentum: FixedU64::from_u32(0),
			batch_size: 16,
			local_steps: 8,
			checkpoint_interval: 2,
		},
		verification: VerificationSpec {
			segments_per_check: 2,
			comparison: Comparison::Exact,
			profile: Default::default(),
		},
		aggregation: Default::default(),
		schedule: Schedule {
			commit_blocks: PHASE,
			reveal_blocks: PHASE,
			verify_blocks: VERIFY_PHASE,
			score_reveal_blocks: PHASE,
			vote_commit_blocks: VERIFY_PHASE,
			vote_reveal_blocks: VOTE_REVEAL_PHASE,
			finalize_blocks: PHASE,
			rounds: 2,
		},
		reward_per_round: REWARD,
		validator_share: Perbill::from_percent(20),
		max_miners: 8,
	}
}

/// Run `tag` of 4 segments: its commitment and the proof of its final leaf.
fn run(tag: u8) -> (UpdateCommitment, pol_primitives::FinalLeafProof) {
	pol_primitives::synthetic_run(tag, 4, uri("http://miner/v1/artifacts/x"))
}

fn commitment(tag: u8) -> UpdateCommitment {
	run(tag).0
}

fn entries(list: &[(K, u32, Verdict)]) -> EntriesOf<Runtime> {
	let mut v: Vec<ScoreEntry<AccountId>> = list
		.iter()
		.map(|(m, s, verdict)| ScoreEntry {
			miner: m.to_account_id(),
			score: Perbill::from_percent(*s),
			verdict: *verdict,
		})
		.collect();
	v.sort_by(|a, b| a.miner.cmp(&b.miner));
	v.try_into().expect("within MaxMiners")
}

fn events() -> Vec<RuntimeEvent> {
	System::events().into_iter().map(|r| r.event).collect()
}

#[test]
fn a_round_pays_the_honest_and_slashes_the_lazy_into_the_treasury() {
	new_ext().execute_with(|| {
		let (honest, lazy) = (K::Dave, K::Eve);
		let (alice, bob, charlie) = (K::Alice, K::Bob, K::Charlie);
		let creator = K::Ferdie;
		// Bob and Charlie join Alice (10,000 bonded at genesis) as validators; Dave and Eve
		// mine.
		PolStaking::bond(signed(bob), Role::Validator, 2_000 * UNIT).expect("bonds");
		PolStaking::bond(signed(charlie), Role::Validator, 1_000 * UNIT).expect("bonds");
		for m in [honest, lazy] {
			PolStaking::bond(signed(m), Role::Miner, 100 * UNIT).expect("bonds");
		}
		// Bob and Charlie set session keys and are elected with Alice at the next session:
		// the scorers of rounds that start after it.
		for v in [bob, charlie] {
			use sp_core::crypto::ByteArray;
			let raw = v.to_account_id();
			let raw: &[u8] = raw.as_ref();
			let keys = polchain_runtime::SessionKeys {
				aura: sp_consensus_aura::sr25519::AuthorityId::from_slice(raw).expect("32 bytes"),
				grandpa: sp_consensus_grandpa::AuthorityId::from_slice(raw).expect("32 bytes"),
			};
			pallet_session::NextKeys::<Runtime>::insert(v.to_account_id(), keys);
		}
		let elected = <PolStaking as pallet_session::SessionManager<AccountId>>::new_session(1)
			.expect("elects");
		assert_eq!(elected.len(), 3);
		let budget = 10 * REWARD;
		TaskRegistry::create_task(signed(creator), spec(), budget).expect("a valid task");
		let task = 0;
		let held = |k: K| {
			Balances::balance_on_hold(
				&polchain_runtime::RuntimeHoldReason::TaskRegistry(
					pallet_task_registry::HoldReason::TaskBudget,
				),
				&k.to_account_id(),
			)
		};
		assert_eq!(held(creator), budget);
		for m in [honest, lazy] {
			TaskRegistry::join_task(signed(m), task).expect("joins");
		}

		// Commit, then reveal.
		let start = System::block_number();
		let salt = [9u8; 32];
		for (m, tag) in [(honest, 1u8), (lazy, 2)] {
			let h = hashing::commit_hash(
				&commitment(tag),
				&hashing::account_bytes(&m.to_account_id()),
				&salt,
			);
			TaskRegistry::commit_update(signed(m), task, 0, h).expect("commits");
		}
		// Every scorer of the round (from its start) and every miner that committed holds its
		// bond until the round is settled: one lock each, in the staking pallet, which the
		// registry and scoring take and release through `SettlementLock`.
		let unsettled = |k: K| pallet_pol_staking::Unsettled::<Runtime>::get(k.to_account_id());
		for k in [alice, bob, charlie, honest, lazy] {
			assert_eq!(unsettled(k), 1, "{k:?} holds one lock for round 0");
		}
		run_to(start + PHASE);
		assert_eq!(TaskRegistry::phase_of(task, 0), Some(Phase::Reveal));
		for (m, tag) in [(honest, 1u8), (lazy, 2)] {
			TaskRegistry::reveal_update(signed(m), task, 0, commitment(tag), salt, run(tag).1)
				.expect("reveals");
		}

		// Verify: each validator commits its scores. Alice and Bob find the lazy run fails
		// segment 4 (the last, which every validator is challenged with); Charlie passes it.
		run_to(start + 2 * PHASE);
		assert_eq!(TaskRegistry::phase_of(task, 0), Some(Phase::Verify));
		let fail = Verdict::Fail { segment: 4 };
		let scores = [
			(
				alice,
				entries(&[(honest, 80, Verdict::Pass), (lazy, 0, fail)]),
			),
			(
				bob,
				entries(&[(honest, 70, Verdict::Pass), (lazy, 0, fail)]),
			),
			(
				charlie,
				entries(&[(honest, 90, Verdict::Pass), (lazy, 60, Verdict::Pass)]),
			),
		];
		for (v, e) in scores.iter() {
			let h = hashing::commit_hash_of(e, &hashing::account_bytes(&v.to_account_id()), &salt);
			PolScoring::commit_scores(signed(*v), task, 0, h).expect("commits scores");
		}
		run_to(start + 2 * PHASE + VERIFY_PHASE);
		assert_eq!(TaskRegistry::phase_of(task, 0), Some(Phase::ScoreReveal));
		// Each proves its challenge randomness (a VRF over the round's challenge seed) with
		// its account's key.
		let seed = pallet_task_registry::Rounds::<Runtime>::get(task, 0)
			.and_then(|r| r.challenge_seed)
			.expect("the seed is recorded when the reveal phase ends");
		for (v, e) in scores.iter() {
			let (proof, _) = pol_primitives::challenge::prove(&v.pair(), &seed);
			PolScoring::reveal_scores(signed(*v), task, 0, e.clone(), salt, proof)
				.expect("reveals");
		}
		// Alice's reveal opened the dispute and Bob's joined it. Votes wait for the vote-commit
		// phase, when every claim is in.
		let vote_salt = [7u8; 32];
		let sealed = |v: K, confirmed: &[u32]| {
			hashing::vote_commit_hash(
				task,
				0,
				&hashing::account_bytes(&lazy.to_account_id()),
				confirmed,
				false,
				&hashing::account_bytes(&v.to_account_id()),
				&vote_salt,
			)
		};
		assert!(PolScoring::commit_vote(
			signed(charlie),
			task,
			0,
			lazy.to_account_id(),
			sealed(charlie, &[])
		)
		.is_err());

		// Votes, sealed then revealed: Alice and Bob uphold (each confirming segment 4, which
		// the other claimed too), Charlie rejects.
		let votes: [(K, &[u32]); 3] = [(alice, &[4]), (bob, &[4]), (charlie, &[])];
		run_to(start + 3 * PHASE + VERIFY_PHASE);
		assert_eq!(TaskRegistry::phase_of(task, 0), Some(Phase::VoteCommit));
		for (v, confirmed) in votes {
			PolScoring::commit_vote(
				signed(v),
				task,
				0,
				lazy.to_account_id(),
				sealed(v, confirmed),
			)
			.expect("commits a vote");
		}
		run_to(start + 3 * PHASE + 2 * VERIFY_PHASE);
		assert_eq!(TaskRegistry::phase_of(task, 0), Some(Phase::VoteReveal));
		for (v, confirmed) in votes {
			PolScoring::reveal_vote(
				signed(v),
				task,
				0,
				lazy.to_account_id(),
				confirmed.to_vec().try_into().expect("within bounds"),
				false,
				vote_salt,
			)
			.expect("reveals a vote");
		}

		// Finalize: Bob proposes the aggregate (2,000 of the 13,000 revealed stake: not yet
		// accepted), then Alice (12,000: more than 2/3, accepted); a later proposal is turned
		// away.
		run_to(start + 3 * PHASE + 2 * VERIFY_PHASE + VOTE_REVEAL_PHASE);
		assert_eq!(TaskRegistry::phase_of(task, 0), Some(Phase::Finalize));
		let model = sp_core::H256::repeat_byte(0x42);
		for v in [bob, alice] {
			assert_eq!(
				pallet_task_registry::ModelHistory::<Runtime>::get(task, 0),
				None
			);
			TaskRegistry::propose_global_model(signed(v), task, 0, model, uri("http://v/m"))
				.expect("proposes");
		}
		// Another hash is turned away; the accepted one, proposed late, adds a source.
		let other = sp_core::H256::repeat_byte(0x43);
		let late = TaskRegistry::propose_global_model(signed(charlie), task, 0, other, uri("x"));
		assert_eq!(
			late.map_err(|e| e.error),
			Err(pallet_task_registry::Error::<Runtime>::ModelAlreadyAccepted.into())
		);
		TaskRegistry::propose_global_model(signed(charlie), task, 0, model, uri("http://c/m"))
			.expect("a late proposal of the accepted model adds a source");

		let treasury_before = Balances::balance(&TreasuryAccount::get());
		let lazy_stake =
			<PolStaking as pol_primitives::StakeInfo<_, _>>::stake_of(&lazy.to_account_id());
		let before: Vec<Balance> = [honest, lazy, alice, bob, charlie].map(free).to_vec();
		run_to(start + 4 * PHASE + 2 * VERIFY_PHASE + VOTE_REVEAL_PHASE);
		assert_eq!(
			TaskRegistry::phase_of(task, 1),
			Some(Phase::Commit),
			"round 1 started"
		);

		// The lazy miner: slashed 10% (Alice's and Bob's 12,000 upholding are more than half of
		// the 13,000 snapshot stake), into the treasury, and not paid.
		let slashed = Perbill::from_percent(10) * lazy_stake;
		assert_eq!(
			Balances::balance(&TreasuryAccount::get()) - treasury_before,
			slashed
		);
		assert_eq!(
			<PolStaking as pol_primitives::StakeInfo<_, _>>::stake_of(&lazy.to_account_id()),
			lazy_stake - slashed
		);
		assert_eq!(free(lazy), before[1]);
		// The honest miner alone passed: the whole miners' part (80%) is its.
		let miners_part = REWARD - Perbill::from_percent(20) * REWARD;
		assert_eq!(free(honest) - before[0], miners_part);
		// Validators share 20% by stake × round trust; Alice holds most stake and agreed.
		let paid_v: Vec<Balance> = [alice, bob, charlie]
			.iter()
			.zip(&before[2..])
			.map(|(k, b)| free(*k) - b)
			.collect();
		assert!(
			paid_v.iter().all(|p| *p > 0),
			"every revealing validator is paid: {paid_v:?}"
		);
		assert!(paid_v[0] > paid_v[1] && paid_v[1] > paid_v[2], "{paid_v:?}");
		// Nothing created or destroyed: the budget fell by exactly what was paid.
		let paid = miners_part + paid_v.iter().sum::<Balance>();
		assert!(paid <= REWARD);
		assert_eq!(held(creator), budget - paid);
		// Charlie's deviation on the lazy miner cost it trust; staking sees the same trust.
		let trust = |k: K| PolScoring::trust_of(&k.to_account_id());
		assert!(
			trust(charlie) < trust(alice),
			"{:?} {:?}",
			trust(charlie),
			trust(alice)
		);
		assert_eq!(
			<PolScoring as TrustProvider<AccountId>>::trust_of(&charlie.to_account_id()),
			pallet_validator_scoring::Pallet::<Runtime>::trust(&charlie.to_account_id())
		);
		assert_eq!(
			pallet_task_registry::ModelHistory::<Runtime>::get(task, 0).map(|m| m.model_hash),
			Some(model)
		);
		let ev = events();
		assert!(ev.iter().any(|e| matches!(
			e,
			RuntimeEvent::PolScoring(pallet_validator_scoring::Event::DisputeResolved {
				outcome: pallet_validator_scoring::DisputeOutcome::Upheld,
				..
			})
		)));
		assert!(ev.iter().any(|e| matches!(
			e,
			RuntimeEvent::PolRewards(pallet_pol_rewards::Event::RoundRewarded { .. })
		)));

		// Round 0 settled: its locks are gone (a leak would hold a bond for ever). The scorers
		// hold one for round 1, snapshotted when it started; the miners, who have not
		// committed to it, none.
		for k in [alice, bob, charlie] {
			assert_eq!(unsettled(k), 1, "{k:?} holds round 1's lock only");
		}
		for k in [honest, lazy] {
			assert_eq!(unsettled(k), 0, "{k:?} holds no lock after round 0 settled");
		}

		// Invariants of every pallet still hold.
		<AllPalletsWithSystem as IntegrityTest>::integrity_test();
	});
}
