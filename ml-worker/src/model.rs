//! Models from the declarative spec of [`pol_primitives::ModelArch`], with the fixed parameter
//! names every miner and validator of a task share, and their model hash.

use anyhow::{bail, Context, Result};
use pol_primitives::{
	hashing::{ModelHasher, TensorView},
	DType, Hash, ModelArch,
};
use tch::{nn, nn::Module, Device, Kind, Tensor};

/// A model of a task: its architecture and its parameters.
pub struct Model {
	/// The parsed spec.
	pub arch: ModelArch,
	/// The parameters, by their fixed names (`fc0.weight`, `conv1.bias`, …).
	pub vars: nn::VarStore,
	layers: Vec<Layer>,
}

enum Layer {
	Linear(nn::Linear),
	Conv(nn::Conv2D),
}

impl Model {
	/// A model of `spec`, with parameters initialised from `seed` on `device`.
	///
	/// The initial values come from [`init_params`], not from libtorch's global generator: they
	/// are then the same on every machine, and threads that build models at once cannot disturb
	/// each other's draws.
	pub fn new(spec: &str, seed: u64, device: Device) -> Result<Model> {
		let mut model = Model::uninit(spec, device)?;
		let init = init_params(&model.shapes(), seed);
		model.set_params(&init)?;
		Ok(model)
	}

	/// A model of `spec` whose parameters are whatever libtorch's initialisers drew: to be
	/// overwritten with [`Model::set_params`].
	pub fn uninit(spec: &str, device: Device) -> Result<Model> {
		let arch = ModelArch::parse(spec.as_bytes())
			.map_err(|e| anyhow::anyhow!("bad model spec {spec:?}: {e:?}"))?;
		let vars = nn::VarStore::new(device);
		let root = vars.root();
		let mut layers = Vec::new();
		match &arch {
			ModelArch::Mlp { widths } => {
				for (i, w) in widths.windows(2).enumerate() {
					let linear = nn::linear(
						&root / format!("fc{i}"),
						w[0] as i64,
						w[1] as i64,
						Default::default(),
					);
					layers.push(Layer::Linear(linear));
				}
			}
			ModelArch::Cnn {
				height,
				width,
				channels,
				conv,
				classes,
			} => {
				let mut c_in = *channels as i64;
				let (mut h, mut w) = (*height as i64, *width as i64);
				let config = nn::ConvConfig {
					padding: 1,
					..Default::default()
				};
				for (i, c_out) in conv.iter().enumerate() {
					let layer =
						nn::conv2d(&root / format!("conv{i}"), c_in, *c_out as i64, 3, config);
					layers.push(Layer::Conv(layer));
					c_in = *c_out as i64;
					h /= 2;
					w /= 2;
				}
				let fc = nn::linear(
					&root / "fc",
					c_in * h * w,
					*classes as i64,
					Default::default(),
				);
				layers.push(Layer::Linear(fc));
			}
		}
		Ok(Model { arch, vars, layers })
	}

	/// Logits for a batch of flat inputs `[batch, input_features]`.
	pub fn forward(&self, xs: &Tensor) -> Tensor {
		let mut x = match &self.arch {
			ModelArch::Mlp { .. } => xs.shallow_clone(),
			ModelArch::Cnn {
				height,
				width,
				channels,
				..
			} => xs.view([-1, *channels as i64, *height as i64, *width as i64]),
		};
		let last = self.layers.len().saturating_sub(1);
		for (i, layer) in self.layers.iter().enumerate() {
			x = match layer {
				Layer::Conv(conv) => conv.forward(&x).relu().max_pool2d_default(2),
				Layer::Linear(linear) => {
					let flat = if x.dim() > 2 { x.flatten(1, -1) } else { x };
					let y = linear.forward(&flat);
					if i == last {
						y
					} else {
						y.relu()
					}
				}
			};
		}
		x
	}

	/// The parameters sorted by name (byte order), as the model hash takes them.
	pub fn named_parameters(&self) -> Vec<(String, Tensor)> {
		sorted(self.vars.variables().into_iter().collect())
	}

	/// The model hash of the parameters.
	pub fn hash(&self) -> Result<Hash> {
		model_hash(&self.named_parameters())
	}

	/// The parameters' names and shapes, sorted by name.
	pub fn shapes(&self) -> Vec<(String, Vec<u64>)> {
		self.named_parameters()
			.into_iter()
			.map(|(n, t)| (n, t.size().iter().map(|&d| d as u64).collect()))
			.collect()
	}

	/// A copy of the parameters, sorted by name.
	pub fn params(&self) -> Result<Vec<NamedTensor>> {
		self.named_parameters()
			.iter()
			.map(|(n, t)| NamedTensor::from_tensor(n, t))
			.collect()
	}

	/// Overwrites the parameters; the names and shapes must be exactly the model's.
	pub fn set_params(&mut self, params: &[NamedTensor]) -> Result<()> {
		let mine = self.named_parameters();
		check_same_layout(&self.shapes(), params)?;
		let mut given: Vec<&NamedTensor> = params.iter().collect();
		given.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
		tch::no_grad(|| -> Result<()> {
			for ((_, var), p) in mine.iter().zip(given) {
				let mut var = var.shallow_clone();
				var.f_copy_(&p.to_tensor(var.device()))
					.with_context(|| format!("setting {}", p.name))?;
			}
			Ok(())
		})
	}
}

/// Checks that `tensors` have exactly the names and shapes of `layout` (any order).
pub fn check_same_layout(layout: &[(String, Vec<u64>)], tensors: &[NamedTensor]) -> Result<()> {
	let mut given: Vec<(&str, &[u64])> = tensors
		.iter()
		.map(|t| (t.name.as_str(), t.dims.as_slice()))
		.collect();
	given.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
	let mut want: Vec<(&str, &[u64])> = layout
		.iter()
		.map(|(n, d)| (n.as_str(), d.as_slice()))
		.collect();
	want.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
	if given.len() != want.len() {
		bail!(
			"{} tensors where the model has {} ({})",
			given.len(),
			want.len(),
			want.iter().map(|w| w.0).collect::<Vec<_>>().join(", ")
		);
	}
	for (g, w) in given.iter().zip(&want) {
		if g.0 != w.0 {
			bail!("tensor {:?} where the model has {:?}", g.0, w.0);
		}
		if g.1 != w.1 {
			bail!(
				"tensor {} has shape {:?}, the model's is {:?}",
				g.0,
				g.1,
				w.1
			);
		}
	}
	Ok(())
}

/// Domain tag of the initial parameters' random stream.
const TAG_INIT: &[u8] = b"pol-worker-init";

/// Initial parameters for `shapes`: uniform in ±1/√fan_in, PyTorch's default bound for linear
/// and convolution layers (a bias takes the fan-in of its layer's weight), each tensor from its
/// own stream seeded by `(seed, name)`.
pub fn init_params(shapes: &[(String, Vec<u64>)], seed: u64) -> Vec<NamedTensor> {
	let fan_in_of = |name: &str| -> u64 {
		let layer = name.rsplit_once('.').map(|(l, _)| l).unwrap_or(name);
		shapes
			.iter()
			.find(|(n, _)| n == &format!("{layer}.weight"))
			.map(|(_, d)| d.iter().skip(1).product::<u64>())
			.unwrap_or(1)
			.max(1)
	};
	shapes
		.iter()
		.map(|(name, dims)| {
			let bound = 1.0 / (fan_in_of(name) as f64).sqrt();
			let mut seed_bytes = seed.to_le_bytes().to_vec();
			seed_bytes.extend_from_slice(name.as_bytes());
			let mut rng = crate::data::Rng::new(TAG_INIT, &seed_bytes);
			let count: u64 = dims.iter().product();
			let data = (0..count)
				.map(|_| ((2.0 * rng.uniform() - 1.0) * bound) as f32)
				.collect();
			NamedTensor {
				name: name.clone(),
				dims: dims.clone(),
				data,
			}
		})
		.collect()
}

/// An f32 tensor by name, in ordinary memory: the form parameters take in checkpoints, hashes
/// and aggregation, where every step must be exactly reproducible on any machine.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
	/// The fixed parameter name (`fc0.weight`, or `momentum.fc0.weight` for optimizer state).
	pub name: String,
	/// Shape.
	pub dims: Vec<u64>,
	/// Values, row-major.
	pub data: Vec<f32>,
}

impl NamedTensor {
	/// A copy of a libtorch tensor (converted to f32 on the CPU).
	pub fn from_tensor(name: &str, t: &Tensor) -> Result<NamedTensor> {
		let flat = t
			.to_device(Device::Cpu)
			.to_kind(Kind::Float)
			.contiguous()
			.view([-1]);
		let data = Vec::<f32>::try_from(&flat).with_context(|| format!("copying {name}"))?;
		Ok(NamedTensor {
			name: name.to_string(),
			dims: t.size().iter().map(|&d| d as u64).collect(),
			data,
		})
	}

	/// A libtorch tensor on `device`.
	pub fn to_tensor(&self, device: Device) -> Tensor {
		let dims: Vec<i64> = self.dims.iter().map(|&d| d as i64).collect();
		Tensor::from_slice(&self.data)
			.reshape(dims)
			.to_device(device)
	}

	/// The little-endian bytes of the values.
	pub fn le_bytes(&self) -> Vec<u8> {
		self.data.iter().flat_map(|v| v.to_le_bytes()).collect()
	}

	/// The values as little-endian bytes: borrowed as they lie in memory on a little-endian
	/// host (no copy: checkpoints are hashed and written on every segment), copied elsewhere.
	pub fn le_view(&self) -> std::borrow::Cow<'_, [u8]> {
		if cfg!(target_endian = "little") {
			std::borrow::Cow::Borrowed(bytemuck::cast_slice(&self.data))
		} else {
			std::borrow::Cow::Owned(self.le_bytes())
		}
	}
}

/// The model hash (design: "Hashes and encodings") of named f32 tensors, in any order.
pub fn hash_named(tensors: &[NamedTensor]) -> Result<Hash> {
	hash_renamed(tensors.iter().map(|t| (t.name.clone(), t)))
}

/// The model hash of tensors under the names given with them (a checkpoint's momentum buffers
/// are hashed as `momentum.<parameter>`), in any order, hashing the values where they lie.
pub fn hash_renamed<'a>(
	tensors: impl IntoIterator<Item = (String, &'a NamedTensor)>,
) -> Result<Hash> {
	let mut order: Vec<(String, &NamedTensor)> = tensors.into_iter().collect();
	order.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
	let mut hasher = ModelHasher::new();
	for (name, t) in order {
		let data = t.le_view();
		hasher
			.tensor(TensorView {
				name: &name,
				dtype: DType::F32,
				dims: &t.dims,
				data: &data,
			})
			.map_err(|e| anyhow::anyhow!("tensor {name}: {e:?}"))?;
	}
	Ok(hasher.finish())
}

/// `‖a − b‖₂` over tensors matched by name, summed in f64 in name order: the same number on
/// every machine, whatever its thread count.
pub fn l2_distance(a: &[NamedTensor], b: &[NamedTensor]) -> Result<f64> {
	let layout: Vec<(String, Vec<u64>)> =
		a.iter().map(|t| (t.name.clone(), t.dims.clone())).collect();
	check_same_layout(&layout, b)?;
	let mut a: Vec<&NamedTensor> = a.iter().collect();
	let mut b: Vec<&NamedTensor> = b.iter().collect();
	a.sort_by(|x, y| x.name.as_bytes().cmp(y.name.as_bytes()));
	b.sort_by(|x, y| x.name.as_bytes().cmp(y.name.as_bytes()));
	let mut sum = 0.0f64;
	for (x, y) in a.iter().zip(&b) {
		for (u, v) in x.data.iter().zip(&y.data) {
			let d = *u as f64 - *v as f64;
			sum += d * d;
		}
	}
	Ok(sum.sqrt())
}

/// `‖a‖₂`, summed as [`l2_distance`] does.
pub fn l2_norm(a: &[NamedTensor]) -> f64 {
	let mut a: Vec<&NamedTensor> = a.iter().collect();
	a.sort_by(|x, y| x.name.as_bytes().cmp(y.name.as_bytes()));
	a.iter()
		.flat_map(|t| t.data.iter())
		.map(|&v| (v as f64) * (v as f64))
		.sum::<f64>()
		.sqrt()
}

fn sorted(mut tensors: Vec<(String, Tensor)>) -> Vec<(String, Tensor)> {
	tensors.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
	tensors
}

/// The element type of a tensor, as the model hash codes it.
pub fn dtype_of(t: &Tensor) -> Result<DType> {
	Ok(match t.kind() {
		Kind::Float => DType::F32,
		Kind::Double => DType::F64,
		Kind::Half => DType::F16,
		Kind::BFloat16 => DType::BF16,
		Kind::Int64 => DType::I64,
		other => bail!("tensors of kind {other:?} have no model-hash code"),
	})
}

/// The contiguous little-endian bytes of a tensor (copied to the CPU).
pub fn le_bytes(t: &Tensor) -> Result<Vec<u8>> {
	let t = t.to_device(Device::Cpu).contiguous();
	let dtype = dtype_of(&t)?;
	let numel = t.numel();
	let mut bytes = vec![0u8; numel * dtype.size()];
	t.f_copy_data_u8(&mut bytes, numel)
		.context("copying tensor data")?;
	// libtorch stores tensors in the machine's byte order; the hash wants little-endian.
	if cfg!(target_endian = "big") {
		for chunk in bytes.chunks_mut(dtype.size()) {
			chunk.reverse();
		}
	}
	Ok(bytes)
}

/// The model hash (design: "Hashes and encodings") of named tensors, in any order.
pub fn model_hash(tensors: &[(String, Tensor)]) -> Result<Hash> {
	let mut order: Vec<&(String, Tensor)> = tensors.iter().collect();
	order.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
	let mut hasher = ModelHasher::new();
	for (name, t) in order {
		let dtype = dtype_of(t).with_context(|| format!("tensor {name}"))?;
		let dims: Vec<u64> = t.size().iter().map(|&d| d as u64).collect();
		let data = le_bytes(t).with_context(|| format!("tensor {name}"))?;
		hasher
			.tensor(TensorView {
				name,
				dtype,
				dims: &dims,
				data: &data,
			})
			.map_err(|e| anyhow::anyhow!("tensor {name}: {e:?}"))?;
	}
	Ok(hasher.finish())
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn parameter_names_are_fixed_by_the_spec() {
		let mlp = Model::new("mlp:64-32-10", 0, Device::Cpu).unwrap();
		let names: Vec<String> = mlp.named_parameters().into_iter().map(|(n, _)| n).collect();
		assert_eq!(names, ["fc0.bias", "fc0.weight", "fc1.bias", "fc1.weight"]);
		let cnn = Model::new("cnn:8x8x1-c4-c8-10", 0, Device::Cpu).unwrap();
		let names: Vec<String> = cnn.named_parameters().into_iter().map(|(n, _)| n).collect();
		assert_eq!(
			names,
			[
				"conv0.bias",
				"conv0.weight",
				"conv1.bias",
				"conv1.weight",
				"fc.bias",
				"fc.weight"
			]
		);
		let out = cnn.forward(&Tensor::zeros([5, 64], (Kind::Float, Device::Cpu)));
		assert_eq!(out.size(), [5, 10]);
		assert_eq!(
			mlp.forward(&Tensor::zeros([3, 64], (Kind::Float, Device::Cpu)))
				.size(),
			[3, 10]
		);
	}

	#[test]
	fn same_seed_same_hash_other_seed_other_hash() {
		let a = Model::new("mlp:16-8-4", 7, Device::Cpu)
			.unwrap()
			.hash()
			.unwrap();
		let b = Model::new("mlp:16-8-4", 7, Device::Cpu)
			.unwrap()
			.hash()
			.unwrap();
		let c = Model::new("mlp:16-8-4", 8, Device::Cpu)
			.unwrap()
			.hash()
			.unwrap();
		assert_eq!(a, b);
		assert_ne!(a, c);
	}

	#[test]
	fn params_round_trip_and_hash_alike() {
		let mut a = Model::new("cnn:8x8x1-c4-c8-10", 1, Device::Cpu).unwrap();
		let b = Model::new("cnn:8x8x1-c4-c8-10", 2, Device::Cpu).unwrap();
		let pb = b.params().unwrap();
		assert_eq!(hash_named(&pb).unwrap(), b.hash().unwrap());
		a.set_params(&pb).unwrap();
		assert_eq!(a.hash().unwrap(), b.hash().unwrap());
		assert_eq!(l2_distance(&a.params().unwrap(), &pb).unwrap(), 0.0);
		// A wrong name or shape is an error, not a panic.
		let mut wrong = pb.clone();
		wrong[0].name = "conv9.bias".into();
		assert!(a.set_params(&wrong).is_err());
		let mut wrong = pb.clone();
		wrong[0].dims = vec![3];
		wrong[0].data.truncate(3);
		assert!(a.set_params(&wrong).is_err());
		assert!(a.set_params(&pb[1..]).is_err());
	}

	#[test]
	fn bad_specs_are_errors_not_panics() {
		for spec in ["mlp:1", "transformer:4", "cnn:2x2x1-c4-c4-2", ""] {
			assert!(Model::new(spec, 0, Device::Cpu).is_err(), "{spec}");
		}
	}

	/// The model hash of real tensors equals pol-primitives' test vectors, which Python's hashlib
	/// computed independently.
	#[test]
	fn model_hash_of_real_tensors_matches_the_test_vectors() {
		let vectors: serde_json::Value =
			serde_json::from_str(include_str!("../../pallets/primitives/test-vectors.json"))
				.unwrap();
		let cases = vectors["model_hash"].as_array().expect("model_hash cases");
		assert!(cases.len() >= 2);
		for case in cases {
			let named: Vec<(String, Tensor)> = case["tensors"]
				.as_array()
				.unwrap()
				.iter()
				.map(|t| {
					let kind = match t["dtype"].as_str().unwrap() {
						"f32" => Kind::Float,
						"f64" => Kind::Double,
						"i64" => Kind::Int64,
						other => panic!("dtype {other}"),
					};
					let dims: Vec<i64> = t["dims"]
						.as_array()
						.unwrap()
						.iter()
						.map(|d| d.as_i64().unwrap())
						.collect();
					let values: Vec<f64> = t["values"]
						.as_array()
						.unwrap()
						.iter()
						.map(|v| v.as_f64().unwrap())
						.collect();
					// f64 → f32 rounds to nearest, as Python's struct.pack('<f') does.
					let tensor = Tensor::from_slice(&values).to_kind(kind).reshape(dims);
					(t["name"].as_str().unwrap().to_string(), tensor)
				})
				.collect();
			let expected = case["output"].as_str().unwrap();
			assert_eq!(format!("{:?}", model_hash(&named).unwrap()), expected);
		}
	}
}
