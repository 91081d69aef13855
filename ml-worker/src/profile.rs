//! The determinism profile a worker process trains and replays under.
//!
//! Exact replay holds only under the same kernels: on one libtorch build, ATen's AVX-512 and
//! AVX2 kernels, or 1 and 2 threads, give different bits after a few SGD steps. A task's spec
//! names a [`Profile`] (device, CPU kernel width, threads); [`pin`] fixes it for the whole
//! process before libtorch dispatches its first kernel, reads back what libtorch actually does
//! ([`Host`]), and refuses a host that cannot run it. Miners record the [`Host`] in their
//! manifests; a validator whose own differs abstains instead of judging the run
//! ([`Host::replays`]). What the miner writes there cannot make it abstain: a record that an
//! honest worker under the task's profile and the pinned libtorch build ([`PINNED_LIBTORCH`])
//! would not write is the miner's fault ([`Host::contradicts`]), and a worker on another build
//! does not start. A CUDA profile pins the GPU class too (the model NVIDIA's driver names):
//! [`pin`] fills it from the host, a worker on another GPU does not take part, and a record of
//! another model is the miner's fault.
//!
//! ATen reads `ATEN_CPU_CAPABILITY` once, MKL reads `MKL_CBWR` and oneDNN `ONEDNN_MAX_CPU_ISA`
//! when they load: so a process serves one profile, and `pol-worker` pins it first thing.

use anyhow::{bail, Context, Result};
use pol_primitives::{CpuIsa, DeterminismProfile, GpuClass, ProfileDevice};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

/// Where a task's runs are trained.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
	/// libtorch's CPU kernels.
	#[default]
	Cpu,
	/// The first CUDA device, deterministic algorithms only, TF32 off.
	Cuda,
}

/// The widest CPU instruction set libtorch's kernels may use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Isa {
	/// Scalar kernels; the only level on non-x86 hosts.
	Default,
	/// AVX2 with FMA.
	#[default]
	Avx2,
	/// AVX-512 (F, BW, VL, DQ).
	Avx512,
}

/// A task's determinism profile, as the worker's files and flags write it (`cpu/avx2/1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
	/// Where runs are trained.
	#[serde(default)]
	pub device: DeviceKind,
	/// The CPU kernel width.
	#[serde(default)]
	pub isa: Isa,
	/// libtorch intra-op threads.
	#[serde(default = "one")]
	pub threads: u8,
	/// The GPU class of a CUDA profile (`gpu = "NVIDIA H100 80GB HBM3"`); a worker's own
	/// profile takes its host's when it is pinned ([`pin`]).
	#[serde(default, skip_serializing_if = "Option::is_none", with = "gpu_class")]
	pub gpu: Option<GpuClass>,
}

fn one() -> u8 {
	1
}

/// A [`GpuClass`] in files as its name.
mod gpu_class {
	use pol_primitives::GpuClass;
	use serde::{Deserialize, Deserializer, Serializer};

	pub fn serialize<S: Serializer>(gpu: &Option<GpuClass>, s: S) -> Result<S::Ok, S::Error> {
		match gpu.as_ref().and_then(|g| g.name()) {
			Some(name) => s.serialize_str(name),
			None => s.serialize_none(),
		}
	}

	pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<GpuClass>, D::Error> {
		let name = String::deserialize(d)?;
		super::gpu_class_named(&name)
			.map(Some)
			.map_err(serde::de::Error::custom)
	}
}

/// The class named `name`, or why it is none.
fn gpu_class_named(name: &str) -> Result<GpuClass> {
	GpuClass::new(name).with_context(|| {
		format!(
			"GPU class {name:?}: 1 to {} printable ASCII characters, as NVIDIA's driver names \
			 the model (e.g. \"NVIDIA H100 80GB HBM3\")",
			pol_primitives::specs::GPU_CLASS_BYTES
		)
	})
}

impl Default for Profile {
	/// The chain's default: CPU, AVX2, one thread.
	fn default() -> Self {
		Profile::from_chain(&DeterminismProfile::default())
	}
}

impl Profile {
	/// The profile as the chain stores it.
	pub fn to_chain(&self) -> DeterminismProfile {
		DeterminismProfile {
			device: match self.device {
				DeviceKind::Cpu => ProfileDevice::Cpu,
				DeviceKind::Cuda => ProfileDevice::Cuda,
			},
			isa: match self.isa {
				Isa::Default => CpuIsa::Default,
				Isa::Avx2 => CpuIsa::Avx2,
				Isa::Avx512 => CpuIsa::Avx512,
			},
			threads: self.threads,
			gpu: self.gpu,
		}
	}

	/// The chain's profile.
	pub fn from_chain(p: &DeterminismProfile) -> Profile {
		Profile {
			device: match p.device {
				ProfileDevice::Cpu => DeviceKind::Cpu,
				ProfileDevice::Cuda => DeviceKind::Cuda,
			},
			isa: match p.isa {
				CpuIsa::Default => Isa::Default,
				CpuIsa::Avx2 => Isa::Avx2,
				CpuIsa::Avx512 => Isa::Avx512,
			},
			threads: p.threads,
			gpu: p.gpu,
		}
	}

	/// Whether a process pinned to `self` serves a request for `wanted`: the same profile, or
	/// the same without a GPU class (which the pinned one took from its host).
	pub fn serves(&self, wanted: &Profile) -> bool {
		self == wanted || (wanted.gpu.is_none() && Profile { gpu: None, ..*self } == *wanted)
	}

	/// The libtorch device runs are trained on.
	pub fn device(&self) -> tch::Device {
		match self.device {
			DeviceKind::Cpu => tch::Device::Cpu,
			DeviceKind::Cuda => tch::Device::Cuda(0),
		}
	}

	/// Whether it can be pinned: 1 to `MAX_PROFILE_THREADS` threads, and a GPU class only on
	/// CUDA. A task's profile must also name the class of a CUDA one ([`Profile::validate_task`]).
	pub fn validate(&self) -> Result<()> {
		let max = pol_primitives::specs::MAX_PROFILE_THREADS;
		if !(1..=max).contains(&self.threads) {
			bail!(
				"a determinism profile needs 1 to {max} threads, not {}",
				self.threads
			);
		}
		if self.device == DeviceKind::Cpu && self.gpu.is_some() {
			bail!("a CPU profile names no GPU class");
		}
		Ok(())
	}

	/// Whether the chain accepts it in a task: a CUDA profile names its GPU class, as runs
	/// replay bit for bit only on the same GPU model.
	pub fn validate_task(&self) -> Result<()> {
		self.validate()?;
		if self.device == DeviceKind::Cuda && self.gpu.is_none() {
			bail!(
				"a task's CUDA profile names its GPU class (gpu = \"NVIDIA H100 80GB HBM3\" in \
				 [verification.profile]; `pol-worker doctor` prints this host's)"
			);
		}
		Ok(())
	}

	/// Why this host cannot run the profile, if it cannot.
	pub fn unsupported_here(&self) -> Option<String> {
		let missing = missing_cpu_features(self.isa);
		if !missing.is_empty() {
			return Some(format!(
				"the CPU lacks {} for {} kernels",
				missing.join(", "),
				self.isa
			));
		}
		if self.device == DeviceKind::Cuda && !tch::Cuda::is_available() {
			return Some("libtorch sees no CUDA device".into());
		}
		None
	}
}

/// The CPU features a kernel width needs that this host lacks.
fn missing_cpu_features(isa: Isa) -> Vec<&'static str> {
	#[cfg(target_arch = "x86_64")]
	{
		use std::arch::is_x86_feature_detected as has;
		let avx2 = [("avx2", has!("avx2")), ("fma", has!("fma"))];
		let avx512 = [
			("avx512f", has!("avx512f")),
			("avx512bw", has!("avx512bw")),
			("avx512vl", has!("avx512vl")),
			("avx512dq", has!("avx512dq")),
		];
		let needed: Vec<_> = match isa {
			Isa::Default => Vec::new(),
			Isa::Avx2 => avx2.to_vec(),
			Isa::Avx512 => avx2.iter().chain(&avx512).copied().collect(),
		};
		needed
			.into_iter()
			.filter(|(_, have)| !have)
			.map(|(f, _)| f)
			.collect()
	}
	#[cfg(not(target_arch = "x86_64"))]
	match isa {
		Isa::Default => Vec::new(),
		// ATen's AVX kernels exist on x86-64 only.
		Isa::Avx2 | Isa::Avx512 => vec!["x86-64"],
	}
}

impl Isa {
	/// What ATen reports it dispatches to at this width (`at::get_cpu_capability()`).
	pub fn aten_capability(self) -> &'static str {
		match self {
			Isa::Default => "DEFAULT",
			Isa::Avx2 => "AVX2",
			Isa::Avx512 => "AVX512",
		}
	}

	/// The environment that pins ATen to this width, and MKL and oneDNN to their portable
	/// code, read when each loads.
	///
	/// Only ATen's kernels follow the profile's width: they are the same instructions in the
	/// same order on every x86-64 CPU with that width. MKL runs another code branch on an AMD
	/// CPU than on an Intel one for any branch but `COMPATIBLE` (its documentation: other
	/// branches "are available only for Intel processors", elsewhere it silently takes `AUTO`),
	/// so `AVX2,STRICT` gave an EPYC and a Xeon different bits within the first 10 SGD steps; and
	/// oneDNN's JIT kernels (the CNN's convolutions) are held to SSE4.1, the level at which the
	/// `default` profile reproduces on both vendors. See docs/PERFORMANCE.md, "Determinism".
	pub fn environment(self) -> Vec<(&'static str, &'static str)> {
		let aten = match self {
			Isa::Default => "default",
			Isa::Avx2 => "avx2",
			Isa::Avx512 => "avx512",
		};
		let (mkl, onednn) = ("COMPATIBLE", "SSE41");
		let mut env = vec![("ATEN_CPU_CAPABILITY", aten)];
		// MKL and oneDNN's x86 names; elsewhere libtorch has neither.
		if cfg!(target_arch = "x86_64") {
			env.push(("MKL_CBWR", mkl));
			env.push(("ONEDNN_MAX_CPU_ISA", onednn));
		}
		env
	}
}

impl fmt::Display for Isa {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		f.write_str(match self {
			Isa::Default => "default",
			Isa::Avx2 => "avx2",
			Isa::Avx512 => "avx512",
		})
	}
}

impl fmt::Display for Profile {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		let device = match self.device {
			DeviceKind::Cpu => "cpu",
			DeviceKind::Cuda => "cuda",
		};
		match self.gpu.as_ref().and_then(|g| g.name()) {
			Some(class) => write!(f, "{device}:{class}/{}/{}", self.isa, self.threads),
			None => write!(f, "{device}/{}/{}", self.isa, self.threads),
		}
	}
}

impl FromStr for Profile {
	type Err = anyhow::Error;
	/// `device/isa/threads`, e.g. `cpu/avx2/1` or `cuda/avx2/1`; a CUDA device may name its
	/// GPU class, `cuda:NVIDIA H100 80GB HBM3/avx2/1`.
	fn from_str(s: &str) -> Result<Profile> {
		// From the right: a GPU class may hold a `/`.
		let parts: Vec<&str> = s.rsplitn(3, '/').collect();
		let [threads, isa, device] = parts[..] else {
			bail!("a profile is device/isa/threads, e.g. cpu/avx2/1, not {s:?}");
		};
		let (device, gpu) = match device.split_once(':') {
			Some(("cuda", class)) => (DeviceKind::Cuda, Some(gpu_class_named(class)?)),
			Some((other, _)) => bail!("only a CUDA device names a GPU class, not {other:?}"),
			None => match device {
				"cpu" => (DeviceKind::Cpu, None),
				"cuda" => (DeviceKind::Cuda, None),
				other => bail!("unknown device {other:?} in profile {s:?} (cpu or cuda)"),
			},
		};
		let isa = match isa {
			"default" => Isa::Default,
			"avx2" => Isa::Avx2,
			"avx512" => Isa::Avx512,
			other => bail!("unknown ISA {other:?} in profile {s:?} (default, avx2 or avx512)"),
		};
		let threads = threads
			.parse()
			.with_context(|| format!("threads {threads:?} in profile {s:?}"))?;
		let p = Profile {
			device,
			isa,
			threads,
			gpu,
		};
		p.validate()?;
		Ok(p)
	}
}

/// The libtorch build the protocol pins: what the `torch` wheel that `scripts/env.sh` installs
/// (`POL_TORCH_VERSION`, the version `tch` expects) reports, and what an honest worker records
/// in [`Host::libtorch`]. Another build may give other bits for an honest run, so a miner or a
/// validator on another build refuses to start ([`refuse_other_libtorch`], from
/// [`crate::golden::gate`]), and a manifest that records another is the miner's fault
/// ([`Host::contradicts`]): the miner writes that record, and a value no validator has would
/// otherwise make every honest validator abstain. Change it together with `POL_TORCH_VERSION`
/// and the golden vectors.
pub const PINNED_LIBTORCH: &str = "2.13.0+cu130";

/// Why a worker whose libtorch is `libtorch` may not mine or validate, if it may not: only the
/// [`PINNED_LIBTORCH`] build replays every other worker's runs bit for bit.
pub fn refuse_other_libtorch(libtorch: &str) -> Result<()> {
	if libtorch != PINNED_LIBTORCH {
		bail!(
			"this worker runs libtorch {libtorch}, the protocol pins {PINNED_LIBTORCH}: its runs \
			 and replays could give other bits than every other worker's, so it must not mine or \
			 validate (install torch {PINNED_LIBTORCH} as scripts/setup.sh does, and rebuild)"
		);
	}
	Ok(())
}

/// What libtorch reports it runs with, after [`pin`]: recorded in every manifest, compared
/// before a replay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
	/// The CPU kernels ATen dispatches to (`at::get_cpu_capability()`).
	pub aten_capability: String,
	/// libtorch's intra-op threads (`at::get_num_threads()`).
	pub threads: i32,
	/// The libtorch version.
	pub libtorch: String,
	/// The device's model: the GPU's on CUDA (part of the match), the CPU's otherwise (for
	/// people: the kernel width is what matters).
	pub device_model: String,
	/// Deterministic algorithms on, cuDNN deterministic, TF32 off, as libtorch reports them.
	pub deterministic: bool,
}

impl Host {
	/// Why a run recorded on `miner` may not reproduce bit for bit here under `profile`, if
	/// it may not. Other kernels, threads or libtorch give other bits for an honest run.
	pub fn replays(&self, miner: &Host, profile: &Profile) -> Option<String> {
		let mut differ = Vec::new();
		if self.aten_capability != miner.aten_capability {
			differ.push(format!(
				"ATen kernels {} here, {} in the run",
				self.aten_capability, miner.aten_capability
			));
		}
		if self.threads != miner.threads {
			differ.push(format!(
				"{} threads here, {} in the run",
				self.threads, miner.threads
			));
		}
		if self.libtorch != miner.libtorch {
			differ.push(format!(
				"libtorch {} here, {} in the run",
				self.libtorch, miner.libtorch
			));
		}
		if profile.device == DeviceKind::Cuda && self.device_model != miner.device_model {
			// Not reached under a task's profile (which pins the class: a record of another
			// is the miner's fault); kept for runs checked without one.
			differ.push(format!(
				"GPU {} here, {} in the run",
				self.device_model, miner.device_model
			));
		}
		(!differ.is_empty()).then(|| differ.join("; "))
	}

	/// What an honest worker pinned to `profile` records, if `self` is not that: a manifest
	/// that names the task's profile but records other kernels, threads or another libtorch
	/// build than the protocol's was not made by an honest worker under it. Every validator
	/// finds this alike from the manifest alone, so it is the miner's fault, not a reason to
	/// abstain.
	pub fn contradicts(&self, profile: &Profile) -> Option<String> {
		if self.libtorch != PINNED_LIBTORCH {
			return Some(format!(
				"it records libtorch {:?}, the protocol pins {PINNED_LIBTORCH}",
				self.libtorch
			));
		}
		if self.aten_capability != profile.isa.aten_capability() {
			return Some(format!(
				"it records ATen kernels {} under profile {profile}, which pins {}",
				self.aten_capability,
				profile.isa.aten_capability()
			));
		}
		if self.threads != i32::from(profile.threads) {
			return Some(format!(
				"it records {} threads under profile {profile}",
				self.threads
			));
		}
		if !self.deterministic {
			return Some("it records libtorch's deterministic mode off".into());
		}
		if let Some(class) = profile.gpu.as_ref().and_then(|g| g.name()) {
			if self.device_model != class {
				return Some(format!(
					"it records GPU {:?} under profile {profile}, which pins {class:?}",
					self.device_model
				));
			}
		}
		None
	}
}

/// A profile pinned for this process, and what libtorch reported back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pinned {
	/// The profile.
	pub profile: Profile,
	/// What libtorch runs with.
	pub host: Host,
}

impl Pinned {
	/// The libtorch device runs are trained on.
	pub fn device(&self) -> tch::Device {
		self.profile.device()
	}
}

static PINNED: OnceLock<Pinned> = OnceLock::new();
static PINNING: Mutex<()> = Mutex::new(());

/// Pins `profile` for this process, or says why this host cannot run it. Call it before
/// anything else touches libtorch: ATen fixes its kernels at the first one. Pinning the same
/// profile again returns the first pin; another profile is refused.
pub fn pin(profile: Profile) -> Result<&'static Pinned> {
	let _one_at_a_time = PINNING.lock().unwrap_or_else(|e| e.into_inner());
	if let Some(p) = PINNED.get() {
		if !p.profile.serves(&profile) {
			bail!(
				"this process runs profile {}; profile {profile} needs a process of its own \
				 (libtorch fixes its kernels once)",
				p.profile
			);
		}
		return Ok(p);
	}
	profile.validate()?;
	for (name, value) in profile.isa.environment() {
		if let Some(old) = std::env::var_os(name).filter(|old| old != value) {
			log::warn!("{name}={old:?} is replaced by {value} for profile {profile}");
		}
		// Still single-threaded as far as the environment goes: nothing has read it yet.
		std::env::set_var(name, value);
	}
	if profile.device == DeviceKind::Cuda {
		// cuBLAS picks its reduction order by workspace size unless it is fixed.
		std::env::set_var("CUBLAS_WORKSPACE_CONFIG", ":4096:8");
	}
	// After the environment: asking for CUDA loads libtorch's CUDA side.
	if let Some(why) = profile.unsupported_here() {
		bail!("this host cannot run profile {profile}: {why}");
	}
	let aten = aten_cpu_capability()?;
	if aten != profile.isa.aten_capability() {
		bail!(
			"libtorch dispatches to {aten} kernels, profile {profile} needs {}: libtorch ran \
			 before the profile was pinned, or this build of it lacks those kernels",
			profile.isa.aten_capability()
		);
	}
	tch::set_num_threads(i32::from(profile.threads));
	let threads = tch::get_num_threads();
	if threads != i32::from(profile.threads) {
		bail!(
			"libtorch runs {threads} threads, profile {profile} needs {}",
			profile.threads
		);
	}
	set_deterministic()?;
	let model = device_model(profile.device)?;
	let mut profile = profile;
	if profile.device == DeviceKind::Cuda {
		let here = gpu_class_named(&model).context("this host's GPU")?;
		match profile.gpu {
			Some(wanted) if wanted != here => bail!(
				"this host's GPU is {model:?}, profile {profile} needs another: CUDA runs \
				 replay bit for bit only on the same GPU model"
			),
			_ => profile.gpu = Some(here),
		}
	}
	let host = Host {
		aten_capability: aten,
		threads,
		libtorch: crate::LIBTORCH_VERSION.to_string(),
		device_model: model,
		deterministic: is_deterministic(),
	};
	if !host.deterministic {
		bail!("libtorch did not keep its deterministic mode on");
	}
	log::info!(
		"determinism profile {profile}: ATen {}, {threads} thread(s)",
		host.aten_capability
	);
	Ok(PINNED.get_or_init(|| Pinned { profile, host }))
}

/// The profile this process pinned.
pub fn pinned() -> Result<&'static Pinned> {
	PINNED
		.get()
		.context("no determinism profile is pinned in this process (profile::pin)")
}

/// The CPU's model name (for people; `unknown <arch>` when it cannot be read), or on CUDA the
/// GPU's: the model the NVIDIA driver names for every GPU of this host, which must all be one
/// model. CUDA numbers devices by speed, not by their place on the bus, and
/// `CUDA_VISIBLE_DEVICES` renumbers them, so with two models device 0 could be either: the
/// class recorded would not be the GPU the run was on, and an honest run could fail a replay on
/// the class it names. A MIG slice reports its whole card's name with fewer SMs (cuBLAS may
/// pick other kernels), so it is refused too. Refusing excludes a worker; it never slashes one.
fn device_model(device: DeviceKind) -> Result<String> {
	match device {
		DeviceKind::Cpu => Ok(std::fs::read_to_string("/proc/cpuinfo")
			.ok()
			.and_then(|info| {
				info.lines()
					.find(|l| l.starts_with("model name"))
					.and_then(|l| l.split(':').nth(1))
					.map(|m| m.trim().to_string())
			})
			.unwrap_or_else(|| format!("unknown {}", std::env::consts::ARCH))),
		DeviceKind::Cuda => {
			if let Ok(visible) = std::env::var("CUDA_VISIBLE_DEVICES") {
				if visible.contains("MIG-") {
					bail!(
						"CUDA_VISIBLE_DEVICES names a MIG slice ({visible}): a slice runs other \
						 kernels than the GPU class it reports, so CUDA profiles need a whole GPU"
					);
				}
			}
			let dir = "/proc/driver/nvidia/gpus";
			let mut models = Vec::new();
			for entry in std::fs::read_dir(dir).with_context(|| format!("reading {dir}"))? {
				let path = entry.with_context(|| format!("reading {dir}"))?.path();
				let info = std::fs::read_to_string(path.join("information"))
					.with_context(|| format!("reading {}", path.join("information").display()))?;
				let model = info
					.lines()
					.find_map(|l| l.strip_prefix("Model:"))
					.map(|m| m.trim().to_string())
					.with_context(|| format!("no model in {}", path.display()))?;
				models.push(model);
			}
			one_gpu_model(models)
		}
	}
}

/// The one model of a host's GPUs, or why there is none.
fn one_gpu_model(mut models: Vec<String>) -> Result<String> {
	models.sort();
	models.dedup();
	match models.as_slice() {
		[one] => Ok(one.clone()),
		[] => bail!("the NVIDIA driver lists no GPU"),
		several => bail!(
			"GPUs of {} models ({}): CUDA's device 0 cannot be told apart from the others, so \
			 the class a run records might not be the GPU it ran on (use a host with one model)",
			several.len(),
			several.join(", ")
		),
	}
}

#[cfg(determinism_shim)]
mod shim {
	use std::os::raw::{c_char, c_int};
	extern "C" {
		pub fn pol_aten_cpu_capability(buf: *mut c_char, len: c_int) -> c_int;
		pub fn pol_set_deterministic(err: *mut c_char, len: c_int) -> c_int;
		pub fn pol_is_deterministic() -> c_int;
	}
}

/// Text the shim wrote into `buf`.
#[cfg(determinism_shim)]
fn text(buf: &[u8]) -> String {
	let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
	String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(determinism_shim)]
fn aten_cpu_capability() -> Result<String> {
	let mut buf = [0u8; 256];
	// SAFETY: the shim writes at most `len` bytes, NUL included, and catches C++ exceptions.
	let n = unsafe { shim::pol_aten_cpu_capability(buf.as_mut_ptr().cast(), buf.len() as i32) };
	if n < 0 {
		bail!("asking libtorch for its CPU kernels: {}", text(&buf));
	}
	Ok(text(&buf))
}

#[cfg(determinism_shim)]
fn set_deterministic() -> Result<()> {
	let mut buf = [0u8; 1024];
	// SAFETY: as above.
	if unsafe { shim::pol_set_deterministic(buf.as_mut_ptr().cast(), buf.len() as i32) } != 0 {
		bail!("making libtorch deterministic: {}", text(&buf));
	}
	Ok(())
}

#[cfg(determinism_shim)]
fn is_deterministic() -> bool {
	// SAFETY: reads libtorch's global context; catches C++ exceptions.
	unsafe { shim::pol_is_deterministic() == 1 }
}

#[cfg(not(determinism_shim))]
fn aten_cpu_capability() -> Result<String> {
	bail!("this build has no determinism shim (built without libtorch's headers)")
}

#[cfg(not(determinism_shim))]
fn set_deterministic() -> Result<()> {
	aten_cpu_capability().map(|_| ())
}

#[cfg(not(determinism_shim))]
fn is_deterministic() -> bool {
	false
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_record_of_another_gpu_under_a_cuda_profile_is_the_miners_fault() {
		// Attack (issue 26, 2): the GPU model is the miner's word; one no honest validator has
		// would make every honest one abstain and leave the judgement to a colluder. The task's
		// CUDA profile pins the class, so a record of another is the fault, found alike by all.
		let profile: Profile = "cuda:NVIDIA H100 80GB HBM3/avx2/1".parse().unwrap();
		let honest = Host {
			aten_capability: "AVX2".into(),
			threads: 1,
			libtorch: PINNED_LIBTORCH.into(),
			device_model: "NVIDIA H100 80GB HBM3".into(),
			deterministic: true,
		};
		assert_eq!(honest.contradicts(&profile), None);
		assert_eq!(honest.replays(&honest, &profile), None);
		let dodge = Host {
			device_model: "NVIDIA H100 80GB HBM3 (rev b)".into(),
			..honest.clone()
		};
		let why = dodge.contradicts(&profile).expect("the miner's fault");
		assert!(why.contains("GPU"), "{why}");
		// A CPU profile pins no GPU: the CPU's model is for people only.
		let cpu: Profile = "cpu/avx2/1".parse().unwrap();
		assert_eq!(dodge.contradicts(&cpu), None);
	}

	#[test]
	fn a_host_with_gpus_of_two_models_cannot_pin_a_cuda_profile() {
		// CUDA's device 0 is the fastest GPU, not the first on the bus: with two models, the
		// class a run records might not be the GPU it ran on, and an honest run would fail the
		// replays of validators on the class it names.
		let h100 = "NVIDIA H100 80GB HBM3".to_string();
		assert_eq!(
			one_gpu_model(vec![h100.clone(), h100.clone()]).unwrap(),
			h100
		);
		let mixed = one_gpu_model(vec![h100, "NVIDIA A100-SXM4-40GB".into()]).unwrap_err();
		assert!(format!("{mixed:#}").contains("2 models"), "{mixed:#}");
		assert!(one_gpu_model(Vec::new()).is_err());
	}
}
