//! The chain client: subxt over websockets to one of several nodes, with fail-over, blocking
//! calls for the worker's synchronous loops, and extrinsics that are not lost.
//!
//! - Every call runs on a tokio runtime owned by [`Chain`], under a timeout. When a node stops
//!   answering, the client connects to the next of its `--node` URLs (round robin, forever) and
//!   retries the call; a call that fails on a live node is a real error and is returned.
//! - The runtime API is read at the best block (when to act); storage at the latest finalized
//!   block (whether an action took effect, which cannot be reverted).
//! - [`Chain::send`] signs with the account's next nonce from the node's pool and a short
//!   mortality, and follows the extrinsic's status ([`Pending`]): while it may still be in a
//!   pool it is sent again as the same bytes (the same nonce: only one of them can land); once
//!   the node drops it or finds it invalid a fresh copy goes at once; if the node refuses the
//!   bytes sent again, or the watch is lost after a best block, a fresh copy goes only once the
//!   first copy's mortality is over; in the best chain it waits, however long finality stalls;
//!   failed at dispatch it is final. Blocks are counted in the best chain. The loops call it
//!   until they see the effect in finalized state.

use anyhow::{anyhow, bail, ensure, Context, Result};
use pol_primitives::{Hash, RoundIndex, TaskId};
use std::future::Future;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;
use subxt::config::RpcConfigFor;
use subxt::rpcs::{LegacyRpcMethods, RpcClient};
use subxt::{OnlineClient, PolkadotConfig};
use subxt_signer::{sr25519::Keypair, SecretUri};

pub use pol_chain_api::runtime_types;
pub use subxt::utils::AccountId32;

/// How long one request may take before the node counts as gone.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a worker waits for its first node to answer.
const FIRST_CONNECT_PATIENCE: Duration = Duration::from_secs(60);
/// Blocks an extrinsic lives (its mortality).
const MORTALITY: u64 = 16;
/// Best blocks after which an extrinsic still in a pool (not in a block) is sent again.
pub const RESUBMIT_AFTER: u32 = 6;

/// The environment variable a secret URI may come from (a `--suri` shows in `ps`).
pub const SURI_ENV: &str = "POL_SURI";

/// One connection: the typed client and the legacy RPC methods beside it.
#[derive(Clone)]
pub struct Conn {
	/// The typed client.
	pub api: OnlineClient<PolkadotConfig>,
	/// `system_accountNextIndex` and friends.
	pub rpc: LegacyRpcMethods<RpcConfigFor<PolkadotConfig>>,
}

/// The client at a block, as subxt gives it.
pub type AtBlock = subxt::client::OnlineClientAtBlock<PolkadotConfig>;

impl Conn {
	/// The client at the node's best block.
	pub async fn at_best(&self) -> Result<AtBlock> {
		let best = self
			.rpc
			.chain_get_block_hash(None)
			.await?
			.context("the node has no best block")?;
		Ok(self.api.at_block(best).await?)
	}
}

/// A client of polchain over one of several nodes.
pub struct Chain {
	rt: tokio::runtime::Runtime,
	urls: Vec<String>,
	next: usize,
	conn: Option<Conn>,
	url: String,
	signer: Option<Keypair>,
	/// The signing account's sr25519 pair, for its challenge proofs (VRF).
	challenge_key: Option<sp_core::sr25519::Pair>,
	/// The bonded account the signer acts for as its `Worker` proxy, if any: every call goes
	/// through `proxy.proxy(stash, Worker, call)`, and the worker is that account.
	stash: Option<AccountId32>,
}

/// The latest finalized block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
	/// Its number.
	pub number: u32,
	/// Its hash.
	pub hash: Hash,
}

impl Chain {
	/// Connects to the first of `urls` that answers; signs with `signer`, if any.
	pub fn connect(urls: &[String], signer: Option<Keypair>) -> Result<Chain> {
		if urls.is_empty() {
			bail!("no --node given: pass the websocket URL of a polchain node, e.g. ws://127.0.0.1:9944");
		}
		for u in urls {
			if !(u.starts_with("ws://") || u.starts_with("wss://")) {
				bail!("--node {u:?} is not a ws:// or wss:// URL");
			}
		}
		let rt = tokio::runtime::Builder::new_multi_thread()
			.worker_threads(2)
			.enable_all()
			.build()
			.context("starting the chain client's runtime")?;
		let mut chain = Chain {
			rt,
			urls: urls.to_vec(),
			next: 0,
			conn: None,
			url: String::new(),
			signer,
			challenge_key: None,
			stash: None,
		};
		// The first connection must work somewhere within a while (a node that is starting
		// up); a worker started against no node at all is a mistake to report.
		let deadline = std::time::Instant::now() + FIRST_CONNECT_PATIENCE;
		let mut errors = Vec::new();
		loop {
			match chain.reconnect() {
				Ok(()) => return Ok(chain),
				Err(e) => errors.push(format!("{e:#}")),
			}
			if std::time::Instant::now() >= deadline {
				// The last attempt at each node says enough.
				let last = &errors[errors.len().saturating_sub(chain.urls.len())..];
				bail!("cannot reach any node: {}", last.join("; "));
			}
			std::thread::sleep(Duration::from_secs(1));
		}
	}

	/// The URL of the node in use.
	pub fn url(&self) -> &str {
		&self.url
	}

	/// The account the worker is: the stash it acts for as a proxy, else the signing account.
	pub fn account(&self) -> Result<AccountId32> {
		match &self.stash {
			Some(stash) => Ok(stash.clone()),
			None => Ok(self.signer()?.public_key().to_account_id()),
		}
	}

	/// The signing key's account (which pays the fees, and whose nonces are used).
	pub fn signer_account(&self) -> Result<AccountId32> {
		Ok(self.signer()?.public_key().to_account_id())
	}

	/// Acts for `stash` as its `Worker` proxy: checks on chain that the signing key is one (with
	/// no delay), then sends every call through `proxy.proxy`. The stash's key, which can move
	/// the stake, then never needs to be on the worker's host.
	pub fn act_for(&mut self, stash: AccountId32) -> Result<()> {
		let me = self.signer_account()?;
		match self.worker_proxy_delay(&stash, &me)? {
			None => bail!(
				"{me} is not a Worker proxy of {stash}: from the stash, run `pol-worker \
				 worker-key --suri <the stash's key> --worker {me}` (or in polkadot.js apps: \
				 proxy.addProxy({me}, Worker, 0))"
			),
			Some(delay) if delay != 0 => bail!(
				"{me} is a Worker proxy of {stash} with a delay of {delay} blocks: a worker's \
				 calls cannot wait for announcements; add it with delay 0"
			),
			Some(_) => {}
		}
		log::info!("signing as {me}, a Worker proxy of {stash}");
		self.stash = Some(stash);
		Ok(())
	}

	/// The announcement delay of `delegate` as `stash`'s `Worker` proxy, `None` if it is not one
	/// (finalized state).
	pub fn worker_proxy_delay(
		&mut self,
		stash: &AccountId32,
		delegate: &AccountId32,
	) -> Result<Option<u32>> {
		let found = self.storage(
			"reading the stash's proxies",
			api::storage().proxy().proxies(),
			(stash.clone(),),
		)?;
		let definitions = found.map(|(defs, _)| defs.0).unwrap_or_default();
		Ok(definitions
			.iter()
			.find(|d| {
				d.delegate == *delegate
					&& matches!(
						d.proxy_type,
						runtime_types::polchain_runtime::configs::ProxyType::Worker
					)
			})
			.map(|d| d.delay))
	}

	/// The challenge key `stash` registered (`set_challenge_key`), if any (finalized state).
	pub fn registered_challenge_key(&mut self, stash: &AccountId32) -> Result<Option<[u8; 32]>> {
		self.storage(
			"reading the stash's challenge key",
			api::storage().pol_staking().challenge_keys(),
			(stash.clone(),),
		)
	}

	/// The stash this worker acts for, if it is a proxy.
	pub fn stash(&self) -> Option<&AccountId32> {
		self.stash.as_ref()
	}

	/// The signing account's 32 bytes.
	pub fn account_bytes(&self) -> Result<[u8; 32]> {
		Ok(self.account()?.0)
	}

	/// Sets the key challenge proofs are made with: the signing account's own pair.
	pub fn set_challenge_key(&mut self, pair: Option<sp_core::sr25519::Pair>) -> Result<()> {
		if let (Some(pair), Some(signer)) = (&pair, &self.signer) {
			use sp_core::Pair as _;
			ensure!(
				pair.public().0 == signer.public_key().0,
				"the challenge key is not the signing account's"
			);
		}
		self.challenge_key = pair;
		Ok(())
	}

	/// The public key challenge proofs are made with, if there is one.
	pub fn challenge_public(&self) -> Option<[u8; 32]> {
		use sp_core::Pair as _;
		self.challenge_key.as_ref().map(|p| p.public().0)
	}

	/// This validator's challenge proof and randomness over a round's `challenge_seed`.
	pub fn prove_challenge(
		&self,
		challenge_seed: &pol_primitives::Hash,
	) -> Result<(pol_primitives::ChallengeProof, pol_primitives::Hash)> {
		let pair = self
			.challenge_key
			.as_ref()
			.context("validating needs the account's key: pass --suri, $POL_SURI or --keystore")?;
		Ok(pol_primitives::challenge::prove(pair, challenge_seed))
	}

	fn signer(&self) -> Result<&Keypair> {
		self.signer
			.as_ref()
			.context("this command signs extrinsics: pass --suri, $POL_SURI or --keystore")
	}

	fn reconnect(&mut self) -> Result<()> {
		let url = self.urls[self.next % self.urls.len()].clone();
		self.next = self.next.wrapping_add(1);
		let previous = std::mem::take(&mut self.url);
		self.conn = None;
		let conn = self.rt.block_on(async {
			tokio::time::timeout(CONNECT_TIMEOUT, async {
				let rpc = RpcClient::from_insecure_url(&url).await?;
				let config = PolkadotConfig::builder().use_historic_types(false).build();
				let api = OnlineClient::from_rpc_client_with_config(config, rpc.clone()).await?;
				Ok::<_, anyhow::Error>(Conn {
					api,
					rpc: LegacyRpcMethods::new(rpc),
				})
			})
			.await
			.map_err(|_| anyhow!("no answer within {CONNECT_TIMEOUT:?}"))?
		});
		let conn = conn.with_context(|| format!("connecting to {url}"))?;
		if previous.is_empty() {
			log::info!("connected to {url}");
		} else if previous != url {
			log::warn!("{previous} went away; reconnected to {url}");
		}
		self.conn = Some(conn);
		self.url = url;
		Ok(())
	}

	/// Runs `f` on the current connection; if the node does not answer, moves on to the next
	/// node and tries again, until one answers. An error from a node that answers is returned.
	pub fn call<R, F, Fut>(&mut self, what: &str, f: F) -> Result<R>
	where
		F: Fn(Conn) -> Fut,
		Fut: Future<Output = Result<R>>,
	{
		let mut waited = 0u32;
		loop {
			if self.conn.is_none() {
				if let Err(e) = self.reconnect() {
					log::warn!("{e:#}");
					waited = waited.saturating_add(1);
					std::thread::sleep(Duration::from_secs(u64::from(waited.min(5))));
					continue;
				}
			}
			let conn = self.conn.clone().expect("connected above");
			let outcome = self
				.rt
				.block_on(async { tokio::time::timeout(REQUEST_TIMEOUT, f(conn.clone())).await });
			let err = match outcome {
				Ok(Ok(r)) => return Ok(r),
				Ok(Err(e)) => e,
				Err(_) => anyhow!("no answer within {REQUEST_TIMEOUT:?}"),
			};
			// Is the node still there? If so, the error is the call's own.
			let alive = self.rt.block_on(async {
				matches!(
					tokio::time::timeout(
						Duration::from_secs(5),
						conn.rpc.chain_get_finalized_head()
					)
					.await,
					Ok(Ok(_))
				)
			});
			if alive {
				return Err(err.context(format!("{what} (node {})", self.url)));
			}
			log::warn!("{what}: node {} does not answer ({err:#})", self.url);
			self.conn = None;
		}
	}

	/// The latest finalized block.
	pub fn finalized(&mut self) -> Result<Head> {
		self.call("reading the finalized head", |c| async move {
			let at = c.api.at_current_block().await?;
			Ok(Head {
				number: at.block_number() as u32,
				hash: Hash::from(at.block_hash().0),
			})
		})
		.inspect(|head| {
			crate::metrics::global()
				.finalized_block
				.set(i64::from(head.number));
		})
	}

	/// The node's best block number: where phases are read.
	pub fn best_number(&mut self) -> Result<u32> {
		self.call("reading the best block", |c| async move {
			Ok(c.at_best().await?.block_number() as u32)
		})
	}

	/// The chain's block time: twice the timestamp pallet's minimum period, as Aura's slot.
	pub fn block_time(&mut self) -> Result<Duration> {
		self.call("reading the block time", |c| async move {
			let at = c.api.at_current_block().await?;
			let half = at
				.constants()
				.entry(api::constants().timestamp().minimum_period())?;
			Ok(Duration::from_millis(half.saturating_mul(2)))
		})
	}

	/// Calls the runtime API payload `p` at the node's best block. Phases are read there:
	/// finality lags a few blocks, and a phase may be only a few blocks long. What is read
	/// here decides when to act; whether an action took effect is read from finalized
	/// state ([`Chain::storage`]).
	pub fn api_call<P>(&mut self, what: &str, p: P) -> Result<P::ReturnType>
	where
		P: subxt::runtime_apis::Payload + Clone,
	{
		self.call(what, move |c| {
			let p = p.clone();
			async move {
				let at = c.at_best().await?;
				Ok(at.runtime_apis().call(p).await?)
			}
		})
	}

	/// Calls the runtime API `p` at block `number` of the node's best chain: validators that
	/// must agree on what they read (the updates eligible for a round's model) read the same
	/// block.
	pub fn api_call_at<P>(&mut self, what: &str, number: u32, p: P) -> Result<P::ReturnType>
	where
		P: subxt::runtime_apis::Payload + Clone,
	{
		self.call(what, move |c| {
			let p = p.clone();
			async move {
				let hash = c
					.rpc
					.chain_get_block_hash(Some(number.into()))
					.await?
					.with_context(|| format!("the node has no block #{number}"))?;
				let at = c.api.at_block(hash).await?;
				Ok(at.runtime_apis().call(p).await?)
			}
		})
	}

	/// Reads the storage entry `addr` at `key` at the latest finalized block, `None` if absent.
	pub fn storage<A>(&mut self, what: &str, addr: A, key: A::KeyParts) -> Result<Option<A::Value>>
	where
		A: subxt::storage::Address + Clone,
		A::KeyParts: Clone,
		A::Value: subxt::ext::scale_decode::DecodeAsType,
	{
		self.call(what, move |c| {
			let (addr, key) = (addr.clone(), key.clone());
			async move {
				let at = c.api.at_current_block().await?;
				// An OptionQuery entry has no default: absent is `None`.
				match at.storage().try_fetch(addr, key).await? {
					Some(v) => Ok(Some(v.decode()?)),
					None => Ok(None),
				}
			}
		})
	}

	/// Signs `call` and sends it once; the outcome is logged when it is finalized. Returns the
	/// extrinsic's hash. For what must land, use [`Chain::send`].
	pub fn submit<C>(&mut self, what: &str, call: C) -> Result<Hash>
	where
		C: subxt::tx::Payload + Clone + Send + Sync + 'static,
	{
		let (hash, _, _) = self.sign_and_watch(what, call, None)?;
		Ok(hash)
	}

	/// Sends `call` under `key` as `pending` says: a first time; the very same signed bytes
	/// again while the first copy may still be in a pool (the same nonce: at most one copy can
	/// land); a freshly signed one once the first is out of every pool for good (dropped,
	/// invalid, expired); nothing while it is in the best chain, finalized, or failed at
	/// dispatch. See [`Pending`].
	pub fn send<C>(&mut self, pending: &mut Pending, key: &Action, now: u32, call: C) -> Result<()>
	where
		C: subxt::tx::Payload + Clone + Send + Sync + 'static,
	{
		// The block now, not when the caller looked: training or verifying may have taken
		// minutes since, and a send recorded in the past would be re-sent at once.
		let now = self.best_number().unwrap_or(now);
		match pending.next_send(key, now) {
			None => Ok(()),
			Some(Resend::Fresh) => {
				if let Some(old) = pending.txs.lock().ok().and_then(|t| t.get(key).cloned()) {
					log::warn!(
						"{key}: nonce {} cannot land any more; sent afresh",
						old.nonce
					);
					crate::metrics::global().extrinsics_resent.inc();
				}
				// Recorded before its watch starts, so that no status is missed.
				let watch = Some((pending.txs.clone(), key.clone(), now));
				self.sign_and_watch(&key.to_string(), call, watch)?;
				Ok(())
			}
			Some(Resend::Same(bytes)) => {
				log::warn!(
					"{key}: not in a block after {RESUBMIT_AFTER} blocks; sent again (same nonce)"
				);
				crate::metrics::global().extrinsics_resent.inc();
				pending.resent(key, now);
				let watch = (pending.txs.clone(), key.clone());
				if let Err(e) = self.rebroadcast(&key.to_string(), bytes, watch) {
					// Refused: the node has the bytes already, or they are stale (in a block
					// already, or expired), which only their mortality tells apart.
					let text = format!("{e:#}");
					if !text.to_ascii_lowercase().contains("already imported") {
						log::warn!("{key}: {text}");
						pending.update(key, None, TxState::Doubtful(text));
					}
				}
				Ok(())
			}
		}
	}

	/// Signs `call` with the account's next nonce from the node's pool and sends it, watched
	/// (recorded under the key in `watch`, sent at the block given there, before its watch
	/// starts); returns its hash, nonce and bytes.
	fn sign_and_watch<C>(
		&mut self,
		what: &str,
		call: C,
		watch: Option<(Txs, Action, u32)>,
	) -> Result<(Hash, u64, Vec<u8>)>
	where
		C: subxt::tx::Payload + Clone + Send + Sync + 'static,
	{
		let signer = self.signer()?.clone();
		let account = signer.public_key().to_account_id();
		let label = what.to_string();
		let handle = self.rt.handle().clone();
		let stash = self.stash.clone();
		self.call(what, move |c| {
			let (call, signer, account, label, handle, watch, stash) = (
				call.clone(),
				signer.clone(),
				account.clone(),
				label.clone(),
				handle.clone(),
				watch.clone(),
				stash.clone(),
			);
			async move {
				// The pool's view of the nonce, so that extrinsics sent one after the other in a
				// block do not replace each other.
				let nonce = c.rpc.system_account_next_index(&account).await?;
				let at = c.api.at_current_block().await?;
				let params = subxt::config::DefaultExtrinsicParamsBuilder::<PolkadotConfig>::new()
					.nonce(nonce)
					.mortal(MORTALITY)
					.build();
				let mut tx = at.transactions();
				let signed = match stash {
					None => tx.create_signed(&call, &signer, params).await?,
					Some(stash) => {
						let inner = tx.call_data(&call)?;
						let inner: api::Call =
							subxt::ext::codec::Decode::decode(&mut &inner[..])
								.context("re-reading a call to wrap it for the proxy")?;
						let wrapped = api::tx().proxy().proxy(
							subxt::utils::MultiAddress::Id(stash),
							Some(runtime_types::polchain_runtime::configs::ProxyType::Worker),
							inner,
						);
						tx.create_signed(&wrapped, &signer, params).await?
					}
				};
				let hash = Hash::from(signed.hash().0);
				let progress = signed.submit_and_watch().await?;
				log::info!("{label}: sent (nonce {nonce}, {hash:?})");
				crate::metrics::global().extrinsics_sent.inc();
				let bytes = signed.encoded().to_vec();
				let watch = watch.map(|(txs, key, now)| {
					record(&txs, &key, now, nonce, bytes.clone());
					(txs, key)
				});
				handle.spawn(follow(progress, label, hash, watch, false, at.metadata()));
				Ok((hash, nonce, bytes))
			}
		})
	}

	/// Sends signed `bytes` again, watched into `watch`.
	fn rebroadcast(&mut self, what: &str, bytes: Vec<u8>, watch: (Txs, Action)) -> Result<()> {
		let label = what.to_string();
		let handle = self.rt.handle().clone();
		self.call(what, move |c| {
			let (bytes, label, handle, watch) =
				(bytes.clone(), label.clone(), handle.clone(), watch.clone());
			async move {
				let at = c.api.at_current_block().await?;
				let tx = at.transactions().from_bytes(bytes);
				let hash = Hash::from(tx.hash().0);
				let progress = tx.submit_and_watch().await?;
				log::info!("{label}: sent again ({hash:?})");
				handle.spawn(follow(
					progress,
					label,
					hash,
					Some(watch),
					true,
					at.metadata(),
				));
				Ok(())
			}
		})
	}
}

/// Follows a sent extrinsic's status until it is final, logging the outcome and recording it
/// in `watch` (the extrinsics pending by key) when given. On a `rebroadcast` of bytes sent
/// before, a refusal ("already imported", "temporarily banned", a used nonce) says nothing
/// certain: the first copy may be in a pool or a block.
async fn follow(
	mut progress: subxt::transactions::TransactionProgress<
		PolkadotConfig,
		subxt::client::OnlineClientAtBlockImpl<PolkadotConfig>,
	>,
	label: String,
	hash: Hash,
	watch: Option<(Txs, Action)>,
	rebroadcast: bool,
	metadata: subxt::ArcMetadata,
) {
	use subxt::transactions::TransactionStatus as S;
	let note = |state: TxState| {
		if let Some((txs, key)) = &watch {
			update(txs, key, Some(hash), state);
		}
	};
	while let Some(status) = progress.next().await {
		match status {
			Ok(S::Validated | S::Broadcasted | S::NoLongerInBestBlock) => note(TxState::Pooled),
			Ok(S::InBestBlock(_)) => note(TxState::InBest),
			Ok(S::InFinalizedBlock(block)) => {
				match block.wait_for_success().await {
					Ok(events) => match proxied_error(&events, &metadata) {
						// Through a proxy the extrinsic succeeds whatever its call does: the
						// call's own outcome is in `ProxyExecuted`.
						Some(e) => {
							log::warn!("{label}: failed in a finalized block: {e}");
							crate::metrics::global().extrinsics_failed.inc();
							note(TxState::Failed(e));
						}
						None => {
							log::info!("{label}: finalized");
							note(TxState::Finalized);
						}
					},
					// Included and failed: final, sending it again would fail again.
					Err(subxt::error::TransactionEventsError::ExtrinsicFailed(e)) => {
						log::warn!("{label}: failed in a finalized block: {e}");
						crate::metrics::global().extrinsics_failed.inc();
						note(TxState::Failed(e.to_string()));
					}
					Err(e) => {
						log::warn!("{label}: finalized, its events unread: {e}");
						note(TxState::Finalized);
					}
				}
				return;
			}
			// Out of the pool: it cannot land any more, a fresh copy may be sent; unless these
			// are bytes sent before, which the node may refuse because it has them.
			Ok(S::Invalid { message } | S::Dropped { message } | S::Error { message }) => {
				log::warn!("{label}: {message}");
				note(if rebroadcast {
					TxState::Doubtful(message)
				} else {
					TxState::Gone(message)
				});
				return;
			}
			Err(e) => {
				// Lost track (the node went away, or the watch timed out): the bytes may
				// still be in a pool, so they are sent again as they are, never as a fresh
				// copy; if they were in a block, only their mortality tells.
				log::warn!("{label}: {e}");
				if let Some((txs, key)) = &watch {
					lost(txs, key, hash);
				}
				return;
			}
		}
	}
	if let Some((txs, key)) = &watch {
		lost(txs, key, hash);
	}
}

/// The dispatch error of the call a proxy made for the stash, if it failed, named as the
/// runtime names it.
fn proxied_error(
	events: &subxt::extrinsics::ExtrinsicEvents<PolkadotConfig>,
	metadata: &subxt::Metadata,
) -> Option<String> {
	let executed = events
		.find_first::<api::proxy::events::ProxyExecuted>()?
		.ok()?;
	executed
		.result
		.err()
		.map(|e| describe_dispatch_error(&e, metadata))
}

/// A dispatch error for people: a pallet's error by its name and documentation (which says how
/// to avoid it), not by the pallet's and the variant's indices.
fn describe_dispatch_error(
	error: &runtime_types::sp_runtime::DispatchError,
	metadata: &subxt::Metadata,
) -> String {
	if let runtime_types::sp_runtime::DispatchError::Module(m) = error {
		let named = metadata.pallet_by_error_index(m.index).and_then(|pallet| {
			let variant = pallet.error_variant_by_index(m.error[0])?;
			Some((pallet.name(), variant))
		});
		if let Some((pallet, variant)) = named {
			let docs = variant.docs.join(" ");
			return if docs.is_empty() {
				format!("{pallet}.{}", variant.name)
			} else {
				format!("{pallet}.{}: {}", variant.name, docs.trim())
			};
		}
	}
	format!("{error:?}")
}

/// Where an extrinsic stands, as its watch last heard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxState {
	/// In a pool (or the watch lost track of it): it may still land.
	Pooled,
	/// In the node's best chain: it landed, unless that block is retracted.
	InBest,
	/// In a finalized block, and succeeded.
	Finalized,
	/// In a finalized block, and failed at dispatch: final.
	Failed(String),
	/// Out of the pool for good (dropped, invalid, expired): it cannot land.
	Gone(String),
	/// Refused when sent again, or lost track of after it was in a block: it may have landed
	/// or may still; a fresh copy goes only once its mortality is over.
	Doubtful(String),
}

/// One extrinsic sent under a key.
#[derive(Clone, Debug)]
struct Tx {
	/// The best block it was first sent at (its mortality runs from about there).
	born: u32,
	/// The best block it was last sent at.
	at: u32,
	/// Its nonce.
	nonce: u64,
	/// Its hash (of the copy last sent).
	hash: Hash,
	/// Its signed bytes.
	bytes: Vec<u8>,
	/// Where it stands.
	state: TxState,
}

/// The extrinsics sent, by key; shared with the tasks that watch them.
type Txs = std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<Action, Tx>>>;

/// Records `key`'s extrinsic, sent afresh at best block `now` with `nonce`, as `bytes`.
fn record(txs: &Txs, key: &Action, now: u32, nonce: u64, bytes: Vec<u8>) {
	if let Ok(mut txs) = txs.lock() {
		let hash = pol_primitives::hashing::hash(&bytes);
		txs.insert(
			key.clone(),
			Tx {
				born: now,
				at: now,
				nonce,
				hash,
				bytes,
				state: TxState::Pooled,
			},
		);
	}
}

/// The watch of `key`'s copy `hash` ended without a final word: in a pool it may still be (its
/// bytes go again); after a best block, only its mortality tells.
fn lost(txs: &Txs, key: &Action, hash: Hash) {
	if let Ok(mut txs) = txs.lock() {
		if let Some(tx) = txs.get_mut(key) {
			if tx.hash == hash {
				tx.state = match tx.state {
					TxState::InBest => TxState::Doubtful("lost track after a best block".into()),
					TxState::Pooled => TxState::Pooled,
					ref other => other.clone(),
				};
			}
		}
	}
}

fn update(txs: &Txs, key: &Action, hash: Option<Hash>, state: TxState) {
	if let Ok(mut txs) = txs.lock() {
		if let Some(tx) = txs.get_mut(key) {
			// A watch of a copy since replaced by a fresh one says nothing about the new one.
			if hash.is_none_or(|h| h == tx.hash) && !matches!(tx.state, TxState::Failed(_)) {
				tx.state = state;
			}
		}
	}
}

/// What an extrinsic does: the key it is followed under ([`Pending`]); its `Display` is its
/// label in the log (`commit task 0 round 3: finalized`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
	/// `pol_staking.bond` (a miner bonding itself).
	Bond,
	/// `pol_staking.set_endpoint`.
	SetEndpoint,
	/// `pol-worker worker-key`'s batch.
	SetUpWorkerKey,
	/// `task_registry.create_task`.
	CreateTask,
	/// `task_registry.join_task`.
	Join(TaskId),
	/// `task_registry.commit_update`.
	Commit(TaskId, RoundIndex),
	/// `task_registry.reveal_update`.
	Reveal(TaskId, RoundIndex),
	/// `pol_scoring.commit_scores`.
	CommitScores(TaskId, RoundIndex),
	/// `pol_scoring.reveal_scores`.
	RevealScores(TaskId, RoundIndex),
	/// `pol_scoring.commit_vote` on a miner's dispute.
	CommitVote(TaskId, RoundIndex, AccountId32),
	/// `pol_scoring.reveal_vote` on a miner's dispute.
	RevealVote(TaskId, RoundIndex, AccountId32),
	/// `task_registry.propose_global_model`.
	Propose(TaskId, RoundIndex),
}

impl std::fmt::Display for Action {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		match self {
			Action::Bond => write!(f, "bond"),
			Action::SetEndpoint => write!(f, "set endpoint"),
			Action::SetUpWorkerKey => write!(f, "set up the worker key"),
			Action::CreateTask => write!(f, "create task"),
			Action::Join(id) => write!(f, "join task {id}"),
			Action::Commit(id, r) => write!(f, "commit task {id} round {r}"),
			Action::Reveal(id, r) => write!(f, "reveal task {id} round {r}"),
			Action::CommitScores(id, r) => write!(f, "commit scores task {id} round {r}"),
			Action::RevealScores(id, r) => write!(f, "reveal scores task {id} round {r}"),
			Action::CommitVote(id, r, miner) => {
				write!(f, "commit vote on {miner} task {id} round {r}")
			}
			Action::RevealVote(id, r, miner) => {
				write!(f, "reveal vote on {miner} task {id} round {r}")
			}
			Action::Propose(id, r) => write!(f, "propose model task {id} round {r}"),
		}
	}
}

/// What to send for a key ([`Pending::next_send`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resend {
	/// A freshly signed extrinsic (the next nonce).
	Fresh,
	/// These signed bytes again: the same nonce, so at most one copy lands.
	Same(Vec<u8>),
}

/// Extrinsics sent and not yet seen to take effect in a finalized block, by key (what they
/// do: `commit task 0 round 3`), with where each stands. Blocks are counted in the best chain,
/// so a stall of finality delays nothing.
#[derive(Default, Debug)]
pub struct Pending {
	txs: Txs,
}

impl Pending {
	/// What to send for `key` at best block `now`, if anything: see [`Chain::send`].
	pub fn next_send(&self, key: &Action, now: u32) -> Option<Resend> {
		let txs = self.txs.lock().ok()?;
		let Some(tx) = txs.get(key) else {
			return Some(Resend::Fresh);
		};
		match &tx.state {
			TxState::Gone(_) => Some(Resend::Fresh),
			TxState::Doubtful(_) => {
				let expired = tx.born.saturating_add(MORTALITY as u32).saturating_add(1);
				(now >= expired).then_some(Resend::Fresh)
			}
			TxState::Pooled if now >= tx.at.saturating_add(RESUBMIT_AFTER) => {
				Some(Resend::Same(tx.bytes.clone()))
			}
			TxState::Pooled | TxState::InBest | TxState::Finalized | TxState::Failed(_) => None,
		}
	}

	/// Whether something is to be sent for `key` at best block `now`.
	pub fn due(&self, key: &Action, now: u32) -> bool {
		self.next_send(key, now).is_some()
	}

	/// The dispatch error `key` failed with, if it did.
	pub fn failed(&self, key: &Action) -> Option<String> {
		match &self.txs.lock().ok()?.get(key)?.state {
			TxState::Failed(e) => Some(e.clone()),
			_ => None,
		}
	}

	/// Where `key`'s extrinsic stands, if one was sent.
	pub fn state(&self, key: &Action) -> Option<TxState> {
		Some(self.txs.lock().ok()?.get(key)?.state.clone())
	}

	/// Records that `key` was sent afresh at best block `now`, with `nonce`, as `bytes`.
	pub fn sent(&mut self, key: &Action, now: u32, nonce: u64, bytes: Vec<u8>) {
		record(&self.txs, key, now, nonce, bytes)
	}

	/// Records that `key`'s bytes were sent again at best block `now`.
	fn resent(&mut self, key: &Action, now: u32) {
		if let Ok(mut txs) = self.txs.lock() {
			if let Some(tx) = txs.get_mut(key) {
				tx.at = now;
			}
		}
	}

	/// Records what a watch heard of `key` (tests, and a node's refusal).
	pub fn update(&self, key: &Action, hash: Option<Hash>, state: TxState) {
		update(&self.txs, key, hash, state)
	}

	/// Records that the watch of `key`'s copy `hash` ended without a final word.
	pub fn lost(&self, key: &Action, hash: Hash) {
		lost(&self.txs, key, hash)
	}

	/// Sends `call` for `key` as [`Chain::send`] does unless its effect is `done` (read from
	/// finalized state), which forgets it: the one step every "ensure X is on chain" takes.
	pub fn ensure<C>(
		&mut self,
		chain: &mut Chain,
		key: &Action,
		done: bool,
		now: u32,
		call: impl FnOnce() -> Result<C>,
	) -> Result<()>
	where
		C: subxt::tx::Payload + Clone + Send + Sync + 'static,
	{
		if done {
			self.done(key);
			return Ok(());
		}
		if !self.due(key, now) {
			return Ok(());
		}
		chain.send(self, key, now, call()?)
	}

	/// Forgets `key` (its effect is finalized, or its phase is over).
	pub fn done(&mut self, key: &Action) {
		if let Ok(mut txs) = self.txs.lock() {
			txs.remove(key);
		}
	}
}

/// The signing key from a secret URI (`//Alice`, a mnemonic with derivations, or a `0x` seed).
pub fn keypair_from_suri(suri: &str) -> Result<Keypair> {
	let uri = SecretUri::from_str(suri).map_err(|e| anyhow!("not a secret URI: {e}"))?;
	Keypair::from_uri(&uri).map_err(|e| anyhow!("cannot derive a key from the secret URI: {e}"))
}

/// The signing key from a Substrate keystore file: named `hex(key type) ++ hex(public key)`,
/// holding the secret URI as a JSON string, readable by its owner only.
pub fn keypair_from_keystore(path: &Path) -> Result<Keypair> {
	#[cfg(unix)]
	{
		use std::os::unix::fs::PermissionsExt;
		let mode = std::fs::metadata(path)
			.with_context(|| format!("reading {}", path.display()))?
			.permissions()
			.mode();
		if mode & 0o077 != 0 {
			bail!(
				"{} is readable by others (mode {:o}): `chmod 600` it first",
				path.display(),
				mode & 0o777
			);
		}
	}
	let text =
		std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
	let suri: String = serde_json::from_str(text.trim())
		.with_context(|| format!("{} does not hold a JSON string", path.display()))?;
	let pair = keypair_from_suri(&suri).with_context(|| format!("in {}", path.display()))?;
	let name = path
		.file_name()
		.and_then(|n| n.to_str())
		.unwrap_or_default();
	let public = hex::encode(pair.public_key().0);
	if name.len() == 8 + 64 && !name.ends_with(&public) {
		bail!(
			"{}: the key in the file is 0x{public}, not the one its name says",
			path.display()
		);
	}
	Ok(pair)
}

/// The account's sr25519 pair (for challenge proofs) from the same source as
/// [`signer_from`]: `--keystore`, `--suri` or `$POL_SURI`; `None` if none.
pub fn challenge_key_from(
	suri: Option<&str>,
	keystore: Option<&Path>,
) -> Result<Option<sp_core::sr25519::Pair>> {
	let suri = if let Some(path) = keystore {
		// Checked as the signer's file is, then read for its secret URI.
		keypair_from_keystore(path)?;
		let text =
			std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
		serde_json::from_str::<String>(text.trim())
			.with_context(|| format!("{} does not hold a JSON string", path.display()))?
	} else if let Some(s) = suri {
		s.to_string()
	} else {
		match std::env::var(SURI_ENV) {
			Ok(s) if !s.is_empty() => s,
			_ => return Ok(None),
		}
	};
	use sp_core::Pair as _;
	sp_core::sr25519::Pair::from_string(&suri, None)
		.map(Some)
		.map_err(|e| anyhow!("cannot derive the challenge key from the secret URI: {e:?}"))
}

/// The signing key from `--keystore`, `--suri` or `$POL_SURI`, in that order; `None` if none.
pub fn signer_from(suri: Option<&str>, keystore: Option<&Path>) -> Result<Option<Keypair>> {
	if let Some(path) = keystore {
		return keypair_from_keystore(path).map(Some);
	}
	if let Some(s) = suri {
		return keypair_from_suri(s).map(Some);
	}
	match std::env::var(SURI_ENV) {
		Ok(s) if !s.is_empty() => keypair_from_suri(&s)
			.with_context(|| format!("in ${SURI_ENV}"))
			.map(Some),
		_ => Ok(None),
	}
}

/// A value of the generated types from one of ours, by SCALE (the encodings are the same).
pub fn to_chain<A: subxt::ext::codec::Encode, B: subxt::ext::codec::Decode>(a: &A) -> Result<B> {
	B::decode(&mut &a.encode()[..]).map_err(|e| anyhow!("converting for the chain: {e}"))
}

/// One of our values from the generated types, by SCALE.
pub fn from_chain<A: subxt::ext::codec::Encode, B: subxt::ext::codec::Decode>(a: &A) -> Result<B> {
	B::decode(&mut &a.encode()[..]).map_err(|e| anyhow!("converting from the chain: {e}"))
}

/// The chain's types, for the callers.
pub use pol_chain_api::polchain as api;

#[cfg(test)]
mod tests {
	use super::*;
	use runtime_types::sp_runtime::{DispatchError, ModuleError};

	#[test]
	fn a_proxied_calls_error_is_named_with_its_advice() {
		let metadata = subxt::Metadata::decode_from(pol_chain_api::METADATA).unwrap();
		let index = metadata.pallet_by_name("PolStaking").unwrap().error_index();
		let not_bonded = DispatchError::Module(ModuleError {
			index,
			error: [1, 0, 0, 0],
		});
		assert_eq!(
			describe_dispatch_error(&not_bonded, &metadata),
			"PolStaking.NotBonded: The account is not bonded. `bond` first."
		);
		// What the metadata does not know stays as it came.
		let unknown = DispatchError::Module(ModuleError {
			index: 250,
			error: [0; 4],
		});
		assert!(describe_dispatch_error(&unknown, &metadata).contains("index: 250"));
		assert_eq!(
			describe_dispatch_error(&DispatchError::BadOrigin, &metadata),
			"BadOrigin"
		);
	}
}
