//! What a worker counts for its operator, in Prometheus' text format at `GET /metrics` on its
//! artifact server (`prometheus-client`).
//!
//! One set per process: a process is one miner or one validator.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::OnceLock;

/// A verdict's kind, as a label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerdictLabel {
	/// `pass`, `fail`, `not_served` or `abstain`.
	pub kind: String,
}

/// The worker's metrics.
pub struct Metrics {
	registry: Registry,
	/// Rounds this worker took part in (a round counted when first seen).
	pub rounds: Counter,
	/// Verifications by outcome.
	pub verdicts: Family<VerdictLabel, Counter>,
	/// Seconds each verification took.
	pub verification_seconds: Histogram,
	/// Artifact bytes fetched from other workers.
	pub fetched_bytes: Counter,
	/// Artifact bytes served to other workers.
	pub served_bytes: Counter,
	/// Artifacts served.
	pub served_artifacts: Counter,
	/// Connections refused over a cap (503).
	pub refused_connections: Counter,
	/// Connections closed at the total cap for a peer that held fewer (the fair share).
	pub evicted_connections: Counter,
	/// Connections closed for a timeout.
	pub timed_out_connections: Counter,
	/// Extrinsics sent (first sends and re-sends).
	pub extrinsics_sent: Counter,
	/// Extrinsics sent again after their effect did not show in time.
	pub extrinsics_resent: Counter,
	/// Extrinsics that failed in a finalized block.
	pub extrinsics_failed: Counter,
	/// The last finalized block seen.
	pub finalized_block: Gauge,
}

impl Metrics {
	fn new() -> Metrics {
		let mut registry = Registry::with_prefix("pol_worker");
		let m = Metrics {
			rounds: Counter::default(),
			verdicts: Family::default(),
			verification_seconds: Histogram::new(exponential_buckets(0.05, 2.0, 14)),
			fetched_bytes: Counter::default(),
			served_bytes: Counter::default(),
			served_artifacts: Counter::default(),
			refused_connections: Counter::default(),
			evicted_connections: Counter::default(),
			timed_out_connections: Counter::default(),
			extrinsics_sent: Counter::default(),
			extrinsics_resent: Counter::default(),
			extrinsics_failed: Counter::default(),
			finalized_block: Gauge::default(),
			registry: Registry::default(),
		};
		registry.register("rounds", "Rounds taken part in", m.rounds.clone());
		registry.register("verdicts", "Verifications by outcome", m.verdicts.clone());
		registry.register(
			"verification_seconds",
			"Seconds a verification took",
			m.verification_seconds.clone(),
		);
		registry.register(
			"fetched_bytes",
			"Artifact bytes fetched",
			m.fetched_bytes.clone(),
		);
		registry.register(
			"served_bytes",
			"Artifact bytes served",
			m.served_bytes.clone(),
		);
		registry.register(
			"served_artifacts",
			"Artifacts served",
			m.served_artifacts.clone(),
		);
		registry.register(
			"refused_connections",
			"Connections refused over a cap (503)",
			m.refused_connections.clone(),
		);
		registry.register(
			"evicted_connections",
			"Connections closed at the total cap for a peer that held fewer",
			m.evicted_connections.clone(),
		);
		registry.register(
			"timed_out_connections",
			"Connections closed for a timeout",
			m.timed_out_connections.clone(),
		);
		registry.register(
			"extrinsics_sent",
			"Extrinsics sent",
			m.extrinsics_sent.clone(),
		);
		registry.register(
			"extrinsics_resent",
			"Extrinsics sent again after their effect did not show",
			m.extrinsics_resent.clone(),
		);
		registry.register(
			"extrinsics_failed",
			"Extrinsics that failed in a finalized block",
			m.extrinsics_failed.clone(),
		);
		registry.register(
			"finalized_block",
			"The last finalized block seen",
			m.finalized_block.clone(),
		);
		Metrics { registry, ..m }
	}

	/// Counts a verdict of `kind`, reached in `seconds`.
	pub fn verdict(&self, kind: &str, seconds: f64) {
		self.verdicts
			.get_or_create(&VerdictLabel { kind: kind.into() })
			.inc();
		self.verification_seconds.observe(seconds);
	}

	/// The text exposition.
	pub fn encode(&self) -> String {
		let mut out = String::new();
		// Writing into a String cannot fail.
		let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
		out
	}
}

/// This process's metrics.
pub fn global() -> &'static Metrics {
	static METRICS: OnceLock<Metrics> = OnceLock::new();
	METRICS.get_or_init(Metrics::new)
}
