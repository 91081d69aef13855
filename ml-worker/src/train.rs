//! Deterministic training: SGD (plain or with momentum) with the task's fixed hyperparameters,
//! the batch of each step derived from the round seed and the miner, a checkpoint every k steps.
//!
//! The update is written out by hand rather than with libtorch's optimizer so that the momentum
//! buffers are ours to save in each checkpoint and to restore for a replay. It is PyTorch's SGD
//! (dampening 0, no Nesterov, no weight decay): `b ← μ·b + g; w ← w − η·b` (`w ← w − η·g`
//! without momentum), with the buffers starting at zero at each round.

use crate::config::TaskSpec;
use crate::data::{self, Dataset, TaskData};
use crate::model::{Model, NamedTensor};
use crate::profile::Pinned;
use crate::proof::{write_bundle, BundleInfo, BundleWriter, Checkpoint, Manifest};
use anyhow::{bail, ensure, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use pol_primitives::{hashing, AccountBytes, Hash, RoundIndex, StepIndex};
use std::path::Path;
use tch::{Device, Tensor};

/// A model being trained on one shard, with its optimizer state.
pub struct Trainer<'a> {
	/// The model.
	pub model: Model,
	names: Vec<String>,
	params: Vec<Tensor>,
	momentum: Option<Vec<Tensor>>,
	/// The temporary `t = b·η` of each parameter's update, kept so that a step allocates none.
	scratch: Vec<Tensor>,
	learning_rate: f64,
	mu: f64,
	batch_size: u32,
	data: &'a Dataset,
	shard: &'a [i64],
	data_seed: Hash,
}

impl<'a> Trainer<'a> {
	/// A trainer for `spec`'s model starting from `start`, on `shard` of `data` (which lives on
	/// `device`), with batches from `data_seed`.
	pub fn new(
		spec: &TaskSpec,
		start: &Checkpoint,
		data: &'a Dataset,
		shard: &'a [i64],
		data_seed: Hash,
		device: Device,
	) -> Result<Trainer<'a>> {
		let mut model = Model::uninit(&spec.task.model, device)?;
		check_data_fits(&model, data)?;
		ensure!(
			!shard.is_empty(),
			"the shard is empty: no batch can be drawn"
		);
		model
			.set_params(&start.params)
			.context("the checkpoint does not fit the task's model")?;
		let named = model.named_parameters();
		let names: Vec<String> = named.iter().map(|(n, _)| n.clone()).collect();
		let params: Vec<Tensor> = named.into_iter().map(|(_, t)| t).collect();
		let mu = spec.momentum();
		let momentum = if mu > 0.0 {
			ensure!(
				start.momentum.len() == names.len(),
				"the task trains with momentum, but the checkpoint holds no momentum buffers"
			);
			Some(start.momentum.iter().map(|m| m.to_tensor(device)).collect())
		} else {
			ensure!(
				start.momentum.is_empty(),
				"the task trains without momentum, but the checkpoint holds momentum buffers"
			);
			None
		};
		let scratch = params.iter().map(Tensor::empty_like).collect();
		Ok(Trainer {
			model,
			names,
			params,
			momentum,
			scratch,
			learning_rate: spec.learning_rate(),
			mu,
			batch_size: spec.hyperparameters.batch_size,
			data,
			shard,
			data_seed,
		})
	}

	/// The sample indices of step `step`'s batch.
	pub fn batch(&self, step: StepIndex) -> Result<Vec<i64>> {
		data::batch(self.shard, &self.data_seed, step, self.batch_size)
	}

	/// One SGD step on step `step`'s batch; returns the batch loss before the update.
	pub fn step(&mut self, step: StepIndex) -> Result<f64> {
		let batch = self.batch(step)?;
		self.step_on(&batch, self.learning_rate)
	}

	/// One SGD step on the samples `batch` with learning rate `lr` (tests use this to train as
	/// a dishonest miner would).
	pub fn step_on(&mut self, batch: &[i64], lr: f64) -> Result<f64> {
		let (xs, ys) = self.data.gather(batch);
		let loss = self.model.forward(&xs).cross_entropy_for_logits(&ys);
		// The gradients as autograd computes them, not added into zeroed `.grad` buffers: the
		// same values (0 + g = g up to the sign of a zero, docs/PROTOCOL.md step 3 says when
		// that could matter) without a pass to zero and a pass to accumulate.
		let grads = Tensor::f_run_backward(&[&loss], &self.params, false, false)
			.context("backward pass")?;
		let mu = self.mu;
		tch::no_grad(|| -> Result<()> {
			for (i, (p, g)) in self.params.iter_mut().zip(&grads).enumerate() {
				let t = &self.scratch[i];
				match &mut self.momentum {
					Some(bufs) => {
						let b = &mut bufs[i];
						let _ = b.f_mul_scalar_(mu)?;
						let _ = b.f_add_(g)?;
						let _ = b.f_mul_scalar_out(t, lr)?;
					}
					None => {
						let _ = g.f_mul_scalar_out(t, lr)?;
					}
				}
				let _ = p.f_sub_(t)?;
			}
			Ok(())
		})
		.context("SGD update")?;
		loss.f_double_value(&[]).context("reading the loss")
	}

	/// The current checkpoint.
	pub fn checkpoint(&self) -> Result<Checkpoint> {
		let params = self.model.params()?;
		let momentum = match &self.momentum {
			Some(bufs) => self
				.names
				.iter()
				.zip(bufs)
				.map(|(n, b)| NamedTensor::from_tensor(n, b))
				.collect::<Result<Vec<_>>>()?,
			None => Vec::new(),
		};
		Ok(Checkpoint { params, momentum })
	}

	/// Runs steps `from..to`, returning their losses.
	pub fn run(&mut self, from: StepIndex, to: StepIndex, bar: &ProgressBar) -> Result<Vec<f64>> {
		let mut losses = Vec::with_capacity(to.saturating_sub(from) as usize);
		for s in from..to {
			let loss = self.step(s).with_context(|| format!("step {s}"))?;
			ensure!(loss.is_finite(), "the loss diverged at step {s} ({loss})");
			losses.push(loss);
			bar.inc(1);
		}
		Ok(losses)
	}
}

/// Checks that a data set's samples fit a model's input and its labels its outputs, so that
/// no libtorch call can fail on a shape later.
pub fn check_data_fits(model: &Model, data: &Dataset) -> Result<()> {
	let features = model.arch.input_features() as usize;
	ensure!(
		data.features == features,
		"the data has {} features per sample, the model {} takes {features}",
		data.features,
		model_spec_name(model)
	);
	ensure!(
		data.classes <= model.arch.outputs() as usize,
		"the data has {} classes, the model has {} outputs",
		data.classes,
		model.arch.outputs()
	);
	Ok(())
}

fn model_spec_name(model: &Model) -> String {
	format!("{:?}", model.arch)
}

/// Validation loss and accuracy of `params` on `indices` of `data`.
pub fn evaluate(
	spec: &TaskSpec,
	params: &[NamedTensor],
	data: &Dataset,
	indices: &[i64],
	device: Device,
) -> Result<(f64, f64)> {
	ensure!(!indices.is_empty(), "the validation split is empty");
	let mut model = Model::uninit(&spec.task.model, device)?;
	check_data_fits(&model, data)?;
	model.set_params(params)?;
	tch::no_grad(|| -> Result<(f64, f64)> {
		let mut loss_sum = 0.0;
		let mut correct = 0.0;
		for chunk in indices.chunks(4096) {
			let (xs, ys) = data.gather(chunk);
			let logits = model.forward(&xs);
			let loss = logits.cross_entropy_for_logits(&ys).f_double_value(&[])?;
			loss_sum += loss * chunk.len() as f64;
			let acc = logits.accuracy_for_logits(&ys).f_double_value(&[])?;
			correct += acc * chunk.len() as f64;
		}
		let n = indices.len() as f64;
		Ok((loss_sum / n, correct / n))
	})
}

/// A hidden bar, or a visible one when `show` and stderr is a terminal (a daemon's log gets
/// no bar lines).
pub fn progress_bar(show: bool, len: u64, what: &str) -> ProgressBar {
	use std::io::IsTerminal;
	if !show || !std::io::stderr().is_terminal() {
		return ProgressBar::hidden();
	}
	let bar = ProgressBar::new(len);
	bar.set_style(
		ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
			.unwrap_or_else(|_| ProgressStyle::default_bar())
			.progress_chars("=> "),
	);
	bar.set_message(what.to_string());
	bar
}

/// A miner's run of one round.
pub struct MinerRun<'a> {
	/// The task.
	pub spec: &'a TaskSpec,
	/// Its data.
	pub data: &'a TaskData,
	/// Round.
	pub round: RoundIndex,
	/// Round seed.
	pub round_seed: Hash,
	/// The miner.
	pub miner: AccountBytes,
	/// The round's starting model (the global model).
	pub start: &'a [NamedTensor],
	/// The determinism profile this process pinned: the task's.
	pub pinned: &'a Pinned,
	/// Show a progress bar.
	pub progress: bool,
}

/// What a run's proofs cost, in seconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProofTimes {
	/// The training thread's: copying each checkpoint out of libtorch, handing it over.
	pub training_thread_secs: f64,
	/// The writer thread's CPU time (norms, hashes, files), where the platform says.
	pub writer_cpu_secs: Option<f64>,
}

/// The output of a training run: checkpoints 0..=n and the loss of each step.
pub struct RunOutput {
	/// Checkpoints.
	pub checkpoints: Vec<Checkpoint>,
	/// Loss of each step.
	pub losses: Vec<f64>,
}

impl MinerRun<'_> {
	/// The miner's data seed.
	pub fn data_seed(&self) -> Hash {
		hashing::data_seed(&self.round_seed, &self.miner)
	}

	/// The miner's shard.
	pub fn shard(&self) -> Result<(u32, &[i64])> {
		self.data.shard_for(self.spec, &self.miner)
	}

	/// A run under another profile than the task's could not be replayed by its validators.
	pub fn check_profile(&self) -> Result<()> {
		let task = self.spec.verification.profile;
		if self.pinned.profile != task {
			bail!(
				"task {} runs under profile {task}, this process under {}: start a worker \
				 with --profile {task}",
				self.spec.task.id,
				self.pinned.profile
			);
		}
		Ok(())
	}

	/// Trains the round's S steps honestly, handing each checkpoint (0..=n) to `sink` as it is
	/// made; returns the loss of each step.
	pub fn train_with(&self, sink: impl FnMut(Checkpoint) -> Result<()>) -> Result<Vec<f64>> {
		Ok(self.train_timed(sink)?.0)
	}

	/// [`MinerRun::train_with`], also returning the seconds the training thread spent on the
	/// checkpoints: copying each out of libtorch and handing it to `sink` (the proofs' cost
	/// on the critical path, whatever `sink` does elsewhere).
	pub fn train_timed(
		&self,
		mut sink: impl FnMut(Checkpoint) -> Result<()>,
	) -> Result<(Vec<f64>, f64)> {
		self.check_profile()?;
		let (_, shard) = self.shard()?;
		let start = Checkpoint::start(self.start.to_vec(), self.spec.momentum() > 0.0);
		let device = self.pinned.device();
		let dataset = self.data.on(device);
		let mut trainer =
			Trainer::new(self.spec, &start, &dataset, shard, self.data_seed(), device)?;
		sink(start)?;
		let k = self.spec.hyperparameters.checkpoint_interval;
		let n = self.spec.num_segments();
		let bar = progress_bar(self.progress, u64::from(k) * u64::from(n), "train");
		let mut losses = Vec::new();
		// What the proofs cost the training thread: the checkpoint's copy out of libtorch and
		// the hand-over (a wait only when the writer is two checkpoints behind).
		let mut proof_secs = 0.0;
		for j in 1..=n {
			losses.extend(trainer.run((j - 1) * k, j * k, &bar)?);
			let t = std::time::Instant::now();
			sink(trainer.checkpoint()?)?;
			proof_secs += t.elapsed().as_secs_f64();
		}
		bar.finish_and_clear();
		Ok((losses, proof_secs))
	}

	/// Trains the round's S steps honestly, keeping every checkpoint.
	pub fn train(&self) -> Result<RunOutput> {
		let mut checkpoints = Vec::new();
		let losses = self.train_with(|c| {
			checkpoints.push(c);
			Ok(())
		})?;
		Ok(RunOutput {
			checkpoints,
			losses,
		})
	}

	/// Trains and writes the proof bundle into `out`, checkpoint by checkpoint.
	pub fn train_bundle(&self, out: &Path) -> Result<Manifest> {
		Ok(self.train_bundle_timed(out)?.0)
	}

	/// [`MinerRun::train_bundle`], also returning what the proofs cost: the training thread's
	/// seconds on the checkpoints ([`MinerRun::train_timed`]) and the writer thread's, which
	/// hashes and writes them beside training.
	pub fn train_bundle_timed(&self, out: &Path) -> Result<(Manifest, ProofTimes)> {
		let started = std::time::Instant::now();
		let mut writer = BundleWriter::new(out)?.spawn();
		let (losses, training_thread_secs) = self.train_timed(|c| writer.push(c))?;
		let (manifest, writer_cpu_secs) = writer.finish_timed(&self.info(losses)?)?;
		log::info!(
			"trained {} steps in {:.2}s ({:.3}s of it on checkpoints, {:.3}s of the writer's \
			 CPU); mean loss {:.4}; bundle {} (root {})",
			self.spec.hyperparameters.local_steps,
			started.elapsed().as_secs_f64(),
			training_thread_secs,
			writer_cpu_secs.unwrap_or(0.0),
			manifest.train_loss,
			out.display(),
			manifest.checkpoint_root
		);
		Ok((
			manifest,
			ProofTimes {
				training_thread_secs,
				writer_cpu_secs,
			},
		))
	}

	/// What the bundle's manifest says of this run besides its checkpoints.
	pub(crate) fn info(&self, losses: Vec<f64>) -> Result<BundleInfo> {
		let (shard, _) = self.shard()?;
		Ok(BundleInfo {
			spec: self.spec.clone(),
			round: self.round,
			miner: self.miner,
			round_seed: self.round_seed,
			shard,
			host: self.pinned.host.clone(),
			losses,
		})
	}

	/// Writes the bundle of a run (honest or not) into `out`.
	pub fn write(&self, out: &Path, run: &RunOutput) -> Result<Manifest> {
		write_bundle(out, &self.info(run.losses.clone())?, &run.checkpoints)
	}
}
