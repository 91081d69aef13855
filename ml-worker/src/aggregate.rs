//! Aggregation of the updates that passed into the next global model: FedAvg weighted by
//! score, coordinate-wise median, trimmed mean, and norm clipping.
//!
//! Validators must propose the same model hash for the chain to accept it, so aggregation is
//! plain Rust over f32 values with f64 sums in a fixed order (updates sorted by miner account,
//! whatever order they arrived in): the same inputs give the same bits on every machine and any
//! thread count, which libtorch's reductions do not promise.

use crate::config::{fixed, perbill, unfixed, unperbill};
use crate::model::{check_same_layout, NamedTensor};
use anyhow::{bail, ensure, Context, Result};
use pol_primitives::{AccountBytes, AggregationRule};
use serde::{Deserialize, Serialize};

/// How updates are combined: a task's `[aggregation]` section (`rule = "fedavg"`, `"median"`,
/// `"trimmed-mean"` with `trim`, `"norm-clip"` with `max_norm`), the chain's
/// [`pol_primitives::AggregationRule`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RuleSection", into = "RuleSection")]
pub enum Rule {
	/// Mean weighted by score.
	#[default]
	FedAvg,
	/// Coordinate-wise median (mean of the two middle values for an even count).
	Median,
	/// Coordinate-wise mean after dropping `floor(trim·m)` values at each end, at least one
	/// once there are 3 and `trim` is not zero ([`AggregationRule::trimmed_count`]).
	TrimmedMean {
		/// Share trimmed at each end, in [0, 0.5).
		trim: f64,
	},
	/// FedAvg of the updates' deltas from the base, each clipped to L2 norm `max_norm`.
	NormClip {
		/// Largest delta norm.
		max_norm: f64,
	},
}

impl From<AggregationRule> for Rule {
	fn from(rule: AggregationRule) -> Rule {
		match rule {
			AggregationRule::FedAvg => Rule::FedAvg,
			AggregationRule::Median => Rule::Median,
			AggregationRule::TrimmedMean { trim } => Rule::TrimmedMean {
				trim: unperbill(trim),
			},
			AggregationRule::NormClip { max_norm } => Rule::NormClip {
				max_norm: unfixed(max_norm),
			},
		}
	}
}

impl Rule {
	/// The rule as the chain stores it: its parameter rounded to 9 decimals.
	pub fn to_chain(self) -> AggregationRule {
		match self {
			Rule::FedAvg => AggregationRule::FedAvg,
			Rule::Median => AggregationRule::Median,
			Rule::TrimmedMean { trim } => AggregationRule::TrimmedMean {
				trim: perbill(trim),
			},
			Rule::NormClip { max_norm } => AggregationRule::NormClip {
				max_norm: fixed(max_norm),
			},
		}
	}

	/// Checks the parameter as the chain would (a trim below one half, a norm bound in
	/// (0, 10⁶]) after rounding it as the chain does.
	pub fn validate(self) -> Result<()> {
		let finite = match self {
			Rule::TrimmedMean { trim: x } | Rule::NormClip { max_norm: x } => x.is_finite(),
			Rule::FedAvg | Rule::Median => true,
		};
		ensure!(
			finite && self.to_chain().is_valid(),
			"aggregation rule {self}: trim must lie in [0, 0.5) and max_norm in (0, {}], with at \
			 most 9 decimals",
			pol_primitives::specs::MAX_NORM_CLIP
		);
		Ok(())
	}
}

/// A rule as a config section writes it; a parameter the rule does not take is an error, not
/// silently dropped.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSection {
	/// `fedavg`, `median`, `trimmed-mean` or `norm-clip`.
	rule: String,
	/// Share trimmed at each end, for `trimmed-mean`.
	#[serde(default, skip_serializing_if = "Option::is_none")]
	trim: Option<f64>,
	/// Largest delta norm, for `norm-clip`.
	#[serde(default, skip_serializing_if = "Option::is_none")]
	max_norm: Option<f64>,
}

impl TryFrom<RuleSection> for Rule {
	type Error = String;

	fn try_from(s: RuleSection) -> Result<Rule, String> {
		let rule = match (s.rule.as_str(), s.trim, s.max_norm) {
			("fedavg", None, None) => Rule::FedAvg,
			("median", None, None) => Rule::Median,
			("trimmed-mean", Some(trim), None) => Rule::TrimmedMean { trim },
			("norm-clip", None, Some(max_norm)) => Rule::NormClip { max_norm },
			("trimmed-mean", None, _) => return Err("rule \"trimmed-mean\" needs trim".into()),
			("norm-clip", _, None) => return Err("rule \"norm-clip\" needs max_norm".into()),
			("fedavg" | "median" | "trimmed-mean" | "norm-clip", _, _) => {
				return Err(format!(
					"rule {:?} takes {}",
					s.rule,
					match s.rule.as_str() {
						"trimmed-mean" => "trim only",
						"norm-clip" => "max_norm only",
						_ => "no trim or max_norm",
					}
				))
			}
			(other, _, _) => {
				return Err(format!(
					"unknown rule {other:?} (fedavg, median, trimmed-mean, norm-clip)"
				))
			}
		};
		Ok(rule)
	}
}

impl From<Rule> for RuleSection {
	fn from(rule: Rule) -> RuleSection {
		let (name, trim, max_norm) = match rule {
			Rule::FedAvg => ("fedavg", None, None),
			Rule::Median => ("median", None, None),
			Rule::TrimmedMean { trim } => ("trimmed-mean", Some(trim), None),
			Rule::NormClip { max_norm } => ("norm-clip", None, Some(max_norm)),
		};
		RuleSection {
			rule: name.into(),
			trim,
			max_norm,
		}
	}
}

impl std::str::FromStr for Rule {
	type Err = anyhow::Error;

	/// `fedavg`, `median`, `trimmed-mean:0.2`, `norm-clip:5.0`.
	fn from_str(s: &str) -> Result<Rule> {
		let (name, arg) = s.split_once(':').unwrap_or((s, ""));
		let num = || -> Result<f64> {
			arg.parse::<f64>()
				.with_context(|| format!("rule {s:?} needs a number after ':'"))
		};
		Ok(match name {
			"fedavg" => Rule::FedAvg,
			"median" => Rule::Median,
			"trimmed-mean" => Rule::TrimmedMean { trim: num()? },
			"norm-clip" => Rule::NormClip { max_norm: num()? },
			_ => bail!("unknown rule {s:?} (fedavg, median, trimmed-mean:<β>, norm-clip:<C>)"),
		})
	}
}

impl std::fmt::Display for Rule {
	/// The `--rule` syntax, which [`str::parse`] reads back.
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		match self {
			Rule::FedAvg => write!(f, "fedavg"),
			Rule::Median => write!(f, "median"),
			Rule::TrimmedMean { trim } => write!(f, "trimmed-mean:{trim}"),
			Rule::NormClip { max_norm } => write!(f, "norm-clip:{max_norm}"),
		}
	}
}

/// A miner's update: its final parameters and its consensus score.
#[derive(Clone, Debug)]
pub struct Update {
	/// The miner (orders the updates).
	pub miner: AccountBytes,
	/// Final parameters.
	pub params: Vec<NamedTensor>,
	/// Score in [0, 1].
	pub score: f64,
}

/// Aggregates `updates` of the model `base` by `rule`. Updates with a score of 0 are left out
/// (they failed, or did not improve the model); none left is an error, and the round keeps
/// `base`. An update with a NaN or infinite parameter is an error whatever the rule.
pub fn aggregate(base: &[NamedTensor], updates: &[Update], rule: Rule) -> Result<Vec<NamedTensor>> {
	// The chain's numbers, whether the rule came from the chain, a file or a flag: the same
	// model hash everywhere.
	rule.validate()?;
	let chain_rule = rule.to_chain();
	let rule = Rule::from(chain_rule);
	let mut base: Vec<NamedTensor> = base.to_vec();
	base.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
	let layout: Vec<(String, Vec<u64>)> = base
		.iter()
		.map(|t| (t.name.clone(), t.dims.clone()))
		.collect();
	let mut ups: Vec<&Update> = Vec::new();
	for u in updates {
		ensure!(
			u.score.is_finite() && (0.0..=1.0).contains(&u.score),
			"score {} out of [0, 1]",
			u.score
		);
		check_same_layout(&layout, &u.params)
			.with_context(|| format!("the update of {}", crate::config::hex32(&u.miner)))?;
		// One NaN would make every coordinate it touches NaN under FedAvg, slip past a norm
		// clip (`NaN > max_norm` is false) and order arbitrarily in a median: refused outright.
		ensure!(
			u.params
				.iter()
				.all(|t| t.data.iter().all(|x| x.is_finite())),
			"the update of {} holds NaN or infinite values",
			crate::config::hex32(&u.miner)
		);
		if u.score > 0.0 {
			ups.push(u);
		}
	}
	ensure!(
		!ups.is_empty(),
		"no update with a positive score to aggregate"
	);
	ups.sort_by_key(|u| u.miner);
	for w in ups.windows(2) {
		ensure!(w[0].miner != w[1].miner, "two updates of one miner");
	}
	// Each update's tensors in the base's (name) order.
	let sorted: Vec<Vec<&NamedTensor>> = ups
		.iter()
		.map(|u| {
			let mut v: Vec<&NamedTensor> = u.params.iter().collect();
			v.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
			v
		})
		.collect();
	let m = ups.len();
	let mut out = base.clone();
	match rule {
		Rule::FedAvg => {
			let total: f64 = ups.iter().map(|u| u.score).sum();
			for (t, o) in out.iter_mut().enumerate() {
				for (i, v) in o.data.iter_mut().enumerate() {
					let mut acc = 0.0f64;
					for (u, s) in ups.iter().zip(&sorted) {
						acc += u.score * s[t].data[i] as f64;
					}
					*v = (acc / total) as f32;
				}
			}
		}
		Rule::Median | Rule::TrimmedMean { .. } => {
			let trim = chain_rule.trimmed_count(m as u32) as usize;
			let mut column = vec![0.0f32; m];
			for (t, o) in out.iter_mut().enumerate() {
				for (i, v) in o.data.iter_mut().enumerate() {
					for (c, s) in column.iter_mut().zip(&sorted) {
						*c = s[t].data[i];
					}
					// total_cmp: a total order, so NaNs cannot make the result order-dependent.
					column.sort_by(|a, b| a.total_cmp(b));
					*v = if rule == Rule::Median {
						if m % 2 == 1 {
							column[m / 2]
						} else {
							((column[m / 2 - 1] as f64 + column[m / 2] as f64) / 2.0) as f32
						}
					} else {
						let kept = &column[trim..m - trim];
						(kept.iter().map(|&x| x as f64).sum::<f64>() / kept.len() as f64) as f32
					};
				}
			}
		}
		Rule::NormClip { max_norm } => {
			let total: f64 = ups.iter().map(|u| u.score).sum();
			let factors: Vec<f64> = sorted
				.iter()
				.map(|s| {
					let mut sq = 0.0f64;
					for (t, b) in base.iter().enumerate() {
						for (x, y) in s[t].data.iter().zip(&b.data) {
							let d = *x as f64 - *y as f64;
							sq += d * d;
						}
					}
					let norm = sq.sqrt();
					if norm > max_norm {
						max_norm / norm
					} else {
						1.0
					}
				})
				.collect();
			for (t, o) in out.iter_mut().enumerate() {
				for (i, v) in o.data.iter_mut().enumerate() {
					let b = base[t].data[i] as f64;
					let mut acc = 0.0f64;
					for ((u, s), f) in ups.iter().zip(&sorted).zip(&factors) {
						acc += u.score * f * (s[t].data[i] as f64 - b);
					}
					*v = (b + acc / total) as f32;
				}
			}
		}
	}
	Ok(out)
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::model::hash_named;

	fn t(values: &[f32]) -> Vec<NamedTensor> {
		vec![NamedTensor {
			name: "w".into(),
			dims: vec![values.len() as u64],
			data: values.to_vec(),
		}]
	}

	fn up(miner: u8, values: &[f32], score: f64) -> Update {
		Update {
			miner: [miner; 32],
			params: t(values),
			score,
		}
	}

	#[test]
	fn rules_compute_what_they_say() {
		let base = t(&[0.0, 0.0]);
		let ups = [
			up(1, &[1.0, 10.0], 0.25),
			up(2, &[2.0, 20.0], 0.25),
			up(3, &[3.0, 30.0], 0.5),
			up(4, &[100.0, -50.0], 0.0), // score 0: left out
		];
		let fedavg = aggregate(&base, &ups, Rule::FedAvg).unwrap();
		assert_eq!(fedavg[0].data, [2.25, 22.5]);
		let median = aggregate(&base, &ups[..3], Rule::Median).unwrap();
		assert_eq!(median[0].data, [2.0, 20.0]);
		let even = [up(1, &[1.0], 1.0), up(2, &[4.0], 1.0)];
		assert_eq!(
			aggregate(&t(&[0.0]), &even, Rule::Median).unwrap()[0].data,
			[2.5]
		);
		let five = [
			up(1, &[1.0], 1.0),
			up(2, &[2.0], 1.0),
			up(3, &[3.0], 1.0),
			up(4, &[4.0], 1.0),
			up(5, &[1000.0], 1.0),
		];
		let trimmed = aggregate(&t(&[0.0]), &five, Rule::TrimmedMean { trim: 0.2 }).unwrap();
		assert_eq!(trimmed[0].data, [3.0]);
		// Below the chain's 9 decimals it is the same rule: 0.1999999999 rounds to 20%.
		let rounded = Rule::TrimmedMean { trim: 0.1999999999 };
		assert_eq!(aggregate(&t(&[0.0]), &five, rounded).unwrap(), trimmed);
		// ⌊0.2 · 4⌋ = 0, yet one is dropped at each end: the outlier moves nothing.
		let four = aggregate(&t(&[0.0]), &five[1..], Rule::TrimmedMean { trim: 0.2 }).unwrap();
		assert_eq!(four[0].data, [3.5]);
		for bad in [
			Rule::TrimmedMean { trim: 0.5 },
			Rule::NormClip { max_norm: 0.0 },
			Rule::NormClip { max_norm: f64::NAN },
		] {
			assert!(aggregate(&t(&[0.0]), &five, bad).is_err(), "{bad}");
		}
		// One update of norm 5 clipped to 1; one of norm 0.5 kept.
		let clip = [up(1, &[3.0, 4.0], 1.0), up(2, &[0.3, 0.4], 1.0)];
		let clipped = aggregate(&base, &clip, Rule::NormClip { max_norm: 1.0 }).unwrap();
		assert!((clipped[0].data[0] - 0.45).abs() < 1e-6);
		assert!((clipped[0].data[1] - 0.6).abs() < 1e-6);
	}

	#[test]
	fn same_inputs_same_hash_whatever_the_order() {
		let base = t(&[0.5, -0.5, 0.25]);
		let a = [
			up(9, &[0.1, 0.2, 0.3], 0.3),
			up(1, &[0.7, 0.1, -0.3], 0.9),
			up(5, &[0.11, 0.19, 0.0], 0.5),
		];
		let mut b = a.clone();
		b.reverse();
		for rule in [
			Rule::FedAvg,
			Rule::Median,
			Rule::TrimmedMean { trim: 0.34 },
			Rule::NormClip { max_norm: 0.2 },
		] {
			let ha = hash_named(&aggregate(&base, &a, rule).unwrap()).unwrap();
			let hb = hash_named(&aggregate(&base, &b, rule).unwrap()).unwrap();
			assert_eq!(ha, hb, "{rule:?}");
		}
	}

	#[test]
	fn bad_inputs_are_errors() {
		let base = t(&[0.0, 0.0]);
		assert!(aggregate(&base, &[], Rule::FedAvg).is_err());
		assert!(aggregate(&base, &[up(1, &[1.0, 1.0], 0.0)], Rule::FedAvg).is_err());
		assert!(aggregate(&base, &[up(1, &[1.0], 1.0)], Rule::FedAvg).is_err());
		assert!(aggregate(&base, &[up(1, &[1.0, 1.0], 2.0)], Rule::FedAvg).is_err());
		// Non-finite parameters are refused by every rule, norm clipping included.
		for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
			let poisoned = [up(1, &[1.0, 1.0], 1.0), up(2, &[bad, 1.0], 1.0)];
			for rule in [
				Rule::FedAvg,
				Rule::Median,
				Rule::TrimmedMean { trim: 0.2 },
				Rule::NormClip { max_norm: 1.0 },
			] {
				assert!(
					aggregate(&base, &poisoned, rule).is_err(),
					"{rule} took {bad}"
				);
			}
		}
		let dup = [up(1, &[1.0, 1.0], 1.0), up(1, &[2.0, 1.0], 1.0)];
		assert!(aggregate(&base, &dup, Rule::FedAvg).is_err());
		assert!(aggregate(&base, &dup[..1], Rule::TrimmedMean { trim: 0.5 }).is_err());
		assert!("trimmed-mean:x".parse::<Rule>().is_err());
		assert_eq!(
			"norm-clip:2".parse::<Rule>().unwrap(),
			Rule::NormClip { max_norm: 2.0 }
		);
	}
}
