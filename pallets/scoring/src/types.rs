//! The scoring pallet's types: score vectors, reveals and disputes.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use pol_primitives::{SegmentIndex, Verdict};
use scale_info::TypeInfo;
use sp_runtime::Perbill;

/// A validator's score and verdict for one miner's update.
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct ScoreEntry<AccountId> {
	/// The miner.
	pub miner: AccountId,
	/// The update's quality in `[0, 1]`.
	pub score: Perbill,
	/// Whether its challenged segments replayed.
	pub verdict: Verdict,
}

/// What an accuser claims about a segment.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum DisputeKind {
	/// The segment does not replay (a `Fail` verdict): a rejected accuser is slashed.
	Replay,
	/// The segment's checkpoints were not served to the accuser (a `NotServed` verdict): the
	/// voters try to fetch them and replay. A rejected accuser is not slashed: it reported
	/// what it could not get, which is never evidence against it.
	NotServed,
}

/// A dispute over one miner's segment, opened by a `Fail` or `NotServed` verdict.
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct Dispute<AccountId, Balance> {
	/// The validator whose verdict opened it.
	pub accuser: AccountId,
	/// The segment it says does not replay, or was not served.
	pub segment: SegmentIndex,
	/// What the accuser claims.
	pub kind: DisputeKind,
	/// Stake of the validators that found the segment fails (upheld).
	pub upheld: Balance,
	/// Stake of the validators that found it replays (rejected).
	pub rejected: Balance,
}

/// How a dispute ended.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum DisputeOutcome {
	/// The voting stake found the segment fails: the miner is slashed and not paid.
	Upheld,
	/// The voting stake found the segment replays: the accuser of a `Replay` dispute is
	/// slashed (the accuser of a `NotServed` one is not).
	Rejected,
	/// Nobody voted, or the stake tied: nobody is slashed, and the miner is not paid.
	Undecided,
}
