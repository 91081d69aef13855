//! One forged transition (issue 26 §7), measured on a real task: `pol-worker attack-sim
//! --influence`.
//!
//! A forger that jumps in one interior segment (C_j moved anywhere, the rest trained honestly
//! from there) is caught only by a validator challenged with j: at n = 400, Q = 8 one in 57, and
//! 5% of the time by three. What else stands between its jump and the global model is the path
//! check ([`crate::verify::PathCheck`]: the final model no farther from the start than the
//! committed norms add up to) and the aggregation rule. This module measures both on honest
//! federated rounds of the task:
//!
//! - how much room the path check leaves an honest run (`Σ norm_j / ‖C_n − C_0‖`);
//! - for jumps of size D in a random direction and in an adversarial one (against the honest
//!   miners' mean update, every coordinate), placed at segment n − 1 (the forger's best place:
//!   the least honest training after it to pull the model back, and a position the uniform draw
//!   does not care about), whether the real forged run passes the path check with the jump's
//!   norm understated and with it stated, and so how likely it survives 1 and 3 validators;
//! - how far the forged update, accepted, moves the aggregate of the round's updates under each
//!   rule of [`crate::aggregate`], against the aggregate had the forger trained honestly.
//!
//! Everything is the worker's own code: training ([`MinerRun`], [`Trainer`]), the path check,
//! scoring ([`crate::verify::score`]) and aggregation. Only the draw of the challenges is left to
//! the formula ([`super::predicted`], which `attack-sim` checks against the real draw).

use super::{predicted, Strategy};
use crate::aggregate::{aggregate, Rule, Update};
use crate::config::{parse_account, TaskSpec};
use crate::data::{Rng, TaskData};
use crate::model::{l2_distance, Model, NamedTensor};
use crate::profile::Pinned;
use crate::proof::Checkpoint;
use crate::train::{evaluate, MinerRun, Trainer};
use crate::verify::{score, PathCheck};
use anyhow::{ensure, Context, Result};
use pol_primitives::{hashing, AccountBytes};
use serde::Serialize;
use std::fmt::Write as _;

/// What the measurement runs.
#[derive(Clone, Debug)]
pub struct Settings {
	/// Miners in each round, the forger among them (at least 3, so that a median has honest
	/// values on both sides of the forged one).
	pub miners: usize,
	/// Honest federated rounds measured; the forgery is tried in the last.
	pub rounds: u32,
	/// Jump sizes D, as multiples of the last round's mean honest segment norm. The sizes just
	/// under and over what the path check lets through are added for each direction.
	pub multiples: Vec<f64>,
	/// The share `trimmed-mean` trims at each end.
	pub trim: f64,
	/// `norm-clip`'s bound; by default the largest honest update of the last round, rounded up
	/// to three significant digits (the least bound that clips no honest miner).
	pub max_norm: Option<f64>,
	/// Seed of the rounds' seeds and of the random direction.
	pub seed: u64,
}

/// How much room the path check leaves the honest runs of one round.
#[derive(Clone, Debug, Serialize)]
pub struct HonestRound {
	/// The round (0 starts from the task's initial model).
	pub round: u32,
	/// ν̄: the mean committed segment norm over every miner's run.
	pub mean_norm: f64,
	/// The mean `‖C_n − C_0‖` of the runs.
	pub displacement: f64,
	/// The least `Σ norm_j / ‖C_n − C_0‖` of the runs.
	pub ratio_min: f64,
	/// The largest.
	pub ratio_max: f64,
	/// The least room (`bound − ‖C_n − C_0‖`) of the runs, in units of ν̄.
	pub room_min: f64,
	/// The largest `norm_j / ν̄` of any segment of any run.
	pub peak_norm: f64,
}

/// Which way a forged jump points.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
	/// A seeded Gaussian direction.
	Random,
	/// Against the honest miners' mean update in every coordinate (`−sign(ū)`): the forger
	/// undoes the round, the worst case for coordinate-wise rules.
	Adversarial,
}

impl std::fmt::Display for Direction {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		f.write_str(match self {
			Direction::Random => "random",
			Direction::Adversarial => "adversarial",
		})
	}
}

/// One forged jump, tried for real.
#[derive(Clone, Debug, Serialize)]
pub struct Jump {
	/// Which way it points.
	pub direction: Direction,
	/// Its size D.
	pub size: f64,
	/// D / ν̄.
	pub multiple: f64,
	/// How D was chosen: a multiple of ν̄, or a share of `critical`.
	pub label: String,
	/// Whether segment n, trained honestly from the jump, stayed finite (a diverged run is
	/// caught by every validator: segment n is always replayed).
	pub finite: bool,
	/// The path check with norm_{n−1} understated (its honest value committed).
	pub path_understated: bool,
	/// The path check with norm_{n−1} stated.
	pub path_stated: bool,
	/// Survival with the norm understated: 1 and 3 validators.
	pub survives_understated: [f64; 2],
	/// Survival with the norm stated: 1 and 3 validators.
	pub survives_stated: [f64; 2],
	/// The forged update's score (what fedavg weighs it by).
	pub score: f64,
	/// `‖agg_with − agg_without‖` per rule, in the order of [`Report::rules`] (empty when the
	/// run diverged).
	pub moved: Vec<f64>,
}

/// What `attack-sim --influence` measured.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
	/// Segments of a run (n).
	pub segments: u32,
	/// Segments each validator replays (Q).
	pub checked: u32,
	/// Miners per round, the forger among them.
	pub miners: usize,
	/// The honest rounds.
	pub rounds: Vec<HonestRound>,
	/// The chance one validator misses one forged interior segment.
	pub miss_one: f64,
	/// The forger's honest run in the last round: `‖C_n − C_0‖`, its bound and its score.
	pub forger_displacement: f64,
	/// The forger's path bound (`Σ norm_j·(1 + 2⁻²⁰) + 2⁻¹²⁶`).
	pub forger_bound: f64,
	/// The forger's honest score.
	pub forger_score: f64,
	/// Per direction, the jump size the path check lets through with the norm understated, to
	/// first order (`C_n′ ≈ C_n + J`).
	pub critical: Vec<(Direction, f64)>,
	/// The rules compared.
	pub rules: Vec<String>,
	/// Per rule, how far the honest aggregate moves from the round's start.
	pub honest_step: Vec<f64>,
	/// The jumps tried.
	pub jumps: Vec<Jump>,
}

/// One miner's honest run, as much of it as the measurement reads.
struct HonestRun {
	miner: AccountBytes,
	/// `norm_1 … norm_n`, as the leaves commit them.
	norms: Vec<f32>,
	/// C_{n−2}, C_{n−1}, C_n.
	tail: [Checkpoint; 3],
	score: f64,
}

/// Miners of distinct shards while there are shards left, then any.
fn miner_accounts(spec: &TaskSpec, count: usize) -> Result<Vec<AccountBytes>> {
	let shards = spec.data.num_shards as usize;
	let mut taken = vec![false; shards];
	let mut out = Vec::new();
	let mut names = (0u64..).map(|i| parse_account(&format!("influence-miner-{i}")));
	let mut tried = 0;
	while out.len() < count.min(shards) {
		tried += 1;
		ensure!(tried < 100_000, "no miners of {shards} distinct shards");
		let a = names.next().context("names run out")??;
		let s = hashing::shard_of(spec.task.id, &a, spec.data.num_shards)
			.context("the task has no shards")? as usize;
		if !taken[s] {
			taken[s] = true;
			out.push(a);
		}
	}
	while out.len() < count {
		out.push(names.next().context("names run out")??);
	}
	Ok(out)
}

/// `a + b`, tensor by tensor, both sorted by name.
/// The runs' final models as the round's updates, each with its score.
fn updates(runs: &[HonestRun]) -> Vec<Update> {
	runs.iter()
		.map(|h| Update {
			miner: h.miner,
			params: h.tail[2].params.clone(),
			score: h.score,
		})
		.collect()
}

fn plus(a: &[NamedTensor], b: &[NamedTensor]) -> Vec<NamedTensor> {
	a.iter()
		.zip(b)
		.map(|(x, y)| NamedTensor {
			name: x.name.clone(),
			dims: x.dims.clone(),
			data: x.data.iter().zip(&y.data).map(|(u, v)| u + v).collect(),
		})
		.collect()
}

fn sorted(mut t: Vec<NamedTensor>) -> Vec<NamedTensor> {
	t.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
	t
}

/// `scale · unit`, as tensors of `like`'s names and shapes (`unit` flat, in `like`'s order).
fn shaped(like: &[NamedTensor], unit: &[f64], scale: f64) -> Vec<NamedTensor> {
	let mut at = 0;
	like.iter()
		.map(|t| {
			let data = unit[at..at + t.data.len()]
				.iter()
				.map(|&u| (scale * u) as f32)
				.collect();
			at += t.data.len();
			NamedTensor {
				name: t.name.clone(),
				dims: t.dims.clone(),
				data,
			}
		})
		.collect()
}

/// `a − b`, flat, in `f64`.
fn flat_diff(a: &[NamedTensor], b: &[NamedTensor]) -> Vec<f64> {
	a.iter()
		.zip(b)
		.flat_map(|(x, y)| {
			x.data
				.iter()
				.zip(&y.data)
				.map(|(&u, &v)| f64::from(u) - f64::from(v))
		})
		.collect()
}

fn unit(v: Vec<f64>) -> Result<Vec<f64>> {
	let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
	ensure!(norm > 0.0 && norm.is_finite(), "a direction of norm {norm}");
	Ok(v.into_iter().map(|x| x / norm).collect())
}

impl Settings {
	/// Trains the rounds and tries the jumps; `progress` is told what runs.
	pub fn run(
		&self,
		spec: &TaskSpec,
		data: &TaskData,
		pinned: &Pinned,
		mut progress: impl FnMut(&str),
	) -> Result<Report> {
		ensure!(
			self.miners >= 3,
			"--miners {}: at least 3 (a forger and two honest miners)",
			self.miners
		);
		ensure!(self.rounds >= 1, "at least one round");
		let n = spec.num_segments();
		ensure!(n >= 2, "a forged interior segment needs n ≥ 2");
		let q = spec.verification.segments_per_check;
		let k = spec.hyperparameters.checkpoint_interval;
		let device = pinned.device();
		let dataset = data.on(device);
		let val = &data.split.validation;
		ensure!(
			!val.is_empty(),
			"the task has no validation split: updates cannot be scored"
		);
		let accounts = miner_accounts(spec, self.miners)?;
		let mut global = sorted(
			Model::new(&spec.task.model, spec.task.init_seed, device)?
				.params()
				.context("the task's initial model")?,
		);
		let parent =
			hashing::hash(&[b"pol-attack-influence".as_slice(), &self.seed.to_le_bytes()].concat());
		let mut rounds = Vec::new();
		let mut last = Vec::new();
		let mut last_start_loss = f64::NAN;
		for r in 0..self.rounds {
			let round_seed = hashing::round_seed(spec.task.id, r, &parent);
			let (start_loss, _) = evaluate(spec, &global, &dataset, val, device)?;
			let mut runs = Vec::new();
			for (i, miner) in accounts.iter().enumerate() {
				progress(&format!("round {r}: miner {} of {}", i + 1, accounts.len()));
				let run = MinerRun {
					spec,
					data,
					round: r,
					round_seed,
					miner: *miner,
					start: &global,
					pinned,
					progress: false,
				};
				runs.push(honest_run(&run, start_loss, &dataset, val)?);
			}
			rounds.push(honest_round(r, &global, &runs)?);
			if r + 1 == self.rounds {
				last = runs;
				last_start_loss = start_loss;
			} else {
				global = sorted(aggregate(&global, &updates(&runs), spec.aggregation)?);
			}
		}

		// The forgery, in the last round: the first miner jumps at segment n − 1.
		let round = self.rounds - 1;
		let round_seed = hashing::round_seed(spec.task.id, round, &parent);
		let forger = &last[0];
		let run = MinerRun {
			spec,
			data,
			round,
			round_seed,
			miner: forger.miner,
			start: &global,
			pinned,
			progress: false,
		};
		let nu = rounds.last().map(|h| h.mean_norm).unwrap_or(0.0);
		ensure!(nu > 0.0, "the honest runs did not move");
		let honest_path = PathCheck::of(&global, &forger.tail[2].params, &forger.norms)?;
		let max_norm = match self.max_norm {
			Some(c) => c,
			None => {
				let top = last
					.iter()
					.map(|h| l2_distance(&h.tail[2].params, &global))
					.collect::<Result<Vec<f64>>>()?
					.into_iter()
					.fold(0.0, f64::max);
				let unit = 10f64.powf(top.log10().floor() - 2.0);
				(top / unit).ceil() * unit
			}
		};
		let rules = [
			Rule::FedAvg,
			Rule::Median,
			Rule::TrimmedMean { trim: self.trim },
			Rule::NormClip { max_norm },
		];
		let honest = updates(&last);
		let without = rules
			.iter()
			.map(|&rule| aggregate(&global, &honest, rule).map(sorted))
			.collect::<Result<Vec<_>>>()?;
		let honest_step = without
			.iter()
			.map(|a| l2_distance(a, &global))
			.collect::<Result<Vec<f64>>>()?;

		// The directions: a seeded Gaussian one, and −sign of the honest miners' mean update.
		let mut rng = Rng::new(b"pol-attack-influence", &self.seed.to_le_bytes());
		let size: usize = global.iter().map(|t| t.data.len()).sum();
		let random = unit((0..size).map(|_| rng.normal()).collect())?;
		let mut mean = vec![0.0f64; size];
		for h in &last {
			for (m, d) in mean.iter_mut().zip(flat_diff(&h.tail[2].params, &global)) {
				*m += d / last.len() as f64;
			}
		}
		let adversarial = unit(
			mean.iter()
				.map(|&m| {
					if m > 0.0 {
						-1.0
					} else if m < 0.0 {
						1.0
					} else {
						0.0
					}
				})
				.collect(),
		)?;
		let h = flat_diff(&forger.tail[2].params, &global);
		let miss_one = 1.0 - predicted(Strategy::Forge { a: 1 }, n, q, 1);
		let mut critical = Vec::new();
		let mut jumps = Vec::new();
		for (direction, e) in [
			(Direction::Random, &random),
			(Direction::Adversarial, &adversarial),
		] {
			// To first order C_n′ = C_n + D·e: the check holds while ‖H + D·e‖ ≤ bound.
			let he: f64 = h.iter().zip(e).map(|(a, b)| a * b).sum();
			let hh: f64 = h.iter().map(|a| a * a).sum();
			let b = honest_path.bound();
			let d_star = -he + (he * he - hh + b * b).max(0.0).sqrt();
			critical.push((direction, d_star));
			let mut sizes: Vec<(f64, String)> = self
				.multiples
				.iter()
				.map(|&x| (x * nu, format!("{x}·ν̄")))
				.collect();
			sizes.push((0.9 * d_star, "0.9·D*".into()));
			sizes.push((1.1 * d_star, "1.1·D*".into()));
			sizes.sort_by(|a, b| a.0.total_cmp(&b.0));
			for (d, label) in sizes {
				progress(&format!("{direction} jump of {d:.4} ({label})"));
				let jump = shaped(&global, e, d);
				let forged = forge(&run, forger, &jump, n, k, &dataset)?;
				let mut understated = forger.norms.clone();
				understated[n as usize - 1] = forged.last_norm;
				let mut stated = understated.clone();
				stated[n as usize - 2] = forged.jump_norm;
				let (path_understated, path_stated) = if forged.finite {
					(
						PathCheck::of(&global, &forged.end.params, &understated)?.holds(),
						PathCheck::of(&global, &forged.end.params, &stated)?.holds(),
					)
				} else {
					(false, false)
				};
				let survive = |passes: bool| {
					if passes && forged.finite {
						[miss_one, miss_one.powi(3)]
					} else {
						[0.0, 0.0]
					}
				};
				let (score_f, moved) = if forged.finite {
					let (l1, _) = evaluate(spec, &forged.end.params, &dataset, val, device)?;
					let s = score(last_start_loss, l1);
					let mut with = honest.clone();
					with[0].params = forged.end.params.clone();
					with[0].score = s;
					let moved = rules
						.iter()
						.zip(&without)
						.map(|(&rule, w)| {
							let a = sorted(aggregate(&global, &with, rule)?);
							l2_distance(&a, w)
						})
						.collect::<Result<Vec<f64>>>()?;
					(s, moved)
				} else {
					(0.0, Vec::new())
				};
				jumps.push(Jump {
					direction,
					size: d,
					multiple: d / nu,
					label,
					finite: forged.finite,
					path_understated,
					path_stated,
					survives_understated: survive(path_understated),
					survives_stated: survive(path_stated),
					score: score_f,
					moved,
				});
			}
		}
		Ok(Report {
			segments: n,
			checked: q,
			miners: self.miners,
			rounds,
			miss_one,
			forger_displacement: honest_path.displacement,
			forger_bound: honest_path.bound(),
			forger_score: forger.score,
			critical,
			rules: rules.iter().map(|r| r.to_string()).collect(),
			honest_step,
			jumps,
		})
	}
}

/// One honest run of `run`, keeping its norms, its last three checkpoints and its score.
fn honest_run(
	run: &MinerRun,
	start_loss: f64,
	dataset: &crate::data::Dataset,
	val: &[i64],
) -> Result<HonestRun> {
	let mut norms = Vec::new();
	let mut tail: Vec<Checkpoint> = Vec::new();
	run.train_with(|c| {
		if let Some(prev) = tail.last() {
			// As the leaves commit it (`proof::leaves_of`).
			norms.push(l2_distance(&c.params, &prev.params)? as f32);
		}
		tail.push(c);
		if tail.len() > 3 {
			tail.remove(0);
		}
		Ok(())
	})?;
	let tail: [Checkpoint; 3] = tail
		.try_into()
		.map_err(|_| anyhow::anyhow!("a run of fewer than 2 segments"))?;
	let (l1, _) = evaluate(run.spec, &tail[2].params, dataset, val, run.pinned.device())?;
	Ok(HonestRun {
		miner: run.miner,
		norms,
		tail,
		score: score(start_loss, l1),
	})
}

fn honest_round(round: u32, start: &[NamedTensor], runs: &[HonestRun]) -> Result<HonestRound> {
	let all: Vec<f64> = runs
		.iter()
		.flat_map(|h| h.norms.iter().map(|&x| f64::from(x)))
		.collect();
	let nu = all.iter().sum::<f64>() / all.len().max(1) as f64;
	let mut ratios = Vec::new();
	let mut rooms = Vec::new();
	let mut displacement = 0.0;
	for h in runs {
		let p = PathCheck::of(start, &h.tail[2].params, &h.norms)?;
		ensure!(p.holds(), "an honest run fails the path check: {p:?}");
		ratios.push(p.length / p.displacement);
		rooms.push(p.room() / nu);
		displacement += p.displacement / runs.len() as f64;
	}
	Ok(HonestRound {
		round,
		mean_norm: nu,
		displacement,
		ratio_min: ratios.iter().copied().fold(f64::INFINITY, f64::min),
		ratio_max: ratios.iter().copied().fold(0.0, f64::max),
		room_min: rooms.iter().copied().fold(f64::INFINITY, f64::min),
		peak_norm: all.iter().copied().fold(0.0, f64::max) / nu,
	})
}

/// The forger's run with C_{n−1} moved by `jump` and segment n trained honestly from there.
struct Forged {
	/// C_n′.
	end: Checkpoint,
	/// `‖C_{n−1}′ − C_{n−2}‖`, the norm a forger stating its jump commits.
	jump_norm: f32,
	/// `‖C_n′ − C_{n−1}′‖`, segment n's norm (checked by every validator).
	last_norm: f32,
	/// Whether segment n stayed finite.
	finite: bool,
}

fn forge(
	run: &MinerRun,
	honest: &HonestRun,
	jump: &[NamedTensor],
	n: u32,
	k: u32,
	dataset: &crate::data::Dataset,
) -> Result<Forged> {
	let mut from = honest.tail[1].clone();
	from.params = plus(&from.params, jump);
	let jump_norm = l2_distance(&from.params, &honest.tail[0].params)? as f32;
	let (_, shard) = run.shard()?;
	let mut trainer = Trainer::new(
		run.spec,
		&from,
		dataset,
		shard,
		run.data_seed(),
		run.pinned.device(),
	)?;
	let mut finite = true;
	for s in (n - 1) * k..n * k {
		// A loss that is no longer finite: validators replaying segment n see it diverge.
		if !trainer.step(s)?.is_finite() {
			finite = false;
			break;
		}
	}
	let end = trainer.checkpoint()?;
	let finite = finite
		&& end
			.params
			.iter()
			.chain(&end.momentum)
			.all(|t| t.data.iter().all(|x| x.is_finite()));
	let last_norm = if finite {
		l2_distance(&end.params, &from.params)? as f32
	} else {
		f32::NAN
	};
	Ok(Forged {
		end,
		jump_norm,
		last_norm,
		finite,
	})
}

impl Report {
	/// The report as markdown tables, as docs/SECURITY.md quotes them.
	pub fn markdown(&self) -> String {
		let pct = |x: f64| format!("{:.2}%", 100.0 * x);
		let mut s = String::new();
		let _ = writeln!(
			s,
			"n = {}, Q = {}, {} miners a round (the forger among them); one forged interior \
			 segment is missed by one validator with {} (formula).\n",
			self.segments,
			self.checked,
			self.miners,
			pct(self.miss_one)
		);
		let _ = writeln!(
			s,
			"| round | ν̄ (mean segment norm) | mean ‖C_n − C_0‖ | Σ norm_j / ‖C_n − C_0‖ (min–max) | least room / ν̄ | largest norm_j / ν̄ |"
		);
		let _ = writeln!(s, "|---|---|---|---|---|---|");
		for h in &self.rounds {
			let _ = writeln!(
				s,
				"| {} | {:.4} | {:.3} | {:.1}–{:.1} | {:.0} | {:.1} |",
				h.round,
				h.mean_norm,
				h.displacement,
				h.ratio_min,
				h.ratio_max,
				h.room_min,
				h.peak_norm
			);
		}
		let crit: Vec<String> = self
			.critical
			.iter()
			.map(|(d, x)| {
				let nu = self.rounds.last().map(|h| h.mean_norm).unwrap_or(1.0);
				format!("{d} {x:.3} ({:.0}·ν̄)", x / nu)
			})
			.collect();
		let _ = writeln!(
			s,
			"\nForger's honest run: ‖C_n − C_0‖ = {:.3}, path bound {:.3}, score {:.3}; D* (the \
			 jump the path check lets through with its norm understated, to first order): {}.\n",
			self.forger_displacement,
			self.forger_bound,
			self.forger_score,
			crit.join(", ")
		);
		let _ = writeln!(
			s,
			"| D | D / ν̄ | direction | path check, norm understated | survives 1 / 3 validators, understated | path check, norm stated | survives 1 / 3, stated | forged score |"
		);
		let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
		let verdict = |j: &Jump, ok: bool| {
			if !j.finite {
				"diverges: caught".to_string()
			} else if ok {
				"passes".to_string()
			} else {
				"caught by all".to_string()
			}
		};
		for j in &self.jumps {
			let _ = writeln!(
				s,
				"| {:.3} ({}) | {:.1} | {} | {} | {} / {} | {} | {} / {} | {:.3} |",
				j.size,
				j.label,
				j.multiple,
				j.direction,
				verdict(j, j.path_understated),
				pct(j.survives_understated[0]),
				pct(j.survives_understated[1]),
				verdict(j, j.path_stated),
				pct(j.survives_stated[0]),
				pct(j.survives_stated[1]),
				j.score
			);
		}
		let _ = writeln!(
			s,
			"\nHow far one accepted forged update moves the aggregate: ‖agg_with − agg_without‖ \
			 (÷ D), against the same round with the forger honest.\n"
		);
		let _ = write!(s, "| D / ν̄ | direction |");
		for r in &self.rules {
			let _ = write!(s, " {r} |");
		}
		let _ = writeln!(s);
		let _ = writeln!(s, "|---|---|{}", "---|".repeat(self.rules.len()));
		let _ = write!(s, "| honest step ‖agg − W‖ | |");
		for x in &self.honest_step {
			let _ = write!(s, " {x:.3} |");
		}
		let _ = writeln!(s);
		for j in &self.jumps {
			let _ = write!(s, "| {:.1} | {} |", j.multiple, j.direction);
			if j.moved.is_empty() {
				for _ in &self.rules {
					let _ = write!(s, " diverged |");
				}
			} else {
				for m in &j.moved {
					let _ = write!(s, " {m:.3} ({:.3}) |", m / j.size);
				}
			}
			let _ = writeln!(s);
		}
		s
	}
}
