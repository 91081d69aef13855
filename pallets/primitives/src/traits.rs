//! The small traits through which polchain's pallets meet. Each pallet implements or consumes
//! them; the runtime wires them together. No pallet reads another's storage.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sp_runtime::Perbill;

/// What a bonded account does.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	PartialOrd,
	Ord,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
	serde::Serialize,
	serde::Deserialize,
)]
pub enum Role {
	/// Trains tasks' models and commits to its runs.
	Miner,
	/// Verifies and scores miners; a candidate block authority.
	Validator,
}

/// Who has staked how much, in which role (implemented by the staking pallet).
pub trait StakeInfo<AccountId, Balance> {
	/// The account's active stake (bonded and not unlocking); zero if it has none.
	fn stake_of(who: &AccountId) -> Balance;
	/// The account's role, if it is bonded.
	fn role_of(who: &AccountId) -> Option<Role>;
	/// Whether the account takes part: bonded in `role`, not chilled, at least the minimum bond.
	fn is_active(who: &AccountId, role: Role) -> bool;
}

/// Slashing of bonded funds (implemented by the staking pallet).
pub trait Slash<AccountId, Balance> {
	/// Slashes `fraction` of the account's bonded funds (active and unlocking). Returns what was
	/// slashed. Never fails: an account with nothing bonded is slashed nothing.
	fn slash_fraction(who: &AccountId, fraction: Perbill) -> Balance;
	/// Slashes up to `amount` of the account's bonded funds, active first, then unlocking
	/// chunks. Returns what was slashed, which is less than `amount` if less was bonded.
	fn slash_amount(who: &AccountId, amount: Balance) -> Balance;
}

/// A validator's trust, from its scoring record (implemented by the scoring pallet).
pub trait TrustProvider<AccountId> {
	/// The account's trust in `[0, 1]`.
	fn trust_of(who: &AccountId) -> Perbill;
}

/// Full trust for everyone: the stand-in until the scoring pallet provides a record.
impl<AccountId> TrustProvider<AccountId> for () {
	fn trust_of(_: &AccountId) -> Perbill {
		Perbill::one()
	}
}
