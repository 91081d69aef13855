//! pol-primitives agrees with `test-vectors.json`, which an independent implementation (Python's
//! hashlib, `scripts/vectors/gen_test_vectors.py`) computed from the design's definitions.

use pol_primitives::{
	hashing::{self, TensorView},
	merkle, AccountBytes, ArtifactUri, DType, Hash, UpdateCommitment,
};
use serde_json::Value;
use sp_runtime::FixedU64;

fn vectors() -> Value {
	// Compiled in: cargo tracks the file, and a target directory shared between clones never
	// reads another clone's copy.
	serde_json::from_str(include_str!("../test-vectors.json")).expect("test-vectors.json is JSON")
}

fn bytes(v: &Value) -> Vec<u8> {
	let hex = v.as_str().expect("hex string").trim_start_matches("0x");
	assert!(hex.len() % 2 == 0, "even-length hex: {hex}");
	(0..hex.len())
		.step_by(2)
		.map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("valid hex"))
		.collect()
}
fn h256(v: &Value) -> Hash {
	Hash::from_slice(&bytes(v))
}
fn acc(v: &Value) -> AccountBytes {
	bytes(v).try_into().expect("32-byte account")
}
fn num(v: &Value) -> u64 {
	match v {
		Value::String(s) => s.parse().expect("decimal string"),
		other => other.as_u64().expect("unsigned integer"),
	}
}
fn cases<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
	let list = v[key]
		.as_array()
		.unwrap_or_else(|| panic!("vectors have {key}"));
	assert!(!list.is_empty(), "{key} has cases");
	list
}

#[test]
fn blake2_256() {
	let v = vectors();
	for c in cases(&v, "blake2_256") {
		assert_eq!(hashing::hash(&bytes(&c["input"])), h256(&c["output"]));
	}
}

#[test]
fn round_and_data_seeds() {
	let v = vectors();
	for c in cases(&v, "round_seed") {
		let got = hashing::round_seed(
			num(&c["task"]),
			num(&c["round"]) as u32,
			&h256(&c["parent_hash"]),
		);
		assert_eq!(got, h256(&c["output"]));
	}
	for c in cases(&v, "data_seed") {
		assert_eq!(
			hashing::data_seed(&h256(&c["round_seed"]), &acc(&c["miner"])),
			h256(&c["output"])
		);
	}
}

#[test]
fn batch_indices() {
	let v = vectors();
	for c in cases(&v, "batch_indices") {
		let got = hashing::batch_indices(
			&h256(&c["data_seed"]),
			num(&c["step"]) as u32,
			num(&c["batch_size"]) as u32,
			num(&c["shard_len"]),
		)
		.expect("non-empty shard");
		let want: Vec<u64> = c["output"].as_array().unwrap().iter().map(num).collect();
		assert_eq!(got, want);
	}
}

#[test]
fn shards() {
	let v = vectors();
	for c in cases(&v, "shard_of") {
		let got = hashing::shard_of(
			num(&c["task"]),
			&acc(&c["miner"]),
			num(&c["num_shards"]) as u32,
		);
		assert_eq!(got, Some(num(&c["output"]) as u32));
	}
}

#[test]
fn commitments_encode_and_hash() {
	let v = vectors();
	for c in cases(&v, "commit_hash") {
		let m = &c["commitment"];
		let commitment = UpdateCommitment {
			checkpoint_root: h256(&m["checkpoint_root"]),
			final_model_hash: h256(&m["final_model_hash"]),
			num_segments: num(&m["num_segments"]) as u32,
			train_loss: FixedU64::from_inner(num(&m["train_loss_fixed"])),
			artifact_uri: ArtifactUri::try_from(
				m["artifact_uri"].as_str().unwrap().as_bytes().to_vec(),
			)
			.expect("uri within bound"),
		};
		assert_eq!(
			codec::Encode::encode(&commitment),
			bytes(&c["scale"]),
			"SCALE encoding"
		);
		let salt: [u8; 32] = bytes(&c["salt"]).try_into().unwrap();
		assert_eq!(
			hashing::commit_hash(&commitment, &acc(&c["who"]), &salt),
			h256(&c["output"])
		);
	}
}

#[test]
fn dispute_votes_encode_and_hash() {
	let v = vectors();
	for c in cases(&v, "vote_commit_hash") {
		let confirmed: Vec<u32> = c["confirmed"]
			.as_array()
			.unwrap()
			.iter()
			.map(|s| num(s) as u32)
			.collect();
		let (task, round, miner) = (num(&c["task"]), num(&c["round"]) as u32, acc(&c["miner"]));
		let not_served = c["not_served"].as_bool().unwrap();
		assert_eq!(
			codec::Encode::encode(&(task, round, miner, &confirmed[..], not_served)),
			bytes(&c["scale"]),
			"SCALE encoding"
		);
		let salt: [u8; 32] = bytes(&c["salt"]).try_into().unwrap();
		let voter = acc(&c["voter"]);
		assert_eq!(
			hashing::vote_commit_hash(task, round, &miner, &confirmed, not_served, &voter, &salt),
			h256(&c["output"])
		);
	}
}

#[test]
fn challenges() {
	let v = vectors();
	for c in cases(&v, "challenge_seed") {
		let got = hashing::challenge_seed(
			num(&c["task"]),
			num(&c["round"]) as u32,
			&h256(&c["parent_hash"]),
		);
		assert_eq!(got, h256(&c["output"]));
	}
	for c in cases(&v, "challenge_segments") {
		let got = hashing::challenge_segments(
			&h256(&c["challenge_seed"]),
			&acc(&c["validator"]),
			&acc(&c["miner"]),
			num(&c["num_segments"]) as u32,
			num(&c["segments_per_check"]) as u32,
		);
		let want: Vec<u32> = c["output"]
			.as_array()
			.unwrap()
			.iter()
			.map(|x| num(x) as u32)
			.collect();
		assert_eq!(got, want);
	}
}

fn le_bytes(dtype: DType, values: &[Value]) -> Vec<u8> {
	values
		.iter()
		.flat_map(|x| match dtype {
			DType::F32 => (x.as_f64().unwrap() as f32).to_le_bytes().to_vec(),
			DType::F64 => x.as_f64().unwrap().to_le_bytes().to_vec(),
			DType::I64 => x.as_i64().unwrap().to_le_bytes().to_vec(),
			other => panic!("no {other:?} in the vectors"),
		})
		.collect()
}

#[test]
fn model_hashes() {
	let v = vectors();
	for c in cases(&v, "model_hash") {
		let tensors: Vec<(String, DType, Vec<u64>, Vec<u8>)> = c["tensors"]
			.as_array()
			.unwrap()
			.iter()
			.map(|t| {
				let dtype = match t["dtype"].as_str().unwrap() {
					"f32" => DType::F32,
					"f64" => DType::F64,
					"i64" => DType::I64,
					other => panic!("unknown dtype {other}"),
				};
				let dims = t["dims"].as_array().unwrap().iter().map(num).collect();
				(
					t["name"].as_str().unwrap().to_string(),
					dtype,
					dims,
					le_bytes(dtype, t["values"].as_array().unwrap()),
				)
			})
			.collect();
		let views: Vec<TensorView> = tensors
			.iter()
			.map(|(name, dtype, dims, data)| TensorView {
				name,
				dtype: *dtype,
				dims,
				data,
			})
			.collect();
		assert_eq!(
			hashing::model_hash(&views).expect("valid tensors"),
			h256(&c["output"])
		);
	}
}

#[test]
fn leaves_roots_and_proofs() {
	let v = vectors();
	for c in cases(&v, "leaf_hash") {
		let got = hashing::leaf_hash(
			num(&c["j"]) as u32,
			&h256(&c["model_hash"]),
			c["update_norm"].as_f64().unwrap() as f32,
		);
		assert_eq!(got, h256(&c["output"]));
	}
	for c in cases(&v, "merkle") {
		let leaves: Vec<Hash> = c["leaves"].as_array().unwrap().iter().map(h256).collect();
		let root = h256(&c["root"]);
		assert_eq!(
			merkle::root(&leaves),
			root,
			"root of {} leaves",
			leaves.len()
		);
		for (i, want) in c["proofs"].as_array().unwrap().iter().enumerate() {
			let want: Vec<Hash> = want.as_array().unwrap().iter().map(h256).collect();
			let proof = merkle::proof(&leaves, i as u32).expect("index in range");
			assert_eq!(
				proof.siblings,
				want,
				"proof of leaf {i} of {}",
				leaves.len()
			);
			assert!(merkle::verify(
				&root,
				&want,
				leaves.len() as u32,
				i as u32,
				&leaves[i]
			));
		}
	}
}
