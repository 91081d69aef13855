//! `pol-worker bench`: what training and verification cost for a task.
//!
//! Three figures: the bare training loop (the same loop as `scripts/bench/bench_torch.py`, so
//! the two can be compared: every sample of the set, batches derived as the protocol derives
//! them, SGD by hand), a miner's whole run (checkpoints, hashes, bundle), and a validator's
//! verification of that run (hashing every checkpoint, replaying the challenged segments,
//! evaluating), as a fraction of the miner's cost.

use crate::config::Config;
use crate::data::TaskData;
use crate::model::Model;
use crate::profile::Pinned;
use crate::proof::Checkpoint;
use crate::train::{progress_bar, MinerRun, Trainer};
use crate::verify::{verify_bundle, Expected, Validator};
use anyhow::{ensure, Result};
use pol_primitives::{hashing, Hash};
use serde::Serialize;
use std::time::Instant;

/// The data seed of the bare loop; `bench_torch.py` uses the same.
pub fn bench_data_seed() -> Hash {
	hashing::hash(b"pol-bench")
}

/// What `bench` measured.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
	/// Model spec.
	pub model: String,
	/// The determinism profile, e.g. `cpu/avx2/1`.
	pub profile: String,
	/// The CPU kernels ATen dispatched to.
	pub aten_capability: String,
	/// libtorch intra-op threads.
	pub threads: i32,
	/// Batch size.
	pub batch_size: u32,
	/// Steps of the bare loop.
	pub loop_steps: u32,
	/// Bare training loop, steps per second.
	pub loop_steps_per_s: f64,
	/// Steps of the miner's run (S).
	pub train_steps: u32,
	/// The miner's run with checkpoints and bundle, steps per second.
	pub train_steps_per_s: f64,
	/// Seconds of the miner's run.
	pub train_secs: f64,
	/// Steps replayed by the validator.
	pub replayed_steps: u64,
	/// Replay, steps per second.
	pub replay_steps_per_s: f64,
	/// Seconds of the whole verification.
	pub verify_secs: f64,
	/// Verification cost as a fraction of the miner's.
	pub verify_fraction: f64,
	/// The verification's verdict (must be Pass).
	pub verdict: String,
}

/// Runs the benchmark for `config` under the task's profile, `pinned`: `loop_steps` steps of the
/// bare loop, then the task's round.
pub fn run(
	config: &Config,
	data: &TaskData,
	loop_steps: u32,
	pinned: &Pinned,
) -> Result<BenchReport> {
	ensure!(loop_steps > 0, "the bare loop needs at least one step");
	let spec = config.spec();
	let device = pinned.device();
	let start = Model::new(&spec.task.model, spec.task.init_seed, device)?.params()?;
	let dataset = data.on(device);

	// The bare loop over the whole set.
	let all: Vec<i64> = (0..dataset.len() as i64).collect();
	let ckpt = Checkpoint::start(start.clone(), spec.momentum() > 0.0);
	let mut trainer = Trainer::new(&spec, &ckpt, &dataset, &all, bench_data_seed(), device)?;
	let warmup = loop_steps.min(20);
	let hidden = progress_bar(false, 0, "");
	trainer.run(0, warmup, &hidden)?;
	let bar = progress_bar(config.run.progress, u64::from(loop_steps), "loop");
	let t = Instant::now();
	trainer.run(warmup, warmup + loop_steps, &bar)?;
	let loop_secs = t.elapsed().as_secs_f64();
	bar.finish_and_clear();

	// A miner's round, then a validator's check of it.
	let dir = std::env::temp_dir().join(format!("pol-bench-{}", std::process::id()));
	let _ = std::fs::remove_dir_all(&dir);
	let miner = hashing::hash(b"bench-miner").0;
	let round_seed = hashing::round_seed(spec.task.id, 0, &Hash::zero());
	let run = MinerRun {
		spec: &spec,
		data,
		round: 0,
		round_seed,
		miner,
		start: &start,
		pinned,
		progress: config.run.progress,
	};
	let t = Instant::now();
	run.train_bundle(&dir)?;
	let train_secs = t.elapsed().as_secs_f64();
	let expected = Expected {
		spec: &spec,
		round: 0,
		round_seed,
		miner,
		start: &start,
		root: None,
		final_model_hash: None,
		start_loss: None,
	};
	let validator = Validator {
		data,
		account: hashing::hash(b"bench-validator").0,
		randomness: hashing::challenge_seed(spec.task.id, 0, &Hash::zero()),
		all_segments: false,
		only_segment: None,
		pinned,
		progress: config.run.progress,
		deadline: None,
	};
	let t = Instant::now();
	let report = verify_bundle(&dir, &expected, &validator)?;
	let verify_secs = t.elapsed().as_secs_f64();
	let _ = std::fs::remove_dir_all(&dir);
	let s = spec.hyperparameters.local_steps;
	Ok(BenchReport {
		model: spec.task.model.clone(),
		profile: pinned.profile.to_string(),
		aten_capability: pinned.host.aten_capability.clone(),
		threads: pinned.host.threads,
		batch_size: spec.hyperparameters.batch_size,
		loop_steps,
		loop_steps_per_s: f64::from(loop_steps) / loop_secs,
		train_steps: s,
		train_steps_per_s: f64::from(s) / train_secs,
		train_secs,
		replayed_steps: report.replayed_steps,
		replay_steps_per_s: report.replayed_steps as f64 / report.replay_secs.max(1e-9),
		verify_secs,
		verify_fraction: verify_secs / train_secs,
		verdict: report.outcome.to_string(),
	})
}
