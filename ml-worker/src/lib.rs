//! # pol-worker
//!
//! The off-chain worker of polchain. Miners use it to train a task's model deterministically
//! and commit to every checkpoint; validators use it to replay sampled segments and score
//! updates. This crate is the library; `pol-worker` (src/main.rs) is a thin CLI over it.
//!
//! Modules:
//! - [`profile`]: the determinism profile (device, CPU kernel width, threads) a process pins
//!   before libtorch starts, and what libtorch reports back.
//! - [`config`]: the task (what its creator fixed) and the worker's own settings, from TOML.
//! - [`model`]: models from a task's declarative spec, with fixed parameter names, and their
//!   model hash.
//! - [`data`]: digits, synthetic and user data; IID and Dirichlet shards; the batch of a step.
//! - [`train`]: deterministic SGD (plain or momentum) with checkpoints.
//! - [`proof`]: checkpoints as safetensors, leaves, the Merkle root, the proof bundle.
//! - [`verify`]: a validator's check of a bundle in phases (commitment, checkpoints, replay,
//!   score), with a typed outcome: pass, the miner's fault, not served, or abstain.
//! - [`store`]: the content-addressed artifact store, its HTTP server and client.
//! - [`aggregate`]: FedAvg by score, median, trimmed mean, norm clipping.
//! - [`bench`]: training and verification cost.
//! - [`chain`]: the subxt chain client: fail-over between nodes, extrinsics that are not lost.
//! - [`metrics`]: what a worker counts for its operator (`GET /metrics`, Prometheus).
//! - [`round`]: a task and its round as the chain states them; models fetched by hash.
//! - [`miner`], [`validator`]: the loops of `pol-worker miner` and `pol-worker validator`.
//! - [`faults`]: dishonest miners (`pol-worker miner --fault`), each an attack the protocol
//!   must stop.
//! - [`creator`]: `pol-worker task create|fund|status|watch`.
//! - [`golden`]: golden vectors, a canonical run of each shipped model pinned per profile.
//! - [`doctor`]: checks that libtorch loads, that a tiny model trains, and which determinism
//!   profiles this host reproduces.

pub mod aggregate;
pub mod attack;
pub mod bench;
pub mod chain;
pub mod config;
pub mod cpu_time;
pub mod creator;
pub mod data;
pub mod doctor;
pub mod faults;
pub mod golden;
pub mod keys;
pub mod metrics;
pub mod miner;
pub mod model;
pub mod pool;
pub mod profile;
pub mod proof;
pub mod round;
pub mod store;
pub mod train;
pub mod validator;
pub mod verify;

#[cfg(test)]
mod tests;

/// Tests run under the default profile, pinned before the harness starts any test: ATen fixes
/// its kernels at the first one.
#[cfg(test)]
#[ctor::ctor]
fn pin_the_default_profile_for_tests() {
	if let Err(e) = profile::pin(profile::Profile::default()) {
		eprintln!("pinning the default determinism profile: {e:#}");
		std::process::exit(2);
	}
}

/// The libtorch version this binary was built against (from the PyPI `torch` wheel).
pub const LIBTORCH_VERSION: &str = env!("POL_LIBTORCH_VERSION");
