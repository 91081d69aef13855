//! `pol-worker doctor`: a quick check of the machine a worker runs on.
//!
//! It reports the libtorch version, the intra-op thread count and whether CUDA is usable, then
//! trains a tiny MLP on a fixed synthetic regression problem for a few SGD steps. A loss that
//! does not fall means libtorch is broken on this machine (or the build linked the wrong one).

use anyhow::{bail, Context, Result};
use tch::{nn, nn::Module, nn::OptimizerConfig, Device, Kind, Tensor};

/// Where the tiny training run happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceChoice {
	/// CUDA when available, else the CPU.
	Auto,
	/// The CPU.
	Cpu,
	/// The first CUDA device; an error when there is none.
	Cuda,
}

/// What `doctor` found.
#[derive(Clone, Debug)]
pub struct Report {
	/// libtorch version the binary was built against.
	pub libtorch_version: &'static str,
	/// libtorch's intra-op thread count during the run.
	pub threads: i32,
	/// Whether CUDA is usable.
	pub cuda_available: bool,
	/// Number of CUDA devices.
	pub cuda_devices: i64,
	/// The device the training run used.
	pub device: Device,
	/// Loss before each step, and after the last one.
	pub losses: Vec<f64>,
}

impl Report {
	/// Loss before the first step.
	pub fn initial_loss(&self) -> f64 {
		self.losses.first().copied().unwrap_or(f64::NAN)
	}
	/// Loss after the last step.
	pub fn final_loss(&self) -> f64 {
		self.losses.last().copied().unwrap_or(f64::NAN)
	}
}

/// Runs the checks and the tiny training run of `steps` SGD steps.
pub fn run(steps: usize, threads: Option<i32>, device: DeviceChoice) -> Result<Report> {
	if steps == 0 {
		bail!("--steps must be at least 1");
	}
	if let Some(n) = threads {
		if n < 1 {
			bail!("--threads must be at least 1, got {n}");
		}
		tch::set_num_threads(n);
	}
	let cuda_available = tch::Cuda::is_available();
	let device = match device {
		DeviceChoice::Cpu => Device::Cpu,
		DeviceChoice::Auto => Device::cuda_if_available(),
		DeviceChoice::Cuda if cuda_available => Device::Cuda(0),
		DeviceChoice::Cuda => {
			bail!("--device cuda was asked for, but libtorch sees no CUDA device")
		}
	};
	let losses = train_tiny(steps, device).context("the tiny training run failed")?;
	Ok(Report {
		libtorch_version: crate::LIBTORCH_VERSION,
		threads: tch::get_num_threads(),
		cuda_available,
		cuda_devices: tch::Cuda::device_count(),
		device,
		losses,
	})
}

/// Fits y = x·w* + 0.5 with an 8-16-1 MLP; returns the loss before each step and at the end.
fn train_tiny(steps: usize, device: Device) -> Result<Vec<f64>> {
	tch::manual_seed(0);
	let n = 256;
	let x = Tensor::randn([n, 8], (Kind::Float, device));
	let w_true = Tensor::randn([8, 1], (Kind::Float, device));
	let y = x.matmul(&w_true) + 0.5;

	let vs = nn::VarStore::new(device);
	let root = vs.root();
	let net = nn::seq()
		.add(nn::linear(&root / "fc1", 8, 16, Default::default()))
		.add_fn(|t| t.relu())
		.add(nn::linear(&root / "fc2", 16, 1, Default::default()));
	let mut opt = nn::Sgd::default().build(&vs, 0.05)?;

	let mut losses = Vec::with_capacity(steps + 1);
	for _ in 0..steps {
		let loss = net.forward(&x).mse_loss(&y, tch::Reduction::Mean);
		losses.push(loss.f_double_value(&[])?);
		opt.backward_step(&loss);
	}
	let loss = tch::no_grad(|| net.forward(&x).mse_loss(&y, tch::Reduction::Mean));
	losses.push(loss.f_double_value(&[])?);
	Ok(losses)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn tiny_model_learns_on_cpu() {
		let report = run(30, Some(1), DeviceChoice::Cpu).expect("doctor runs");
		assert_eq!(report.losses.len(), 31);
		assert!(report.losses.iter().all(|l| l.is_finite()));
		assert!(
			report.final_loss() < 0.5 * report.initial_loss(),
			"loss should at least halve in 30 steps: {:?}",
			report.losses
		);
		assert_eq!(report.threads, 1);
	}

	#[test]
	fn rejects_bad_arguments() {
		assert!(run(0, None, DeviceChoice::Cpu).is_err());
		assert!(run(5, Some(0), DeviceChoice::Cpu).is_err());
	}

	#[test]
	fn reports_the_wheel_version() {
		// Built with LIBTORCH_USE_PYTORCH from the torch wheel the tch crate expects.
		assert!(LIBTORCH_VERSION_PREFIX
			.iter()
			.any(|p| crate::LIBTORCH_VERSION.starts_with(p)));
	}

	const LIBTORCH_VERSION_PREFIX: &[&str] = &["2.13.0"];
}
