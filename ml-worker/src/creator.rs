//! `pol-worker task create|fund|status|watch`: what a task creator does from the command line.
//!
//! A task file is a worker configuration (`[task]`, `[data]`, `[hyperparameters]`,
//! `[verification]`) with a `[chain]` section: the schedule, the reward and the budget. W₀ is
//! the model spec's initialisation from `[task] init_seed`, published as `init:<seed>` so that
//! every worker regenerates it and checks its hash.

use crate::chain::{api, to_chain, Chain};
use crate::config::{hex32, Config, RunConfig};
use crate::model::{hash_named, Model};
use crate::round::{self, TaskContext, INIT_URI_PREFIX};
use crate::store::{self, Store};
use anyhow::{bail, ensure, Context, Result};
use pol_primitives::{Hash, RoundIndex, Schedule, TaskId};
use serde::{Deserialize, Serialize};
use sp_runtime::Perbill;
use std::collections::BTreeMap;
use std::path::Path;

/// The chain's smallest units in one POL (12 decimals).
pub const UNIT: u128 = 1_000_000_000_000;

/// The `[chain]` section of a task file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainSection {
	/// Blocks of the train-and-commit phase.
	pub commit_blocks: u32,
	/// Blocks of the reveal phase.
	pub reveal_blocks: u32,
	/// Blocks of the verify phase.
	pub verify_blocks: u32,
	/// Blocks of the score-reveal phase.
	pub score_reveal_blocks: u32,
	/// Blocks of the vote-commit phase.
	pub vote_commit_blocks: u32,
	/// Blocks of the vote-reveal phase.
	pub vote_reveal_blocks: u32,
	/// Blocks of the finalize phase.
	pub finalize_blocks: u32,
	/// Rounds the task runs.
	pub rounds: u32,
	/// What each round pays, in POL.
	pub reward_per_round: f64,
	/// The validators' part of each round's reward, in [0, 1].
	pub validator_share: f64,
	/// The most miners that may join.
	pub max_miners: u32,
	/// The budget held from the creator, in POL.
	pub budget: f64,
}

/// A task file: the task and its `[chain]` section.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskFile {
	/// The task, as every worker runs it.
	pub config: Config,
	/// Schedule, reward and budget.
	pub chain: ChainSection,
}

/// POL as the chain's smallest units; an error for a negative or absurd amount.
pub fn pol_to_units(pol: f64) -> Result<u128> {
	ensure!(
		pol.is_finite() && pol >= 0.0 && pol < 1e20,
		"{pol} is not an amount of POL"
	);
	Ok((pol * UNIT as f64).round() as u128)
}

/// Units as POL, for people.
pub fn units_to_pol(units: u128) -> String {
	format!("{:.3}", units as f64 / UNIT as f64)
}

impl TaskFile {
	/// Reads and checks a task file.
	pub fn load(path: &Path) -> Result<TaskFile> {
		let text = std::fs::read_to_string(path)
			.with_context(|| format!("reading the task file {}", path.display()))?;
		let file = TaskFile::parse(&text)
			.with_context(|| format!("parsing the task file {}", path.display()))?;
		file.config
			.spec()
			.validate()
			.with_context(|| format!("in {}", path.display()))?;
		ensure!(
			(0.0..=1.0).contains(&file.chain.validator_share),
			"[chain] validator_share must be in [0, 1]"
		);
		Ok(file)
	}

	/// Parses a task file: the worker configuration, and the `[chain]` section apart from it.
	pub fn parse(text: &str) -> Result<TaskFile> {
		let mut table: toml::Table = toml::from_str(text)?;
		let chain = table
			.remove("chain")
			.context("the task file has no [chain] section (schedule, reward, budget)")?;
		let chain: ChainSection = chain.try_into().context("in [chain]")?;
		let config: Config = toml::Value::Table(table).try_into()?;
		config.spec().validate()?;
		Ok(TaskFile { config, chain })
	}

	/// The chain's `TaskSpec` and budget.
	pub fn chain_spec(
		&self,
	) -> Result<(
		api::runtime_types::pallet_task_registry::types::TaskSpec<u128>,
		u128,
	)> {
		let spec = self.config.spec();
		let c = &self.chain;
		let w0 = Model::new(&spec.task.model, spec.task.init_seed, tch::Device::Cpu)?.params()?;
		let w0_hash = hash_named(&w0)?;
		let uri = format!("{INIT_URI_PREFIX}{}", spec.task.init_seed);
		let schedule = Schedule {
			commit_blocks: c.commit_blocks,
			reveal_blocks: c.reveal_blocks,
			verify_blocks: c.verify_blocks,
			score_reveal_blocks: c.score_reveal_blocks,
			vote_commit_blocks: c.vote_commit_blocks,
			vote_reveal_blocks: c.vote_reveal_blocks,
			finalize_blocks: c.finalize_blocks,
			rounds: c.rounds,
		};
		let model: pol_primitives::ModelSpecText =
			spec.task
				.model
				.as_bytes()
				.to_vec()
				.try_into()
				.map_err(|_| anyhow::anyhow!("the model spec is too long for the chain"))?;
		let uri: pol_primitives::ArtifactUri = uri.into_bytes().try_into().expect("short");
		let spec = api::runtime_types::pallet_task_registry::types::TaskSpec {
			model: to_chain(&model)?,
			initial_model_hash: subxt::utils::H256(w0_hash.0),
			initial_model_uri: to_chain(&uri)?,
			dataset: to_chain(&spec.dataset())?,
			hyperparameters: to_chain(&spec.hyperparameters())?,
			verification: to_chain(&spec.verification())?,
			aggregation: to_chain(&spec.aggregation())?,
			schedule: to_chain(&schedule)?,
			reward_per_round: pol_to_units(c.reward_per_round)?,
			validator_share: to_chain(&Perbill::from_float(c.validator_share))?,
			max_miners: c.max_miners,
		};
		Ok((spec, pol_to_units(c.budget)?))
	}
}

/// Creates the task of `file`; returns its id once the creation is finalized. Unless `again`,
/// a running task of this account with the very same spec is taken as this command run before
/// (a crash, a lost answer) and its id returned: running it twice creates one task.
pub fn create(chain: &mut Chain, file: &TaskFile, again: bool) -> Result<TaskId> {
	let (spec, budget) = file.chain_spec()?;
	let me = chain.account()?;
	let before: Vec<TaskId> = chain.api_call(
		"listing tasks",
		api::runtime_apis().pol_api().running_tasks(),
	)?;
	if !again {
		use subxt::ext::codec::Encode;
		for id in &before {
			if let Some(t) = round::read_task(chain, *id)? {
				if t.creator == me && t.spec.encode() == spec.encode() {
					log::warn!(
						"task {id} is already running with this spec, created by {me}: not \
						 creating another (--again creates one more)"
					);
					return Ok(*id);
				}
			}
		}
	}
	let mut pending = crate::chain::Pending::default();
	let started = chain.best_number()?;
	loop {
		let now = chain.best_number()?;
		// Our task: a new id whose creator is us.
		let ids: Vec<TaskId> = chain.api_call(
			"listing tasks",
			api::runtime_apis().pol_api().running_tasks(),
		)?;
		for id in ids.iter().filter(|id| !before.contains(id)) {
			if let Some(t) = round::read_task(chain, *id)? {
				if t.creator == me && t.spec.model.0 == spec.model.0 {
					return Ok(*id);
				}
			}
		}
		if now > started + 4 * crate::chain::RESUBMIT_AFTER {
			bail!("the task was not created within {} blocks: see the log above for the chain's answer", 4 * crate::chain::RESUBMIT_AFTER);
		}
		if let Some(e) = pending.failed(&crate::chain::Action::CreateTask) {
			bail!("the chain refused the task: {e}");
		}
		chain.send(
			&mut pending,
			&crate::chain::Action::CreateTask,
			now,
			api::tx().task_registry().create_task(spec.clone(), budget),
		)?;
		round::sleep_a_block();
	}
}

/// Adds `amount` units to the budget of task `id`.
pub fn fund(chain: &mut Chain, id: TaskId, amount: u128) -> Result<u128> {
	let before = round::read_task(chain, id)?
		.with_context(|| format!("task {id} does not exist"))?
		.budget;
	chain.submit(
		&format!("fund task {id}"),
		api::tx().task_registry().fund_task(id, amount),
	)?;
	for _ in 0..40 {
		round::sleep_a_block();
		let now = round::read_task(chain, id)?.map_or(0, |t| t.budget);
		if now != before {
			return Ok(now);
		}
	}
	bail!("the budget of task {id} did not change within 40 blocks; see the log for the chain's answer")
}

/// One completed round, as `task watch` prints it.
#[derive(Clone, Debug, Serialize)]
pub struct RoundReport {
	/// The round.
	pub round: RoundIndex,
	/// The accepted global model, if any.
	pub model: Option<String>,
	/// Its accuracy on the task's validation split.
	pub accuracy: Option<f64>,
	/// The accuracy of the round's starting model (round 0: W₀).
	pub start_accuracy: Option<f64>,
	/// Paid out in the round, units.
	pub paid: String,
	/// Paid to each account, units.
	pub rewards: BTreeMap<String, String>,
	/// Accounts slashed in the round's disputes (miners upheld against, accusers of
	/// rejected `Fail` claims), with the amount.
	pub slashed: BTreeMap<String, String>,
}

impl RoundReport {
	fn new(round: RoundIndex) -> RoundReport {
		RoundReport {
			round,
			model: None,
			accuracy: None,
			start_accuracy: None,
			paid: String::new(),
			rewards: BTreeMap::new(),
			slashed: BTreeMap::new(),
		}
	}
}

/// Follows task `id` and calls `report` for each round as it closes, `rounds` times (or until
/// the task ends).
pub fn watch(
	chain: &mut Chain,
	id: TaskId,
	rounds: Option<u32>,
	run: &RunConfig,
	work: &Path,
	mut report: impl FnMut(&RoundReport) -> Result<()>,
) -> Result<()> {
	let ctx = TaskContext::load(chain, id, run)?;
	let store = Store::open(&work.join("store"), store::DEFAULT_MAX_BYTES)?;
	let mut seen = chain.finalized()?.number;
	let mut reported = 0u32;
	let mut acc: BTreeMap<RoundIndex, RoundReport> = BTreeMap::new();
	loop {
		let head = chain.finalized()?;
		while seen < head.number {
			seen += 1;
			let closed = events_at(chain, id, seen, &mut acc)?;
			for (r, model, paid) in closed {
				let mut rep = acc.remove(&r).unwrap_or_else(|| RoundReport::new(r));
				rep.paid = paid.to_string();
				if let Some(m) = model {
					rep.model = Some(hex32(&m.0));
					match ctx.model(chain, &store, &m) {
						Ok(params) => rep.accuracy = Some(ctx.evaluate(&params)?.1),
						Err(e) => log::warn!("round {r}: cannot evaluate the model: {e:#}"),
					}
				}
				if let Some(start) = start_model(chain, &ctx, r)? {
					if let Ok(params) = ctx.model(chain, &store, &start) {
						rep.start_accuracy = Some(ctx.evaluate(&params)?.1);
					}
				}
				report(&rep)?;
				reported += 1;
				if rounds.is_some_and(|n| reported >= n) {
					return Ok(());
				}
			}
		}
		match round::round_status(chain, id)? {
			Some(s) if round::is_running(&s) => {}
			_ => return Ok(()),
		}
		round::sleep_a_block();
	}
}

/// The model round `r` started from: the previous round's accepted model, else the one
/// before, back to W₀.
fn start_model(chain: &mut Chain, ctx: &TaskContext, r: RoundIndex) -> Result<Option<Hash>> {
	let history = round::model_history(chain, ctx.id)?;
	let previous = history
		.iter()
		.filter(|(round, _)| *round < r)
		.max_by_key(|(round, _)| *round)
		.map(|(_, m)| Hash::from(m.model_hash.0));
	if previous.is_some() {
		return Ok(previous);
	}
	Ok(round::read_task(chain, ctx.id)?.map(|t| Hash::from(t.spec.initial_model_hash.0)))
}

/// Collects the events of task `id` in block `n` into `acc`; returns the rounds that closed
/// there: (round, accepted model, paid).
#[allow(clippy::type_complexity)]
fn events_at(
	chain: &mut Chain,
	id: TaskId,
	n: u32,
	acc: &mut BTreeMap<RoundIndex, RoundReport>,
) -> Result<Vec<(RoundIndex, Option<Hash>, u128)>> {
	use api::pol_rewards::events::{MinerRewarded, ValidatorRewarded};
	use api::pol_scoring::events::DisputeResolved;
	use api::task_registry::events::RoundClosed;
	type Found = (
		Vec<RoundClosed>,
		Vec<MinerRewarded>,
		Vec<ValidatorRewarded>,
		Vec<DisputeResolved>,
	);
	let (closed, miners, validators, disputes): Found =
		chain.call("reading events", move |c| async move {
			let at = c.api.at_block(u64::from(n)).await?;
			let events = at.events().fetch().await?;
			Ok((
				events.find::<RoundClosed>().collect::<Result<_, _>>()?,
				events.find::<MinerRewarded>().collect::<Result<_, _>>()?,
				events
					.find::<ValidatorRewarded>()
					.collect::<Result<_, _>>()?,
				events.find::<DisputeResolved>().collect::<Result<_, _>>()?,
			))
		})?;
	let add = |map: &mut BTreeMap<String, String>, who: String, amount: u128| {
		let before: u128 = map.get(&who).and_then(|a| a.parse().ok()).unwrap_or(0);
		map.insert(who, before.saturating_add(amount).to_string());
	};
	for e in miners.into_iter().filter(|e| e.task == id) {
		let rep = acc
			.entry(e.round)
			.or_insert_with(|| RoundReport::new(e.round));
		add(&mut rep.rewards, e.miner.to_string(), e.amount);
	}
	for e in validators.into_iter().filter(|e| e.task == id) {
		let rep = acc
			.entry(e.round)
			.or_insert_with(|| RoundReport::new(e.round));
		add(&mut rep.rewards, e.validator.to_string(), e.amount);
	}
	for e in disputes.into_iter().filter(|e| e.task == id) {
		let rep = acc
			.entry(e.round)
			.or_insert_with(|| RoundReport::new(e.round));
		for (offender, slashed) in e.offenders {
			add(&mut rep.slashed, offender.to_string(), slashed);
		}
	}
	Ok(closed
		.into_iter()
		.filter(|e| e.task == id)
		.map(|e| (e.round, e.model.map(|h| Hash::from(h.0)), e.paid))
		.collect())
}

impl RoundReport {
	/// One line for people.
	pub fn text(&self) -> String {
		let pct = |a: Option<f64>| a.map_or("-".into(), |a| format!("{:.2}%", 100.0 * a));
		let mut line = format!(
			"round {}: model {}, test accuracy {} (started from {}), paid {} POL",
			self.round,
			self.model.as_deref().unwrap_or("none accepted"),
			pct(self.accuracy),
			pct(self.start_accuracy),
			units_to_pol(self.paid.parse().unwrap_or(0)),
		);
		let names = dev_names();
		let name = |who: &String| match names.get(who) {
			Some(n) => format!("{who} ({n})"),
			None => who.clone(),
		};
		for (who, amount) in &self.rewards {
			line.push_str(&format!(
				"\n    {}: +{} POL",
				name(who),
				units_to_pol(amount.parse().unwrap_or(0))
			));
		}
		for (who, amount) in &self.slashed {
			line.push_str(&format!(
				"\n    {}: slashed {} POL",
				name(who),
				units_to_pol(amount.parse().unwrap_or(0))
			));
		}
		line
	}
}

/// The development accounts (`//Alice` … `//Ferdie`, and their `//stash`), by address, so
/// that a dev chain's output names them.
fn dev_names() -> BTreeMap<String, String> {
	let mut names = BTreeMap::new();
	for who in ["Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie"] {
		for suri in [format!("//{who}"), format!("//{who}//stash")] {
			if let Ok(k) = crate::chain::keypair_from_suri(&suri) {
				names.insert(k.public_key().to_account_id().to_string(), suri);
			}
		}
	}
	names
}

/// A task's state, as `task status` prints it.
#[derive(Clone, Debug, Serialize)]
pub struct TaskStatus {
	/// The task.
	pub task: TaskId,
	/// Its creator.
	pub creator: String,
	/// The model spec.
	pub model: String,
	/// How validators aggregate, in `--rule` syntax (`fedavg`, `trimmed-mean:0.2`, …).
	pub aggregation: String,
	/// What is left of the budget, units.
	pub budget: String,
	/// `Active`, `Cancelling` or `Ended`.
	pub status: String,
	/// The current round.
	pub round: RoundIndex,
	/// Its phase.
	pub phase: String,
	/// The last block of the phase.
	pub phase_ends: u32,
	/// Miners that committed and revealed this round.
	pub commits: u32,
	/// Miners that revealed.
	pub reveals: u32,
	/// Miners joined.
	pub miners: u32,
	/// The accepted models: round, hash, URI.
	pub history: Vec<(RoundIndex, String, String)>,
}

impl TaskStatus {
	/// Lines for people.
	pub fn text(&self) -> String {
		let mut s = format!(
			"task {} ({}, aggregated by {}), created by {}\nstatus {}, budget {} POL, {} miner(s)\nround {}: {} until block {}; {} commit(s), {} reveal(s)\n",
			self.task,
			self.model,
			self.aggregation,
			self.creator,
			self.status,
			units_to_pol(self.budget.parse().unwrap_or(0)),
			self.miners,
			self.round,
			self.phase,
			self.phase_ends,
			self.commits,
			self.reveals
		);
		for (r, hash, uri) in &self.history {
			s.push_str(&format!("model of round {r}: {hash} at {uri}\n"));
		}
		s
	}
}

/// The state of task `id`.
pub fn status(chain: &mut Chain, id: TaskId) -> Result<TaskStatus> {
	let task = round::read_task(chain, id)?.with_context(|| format!("task {id} does not exist"))?;
	let r = round::round_status(chain, id)?.with_context(|| format!("task {id} has no round"))?;
	let history = round::model_history(chain, id)?
		.into_iter()
		.map(|(r, m)| {
			(
				r,
				hex32(&m.model_hash.0),
				String::from_utf8_lossy(&m.uri.0).into_owned(),
			)
		})
		.collect();
	Ok(TaskStatus {
		task: id,
		creator: task.creator.to_string(),
		model: String::from_utf8_lossy(&task.spec.model.0).into_owned(),
		aggregation: round::rule_from_chain(&task.spec.aggregation)?.to_string(),
		budget: task.budget.to_string(),
		status: format!("{:?}", r.status),
		round: r.round,
		phase: format!("{:?}", round::phase_of(&r)?),
		phase_ends: round::phase_end(&r),
		commits: r.commits,
		reveals: r.reveals,
		miners: task.miners,
		history,
	})
}
