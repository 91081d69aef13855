//! The scoring pallet's types: score vectors, reveals, claims and disputes.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{traits::Get, BoundedVec};
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
	/// voters try to fetch them and replay. A rejected accuser is not slashed: a miner can serve
	/// one validator corrupt bytes and the others good ones, so what one could not get is never
	/// evidence against it. Rejected, the claim withholds nothing.
	NotServed,
}

/// One validator's claim that a segment of a miner's run fails: a `Fail` or `NotServed`
/// verdict in its reveal.
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct Claim<AccountId> {
	/// The validator whose verdict made the claim.
	pub accuser: AccountId,
	/// The segment it says does not replay, or was not served; one of its challenges.
	pub segment: SegmentIndex,
	/// What it claims.
	pub kind: DisputeKind,
}

/// The dispute over one miner's update in a round: every claim against it, and the stake of
/// the votes on it. Each scorer may add one claim (with its reveal), so the first claim
/// never shuts out a later one: an accomplice cannot shield a forged segment by claiming an
/// honest one first.
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(MaxClaims))]
pub struct Dispute<AccountId, Balance, MaxClaims: Get<u32>> {
	/// The claims, in the order they were made; at most one per accuser.
	pub claims: BoundedVec<Claim<AccountId>, MaxClaims>,
	/// Each claimed segment that a revealed vote found failing in its replay, with the stake
	/// (at the reveal) of the votes that did, sorted by segment. A voter's confirmation of a
	/// segment only it claimed is not counted here: its own claim is not evidence; nor is a
	/// segment the voter could not get (a miner can withhold a segment from the voters on
	/// purpose). Decides which passers should have found the forgery: a colluder's false claim
	/// on a segment every validator replays confirms nothing. Which way the dispute goes is
	/// counted from the votes themselves ([`crate::DisputeVotes`]), at the voters' current stake.
	pub confirmed: BoundedVec<(SegmentIndex, Balance), MaxClaims>,
}

impl<AccountId: PartialEq, Balance, MaxClaims: Get<u32>> Dispute<AccountId, Balance, MaxClaims> {
	/// `who`'s claim in this dispute, if it made one.
	pub fn claim_of(&self, who: &AccountId) -> Option<&Claim<AccountId>> {
		self.claims.iter().find(|c| c.accuser == *who)
	}

	/// Whether a validator other than `who` claimed `segment`.
	pub fn claimed_by_another(&self, segment: SegmentIndex, who: &AccountId) -> bool {
		self.claims
			.iter()
			.any(|c| c.segment == segment && c.accuser != *who)
	}
}

/// How a dispute stands with its revealed votes ([`crate::Pallet::dispute_tally`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Tally {
	/// What the votes decide so far: more than half of `eligible` upholds, more than half of
	/// `snapshot` rejects.
	pub outcome: DisputeOutcome,
	/// The stake of the votes that upheld it, each voter at its frozen stake.
	pub upheld: u128,
	/// The stake of the votes that rejected it.
	pub rejected: u128,
	/// The stake eligible to vote, more than half of which upholds: the snapshot's, less a
	/// lone accuser's.
	pub eligible: u128,
	/// The round's snapshot stake, more than half of which rejects.
	pub snapshot: u128,
}

impl Tally {
	/// Whether the dispute keeps its miner's update out of the global model: upheld, or left
	/// undecided with more stake saying the run fails (or was not served) than that it replays:
	/// the votes upholding and a lone accuser's claim against the votes rejecting. Without that
	/// lead the update is aggregated (though unpaid): a claim that no more stake backs than
	/// rejects it (a minimum-bond scorer's, with most honest stake away) censors nothing, while
	/// a forgery that a large honest accuser found alone, or that the voters who could check
	/// it confirmed, stays out even when a minority cartel or a decoy kept the vote from
	/// deciding.
	pub fn excludes(&self) -> bool {
		match self.outcome {
			DisputeOutcome::Upheld => true,
			DisputeOutcome::Rejected => false,
			DisputeOutcome::Undecided => {
				let accuser = self.snapshot.saturating_sub(self.eligible);
				self.upheld.saturating_add(accuser) > self.rejected
			}
		}
	}
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
	/// Scorers holding more than half of the round's snapshot stake found a claimed segment
	/// fails (or could not get it either): the miner is slashed, not paid, and its update is
	/// left out of the global model.
	Upheld,
	/// Scorers holding more than half of the round's snapshot stake found every claimed segment
	/// replays: the accusers of `Replay` claims are slashed (those of `NotServed` claims are
	/// not), and the miner is paid.
	Rejected,
	/// Neither side reached more than half of the snapshot stake (absent voters, a tie): nobody
	/// is slashed and no deposit is lost; the miner is not paid this round.
	Undecided,
}

/// Why one entry of a score reveal was refused (the rest of the reveal stands: one bad entry
/// never voids a validator's whole reveal, nor forfeits its deposit).
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
pub enum EntryRefusal {
	/// The entry names a miner that did not reveal an update in this round.
	MinerNotRevealed,
	/// A `Fail` or `NotServed` verdict names a segment outside `1..=num_segments`.
	InvalidSegment,
	/// A `Fail` or `NotServed` verdict names a segment that is not among the validator's
	/// challenges of that miner (`PolApi::challenges`). Faults of the whole run (the manifest,
	/// leaf 0, a norm read at both ends of an unchallenged segment) are claimed on segment `n`,
	/// which every validator is challenged with.
	SegmentNotChallenged,
}
