//! # pol-worker
//!
//! The off-chain worker of polchain. Miners use it to train a task's model deterministically
//! and commit to every checkpoint; validators use it to replay sampled segments and score
//! updates. This crate is the library; `pol-worker` (src/main.rs) is a thin CLI over it.
//!
//! Modules:
//! - [`doctor`]: checks that libtorch loads, which devices it sees, and that a tiny model trains.
//! - [`model`]: models from a task's declarative spec, with fixed parameter names, and their
//!   model hash.

pub mod doctor;
pub mod model;

/// The libtorch version this binary was built against (from the PyPI `torch` wheel).
pub const LIBTORCH_VERSION: &str = env!("POL_LIBTORCH_VERSION");
