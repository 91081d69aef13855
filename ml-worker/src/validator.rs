//! `pol-worker validator`: every round, verifies each revealed update against its commitment
//! (only the challenged segments' checkpoints are fetched), scores it, commits and reveals the
//! scores, votes on disputes by replaying the claimed segments (sealed, then revealed),
//! aggregates the updates that passed into the next global model and proposes it.
//!
//! Like the miner, it polls the finalized chain and re-sends what is not finalized within its
//! phase; its scores and salt are on disk before they are committed.

use crate::aggregate::{self, Update};
use crate::chain::runtime_types::pallet_validator_scoring::types::{
	Dispute as ChainDispute, DisputeKind as ChainDisputeKind,
};
use crate::chain::{api, from_chain, to_chain, AccountId32, Action, Chain, Pending};
use crate::config::{hex32, parse_hash, RunConfig, TaskSpec};
use crate::data::TaskData;
pub use crate::faults::ValidatorFault;
use crate::profile::Pinned;
use crate::proof::Checkpoint;
use crate::round::{self, TaskContext};
use crate::store::{self, Store};
use crate::verify;
use anyhow::{bail, Context, Result};
use pol_primitives::{
	decide, hashing, serving, Hash, Phase, RoundIndex, SegmentIndex, TaskId, UpdateCommitment,
	Verdict,
};
use serde::{Deserialize, Serialize};
use sp_runtime::Perbill;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How a validator runs.
pub struct ValidatorConfig {
	/// Its work directory (fetched checkpoints, models, round state).
	pub work_dir: PathBuf,
	/// Where its artifact server (the models it proposes) listens.
	pub listen: String,
	/// The URL others reach that server at.
	pub public_url: String,
	/// The tasks to validate; empty: every running task.
	pub tasks: Vec<TaskId>,
	/// The worker's own settings.
	pub run: RunConfig,
	/// Round directories (bundles, checkpoints, round state) kept per task: older ones are
	/// removed as rounds pass.
	pub keep_rounds: u32,
	/// Miners verified at once at most; 0: as many as the cores hold under the task's profile.
	pub verify_workers: usize,
	/// Misbehave on purpose, as a colluding validator would (tests and demos).
	pub fault: Option<ValidatorFault>,
}

/// A score entry as the chain takes it, with our types.
#[derive(Clone, Debug, PartialEq, Eq, codec::Encode, codec::Decode)]
struct Entry {
	miner: [u8; 32],
	score: Perbill,
	verdict: Verdict,
}

/// What a validator keeps of one round.
#[derive(Serialize, Deserialize)]
struct Scores {
	/// The SCALE-encoded, sorted score entries, hex.
	entries: String,
	/// The salt, hex.
	salt: String,
	/// The commit hash.
	commit: String,
}

/// A sealed dispute vote, on disk before it is committed: a restarted worker reveals what it
/// committed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct SealedVote {
	/// The claimed segments that failed in this validator's replay, increasing.
	confirmed: Vec<SegmentIndex>,
	/// Whether a claimed segment was not served to this validator either. With `confirmed`
	/// empty and this false, the vote rejects the dispute.
	not_served: bool,
	/// The salt, hex.
	salt: String,
}

/// What this validator found of a claimed segment: it replays, it fails, or its checkpoints
/// were not served here either.
type ClaimCheck = decide::Finding;

/// What each claimed segment of one miner's check found, from the report of a replay of them
/// all (`segments`, in the order replayed): those that replayed, the one that failed or was not
/// served (a fault of the whole run on its home segment, where the verifier reports it), and
/// nothing of those after it (unchecked), nor, when the check stopped for this validator's own
/// trouble or lateness, of those it had not replayed by then.
pub(crate) fn claim_findings(
	segments: &[SegmentIndex],
	report: &verify::Report,
) -> Vec<(SegmentIndex, Option<ClaimCheck>)> {
	let stopped_at = match &report.outcome {
		verify::Outcome::MinerFault { segment, .. } => Some((*segment, ClaimCheck::Fails)),
		verify::Outcome::NotServed { segment, .. } => Some((*segment, ClaimCheck::NotServed)),
		verify::Outcome::Pass | verify::Outcome::Abstain { .. } => None,
	};
	segments
		.iter()
		.map(|&segment| {
			// A check that abstained part way (out of time, its own trouble) still replayed
			// the segments before: those are checked, only the rest are not.
			let found = match stopped_at {
				Some((at, finding)) if at == segment => Some(finding),
				_ => report
					.segments
					.iter()
					.find(|c| c.segment == segment && c.passed)
					.map(|_| ClaimCheck::Replays),
			};
			(segment, found)
		})
		.collect()
}

/// Runs the validator until it is stopped.
pub fn run(chain: &mut Chain, cfg: ValidatorConfig) -> Result<()> {
	let me = chain.account()?;
	log::info!("validator {me} on {}", chain.url());
	let ledger = chain.storage(
		"reading the bond",
		api::storage().pol_staking().ledger(),
		(me.clone(),),
	)?;
	match ledger.map(|l| l.role) {
		Some(crate::chain::runtime_types::pol_primitives::traits::Role::Validator) => {}
		Some(other) => bail!("{me} is bonded as {other:?}, not as a validator"),
		None => bail!(
			"{me} is not bonded: bond it as a validator first (scripts/js/bin/bond.js, or \
			 polkadot.js apps: polStaking.bond(Validator, amount))"
		),
	}
	// Signing as the stash's proxy, its challenge proofs must be checked against this key.
	crate::keys::check_challenge_key(chain)?;
	// Round state holds salts and unrevealed scores: this user's only.
	round::private_dir(&cfg.work_dir)?;
	let store = Store::open(&cfg.work_dir.join("store"), store::DEFAULT_MAX_BYTES)?;
	let server = store::serve(store.clone(), &cfg.listen)?;
	log::info!("serving models on {} as {}", server.url(), cfg.public_url);
	let mut v = Validator {
		cfg,
		me,
		store,
		pending: Pending::default(),
		tasks: BTreeMap::new(),
		claim_checks: BTreeMap::new(),
		claim_rechecked: BTreeSet::new(),
		nothing_passed: BTreeSet::new(),
		not_scorer: BTreeSet::new(),
		pruned: round::RoundsSeen::default(),
		pinned: crate::profile::pinned()?,
		start_losses: BTreeMap::new(),
		block_time: chain.block_time()?,
		step_secs: BTreeMap::new(),
	};
	let tasks = v.cfg.tasks.clone();
	round::drive(chain, &server, &tasks, "validator", |chain, id, now| {
		v.tick(chain, id, now)
	})
}

struct Validator {
	cfg: ValidatorConfig,
	me: AccountId32,
	store: Store,
	pending: Pending,
	tasks: BTreeMap<TaskId, TaskContext>,
	/// Replays of claimed segments done: (task, round, miner, segment) → what was found,
	/// `None` on this validator's own trouble.
	claim_checks: BTreeMap<(TaskId, RoundIndex, [u8; 32], SegmentIndex), Option<ClaimCheck>>,
	/// The claim checks that abstained in the score-reveal phase and were tried again in the
	/// vote-commit phase: a stall that outlasted the first try's deadline gets a second one.
	claim_rechecked: BTreeSet<(TaskId, RoundIndex, [u8; 32], SegmentIndex)>,
	/// Rounds in which no update passed: nothing to propose.
	nothing_passed: BTreeSet<(TaskId, RoundIndex)>,
	/// Rounds this validator is not a scorer of (it was not an elected authority when they
	/// started): it neither replays nor votes in them.
	not_scorer: BTreeSet<(TaskId, RoundIndex)>,
	/// The round each task was last seen in.
	pruned: round::RoundsSeen,
	/// The determinism profile this process pinned.
	pinned: &'static crate::profile::Pinned,
	/// The validation loss of each task's current start model, by round: evaluated once.
	start_losses: BTreeMap<(TaskId, RoundIndex), f64>,
	/// The chain's block time, to turn the blocks left in a phase into a deadline.
	block_time: Duration,
	/// Seconds one replay thread took a step of each task's training, measured on its last
	/// verifications: what a round's claims will take.
	step_secs: BTreeMap<TaskId, f64>,
}

/// Seconds the replays of `segments` claimed segments of `steps` steps each take on `threads`
/// threads at `step_secs` a step each (`None` when nothing was measured yet).
fn replay_estimate(segments: usize, steps: u32, threads: usize, step_secs: f64) -> f64 {
	let work = segments as f64 * f64::from(steps) * step_secs;
	work / threads.max(1) as f64
}

impl Validator {
	/// One look at task `id`; `false` once it has ended.
	fn tick(&mut self, chain: &mut Chain, id: TaskId, now: u32) -> Result<bool> {
		let Some(status) = round::round_status(chain, id)? else {
			bail!("task {id} does not exist");
		};
		if !round::is_running(&status) {
			return Ok(false);
		}
		if !self.tasks.contains_key(&id) {
			self.tasks.insert(
				id,
				TaskContext::load_for(chain, id, &self.cfg.run, self.pinned)?,
			);
		}
		let r = status.round;
		self.pruned
			.seen(&self.cfg.work_dir, id, r, self.cfg.keep_rounds);
		let dir = round::round_dir(&self.cfg.work_dir, id, r);
		let phase = round::phase_of(&status)?;
		if phase >= Phase::Verify && !self.is_scorer(chain, id, r)? {
			return Ok(true);
		}
		match phase {
			Phase::Commit | Phase::Reveal => {}
			Phase::Verify => {
				let scores: Option<Scores> = round::state_or(&dir.join("scores.json"), || {
					self.score_round(chain, id, r, &status, &dir).map(Some)
				})?;
				if let Some(scores) = scores {
					self.ensure_scores_committed(chain, id, r, &scores, now)?;
				}
			}
			Phase::ScoreReveal => {
				if let Some(scores) = round::read_state::<Scores>(&dir.join("scores.json"))? {
					self.ensure_scores_revealed(chain, id, r, &status, &scores, now)?;
				}
				// Claims land in this phase, votes are sealed in the next (once every claim is
				// in): the claimed segments are replayed as the claims come.
				self.commit_votes(chain, id, r, &status, &dir, now, false)?;
			}
			Phase::VoteCommit => self.commit_votes(chain, id, r, &status, &dir, now, true)?,
			Phase::VoteReveal => self.reveal_votes(chain, id, r, &dir, now)?,
			Phase::Finalize => self.ensure_proposed(chain, id, r, &status, &dir, now)?,
		}
		Ok(true)
	}

	/// Whether this validator is among the scorers of round `r` of task `id` (the chain fixed
	/// them when the round started); says so once when it is not.
	fn is_scorer(&mut self, chain: &mut Chain, id: TaskId, r: RoundIndex) -> Result<bool> {
		if self.not_scorer.contains(&(id, r)) {
			return Ok(false);
		}
		let scorers = round_scorers(chain, id, r)?;
		if scorers.iter().any(|(v, _)| *v == self.me) {
			// The round fixed each scorer's challenge key when it started: scores this
			// validator could not prove would be committed and never revealed, and forfeit
			// the deposit. A key registered since counts from the next round.
			let keys = chain
				.storage(
					"reading the round's challenge keys",
					api::storage().pol_scoring().round_challenge_keys(),
					((id, r),),
				)?
				.map(|k| k.0)
				.unwrap_or_default();
			let fixed = keys.iter().find(|(v, _)| *v == self.me).map(|(_, k)| *k);
			let mine = chain.challenge_public();
			if keys.is_empty() || (fixed.is_some() && fixed == mine) {
				return Ok(true);
			}
			log::warn!(
				"task {id} round {r}: the round fixed another challenge key for {} than this \
				 worker's (a key registered since counts from the next round): not scoring it",
				self.me
			);
			self.not_scorer.insert((id, r));
			return Ok(false);
		}
		log::warn!(
			"task {id} round {r}: not among the round's {} scorers (the authorities elected \
			 before it started): not scoring it",
			scorers.len()
		);
		self.not_scorer.insert((id, r));
		Ok(false)
	}

	/// Verifies and scores every revealed update of round `r`: the miners side by side, as many
	/// at once as the machine's cores hold under the task's profile, each result on disk as soon
	/// as it is in (a restart goes on from there), all by the verify phase's end less a margin
	/// ([`phase_deadline`]).
	fn score_round(
		&mut self,
		chain: &mut Chain,
		id: TaskId,
		r: RoundIndex,
		status: &round::ChainRound,
		dir: &Path,
	) -> Result<Scores> {
		let revealed = chain.api_call(
			"reading the reveals",
			api::runtime_apis().pol_api().revealed_updates(id, r),
		)?;
		let verdicts = Verdicts::open(dir)?;
		let mut entries = Vec::new();
		let mut jobs = Vec::new();
		let colluding = self.cfg.fault == Some(ValidatorFault::Collude);
		if colluding {
			log::warn!("fault collude: passing every miner without replaying anything");
			entries = revealed
				.iter()
				.map(|(miner, _)| Entry {
					miner: miner.0,
					score: Perbill::one(),
					verdict: Verdict::Pass,
				})
				.collect();
		}
		// The verifications' replays queue in an order drawn afresh: storage order is the
		// accounts' hashes, which a miner can grind to come first at every validator.
		let salt = round::fresh_salt()?;
		for (miner, c) in revealed.into_iter().filter(|_| !colluding) {
			match verdicts.read(&miner)? {
				Some(entry) => entries.push(entry),
				None => {
					let draw = pol_primitives::hashing::hash(&[&salt[..], &miner.0[..]].concat());
					let mut first = [0u8; 8];
					first.copy_from_slice(&draw.0[..8]);
					jobs.push(Job::whole(
						miner,
						from_chain(&c)?,
						u64::from_le_bytes(first),
					))
				}
			}
		}
		if !entries.is_empty() {
			log::info!(
				"task {id} round {r}: {} miner(s) already verified (before a restart)",
				entries.len()
			);
		}
		if !jobs.is_empty() {
			let workers = crate::pool::workers_for(
				jobs.len(),
				self.pinned.profile.threads,
				self.cfg.verify_workers,
			);
			// Every miner's fetches start now, side by side: what a server owes is counted from
			// the first request, so none may wait behind another miner's replay (a cartel's
			// legal trickle would otherwise make a forger's stall this validator's lateness).
			// The replays take turns through the gate, as many at once as the cores hold.
			let threads = jobs.len();
			let inputs = RoundInputs {
				compute: crate::pool::Gate::new(workers),
				..self.round_inputs(chain, id, r, status)?
			};
			let ctx = &self.tasks[&id];
			// One bar per download and replay would interleave: bars only when one at a time.
			let progress = ctx.run.progress && threads == 1;
			log::info!(
				"task {id} round {r}: verifying {} miner(s), fetching all at once, replaying {workers} at a time, by {}s from now",
				jobs.len(),
				inputs
					.deadline
					.saturating_duration_since(std::time::Instant::now())
					.as_secs()
			);
			let states: Vec<_> = (0..threads).map(|_| ctx.data.shallow_clone()).collect();
			let (spec, me, pinned, store) = (&ctx.spec, self.me.0, self.pinned, &self.store);
			let mut failed = None;
			let (mut replay_secs, mut replayed_steps) = (0.0, 0u64);
			let left = crate::pool::run(
				jobs,
				states,
				|data, job| verify_miner(spec, data, &inputs, job, dir, me, pinned, progress),
				|job, done| {
					let report = match done {
						crate::pool::Done::Finished(r) => r,
						crate::pool::Done::Panicked(why) => {
							verify::Report::stopped(verify::Outcome::Abstain {
								why: format!("the verification panicked: {why}"),
							})
						}
					};
					replay_secs += report.replay_secs;
					replayed_steps += report.replayed_steps;
					match record(store, &verdicts, id, r, &job.miner, &report) {
						Ok(Some(entry)) => entries.push(entry),
						Ok(None) => {}
						Err(e) => failed = Some(e),
					}
				},
			);
			if replayed_steps > 0 {
				self.step_secs
					.insert(id, replay_secs / replayed_steps as f64);
			}
			if let Some(e) = failed {
				return Err(e.context("keeping a verification's result"));
			}
			if !left.is_empty() {
				bail!(
					"{} miner(s) could not be verified (no thread); trying again",
					left.len()
				);
			}
		}
		entries.sort_by(|a, b| a.miner.cmp(&b.miner));
		let salt = round::fresh_salt()?;
		let commit = hashing::commit_hash_of(&entries, &self.me.0, &salt);
		Ok(Scores {
			entries: hex::encode(subxt::ext::codec::Encode::encode(&entries)),
			salt: hex::encode(salt),
			commit: hex32(&commit.0),
		})
	}

	/// What every verification of round `r` shares: the start model and its validation loss
	/// (evaluated once a round), this validator's challenge randomness, and the deadline (the
	/// end of the current phase, less the blocks its transactions need).
	fn round_inputs(
		&mut self,
		chain: &mut Chain,
		id: TaskId,
		r: RoundIndex,
		status: &round::ChainRound,
	) -> Result<RoundInputs> {
		let ctx = &self.tasks[&id];
		let start = ctx.model(chain, &self.store, &Hash::from(status.model.0))?;
		let start_loss = match self.start_losses.get(&(id, r)) {
			Some(l) => *l,
			None => {
				let l = verify::start_loss(&ctx.spec, &start, &ctx.data, self.pinned)
					.context("evaluating the round's start model")?;
				self.start_losses.retain(|(t, _), _| *t != id);
				self.start_losses.insert((id, r), l);
				l
			}
		};
		let challenge_seed = status
			.challenge_seed
			.map(|h| Hash::from(h.0))
			.context("the challenge seed is not recorded yet")?;
		// Only this validator can compute its randomness: nobody knows its challenges before
		// it asks the miner for them.
		let (_, randomness) = chain.prove_challenge(&challenge_seed)?;
		let best = chain.best_number()?;
		let blocks_left = round::phase_end(status).saturating_sub(best);
		Ok(RoundInputs {
			round: r,
			round_seed: Hash::from(status.seed.0),
			start,
			start_loss,
			randomness,
			deadline: phase_deadline(blocks_left, self.block_time),
			compute: crate::pool::Gate::new(1),
		})
	}

	fn ensure_scores_committed(
		&mut self,
		chain: &mut Chain,
		id: TaskId,
		r: RoundIndex,
		s: &Scores,
		now: u32,
	) -> Result<()> {
		let done = chain
			.storage(
				"reading the score commit",
				api::storage().pol_scoring().score_commits(),
				((id, r), self.me.clone()),
			)?
			.is_some();
		self.pending
			.ensure(chain, &Action::CommitScores(id, r), done, now, || {
				let commit = parse_hash(&s.commit)?;
				Ok(api::tx()
					.pol_scoring()
					.commit_scores(id, r, subxt::utils::H256(commit.0)))
			})
	}

	fn ensure_scores_revealed(
		&mut self,
		chain: &mut Chain,
		id: TaskId,
		r: RoundIndex,
		status: &round::ChainRound,
		s: &Scores,
		now: u32,
	) -> Result<()> {
		let key = Action::RevealScores(id, r);
		let done = chain
			.storage(
				"reading the score reveal",
				api::storage().pol_scoring().reveals(),
				((id, r), self.me.clone()),
			)?
			.is_some();
		if done {
			self.pending.done(&key);
		} else if self.pending.due(&key, now) {
			let entries: Vec<Entry> =
				subxt::ext::codec::Decode::decode(&mut &hex::decode(&s.entries)?[..])
					.context("decoding the saved scores")?;
			let salt = saved_salt(&s.salt)?;
			let seed = status
				.challenge_seed
				.map(|h| Hash::from(h.0))
				.context("the challenge seed is not recorded")?;
			// The proof that its challenges are the ones its VRF gives: the chain checks every
			// accused segment against them.
			let (proof, _) = chain.prove_challenge(&seed)?;
			chain.send(
				&mut self.pending,
				&key,
				now,
				api::tx().pol_scoring().reveal_scores(
					id,
					r,
					to_chain(&entries)?,
					salt,
					to_chain(&proof)?,
				),
			)?;
		}
		Ok(())
	}

	/// Replays the segments claimed against each disputed miner, all at once
	/// ([`Validator::check_claims`]), and, with `send`, seals and commits a vote on each
	/// ([`Validator::decide_vote`]). Without `send` it only replays (the results are kept for the
	/// vote). A vote sealed before a restart is committed as it was.
	#[allow(clippy::too_many_arguments)]
	fn commit_votes(
		&mut self,
		chain: &mut Chain,
		id: TaskId,
		r: RoundIndex,
		status: &round::ChainRound,
		dir: &Path,
		now: u32,
		send: bool,
	) -> Result<()> {
		let mut open = Vec::new();
		for (miner, dispute) in disputes(chain, id, r)? {
			let key = Action::CommitVote(id, r, miner.clone());
			if send {
				if self.vote_committed(chain, id, r, &miner)? {
					self.pending.done(&key);
					continue;
				}
				if !self.pending.due(&key, now) {
					continue;
				}
			}
			open.push((miner, dispute));
		}
		let sealed_path =
			|miner: &AccountId32| dir.join(format!("vote-{}.json", hex::encode(miner.0)));
		let colluding = self.cfg.fault == Some(ValidatorFault::Collude);
		let wanted: Vec<(AccountId32, SegmentIndex, bool, [u8; 32])> = open
			.iter()
			.filter(|_| !colluding)
			.filter(|(miner, _)| !(send && sealed_path(miner).exists()))
			.flat_map(|(miner, d)| {
				let me = &self.me;
				let only_mine = d.claims.0.iter().all(|c| c.accuser == *me);
				// Its own `Fail` needs no second replay here.
				d.claims
					.0
					.iter()
					.filter(move |c| {
						!only_mine
							&& !(c.accuser == *me && matches!(c.kind, ChainDisputeKind::Replay))
					})
					.map(|c| {
						let fail = matches!(c.kind, ChainDisputeKind::Replay);
						(miner.clone(), c.segment, fail, c.accuser.0)
					})
			})
			.collect();
		self.check_claims(chain, id, r, status, dir, wanted, send)?;
		if !send {
			return Ok(());
		}
		for (miner, dispute) in open {
			let path = sealed_path(&miner);
			let sealed = match round::read_state::<SealedVote>(&path)? {
				Some(sealed) => sealed,
				None => {
					let vote = if colluding {
						log::warn!("fault collude: rejecting the dispute over {miner}");
						Some((Vec::new(), false))
					} else {
						self.decide_vote(id, r, &miner, &dispute)
					};
					let Some((confirmed, not_served)) = vote else {
						continue;
					};
					let sealed = SealedVote {
						confirmed,
						not_served,
						salt: hex::encode(round::fresh_salt()?),
					};
					round::write_state(&path, &sealed)?;
					sealed
				}
			};
			let salt = saved_salt(&sealed.salt)?;
			let commitment = hashing::vote_commit_hash(
				id,
				r,
				&miner.0,
				&sealed.confirmed,
				sealed.not_served,
				&self.me.0,
				&salt,
			);
			let claimed: Vec<String> = dispute
				.claims
				.0
				.iter()
				.map(|c| c.segment.to_string())
				.collect();
			log::info!(
				"task {id} round {r}: dispute over {miner} (claimed segments {}): {}",
				claimed.join(", "),
				match (&sealed.confirmed[..], sealed.not_served) {
					([], false) => "rejected (every claimed segment replays here)".to_owned(),
					([], true) => "upheld (a claimed segment is not served here either)".to_owned(),
					(fails, _) => format!("upheld (segments {fails:?} fail here too)"),
				}
			);
			chain.send(
				&mut self.pending,
				&Action::CommitVote(id, r, miner.clone()),
				now,
				api::tx().pol_scoring().commit_vote(
					id,
					r,
					miner.clone(),
					subxt::utils::H256(commitment.0),
				),
			)?;
		}
		Ok(())
	}

	/// How this validator votes on the dispute over `miner`, from its claim checks
	/// ([`decide::vote`], which the protocol simulator drives the chain with).
	fn decide_vote(
		&self,
		id: TaskId,
		r: RoundIndex,
		miner: &AccountId32,
		dispute: &ChainDispute<AccountId32, u128>,
	) -> Option<(Vec<SegmentIndex>, bool)> {
		let claims: Vec<decide::Claim> = dispute
			.claims
			.0
			.iter()
			.map(|c| decide::Claim {
				mine: c.accuser == self.me,
				segment: c.segment,
				fail: matches!(c.kind, ChainDisputeKind::Replay),
			})
			.collect();
		decide::vote(&claims, |segment| {
			self.claim_checks
				.get(&(id, r, miner.0, segment))
				.copied()
				.flatten()
		})
	}

	/// Fetches and replays the claimed segments `wanted` that are not checked yet (and, when
	/// `voting`, those whose check abstained before, once more), all at once: one check per
	/// miner over every segment claimed against it, its checkpoints asked for together from the
	/// phase's start under lanes of the miner's own ([`store::lanes_for`]: sybils sharing a
	/// forger's server cannot hold them). The task registry sizes the vote-commit phase for a
	/// fetch of every segment a dispute can name at the minimum rate
	/// (`serving::min_vote_commit_blocks`). The replays queue for the cores in the order of
	/// [`decide::check_order`], across miners, whichever server delivers first: the accusers take
	/// turns, so one colluder's decoys cannot push an honest accuser's claim back, and the order
	/// is drawn from fresh randomness no server foresees. `wanted`: (miner, segment, claimed to
	/// fail, accuser).
	#[allow(clippy::too_many_arguments)]
	fn check_claims(
		&mut self,
		chain: &mut Chain,
		id: TaskId,
		r: RoundIndex,
		status: &round::ChainRound,
		dir: &Path,
		wanted: Vec<(AccountId32, SegmentIndex, bool, [u8; 32])>,
		voting: bool,
	) -> Result<()> {
		let due: Vec<_> = wanted
			.into_iter()
			.filter(|(miner, segment, _, _)| {
				match self.claim_checks.get(&(id, r, miner.0, *segment)) {
					None => true,
					Some(None) => {
						voting && !self.claim_rechecked.contains(&(id, r, miner.0, *segment))
					}
					Some(Some(_)) => false,
				}
			})
			.collect();
		if due.is_empty() {
			return Ok(());
		}
		// Every claimed segment in the order of `decide::check_order`: first the claims on the
		// miners this validator passed (only those can reach the model), each accuser's first
		// claim among the first checks, whatever decoys another made.
		let verdicts = Verdicts::open(dir)?;
		let mut passed: BTreeMap<AccountId32, bool> = BTreeMap::new();
		for (miner, ..) in &due {
			if !passed.contains_key(miner) {
				// A verdict this validator cannot read (its own disk) only costs the claim its
				// place in the order, never the vote.
				let pass = match verdicts.read(miner) {
					Ok(entry) => entry.is_some_and(|e| e.verdict == Verdict::Pass),
					Err(e) => {
						log::warn!("task {id} round {r}: reading its verdict on {miner}: {e:#}");
						false
					}
				};
				passed.insert(miner.clone(), pass);
			}
		}
		let todo = decide::check_order(
			due,
			|m: &AccountId32| m.0,
			|m| passed.get(m).copied().unwrap_or(false),
			&round::fresh_salt()?,
		);
		let revealed = chain.api_call(
			"reading the reveals",
			api::runtime_apis().pol_api().revealed_updates(id, r),
		)?;
		// One job per miner (its claimed segments in one fetch from the phase's start, under
		// lanes of its own: co-hosted sybils' trickles cannot hold them), ranked by its first
		// claim in `todo`, each segment's replay at its own place there: the replays queue in
		// that order across miners, not in the order their servers deliver.
		let mut jobs: Vec<Job> = Vec::new();
		for (rank, (miner, segment, _)) in (0u64..).zip(todo) {
			let key = (id, r, miner.0, segment);
			if self.claim_checks.contains_key(&key) {
				self.claim_rechecked.insert(key);
			}
			if let Some(job) = jobs.iter_mut().find(|j| j.miner == miner) {
				job.ranks.insert(segment, rank);
				continue;
			}
			let Some((_, c)) = revealed.iter().find(|(m, _)| *m == miner) else {
				self.claim_checks.insert(key, None);
				continue;
			};
			jobs.push(Job {
				miner,
				commitment: from_chain(c)?,
				rank,
				ranks: BTreeMap::from([(segment, rank)]),
			});
		}
		if jobs.is_empty() {
			return Ok(());
		}
		let workers = crate::pool::workers_for(
			jobs.len(),
			self.pinned.profile.threads,
			self.cfg.verify_workers,
		);
		let inputs = RoundInputs {
			compute: crate::pool::Gate::new(workers),
			..self.round_inputs(chain, id, r, status)?
		};
		log::info!(
			"task {id} round {r}: checking the claimed segments of {} miner(s) at once, by {}s from now",
			jobs.len(),
			inputs
				.deadline
				.saturating_duration_since(Instant::now())
				.as_secs()
		);
		let ctx = &self.tasks[&id];
		// Whether its replays fit what is left of the phase, at its measured speed: if not, the
		// claims on the miners it passed are checked first, and the operator should know.
		if let Some(&step_secs) = self.step_secs.get(&id) {
			let segments: usize = jobs.iter().map(|j| j.ranks.len()).sum();
			let needed = replay_estimate(
				segments,
				ctx.spec.hyperparameters.checkpoint_interval,
				workers,
				step_secs,
			);
			let left = inputs
				.deadline
				.saturating_duration_since(Instant::now())
				.as_secs_f64();
			// Only in the vote-commit phase: a check made early, as claims land in the
			// score-reveal phase, has only that phase's rest and is made again.
			if voting && needed > left {
				log::warn!(
					"task {id} round {r}: the {segments} claimed segment(s) take about {needed:.0}s \
					 of replays here ({workers} at a time), {left:.0}s are left: the claims on \
					 miners this validator passed go first, the others may go unchecked (the \
					 task's vote-commit phase is short for its claims: docs/VALIDATORS.md)"
				);
			}
		}
		let states: Vec<_> = (0..jobs.len()).map(|_| ctx.data.shallow_clone()).collect();
		let (spec, me, pinned) = (&ctx.spec, self.me.0, self.pinned);
		let mut found = Vec::new();
		let left = crate::pool::run(
			jobs,
			states,
			|data, job| verify_miner(spec, data, &inputs, job, dir, me, pinned, false),
			|job, done| {
				let segments = job.only().unwrap_or_default();
				let report = match done {
					crate::pool::Done::Finished(report) => report,
					crate::pool::Done::Panicked(why) => {
						verify::Report::stopped(verify::Outcome::Abstain {
							why: format!("the replay panicked: {why}"),
						})
					}
				};
				log::info!(
					"task {id} round {r}: {}'s claimed segment(s) {segments:?}: {}",
					job.miner,
					report.outcome
				);
				for (segment, check) in claim_findings(&segments, &report) {
					found.push(((id, r, job.miner.0, segment), check));
				}
			},
		);
		let unchecked = found.iter().filter(|(_, check)| check.is_none()).count();
		if voting && unchecked > 0 {
			log::warn!(
				"task {id} round {r}: {unchecked} of {} claimed segment(s) not checked (this \
				 validator's own trouble or lateness; when it is time, the task's vote-commit phase \
				 is too short for the round's claims: docs/VALIDATORS.md)",
				found.len()
			);
		}
		for (key, check) in found {
			self.claim_checks.insert(key, check);
		}
		if !left.is_empty() {
			log::warn!(
				"task {id} round {r}: {} claim check(s) found no thread; trying again",
				left.len()
			);
		}
		Ok(())
	}

	/// Whether this validator's sealed vote on `miner`'s dispute is on chain.
	fn vote_committed(
		&self,
		chain: &mut Chain,
		id: TaskId,
		r: RoundIndex,
		miner: &AccountId32,
	) -> Result<bool> {
		Ok(chain
			.storage(
				"reading the dispute's vote commitments",
				api::storage().pol_scoring().vote_commits(),
				((id, r, miner.clone()),),
			)?
			.is_some_and(|v| v.0.iter().any(|(who, _)| *who == self.me)))
	}

	/// Reveals every vote this validator committed in round `r` of task `id`.
	fn reveal_votes(
		&mut self,
		chain: &mut Chain,
		id: TaskId,
		r: RoundIndex,
		dir: &Path,
		now: u32,
	) -> Result<()> {
		for (miner, _) in disputes(chain, id, r)? {
			let key = Action::RevealVote(id, r, miner.clone());
			let path = dir.join(format!("vote-{}.json", hex::encode(miner.0)));
			let Some(sealed) = round::read_state::<SealedVote>(&path)? else {
				continue;
			};
			let revealed = chain
				.storage(
					"reading the dispute's votes",
					api::storage().pol_scoring().dispute_votes(),
					((id, r, miner.clone()),),
				)?
				.map(|v| v.0)
				.unwrap_or_default();
			if revealed.iter().any(|(v, _)| *v == self.me) {
				self.pending.done(&key);
				continue;
			}
			if !self.vote_committed(chain, id, r, &miner)? || !self.pending.due(&key, now) {
				continue;
			}
			let salt = saved_salt(&sealed.salt)?;
			chain.send(
				&mut self.pending,
				&key,
				now,
				api::tx().pol_scoring().reveal_vote(
					id,
					r,
					miner.clone(),
					to_chain(&sealed.confirmed)?,
					sealed.not_served,
					salt,
				),
			)?;
		}
		Ok(())
	}

	/// Aggregates the updates eligible for the model (judged by more than half of the
	/// snapshot stake, with a positive consensus score and no dispute a majority has not
	/// rejected) into the next global model, serves it and proposes it.
	fn ensure_proposed(
		&mut self,
		chain: &mut Chain,
		id: TaskId,
		r: RoundIndex,
		status: &round::ChainRound,
		dir: &Path,
		now: u32,
	) -> Result<()> {
		let key = Action::Propose(id, r);
		let revealed_scores = chain
			.storage(
				"reading the score reveal",
				api::storage().pol_scoring().reveals(),
				((id, r), self.me.clone()),
			)?
			.is_some();
		if !revealed_scores {
			// Only validators that revealed scores may propose.
			return Ok(());
		}
		let proposed = chain
			.storage(
				"reading the proposal",
				api::storage().task_registry().proposals(),
				((id, r), self.me.clone()),
			)?
			.is_some();
		if proposed {
			self.pending.done(&key);
			return Ok(());
		}
		if !self.pending.due(&key, now) || self.nothing_passed.contains(&(id, r)) {
			return Ok(());
		}
		// Every validator reads what is eligible at the same finalized block, the vote-reveal
		// phase's last: every vote is in, so an update is left out only by an upheld dispute,
		// never by a claim alone, and the honest proposals agree.
		let reference = reference_block(round::phase_end(status), self.tasks[&id].finalize_blocks);
		// Finalized, so that no fork shows validators different states.
		if now < reference || chain.finalized()?.number < reference {
			return Ok(());
		}
		let proposal: Option<Proposal> = round::state_or(&dir.join("proposal.json"), || {
			self.aggregate(chain, id, r, status, reference, now)
		})?;
		let Some(proposal) = proposal else {
			self.nothing_passed.insert((id, r));
			return Ok(());
		};
		let hash = parse_hash(&proposal.model_hash)?;
		let uri: pol_primitives::ArtifactUri = proposal
			.uri
			.as_bytes()
			.to_vec()
			.try_into()
			.map_err(|_| anyhow::anyhow!("model URI longer than the chain allows"))?;
		chain.send(
			&mut self.pending,
			&key,
			now,
			api::tx().task_registry().propose_global_model(
				id,
				r,
				subxt::utils::H256(hash.0),
				to_chain(&uri)?,
			),
		)?;
		Ok(())
	}

	#[allow(clippy::too_many_arguments)]
	fn aggregate(
		&mut self,
		chain: &mut Chain,
		id: TaskId,
		r: RoundIndex,
		status: &round::ChainRound,
		reference: u32,
		now: u32,
	) -> Result<Option<Proposal>> {
		// The chain leaves out what was not judged by a quorum and what is under a dispute a
		// majority has not rejected.
		let consensus = chain.api_call_at(
			"reading the eligible updates",
			reference,
			api::runtime_apis().pol_api().consensus(id, r),
		)?;
		let revealed: BTreeMap<AccountId32, UpdateCommitment> = chain
			.api_call(
				"reading the reveals",
				api::runtime_apis().pol_api().revealed_updates(id, r),
			)?
			.into_iter()
			.map(|(m, c)| Ok((m, from_chain(&c)?)))
			.collect::<Result<_>>()?;
		let ctx = &self.tasks[&id];
		let base = ctx.model(chain, &self.store, &Hash::from(status.model.0))?;
		// Each eligible update: the last checkpoint this validator verified, or (it abstained)
		// one fetched by the final model hash, which the chain proved is leaf n of the committed
		// tree, and checked against it: the same bytes every validator verified.
		let mut eligible = Vec::new();
		let mut missing = Vec::new();
		for (miner, score) in consensus {
			let score: Perbill = from_chain(&score)?;
			let Some(c) = revealed.get(&miner).filter(|_| !score.is_zero()) else {
				continue;
			};
			if self.store.get(&c.final_model_hash).is_err() {
				// From the miner, else from the scorers (who keep what they verified, the most
				// staked first): a miner that serves its final model to some validators only
				// cannot split their proposals.
				let uri = String::from_utf8_lossy(&c.artifact_uri).into_owned();
				let servers: Vec<String> = round::split_artifact_uri(&uri)
					.map(|(server, _)| vec![server])
					.unwrap_or_default();
				missing.push((miner.clone(), c.final_model_hash, servers));
			}
			eligible.push((miner, c.final_model_hash, score));
		}
		if !missing.is_empty() {
			let sources = scorer_endpoints(chain, id, r)?;
			let layout: Vec<(String, Vec<u64>)> = base
				.iter()
				.map(|t| (t.name.clone(), t.dims.clone()))
				.collect();
			let size = crate::proof::checkpoint_size(&layout, ctx.spec.momentum() > 0.0)?;
			let blocks_left = round::phase_end(status).saturating_sub(now);
			let deadline = phase_deadline(blocks_left, self.block_time);
			for (_, _, servers) in &mut missing {
				servers.extend(sources.iter().cloned());
			}
			for (miner, bytes) in fetch_updates(&missing, size, deadline) {
				match bytes {
					Some(bytes) => {
						self.store.put(&bytes)?;
					}
					None => {
						log::warn!("task {id} round {r}: {miner}'s update left out of the model")
					}
				}
			}
		}
		let mut updates = Vec::new();
		for (miner, hash, score) in eligible {
			// One that could not be had at all is left out; it never stops the model.
			let Ok(bytes) = self.store.get(&hash) else {
				continue;
			};
			updates.push(Update {
				miner: miner.0,
				params: Checkpoint::from_safetensors(&bytes)?.params,
				score: crate::config::unperbill(score),
			});
		}
		if updates.is_empty() {
			log::warn!("task {id} round {r}: no update passed; proposing nothing");
			return Ok(None);
		}
		let params = aggregate::aggregate(&base, &updates, ctx.spec.aggregation)?;
		let model = Checkpoint {
			params,
			momentum: Vec::new(),
		};
		let hash = self.store.put(&model.to_safetensors()?)?;
		let (loss, accuracy) = ctx.evaluate(&model.params)?;
		let miners: Vec<String> = updates
			.iter()
			.map(|u| AccountId32(u.miner).to_string())
			.collect();
		log::info!(
			"task {id} round {r}: aggregated {} update(s) by {} into {}: test loss {loss:.4}, accuracy {:.2}%; miners {}",
			updates.len(),
			ctx.spec.aggregation,
			hex32(&hash.0),
			100.0 * accuracy,
			miners.join(",")
		);
		Ok(Some(Proposal {
			model_hash: hex32(&hash.0),
			uri: round::artifact_uri(&self.cfg.public_url, &hash),
		}))
	}
}

/// The disputes of round `r` of task `id`, by miner, at the best block (where the phases are
/// read: a dispute opened in the last blocks of the score-reveal phase counts).
fn disputes(
	chain: &mut Chain,
	id: TaskId,
	r: RoundIndex,
) -> Result<Vec<(AccountId32, ChainDispute<AccountId32, u128>)>> {
	chain.call("reading the disputes", move |c| async move {
		let at = c.at_best().await?;
		let mut entries = at
			.storage()
			.iter(api::storage().pol_scoring().disputes(), ((id, r),))
			.await?;
		let mut out = Vec::new();
		while let Some(entry) = entries.next().await {
			let entry = entry?;
			let (_, miner): ((u64, u32), AccountId32) = entry.key()?.decode()?;
			out.push((miner, entry.value().decode()?));
		}
		Ok(out)
	})
}

/// A salt kept on disk as hex.
fn saved_salt(hex: &str) -> Result<[u8; 32]> {
	hex::decode(hex)?
		.try_into()
		.map_err(|_| anyhow::anyhow!("bad saved salt"))
}

/// The scorers of round `r` of task `id`, with their stake (the chain fixed them when the round
/// started).
fn round_scorers(chain: &mut Chain, id: TaskId, r: RoundIndex) -> Result<Vec<(AccountId32, u128)>> {
	Ok(chain
		.storage(
			"reading the round's scorers",
			api::storage().pol_scoring().round_scorers(),
			((id, r),),
		)?
		.map(|s| s.0)
		.unwrap_or_default())
}

/// The artifact servers of round `r` of task `id`'s scorers: each keeps the final models it
/// verified.
fn scorer_endpoints(chain: &mut Chain, id: TaskId, r: RoundIndex) -> Result<Vec<String>> {
	let mut out = Vec::new();
	// The most staked first: more than half of the stake passed every eligible update and keeps
	// it, so a crowd of minimum-bond endpoints cannot stand between a validator and the bytes.
	let mut scorers = round_scorers(chain, id, r)?;
	scorers.sort_by(|a, b| b.1.cmp(&a.1));
	for (scorer, _) in scorers {
		if let Some(endpoint) = chain.storage(
			"reading a scorer's endpoint",
			api::storage().pol_staking().endpoints(),
			(scorer,),
		)? {
			out.push(String::from_utf8_lossy(&endpoint.0).into_owned());
		}
	}
	Ok(out)
}

/// Fetches the final models `missing` (each a miner, its final model hash, and the servers that
/// may have it, the likeliest first) of exactly `size` bytes, side by side, each from the first
/// of its servers that delivers it, by `deadline`. Each update asks
/// [`verify::MAX_PARALLEL_FETCHES`] servers at once, the next as one fails; a server gets the
/// time a server at the protocol's minimum rate needs for `size` bytes. Servers that stall hold
/// a lane for that long at most, never the update, the others or the phase.
pub(crate) fn fetch_updates(
	missing: &[(AccountId32, Hash, Vec<String>)],
	size: u64,
	deadline: Instant,
) -> Vec<(AccountId32, Option<Vec<u8>>)> {
	let from_any = |miner: &AccountId32, hash: &Hash, servers: &[String]| -> Option<Vec<u8>> {
		let queue = std::sync::Mutex::new(servers.iter());
		let got = std::sync::Mutex::new(None::<Vec<u8>>);
		let lanes = servers.len().min(verify::MAX_PARALLEL_FETCHES);
		std::thread::scope(|scope| {
			for _ in 0..lanes {
				scope.spawn(|| loop {
					if got.lock().map_or(true, |g| g.is_some()) {
						return;
					}
					let next = queue.lock().ok().and_then(|mut q| q.next());
					let Some(server) = next else { return };
					// A lane of this process's to the server before its time is counted: many
					// updates may ask one server (a scorer's) at once, and together they open
					// no more connections to it than one verification does.
					let Some(_lane) = store::lanes_to(server, 1, deadline) else {
						log::warn!(
							"{miner}'s update not from {server}: {}",
							store::FetchError::NoLane
						);
						continue;
					};
					let mut policy = store::FetchPolicy {
						deadline,
						attempts: 2,
						lane_held: true,
						..store::FetchPolicy::default()
					};
					policy.deadline = deadline.min(Instant::now() + policy.time_owed(size));
					match store::fetch_with(server, hash, size, false, &policy) {
						Ok(bytes) => {
							if let Ok(mut g) = got.lock() {
								g.get_or_insert(bytes);
							}
							return;
						}
						Err(e) => log::warn!("{miner}'s update not from {server}: {e}"),
					}
				});
			}
		});
		got.into_inner().ok().flatten()
	};
	std::thread::scope(|scope| {
		let jobs: Vec<_> = missing
			.iter()
			.map(|(miner, hash, servers)| {
				let job = scope.spawn(move || from_any(miner, hash, servers));
				(miner.clone(), job)
			})
			.collect();
		jobs.into_iter()
			.map(|(miner, job)| (miner, job.join().ok().flatten()))
			.collect()
	})
}

/// The block at which validators read the updates eligible for a round's model, once it is
/// finalized: the last block of the vote-reveal phase, before the finalize phase that ends at
/// block `end` and lasts `blocks`. Every dispute is decided there, and the whole finalize phase
/// is left for the proposals.
fn reference_block(end: u32, blocks: u32) -> u32 {
	end.saturating_sub(blocks.max(1))
}

/// The model a validator proposes for a round.
#[derive(Serialize, Deserialize)]
struct Proposal {
	model_hash: String,
	uri: String,
}

/// One verification: a miner's revealed commitment, all of its challenged segments, or only
/// the segments in `ranks` (a dispute's claimed ones).
struct Job {
	miner: AccountId32,
	commitment: UpdateCommitment,
	/// Where its replays queue for the cores ([`verify::Turns`]): its first.
	rank: u64,
	/// The claimed segments it checks, each at its place in the voter's order; empty: every
	/// challenged segment, at `rank`.
	ranks: BTreeMap<SegmentIndex, u64>,
}

impl Job {
	/// A whole verification of `miner`'s commitment, its replays at `rank`.
	fn whole(miner: AccountId32, commitment: UpdateCommitment, rank: u64) -> Job {
		Job {
			miner,
			commitment,
			rank,
			ranks: BTreeMap::new(),
		}
	}

	/// The claimed segments it checks, in their order; `None` for a whole verification.
	fn only(&self) -> Option<Vec<SegmentIndex>> {
		if self.ranks.is_empty() {
			return None;
		}
		let mut segments: Vec<_> = self.ranks.iter().map(|(&s, &rank)| (rank, s)).collect();
		segments.sort();
		Some(segments.into_iter().map(|(_, s)| s).collect())
	}
}

/// What every verification of a round shares ([`Validator::round_inputs`]).
struct RoundInputs {
	round: RoundIndex,
	round_seed: Hash,
	start: Vec<crate::model::NamedTensor>,
	start_loss: f64,
	randomness: Hash,
	deadline: Instant,
	/// Replays at once: the fetches of every miner run from the phase's start, the replays only
	/// as many as the cores hold.
	compute: crate::pool::Gate,
}

/// Blocks kept at the end of a phase for a validator's transaction to be included: the
/// protocol's, which the registry counts in a verify phase's least length.
const PHASE_MARGIN_BLOCKS: u32 = serving::PHASE_MARGIN_BLOCKS;
/// When verifications must be done, with `blocks_left` blocks of the phase to go: in time for
/// the transaction that carries their results, never later (a result past the phase is of no
/// use, and waiting for one would cost every other miner's). Little left, little time: a
/// server then owes more than the time left, and what it does not deliver is this validator's
/// lateness, never evidence against it ([`store::FetchPolicy::blames_server_of`]).
fn phase_deadline(blocks_left: u32, block_time: Duration) -> Instant {
	let usable = block_time.saturating_mul(blocks_left.saturating_sub(PHASE_MARGIN_BLOCKS));
	Instant::now() + usable
}

/// Fetches what `job` needs from the miner's server and verifies it; never fails: this
/// validator's own trouble is an abstention in the report. Needs no chain: it runs on a
/// verification thread.
#[allow(clippy::too_many_arguments)]
fn verify_miner(
	spec: &TaskSpec,
	data: &TaskData,
	inputs: &RoundInputs,
	job: &Job,
	dir: &Path,
	me: [u8; 32],
	pinned: &Pinned,
	progress: bool,
) -> verify::Report {
	// What a miner does not serve is reported on the last segment, which every validator is
	// challenged with; the others then try to fetch it themselves (a claim check: on the home
	// segment of the claimed ones).
	let n = spec.num_segments().max(1);
	let only = job.only();
	let segment = match &only {
		Some(only) => decide::home_segment(only, n).unwrap_or(n),
		None => n,
	};
	let c = &job.commitment;
	let uri = String::from_utf8_lossy(&c.artifact_uri).into_owned();
	let Ok((base, manifest)) = round::split_artifact_uri(&uri) else {
		return verify::Report::stopped(verify::Outcome::NotServed {
			segment,
			what: format!("the committed artifact URI {uri:?} names no manifest"),
		});
	};
	let bundle = dir.join(format!(
		"{}{}",
		hex::encode(&job.miner.0[..8]),
		if only.is_some() { "-claims" } else { "" }
	));
	let policy = store::FetchPolicy {
		deadline: inputs.deadline,
		..store::FetchPolicy::default()
	};
	let max_bytes = store::DEFAULT_MAX_BYTES;
	// The protocol bounds a manifest by the run's segments: a larger one is the miner's fault.
	let manifest_limit = serving::manifest_bytes_bound(spec.num_segments());
	// This process's lanes to the server for this miner, taken before what it owes is counted:
	// a wait for them (this host's other fetches of the miner's artifacts, another task's) is
	// this validator's, never the server's lateness.
	let Some(held) = store::lanes_for(
		&base,
		&job.miner.0,
		verify::MAX_PARALLEL_FETCHES,
		inputs.deadline,
	) else {
		return verify::Report::stopped(verify::Outcome::Abstain {
			why: format!("fetching the manifest: {}", store::FetchError::NoLane),
		});
	};
	let asked_at = Instant::now();
	let manifest_owed = policy.time_owed_batch(manifest_limit, 1);
	// Asked again (a 503 of a server under a flood) until it is owed, never given up sooner.
	let manifest_policy = policy.owing(asked_at, manifest_owed);
	let manifest_bytes = match store::fetch_manifest(
		&base,
		&manifest,
		&bundle,
		manifest_limit,
		progress,
		&manifest_policy,
	) {
		Ok(bytes) => bytes,
		// A server that had the time for a manifest of the largest size at the minimum
		// rate and did not deliver it withheld it.
		Err(e) if !policy.blames_server_of(&e, asked_at, manifest_owed) => {
			return verify::Report::stopped(verify::Outcome::Abstain {
				why: format!("fetching the manifest: {e}"),
			})
		}
		Err(e) => {
			return verify::Report::stopped(verify::Outcome::NotServed {
				segment,
				what: format!("the manifest: {e}"),
			})
		}
	};
	let expected = verify::Expected {
		spec,
		round: inputs.round,
		round_seed: inputs.round_seed,
		miner: job.miner.0,
		start: &inputs.start,
		root: Some(c.checkpoint_root),
		final_model_hash: Some(c.final_model_hash),
		start_loss: Some(inputs.start_loss),
	};
	let v = verify::Validator {
		data,
		account: me,
		randomness: inputs.randomness,
		all_segments: false,
		only_segments: only,
		pinned,
		progress,
		deadline: Some(inputs.deadline),
	};
	let remote = verify::Remote {
		base: &base,
		max_bytes,
		manifest_bytes,
		progress,
		policy,
		asked_at,
		lanes: held.count(),
		held: Some(&held),
		compute: Some(verify::Turns {
			gate: &inputs.compute,
			rank: job.rank,
			segments: job.ranks.clone(),
		}),
	};
	verify::verify_remote(&bundle, &remote, &expected, &v).unwrap_or_else(|e| {
		verify::Report::stopped(verify::Outcome::Abstain {
			why: format!("{e:#}"),
		})
	})
}

/// Keeps a verification's result: the update it passed in the store (for aggregation, under
/// the hash the chain proved is leaf n), the score entry on disk. `None` when this validator
/// abstained: its own trouble is no evidence against the miner, and it is tried again after a
/// restart.
fn record(
	store: &Store,
	verdicts: &Verdicts,
	id: TaskId,
	r: RoundIndex,
	miner: &AccountId32,
	report: &verify::Report,
) -> Result<Option<Entry>> {
	crate::metrics::global().verdict(report.outcome.kind(), report.total_secs);
	let Some(verdict) = report.verdict() else {
		log::warn!("task {id} round {r}: miner {miner}: {}", report.outcome);
		return Ok(None);
	};
	// Only a passing update has a quality; anything else scores zero.
	let score = if verdict == Verdict::Pass {
		report.score
	} else {
		0.0
	};
	if let Some(last) = &report.final_checkpoint {
		store.put(&last.to_safetensors()?)?;
	}
	log::info!(
		"task {id} round {r}: miner {miner}: {}, score {score:.4}",
		report.outcome
	);
	let entry = Entry {
		miner: miner.0,
		score: Perbill::from_float(score.clamp(0.0, 1.0)),
		verdict,
	};
	verdicts.write(&entry, &report.outcome)?;
	Ok(Some(entry))
}

/// A round's verification results, one file per miner (`verdicts/<miner>.json`, private like
/// all round state), each written as soon as it is in.
struct Verdicts {
	dir: PathBuf,
}

/// One miner's result on disk.
#[derive(Serialize, Deserialize)]
struct SavedVerdict {
	/// The SCALE-encoded score entry, hex.
	entry: String,
	/// What the verification found, for the operator.
	outcome: String,
}

impl Verdicts {
	fn open(round_dir: &Path) -> Result<Verdicts> {
		let dir = round_dir.join("verdicts");
		std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
		Ok(Verdicts { dir })
	}

	fn path(&self, miner: &[u8; 32]) -> PathBuf {
		self.dir.join(format!("{}.json", hex::encode(miner)))
	}

	/// The entry kept for `miner`, if its verification completed.
	fn read(&self, miner: &AccountId32) -> Result<Option<Entry>> {
		let path = self.path(&miner.0);
		let Some(saved) = round::read_state::<SavedVerdict>(&path)? else {
			return Ok(None);
		};
		let bytes = hex::decode(&saved.entry)
			.with_context(|| format!("{}: the entry is not hex", path.display()))?;
		let entry: Entry = codec::Decode::decode(&mut &bytes[..])
			.with_context(|| format!("{}: not a score entry", path.display()))?;
		anyhow::ensure!(
			entry.miner == miner.0,
			"{} holds another miner's entry",
			path.display()
		);
		Ok(Some(entry))
	}

	fn write(&self, entry: &Entry, outcome: &verify::Outcome) -> Result<()> {
		round::write_state(
			&self.path(&entry.miner),
			&SavedVerdict {
				entry: hex::encode(codec::Encode::encode(entry)),
				outcome: outcome.to_string(),
			},
		)
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_rounds_claims_are_estimated_from_the_measured_step_time() {
		// 40 segments of 25 steps at 2 ms a step on 2 threads: 1 s.
		assert!((replay_estimate(40, 25, 2, 0.002) - 1.0).abs() < 1e-9);
		// No thread is one.
		assert!((replay_estimate(40, 25, 0, 0.002) - 2.0).abs() < 1e-9);
		assert_eq!(replay_estimate(0, 25, 2, 0.002), 0.0);
	}

	#[test]
	fn a_claim_check_out_of_time_keeps_the_segments_it_replayed() {
		// A check that gave its place to others' between segments may run out of time: the
		// segments it replayed are checked, and only the others are checked again.
		let mut report = verify::Report::stopped(verify::Outcome::Abstain {
			why: "out of time before segment 5".into(),
		});
		report.segments.push(verify::SegmentCheck {
			segment: 3,
			passed: true,
			distance: 0.0,
			momentum_distance: 0.0,
			detail: String::new(),
		});
		assert_eq!(
			claim_findings(&[3, 5], &report),
			vec![(3, Some(ClaimCheck::Replays)), (5, None)]
		);
	}

	#[test]
	fn a_claim_job_checks_its_segments_in_the_order_of_their_ranks() {
		let job = Job {
			miner: AccountId32([1; 32]),
			commitment: UpdateCommitment {
				checkpoint_root: Hash::zero(),
				final_model_hash: Hash::zero(),
				num_segments: 4,
				train_loss: Default::default(),
				artifact_uri: Default::default(),
			},
			rank: 2,
			ranks: BTreeMap::from([(1, 9), (3, 2), (4, 5)]),
		};
		assert_eq!(job.only(), Some(vec![3, 4, 1]));
		let whole = Job::whole(job.miner.clone(), job.commitment.clone(), 0);
		assert_eq!(whole.only(), None);
	}

	#[test]
	fn the_model_is_read_at_the_last_block_of_the_vote_reveal_phase() {
		// A finalize phase of blocks 101…106: the votes were revealed by block 100.
		assert_eq!(reference_block(106, 6), 100);
		assert_eq!(reference_block(106, 1), 105);
		assert_eq!(reference_block(3, 6), 0);
	}

	fn temp(name: &str) -> PathBuf {
		let dir = std::env::temp_dir().join(format!("pol-verdicts-{name}-{}", std::process::id()));
		let _ = std::fs::remove_dir_all(&dir);
		std::fs::create_dir_all(&dir).unwrap();
		dir
	}

	#[test]
	fn a_restarted_validator_finds_the_miners_it_already_verified() {
		let dir = temp("resume");
		let (alice, bob) = (AccountId32([1; 32]), AccountId32([2; 32]));
		let entry = Entry {
			miner: alice.0,
			score: Perbill::from_percent(61),
			verdict: Verdict::Pass,
		};
		Verdicts::open(&dir)
			.unwrap()
			.write(&entry, &verify::Outcome::Pass)
			.unwrap();
		// As after a restart: a new handle on the same round directory.
		let again = Verdicts::open(&dir).unwrap();
		assert_eq!(again.read(&alice).unwrap(), Some(entry));
		assert_eq!(again.read(&bob).unwrap(), None);
		let _ = std::fs::remove_dir_all(&dir);
	}

	#[test]
	fn a_result_filed_under_another_miner_is_refused() {
		let dir = temp("misfiled");
		let v = Verdicts::open(&dir).unwrap();
		let entry = Entry {
			miner: [1; 32],
			score: Perbill::zero(),
			verdict: Verdict::Fail { segment: 3 },
		};
		v.write(&entry, &verify::Outcome::Pass).unwrap();
		std::fs::rename(v.path(&[1; 32]), v.path(&[2; 32])).unwrap();
		assert!(v.read(&AccountId32([2; 32])).is_err());
		let _ = std::fs::remove_dir_all(&dir);
	}

	#[test]
	fn the_deadline_keeps_a_margin_and_never_runs_past_the_phase() {
		let block = Duration::from_secs(3);
		let left = |d: Instant| d.saturating_duration_since(Instant::now()).as_secs();
		// 40 blocks: 37 usable, 111 s.
		assert!((110..=111).contains(&left(phase_deadline(40, block))));
		// Nearly over: nothing left, not a floor past the phase's end (a stall held a whole
		// validator's score commit past it).
		assert_eq!(left(phase_deadline(2, block)), 0);
		assert!((2..=3).contains(&left(phase_deadline(4, block))));
	}
}
