//! Task and worker configuration, from a TOML file.
//!
//! A [`TaskSpec`] is what the task creator fixes (model, data, hyperparameters, verification,
//! aggregation):
//! every miner and validator of a task must use the same one, so a proof bundle carries a copy
//! and the verifier rejects a bundle whose copy differs from its own. [`RunConfig`] is local to
//! one worker (where the data lives, progress bars) and is not part of the task.

use crate::aggregate::Rule;
use crate::profile::Profile;
use anyhow::{bail, ensure, Context, Result};
use pol_primitives::{
	hashing, AccountBytes, AggregationRule, Comparison, DatasetSource, DatasetSpec, Hash,
	Hyperparameters, Partition, VerificationSpec,
};
use serde::{Deserialize, Serialize};
use sp_runtime::{FixedU64, Perbill};
use std::path::{Path, PathBuf};

/// A task: what its creator fixed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
	/// The task's id and model.
	pub task: TaskSection,
	/// The data set and its split into shards.
	pub data: DataSection,
	/// Training hyperparameters.
	pub hyperparameters: HyperSection,
	/// How validators check a run.
	pub verification: VerificationSection,
	/// How validators combine the updates that passed; FedAvg by score when left out.
	#[serde(default)]
	pub aggregation: Rule,
}

/// The `[task]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSection {
	/// Task id (seeds the shards).
	pub id: u64,
	/// Model spec, e.g. `mlp:64-64-10` or `cnn:8x8x1-c8-c16-10`.
	pub model: String,
	/// Seed of the initial global model W₀ of round 0.
	#[serde(default)]
	pub init_seed: u64,
}

/// Where a task's samples come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
	/// The UCI digits exported by `scripts/setup.sh`.
	Digits,
	/// The deterministic synthetic generator.
	Synthetic,
	/// A directory of the worker's own (`x.npy` + `y.npy`, or `data.safetensors`).
	Dir,
}

/// Parameters of the synthetic generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticSection {
	/// Generator seed.
	pub seed: u64,
	/// Number of samples.
	pub samples: u32,
	/// Features per sample.
	pub features: u32,
	/// Number of classes.
	pub classes: u32,
}

/// How the training part is split into shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PartitionKind {
	/// Evenly, in a seeded random order.
	Iid,
	/// Each class spread over the shards by Dirichlet(α) proportions.
	Dirichlet,
}

/// The `[data]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
	/// The data set.
	pub source: SourceKind,
	/// Generator parameters, for `source = "synthetic"`.
	#[serde(default, skip_serializing_if = "Option::is_none")]
	pub synthetic: Option<SyntheticSection>,
	/// Number of miners' shards.
	pub num_shards: u32,
	/// IID or Dirichlet.
	pub partition: PartitionKind,
	/// Dirichlet concentration α (smaller: more skew).
	#[serde(default = "default_alpha")]
	pub alpha: f64,
	/// Share of the set held out for validation, in [0, 1).
	pub validation: f64,
}

fn default_alpha() -> f64 {
	1.0
}

/// The `[hyperparameters]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HyperSection {
	/// SGD learning rate.
	pub learning_rate: f64,
	/// SGD momentum; 0 for plain SGD.
	#[serde(default)]
	pub momentum: f64,
	/// Samples per step.
	pub batch_size: u32,
	/// Steps per round, S.
	pub local_steps: u32,
	/// Steps per checkpoint, k; divides S.
	pub checkpoint_interval: u32,
}

/// How replays are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComparisonKind {
	/// Equal model hashes.
	Exact,
	/// Distance relative to the segment's own update at most `tolerance`.
	Tolerance,
}

/// The `[verification]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerificationSection {
	/// Segments each validator replays, Q.
	pub segments_per_check: u32,
	/// `exact` or `tolerance`.
	pub comparison: ComparisonKind,
	/// Largest distance accepted relative to the segment's own update, for parameters and
	/// momentum, for `comparison = "tolerance"`; at most `MAX_TOLERANCE` (1%).
	#[serde(default)]
	pub tolerance: f64,
	/// What runs are trained and replayed under (`[verification.profile]`); CPU, AVX2, one
	/// thread when left out.
	#[serde(default)]
	pub profile: Profile,
}

/// The `[run]` section: this worker's own settings, not part of the task. The device and
/// threads are the task's (`[verification.profile]`): exact replay needs the same.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
	/// Directory of the exported data sets (default `$POL_DATA`, else
	/// `~/.cache/polchain/data`).
	#[serde(default, skip_serializing_if = "Option::is_none")]
	pub data_root: Option<PathBuf>,
	/// The directory of a `source = "dir"` data set.
	#[serde(default, skip_serializing_if = "Option::is_none")]
	pub data_path: Option<PathBuf>,
	/// Show progress bars.
	#[serde(default = "default_true")]
	pub progress: bool,
}

fn default_true() -> bool {
	true
}

impl RunConfig {
	/// Checks the worker's own settings against the task's data source, so that a typo is an
	/// error at start-up rather than a data set silently read from elsewhere.
	pub fn validate(&self, source: SourceKind) -> Result<()> {
		for (key, path) in [
			("data_root", &self.data_root),
			("data_path", &self.data_path),
		] {
			ensure!(
				path.as_ref().is_none_or(|p| !p.as_os_str().is_empty()),
				"{key} is empty: give a directory, or leave the key out"
			);
		}
		match (source, &self.data_path) {
			(SourceKind::Dir, None) => {
				bail!("source = \"dir\" needs data_path, the directory with x.npy and y.npy or data.safetensors")
			}
			(SourceKind::Digits | SourceKind::Synthetic, Some(_)) => bail!(
				"data_path is only read for source = \"dir\" (this task's source is {source:?}): \
				 leave it out, or use data_root for the exported data sets"
			),
			_ => Ok(()),
		}
	}
}

impl Default for RunConfig {
	fn default() -> Self {
		RunConfig {
			data_root: None,
			data_path: None,
			progress: true,
		}
	}
}

/// A configuration file: the task and this worker's `[run]` settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
	/// The `[task]` section.
	pub task: TaskSection,
	/// The `[data]` section.
	pub data: DataSection,
	/// The `[hyperparameters]` section.
	pub hyperparameters: HyperSection,
	/// The `[verification]` section.
	pub verification: VerificationSection,
	/// The `[aggregation]` section; FedAvg by score when left out.
	#[serde(default)]
	pub aggregation: Rule,
	/// The `[run]` section.
	#[serde(default)]
	pub run: RunConfig,
}

impl Config {
	/// Parses and checks a TOML configuration. A task file's `[chain]` section (the schedule,
	/// reward and budget `pol-worker task create` reads) holds no worker setting and is skipped,
	/// so a task file serves `train`, `verify`, `bench` and `attack-sim` as it is.
	pub fn from_toml(text: &str) -> Result<Config> {
		let mut table: toml::Table = toml::from_str(text).context("parsing the configuration")?;
		if table.get("chain").is_some_and(toml::Value::is_table) {
			table.remove("chain");
		}
		let config: Config = toml::Value::Table(table)
			.try_into()
			.context("parsing the configuration")?;
		config.spec().validate()?;
		config
			.run
			.validate(config.data.source)
			.context("in [run]")?;
		Ok(config)
	}

	/// Reads and checks a TOML configuration file.
	pub fn load(path: &Path) -> Result<Config> {
		let text = std::fs::read_to_string(path)
			.with_context(|| format!("reading the configuration {}", path.display()))?;
		Config::from_toml(&text).with_context(|| format!("in {}", path.display()))
	}

	/// A task's spec with this worker's own settings.
	pub fn new(spec: &TaskSpec, run: &RunConfig) -> Config {
		Config {
			task: spec.task.clone(),
			data: spec.data.clone(),
			hyperparameters: spec.hyperparameters.clone(),
			verification: spec.verification.clone(),
			aggregation: spec.aggregation,
			run: run.clone(),
		}
	}

	/// The task part.
	pub fn spec(&self) -> TaskSpec {
		TaskSpec {
			task: self.task.clone(),
			data: self.data.clone(),
			hyperparameters: self.hyperparameters.clone(),
			verification: self.verification.clone(),
			aggregation: self.aggregation,
		}
	}

	/// Where the exported data sets live.
	pub fn data_root(&self) -> PathBuf {
		if let Some(root) = &self.run.data_root {
			return root.clone();
		}
		if let Some(root) = std::env::var_os("POL_DATA") {
			return PathBuf::from(root);
		}
		let home = std::env::var_os("HOME")
			.map(PathBuf::from)
			.unwrap_or_default();
		home.join(".cache/polchain/data")
	}
}

impl TaskSpec {
	/// Checks what the chain would check of a task, and what the worker needs to run it.
	pub fn validate(&self) -> Result<()> {
		pol_primitives::ModelArch::parse(self.task.model.as_bytes())
			.map_err(|e| anyhow::anyhow!("bad model spec {:?}: {e:?}", self.task.model))?;
		let h = &self.hyperparameters;
		ensure!(
			h.learning_rate.is_finite() && h.learning_rate > 0.0,
			"learning_rate must be positive, got {}",
			h.learning_rate
		);
		ensure!(
			h.momentum.is_finite() && (0.0..1.0).contains(&h.momentum),
			"momentum must lie in [0, 1), got {}",
			h.momentum
		);
		ensure!(h.batch_size > 0, "batch_size must be at least 1");
		ensure!(
			self.hyperparameters().num_segments().is_some(),
			"checkpoint_interval ({}) must be positive and divide local_steps ({})",
			h.checkpoint_interval,
			h.local_steps
		);
		let d = &self.data;
		ensure!(d.num_shards > 0, "num_shards must be at least 1");
		ensure!(
			d.validation.is_finite() && (0.0..1.0).contains(&d.validation),
			"validation must lie in [0, 1), got {}",
			d.validation
		);
		if d.partition == PartitionKind::Dirichlet {
			ensure!(
				d.alpha.is_finite() && d.alpha > 0.0,
				"alpha must be positive, got {}",
				d.alpha
			);
		}
		match (d.source, &d.synthetic) {
			(SourceKind::Synthetic, None) => {
				bail!("source = \"synthetic\" needs [data.synthetic] seed, samples, features, classes")
			}
			(SourceKind::Synthetic, Some(s)) => ensure!(
				s.samples > 0 && s.features > 0 && s.classes > 1,
				"synthetic data needs samples > 0, features > 0 and classes > 1"
			),
			(_, Some(_)) => bail!("[data.synthetic] is only for source = \"synthetic\""),
			_ => {}
		}
		let v = &self.verification;
		let most = pol_primitives::specs::MAX_SEGMENTS_PER_CHECK;
		ensure!(
			(1..=most).contains(&v.segments_per_check),
			"segments_per_check must be between 1 and {most}"
		);
		let n = self.num_segments();
		let max_segments = pol_primitives::specs::MAX_SEGMENTS;
		ensure!(
			n <= max_segments,
			"local_steps / checkpoint_interval = {n} segments: the chain takes at most \
			 {max_segments} (raise checkpoint_interval)"
		);
		ensure!(
			v.segments_per_check <= n,
			"segments_per_check ({}) must not exceed the run's {n} segments (local_steps / \
			 checkpoint_interval)",
			v.segments_per_check
		);
		if v.comparison == ComparisonKind::Tolerance {
			let max = unperbill(pol_primitives::specs::MAX_TOLERANCE);
			ensure!(
				v.tolerance.is_finite() && v.tolerance > 0.0 && v.tolerance <= max,
				"tolerance must lie in (0, {max}] (a share of each segment's own update), got {}",
				v.tolerance
			);
		}
		v.profile
			.validate_task()
			.context("in [verification.profile]")?;
		self.aggregation.validate().context("in [aggregation]")?;
		Ok(())
	}

	/// The hyperparameters as the chain stores them.
	pub fn hyperparameters(&self) -> Hyperparameters {
		let h = &self.hyperparameters;
		Hyperparameters {
			learning_rate: fixed(h.learning_rate),
			momentum: fixed(h.momentum),
			batch_size: h.batch_size,
			local_steps: h.local_steps,
			checkpoint_interval: h.checkpoint_interval,
		}
	}

	/// The learning rate the worker trains with: the chain's fixed-point value, so that miners
	/// and validators who read it from the chain or from a file use the same number.
	pub fn learning_rate(&self) -> f64 {
		unfixed(fixed(self.hyperparameters.learning_rate))
	}

	/// The momentum the worker trains with (fixed-point, as [`Self::learning_rate`]).
	pub fn momentum(&self) -> f64 {
		unfixed(fixed(self.hyperparameters.momentum))
	}

	/// Segments per round, n.
	pub fn num_segments(&self) -> u32 {
		self.hyperparameters().num_segments().unwrap_or(0)
	}

	/// The data spec as the chain stores it.
	pub fn dataset(&self) -> DatasetSpec {
		let d = &self.data;
		DatasetSpec {
			source: match (d.source, d.synthetic) {
				(SourceKind::Synthetic, Some(s)) => DatasetSource::Synthetic {
					seed: s.seed,
					samples: s.samples,
					features: s.features,
					classes: s.classes,
				},
				// The chain knows public sets only; a directory stands for the miner's own.
				_ => DatasetSource::Digits,
			},
			num_shards: d.num_shards,
			partition: match d.partition {
				PartitionKind::Iid => Partition::Iid,
				PartitionKind::Dirichlet => Partition::Dirichlet {
					alpha: fixed(d.alpha),
				},
			},
			validation: perbill(d.validation),
		}
	}

	/// The verification rule as the chain stores it.
	pub fn verification(&self) -> VerificationSpec {
		let v = &self.verification;
		VerificationSpec {
			segments_per_check: v.segments_per_check,
			comparison: match v.comparison {
				ComparisonKind::Exact => Comparison::Exact,
				ComparisonKind::Tolerance => Comparison::Tolerance(perbill(v.tolerance)),
			},
			profile: v.profile.to_chain(),
		}
	}
}

impl TaskSpec {
	/// The aggregation rule as the chain stores it.
	pub fn aggregation(&self) -> AggregationRule {
		self.aggregation.to_chain()
	}
}

/// A float as the chain's fixed-point value (9 decimals).
pub fn fixed(x: f64) -> FixedU64 {
	FixedU64::from_inner((x * 1e9).round().max(0.0) as u64)
}

/// The float a fixed-point value stands for.
pub fn unfixed(x: FixedU64) -> f64 {
	x.into_inner() as f64 / 1e9
}

/// The fraction a `Perbill` stands for.
pub fn unperbill(p: Perbill) -> f64 {
	f64::from(p.deconstruct()) / 1e9
}

/// A fraction as the chain's `Perbill` (9 decimals, clamped to [0, 1]).
pub fn perbill(x: f64) -> Perbill {
	Perbill::from_parts((x * 1e9).round().clamp(0.0, 1e9) as u32)
}

/// An account from a command-line value: `0x` and 64 hex digits, or a name, which offline stands
/// for the account `blake2_256(name)` (`alice`, `bob`, … in tests and examples).
pub fn parse_account(text: &str) -> Result<AccountBytes> {
	if let Some(hex_part) = text.strip_prefix("0x") {
		let bytes =
			hex::decode(hex_part).with_context(|| format!("account {text:?} is not hex"))?;
		return bytes
			.try_into()
			.map_err(|_| anyhow::anyhow!("account {text:?} is not 32 bytes"));
	}
	ensure!(!text.is_empty(), "an empty account name");
	Ok(hashing::hash(text.as_bytes()).0)
}

/// A 32-byte hash from `0x` and 64 hex digits (the `0x` may be left out).
pub fn parse_hash(text: &str) -> Result<Hash> {
	let hex_part = text.strip_prefix("0x").unwrap_or(text);
	let bytes = hex::decode(hex_part).with_context(|| format!("{text:?} is not hex"))?;
	ensure!(bytes.len() == 32, "{text:?} is not 32 bytes");
	Ok(Hash::from_slice(&bytes))
}

/// Checks an artifact server's public URL: `http://host:port`, no path, no spaces, a host that is
/// not a wildcard address (`0.0.0.0` is where a server listens, not where others reach it).
pub fn check_public_url(url: &str) -> Result<()> {
	let Some(rest) = url.strip_prefix("http://") else {
		bail!("{url:?} is not an http:// URL (TLS belongs to a proxy in front, with its own URL)");
	};
	let authority = rest.trim_end_matches('/');
	ensure!(
		!authority.is_empty() && !authority.contains(['/', '?', '#', ' ', '@']),
		"{url:?} is not http://host:port"
	);
	let (host, port) = authority
		.rsplit_once(':')
		.with_context(|| format!("{url:?} names no port"))?;
	ensure!(!host.is_empty(), "{url:?} names no host");
	port.parse::<u16>()
		.ok()
		.filter(|p| *p != 0)
		.with_context(|| format!("{url:?}: port {port:?} is not 1 to 65535"))?;
	let bare = host.trim_start_matches('[').trim_end_matches(']');
	ensure!(
		!matches!(bare, "0.0.0.0" | "::"),
		"{url:?}: others cannot reach {host}; give --public-url with this host's address"
	);
	Ok(())
}

/// `0x` and the hex digits of 32 bytes.
pub fn hex32(bytes: &[u8; 32]) -> String {
	format!("0x{}", hex::encode(bytes))
}

/// The example configuration of the tests.
#[cfg(test)]
pub(crate) fn tests_example() -> &'static str {
	tests::EXAMPLE
}

#[cfg(test)]
mod tests {
	use super::*;

	pub(crate) const EXAMPLE: &str = r#"
[task]
id = 7
model = "mlp:64-32-10"

[data]
source = "digits"
num_shards = 5
partition = "dirichlet"
alpha = 0.5
validation = 0.2

[hyperparameters]
learning_rate = 0.1
momentum = 0.9
batch_size = 32
local_steps = 40
checkpoint_interval = 10

[verification]
segments_per_check = 3
comparison = "exact"
"#;

	#[test]
	fn parses_an_example_and_defaults_the_run_section() {
		let c = Config::from_toml(EXAMPLE).unwrap();
		assert_eq!(c.task.id, 7);
		assert!(c.run.progress);
		assert_eq!(
			c.verification.profile,
			Profile::default(),
			"the default profile"
		);
		assert_eq!(c.verification.profile.to_string(), "cpu/avx2/1");
		assert_eq!(c.spec().num_segments(), 4);
		assert_eq!(c.spec().learning_rate(), 0.1);
		assert_eq!(
			c.spec().dataset().partition,
			Partition::Dirichlet {
				alpha: FixedU64::from_rational(1, 2)
			}
		);
	}

	#[test]
	fn bad_configurations_are_errors() {
		let bad = [
			EXAMPLE.replace("checkpoint_interval = 10", "checkpoint_interval = 7"),
			EXAMPLE.replace("mlp:64-32-10", "rnn:3"),
			EXAMPLE.replace("learning_rate = 0.1", "learning_rate = -1.0"),
			EXAMPLE.replace("momentum = 0.9", "momentum = 1.5"),
			EXAMPLE.replace("num_shards = 5", "num_shards = 0"),
			EXAMPLE.replace("validation = 0.2", "validation = 1.0"),
			EXAMPLE.replace("source = \"digits\"", "source = \"synthetic\""),
			EXAMPLE.replace("[verification]", "[verification]\nunknown_key = 1"),
			// More challenges than segments, more segments than the chain takes.
			EXAMPLE.replace("segments_per_check = 3", "segments_per_check = 5"),
			EXAMPLE
				.replace("local_steps = 40", "local_steps = 2050")
				.replace("checkpoint_interval = 10", "checkpoint_interval = 2"),
			// A [chain] section is skipped only as a table.
			format!("chain = 1\n{EXAMPLE}"),
			format!("{EXAMPLE}[verification.profile]\nthreads = 0\n"),
			format!("{EXAMPLE}[verification.profile]\nthreads = 65\n"),
			format!("{EXAMPLE}[verification.profile]\nisa = \"sse4\"\n"),
			format!("{EXAMPLE}[run]\nthreads = 2\n"),
			// data_path belongs to a directory data set only; such a set needs one.
			format!("{EXAMPLE}[run]\ndata_path = \"/data/mine\"\n"),
			EXAMPLE.replace("source = \"digits\"", "source = \"dir\""),
			format!("{EXAMPLE}[run]\ndata_root = \"\"\n"),
			"not toml at all [".to_string(),
		];
		for text in bad {
			assert!(Config::from_toml(&text).is_err(), "{text}");
		}
	}

	#[test]
	fn a_directory_data_set_with_its_path() {
		let text = format!(
			"{}[run]\ndata_path = \"/data/mine\"\n",
			EXAMPLE.replace("source = \"digits\"", "source = \"dir\"")
		);
		let c = Config::from_toml(&text).unwrap();
		assert_eq!(c.run.data_path.as_deref(), Some(Path::new("/data/mine")));
	}

	#[test]
	fn a_task_files_chain_section_is_skipped() {
		let with_chain = format!("{EXAMPLE}[chain]\nrounds = 10\nbudget = 1000.0\n");
		assert_eq!(
			Config::from_toml(&with_chain).unwrap(),
			Config::from_toml(EXAMPLE).unwrap()
		);
	}

	#[test]
	fn a_profile_from_a_file_or_a_flag() {
		let c = Config::from_toml(&format!(
			"{EXAMPLE}[verification.profile]\ndevice = \"cuda\"\ngpu = \"NVIDIA H100 80GB HBM3\"\nthreads = 4\n"
		))
		.unwrap();
		let p = c.verification.profile;
		assert_eq!(p.to_string(), "cuda:NVIDIA H100 80GB HBM3/avx2/4");
		assert_eq!(p.to_string().parse::<Profile>().unwrap(), p);
		assert_eq!(Profile::from_chain(&p.to_chain()), p);
		assert_eq!(c.spec().verification().profile, p.to_chain());
		assert!(p.to_chain().is_valid());
		// A worker's flag may leave the class to its host; a task's CUDA profile must name it
		// (the chain refuses one without), and a CPU one names none.
		let flag: Profile = "cuda/avx2/4".parse().unwrap();
		assert!(flag.serves(&flag) && p.serves(&flag) && !flag.serves(&p));
		for bad in [
			format!("{EXAMPLE}[verification.profile]\ndevice = \"cuda\"\n"),
			format!("{EXAMPLE}[verification.profile]\ngpu = \"NVIDIA H100 80GB HBM3\"\n"),
			format!("{EXAMPLE}[verification.profile]\ndevice = \"cuda\"\ngpu = \" H100\"\n"),
		] {
			assert!(Config::from_toml(&bad).is_err(), "{bad}");
		}
		assert!(!flag.to_chain().is_valid());
		for bad in [
			"cpu/avx2",
			"gpu/avx2/1",
			"cpu/sse4/1",
			"cpu/avx2/0",
			"cpu/avx2/x",
			"cpu:NVIDIA H100/avx2/1",
			"cuda:/avx2/1",
		] {
			assert!(bad.parse::<Profile>().is_err(), "{bad}");
		}
	}

	#[test]
	fn public_urls_others_can_reach() {
		for good in [
			"http://10.0.0.5:8700",
			"http://my-host:8711/",
			"http://[::1]:8700",
		] {
			assert!(check_public_url(good).is_ok(), "{good}");
		}
		for bad in [
			"https://host:8700",
			"host:8700",
			"http://host",
			"http://host:0",
			"http://host:99999",
			"http://host:8700/v1",
			"http://0.0.0.0:8700",
			"http://[::]:8700",
			"http://:8700",
			"http://ho st:8700",
		] {
			assert!(check_public_url(bad).is_err(), "{bad}");
		}
	}

	#[test]
	fn accounts_from_hex_or_names() {
		let alice = parse_account("alice").unwrap();
		assert_eq!(alice, hashing::hash(b"alice").0);
		assert_eq!(parse_account(&hex32(&alice)).unwrap(), alice);
		assert!(parse_account("0x1234").is_err());
		assert!(parse_account("0xzz").is_err());
		assert!(parse_hash("0x12").is_err());
	}
}
