//! Behaviour beyond the test vectors: errors, bounds and the properties the protocol relies on.

use crate::{
	hashing::{self, ModelHashError, TensorView},
	merkle, ArtifactUri, DType, Hash, UpdateCommitment,
};
use sp_runtime::{FixedU64, Perbill};

fn commitment() -> UpdateCommitment {
	UpdateCommitment {
		checkpoint_root: hashing::hash(b"root"),
		final_model_hash: hashing::hash(b"final"),
		num_segments: 4,
		train_loss: FixedU64::from_rational(1, 3),
		artifact_uri: ArtifactUri::try_from(b"http://127.0.0.1:8700".to_vec()).unwrap(),
	}
}

#[test]
fn commit_hash_binds_the_account_and_the_salt() {
	let c = commitment();
	let h = hashing::commit_hash(&c, &[1; 32], &[9; 32]);
	assert_ne!(
		h,
		hashing::commit_hash(&c, &[2; 32], &[9; 32]),
		"another miner's copy differs"
	);
	assert_ne!(
		h,
		hashing::commit_hash(&c, &[1; 32], &[8; 32]),
		"the salt matters"
	);
	let mut other = c.clone();
	other.num_segments = 5;
	assert_ne!(
		h,
		hashing::commit_hash(&other, &[1; 32], &[9; 32]),
		"every field matters"
	);
}

#[test]
fn derivations_refuse_empty_domains() {
	let seed = hashing::hash(b"seed");
	assert_eq!(hashing::sample_index(&seed, 0, 0, 0), None);
	assert_eq!(hashing::batch_indices(&seed, 0, 4, 0), None);
	assert_eq!(hashing::batch_indices(&seed, 0, 0, 10), Some(vec![]));
	assert_eq!(hashing::shard_of(1, &[0; 32], 0), None);
	assert!(hashing::challenge_segments(&seed, &[0; 32], &[1; 32], 0, 3).is_empty());
	assert!(hashing::challenge_segments(&seed, &[0; 32], &[1; 32], 5, 0).is_empty());
}

#[test]
fn challenge_segments_always_hold_the_last_and_draw_distinct_others() {
	let seed = hashing::hash(b"challenge");
	for n in 1..20u32 {
		for q in 1..8u32 {
			let s = hashing::challenge_segments(&seed, &[3; 32], &[4; 32], n, q);
			assert_eq!(s[0], n, "segment n is always checked");
			assert_eq!(
				s.len() as u32,
				q.min(n),
				"exactly Q segments while there are enough"
			);
			assert!(s.iter().all(|x| (1..=n).contains(x)));
			let mut d = s.clone();
			d.sort();
			d.dedup();
			assert_eq!(d.len(), s.len(), "no segment twice");
		}
	}
	// Different validators check different segments of the same miner.
	let a = hashing::challenge_segments(&seed, &[1; 32], &[9; 32], 1000, 16);
	let b = hashing::challenge_segments(&seed, &[2; 32], &[9; 32], 1000, 16);
	assert_ne!(a, b);
}

#[test]
fn challenge_draws_are_uniform_over_the_other_segments() {
	// Over many seeds each of segments 1..n−1 is drawn about equally often: no segment is
	// safer to forge than another (the old top-norm slot let the miner choose one).
	let (n, q, trials) = (10u32, 3u32, 9000u32);
	let mut count = [0u32; 10];
	for t in 0..trials {
		let seed = hashing::hash(&t.to_le_bytes());
		for s in hashing::challenge_segments(&seed, &[1; 32], &[2; 32], n, q)
			.into_iter()
			.skip(1)
		{
			count[s as usize] += 1;
		}
	}
	// Each of the 9 segments is drawn with probability 2/9: 2000 expected, σ ≈ 39.
	for s in 1..n as usize {
		assert!(
			(1800..=2200).contains(&count[s]),
			"segment {s} drawn {} times",
			count[s]
		);
	}
	assert_eq!(count[0], 0);
}

#[test]
fn final_leaf_proof_binds_the_final_model_hash_to_leaf_n() {
	use crate::{FinalLeafError, FinalLeafProof};
	let n = 5u32;
	let models: Vec<Hash> = (0..=n).map(|j| hashing::hash(&j.to_le_bytes())).collect();
	let norms: Vec<f32> = (0..=n).map(|j| j as f32 * 0.5).collect();
	let leaves: Vec<Hash> = (0..=n)
		.map(|j| hashing::leaf_hash(j, &models[j as usize], norms[j as usize]))
		.collect();
	let c = UpdateCommitment {
		checkpoint_root: merkle::root(&leaves),
		final_model_hash: models[n as usize],
		num_segments: n,
		train_loss: Default::default(),
		artifact_uri: b"http://m/v1/artifacts/00".to_vec().try_into().unwrap(),
	};
	let proof = FinalLeafProof::from_leaves(&leaves, norms[n as usize]).unwrap();
	assert_eq!(proof.verify(&c), Ok(()));
	// A final model hash other than C_n's (a swapped update) is refused.
	let mut swapped = c.clone();
	swapped.final_model_hash = models[n as usize - 1];
	assert_eq!(proof.verify(&swapped), Err(FinalLeafError::NotLeafN));
	// Another norm, or leaf n − 1's proof, is refused.
	let mut other_norm = proof.clone();
	other_norm.update_norm_bits = 7.0f32.to_bits();
	assert_eq!(other_norm.verify(&c), Err(FinalLeafError::NotLeafN));
	let p = merkle::proof(&leaves, n - 1).unwrap();
	let wrong_leaf = FinalLeafProof {
		update_norm_bits: norms[n as usize].to_bits(),
		siblings: p.siblings.try_into().unwrap(),
	};
	assert_eq!(wrong_leaf.verify(&c), Err(FinalLeafError::NotLeafN));
	// A non-finite norm means non-finite parameters: refused before any hashing.
	for bad in [f32::NAN, f32::INFINITY, -1.0] {
		let mut p = proof.clone();
		p.update_norm_bits = bad.to_bits();
		assert_eq!(p.verify(&c), Err(FinalLeafError::NonFiniteNorm));
	}
}

#[test]
fn model_hash_rejects_unsorted_duplicate_and_misshapen_tensors() {
	let four = [0u8; 16];
	let t = |name| TensorView {
		name,
		dtype: DType::F32,
		dims: &[2, 2],
		data: &four,
	};
	assert_eq!(
		hashing::model_hash(&[t("b"), t("a")]),
		Err(ModelHashError::NotSorted { index: 1 })
	);
	assert_eq!(
		hashing::model_hash(&[t("a"), t("a")]),
		Err(ModelHashError::NotSorted { index: 1 })
	);
	let short = TensorView {
		name: "w",
		dtype: DType::F64,
		dims: &[2, 2],
		data: &four,
	};
	assert_eq!(
		hashing::model_hash(&[short]),
		Err(ModelHashError::DataLength {
			index: 0,
			expected: Some(32),
			actual: 16
		})
	);
	let huge = TensorView {
		name: "w",
		dtype: DType::F32,
		dims: &[u64::MAX, 2],
		data: &four,
	};
	assert!(matches!(
		hashing::model_hash(&[huge]),
		Err(ModelHashError::DataLength { expected: None, .. })
	));
}

#[test]
fn model_hash_sees_names_types_shapes_and_values() {
	let data = 1.5f32.to_le_bytes().repeat(4);
	let base = TensorView {
		name: "w",
		dtype: DType::F32,
		dims: &[2, 2],
		data: &data,
	};
	let h = hashing::model_hash(&[base]).unwrap();
	assert_ne!(
		h,
		hashing::model_hash(&[TensorView { name: "v", ..base }]).unwrap()
	);
	assert_ne!(
		h,
		hashing::model_hash(&[TensorView { dims: &[4], ..base }]).unwrap()
	);
	assert_ne!(
		h,
		hashing::model_hash(&[TensorView {
			dims: &[4, 1],
			..base
		}])
		.unwrap()
	);
	let mut other = data.clone();
	other[15] ^= 1;
	assert_ne!(
		h,
		hashing::model_hash(&[TensorView {
			data: &other,
			..base
		}])
		.unwrap()
	);
	let as_i64 = 7i64.to_le_bytes().repeat(2);
	let i = TensorView {
		name: "w",
		dtype: DType::I64,
		dims: &[2],
		data: &as_i64,
	};
	let f = TensorView {
		name: "w",
		dtype: DType::F64,
		dims: &[2],
		data: &as_i64,
	};
	assert_ne!(
		hashing::model_hash(&[i]).unwrap(),
		hashing::model_hash(&[f]).unwrap()
	);
}

#[test]
fn dtype_codes_round_trip() {
	for d in [DType::F32, DType::F64, DType::F16, DType::BF16, DType::I64] {
		assert_eq!(DType::from_code(d.code()), Some(d));
	}
	assert_eq!(DType::from_code(5), None);
}

#[test]
fn merkle_proofs_fail_for_a_tampered_leaf_index_or_root() {
	let leaves: Vec<Hash> = (0..7u32)
		.map(|j| hashing::leaf_hash(j, &hashing::hash(&j.to_le_bytes()), j as f32))
		.collect();
	let root = merkle::root(&leaves);
	for i in 0..7u32 {
		let p = merkle::proof(&leaves, i).unwrap();
		assert_eq!(p.root, root);
		assert!(merkle::verify(
			&root,
			&p.siblings,
			7,
			i,
			&leaves[i as usize]
		));
		let forged = hashing::leaf_hash(i, &hashing::hash(b"forged"), 0.0);
		assert!(!merkle::verify(&root, &p.siblings, 7, i, &forged));
		assert!(!merkle::verify(
			&hashing::hash(b"other root"),
			&p.siblings,
			7,
			i,
			&leaves[i as usize]
		));
		if i + 1 < 7 {
			assert!(!merkle::verify(
				&root,
				&p.siblings,
				7,
				i + 1,
				&leaves[i as usize]
			));
		}
	}
	assert!(merkle::proof(&leaves, 7).is_none());
	assert!(!merkle::verify(&root, &[], 7, 7, &leaves[0]));
}

#[test]
fn model_specs_parse() {
	use crate::specs::{ModelArch, ModelSpecError};
	assert_eq!(
		ModelArch::parse(b"mlp:64-128-10"),
		Ok(ModelArch::Mlp {
			widths: vec![64, 128, 10]
		})
	);
	assert_eq!(
		ModelArch::parse(b"cnn:8x8x1-c16-c32-10"),
		Ok(ModelArch::Cnn {
			height: 8,
			width: 8,
			channels: 1,
			conv: vec![16, 32],
			classes: 10
		})
	);
	let cnn = ModelArch::parse(b"cnn:8x8x1-c16-c32-10").unwrap();
	assert_eq!((cnn.input_features(), cnn.outputs()), (64, 10));
	for (bad, err) in [
		(&b"mlp:64"[..], ModelSpecError::BadLayerCount),
		(b"mlp:64-0-10", ModelSpecError::BadNumber),
		(b"mlp:64--10", ModelSpecError::BadNumber),
		(b"mlp:064-10", ModelSpecError::BadNumber),
		(b"mlp:64-99999-10", ModelSpecError::BadNumber),
		(b"mlp:+64-10", ModelSpecError::BadNumber),
		(b"rnn:64-10", ModelSpecError::UnknownKind),
		(b"\xff", ModelSpecError::UnknownKind),
		(b"cnn:8x8-c16-10", ModelSpecError::BadNumber),
		(b"cnn:8x8x1-16-10", ModelSpecError::BadNumber),
		(b"cnn:8x8x1-10", ModelSpecError::BadLayerCount),
		(b"cnn:4x4x1-c8-c8-c8-10", ModelSpecError::ImageTooSmall),
	] {
		assert_eq!(
			ModelArch::parse(bad),
			Err(err),
			"{}",
			String::from_utf8_lossy(bad)
		);
	}
}

#[test]
fn aggregation_rules_check_their_parameter_and_encode_as_pinned() {
	use crate::AggregationRule::*;
	use codec::Encode;
	assert!(FedAvg.is_valid() && Median.is_valid());
	assert!(TrimmedMean {
		trim: Perbill::from_percent(20)
	}
	.is_valid());
	assert!(!TrimmedMean {
		trim: Perbill::from_percent(50)
	}
	.is_valid());
	assert!(NormClip {
		max_norm: FixedU64::from_u32(5)
	}
	.is_valid());
	assert!(!NormClip {
		max_norm: FixedU64::from_u32(0)
	}
	.is_valid());
	let limit = FixedU64::from_u32(crate::specs::MAX_NORM_CLIP);
	assert!(NormClip { max_norm: limit }.is_valid());
	assert!(!NormClip {
		max_norm: FixedU64::from_inner(limit.into_inner() + 1)
	}
	.is_valid());
	// ⌊trim · m⌋ in integers: 29% of 100 is 29 (f64 arithmetic gives 28.999…96 and drops 28).
	assert_eq!(
		TrimmedMean {
			trim: Perbill::from_percent(29)
		}
		.trimmed_count(100),
		29
	);
	// ⌊0.2 · 4⌋ = 0, but a positive trim drops at least one at each end of 3 or more values:
	// else one forged update moves the mean by a quarter of any jump.
	assert_eq!(
		TrimmedMean {
			trim: Perbill::from_percent(20)
		}
		.trimmed_count(4),
		1
	);
	for (m, dropped) in [(1, 0), (2, 0), (3, 1)] {
		assert_eq!(
			TrimmedMean {
				trim: Perbill::from_percent(1)
			}
			.trimmed_count(m),
			dropped
		);
	}
	assert_eq!(
		TrimmedMean {
			trim: Perbill::zero()
		}
		.trimmed_count(9),
		0
	);
	assert_eq!(
		TrimmedMean {
			trim: Perbill::from_percent(20)
		}
		.trimmed_count(5),
		1
	);
	assert_eq!(Median.trimmed_count(9), 0);
	assert_eq!(crate::AggregationRule::default(), FedAvg);
	// The JS scripts and the worker build these bytes; pin them.
	assert_eq!(FedAvg.encode(), [0]);
	assert_eq!(Median.encode(), [1]);
	assert_eq!(
		TrimmedMean {
			trim: Perbill::from_percent(20)
		}
		.encode(),
		[2, 0x00, 0xc2, 0xeb, 0x0b]
	);
	assert_eq!(
		NormClip {
			max_norm: FixedU64::from_u32(5)
		}
		.encode(),
		[3, 0x00, 0xf2, 0x05, 0x2a, 0x01, 0, 0, 0]
	);
}

#[test]
fn segments_and_round_length() {
	use crate::specs::{Hyperparameters, Schedule};
	let hp = |s, k| Hyperparameters {
		learning_rate: FixedU64::from_rational(1, 10),
		momentum: FixedU64::from_u32(0),
		batch_size: 32,
		local_steps: s,
		checkpoint_interval: k,
	};
	assert_eq!(hp(100, 10).num_segments(), Some(10));
	assert_eq!(hp(100, 30).num_segments(), None);
	assert_eq!(hp(100, 0).num_segments(), None);
	assert_eq!(hp(0, 10).num_segments(), None);
	let s = Schedule {
		commit_blocks: 10,
		reveal_blocks: 5,
		verify_blocks: 20,
		score_reveal_blocks: 4,
		vote_commit_blocks: 7,
		vote_reveal_blocks: 3,
		finalize_blocks: 5,
		rounds: 3,
	};
	assert_eq!(s.round_blocks(), Some(54));
	assert_eq!(
		Schedule {
			vote_reveal_blocks: 0,
			..s
		}
		.round_blocks(),
		None
	);
	assert_eq!(
		Schedule {
			reveal_blocks: 0,
			..s
		}
		.round_blocks(),
		None
	);
	assert_eq!(
		Schedule {
			commit_blocks: u32::MAX,
			..s
		}
		.round_blocks(),
		None
	);
}

#[test]
fn challenge_randomness_is_the_validators_alone_and_checked() {
	use crate::challenge;
	use sp_core::{sr25519::Pair, Pair as _};
	let alice = Pair::from_string("//Alice", None).unwrap();
	let bob = Pair::from_string("//Bob", None).unwrap();
	let seed = hashing::hash(b"seed");
	let (proof, randomness) = challenge::prove(&alice, &seed);
	assert_eq!(
		challenge::randomness(&alice.public().0, &seed, &proof),
		Some(randomness)
	);
	// One output per key and seed: signing again gives the same randomness.
	let (again, same) = challenge::prove(&alice, &seed);
	assert_eq!(same, randomness);
	assert_eq!(
		challenge::randomness(&alice.public().0, &seed, &again),
		Some(randomness)
	);
	// Another validator's proof, another seed, or a tampered output are refused.
	assert_eq!(challenge::randomness(&bob.public().0, &seed, &proof), None);
	assert_eq!(
		challenge::randomness(&alice.public().0, &hashing::hash(b"other"), &proof),
		None
	);
	let (bobs, bob_randomness) = challenge::prove(&bob, &seed);
	let mut forged = proof.clone();
	forged.pre_output = bobs.pre_output.clone();
	assert_eq!(
		challenge::randomness(&alice.public().0, &seed, &forged),
		None
	);
	// Different validators, different challenges of the same miner.
	assert_ne!(randomness, bob_randomness);
	assert_ne!(
		hashing::challenge_segments(&randomness, &alice.public().0, &[7; 32], 100, 8),
		hashing::challenge_segments(&bob_randomness, &bob.public().0, &[7; 32], 100, 8)
	);
}

/// C(n, k) as an f64.
fn choose(n: u32, k: u32) -> f64 {
	(0..k).fold(1.0, |acc, i| acc * f64::from(n - i) / f64::from(i + 1))
}

#[test]
fn detection_rate_matches_the_formula() {
	// A miner forges segments 1..=f (never n, which every validator checks); 3 validators with
	// independent randomness each challenge Q segments. Measured over 20,000 rounds per row.
	let trials = 20_000u32;
	for (n, q, f) in [(6u32, 3u32, 1u32), (6, 3, 2), (10, 3, 2), (20, 7, 5)] {
		let mut caught = 0u32;
		for t in 0..trials {
			let hit = (0..3u32).any(|v| {
				let randomness = hashing::hash(&[t.to_le_bytes(), v.to_le_bytes()].concat());
				hashing::challenge_segments(&randomness, &[v as u8; 32], &[9; 32], n, q)
					.iter()
					.any(|&s| s <= f)
			});
			caught += u32::from(hit);
		}
		let miss_one = choose(n - 1 - f, q - 1) / choose(n - 1, q - 1);
		let predicted = 1.0 - miss_one.powi(3);
		let measured = f64::from(caught) / f64::from(trials);
		println!(
			"n = {n}, Q = {q}, f = {f}, 3 validators: measured {:.2}%, formula {:.2}%",
			100.0 * measured,
			100.0 * predicted
		);
		// 4σ of a binomial proportion at 20,000 trials is at most 1.4 points.
		assert!(
			(measured - predicted).abs() < 0.015,
			"{measured} vs {predicted}"
		);
	}
}

#[test]
fn a_servers_debt_counts_every_parameter_and_the_grace() {
	use crate::{serving::*, ModelArch};
	let mlp = ModelArch::parse(b"mlp:64-32-10").unwrap();
	assert_eq!(parameter_tensors(&mlp), [64 * 32, 32, 32 * 10, 10]);
	// Two 3×3 convolutions halve 8×8 twice: the linear layer reads 2·2·8 features.
	let cnn = ModelArch::parse(b"cnn:8x8x1-c4-c8-10").unwrap();
	assert_eq!(parameter_tensors(&cnn), [36, 4, 288, 8, 320, 10]);
	// 2,410 values of 4 bytes; momentum doubles values and header alike.
	assert_eq!(
		checkpoint_bytes_bound(&mlp, false),
		2_410 * 4 + 64 + 4 * 256
	);
	assert_eq!(
		checkpoint_bytes_bound(&mlp, true),
		2 * 2_410 * 4 + 64 + 8 * 256
	);
	assert_eq!(manifest_bytes_bound(4), 16 * 1024 + 5 * 384);
	// The grace, a second per wave of 8 requests, then the bytes at 64 KiB/s, rounded up to the
	// millisecond.
	assert_eq!(serve_millis(0, 0), 10_000);
	assert_eq!(serve_millis(64 * 1024, 1), 12_000);
	assert_eq!(serve_millis(1, 8), 11_001);
	assert_eq!(serve_millis(0, 9), 12_000);
	assert_eq!(checkpoints_fetched(4, 2), 4);
	assert_eq!(checkpoints_fetched(4, 9), 8);
	// The manifest's wave, then 4 checkpoints' wave.
	assert_eq!(verify_fetch_requests(4, 2), 16);
	assert_eq!(serve_millis(0, verify_fetch_requests(4, 2)), 12_000);
	// 10 s owed: 4 blocks of 3 s, 2 to notice the phase, 3 to get a transaction in.
	assert_eq!(min_fetch_phase_blocks(0, 0, 3_000), 9);
	assert_eq!(min_fetch_phase_blocks(u64::MAX, 1, 1), u32::MAX);
	let bytes = verify_fetch_bytes(4, 2, checkpoint_bytes_bound(&mlp, true));
	assert_eq!(
		min_verify_blocks(&mlp, true, 4, 2, 3_000),
		min_fetch_phase_blocks(bytes, 16, 3_000)
	);
	// A vote-commit phase holds a voter's fetch of every segment a dispute can name: one per
	// scorer, never more than the run's. The demo task (n = 400) with 64 scorers: 128
	// checkpoints of 21 392 bytes and the manifest (2 908 544 bytes, 44 381 ms at 64 KiB/s),
	// 17 waves and the grace: 71 381 ms, 24 blocks of 3 s, 5 more.
	assert_eq!(
		min_vote_commit_blocks(&mlp, true, 4, 64, 3_000),
		min_verify_blocks(&mlp, true, 4, 4, 3_000)
	);
	assert_eq!(
		min_vote_commit_blocks(&mlp, true, 400, 1, 3_000),
		min_verify_blocks(&mlp, true, 400, 1, 3_000)
	);
	assert_eq!(checkpoint_bytes_bound(&mlp, true), 21_392);
	assert_eq!(min_vote_commit_blocks(&mlp, true, 400, 64, 3_000), 29);
	assert_eq!(min_verify_blocks(&mlp, true, 400, 8, 3_000), 12);
}

#[test]
fn a_cuda_profile_pins_a_gpu_class_and_a_cpu_profile_none() {
	// A CUDA run replays bit for bit only on the same GPU model: a CUDA profile without a class
	// would leave the model to what the miner writes (and a model no honest validator has would
	// make them all abstain).
	use crate::{specs::GPU_CLASS_BYTES, CpuIsa, DeterminismProfile, GpuClass, ProfileDevice};
	let h100 = GpuClass::new("NVIDIA H100 80GB HBM3").unwrap();
	assert_eq!(h100.name(), Some("NVIDIA H100 80GB HBM3"));
	let cuda = |gpu| DeterminismProfile {
		device: ProfileDevice::Cuda,
		isa: CpuIsa::Avx2,
		threads: 1,
		gpu,
	};
	assert!(cuda(Some(h100)).is_valid());
	assert!(!cuda(None).is_valid());
	assert!(DeterminismProfile::default().is_valid());
	assert!(!DeterminismProfile {
		gpu: Some(h100),
		..DeterminismProfile::default()
	}
	.is_valid());
	// Names: 1 to 96 printable ASCII characters, no space at either end.
	assert_eq!(GpuClass::new(""), None);
	assert_eq!(GpuClass::new(" NVIDIA A100"), None);
	assert_eq!(GpuClass::new("NVIDIA\tA100"), None);
	assert_eq!(GpuClass::new("NVIDIA Ä100"), None);
	assert!(GpuClass::new(&"x".repeat(GPU_CLASS_BYTES)).is_some());
	assert_eq!(GpuClass::new(&"x".repeat(GPU_CLASS_BYTES + 1)), None);
	// Bytes a name does not make (a zero inside, bytes after the padding starts) are refused.
	let mut gap = h100;
	gap.0[30] = b'x';
	assert_eq!(gap.name(), None);
	assert!(!cuda(Some(gap)).is_valid());
	assert!(!cuda(Some(GpuClass([0; GPU_CLASS_BYTES]))).is_valid());
}
