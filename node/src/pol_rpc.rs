//! The `pol_*` RPC methods: the runtime API `PolApi` as JSON, for people and scripts (`curl`,
//! the worker's status commands). Accounts are SS58 strings, hashes 0x-hex, balances decimal
//! strings (they exceed JavaScript's safe integers), fractions numbers in [0, 1].

use std::sync::Arc;

use jsonrpsee::{
	core::RpcResult,
	proc_macros::rpc,
	types::{error::ErrorObject, ErrorObjectOwned},
};
use pol_primitives::{
	AggregationRule, Comparison, DatasetSource, Partition, Phase, RoundIndex, SegmentIndex, TaskId,
	UpdateCommitment,
};
use polchain_runtime::{
	opaque::Block,
	pol_api::{Earner, GlobalModel, PolApi, RoundStatus, TaskInfo, ValidatorInfo},
	AccountId, Balance, BlockNumber,
};
use serde_json::{json, Value};
use sp_api::ProvideRuntimeApi;
use sp_blockchain::HeaderBackend;
use sp_core::crypto::Ss58Codec;
use sp_runtime::{traits::Block as BlockT, FixedPointNumber, FixedU64, Perbill};

type Hash = <Block as BlockT>::Hash;

/// The `pol_*` methods. Each takes an optional block hash (default: the best block).
#[rpc(server, namespace = "pol")]
pub trait PolRpcApi {
	/// The ids of the stored tasks among `from..from + limit` (default 0 and 1 000, at most
	/// 1 000 a page).
	#[method(name = "taskIds")]
	fn task_ids(
		&self,
		from: Option<TaskId>,
		limit: Option<u32>,
		at: Option<Hash>,
	) -> RpcResult<Vec<TaskId>>;
	/// The running tasks' ids.
	#[method(name = "runningTasks")]
	fn running_tasks(&self, at: Option<Hash>) -> RpcResult<Vec<TaskId>>;
	/// A task, or null.
	#[method(name = "task")]
	fn task(&self, task: TaskId, at: Option<Hash>) -> RpcResult<Option<Value>>;
	/// A task's current round with its phase deadlines, or null.
	#[method(name = "roundStatus")]
	fn round_status(&self, task: TaskId, at: Option<Hash>) -> RpcResult<Option<Value>>;
	/// The segments `validator` had to replay of `miner`: the last, then ones drawn from its
	/// VRF randomness (null until it revealed its scores).
	#[method(name = "challenges")]
	fn challenges(
		&self,
		task: TaskId,
		round: RoundIndex,
		validator: AccountId,
		miner: AccountId,
		at: Option<Hash>,
	) -> RpcResult<Option<Vec<SegmentIndex>>>;
	/// The revealed updates of a round.
	#[method(name = "revealedUpdates")]
	fn revealed_updates(
		&self,
		task: TaskId,
		round: RoundIndex,
		at: Option<Hash>,
	) -> RpcResult<Vec<Value>>;
	/// The updates of a round eligible for the global model now, with their consensus scores
	/// (judged by more than half of the snapshot stake, and no dispute a majority has upheld).
	#[method(name = "consensus")]
	fn consensus(&self, task: TaskId, round: RoundIndex, at: Option<Hash>)
		-> RpcResult<Vec<Value>>;
	/// The accounts that earned most (default 20).
	#[method(name = "leaderboard")]
	fn leaderboard(&self, limit: Option<u32>, at: Option<Hash>) -> RpcResult<Vec<Value>>;
	/// Active validators with stake and trust, best first.
	#[method(name = "validators")]
	fn validators(&self, at: Option<Hash>) -> RpcResult<Vec<Value>>;
	/// The global models a task accepted in rounds `from..from + limit` (default 0 and 1 000,
	/// at most 1 000 a page), oldest first.
	#[method(name = "modelHistory")]
	fn model_history(
		&self,
		task: TaskId,
		from: Option<RoundIndex>,
		limit: Option<u32>,
		at: Option<Hash>,
	) -> RpcResult<Vec<Value>>;
	/// Where a task's current global model is served: each proposer and its URI.
	#[method(name = "modelSources")]
	fn model_sources(&self, task: TaskId, at: Option<Hash>) -> RpcResult<Vec<Value>>;
}

/// Serves [`PolRpcApiServer`] from the client's runtime API.
pub struct PolRpc<C> {
	client: Arc<C>,
}

impl<C> PolRpc<C> {
	/// The methods over `client`.
	pub fn new(client: Arc<C>) -> Self {
		Self { client }
	}
}

fn api_error(e: impl std::fmt::Display) -> ErrorObjectOwned {
	ErrorObject::owned(1, format!("runtime API call failed: {e}"), None::<()>)
}

fn ss58(a: &AccountId) -> String {
	a.to_ss58check()
}

fn hex(bytes: &[u8]) -> String {
	format!(
		"0x{}",
		bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
	)
}

/// A page of a list query when the caller names none: the runtime's most.
const PAGE: u32 = pol_primitives::MAX_PAGE;

fn text(bytes: &[u8]) -> String {
	String::from_utf8_lossy(bytes).into_owned()
}

fn fixed(x: FixedU64) -> f64 {
	x.into_inner() as f64 / FixedU64::DIV as f64
}

fn fraction(p: Perbill) -> f64 {
	p.deconstruct() as f64 / 1_000_000_000.0
}

fn phase_name(p: Phase) -> &'static str {
	match p {
		Phase::Commit => "commit",
		Phase::Reveal => "reveal",
		Phase::Verify => "verify",
		Phase::ScoreReveal => "scoreReveal",
		Phase::VoteCommit => "voteCommit",
		Phase::VoteReveal => "voteReveal",
		Phase::Finalize => "finalize",
	}
}

fn model_json(m: &GlobalModel<BlockNumber>) -> Value {
	json!({ "modelHash": hex(m.model_hash.as_bytes()), "uri": text(&m.uri), "acceptedAt": m.accepted_at })
}

fn task_json(id: TaskId, t: &TaskInfo<AccountId, Balance, BlockNumber>) -> Value {
	let s = &t.spec;
	let source = match s.dataset.source {
		DatasetSource::Digits => json!({ "kind": "digits" }),
		DatasetSource::Synthetic {
			seed,
			samples,
			features,
			classes,
		} => json!({
			"kind": "synthetic", "seed": seed, "samples": samples, "features": features,
			"classes": classes,
		}),
	};
	let partition = match s.dataset.partition {
		Partition::Iid => json!({ "kind": "iid" }),
		Partition::Dirichlet { alpha } => json!({ "kind": "dirichlet", "alpha": fixed(alpha) }),
	};
	let comparison = match s.verification.comparison {
		Comparison::Exact => json!({ "kind": "exact" }),
		Comparison::Tolerance(t) => json!({ "kind": "tolerance", "tolerance": fraction(t) }),
	};
	let aggregation = match s.aggregation {
		AggregationRule::FedAvg => json!({ "rule": "fedavg" }),
		AggregationRule::Median => json!({ "rule": "median" }),
		AggregationRule::TrimmedMean { trim } => {
			json!({ "rule": "trimmed-mean", "trim": fraction(trim) })
		}
		AggregationRule::NormClip { max_norm } => {
			json!({ "rule": "norm-clip", "maxNorm": fixed(max_norm) })
		}
	};
	let hp = &s.hyperparameters;
	let sc = &s.schedule;
	json!({
		"id": id,
		"creator": ss58(&t.creator),
		"status": format!("{:?}", t.status),
		"budget": t.budget.to_string(),
		"round": t.round,
		"phase": phase_name(t.phase),
		"phaseEnds": t.phase_ends,
		"model": model_json(&t.model),
		"miners": t.miners,
		"spec": {
			"model": text(&s.model),
			"initialModelHash": hex(s.initial_model_hash.as_bytes()),
			"initialModelUri": text(&s.initial_model_uri),
			"dataset": {
				"source": source,
				"numShards": s.dataset.num_shards,
				"partition": partition,
				"validation": fraction(s.dataset.validation),
			},
			"hyperparameters": {
				"learningRate": fixed(hp.learning_rate),
				"momentum": fixed(hp.momentum),
				"batchSize": hp.batch_size,
				"localSteps": hp.local_steps,
				"checkpointInterval": hp.checkpoint_interval,
			},
			"verification": {
				"segmentsPerCheck": s.verification.segments_per_check,
				"comparison": comparison,
			},
			"aggregation": aggregation,
			"schedule": {
				"commitBlocks": sc.commit_blocks,
				"revealBlocks": sc.reveal_blocks,
				"verifyBlocks": sc.verify_blocks,
				"scoreRevealBlocks": sc.score_reveal_blocks,
				"voteCommitBlocks": sc.vote_commit_blocks,
				"voteRevealBlocks": sc.vote_reveal_blocks,
				"finalizeBlocks": sc.finalize_blocks,
				"rounds": sc.rounds,
			},
			"rewardPerRound": s.reward_per_round.to_string(),
			"validatorShare": fraction(s.validator_share),
			"maxMiners": s.max_miners,
		},
	})
}

fn round_json(r: &RoundStatus<BlockNumber>) -> Value {
	json!({
		"round": r.round,
		"phase": phase_name(r.phase),
		"phaseEnds": r.phase_ends.iter().map(|(p, b)| json!({ "phase": phase_name(*p), "lastBlock": b })).collect::<Vec<_>>(),
		"startedAt": r.started_at,
		"seed": hex(r.seed.as_bytes()),
		"challengeSeed": r.challenge_seed.map(|s| hex(s.as_bytes())),
		"commits": r.commits,
		"reveals": r.reveals,
		"model": hex(r.model.as_bytes()),
		"status": format!("{:?}", r.status),
	})
}

fn update_json(miner: &AccountId, c: &UpdateCommitment) -> Value {
	json!({
		"miner": ss58(miner),
		"checkpointRoot": hex(c.checkpoint_root.as_bytes()),
		"finalModelHash": hex(c.final_model_hash.as_bytes()),
		"numSegments": c.num_segments,
		"trainLoss": fixed(c.train_loss),
		"artifactUri": text(&c.artifact_uri),
	})
}

impl<C> PolRpc<C>
where
	C: ProvideRuntimeApi<Block> + HeaderBackend<Block> + Send + Sync + 'static,
	C::Api: PolApi<Block, AccountId, Balance, BlockNumber>,
{
	fn at(&self, at: Option<Hash>) -> Hash {
		at.unwrap_or_else(|| self.client.info().best_hash)
	}
}

impl<C> PolRpcApiServer for PolRpc<C>
where
	C: ProvideRuntimeApi<Block> + HeaderBackend<Block> + Send + Sync + 'static,
	C::Api: PolApi<Block, AccountId, Balance, BlockNumber>,
{
	fn task_ids(
		&self,
		from: Option<TaskId>,
		limit: Option<u32>,
		at: Option<Hash>,
	) -> RpcResult<Vec<TaskId>> {
		self.client
			.runtime_api()
			.task_ids(self.at(at), from.unwrap_or(0), limit.unwrap_or(PAGE))
			.map_err(api_error)
	}

	fn running_tasks(&self, at: Option<Hash>) -> RpcResult<Vec<TaskId>> {
		self.client
			.runtime_api()
			.running_tasks(self.at(at))
			.map_err(api_error)
	}

	fn task(&self, task: TaskId, at: Option<Hash>) -> RpcResult<Option<Value>> {
		let info = self
			.client
			.runtime_api()
			.task(self.at(at), task)
			.map_err(api_error)?;
		Ok(info.map(|t| task_json(task, &t)))
	}

	fn round_status(&self, task: TaskId, at: Option<Hash>) -> RpcResult<Option<Value>> {
		let r = self
			.client
			.runtime_api()
			.round_status(self.at(at), task)
			.map_err(api_error)?;
		Ok(r.as_ref().map(round_json))
	}

	fn challenges(
		&self,
		task: TaskId,
		round: RoundIndex,
		validator: AccountId,
		miner: AccountId,
		at: Option<Hash>,
	) -> RpcResult<Option<Vec<SegmentIndex>>> {
		self.client
			.runtime_api()
			.challenges(self.at(at), task, round, validator, miner)
			.map_err(api_error)
	}

	fn revealed_updates(
		&self,
		task: TaskId,
		round: RoundIndex,
		at: Option<Hash>,
	) -> RpcResult<Vec<Value>> {
		let list = self
			.client
			.runtime_api()
			.revealed_updates(self.at(at), task, round)
			.map_err(api_error)?;
		Ok(list.iter().map(|(m, c)| update_json(m, c)).collect())
	}

	fn consensus(
		&self,
		task: TaskId,
		round: RoundIndex,
		at: Option<Hash>,
	) -> RpcResult<Vec<Value>> {
		let list = self
			.client
			.runtime_api()
			.consensus(self.at(at), task, round)
			.map_err(api_error)?;
		Ok(list
			.iter()
			.map(|(m, s)| json!({ "miner": ss58(m), "score": fraction(*s) }))
			.collect())
	}

	fn leaderboard(&self, limit: Option<u32>, at: Option<Hash>) -> RpcResult<Vec<Value>> {
		let list: Vec<Earner<AccountId, Balance>> = self
			.client
			.runtime_api()
			.leaderboard(self.at(at), limit.unwrap_or(20))
			.map_err(api_error)?;
		Ok(list
			.iter()
			.map(|e| {
				json!({
					"account": ss58(&e.account),
					"role": e.role.map(|r| format!("{r:?}")),
					"earned": e.earned.to_string(),
				})
			})
			.collect())
	}

	fn validators(&self, at: Option<Hash>) -> RpcResult<Vec<Value>> {
		let list: Vec<ValidatorInfo<AccountId, Balance>> = self
			.client
			.runtime_api()
			.validators(self.at(at))
			.map_err(api_error)?;
		Ok(list
			.iter()
			.map(|v| {
				json!({
					"account": ss58(&v.account),
					"stake": v.stake.to_string(),
					"trust": fraction(v.trust),
					"authority": v.authority,
				})
			})
			.collect())
	}

	fn model_history(
		&self,
		task: TaskId,
		from: Option<RoundIndex>,
		limit: Option<u32>,
		at: Option<Hash>,
	) -> RpcResult<Vec<Value>> {
		let list = self
			.client
			.runtime_api()
			.model_history(self.at(at), task, from.unwrap_or(0), limit.unwrap_or(PAGE))
			.map_err(api_error)?;
		Ok(list
			.iter()
			.map(|(round, m)| {
				let mut v = model_json(m);
				v["round"] = json!(round);
				v
			})
			.collect())
	}

	fn model_sources(&self, task: TaskId, at: Option<Hash>) -> RpcResult<Vec<Value>> {
		let list = self
			.client
			.runtime_api()
			.model_sources(self.at(at), task)
			.map_err(api_error)?;
		Ok(list
			.iter()
			.map(|(proposer, uri)| json!({ "proposer": ss58(proposer), "uri": text(uri) }))
			.collect())
	}
}
