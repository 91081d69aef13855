//! Weights for `pallet_pol_staking`.
//!
//! PLACEHOLDER until generated: regenerate with
//! `polchain-node benchmark pallet --chain dev --pallet pallet_pol_staking --extrinsic '*'
//!  --steps 50 --repeat 20 --output pallets/staking/src/weights.rs --template .maintain/frame-weight-template.hbs`

#![allow(unused_parens)]
#![allow(unused_imports)]
#![allow(missing_docs)]

use frame_support::{traits::Get, weights::{Weight, constants::RocksDbWeight}};
use core::marker::PhantomData;

/// Weight functions needed for `pallet_pol_staking`.
pub trait WeightInfo {
	fn bond() -> Weight;
	fn bond_extra() -> Weight;
	fn unbond() -> Weight;
	fn withdraw_unbonded() -> Weight;
	fn chill() -> Weight;
	fn resume() -> Weight;
	fn set_endpoint(l: u32, ) -> Weight;
	fn new_session(c: u32, ) -> Weight;
}

/// Weights for `pallet_pol_staking` using the Substrate node and recommended hardware.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	fn bond() -> Weight { Weight::zero() }
	fn bond_extra() -> Weight { Weight::zero() }
	fn unbond() -> Weight { Weight::zero() }
	fn withdraw_unbonded() -> Weight { Weight::zero() }
	fn chill() -> Weight { Weight::zero() }
	fn resume() -> Weight { Weight::zero() }
	fn set_endpoint(_l: u32, ) -> Weight { Weight::zero() }
	fn new_session(_c: u32, ) -> Weight { Weight::zero() }
}

impl WeightInfo for () {
	fn bond() -> Weight { Weight::zero() }
	fn bond_extra() -> Weight { Weight::zero() }
	fn unbond() -> Weight { Weight::zero() }
	fn withdraw_unbonded() -> Weight { Weight::zero() }
	fn chill() -> Weight { Weight::zero() }
	fn resume() -> Weight { Weight::zero() }
	fn set_endpoint(_l: u32, ) -> Weight { Weight::zero() }
	fn new_session(_c: u32, ) -> Weight { Weight::zero() }
}
