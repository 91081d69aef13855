//! Data: the digits set, the synthetic generator, a user's directory; the split into a
//! validation part and miners' shards; and the batch of each step.
//!
//! Everything here is a pure function of the task (and, for batches, of the round and the
//! miner), so a validator loads exactly the samples a miner trained on.

use crate::config::{Config, PartitionKind, SourceKind, TaskSpec};
use anyhow::{bail, ensure, Context, Result};
use pol_primitives::{hashing, AccountBytes, Hash, StepIndex};
use sha2::Digest;
use std::path::Path;
use tch::{Device, Tensor};

/// Domain tag of the split's random stream (worker-side: only workers must agree on it).
const TAG_SPLIT: &[u8] = b"pol-worker-split";
/// Domain tag of the synthetic generator's random stream.
const TAG_SYNTHETIC: &[u8] = b"pol-worker-synthetic";

/// A deterministic random stream: SplitMix64 seeded from a BLAKE2 hash. Chosen for being a few
/// lines that any language can reproduce bit for bit.
pub struct Rng(u64);

impl Rng {
	/// The stream seeded by `blake2_256(tag ‖ seed)`.
	pub fn new(tag: &[u8], seed: &[u8]) -> Rng {
		let mut preimage = tag.to_vec();
		preimage.extend_from_slice(seed);
		let h = hashing::hash(&preimage);
		let mut b = [0u8; 8];
		b.copy_from_slice(&h.as_bytes()[..8]);
		Rng(u64::from_le_bytes(b))
	}

	/// The next 64 random bits.
	pub fn next_u64(&mut self) -> u64 {
		self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
		let mut z = self.0;
		z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
		z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
		z ^ (z >> 31)
	}

	/// Uniform in [0, 1), 53 bits.
	pub fn uniform(&mut self) -> f64 {
		(self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
	}

	/// Uniform in `0..n` (n > 0); the modulo bias is irrelevant at these sizes.
	pub fn below(&mut self, n: u64) -> u64 {
		self.next_u64() % n
	}

	/// Standard normal, by Marsaglia's polar method: `u = 2·uniform() − 1`, `v = 2·uniform() − 1`,
	/// drawn again until `0 < s = u² + v² < 1`; then `u·√(−2·log(s)/s)` (the second variate is
	/// dropped). `log` is the `libm` crate's, pure Rust and so the same bits on every host, not
	/// the platform's C library's (which may differ in the last bit between hosts); `sqrt` is
	/// correctly rounded everywhere. The draws need no other function, so another implementation
	/// ports two of libm's (`log` and `exp`) to reproduce them (docs/PROTOCOL.md).
	pub fn normal(&mut self) -> f64 {
		loop {
			let u = 2.0 * self.uniform() - 1.0;
			let v = 2.0 * self.uniform() - 1.0;
			let s = u * u + v * v;
			if s > 0.0 && s < 1.0 {
				return u * (-2.0 * libm::log(s) / s).sqrt();
			}
		}
	}

	/// Gamma(α, 1) (Marsaglia–Tsang; for α < 1, Gamma(α + 1)·U^(1/α), the power taken as
	/// `libm::exp(libm::log(U) / α)`).
	pub fn gamma(&mut self, alpha: f64) -> f64 {
		if alpha < 1.0 {
			let u = 1.0 - self.uniform();
			return self.gamma(alpha + 1.0) * libm::exp(libm::log(u) / alpha);
		}
		let d = alpha - 1.0 / 3.0;
		let c = 1.0 / (9.0 * d).sqrt();
		loop {
			let x = self.normal();
			let t = 1.0 + c * x;
			// Not `powi`, whose rounding is unspecified.
			let v = t * t * t;
			if v <= 0.0 {
				continue;
			}
			let u = 1.0 - self.uniform();
			if libm::log(u) < 0.5 * x * x + d - d * v + d * libm::log(v) {
				return d * v;
			}
		}
	}

	/// Fisher–Yates shuffle.
	pub fn shuffle<T>(&mut self, items: &mut [T]) {
		for i in (1..items.len()).rev() {
			let j = self.below(i as u64 + 1) as usize;
			items.swap(i, j);
		}
	}
}

/// A labelled data set in memory.
pub struct Dataset {
	/// Features, `[N, F]` f32.
	pub x: Tensor,
	/// Labels, `[N]` i64.
	pub y: Tensor,
	/// The labels, for splitting.
	pub labels: Vec<i64>,
	/// Features per sample.
	pub features: usize,
	/// Number of classes (largest label + 1).
	pub classes: usize,
}

impl Dataset {
	/// A data set from flat features and labels, checked.
	pub fn new(x: Vec<f32>, labels: Vec<i64>, features: usize) -> Result<Dataset> {
		let n = labels.len();
		ensure!(n > 0, "the data set is empty");
		ensure!(features > 0, "samples have no features");
		ensure!(
			x.len() == n * features,
			"{} feature values for {n} samples of {features} features",
			x.len()
		);
		ensure!(
			x.iter().all(|v| v.is_finite()),
			"the features hold NaN or infinite values"
		);
		let min = labels.iter().copied().min().unwrap_or(0);
		ensure!(min >= 0, "negative label {min}");
		let classes = labels.iter().copied().max().unwrap_or(0) as usize + 1;
		ensure!(classes >= 2, "the data set has fewer than two classes");
		let xt = Tensor::from_slice(&x).reshape([n as i64, features as i64]);
		let yt = Tensor::from_slice(&labels);
		Ok(Dataset {
			x: xt,
			y: yt,
			labels,
			features,
			classes,
		})
	}

	/// Number of samples.
	pub fn len(&self) -> usize {
		self.labels.len()
	}

	/// Whether there are no samples (never, once built).
	pub fn is_empty(&self) -> bool {
		self.labels.is_empty()
	}

	/// A copy on `device`.
	pub fn to_device(&self, device: Device) -> Dataset {
		Dataset {
			x: self.x.to_device(device),
			y: self.y.to_device(device),
			labels: self.labels.clone(),
			features: self.features,
			classes: self.classes,
		}
	}

	/// The samples at `indices`, as `(x, y)` tensors on the data's device.
	pub fn gather(&self, indices: &[i64]) -> (Tensor, Tensor) {
		let idx = Tensor::from_slice(indices).to_device(self.x.device());
		(self.x.index_select(0, &idx), self.y.index_select(0, &idx))
	}
}

/// Loads the data set of a configuration.
pub fn load(config: &Config) -> Result<Dataset> {
	let data = &config.data;
	match data.source {
		SourceKind::Digits => load_digits(&config.data_root().join("digits")),
		SourceKind::Synthetic => {
			let s = data
				.synthetic
				.context("source = \"synthetic\" without [data.synthetic]")?;
			synthetic(
				s.seed,
				s.samples as usize,
				s.features as usize,
				s.classes as usize,
			)
		}
		SourceKind::Dir => {
			let dir = config
				.run
				.data_path
				.as_ref()
				.context("source = \"dir\" needs [run] data_path")?;
			load_dir(dir)
		}
	}
}

/// SHA-256 of the canonical digits export (`scripts/data/export_digits.py`): every miner and
/// validator must train on these bytes, so they are pinned here, not read from the export's
/// own `meta.json`.
pub const DIGITS_SHA256: [(&str, &str); 2] = [
	(
		"x.npy",
		"b0d9a6a65c36bccf6bd5b34d26cf32ab7e9c7a624dfa0c11ada280e21a73125f",
	),
	(
		"y.npy",
		"0e1c5e26d7ec59f910975e2cd61b6b76bc67b4bfaa8a4233726a6038d8e62a2c",
	),
];

/// The digits exported by `scripts/setup.sh`, checked against [`DIGITS_SHA256`].
pub fn load_digits(dir: &Path) -> Result<Dataset> {
	for (file, expected) in DIGITS_SHA256 {
		let path = dir.join(file);
		let bytes = std::fs::read(&path)
			.with_context(|| format!("reading {} (run scripts/setup.sh)", path.display()))?;
		let actual = hex::encode(sha2::Sha256::digest(&bytes));
		ensure!(
			actual == expected,
			"{} is corrupt or not the canonical digits export: SHA-256 {actual}, expected \
			 {expected} (re-export it with scripts/data/export_digits.py)",
			path.display()
		);
	}
	let ds = load_npy_pair(dir)?;
	ensure!(
		ds.len() == 1797 && ds.features == 64 && ds.classes == 10,
		"the digits set has {} samples of {} features in {} classes, not 1797 × 64 in 10",
		ds.len(),
		ds.features,
		ds.classes
	);
	Ok(ds)
}

/// A user's data directory: `x.npy` and `y.npy`, or `data.safetensors` with tensors `x`
/// (`[N, F]`, float) and `y` (`[N]`, integer).
pub fn load_dir(dir: &Path) -> Result<Dataset> {
	if dir.join("x.npy").exists() {
		return load_npy_pair(dir);
	}
	let st = dir.join("data.safetensors");
	if st.exists() {
		let bytes = std::fs::read(&st).with_context(|| format!("reading {}", st.display()))?;
		let tensors = safetensors::SafeTensors::deserialize(&bytes)
			.map_err(|e| anyhow::anyhow!("{}: not a safetensors file: {e:?}", st.display()))?;
		let x = tensors
			.tensor("x")
			.map_err(|_| anyhow::anyhow!("{} has no tensor \"x\"", st.display()))?;
		let y = tensors
			.tensor("y")
			.map_err(|_| anyhow::anyhow!("{} has no tensor \"y\"", st.display()))?;
		let (xs, xshape) = (array_from_st(&x)?, x.shape().to_vec());
		let (ys, yshape) = (array_from_st(&y)?, y.shape().to_vec());
		return dataset_from_arrays(xs, &xshape, ys, &yshape)
			.with_context(|| format!("in {}", st.display()));
	}
	bail!(
		"{} holds neither x.npy + y.npy nor data.safetensors",
		dir.display()
	)
}

fn array_from_st(t: &safetensors::tensor::TensorView<'_>) -> Result<Array> {
	use safetensors::Dtype;
	let d = t.data();
	Ok(match t.dtype() {
		Dtype::F32 => Array::F32(
			d.chunks_exact(4)
				.map(|c| f32::from_le_bytes(c.try_into().unwrap()))
				.collect(),
		),
		Dtype::F64 => Array::F64(
			d.chunks_exact(8)
				.map(|c| f64::from_le_bytes(c.try_into().unwrap()))
				.collect(),
		),
		Dtype::I64 => Array::I64(
			d.chunks_exact(8)
				.map(|c| i64::from_le_bytes(c.try_into().unwrap()))
				.collect(),
		),
		Dtype::I32 => Array::I64(
			d.chunks_exact(4)
				.map(|c| i32::from_le_bytes(c.try_into().unwrap()) as i64)
				.collect(),
		),
		Dtype::U8 => Array::I64(d.iter().map(|&b| b as i64).collect()),
		other => bail!("tensor type {other:?} is not supported (f32, f64, i64, i32, u8)"),
	})
}

fn load_npy_pair(dir: &Path) -> Result<Dataset> {
	let (x, xshape) = read_npy(&dir.join("x.npy"))?;
	let (y, yshape) = read_npy(&dir.join("y.npy"))?;
	dataset_from_arrays(x, &xshape, y, &yshape).with_context(|| format!("in {}", dir.display()))
}

fn dataset_from_arrays(x: Array, xshape: &[usize], y: Array, yshape: &[usize]) -> Result<Dataset> {
	ensure!(
		xshape.len() >= 2,
		"x must have shape [N, features…], has {xshape:?}"
	);
	ensure!(yshape.len() == 1, "y must have shape [N], has {yshape:?}");
	ensure!(
		xshape[0] == yshape[0],
		"x has {} samples, y has {}",
		xshape[0],
		yshape[0]
	);
	let features: usize = xshape[1..].iter().product();
	let xs: Vec<f32> = match x {
		Array::F32(v) => v,
		Array::F64(v) => v.into_iter().map(|v| v as f32).collect(),
		Array::I64(v) => v.into_iter().map(|v| v as f32).collect(),
	};
	let ys: Vec<i64> = match y {
		Array::I64(v) => v,
		_ => bail!("y must hold integer labels"),
	};
	Dataset::new(xs, ys, features)
}

/// The values of an array file.
enum Array {
	F32(Vec<f32>),
	F64(Vec<f64>),
	I64(Vec<i64>),
}

/// Reads a C-order `.npy` file of `<f4`, `<f8`, `<i8`, `<i4` or `|u1`.
fn read_npy(path: &Path) -> Result<(Array, Vec<usize>)> {
	let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
	parse_npy(&bytes).with_context(|| format!("{} is not a usable .npy file", path.display()))
}

fn parse_npy(bytes: &[u8]) -> Result<(Array, Vec<usize>)> {
	ensure!(
		bytes.len() >= 10 && &bytes[..6] == b"\x93NUMPY",
		"bad magic"
	);
	let (header_len, start): (usize, usize) = match bytes[6] {
		1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
		2 | 3 => {
			ensure!(bytes.len() >= 12, "truncated header");
			(
				u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
				12,
			)
		}
		v => bail!("npy version {v} is not supported"),
	};
	let end = start
		.checked_add(header_len)
		.context("header length overflows")?;
	ensure!(bytes.len() >= end, "truncated header");
	let header = std::str::from_utf8(&bytes[start..end]).context("header is not text")?;
	let field = |key: &str| -> Result<&str> {
		let at = header
			.find(key)
			.with_context(|| format!("header lacks {key}"))?;
		Ok(header[at + key.len()..]
			.trim_start()
			.trim_start_matches(':')
			.trim_start())
	};
	let descr = field("'descr'")?;
	let descr = descr
		.strip_prefix('\'')
		.and_then(|d| d.split('\'').next())
		.context("bad descr")?;
	ensure!(
		field("'fortran_order'")?.starts_with("False"),
		"Fortran-order arrays are not supported"
	);
	let shape_text = field("'shape'")?;
	let shape_text = shape_text
		.strip_prefix('(')
		.and_then(|s| s.split(')').next())
		.context("bad shape")?;
	let shape = shape_text
		.split(',')
		.map(str::trim)
		.filter(|s| !s.is_empty())
		.map(|s| s.parse::<usize>().context("bad dimension"))
		.collect::<Result<Vec<_>>>()?;
	let count = shape
		.iter()
		.try_fold(1usize, |a, &d| a.checked_mul(d))
		.context("shape overflows")?;
	let data = &bytes[end..];
	let size = match descr {
		"<f4" | "<i4" => 4,
		"<f8" | "<i8" => 8,
		"|u1" => 1,
		other => bail!("element type {other} is not supported (<f4, <f8, <i8, <i4, |u1)"),
	};
	ensure!(
		Some(data.len()) == count.checked_mul(size),
		"{} data bytes for shape {shape:?} of {descr}",
		data.len()
	);
	let array = match descr {
		"<f4" => Array::F32(
			data.chunks_exact(4)
				.map(|c| f32::from_le_bytes(c.try_into().unwrap()))
				.collect(),
		),
		"<f8" => Array::F64(
			data.chunks_exact(8)
				.map(|c| f64::from_le_bytes(c.try_into().unwrap()))
				.collect(),
		),
		"<i8" => Array::I64(
			data.chunks_exact(8)
				.map(|c| i64::from_le_bytes(c.try_into().unwrap()))
				.collect(),
		),
		"<i4" => Array::I64(
			data.chunks_exact(4)
				.map(|c| i32::from_le_bytes(c.try_into().unwrap()) as i64)
				.collect(),
		),
		_ => Array::I64(data.iter().map(|&b| b as i64).collect()),
	};
	Ok((array, shape))
}

/// Writes `.npy` files of f32 features and i64 labels (for tests and examples).
pub fn write_npy_pair(dir: &Path, x: &[f32], features: usize, y: &[i64]) -> Result<()> {
	std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
	let write = |name: &str, descr: &str, shape: String, data: Vec<u8>| -> Result<()> {
		let mut header =
			format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
		// Pad so that the data starts on a 64-byte boundary, as numpy does.
		while (10 + header.len() + 1) % 64 != 0 {
			header.push(' ');
		}
		header.push('\n');
		let mut out = b"\x93NUMPY\x01\x00".to_vec();
		out.extend_from_slice(&(header.len() as u16).to_le_bytes());
		out.extend_from_slice(header.as_bytes());
		out.extend_from_slice(&data);
		std::fs::write(dir.join(name), out).with_context(|| format!("writing {name}"))
	};
	let n = y.len();
	write(
		"x.npy",
		"<f4",
		format!("({n}, {features})"),
		x.iter().flat_map(|v| v.to_le_bytes()).collect(),
	)?;
	write(
		"y.npy",
		"<i8",
		format!("({n},)"),
		y.iter().flat_map(|v| v.to_le_bytes()).collect(),
	)
}

/// A deterministic synthetic classification set: one Gaussian blob per class, with centres
/// drawn from the seed, unit noise, balanced labels in a seeded order.
pub fn synthetic(seed: u64, samples: usize, features: usize, classes: usize) -> Result<Dataset> {
	ensure!(
		samples > 0 && features > 0 && classes > 1,
		"synthetic data needs samples > 0, features > 0 and classes > 1"
	);
	ensure!(
		samples.checked_mul(features).is_some_and(|n| n <= 1 << 28),
		"synthetic data of {samples} × {features} is too large"
	);
	let mut rng = Rng::new(TAG_SYNTHETIC, &seed.to_le_bytes());
	let centres: Vec<f64> = (0..classes * features)
		.map(|_| 1.5 * rng.normal())
		.collect();
	let mut labels: Vec<i64> = (0..samples).map(|i| (i % classes) as i64).collect();
	rng.shuffle(&mut labels);
	let mut x = Vec::with_capacity(samples * features);
	for &label in &labels {
		let c = &centres[label as usize * features..(label as usize + 1) * features];
		x.extend(c.iter().map(|m| (m + rng.normal()) as f32));
	}
	Dataset::new(x, labels, features)
}

/// A task's data split: the validation part and the miners' shards, as sample indices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
	/// Held-out samples, disjoint from every shard.
	pub validation: Vec<i64>,
	/// The shards.
	pub shards: Vec<Vec<i64>>,
}

/// Splits `labels` for a task: a seeded permutation (seeded by the task id) puts
/// `floor(validation × N)` samples into the validation part; the rest is dealt into
/// `num_shards` shards, IID (round robin) or by class with Dirichlet(α) proportions.
pub fn split(spec: &TaskSpec, labels: &[i64]) -> Result<Split> {
	let d = &spec.data;
	let n = labels.len();
	ensure!(d.num_shards > 0, "num_shards must be at least 1");
	let mut rng = Rng::new(TAG_SPLIT, &spec.task.id.to_le_bytes());
	let mut order: Vec<i64> = (0..n as i64).collect();
	rng.shuffle(&mut order);
	// As the chain reads the Perbill: parts per billion, rounded down.
	let parts = (d.validation * 1e9).round().clamp(0.0, 1e9) as u64;
	let n_val = (n as u64 * parts / 1_000_000_000) as usize;
	let validation = order[..n_val].to_vec();
	let train = &order[n_val..];
	let shards_n = d.num_shards as usize;
	let mut shards = vec![Vec::new(); shards_n];
	match d.partition {
		PartitionKind::Iid => {
			for (i, &s) in train.iter().enumerate() {
				shards[i % shards_n].push(s);
			}
		}
		PartitionKind::Dirichlet => {
			let classes = labels.iter().copied().max().unwrap_or(0) as usize + 1;
			for c in 0..classes {
				let members: Vec<i64> = train
					.iter()
					.copied()
					.filter(|&s| labels[s as usize] == c as i64)
					.collect();
				let weights: Vec<f64> = (0..shards_n).map(|_| rng.gamma(d.alpha)).collect();
				let total: f64 = weights.iter().sum();
				let mut cut_prev = 0usize;
				let mut acc = 0.0;
				for (k, w) in weights.iter().enumerate() {
					acc += w;
					let cut = if k + 1 == shards_n || total <= 0.0 {
						members.len()
					} else {
						((acc / total) * members.len() as f64).round() as usize
					};
					let cut = cut.clamp(cut_prev, members.len());
					shards[k].extend_from_slice(&members[cut_prev..cut]);
					cut_prev = cut;
				}
			}
			for shard in &mut shards {
				shard.sort_unstable();
			}
		}
	}
	Ok(Split { validation, shards })
}

/// The shard `miner` trains on in `spec`'s task.
pub fn shard_index(spec: &TaskSpec, miner: &AccountBytes) -> Result<u32> {
	hashing::shard_of(spec.task.id, miner, spec.data.num_shards).context("the task has no shards")
}

/// The global sample indices of step `step`'s batch, in a shard (design: "Round protocol").
pub fn batch(
	shard: &[i64],
	data_seed: &Hash,
	step: StepIndex,
	batch_size: u32,
) -> Result<Vec<i64>> {
	let local = hashing::batch_indices(data_seed, step, batch_size, shard.len() as u64)
		.context("the shard is empty: no batch can be drawn")?;
	Ok(local.into_iter().map(|i| shard[i as usize]).collect())
}

/// A task's data set and its split, loaded once.
pub struct TaskData {
	/// All samples.
	pub dataset: Dataset,
	/// The validation part and the shards.
	pub split: Split,
}

impl TaskData {
	/// Loads the data set of `config` and splits it.
	pub fn load(config: &Config) -> Result<TaskData> {
		TaskData::new(&config.spec(), load(config)?)
	}

	/// Splits `dataset` for `spec`'s task.
	pub fn new(spec: &TaskSpec, dataset: Dataset) -> Result<TaskData> {
		let split = split(spec, &dataset.labels)?;
		Ok(TaskData { dataset, split })
	}

	/// Another handle on the same data, tensors shared, not copied: libtorch tensors may be sent
	/// to another thread but not shared with it by reference.
	pub fn shallow_clone(&self) -> TaskData {
		TaskData {
			dataset: Dataset {
				x: self.dataset.x.shallow_clone(),
				y: self.dataset.y.shallow_clone(),
				labels: self.dataset.labels.clone(),
				features: self.dataset.features,
				classes: self.dataset.classes,
			},
			split: self.split.clone(),
		}
	}

	/// The shard `miner` trains on, and its index.
	pub fn shard_for(&self, spec: &TaskSpec, miner: &AccountBytes) -> Result<(u32, &[i64])> {
		let index = shard_index(spec, miner)?;
		let shard = self
			.split
			.shards
			.get(index as usize)
			.context("the split has fewer shards than the task")?;
		ensure!(
			!shard.is_empty(),
			"shard {index} is empty (too many shards, or too skewed a Dirichlet split, for the data)"
		);
		Ok((index, shard))
	}

	/// The samples, on `device`.
	pub fn on(&self, device: Device) -> Dataset {
		self.dataset.to_device(device)
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::config::Config;

	fn spec(partition: &str) -> TaskSpec {
		let text = crate::config::tests_example().replace(
			"partition = \"dirichlet\"",
			&format!("partition = \"{partition}\""),
		);
		Config::from_toml(&text).unwrap().spec()
	}

	#[test]
	fn splits_are_disjoint_complete_and_seeded_by_the_task() {
		let labels: Vec<i64> = (0..1000).map(|i| i % 10).collect();
		for partition in ["iid", "dirichlet"] {
			let s = spec(partition);
			let a = split(&s, &labels).unwrap();
			assert_eq!(a, split(&s, &labels).unwrap());
			assert_eq!(a.validation.len(), 200);
			let mut all: Vec<i64> = a.validation.clone();
			for shard in &a.shards {
				all.extend(shard);
			}
			all.sort_unstable();
			assert_eq!(all, (0..1000).collect::<Vec<_>>());
			let mut other = s.clone();
			other.task.id += 1;
			assert_ne!(a, split(&other, &labels).unwrap());
		}
	}

	#[test]
	fn dirichlet_shards_are_skewed_iid_shards_are_not() {
		let labels: Vec<i64> = (0..5000).map(|i| i % 10).collect();
		let skew = |s: &Split| -> f64 {
			// Largest share of one class in a shard, averaged over shards.
			s.shards
				.iter()
				.map(|shard| {
					let mut counts = [0usize; 10];
					for &i in shard {
						counts[labels[i as usize] as usize] += 1;
					}
					*counts.iter().max().unwrap() as f64 / shard.len().max(1) as f64
				})
				.sum::<f64>()
				/ s.shards.len() as f64
		};
		let iid = skew(&split(&spec("iid"), &labels).unwrap());
		let dir = skew(&split(&spec("dirichlet"), &labels).unwrap());
		assert!(iid < 0.15, "iid shards should be balanced: {iid}");
		assert!(dir > 0.25, "Dirichlet(0.5) shards should be skewed: {dir}");
	}

	#[test]
	fn batches_follow_pol_primitives() {
		let shard: Vec<i64> = (100..150).collect();
		let seed = hashing::hash(b"seed");
		let b = batch(&shard, &seed, 3, 8).unwrap();
		let expected: Vec<i64> = hashing::batch_indices(&seed, 3, 8, 50)
			.unwrap()
			.into_iter()
			.map(|i| 100 + i as i64)
			.collect();
		assert_eq!(b, expected);
		assert!(batch(&[], &seed, 0, 8).is_err());
	}

	#[test]
	fn synthetic_is_deterministic_and_npy_round_trips() {
		let a = synthetic(3, 40, 5, 4).unwrap();
		let b = synthetic(3, 40, 5, 4).unwrap();
		assert_eq!(a.labels, b.labels);
		assert!(a.x.equal(&b.x));
		assert!(!a.x.equal(&synthetic(4, 40, 5, 4).unwrap().x));
		let dir = std::env::temp_dir().join(format!("pol-npy-{}", std::process::id()));
		let x: Vec<f32> = Vec::<f32>::try_from(&a.x.flatten(0, -1)).unwrap();
		write_npy_pair(&dir, &x, 5, &a.labels).unwrap();
		let c = load_dir(&dir).unwrap();
		assert_eq!(c.labels, a.labels);
		assert!(c.x.equal(&a.x));
		// A truncated file is an error, not a panic.
		let bytes = std::fs::read(dir.join("x.npy")).unwrap();
		std::fs::write(dir.join("x.npy"), &bytes[..bytes.len() - 3]).unwrap();
		assert!(load_dir(&dir).is_err());
		std::fs::write(dir.join("x.npy"), b"garbage").unwrap();
		assert!(load_dir(&dir).is_err());
		let _ = std::fs::remove_dir_all(&dir);
	}

	#[test]
	fn user_data_from_safetensors() {
		let dir = std::env::temp_dir().join(format!("pol-st-{}", std::process::id()));
		std::fs::create_dir_all(&dir).unwrap();
		let x: Vec<u8> = (0..12).flat_map(|i| (i as f32).to_le_bytes()).collect();
		let y: Vec<u8> = [0i64, 1, 2].iter().flat_map(|v| v.to_le_bytes()).collect();
		let tv = |dtype, shape: Vec<usize>, data: &'static [u8]| {
			safetensors::tensor::TensorView::new(dtype, shape, data).unwrap()
		};
		let (x, y): (&'static [u8], &'static [u8]) = (x.leak(), y.leak());
		let views = [
			(
				"x".to_string(),
				tv(safetensors::Dtype::F32, vec![3, 2, 2], x),
			),
			("y".to_string(), tv(safetensors::Dtype::I64, vec![3], y)),
		];
		let bytes =
			safetensors::serialize(views.iter().map(|(n, v)| (n.clone(), v)), &None).unwrap();
		std::fs::write(dir.join("data.safetensors"), &bytes).unwrap();
		let ds = load_dir(&dir).unwrap();
		assert_eq!((ds.len(), ds.features, ds.classes), (3, 4, 3));
		assert_eq!(ds.labels, [0, 1, 2]);
		// A file without "y" is refused, and so is a directory without data.
		let views = [(
			"x".to_string(),
			tv(safetensors::Dtype::F32, vec![3, 2, 2], x),
		)];
		let bytes =
			safetensors::serialize(views.iter().map(|(n, v)| (n.clone(), v)), &None).unwrap();
		std::fs::write(dir.join("data.safetensors"), &bytes).unwrap();
		assert!(load_dir(&dir).is_err());
		std::fs::remove_file(dir.join("data.safetensors")).unwrap();
		assert!(load_dir(&dir).is_err());
		let _ = std::fs::remove_dir_all(&dir);
	}

	#[test]
	fn a_digits_export_that_is_not_the_canonical_one_is_refused() {
		// A foreign copy with a `meta.json` that vouches for it, as the old check trusted.
		let dir = std::env::temp_dir().join(format!("pol-digits-{}", std::process::id()));
		std::fs::create_dir_all(&dir).unwrap();
		let (x, y): (Vec<f32>, Vec<i64>) = ((0..64).map(|i| i as f32).collect(), vec![3]);
		write_npy_pair(&dir, &x, 64, &y).unwrap();
		let sha = |f: &str| hex::encode(sha2::Sha256::digest(std::fs::read(dir.join(f)).unwrap()));
		let meta =
			serde_json::json!({ "sha256": { "x.npy": sha("x.npy"), "y.npy": sha("y.npy") } });
		std::fs::write(dir.join("meta.json"), meta.to_string()).unwrap();
		let err = load_digits(&dir).err().expect("refused").to_string();
		std::fs::remove_dir_all(&dir).unwrap();
		assert!(err.contains("not the canonical digits export"), "{err}");
	}

	#[test]
	fn random_draws_are_pinned_bit_for_bit() {
		// Shards and synthetic data derive from these draws on every host: a change of the
		// algorithms must fail here, not split miners and validators. (A change of the math
		// library, the platform's `ln`/`exp` instead of `libm`'s, fails
		// `derivations_match_the_independent_python_vectors`, whose streams hold draws where
		// glibc's differ.)
		let mut rng = Rng::new(b"pol-test", b"vectors");
		let mut bits: Vec<u64> = (0..4).map(|_| rng.normal().to_bits()).collect();
		bits.extend([0.3, 1.0, 4.0].map(|alpha| rng.gamma(alpha).to_bits()));
		assert_eq!(bits, PINNED_DRAWS, "{bits:#018x?}");
	}

	/// Four normals, then Gamma(0.3), Gamma(1), Gamma(4), from `Rng::new(b"pol-test", b"vectors")`
	/// (`rng_sequence` of `golden/derivations.json`, which Python computed from docs/PROTOCOL.md).
	const PINNED_DRAWS: [u64; 7] = [
		0xbff3_45e3_5f82_0189,
		0xbff2_492e_bf97_e415,
		0xbfed_c881_79d1_da67,
		0x3ffa_ed69_1973_97f0,
		0x3fcf_d1fe_fd43_2289,
		0x4004_64a7_796c_cdb4,
		0x4013_1f1f_c2d7_5c77,
	];

	/// `golden/derivations.json`: what `scripts/vectors/gen_worker_vectors.py` computed from
	/// docs/PROTOCOL.md with Python's standard library alone.
	fn derivations() -> serde_json::Value {
		let dir = std::env::var("CARGO_MANIFEST_DIR")
			.unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
		let path = Path::new(&dir).join("golden/derivations.json");
		let text = std::fs::read_to_string(&path)
			.unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
		serde_json::from_str(&text).expect("golden/derivations.json is JSON")
	}

	/// The bits of an f64 written as `{ "bits": "<16 hex digits>", "value": … }`.
	fn f64_bits(v: &serde_json::Value) -> u64 {
		u64::from_str_radix(v["bits"].as_str().expect("bits"), 16).unwrap()
	}

	/// The bits of an f32 written as `{ "bits": "<8 hex digits>", "value": … }`.
	fn f32_bits(v: &serde_json::Value) -> u32 {
		u32::from_str_radix(v["bits"].as_str().expect("bits"), 16).unwrap()
	}

	/// A u64 written as a decimal string.
	fn decimal(v: &serde_json::Value) -> u64 {
		v.as_str().expect("a decimal string").parse().unwrap()
	}

	/// Bytes written as `0x` and hex.
	fn bytes(v: &serde_json::Value) -> Vec<u8> {
		hex::decode(v.as_str().expect("hex").trim_start_matches("0x")).unwrap()
	}

	fn indices(v: &serde_json::Value) -> Vec<i64> {
		v.as_array()
			.expect("a list")
			.iter()
			.map(|i| i.as_i64().unwrap())
			.collect()
	}

	/// The task of a split case: its id, shards, partition, α and validation share.
	fn split_spec(case: &serde_json::Value) -> TaskSpec {
		let mut s = spec(case["partition"].as_str().unwrap());
		s.task.id = decimal(&case["task_id"]);
		s.data.num_shards = case["num_shards"].as_u64().unwrap() as u32;
		s.data.alpha = case["alpha"].as_f64().unwrap();
		s.data.validation = case["validation"].as_f64().unwrap();
		s
	}

	#[test]
	fn derivations_match_the_independent_python_vectors() {
		let v = derivations();

		// libm's log and exp, the only functions the draws call besides sqrt.
		let functions: [(&str, fn(f64) -> f64); 2] = [("log", libm::log), ("exp", libm::exp)];
		for (name, f) in functions {
			let cases = v["libm"][name].as_array().expect("libm cases");
			assert!(cases.len() >= 20, "{name}");
			for c in cases {
				let x = f64::from_bits(f64_bits(&c["x"]));
				assert_eq!(f(x).to_bits(), f64_bits(&c["y"]), "{name}({x:e})");
			}
		}

		// The stream: its state, and each kind of draw from a fresh stream.
		let streams = v["rng"].as_array().expect("rng cases");
		assert!(!streams.is_empty());
		for c in streams {
			let (tag, seed) = (bytes(&c["tag"]), bytes(&c["seed"]));
			let fresh = || Rng::new(&tag, &seed);
			assert_eq!(fresh().0, decimal(&c["state"]));
			let mut r = fresh();
			for x in c["next_u64"].as_array().unwrap() {
				assert_eq!(r.next_u64(), decimal(x));
			}
			let mut r = fresh();
			for x in c["uniform"].as_array().unwrap() {
				assert_eq!(r.uniform().to_bits(), f64_bits(x));
			}
			let mut r = fresh();
			for x in c["normal"].as_array().unwrap() {
				assert_eq!(r.normal().to_bits(), f64_bits(x), "normal of {}", c["tag"]);
			}
			for g in c["gamma"].as_array().unwrap() {
				let alpha = f64::from_bits(f64_bits(&g["alpha"]));
				let mut r = fresh();
				for x in g["draws"].as_array().unwrap() {
					assert_eq!(
						r.gamma(alpha).to_bits(),
						f64_bits(x),
						"gamma({alpha}) of {}",
						c["tag"]
					);
				}
				// As many words consumed (rejections included).
				assert_eq!(r.next_u64(), decimal(&g["then_next_u64"]), "gamma({alpha})");
			}
		}
		let s = &v["rng_sequence"];
		let mut r = Rng::new(&bytes(&s["tag"]), &bytes(&s["seed"]));
		let mut got: Vec<u64> = (0..4).map(|_| r.normal().to_bits()).collect();
		got.extend([0.3, 1.0, 4.0].map(|alpha| r.gamma(alpha).to_bits()));
		let want: Vec<u64> = s["output"]
			.as_array()
			.unwrap()
			.iter()
			.map(f64_bits)
			.collect();
		assert_eq!(got, want);
		assert_eq!(got, PINNED_DRAWS);
		assert_eq!(r.next_u64(), decimal(&s["then_next_u64"]));

		// Splits.
		let cases = v["split"].as_array().expect("split cases");
		assert!(!cases.is_empty());
		for c in cases {
			let got = split(&split_spec(c), &indices(&c["labels"])).unwrap();
			let want = Split {
				validation: indices(&c["output"]["validation"]),
				shards: c["output"]["shards"]
					.as_array()
					.unwrap()
					.iter()
					.map(indices)
					.collect(),
			};
			assert_eq!(
				got, want,
				"split of task {} ({})",
				c["task_id"], c["partition"]
			);
		}

		// Synthetic data.
		let cases = v["synthetic"].as_array().expect("synthetic cases");
		assert!(!cases.is_empty());
		for c in cases {
			let n = |key: &str| c[key].as_u64().unwrap() as usize;
			let ds = synthetic(
				decimal(&c["seed"]),
				n("samples"),
				n("features"),
				n("classes"),
			)
			.unwrap();
			assert_eq!(ds.labels, indices(&c["output"]["labels"]));
			let x = Vec::<f32>::try_from(&ds.x.flatten(0, -1)).unwrap();
			let got: Vec<u32> = x.iter().map(|e| e.to_bits()).collect();
			let want: Vec<u32> = c["output"]["x"]
				.as_array()
				.unwrap()
				.iter()
				.map(f32_bits)
				.collect();
			assert_eq!(got, want, "synthetic data of seed {}", c["seed"]);
		}

		// Initial parameters: names and shapes of the model, each tensor's stream and values,
		// and the model hash of them all.
		let cases = v["init"].as_array().expect("init cases");
		assert!(!cases.is_empty());
		for c in cases {
			let model = c["spec"].as_str().unwrap();
			let seed = decimal(&c["seed"]);
			let tag = bytes(&c["tag"]);
			let tensors = c["tensors"].as_array().unwrap();
			let shapes = crate::model::Model::uninit(model, Device::Cpu)
				.unwrap()
				.shapes();
			let want: Vec<(String, Vec<u64>)> = tensors
				.iter()
				.map(|t| {
					let dims = t["dims"].as_array().unwrap();
					let dims: Vec<u64> = dims.iter().map(|d| d.as_u64().unwrap()).collect();
					(t["name"].as_str().unwrap().to_string(), dims)
				})
				.collect();
			assert_eq!(shapes, want, "{model}");
			let params = crate::model::init_params(&shapes, seed);
			for (p, t) in params.iter().zip(tensors) {
				let mut stream_seed = seed.to_le_bytes().to_vec();
				stream_seed.extend_from_slice(p.name.as_bytes());
				assert_eq!(stream_seed, bytes(&t["stream_seed"]), "{model}: {}", p.name);
				assert_eq!(Rng::new(&tag, &stream_seed).0, decimal(&t["state"]));
				assert_eq!(p.data.len() as u64, t["count"].as_u64().unwrap());
				let shown = t.get("values").or_else(|| t.get("first")).unwrap();
				let want: Vec<u32> = shown.as_array().unwrap().iter().map(f32_bits).collect();
				let got: Vec<u32> = p
					.data
					.iter()
					.take(want.len())
					.map(|e| e.to_bits())
					.collect();
				assert_eq!(got, want, "{model}, seed {seed}: {}", p.name);
			}
			let hash = crate::model::hash_named(&params).unwrap();
			assert_eq!(
				format!("{hash:?}"),
				c["model_hash"].as_str().unwrap(),
				"{model}"
			);
		}
	}

	#[test]
	fn digits_splits_match_the_independent_python_vectors() {
		let v = derivations();
		let d = &v["digits"];
		for (file, sha) in DIGITS_SHA256 {
			assert_eq!(d["sha256"][file].as_str().unwrap(), sha);
		}
		let root = Config::from_toml(crate::config::tests_example())
			.unwrap()
			.data_root();
		let ds = load_digits(&root.join("digits"))
			.expect("the digits set (scripts/setup.sh exports it to $POL_DATA/digits)");
		let first = indices(&d["first_labels"]);
		assert_eq!(&ds.labels[..first.len()], &first[..]);
		let row = Vec::<f32>::try_from(&ds.x.get(0)).unwrap();
		let want: Vec<u32> = d["first_sample"]
			.as_array()
			.unwrap()
			.iter()
			.map(f32_bits)
			.collect();
		assert_eq!(row.iter().map(|e| e.to_bits()).collect::<Vec<u32>>(), want);
		let digest = |list: &[i64]| -> String {
			let le: Vec<u8> = list
				.iter()
				.flat_map(|&i| (i as u64).to_le_bytes())
				.collect();
			format!("{:?}", hashing::hash(&le))
		};
		let cases = d["splits"].as_array().expect("digits splits");
		assert!(!cases.is_empty());
		for c in cases {
			let got = split(&split_spec(c), &ds.labels).unwrap();
			let check = |what: &str, list: &[i64], want: &serde_json::Value| {
				let first = indices(&want["first"]);
				assert_eq!(
					list.len() as u64,
					want["len"].as_u64().unwrap(),
					"{}: {what}",
					c["what"]
				);
				assert_eq!(&list[..first.len()], &first[..], "{}: {what}", c["what"]);
				assert_eq!(
					digest(list),
					want["digest"].as_str().unwrap(),
					"{}: {what}",
					c["what"]
				);
			};
			check("validation", &got.validation, &c["output"]["validation"]);
			let shards = c["output"]["shards"].as_array().unwrap();
			assert_eq!(got.shards.len(), shards.len());
			for (k, (shard, want)) in got.shards.iter().zip(shards).enumerate() {
				check(&format!("shard {k}"), shard, want);
			}
		}
	}

	#[test]
	fn gamma_has_the_right_mean() {
		let mut rng = Rng::new(b"t", b"");
		for alpha in [0.3, 1.0, 4.0] {
			let mean = (0..20000).map(|_| rng.gamma(alpha)).sum::<f64>() / 20000.0;
			assert!(
				(mean - alpha).abs() < 0.1 * alpha.max(1.0),
				"{alpha}: {mean}"
			);
		}
	}
}
