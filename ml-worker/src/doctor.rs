//! `pol-worker doctor`: a quick check of the machine a worker runs on.
//!
//! It reports the libtorch version, the determinism profile it pinned and whether CUDA is
//! usable, then trains a tiny MLP on a fixed synthetic regression problem for a few SGD steps.
//! A loss that does not fall means libtorch is broken on this machine (or the build linked the
//! wrong one).
//!
//! `doctor --determinism` runs the golden vectors ([`crate::golden`]) under every profile, each
//! in a process of its own (a process pins one), and says which profiles this host may mine and
//! validate.

use crate::golden::{self, RunResult};
use crate::profile::{self, DeviceKind, Host, Isa, Pinned, Profile};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::{nn, nn::Module, nn::OptimizerConfig, Device, Kind, Tensor};

/// What `doctor` found.
#[derive(Clone, Debug)]
pub struct Report {
	/// libtorch version the binary was built against.
	pub libtorch_version: &'static str,
	/// The profile pinned, and what libtorch reports.
	pub pinned: Pinned,
	/// Whether CUDA is usable.
	pub cuda_available: bool,
	/// Number of CUDA devices.
	pub cuda_devices: i64,
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

/// Runs the checks and the tiny training run of `steps` SGD steps under `pinned`.
pub fn run(steps: usize, pinned: &Pinned) -> Result<Report> {
	if steps == 0 {
		bail!("--steps must be at least 1");
	}
	let losses = train_tiny(steps, pinned.device()).context("the tiny training run failed")?;
	Ok(Report {
		libtorch_version: crate::LIBTORCH_VERSION,
		pinned: pinned.clone(),
		cuda_available: tch::Cuda::is_available(),
		cuda_devices: tch::Cuda::device_count(),
		losses,
	})
}

/// The profiles `doctor --determinism` tries: each CPU kernel width on one thread, AVX2 on two,
/// and CUDA.
pub fn candidate_profiles() -> Vec<Profile> {
	let p = |device, isa, threads| Profile {
		device,
		isa,
		threads,
		gpu: None,
	};
	vec![
		p(DeviceKind::Cpu, Isa::Default, 1),
		p(DeviceKind::Cpu, Isa::Avx2, 1),
		p(DeviceKind::Cpu, Isa::Avx2, 2),
		p(DeviceKind::Cpu, Isa::Avx512, 1),
		p(DeviceKind::Cuda, Isa::Avx2, 1),
	]
}

/// One profile on this host: whether it pins, and its golden runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProfileCheck {
	/// The profile, e.g. `cpu/avx2/1`.
	pub profile: String,
	/// Why this host cannot run it, if it cannot.
	pub unsupported: Option<String>,
	/// What libtorch reported under it.
	pub host: Option<Host>,
	/// The golden runs.
	pub runs: Vec<RunResult>,
}

/// Whether a host may mine and validate a profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fitness {
	/// It pins the profile and reproduces the pinned vectors.
	Fit,
	/// It cannot: an honest run here would be judged against other bits.
	Unfit(String),
	/// It pins the profile and its runs are repeatable, but no vectors are pinned to compare.
	Unknown,
}

impl ProfileCheck {
	/// Whether this host may mine and validate the profile.
	pub fn fitness(&self) -> Fitness {
		if let Some(why) = &self.unsupported {
			return Fitness::Unfit(why.clone());
		}
		if let Some(r) = self.runs.iter().find(|r| !r.repeatable) {
			return Fitness::Unfit(format!("{} gives other bits when run again", r.name));
		}
		if let Some(r) = self.runs.iter().find(|r| r.reproduces == Some(false)) {
			return Fitness::Unfit(format!("{} does not reproduce the pinned vectors", r.name));
		}
		if self.runs.iter().any(|r| r.reproduces.is_none()) {
			return Fitness::Unknown;
		}
		Fitness::Fit
	}
}

/// In a process of its own: pins `profile` and runs the golden runs under it.
pub fn check_profile(profile: Profile, data_root: Option<&Path>) -> Result<ProfileCheck> {
	let pinned = match profile::pin(profile) {
		Ok(p) => p,
		Err(e) => {
			return Ok(ProfileCheck {
				profile: profile.to_string(),
				unsupported: Some(format!("{e:#}")),
				host: None,
				runs: Vec::new(),
			})
		}
	};
	// As pinned: a CUDA profile with this host's GPU class, the key its vectors are pinned
	// under and looked up by (`golden::check`).
	Ok(ProfileCheck {
		profile: pinned.profile.to_string(),
		unsupported: None,
		host: Some(pinned.host.clone()),
		runs: golden::check(pinned, data_root)?,
	})
}

/// Runs `exe doctor --golden --profile P --json` for every candidate profile.
pub fn determinism(exe: &Path, data_root: Option<&Path>) -> Result<Vec<ProfileCheck>> {
	let mut checks = Vec::new();
	for profile in candidate_profiles() {
		let mut cmd = std::process::Command::new(exe);
		cmd.args([
			"doctor",
			"--golden",
			"--json",
			"--profile",
			&profile.to_string(),
		]);
		if let Some(root) = data_root {
			cmd.arg("--data-root").arg(root);
		}
		let out = cmd
			.output()
			.with_context(|| format!("running {} for profile {profile}", exe.display()))?;
		if !out.status.success() {
			bail!(
				"the golden runs under {profile} failed: {}",
				String::from_utf8_lossy(&out.stderr).trim()
			);
		}
		let check: ProfileCheck = serde_json::from_slice(&out.stdout)
			.with_context(|| format!("reading the golden runs under {profile}"))?;
		checks.push(check);
	}
	Ok(checks)
}

/// The golden vectors measured here, for `--write-golden`.
pub fn vectors_of(checks: &[ProfileCheck]) -> golden::Vectors {
	let mut v = golden::Vectors {
		libtorch: crate::LIBTORCH_VERSION.to_string(),
		..Default::default()
	};
	for c in checks.iter().filter(|c| c.unsupported.is_none()) {
		if c.runs.iter().all(|r| r.repeatable) {
			v.profiles.insert(
				c.profile.clone(),
				c.runs
					.iter()
					.map(|r| (r.name.clone(), r.hashes.clone()))
					.collect(),
			);
		}
	}
	v
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
		let report = run(30, profile::pinned().unwrap()).expect("doctor runs");
		assert_eq!(report.losses.len(), 31);
		assert!(report.losses.iter().all(|l| l.is_finite()));
		assert!(
			report.final_loss() < 0.5 * report.initial_loss(),
			"loss should at least halve in 30 steps: {:?}",
			report.losses
		);
		assert_eq!(report.pinned.host.threads, 1);
	}

	#[test]
	fn rejects_bad_arguments() {
		assert!(run(0, profile::pinned().unwrap()).is_err());
	}

	#[test]
	fn fitness_needs_pinned_repeatable_reproduced_runs() {
		let run = |repeatable, reproduces| RunResult {
			name: "digits-mlp".into(),
			hashes: Vec::new(),
			repeatable,
			reproduces,
		};
		let check = |unsupported: Option<&str>, runs| ProfileCheck {
			profile: "cpu/avx2/1".into(),
			unsupported: unsupported.map(String::from),
			host: None,
			runs,
		};
		assert_eq!(
			check(None, vec![run(true, Some(true))]).fitness(),
			Fitness::Fit
		);
		assert_eq!(
			check(None, vec![run(true, None)]).fitness(),
			Fitness::Unknown
		);
		for unfit in [
			check(Some("no AVX2"), vec![]),
			check(None, vec![run(false, Some(true))]),
			check(None, vec![run(true, Some(true)), run(true, Some(false))]),
		] {
			assert!(matches!(unfit.fitness(), Fitness::Unfit(_)), "{unfit:?}");
		}
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
