//! `pol-worker miner`: bonds, sets its endpoint, joins tasks, and every round trains from the
//! global model, commits, reveals and serves its proof bundle.
//!
//! The loop polls the finalized chain about once a block and does what the current phase
//! asks; an extrinsic whose effect is not finalized after a few blocks is sent again, within
//! its phase. Round state (the bundle, the commitment, the salt) is on disk, so a restart goes
//! on where it stopped.

use crate::chain::{
	api, from_chain, runtime_types as rt, to_chain, AccountId32, Action, Chain, Pending,
};
use crate::config::{hex32, parse_hash, RunConfig};
use crate::faults;
use crate::proof::{Checkpoint, Manifest};
use crate::round::{self, TaskContext};
use crate::store::{self, ServeFaults, Store};
use crate::train::MinerRun;
use crate::verify::{self, Expected, Outcome, Validator};
use anyhow::{bail, Context, Result};
use pol_primitives::{
	hashing, FinalLeafProof, Hash, Phase, RoundIndex, SegmentIndex, TaskId, UpdateCommitment,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use crate::faults::Fault;

/// How a miner runs.
pub struct MinerConfig {
	/// Its work directory (bundles, artifact store, round state).
	pub work_dir: PathBuf,
	/// Where its artifact server listens.
	pub listen: String,
	/// The URL others reach that server at (its endpoint on chain).
	pub public_url: String,
	/// The tasks to join; empty: every running task.
	pub tasks: Vec<TaskId>,
	/// What to bond if not bonded, in the chain's smallest units.
	pub bond: u128,
	/// The worker's own settings.
	pub run: RunConfig,
	/// Round directories (bundles, checkpoints, round state) kept per task: older ones are
	/// removed as rounds pass.
	pub keep_rounds: u32,
	/// A dishonest behaviour, if any.
	pub fault: Option<Fault>,
	/// Stop after this many rounds of each task (for demos); `None` runs on.
	pub rounds: Option<u32>,
}

/// What a miner keeps of one round.
#[derive(Serialize, Deserialize)]
struct RoundState {
	/// The commit hash sent.
	commit: String,
	/// The SCALE-encoded commitment to reveal, hex.
	commitment: Option<String>,
	/// The salt, hex.
	salt: String,
	/// The miner whose commitment a copier copies.
	#[serde(default)]
	victim: Option<String>,
	/// The SCALE-encoded proof that the final model hash is leaf n, hex (what the chain checks
	/// at reveal).
	#[serde(default)]
	final_leaf: Option<String>,
}

/// Runs the miner until it is stopped (or has done `rounds` rounds of every task).
pub fn run(chain: &mut Chain, cfg: MinerConfig) -> Result<()> {
	let me = chain.account()?;
	log::info!("miner {me} on {}", chain.url());
	// Round state holds salts and unrevealed scores: this user's only.
	round::private_dir(&cfg.work_dir)?;
	let store = Store::open(&cfg.work_dir.join("store"), store::DEFAULT_MAX_BYTES)?;
	let server = store::serve(store.clone(), &cfg.listen)?;
	log::info!(
		"serving artifacts on {} as {}",
		server.url(),
		cfg.public_url
	);
	ensure_bonded(chain, &me, &cfg)?;

	let mut miner = Miner {
		cfg,
		me,
		store,
		serve_faults: server.faults(),
		pending: Pending::default(),
		tasks: BTreeMap::new(),
		rounds_done: BTreeSet::new(),
		pruned: round::RoundsSeen::default(),
		pinned: crate::profile::pinned()?,
	};
	let tasks = miner.cfg.tasks.clone();
	round::drive(chain, &server, &tasks, "miner", |chain, id, now| {
		miner.tick(chain, id, now)
	})?;
	server.stop();
	Ok(())
}

/// Bonds as a miner (if not bonded) and sets the artifact endpoint (if not set), waiting until
/// both are finalized.
fn ensure_bonded(chain: &mut Chain, me: &AccountId32, cfg: &MinerConfig) -> Result<()> {
	let mut pending = Pending::default();
	loop {
		let now = chain.best_number()?;
		let ledger = chain.storage(
			"reading the bond",
			api::storage().pol_staking().ledger(),
			(me.clone(),),
		)?;
		match &ledger {
			Some(l) if !matches!(l.role, rt::pol_primitives::traits::Role::Miner) => bail!(
				"{me} is bonded as {:?}, not as a miner: use another account",
				l.role
			),
			Some(_) => pending.done(&Action::Bond),
			// A proxy cannot bond (nor should its key be able to): the stash does, once.
			None if chain.stash().is_some() => bail!(
				"{me} is not bonded: bond it first from the stash's own key \
				 (scripts/js/bin/bond.js, or polkadot.js apps: polStaking.bond(Miner, amount))"
			),
			None => chain.send(
				&mut pending,
				&Action::Bond,
				now,
				api::tx()
					.pol_staking()
					.bond(rt::pol_primitives::traits::Role::Miner, cfg.bond),
			)?,
		}
		let endpoint = chain.storage(
			"reading the endpoint",
			api::storage().pol_staking().endpoints(),
			(me.clone(),),
		)?;
		let endpoint_set = endpoint.is_some_and(|e| e.0 == cfg.public_url.as_bytes());
		if endpoint_set || ledger.is_some() {
			pending.ensure(chain, &Action::SetEndpoint, endpoint_set, now, || {
				Ok(api::tx()
					.pol_staking()
					.set_endpoint(cfg.public_url.as_bytes().to_vec()))
			})?;
		}
		for key in [Action::Bond, Action::SetEndpoint] {
			if let Some(e) = pending.failed(&key) {
				bail!("{key} failed: {e}");
			}
		}
		if ledger.is_some() && endpoint_set {
			log::info!("bonded as a miner; endpoint {}", cfg.public_url);
			return Ok(());
		}
		round::sleep_a_block();
	}
}

struct Miner {
	cfg: MinerConfig,
	me: AccountId32,
	store: Store,
	/// How its artifact server misbehaves, for `--fault withhold|frame`.
	serve_faults: Arc<Mutex<ServeFaults>>,
	pending: Pending,
	tasks: BTreeMap<TaskId, TaskContext>,
	/// Rounds seen past their reveal, for `--rounds`.
	rounds_done: BTreeSet<(TaskId, RoundIndex)>,
	/// The round each task was last seen in.
	pruned: round::RoundsSeen,
	/// The determinism profile this process pinned.
	pinned: &'static crate::profile::Pinned,
}

impl Miner {
	/// One look at task `id`; `false` once the miner is done with it.
	fn tick(&mut self, chain: &mut Chain, id: TaskId, now: u32) -> Result<bool> {
		let Some(status) = round::round_status(chain, id)? else {
			bail!("task {id} does not exist");
		};
		if !round::is_running(&status) {
			return Ok(false);
		}
		if let Some(limit) = self.cfg.rounds {
			if self.rounds_done.iter().filter(|(t, _)| *t == id).count() >= limit as usize {
				return Ok(false);
			}
		}
		if !self.tasks.contains_key(&id) {
			let ctx = TaskContext::load_for(chain, id, &self.cfg.run, self.pinned)?;
			log::info!(
				"task {id}: {} on {:?}, {} steps a round",
				ctx.spec.task.model,
				ctx.spec.data.source,
				ctx.spec.hyperparameters.local_steps
			);
			self.tasks.insert(id, ctx);
		}
		if !self.ensure_joined(chain, id, now)? {
			return Ok(true);
		}
		let r = status.round;
		self.pruned
			.seen(&self.cfg.work_dir, id, r, self.cfg.keep_rounds);
		let phase = round::phase_of(&status)?;
		let dir = round::round_dir(&self.cfg.work_dir, id, r);
		let state_path = dir.join("miner.json");
		match phase {
			Phase::Commit => {
				let state: Option<RoundState> =
					round::state_or(&state_path, || self.prepare(chain, id, r, &status))?;
				if let Some(s) = state {
					self.ensure_committed(chain, id, r, &s, now)?;
				}
			}
			Phase::Reveal => {
				let state: Option<RoundState> = round::read_state(&state_path)?;
				if let Some(s) = state {
					self.ensure_revealed(chain, id, r, s, &state_path, now)?;
				}
			}
			Phase::Verify
			| Phase::ScoreReveal
			| Phase::VoteCommit
			| Phase::VoteReveal
			| Phase::Finalize => {
				self.rounds_done.insert((id, r));
			}
		}
		Ok(true)
	}

	fn ensure_joined(&mut self, chain: &mut Chain, id: TaskId, now: u32) -> Result<bool> {
		let joined = chain
			.storage(
				"reading membership",
				api::storage().task_registry().miners(),
				(id, self.me.clone()),
			)?
			.is_some();
		self.pending
			.ensure(chain, &Action::Join(id), joined, now, || {
				Ok(api::tx().task_registry().join_task(id))
			})?;
		Ok(joined)
	}

	/// Trains round `r` (or, as a copier, picks a victim) and makes the commitment.
	fn prepare(
		&mut self,
		chain: &mut Chain,
		id: TaskId,
		r: RoundIndex,
		status: &round::ChainRound,
	) -> Result<Option<RoundState>> {
		let salt = round::fresh_salt()?;
		if self.cfg.fault == Some(Fault::Copy) {
			// Copy the first other miner's commit hash, once there is one.
			let updates = round_updates(chain, id, r)?;
			let Some((victim, update)) = updates.into_iter().find(|(m, _)| *m != self.me) else {
				return Ok(None);
			};
			log::warn!("fault copy: copying {victim}'s commitment in round {r}");
			return Ok(Some(RoundState {
				commit: hex32(&update.commit.0),
				commitment: None,
				salt: hex::encode(salt),
				victim: Some(hex::encode(victim.0)),
				final_leaf: None,
			}));
		}
		let ctx = &self.tasks[&id];
		let start_hash = Hash::from(status.model.0);
		let start = ctx.model(chain, &self.store, &start_hash)?;
		let bundle = round::round_dir(&self.cfg.work_dir, id, r).join("bundle");
		let run = MinerRun {
			spec: &ctx.spec,
			data: &ctx.data,
			round: r,
			round_seed: Hash::from(status.seed.0),
			miner: self.me.0,
			start: &start,
			pinned: self.pinned,
			progress: ctx.run.progress,
		};
		let fault = self.cfg.fault;
		if let Some(f) = fault {
			log::warn!("fault {f:?} in round {r}");
		}
		let manifest = match fault {
			Some(Fault::Lazy) => run.write(&bundle, &faults::lazy_run(&run)?)?,
			Some(Fault::ForgeLast | Fault::Withhold | Fault::StallVoters) => {
				run.write(&bundle, &faults::forge_last_run(&run)?)?
			}
			Some(Fault::SteerMomentum) => run.write(&bundle, &faults::steer_momentum_run(&run)?)?,
			Some(Fault::UnderstateNorms) => {
				run.train_bundle(&bundle)?;
				faults::understate_norms(&bundle, None)?
			}
			Some(Fault::ManifestOnly) => {
				run.train_bundle(&bundle)?;
				let other = hashing::hash(
					&[b"pol-fault-manifest-only".as_slice(), &r.to_le_bytes()].concat(),
				);
				faults::foreign_start(&bundle, &other)?
			}
			Some(Fault::ForeignHost) => {
				run.train_bundle(&bundle)?;
				let libtorch = format!("{}+foreign", crate::profile::PINNED_LIBTORCH);
				faults::foreign_host(&bundle, &libtorch)?
			}
			_ => {
				let manifest = run.train_bundle(&bundle)?;
				self_check(&run, &bundle, manifest.num_segments)?;
				manifest
			}
		};
		let manifest_hash = if fault == Some(Fault::ManifestOnly) {
			// Its leaf 0 names no file it has: only the manifest goes to the store.
			self.store
				.put(&std::fs::read(bundle.join(crate::proof::MANIFEST_FILE))?)?
		} else {
			self.store.put_bundle(&bundle)?
		};
		let uri = round::artifact_uri(&self.cfg.public_url, &manifest_hash);
		let mut commitment = manifest.commitment(&uri)?;
		let final_leaf = final_leaf_proof(&manifest)?;
		let n = manifest.num_segments as usize;
		let last_hash = parse_hash(&manifest.checkpoints[n].model_hash)?;
		match fault {
			Some(Fault::SwapFinal) => {
				let last = Checkpoint::from_safetensors(&self.store.get(&last_hash)?)?;
				let swapped = self
					.store
					.put(&faults::swapped_final(&start, &last).to_safetensors()?)?;
				log::warn!(
					"fault swap-final: revealing {} as the final model",
					hex32(&swapped.0)
				);
				commitment.final_model_hash = swapped;
			}
			Some(Fault::Withhold) => {
				log::warn!(
					"fault withhold: never serving checkpoint {n}, the forged segment's end"
				);
				if let Ok(mut f) = self.serve_faults.lock() {
					f.withheld.insert(last_hash);
				}
			}
			Some(Fault::StallVoters) => {
				log::warn!(
					"fault stall-voters: serving checkpoint {n}, the forged segment's end, once, \
					 then stalling every request for it"
				);
				if let Ok(mut f) = self.serve_faults.lock() {
					f.served_once.insert(last_hash);
				}
			}
			Some(Fault::ManifestOnly) => {
				log::warn!(
					"fault manifest-only: serving the manifest alone, leaf 0 not the round's start"
				);
				if let Ok(mut f) = self.serve_faults.lock() {
					for c in &manifest.checkpoints {
						f.withheld.insert(parse_hash(&c.model_hash)?);
					}
				}
			}
			Some(Fault::Frame) => {
				log::warn!("fault frame: the first request for each checkpoint gets corrupt bytes");
				if let Ok(mut f) = self.serve_faults.lock() {
					for c in &manifest.checkpoints {
						f.framed.insert(parse_hash(&c.model_hash)?);
					}
				}
			}
			_ => {}
		}
		let commit = hashing::commit_hash(&commitment, &self.me.0, &salt);
		log::info!(
			"task {id} round {r}: trained; loss {:.4}, root {}, served at {uri}",
			manifest.train_loss,
			manifest.checkpoint_root
		);
		Ok(Some(RoundState {
			commit: hex32(&commit.0),
			commitment: Some(hex::encode(codec_encode(&commitment))),
			salt: hex::encode(salt),
			victim: None,
			final_leaf: Some(hex::encode(codec_encode(&final_leaf))),
		}))
	}

	fn ensure_committed(
		&mut self,
		chain: &mut Chain,
		id: TaskId,
		r: RoundIndex,
		s: &RoundState,
		now: u32,
	) -> Result<()> {
		let committed = chain
			.storage(
				"reading the commitment",
				api::storage().task_registry().updates(),
				((id, r), self.me.clone()),
			)?
			.is_some();
		self.pending
			.ensure(chain, &Action::Commit(id, r), committed, now, || {
				let commit = crate::config::parse_hash(&s.commit)?;
				Ok(api::tx()
					.task_registry()
					.commit_update(id, r, subxt::utils::H256(commit.0)))
			})
	}

	fn ensure_revealed(
		&mut self,
		chain: &mut Chain,
		id: TaskId,
		r: RoundIndex,
		mut s: RoundState,
		state_path: &std::path::Path,
		now: u32,
	) -> Result<()> {
		let key = Action::Reveal(id, r);
		let update = chain.storage(
			"reading the commitment",
			api::storage().task_registry().updates(),
			((id, r), self.me.clone()),
		)?;
		let Some(update) = update else {
			// Never committed (the commit phase passed us by): nothing to reveal.
			return Ok(());
		};
		if update.revealed.is_some() {
			self.pending.done(&key);
			return Ok(());
		}
		if s.commitment.is_none() {
			// The copier: the victim's revealed commitment, once it is on chain.
			let victim = AccountId32(
				hex::decode(s.victim.as_deref().unwrap_or_default())?
					.try_into()
					.map_err(|_| anyhow::anyhow!("bad copy state"))?,
			);
			let revealed = chain.api_call(
				"reading the reveals",
				api::runtime_apis().pol_api().revealed_updates(id, r),
			)?;
			let Some((_, c)) = revealed.into_iter().find(|(m, _)| *m == victim) else {
				return Ok(());
			};
			let c: UpdateCommitment = from_chain(&c)?;
			s.commitment = Some(hex::encode(codec_encode(&c)));
			round::write_state(state_path, &s)?;
		}
		if !self.pending.due(&key, now) {
			return Ok(());
		}
		let commitment: UpdateCommitment =
			codec_decode(&hex::decode(s.commitment.as_deref().unwrap_or_default())?)?;
		let salt: [u8; 32] = hex::decode(&s.salt)?
			.try_into()
			.map_err(|_| anyhow::anyhow!("{}: bad salt", state_path.display()))?;
		// A copier has no proof of its victim's leaf: the chain refuses the copy before it
		// looks at one.
		let final_leaf: FinalLeafProof = match &s.final_leaf {
			Some(hex) => codec_decode(&hex::decode(hex)?)?,
			None => FinalLeafProof {
				update_norm_bits: 0,
				siblings: Default::default(),
			},
		};
		chain.send(
			&mut self.pending,
			&key,
			now,
			api::tx().task_registry().reveal_update(
				id,
				r,
				to_chain(&commitment)?,
				salt,
				to_chain(&final_leaf)?,
			),
		)?;
		Ok(())
	}
}

/// Replays the run's last segment from its checkpoint files, as every validator will (segment
/// `n` is among everyone's challenges), and refuses the run if it does not reproduce here: a
/// run that does not replay on the host that trained it (a libtorch or thread setting that
/// changed under it, a faulty disk or device) would be reported as a failed replay and slashed.
pub fn self_check(run: &MinerRun, bundle: &Path, segments: SegmentIndex) -> Result<()> {
	let expected = Expected {
		spec: run.spec,
		round: run.round,
		round_seed: run.round_seed,
		miner: run.miner,
		start: run.start,
		root: None,
		final_model_hash: None,
		start_loss: None,
	};
	let own = Validator {
		data: run.data,
		account: run.miner,
		randomness: Hash::zero(),
		all_segments: false,
		only_segments: Some(vec![segments]),
		pinned: run.pinned,
		progress: false,
		deadline: None,
	};
	let report = verify::verify_bundle(bundle, &expected, &own)
		.context("replaying the run's last segment before committing it")?;
	match report.outcome {
		Outcome::Pass => {
			log::info!(
				"round {}: the run's segment {segments} replays here",
				run.round
			);
			Ok(())
		}
		outcome => bail!(
			"round {}: not committing a run that does not reproduce on this host: its own \
			 replay of segment {segments} gives {outcome}. Check that this host reproduces \
			 the task's profile (pol-worker doctor --determinism)",
			run.round
		),
	}
}

/// The commitments of round `r` of task `id`, by miner.
fn round_updates(
	chain: &mut Chain,
	id: TaskId,
	r: RoundIndex,
) -> Result<Vec<(AccountId32, rt::pallet_task_registry::types::MinerUpdate)>> {
	chain.call("reading the round's commitments", move |c| async move {
		let at = c.api.at_current_block().await?;
		let mut entries = at
			.storage()
			.iter(api::storage().task_registry().updates(), ((id, r),))
			.await?;
		let mut out = Vec::new();
		while let Some(entry) = entries.next().await {
			let entry = entry?;
			let (_, miner) = entry.key()?.decode()?;
			out.push((miner, entry.value().decode()?));
		}
		Ok(out)
	})
}

/// The proof that a bundle's final model hash is leaf n of its tree, with leaf n's norm.
pub fn final_leaf_proof(manifest: &Manifest) -> Result<FinalLeafProof> {
	let leaves = manifest.leaves()?;
	let norm = manifest
		.checkpoints
		.last()
		.map(|c| c.update_norm)
		.context("the manifest has no checkpoints")?;
	FinalLeafProof::from_leaves(&leaves, norm).context("the manifest's tree has no leaf n")
}

fn codec_encode<T: subxt::ext::codec::Encode>(t: &T) -> Vec<u8> {
	t.encode()
}

fn codec_decode<T: subxt::ext::codec::Decode>(bytes: &[u8]) -> Result<T> {
	T::decode(&mut &bytes[..]).context("decoding the saved commitment")
}
