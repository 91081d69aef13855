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
	pub fn new(spec: &str, seed: i64, device: Device) -> Result<Model> {
		let arch = ModelArch::parse(spec.as_bytes())
			.map_err(|e| anyhow::anyhow!("bad model spec {spec:?}: {e:?}"))?;
		tch::manual_seed(seed);
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
	fn bad_specs_are_errors_not_panics() {
		for spec in ["mlp:1", "transformer:4", "cnn:2x2x1-c4-c4-2", ""] {
			assert!(Model::new(spec, 0, Device::Cpu).is_err(), "{spec}");
		}
	}

	/// The model hash of real tensors equals pol-primitives' test vectors, which Python's hashlib
	/// computed independently.
	#[test]
	fn model_hash_of_real_tensors_matches_the_test_vectors() {
		let path = concat!(
			env!("CARGO_MANIFEST_DIR"),
			"/../pallets/primitives/test-vectors.json"
		);
		let vectors: serde_json::Value =
			serde_json::from_str(&std::fs::read_to_string(path).expect("test vectors exist"))
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
