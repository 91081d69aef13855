//! Verification of a proof bundle, as a validator does it (design: "Round protocol", step 3).
//!
//! In order: the manifest against the task, the round and the miner; the leaves against the
//! Merkle root (and the committed root, when given); the challenge, from the committed norms;
//! the checkpoint files read against their leaves (a local bundle: all of them; from an
//! artifact server, [`verify_remote`]: only the ends of the challenged segments and the final
//! checkpoint, each leaf proven against the root); then the replay of the challenged segments
//! (the largest committed update norm, plus seeded ones) compared `exact`ly or within the task's
//! tolerance; then the final model's validation loss against the starting model's, which gives
//! the score.
//!
//! A bundle that does not match what was committed (a manifest for another task, round or
//! miner, leaves that do not make the root) is `Unavailable`: the miner does not serve the run
//! it committed to. A checkpoint that does not match its leaf, or a segment that does not
//! replay, is `Fail { segment }`, which the chain turns into a dispute over that segment.

use crate::config::{hex32, parse_hash, ComparisonKind, TaskSpec};
use crate::data::TaskData;
use crate::model::{hash_named, l2_distance, l2_norm, NamedTensor};
use crate::proof::{checkpoint_path, write_atomic, Checkpoint, Hardware, Manifest};
use crate::store;
use crate::train::{evaluate, progress_bar, Trainer};
use anyhow::Result;
use pol_primitives::{hashing, merkle, AccountBytes, Hash, RoundIndex, SegmentIndex, Verdict};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Instant;
use tch::Device;

/// What the validator knows independently of the bundle.
pub struct Expected<'a> {
	/// The task.
	pub spec: &'a TaskSpec,
	/// The round.
	pub round: RoundIndex,
	/// The round seed recorded on chain.
	pub round_seed: Hash,
	/// The miner whose commitment is checked.
	pub miner: AccountBytes,
	/// The round's starting (global) model.
	pub start: &'a [NamedTensor],
	/// The committed checkpoint root, when known.
	pub root: Option<Hash>,
}

/// The validator's side.
pub struct Validator<'a> {
	/// The task's data.
	pub data: &'a TaskData,
	/// The validator's account (it seeds the challenges).
	pub account: AccountBytes,
	/// The round's challenge seed.
	pub challenge_seed: Hash,
	/// Replay every segment, not only the challenged ones (disputes, audits, tests).
	pub all_segments: bool,
	/// Replay this one segment only (a dispute's), instead of the challenged ones.
	pub only_segment: Option<SegmentIndex>,
	/// Device for the replays.
	pub device: Device,
	/// Show a progress bar.
	pub progress: bool,
}

/// The outcome of one replayed segment.
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentCheck {
	/// The segment (1-based).
	pub segment: SegmentIndex,
	/// Whether it replayed to the committed checkpoint.
	pub passed: bool,
	/// Relative L2 distance of the replayed parameters from the committed ones.
	pub distance: f64,
	/// What was compared.
	pub detail: String,
}

/// A verification's result.
#[derive(Clone, Debug)]
pub struct Report {
	/// The verdict.
	pub verdict: Verdict,
	/// Why it is not `Pass`.
	pub reason: Option<String>,
	/// The challenged segments, in order.
	pub challenged: Vec<SegmentIndex>,
	/// The segments replayed (up to the first failure).
	pub segments: Vec<SegmentCheck>,
	/// Score in [0, 1] (0 unless the verdict is `Pass`).
	pub score: f64,
	/// Validation loss of the starting model.
	pub val_loss_start: f64,
	/// Validation loss of the final model.
	pub val_loss_final: f64,
	/// Validation accuracy of the final model.
	pub val_accuracy: f64,
	/// SGD steps replayed.
	pub replayed_steps: u64,
	/// Seconds spent replaying.
	pub replay_secs: f64,
	/// Seconds in all.
	pub total_secs: f64,
	/// What was fetched, for a remote verification.
	pub fetched: Option<Fetched>,
}

impl Report {
	fn new() -> Report {
		Report {
			verdict: Verdict::Pass,
			reason: None,
			challenged: Vec::new(),
			segments: Vec::new(),
			score: 0.0,
			val_loss_start: f64::NAN,
			val_loss_final: f64::NAN,
			val_accuracy: f64::NAN,
			replayed_steps: 0,
			replay_secs: 0.0,
			total_secs: 0.0,
			fetched: None,
		}
	}

	fn fail(mut self, verdict: Verdict, reason: String, started: Instant) -> Report {
		log::warn!("verdict {verdict:?}: {reason}");
		self.verdict = verdict;
		self.reason = Some(reason);
		self.score = 0.0;
		self.total_secs = started.elapsed().as_secs_f64();
		self
	}

	/// The failing segment, if any.
	pub fn failed_segment(&self) -> Option<SegmentIndex> {
		match self.verdict {
			Verdict::Fail { segment } => Some(segment),
			_ => None,
		}
	}
}

/// The score of an update from the validation loss of the starting model (L₀) and of the
/// update (L₁): `L₀ / (L₀ + L₁)`, that is `1 / (1 + L₁/L₀)`. It is 1/2 for no change, tends to 1
/// as the loss falls to 0 and to 0 as it grows; it is smooth and never clamps. A clamped
/// `(L₀ − L₁)/L₀` was tried first: on non-IID shards, once the global model is good, no single
/// miner's update beats it on the balanced validation set, every score is 0 and federated
/// training stalls, although the average of those updates would still improve the model.
pub fn score(val_loss_start: f64, val_loss_final: f64) -> f64 {
	let ok = |l: f64| l.is_finite() && l >= 0.0;
	if !ok(val_loss_start) || !ok(val_loss_final) || val_loss_start + val_loss_final <= 0.0 {
		return 0.0;
	}
	val_loss_start / (val_loss_start + val_loss_final)
}

/// An artifact server to verify a bundle from, checkpoint by checkpoint.
pub struct Remote<'a> {
	/// The server, `http://host:port`.
	pub base: &'a str,
	/// Largest artifact fetched.
	pub max_bytes: u64,
	/// Bytes of the manifest, already fetched into the bundle directory by its hash
	/// ([`crate::store::fetch_manifest`]).
	pub manifest_bytes: u64,
	/// Show a progress bar per download.
	pub progress: bool,
}

/// What a remote verification fetched.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fetched {
	/// The checkpoints fetched, in order.
	pub checkpoints: Vec<u32>,
	/// Bytes fetched: the manifest and those checkpoints.
	pub bytes: u64,
	/// Bytes of the whole bundle: the manifest and its n + 1 checkpoints (every checkpoint of a
	/// run has the same tensors, so the same size as the ones fetched).
	pub total_bytes: u64,
}

/// Verifies the bundle in `bundle`, on disk: every checkpoint is read and checked. `Err` only
/// for the validator's own trouble (its data, its libtorch); everything the miner got wrong is
/// in the report's verdict.
pub fn verify_bundle(bundle: &Path, expected: &Expected, v: &Validator) -> Result<Report> {
	verify_with(&Files::local(bundle), expected, v)
}

/// Verifies a bundle served by `remote` whose manifest is already in `dir` (fetched and
/// checked against its hash): only the checkpoints the verification needs are fetched into
/// `dir`, each checked against its leaf and the leaf against the root by its Merkle proof.
/// Those are C_{s−1} and C_s of each challenged segment s and the final C_n (its parameters
/// are the update that is scored); C_0 is the round's start, which the validator builds and
/// checks against leaf 0 without fetching it (unless segment 1 is challenged, whose replay
/// starts from the file). With `all_segments` every checkpoint is fetched.
pub fn verify_remote(
	dir: &Path,
	remote: &Remote,
	expected: &Expected,
	v: &Validator,
) -> Result<Report> {
	let files = Files {
		dir: dir.to_path_buf(),
		remote: Some(remote),
		fetched: RefCell::new(BTreeMap::new()),
	};
	let mut report = verify_with(&files, expected, v)?;
	let fetched = files.fetched.into_inner();
	let ckpt_bytes: u64 = fetched.values().sum();
	let each = fetched.values().next().copied().unwrap_or(0);
	let n = Manifest::read(dir)
		.map(|m| m.checkpoints.len() as u64)
		.unwrap_or(0);
	report.fetched = Some(Fetched {
		checkpoints: fetched.keys().copied().collect(),
		bytes: remote.manifest_bytes + ckpt_bytes,
		total_bytes: remote.manifest_bytes + each * n,
	});
	Ok(report)
}

/// Where a verification reads the checkpoint files: a bundle directory, filled on demand from
/// an artifact server when there is one.
struct Files<'a> {
	dir: std::path::PathBuf,
	remote: Option<&'a Remote<'a>>,
	/// Checkpoints fetched, with their sizes.
	fetched: RefCell<BTreeMap<u32, u64>>,
}

/// Why a checkpoint could not be used.
enum Miss {
	/// The server did not hand it out (missing, oversized, unreachable): `Unavailable`.
	Unavailable(String),
	/// The file is not what its leaf says: `Fail`.
	Bad(String),
}

impl<'a> Files<'a> {
	fn local(dir: &Path) -> Files<'a> {
		Files {
			dir: dir.to_path_buf(),
			remote: None,
			fetched: RefCell::new(BTreeMap::new()),
		}
	}

	/// Checkpoint `j`, fetched first if remote and not yet fetched, checked against its leaf's
	/// model hash.
	fn checkpoint(&self, m: &Manifest, j: u32) -> std::result::Result<Checkpoint, Miss> {
		if let Some(r) = self.remote {
			if !self.fetched.borrow().contains_key(&j) {
				let path =
					checkpoint_path(&self.dir, m, j).map_err(|e| Miss::Bad(format!("{e:#}")))?;
				let hash = parse_hash(&m.checkpoints[j as usize].model_hash)
					.map_err(|e| Miss::Bad(format!("checkpoint {j}: {e:#}")))?;
				// The bytes are checked against the leaf below, by `read_checked`: a file
				// that does not match is the miner's fault in that segment, not a lost file.
				let bytes =
					store::http_get(&store::artifact_url(r.base, &hash), r.max_bytes, r.progress)
						.map_err(|e| Miss::Unavailable(format!("fetching checkpoint {j}: {e}")))?;
				write_atomic(&path, &bytes)
					.map_err(|e| Miss::Unavailable(format!("storing checkpoint {j}: {e:#}")))?;
				self.fetched.borrow_mut().insert(j, bytes.len() as u64);
			}
		}
		read_checked(&self.dir, m, j).map_err(Miss::Bad)
	}
}

fn verify_with(files: &Files, expected: &Expected, v: &Validator) -> Result<Report> {
	let started = Instant::now();
	let report = Report::new();
	let unavailable = |r: Report, why: String| r.fail(Verdict::Unavailable, why, started);
	let fail = |r: Report, segment: SegmentIndex, why: String| {
		r.fail(Verdict::Fail { segment }, why, started)
	};
	let missed = |r: Report, segment: SegmentIndex, miss: Miss| match miss {
		Miss::Unavailable(why) => unavailable(r, why),
		Miss::Bad(why) => fail(r, segment, why),
	};
	let spec = expected.spec;
	let bundle = files.dir.as_path();

	// 1. The manifest against the commitment.
	let m = match Manifest::read(bundle) {
		Ok(m) => m,
		Err(e) => return Ok(unavailable(report, format!("{e:#}"))),
	};
	if let Err(why) = check_manifest(&m, expected) {
		return Ok(unavailable(report, why));
	}
	let n = m.num_segments;
	let leaves = match m.leaves() {
		Ok(l) => l,
		Err(e) => return Ok(unavailable(report, format!("{e:#}"))),
	};
	let root = merkle::root(&leaves);
	if hex32(&root.0) != m.checkpoint_root {
		return Ok(unavailable(
			report,
			format!(
				"the leaves make the root {}, the manifest says {}",
				hex32(&root.0),
				m.checkpoint_root
			),
		));
	}
	if let Some(committed) = expected.root {
		if committed != root {
			return Ok(unavailable(
				report,
				format!(
					"the bundle's root {} is not the committed root {}",
					hex32(&root.0),
					hex32(&committed.0)
				),
			));
		}
	}
	for (j, e) in m.checkpoints.iter().enumerate() {
		let ok = parse_hash(&e.model_hash)
			.map(|h| hashing::leaf_hash(j as u32, &h, e.update_norm) == leaves[j])
			.unwrap_or(false);
		if !ok {
			return Ok(unavailable(
				report,
				format!("leaf {j} is not the hash of its model hash and norm"),
			));
		}
	}
	if spec.verification.comparison == ComparisonKind::Exact {
		let mine = Hardware::this_machine(v.device, m.hardware.threads);
		if mine.class != m.hardware.class {
			log::warn!(
				"exact comparison across hardware classes ({} here, {} in the bundle): a \
				 mismatch may be the hardware's",
				mine.class,
				m.hardware.class
			);
		}
	}

	// 2. The challenge: from the committed norms, before any checkpoint is read, so that a
	// remote verification fetches only what it replays.
	let mut report = report;
	let largest = hashing::largest_norm_segment(&m.norms()).unwrap_or(1);
	report.challenged = if v.all_segments {
		(1..=n).collect()
	} else if let Some(s) = v.only_segment {
		anyhow::ensure!(s >= 1 && s <= n, "segment {s} is not in 1..={n}");
		vec![s]
	} else {
		hashing::challenge_segments(
			&v.challenge_seed,
			&v.account,
			&expected.miner,
			n,
			largest,
			spec.verification.segments_per_check,
		)
	};
	log::info!("challenged segments {:?} of {n}", report.challenged);
	// The checkpoints read: all of a local bundle; from a server, the ends of the challenged
	// segments and the final one. A checkpoint outside them is not fetched, so not checked:
	// that is what sampling means (the largest-norm segment is always among them).
	let needed: BTreeSet<u32> = if files.remote.is_none() || v.all_segments {
		(0..=n).collect()
	} else {
		report
			.challenged
			.iter()
			.flat_map(|&s| [s - 1, s])
			.chain([n])
			.collect()
	};
	if !needed.contains(&0) {
		// C_0 is the round's start with zero momentum: the validator builds it and checks
		// leaf 0's model hash against it instead of fetching it.
		let c0 = Checkpoint::start(expected.start.to_vec(), spec.momentum() > 0.0);
		if hex32(&c0.hash()?.0) != m.checkpoints[0].model_hash {
			return Ok(fail(
				report,
				1,
				"checkpoint 0 is not the round's starting model with zero momentum".into(),
			));
		}
	}

	// 3. Each checkpoint read against its leaf, and the leaf against the root by its Merkle
	// proof (the proof a dispute carries); the norms of the segments whose two ends are read.
	// Two checkpoints in memory at a time; the replays read theirs again.
	let bar = progress_bar(v.progress, needed.len() as u64, "hash");
	let mut prev: Option<(u32, Checkpoint)> = None;
	for &j in &needed {
		let proven = merkle::proof(&leaves, j)
			.map(|p| merkle::verify(&root, &p.siblings, n + 1, j, &leaves[j as usize]))
			.unwrap_or(false);
		if !proven {
			return Ok(unavailable(
				report,
				format!("leaf {j} is not proven against the root"),
			));
		}
		let c = match files.checkpoint(&m, j) {
			Ok(c) => c,
			Err(miss) => return Ok(missed(report, j.max(1), miss)),
		};
		match &prev {
			Some((i, p)) if *i + 1 == j => {
				let norm = match l2_distance(&c.params, &p.params) {
					Ok(d) => d as f32,
					Err(e) => return Ok(fail(report, j, format!("checkpoint {j}: {e:#}"))),
				};
				let committed = m.checkpoints[j as usize].update_norm;
				if norm.to_bits() != committed.to_bits() {
					return Ok(fail(
						report,
						j,
						format!("segment {j} has update norm {norm}, its leaf says {committed}"),
					));
				}
			}
			_ => {}
		}
		if j == 0 {
			let start_ok = c.model_hash()? == hash_named(expected.start)?
				&& c.momentum.iter().all(|t| t.data.iter().all(|&x| x == 0.0))
				&& (c.momentum.is_empty() == (spec.momentum() == 0.0));
			if !start_ok {
				return Ok(fail(
					report,
					1,
					"checkpoint 0 is not the round's starting model with zero momentum".into(),
				));
			}
		}
		if j == n && hex32(&c.model_hash()?.0) != m.final_model_hash {
			return Ok(fail(
				report,
				n,
				"the final model hash is not that of the last checkpoint".into(),
			));
		}
		prev = Some((j, c));
		bar.inc(1);
	}
	bar.finish_and_clear();
	let final_params = match prev {
		Some((j, c)) if j == n => c.params,
		_ => return Ok(unavailable(report, "the bundle has no checkpoints".into())),
	};

	// 4. Replay the challenged segments.
	let (_, shard) = match v.data.shard_for(spec, &expected.miner) {
		Ok(s) => s,
		Err(e) => return Err(e.context("loading the miner's shard")),
	};
	let dataset = v.data.on(v.device);
	let data_seed = hashing::data_seed(&expected.round_seed, &expected.miner);
	let k = spec.hyperparameters.checkpoint_interval;
	let threads = m.hardware.threads;
	// Bounded: a manifest must not make the validator spawn thousands of threads.
	if (1..=256).contains(&threads) {
		// The thread count the miner recorded: exact replay needs the same reduction order.
		tch::set_num_threads(threads);
	} else {
		return Ok(unavailable(
			report,
			format!("the bundle records {threads} threads"),
		));
	}
	let bar = progress_bar(
		v.progress,
		report.challenged.len() as u64 * u64::from(k),
		"replay",
	);
	let replay_started = Instant::now();
	for &s in &report.challenged.clone() {
		let (from, to) = match (files.checkpoint(&m, s - 1), files.checkpoint(&m, s)) {
			(Ok(a), Ok(b)) => (a, b),
			(Err(miss), _) | (_, Err(miss)) => return Ok(missed(report, s, miss)),
		};
		let mut trainer = match Trainer::new(spec, &from, &dataset, shard, data_seed, v.device) {
			Ok(t) => t,
			Err(e) => return Ok(fail(report, s, format!("segment {s} cannot start: {e:#}"))),
		};
		let replayed = match trainer.run((s - 1) * k, s * k, &bar) {
			Ok(_) => trainer.checkpoint()?,
			Err(e) => {
				return Ok(fail(
					report,
					s,
					format!("segment {s} does not replay: {e:#}"),
				))
			}
		};
		report.replayed_steps += u64::from(k);
		let distance = l2_distance(&replayed.params, &to.params)? / l2_norm(&to.params).max(1e-30);
		let (passed, detail) = match spec.verification.comparison {
			ComparisonKind::Exact => {
				let h = replayed.hash()?;
				let committed = &m.checkpoints[s as usize].model_hash;
				(
					&hex32(&h.0) == committed,
					format!("replayed {} vs committed {committed}", hex32(&h.0)),
				)
			}
			ComparisonKind::Tolerance => {
				let tol = spec.verification.tolerance;
				(
					distance <= tol,
					format!("relative L2 distance {distance:.3e} (tolerance {tol:.3e})"),
				)
			}
		};
		log::debug!("segment {s}: {detail}");
		report.segments.push(SegmentCheck {
			segment: s,
			passed,
			distance,
			detail: detail.clone(),
		});
		if !passed {
			report.replay_secs = replay_started.elapsed().as_secs_f64();
			return Ok(fail(
				report,
				s,
				format!("segment {s} does not replay to checkpoint {s}: {detail}"),
			));
		}
	}
	bar.finish_and_clear();
	report.replay_secs = replay_started.elapsed().as_secs_f64();

	// 4. Score on the validation split.
	let val = &v.data.split.validation;
	if val.is_empty() {
		log::warn!("the task has no validation split: the score is 0");
	} else {
		let (l0, _) = evaluate(spec, expected.start, &dataset, val, v.device)?;
		let (l1, acc) = evaluate(spec, &final_params, &dataset, val, v.device)?;
		report.val_loss_start = l0;
		report.val_loss_final = l1;
		report.val_accuracy = acc;
		report.score = score(l0, l1);
	}
	report.total_secs = started.elapsed().as_secs_f64();
	Ok(report)
}

/// Checkpoint `j` of a bundle, read and checked against its leaf's model hash; the error says
/// what is wrong with it.
fn read_checked(bundle: &Path, m: &Manifest, j: u32) -> std::result::Result<Checkpoint, String> {
	let path = checkpoint_path(bundle, m, j).map_err(|e| format!("{e:#}"))?;
	let c = Checkpoint::read(&path).map_err(|e| format!("checkpoint {j}: {e:#}"))?;
	let hash = c.hash().map_err(|e| format!("checkpoint {j}: {e:#}"))?;
	let committed = &m.checkpoints[j as usize].model_hash;
	if &hex32(&hash.0) != committed {
		return Err(format!(
			"checkpoint {j} hashes to {}, its leaf says {committed}",
			hex32(&hash.0)
		));
	}
	Ok(c)
}

/// The manifest's claims against what the validator knows.
fn check_manifest(m: &Manifest, e: &Expected) -> std::result::Result<(), String> {
	if &m.spec != e.spec {
		return Err(
			"the manifest's task (model, data, hyperparameters or verification) is not \
		            the task's"
				.into(),
		);
	}
	if m.task != e.spec.task.id || m.round != e.round {
		return Err(format!(
			"the manifest is for task {} round {}, not task {} round {}",
			m.task, m.round, e.spec.task.id, e.round
		));
	}
	if m.miner != hex32(&e.miner) {
		return Err(format!(
			"the manifest claims miner {}, the commitment is {}'s",
			m.miner,
			hex32(&e.miner)
		));
	}
	if m.round_seed != hex32(&e.round_seed.0) {
		return Err("the manifest's round seed is not the round's".into());
	}
	let shard = hashing::shard_of(e.spec.task.id, &e.miner, e.spec.data.num_shards);
	if Some(m.shard) != shard {
		return Err(format!(
			"the manifest names shard {}, the miner's is {shard:?}",
			m.shard
		));
	}
	if m.num_segments != e.spec.num_segments() || m.checkpoints.len() != m.num_segments as usize + 1
	{
		return Err(format!(
			"{} segments and {} checkpoints, the task has {} segments",
			m.num_segments,
			m.checkpoints.len(),
			e.spec.num_segments()
		));
	}
	for (j, c) in m.checkpoints.iter().enumerate() {
		if c.index as usize != j {
			return Err(format!("checkpoint {j} is listed as {}", c.index));
		}
	}
	let start = hash_named(e.start).map_err(|e| format!("{e:#}"))?;
	if m.initial_model_hash != hex32(&start.0) {
		return Err(format!(
			"the manifest starts from {}, the round from {}",
			m.initial_model_hash,
			hex32(&start.0)
		));
	}
	Ok(())
}

#[cfg(test)]
mod tests {
	use super::score;

	#[test]
	fn score_is_half_for_no_change_and_bounded() {
		assert_eq!(score(2.0, 2.0), 0.5);
		assert_eq!(score(2.0, 0.0), 1.0);
		assert!(score(2.0, 1.0) > 0.5 && score(2.0, 3.0) < 0.5);
		assert!(score(2.0, 1e9) < 1e-8);
		for bad in [f64::NAN, f64::INFINITY, -1.0] {
			assert_eq!(score(bad, 1.0), 0.0);
			assert_eq!(score(1.0, bad), 0.0);
		}
	}
}
