//! `pol-worker bench`: what training, proofs and verification cost for a task.
//!
//! Each repetition measures, one after the other on the same process:
//! - the bare training loop over the whole set (the loop `scripts/bench/bench_torch.py` runs in
//!   PyTorch, so the two compare: batches derived as the protocol derives them);
//! - the miner's S steps on its shard without proofs ("bare"), and the same run with proofs
//!   (checkpoints hashed and written beside training, the manifest), in turns first and second:
//!   their difference is what the proofs cost the miner;
//! - the same two, segment by segment in turns ([`interleaved`]): on a shared VM whole runs of
//!   a few seconds differ by tens of percent at random, segments next to each other do not;
//! - one validator's remote verification of that run, as on a live chain: the bundle served on
//!   loopback, the manifest and the challenged checkpoints fetched, hashed, the Q segments
//!   replayed and the final model evaluated. The round's start model is evaluated once per
//!   round, not per miner, and is reported apart.
//!
//! The machine may be shared: every figure is the best of the repetitions (the least
//! disturbed), and all are kept in the report.

use crate::attack::Detection;
use crate::config::Config;
use crate::data::Dataset;
use crate::data::TaskData;
use crate::model::Model;
use crate::profile::Pinned;
use crate::proof::{BundleWriter, Checkpoint};
use crate::store::{self, Store};
use crate::train::{progress_bar, MinerRun, ProofTimes, Trainer};
use crate::verify::{start_loss, verify_served, Expected, Validator};
use anyhow::{ensure, Context, Result};
use pol_primitives::{hashing, Hash};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// The data seed of the bare loop; `bench_torch.py` uses the same.
pub fn bench_data_seed() -> Hash {
	hashing::hash(b"pol-bench")
}

/// What `bench` measured (seconds are the best of `repeat` repetitions).
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
	/// Repetitions of each measurement.
	pub repeat: u32,
	/// Steps of the bare loop over the whole set.
	pub loop_steps: u32,
	/// Bare loop over the whole set, steps per second (compare `bench_torch.py`).
	pub loop_steps_per_s: f64,
	/// Steps of the miner's run (S).
	pub train_steps: u32,
	/// Segments of the run (n).
	pub num_segments: u32,
	/// Steps per segment (k).
	pub checkpoint_interval: u32,
	/// Segments each validator replays (Q).
	pub segments_per_check: u32,
	/// The miner's S steps without proofs, steps per second.
	pub bare_steps_per_s: f64,
	/// Seconds of those.
	pub bare_secs: f64,
	/// The miner's run with proofs (checkpoints, hashes, manifest), steps per second.
	pub train_steps_per_s: f64,
	/// Seconds of the miner's run with proofs.
	pub train_secs: f64,
	/// What the proofs add to the miner's run: the median over the repetitions of each one's
	/// run with proofs over its run without, less 1 (paired, so that a disturbance that slows
	/// a whole repetition cancels; the best-of figures are noisier for this difference).
	pub proof_overhead: f64,
	/// Seconds the training thread spent on the checkpoints (copying each out of libtorch and
	/// handing it to the writer), in the best run with proofs: the proofs' cost on the critical
	/// path, free of the machine's noise that moves whole runs.
	pub proof_thread_secs: f64,
	/// `proof_thread_secs / train_secs`.
	pub proof_thread_fraction: f64,
	/// The bundle writer thread's CPU seconds in that run: the proofs' work beside training,
	/// on another core when there is one.
	pub proof_writer_cpu_secs: f64,
	/// What the proofs add, measured segment by segment: a bare trainer and one whose
	/// checkpoints go to a bundle writer take turns every segment ([`interleaved`]), so that
	/// the machine's speed, which on a shared VM drifts by tens of percent between runs of a
	/// few seconds, is the same for both. Median over the repetitions.
	pub proof_overhead_interleaved: f64,
	/// Seconds to put the bundle into the miner's artifact store (after training).
	pub publish_secs: f64,
	/// Steps replayed by the validator.
	pub replayed_steps: u64,
	/// Replay, steps per second (best repetition).
	pub replay_steps_per_s: f64,
	/// Share of the training a validator replays (Q / n).
	pub replay_fraction: f64,
	/// Seconds of one validator's remote verification: fetching, hashing, replaying,
	/// evaluating the final model.
	pub verify_secs: f64,
	/// Seconds of evaluating the round's start model (once per round, for every miner).
	pub start_eval_secs: f64,
	/// Verification cost as a share of the miner's: `verify_secs / train_secs`.
	pub verify_fraction: f64,
	/// Bytes of the miner's bundle (manifest and n + 1 checkpoints).
	pub bundle_bytes: u64,
	/// Bytes the validator fetched.
	pub fetched_bytes: u64,
	/// Chance one validator catches a miner forging a quarter of its segments.
	pub detection_1: f64,
	/// Chance one of three validators does.
	pub detection_3: f64,
	/// The verification's verdict (must be Pass).
	pub verdict: String,
	/// Every repetition's seconds: bare loop, bare run, run with proofs, verification, replay,
	/// the proofs on the training thread, the writer's CPU, and the interleaved measure's bare
	/// and proof turns.
	pub runs: Vec<[f64; 9]>,
}

/// Runs the benchmark for `config` under the task's profile, `pinned`: `repeat` times the bare
/// loop of `loop_steps` steps, the miner's run without and with proofs, and a validator's
/// remote check of it.
pub fn run(
	config: &Config,
	data: &TaskData,
	loop_steps: u32,
	repeat: u32,
	pinned: &Pinned,
) -> Result<BenchReport> {
	ensure!(loop_steps > 0, "the bare loop needs at least one step");
	ensure!(repeat > 0, "--repeat must be at least 1");
	let spec = config.spec();
	let device = pinned.device();
	let start = Model::new(&spec.task.model, spec.task.init_seed, device)?.params()?;
	let dataset = data.on(device);
	let hidden = progress_bar(false, 0, "");
	let ckpt = Checkpoint::start(start.clone(), spec.momentum() > 0.0);
	let s = spec.hyperparameters.local_steps;

	let work = std::env::temp_dir().join(format!("pol-bench-{}", std::process::id()));
	let _ = std::fs::remove_dir_all(&work);
	let bundle = work.join("bundle");
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
		progress: false,
	};
	let (_, shard) = run.shard()?;
	let all: Vec<i64> = (0..dataset.len() as i64).collect();

	let t = Instant::now();
	let l0 = start_loss(&spec, &start, data, pinned)?;
	let start_eval_secs = t.elapsed().as_secs_f64();
	let expected = Expected {
		spec: &spec,
		round: 0,
		round_seed,
		miner,
		start: &start,
		root: None,
		final_model_hash: None,
		start_loss: Some(l0),
	};
	let validator = Validator {
		data,
		account: hashing::hash(b"bench-validator").0,
		randomness: hashing::challenge_seed(spec.task.id, 0, &Hash::zero()),
		all_segments: false,
		only_segments: None,
		pinned,
		progress: false,
		deadline: None,
	};

	let mut runs = Vec::new();
	let mut last = None;
	let bar = progress_bar(config.run.progress, u64::from(repeat), "bench");
	for i in 0..repeat {
		// The bare loop over the whole set, after a short warm-up.
		let mut trainer = Trainer::new(&spec, &ckpt, &dataset, &all, bench_data_seed(), device)?;
		let warmup = loop_steps.min(20);
		trainer.run(0, warmup, &hidden)?;
		let t = Instant::now();
		trainer.run(warmup, warmup + loop_steps, &hidden)?;
		let loop_secs = t.elapsed().as_secs_f64();

		// The miner's S steps without and with proofs, in turns first and second, so that what
		// the order does (caches, the allocator, the page cache) falls on both alike.
		let bare = || -> Result<f64> {
			let mut trainer = Trainer::new(&spec, &ckpt, &dataset, shard, run.data_seed(), device)?;
			let t = Instant::now();
			trainer.run(0, s, &hidden)?;
			Ok(t.elapsed().as_secs_f64())
		};
		let with_proofs = || -> Result<(f64, ProofTimes)> {
			let _ = std::fs::remove_dir_all(&work);
			let t = Instant::now();
			let (_, times) = run.train_bundle_timed(&bundle)?;
			Ok((t.elapsed().as_secs_f64(), times))
		};
		let (bare_secs, (train_secs, proof_times)) = if i % 2 == 0 {
			(bare()?, with_proofs()?)
		} else {
			let proofs = with_proofs()?;
			(bare()?, proofs)
		};

		let (inter_bare, inter_proofs) =
			interleaved(&run, &ckpt, &dataset, shard, &work.join("interleaved"))?;

		// A validator's check of it, fetched from the miner's store over loopback.
		let t = Instant::now();
		let store = Store::open(&work.join("store"), store::DEFAULT_MAX_BYTES)?;
		let manifest_hash = store.put_bundle(&bundle)?;
		let publish_secs = t.elapsed().as_secs_f64();
		let server = store::serve(store, "127.0.0.1:0").context("serving the bundle")?;
		let fetched = work.join("fetched");
		std::fs::create_dir_all(&fetched)
			.with_context(|| format!("creating {}", fetched.display()))?;
		let t = Instant::now();
		let report = verify_served(
			&fetched,
			&server.url(),
			&manifest_hash,
			&expected,
			&validator,
		)?;
		let verify_secs = t.elapsed().as_secs_f64();
		server.stop();
		runs.push([
			loop_secs,
			bare_secs,
			train_secs,
			verify_secs,
			report.replay_secs,
			proof_times.training_thread_secs,
			proof_times.writer_cpu_secs.unwrap_or(0.0),
			inter_bare,
			inter_proofs,
		]);
		last = Some((report, publish_secs, dir_bytes(&bundle)?));
		bar.inc(1);
	}
	bar.finish_and_clear();
	let _ = std::fs::remove_dir_all(&work);
	let (report, publish_secs, bundle_bytes) = last.context("no repetition ran")?;
	let best = |i: usize| runs.iter().map(|r| r[i]).fold(f64::INFINITY, f64::min);
	let (loop_secs, bare_secs, train_secs, verify_secs) = (best(0), best(1), best(2), best(3));
	let proof_overhead = median(runs.iter().map(|r| r[2] / r[1] - 1.0).collect());
	let proof_overhead_interleaved = median(runs.iter().map(|r| r[8] / r[7] - 1.0).collect());
	let n = spec.num_segments();
	let q = spec.verification.segments_per_check;
	let detection = Detection::of(n, q);
	Ok(BenchReport {
		model: spec.task.model.clone(),
		profile: pinned.profile.to_string(),
		aten_capability: pinned.host.aten_capability.clone(),
		threads: pinned.host.threads,
		batch_size: spec.hyperparameters.batch_size,
		repeat,
		loop_steps,
		loop_steps_per_s: f64::from(loop_steps) / loop_secs,
		train_steps: s,
		num_segments: n,
		checkpoint_interval: spec.hyperparameters.checkpoint_interval,
		segments_per_check: q,
		bare_steps_per_s: f64::from(s) / bare_secs,
		bare_secs,
		train_steps_per_s: f64::from(s) / train_secs,
		train_secs,
		proof_overhead,
		proof_thread_secs: best(5),
		proof_thread_fraction: best(5) / train_secs,
		proof_writer_cpu_secs: best(6),
		proof_overhead_interleaved,
		publish_secs,
		replayed_steps: report.replayed_steps,
		replay_steps_per_s: report.replayed_steps as f64 / best(4).max(1e-9),
		replay_fraction: detection.replay_fraction,
		verify_secs,
		start_eval_secs,
		verify_fraction: verify_secs / train_secs,
		bundle_bytes,
		fetched_bytes: report.fetched.as_ref().map_or(0, |f| f.bytes),
		detection_1: detection.caught_by_1,
		detection_3: detection.caught_by_3,
		verdict: report.outcome.to_string(),
		runs,
	})
}

/// The proofs' cost with the machine's drift cancelled: two trainers on the miner's shard and
/// batches, one bare and one whose checkpoints go to a bundle writer in `dir`, take turns every
/// segment, the first of each turn alternating. As in the miner's run, the writer works on
/// checkpoint j while segment j + 1 trains with proofs: the checkpoint is handed over at the
/// start of the next proof turn, and the turn ends when the writer is idle, so that none of its
/// work (nor its interference: it shares the machine's caches and disk) falls into a bare
/// segment. Returns the seconds of the bare turns and of the turns with proofs (each with its
/// copy out of libtorch, the hand-over, the writer's leftover; at the end, the last checkpoint
/// and the manifest).
fn interleaved(
	run: &MinerRun,
	start: &Checkpoint,
	dataset: &Dataset,
	shard: &[i64],
	dir: &Path,
) -> Result<(f64, f64)> {
	let spec = run.spec;
	let device = run.pinned.device();
	let hidden = progress_bar(false, 0, "");
	let _ = std::fs::remove_dir_all(dir);
	let mut bare = Trainer::new(spec, start, dataset, shard, run.data_seed(), device)?;
	let mut proved = Trainer::new(spec, start, dataset, shard, run.data_seed(), device)?;
	let mut writer = BundleWriter::new(dir)?.spawn();
	let mut held = Some(start.clone());
	let k = spec.hyperparameters.checkpoint_interval;
	let (mut bare_secs, mut proof_secs, mut losses) = (0.0, 0.0, Vec::new());
	for j in 1..=spec.num_segments() {
		let (from, to) = ((j - 1) * k, j * k);
		for turn in 0..2 {
			let t = Instant::now();
			if (turn + j) % 2 == 0 {
				bare.run(from, to, &hidden)?;
				bare_secs += t.elapsed().as_secs_f64();
			} else {
				if let Some(c) = held.take() {
					writer.push(c)?;
				}
				losses.extend(proved.run(from, to, &hidden)?);
				held = Some(proved.checkpoint()?);
				writer.wait_idle();
				proof_secs += t.elapsed().as_secs_f64();
			}
		}
	}
	let t = Instant::now();
	if let Some(c) = held.take() {
		writer.push(c)?;
	}
	writer.finish(&run.info(losses)?)?;
	proof_secs += t.elapsed().as_secs_f64();
	let _ = std::fs::remove_dir_all(dir);
	Ok((bare_secs, proof_secs))
}

/// The median of `xs` (0 for none).
fn median(mut xs: Vec<f64>) -> f64 {
	xs.sort_by(f64::total_cmp);
	match xs.len() {
		0 => 0.0,
		l if l % 2 == 1 => xs[l / 2],
		l => (xs[l / 2 - 1] + xs[l / 2]) / 2.0,
	}
}

/// Bytes of the files directly in `dir`.
fn dir_bytes(dir: &Path) -> Result<u64> {
	let mut total = 0;
	for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
		total += entry?.metadata()?.len();
	}
	Ok(total)
}
