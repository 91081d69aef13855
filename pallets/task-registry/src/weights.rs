//! Weights for `pallet_task_registry`. PLACEHOLDER until `scripts/weights/generate.sh` runs:
//! the generated file replaces this one.

#![allow(missing_docs)]

use frame_support::weights::{constants::ParityDbWeight, Weight};

/// The weight of each call of `pallet_task_registry`.
pub trait WeightInfo {
	fn create_task() -> Weight;
	fn fund_task() -> Weight;
	fn cancel_task(m: u32) -> Weight;
	fn join_task() -> Weight;
	fn leave_task() -> Weight;
	fn commit_update() -> Weight;
	fn reveal_update() -> Weight;
	fn propose_global_model(p: u32) -> Weight;
	fn on_initialize_idle() -> Weight;
	fn advance_phase() -> Weight;
	fn close_round(u: u32, p: u32, m: u32) -> Weight;
}

impl WeightInfo for () {
	fn create_task() -> Weight {
		ParityDbWeight::get().reads_writes(6, 6)
	}
	fn fund_task() -> Weight {
		ParityDbWeight::get().reads_writes(3, 3)
	}
	fn cancel_task(m: u32) -> Weight {
		ParityDbWeight::get().reads_writes(6, 6 + m as u64)
	}
	fn join_task() -> Weight {
		ParityDbWeight::get().reads_writes(3, 2)
	}
	fn leave_task() -> Weight {
		ParityDbWeight::get().reads_writes(2, 2)
	}
	fn commit_update() -> Weight {
		ParityDbWeight::get().reads_writes(4, 2)
	}
	fn reveal_update() -> Weight {
		ParityDbWeight::get().reads_writes(5, 3)
	}
	fn propose_global_model(_p: u32) -> Weight {
		ParityDbWeight::get().reads_writes(7, 4)
	}
	fn on_initialize_idle() -> Weight {
		ParityDbWeight::get().reads(1)
	}
	fn advance_phase() -> Weight {
		ParityDbWeight::get().reads_writes(3, 3)
	}
	fn close_round(u: u32, p: u32, m: u32) -> Weight {
		ParityDbWeight::get().reads_writes(6, 6 + (u + p + m) as u64)
	}
}
