//! How likely a cheating miner is caught: the formula, and a simulation that draws the real
//! challenges (`pol_primitives::hashing::challenge_segments`) round after round to measure it
//! (`pol-worker attack-sim`). No chain and no training: which segments a validator replays
//! decides whether a forgery is found (a forged segment fails its replay; a withheld checkpoint
//! is not served), so the draw is the whole game. `tests.rs` checks those decisions against
//! real verifications. [`influence`] measures, with real training, what one forged transition
//! can do despite the path check and under each aggregation rule (`attack-sim --influence`).
//!
//! A validator replays Q of a run's n segments: segment n always, and Q − 1 distinct others
//! drawn uniformly from 1..n−1 with its own randomness (independent between validators).

use pol_primitives::{hashing, Hash};
use serde::Serialize;

pub mod influence;

/// What a cheating miner does.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
	/// Forges `a` segments, never the last (which every validator replays).
	Forge {
		/// Segments forged.
		a: u32,
	},
	/// Forges the last segment only (whose end is the update that is scored).
	ForgeLast,
	/// Forges `a` segments, never the last two, and withholds the checkpoint ending each, so
	/// that a validator reading either end of the segment finds it not served.
	Withhold {
		/// Segments forged.
		a: u32,
	},
	/// Commits a false norm for segment `j` (`‖C_j − C_{j−1}‖₂`, the leaf's second field). A
	/// check compares a norm when it reads both ends of the segment (both ends of segment n
	/// always). No score, reward or aggregate reads a norm: the chain reads leaf n's only to
	/// prove the final model's leaf, so a false one gains nothing but is still caught.
	UnderstateNorm {
		/// The segment whose norm is false.
		j: u32,
	},
	/// Steers every segment within a `tolerance` task's tolerance (a share of each segment's
	/// own update): never caught, by design; what it gains is bounded by the tolerance. Above
	/// the tolerance, or on an `exact` task, steering a segment is forging it.
	SteerWithinTolerance,
}

impl std::fmt::Display for Strategy {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		match self {
			Strategy::Forge { a } => write!(f, "forge {a}"),
			Strategy::ForgeLast => write!(f, "forge the last"),
			Strategy::Withhold { a } => write!(f, "withhold {a}"),
			Strategy::UnderstateNorm { j } => write!(f, "understate norm {j}"),
			Strategy::SteerWithinTolerance => write!(f, "steer within tolerance"),
		}
	}
}

/// The segments `strategy` forges in a run of `n`: spread evenly over the segments it may use,
/// never two adjacent (so that withheld checkpoints end distinct segments).
pub fn forged_segments(strategy: Strategy, n: u32) -> Vec<u32> {
	let spread = |a: u32, last: u32| -> Vec<u32> {
		// Segments 1..=last, every other one at most.
		let room = last.div_ceil(2);
		let a = a.min(room);
		(0..a)
			.map(|i| 1 + 2 * ((u64::from(i) * u64::from(room) / u64::from(a.max(1))) as u32))
			.collect()
	};
	match strategy {
		Strategy::ForgeLast => vec![n],
		Strategy::Forge { a } => spread(a, n.saturating_sub(1)),
		Strategy::Withhold { a } => spread(a, n.saturating_sub(2)),
		// A false norm or a steer within tolerance replays: no segment is forged.
		Strategy::UnderstateNorm { .. } | Strategy::SteerWithinTolerance => Vec::new(),
	}
}

/// The chance that `validators` validators, each replaying `q` of `n` segments, catch
/// `strategy`: `1 − miss^validators`, where one validator misses with the chance that none of
/// the segments it reads touches the forgery.
pub fn predicted(strategy: Strategy, n: u32, q: u32, validators: u32) -> f64 {
	let big_n = u64::from(n.saturating_sub(1));
	let draws = u64::from(q.saturating_sub(1)).min(big_n);
	// For the m = `draws` segments drawn uniformly from the N = `big_n` of 1..n−1: the chance
	// that `ins` given ones are all drawn and `outs` others are not.
	let drawn = |ins: u64, outs: u64| -> f64 {
		if ins + outs > big_n || ins > draws || outs > big_n - draws {
			return 0.0;
		}
		let num = (0..ins).fold(1.0, |p, i| p * (draws - i) as f64)
			* (0..outs).fold(1.0, |p, i| p * (big_n - draws - i) as f64);
		let den = (0..ins + outs).fold(1.0, |p, i| p * (big_n - i) as f64);
		num / den
	};
	let miss = match strategy {
		Strategy::ForgeLast => 0.0,
		Strategy::SteerWithinTolerance => 1.0,
		Strategy::UnderstateNorm { j } => {
			// Judged only when j is replayed; segment n always is.
			let checked = if j >= n { 1.0 } else { drawn(1, 0) };
			1.0 - checked
		}
		Strategy::Forge { .. } | Strategy::Withhold { .. } => {
			let forged = forged_segments(strategy, n).len() as u64;
			// A withheld checkpoint C_j is read for segment j and for segment j + 1.
			let exposed = match strategy {
				Strategy::Withhold { .. } => 2 * forged,
				_ => forged,
			};
			let others = u64::from(n.saturating_sub(1));
			let draws = u64::from(q.saturating_sub(1)).min(others);
			// C(others − exposed, draws) / C(others, draws), as a product.
			(0..draws).fold(1.0, |p, i| {
				if others < exposed + i + 1 {
					0.0
				} else {
					p * (others - exposed - i) as f64 / (others - i) as f64
				}
			})
		}
	};
	1.0 - miss.powi(validators as i32)
}

/// Whether a validator that replays `challenged` (of `n`) catches `strategy`: by the rules of
/// the verifier itself (which checkpoints it reads, which norms it compares).
pub fn caught(strategy: Strategy, n: u32, challenged: &[u32]) -> bool {
	let forged = forged_segments(strategy, n);
	let needed = crate::verify::needed_checkpoints(challenged, n);
	match strategy {
		Strategy::ForgeLast | Strategy::Forge { .. } => {
			challenged.iter().any(|s| forged.contains(s))
		}
		// A withheld C_j (the end of forged segment j) is not served to whoever reads it.
		Strategy::Withhold { .. } => {
			challenged.iter().any(|s| forged.contains(s))
				|| forged.iter().any(|j| needed.contains(j))
		}
		Strategy::UnderstateNorm { j } => crate::verify::norm_checked(challenged, j),
		Strategy::SteerWithinTolerance => false,
	}
}

/// The 95% (z = 1.96) or other Wilson score interval of `hits` successes in `trials`.
pub fn wilson(hits: u64, trials: u64, z: f64) -> (f64, f64) {
	if trials == 0 {
		return (0.0, 1.0);
	}
	let n = trials as f64;
	let p = hits as f64 / n;
	let centre = p + z * z / (2.0 * n);
	let spread = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
	let denom = 1.0 + z * z / n;
	(
		((centre - spread) / denom).max(0.0),
		((centre + spread) / denom).min(1.0),
	)
}

/// The target the shipped tasks are sized to: a miner forging [`TARGET_FRACTION`] of its segments
/// is caught with at least [`TARGET_DETECTION`] by [`TARGET_VALIDATORS`] validators, each
/// replaying at most [`TARGET_REPLAY`] of the training.
pub const TARGET_DETECTION: f64 = 0.99;
/// The forged share of segments the target is stated for.
pub const TARGET_FRACTION: f64 = 0.25;
/// Validators judging each miner in the target.
pub const TARGET_VALIDATORS: u32 = 3;
/// Most of a miner's training one validator replays in the target (Q / n).
pub const TARGET_REPLAY: f64 = 0.05;

/// What a task's settings imply: how likely a forger is caught, and what a validator replays.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Detection {
	/// Segments of a run (n).
	pub segments: u32,
	/// Segments each validator replays (Q).
	pub checked: u32,
	/// Segments the forger forges: ⌈f·n⌉ at the target's f.
	pub forged: u32,
	/// Share of the training one validator replays (Q / n).
	pub replay_fraction: f64,
	/// Chance one validator catches the forger.
	pub caught_by_1: f64,
	/// Chance at least one of [`TARGET_VALIDATORS`] catches it.
	pub caught_by_3: f64,
}

impl Detection {
	/// For a run of `n` segments of which each validator replays `q`.
	pub fn of(n: u32, q: u32) -> Detection {
		let forged = forged_at(TARGET_FRACTION, n);
		let strategy = Strategy::Forge { a: forged };
		Detection {
			segments: n,
			checked: q,
			forged,
			replay_fraction: f64::from(q) / f64::from(n.max(1)),
			caught_by_1: predicted(strategy, n, q, 1),
			caught_by_3: predicted(strategy, n, q, TARGET_VALIDATORS),
		}
	}

	/// Whether the settings reach the target.
	pub fn meets_target(&self) -> bool {
		self.caught_by_3 >= TARGET_DETECTION && self.replay_fraction <= TARGET_REPLAY
	}
}

impl std::fmt::Display for Detection {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		write!(
			f,
			"detection: a miner forging {:.0}% of its {} segments ({}) is caught with {:.2}% by 1 \
			 validator, {:.2}% by {TARGET_VALIDATORS}; each validator replays {} of {} segments \
			 ({:.1}% of the training)",
			100.0 * TARGET_FRACTION,
			self.segments,
			self.forged,
			100.0 * self.caught_by_1,
			100.0 * self.caught_by_3,
			self.checked,
			self.segments,
			100.0 * self.replay_fraction
		)?;
		if !self.meets_target() {
			write!(
				f,
				"\nwarning: below the target ({:.0}% by {TARGET_VALIDATORS} validators at f = \
				 {:.0}%, replay ≤ {:.0}%): more segments (a smaller checkpoint_interval) and \
				 segments_per_check ≥ 7 reach it",
				100.0 * TARGET_DETECTION,
				100.0 * TARGET_FRACTION,
				100.0 * TARGET_REPLAY
			)?;
		}
		Ok(())
	}
}

/// Segments forged when forging the share `fraction` of `n` (at least one).
pub fn forged_at(fraction: f64, n: u32) -> u32 {
	((fraction * f64::from(n)).ceil() as u32).clamp(1, n.max(1))
}

/// Measured detection of one strategy.
#[derive(Clone, Debug, Serialize)]
pub struct Measured {
	/// The strategy.
	pub strategy: Strategy,
	/// Validators that judge each round.
	pub validators: u32,
	/// Rounds simulated.
	pub rounds: u64,
	/// Rounds in which at least one validator caught it.
	pub caught: u64,
	/// `caught / rounds`.
	pub rate: f64,
	/// Its 95% Wilson interval.
	pub interval: (f64, f64),
	/// What [`predicted`] says.
	pub predicted: f64,
}

/// Simulates `rounds` rounds of a miner playing `strategy` against `validators` validators,
/// each drawing its challenges with `challenge_segments` from randomness of its own (derived
/// from `seed`, the round and the validator, as independent as VRF outputs are).
pub fn simulate(
	strategy: Strategy,
	n: u32,
	q: u32,
	validators: u32,
	rounds: u64,
	seed: u64,
) -> Measured {
	let miner = hashing::hash(b"attack-sim miner").0;
	let mut hits = 0;
	for r in 0..rounds {
		let found = (0..validators).any(|v| {
			let randomness: Hash = hashing::hash(
				&[
					b"pol-attack-sim".as_slice(),
					&seed.to_le_bytes(),
					&r.to_le_bytes(),
					&v.to_le_bytes(),
				]
				.concat(),
			);
			let account =
				hashing::hash(&[b"attack-sim validator".as_slice(), &v.to_le_bytes()].concat()).0;
			let challenged = hashing::challenge_segments(&randomness, &account, &miner, n, q);
			caught(strategy, n, &challenged)
		});
		hits += u64::from(found);
	}
	Measured {
		strategy,
		validators,
		rounds,
		caught: hits,
		rate: hits as f64 / rounds.max(1) as f64,
		interval: wilson(hits, rounds, 1.96),
		predicted: predicted(strategy, n, q, validators),
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	/// Every challenge set of size q (n always, q − 1 of 1..n−1), enumerated.
	fn all_challenges(n: u32, q: u32) -> Vec<Vec<u32>> {
		fn choose(from: &[u32], k: usize) -> Vec<Vec<u32>> {
			if k == 0 {
				return vec![vec![]];
			}
			let mut out = Vec::new();
			for (i, &x) in from.iter().enumerate() {
				for mut rest in choose(&from[i + 1..], k - 1) {
					rest.insert(0, x);
					out.push(rest);
				}
			}
			out
		}
		let others: Vec<u32> = (1..n).collect();
		let k = (q.saturating_sub(1) as usize).min(others.len());
		choose(&others, k)
			.into_iter()
			.map(|mut c| {
				c.push(n);
				c
			})
			.collect()
	}

	#[test]
	fn the_formula_is_the_count_over_every_challenge_set() {
		for n in 4..=11 {
			for q in 1..=n {
				let sets = all_challenges(n, q);
				let strategies = [
					Strategy::ForgeLast,
					Strategy::Forge { a: 1 },
					Strategy::Forge { a: 2 },
					Strategy::Forge { a: n / 4 },
					Strategy::Withhold { a: 1 },
					Strategy::Withhold { a: 2 },
				]
				.into_iter()
				.chain((1..=n).map(|j| Strategy::UnderstateNorm { j }));
				for strategy in strategies {
					let hit = sets.iter().filter(|c| caught(strategy, n, c)).count();
					let exact = hit as f64 / sets.len() as f64;
					let formula = predicted(strategy, n, q, 1);
					assert!(
						(exact - formula).abs() < 1e-12,
						"n {n} q {q} {strategy}: counted {exact}, formula {formula}"
					);
				}
			}
		}
	}

	#[test]
	fn pinned_detection_rates() {
		// Today's shipped settings and the ones issue 18 aims at (docs/plans/verification-cost.md).
		let p = |n, q, a| predicted(Strategy::Forge { a }, n, q, 3);
		assert!((p(4, 2, 1) - 0.703_704).abs() < 1e-6);
		assert!((p(10, 3, 3) - 0.927_662).abs() < 1e-6);
		assert!((p(200, 8, 50) - 0.997_941).abs() < 1e-6);
		assert_eq!(predicted(Strategy::ForgeLast, 10, 1, 1), 1.0);
	}

	#[test]
	fn simulated_detection_agrees_with_the_formula() {
		// The real draw: were the challenges not distinct, or the last segment not among them,
		// the measured rate would leave the formula's interval.
		for (strategy, n, q) in [
			(Strategy::Forge { a: 3 }, 10, 3),
			(Strategy::Forge { a: 50 }, 200, 8),
			(Strategy::Withhold { a: 2 }, 10, 3),
			(Strategy::ForgeLast, 10, 3),
			(Strategy::UnderstateNorm { j: 100 }, 200, 8),
			(Strategy::UnderstateNorm { j: 199 }, 200, 8),
		] {
			for validators in [1, 3] {
				let m = simulate(strategy, n, q, validators, 20_000, 7);
				let (lo, hi) = wilson(m.caught, m.rounds, 3.29);
				assert!(
					lo <= m.predicted && m.predicted <= hi,
					"{strategy} n {n} q {q} × {validators}: measured {} [{lo}, {hi}], formula {}",
					m.rate,
					m.predicted
				);
			}
		}
	}

	#[test]
	fn every_shipped_task_meets_the_detection_target() {
		// Read when the test runs, not baked in: a shared target directory serves many clones.
		let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR");
		let dir = std::path::Path::new(&root).join("tasks");
		let mut seen = 0;
		for entry in std::fs::read_dir(&dir).unwrap() {
			let path = entry.unwrap().path();
			if path.extension().and_then(|e| e.to_str()) != Some("toml") {
				continue;
			}
			let spec = crate::config::Config::load(&path).unwrap().spec();
			let d = Detection::of(spec.num_segments(), spec.verification.segments_per_check);
			assert!(d.meets_target(), "{}: {d}", path.display());
			assert!(!d.to_string().contains("warning"), "{d}");
			seen += 1;
		}
		assert!(seen >= 4, "the shipped tasks are in {}", dir.display());
	}

	#[test]
	fn settings_below_the_target_are_warned_about() {
		// The settings every task shipped with before: 10 segments, 3 replayed.
		let before = Detection::of(10, 3);
		assert!(!before.meets_target());
		assert!(before.to_string().contains("92.77% by 3"), "{before}");
		assert!(before.to_string().contains("warning: below the target"));
		// Enough detection but too much replay, and the reverse.
		assert!(!Detection::of(40, 8).meets_target());
		assert!(!Detection::of(1000, 5).meets_target());
		let chosen = Detection::of(200, 8);
		assert!(chosen.meets_target());
		assert!(chosen.to_string().contains("99.79% by 3"), "{chosen}");
		assert_eq!(forged_at(0.25, 200), 50);
		assert_eq!(forged_at(0.25, 10), 3);
	}

	#[test]
	fn the_wilson_interval_holds_its_rate() {
		let (lo, hi) = wilson(50, 100, 1.96);
		assert!(lo < 0.5 && 0.5 < hi && (hi - lo) < 0.2);
		assert_eq!(wilson(0, 0, 1.96), (0.0, 1.0));
		let (lo, hi) = wilson(100, 100, 1.96);
		assert!(lo > 0.95 && hi > 1.0 - 1e-12);
	}
}
