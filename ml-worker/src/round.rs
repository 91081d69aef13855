//! What miners and validators share on a live chain: a task as the chain states it, turned into
//! the worker's [`TaskSpec`]; the round's status; models fetched by hash; per-round state on
//! disk, so that a restarted worker neither retrains nor forgets a salt.

use crate::aggregate::Rule;
use crate::chain::{api, from_chain, runtime_types as rt, AccountId32, Chain};
use crate::config::{
	hex32, unfixed, unperbill, ComparisonKind, Config, DataSection, HyperSection, PartitionKind,
	RunConfig, SourceKind, SyntheticSection, TaskSection, TaskSpec, VerificationSection,
};
use crate::data::TaskData;
use crate::model::{hash_named, Model, NamedTensor};
use crate::profile::{Pinned, Profile};
use crate::proof::Checkpoint;
use crate::store::{self, Store};
use anyhow::{bail, ensure, Context, Result};
use pol_primitives::{
	AggregationRule, Comparison, DatasetSource, DatasetSpec, Hash, Hyperparameters, Partition,
	Phase, RoundIndex, TaskId, VerificationSpec,
};
use serde::{de::DeserializeOwned, Serialize};
use std::path::{Path, PathBuf};

/// The URI scheme of a model that is a spec's deterministic initialisation: `init:<seed>`.
/// Any worker regenerates it and checks its hash, so no one has to serve W₀.
pub const INIT_URI_PREFIX: &str = "init:";

/// The chain's task, as generated from the metadata.
pub type ChainTask = rt::pallet_task_registry::types::TaskInfo<AccountId32, u128, u32>;
/// A round's status, as generated from the metadata.
pub type ChainRound = rt::pallet_task_registry::types::RoundStatus<u32>;

/// A task's spec, as generated from the metadata.
pub type ChainTaskSpec = rt::pallet_task_registry::types::TaskSpec<u128>;

/// The worker's task spec from the chain's.
pub fn task_spec_from_chain(id: TaskId, spec: &ChainTaskSpec) -> Result<TaskSpec> {
	let model =
		String::from_utf8(spec.model.0.clone()).context("the task's model spec is not UTF-8")?;
	let dataset: DatasetSpec = from_chain(&spec.dataset)?;
	let h: Hyperparameters = from_chain(&spec.hyperparameters)?;
	let v: VerificationSpec = from_chain(&spec.verification)?;
	let aggregation = rule_from_chain(&spec.aggregation)?;
	let (source, synthetic) = match dataset.source {
		DatasetSource::Digits => (SourceKind::Digits, None),
		DatasetSource::Synthetic {
			seed,
			samples,
			features,
			classes,
		} => (
			SourceKind::Synthetic,
			Some(SyntheticSection {
				seed,
				samples,
				features,
				classes,
			}),
		),
	};
	let (partition, alpha) = match dataset.partition {
		Partition::Iid => (PartitionKind::Iid, 1.0),
		Partition::Dirichlet { alpha } => (PartitionKind::Dirichlet, unfixed(alpha)),
	};
	let (comparison, tolerance) = match v.comparison {
		Comparison::Exact => (ComparisonKind::Exact, 0.0),
		Comparison::Tolerance(t) => (ComparisonKind::Tolerance, unperbill(t)),
	};
	let spec = TaskSpec {
		task: TaskSection {
			id,
			model,
			init_seed: 0,
		},
		data: DataSection {
			source,
			synthetic,
			num_shards: dataset.num_shards,
			partition,
			alpha,
			validation: unperbill(dataset.validation),
		},
		hyperparameters: HyperSection {
			learning_rate: unfixed(h.learning_rate),
			momentum: unfixed(h.momentum),
			batch_size: h.batch_size,
			local_steps: h.local_steps,
			checkpoint_interval: h.checkpoint_interval,
		},
		verification: VerificationSection {
			segments_per_check: v.segments_per_check,
			comparison,
			tolerance,
			profile: crate::profile::Profile::from_chain(&v.profile),
		},
		aggregation,
	};
	spec.validate()
		.with_context(|| format!("task {id} cannot run on this worker"))?;
	Ok(spec)
}

/// The worker's aggregation rule from the chain's.
pub fn rule_from_chain(rule: &rt::pol_primitives::specs::AggregationRule) -> Result<Rule> {
	Ok(Rule::from(from_chain::<_, AggregationRule>(rule)?))
}

/// A task this worker takes part in: its spec, data and models.
pub struct TaskContext {
	/// The task's id.
	pub id: TaskId,
	/// Its spec, as the worker runs it.
	pub spec: TaskSpec,
	/// Its data, split as the task says.
	pub data: TaskData,
	/// The task's initial model URI.
	pub initial_uri: String,
	/// The blocks of the task's finalize phase (its dispute votes and model proposals).
	pub finalize_blocks: u32,
	/// The worker's own settings.
	pub run: RunConfig,
}

/// A task whose determinism profile is not the one this process pinned: the worker does not
/// take part in it (another process, started with `--profile`, may).
#[derive(Debug)]
pub struct OtherProfile {
	/// The task.
	pub task: TaskId,
	/// The task's profile.
	pub task_profile: Profile,
	/// This process's.
	pub pinned: Profile,
}

impl std::fmt::Display for OtherProfile {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		write!(
			f,
			"task {} runs under profile {}, this worker under {} (start one with --profile {})",
			self.task, self.task_profile, self.pinned, self.task_profile
		)
	}
}

impl std::error::Error for OtherProfile {}

impl TaskContext {
	/// Reads task `id` from the chain and loads its data; [`OtherProfile`] for a task this
	/// process, pinned to `pinned`, cannot train or replay.
	pub fn load_for(
		chain: &mut Chain,
		id: TaskId,
		run: &RunConfig,
		pinned: &Pinned,
	) -> Result<TaskContext> {
		let ctx = TaskContext::load(chain, id, run)?;
		if ctx.spec.verification.profile != pinned.profile {
			return Err(OtherProfile {
				task: id,
				task_profile: ctx.spec.verification.profile,
				pinned: pinned.profile,
			}
			.into());
		}
		Ok(ctx)
	}

	/// Reads task `id` from the chain and loads its data (to follow it; a miner or validator
	/// uses [`TaskContext::load_for`]).
	pub fn load(chain: &mut Chain, id: TaskId, run: &RunConfig) -> Result<TaskContext> {
		let task = read_task(chain, id)?.with_context(|| format!("task {id} does not exist"))?;
		let spec = task_spec_from_chain(id, &task.spec)?;
		let config = Config::new(&spec, run);
		let data = TaskData::load(&config).with_context(|| format!("loading task {id}'s data"))?;
		Ok(TaskContext {
			id,
			spec,
			data,
			initial_uri: String::from_utf8_lossy(&task.spec.initial_model_uri.0).into_owned(),
			finalize_blocks: task.spec.schedule.finalize_blocks,
			run: run.clone(),
		})
	}

	/// Test loss and accuracy of `params` on the task's validation split.
	pub fn evaluate(&self, params: &[NamedTensor]) -> Result<(f64, f64)> {
		crate::train::evaluate(
			&self.spec,
			params,
			&self.data.dataset,
			&self.data.split.validation,
			tch::Device::Cpu,
		)
	}

	/// The model `hash`, from `store`, else from the URIs the chain gives for it; stored
	/// once checked.
	pub fn model(&self, chain: &mut Chain, store: &Store, hash: &Hash) -> Result<Vec<NamedTensor>> {
		if store.path(hash).is_some() {
			return Ok(Checkpoint::from_safetensors(&store.get(hash)?)?.params);
		}
		// Every place the chain knows for it: the URI it was accepted with, every other
		// proposer's URI and endpoint (one dead URI strands nobody), then W₀'s.
		let mut uris = Vec::new();
		for (_, m) in model_history(chain, self.id)? {
			if Hash::from(m.model_hash.0) == *hash {
				uris.push(String::from_utf8_lossy(&m.uri.0).into_owned());
			}
		}
		for (proposer, uri) in model_sources(chain, self.id)? {
			uris.push(uri);
			if let Some(endpoint) = chain.storage(
				"reading a proposer's endpoint",
				api::storage().pol_staking().endpoints(),
				(proposer,),
			)? {
				let base = String::from_utf8_lossy(&endpoint.0).into_owned();
				uris.push(store::artifact_url(&base, hash));
			}
		}
		uris.push(self.initial_uri.clone());
		uris.dedup();
		let mut errors = Vec::new();
		for uri in &uris {
			match self.model_from_uri(uri, hash) {
				Ok(params) => {
					let bytes = Checkpoint {
						params: params.clone(),
						momentum: Vec::new(),
					}
					.to_safetensors()?;
					store.put_checked(&bytes, hash)?;
					log::info!("model {}: fetched from {uri}", hex32(&hash.0));
					return Ok(params);
				}
				Err(e) => {
					log::warn!("model {}: not from {uri}: {e:#}", hex32(&hash.0));
					errors.push(format!("{uri}: {e:#}"))
				}
			}
		}
		bail!(
			"model {} is not available: {}",
			hex32(&hash.0),
			errors.join("; ")
		)
	}

	fn model_from_uri(&self, uri: &str, hash: &Hash) -> Result<Vec<NamedTensor>> {
		let params = if let Some(seed) = uri.strip_prefix(INIT_URI_PREFIX) {
			let seed: u64 = seed
				.parse()
				.with_context(|| format!("{uri:?} is not init:<seed>"))?;
			Model::new(&self.spec.task.model, seed, tch::Device::Cpu)?.params()?
		} else {
			let bytes = store::http_get(uri, store::DEFAULT_MAX_BYTES, self.run.progress)?;
			Checkpoint::from_safetensors(&bytes)?.params
		};
		let actual = hash_named(&params)?;
		ensure!(
			actual == *hash,
			"the model there hashes to {}, not {}",
			hex32(&actual.0),
			hex32(&hash.0)
		);
		Ok(params)
	}
}

/// Task `id` as the finalized chain has it.
pub fn read_task(chain: &mut Chain, id: TaskId) -> Result<Option<ChainTask>> {
	chain.api_call("reading the task", api::runtime_apis().pol_api().task(id))
}

/// The current round of task `id`, `None` if there is no such task.
pub fn round_status(chain: &mut Chain, id: TaskId) -> Result<Option<ChainRound>> {
	chain.api_call(
		"reading the round status",
		api::runtime_apis().pol_api().round_status(id),
	)
}

/// The accepted global models of task `id`, by round (every page of them).
pub fn model_history(
	chain: &mut Chain,
	id: TaskId,
) -> Result<
	Vec<(
		RoundIndex,
		rt::pallet_task_registry::types::GlobalModel<u32>,
	)>,
> {
	const PAGE: u32 = pol_primitives::MAX_PAGE;
	let last = read_task(chain, id)?.map_or(0, |t| t.round);
	let mut models = Vec::new();
	let mut from: RoundIndex = 0;
	while from <= last {
		models.extend(chain.api_call(
			"reading the model history",
			api::runtime_apis().pol_api().model_history(id, from, PAGE),
		)?);
		from = from.saturating_add(PAGE);
	}
	Ok(models)
}

/// Where task `id`'s current global model is served: each proposer with its URI.
pub fn model_sources(chain: &mut Chain, id: TaskId) -> Result<Vec<(AccountId32, String)>> {
	Ok(chain
		.api_call(
			"reading the model sources",
			api::runtime_apis().pol_api().model_sources(id),
		)?
		.into_iter()
		.map(|(proposer, uri)| (proposer, String::from_utf8_lossy(&uri.0).into_owned()))
		.collect())
}

/// The phase of a round's status, as ours.
pub fn phase_of(status: &ChainRound) -> Result<Phase> {
	from_chain(&status.phase)
}

/// The last block of the current phase.
pub fn phase_end(status: &ChainRound) -> u32 {
	status.phase_ends.first().map_or(0, |(_, b)| *b)
}

/// Whether a task is still running (active, or finishing its last round after a cancel).
pub fn is_running(status: &ChainRound) -> bool {
	!matches!(
		status.status,
		rt::pallet_task_registry::types::TaskStatus::Ended(..)
	)
}

/// A worker's directory for one round of one task.
pub fn round_dir(work: &Path, task: TaskId, round: RoundIndex) -> PathBuf {
	work.join(format!("task-{task}"))
		.join(format!("round-{round}"))
}

/// Round state kept at `path`, else computed by `compute` and written there before it is
/// used (a restarted worker then finds it and goes on with the same salt, the same scores):
/// the "read state, compute, persist" step of every round phase. `None` when `compute` has
/// nothing (yet).
pub fn state_or<T: Serialize + DeserializeOwned>(
	path: &Path,
	compute: impl FnOnce() -> Result<Option<T>>,
) -> Result<Option<T>> {
	if let Some(saved) = read_state(path)? {
		return Ok(Some(saved));
	}
	let Some(fresh) = compute()? else {
		return Ok(None);
	};
	write_state(path, &fresh)?;
	Ok(Some(fresh))
}

/// The loop a miner and a validator share: every block it checks the artifact server (a worker
/// whose server is gone would commit and propose what nobody can fetch), follows finality (for
/// `/metrics`), reads the best block (blocks are counted there), and hands each task to `tick`
/// with it; `tick` answers whether the worker still takes part in the task. A task under
/// another determinism profile is skipped from then on, said once; any other error is logged
/// and the task tried again a block later. With `tasks` named, it returns once none is left.
pub fn drive(
	chain: &mut Chain,
	server: &crate::store::ServerHandle,
	tasks: &[TaskId],
	role: &str,
	mut tick: impl FnMut(&mut Chain, TaskId, u32) -> Result<bool>,
) -> Result<()> {
	let mut other_profile = std::collections::BTreeSet::new();
	loop {
		server.check()?;
		chain.finalized()?;
		let now = chain.best_number()?;
		let ids = if tasks.is_empty() {
			chain.api_call(
				"listing tasks",
				api::runtime_apis().pol_api().running_tasks(),
			)?
		} else {
			tasks.to_vec()
		};
		let mut running = 0;
		for id in ids {
			if other_profile.contains(&id) {
				continue;
			}
			match tick(chain, id, now) {
				Ok(true) => running += 1,
				Ok(false) => {}
				Err(e) if e.downcast_ref::<OtherProfile>().is_some() => {
					log::warn!("{e:#}; not taking part as a {role}");
					other_profile.insert(id);
				}
				Err(e) => {
					log::error!("task {id}: {e:#}");
					running += 1;
				}
			}
		}
		if running == 0 && !tasks.is_empty() {
			log::info!("no task left to take part in as a {role}; stopping");
			return Ok(());
		}
		sleep_a_block();
	}
}

/// Reads a JSON state file, `None` if there is none yet.
pub fn read_state<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
	match std::fs::read(path) {
		Ok(bytes) => serde_json::from_slice(&bytes)
			.with_context(|| format!("{} is corrupt", path.display()))
			.map(Some),
		Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
		Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
	}
}

/// Writes a JSON state file atomically, readable by this user only (it may hold salts and
/// unrevealed scores), in a directory only this user can enter.
pub fn write_state<T: Serialize>(path: &Path, value: &T) -> Result<()> {
	if let Some(dir) = path.parent() {
		private_dir(dir)?;
	}
	crate::proof::write_atomic_private(path, &serde_json::to_vec_pretty(value)?)
}

/// Creates `dir` (and its parents) with mode 0700, and makes an existing one 0700.
pub fn private_dir(dir: &Path) -> Result<()> {
	use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
	std::fs::DirBuilder::new()
		.recursive(true)
		.mode(0o700)
		.create(dir)
		.with_context(|| format!("creating {}", dir.display()))?;
	std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
		.with_context(|| format!("making {} private", dir.display()))
}

/// The round each task was last seen in. A new round is counted (metrics) and removes the
/// task's round directories older than `keep` rounds.
#[derive(Debug, Default)]
pub struct RoundsSeen(std::collections::BTreeMap<TaskId, RoundIndex>);

impl RoundsSeen {
	/// Notes that task `id` is in round `r`.
	pub fn seen(&mut self, work: &Path, id: TaskId, r: RoundIndex, keep: u32) {
		if self.0.insert(id, r) == Some(r) {
			return;
		}
		crate::metrics::global().rounds.inc();
		match prune_rounds(work, id, r, keep) {
			Ok(gone) if !gone.is_empty() => log::info!("task {id}: removed rounds {gone:?}"),
			Ok(_) => {}
			Err(e) => log::warn!("task {id}: removing old rounds: {e:#}"),
		}
	}
}

/// Removes the directories (bundles, checkpoints, round state) of the rounds of task `task`
/// more than `keep` rounds before `current`; returns the rounds removed. The artifact store is
/// left alone: what it serves may still be asked for.
pub fn prune_rounds(
	work: &Path,
	task: TaskId,
	current: RoundIndex,
	keep: u32,
) -> Result<Vec<RoundIndex>> {
	let dir = work.join(format!("task-{task}"));
	let entries = match std::fs::read_dir(&dir) {
		Ok(e) => e,
		Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
		Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
	};
	let mut removed = Vec::new();
	for entry in entries.flatten() {
		let name = entry.file_name();
		let Some(round) = name
			.to_str()
			.and_then(|n| n.strip_prefix("round-"))
			.and_then(|r| r.parse::<RoundIndex>().ok())
		else {
			continue;
		};
		if round.saturating_add(keep) < current {
			std::fs::remove_dir_all(entry.path())
				.with_context(|| format!("removing {}", entry.path().display()))?;
			removed.push(round);
		}
	}
	removed.sort_unstable();
	Ok(removed)
}

/// A fresh random salt (from the OS; a salt that can be guessed un-blinds a commitment).
pub fn fresh_salt() -> Result<[u8; 32]> {
	let mut salt = [0u8; 32];
	let mut f = std::fs::File::open("/dev/urandom").context("opening /dev/urandom")?;
	std::io::Read::read_exact(&mut f, &mut salt).context("reading /dev/urandom")?;
	Ok(salt)
}

/// The URL of artifact `hash` on the server at `public_url`.
pub fn artifact_uri(public_url: &str, hash: &Hash) -> String {
	store::artifact_url(public_url.trim_end_matches('/'), hash)
}

/// Splits an artifact URI into the server's base URL and the artifact's hash.
pub fn split_artifact_uri(uri: &str) -> Result<(String, Hash)> {
	let (base, hash) = uri
		.rsplit_once("/v1/artifacts/")
		.with_context(|| format!("{uri:?} is not <server>/v1/artifacts/<hash>"))?;
	Ok((base.to_string(), crate::config::parse_hash(hash)?))
}

/// Waits about one block.
pub fn sleep_a_block() {
	std::thread::sleep(std::time::Duration::from_millis(1500));
}
