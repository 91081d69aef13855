//! End-to-end tests of the worker: honest and dishonest miners against a validator, federated
//! training, and the artifact store. They use the digits set that `scripts/setup.sh` exports.

use crate::aggregate::{aggregate, Rule, Update};
use crate::config::{hex32, Config, TaskSpec};
use crate::data::{Rng, TaskData};
use crate::model::{hash_named, Model, NamedTensor};
use crate::profile::Pinned;
use crate::proof::{Checkpoint, Manifest};
use crate::store::{self, FetchError, Store};
use crate::train::{evaluate, progress_bar, MinerRun, RunOutput, Trainer};
use crate::verify::{verify_bundle, verify_served, Expected, Report, Validator};
use pol_primitives::{decide, hashing, AccountBytes, Hash, Verdict};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use tch::Device;

const TASK: &str = r#"
[task]
id = 42
model = "mlp:64-32-10"
init_seed = 1

[data]
source = "digits"
num_shards = 5
partition = "dirichlet"
alpha = 0.5
validation = 0.2

[hyperparameters]
learning_rate = 0.05
momentum = 0.9
batch_size = 32
local_steps = 60
checkpoint_interval = 10

[verification]
segments_per_check = 3
comparison = "exact"

[run]
progress = false
"#;

/// A temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
	fn new(name: &str) -> TempDir {
		static N: AtomicUsize = AtomicUsize::new(0);
		let dir = std::env::temp_dir().join(format!(
			"pol-worker-test-{}-{name}-{}",
			std::process::id(),
			N.fetch_add(1, Ordering::Relaxed)
		));
		let _ = std::fs::remove_dir_all(&dir);
		std::fs::create_dir_all(&dir).unwrap();
		TempDir(dir)
	}
	fn join(&self, p: &str) -> PathBuf {
		self.0.join(p)
	}
}

impl Drop for TempDir {
	fn drop(&mut self) {
		let _ = std::fs::remove_dir_all(&self.0);
	}
}

/// A task, its data, and round 0's seeds and starting model.
struct World {
	spec: TaskSpec,
	data: TaskData,
	start: Vec<NamedTensor>,
	round_seed: Hash,
	challenge_seed: Hash,
}

/// The default profile, pinned for the test binary before any test ran (lib.rs).
fn pinned() -> &'static Pinned {
	crate::profile::pinned().expect("the test binary pins the default profile")
}

fn world(toml: &str) -> World {
	let config = Config::from_toml(toml).unwrap();
	let spec = config.spec();
	let data = TaskData::load(&config)
		.expect("the digits set (scripts/setup.sh exports it to $POL_DATA/digits)");
	let start = Model::new(&spec.task.model, spec.task.init_seed, Device::Cpu)
		.unwrap()
		.params()
		.unwrap();
	World {
		round_seed: hashing::round_seed(spec.task.id, 0, &Hash::repeat_byte(7)),
		challenge_seed: hashing::challenge_seed(spec.task.id, 0, &Hash::repeat_byte(9)),
		spec,
		data,
		start,
	}
}

fn account(name: &str) -> AccountBytes {
	crate::config::parse_account(name).unwrap()
}

impl World {
	fn miner<'a>(&'a self, miner: &str, start: &'a [NamedTensor]) -> MinerRun<'a> {
		MinerRun {
			spec: &self.spec,
			data: &self.data,
			round: 0,
			round_seed: self.round_seed,
			miner: account(miner),
			start,
			pinned: pinned(),
			progress: false,
		}
	}

	/// What a validator knows of `miner`'s round-0 run from `start`, with no commitment.
	fn expected<'a>(&'a self, miner: &str, start: &'a [NamedTensor]) -> Expected<'a> {
		Expected {
			spec: &self.spec,
			round: 0,
			round_seed: self.round_seed,
			miner: account(miner),
			start,
			root: None,
			final_model_hash: None,
			start_loss: None,
		}
	}

	/// The validator `validator` with the world's randomness.
	fn validator(&self, all: bool, only: Option<u32>) -> Validator<'_> {
		Validator {
			data: &self.data,
			account: account("validator"),
			randomness: self.challenge_seed,
			all_segments: all,
			only_segments: only.map(|s| vec![s]),
			pinned: pinned(),
			progress: false,
			deadline: None,
		}
	}

	fn verify_as(&self, dir: &Path, miner: &str, start: &[NamedTensor], all: bool) -> Report {
		let expected = self.expected(miner, start);
		let v = self.validator(all, None);
		verify_bundle(dir, &expected, &v).unwrap()
	}

	fn verify(&self, dir: &Path, miner: &str, all: bool) -> Report {
		self.verify_as(dir, miner, &self.start, all)
	}

	/// A dishonest run: `step(trainer, s, segment_first_step)` trains step `s` however it
	/// likes; checkpoints every k steps as an honest run.
	fn cheat(&self, miner: &str, mut step: impl FnMut(&mut Trainer, u32, u32) -> f64) -> RunOutput {
		let run = self.miner(miner, &self.start);
		let (_, shard) = run.shard().unwrap();
		let start = Checkpoint::start(self.start.clone(), self.spec.momentum() > 0.0);
		let ds = self.data.on(Device::Cpu);
		let mut t =
			Trainer::new(&self.spec, &start, &ds, shard, run.data_seed(), Device::Cpu).unwrap();
		let k = self.spec.hyperparameters.checkpoint_interval;
		let mut checkpoints = vec![start];
		let mut losses = Vec::new();
		for j in 1..=self.spec.num_segments() {
			for s in (j - 1) * k..j * k {
				losses.push(step(&mut t, s, (j - 1) * k));
			}
			checkpoints.push(t.checkpoint().unwrap());
		}
		RunOutput {
			checkpoints,
			losses,
		}
	}

	fn write(&self, miner: &str, dir: &Path, run: &RunOutput) -> Manifest {
		self.miner(miner, &self.start).write(dir, run).unwrap()
	}
}

/// Asserts that the verdict is a failure of the first challenged segment, which did not replay.
fn assert_caught_at_first_challenge(r: &Report) {
	let first = r.challenged[0];
	assert_eq!(
		r.verdict(),
		Some(Verdict::Fail { segment: first }),
		"{:?}",
		r.reason()
	);
	assert_eq!(r.segments.len(), 1);
	assert!(!r.segments[0].passed);
	assert_eq!(r.score, 0.0);
}

#[test]
fn honest_bundle_verifies_exactly() {
	let w = world(TASK);
	let dir = TempDir::new("honest");
	let m = w.miner("alice", &w.start).train_bundle(&dir.0).unwrap();
	assert_eq!(m.num_segments, 6);
	assert_eq!(m.checkpoints.len(), 7);
	assert_eq!(
		m.host,
		pinned().host,
		"the run records what libtorch ran with"
	);
	assert_eq!(m.host.threads, 1);
	assert!(m.train_loss.is_finite() && m.train_loss > 0.0);
	// The root is pol-primitives' root over pol-primitives' leaves.
	let leaves: Vec<Hash> = m
		.checkpoints
		.iter()
		.map(|c| {
			let h = crate::config::parse_hash(&c.model_hash).unwrap();
			hashing::leaf_hash(c.index, &h, c.update_norm)
		})
		.collect();
	assert_eq!(
		hex32(&pol_primitives::merkle::root(&leaves).0),
		m.checkpoint_root
	);
	// Training again gives the same bits.
	let again = TempDir::new("honest-again");
	let m2 = w.miner("alice", &w.start).train_bundle(&again.0).unwrap();
	assert_eq!(m.checkpoint_root, m2.checkpoint_root);
	// Streamed to disk or kept in memory and written at once: the same bundle.
	let kept = w.miner("alice", &w.start).train().unwrap();
	let m3 = w.write("alice", &again.0, &kept);
	assert_eq!(m.checkpoints, m3.checkpoints);
	assert_eq!(m.final_model_hash, m3.final_model_hash);
	// The background writer's files are the synchronous writer's, byte for byte.
	for c in &m.checkpoints {
		let written = std::fs::read(dir.join(&c.file)).unwrap();
		assert_eq!(
			written,
			std::fs::read(again.join(&c.file)).unwrap(),
			"{}",
			c.file
		);
	}

	let r = w.verify(&dir.0, "alice", false);
	assert_eq!(r.verdict(), Some(Verdict::Pass), "{:?}", r.reason());
	assert!(!r.challenged.is_empty() && r.challenged.len() <= 3);
	// Segment n first (the update itself), then Q − 1 = 2 distinct drawn ones.
	assert_eq!(r.challenged.len(), 3);
	assert_eq!(r.challenged[0], m.num_segments);
	assert!(r.segments.iter().all(|s| s.passed && s.distance == 0.0));
	assert!(r.score > 0.5 && r.score <= 1.0, "score {}", r.score);
	assert!(r.val_loss_final < r.val_loss_start);
	let all = w.verify(&dir.0, "alice", true);
	assert_eq!(all.verdict(), Some(Verdict::Pass));
	assert_eq!(all.segments.len(), 6);
	// The committed root is checked when given.
	let expected_root = crate::config::parse_hash(&m.checkpoint_root).unwrap();
	let v = w.validator(false, None);
	let mut e = Expected {
		root: Some(expected_root),
		..w.expected("alice", &w.start)
	};
	assert_eq!(
		verify_bundle(&dir.0, &e, &v).unwrap().verdict(),
		Some(Verdict::Pass)
	);
	// A bundle that is not the committed run: the miner's fault, on segment n.
	e.root = Some(Hash::repeat_byte(1));
	assert_eq!(
		verify_bundle(&dir.0, &e, &v).unwrap().verdict(),
		Some(Verdict::Fail { segment: 6 })
	);
}

/// What a bundle of alice's round-0 run with `losses` says besides its checkpoints.
fn alices_bundle_info(w: &World, losses: &[f64]) -> crate::proof::BundleInfo {
	crate::proof::BundleInfo {
		spec: w.spec.clone(),
		round: 0,
		miner: account("alice"),
		round_seed: w.round_seed,
		shard: 0,
		host: pinned().host.clone(),
		losses: losses.to_vec(),
	}
}

#[test]
fn a_failed_background_write_fails_the_run() {
	// The writer's thread cannot write checkpoint 3 (a directory is in its place) while the
	// manifest could be written: the run must not end as if the bundle were complete.
	let w = world(TASK);
	let kept = w.miner("alice", &w.start).train().unwrap();
	let dir = TempDir::new("writer-fails");
	let bundle = dir.join("bundle");
	let mut writer = crate::proof::BundleWriter::new(&bundle).unwrap().spawn();
	let blocked = bundle.join(crate::proof::checkpoint_file(3));
	std::fs::create_dir_all(blocked.join("occupied")).unwrap();
	let pushed: Result<(), _> = kept
		.checkpoints
		.iter()
		.try_for_each(|c| writer.push(c.clone()));
	let info = alices_bundle_info(&w, &kept.losses);
	let finished = pushed.and_then(|_| writer.finish(&info));
	let e = finished.expect_err("a bundle whose checkpoints were not written");
	assert!(format!("{e:#}").contains("ckpt-00003"), "{e:#}");
	assert!(!bundle.join(crate::proof::MANIFEST_FILE).exists());
}

#[test]
fn waiting_for_an_idle_writer_sees_its_checkpoints_written_and_never_hangs_on_a_failure() {
	let w = world(TASK);
	let kept = w.miner("alice", &w.start).train().unwrap();
	let dir = TempDir::new("writer-idle");
	let bundle = dir.join("bundle");
	let mut writer = crate::proof::BundleWriter::new(&bundle).unwrap().spawn();
	for c in &kept.checkpoints[..3] {
		writer.push(c.clone()).unwrap();
	}
	writer.wait_idle();
	for j in 0..3 {
		assert!(
			bundle.join(crate::proof::checkpoint_file(j)).is_file(),
			"checkpoint {j}"
		);
	}
	// A writer that fails stops: waiting for it returns, and the next push says why.
	let failing = dir.join("failing");
	let mut writer = crate::proof::BundleWriter::new(&failing).unwrap().spawn();
	std::fs::create_dir_all(
		failing
			.join(crate::proof::checkpoint_file(0))
			.join("occupied"),
	)
	.unwrap();
	writer.push(kept.checkpoints[0].clone()).unwrap();
	writer.wait_idle();
	let info = alices_bundle_info(&w, &kept.losses);
	let e = writer.finish(&info).expect_err("the writer stopped");
	assert!(format!("{e:#}").contains("ckpt-00000"), "{e:#}");
}

#[test]
fn honest_cnn_bundle_verifies_with_plain_sgd_and_tolerance() {
	let toml = TASK
		.replace("mlp:64-32-10", "cnn:8x8x1-c4-c8-10")
		.replace("momentum = 0.9", "momentum = 0.0")
		.replace("learning_rate = 0.05", "learning_rate = 0.1")
		.replace("partition = \"dirichlet\"", "partition = \"iid\"")
		.replace(
			"comparison = \"exact\"",
			"comparison = \"tolerance\"\ntolerance = 1e-6",
		);
	let w = world(&toml);
	let dir = TempDir::new("cnn");
	let m = w.miner("bob", &w.start).train_bundle(&dir.0).unwrap();
	// Plain SGD: no momentum buffers, so the last leaf's hash is the final model hash.
	assert_eq!(m.checkpoints.last().unwrap().model_hash, m.final_model_hash);
	let r = w.verify(&dir.0, "bob", true);
	assert_eq!(r.verdict(), Some(Verdict::Pass), "{:?}", r.reason());
	// Within tolerance, and in fact exact on the same machine.
	assert!(r.segments.iter().all(|s| s.passed && s.distance == 0.0));
	assert!(
		r.val_loss_final < r.val_loss_start,
		"{} -> {}",
		r.val_loss_start,
		r.val_loss_final
	);
}

#[test]
fn tampered_checkpoint_is_caught_at_its_segment() {
	let w = world(TASK);
	let dir = TempDir::new("tamper");
	w.miner("alice", &w.start).train_bundle(&dir.0).unwrap();
	// One value of checkpoint 3 changed in the file, the manifest left as it was.
	let path = dir.join(&crate::proof::checkpoint_file(3));
	let mut c = Checkpoint::read(&path).unwrap();
	c.params[0].data[0] += 1e-3;
	c.write(&path).unwrap();
	// A file that is not its leaf's is not the run's: not served (withheld or corrupted on the
	// way, which the validator cannot tell apart), never a failed replay it could be slashed for.
	let r = w.verify(&dir.0, "alice", true);
	assert_eq!(
		r.verdict(),
		Some(Verdict::NotServed { segment: 3 }),
		"{:?}",
		r.reason()
	);
	assert!(r.reason().unwrap().contains("checkpoint 3 hashes to"));

	// The same tampering with the manifest rebuilt to match: consistent, but segment 3 no
	// longer replays.
	let honest = w.miner("alice", &w.start).train().unwrap();
	let mut forged = honest;
	forged.checkpoints[3].params[0].data[0] += 1e-3;
	let dir2 = TempDir::new("tamper-consistent");
	w.write("alice", &dir2.0, &forged);
	let r = w.verify(&dir2.0, "alice", true);
	assert_eq!(
		r.verdict(),
		Some(Verdict::Fail { segment: 3 }),
		"{:?}",
		r.reason()
	);
}

#[test]
fn swapped_batch_order_is_caught() {
	let w = world(TASK);
	let k = w.spec.hyperparameters.checkpoint_interval;
	// Every segment's batches in reverse order: the same samples, another order.
	let run = w.cheat("alice", |t, s, first| {
		let b = t.batch(first + k - 1 - (s - first)).unwrap();
		t.step_on(&b, w.spec.learning_rate()).unwrap()
	});
	let dir = TempDir::new("swap");
	w.write("alice", &dir.0, &run);
	assert_caught_at_first_challenge(&w.verify(&dir.0, "alice", false));

	// Only two batches of segment 4 swapped: segment 4, and only it, fails.
	let run = w.cheat("alice", |t, s, _| {
		let step = match s {
			32 => 33,
			33 => 32,
			s => s,
		};
		let b = t.batch(step).unwrap();
		t.step_on(&b, w.spec.learning_rate()).unwrap()
	});
	let dir = TempDir::new("swap-one");
	w.write("alice", &dir.0, &run);
	let r = w.verify(&dir.0, "alice", true);
	assert_eq!(
		r.verdict(),
		Some(Verdict::Fail { segment: 4 }),
		"{:?}",
		r.reason()
	);
	assert!(r.segments[..3].iter().all(|s| s.passed));
}

#[test]
fn skipped_steps_are_caught() {
	let w = world(TASK);
	// A lazy miner trains half the steps, then interpolates the checkpoints from the start.
	let run = w.miner("alice", &w.start);
	let (_, shard) = run.shard().unwrap();
	let ds = w.data.on(Device::Cpu);
	let start = Checkpoint::start(w.start.clone(), true);
	let mut t = Trainer::new(&w.spec, &start, &ds, shard, run.data_seed(), Device::Cpu).unwrap();
	let half = w.spec.hyperparameters.local_steps / 2;
	let losses = t.run(0, half, &progress_bar(false, 0, "")).unwrap();
	let last = t.checkpoint().unwrap();
	let n = w.spec.num_segments();
	let lerp = crate::faults::extrapolate;
	let checkpoints: Vec<Checkpoint> = (0..=n)
		.map(|j| {
			let f = j as f32 / n as f32;
			Checkpoint {
				params: lerp(&start.params, &last.params, f),
				momentum: lerp(&start.momentum, &last.momentum, f),
			}
		})
		.collect();
	let dir = TempDir::new("lazy");
	w.write(
		"alice",
		&dir.0,
		&RunOutput {
			checkpoints,
			losses: [losses.clone(), losses].concat(),
		},
	);
	assert_caught_at_first_challenge(&w.verify(&dir.0, "alice", false));
}

#[test]
fn wrong_learning_rate_is_caught() {
	let w = world(TASK);
	let run = w.cheat("alice", |t, s, _| {
		let b = t.batch(s).unwrap();
		t.step_on(&b, 2.0 * w.spec.learning_rate()).unwrap()
	});
	let dir = TempDir::new("lr");
	w.write("alice", &dir.0, &run);
	assert_caught_at_first_challenge(&w.verify(&dir.0, "alice", false));

	// Declaring the other learning rate openly is no better: the task fixes it.
	let mut m = Manifest::read(&dir.0).unwrap();
	m.spec.hyperparameters.learning_rate *= 2.0;
	m.write(&dir.0).unwrap();
	assert_eq!(
		w.verify(&dir.0, "alice", false).verdict(),
		Some(Verdict::Fail { segment: 6 })
	);
}

#[test]
fn checkpoints_of_random_noise_are_caught() {
	let w = world(TASK);
	let mut rng = Rng::new(b"noise", b"");
	let mut noise = |ts: &[NamedTensor]| -> Vec<NamedTensor> {
		ts.iter()
			.map(|t| NamedTensor {
				name: t.name.clone(),
				dims: t.dims.clone(),
				data: t.data.iter().map(|_| (0.1 * rng.normal()) as f32).collect(),
			})
			.collect()
	};
	let start = Checkpoint::start(w.start.clone(), true);
	let mut checkpoints = vec![start.clone()];
	for _ in 0..w.spec.num_segments() {
		checkpoints.push(Checkpoint {
			params: noise(&start.params),
			momentum: noise(&start.momentum),
		});
	}
	let dir = TempDir::new("noise");
	w.write(
		"alice",
		&dir.0,
		&RunOutput {
			checkpoints,
			losses: vec![2.3; 60],
		},
	);
	assert_caught_at_first_challenge(&w.verify(&dir.0, "alice", false));
}

#[test]
fn a_manifest_claiming_another_miners_account_is_caught() {
	let w = world(TASK);
	let dir = TempDir::new("copy");
	w.miner("alice", &w.start).train_bundle(&dir.0).unwrap();
	// Served as it is for mallory's commitment: not mallory's run.
	assert_eq!(
		w.verify(&dir.0, "mallory", false).verdict(),
		Some(Verdict::Fail { segment: 6 })
	);
	// Mallory rewrites the manifest to claim the run (its account, its shard): the checkpoints
	// do not follow mallory's batches, so the first challenged segment fails.
	let mut m = Manifest::read(&dir.0).unwrap();
	let mallory = account("mallory");
	m.miner = hex32(&mallory);
	m.shard = hashing::shard_of(w.spec.task.id, &mallory, w.spec.data.num_shards).unwrap();
	m.write(&dir.0).unwrap();
	let r = w.verify(&dir.0, "mallory", false);
	assert_caught_at_first_challenge(&r);
	// Alice's own bundle still passes for alice.
	let mut m = Manifest::read(&dir.0).unwrap();
	m.miner = hex32(&account("alice"));
	m.shard = hashing::shard_of(w.spec.task.id, &account("alice"), w.spec.data.num_shards).unwrap();
	m.write(&dir.0).unwrap();
	assert_eq!(
		w.verify(&dir.0, "alice", false).verdict(),
		Some(Verdict::Pass)
	);
}

#[test]
fn broken_bundles_are_verdicts_not_panics() {
	let w = world(TASK);
	let dir = TempDir::new("broken");
	// No manifest at all: not served, reported on segment n.
	assert_eq!(
		w.verify(&dir.0, "alice", false).verdict(),
		Some(Verdict::NotServed { segment: 6 })
	);
	w.miner("alice", &w.start).train_bundle(&dir.0).unwrap();
	let not_served = |r: &Report| matches!(r.verdict(), Some(Verdict::NotServed { .. }));
	// A checkpoint file missing, then garbage: not served.
	let path = dir.join(&crate::proof::checkpoint_file(2));
	let good = std::fs::read(&path).unwrap();
	std::fs::remove_file(&path).unwrap();
	let r = w.verify(&dir.0, "alice", true);
	assert_eq!(
		r.verdict(),
		Some(Verdict::NotServed { segment: 2 }),
		"{:?}",
		r.reason()
	);
	std::fs::write(&path, b"not safetensors").unwrap();
	let r = w.verify(&dir.0, "alice", true);
	assert_eq!(
		r.verdict(),
		Some(Verdict::NotServed { segment: 2 }),
		"{:?}",
		r.reason()
	);
	std::fs::write(&path, good).unwrap();
	// A manifest pointing outside the bundle: that file is not served.
	let mut m = Manifest::read(&dir.0).unwrap();
	let honest = m.clone();
	m.checkpoints[1].file = "../../etc/passwd".into();
	m.write(&dir.0).unwrap();
	assert!(not_served(&w.verify(&dir.0, "alice", false)));
	// A leaf that is not the hash of its parts, and garbage JSON: the manifest the miner
	// committed to is wrong, its fault, on segment n.
	let mut m = honest.clone();
	m.checkpoints[2].update_norm += 1.0;
	m.write(&dir.0).unwrap();
	assert_eq!(
		w.verify(&dir.0, "alice", false).verdict(),
		Some(Verdict::Fail { segment: 6 })
	);
	std::fs::write(dir.join(crate::proof::MANIFEST_FILE), b"{").unwrap();
	assert_eq!(
		w.verify(&dir.0, "alice", false).verdict(),
		Some(Verdict::Fail { segment: 6 })
	);
	honest.write(&dir.0).unwrap();
	assert_eq!(
		w.verify(&dir.0, "alice", false).verdict(),
		Some(Verdict::Pass)
	);
}

/// Miner names whose shards are all different, so that together they cover the data set.
fn miners_covering_shards(spec: &TaskSpec) -> Vec<String> {
	let mut taken = vec![false; spec.data.num_shards as usize];
	let mut names = Vec::new();
	for i in 0.. {
		let name = format!("miner-{i}");
		let s = hashing::shard_of(spec.task.id, &account(&name), spec.data.num_shards).unwrap();
		if !taken[s as usize] {
			taken[s as usize] = true;
			names.push(name);
		}
		if names.len() == taken.len() {
			return names;
		}
	}
	unreachable!()
}

#[test]
fn federated_five_miners_ten_rounds_non_iid_digits() {
	let toml = TASK
		.replace("local_steps = 60", "local_steps = 40")
		.replace("segments_per_check = 3", "segments_per_check = 2");
	let w = world(&toml);
	let miners = miners_covering_shards(&w.spec);
	assert_eq!(miners.len(), 5);
	let mut global = w.start.clone();
	let val = &w.data.split.validation;
	let ds = w.data.on(Device::Cpu);
	for round in 0..10u32 {
		let round_seed = hashing::round_seed(w.spec.task.id, round, &Hash::zero());
		let mut updates = Vec::new();
		for name in &miners {
			let dir = TempDir::new("fl");
			let mut run = w.miner(name, &global);
			run.round = round;
			run.round_seed = round_seed;
			let m = run.train_bundle(&dir.0).unwrap();
			let expected = Expected {
				spec: &w.spec,
				round,
				round_seed,
				miner: account(name),
				start: &global,
				root: Some(crate::config::parse_hash(&m.checkpoint_root).unwrap()),
				final_model_hash: None,
				start_loss: None,
			};
			let v = Validator {
				randomness: hashing::challenge_seed(w.spec.task.id, round, &Hash::zero()),
				..w.validator(false, None)
			};
			let r = verify_bundle(&dir.0, &expected, &v).unwrap();
			assert_eq!(
				r.verdict(),
				Some(Verdict::Pass),
				"{name} round {round}: {:?}",
				r.reason()
			);
			let last = Checkpoint::read(&dir.join(&crate::proof::checkpoint_file(m.num_segments)))
				.unwrap();
			updates.push(Update {
				miner: account(name),
				params: last.params,
				score: r.score,
			});
		}
		match aggregate(&global, &updates, Rule::FedAvg) {
			Ok(next) => global = next,
			// No update improved the model: the round keeps it, as the chain would.
			Err(e) => eprintln!("round {round}: {e}"),
		}
		let (loss, acc) = evaluate(&w.spec, &global, &ds, val, Device::Cpu).unwrap();
		eprintln!(
			"round {round}: global validation loss {loss:.4}, accuracy {:.2}%",
			100.0 * acc
		);
	}
	let (_, fed_acc) = evaluate(&w.spec, &global, &ds, val, Device::Cpu).unwrap();

	// The centralised baseline: one model on the union of the shards, as many SGD steps as the
	// five miners took together.
	let mut all: Vec<i64> = w.data.split.shards.concat();
	all.sort_unstable();
	let start = Checkpoint::start(w.start.clone(), true);
	let seed = hashing::hash(b"centralised");
	let mut t = Trainer::new(&w.spec, &start, &ds, &all, seed, Device::Cpu).unwrap();
	t.run(0, 5 * 10 * 40, &progress_bar(false, 0, "")).unwrap();
	let central = t.checkpoint().unwrap().params;
	let (_, central_acc) = evaluate(&w.spec, &central, &ds, val, Device::Cpu).unwrap();
	println!(
		"held-out accuracy: federated (5 miners × 10 rounds, Dirichlet 0.5) {:.2}%, \
		 centralised baseline {:.2}%",
		100.0 * fed_acc,
		100.0 * central_acc
	);
	eprintln!(
		"held-out accuracy: federated {:.2}%, centralised {:.2}%",
		100.0 * fed_acc,
		100.0 * central_acc
	);
	assert!(fed_acc >= 0.90, "federated accuracy {fed_acc}");
	assert!(central_acc >= 0.90, "centralised accuracy {central_acc}");
}

/// docs/PROTOCOL.md's step written out as it reads: gradients zeroed and accumulated into by
/// `backward`, then the update's operations one by one. The trainer's step, which skips the
/// zeroing and the accumulation and keeps its temporaries, must give the same bits, with
/// momentum and without.
#[test]
fn the_trainers_step_is_the_protocols_step_to_the_bit() {
	for momentum in ["0.9", "0.0"] {
		let w = world(&TASK.replace("momentum = 0.9", &format!("momentum = {momentum}")));
		let run = w.miner("alice", &w.start);
		let (_, shard) = run.shard().unwrap();
		let ds = w.data.on(Device::Cpu);
		let start = Checkpoint::start(w.start.clone(), w.spec.momentum() > 0.0);
		let mut t =
			Trainer::new(&w.spec, &start, &ds, shard, run.data_seed(), Device::Cpu).unwrap();

		let mut model = Model::uninit(&w.spec.task.model, Device::Cpu).unwrap();
		model.set_params(&w.start).unwrap();
		let mut params: Vec<tch::Tensor> = model
			.named_parameters()
			.into_iter()
			.map(|(_, p)| p)
			.collect();
		let mut bufs: Vec<tch::Tensor> = params.iter().map(tch::Tensor::zeros_like).collect();
		let (lr, mu) = (w.spec.learning_rate(), w.spec.momentum());
		for s in 0..w.spec.hyperparameters.local_steps {
			let (xs, ys) = ds.gather(&t.batch(s).unwrap());
			for p in &mut params {
				p.zero_grad();
			}
			let loss = model.forward(&xs).cross_entropy_for_logits(&ys);
			loss.backward();
			tch::no_grad(|| {
				for (p, b) in params.iter_mut().zip(&mut bufs) {
					let g = p.grad();
					let direction = if mu > 0.0 {
						let _ = b.g_mul_scalar_(mu);
						let _ = b.g_add_(&g);
						b.shallow_clone()
					} else {
						g
					};
					let _ = p.g_sub_(&(direction * lr));
				}
			});
			let reference_loss = loss.double_value(&[]);
			assert_eq!(
				t.step(s).unwrap().to_bits(),
				reference_loss.to_bits(),
				"step {s}"
			);
		}
		assert_eq!(
			hash_named(&t.checkpoint().unwrap().params).unwrap(),
			hash_named(&model.params().unwrap()).unwrap(),
			"momentum {momentum}"
		);
	}
}

#[test]
fn artifact_store_serves_checked_artifacts() {
	let w = world(TASK);
	let bundle = TempDir::new("store-bundle");
	let m = w.miner("alice", &w.start).train_bundle(&bundle.0).unwrap();
	let store_dir = TempDir::new("store");
	let s = Store::open(&store_dir.0, store::DEFAULT_MAX_BYTES).unwrap();
	let manifest_hash = s.put_bundle(&bundle.0).unwrap();
	let server = store::serve(s.clone(), "127.0.0.1:0").unwrap();
	let url = server.url();

	// A whole bundle fetched by hashes verifies.
	let fetched = TempDir::new("store-fetched");
	store::fetch_bundle(
		&url,
		&manifest_hash,
		&fetched.0,
		store::DEFAULT_MAX_BYTES,
		false,
	)
	.unwrap();
	assert_eq!(
		w.verify(&fetched.0, "alice", false).verdict(),
		Some(Verdict::Pass)
	);
	// The final model, by the commitment's final_model_hash.
	let final_hash = crate::config::parse_hash(&m.final_model_hash).unwrap();
	let bytes = store::fetch(&url, &final_hash, store::DEFAULT_MAX_BYTES, false).unwrap();
	assert_eq!(
		hash_named(&crate::proof::read_safetensors(&bytes).unwrap()).unwrap(),
		final_hash
	);

	// Missing.
	let missing = Hash::repeat_byte(3);
	assert!(matches!(
		store::fetch(&url, &missing, 1 << 20, false),
		Err(FetchError::NotFound)
	));
	// Oversized.
	assert!(matches!(
		store::fetch(&url, &final_hash, 100, false),
		Err(FetchError::TooLarge { limit: 100, .. })
	));
	// Corrupt: the served file no longer hashes to its name.
	let path = s.path(&final_hash).unwrap();
	let mut corrupt = bytes.clone();
	let last = corrupt.len() - 1;
	corrupt[last] ^= 0x55;
	std::fs::write(&path, &corrupt).unwrap();
	let err = store::fetch(&url, &final_hash, store::DEFAULT_MAX_BYTES, false).unwrap_err();
	assert!(matches!(err, FetchError::HashMismatch { .. }), "{err}");
	assert!(err.to_string().contains("corrupt"));
	assert!(s.get(&final_hash).is_err());
	// Bad requests.
	assert!(matches!(
		store::http_get(&format!("{url}/v1/artifacts/xyz"), 1 << 20, false),
		Err(FetchError::Status(400))
	));
	assert!(matches!(
		store::http_get("ftp://example.org/x", 1 << 20, false),
		Err(FetchError::BadUrl(_))
	));
	server.stop();
	// Nobody listening (a port just freed).
	let port = std::net::TcpListener::bind("127.0.0.1:0")
		.unwrap()
		.local_addr()
		.unwrap()
		.port();
	assert!(matches!(
		store::fetch(
			&format!("http://127.0.0.1:{port}"),
			&final_hash,
			1 << 20,
			false
		),
		Err(FetchError::Io(_))
	));
	// The store refuses what is over its limit.
	let small = Store::open(&store_dir.join("small"), 10).unwrap();
	assert!(small.put(&bytes).is_err());
}

#[test]
fn a_checkpoints_size_is_known_from_the_model_before_its_bytes() {
	// Every checkpoint of a run has the model's tensors (and as many momentum buffers), in the
	// project's safetensors encoding: its exact size, which a validator fetches no more than.
	for (toml, model) in [
		(TASK.to_string(), "mlp:64-32-10"),
		(
			TASK.replace("mlp:64-32-10", "cnn:8x8x1-c8-c16-10")
				.replace("momentum = 0.9", "momentum = 0.0"),
			"cnn:8x8x1-c8-c16-10",
		),
	] {
		let w = world(&toml);
		let layout: Vec<(String, Vec<u64>)> = w
			.start
			.iter()
			.map(|t| (t.name.clone(), t.dims.clone()))
			.collect();
		let momentum = w.spec.momentum() > 0.0;
		let size = crate::proof::checkpoint_size(&layout, momentum).unwrap();
		let run = w.miner("alice", &w.start).train().unwrap();
		for c in [&run.checkpoints[0], run.checkpoints.last().unwrap()] {
			assert_eq!(c.to_safetensors().unwrap().len() as u64, size, "{model}");
		}
		// With and without momentum buffers the sizes differ: the task's momentum decides.
		let other = crate::proof::checkpoint_size(&layout, !momentum).unwrap();
		let start = Checkpoint::start(w.start.clone(), !momentum);
		assert_eq!(
			start.to_safetensors().unwrap().len() as u64,
			other,
			"{model}"
		);
		assert_ne!(size, other);
	}
}

/// A remote verification of `manifest_hash` from `url`, into a fresh directory.
fn verify_remote_from(w: &World, url: &str, manifest_hash: &Hash, all: bool) -> Report {
	let dir = TempDir::new("remote");
	let expected = w.expected("alice", &w.start);
	let v = w.validator(all, None);
	verify_served(&dir.0, url, manifest_hash, &expected, &v).unwrap()
}

#[test]
fn a_bundle_is_stored_by_link_once_checked() {
	use std::os::unix::fs::MetadataExt;
	let w = world(TASK);
	let bundle = TempDir::new("link-bundle");
	let m = w.miner("alice", &w.start).train_bundle(&bundle.0).unwrap();
	let file = |j: u32| crate::proof::checkpoint_path(&bundle.0, &m, j).unwrap();
	let hash = |j: u32| crate::config::parse_hash(&m.checkpoints[j as usize].model_hash).unwrap();
	let store_dir = TempDir::new("link-store");
	let s = Store::open(&store_dir.0, store::DEFAULT_MAX_BYTES).unwrap();

	// A file that is not the artifact it is stored as is refused, and nothing is stored.
	let err = s.put_file_checked(&file(2), &hash(1)).unwrap_err();
	assert!(err.to_string().contains("expected"), "{err}");
	assert!(s.path(&hash(1)).is_none());
	// Nor is one over the store's limit.
	let small_dir = TempDir::new("link-small");
	let small = Store::open(&small_dir.0, 100).unwrap();
	assert!(small.put_file_checked(&file(1), &hash(1)).is_err());
	assert!(small.path(&hash(1)).is_none());

	// The bundle: each checkpoint is the bundle's own file under its hash (one inode, no copy
	// of a gigabyte a round), and reads back checked.
	s.put_bundle(&bundle.0).unwrap();
	for j in 0..=m.num_segments {
		let stored = s.path(&hash(j)).unwrap();
		let ino = |p: &Path| std::fs::metadata(p).unwrap().ino();
		assert_eq!(ino(&stored), ino(&file(j)), "checkpoint {j}");
		s.get(&hash(j)).unwrap();
	}
	// Removing the bundle (retention does) leaves the store's copy.
	let last = hash(m.num_segments);
	drop(bundle);
	assert!(s.get(&last).is_ok());
}

#[test]
fn remote_verification_fetches_only_the_challenged_checkpoints() {
	// Twelve segments of 5 steps, three challenged: at most 7 of the 13 checkpoints are needed.
	let w = world(&TASK.replace("checkpoint_interval = 10", "checkpoint_interval = 5"));
	let bundle = TempDir::new("remote-bundle");
	let m = w.miner("alice", &w.start).train_bundle(&bundle.0).unwrap();
	let n = m.num_segments;
	assert_eq!(n, 12);
	let store_dir = TempDir::new("remote-store");
	let s = Store::open(&store_dir.0, store::DEFAULT_MAX_BYTES).unwrap();
	let manifest_hash = s.put_bundle(&bundle.0).unwrap();
	let server = store::serve(s.clone(), "127.0.0.1:0").unwrap();
	let url = server.url();
	let model_hash =
		|j: u32| crate::config::parse_hash(&m.checkpoints[j as usize].model_hash).unwrap();
	let size = |j: u32| {
		std::fs::metadata(crate::proof::checkpoint_path(&bundle.0, &m, j).unwrap())
			.unwrap()
			.len()
	};
	let manifest_size = std::fs::metadata(bundle.join(crate::proof::MANIFEST_FILE))
		.unwrap()
		.len();
	let total = manifest_size + (0..=n).map(size).sum::<u64>();

	// Honest: passes, with the local verification's score, fetching the manifest, both ends of
	// each challenged segment and the final checkpoint (C_0 only when segment 1 is challenged:
	// otherwise the validator builds it), nothing else.
	let r = verify_remote_from(&w, &url, &manifest_hash, false);
	assert_eq!(r.verdict(), Some(Verdict::Pass), "{:?}", r.reason());
	assert_eq!(r.score, w.verify(&bundle.0, "alice", false).score);
	let needed: std::collections::BTreeSet<u32> = r
		.challenged
		.iter()
		.flat_map(|&s| [s - 1, s])
		.chain([n])
		.collect();
	assert!(needed.len() <= 7);
	let challenged = r.challenged.clone();
	let f = r.fetched.clone().unwrap();
	assert_eq!(f.checkpoints, needed.iter().copied().collect::<Vec<_>>());
	let mut served = server.served();
	assert_eq!(served[0], manifest_hash, "the manifest first");
	served.remove(0);
	served.sort();
	let mut want: Vec<Hash> = needed.iter().map(|&j| model_hash(j)).collect();
	want.sort();
	assert_eq!(
		served, want,
		"the server handed out exactly the needed checkpoints"
	);
	assert_eq!(
		f.bytes,
		manifest_size + needed.iter().map(|&j| size(j)).sum::<u64>()
	);
	assert_eq!(f.total_bytes, total);
	assert!(f.bytes < total);

	// `--all-segments` fetches the whole bundle.
	let before = server.served().len();
	let r = verify_remote_from(&w, &url, &manifest_hash, true);
	assert_eq!(r.verdict(), Some(Verdict::Pass), "{:?}", r.reason());
	let f = r.fetched.unwrap();
	assert_eq!(f.checkpoints, (0..=n).collect::<Vec<_>>());
	assert_eq!((f.bytes, f.total_bytes), (total, total));
	assert_eq!(server.served().len() - before, n as usize + 2);

	// A checkpoint tampered on the server inside a challenged segment: fetched, and its
	// segment named.
	let tamper = |j: u32| {
		let path = s.path(&model_hash(j)).unwrap();
		let honest = std::fs::read(&path).unwrap();
		let mut c = Checkpoint::from_safetensors(&honest).unwrap();
		c.params[0].data[0] += 1e-3;
		std::fs::write(&path, c.to_safetensors().unwrap()).unwrap();
		move || std::fs::write(&path, &honest).unwrap()
	};
	let inside = *challenged.iter().min().unwrap();
	let restore = tamper(inside);
	let r = verify_remote_from(&w, &url, &manifest_hash, false);
	assert_eq!(
		r.verdict(),
		Some(Verdict::NotServed { segment: inside }),
		"{:?}",
		r.reason()
	);
	assert!(r
		.reason()
		.unwrap()
		.contains(&format!("checkpoint {inside} hashes to")));
	restore();

	// A checkpoint tampered outside the challenged segments is not fetched, so not detected:
	// that is what sampling means. The validator checks Q segments of n; a miner who forges
	// others is caught with the probability that some validator challenges them (and the
	// last segment is always challenged). Fetching the whole bundle catches it.
	let outside = (1..n).find(|j| !needed.contains(j)).unwrap();
	let before = server.served().len();
	let restore = tamper(outside);
	let r = verify_remote_from(&w, &url, &manifest_hash, false);
	assert_eq!(r.verdict(), Some(Verdict::Pass), "{:?}", r.reason());
	assert!(!server.served()[before..].contains(&model_hash(outside)));
	let r = verify_remote_from(&w, &url, &manifest_hash, true);
	assert_eq!(
		r.verdict(),
		Some(Verdict::NotServed { segment: outside }),
		"{:?}",
		r.reason()
	);
	restore();

	// A needed checkpoint the server no longer has: not served, on segment n, which it ends.
	let gone = s.path(&model_hash(n)).unwrap();
	std::fs::remove_file(&gone).unwrap();
	let r = verify_remote_from(&w, &url, &manifest_hash, false);
	assert_eq!(
		r.verdict(),
		Some(Verdict::NotServed { segment: n }),
		"{:?}",
		r.reason()
	);
	server.stop();
}

/// The chain side that needs no chain: task files, the conversions to and from the chain's
/// types, re-sending, keys, and the lazy miner's run.
mod chain_side {
	use super::*;
	use crate::chain::{self, Action, Pending, Resend, TxState, RESUBMIT_AFTER};
	use crate::creator::{TaskFile, UNIT};
	use crate::round;

	fn demo_path() -> PathBuf {
		// Read when the test runs (cargo sets it), not baked in at compile time: a target
		// directory shared between clones would point at another clone.
		let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR");
		Path::new(&dir).join("tasks/digits-demo.toml")
	}

	#[test]
	fn a_task_file_round_trips_through_the_chains_types() {
		let file = TaskFile::load(&demo_path()).unwrap();
		let (spec, budget) = file.chain_spec().unwrap();
		assert_eq!(budget, 1000 * UNIT);
		assert_eq!(spec.reward_per_round, 100 * UNIT);
		// What a worker reads back from the chain is what the creator wrote.
		let back = round::task_spec_from_chain(0, &spec).unwrap();
		assert_eq!(back, file.config.spec());
		// W₀ is published by seed, and its hash is the model's.
		let w0 = Model::new(&back.task.model, 0, Device::Cpu)
			.unwrap()
			.params()
			.unwrap();
		assert_eq!(spec.initial_model_hash.0, hash_named(&w0).unwrap().0);
		assert_eq!(spec.initial_model_uri.0, b"init:0".to_vec());
	}

	#[test]
	fn the_aggregation_rule_is_the_tasks_and_survives_the_chain() {
		use crate::aggregate::Rule;
		let text = std::fs::read_to_string(demo_path()).unwrap();
		let with = |section: &str| {
			let t = text.replace("[aggregation]\nrule = \"fedavg\"", section);
			TaskFile::parse(&t)
		};
		for (section, rule) in [
			("[aggregation]\nrule = \"median\"", Rule::Median),
			(
				"[aggregation]\nrule = \"trimmed-mean\"\ntrim = 0.25",
				Rule::TrimmedMean { trim: 0.25 },
			),
			(
				"[aggregation]\nrule = \"norm-clip\"\nmax_norm = 2.5",
				Rule::NormClip { max_norm: 2.5 },
			),
			// Left out, it is FedAvg.
			("", Rule::FedAvg),
		] {
			let file = with(section).unwrap();
			assert_eq!(file.config.aggregation, rule);
			let (spec, _) = file.chain_spec().unwrap();
			let back = round::task_spec_from_chain(0, &spec).unwrap();
			assert_eq!(back.aggregation, rule, "{section}");
		}
		for (bad, why) in [
			(
				"[aggregation]\nrule = \"trimmed-mean\"\ntrim = 0.5",
				"trim must lie in",
			),
			(
				"[aggregation]\nrule = \"norm-clip\"\nmax_norm = 0.0",
				"max_norm in (0, 1000000]",
			),
			// What the chain would refuse once rounded to 9 decimals, refused here first.
			(
				"[aggregation]\nrule = \"trimmed-mean\"\ntrim = 0.4999999996",
				"trim must lie in",
			),
			(
				"[aggregation]\nrule = \"norm-clip\"\nmax_norm = 1e-10",
				"max_norm in (0, 1000000]",
			),
			(
				"[aggregation]\nrule = \"norm-clip\"\nmax_norm = 2e6",
				"max_norm in (0, 1000000]",
			),
			("[aggregation]\nrule = \"krum\"", "unknown rule \"krum\""),
			(
				"[aggregation]\nrule = \"median\"\ntrim = 0.1",
				"takes no trim or max_norm",
			),
			("[aggregation]\nrule = \"norm-clip\"", "needs max_norm"),
			(
				"[aggregation]\nrule = \"fedavg\"\nbeta = 1",
				"unknown field `beta`",
			),
		] {
			let e = format!("{:#}", with(bad).unwrap_err());
			assert!(e.contains(why), "{bad}: {e}");
		}
	}

	#[test]
	fn bad_task_files_are_errors() {
		let text = std::fs::read_to_string(demo_path()).unwrap();
		let no_chain = text.split("[chain]").next().unwrap();
		let e = TaskFile::parse(no_chain).unwrap_err();
		assert!(format!("{e:#}").contains("no [chain] section"), "{e:#}");
		let typo = text.replace("rounds = 10", "roundz = 10");
		assert!(TaskFile::parse(&typo).is_err());
		assert!(crate::creator::pol_to_units(-1.0).is_err());
		assert!(crate::creator::pol_to_units(f64::NAN).is_err());
		assert_eq!(crate::creator::pol_to_units(0.5).unwrap(), UNIT / 2);
	}

	#[test]
	fn an_extrinsic_in_a_pool_is_sent_again_as_the_same_bytes_only_after_its_window() {
		let mut p = Pending::default();
		let commit = Action::Commit(0, 1);
		assert_eq!(p.next_send(&commit, 10), Some(Resend::Fresh));
		p.sent(&commit, 10, 7, b"signed".to_vec());
		assert_eq!(p.next_send(&commit, 10 + RESUBMIT_AFTER - 1), None);
		// The same nonce: whichever copy lands, the other cannot.
		assert_eq!(
			p.next_send(&commit, 10 + RESUBMIT_AFTER),
			Some(Resend::Same(b"signed".to_vec()))
		);
		assert!(p.due(&Action::Reveal(0, 1), 11), "keys are independent");
		p.done(&commit);
		assert_eq!(p.next_send(&commit, 11), Some(Resend::Fresh));
	}

	#[test]
	fn an_extrinsic_in_the_best_chain_waits_out_a_finality_stall() {
		let mut p = Pending::default();
		let vote = Action::CommitVote(0, 1, chain::AccountId32([9; 32]));
		p.sent(&vote, 10, 1, b"vote".to_vec());
		p.update(&vote, None, TxState::InBest);
		// However long finality stalls, a landed extrinsic is not sent again.
		assert_eq!(p.next_send(&vote, 10 + 100 * RESUBMIT_AFTER), None);
		// Its block retracted, it is back in a pool: the same bytes again, after the window.
		p.update(&vote, None, TxState::Pooled);
		assert_eq!(
			p.next_send(&vote, 10 + 100 * RESUBMIT_AFTER),
			Some(Resend::Same(b"vote".to_vec()))
		);
	}

	#[test]
	fn an_extrinsic_out_of_every_pool_is_signed_afresh_at_once_and_a_failed_one_never() {
		let mut p = Pending::default();
		let commit = Action::Commit(0, 1);
		p.sent(&commit, 10, 3, b"first".to_vec());
		p.update(&commit, None, TxState::Gone("dropped".into()));
		// It cannot land any more: a fresh copy (a new nonce) is due without waiting.
		assert_eq!(p.next_send(&commit, 10), Some(Resend::Fresh));
		p.sent(&commit, 11, 4, b"second".to_vec());
		// The first copy's watch, late, says nothing about the second.
		let first = pol_primitives::hashing::hash(b"first");
		p.update(&commit, Some(first), TxState::Gone("late news".into()));
		assert_eq!(p.state(&commit), Some(TxState::Pooled));
		// Failed at dispatch: final, never sent again.
		let second = pol_primitives::hashing::hash(b"second");
		p.update(
			&commit,
			Some(second),
			TxState::Failed("AlreadyCommitted".into()),
		);
		assert_eq!(p.failed(&commit).as_deref(), Some("AlreadyCommitted"));
		assert_eq!(p.next_send(&commit, 10 + 100 * RESUBMIT_AFTER), None);
	}

	#[test]
	fn bytes_refused_when_sent_again_wait_for_their_mortality_before_a_fresh_copy() {
		// The node refuses the same bytes sent again ("already imported", "temporarily banned",
		// a used nonce): the first copy may be in a pool or a block, so a fresh copy (another
		// nonce, which could land beside it) waits until the first one's mortality is over.
		let mut p = Pending::default();
		let create = Action::CreateTask;
		p.sent(&create, 10, 5, b"create".to_vec());
		p.update(
			&create,
			None,
			TxState::Doubtful("temporarily banned".into()),
		);
		assert_eq!(p.next_send(&create, 11), None);
		assert_eq!(p.next_send(&create, 10 + 16), None);
		assert_eq!(p.next_send(&create, 10 + 17), Some(Resend::Fresh));
		// A watch lost after a best block is as doubtful; lost while pooled, the same bytes go
		// again after the window.
		let commit = Action::Commit(0, 1);
		p.sent(&commit, 10, 6, b"commit".to_vec());
		let hash = pol_primitives::hashing::hash(b"commit");
		p.update(&commit, Some(hash), TxState::InBest);
		p.lost(&commit, hash);
		assert!(matches!(p.state(&commit), Some(TxState::Doubtful(_))));
		assert_eq!(p.next_send(&commit, 10 + RESUBMIT_AFTER), None);
		let reveal = Action::Reveal(0, 1);
		p.sent(&reveal, 10, 7, b"reveal".to_vec());
		p.lost(&reveal, pol_primitives::hashing::hash(b"reveal"));
		assert_eq!(
			p.next_send(&reveal, 10 + RESUBMIT_AFTER),
			Some(Resend::Same(b"reveal".to_vec()))
		);
	}

	#[test]
	fn keys_come_from_a_uri_or_a_private_keystore_file() {
		use std::os::unix::fs::PermissionsExt;
		let alice = chain::keypair_from_suri("//Alice").unwrap();
		let public = hex::encode(alice.public_key().0);
		assert_eq!(
			alice.public_key().to_account_id().to_string(),
			"5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
		);
		assert!(chain::keypair_from_suri("not a uri at all ///").is_err());

		let tmp = TempDir::new("keystore");
		let dir = tmp.0.clone();
		let good = dir.join(format!("61757261{public}"));
		std::fs::write(&good, "\"//Alice\"").unwrap();
		std::fs::set_permissions(&good, std::fs::Permissions::from_mode(0o644)).unwrap();
		let e = chain::keypair_from_keystore(&good).unwrap_err();
		assert!(format!("{e:#}").contains("chmod 600"), "{e:#}");
		std::fs::set_permissions(&good, std::fs::Permissions::from_mode(0o600)).unwrap();
		let k = chain::keypair_from_keystore(&good).unwrap();
		assert_eq!(k.public_key().0, alice.public_key().0);

		// A file whose name names another key.
		let bob = chain::keypair_from_suri("//Bob").unwrap();
		let wrong = dir.join(format!("61757261{}", hex::encode(bob.public_key().0)));
		std::fs::write(&wrong, "\"//Alice\"").unwrap();
		std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).unwrap();
		assert!(chain::keypair_from_keystore(&wrong).is_err());
	}

	#[test]
	fn artifact_uris_split_into_server_and_hash() {
		let h = Hash::repeat_byte(0xab);
		let uri = round::artifact_uri("http://127.0.0.1:8711/", &h);
		assert_eq!(
			uri,
			format!("http://127.0.0.1:8711/v1/artifacts/{}", hex32(&h.0))
		);
		let (base, back) = round::split_artifact_uri(&uri).unwrap();
		assert_eq!((base.as_str(), back), ("http://127.0.0.1:8711", h));
		assert!(round::split_artifact_uri("http://host/other/path").is_err());
	}

	#[test]
	fn a_lazy_miners_run_fails_at_a_challenged_segment() {
		let w = world(TASK);
		let run = w.miner("lazy", &w.start);
		let tmp = TempDir::new("lazy");
		let dir = tmp.join("bundle");
		w.write("lazy", &dir, &crate::faults::lazy_run(&run).unwrap());
		let r = w.verify(&dir, "lazy", false);
		assert_caught_at_first_challenge(&r);
		// A dispute's replay of any one segment catches it too.
		let m = Manifest::read(&dir).unwrap();
		for s in 1..=m.num_segments {
			let v = w.validator(false, Some(s));
			let expected = w.expected("lazy", &w.start);
			let r = verify_bundle(&dir, &expected, &v).unwrap();
			assert_eq!(r.verdict(), Some(Verdict::Fail { segment: s }));
		}
	}

	#[test]
	fn a_miner_refuses_to_commit_a_run_that_does_not_replay_on_its_own_host() {
		let w = world(TASK);
		let run = w.miner("self", &w.start);
		let tmp = TempDir::new("self-check");
		let honest = tmp.join("honest");
		let m = run.train_bundle(&honest).unwrap();
		crate::miner::self_check(&run, &honest, m.num_segments).unwrap();
		// Bytes that do not replay, whatever made them (here, the lazy miner's): the miner's own
		// replay catches them before anything is committed.
		let broken = tmp.join("broken");
		let m = w.write("self", &broken, &crate::faults::lazy_run(&run).unwrap());
		let err = crate::miner::self_check(&run, &broken, m.num_segments).unwrap_err();
		assert!(
			format!("{err:#}").contains("does not reproduce on this host"),
			"{err:#}"
		);
	}
}

/// A served bundle: its store, server and manifest hash.
struct Served {
	_dir: TempDir,
	server: store::ServerHandle,
	manifest_hash: Hash,
}

/// Serves `bundle` from a fresh store on a local port.
fn serve(bundle: &Path) -> Served {
	let dir = TempDir::new("served-store");
	let s = Store::open(&dir.0, store::DEFAULT_MAX_BYTES).unwrap();
	let manifest_hash = s.put_bundle(bundle).unwrap();
	let server = store::serve(s, "127.0.0.1:0").unwrap();
	Served {
		_dir: dir,
		server,
		manifest_hash,
	}
}

/// The attacks of an adaptive miner (`pol-worker miner --fault`), each against the defence that
/// stops it. Each test fails if its defence is removed.
mod attacks {
	use super::*;
	use crate::faults;
	use crate::verify::{MinerFault, Outcome};

	/// `validator`'s remote verification of `miner`'s served run, against the revealed
	/// `final_model_hash`; `only` replays one segment, as a dispute voter does.
	fn check(
		w: &World,
		served: &Served,
		miner: &str,
		validator: &str,
		final_model_hash: Option<Hash>,
		only: Option<u32>,
	) -> Report {
		let dir = TempDir::new("attack-fetch");
		let expected = Expected {
			spec: &w.spec,
			round: 0,
			round_seed: w.round_seed,
			miner: account(miner),
			start: &w.start,
			root: None,
			final_model_hash,
			start_loss: None,
		};
		let v = Validator {
			data: &w.data,
			account: account(validator),
			randomness: w.challenge_seed,
			all_segments: false,
			only_segments: only.map(|s| vec![s]),
			pinned: pinned(),
			progress: false,
			deadline: None,
		};
		let url = served.server.url();
		verify_served(&dir.0, &url, &served.manifest_hash, &expected, &v).unwrap()
	}

	#[test]
	fn swap_final_is_refused_at_reveal_and_by_validators() {
		let w = world(TASK);
		let dir = TempDir::new("swap-final");
		let m = w.miner("mallory", &w.start).train_bundle(&dir.0).unwrap();
		let n = m.num_segments as usize;
		let last = Checkpoint::read(&dir.join(&crate::proof::checkpoint_file(n as u32))).unwrap();
		let w_star = faults::swapped_final(&w.start, &last).hash().unwrap();
		let proof = crate::miner::final_leaf_proof(&m).unwrap();
		let honest = m.commitment("http://m/v1/artifacts/00").unwrap();
		// The chain's check at reveal: the honest final hash is leaf n, W* is not.
		assert_eq!(proof.verify(&honest), Ok(()));
		let mut swapped = honest.clone();
		swapped.final_model_hash = w_star;
		assert_eq!(
			proof.verify(&swapped),
			Err(pol_primitives::FinalLeafError::NotLeafN)
		);
		// And a validator handed W* as the revealed hash (were the chain not to check) finds
		// that the run it verifies ends elsewhere: the miner's fault, never an aggregated W*.
		let served = serve(&dir.0);
		let r = check(&w, &served, "mallory", "v1", Some(w_star), None);
		assert!(
			matches!(
				r.outcome,
				Outcome::MinerFault { segment, fault: MinerFault::FinalNotRevealed { .. } }
					if segment == n as u32
			),
			"{}",
			r.outcome
		);
		assert!(r.final_checkpoint.is_none());
		// The honest hash passes, and the verified C_n is what the validator keeps.
		let final_hash = crate::config::parse_hash(&m.final_model_hash).unwrap();
		let r = check(&w, &served, "mallory", "v1", Some(final_hash), None);
		assert_eq!(r.outcome, Outcome::Pass);
		assert_eq!(r.final_checkpoint.unwrap().hash().unwrap(), final_hash);
	}

	#[test]
	fn forging_the_last_segment_is_caught_by_every_validator() {
		let w = world(TASK);
		let dir = TempDir::new("forge-last");
		let run = w.miner("mallory", &w.start);
		w.write("mallory", &dir.0, &faults::forge_last_run(&run).unwrap());
		let served = serve(&dir.0);
		for v in ["v1", "v2", "v3", "v4", "v5"] {
			let r = check(&w, &served, "mallory", v, None, None);
			assert_eq!(r.challenged[0], 6);
			assert_eq!(
				r.verdict(),
				Some(Verdict::Fail { segment: 6 }),
				"{v}: {}",
				r.outcome
			);
		}
	}

	#[test]
	fn understated_norms_are_caught_on_challenged_segments() {
		let w = world(TASK);
		let dir = TempDir::new("understate");
		w.miner("mallory", &w.start).train_bundle(&dir.0).unwrap();
		faults::understate_norms(&dir.0, None).unwrap();
		let served = serve(&dir.0);
		let r = check(&w, &served, "mallory", "v1", None, None);
		// Segment n's two ends are always read, so its norm is always checked.
		assert!(
			matches!(&r.outcome, Outcome::MinerFault { fault: MinerFault::Norm { actual, committed }, .. }
				if *committed == actual * 0.5),
			"{}",
			r.outcome
		);
		assert!(r.challenged.contains(&r.failed_segment().unwrap()));
	}

	#[test]
	fn real_verdicts_are_the_decisions_attack_sim_counts() {
		// attack-sim counts a strategy caught by `attack::caught` over the challenges drawn; here
		// the real remote verification of each strategy's run, by validators whose challenges
		// differ, must give exactly those decisions. Fails if the replay, the norm check or the
		// not-served path stops doing what the harness assumes.
		use crate::attack::{caught, forged_segments, Strategy};
		let w = world(TASK);
		let n = w.spec.num_segments();
		let run = w.miner("mallory", &w.start);
		let validators: Vec<String> = (1..=12).map(|i| format!("v{i}")).collect();
		for strategy in [
			Strategy::Forge { a: 2 },
			Strategy::Withhold { a: 1 },
			Strategy::UnderstateNorm { j: 3 },
		] {
			let dir = TempDir::new("attack-sim-real");
			let forged = forged_segments(strategy, n);
			let m = w.write(
				"mallory",
				&dir.0,
				&faults::forge_segments_run(&run, &forged).unwrap(),
			);
			if let Strategy::UnderstateNorm { j } = strategy {
				faults::understate_norms(&dir.0, Some(j)).unwrap();
			}
			let served = serve(&dir.0);
			if let Strategy::Withhold { .. } = strategy {
				for &j in &forged {
					let h = crate::config::parse_hash(&m.checkpoints[j as usize].model_hash);
					served
						.server
						.faults()
						.lock()
						.unwrap()
						.withheld
						.insert(h.unwrap());
				}
			}
			let mut decisions = Vec::new();
			for v in &validators {
				let r = check(&w, &served, "mallory", v, None, None);
				let real = r.verdict() != Some(Verdict::Pass);
				let counted = caught(strategy, n, &r.challenged);
				assert_eq!(
					real, counted,
					"{strategy}, {v} challenging {:?}: {}",
					r.challenged, r.outcome
				);
				decisions.push(real);
			}
			// Both decisions occur, so each branch of `caught` met the verifier.
			assert!(
				decisions.contains(&true) && decisions.contains(&false),
				"{strategy}: {decisions:?}"
			);
		}
	}

	#[test]
	fn a_voter_checks_every_claimed_segment_so_fail_decoys_cannot_hide_the_forged_one() {
		// Attack (late review of session 16): colluding scorers claim free `Fail`s on every
		// other segment of a forger's run, so that a voter checking a few claimed segments at
		// a time never reaches the forged one, leaves the dispute undecided and the forger
		// unslashed. A voter checks them all in one fetch (the vote-commit phase holds it).
		let w = world(TASK);
		let n = w.spec.num_segments();
		let forged = 2;
		let dir = TempDir::new("fail-decoys");
		let run = w.miner("mallory", &w.start);
		w.write(
			"mallory",
			&dir.0,
			&faults::forge_segments_run(&run, &[forged]).unwrap(),
		);
		let served = serve(&dir.0);
		// The decoys first, in the order a voter might draw.
		let mut claimed: Vec<u32> = (1..=n).rev().filter(|s| *s != forged).collect();
		claimed.push(forged);
		let scratch = TempDir::new("fail-decoys-fetch");
		let v = Validator {
			only_segments: Some(claimed.clone()),
			..w.validator(false, None)
		};
		let r = verify_served(
			&scratch.0,
			&served.server.url(),
			&served.manifest_hash,
			&w.expected("mallory", &w.start),
			&v,
		)
		.unwrap();
		assert!(
			matches!(r.outcome, Outcome::MinerFault { segment, .. } if segment == forged),
			"{}",
			r.outcome
		);
		let found = crate::validator::claim_findings(&claimed, &r);
		assert_eq!(found.len(), claimed.len());
		for (segment, finding) in &found {
			if *segment == forged {
				assert_eq!(*finding, Some(decide::Finding::Fails));
			} else {
				assert_ne!(*finding, Some(decide::Finding::Fails), "decoy {segment}");
			}
		}
		// Its vote upholds the dispute on the forged segment alone.
		let claims: Vec<decide::Claim> = claimed
			.iter()
			.map(|&segment| decide::Claim {
				mine: false,
				segment,
				fail: true,
			})
			.collect();
		let vote = decide::vote(&claims, |s| {
			found.iter().find(|(c, _)| *c == s).and_then(|(_, f)| *f)
		});
		assert_eq!(vote, Some((vec![forged], false)));
	}

	#[test]
	fn withholding_the_forged_segment_is_not_served_to_anyone() {
		let w = world(TASK);
		let dir = TempDir::new("withhold");
		let run = w.miner("mallory", &w.start);
		let m = w.write("mallory", &dir.0, &faults::forge_last_run(&run).unwrap());
		let served = serve(&dir.0);
		let last = crate::config::parse_hash(&m.checkpoints[6].model_hash).unwrap();
		served.server.faults().lock().unwrap().withheld.insert(last);
		// The challenger: not served, on segment 6 (never a free `Unavailable` pass).
		let r = check(&w, &served, "mallory", "v1", None, None);
		assert_eq!(
			r.verdict(),
			Some(Verdict::NotServed { segment: 6 }),
			"{}",
			r.outcome
		);
		// A dispute voter cannot fetch it either: it upholds, and the miner is slashed.
		let vote = check(&w, &served, "mallory", "v2", None, Some(6));
		assert!(vote.outcome.against_miner(), "{}", vote.outcome);
	}

	#[test]
	fn a_framed_validator_reports_not_served_and_the_voters_reject() {
		let w = world(TASK);
		let dir = TempDir::new("frame");
		let m = w.miner("mallory", &w.start).train_bundle(&dir.0).unwrap();
		let served = serve(&dir.0);
		{
			let faults = served.server.faults();
			let mut f = faults.lock().unwrap();
			for c in &m.checkpoints {
				f.framed
					.insert(crate::config::parse_hash(&c.model_hash).unwrap());
			}
		}
		// The first asker gets corrupt bytes: `NotServed`, never `Fail` (a rejected `Fail`
		// would slash it; a rejected `NotServed` does not).
		let r = check(&w, &served, "mallory", "v1", None, None);
		let Some(Verdict::NotServed { segment }) = r.verdict() else {
			panic!("framed validator reported {}", r.outcome);
		};
		assert!(r.challenged.contains(&segment));
		// The framer serves everyone after its target the right bytes (a checkpoint nobody had
		// asked for yet would be corrupt for its first asker too); the segment replays, and the
		// voters reject the dispute, which slashes nobody.
		served.server.faults().lock().unwrap().framed.clear();
		let vote = check(&w, &served, "mallory", "v2", None, Some(segment));
		assert_eq!(vote.outcome, Outcome::Pass);
		assert!(!vote.outcome.against_miner());
	}

	#[test]
	fn steered_momentum_fails_under_tolerance() {
		let toml = TASK.replace(
			"comparison = \"exact\"",
			"comparison = \"tolerance\"\ntolerance = 1e-3",
		);
		let w = world(&toml);
		let dir = TempDir::new("steer");
		let run = w.miner("mallory", &w.start);
		w.write(
			"mallory",
			&dir.0,
			&faults::steer_momentum_run(&run).unwrap(),
		);
		let r = w.verify(&dir.0, "mallory", true);
		assert_eq!(
			r.verdict(),
			Some(Verdict::Fail { segment: 1 }),
			"{}",
			r.outcome
		);
		// The parameters replay exactly (the miner trained on from its steered buffers): only
		// comparing the momentum catches it.
		let s = &r.segments[0];
		assert!(s.distance <= 1e-3 && s.momentum_distance > 0.4, "{s:?}");
	}

	#[test]
	fn tolerance_is_measured_against_the_segments_update() {
		let toml = TASK.replace("momentum = 0.9", "momentum = 0.0").replace(
			"comparison = \"exact\"",
			"comparison = \"tolerance\"\ntolerance = 1e-3",
		);
		let w = world(&toml);
		let run = w.miner("mallory", &w.start);
		let mut out = run.train().unwrap();
		// Move C_6 by 0.05% of the whole model's norm: within 1e-3 of ‖W‖, as the old rule
		// measured, but many times the tolerance of the segment's own update.
		let norm = crate::model::l2_norm(&out.checkpoints[6].params);
		let count: usize = out.checkpoints[6].params.iter().map(|t| t.data.len()).sum();
		let shift = (5e-4 * norm / (count as f64).sqrt()) as f32;
		for t in &mut out.checkpoints[6].params {
			for x in &mut t.data {
				*x += shift;
			}
		}
		let dir = TempDir::new("tolerance");
		w.write("mallory", &dir.0, &out);
		let r = w.verify(&dir.0, "mallory", false);
		assert_eq!(
			r.verdict(),
			Some(Verdict::Fail { segment: 6 }),
			"{}",
			r.outcome
		);
		let last = Checkpoint::read(&dir.join(&crate::proof::checkpoint_file(6))).unwrap();
		let whole_model = r.segments[0].distance
			* crate::model::l2_distance(&last.params, &out.checkpoints[5].params).unwrap()
			/ crate::model::l2_norm(&last.params);
		assert!(
			whole_model < 1e-3,
			"the old rule would pass it: {whole_model}"
		);
		assert!(r.segments[0].distance > 1e-3);
	}

	#[test]
	fn non_finite_checkpoints_are_the_miners_fault() {
		let w = world(TASK);
		let run = w.miner("mallory", &w.start);
		let mut out = run.train().unwrap();
		// A NaN in C_n's momentum (its norm, over the parameters, stays finite).
		out.checkpoints[6].momentum[0].data[0] = f32::NAN;
		let dir = TempDir::new("nan");
		w.write("mallory", &dir.0, &out);
		let r = w.verify(&dir.0, "mallory", false);
		assert!(
			matches!(
				r.outcome,
				Outcome::MinerFault {
					segment: 6,
					fault: MinerFault::NonFinite { checkpoint: 6 }
				}
			),
			"{}",
			r.outcome
		);
		// A NaN in its parameters makes its update norm NaN, which no manifest can state (and
		// which the chain refuses at reveal): the run is not the committed one, on segment n.
		let mut out = run.train().unwrap();
		out.checkpoints[6].params[0].data[0] = f32::NAN;
		let dir = TempDir::new("nan-params");
		w.write("mallory", &dir.0, &out);
		let r = w.verify(&dir.0, "mallory", false);
		assert_eq!(
			r.verdict(),
			Some(Verdict::Fail { segment: 6 }),
			"{}",
			r.outcome
		);
	}

	#[test]
	fn a_validators_own_trouble_is_an_abstention() {
		let w = world(TASK);
		let dir = TempDir::new("abstain");
		w.miner("alice", &w.start).train_bundle(&dir.0).unwrap();
		let abstains = |r: &Report| {
			assert!(
				matches!(r.outcome, Outcome::Abstain { .. }),
				"{}",
				r.outcome
			);
			assert_eq!(r.verdict(), None);
			assert!(
				!r.outcome.against_miner(),
				"an abstention never upholds a dispute"
			);
		};
		// A validator on another libtorch (which refuses to start; here it got past), which may
		// give other bits for an honest run: no verdict.
		let other = Pinned {
			profile: pinned().profile,
			host: crate::profile::Host {
				libtorch: "2.12.0".into(),
				..pinned().host.clone()
			},
		};
		let expected = w.expected("alice", &w.start);
		let v = Validator {
			pinned: &other,
			..w.validator(false, None)
		};
		abstains(&verify_bundle(&dir.0, &expected, &v).unwrap());
		// The same run, verified on the pinned build.
		assert_eq!(w.verify(&dir.0, "alice", false).outcome, Outcome::Pass);
	}

	#[test]
	fn a_validator_under_another_profile_abstains_rather_than_failing_the_miner() {
		let w = world(TASK);
		let dir = TempDir::new("profiles");
		w.miner("alice", &w.start).train_bundle(&dir.0).unwrap();
		let expected = w.expected("alice", &w.start);
		// Validators whose processes run other kernels or thread counts than the task's
		// profile: each replay could give other bits, so none may judge the run.
		let other_profiles = [
			("cpu/avx2/2", "AVX2", 2),
			("cpu/avx512/1", "AVX512", 1),
			("cpu/default/1", "DEFAULT", 1),
		];
		for (profile, aten, threads) in other_profiles {
			let other = Pinned {
				profile: profile.parse().unwrap(),
				host: crate::profile::Host {
					aten_capability: aten.into(),
					threads,
					..pinned().host.clone()
				},
			};
			let v = Validator {
				pinned: &other,
				..w.validator(true, None)
			};
			let r = verify_bundle(&dir.0, &expected, &v).unwrap();
			assert!(
				matches!(&r.outcome, Outcome::Abstain { why } if why.contains(profile)),
				"{profile}: {}",
				r.outcome
			);
			assert!(r.segments.is_empty(), "{profile}: nothing replayed");
		}
		// Under the task's profile but on kernels the run did not record (a host whose ATen
		// ignored the pin): no verdict either.
		let drifted = Pinned {
			profile: pinned().profile,
			host: crate::profile::Host {
				aten_capability: "AVX512".into(),
				..pinned().host.clone()
			},
		};
		let v = Validator {
			pinned: &drifted,
			..w.validator(true, None)
		};
		let r = verify_bundle(&dir.0, &expected, &v).unwrap();
		assert!(
			matches!(&r.outcome, Outcome::Abstain { why } if why.contains("ATen kernels")),
			"{}",
			r.outcome
		);
		// The task's profile, as pinned: a verdict.
		assert_eq!(w.verify(&dir.0, "alice", true).outcome, Outcome::Pass);
	}

	#[test]
	fn a_manifest_that_contradicts_the_tasks_profile_is_the_miners_fault() {
		// A forger recording kernels the task's profile excludes, so that every validator
		// would abstain and its forgery go unjudged: the record itself is the fault.
		let w = world(TASK);
		let dir = TempDir::new("contradicts");
		w.miner("mallory", &w.start).train_bundle(&dir.0).unwrap();
		let n = Manifest::read(&dir.0).unwrap().num_segments;
		let dodges: [fn(&mut crate::profile::Host); 4] = [
			|h| h.aten_capability = "AVX512".into(),
			|h| h.threads = 4,
			|h| h.deterministic = false,
			|h| h.libtorch = "2.12.0".into(),
		];
		for dodge in dodges {
			let mut m = Manifest::read(&dir.0).unwrap();
			m.host = pinned().host.clone();
			dodge(&mut m.host);
			m.write(&dir.0).unwrap();
			let r = w.verify(&dir.0, "mallory", false);
			assert!(
				matches!(
					&r.outcome,
					Outcome::MinerFault { segment, fault: MinerFault::Manifest(why) }
						if *segment == n && why.contains("profile")
				),
				"{}",
				r.outcome
			);
		}
	}

	#[test]
	fn a_miner_refuses_to_train_under_another_profile_than_the_tasks() {
		let w = world(TASK);
		let other = Pinned {
			profile: "cpu/avx2/2".parse().unwrap(),
			host: pinned().host.clone(),
		};
		let mut run = w.miner("alice", &w.start);
		run.pinned = &other;
		let e = run.train().err().expect("refused");
		assert!(format!("{e:#}").contains("--profile cpu/avx2/1"), "{e:#}");
	}

	/// A copy of `start` with one value moved: another model of the same layout.
	fn another_start(start: &[NamedTensor]) -> Vec<NamedTensor> {
		let mut other = start.to_vec();
		other[0].data[0] += 1e-2;
		other
	}

	/// The challenges `validator` draws for `miner`'s run in `w`.
	fn challenges(w: &World, validator: &str, miner: &str) -> Vec<u32> {
		hashing::challenge_segments(
			&w.challenge_seed,
			&account(validator),
			&account(miner),
			w.spec.num_segments(),
			w.spec.verification.segments_per_check,
		)
	}

	#[test]
	fn a_wrong_leaf_0_is_claimed_on_segment_n_which_every_validator_replays() {
		// A run trained from another start whose manifest names the round's start: leaf 0 (and
		// the root over it) is the other start's, everything else consistent. Every validator
		// finds it from leaf 0 alone, whether or not it drew segment 1, so the claim is on
		// segment n, which every validator is challenged with; on segment 1 the chain would
		// refuse it from the validators that did not draw segment 1.
		let w = world(TASK);
		let n = w.spec.num_segments();
		let dir = TempDir::new("leaf-0");
		let other = another_start(&w.start);
		w.miner("mallory", &other).train_bundle(&dir.0).unwrap();
		let mut m = Manifest::read(&dir.0).unwrap();
		m.initial_model_hash = hex32(&hash_named(&w.start).unwrap().0);
		m.write(&dir.0).unwrap();
		let served = serve(&dir.0);
		let mut drew_segment_1 = Vec::new();
		for i in 1..=12 {
			let v = format!("v{i}");
			let r = check(&w, &served, "mallory", &v, None, None);
			assert!(
				matches!(
					r.outcome,
					Outcome::MinerFault { segment, fault: MinerFault::StartNotRoundStart }
						if segment == n
				),
				"{v} challenged with {:?}: {}",
				r.challenged,
				r.outcome
			);
			assert!(r.challenged.contains(&n));
			drew_segment_1.push(r.challenged.contains(&1));
		}
		// Both ways of finding it were taken: C_0 built here, and C_0 fetched.
		assert!(
			drew_segment_1.contains(&false) && drew_segment_1.contains(&true),
			"{drew_segment_1:?}"
		);
	}

	#[test]
	fn a_false_norm_is_claimed_only_on_a_challenged_segment_which_a_voter_can_confirm() {
		// Attack (framing by a planted norm): the miner commits a false norm for a segment whose
		// two ends some validator reads without being challenged with it. Claimed on segment n,
		// the voters (who replay n) would find nothing and slash the honest accuser; so a norm
		// is judged only on a challenged segment, whose replay reads both ends.
		let w = world(TASK);
		let n = w.spec.num_segments();
		// A validator that reads both ends of a segment it was not challenged with: segments
		// 2 and 4 challenged read C_1..C_4, so it reads segment 3's two ends.
		let (validator, j) = (1..200)
			.find_map(|i| {
				let v = format!("v{i}");
				let challenged = challenges(&w, &v, "mallory");
				let needed = crate::verify::needed_checkpoints(&challenged, n);
				(1..n)
					.find(|&j| {
						!challenged.contains(&j) && needed.contains(&(j - 1)) && needed.contains(&j)
					})
					.map(|j| (v, j))
			})
			.expect("some validator reads both ends of an unchallenged segment");
		let dir = TempDir::new("unchallenged-norm");
		w.miner("mallory", &w.start).train_bundle(&dir.0).unwrap();
		faults::understate_norms(&dir.0, Some(j)).unwrap();
		let served = serve(&dir.0);
		let r = check(&w, &served, "mallory", &validator, None, None);
		assert!(!r.challenged.contains(&j));
		assert_eq!(
			r.outcome,
			Outcome::Pass,
			"{validator} challenged with {:?} judged the norm of {j}",
			r.challenged
		);
		// A validator that is challenged with j claims it on j.
		let (challenged_with_j, _) = (1..200)
			.map(|i| format!("v{i}"))
			.map(|v| {
				let c = challenges(&w, &v, "mallory");
				(v, c)
			})
			.find(|(_, c)| c.contains(&j))
			.expect("some validator is challenged with j");
		let r = check(&w, &served, "mallory", &challenged_with_j, None, None);
		assert!(
			matches!(
				&r.outcome,
				Outcome::MinerFault { segment, fault: MinerFault::Norm { .. } } if *segment == j
			),
			"{}",
			r.outcome
		);
		// And a voter replaying only that segment (the dispute's) finds the same fault.
		let r = check(&w, &served, "mallory", &validator, None, Some(j));
		assert!(
			matches!(
				&r.outcome,
				Outcome::MinerFault { segment, fault: MinerFault::Norm { .. } } if *segment == j
			),
			"a voter replaying segment {j}: {}",
			r.outcome
		);
	}

	#[test]
	fn a_host_record_naming_another_libtorch_build_is_the_miners_fault() {
		// The miner writes its host record; one naming a libtorch build no validator runs would
		// have every honest validator abstain, and one colluding scorer decide. The protocol
		// pins the build, so the record is the miner's fault, found alike by every validator.
		let w = world(TASK);
		let n = w.spec.num_segments();
		let dir = TempDir::new("libtorch-record");
		let honest = w.miner("mallory", &w.start).train_bundle(&dir.0).unwrap();
		let mut m = Manifest::read(&dir.0).unwrap();
		m.host.libtorch = format!("{}+x", crate::profile::PINNED_LIBTORCH);
		m.write(&dir.0).unwrap();
		// Leaves and root unchanged: only the record differs.
		assert_eq!(m.checkpoint_root, honest.checkpoint_root);
		let served = serve(&dir.0);
		for v in ["v1", "v2", "v3"] {
			let r = check(&w, &served, "mallory", v, None, None);
			assert!(
				matches!(
					&r.outcome,
					Outcome::MinerFault { segment, fault: MinerFault::Manifest(why) }
						if *segment == n && why.contains("libtorch")
				),
				"{v}: {}",
				r.outcome
			);
		}
		// The honest record passes.
		let served = serve_as_trained(&w, "mallory");
		assert_eq!(
			check(&w, &served.1, "mallory", "v1", None, None).outcome,
			Outcome::Pass
		);
	}

	/// An honest bundle of `miner`, served.
	fn serve_as_trained(w: &World, miner: &str) -> (TempDir, Served) {
		let dir = TempDir::new("served-bundle");
		w.miner(miner, &w.start).train_bundle(&dir.0).unwrap();
		let served = serve(&dir.0);
		(dir, served)
	}

	#[test]
	fn a_worker_on_another_libtorch_build_refuses_to_mine_or_validate() {
		let other = Pinned {
			profile: pinned().profile,
			host: crate::profile::Host {
				libtorch: "2.12.0+cpu".into(),
				..pinned().host.clone()
			},
		};
		let e = crate::golden::gate(&other, None).unwrap_err().to_string();
		assert!(
			e.contains("2.12.0+cpu") && e.contains(crate::profile::PINNED_LIBTORCH),
			"{e}"
		);
		assert!(crate::profile::refuse_other_libtorch(&pinned().host.libtorch).is_ok());
	}

	#[test]
	fn the_pinned_libtorch_is_the_build_this_worker_links_and_setup_installs() {
		let pinned_build = crate::profile::PINNED_LIBTORCH;
		assert_eq!(crate::LIBTORCH_VERSION, pinned_build);
		assert_eq!(pinned().host.libtorch, pinned_build);
		assert_eq!(
			crate::golden::Vectors::pinned().unwrap().libtorch,
			pinned_build
		);
		let env = std::fs::read_to_string(
			Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/env.sh"),
		)
		.unwrap();
		let version = env
			.lines()
			.find_map(|l| l.strip_prefix("export POL_TORCH_VERSION="))
			.expect("scripts/env.sh sets POL_TORCH_VERSION")
			.trim_matches('"');
		assert!(
			pinned_build.starts_with(&format!("{version}+")) || pinned_build == version,
			"{pinned_build} is not torch {version}"
		);
	}

	/// `validator`'s remote verification of `miner`'s served run, fetching under `policy`.
	fn check_within(
		w: &World,
		served: &Served,
		miner: &str,
		validator: &str,
		policy: store::FetchPolicy,
	) -> Report {
		let dir = TempDir::new("attack-fetch-within");
		let expected = w.expected(miner, &w.start);
		let v = Validator {
			account: account(validator),
			..w.validator(false, None)
		};
		let url = served.server.url();
		crate::verify::verify_served_within(
			&dir.0,
			&url,
			&served.manifest_hash,
			&expected,
			&v,
			policy,
		)
		.unwrap()
	}

	/// An honest bundle of mallory's, served, the request for C_n answered by `stall`.
	fn serve_stalling_the_last(w: &World, stall: store::Stall) -> (TempDir, Served) {
		let (bundle, served) = serve_as_trained(w, "mallory");
		let m = Manifest::read(&bundle.0).unwrap();
		let last = m.checkpoints.last().unwrap();
		let hash = crate::config::parse_hash(&last.model_hash).unwrap();
		served
			.server
			.faults()
			.lock()
			.unwrap()
			.stalled
			.insert(hash, stall);
		(bundle, served)
	}

	/// A fetch policy with a deadline `secs` from now and a short grace.
	fn short(secs: u64) -> store::FetchPolicy {
		store::FetchPolicy {
			grace: std::time::Duration::from_millis(500),
			..store::FetchPolicy::within(std::time::Duration::from_secs(secs))
		}
	}

	#[test]
	fn a_stalled_last_checkpoint_is_not_served_not_an_abstention() {
		// The miner's server answers every request but C_n's at once, and C_n's with `200`, a
		// 256 MiB Content-Length and a trickle just above the minimum rate, until the
		// validator's deadline: were that the validator's own lateness, a forger would stall
		// whenever its forged segment was drawn and never be claimed against.
		let w = world(TASK);
		let n = w.spec.num_segments();
		let (_bundle, served) = serve_stalling_the_last(&w, store::Stall::Trickle);
		let r = check_within(&w, &served, "mallory", "v1", short(4));
		assert!(
			matches!(&r.outcome, Outcome::NotServed { segment, .. } if *segment == n),
			"{}",
			r.outcome
		);
		// Refused at its head: a checkpoint's size is known from the model before its bytes.
		assert!(
			r.reason().unwrap().contains("over the limit"),
			"{}",
			r.outcome
		);
		assert!(r.segments.is_empty(), "nothing replayed");
	}

	#[test]
	fn a_checkpoint_held_past_the_deadline_it_had_time_for_is_not_served() {
		// C_n answered with its own Content-Length, a few bytes, then nothing: no rate is
		// measured, and the fetch runs into the deadline. It began with time for its bytes at
		// the minimum rate (and a second for each wave of requests), so the server withheld it.
		let w = world(TASK);
		let n = w.spec.num_segments();
		let (_bundle, served) = serve_stalling_the_last(&w, store::Stall::Hang);
		let r = check_within(&w, &served, "mallory", "v1", short(5));
		assert!(
			matches!(&r.outcome, Outcome::NotServed { segment, .. } if *segment == n),
			"{}",
			r.outcome
		);
		assert!(r.reason().unwrap().contains("deadline"), "{}", r.outcome);
		// A validator that began too late for the bytes to be owed by its deadline (a grace
		// longer than the time left) is late itself: it abstains.
		let late = store::FetchPolicy {
			grace: std::time::Duration::from_secs(60),
			..store::FetchPolicy::within(std::time::Duration::from_secs(3))
		};
		let r = check_within(&w, &served, "mallory", "v1", late);
		assert!(
			matches!(r.outcome, Outcome::Abstain { .. }),
			"{}",
			r.outcome
		);
	}

	#[test]
	fn a_checkpoint_asked_for_late_in_its_batch_is_owed_from_the_first_request() {
		// The server owes the manifest and every checkpoint asked for with it from the first
		// request. Here a voter replays segment n over one lane, C_{n−1} first: the server holds
		// that answer 5 s (legal, within the 6 s grace), then hangs C_n. Counted from C_n's own
		// request, the 9.5 s deadline leaves less than the grace and the stall would be this
		// validator's lateness; counted from the batch's start (owed in 6 s and a second for
		// each of its two waves of requests), the server had its time and withheld C_n.
		let w = world(TASK);
		let n = w.spec.num_segments();
		let (bundle, served) = serve_stalling_the_last(&w, store::Stall::Hang);
		let m = Manifest::read(&bundle.0).unwrap();
		let before_last =
			crate::config::parse_hash(&m.checkpoints[n as usize - 1].model_hash).unwrap();
		served.server.faults().lock().unwrap().stalled.insert(
			before_last,
			store::Stall::Late(std::time::Duration::from_secs(5)),
		);
		// A randomness that asks for C_{n−1} before C_n.
		let randomness = (0u8..=255)
			.map(|b| Hash::repeat_byte(b))
			.find(|seed| {
				let mut order = vec![n - 1, n];
				crate::verify::shuffle(&mut order, seed);
				order == [n - 1, n]
			})
			.unwrap();
		let dir = TempDir::new("attack-fetch-late");
		let expected = w.expected("mallory", &w.start);
		let v = Validator {
			account: account("v1"),
			randomness,
			..w.validator(false, Some(n))
		};
		// A fast minimum rate, so that the bytes take no time to speak of.
		let policy = store::FetchPolicy {
			grace: std::time::Duration::from_secs(6),
			min_bytes_per_sec: 64 << 20,
			..store::FetchPolicy::within(std::time::Duration::from_millis(9_500))
		};
		let url = served.server.url();
		let asked_at = std::time::Instant::now();
		let manifest_bytes = store::fetch_manifest(
			&url,
			&served.manifest_hash,
			&dir.0,
			store::DEFAULT_MAX_BYTES,
			false,
			&policy,
		)
		.unwrap();
		let remote = crate::verify::Remote {
			base: &url,
			max_bytes: store::DEFAULT_MAX_BYTES,
			manifest_bytes,
			progress: false,
			policy,
			asked_at,
			lanes: 1,
			held: None,
			compute: None,
		};
		let r = crate::verify::verify_remote(&dir.0, &remote, &expected, &v).unwrap();
		assert!(
			matches!(&r.outcome, Outcome::NotServed { segment, .. } if *segment == n),
			"{}",
			r.outcome
		);
		assert!(
			r.reason().unwrap().contains(&format!("checkpoint {n}")),
			"{}",
			r.outcome
		);
	}

	#[test]
	fn the_chain_bounds_every_checkpoint_and_manifest_a_worker_writes() {
		// The registry sizes a verify phase from these bounds: a worker's real checkpoint or
		// manifest above them would let its server be owed less time than it needs.
		for (spec, momentum) in [
			("mlp:64-32-10", false),
			("mlp:64-32-10", true),
			("mlp:784-4096-4096-4096-10", true),
			("cnn:8x8x1-c4-c8-10", true),
			("cnn:28x28x3-c32-c64-c64-10", false),
		] {
			let model = Model::new(spec, 0, Device::Cpu).unwrap();
			let layout: Vec<(String, Vec<u64>)> = model
				.named_parameters()
				.into_iter()
				.map(|(name, t)| (name, t.size().iter().map(|&d| d as u64).collect()))
				.collect();
			let exact = crate::proof::checkpoint_size(&layout, momentum).unwrap();
			let arch = pol_primitives::ModelArch::parse(spec.as_bytes()).unwrap();
			let bound = pol_primitives::serving::checkpoint_bytes_bound(&arch, momentum);
			assert!(exact <= bound, "{spec}: {exact} > {bound}");
			// The bound is the values and a header allowance, not a guess.
			assert!(bound - exact < 300 * layout.len() as u64 * 2, "{spec}");
		}
		// The longest manifest: the most segments, every loss at full precision.
		let w = world(TASK);
		let (bundle, _served) = serve_as_trained(&w, "mallory");
		let mut m = Manifest::read(&bundle.0).unwrap();
		let n = pol_primitives::specs::MAX_SEGMENTS;
		let entry = m.checkpoints[1].clone();
		m.checkpoints = vec![entry; n as usize + 1];
		m.segment_losses = vec![-1.234_567_890_123_456_7e-300; n as usize];
		m.num_segments = n;
		let bytes = serde_json::to_vec_pretty(&m).unwrap();
		let bound = pol_primitives::serving::manifest_bytes_bound(n);
		assert!((bytes.len() as u64) <= bound, "{} > {bound}", bytes.len());
	}

	/// How a [`holding_server`] answered.
	#[derive(Default)]
	struct Hold {
		/// Checkpoint requests arrived.
		arrived: usize,
		/// How many had arrived when the first was answered.
		at_first_answer: Option<usize>,
	}

	/// A server of `store` that answers the manifest `manifest` at once and holds every other
	/// request until `expect` of them have arrived (or 3 s have passed since it arrived), then
	/// answers it; one request a connection.
	fn holding_server(
		store: Store,
		manifest: Hash,
		expect: usize,
	) -> (
		String,
		std::sync::Arc<(std::sync::Mutex<Hold>, std::sync::Condvar)>,
	) {
		use std::io::{Read, Write};
		use std::time::{Duration, Instant};
		let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
		let url = format!("http://{}", listener.local_addr().unwrap());
		let state = std::sync::Arc::new((
			std::sync::Mutex::new(Hold::default()),
			std::sync::Condvar::new(),
		));
		let shared = state.clone();
		std::thread::spawn(move || {
			for conn in listener.incoming() {
				let Ok(mut c) = conn else { return };
				let (store, state) = (store.clone(), shared.clone());
				std::thread::spawn(move || {
					let mut head = Vec::new();
					let mut buf = [0u8; 1024];
					while !head.windows(4).any(|w| w == b"\r\n\r\n") {
						match c.read(&mut buf) {
							Ok(0) | Err(_) => return,
							Ok(k) => head.extend_from_slice(&buf[..k]),
						}
					}
					let head = String::from_utf8_lossy(&head).into_owned();
					let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
					let hash = path
						.strip_prefix("/v1/artifacts/")
						.and_then(|h| crate::config::parse_hash(h).ok());
					if hash.is_some_and(|h| h != manifest) {
						let (lock, arrived) = &*state;
						let mut hold = lock.lock().unwrap();
						hold.arrived += 1;
						arrived.notify_all();
						let until = Instant::now() + Duration::from_secs(3);
						while hold.arrived < expect {
							let left = until.saturating_duration_since(Instant::now());
							if left.is_zero() {
								break;
							}
							hold = arrived.wait_timeout(hold, left).unwrap().0;
						}
						if hold.at_first_answer.is_none() {
							hold.at_first_answer = Some(hold.arrived);
						}
					}
					let reply = match hash.and_then(|h| store.get(&h).ok()) {
						Some(body) => {
							let mut r = format!(
								"HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
								body.len()
							)
							.into_bytes();
							r.extend_from_slice(&body);
							r
						}
						None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
							.to_vec(),
					};
					let _ = c.write_all(&reply);
				});
			}
		});
		(url, state)
	}

	#[test]
	fn a_validator_asks_for_all_its_checkpoints_before_any_is_answered() {
		// Asked one by one, C_n last, the server would know the whole challenge before it was
		// asked for C_n. Every request is made before the first answer comes, so a server that
		// holds its answers until it has seen them all still gets them all.
		let w = world(TASK);
		let n = w.spec.num_segments();
		let bundle = TempDir::new("holding-bundle");
		w.miner("alice", &w.start).train_bundle(&bundle.0).unwrap();
		let store_dir = TempDir::new("holding-store");
		let s = Store::open(&store_dir.0, store::DEFAULT_MAX_BYTES).unwrap();
		let manifest_hash = s.put_bundle(&bundle.0).unwrap();
		let challenged = challenges(&w, "validator", "alice");
		let expect = crate::verify::needed_checkpoints(&challenged, n).len();
		assert!((3..=crate::verify::MAX_PARALLEL_FETCHES).contains(&expect));
		let (url, state) = holding_server(s, manifest_hash, expect);
		let r = verify_remote_from(&w, &url, &manifest_hash, false);
		assert_eq!(r.outcome, Outcome::Pass);
		assert_eq!(r.challenged, challenged);
		let hold = state.0.lock().unwrap();
		assert_eq!(
			hold.arrived, expect,
			"each needed checkpoint asked for once"
		);
		assert_eq!(
			hold.at_first_answer,
			Some(expect),
			"every checkpoint was asked for before the first was answered"
		);
	}

	#[test]
	fn a_validator_waiting_for_its_own_lanes_does_not_count_the_wait_against_the_server() {
		// This host's other fetches hold every lane it opens to the server for this miner (its
		// batch of another task, say) for longer than the server owes this verification. Were
		// the server's debt counted from before the wait, it would be due before its first
		// request, and an honest miner would be found not serving.
		let w = world(TASK);
		let (_bundle, served) = serve_as_trained(&w, "alice");
		let url = served.server.url();
		let expected = w.expected("alice", &w.start);
		let v = Validator {
			account: account("v1"),
			..w.validator(false, None)
		};
		// Owed in well under the wait: a short grace, a rate that makes the bytes nothing.
		let policy = store::FetchPolicy {
			grace: std::time::Duration::from_millis(500),
			min_bytes_per_sec: 64 << 20,
			..store::FetchPolicy::within(std::time::Duration::from_secs(60))
		};
		let owed = policy.time_owed_batch(1 << 20, 2 * pol_primitives::serving::FETCH_LANES);
		let wait = owed + std::time::Duration::from_secs(2);
		let others = store::lanes_for(
			&url,
			&expected.miner,
			crate::verify::MAX_PARALLEL_FETCHES,
			std::time::Instant::now() + wait,
		)
		.unwrap();
		assert_eq!(others.count(), crate::verify::MAX_PARALLEL_FETCHES);
		let dir = TempDir::new("own-lanes");
		let stats = served.server.stats();
		let r = std::thread::scope(|scope| {
			scope.spawn(move || {
				std::thread::sleep(wait);
				assert_eq!(
					stats.served.load(Ordering::SeqCst),
					0,
					"nothing asked while this host held every lane"
				);
				drop(others);
			});
			crate::verify::verify_served_within(
				&dir.0,
				&url,
				&served.manifest_hash,
				&expected,
				&v,
				policy,
			)
			.unwrap()
		});
		assert_eq!(r.outcome, Outcome::Pass, "{}", r.outcome);
	}

	#[test]
	fn co_hosted_sybils_holding_their_lanes_do_not_hold_back_a_forgers_claim_check() {
		// Attack (review of session 17): a forger's server also names 8 or more sybil miners,
		// each with a colluder's decoy claim, served as a legal trickle. A voter's fetches from
		// one server shared 8 lanes, so the sybils' checks held them all and the forger's check
		// waited for one until the phase was over: the voter's own lateness, an abstention,
		// and the dispute undecided. Each miner's fetches now have lanes of their own.
		let w = world(TASK);
		let forged = 2;
		let dir = TempDir::new("co-hosted");
		let run = w.miner("mallory", &w.start);
		w.write(
			"mallory",
			&dir.0,
			&faults::forge_segments_run(&run, &[forged]).unwrap(),
		);
		let served = serve(&dir.0);
		let url = served.server.url();
		let soon = std::time::Instant::now() + std::time::Duration::from_secs(1);
		// Nine sybils' checks on the same server, every lane each can take, held throughout,
		// and a fetch of final models from it too.
		let sybils: Vec<_> = (0..9u8)
			.map(|i| store::lanes_for(&url, &[i; 32], 8, soon).expect("lanes of its own"))
			.collect();
		assert!(sybils.iter().all(|l| l.count() == 8));
		let server_wide = store::lanes_to(&url, 8, soon).unwrap();
		let v = Validator {
			account: account("v1"),
			only_segments: Some(vec![forged]),
			..w.validator(false, None)
		};
		let scratch = TempDir::new("co-hosted-check");
		let r = crate::verify::verify_served_within(
			&scratch.0,
			&url,
			&served.manifest_hash,
			&w.expected("mallory", &w.start),
			&v,
			store::FetchPolicy::within(std::time::Duration::from_secs(30)),
		)
		.unwrap();
		assert!(
			matches!(r.outcome, Outcome::MinerFault { segment, .. } if segment == forged),
			"{}",
			r.outcome
		);
		drop((sybils, server_wide));
	}

	#[test]
	fn the_golden_vectors_reproduce_under_the_default_profile() {
		// A change of machine, libtorch build or code that breaks determinism fails here
		// rather than slashing someone.
		let results = crate::golden::check(pinned(), None).unwrap();
		assert_eq!(results.len(), crate::golden::RUNS.len());
		for r in &results {
			assert!(r.repeatable, "{}", crate::golden::describe(r));
			assert_eq!(r.reproduces, Some(true), "{}", crate::golden::describe(r));
		}
	}
}

/// The artifact server and client under hostile peers: bounded in connections and time, on
/// loopback.
#[test]
fn miners_verified_side_by_side_get_the_reports_they_get_one_by_one() {
	// Exact replay on verification threads, each with its own handle on the data, against the
	// same replay on this thread: a pass under `exact` means the very same bits.
	let w = world(TASK);
	let names = ["alice", "bob", "carol"];
	let dirs: Vec<TempDir> = names
		.iter()
		.map(|name| {
			let dir = TempDir::new(name);
			w.miner(name, &w.start).train_bundle(&dir.0).unwrap();
			dir
		})
		.collect();
	let alone: Vec<Report> = names
		.iter()
		.zip(&dirs)
		.map(|(name, dir)| w.verify_as(&dir.0, name, &w.start, true))
		.collect();
	// The start model's loss evaluated once, as a validator does for a round.
	let l0 = crate::verify::start_loss(&w.spec, &w.start, &w.data, pinned()).unwrap();
	let (spec, start, round_seed, randomness) = (&w.spec, &w.start, w.round_seed, w.challenge_seed);
	let states: Vec<TaskData> = (0..3).map(|_| w.data.shallow_clone()).collect();
	let mut together: Vec<Option<Report>> = vec![None, None, None];
	let left = crate::pool::run(
		(0..names.len()).collect(),
		states,
		|data, &i| {
			let expected = Expected {
				spec,
				round: 0,
				round_seed,
				miner: account(names[i]),
				start,
				root: None,
				final_model_hash: None,
				start_loss: Some(l0),
			};
			let v = Validator {
				data,
				account: account("validator"),
				randomness,
				all_segments: true,
				only_segments: None,
				pinned: pinned(),
				progress: false,
				deadline: None,
			};
			verify_bundle(&dirs[i].0, &expected, &v).unwrap()
		},
		|i, done| match done {
			crate::pool::Done::Finished(r) => together[i] = Some(r),
			crate::pool::Done::Panicked(why) => panic!("verifying {}: {why}", names[i]),
		},
	);
	assert!(left.is_empty());
	for (i, (a, b)) in alone.iter().zip(&together).enumerate() {
		let b = b.as_ref().expect("every miner verified");
		assert_eq!(a.verdict(), Some(Verdict::Pass), "{}", names[i]);
		assert_eq!(
			b.verdict(),
			Some(Verdict::Pass),
			"{}: {}",
			names[i],
			b.outcome
		);
		assert_eq!(a.segments.len(), b.segments.len());
		assert_eq!(a.val_loss_start.to_bits(), b.val_loss_start.to_bits());
		assert_eq!(a.val_loss_final.to_bits(), b.val_loss_final.to_bits());
		assert_eq!(a.score.to_bits(), b.score.to_bits());
	}
}

mod transport {
	use super::*;
	use crate::store::{FetchPolicy, ServerLimits};
	use std::io::{Read, Write};
	use std::net::TcpStream;
	use std::time::{Duration, Instant};

	fn store_with(bytes: &[u8]) -> (TempDir, Store, Hash) {
		let dir = TempDir::new("transport");
		let s = Store::open(&dir.0, store::DEFAULT_MAX_BYTES).unwrap();
		let hash = s.put(bytes).unwrap();
		(dir, s, hash)
	}

	fn host(url: &str) -> String {
		url.trim_start_matches("http://").to_string()
	}

	/// A raw request; the whole response as text (lossy).
	fn raw(url: &str, request: &str) -> String {
		let mut c = TcpStream::connect(host(url)).unwrap();
		c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
		c.write_all(request.as_bytes()).unwrap();
		let mut out = Vec::new();
		let _ = c.read_to_end(&mut out);
		String::from_utf8_lossy(&out).into_owned()
	}

	#[test]
	fn idle_and_slow_connections_do_not_stop_honest_fetches() {
		let (_dir, s, hash) = store_with(&[7u8; 100_000]);
		let limits = ServerLimits {
			max_connections: 32,
			// Every test connection comes from 127.0.0.1: the per-peer cap has its own test.
			max_per_peer: 1000,
			header_timeout: Duration::from_secs(1),
			stall_timeout: Duration::from_secs(1),
			max_connection_time: Duration::from_secs(5),
		};
		let server = store::serve_with(s, "127.0.0.1:0", limits).unwrap();
		let url = server.url();
		// 64 connections that send nothing, twice the server's cap.
		let idle: Vec<TcpStream> = (0..64)
			.map(|_| TcpStream::connect(host(&url)).unwrap())
			.collect();
		// 8 that drip a request head a byte at a time (slow loris), for 3 s at most.
		let dripping: Vec<_> = (0..8)
			.map(|_| {
				let addr = host(&url);
				std::thread::spawn(move || {
					let Ok(mut c) = TcpStream::connect(addr) else {
						return;
					};
					let started = Instant::now();
					for b in b"GET /v1/artifacts/0x".iter().cycle() {
						if started.elapsed() > Duration::from_secs(3) || c.write_all(&[*b]).is_err()
						{
							return;
						}
						std::thread::sleep(Duration::from_millis(200));
					}
				})
			})
			.collect();
		// The honest fetch: refused (503) while the cap is full, retried, served once the
		// server has dropped the idle connections.
		let policy = FetchPolicy {
			attempts: 30,
			..FetchPolicy::within(Duration::from_secs(30))
		};
		let bytes = store::fetch_with(&url, &hash, 1 << 20, false, &policy).unwrap();
		assert_eq!(bytes, vec![7u8; 100_000]);
		let stats = server.stats();
		assert!(
			stats.refused.load(std::sync::atomic::Ordering::Relaxed) > 0,
			"the connections over the cap were refused"
		);
		assert!(
			stats.timed_out.load(std::sync::atomic::Ordering::Relaxed) > 0,
			"idle connections were closed"
		);
		server.check().expect("the server still serves");
		drop(idle);
		for t in dripping {
			t.join().unwrap();
		}
		server.stop();
	}

	#[test]
	fn a_peer_over_its_connection_cap_is_refused_with_503() {
		let (_dir, s, hash) = store_with(b"an artifact");
		let limits = ServerLimits {
			max_per_peer: 2,
			..ServerLimits::default()
		};
		let server = store::serve_with(s, "127.0.0.1:0", limits).unwrap();
		let url = server.url();
		let held: Vec<TcpStream> = (0..2)
			.map(|_| TcpStream::connect(host(&url)).unwrap())
			.collect();
		// Let the server admit both before the third arrives.
		std::thread::sleep(Duration::from_millis(200));
		let third = raw(&url, "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n");
		assert!(third.starts_with("HTTP/1.1 503"), "{third}");
		drop(held);
		let policy = FetchPolicy {
			attempts: 10,
			..FetchPolicy::within(Duration::from_secs(20))
		};
		assert_eq!(
			store::fetch_with(&url, &hash, 1 << 20, false, &policy).unwrap(),
			b"an artifact"
		);
		server.stop();
	}

	#[test]
	fn byte_ranges_of_an_artifact() {
		let body: Vec<u8> = (0..=255u8).collect();
		let (_dir, s, hash) = store_with(&body);
		let server = store::serve(s, "127.0.0.1:0").unwrap();
		let url = server.url();
		let path = format!("/v1/artifacts/{}", hex32(&hash.0));
		let get =
			|range: &str| {
				raw(
				&url,
				&format!("GET {path} HTTP/1.1\r\nHost: x\r\nRange: {range}\r\nConnection: close\r\n\r\n"),
			)
			};
		let r = get("bytes=2-5");
		assert!(r.starts_with("HTTP/1.1 206"), "{r}");
		assert!(
			r.to_ascii_lowercase()
				.contains("content-range: bytes 2-5/256"),
			"{r}"
		);
		assert!(r.ends_with("\u{2}\u{3}\u{4}\u{5}"), "{r:?}");
		let r = get("bytes=-2");
		assert!(r.contains("bytes 254-255/256"), "{r}");
		let r = get("bytes=300-");
		assert!(r.starts_with("HTTP/1.1 416"), "{r}");
		assert_eq!(
			crate::store::server::parse_range("bytes=0-", 10),
			Ok(Some((0, 9)))
		);
		assert_eq!(
			crate::store::server::parse_range("bytes=5-100", 10),
			Ok(Some((5, 9)))
		);
		for bad in [
			"bytes=1-2,4-5",
			"bytes=-0",
			"items=0-1",
			"bytes=6-2",
			"bytes=-",
		] {
			assert_eq!(crate::store::server::parse_range(bad, 10), Err(()), "{bad}");
		}
		server.stop();
	}

	/// A server that answers each connection with the next of `replies`, as raw bytes, each
	/// sent in `pieces` with `pause` between them.
	fn scripted(replies: Vec<Vec<u8>>, pieces: usize, pause: Duration) -> String {
		let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
		let url = format!("http://{}", listener.local_addr().unwrap());
		std::thread::spawn(move || {
			for reply in replies {
				let Ok((mut c, _)) = listener.accept() else {
					return;
				};
				let mut head = [0u8; 1024];
				let _ = c.read(&mut head);
				for piece in reply.chunks(reply.len().div_ceil(pieces).max(1)) {
					if c.write_all(piece).is_err() {
						break;
					}
					std::thread::sleep(pause);
				}
			}
		});
		url
	}

	fn ok_reply(body: &[u8]) -> Vec<u8> {
		let mut r =
			format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
		r.extend_from_slice(body);
		r
	}

	#[test]
	fn a_server_that_drips_bytes_cannot_hold_a_fetch_past_its_deadline() {
		// The whole reply, a byte a second: the old client waited up to 60 s per read, for ever.
		let body = vec![1u8; 64];
		let url = scripted(vec![ok_reply(&body)], 200, Duration::from_secs(1));
		let hash = crate::store::artifact_hash(&body);
		let policy = FetchPolicy {
			attempts: 1,
			grace: Duration::from_secs(60),
			..FetchPolicy::within(Duration::from_secs(3))
		};
		let started = Instant::now();
		let err = store::fetch_with(&url, &hash, 1 << 20, false, &policy).unwrap_err();
		assert!(matches!(err, FetchError::Timeout), "{err}");
		assert!(
			started.elapsed() < Duration::from_secs(30),
			"bounded by the deadline"
		);
	}

	#[test]
	fn a_transfer_below_the_minimum_rate_is_abandoned() {
		let body = vec![2u8; 4096];
		let url = scripted(vec![ok_reply(&body)], 64, Duration::from_millis(100));
		let hash = crate::store::artifact_hash(&body);
		let policy = FetchPolicy {
			attempts: 1,
			grace: Duration::from_millis(500),
			min_bytes_per_sec: 1 << 20,
			..FetchPolicy::within(Duration::from_secs(30))
		};
		let err = store::fetch_with(&url, &hash, 1 << 20, false, &policy).unwrap_err();
		assert!(matches!(err, FetchError::TooSlow { .. }), "{err}");
	}

	#[test]
	fn a_fetchers_slow_disk_is_not_the_servers_slowness() {
		// A server that sends everything at once, and a fetcher whose disk takes 256 KiB/s: the
		// transfer as a whole runs below the 1 MiB/s minimum, but the server is not why.
		let body = vec![3u8; 512 << 10];
		let url = scripted(vec![ok_reply(&body)], 1, Duration::ZERO);
		let policy = FetchPolicy {
			attempts: 1,
			grace: Duration::from_millis(200),
			min_bytes_per_sec: 1 << 20,
			..FetchPolicy::within(Duration::from_secs(30))
		};
		let mut stored = 0;
		let len = crate::store::client::get_into(&url, 1 << 20, false, &policy, &mut |chunk| {
			std::thread::sleep(Duration::from_secs_f64(
				chunk.len() as f64 / f64::from(256 << 10),
			));
			stored += chunk.len();
			Ok(())
		})
		.unwrap();
		assert_eq!((len, stored), (body.len() as u64, body.len()));
	}

	#[test]
	fn transient_failures_are_retried_and_a_404_is_not() {
		let body = b"third time lucky".to_vec();
		let busy = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n".to_vec();
		let url = scripted(vec![busy.clone(), busy, ok_reply(&body)], 1, Duration::ZERO);
		let hash = crate::store::artifact_hash(&body);
		let policy = FetchPolicy::within(Duration::from_secs(30));
		assert_eq!(
			store::fetch_with(&url, &hash, 1 << 20, false, &policy).unwrap(),
			body
		);
		// A 404 is the server's answer, not a transient failure: one attempt.
		let missing = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec();
		let url = scripted(vec![missing, ok_reply(&body)], 1, Duration::ZERO);
		assert!(matches!(
			store::fetch_with(&url, &hash, 1 << 20, false, &policy),
			Err(FetchError::NotFound)
		));
	}

	/// An unchecked download of at most 1 MiB into `path`, kept in the page cache.
	fn download_to(
		url: &str,
		path: &Path,
		policy: &FetchPolicy,
	) -> Result<store::Downloaded, FetchError> {
		store::download(url, path, 1 << 20, false, policy, None, store::Keep::Cache)
	}

	#[test]
	fn a_download_streams_to_disk_is_hashed_on_the_way_and_leaves_nothing_on_failure() {
		let body = vec![7u8; 200_000];
		let mut corrupt = body.clone();
		corrupt[100_000] ^= 1;
		// A corrupt transfer first (retried, as any corruption on the way), then the bytes.
		let url = scripted(vec![ok_reply(&corrupt), ok_reply(&body)], 4, Duration::ZERO);
		let hash = pol_primitives::hashing::hash(&body);
		let dir = TempDir::new("download");
		let path = dir.join("artifact");
		let policy = FetchPolicy::within(Duration::from_secs(30));
		let got = store::download(
			&url,
			&path,
			1 << 20,
			false,
			&policy,
			Some(&hash),
			store::Keep::Durable,
		)
		.unwrap();
		assert_eq!(got.bytes, body.len() as u64);
		assert_eq!(got.blake2, Some(hash));
		assert_eq!(std::fs::read(&path).unwrap(), body);
		// A failed download leaves neither the file nor a part of it.
		let missing = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec();
		let url = scripted(vec![missing], 1, Duration::ZERO);
		let other = dir.join("other");
		let err = download_to(&url, &other, &policy).unwrap_err();
		assert!(matches!(err, FetchError::NotFound), "{err}");
		let names: Vec<_> = std::fs::read_dir(&dir.0)
			.unwrap()
			.map(|e| e.unwrap().file_name().into_string().unwrap())
			.collect();
		assert_eq!(names, vec!["artifact".to_owned()]);
	}

	#[test]
	fn a_fetchers_own_trouble_or_lateness_blames_no_server() {
		// Its own disk: the file cannot be created.
		let body = b"fine".to_vec();
		let url = scripted(vec![ok_reply(&body)], 1, Duration::ZERO);
		let policy = FetchPolicy::within(Duration::from_secs(30));
		let nowhere = Path::new("/nonexistent-pol-dir/artifact");
		let err = download_to(&url, nowhere, &policy).unwrap_err();
		assert!(err.is_local(), "{err}");
		assert!(!policy.blames_server(&err));
		// Its own deadline, run out: a timeout that says nothing about the server.
		let url = scripted(vec![ok_reply(&[1u8; 64])], 64, Duration::from_secs(1));
		let late = FetchPolicy {
			attempts: 1,
			grace: Duration::from_secs(60),
			..FetchPolicy::within(Duration::from_secs(2))
		};
		let dir = TempDir::new("late");
		let err = download_to(&url, &dir.join("a"), &late).unwrap_err();
		assert!(matches!(err, FetchError::Timeout), "{err}");
		assert!(!late.blames_server(&err));
		// What the server does is on the server: a 404 before the deadline.
		let missing = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec();
		let url = scripted(vec![missing], 1, Duration::ZERO);
		let err = download_to(&url, &dir.join("b"), &policy).unwrap_err();
		assert!(policy.blames_server(&err), "{err}");
	}

	#[test]
	fn a_timeout_is_the_servers_when_the_fetch_began_in_time_for_its_bytes() {
		let policy = FetchPolicy {
			grace: Duration::from_secs(1),
			min_bytes_per_sec: 1 << 20,
			..FetchPolicy::within(Duration::from_secs(30))
		};
		// 8 MiB at 1 MiB/s after a second's grace: owed in 9 s.
		let size = 8 << 20;
		assert_eq!(policy.time_owed(size), Duration::from_secs(9));
		let timeout = FetchError::Timeout;
		let now = Instant::now();
		// Begun with 30 s left: the server had the time, and a timeout is its own.
		assert!(policy.blames_server_of(&timeout, now, policy.time_owed(size)));
		// Begun with less left than the bytes are owed in, after the deadline passed: the
		// fetcher's own lateness.
		let late = FetchPolicy {
			deadline: now,
			..policy.clone()
		};
		assert!(!late.blames_server_of(
			&timeout,
			now - Duration::from_secs(5),
			policy.time_owed(size)
		));
		assert!(late.blames_server_of(
			&timeout,
			now - Duration::from_secs(10),
			policy.time_owed(size)
		));
		// Whatever else the server does is its own; the fetcher's disk never is.
		assert!(late.blames_server_of(&FetchError::NotFound, now, policy.time_owed(size)));
		let disk = FetchError::Local(std::io::Error::other("disk full"));
		assert!(!policy.blames_server_of(&disk, now, policy.time_owed(size)));
	}

	#[test]
	fn operators_read_the_counts_at_metrics() {
		let (_dir, s, hash) = store_with(b"counted");
		let server = store::serve(s, "127.0.0.1:0").unwrap();
		let url = server.url();
		store::fetch(&url, &hash, 1 << 20, false).unwrap();
		let text = raw(
			&url,
			"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		);
		assert!(text.starts_with("HTTP/1.1 200"), "{text}");
		let value = |name: &str| -> f64 {
			text.lines()
				.find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
				.unwrap_or_else(|| panic!("{name} in {text}"))
		};
		// Counters are per process (tests share one): at least this fetch is in them.
		assert!(value("pol_worker_served_artifacts_total") >= 1.0);
		assert!(value("pol_worker_fetched_bytes_total") >= 7.0);
		for name in [
			"pol_worker_extrinsics_sent_total",
			"pol_worker_finalized_block",
			"pol_worker_rounds_total",
		] {
			value(name);
		}
		server.stop();
	}

	#[test]
	fn a_manifest_is_fetched_under_its_own_small_cap() {
		let big = vec![b'x'; (crate::store::MAX_MANIFEST_BYTES + 1) as usize];
		let (_dir, s, hash) = store_with(&big);
		let server = store::serve(s, "127.0.0.1:0").unwrap();
		let into = TempDir::new("manifest-cap");
		let err = store::fetch_manifest(
			&server.url(),
			&hash,
			&into.0,
			store::DEFAULT_MAX_BYTES,
			false,
			&store::FetchPolicy::default(),
		)
		.unwrap_err();
		assert!(matches!(err, FetchError::TooLarge { .. }), "{err:#}");
		server.stop();
	}

	/// A connection to `url`'s server from the loopback address `from` (127.0.0.2, …: Linux
	/// routes all of 127/8 to the loopback device), as another host's would come.
	fn connect_from(from: &str, url: &str) -> TcpStream {
		let to: std::net::SocketAddr = host(url).parse().unwrap();
		let rt = tokio::runtime::Builder::new_current_thread()
			.enable_all()
			.build()
			.unwrap();
		let stream = rt
			.block_on(async {
				let socket = tokio::net::TcpSocket::new_v4()?;
				socket.bind(format!("{from}:0").parse().unwrap())?;
				socket.connect(to).await
			})
			.unwrap();
		let stream = stream.into_std().unwrap();
		stream.set_nonblocking(false).unwrap();
		stream
	}

	/// Limits that keep every held connection open for the whole test.
	fn small_limits(max_connections: usize, max_per_peer: usize) -> ServerLimits {
		ServerLimits {
			max_connections,
			max_per_peer,
			header_timeout: Duration::from_secs(60),
			stall_timeout: Duration::from_secs(60),
			max_connection_time: Duration::from_secs(120),
		}
	}

	/// Waits (10 s at most) until `server` holds `n` connections.
	fn wait_for_connections(server: &store::ServerHandle, n: usize) {
		let until = Instant::now() + Duration::from_secs(10);
		while server.connections() != n {
			assert!(
				Instant::now() < until,
				"{} connections, not {n}",
				server.connections()
			);
			std::thread::sleep(Duration::from_millis(20));
		}
	}

	/// One attempt, no retries: what a single request gets.
	fn one_attempt() -> FetchPolicy {
		FetchPolicy {
			attempts: 1,
			..FetchPolicy::within(Duration::from_secs(20))
		}
	}

	#[test]
	fn a_flood_from_a_few_addresses_cannot_lock_a_validator_out_of_a_miner_server() {
		// An outsider fills the miner's whole cap from two addresses, each up to its own cap,
		// and holds it (for the verify phase and the vote window, were it a real round). Were
		// the newcomer answered 503 like any connection over the cap, every validator would be
		// refused until its deadline and the honest miner would be slashed for not serving.
		let (_dir, s, hash) = store_with(&[3u8; 50_000]);
		let server = store::serve_with(s, "127.0.0.1:0", small_limits(8, 4)).unwrap();
		let url = server.url();
		let flood: Vec<TcpStream> = ["127.0.0.2", "127.0.0.3"]
			.iter()
			.flat_map(|from| (0..4).map(|_| connect_from(from, &url)).collect::<Vec<_>>())
			.collect();
		wait_for_connections(&server, 8);
		// A flooding address over its own cap is refused: the flood cannot grow.
		let mut ninth = connect_from("127.0.0.2", &url);
		ninth
			.set_read_timeout(Some(Duration::from_secs(10)))
			.unwrap();
		let mut reply = String::new();
		let _ = ninth.read_to_string(&mut reply);
		assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
		// The validator, from a fresh address, gets its artifact at its first request: one of
		// the heaviest flooder's connections made room for it.
		let bytes = store::fetch_with(&url, &hash, 1 << 20, false, &one_attempt())
			.expect("the validator is let in at the cap");
		assert_eq!(bytes, vec![3u8; 50_000]);
		let stats = server.stats();
		assert_eq!(stats.evicted.load(Ordering::Relaxed), 1);
		// The connection given up was a flooder's: closed under it.
		let closed = flood
			.iter()
			.filter(|c| {
				let mut c = *c;
				c.set_read_timeout(Some(Duration::from_millis(200)))
					.unwrap();
				matches!(c.read(&mut [0u8; 16]), Ok(0))
			})
			.count();
		assert_eq!(closed, 1, "exactly one flood connection was closed");
		server.check().unwrap();
		server.stop();
	}

	#[test]
	fn a_flood_holding_one_connection_from_each_of_as_many_addresses_as_places_still_refuses() {
		// The residual risk, stated: an attacker with as many addresses as the server has places
		// holds one connection from each, and no newcomer holds fewer than a peer by two, so a
		// newcomer is refused (docs/SECURITY.md).
		let (_dir, s, hash) = store_with(b"held");
		let server = store::serve_with(s, "127.0.0.1:0", small_limits(4, 4)).unwrap();
		let url = server.url();
		let _flood: Vec<TcpStream> = (2..6)
			.map(|i| connect_from(&format!("127.0.0.{i}"), &url))
			.collect();
		wait_for_connections(&server, 4);
		let err = store::fetch_with(&url, &hash, 1 << 20, false, &one_attempt()).unwrap_err();
		assert!(matches!(err, FetchError::Status(503)), "{err}");
		assert_eq!(server.stats().evicted.load(Ordering::Relaxed), 0);
		server.stop();
	}

	#[test]
	fn a_peer_is_an_ipv4_address_or_an_ipv6_slash_64() {
		use std::net::IpAddr;
		let key = |s: &str| store::peer_key(s.parse::<IpAddr>().unwrap());
		assert_eq!(key("203.0.113.7"), key("203.0.113.7"));
		assert_ne!(key("203.0.113.7"), key("203.0.113.8"));
		// One host's /64: any address in it is the same peer.
		assert_eq!(
			key("2001:db8:1:2::1"),
			key("2001:db8:1:2:ffff:ffff:ffff:fffe")
		);
		assert_eq!(
			key("2001:db8:1:2:abcd::9"),
			"2001:db8:1:2::".parse::<IpAddr>().unwrap()
		);
		assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
		// IPv4 peers of a dual-stack listener are their IPv4 addresses, not the one /64 that
		// holds every mapped address.
		assert_eq!(key("::ffff:203.0.113.7"), key("203.0.113.7"));
		assert_ne!(key("::ffff:203.0.113.7"), key("::ffff:203.0.113.8"));
		// Loopback addresses stand apart, as the flood tests' peers do.
		assert_ne!(key("127.0.0.2"), key("127.0.0.3"));
	}

	/// A server that counts the requests it holds at once (the most it ever saw: connections
	/// accepted and not yet answered), and answers each with `body` after `pause`; one request
	/// a connection.
	fn counting_server(
		body: Vec<u8>,
		pause: Duration,
	) -> (String, std::sync::Arc<(AtomicUsize, AtomicUsize)>) {
		let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
		let url = format!("http://{}", listener.local_addr().unwrap());
		let counts = std::sync::Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
		let shared = counts.clone();
		std::thread::spawn(move || {
			for conn in listener.incoming() {
				let Ok(mut c) = conn else { return };
				let (counts, body) = (shared.clone(), body.clone());
				let open = counts.0.fetch_add(1, Ordering::SeqCst) + 1;
				counts.1.fetch_max(open, Ordering::SeqCst);
				std::thread::spawn(move || {
					let mut head = Vec::new();
					let mut buf = [0u8; 1024];
					while !head.windows(4).any(|w| w == b"\r\n\r\n") {
						match c.read(&mut buf) {
							Ok(0) | Err(_) => break,
							Ok(k) => head.extend_from_slice(&buf[..k]),
						}
					}
					std::thread::sleep(pause);
					// Counted until the reply's last byte goes out: the client cannot have the
					// whole body (and let its lane go) before, so the count never runs ahead of
					// the connections the client holds.
					let reply = ok_reply(&body);
					let (most, last) = reply.split_at(reply.len() - 1);
					let _ = c.write_all(most);
					counts.0.fetch_sub(1, Ordering::SeqCst);
					let _ = c.write_all(last);
					let _ = c.read(&mut buf);
				});
			}
		});
		(url, counts)
	}

	#[test]
	fn a_validators_own_fetches_never_open_more_than_sixteen_connections_to_an_honest_server() {
		// Verification batches, claim checks and final-model fetches of one validator, all at
		// once from the same honest server (which serves one miner): the miner's batches share
		// its 8 lanes, the other fetches 8 more, together half an honest server's cap per peer,
		// so the validator never trips the cap itself and blames the 503s on the server.
		let body = b"one artifact, asked for by everyone".to_vec();
		let hash = store::artifact_hash(&body);
		let (url, counts) = counting_server(body.clone(), Duration::from_millis(100));
		let deadline = Instant::now() + Duration::from_secs(60);
		let fetched = AtomicUsize::new(0);
		std::thread::scope(|scope| {
			// Three batches of the miner's (a verification, claim checks, another task's), each
			// taking its lanes first.
			for _ in 0..3 {
				scope.spawn(|| {
					let held = store::lanes_for(&url, &[7; 32], 8, deadline).unwrap();
					let policy = FetchPolicy {
						lane_held: true,
						..FetchPolicy::within(Duration::from_secs(60))
					};
					std::thread::scope(|lanes| {
						for _ in 0..held.count() {
							lanes.spawn(|| {
								for _ in 0..2 {
									store::fetch_with(&url, &hash, 1 << 20, false, &policy)
										.unwrap();
									fetched.fetch_add(1, Ordering::SeqCst);
								}
							});
						}
					});
				});
			}
			// Single requests, each taking a lane of its own.
			for _ in 0..12 {
				scope.spawn(|| {
					let policy = FetchPolicy::within(Duration::from_secs(60));
					store::fetch_with(&url, &hash, 1 << 20, false, &policy).unwrap();
					fetched.fetch_add(1, Ordering::SeqCst);
				});
			}
			// Ten final models, each from this server first, as the validator fetches them.
			scope.spawn(|| {
				let missing: Vec<_> = (0..10u8)
					.map(|i| (crate::chain::AccountId32([i; 32]), hash, vec![url.clone()]))
					.collect();
				let got = crate::validator::fetch_updates(&missing, body.len() as u64, deadline);
				assert!(got.iter().all(|(_, b)| b.as_deref() == Some(&body[..])));
				fetched.fetch_add(got.len(), Ordering::SeqCst);
			});
		});
		assert!(fetched.load(Ordering::SeqCst) >= 12 + 10 + 3 * 2);
		let most = counts.1.load(Ordering::SeqCst);
		assert!(
			most <= 2 * crate::verify::MAX_PARALLEL_FETCHES,
			"{most} connections at once"
		);
		assert!(2 * most <= store::ServerLimits::default().max_per_peer);
		assert!(most >= 2, "the fetches ran side by side ({most})");
	}

	#[test]
	fn a_retrying_fetch_keeps_asking_through_its_window() {
		// A server busy (503) for its first eight connections, then serving. Doubled without a
		// cap, the waits (0.25 s, 0.5 s, … 32 s) would put the ninth attempt past a 25 s window;
		// capped at 2 s it comes within 12 s.
		let body = b"asked again".to_vec();
		let busy = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n".to_vec();
		let mut replies = vec![busy; 8];
		replies.push(ok_reply(&body));
		let url = scripted(replies, 1, Duration::ZERO);
		let policy = FetchPolicy {
			attempts: u32::MAX,
			..FetchPolicy::within(Duration::from_secs(25))
		};
		let got = store::fetch_with(&url, &store::artifact_hash(&body), 1 << 20, false, &policy);
		assert_eq!(got.unwrap(), body);
		assert_eq!(store::client::MAX_BACKOFF, Duration::from_secs(2));
	}

	#[test]
	fn a_busy_server_is_blamed_only_once_it_had_its_time() {
		let policy = FetchPolicy::within(Duration::from_secs(30));
		let now = Instant::now();
		let busy = FetchError::Status(503);
		// Owed within the window: refusing all of it is withholding.
		assert!(policy.blames_server_of(&busy, now, Duration::from_secs(10)));
		// Begun too late to be owed by the deadline: the fetcher learnt nothing of the server.
		assert!(!policy.blames_server_of(&busy, now, Duration::from_secs(60)));
		// This host's own fetches holding every lane: never the server's.
		assert!(!policy.blames_server_of(&FetchError::NoLane, now, Duration::from_secs(10)));
		// A 500 is no "busy": the server's whenever it comes.
		assert!(policy.blames_server_of(&FetchError::Status(500), now, Duration::from_secs(60)));
	}
}

#[test]
fn round_state_is_private_and_old_rounds_are_removed() {
	use std::os::unix::fs::PermissionsExt;
	let work = TempDir::new("work");
	let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
	for r in 0..=5 {
		let path = crate::round::round_dir(&work.0, 3, r).join("miner.json");
		crate::round::write_state(&path, &serde_json::json!({ "salt": "0x5ecre7" })).unwrap();
		// Salts and unrevealed scores: nobody else may read them, from the file's creation on.
		assert_eq!(mode(&path), 0o600, "{}", path.display());
		assert_eq!(mode(path.parent().unwrap()), 0o700);
	}
	// Another task's rounds and unrelated files are left alone.
	crate::round::write_state(&crate::round::round_dir(&work.0, 4, 0).join("x.json"), &1).unwrap();
	std::fs::write(work.join("task-3/notes.txt"), "keep").unwrap();
	assert_eq!(
		crate::round::prune_rounds(&work.0, 3, 5, 2).unwrap(),
		vec![0, 1, 2]
	);
	for r in 0..=5 {
		assert_eq!(
			crate::round::round_dir(&work.0, 3, r).exists(),
			r >= 3,
			"round {r}"
		);
	}
	assert!(crate::round::round_dir(&work.0, 4, 0).exists());
	assert!(work.join("task-3/notes.txt").exists());
	assert!(
		crate::round::prune_rounds(&work.0, 9, 5, 2)
			.unwrap()
			.is_empty(),
		"no such task"
	);
}

/// One forged transition (issue 26 §7): the path check and `attack-sim --influence`.
mod influence;
