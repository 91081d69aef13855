//! Configuration of every pallet in the runtime.

use frame_support::{
	derive_impl,
	dispatch::DispatchClass,
	parameter_types,
	traits::{ConstBool, ConstU128, ConstU32, ConstU64, ConstU8, VariantCountOf},
	weights::{
		constants::{ParityDbWeight, WEIGHT_REF_TIME_PER_SECOND},
		IdentityFee, Weight,
	},
};
use frame_system::limits::{BlockLength, BlockWeights};
use pallet_transaction_payment::{ConstFeeMultiplier, FungibleAdapter, Multiplier};
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_runtime::{
	traits::{ConvertInto, One, OpaqueKeys},
	Perbill,
};
use sp_version::RuntimeVersion;

use frame_support::{traits::tokens::imbalance::ResolveTo, PalletId};
use sp_runtime::traits::AccountIdConversion;

use super::{
	AccountId, Aura, Balance, Balances, Block, BlockNumber, Hash, Nonce, PalletInfo, PolStaking,
	Runtime, RuntimeCall, RuntimeEvent, RuntimeFreezeReason, RuntimeHoldReason, RuntimeOrigin,
	RuntimeTask, SessionKeys, System, BLOCK_HASH_COUNT, EXISTENTIAL_DEPOSIT, MINUTES,
	SLOT_DURATION, SS58_PREFIX, UNIT, VERSION,
};

const NORMAL_DISPATCH_RATIO: Perbill = Perbill::from_percent(75);
/// Largest block, in bytes.
const MAX_BLOCK_LENGTH: u32 = 5 * 1024 * 1024;
/// The most authorities Aura and GRANDPA will accept.
pub const MAX_AUTHORITIES: u32 = 64;

parameter_types! {
	pub const BlockHashCount: BlockNumber = BLOCK_HASH_COUNT;
	pub const Version: RuntimeVersion = VERSION;

	/// One second of compute per 3-second block: two thirds of the slot stay for propagation
	/// and import.
	pub RuntimeBlockWeights: BlockWeights = BlockWeights::with_sensible_defaults(
		Weight::from_parts(WEIGHT_REF_TIME_PER_SECOND, u64::MAX),
		NORMAL_DISPATCH_RATIO,
	);
	pub RuntimeBlockLength: BlockLength = BlockLength::builder()
		.max_length(MAX_BLOCK_LENGTH)
		.modify_max_length_for_class(DispatchClass::Normal, |m| *m = NORMAL_DISPATCH_RATIO * MAX_BLOCK_LENGTH)
		.build();
	pub const SS58Prefix: u16 = SS58_PREFIX;
}

#[derive_impl(frame_system::config_preludes::SolochainDefaultConfig)]
impl frame_system::Config for Runtime {
	type Block = Block;
	type BlockWeights = RuntimeBlockWeights;
	type BlockLength = RuntimeBlockLength;
	type AccountId = AccountId;
	type Nonce = Nonce;
	type Hash = Hash;
	type BlockHashCount = BlockHashCount;
	// The node stores state in ParityDB, so its read and write costs apply.
	type DbWeight = ParityDbWeight;
	type Version = Version;
	type AccountData = pallet_balances::AccountData<Balance>;
	type SS58Prefix = SS58Prefix;
	type MaxConsumers = ConstU32<16>;
}

impl pallet_timestamp::Config for Runtime {
	type Moment = u64;
	type OnTimestampSet = Aura;
	type MinimumPeriod = ConstU64<{ SLOT_DURATION / 2 }>;
	type WeightInfo = ();
}

impl pallet_balances::Config for Runtime {
	type MaxLocks = ConstU32<50>;
	type MaxReserves = ();
	type ReserveIdentifier = [u8; 8];
	type Balance = Balance;
	type RuntimeEvent = RuntimeEvent;
	type DustRemoval = ();
	type ExistentialDeposit = ConstU128<EXISTENTIAL_DEPOSIT>;
	type AccountStore = System;
	type WeightInfo = pallet_balances::weights::SubstrateWeight<Runtime>;
	type FreezeIdentifier = RuntimeFreezeReason;
	type MaxFreezes = VariantCountOf<RuntimeFreezeReason>;
	type RuntimeHoldReason = RuntimeHoldReason;
	type RuntimeFreezeReason = RuntimeFreezeReason;
	type DoneSlashHandler = ();
}

parameter_types! {
	pub FeeMultiplier: Multiplier = Multiplier::one();
}

impl pallet_transaction_payment::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type OnChargeTransaction = FungibleAdapter<Balances, ()>;
	type OperationalFeeMultiplier = ConstU8<5>;
	type WeightToFee = IdentityFee<Balance>;
	type LengthToFee = IdentityFee<Balance>;
	type FeeMultiplierUpdate = ConstFeeMultiplier<FeeMultiplier>;
	type WeightInfo = pallet_transaction_payment::weights::SubstrateWeight<Runtime>;
}

parameter_types! {
	/// Blocks per session. Stored so that governance (sudo) can lengthen it on a live chain
	/// without a runtime upgrade; short by default so that new authorities join within minutes.
	pub storage SessionPeriod: BlockNumber = MINUTES;
	pub const SessionOffset: BlockNumber = 0;
}

impl pallet_session::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type ValidatorId = AccountId;
	type ValidatorIdOf = ConvertInto;
	type ShouldEndSession = pallet_session::PeriodicSessions<SessionPeriod, SessionOffset>;
	type NextSessionRotation = pallet_session::PeriodicSessions<SessionPeriod, SessionOffset>;
	// Authorities are elected by stake × trust each session.
	type SessionManager = PolStaking;
	type SessionHandler = <SessionKeys as OpaqueKeys>::KeyTypeIdProviders;
	type Keys = SessionKeys;
	type DisablingStrategy = ();
	type WeightInfo = pallet_session::weights::SubstrateWeight<Runtime>;
	type Currency = Balances;
	type KeyDeposit = ConstU128<0>;
}

impl pallet_aura::Config for Runtime {
	type AuthorityId = AuraId;
	type DisabledValidators = ();
	type MaxAuthorities = ConstU32<MAX_AUTHORITIES>;
	type AllowMultipleBlocksPerSlot = ConstBool<false>;
	type SlotDuration = pallet_aura::MinimumPeriodTimesTwo<Runtime>;
}

impl pallet_grandpa::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type WeightInfo = ();
	type MaxAuthorities = ConstU32<MAX_AUTHORITIES>;
	type MaxNominators = ConstU32<0>;
	type MaxSetIdSessionEntries = ConstU64<0>;
	type KeyOwnerProof = sp_core::Void;
	type EquivocationReportSystem = ();
}

impl pallet_sudo::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeCall = RuntimeCall;
	type WeightInfo = pallet_sudo::weights::SubstrateWeight<Runtime>;
}

parameter_types! {
	/// The account that receives slashed funds (and, later, what no one earned).
	pub const TreasuryPalletId: PalletId = PalletId(*b"pol/trsy");
	pub TreasuryAccount: AccountId = TreasuryPalletId::get().into_account_truncating();
}

impl pallet_pol_staking::Config for Runtime {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type OnSlash = ResolveTo<TreasuryAccount, Balances>;
	// Full trust for every validator until the scoring pallet keeps records.
	type Trust = ();
	type SessionKeys = pallet_session::Pallet<Runtime>;
	type MinMinerBond = ConstU128<{ 100 * UNIT }>;
	type MinValidatorBond = ConstU128<{ 1_000 * UNIT }>;
	type UnbondingPeriod = ConstU32<{ 30 * MINUTES }>;
	type MaxUnlockingChunks = ConstU32<16>;
	type MaxValidators = ConstU32<256>;
	type MaxAuthorities = ConstU32<MAX_AUTHORITIES>;
	type MinAuthorities = ConstU32<1>;
	type MaxEndpointLen = ConstU32<{ pol_primitives::MAX_URI_LEN }>;
	type WeightInfo = pallet_pol_staking::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = StakingBenchmarkHelper;
}

/// Gives benchmark accounts session keys, so the election benchmark has candidates.
#[cfg(feature = "runtime-benchmarks")]
pub struct StakingBenchmarkHelper;
#[cfg(feature = "runtime-benchmarks")]
impl pallet_pol_staking::BenchmarkHelper<AccountId> for StakingBenchmarkHelper {
	fn set_session_keys(who: &AccountId) {
		use sp_core::crypto::ByteArray;
		let raw: &[u8] = who.as_ref();
		let (Ok(aura), Ok(grandpa)) = (
			AuraId::from_slice(raw),
			sp_consensus_grandpa::AuthorityId::from_slice(raw),
		) else {
			return;
		};
		let keys = SessionKeys { aura, grandpa };
		// Benchmark-only glue: what `pallet_session::set_keys` stores, without its
		// proof-of-possession, which needs a keystore the benchmark does not have.
		pallet_session::NextKeys::<Runtime>::insert(who, keys);
	}
}
