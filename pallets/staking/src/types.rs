//! Types of the staking pallet.

use crate::{BalanceOf, Config};
use codec::{Decode, Encode, MaxEncodedLen};
use frame_support::{pallet_prelude::*, CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound};
use frame_system::pallet_prelude::BlockNumberFor;
pub use pol_primitives::Role;
use sp_runtime::{traits::Zero, Saturating};

/// Funds on their way out: released by `withdraw_unbonded` from block `unlock_at` on.
#[derive(
	Encode, Decode, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
pub struct UnlockChunk<T: Config> {
	/// Amount that unlocks.
	pub value: BalanceOf<T>,
	/// First block at which it can be withdrawn.
	pub unlock_at: BlockNumberFor<T>,
}

/// Whether a bonded account takes part in tasks (and, for a validator, in elections).
#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum Participation {
	/// Takes part.
	Active,
	/// Bonded but stood aside by `chill` (or by a slash or unbond below the minimum).
	Chilled,
}

/// An account's bond. Every unit in it is held under [`crate::HoldReason::Staking`]:
/// `active + Σ unlocking = held`, which `try_state` checks.
#[derive(
	Encode, Decode, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
pub struct StakingLedger<T: Config> {
	/// The role the bond is for; it changes only after a full unbond and withdrawal.
	pub role: Role,
	/// Bonded and counting as stake.
	pub active: BalanceOf<T>,
	/// Unbonding, oldest first.
	pub unlocking: BoundedVec<UnlockChunk<T>, T::MaxUnlockingChunks>,
	/// Whether the account takes part.
	pub participation: Participation,
}

impl<T: Config> StakingLedger<T> {
	/// A fresh, active bond.
	pub fn new(role: Role, active: BalanceOf<T>) -> Self {
		StakingLedger {
			role,
			active,
			unlocking: BoundedVec::new(),
			participation: Participation::Active,
		}
	}

	/// Everything held for this bond: active plus unlocking.
	pub fn total(&self) -> BalanceOf<T> {
		self.unlocking
			.iter()
			.fold(self.active, |acc, c| acc.saturating_add(c.value))
	}

	/// Whether nothing is left in it.
	pub fn is_empty(&self) -> bool {
		self.active.is_zero() && self.unlocking.is_empty()
	}

	/// Takes up to `amount` from the bond, active first, then the unlocking chunks from the one
	/// that unlocks last (the funds that would have stayed longest). Returns what was taken.
	pub fn take(&mut self, amount: BalanceOf<T>) -> BalanceOf<T> {
		let from_active = amount.min(self.active);
		self.active = self.active.saturating_sub(from_active);
		let mut taken = from_active;
		while taken < amount {
			let Some(last) = self.unlocking.last_mut() else {
				break;
			};
			let part = amount.saturating_sub(taken).min(last.value);
			last.value = last.value.saturating_sub(part);
			taken = taken.saturating_add(part);
			if last.value.is_zero() {
				self.unlocking.pop();
			}
		}
		taken
	}
}
