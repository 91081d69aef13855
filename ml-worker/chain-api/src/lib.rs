//! # pol-chain-api
//!
//! The chain as clients see it: calls, storage, events and the `PolApi` runtime API, typed by
//! [`subxt`] from the runtime's metadata (V16), which is checked in at
//! `metadata/polchain.scale`. A test compares that file with the metadata of the runtime in this
//! workspace and fails when it is stale; `scripts/bless-metadata.sh` rewrites it (through this
//! test, with `POL_BLESS_METADATA=1`).
//!
//! It is a crate of its own so that the generated code compiles once, not with every change
//! to the worker.

/// The generated interface. Every type also derives SCALE `Encode`/`Decode`, so that values
/// convert to and from `pol-primitives` types by their (identical) encoding.
#[subxt::subxt(
	runtime_metadata_path = "metadata/polchain.scale",
	derive_for_all_types = "::subxt::ext::codec::Encode, ::subxt::ext::codec::Decode, Clone"
)]
pub mod polchain {}

/// The checked-in metadata, so that regenerating the file rebuilds this crate.
pub const METADATA: &[u8] = include_bytes!("../metadata/polchain.scale");

pub use polchain::runtime_types;
pub use subxt;

#[cfg(test)]
mod tests {
	use super::METADATA;

	#[test]
	fn checked_in_metadata_is_the_runtimes() {
		let fresh = sp_io::TestExternalities::default()
			.execute_with(|| polchain_runtime::Runtime::metadata_at_version(16))
			.expect("the runtime serves metadata V16");
		let fresh: &[u8] = &fresh;
		// The clone this test runs in (cargo, or scripts/bless-metadata.sh, sets it), not the
		// one it was compiled in: the target directory is shared between clones.
		let dir = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR is set");
		let path = format!("{dir}/metadata/polchain.scale");
		if std::env::var_os("POL_BLESS_METADATA").is_some() {
			std::fs::write(&path, fresh).expect("writing the metadata");
			return;
		}
		assert!(
			fresh == METADATA,
			"{path} is stale: the runtime's metadata changed. Regenerate it with \
			 `scripts/bless-metadata.sh` and rebuild."
		);
	}
}
