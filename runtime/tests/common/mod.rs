//! What the runtime's integration tests share: genesis built from a preset as the node builds it.

use polchain_runtime::{RuntimeGenesisConfig, System};
use serde_json::Value;
use sp_runtime::BuildStorage;

/// `patch` merged into `base`, as the node merges a genesis preset into the default config.
fn merge(base: &mut Value, patch: Value) {
	match (base, patch) {
		(Value::Object(base), Value::Object(patch)) => {
			for (k, v) in patch {
				merge(base.entry(k).or_insert(Value::Null), v);
			}
		}
		(base, patch) => *base = patch,
	}
}

/// The runtime's genesis with `preset` merged in, at block 1.
pub fn ext(preset: Value) -> sp_io::TestExternalities {
	let mut config = serde_json::to_value(RuntimeGenesisConfig::default()).expect("serialises");
	merge(&mut config, preset);
	let config: RuntimeGenesisConfig = serde_json::from_value(config).expect("a valid preset");
	let mut ext = sp_io::TestExternalities::new(config.build_storage().expect("genesis builds"));
	ext.execute_with(|| System::set_block_number(1));
	ext
}
