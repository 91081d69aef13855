//! Golden vectors: a canonical short run of each shipped model, whose checkpoint hashes are
//! pinned in `ml-worker/golden/vectors.json` for each determinism profile they were measured
//! under. A host (or a libtorch build, or a change of code) that does not reproduce them under
//! a profile would have its honest runs judged against other bits: it must not mine or validate
//! under that profile. `pol-worker doctor --determinism` runs them; so does the test suite.
//!
//! Regenerate after a deliberate change of libtorch, of the training code or of a profile's
//! environment: `pol-worker doctor --determinism --write-golden ml-worker/golden/vectors.json`,
//! then check that a machine of the other CPU vendor reproduces them (docs/PERFORMANCE.md).

use crate::config::{hex32, Config};
use crate::data::TaskData;
use crate::model::{hash_named, Model};
use crate::profile::Pinned;
use crate::train::MinerRun;
use anyhow::{Context, Result};
use pol_primitives::{hashing, Hash};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The pinned vectors, as committed.
pub const VECTORS: &str = include_str!("../golden/vectors.json");

/// A golden task's TOML: digits, one shard, IID, the default profile's section left to the
/// profile that runs it.
macro_rules! golden_task {
	($model:literal, $lr:literal) => {
		concat!(
			"[task]\nid = 1\nmodel = \"",
			$model,
			"\"\n[data]\nsource = \"digits\"\nnum_shards = 1\npartition = \"iid\"\n",
			"validation = 0.2\n[hyperparameters]\nlearning_rate = ",
			$lr,
			"\nmomentum = 0.9\nbatch_size = 32\nlocal_steps = 20\ncheckpoint_interval = 10\n",
			"[verification]\nsegments_per_check = 1\ncomparison = \"exact\"\n"
		)
	};
}

/// The canonical runs: the shipped models on digits, 20 momentum-SGD steps, a checkpoint every
/// 10, batch 32 (the shipped tasks' batch).
pub const RUNS: [(&str, &str); 2] = [
	("digits-mlp", golden_task!("mlp:64-64-10", "0.05")),
	("digits-cnn", golden_task!("cnn:8x8x1-c8-c16-10", "0.1")),
];

/// The vectors file: per profile (`cpu/avx2/1`), per run, the model hashes of checkpoints 0,
/// 1 and 2 (steps 0, 10 and 20).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vectors {
	/// The libtorch they were measured with.
	pub libtorch: String,
	/// Profile → run → hashes.
	pub profiles: BTreeMap<String, BTreeMap<String, Vec<Hash>>>,
}

impl Vectors {
	/// The committed vectors.
	pub fn pinned() -> Result<Vectors> {
		serde_json::from_str(VECTORS).context("parsing ml-worker/golden/vectors.json")
	}
}

/// One golden run under this process's profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
	/// The run's name.
	pub name: String,
	/// The model hashes of its checkpoints.
	pub hashes: Vec<Hash>,
	/// Whether a second run in the same process gave the same hashes.
	pub repeatable: bool,
	/// Whether they are the pinned vectors; `None` where none are pinned for the profile.
	pub reproduces: Option<bool>,
}

/// Runs every golden run under `pinned`, twice, and compares with the pinned vectors.
pub fn check(pinned: &Pinned, data_root: Option<&Path>) -> Result<Vec<RunResult>> {
	let vectors = Vectors::pinned()?;
	let reference = vectors.profiles.get(&pinned.profile.to_string());
	let mut results = Vec::new();
	for (name, toml) in RUNS {
		let first = run(toml, pinned, data_root).with_context(|| format!("golden run {name}"))?;
		let second = run(toml, pinned, data_root).with_context(|| format!("golden run {name}"))?;
		let reproduces = reference
			.filter(|_| vectors.libtorch == crate::LIBTORCH_VERSION)
			.and_then(|runs| runs.get(name))
			.map(|pinned| *pinned == first);
		results.push(RunResult {
			name: name.to_string(),
			repeatable: first == second,
			hashes: first,
			reproduces,
		});
	}
	Ok(results)
}

/// The model hashes of one golden run's checkpoints under `pinned`.
pub fn run(toml: &str, pinned: &Pinned, data_root: Option<&Path>) -> Result<Vec<Hash>> {
	let mut config = Config::from_toml(toml)?;
	config.verification.profile = pinned.profile;
	config.run.data_root = data_root.map(Path::to_path_buf);
	config.run.progress = false;
	let spec = config.spec();
	let data = TaskData::load(&config)?;
	let start = Model::new(&spec.task.model, spec.task.init_seed, pinned.device())?.params()?;
	let run = MinerRun {
		spec: &spec,
		data: &data,
		round: 0,
		round_seed: hashing::round_seed(spec.task.id, 0, &Hash::zero()),
		miner: hashing::hash(b"golden").0,
		start: &start,
		pinned,
		progress: false,
	};
	run.train()?
		.checkpoints
		.iter()
		.map(|c| hash_named(&c.params))
		.collect()
}

/// One line per run, for people.
pub fn describe(r: &RunResult) -> String {
	let last = r.hashes.last().map(|h| hex32(&h.0)).unwrap_or_default();
	let reproduces = match r.reproduces {
		Some(true) => "reproduces the pinned vectors",
		Some(false) => "DOES NOT reproduce the pinned vectors",
		None => "no vectors pinned for this profile and libtorch",
	};
	let repeatable = if r.repeatable {
		"repeatable"
	} else {
		"NOT repeatable"
	};
	format!("{}: {repeatable}, {reproduces} (final {last})", r.name)
}

/// Whether a worker may mine or validate under the profile `results` were run under: not when
/// a golden run does not repeat, or gives other bits than the pinned vectors. Such a host's
/// honest runs would fail every other validator's replay, and its replays would fail every
/// honest miner's run (an Intel and an AMD CPU did, under MKL's Intel-only branches). Where no
/// vectors are pinned for the profile nothing can be said, and the worker goes on.
pub fn judge(profile: &str, results: &[RunResult]) -> Result<()> {
	for r in results {
		anyhow::ensure!(
			r.repeatable,
			"golden run {} does not repeat under profile {profile} on this host: its runs \
			 could not be replayed; run `pol-worker doctor --determinism`",
			r.name
		);
		anyhow::ensure!(
			r.reproduces != Some(false),
			"this host does not reproduce the golden vectors of profile {profile} ({}): its \
			 runs and replays would disagree with every other worker's, so it must not mine or \
			 validate under it; run `pol-worker doctor --determinism` to see which profiles it \
			 reproduces",
			describe(r)
		);
	}
	Ok(())
}

/// Refuses a libtorch build other than [`crate::profile::PINNED_LIBTORCH`], then runs the
/// golden runs under this process's profile and [`judge`]s them: what a miner and a validator do
/// once at start-up. A host without the digits set cannot run them and is only warned.
pub fn gate(pinned: &Pinned, data_root: Option<&Path>) -> Result<()> {
	// Another libtorch build than the protocol's: refused before anything else, as a host that
	// does not reproduce the vectors is (whether vectors are pinned for it or not).
	crate::profile::refuse_other_libtorch(&pinned.host.libtorch)?;
	let profile = pinned.profile.to_string();
	let results = match check(pinned, data_root) {
		Ok(results) => results,
		Err(e) if pinned.profile.device == crate::profile::DeviceKind::Cuda => {
			return Err(e.context("the golden vectors could not run on CUDA"));
		}
		Err(e) => {
			log::warn!("the golden vectors could not run, determinism unchecked: {e:#}");
			return Ok(());
		}
	};
	judge(&profile, &results)?;
	let pinned_here = results.iter().all(|r| r.reproduces == Some(true));
	if pinned.profile.device == crate::profile::DeviceKind::Cuda && !pinned_here {
		// No GPU class's bits have been pinned yet: a CUDA worker whose determinism nobody has
		// checked could fail honest replays (or be failed by them), so it does not take part.
		anyhow::bail!(
			"no golden vectors are pinned for profile {profile} and this libtorch: a CUDA \
			 worker takes part only on a GPU class whose vectors `pol-worker doctor \
			 --determinism` produced and ml-worker/golden/vectors.json pins"
		);
	}
	if pinned_here {
		log::info!("this host reproduces the golden vectors of profile {profile}");
	} else {
		log::warn!("no golden vectors are pinned for profile {profile} and this libtorch");
	}
	Ok(())
}

#[cfg(test)]
mod tests {
	use super::*;

	fn result(repeatable: bool, reproduces: Option<bool>) -> RunResult {
		RunResult {
			name: "digits-mlp".into(),
			hashes: vec![Hash::zero()],
			repeatable,
			reproduces,
		}
	}

	#[test]
	fn a_host_that_does_not_reproduce_the_vectors_may_not_work_under_the_profile() {
		assert!(judge("cpu/avx2/1", &[result(true, Some(true))]).is_ok());
		assert!(judge("cpu/avx2/1", &[result(true, None)]).is_ok());
		let e = judge(
			"cpu/avx2/1",
			&[result(true, Some(true)), result(true, Some(false))],
		)
		.unwrap_err()
		.to_string();
		assert!(
			e.contains("does not reproduce the golden vectors of profile cpu/avx2/1"),
			"{e}"
		);
		let e = judge("cpu/avx2/1", &[result(false, None)])
			.unwrap_err()
			.to_string();
		assert!(e.contains("does not repeat"), "{e}");
	}
}
