//! Genesis presets: `development` (Alice the sole authority) and `local_testnet` (Alice, Bob
//! and Charlie). The node builds its chain specs from these.

use crate::{
	configs::TreasuryAccount, AccountId, Balance, BalancesConfig, PolStakingConfig,
	RuntimeGenesisConfig, SessionConfig, SessionKeys, SudoConfig, EXISTENTIAL_DEPOSIT, UNIT,
};
use alloc::{vec, vec::Vec};
use frame_support::build_struct_json_patch;
use pallet_pol_staking::Role;
use serde_json::Value;
use sp_genesis_builder::{self, PresetId};
use sp_keyring::{Ed25519Keyring, Sr25519Keyring};

/// What every endowed development account starts with.
pub const ENDOWMENT: Balance = 1_000_000 * UNIT;
/// What each genesis authority bonds as a validator.
pub const GENESIS_VALIDATOR_BOND: Balance = 10_000 * UNIT;

/// A development authority: its sr25519 key (account and Aura) and its ed25519 key (GRANDPA),
/// as `polchain-node --alice` etc. insert them into the keystore.
pub type DevAuthority = (Sr25519Keyring, Ed25519Keyring);

/// The session keys of a development authority.
pub fn dev_session_keys((sr, ed): DevAuthority) -> SessionKeys {
	SessionKeys {
		aura: sr.public().into(),
		grandpa: ed.public().into(),
	}
}

fn testnet_genesis(
	initial_authorities: Vec<DevAuthority>,
	endowed_accounts: Vec<AccountId>,
	root: AccountId,
	min_authorities: Option<u32>,
) -> Value {
	build_struct_json_patch!(RuntimeGenesisConfig {
		balances: BalancesConfig {
			balances: endowed_accounts
				.iter()
				.cloned()
				.map(|k| (k, ENDOWMENT))
				// The treasury exists from genesis, so that slashes of any size reach it.
				.chain(core::iter::once((
					TreasuryAccount::get(),
					EXISTENTIAL_DEPOSIT
				)))
				.collect::<Vec<_>>(),
		},
		pol_staking: PolStakingConfig {
			stakers: initial_authorities
				.iter()
				.map(|a| (a.0.to_account_id(), Role::Validator, GENESIS_VALIDATOR_BOND))
				.collect::<Vec<_>>(),
			min_authorities,
		},
		session: SessionConfig {
			keys: initial_authorities
				.iter()
				.map(|a| (
					a.0.to_account_id(),
					a.0.to_account_id(),
					dev_session_keys(*a)
				))
				.collect::<Vec<_>>(),
		},
		sudo: SudoConfig { key: Some(root) },
	})
}

fn dev_accounts() -> Vec<AccountId> {
	Sr25519Keyring::iter()
		.filter(|k| k != &Sr25519Keyring::One && k != &Sr25519Keyring::Two)
		.map(|k| k.to_account_id())
		.collect()
}

/// The `development` preset: Alice alone produces and finalizes blocks; an election needs one
/// candidate.
pub fn development_config_genesis() -> Value {
	testnet_genesis(
		vec![(Sr25519Keyring::Alice, Ed25519Keyring::Alice)],
		dev_accounts(),
		Sr25519Keyring::Alice.to_account_id(),
		// One node: elections change the set from two candidates on.
		Some(1),
	)
}

/// The `local_testnet` preset: Alice, Bob and Charlie are the authorities.
pub fn local_config_genesis() -> Value {
	testnet_genesis(
		vec![
			(Sr25519Keyring::Alice, Ed25519Keyring::Alice),
			(Sr25519Keyring::Bob, Ed25519Keyring::Bob),
			(Sr25519Keyring::Charlie, Ed25519Keyring::Charlie),
		],
		dev_accounts(),
		Sr25519Keyring::Alice.to_account_id(),
		// The runtime's `MinAuthorities` (4): the genesis three stay until a fourth stands.
		None,
	)
}

/// The JSON patch of the preset `id`, if there is one.
pub fn get_preset(id: &PresetId) -> Option<Vec<u8>> {
	let patch = match id.as_ref() {
		sp_genesis_builder::DEV_RUNTIME_PRESET => development_config_genesis(),
		sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET => local_config_genesis(),
		_ => return None,
	};
	serde_json::to_string(&patch).ok().map(|s| s.into_bytes())
}

/// The presets this runtime offers.
pub fn preset_names() -> Vec<PresetId> {
	vec![
		PresetId::from(sp_genesis_builder::DEV_RUNTIME_PRESET),
		PresetId::from(sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET),
	]
}
