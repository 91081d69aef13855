//! The chain client: subxt over websockets to one of several nodes, with fail-over, blocking
//! calls for the worker's synchronous loops, and extrinsics that are not lost.
//!
//! - Every call runs on a tokio runtime owned by [`Chain`], under a timeout. When a node stops
//!   answering, the client connects to the next of its `--node` URLs (round robin, forever) and
//!   retries the call; a call that fails on a live node is a real error and is returned.
//! - The runtime API is read at the best block (when to act); storage at the latest finalized
//!   block (whether an action took effect, which cannot be reverted).
//! - [`Chain::submit`] signs with the account's next nonce from the node's pool and a short
//!   mortality, and reports the dispatch outcome in the log when the extrinsic is finalized.
//!   The loops call it again until they see the effect in finalized state (see
//!   [`Pending`]): an extrinsic lost with a node, or dropped from a pool, is re-submitted
//!   within its phase.

use anyhow::{anyhow, bail, ensure, Context, Result};
use pol_primitives::Hash;
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
/// Blocks after which an extrinsic whose effect is not finalized is sent again.
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

	/// The signing account.
	pub fn account(&self) -> Result<AccountId32> {
		Ok(self.signer()?.public_key().to_account_id())
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

	/// Signs `call` and sends it; the outcome is logged when it is finalized. Returns the
	/// extrinsic's hash. Callers check the effect in finalized state, and call again after
	/// [`RESUBMIT_AFTER`] blocks without it.
	pub fn submit<C>(&mut self, what: &str, call: C) -> Result<Hash>
	where
		C: subxt::tx::Payload + Clone + Send + Sync + 'static,
	{
		self.submit_noting(what, call, None)
	}

	/// Sends `call` under `key` unless `pending` says it is not due (sent lately, or failed
	/// at dispatch, which is final); see [`Pending`].
	pub fn send<C>(&mut self, pending: &mut Pending, key: &str, now: u32, call: C) -> Result<()>
	where
		C: subxt::tx::Payload + Clone + Send + Sync + 'static,
	{
		if !pending.due(key, now) {
			return Ok(());
		}
		self.submit_noting(key, call, Some(pending.failures.clone()))?;
		pending.sent(key, now);
		Ok(())
	}

	fn submit_noting<C>(&mut self, what: &str, call: C, failures: Option<Failures>) -> Result<Hash>
	where
		C: subxt::tx::Payload + Clone + Send + Sync + 'static,
	{
		let signer = self.signer()?.clone();
		let account = signer.public_key().to_account_id();
		let label = what.to_string();
		let handle = self.rt.handle().clone();
		self.call(what, move |c| {
			let (call, signer, account, label, handle, failures) = (
				call.clone(),
				signer.clone(),
				account.clone(),
				label.clone(),
				handle.clone(),
				failures.clone(),
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
				let signed = tx.create_signed(&call, &signer, params).await?;
				let hash = Hash::from(signed.hash().0);
				let progress = signed.submit_and_watch().await?;
				log::info!("{label}: sent (nonce {nonce}, {hash:?})");
				crate::metrics::global().extrinsics_sent.inc();
				handle.spawn(async move {
					use subxt::error::{TransactionEventsError, TransactionFinalizedSuccessError};
					match progress.wait_for_finalized_success().await {
						Ok(_) => log::info!("{label}: finalized"),
						// Included and failed: final, sending it again would fail again.
						Err(TransactionFinalizedSuccessError::SuccessError(
							TransactionEventsError::ExtrinsicFailed(e),
						)) => {
							log::warn!("{label}: failed in a finalized block: {e}");
							crate::metrics::global().extrinsics_failed.inc();
							if let Some(f) = failures {
								if let Ok(mut f) = f.lock() {
									f.insert(label.clone(), e.to_string());
								}
							}
						}
						// Lost track (a node went away, the pool dropped it): the loops look
						// for its effect and send it again.
						Err(e) => log::warn!("{label}: {e}"),
					}
				});
				Ok(hash)
			}
		})
	}
}

/// Dispatch errors of finalized extrinsics, by key.
type Failures = std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, String>>>;

/// Extrinsics sent and not yet seen to take effect in a finalized block, by key (what they
/// do: `commit task 0 round 3`), and those that failed at dispatch (final: not sent again).
#[derive(Default, Debug)]
pub struct Pending {
	sent: std::collections::BTreeMap<String, u32>,
	failures: Failures,
}

impl Pending {
	/// Whether `key` is due (again): never sent, or sent more than [`RESUBMIT_AFTER`] blocks
	/// before `now` without its effect being finalized; never after it failed at dispatch.
	pub fn due(&self, key: &str, now: u32) -> bool {
		if self.failed(key).is_some() {
			return false;
		}
		match self.sent.get(key) {
			None => true,
			Some(&at) => now >= at.saturating_add(RESUBMIT_AFTER),
		}
	}

	/// The dispatch error `key` failed with, if it did.
	pub fn failed(&self, key: &str) -> Option<String> {
		self.failures.lock().ok()?.get(key).cloned()
	}

	/// Records that `key` was sent at block `now`.
	pub fn sent(&mut self, key: &str, now: u32) {
		if self.sent.insert(key.to_string(), now).is_some() {
			log::warn!("{key}: not finalized after {RESUBMIT_AFTER} blocks; sent again");
			crate::metrics::global().extrinsics_resent.inc();
		}
	}

	/// Forgets `key` (its effect is finalized, or its phase is over).
	pub fn done(&mut self, key: &str) {
		self.sent.remove(key);
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
