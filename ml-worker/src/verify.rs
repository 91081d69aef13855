//! Verification of a proof bundle, as a validator does it (design: "Round protocol", step 3),
//! in phases that each return a typed [`Outcome`]:
//!
//! 1. [`check_commitment`]: the manifest against the task, the round, the miner and the
//!    revealed commitment (root, final model hash); the leaves against the root.
//! 2. The challenge ([`pol_primitives::hashing::challenge_segments`]): segment `n` and `Q − 1`
//!    drawn segments, chosen before any checkpoint is read, so that a remote verification
//!    fetches only what it replays.
//! 3. [`open_checkpoints`]: the needed checkpoints fetched from an artifact server all at
//!    once (or read from a local bundle), each checked against its leaf, each leaf against the
//!    root by its Merkle proof; the norms of the segments whose two ends are read; C_0 against
//!    the round's start; C_n against the revealed final model hash, with finite parameters;
//!    the path ([`PathCheck`]): C_n no farther from C_0 than the committed norms add up to.
//!
//! Every claim names one of the validator's challenged segments, as the chain requires: a fault
//! of a challenged segment's checkpoint on that segment, and a fault of the whole run (the
//! manifest, leaf 0, the path) on segment `n`, which every validator is challenged with.
//! 4. [`replay`]: the challenged segments replayed and compared `exact`ly or within the task's
//!    tolerance (parameters and momentum, relative to the segment's own update).
//! 5. The score: the final model's validation loss against the start model's.
//!
//! Who is at fault decides the outcome. What the miner's committed, served bytes prove wrong is
//! [`Outcome::MinerFault`] (a `Fail` verdict, which a validator can be slashed for if the others
//! disagree, so only reproducible faults are reported). A checkpoint that cannot be had, or whose
//! bytes do not match their leaf, is [`Outcome::NotServed`]: the bytes may have been corrupted on
//! the way or withheld from this validator alone, so it is never reported as a replay failure.
//! The validator's own trouble (its data, device, disk, or a run it cannot replay bit for bit:
//! another determinism profile, other kernels or libtorch) is [`Outcome::Abstain`]: it reports nothing on that miner.

use crate::config::{hex32, parse_hash, ComparisonKind, TaskSpec};
use crate::data::TaskData;
use crate::model::{check_same_layout, hash_named, l2_distance, l2_norm, NamedTensor};
use crate::profile::Pinned;
use crate::proof::{checkpoint_path, checkpoint_size, Checkpoint, Manifest};
use crate::store;
use crate::train::{evaluate, progress_bar, Trainer};
use anyhow::Result;
use pol_primitives::{
	decide, hashing, merkle, serving, AccountBytes, Hash, RoundIndex, SegmentIndex, Verdict,
};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

/// What the validator knows independently of the bundle.
pub struct Expected<'a> {
	/// The task.
	pub spec: &'a TaskSpec,
	/// The round.
	pub round: RoundIndex,
	/// The round seed recorded on chain.
	pub round_seed: Hash,
	/// The miner whose commitment is checked.
	pub miner: AccountBytes,
	/// The round's starting (global) model.
	pub start: &'a [NamedTensor],
	/// The committed checkpoint root, when known.
	pub root: Option<Hash>,
	/// The revealed final model hash (leaf `n`'s, proven on chain), when known.
	pub final_model_hash: Option<Hash>,
	/// The start model's validation loss, when already known ([`start_loss`]): the same for
	/// every miner of a round, so a validator evaluates it once.
	pub start_loss: Option<f64>,
}

/// The validator's side.
pub struct Validator<'a> {
	/// The task's data.
	pub data: &'a TaskData,
	/// The validator's account.
	pub account: AccountBytes,
	/// The validator's challenge randomness: its VRF output over the round's challenge seed
	/// ([`pol_primitives::challenge`]), which the challenges derive from. Offline, any stand-in.
	pub randomness: Hash,
	/// Replay every segment, not only the challenged ones (disputes, audits, tests).
	pub all_segments: bool,
	/// Replay these segments only (a dispute's claimed ones, in this order), instead of the
	/// challenged ones.
	pub only_segments: Option<Vec<SegmentIndex>>,
	/// The determinism profile this process pinned, and what libtorch runs with.
	pub pinned: &'a Pinned,
	/// Show a progress bar.
	pub progress: bool,
	/// When the result is of no more use (the phase its scores are due in ends): a replay still
	/// running then stops and abstains, as it is this validator's lack of time, not the miner's
	/// fault.
	pub deadline: Option<Instant>,
}

/// What a miner's committed, served bytes prove wrong.
#[derive(Clone, Debug, PartialEq)]
pub enum MinerFault {
	/// The manifest (fetched by the hash the commitment names) is not the committed run: another
	/// task, round, miner, shard, start, root or final model, or leaves that do not make the root.
	Manifest(String),
	/// Checkpoint 0 is not the round's starting model with zero momentum.
	StartNotRoundStart,
	/// The last checkpoint's hash is not the final model hash the miner revealed.
	FinalNotRevealed {
		/// The final model hash the bundle names.
		actual: Hash,
		/// The revealed final model hash.
		revealed: Hash,
	},
	/// A checkpoint holds NaN or infinite values.
	NonFinite {
		/// The checkpoint.
		checkpoint: u32,
	},
	/// A checkpoint's tensors are not the task's model (names, shapes, momentum buffers).
	Layout {
		/// The checkpoint.
		checkpoint: u32,
		/// What is wrong.
		why: String,
	},
	/// The update norm of a segment is not what its leaf commits to.
	Norm {
		/// The norm computed from the two checkpoints.
		actual: f32,
		/// The norm in the leaf.
		committed: f32,
	},
	/// The final model is farther from the round's start than the committed update norms add up
	/// to ([`PathCheck`]): some segment moved the model more than its leaf says. Found from
	/// C_0, C_n and the manifest alone, so by every validator and every voter replaying
	/// segment n.
	Path {
		/// `‖C_n − C_0‖₂` over the parameters.
		displacement: f64,
		/// The committed norms `norm_1 + … + norm_n`.
		length: f64,
	},
	/// The segment does not replay to its committed end.
	Replay {
		/// What was compared.
		detail: String,
	},
}

impl fmt::Display for MinerFault {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		match self {
			MinerFault::Manifest(why) => write!(f, "the manifest is not the committed run: {why}"),
			MinerFault::StartNotRoundStart => {
				write!(
					f,
					"checkpoint 0 is not the round's starting model with zero momentum"
				)
			}
			MinerFault::FinalNotRevealed { actual, revealed } => write!(
				f,
				"the run's final model hash is {}, the revealed one is {}",
				hex32(&actual.0),
				hex32(&revealed.0)
			),
			MinerFault::NonFinite { checkpoint } => {
				write!(f, "checkpoint {checkpoint} holds NaN or infinite values")
			}
			MinerFault::Layout { checkpoint, why } => {
				write!(f, "checkpoint {checkpoint} is not the task's model: {why}")
			}
			MinerFault::Norm { actual, committed } => {
				write!(f, "update norm {actual}, the leaf commits to {committed}")
			}
			MinerFault::Path {
				displacement,
				length,
			} => write!(
				f,
				"the final model is {displacement:e} from the round's start, beyond the committed \
				 norms' sum {length:e} and its rounding slack"
			),
			MinerFault::Replay { detail } => write!(f, "does not replay: {detail}"),
		}
	}
}

/// A verification's outcome.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
	/// Every challenged segment replayed; the update is scored.
	Pass,
	/// The miner's committed, served bytes prove this segment wrong: `Fail { segment }`.
	MinerFault {
		/// The segment (1-based; faults of the whole run are reported on segment `n`).
		segment: SegmentIndex,
		/// What is wrong.
		fault: MinerFault,
	},
	/// A checkpoint of this segment (or the manifest, on segment `n`) could not be had, or its
	/// bytes did not match their leaf: `NotServed { segment }`.
	NotServed {
		/// The segment.
		segment: SegmentIndex,
		/// What could not be had.
		what: String,
	},
	/// The validator's own trouble: it reports nothing on this miner.
	Abstain {
		/// Why.
		why: String,
	},
}

impl Outcome {
	/// The verdict to report on chain; `None` to abstain.
	pub fn verdict(&self) -> Option<Verdict> {
		match self {
			Outcome::Pass => Some(Verdict::Pass),
			Outcome::MinerFault { segment, .. } => Some(Verdict::Fail { segment: *segment }),
			Outcome::NotServed { segment, .. } => Some(Verdict::NotServed { segment: *segment }),
			Outcome::Abstain { .. } => None,
		}
	}

	/// The outcome's kind, as metrics label it.
	pub fn kind(&self) -> &'static str {
		match self {
			Outcome::Pass => "pass",
			Outcome::MinerFault { .. } => "fail",
			Outcome::NotServed { .. } => "not_served",
			Outcome::Abstain { .. } => "abstain",
		}
	}

	/// What was found, as [`decide::verdict`] takes it: a fault of the whole run (the manifest,
	/// leaf 0, the final model, the path), or one segment's (its replay, a norm, a checkpoint's
	/// values or layout, a checkpoint not served), or the validator's own trouble.
	pub fn findings(&self) -> (decide::RunFinding, Vec<(SegmentIndex, decide::Finding)>) {
		use decide::{Finding, RunFinding};
		match self {
			Outcome::Pass => (RunFinding::Sound, Vec::new()),
			Outcome::Abstain { .. } => (RunFinding::OwnTrouble, Vec::new()),
			Outcome::MinerFault {
				fault:
					MinerFault::Manifest(_)
					| MinerFault::StartNotRoundStart
					| MinerFault::FinalNotRevealed { .. }
					| MinerFault::Path { .. },
				..
			} => (RunFinding::Faulty, Vec::new()),
			Outcome::MinerFault { segment, .. } => {
				(RunFinding::Sound, vec![(*segment, Finding::Fails)])
			}
			Outcome::NotServed { segment, .. } => {
				(RunFinding::Sound, vec![(*segment, Finding::NotServed)])
			}
		}
	}

	/// Whether the miner is at fault or withheld what was asked: a dispute voter's "upheld".
	pub fn against_miner(&self) -> bool {
		matches!(self, Outcome::MinerFault { .. } | Outcome::NotServed { .. })
	}
}

impl fmt::Display for Outcome {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		match self {
			Outcome::Pass => write!(f, "Pass"),
			Outcome::MinerFault { segment, fault } => {
				write!(f, "Fail {{ segment: {segment} }}: {fault}")
			}
			Outcome::NotServed { segment, what } => {
				write!(f, "NotServed {{ segment: {segment} }}: {what}")
			}
			Outcome::Abstain { why } => write!(f, "Abstain: {why}"),
		}
	}
}

/// The outcome of one replayed segment.
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentCheck {
	/// The segment (1-based).
	pub segment: SegmentIndex,
	/// Whether it replayed to the committed checkpoint.
	pub passed: bool,
	/// Distance of the replayed parameters from the committed ones, relative to the segment's
	/// own update `‖W′ − W_{s−1}‖₂`.
	pub distance: f64,
	/// Distance of the replayed momentum from the committed one, relative to `‖M′‖₂` (0
	/// without momentum).
	pub momentum_distance: f64,
	/// What was compared.
	pub detail: String,
}

/// A verification's result.
#[derive(Clone, Debug)]
pub struct Report {
	/// What the verification found.
	pub outcome: Outcome,
	/// The challenged segments, in order.
	pub challenged: Vec<SegmentIndex>,
	/// The segments replayed (up to the first failure).
	pub segments: Vec<SegmentCheck>,
	/// Score in [0, 1] (0 unless the outcome is `Pass`).
	pub score: f64,
	/// Validation loss of the starting model.
	pub val_loss_start: f64,
	/// Validation loss of the final model.
	pub val_loss_final: f64,
	/// Validation accuracy of the final model.
	pub val_accuracy: f64,
	/// SGD steps replayed.
	pub replayed_steps: u64,
	/// Seconds spent replaying.
	pub replay_secs: f64,
	/// Seconds in all.
	pub total_secs: f64,
	/// What was fetched, for a remote verification.
	pub fetched: Option<Fetched>,
	/// The final checkpoint, verified, when the outcome is `Pass`: its parameters are the update
	/// a validator aggregates (never a file fetched apart from the verification).
	pub final_checkpoint: Option<Checkpoint>,
}

impl Report {
	fn new() -> Report {
		Report {
			outcome: Outcome::Pass,
			challenged: Vec::new(),
			segments: Vec::new(),
			score: 0.0,
			val_loss_start: f64::NAN,
			val_loss_final: f64::NAN,
			val_accuracy: f64::NAN,
			replayed_steps: 0,
			replay_secs: 0.0,
			total_secs: 0.0,
			fetched: None,
			final_checkpoint: None,
		}
	}

	/// A report of a verification that stopped before it began: `outcome` says why (a manifest
	/// that could not be fetched, the validator's own trouble).
	pub fn stopped(outcome: Outcome) -> Report {
		let mut r = Report::new();
		r.outcome = outcome;
		r
	}

	/// The verdict to report on chain; `None` to abstain.
	pub fn verdict(&self) -> Option<Verdict> {
		self.outcome.verdict()
	}

	/// Why the outcome is not `Pass`.
	pub fn reason(&self) -> Option<String> {
		match &self.outcome {
			Outcome::Pass => None,
			other => Some(other.to_string()),
		}
	}

	/// The failing segment, if the miner is at fault.
	pub fn failed_segment(&self) -> Option<SegmentIndex> {
		match self.outcome {
			Outcome::MinerFault { segment, .. } => Some(segment),
			_ => None,
		}
	}
}

/// The score of an update from the validation loss of the starting model (L₀) and of the
/// update (L₁): `L₀ / (L₀ + L₁)`, that is `1 / (1 + L₁/L₀)`. It is 1/2 for no change, tends to 1
/// as the loss falls to 0 and to 0 as it grows; it is smooth and never clamps. A clamped
/// `(L₀ − L₁)/L₀` was tried first: on non-IID shards, once the global model is good, no single
/// miner's update beats it on the balanced validation set, every score is 0 and federated
/// training stalls, although the average of those updates would still improve the model.
pub fn score(val_loss_start: f64, val_loss_final: f64) -> f64 {
	let ok = |l: f64| l.is_finite() && l >= 0.0;
	if !ok(val_loss_start) || !ok(val_loss_final) || val_loss_start + val_loss_final <= 0.0 {
		return 0.0;
	}
	val_loss_start / (val_loss_start + val_loss_final)
}

/// The validation loss of a round's start model, which every update of the round is scored
/// against.
pub fn start_loss(
	spec: &TaskSpec,
	start: &[NamedTensor],
	data: &TaskData,
	pinned: &Pinned,
) -> Result<f64> {
	let dataset = data.on(pinned.device());
	let (loss, _) = evaluate(
		spec,
		start,
		&dataset,
		&data.split.validation,
		pinned.device(),
	)?;
	Ok(loss)
}

/// An artifact server to verify a bundle from, checkpoint by checkpoint.
pub struct Remote<'a> {
	/// The server, `http://host:port`.
	pub base: &'a str,
	/// Largest artifact fetched.
	pub max_bytes: u64,
	/// Bytes of the manifest, already fetched into the bundle directory by its hash
	/// ([`crate::store::fetch_manifest`]).
	pub manifest_bytes: u64,
	/// Show a progress bar per download.
	pub progress: bool,
	/// How long and how slowly each checkpoint may come (a validator ties the deadline to the
	/// end of the phase its scores are due in).
	pub policy: store::FetchPolicy,
	/// When this validator first asked the server for this run (the manifest's request): what
	/// the server owes, the manifest and every checkpoint asked for with it, is counted from
	/// then ([`store::FetchPolicy::blames_server_of`]).
	pub asked_at: Instant,
	/// Checkpoint requests in flight at once, 1 to [`MAX_PARALLEL_FETCHES`] (and at most
	/// `held`'s count).
	pub lanes: usize,
	/// This process's lanes to the server ([`store::lanes_to`]), taken before `asked_at`: the
	/// batch's requests run under them and never wait for one while the server's debt runs;
	/// handed back once the batch is fetched. `None`: each request takes a lane of its own
	/// (its wait then inside what it gives the server: only for a server nobody else here asks).
	pub held: Option<&'a store::Lanes>,
	/// Held while replaying: every miner's checkpoints are fetched at once, from the phase's
	/// start, and only as many replays run at a time as the cores hold, in the order of their
	/// ranks. `None`: no limit.
	pub compute: Option<Turns<'a>>,
}

/// Where a verification's replays queue for the cores ([`crate::pool::Gate`]): at the job's
/// rank, and each segment at its own when it has one (a dispute's claimed segments, ranked
/// across every miner by [`decide::check_order`]), in the order of those ranks. Between two
/// segments the job gives its place to any replay ranked before its next.
#[derive(Clone)]
pub struct Turns<'a> {
	/// The gate.
	pub gate: &'a crate::pool::Gate,
	/// The job's rank: its first replay's.
	pub rank: u64,
	/// Segments' own ranks.
	pub segments: BTreeMap<SegmentIndex, u64>,
}

impl Turns<'_> {
	/// Segment `s`'s rank.
	pub fn of(&self, s: SegmentIndex) -> u64 {
		self.segments.get(&s).copied().unwrap_or(self.rank)
	}
}

/// What a remote verification fetched.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fetched {
	/// The checkpoints fetched, in order.
	pub checkpoints: Vec<u32>,
	/// Bytes fetched: the manifest and those checkpoints.
	pub bytes: u64,
	/// Bytes of the whole bundle: the manifest and its n + 1 checkpoints (every checkpoint of a
	/// run has the same tensors, so the same size as the ones fetched).
	pub total_bytes: u64,
}

/// Verifies the bundle in `bundle`, on disk: every checkpoint is read and checked. `Err` only
/// for a misuse (a segment out of range); everything else is in the report's outcome.
pub fn verify_bundle(bundle: &Path, expected: &Expected, v: &Validator) -> Result<Report> {
	verify_with(&Files::local(bundle), expected, v)
}

/// Verifies a bundle served by `remote` whose manifest is already in `dir` (fetched and
/// checked against its hash): only the checkpoints the verification needs are fetched into
/// `dir`, all asked for at once before any is used (in an order drawn from the validator's
/// private randomness, each under the exact size of the task's checkpoints), then each checked
/// against its leaf and the leaf against the root by its Merkle proof. A needed checkpoint the
/// server does not deliver in the time the minimum rate allows it is `NotServed`, whenever the
/// deadline then falls: only a fetch this validator began too late, or its own disk, is its
/// own trouble.
/// Those are C_{s−1} and C_s of each challenged segment s (segment n among them, so C_n, whose
/// parameters are the update that is scored); C_0 is the round's start, which the validator
/// builds and checks against leaf 0 without fetching it (unless segment 1 is challenged, whose
/// replay starts from the file). With `all_segments` every checkpoint is fetched.
pub fn verify_remote(
	dir: &Path,
	remote: &Remote,
	expected: &Expected,
	v: &Validator,
) -> Result<Report> {
	let files = Files {
		remote: Some(remote),
		..Files::local(dir)
	};
	let mut report = verify_with(&files, expected, v)?;
	let fetched = files.fetched.into_inner();
	let ckpt_bytes: u64 = fetched.values().sum();
	let each = fetched.values().next().copied().unwrap_or(0);
	let n = Manifest::read(dir)
		.map(|m| m.checkpoints.len() as u64)
		.unwrap_or(0);
	report.fetched = Some(Fetched {
		checkpoints: fetched.keys().copied().collect(),
		bytes: remote.manifest_bytes + ckpt_bytes,
		total_bytes: remote.manifest_bytes + each * n,
	});
	Ok(report)
}

/// [`verify_remote`] of the run whose manifest is `manifest_hash` on the server `base`, into
/// `dir`, under the store's default size limit and fetch policy (no deadline of a phase): the
/// manifest fetched first, then what the challenge needs.
pub fn verify_served(
	dir: &Path,
	base: &str,
	manifest_hash: &Hash,
	expected: &Expected,
	v: &Validator,
) -> Result<Report> {
	verify_served_within(
		dir,
		base,
		manifest_hash,
		expected,
		v,
		store::FetchPolicy::default(),
	)
}

/// [`verify_served`] under `policy` (a deadline, a minimum rate).
pub fn verify_served_within(
	dir: &Path,
	base: &str,
	manifest_hash: &Hash,
	expected: &Expected,
	v: &Validator,
	policy: store::FetchPolicy,
) -> Result<Report> {
	let max_bytes = store::DEFAULT_MAX_BYTES;
	// This process's lanes to the server for this miner before its debt is counted
	// ([`store::lanes_for`]).
	let Some(held) = store::lanes_for(base, &expected.miner, MAX_PARALLEL_FETCHES, policy.deadline)
	else {
		return Ok(Report::stopped(Outcome::Abstain {
			why: format!("{}", store::FetchError::NoLane),
		}));
	};
	let asked_at = Instant::now();
	let manifest_policy = store::FetchPolicy {
		lane_held: true,
		..policy.clone()
	};
	let manifest_bytes =
		store::fetch_manifest(base, manifest_hash, dir, max_bytes, false, &manifest_policy)?;
	let remote = Remote {
		base,
		max_bytes,
		manifest_bytes,
		progress: false,
		policy,
		asked_at,
		lanes: held.count(),
		held: Some(&held),
		compute: None,
	};
	verify_remote(dir, &remote, expected, v)
}

/// Most checkpoints of one miner fetched from its server at once: a quarter of a server's
/// default cap per peer ([`store::ServerLimits`]), so that a verification's requests are never
/// refused for being too many. All of this process's fetches of one miner's artifacts together
/// keep to it ([`store::lanes_for`]), and its other fetches from the server to as many
/// ([`store::lanes_to`]).
pub const MAX_PARALLEL_FETCHES: usize = serving::FETCH_LANES as usize;

/// Where a verification reads the checkpoint files: a bundle directory, filled from an artifact
/// server when there is one ([`Files::fetch_all`]).
struct Files<'a> {
	dir: std::path::PathBuf,
	remote: Option<&'a Remote<'a>>,
	/// Checkpoints fetched and checked against their leaves, with their sizes.
	fetched: RefCell<BTreeMap<u32, u64>>,
	/// Checkpoints [`Files::fetch_all`] downloaded, not yet checked: their sizes, or why they
	/// could not be had.
	downloaded: RefCell<BTreeMap<u32, std::result::Result<u64, Miss>>>,
	/// The size of every checkpoint of the run, from the task's model, once known.
	size: Cell<Option<u64>>,
}

/// Why a checkpoint could not be used.
#[derive(Clone, Debug)]
enum Miss {
	/// Not handed out (missing, oversized, unreachable, not delivered in the time it was owed
	/// in), or bytes that do not match their leaf: withheld, or corrupted on the way, which this
	/// validator cannot tell apart.
	NotServed(String),
	/// The validator's own trouble (its disk, or a fetch it began too late).
	Local(String),
}

impl<'a> Files<'a> {
	fn local(dir: &Path) -> Files<'a> {
		Files {
			dir: dir.to_path_buf(),
			remote: None,
			fetched: RefCell::new(BTreeMap::new()),
			downloaded: RefCell::new(BTreeMap::new()),
			size: Cell::new(None),
		}
	}

	/// Fetches every checkpoint of `needed` not fetched yet, each of exactly `size` bytes, all
	/// at once: up to [`MAX_PARALLEL_FETCHES`] requests in flight, in an order shuffled by
	/// `seed` (the validator's private randomness), so that the server sees the requests
	/// together and learns nothing from their order; it cannot answer the others and then stall
	/// the last one asked (C_n, say) once it knows the challenge. Returns when every one has
	/// arrived or failed; [`Files::checkpoint`] then checks each against its leaf. Nothing to do
	/// for a local bundle.
	fn fetch_all(&self, m: &Manifest, needed: &BTreeSet<u32>, size: u64, seed: &Hash) {
		self.size.set(Some(size));
		let Some(r) = self.remote else {
			return;
		};
		let mut order: Vec<u32> = {
			let fetched = self.fetched.borrow();
			let downloaded = self.downloaded.borrow();
			needed
				.iter()
				.copied()
				.filter(|j| !fetched.contains_key(j) && !downloaded.contains_key(j))
				.collect()
		};
		shuffle(&mut order, seed);
		// The lanes this batch has: what it asked for, within what it holds.
		let width = r
			.lanes
			.min(r.held.map_or(MAX_PARALLEL_FETCHES, |h| h.count()))
			.clamp(1, MAX_PARALLEL_FETCHES);
		let lanes = order.len().min(width);
		// The server owes the whole batch, the manifest included, from the first request: a
		// request it lets wait behind the others (or behind a wave of them) is no later for it.
		// Its waves are of `width` requests: fewer lanes than the protocol's, more waves, each
		// with its allowance.
		let bytes = r
			.manifest_bytes
			.saturating_add(size.saturating_mul(order.len() as u64));
		let requests = u32::try_from(order.len().div_ceil(width) + 1)
			.unwrap_or(u32::MAX)
			.saturating_mul(serving::FETCH_LANES);
		let owed = Owed::batch(r, r.asked_at, bytes, requests, r.held.is_some());
		let queue = Mutex::new(order.into_iter().collect::<VecDeque<u32>>());
		let done = Mutex::new(Vec::new());
		let dir = self.dir.as_path();
		std::thread::scope(|scope| {
			for _ in 0..lanes {
				scope.spawn(|| loop {
					let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
					let Some(j) = next else { break };
					let got = download(r, dir, m, j, size, owed.clone(), r.progress && lanes == 1);
					done.lock()
						.unwrap_or_else(|e| e.into_inner())
						.push((j, got));
				});
			}
		});
		let done = done.into_inner().unwrap_or_else(|e| e.into_inner());
		self.downloaded.borrow_mut().extend(done);
		// The batch is in: the replays that follow need no connection to the server, and this
		// host's other fetches from it may have the lanes.
		if let Some(held) = r.held {
			held.release();
		}
	}

	/// The first checkpoint (in order) [`Files::fetch_all`] could not have from the server,
	/// with why: a miss of the server's, reported before any trouble of this validator's own.
	fn first_withheld(&self) -> Option<(u32, String)> {
		self.downloaded
			.borrow()
			.iter()
			.find_map(|(&j, got)| match got {
				Err(Miss::NotServed(what)) => Some((j, what.clone())),
				_ => None,
			})
	}

	/// Checkpoint `j`, checked against its leaf's model hash: from a server, what
	/// [`Files::fetch_all`] downloaded (or, were it not among those, fetched now alone).
	fn checkpoint(&self, m: &Manifest, j: u32) -> std::result::Result<Checkpoint, Miss> {
		let path =
			checkpoint_path(&self.dir, m, j).map_err(|e| Miss::NotServed(format!("{e:#}")))?;
		if let Some(r) = self.remote {
			if !self.fetched.borrow().contains_key(&j) {
				let pending = self.downloaded.borrow().get(&j).cloned();
				let bytes = match pending {
					Some(got) => got?,
					None => {
						let size = self.size.get().ok_or_else(|| {
							Miss::Local(format!("checkpoint {j}: the checkpoint size is unknown"))
						})?;
						// A lane before the server's debt is counted: the batch's, if still
						// held, else one of its own.
						let own = match r.held {
							Some(h) if h.is_held() => None,
							Some(h) => Some(h.more(1, r.policy.deadline)),
							None => Some(store::lanes_to(r.base, 1, r.policy.deadline)),
						};
						if own.as_ref().is_some_and(Option::is_none) {
							return Err(Miss::Local(format!(
								"checkpoint {j}: {}",
								store::FetchError::NoLane
							)));
						}
						let owed = Owed::batch(r, Instant::now(), size, 1, true);
						let got = download(r, &self.dir, m, j, size, owed, r.progress);
						drop(own);
						got?
					}
				};
				// Downloaded beside the checkpoint's file, and renamed to it only once checked:
				// bytes that are not the leaf's are not the run's, and a later reading (a
				// dispute's) must not find them.
				let part = path.with_extension("fetched");
				let read = std::fs::read(&part)
					.map_err(|e| Miss::Local(format!("reading {}: {e}", part.display())));
				let c = read.and_then(|bytes| checked(&bytes, m, j).map_err(Miss::NotServed));
				let c = match c {
					Ok(c) => c,
					Err(miss) => {
						let _ = std::fs::remove_file(&part);
						self.downloaded.borrow_mut().insert(j, Err(miss.clone()));
						return Err(miss);
					}
				};
				std::fs::rename(&part, &path)
					.map_err(|e| Miss::Local(format!("storing checkpoint {j}: {e}")))?;
				self.downloaded.borrow_mut().remove(&j);
				self.fetched.borrow_mut().insert(j, bytes);
				return Ok(c);
			}
		}
		let bytes = match std::fs::read(&path) {
			Ok(b) => b,
			Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
				return Err(Miss::NotServed(format!(
					"checkpoint {j}: {} is missing",
					path.display()
				)))
			}
			Err(e) => return Err(Miss::Local(format!("reading {}: {e}", path.display()))),
		};
		checked(&bytes, m, j).map_err(Miss::NotServed)
	}
}

/// What a server owes a validator: a batch asked for together `since` then, due `within` of it.
/// Nothing of the batch is waited for past then (nor past the validator's deadline): the
/// replays get the rest of the phase whenever the server delivers.
#[derive(Clone)]
struct Owed {
	since: Instant,
	within: std::time::Duration,
	/// `r`'s policy, its deadline the batch's due time when that falls before it, with retries
	/// until then.
	policy: store::FetchPolicy,
}

impl Owed {
	/// `lane_held`: whether the batch's requests run under lanes taken before `since`
	/// ([`Remote::held`]).
	fn batch(r: &Remote, since: Instant, bytes: u64, requests: u32, lane_held: bool) -> Owed {
		let within = r.policy.time_owed_batch(bytes, requests);
		let policy = store::FetchPolicy {
			lane_held,
			..r.policy.owing(since, within)
		};
		Owed {
			since,
			within,
			policy,
		}
	}
}

/// Downloads checkpoint `j` (exactly `size` bytes) from `r` beside its file in `dir`
/// (`<file>.fetched`), unchecked, as part of the batch `owed`. A failure is the server's unless
/// it is this validator's own: its disk, or a timeout of a batch begun too late to be owed by the
/// deadline ([`store::FetchPolicy::blames_server_of`]).
fn download(
	r: &Remote,
	dir: &Path,
	m: &Manifest,
	j: u32,
	size: u64,
	owed: Owed,
	progress: bool,
) -> std::result::Result<u64, Miss> {
	let path = checkpoint_path(dir, m, j).map_err(|e| Miss::NotServed(format!("{e:#}")))?;
	let hash = parse_hash(&m.checkpoints[j as usize].model_hash)
		.map_err(|e| Miss::NotServed(format!("checkpoint {j}: {e:#}")))?;
	if size > r.max_bytes {
		return Err(Miss::Local(format!(
			"checkpoint {j}: the task's checkpoints are {size} bytes, over this validator's \
			 limit of {} bytes",
			r.max_bytes
		)));
	}
	let part = path.with_extension("fetched");
	let url = store::artifact_url(r.base, &hash);
	if Instant::now() >= owed.policy.deadline {
		// Never asked for: the lanes were held until the deadline by the server's answers to
		// the batch's other requests, one of which it withheld (and is reported); of this one
		// the server is not shown to have withheld anything.
		return Err(Miss::Local(format!(
			"checkpoint {j}: not asked for before the deadline"
		)));
	}
	// At most the checkpoint's exact size: a larger Content-Length is refused before a byte
	// of the body is read, and is the server's doing.
	store::download(
		&url,
		&part,
		size,
		progress,
		&owed.policy,
		None,
		store::Keep::Cache,
	)
	.map(|d| d.bytes)
	.map_err(|e| {
		let why = format!("fetching checkpoint {j}: {e}");
		if r.policy.blames_server_of(&e, owed.since, owed.within) {
			Miss::NotServed(why)
		} else {
			Miss::Local(why)
		}
	})
}

/// Shuffles `items` by `seed` (Fisher–Yates over `blake2_256(seed ‖ "pol-fetch-order" ‖ i)`):
/// an order the server cannot predict without the validator's private randomness.
pub(crate) fn shuffle(items: &mut [u32], seed: &Hash) {
	for i in (1..items.len()).rev() {
		let parts: [&[u8]; 3] = [
			seed.as_bytes(),
			b"pol-fetch-order",
			&(i as u64).to_le_bytes(),
		];
		let h = hashing::hash(&parts.concat());
		let mut prefix = [0u8; 8];
		prefix.copy_from_slice(&h.as_bytes()[..8]);
		let at = (u64::from_le_bytes(prefix) % (i as u64 + 1)) as usize;
		items.swap(i, at);
	}
}

/// Checkpoint `j`'s bytes, parsed and checked against its leaf's model hash.
fn checked(bytes: &[u8], m: &Manifest, j: u32) -> std::result::Result<Checkpoint, String> {
	let c = Checkpoint::from_safetensors(bytes).map_err(|e| format!("checkpoint {j}: {e:#}"))?;
	let hash = c.hash().map_err(|e| format!("checkpoint {j}: {e:#}"))?;
	let committed = &m.checkpoints[j as usize].model_hash;
	if &hex32(&hash.0) != committed {
		return Err(format!(
			"checkpoint {j} hashes to {}, its leaf says {committed}",
			hex32(&hash.0)
		));
	}
	Ok(c)
}

/// A manifest checked against the commitment, with its leaves and root.
pub struct Opened {
	/// The manifest.
	pub manifest: Manifest,
	/// Its leaves, which make the committed root.
	pub leaves: Vec<Hash>,
	/// The root.
	pub root: Hash,
}

/// Phase 1: the manifest in `bundle` against the task, the round, the miner and the revealed
/// commitment.
pub fn check_commitment(
	bundle: &Path,
	expected: &Expected,
) -> std::result::Result<Opened, Outcome> {
	let n = expected.spec.num_segments().max(1);
	let fault = |why: String| Outcome::MinerFault {
		segment: n,
		fault: MinerFault::Manifest(why),
	};
	let path = bundle.join(crate::proof::MANIFEST_FILE);
	if !path.exists() {
		return Err(Outcome::NotServed {
			segment: n,
			what: format!("the manifest ({} is missing)", path.display()),
		});
	}
	// The manifest's bytes hash to what the commitment names (fetched by that hash), so what
	// is in it is the miner's word.
	let m = Manifest::read(bundle).map_err(|e| fault(format!("{e:#}")))?;
	check_manifest(&m, expected).map_err(fault)?;
	let leaves = m.leaves().map_err(|e| fault(format!("{e:#}")))?;
	let root = merkle::root(&leaves);
	if hex32(&root.0) != m.checkpoint_root {
		return Err(fault(format!(
			"the leaves make the root {}, the manifest says {}",
			hex32(&root.0),
			m.checkpoint_root
		)));
	}
	if let Some(committed) = expected.root {
		if committed != root {
			return Err(fault(format!(
				"the bundle's root {} is not the committed root {}",
				hex32(&root.0),
				hex32(&committed.0)
			)));
		}
	}
	for (j, e) in m.checkpoints.iter().enumerate() {
		let ok = parse_hash(&e.model_hash)
			.map(|h| hashing::leaf_hash(j as u32, &h, e.update_norm) == leaves[j])
			.unwrap_or(false);
		if !ok {
			return Err(fault(format!(
				"leaf {j} is not the hash of its model hash and norm"
			)));
		}
	}
	// The final model hash is leaf n's model hash: the last checkpoint, all of it.
	let last = m.checkpoints.last().map(|c| c.model_hash.as_str());
	let named = parse_hash(&m.final_model_hash).unwrap_or_default();
	if last != Some(m.final_model_hash.as_str()) {
		return Err(Outcome::MinerFault {
			segment: n,
			fault: MinerFault::Manifest(format!(
				"the final model hash {} is not the last checkpoint's",
				m.final_model_hash
			)),
		});
	}
	if let Some(revealed) = expected.final_model_hash {
		if revealed != named {
			return Err(Outcome::MinerFault {
				segment: n,
				fault: MinerFault::FinalNotRevealed {
					actual: named,
					revealed,
				},
			});
		}
	}
	Ok(Opened {
		manifest: m,
		leaves,
		root,
	})
}

/// The checkpoints opened in phase 3 that the replay reads again: the ends of the challenged
/// segments and the final one, parsed and checked once.
type Kept = BTreeMap<u32, Checkpoint>;

/// Phase 3: opens the checkpoints `needed` (a sorted set that holds `n`), each against its leaf
/// and the root; checks their layout and values, the norms of the challenged segments, C_0
/// against the round's start, and the path from C_0 to C_n against the committed norms
/// ([`PathCheck`]). Returns the final checkpoint and, of the others, those in `keep`.
fn open_checkpoints(
	files: &Files,
	o: &Opened,
	expected: &Expected,
	needed: &BTreeSet<u32>,
	keep: &BTreeSet<u32>,
	challenged: &[SegmentIndex],
	progress: bool,
) -> std::result::Result<(Checkpoint, Kept), Outcome> {
	let m = &o.manifest;
	let n = m.num_segments;
	let spec = expected.spec;
	let layout: Vec<(String, Vec<u64>)> = expected
		.start
		.iter()
		.map(|t| (t.name.clone(), t.dims.clone()))
		.collect();
	let momentum_layout: &[(String, Vec<u64>)] = if spec.momentum() > 0.0 { &layout } else { &[] };
	// A fault of the whole run (leaf 0, a norm of a segment this validator was not challenged
	// with) is reported on segment n, which every validator replays (in a dispute's replay of
	// one segment, on that one): a claim must be among the claimant's challenges.
	let home = decide::home_segment(challenged, n).unwrap_or(n.max(1));
	let whole_run = |fault: MinerFault| Outcome::MinerFault {
		segment: home,
		fault,
	};
	// The segment a missing or bad checkpoint j is reported on: a challenged one it ends or
	// starts (j ends segment j; C_0 starts segment 1), else (C_n in a dispute's replay of
	// another segment) the home one.
	let segment_of = |j: u32| -> SegmentIndex {
		challenged
			.iter()
			.copied()
			.find(|&s| s == j || s == j + 1)
			.unwrap_or(home)
	};
	let abstain = |why: String| Outcome::Abstain { why };
	if !needed.contains(&0) {
		// C_0 is the round's start with zero momentum: the validator builds it and checks
		// leaf 0's model hash against it instead of fetching it.
		let c0 = Checkpoint::start(expected.start.to_vec(), spec.momentum() > 0.0);
		let h = c0.hash().map_err(|e| abstain(format!("{e:#}")))?;
		if hex32(&h.0) != m.checkpoints[0].model_hash {
			return Err(whole_run(MinerFault::StartNotRoundStart));
		}
	}
	let bar = progress_bar(progress, needed.len() as u64, "hash");
	let mut kept = Kept::new();
	let mut prev: Option<(u32, Checkpoint)> = None;
	for &j in needed {
		let proven = merkle::proof(&o.leaves, j)
			.map(|p| merkle::verify(&o.root, &p.siblings, n + 1, j, &o.leaves[j as usize]))
			.unwrap_or(false);
		if !proven {
			// The leaves make the root (phase 1): a proof that does not open is this
			// validator's own error.
			return Err(abstain(format!("leaf {j} is not proven against the root")));
		}
		let c = match files.checkpoint(m, j) {
			Ok(c) => c,
			Err(Miss::NotServed(what)) => {
				return Err(Outcome::NotServed {
					segment: segment_of(j),
					what,
				})
			}
			// This validator's own trouble, unless the server withheld another checkpoint it
			// needs: that is reported instead.
			Err(Miss::Local(why)) => {
				return Err(match files.first_withheld() {
					Some((i, what)) => Outcome::NotServed {
						segment: segment_of(i),
						what,
					},
					None => abstain(why),
				})
			}
		};
		// The committed bytes themselves: their shape and values are the miner's word.
		let fault = |fault: MinerFault| Outcome::MinerFault {
			segment: segment_of(j),
			fault,
		};
		if let Err(e) = check_same_layout(&layout, &c.params)
			.and_then(|_| check_same_layout(momentum_layout, &c.momentum))
		{
			return Err(fault(MinerFault::Layout {
				checkpoint: j,
				why: format!("{e:#}"),
			}));
		}
		let finite = c
			.params
			.iter()
			.chain(&c.momentum)
			.all(|t| t.data.iter().all(|x| x.is_finite()));
		if !finite {
			return Err(fault(MinerFault::NonFinite { checkpoint: j }));
		}
		if let Some((i, p)) = &prev {
			if *i + 1 == j && norm_checked(challenged, j) {
				let norm = l2_distance(&c.params, &p.params)
					.map_err(|e| abstain(format!("{e:#}")))? as f32;
				let committed = m.checkpoints[j as usize].update_norm;
				if norm.to_bits() != committed.to_bits() {
					let fault = MinerFault::Norm {
						actual: norm,
						committed,
					};
					// Segment j is challenged (`norm_checked`): a voter replaying it reads both
					// ends and finds the same.
					return Err(Outcome::MinerFault { segment: j, fault });
				}
			}
		}
		if j == 0 {
			let start = hash_named(expected.start).map_err(|e| abstain(format!("{e:#}")))?;
			let start_ok = c.model_hash().map_err(|e| abstain(format!("{e:#}")))? == start
				&& c.momentum.iter().all(|t| t.data.iter().all(|&x| x == 0.0));
			if !start_ok {
				return Err(whole_run(MinerFault::StartNotRoundStart));
			}
		}
		if let Some((i, p)) = prev.take() {
			if keep.contains(&i) {
				kept.insert(i, p);
			}
		}
		prev = Some((j, c));
		bar.inc(1);
	}
	bar.finish_and_clear();
	match prev {
		// C_n matched leaf n, whose model hash phase 1 tied to the revealed final model hash.
		Some((j, c)) if j == n => {
			// C_0 is the round's start (leaf 0 was checked against it above, built here or
			// fetched): every check, a voter's of segment n included, reads both ends of the path.
			let norms = m.norms();
			let path = PathCheck::of(expected.start, &c.params, norms.get(1..).unwrap_or(&[]))
				.map_err(|e| abstain(format!("measuring the path: {e:#}")))?;
			if !path.holds() {
				return Err(whole_run(MinerFault::Path {
					displacement: path.displacement,
					length: path.length,
				}));
			}
			if keep.contains(&j) {
				kept.insert(j, c.clone());
			}
			Ok((c, kept))
		}
		_ => Err(abstain("the final checkpoint was not opened".into())),
	}
}

/// Relative slack of the path check: `2⁻²⁰` of the committed norms' sum, three times the worst
/// rounding an honest run's numbers carry ([`PathCheck`]).
pub const PATH_SLACK: f64 = 1.0 / (1u64 << 20) as f64;

/// Absolute slack of the path check: `2⁻¹²⁶` (`f32::MIN_POSITIVE`), above what rounding norms
/// to subnormal `f32`s can take off their sum (at most `2⁻¹⁵⁰` each, `2⁻¹⁴⁰` for 1024 segments).
pub const PATH_FLOOR: f64 = f32::MIN_POSITIVE as f64;

/// The path check (issue 26 §7): the final model may be no farther from the round's start than
/// the committed update norms add up to, `‖C_n − C_0‖₂ ≤ Σ_{j=1..n} norm_j`, up to rounding.
///
/// Why: a forger who jumps in an interior segment j (C_j anywhere, the rest trained honestly
/// from it) is caught only by a validator challenged with j. Every validator reads C_0 (the
/// round's start) and C_n (segment n is always challenged) and has every leaf's norm, so the
/// triangle inequality is checked by all of them alike, and by every voter replaying segment n:
/// a jump whose norm is understated by more than the honest path's room (the committed norms'
/// sum less the honest displacement) is found by every validator, on segment n. A jump whose
/// norm is stated passes the check: the check bounds no jump by itself, it puts the jump's size
/// into the committed manifest (docs/SECURITY.md, "One forged transition").
///
/// Rounding, for runs of up to `2³⁰` parameters and `MAX_SEGMENTS` (1024) segments (`u = 2⁻⁵³`):
/// in exact arithmetic over the committed `f32` values, `‖C_n − C_0‖ ≤ Σ ‖C_j − C_{j−1}‖`. Each
/// side is summed as a norm is (docs/PROTOCOL.md, "Leaves, hashes, norms"): the `f64` difference,
/// square and sum of `N` terms and the square root are within `(N + 3)·u ≤ 2⁻²³` of the exact
/// norm; each norm's rounding to `f32` takes off at most `2⁻²⁴` of it (or `2⁻¹⁵⁰` below
/// `2⁻¹²⁶`); the `f64` sum of `n ≤ 1024` norms at most `2⁻⁴³`. So an honest run's displacement
/// exceeds its norms' sum by less than `2⁻²¹·Σ + 2⁻¹⁴⁰`, and [`PATH_SLACK`] and [`PATH_FLOOR`]
/// cover that with room to spare: no honest run fails the check, on any host.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PathCheck {
	/// `‖C_n − C_0‖₂` over the parameters, summed as a norm is, left in `f64`.
	pub displacement: f64,
	/// `Σ_{j=1..n} f64(norm_j)`, the committed norms summed in `f64` in the order of `j`.
	pub length: f64,
}

impl PathCheck {
	/// The path from `start` (C_0's parameters) to `last` (C_n's) against `norms`, the committed
	/// `norm_1 … norm_n` (leaf 0's is not among them). `Err` only when the two models' tensors
	/// differ in names or shapes.
	pub fn of(start: &[NamedTensor], last: &[NamedTensor], norms: &[f32]) -> Result<PathCheck> {
		Ok(PathCheck {
			displacement: l2_distance(last, start)?,
			length: norms.iter().map(|&x| f64::from(x)).sum(),
		})
	}

	/// The largest displacement the committed norms allow: `length·(1 + 2⁻²⁰) + 2⁻¹²⁶`, in `f64`
	/// in that order.
	pub fn bound(&self) -> f64 {
		self.length * (1.0 + PATH_SLACK) + PATH_FLOOR
	}

	/// Whether the run passes: `displacement ≤ bound`. A NaN (a committed norm no honest run
	/// writes) fails it; an infinite one passes it (the bound then says nothing).
	pub fn holds(&self) -> bool {
		self.displacement <= self.bound()
	}

	/// How much farther the final model could be from the start under the same norms:
	/// `bound − displacement` (negative when the check fails).
	pub fn room(&self) -> f64 {
		self.bound() - self.displacement
	}
}

/// Phase 4: replays the challenged segments and compares them with their committed ends.
fn replay(
	files: &Files,
	o: &Opened,
	kept: &Kept,
	expected: &Expected,
	v: &Validator,
	report: &mut Report,
	turn: &mut Option<(&Turns, &mut crate::pool::Pass)>,
) -> std::result::Result<(), Outcome> {
	let m = &o.manifest;
	let spec = expected.spec;
	let abstain = |why: String| Outcome::Abstain { why };
	let (_, shard) = v
		.data
		.shard_for(spec, &expected.miner)
		.map_err(|e| abstain(format!("loading the miner's shard: {e:#}")))?;
	let dataset = v.data.on(v.pinned.device());
	let data_seed = hashing::data_seed(&expected.round_seed, &expected.miner);
	let k = spec.hyperparameters.checkpoint_interval;
	let bar = progress_bar(
		v.progress,
		report.challenged.len() as u64 * u64::from(k),
		"replay",
	);
	let started = Instant::now();
	let mut order = report.challenged.clone();
	if let Some((turns, _)) = turn {
		order.sort_by_key(|&s| turns.of(s));
	}
	for s in order {
		// Only a dispute's claimed segments have places of their own; a whole verification
		// keeps its place (and its checkpoints in memory) to the end.
		if let Some((turns, pass)) = turn {
			if !turns.segments.is_empty() && !pass.requeue_until(turns.of(s), v.deadline) {
				return Err(abstain(format!(
					"out of time before segment {s}: the phase ends before this validator \
					 could replay it"
				)));
			}
		}
		if v.deadline.is_some_and(|d| Instant::now() >= d) {
			return Err(abstain(format!(
				"out of time before segment {s}: the phase ends before this validator could \
				 replay it"
			)));
		}
		// Opened and checked in phase 3 (read again only when every segment is replayed).
		let open = |j: u32| match kept.get(&j) {
			Some(c) => Ok(std::borrow::Cow::Borrowed(c)),
			None => files.checkpoint(m, j).map(std::borrow::Cow::Owned),
		};
		let (from, to) = match (open(s - 1), open(s)) {
			(Ok(a), Ok(b)) => (a, b),
			(Err(Miss::NotServed(what)), _) | (_, Err(Miss::NotServed(what))) => {
				return Err(Outcome::NotServed { segment: s, what })
			}
			(Err(Miss::Local(why)), _) | (_, Err(Miss::Local(why))) => return Err(abstain(why)),
		};
		let mut trainer = Trainer::new(spec, &from, &dataset, shard, data_seed, v.pinned.device())
			.map_err(|e| abstain(format!("segment {s} cannot start here: {e:#}")))?;
		let mut diverged = None;
		for step in (s - 1) * k..s * k {
			let loss = trainer
				.step(step)
				.map_err(|e| abstain(format!("replaying step {step}: {e:#}")))?;
			if !loss.is_finite() {
				diverged = Some(step);
				break;
			}
			bar.inc(1);
		}
		report.replayed_steps += u64::from(k);
		if let Some(step) = diverged {
			// From a finite committed start the miner's own run of these steps would have
			// stopped on the same loss: a run that went on is not this one.
			return Err(Outcome::MinerFault {
				segment: s,
				fault: MinerFault::Replay {
					detail: format!("the loss diverges at step {step}"),
				},
			});
		}
		let replayed = trainer
			.checkpoint()
			.map_err(|e| abstain(format!("reading the replayed model: {e:#}")))?;
		let committed = &m.checkpoints[s as usize].model_hash;
		let check = compare(spec, s, &from, &to, &replayed, committed)
			.map_err(|e| abstain(format!("comparing segment {s}: {e:#}")))?;
		log::debug!("segment {s}: {}", check.detail);
		let (passed, detail) = (check.passed, check.detail.clone());
		report.segments.push(check);
		if !passed {
			report.replay_secs = started.elapsed().as_secs_f64();
			return Err(Outcome::MinerFault {
				segment: s,
				fault: MinerFault::Replay { detail },
			});
		}
	}
	bar.finish_and_clear();
	report.replay_secs = started.elapsed().as_secs_f64();
	Ok(())
}

/// The replay `replayed` of segment `s` (from `from`) against its committed end `to`.
///
/// `exact`: the replayed checkpoint's hash (parameters and momentum) is the leaf's. `tolerance`:
/// the parameters within `tol · ‖W′ − W_{s−1}‖₂` of the committed ones and the momentum within
/// `tol · ‖M′‖₂`. Measured against the segment's own update, not the whole model's norm, the
/// drift a miner may steer each segment by is a small share of its progress; and the momentum
/// is compared too, so it cannot be chosen to steer the next segment.
pub fn compare(
	spec: &TaskSpec,
	s: SegmentIndex,
	from: &Checkpoint,
	to: &Checkpoint,
	replayed: &Checkpoint,
	committed_hash: &str,
) -> Result<SegmentCheck> {
	let update = l2_distance(&replayed.params, &from.params)?;
	let distance = l2_distance(&replayed.params, &to.params)? / update.max(1e-30);
	let momentum_distance = if replayed.momentum.is_empty() {
		0.0
	} else {
		l2_distance(&replayed.momentum, &to.momentum)? / l2_norm(&replayed.momentum).max(1e-30)
	};
	let (passed, detail) = match spec.verification.comparison {
		ComparisonKind::Exact => {
			let h = replayed.hash()?;
			(
				hex32(&h.0) == committed_hash,
				format!("replayed {} vs committed {committed_hash}", hex32(&h.0)),
			)
		}
		ComparisonKind::Tolerance => {
			let tol = spec.verification.tolerance;
			(
				distance <= tol && momentum_distance <= tol,
				format!(
					"distance {distance:.3e} of the segment's update, momentum \
					 {momentum_distance:.3e} (tolerance {tol:.3e})"
				),
			)
		}
	};
	Ok(SegmentCheck {
		segment: s,
		passed,
		distance,
		momentum_distance,
		detail,
	})
}

fn verify_with(files: &Files, expected: &Expected, v: &Validator) -> Result<Report> {
	let started = Instant::now();
	let mut report = Report::new();
	let spec = expected.spec;
	// The challenge, before anything is read: segment n and Q − 1 drawn ones (n is the task's,
	// which the manifest must state). Every claim this verification makes names one of them.
	let n = spec.num_segments();
	report.challenged = if v.all_segments {
		(1..=n).collect()
	} else if let Some(only) = &v.only_segments {
		let mut segments = Vec::with_capacity(only.len());
		for &s in only {
			anyhow::ensure!(s >= 1 && s <= n, "segment {s} is not in 1..={n}");
			if !segments.contains(&s) {
				segments.push(s);
			}
		}
		anyhow::ensure!(!segments.is_empty(), "no segment to replay");
		segments
	} else {
		hashing::challenge_segments(
			&v.randomness,
			&v.account,
			&expected.miner,
			n,
			spec.verification.segments_per_check,
		)
	};
	let finish = |mut r: Report, outcome: Outcome| -> Report {
		let outcome = within_challenges(outcome, &r.challenged, n);
		match &outcome {
			Outcome::Pass => {}
			Outcome::Abstain { why } => log::warn!("abstaining: {why}"),
			other => log::warn!("{other}"),
		}
		if outcome != Outcome::Pass {
			r.score = 0.0;
			r.final_checkpoint = None;
		}
		r.outcome = outcome;
		r.total_secs = started.elapsed().as_secs_f64();
		r
	};

	// 1. The manifest against the commitment.
	let opened = match check_commitment(&files.dir, expected) {
		Ok(o) => o,
		Err(outcome) => return Ok(finish(report, outcome)),
	};
	let m = &opened.manifest;
	// The manifest's n is the task's (phase 1).
	debug_assert_eq!(m.num_segments, n);
	if let Err(outcome) = check_profile(spec, m, v.pinned) {
		return Ok(finish(report, outcome));
	}

	// 2. The challenge, drawn above, before any checkpoint is read.
	log::info!("challenged segments {:?} of {n}", report.challenged);
	// The checkpoints read: all of a local bundle; from a server, the ends of the challenged
	// segments and the final one. A checkpoint outside them is not fetched, so not checked:
	// that is what sampling means.
	let needed: BTreeSet<u32> = if files.remote.is_none() || v.all_segments {
		(0..=n).collect()
	} else {
		needed_checkpoints(&report.challenged, n)
	};

	// 3. The checkpoints against their leaves; the replay's kept in memory (all of them only
	// when every segment is replayed, which reads them again instead; nor a dispute's claimed
	// segments, whose replays may wait at the gate between two segments for other miners'
	// ranked before them: a waiting job holds no checkpoints).
	let keep: BTreeSet<u32> = if v.all_segments || v.only_segments.is_some() {
		BTreeSet::new()
	} else {
		report.challenged.iter().flat_map(|&s| [s - 1, s]).collect()
	};
	// From a server, every needed checkpoint is asked for at once before any is used: each
	// has the size of the task's model, known before its first byte.
	let layout: Vec<(String, Vec<u64>)> = expected
		.start
		.iter()
		.map(|t| (t.name.clone(), t.dims.clone()))
		.collect();
	let size = match checkpoint_size(&layout, spec.momentum() > 0.0) {
		Ok(size) => size,
		Err(e) => {
			let why = format!("the size of the task's checkpoints: {e:#}");
			return Ok(finish(report, Outcome::Abstain { why }));
		}
	};
	files.fetch_all(m, &needed, size, &v.randomness);
	// Fetched without waiting for a place; checked and replayed only with one.
	let turns = files.remote.and_then(|r| r.compute.as_ref());
	let mut pass = match turns {
		Some(t) => match t.gate.enter_ranked_until(t.rank, v.deadline) {
			Some(pass) => Some(pass),
			None => {
				let why = "out of time waiting for the cores: the phase ends before this \
				           validator could replay it"
					.to_string();
				return Ok(finish(report, Outcome::Abstain { why }));
			}
		},
		None => None,
	};
	let (last, kept) = match open_checkpoints(
		files,
		&opened,
		expected,
		&needed,
		&keep,
		&report.challenged,
		v.progress,
	) {
		Ok(c) => c,
		Err(outcome) => return Ok(finish(report, outcome)),
	};

	// 4. Replay.
	let mut turn = turns.zip(pass.as_mut());
	if let Err(outcome) = replay(files, &opened, &kept, expected, v, &mut report, &mut turn) {
		return Ok(finish(report, outcome));
	}

	// 5. Score on the validation split (not for a dispute's claimed segments: a voter needs
	// their replays only, and its compute is the phase's scarcest part).
	let val = &v.data.split.validation;
	if v.only_segments.is_some() {
		// Nothing to score.
	} else if val.is_empty() {
		log::warn!("the task has no validation split: the score is 0");
	} else {
		let start = match expected.start_loss {
			Some(l0) => Ok(l0),
			None => start_loss(spec, expected.start, v.data, v.pinned),
		};
		let dataset = v.data.on(v.pinned.device());
		let losses = start.and_then(|l0| {
			evaluate(spec, &last.params, &dataset, val, v.pinned.device())
				.map(|(l1, acc)| (l0, l1, acc))
		});
		match losses {
			Ok((l0, l1, acc)) => {
				report.val_loss_start = l0;
				report.val_loss_final = l1;
				report.val_accuracy = acc;
				report.score = score(l0, l1);
			}
			Err(e) => {
				let why = format!("evaluating on the validation split: {e:#}");
				return Ok(finish(report, Outcome::Abstain { why }));
			}
		}
	}
	report.final_checkpoint = Some(last);
	Ok(finish(report, Outcome::Pass))
}

/// `outcome` as the verdict [`decide::verdict`] makes of what it found: the function the chain's
/// protocol simulator judges, so that the simulator's validators decide as this one does. A
/// fault of the whole run (the manifest, leaf 0, the final model, the path) is claimed on the
/// home segment (segment n, which every validator is challenged with, or in a dispute's replay
/// of other segments the first of them); a segment's fault or a checkpoint not served on that
/// segment when it is among `challenged`, else on the home segment: the chain refuses a `Fail`
/// or `NotServed` entry on any other. Only the claim's segment changes, never the finding.
fn within_challenges(outcome: Outcome, challenged: &[SegmentIndex], n: u32) -> Outcome {
	let (run, segments) = outcome.findings();
	let claimed = match decide::verdict(run, &segments, challenged, n) {
		Some(Verdict::Fail { segment } | Verdict::NotServed { segment }) => segment,
		Some(Verdict::Pass) | None => return outcome,
	};
	let mut outcome = outcome;
	if let Outcome::MinerFault { segment, .. } | Outcome::NotServed { segment, .. } = &mut outcome {
		if claimed != *segment {
			log::debug!("a claim on segment {segment}, not challenged: made on {claimed}");
			*segment = claimed;
		}
	}
	outcome
}

/// The checkpoints a remote check reads for the challenged segments of a run of `n`: both ends
/// of each, and the final one. Nothing else is fetched, so nothing else is checked.
pub fn needed_checkpoints(challenged: &[SegmentIndex], n: u32) -> BTreeSet<u32> {
	challenged
		.iter()
		.flat_map(|&s| [s.saturating_sub(1), s])
		.chain([n])
		.collect()
}

/// Whether a check challenged with `challenged` judges segment `j`'s committed norm: only when
/// `j` is challenged (both its ends are read). A norm read at both ends of a segment that is not
/// challenged is not judged: a voter replaying the segment a claim names could not confirm it,
/// so claiming it would put an honest accuser's bond at the miner's mercy (and a false norm
/// gains the miner nothing: no score, reward or aggregate reads one).
pub fn norm_checked(challenged: &[SegmentIndex], j: SegmentIndex) -> bool {
	j >= 1 && challenged.contains(&j)
}

/// Whether this validator may judge the run: only under the task's profile and, for `exact`
/// comparison, with the kernels, threads and libtorch the miner's run recorded. Another may
/// give other bits for an honest run, so a mismatch is an abstention, never a verdict.
fn check_profile(
	spec: &TaskSpec,
	m: &Manifest,
	pinned: &Pinned,
) -> std::result::Result<(), Outcome> {
	let task = &spec.verification.profile;
	if pinned.profile != *task {
		return Err(Outcome::Abstain {
			why: format!(
				"this validator runs profile {}, the task {task}",
				pinned.profile
			),
		});
	}
	if spec.verification.comparison == ComparisonKind::Exact {
		if let Some(why) = pinned.host.replays(&m.host, task) {
			return Err(Outcome::Abstain {
				why: format!("exact replay of another host's run: {why}"),
			});
		}
	}
	Ok(())
}

/// The manifest's claims against what the validator knows.
fn check_manifest(m: &Manifest, e: &Expected) -> std::result::Result<(), String> {
	if &m.spec != e.spec {
		return Err(
			"the manifest's task (model, data, hyperparameters or verification) is not \
		            the task's"
				.into(),
		);
	}
	if m.task != e.spec.task.id || m.round != e.round {
		return Err(format!(
			"the manifest is for task {} round {}, not task {} round {}",
			m.task, m.round, e.spec.task.id, e.round
		));
	}
	if m.miner != hex32(&e.miner) {
		return Err(format!(
			"the manifest claims miner {}, the commitment is {}'s",
			m.miner,
			hex32(&e.miner)
		));
	}
	if m.round_seed != hex32(&e.round_seed.0) {
		return Err("the manifest's round seed is not the round's".into());
	}
	let shard = hashing::shard_of(e.spec.task.id, &e.miner, e.spec.data.num_shards);
	if Some(m.shard) != shard {
		return Err(format!(
			"the manifest names shard {}, the miner's is {shard:?}",
			m.shard
		));
	}
	if m.num_segments != e.spec.num_segments() || m.checkpoints.len() != m.num_segments as usize + 1
	{
		return Err(format!(
			"{} segments and {} checkpoints, the task has {} segments",
			m.num_segments,
			m.checkpoints.len(),
			e.spec.num_segments()
		));
	}
	for (j, c) in m.checkpoints.iter().enumerate() {
		if c.index as usize != j {
			return Err(format!("checkpoint {j} is listed as {}", c.index));
		}
	}
	if e.spec.verification.comparison == ComparisonKind::Exact {
		// An honest worker pins the task's profile on the protocol's libtorch build and records
		// what libtorch then reports; a record that contradicts them would only make every
		// validator abstain.
		if let Some(why) = m.host.contradicts(&e.spec.verification.profile) {
			return Err(format!("the manifest names the task's profile, but {why}"));
		}
	}
	let start = hash_named(e.start).map_err(|e| format!("{e:#}"))?;
	if m.initial_model_hash != hex32(&start.0) {
		return Err(format!(
			"the manifest starts from {}, the round from {}",
			m.initial_model_hash,
			hex32(&start.0)
		));
	}
	Ok(())
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_claim_outside_the_challenges_is_made_on_segment_n_or_the_one_replayed() {
		let fault = || MinerFault::StartNotRoundStart;
		let not_served = |segment| Outcome::NotServed {
			segment,
			what: "C_1".into(),
		};
		// Challenged with n = 6 and two drawn segments: a claim on 1 is moved to 6; one on a
		// challenged segment stays.
		let challenged = [6, 2, 5];
		assert_eq!(
			within_challenges(
				Outcome::MinerFault {
					segment: 1,
					fault: fault()
				},
				&challenged,
				6
			),
			Outcome::MinerFault {
				segment: 6,
				fault: fault()
			}
		);
		assert_eq!(
			within_challenges(not_served(1), &challenged, 6),
			not_served(6)
		);
		assert_eq!(
			within_challenges(not_served(5), &challenged, 6),
			not_served(5)
		);
		// A dispute's replay of segment 3 alone: what is not on 3 is claimed on 3.
		assert_eq!(within_challenges(not_served(6), &[3], 6), not_served(3));
		// Verdicts that claim nothing are left alone.
		assert_eq!(
			within_challenges(Outcome::Pass, &challenged, 6),
			Outcome::Pass
		);
		// Every outcome's claim is the one `decide::verdict` makes of its findings (the
		// simulator's validators decide with it): a fault of the whole run on the home segment
		// wherever the verifier found it, a segment's where it may be claimed.
		let replay = || MinerFault::Replay {
			detail: "C_2".into(),
		};
		for (outcome, challenged, claimed) in [
			(fault(), vec![3], 3),
			(fault(), vec![2, 6], 6),
			(replay(), vec![2, 6], 2),
			(replay(), vec![4, 6], 6),
		] {
			let o = within_challenges(
				Outcome::MinerFault {
					segment: 2,
					fault: outcome,
				},
				&challenged,
				6,
			);
			let (run, segments) = o.findings();
			assert_eq!(
				o.verdict(),
				decide::verdict(run, &segments, &challenged, 6),
				"{o}"
			);
			assert_eq!(o.verdict(), Some(Verdict::Fail { segment: claimed }));
		}
		assert_eq!(
			Outcome::Abstain { why: "disk".into() }.findings().0,
			decide::RunFinding::OwnTrouble
		);
	}

	#[test]
	fn score_is_half_for_no_change_and_bounded() {
		assert_eq!(score(2.0, 2.0), 0.5);
		assert_eq!(score(2.0, 0.0), 1.0);
		assert!(score(2.0, 1.0) > 0.5 && score(2.0, 3.0) < 0.5);
		assert!(score(2.0, 1e9) < 1e-8);
		for bad in [f64::NAN, f64::INFINITY, -1.0] {
			assert_eq!(score(bad, 1.0), 0.0);
			assert_eq!(score(1.0, bad), 0.0);
		}
	}
}
