//! # pol-worker
//!
//! The off-chain worker of polchain. Miners use it to train a task's model deterministically
//! and commit to every checkpoint; validators use it to replay sampled segments and score
//! updates. This crate is the library; `pol-worker` (src/main.rs) is a thin CLI over it.
//!
//! Modules:
//! - [`config`]: the task (what its creator fixed) and the worker's own settings, from TOML.
//! - [`model`]: models from a task's declarative spec, with fixed parameter names, and their
//!   model hash.
//! - [`data`]: digits, synthetic and user data; IID and Dirichlet shards; the batch of a step.
//! - [`train`]: deterministic SGD (plain or momentum) with checkpoints.
//! - [`proof`]: checkpoints as safetensors, leaves, the Merkle root, the proof bundle.
//! - [`verify`]: a validator's check of a bundle: root, files, replay, score.
//! - [`store`]: the content-addressed artifact store, its HTTP server and client.
//! - [`aggregate`]: FedAvg by score, median, trimmed mean, norm clipping.
//! - [`bench`]: training and verification cost.
//! - [`doctor`]: checks that libtorch loads, which devices it sees, and that a tiny model trains.

pub mod aggregate;
pub mod bench;
pub mod config;
pub mod data;
pub mod doctor;
pub mod model;
pub mod proof;
pub mod store;
pub mod train;
pub mod verify;

#[cfg(test)]
mod tests;

/// The libtorch version this binary was built against (from the PyPI `torch` wheel).
pub const LIBTORCH_VERSION: &str = env!("POL_LIBTORCH_VERSION");
