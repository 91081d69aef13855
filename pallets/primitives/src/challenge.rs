//! A validator's challenge randomness: an sr25519 VRF output of its key over the round's
//! challenge seed. Nobody but the validator can compute it, so nobody (the miner, the author of
//! the block that fixed the seed, anyone watching the chain) knows which segments it replays
//! before it asks for them; and a VRF has one output per key and input, so the validator cannot
//! pick its challenges either. The proof travels with its score reveal; the runtime checks it
//! and that every accused segment is among the challenges it yields.
//!
//! `challenge_segments(randomness, validator, miner, n, Q)` ([`crate::hashing`]) turns the
//! randomness into the segments of each miner.

use crate::Hash;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sp_core::{
	crypto::VrfPublic,
	sr25519::{
		vrf::{VrfSignData, VrfSignature, VrfTranscript},
		Public,
	},
};

/// A validator's VRF proof over a round's challenge seed: schnorrkel's pre-output and proof,
/// encoded as `sp_core::sr25519::vrf::VrfSignature` is (96 bytes).
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct ChallengeProof {
	/// The VRF pre-output (the randomness derives from it).
	pub pre_output: [u8; 32],
	/// The DLEQ proof that the pre-output is the key's over the input.
	pub proof: [u8; 64],
}

impl ChallengeProof {
	fn signature(&self) -> Option<VrfSignature> {
		VrfSignature::decode(&mut &self.encode()[..]).ok()
	}
}

/// Label of the VRF transcript.
pub const VRF_LABEL: &[u8] = b"polchain-challenge";
/// Context of the VRF output bytes.
pub const RANDOMNESS_CONTEXT: &[u8] = b"pol-challenge-randomness";

/// The VRF input: the round's challenge seed (which binds the task and the round).
pub fn vrf_input(challenge_seed: &Hash) -> VrfTranscript {
	VrfTranscript::new(VRF_LABEL, &[(b"seed", challenge_seed.as_bytes())])
}

/// The randomness of the validator with sr25519 public key `public` in the round whose
/// challenge seed is `challenge_seed`, if `proof` is its VRF proof over that seed.
pub fn randomness(
	public: &[u8; 32],
	challenge_seed: &Hash,
	proof: &ChallengeProof,
) -> Option<Hash> {
	let public = Public::from_raw(*public);
	let input = vrf_input(challenge_seed);
	// Bytes that are not curve points do not decode: not a proof.
	let signature = proof.signature()?;
	if !public.vrf_verify(&VrfSignData::from(input.clone()), &signature) {
		return None;
	}
	let bytes: [u8; 32] = signature
		.pre_output
		.make_bytes(RANDOMNESS_CONTEXT, &input, &public)
		.ok()?;
	Some(Hash::from(bytes))
}

/// The proof and randomness of the validator with key `pair` over `challenge_seed`.
#[cfg(feature = "std")]
pub fn prove(pair: &sp_core::sr25519::Pair, challenge_seed: &Hash) -> (ChallengeProof, Hash) {
	use sp_core::crypto::VrfSecret;
	let input = vrf_input(challenge_seed);
	let signature = pair.vrf_sign(&VrfSignData::from(input.clone()));
	// The same 96 bytes either way.
	let proof = ChallengeProof::decode(&mut &signature.encode()[..])
		.expect("a VRF signature is 96 bytes, as a challenge proof; qed");
	let bytes: [u8; 32] = pair.make_bytes(RANDOMNESS_CONTEXT, &input);
	(proof, Hash::from(bytes))
}
