//! `pol-worker`: the command line over the `pol_worker` library.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use pol_primitives::{hashing, Hash, Verdict};
use pol_worker::chain::AccountId32;
use pol_worker::{
	aggregate, bench, chain,
	config::{hex32, parse_account, parse_hash, Config},
	creator,
	data::TaskData,
	doctor, miner,
	model::{hash_named, Model, NamedTensor},
	profile::{self, Pinned, Profile},
	proof::{Checkpoint, Manifest},
	store,
	train::MinerRun,
	validator, verify,
};
use std::path::{Path, PathBuf};

/// polchain's off-chain worker: trains, proves and verifies learning for polchain tasks.
#[derive(Parser, Debug)]
#[command(name = "pol-worker", version, about)]
struct Cli {
	#[command(subcommand)]
	command: Command,
}

/// What `train`, `verify` and `bench` share: the task file and local overrides.
#[derive(Args, Debug)]
struct TaskArgs {
	/// The task's TOML configuration.
	#[arg(long, short)]
	config: PathBuf,
	/// Run under this determinism profile (`cpu/avx2/1`) instead of the task's
	/// `[verification.profile]`: what a host pinned to another would do. A miner refuses to
	/// train under another profile than the task's; a validator abstains.
	#[arg(long)]
	profile: Option<Profile>,
	/// Directory of the exported data sets (overrides `[run] data_root` and $POL_DATA).
	#[arg(long)]
	data_root: Option<PathBuf>,
	/// No progress bars.
	#[arg(long)]
	no_progress: bool,
}

impl TaskArgs {
	fn load(&self) -> Result<Config> {
		let mut c = Config::load(&self.config)?;
		if let Some(r) = &self.data_root {
			c.run.data_root = Some(r.clone());
		}
		if self.no_progress {
			c.run.progress = false;
		}
		Ok(c)
	}

	/// Loads the task and pins its profile (or `--profile`) before anything touches libtorch.
	fn load_pinned(&self) -> Result<(Config, &'static Pinned)> {
		let c = self.load()?;
		let pinned = profile::pin(self.profile.unwrap_or(c.verification.profile))?;
		Ok((c, pinned))
	}
}

/// Which round, offline: the seeds the chain would record, from a parent hash.
#[derive(Args, Debug)]
struct RoundArgs {
	/// Round index.
	#[arg(long, default_value_t = 0)]
	round: u32,
	/// Parent hash of the round's first block (seeds the batches); zero offline.
	#[arg(long)]
	parent_hash: Option<String>,
	/// The round's starting model (safetensors); default: the task's initial model.
	#[arg(long)]
	start: Option<PathBuf>,
}

impl RoundArgs {
	fn round_seed(&self, task: u64) -> Result<Hash> {
		Ok(hashing::round_seed(task, self.round, &self.parent()?))
	}
	fn parent(&self) -> Result<Hash> {
		self.parent_hash
			.as_deref()
			.map(parse_hash)
			.transpose()
			.map(|h| h.unwrap_or_default())
	}
}

/// Which nodes, and which key.
#[derive(Args, Debug)]
struct ChainArgs {
	/// A node's websocket URL; repeat it to fail over to the next when one goes away.
	#[arg(long = "node", default_value = "ws://127.0.0.1:9944")]
	nodes: Vec<String>,
	/// The signing key's secret URI (`//Alice`, a mnemonic, a 0x seed); also $POL_SURI, which
	/// `ps` does not show.
	#[arg(long)]
	suri: Option<String>,
	/// A Substrate keystore file (mode 600) holding the secret URI.
	#[arg(long, conflicts_with = "suri")]
	keystore: Option<PathBuf>,
}

impl ChainArgs {
	fn connect(&self) -> Result<chain::Chain> {
		let signer = chain::signer_from(self.suri.as_deref(), self.keystore.as_deref())?;
		let challenge_key =
			chain::challenge_key_from(self.suri.as_deref(), self.keystore.as_deref())?;
		let mut chain = chain::Chain::connect(&self.nodes, signer)?;
		chain.set_challenge_key(challenge_key)?;
		Ok(chain)
	}
}

/// What `miner` and `validator` share: where they work and serve.
#[derive(Args, Debug)]
struct WorkerArgs {
	#[command(flatten)]
	chain: ChainArgs,
	/// Work directory: the artifact store, bundles and round state.
	#[arg(long)]
	work_dir: PathBuf,
	/// Address the artifact server listens on.
	#[arg(long)]
	listen: String,
	/// URL others reach the artifact server at (default: http://<listen>).
	#[arg(long)]
	public_url: Option<String>,
	/// Tasks to take part in (repeatable); default: every running task.
	#[arg(long = "task")]
	tasks: Vec<u64>,
	/// The determinism profile (`device/isa/threads`) this worker trains and replays under; it
	/// takes part only in the tasks whose spec names it. Run one worker per profile.
	#[arg(long, default_value = "cpu/avx2/1")]
	profile: Profile,
	/// Directory of the exported data sets (default $POL_DATA).
	#[arg(long)]
	data_root: Option<PathBuf>,
	/// No progress bars.
	#[arg(long)]
	no_progress: bool,
	/// Rounds of each task whose directories (bundles, checkpoints, round state) are kept;
	/// older ones are removed. At least 2.
	#[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(2..))]
	keep_rounds: u32,
	/// The bonded account this worker acts for, signing as its `Worker` proxy with the key of
	/// --suri/--keystore, so that the key that can move the stake stays off this host (set it
	/// up once with `pol-worker worker-key`).
	#[arg(long)]
	stash: Option<AccountId32>,
}

impl WorkerArgs {
	/// Connects, acting for --stash when given.
	fn connect(&self) -> Result<chain::Chain> {
		let mut chain = self.chain.connect()?;
		if let Some(stash) = &self.stash {
			chain.act_for(stash.clone())?;
		}
		Ok(chain)
	}

	/// Pins the profile (before anything touches libtorch), checks that this host reproduces
	/// its golden vectors, and returns the run settings.
	fn run_config(&self) -> Result<pol_worker::config::RunConfig> {
		let pinned = profile::pin(self.profile)?;
		pol_worker::golden::gate(pinned, self.data_root.as_deref())?;
		Ok(pol_worker::config::RunConfig {
			data_root: self.data_root.clone(),
			data_path: None,
			progress: !self.no_progress,
		})
	}
	/// The endpoint others fetch from, checked: a typo here would have every validator report
	/// the miner's files as not served.
	fn public_url(&self) -> Result<String> {
		let url = self
			.public_url
			.clone()
			.unwrap_or_else(|| format!("http://{}", self.listen));
		pol_worker::config::check_public_url(&url).context("--public-url")?;
		Ok(url)
	}
}

/// `task` subcommands.
#[derive(Subcommand, Debug)]
enum TaskCommand {
	/// Creates a task from a task file (a worker config with a `[chain]` section).
	Create {
		#[command(flatten)]
		chain: ChainArgs,
		/// The task file.
		#[arg(long)]
		spec: PathBuf,
		/// Print `{"task": ID}`.
		#[arg(long)]
		json: bool,
		/// Create it even if this account already runs a task with the very same spec (which
		/// is otherwise taken as this command run again, and its id printed).
		#[arg(long)]
		again: bool,
	},
	/// Adds to a task's budget (its creator only).
	Fund {
		#[command(flatten)]
		chain: ChainArgs,
		/// The task.
		#[arg(long)]
		task: u64,
		/// Amount in POL.
		#[arg(long)]
		amount: f64,
	},
	/// Shows a task, its current round and its model history.
	Status {
		#[command(flatten)]
		chain: ChainArgs,
		/// The task.
		#[arg(long)]
		task: u64,
		/// Print JSON.
		#[arg(long)]
		json: bool,
	},
	/// Prints each round of a task as it completes: the accepted model, its test accuracy and
	/// the rewards paid.
	Watch {
		#[command(flatten)]
		chain: ChainArgs,
		/// The task.
		#[arg(long)]
		task: u64,
		/// Stop after this many rounds.
		#[arg(long)]
		rounds: Option<u32>,
		/// One JSON object per round.
		#[arg(long)]
		json: bool,
		/// Where fetched models are kept (default ~/.cache/polchain/watch).
		#[arg(long)]
		work_dir: Option<PathBuf>,
		/// Directory of the exported data sets (default $POL_DATA).
		#[arg(long)]
		data_root: Option<PathBuf>,
	},
}

#[derive(Subcommand, Debug)]
enum Command {
	/// Mines on a live chain: bonds, sets its endpoint, joins tasks, trains, commits, reveals
	/// and serves its proofs.
	Miner {
		#[command(flatten)]
		worker: WorkerArgs,
		/// What to bond if not bonded yet, in POL.
		#[arg(long, default_value_t = 100.0)]
		bond: f64,
		/// Misbehave on purpose, as an attacker would (tests and demos of what the chain
		/// catches; docs/SECURITY.md).
		#[arg(long, value_enum)]
		fault: Option<miner::Fault>,
		/// Stop after this many rounds of each task.
		#[arg(long)]
		rounds: Option<u32>,
	},
	/// Validates on a live chain: verifies and scores updates, commits and reveals scores,
	/// votes on disputes, aggregates and proposes the global model.
	Validator {
		#[command(flatten)]
		worker: WorkerArgs,
		/// Miners verified at once at most; 0: as many as the cores hold under the profile
		/// (cores / the profile's threads).
		#[arg(long, default_value_t = 0)]
		verify_workers: usize,
		/// Misbehave on purpose, as a colluding validator would (tests and demos of what the
		/// chain withstands; docs/SECURITY.md).
		#[arg(long, value_enum)]
		fault: Option<validator::ValidatorFault>,
	},
	/// Creates, funds and follows tasks.
	#[command(subcommand)]
	Task(TaskCommand),
	/// Run once where the bonded (stash) account's key is: makes --worker its `Worker` proxy
	/// (round calls only), registers it as its challenge key, and funds it for fees. Then run
	/// `miner`/`validator` with the worker's key and `--stash`.
	WorkerKey {
		#[command(flatten)]
		chain: ChainArgs,
		/// The worker host's account.
		#[arg(long)]
		worker: AccountId32,
		/// POL the worker's free balance is topped up to (it pays its extrinsics' fees).
		#[arg(long, default_value_t = 1.0)]
		fund: f64,
	},
	/// Check libtorch, the determinism profile and CUDA, and train a tiny model for a few steps;
	/// with --determinism, which profiles this host may mine and validate.
	Doctor {
		/// SGD steps of the tiny training run.
		#[arg(long, default_value_t = 20)]
		steps: usize,
		/// The determinism profile to pin (`device/isa/threads`).
		#[arg(long, default_value = "cpu/avx2/1")]
		profile: Profile,
		/// Run the golden vectors under every profile, each in a process of its own, and say
		/// which profiles this host may mine and validate.
		#[arg(long)]
		determinism: bool,
		/// With --determinism: write the hashes measured here as the golden vectors (after a
		/// deliberate change of libtorch or of the training code, on the reference machine).
		#[arg(long, requires = "determinism")]
		write_golden: Option<PathBuf>,
		/// Run the golden vectors under --profile only (what --determinism runs per profile).
		#[arg(long, hide = true, conflicts_with = "determinism")]
		golden: bool,
		/// Print JSON.
		#[arg(long)]
		json: bool,
		/// Directory of the exported data sets (default $POL_DATA).
		#[arg(long)]
		data_root: Option<PathBuf>,
	},
	/// Train one round as a miner and write the proof bundle.
	Train {
		#[command(flatten)]
		task: TaskArgs,
		#[command(flatten)]
		round: RoundArgs,
		/// The miner: `0x` and 32 bytes of hex, or a name (offline: the account blake2(name)).
		#[arg(long, default_value = "alice")]
		miner: String,
		/// The bundle's directory.
		#[arg(long, short)]
		out: PathBuf,
	},
	/// Verify a proof bundle as a validator; exits non-zero unless the verdict is Pass.
	Verify {
		#[command(flatten)]
		task: TaskArgs,
		#[command(flatten)]
		round: RoundArgs,
		/// The bundle's directory.
		#[arg(long, short)]
		bundle: PathBuf,
		/// The miner whose commitment is checked (default: the one the manifest names).
		#[arg(long)]
		miner: Option<String>,
		/// The validator (seeds its challenges).
		#[arg(long, default_value = "validator")]
		validator: String,
		/// Parent hash of the block that recorded the challenge seed; zero offline. Offline the
		/// seed itself stands in for the validator's VRF randomness.
		#[arg(long)]
		challenge_parent_hash: Option<String>,
		/// The committed checkpoint root, to check the bundle against.
		#[arg(long)]
		root: Option<String>,
		/// The revealed final model hash (leaf n's), to check the bundle against.
		#[arg(long)]
		final_model_hash: Option<String>,
		/// Replay every segment, not only the challenged ones.
		#[arg(long)]
		all_segments: bool,
		/// Print the report as JSON.
		#[arg(long)]
		json: bool,
		/// Verify from this artifact server (`http://host:port`): the manifest, then only the
		/// checkpoints the challenged segments and the score need, into --bundle.
		#[arg(long, requires = "manifest")]
		from: Option<String>,
		/// The manifest's hash on that server (`pol-worker serve --import` prints it).
		#[arg(long)]
		manifest: Option<String>,
		/// Largest artifact fetched.
		#[arg(long, default_value_t = store::DEFAULT_MAX_BYTES)]
		max_bytes: u64,
	},
	/// Serve a content-addressed artifact store over HTTP (GET /v1/artifacts/{hash}).
	Serve {
		/// The store's directory.
		#[arg(long)]
		store: PathBuf,
		/// Address to listen on.
		#[arg(long, default_value = "127.0.0.1:8700")]
		addr: String,
		/// Largest artifact stored.
		#[arg(long, default_value_t = store::DEFAULT_MAX_BYTES)]
		max_bytes: u64,
		/// Proof bundles to import before serving.
		#[arg(long)]
		import: Vec<PathBuf>,
	},
	/// Fetch one artifact by hash, checking the hash and the size limit.
	Fetch {
		/// The server, `http://host:port`.
		#[arg(long)]
		from: String,
		/// The artifact's hash.
		#[arg(long)]
		hash: String,
		/// Where to write it.
		#[arg(long, short)]
		out: PathBuf,
		/// Largest artifact accepted.
		#[arg(long, default_value_t = store::DEFAULT_MAX_BYTES)]
		max_bytes: u64,
	},
	/// Aggregate final models into the next global model.
	Aggregate {
		#[command(flatten)]
		task: TaskArgs,
		#[command(flatten)]
		round: RoundArgs,
		/// `BUNDLE:SCORE`, once per passing miner.
		#[arg(long = "update", required = true)]
		updates: Vec<String>,
		/// fedavg, median, trimmed-mean:<β>, norm-clip:<C>; default: the task's
		/// `[aggregation]`.
		#[arg(long)]
		rule: Option<String>,
		/// The new model (safetensors).
		#[arg(long, short)]
		out: PathBuf,
	},
	/// How likely a cheating miner is caught under a task's settings: the formula beside a
	/// simulation of many rounds with the real challenge draw, for 1 and 3 validators. With
	/// `--influence`: one forged transition on real training (the path check's room, the
	/// forgery's survival, how far it moves the aggregate under each rule), as markdown tables.
	AttackSim {
		#[command(flatten)]
		task: TaskArgs,
		/// Rounds simulated per strategy.
		#[arg(long, default_value_t = 100_000)]
		rounds: u64,
		/// The share of segments a forger forges.
		#[arg(long, default_value_t = 0.25)]
		fraction: f64,
		/// Seed of the validators' stand-in randomness (with `--influence`: of the rounds and of
		/// the random jump direction).
		#[arg(long, default_value_t = 1)]
		seed: u64,
		/// Print the measurements as JSON.
		#[arg(long)]
		json: bool,
		/// Measure one forged transition on real training instead (docs/SECURITY.md, "One
		/// forged transition").
		#[arg(long)]
		influence: bool,
		/// With `--influence`: miners a round, the forger among them; default the task's shards
		/// (at least 3).
		#[arg(long)]
		miners: Option<usize>,
		/// With `--influence`: honest federated rounds trained; the forgery is tried in the last.
		#[arg(long, default_value_t = 3)]
		influence_rounds: u32,
		/// With `--influence`: jump sizes as multiples of the mean honest segment norm
		/// (comma-separated); the sizes around what the path check lets through are added.
		#[arg(long, value_delimiter = ',', default_values_t = [1.0, 10.0, 100.0, 1000.0, 10000.0])]
		jumps: Vec<f64>,
		/// With `--influence`: the share trimmed-mean trims at each end.
		#[arg(long, default_value_t = 0.2)]
		trim: f64,
		/// With `--influence`: norm-clip's bound; default the largest honest update of the
		/// round, rounded up.
		#[arg(long)]
		max_norm: Option<f64>,
	},
	/// Training and verification cost of a task.
	Bench {
		#[command(flatten)]
		task: TaskArgs,
		/// Steps of the bare training loop.
		#[arg(long, default_value_t = 500)]
		loop_steps: u32,
		/// Repetitions of every measurement; the best is reported (a shared machine disturbs
		/// some runs, never speeds one up).
		#[arg(long, default_value_t = 1)]
		repeat: u32,
		/// Print the report as JSON.
		#[arg(long)]
		json: bool,
	},
}

fn start_params(config: &Config, start: &Option<PathBuf>) -> Result<Vec<NamedTensor>> {
	match start {
		Some(path) => Ok(Checkpoint::read(path)?.params),
		None => Model::new(&config.task.model, config.task.init_seed, tch::Device::Cpu)?.params(),
	}
}

fn main() {
	env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
	let cli = Cli::parse();
	match run(cli) {
		Ok(code) => std::process::exit(code),
		Err(e) => {
			eprintln!("error: {e:#}");
			std::process::exit(2);
		}
	}
}

fn run(cli: Cli) -> Result<i32> {
	match cli.command {
		Command::Miner {
			worker,
			bond,
			fault,
			rounds,
		} => {
			let run = worker.run_config()?;
			let mut chain = worker.connect()?;
			miner::run(
				&mut chain,
				miner::MinerConfig {
					work_dir: worker.work_dir.clone(),
					listen: worker.listen.clone(),
					public_url: worker.public_url()?,
					tasks: worker.tasks.clone(),
					bond: creator::pol_to_units(bond)?,
					run,
					keep_rounds: worker.keep_rounds,
					fault,
					rounds,
				},
			)?;
			Ok(0)
		}
		Command::Validator {
			worker,
			verify_workers,
			fault,
		} => {
			if let Some(f) = fault {
				log::warn!("validator fault {f:?}: misbehaving on purpose");
			}
			let run = worker.run_config()?;
			let mut chain = worker.connect()?;
			validator::run(
				&mut chain,
				validator::ValidatorConfig {
					work_dir: worker.work_dir.clone(),
					listen: worker.listen.clone(),
					public_url: worker.public_url()?,
					tasks: worker.tasks.clone(),
					run,
					keep_rounds: worker.keep_rounds,
					verify_workers,
					fault,
				},
			)?;
			Ok(0)
		}
		Command::Task(cmd) => task_cmd(cmd),
		Command::WorkerKey {
			chain,
			worker,
			fund,
		} => {
			let mut chain = chain.connect()?;
			pol_worker::keys::setup(
				&mut chain,
				&pol_worker::keys::WorkerKey {
					worker,
					fund: creator::pol_to_units(fund)?,
				},
			)?;
			Ok(0)
		}
		Command::Doctor {
			steps,
			profile,
			determinism,
			write_golden,
			golden,
			json,
			data_root,
		} => {
			if golden {
				let check = doctor::check_profile(profile, data_root.as_deref())?;
				println!("{}", serde_json::to_string(&check)?);
				Ok(0)
			} else if determinism {
				determinism_cmd(data_root.as_deref(), write_golden.as_deref(), json)
			} else {
				doctor_cmd(steps, profile)
			}
		}
		Command::Train {
			task,
			round,
			miner,
			out,
		} => {
			let (config, pinned) = task.load_pinned()?;
			let spec = config.spec();
			let data = TaskData::load(&config)?;
			let start = start_params(&config, &round.start)?;
			let run = MinerRun {
				spec: &spec,
				data: &data,
				round: round.round,
				round_seed: round.round_seed(spec.task.id)?,
				miner: parse_account(&miner)?,
				start: &start,
				pinned,
				progress: config.run.progress,
			};
			let m = run.train_bundle(&out)?;
			println!("bundle:           {}", out.display());
			println!("miner:            {}", m.miner);
			println!("shard:            {}", m.shard);
			println!("segments:         {}", m.num_segments);
			println!("checkpoint root:  {}", m.checkpoint_root);
			println!("final model hash: {}", m.final_model_hash);
			println!("train loss:       {:.6}", m.train_loss);
			Ok(0)
		}
		Command::Verify {
			task,
			round,
			bundle,
			miner,
			validator,
			challenge_parent_hash,
			root,
			final_model_hash,
			all_segments,
			json,
			from,
			manifest,
			max_bytes,
		} => {
			let (config, pinned) = task.load_pinned()?;
			let spec = config.spec();
			let data = TaskData::load(&config)?;
			// From a server: the manifest first; the checkpoints as the verification needs them.
			let mut remote = None;
			// This process's lanes to the server, taken before its debt is counted.
			let held = match &from {
				Some(from) => Some(
					store::lanes_to(
						from,
						verify::MAX_PARALLEL_FETCHES,
						std::time::Instant::now() + std::time::Duration::from_secs(600),
					)
					.context("no connection to the server free")?,
				),
				None => None,
			};
			if let (Some(from), Some(manifest)) = (&from, &manifest) {
				let hash = parse_hash(manifest)?;
				let policy = store::FetchPolicy {
					lane_held: held.is_some(),
					..store::FetchPolicy::default()
				};
				let asked_at = std::time::Instant::now();
				match store::fetch_manifest(
					from,
					&hash,
					&bundle,
					max_bytes,
					config.run.progress,
					&policy,
				) {
					Ok(manifest_bytes) => {
						remote = Some(verify::Remote {
							base: from,
							max_bytes,
							manifest_bytes,
							progress: config.run.progress,
							// Offline there is no phase to finish by: a day for the whole
							// verification; each transfer still needs the minimum rate.
							policy: store::FetchPolicy::within(std::time::Duration::from_secs(
								24 * 3600,
							)),
							asked_at,
							lanes: held.as_ref().map_or(1, |h| h.count()),
							held: held.as_ref(),
							compute: None,
						})
					}
					// This machine's own trouble says nothing about the miner.
					Err(e) if e.is_local() => bail!("fetching the manifest: {e}"),
					Err(e) => {
						// The miner does not serve what it committed to.
						let n = spec.num_segments().max(1);
						println!("reason:      the manifest: {e:#}");
						println!("verdict:     NotServed {{ segment: {n} }}");
						println!("score:       0");
						return Ok(1);
					}
				}
			}
			let start = start_params(&config, &round.start)?;
			let miner = match miner {
				Some(m) => parse_account(&m)?,
				None => Manifest::read(&bundle)
					.and_then(|m| m.miner_account())
					.context("no --miner, and the manifest names none")?,
			};
			let challenge_parent = challenge_parent_hash
				.as_deref()
				.map(parse_hash)
				.transpose()?
				.unwrap_or_default();
			let expected = verify::Expected {
				spec: &spec,
				round: round.round,
				round_seed: round.round_seed(spec.task.id)?,
				miner,
				start: &start,
				root: root.as_deref().map(parse_hash).transpose()?,
				final_model_hash: final_model_hash.as_deref().map(parse_hash).transpose()?,
				start_loss: None,
			};
			let v = verify::Validator {
				data: &data,
				account: parse_account(&validator)?,
				// Offline there is no VRF to prove: the challenge seed stands in for the
				// validator's randomness.
				randomness: hashing::challenge_seed(spec.task.id, round.round, &challenge_parent),
				all_segments,
				only_segments: None,
				pinned,
				progress: config.run.progress,
				deadline: None,
			};
			let r = match &remote {
				Some(remote) => verify::verify_remote(&bundle, remote, &expected, &v)?,
				None => verify::verify_bundle(&bundle, &expected, &v)?,
			};
			let fetched = r.fetched.as_ref().map(|f| {
				serde_json::json!({
					"checkpoints": f.checkpoints, "bytes": f.bytes, "total_bytes": f.total_bytes,
				})
			});
			let verdict = match r.verdict() {
				Some(Verdict::Pass) => "Pass".to_string(),
				Some(Verdict::Fail { segment }) => format!("Fail {{ segment: {segment} }}"),
				Some(Verdict::NotServed { segment }) => {
					format!("NotServed {{ segment: {segment} }}")
				}
				None => "Abstain".to_string(),
			};
			if json {
				let segments: Vec<_> = r
					.segments
					.iter()
					.map(|s| {
						serde_json::json!({
							"segment": s.segment, "passed": s.passed,
							"distance": s.distance, "momentum_distance": s.momentum_distance,
							"detail": s.detail,
						})
					})
					.collect();
				println!(
					"{}",
					serde_json::to_string_pretty(&serde_json::json!({
						"verdict": verdict, "reason": r.reason(), "score": r.score,
						"challenged": r.challenged, "segments": segments,
						"val_loss_start": r.val_loss_start, "val_loss_final": r.val_loss_final,
						"val_accuracy": r.val_accuracy, "replayed_steps": r.replayed_steps,
						"replay_secs": r.replay_secs, "total_secs": r.total_secs,
						"fetched": fetched,
					}))?
				);
			} else {
				println!("challenged:  {:?}", r.challenged);
				if let Some(f) = &r.fetched {
					println!(
						"fetched:     checkpoints {:?}, {} of the bundle's {} bytes ({:.1}%)",
						f.checkpoints,
						f.bytes,
						f.total_bytes,
						100.0 * f.bytes as f64 / (f.total_bytes.max(1)) as f64
					);
				}
				for s in &r.segments {
					println!(
						"segment {:>4}: {}  {}",
						s.segment,
						if s.passed { "ok  " } else { "FAIL" },
						s.detail
					);
				}
				if let Some(why) = r.reason() {
					println!("reason:      {why}");
				}
				if r.verdict() == Some(Verdict::Pass) {
					println!(
						"validation:  loss {:.4} -> {:.4}, accuracy {:.2}%",
						r.val_loss_start,
						r.val_loss_final,
						100.0 * r.val_accuracy
					);
				}
				println!("verdict:     {verdict}");
				println!("score:       {:.6}", r.score);
			}
			Ok(if r.verdict() == Some(Verdict::Pass) {
				0
			} else {
				1
			})
		}
		Command::Serve {
			store: dir,
			addr,
			max_bytes,
			import,
		} => {
			let s = store::Store::open(&dir, max_bytes)?;
			for b in &import {
				let h = s
					.put_bundle(b)
					.with_context(|| format!("importing {}", b.display()))?;
				println!("imported {} (manifest {})", b.display(), hex32(&h.0));
			}
			let handle = store::serve(s, &addr)?;
			println!("serving {} on {}", dir.display(), handle.url());
			// Returns only if the server stops: exit non-zero for a supervisor to restart it.
			handle.wait().map(|()| 0)
		}
		Command::Fetch {
			from,
			hash,
			out,
			max_bytes,
		} => {
			let hash = parse_hash(&hash)?;
			let bytes = store::fetch(&from, &hash, max_bytes, true)?;
			pol_worker::proof::write_atomic(&out, &bytes)?;
			println!(
				"{} bytes, hash {} checked: {}",
				bytes.len(),
				hex32(&hash.0),
				out.display()
			);
			Ok(0)
		}
		Command::Aggregate {
			task,
			round,
			updates,
			rule,
			out,
		} => {
			// Every validator aggregates under the task's profile, so their proposals agree.
			let (config, _) = task.load_pinned()?;
			let rule = match rule {
				Some(text) => text.parse()?,
				None => config.aggregation,
			};
			let base = start_params(&config, &round.start)?;
			let mut ups = Vec::new();
			for u in &updates {
				let (dir, score) = u
					.rsplit_once(':')
					.with_context(|| format!("--update {u:?} is not BUNDLE:SCORE"))?;
				let score: f64 = score.parse().with_context(|| format!("score in {u:?}"))?;
				ups.push(read_update(Path::new(dir), score)?);
			}
			let params = aggregate::aggregate(&base, &ups, rule)?;
			let model = Checkpoint {
				params,
				momentum: Vec::new(),
			};
			model.write(&out)?;
			println!("model hash: {}", hex32(&hash_named(&model.params)?.0));
			println!("written:    {}", out.display());
			Ok(0)
		}
		Command::AttackSim {
			task,
			rounds,
			fraction,
			seed,
			json,
			influence,
			miners,
			influence_rounds,
			jumps,
			trim,
			max_norm,
		} => {
			use pol_worker::attack::{simulate, Strategy};
			if influence {
				let (config, pinned) = task.load_pinned()?;
				let spec = config.spec();
				let data = TaskData::load(&config)?;
				anyhow::ensure!(
					jumps.iter().all(|x| x.is_finite() && *x > 0.0),
					"--jumps {jumps:?}: each a positive multiple"
				);
				let settings = pol_worker::attack::influence::Settings {
					miners: miners.unwrap_or((spec.data.num_shards as usize).max(3)),
					rounds: influence_rounds,
					multiples: jumps,
					trim,
					max_norm,
					seed,
				};
				let started = std::time::Instant::now();
				let report = settings.run(&spec, &data, pinned, |what| {
					log::info!("{what}");
				})?;
				if json {
					println!("{}", serde_json::to_string_pretty(&report)?);
				} else {
					println!(
						"{}: one forged transition ({:.0} s)\n",
						task.config.display(),
						started.elapsed().as_secs_f64()
					);
					print!("{}", report.markdown());
				}
				return Ok(0);
			}
			anyhow::ensure!(
				fraction > 0.0 && fraction <= 1.0,
				"--fraction {fraction} is not in (0, 1]"
			);
			let spec = task.load()?.spec();
			let n = spec.num_segments();
			let q = spec.verification.segments_per_check;
			anyhow::ensure!(n > 0, "the task has no segments");
			let a = pol_worker::attack::forged_at(fraction, n);
			let mut strategies = vec![
				Strategy::Forge { a },
				Strategy::Forge { a: 1 },
				Strategy::Withhold { a },
				Strategy::ForgeLast,
				Strategy::UnderstateNorm { j: n.div_ceil(2) },
				Strategy::UnderstateNorm { j: n },
			];
			// On an exact task any steering is a forgery: the forge rows are its rows.
			let tolerance =
				spec.verification.comparison == pol_worker::config::ComparisonKind::Tolerance;
			if tolerance {
				strategies.push(Strategy::SteerWithinTolerance);
			}
			let mut results = Vec::new();
			for strategy in strategies {
				for validators in [1, 3] {
					results.push(simulate(strategy, n, q, validators, rounds, seed));
				}
			}
			if json {
				println!(
					"{}",
					serde_json::to_string_pretty(&serde_json::json!({
						"segments": n,
						"segments_per_check": q,
						"replay_fraction": f64::from(q.min(n)) / f64::from(n),
						"results": results,
					}))?
				);
			} else {
				println!(
					"{}: {n} segments, {q} replayed per validator ({:.1}% of training)",
					task.config.display(),
					100.0 * f64::from(q.min(n)) / f64::from(n)
				);
				println!("{}", pol_worker::attack::Detection::of(n, q));
				println!(
					"{:<22} {:>10} {:>9} {:>20} {:>9}",
					"strategy", "validators", "measured", "95% interval", "formula"
				);
				for m in &results {
					println!(
						"{:<22} {:>10} {:>8.2}% {:>8.2}% – {:>7.2}% {:>8.2}%",
						m.strategy.to_string(),
						m.validators,
						100.0 * m.rate,
						100.0 * m.interval.0,
						100.0 * m.interval.1,
						100.0 * m.predicted
					);
				}
				println!(
					"understate norm j: no score, reward or aggregate reads a norm (the chain reads \
					 leaf n's only to prove the final model's leaf); a false one gains nothing."
				);
				if tolerance {
					println!(
						"steer within tolerance: never caught, by design; it moves each segment by at \
						 most the tolerance ({}) of its own update.",
						spec.verification.tolerance
					);
				} else {
					println!("steering: on an exact task any steered segment is a forged one (the forge rows).");
				}
			}
			Ok(0)
		}
		Command::Bench {
			task,
			loop_steps,
			repeat,
			json,
		} => {
			let (config, pinned) = task.load_pinned()?;
			let data = TaskData::load(&config)?;
			let r = bench::run(&config, &data, loop_steps, repeat, pinned)?;
			if json {
				println!("{}", serde_json::to_string_pretty(&r)?);
			} else {
				println!(
					"model {} under profile {} (ATen {}, {} thread(s)), batch {}; best of {}",
					r.model, r.profile, r.aten_capability, r.threads, r.batch_size, r.repeat
				);
				println!(
					"run: S = {} steps in n = {} segments of k = {}; Q = {} replayed",
					r.train_steps, r.num_segments, r.checkpoint_interval, r.segments_per_check
				);
				println!(
					"bare loop (whole set):   {:>9.1} steps/s ({} steps)",
					r.loop_steps_per_s, r.loop_steps
				);
				println!(
					"miner run, no proofs:    {:>9.1} steps/s ({:.3}s)",
					r.bare_steps_per_s, r.bare_secs
				);
				println!(
					"miner run, with proofs:  {:>9.1} steps/s ({:.3}s; {:+.1}% the median paired \
					 gap; {:.1}% on the training thread; bundle {:.1} MB, stored in {:.3}s)",
					r.train_steps_per_s,
					r.train_secs,
					100.0 * r.proof_overhead,
					100.0 * r.proof_thread_fraction,
					r.bundle_bytes as f64 / 1e6,
					r.publish_secs
				);
				println!(
					"replay:                  {:>9.1} steps/s ({} steps, {:.1}% of S)",
					r.replay_steps_per_s,
					r.replayed_steps,
					100.0 * r.replay_fraction
				);
				println!(
					"verification, 1 validator: {:.3}s = {:.1}% of the miner's run ({:.1} MB \
					 fetched; verdict {}); the start model's evaluation, once a round: {:.3}s",
					r.verify_secs,
					100.0 * r.verify_fraction,
					r.fetched_bytes as f64 / 1e6,
					r.verdict,
					r.start_eval_secs
				);
				println!(
					"{}",
					pol_worker::attack::Detection::of(r.num_segments, r.segments_per_check)
				);
			}
			Ok(0)
		}
	}
}

fn task_cmd(cmd: TaskCommand) -> Result<i32> {
	match cmd {
		TaskCommand::Create {
			chain,
			spec,
			json,
			again,
		} => {
			let file = creator::TaskFile::load(&spec)?;
			// On stderr: `--json` keeps stdout to the answer.
			let task = file.config.spec();
			eprintln!(
				"{}",
				pol_worker::attack::Detection::of(
					task.num_segments(),
					task.verification.segments_per_check
				)
			);
			let mut chain = chain.connect()?;
			let id = creator::create(&mut chain, &file, again)?;
			if json {
				println!("{}", serde_json::json!({ "task": id }));
			} else {
				println!("task: {id}");
			}
			Ok(0)
		}
		TaskCommand::Fund {
			chain,
			task,
			amount,
		} => {
			let mut chain = chain.connect()?;
			let budget = creator::fund(&mut chain, task, creator::pol_to_units(amount)?)?;
			println!("task {task}: budget {} POL", creator::units_to_pol(budget));
			Ok(0)
		}
		TaskCommand::Status { chain, task, json } => {
			let mut chain = chain.connect()?;
			let status = creator::status(&mut chain, task)?;
			if json {
				println!("{}", serde_json::to_string_pretty(&status)?);
			} else {
				print!("{}", status.text());
			}
			Ok(0)
		}
		TaskCommand::Watch {
			chain,
			task,
			rounds,
			json,
			work_dir,
			data_root,
		} => {
			let mut chain = chain.connect()?;
			let run = pol_worker::config::RunConfig {
				data_root,
				progress: false,
				..Default::default()
			};
			let work_dir = work_dir.unwrap_or_else(|| {
				let home = std::env::var_os("HOME")
					.map(PathBuf::from)
					.unwrap_or_default();
				home.join(".cache/polchain/watch")
			});
			creator::watch(&mut chain, task, rounds, &run, &work_dir, |r| {
				if json {
					println!("{}", serde_json::to_string(r)?);
				} else {
					println!("{}", r.text());
				}
				use std::io::Write;
				std::io::stdout().flush()?;
				Ok(())
			})?;
			Ok(0)
		}
	}
}

fn read_update(bundle: &Path, score: f64) -> Result<aggregate::Update> {
	let m = Manifest::read(bundle)?;
	let last = pol_worker::proof::checkpoint_path(bundle, &m, m.num_segments)?;
	let params = Checkpoint::read(&last)?.params;
	if hex32(&hash_named(&params)?.0) != m.final_model_hash {
		bail!(
			"{}: the last checkpoint is not the final model",
			bundle.display()
		);
	}
	Ok(aggregate::Update {
		miner: m.miner_account()?,
		params,
		score,
	})
}

fn doctor_cmd(steps: usize, profile: Profile) -> Result<i32> {
	let pinned = profile::pin(profile)?;
	let report = doctor::run(steps, pinned)?;
	println!("libtorch version: {}", report.libtorch_version);
	println!(
		"profile:          {} (ATen {}, {} thread(s), {})",
		pinned.profile, pinned.host.aten_capability, pinned.host.threads, pinned.host.device_model
	);
	println!(
		"cuda:             {}",
		if report.cuda_available {
			format!("available ({} device(s))", report.cuda_devices)
		} else {
			"not available".to_string()
		}
	);
	for (step, loss) in report.losses.iter().enumerate() {
		log::debug!("step {step}: loss {loss:.6}");
	}
	println!(
		"tiny MLP, {steps} SGD steps: loss {:.6} -> {:.6}",
		report.initial_loss(),
		report.final_loss()
	);
	// A NaN loss counts as not falling.
	if report.final_loss().partial_cmp(&report.initial_loss()) != Some(std::cmp::Ordering::Less) {
		bail!("the loss did not fall: libtorch does not train correctly here");
	}
	println!("ok");
	Ok(0)
}

/// `doctor --determinism`: exit code 0 when this host may mine and validate the default profile.
fn determinism_cmd(
	data_root: Option<&Path>,
	write_golden: Option<&Path>,
	json: bool,
) -> Result<i32> {
	let exe = std::env::current_exe().context("finding this executable")?;
	let checks = doctor::determinism(&exe, data_root)?;
	if json {
		println!("{}", serde_json::to_string_pretty(&checks)?);
	} else {
		for c in &checks {
			let fitness = match c.fitness() {
				doctor::Fitness::Fit => "may mine and validate".to_string(),
				doctor::Fitness::Unknown => {
					"repeatable, but no vectors are pinned to compare: do not take part".to_string()
				}
				doctor::Fitness::Unfit(why) => format!("may NOT mine or validate: {why}"),
			};
			println!("{:<14} {fitness}", c.profile);
			if let Some(h) = &c.host {
				println!(
					"               ATen {}, {} thread(s), libtorch {}, {}",
					h.aten_capability, h.threads, h.libtorch, h.device_model
				);
			}
			for r in &c.runs {
				println!("               {}", pol_worker::golden::describe(r));
			}
		}
	}
	if let Some(path) = write_golden {
		let vectors = doctor::vectors_of(&checks);
		let text = serde_json::to_string_pretty(&vectors)? + "\n";
		std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
		println!(
			"golden vectors for {} profile(s) written to {}",
			vectors.profiles.len(),
			path.display()
		);
	}
	let default = Profile::default().to_string();
	let fit = checks
		.iter()
		.any(|c| c.profile == default && c.fitness() == doctor::Fitness::Fit);
	Ok(if fit || write_golden.is_some() { 0 } else { 1 })
}
