//! How likely a cheating miner is caught: the formula, and a simulation that draws the real
//! challenges (`pol_primitives::hashing::challenge_segments`) round after round to measure it
//! (`pol-worker attack-sim`). No chain and no training: which segments a validator replays
//! decides whether a forgery is found (a forged segment fails its replay; a withheld checkpoint
//! is not served), so the draw is the whole game. `tests.rs` checks those decisions against
//! real verifications.
//!
//! A validator replays Q of a run's n segments: segment n always, and Q − 1 distinct others
//! drawn uniformly from 1..n−1 with its own randomness (independent between validators).

use pol_primitives::{hashing, Hash};
use serde::Serialize;

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
}

impl std::fmt::Display for Strategy {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		match self {
			Strategy::Forge { a } => write!(f, "forge {a}"),
			Strategy::ForgeLast => write!(f, "forge the last"),
			Strategy::Withhold { a } => write!(f, "withhold {a}"),
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
	}
}

/// The chance that `validators` validators, each replaying `q` of `n` segments, catch
/// `strategy`: `1 − miss^validators`, where one validator misses with the chance that none of
/// the segments it reads touches the forgery.
pub fn predicted(strategy: Strategy, n: u32, q: u32, validators: u32) -> f64 {
	let miss = match strategy {
		Strategy::ForgeLast => 0.0,
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

/// Whether a validator that replays `challenged` (of `n`) catches `strategy`.
pub fn caught(strategy: Strategy, n: u32, challenged: &[u32]) -> bool {
	let forged = forged_segments(strategy, n);
	challenged.iter().any(|&s| match strategy {
		Strategy::ForgeLast | Strategy::Forge { .. } => forged.contains(&s),
		// Segment s reads C_{s−1} and C_s: a withheld end of a forged segment j is C_j.
		Strategy::Withhold { .. } => forged.contains(&s) || forged.contains(&(s - 1)),
	})
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
				for strategy in [
					Strategy::ForgeLast,
					Strategy::Forge { a: 1 },
					Strategy::Forge { a: 2 },
					Strategy::Forge { a: n / 4 },
					Strategy::Withhold { a: 1 },
					Strategy::Withhold { a: 2 },
				] {
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
	fn the_wilson_interval_holds_its_rate() {
		let (lo, hi) = wilson(50, 100, 1.96);
		assert!(lo < 0.5 && 0.5 < hi && (hi - lo) < 0.2);
		assert_eq!(wilson(0, 0, 1.96), (0.0, 1.0));
		let (lo, hi) = wilson(100, 100, 1.96);
		assert!(lo > 0.95 && hi > 1.0 - 1e-12);
	}
}
