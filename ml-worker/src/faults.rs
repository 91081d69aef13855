//! Dishonest miners: each a real adaptive attacker on the protocol, for tests and for
//! demonstrations of what the chain catches (`pol-worker miner --fault <mode>`). Each mode
//! names the defence that stops it; `docs/SECURITY.md` lists them with their tests.

use crate::model::NamedTensor;
use crate::proof::{entry, Checkpoint, Manifest};
use crate::train::{progress_bar, MinerRun, RunOutput, Trainer};
use anyhow::{ensure, Context, Result};
use pol_primitives::{merkle, Hash};
use std::path::Path;

/// A deliberately dishonest miner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Fault {
	/// Trains half the steps of each segment and claims the full run. Caught by any replay.
	Lazy,
	/// Commits another miner's commit hash and reveals its commitment as its own. Refused at
	/// reveal: the commit hash binds the miner's account.
	Copy,
	/// Trains and serves an honest run but reveals another final model hash W* (ten times the
	/// honest update), to have W* scored and aggregated. Refused at reveal: the final model hash
	/// must be proven leaf n of the committed tree.
	SwapFinal,
	/// Trains segments 1..n−1 honestly and jumps in segment n to a target of its choosing (three
	/// times the honest last step). Caught by every validator: segment n is always challenged.
	ForgeLast,
	/// Trains honestly but commits half of each update norm (once, to win or dodge the top-norm
	/// challenge slot). Caught where a validator reads both ends of a segment: segment n always.
	UnderstateNorms,
	/// Forges segment n as `forge-last` does and never serves the checkpoint that ends it.
	/// Reported `NotServed`; the voters cannot fetch it either, and the miner is slashed.
	Withhold,
	/// Trains honestly; serves a corrupt copy of each checkpoint the first time it is asked for
	/// and the right one afterwards, to have the first validator that asks accuse it falsely and
	/// be slashed. The accuser reports `NotServed`, never `Fail`, and is not slashed.
	Frame,
	/// A `tolerance` task with momentum: each checkpoint's momentum buffers are scaled by 1.5
	/// before they are committed (and training goes on from them), steering every segment while
	/// the parameters replay within tolerance. Caught: the momentum is compared too.
	SteerMomentum,
	/// Serves only a manifest, whose leaf 0 names another model than the round's start (its
	/// leaves and root made consistent again), and never a checkpoint: a run claimed without
	/// the bytes to check it. Every validator claims it on segment `n` (`StartNotRoundStart`,
	/// read from the manifest alone); a claim on segment 1, outside most validators'
	/// challenges, would have voided their reveals.
	ManifestOnly,
	/// Trains honestly but records another libtorch build in the manifest's host record (the
	/// leaves and root unchanged): a record no honest validator can match, to make them all
	/// abstain and leave the judgement to a colluder. The task's profile pins the build, so the
	/// record is the miner's fault, claimed on segment `n` by every validator.
	ForeignHost,
	/// Forges segment n as `forge-last` does, serves the checkpoint that ends it once (to the
	/// first validator that asks) and stalls every later request for it (its head and first
	/// bytes, then nothing, until the fetcher gives up):
	/// the other validators and every voter never get it, hoping they abstain and a colluding
	/// validator (`validator --fault collude`) rejects the dispute alone. A validator or voter
	/// that was not served it claims or upholds, and the miner is slashed.
	StallVoters,
}

/// A deliberately dishonest validator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ValidatorFault {
	/// Colludes with every dishonest miner: passes every miner without replaying anything and
	/// votes to reject every dispute. Its stake alone decides nothing: a dispute is upheld by
	/// more than half of the eligible snapshot stake, rejected only by more than half of it all.
	Collude,
}

/// A lazy run: each segment trains only half of its k steps, then checkpoints as if it had
/// trained them all. Replaying any segment exposes it.
pub fn lazy_run(run: &MinerRun) -> Result<RunOutput> {
	let (_, shard) = run.shard()?;
	let start = Checkpoint::start(run.start.to_vec(), run.spec.momentum() > 0.0);
	let dataset = run.data.on(run.pinned.device());
	let mut trainer = Trainer::new(
		run.spec,
		&start,
		&dataset,
		shard,
		run.data_seed(),
		run.pinned.device(),
	)?;
	let k = run.spec.hyperparameters.checkpoint_interval;
	let n = run.spec.num_segments();
	let bar = progress_bar(false, 0, "train");
	let mut checkpoints = vec![start];
	let mut losses = Vec::new();
	for j in 1..=n {
		let from = (j - 1) * k;
		let segment = trainer.run(from, from + (k / 2).max(1), &bar)?;
		// Report as many losses as an honest run would.
		let last = segment.last().copied().unwrap_or_default();
		losses.extend(segment);
		losses.resize(((j * k) as usize).max(losses.len()), last);
		checkpoints.push(trainer.checkpoint()?);
	}
	Ok(RunOutput {
		checkpoints,
		losses,
	})
}

/// `a + factor · (b − a)`, tensor by tensor (same names and shapes).
pub(crate) fn extrapolate(a: &[NamedTensor], b: &[NamedTensor], factor: f32) -> Vec<NamedTensor> {
	a.iter()
		.zip(b)
		.map(|(x, y)| NamedTensor {
			name: x.name.clone(),
			dims: x.dims.clone(),
			data: x
				.data
				.iter()
				.zip(&y.data)
				.map(|(u, v)| u + factor * (v - u))
				.collect(),
		})
		.collect()
}

/// An honest run whose last segment jumps to a target of the miner's choosing: three times the
/// honest last step from C_{n−1}. Every leaf is consistent with its checkpoint; only a replay of
/// segment n shows the jump.
pub fn forge_last_run(run: &MinerRun) -> Result<RunOutput> {
	let mut out = run.train()?;
	let n = out.checkpoints.len() - 1;
	ensure!(n >= 1, "a run needs a segment to forge");
	let target = extrapolate(
		&out.checkpoints[n - 1].params,
		&out.checkpoints[n].params,
		3.0,
	);
	out.checkpoints[n].params = target;
	Ok(out)
}

/// An honest run whose committed momentum buffers are scaled by 1.5 at every checkpoint, the
/// next segment training on from the steered buffers.
pub fn steer_momentum_run(run: &MinerRun) -> Result<RunOutput> {
	ensure!(
		run.spec.momentum() > 0.0,
		"steer-momentum needs a task that trains with momentum"
	);
	edited_run(run, |_, _, c| {
		for m in &mut c.momentum {
			for x in &mut m.data {
				*x *= 1.5;
			}
		}
	})
}

/// A run that forges the segments `forged`: each ends at three times its honest update (the
/// progress of three segments claimed for one), and training goes on honestly from there, so
/// that only a replay of a forged segment itself shows it (`pol-worker attack-sim`'s model).
pub fn forge_segments_run(run: &MinerRun, forged: &[u32]) -> Result<RunOutput> {
	edited_run(run, |j, from, c| {
		if forged.contains(&j) {
			c.params = extrapolate(&from.params, &c.params, 3.0);
		}
	})
}

/// A run trained segment by segment, each checkpoint `j` edited by `edit(j, C_{j−1}, C_j)`
/// before it is committed, the next segment training on from the edited one.
fn edited_run(
	run: &MinerRun,
	mut edit: impl FnMut(u32, &Checkpoint, &mut Checkpoint),
) -> Result<RunOutput> {
	let (_, shard) = run.shard()?;
	let dataset = run.data.on(run.pinned.device());
	let k = run.spec.hyperparameters.checkpoint_interval;
	let n = run.spec.num_segments();
	let bar = progress_bar(false, 0, "train");
	let mut current = Checkpoint::start(run.start.to_vec(), run.spec.momentum() > 0.0);
	let mut checkpoints = vec![current.clone()];
	let mut losses = Vec::new();
	for j in 1..=n {
		let mut trainer = Trainer::new(
			run.spec,
			&current,
			&dataset,
			shard,
			run.data_seed(),
			run.pinned.device(),
		)?;
		losses.extend(trainer.run((j - 1) * k, j * k, &bar)?);
		let mut c = trainer.checkpoint()?;
		edit(j, &current, &mut c);
		checkpoints.push(c.clone());
		current = c;
	}
	Ok(RunOutput {
		checkpoints,
		losses,
	})
}

/// W*: the honest last checkpoint with ten times its update from the round's start, which a
/// swap-final miner reveals instead of C_n.
pub fn swapped_final(start: &[NamedTensor], last: &Checkpoint) -> Checkpoint {
	let mut start = start.to_vec();
	start.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
	Checkpoint {
		params: extrapolate(&start, &last.params, 10.0),
		momentum: last.momentum.clone(),
	}
}

/// Rewrites the manifest of `bundle` with leaf 0 naming `other` instead of the round's start,
/// its root made consistent again: a run that did not start where the round did.
pub fn foreign_start(bundle: &Path, other: &Hash) -> Result<Manifest> {
	let mut m = Manifest::read(bundle)?;
	let first = m
		.checkpoints
		.first_mut()
		.context("a manifest without checkpoints")?;
	*first = entry(0, other, first.update_norm);
	let leaves: Vec<Hash> = m.leaves().context("the rewritten leaves")?;
	m.checkpoint_root = crate::config::hex32(&merkle::root(&leaves).0);
	m.write(bundle)?;
	Ok(m)
}

/// Rewrites the manifest of `bundle` with `libtorch` as the build its run recorded; the leaves
/// and root are left as they are (the host record is not in them).
pub fn foreign_host(bundle: &Path, libtorch: &str) -> Result<Manifest> {
	let mut m = Manifest::read(bundle)?;
	m.host.libtorch = libtorch.to_owned();
	m.write(bundle)?;
	Ok(m)
}

/// Rewrites the manifest of `bundle` with half of each committed update norm (or of segment
/// `only`'s), its leaves and root made consistent again: a run that claims smaller steps than
/// it took.
pub fn understate_norms(bundle: &Path, only: Option<u32>) -> Result<Manifest> {
	let mut m = Manifest::read(bundle)?;
	for (j, c) in m.checkpoints.iter_mut().enumerate() {
		if only.is_some_and(|o| o as usize != j) {
			continue;
		}
		let hash = crate::config::parse_hash(&c.model_hash)?;
		*c = entry(j as u32, &hash, c.update_norm * 0.5);
	}
	let leaves: Vec<Hash> = m.leaves().context("the rewritten leaves")?;
	m.checkpoint_root = crate::config::hex32(&merkle::root(&leaves).0);
	m.write(bundle)?;
	Ok(m)
}
