//! Operator keys: the worker host holds a key that signs round calls as the bonded account's
//! `Worker` proxy, never the bonded (stash) account's own key, which could unbond and move the
//! stake. `pol-worker worker-key` runs once, where the stash's key is, and sets it up.

use crate::chain::{api, runtime_types as rt, AccountId32, Action, Chain, Pending};
use crate::round;
use anyhow::{bail, Result};
use subxt::utils::MultiAddress;

/// What `worker-key` does for the stash.
pub struct WorkerKey {
	/// The worker host's account (its sr25519 public key).
	pub worker: AccountId32,
	/// Top the worker's free balance up to this many units (it pays the proxy calls' fees).
	pub fund: u128,
}

/// From the signing (stash) account: makes `key.worker` its `Worker` proxy with no delay,
/// registers it as the key its challenge proofs are checked with (a validator's; harmless for a
/// miner), and tops up the worker's balance for fees, in one `utility.batch_all`; skips what
/// is set already. Returns once it is finalized.
pub fn setup(chain: &mut Chain, key: &WorkerKey) -> Result<()> {
	let stash = chain.account()?;
	if stash == key.worker {
		bail!("--worker is the stash itself: give the worker host's own account");
	}
	if chain
		.storage(
			"reading the stash's bond",
			api::storage().pol_staking().ledger(),
			(stash.clone(),),
		)?
		.is_none()
	{
		bail!("{stash} is not bonded: bond it first (scripts/js/bin/bond.js, or polkadot.js apps: polStaking.bond)");
	}
	let mut pending = Pending::default();
	let started = chain.best_number()?;
	loop {
		let now = chain.best_number()?;
		let calls = missing_calls(chain, &stash, key)?;
		if calls.is_empty() {
			log::info!(
				"{} is a Worker proxy of {stash}, its challenge key, and funded",
				key.worker
			);
			return Ok(());
		}
		if let Some(e) = pending.failed(&Action::SetUpWorkerKey) {
			bail!("the chain refused the set-up: {e}");
		}
		if now > started + 4 * crate::chain::RESUBMIT_AFTER {
			bail!(
				"the set-up did not take effect within {} blocks: see the log above",
				4 * crate::chain::RESUBMIT_AFTER
			);
		}
		chain.send(
			&mut pending,
			&Action::SetUpWorkerKey,
			now,
			api::tx().utility().batch_all(calls),
		)?;
		round::sleep_a_block();
	}
}

/// The calls still needed, as finalized state has it.
fn missing_calls(
	chain: &mut Chain,
	stash: &AccountId32,
	key: &WorkerKey,
) -> Result<Vec<api::Call>> {
	let mut calls = Vec::new();
	let is_proxy = chain.worker_proxy_delay(stash, &key.worker)? == Some(0);
	if !is_proxy {
		calls.push(api::Call::Proxy(
			rt::pallet_proxy::pallet::Call::add_proxy {
				delegate: MultiAddress::Id(key.worker.clone()),
				proxy_type: rt::polchain_runtime::configs::ProxyType::Worker,
				delay: 0,
			},
		));
	}
	if chain.registered_challenge_key(stash)? != Some(key.worker.0) {
		calls.push(api::Call::PolStaking(
			rt::pallet_pol_staking::pallet::Call::set_challenge_key { key: key.worker.0 },
		));
	}
	let free = chain
		.storage(
			"reading the worker's balance",
			api::storage().system().account(),
			(key.worker.clone(),),
		)?
		.map_or(0, |a| a.data.free);
	if free < key.fund {
		calls.push(api::Call::Balances(
			rt::pallet_balances::pallet::Call::transfer_keep_alive {
				dest: MultiAddress::Id(key.worker.clone()),
				value: key.fund - free,
			},
		));
	}
	Ok(calls)
}

/// For a worker signing as `stash`'s proxy: checks that `stash` has registered the signing
/// key as its challenge key (a validator's proofs are checked against it).
pub fn check_challenge_key(chain: &mut Chain) -> Result<()> {
	let Some(stash) = chain.stash().cloned() else {
		return Ok(());
	};
	let me = chain.signer_account()?;
	if chain.registered_challenge_key(&stash)? != Some(me.0) {
		bail!(
			"{stash} has not registered {me} as its challenge key, so the chain would refuse \
			 this worker's score reveals: from the stash, run `pol-worker worker-key --suri \
			 <the stash's key> --worker {me}` (or polkadot.js apps: \
			 polStaking.setChallengeKey({me}))"
		);
	}
	Ok(())
}
