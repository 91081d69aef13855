//! The runtime cannot sign a VRF (wasm has no randomness), so the scoring benchmarks' validator
//! comes with a challenge proof made here once. This checks it, and prints fresh constants with
//! `POL_PRINT_FIXTURES=1 cargo test -p polchain-runtime --test benchmark_fixtures -- --nocapture`.

use codec::Decode;
use polchain_runtime::configs::{
	BENCHMARK_CHALLENGER, BENCHMARK_CHALLENGE_PROOF, BENCHMARK_CHALLENGE_SEED,
};
use sp_core::{sr25519::Pair, Pair as _};

const CHALLENGER: &str = "//polchain-benchmark-challenger";

#[test]
fn the_benchmark_challengers_proof_is_valid() {
	let pair = Pair::from_string(CHALLENGER, None).expect("a valid secret URI");
	let seed = BENCHMARK_CHALLENGE_SEED.into();
	if std::env::var_os("POL_PRINT_FIXTURES").is_some() {
		let (proof, _) = pol_primitives::challenge::prove(&pair, &seed);
		println!("BENCHMARK_CHALLENGER: {:?}", pair.public().0);
		println!(
			"BENCHMARK_CHALLENGE_PROOF: {:?}",
			codec::Encode::encode(&proof)
		);
	}
	assert_eq!(
		BENCHMARK_CHALLENGER,
		pair.public().0,
		"the challenger is {CHALLENGER}"
	);
	let proof = pol_primitives::ChallengeProof::decode(&mut &BENCHMARK_CHALLENGE_PROOF[..])
		.expect("the proof decodes");
	assert!(
		pol_primitives::challenge::randomness(&BENCHMARK_CHALLENGER, &seed, &proof).is_some(),
		"the proof is the challenger's over the benchmarks' seed"
	);
}
