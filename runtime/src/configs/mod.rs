//! Configuration of every pallet in the runtime.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{
	derive_impl,
	dispatch::DispatchClass,
	dynamic_params::{dynamic_pallet_params, dynamic_params},
	parameter_types,
	traits::{
		AsEnsureOriginWithArg, ConstBool, ConstU128, ConstU32, ConstU64, ConstU8, Get,
		InstanceFilter, VariantCountOf,
	},
	weights::{
		constants::{ExtrinsicBaseWeight, ParityDbWeight, WEIGHT_REF_TIME_PER_SECOND},
		ConstantMultiplier, Weight, WeightToFeeCoefficient, WeightToFeeCoefficients,
		WeightToFeePolynomial,
	},
};
use frame_system::{
	limits::{BlockLength, BlockWeights},
	EnsureRoot,
};
use pallet_transaction_payment::{FungibleAdapter, Multiplier, TargetedFeeAdjustment};
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_runtime::{
	traits::{BlakeTwo256, Bounded, ConvertInto, OpaqueKeys},
	FixedPointNumber, Perbill, Perquintill,
};
use sp_version::RuntimeVersion;

use frame_support::{traits::tokens::imbalance::ResolveTo, PalletId};
use sp_runtime::traits::AccountIdConversion;

#[cfg(feature = "runtime-benchmarks")]
use alloc::vec::Vec;
#[cfg(feature = "runtime-benchmarks")]
use pol_primitives::{Phase, Role, RoundIndex, TaskId};

use super::{
	AccountId, Aura, Balance, Balances, Block, BlockNumber, Hash, Nonce, OriginCaller, PalletInfo,
	PolRewards, PolScoring, PolStaking, Runtime, RuntimeCall, RuntimeEvent, RuntimeFreezeReason,
	RuntimeHoldReason, RuntimeOrigin, RuntimeTask, SessionKeys, System, TaskRegistry,
	BLOCK_HASH_COUNT, DAYS, EXISTENTIAL_DEPOSIT, MICRO_UNIT, MILLI_UNIT, MINUTES, SLOT_DURATION,
	SS58_PREFIX, UNIT, VERSION,
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
	/// 10 µPOL a byte: what a transaction occupies in a block is paid for; a full normal block
	/// by length (3.75 MiB) costs 39 POL, so stuffing a phase is not cheap.
	pub const TransactionByteFee: Balance = 10 * MICRO_UNIT;
	/// Blocks fuller than a quarter of the normal class raise fees; emptier ones lower them.
	pub const TargetBlockFullness: Perquintill = Perquintill::from_percent(25);
	pub AdjustmentVariable: Multiplier = Multiplier::saturating_from_rational(75, 1_000_000);
	/// Fees never fall below a tenth of nominal, even on an idle chain.
	pub MinimumMultiplier: Multiplier = Multiplier::saturating_from_rational(1, 10u128);
	pub MaximumMultiplier: Multiplier = Bounded::max_value();
}

/// Weight to fee: the cheapest extrinsic (`ExtrinsicBaseWeight`) costs 1 mPOL, the existential
/// deposit, and the fee grows linearly with weight from there: a second of compute costs about
/// 9.2 POL at the neutral multiplier.
pub struct WeightToFee;
impl WeightToFeePolynomial for WeightToFee {
	type Balance = Balance;
	fn polynomial() -> WeightToFeeCoefficients<Self::Balance> {
		let fee = MILLI_UNIT;
		let base = Balance::from(ExtrinsicBaseWeight::get().ref_time());
		[WeightToFeeCoefficient {
			degree: 1,
			negative: false,
			coeff_frac: Perbill::from_rational(fee % base, base),
			coeff_integer: fee / base,
		}]
		.into_iter()
		.collect()
	}
}

impl pallet_transaction_payment::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type OnChargeTransaction = FungibleAdapter<Balances, ()>;
	type OperationalFeeMultiplier = ConstU8<5>;
	type WeightToFee = WeightToFee;
	type LengthToFee = ConstantMultiplier<Balance, TransactionByteFee>;
	// Fees follow demand: a flood of transactions makes the next ones dearer.
	type FeeMultiplierUpdate = TargetedFeeAdjustment<
		Self,
		TargetBlockFullness,
		AdjustmentVariable,
		MinimumMultiplier,
		MaximumMultiplier,
	>;
	type WeightInfo = pallet_transaction_payment::weights::SubstrateWeight<Runtime>;
}

/// The values governance (sudo) may change without a runtime upgrade, stored by
/// pallet-parameters (`parameters.setParameter`). Read them only through the bounded wrappers
/// below: whatever is stored, even by `system.setStorage`, is clamped where it is used.
#[dynamic_params(RuntimeParameters, pallet_parameters::Parameters::<Runtime>)]
pub mod dynamic_params {
	use super::*;

	#[dynamic_pallet_params]
	#[codec(index = 0)]
	pub mod pol {
		/// Blocks per session: short by default, so that new authorities join within minutes.
		#[codec(index = 0)]
		pub static SessionPeriod: BlockNumber = MINUTES;

		/// Minted each block to the authorities by stake; zero (off) by default: tasks'
		/// budgets pay for the work.
		#[codec(index = 1)]
		pub static EmissionPerBlock: Balance = 0;
	}
}

/// The shortest session: a period of zero would make pallet-session divide by zero.
pub const MIN_SESSION_PERIOD: BlockNumber = 1;
/// The longest session.
pub const MAX_SESSION_PERIOD: BlockNumber = DAYS;
/// The most the emission may mint a block.
pub const MAX_EMISSION_PER_BLOCK: Balance = 10 * UNIT;

/// `SessionPeriod`, within `MIN_SESSION_PERIOD..=MAX_SESSION_PERIOD` whatever is stored.
pub struct BoundedSessionPeriod;
impl Get<BlockNumber> for BoundedSessionPeriod {
	fn get() -> BlockNumber {
		dynamic_params::pol::SessionPeriod::get().clamp(MIN_SESSION_PERIOD, MAX_SESSION_PERIOD)
	}
}

/// `EmissionPerBlock`, at most `MAX_EMISSION_PER_BLOCK` whatever is stored.
pub struct CappedEmissionPerBlock;
impl Get<Balance> for CappedEmissionPerBlock {
	fn get() -> Balance {
		dynamic_params::pol::EmissionPerBlock::get().min(MAX_EMISSION_PER_BLOCK)
	}
}

impl pallet_parameters::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeParameters = RuntimeParameters;
	type AdminOrigin = AsEnsureOriginWithArg<EnsureRoot<AccountId>>;
	// The pallet's own weights module is private; its one call is a single write.
	type WeightInfo = ();
}

#[cfg(feature = "runtime-benchmarks")]
impl Default for RuntimeParameters {
	fn default() -> Self {
		RuntimeParameters::Pol(dynamic_params::pol::Parameters::EmissionPerBlock(
			dynamic_params::pol::EmissionPerBlock,
			Some(0),
		))
	}
}

impl pallet_utility::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeCall = RuntimeCall;
	type PalletsOrigin = OriginCaller;
	type WeightInfo = pallet_utility::weights::SubstrateWeight<Runtime>;
}

/// A storage deposit: 0.2 POL an item and 1 mPOL a byte.
pub const fn deposit(items: u32, bytes: u32) -> Balance {
	(items as Balance * 20 * UNIT + (bytes as Balance) * 100 * MILLI_UNIT) / 100
}

parameter_types! {
	pub const ProxyDepositBase: Balance = deposit(1, 8);
	pub const ProxyDepositFactor: Balance = deposit(0, 33);
	pub const AnnouncementDepositBase: Balance = deposit(1, 8);
	pub const AnnouncementDepositFactor: Balance = deposit(0, 68);
}

/// What a proxy may do for the account that added it.
#[derive(
	Copy,
	Clone,
	Eq,
	PartialEq,
	Ord,
	PartialOrd,
	Default,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	scale_info::TypeInfo,
)]
pub enum ProxyType {
	/// Anything (pallet-proxy wants the most permissive type as the default).
	#[default]
	#[codec(index = 0)]
	Any,
	/// A worker's hot key: the round calls of a miner or a validator, its endpoint, and
	/// batches of those. No transfer, no bond or unbond, no proxy management: a stolen worker
	/// key cannot move the stake.
	#[codec(index = 1)]
	Worker,
}

impl InstanceFilter<RuntimeCall> for ProxyType {
	fn filter(&self, c: &RuntimeCall) -> bool {
		match self {
			ProxyType::Any => true,
			ProxyType::Worker => matches!(
				c,
				RuntimeCall::TaskRegistry(
					pallet_task_registry::Call::join_task { .. }
						| pallet_task_registry::Call::leave_task { .. }
						| pallet_task_registry::Call::commit_update { .. }
						| pallet_task_registry::Call::reveal_update { .. }
						| pallet_task_registry::Call::propose_global_model { .. }
				) | RuntimeCall::PolScoring(
					pallet_validator_scoring::Call::commit_scores { .. }
						| pallet_validator_scoring::Call::reveal_scores { .. }
						| pallet_validator_scoring::Call::commit_vote { .. }
						| pallet_validator_scoring::Call::reveal_vote { .. }
				) | RuntimeCall::PolStaking(pallet_pol_staking::Call::set_endpoint { .. })
					// Each call inside a batch is filtered again.
					| RuntimeCall::Utility(
						pallet_utility::Call::batch { .. }
							| pallet_utility::Call::batch_all { .. }
							| pallet_utility::Call::force_batch { .. }
					)
			),
		}
	}

	fn is_superset(&self, o: &Self) -> bool {
		match (self, o) {
			(x, y) if x == y => true,
			(ProxyType::Any, _) => true,
			_ => false,
		}
	}
}

impl pallet_proxy::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeCall = RuntimeCall;
	type Currency = Balances;
	type ProxyType = ProxyType;
	type ProxyDepositBase = ProxyDepositBase;
	type ProxyDepositFactor = ProxyDepositFactor;
	type MaxProxies = ConstU32<32>;
	type WeightInfo = pallet_proxy::weights::SubstrateWeight<Runtime>;
	type MaxPending = ConstU32<32>;
	type CallHasher = BlakeTwo256;
	type AnnouncementDepositBase = AnnouncementDepositBase;
	type AnnouncementDepositFactor = AnnouncementDepositFactor;
	type BlockNumberProvider = System;
}

parameter_types! {
	pub const SessionOffset: BlockNumber = 0;
}

impl pallet_session::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type ValidatorId = AccountId;
	type ValidatorIdOf = ConvertInto;
	type ShouldEndSession = pallet_session::PeriodicSessions<BoundedSessionPeriod, SessionOffset>;
	type NextSessionRotation =
		pallet_session::PeriodicSessions<BoundedSessionPeriod, SessionOffset>;
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
	// Trust from each validator's scoring record.
	type Trust = PolScoring;
	type SessionKeys = pallet_session::Pallet<Runtime>;
	type MinMinerBond = ConstU128<{ 100 * UNIT }>;
	type MinValidatorBond = ConstU128<{ 1_000 * UNIT }>;
	type UnbondingPeriod = ConstU32<{ 30 * MINUTES }>;
	type MaxUnlockingChunks = ConstU32<16>;
	type MaxValidators = ConstU32<256>;
	type MaxAuthorities = ConstU32<MAX_AUTHORITIES>;
	// A set of fewer than four cannot be shrunk to by slashing or unbonding (the development
	// chain's genesis lowers it to one).
	type MinAuthorities = ConstU32<4>;
	type MaxEndpointLen = ConstU32<{ pol_primitives::MAX_URI_LEN }>;
	type WeightInfo = pallet_pol_staking::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = StakingBenchmarkHelper;
}

impl pallet_task_registry::Config for Runtime {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Stake = PolStaking;
	type Scores = PolScoring;
	type RoundEnd = PolScoring;
	type RoundStart = PolScoring;
	type Settlement = PolStaking;
	type AdminOrigin = frame_system::EnsureRoot<AccountId>;
	// A slot costs what it occupies: filling the 256 slots takes 25 600 POL held (and a
	// minimum budget each), and a task nobody trains ends after `MaxIdleRounds`.
	type TaskDeposit = ConstU128<{ 100 * UNIT }>;
	type RoundDeposit = ConstU128<{ UNIT / 100 }>;
	type MinRewardPerRound = ConstU128<{ UNIT }>;
	type MaxRounds = ConstU32<10_000>;
	// An hour of 3-second blocks.
	type MaxPhaseBlocks = ConstU32<1_200>;
	type MaxTasksPerCreator = ConstU32<8>;
	type MaxIdleRounds = ConstU32<8>;
	type RetentionPeriod = ConstU32<{ 7 * 24 * 60 * MINUTES }>;
	type MaxActiveTasks = ConstU32<256>;
	type MaxMinersPerTask = ConstU32<MAX_MINERS_PER_TASK>;
	// Only a round's scorers propose, one hash each: room for all of them.
	type MaxProposals = ConstU32<MAX_AUTHORITIES>;
	type MaxSegments = ConstU32<{ pol_primitives::specs::MAX_SEGMENTS }>;
	type MinPhaseBlocks = ConstU32<2>;
	type MaxTransitionsPerBlock = ConstU32<4>;
	// The scoring pallet's: a dispute names at most one segment per scorer.
	type MaxScorers = ConstU32<MAX_AUTHORITIES>;
	type ExpectedBlockTime = ConstU64<{ crate::MILLI_SECS_PER_BLOCK }>;
	type WeightInfo = pallet_task_registry::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = PolBenchmarkHelper;
}

/// The most miners of one task, and so the most entries of a validator's score vector.
pub const MAX_MINERS_PER_TASK: u32 = 256;

parameter_types! {
	/// A validator with no scoring record starts at half trust: below validators that have
	/// scored honestly, above those that have not.
	pub const InitialTrust: Perbill = Perbill::from_percent(50);
	/// Each round's trust weighs 20% in the moving average: about ten rounds of history.
	pub const TrustSmoothing: Perbill = Perbill::from_percent(20);
	pub const MinerSlash: Perbill = Perbill::from_percent(10);
	pub const FalseAccusationSlash: Perbill = Perbill::from_percent(5);
	/// Forfeited by a validator that commits scores and never reveals them.
	pub const ScoreDeposit: Balance = 10 * UNIT;
}

impl pallet_validator_scoring::Config for Runtime {
	type Balance = Balance;
	type Stake = PolStaking;
	type Rounds = TaskRegistry;
	type Slasher = PolStaking;
	type Rewards = PolRewards;
	// The scorers of a round are the authorities elected before it started, stake frozen.
	type Scorers = PolStaking;
	type Settlement = PolStaking;
	type ScoreDeposit = ScoreDeposit;
	// Trust, which elects authorities, moves only in rounds with two or more scorers and a
	// budget worth the name: it cannot be farmed alone on cheap tasks.
	type MinScorersForTrust = ConstU32<2>;
	type MinBudgetForTrust = ConstU128<{ 10 * UNIT }>;
	type InitialTrust = InitialTrust;
	type TrustSmoothing = TrustSmoothing;
	type MinerSlash = MinerSlash;
	type FalseAccusationSlash = FalseAccusationSlash;
	type MaxMiners = ConstU32<MAX_MINERS_PER_TASK>;
	type MaxScorers = ConstU32<MAX_AUTHORITIES>;
	type ChallengeKeys = AccountKeys;
	type WeightInfo = pallet_validator_scoring::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = PolBenchmarkHelper;
}

/// A validator's challenge proofs are made with the key it registered
/// (`PolStaking::set_challenge_key`: its worker host's, which signs as its proxy), else with its
/// account's own sr25519 key (an `AccountId32` is the public key of the account's pair).
pub struct AccountKeys;
impl pol_primitives::ChallengeKeys<AccountId> for AccountKeys {
	fn challenge_key(who: &AccountId) -> Option<[u8; 32]> {
		pallet_pol_staking::ChallengeKeys::<Runtime>::get(who)
			.or_else(|| Some(*<AccountId as AsRef<[u8; 32]>>::as_ref(who)))
	}
}

/// The challenge seed of the benchmarks' task (set by the task registry's benchmark glue).
pub const BENCHMARK_CHALLENGE_SEED: [u8; 32] = [4; 32];
/// The public key of `//polchain-benchmark-challenger`, the validator of the scoring
/// benchmarks.
pub const BENCHMARK_CHALLENGER: [u8; 32] = [
	18, 37, 159, 53, 48, 106, 250, 58, 108, 218, 146, 230, 154, 123, 151, 57, 110, 71, 29, 29, 172,
	56, 33, 140, 56, 12, 91, 191, 50, 40, 184, 39,
];
/// Its challenge proof over [`BENCHMARK_CHALLENGE_SEED`], SCALE-encoded: made once with
/// `pol_primitives::challenge::prove`, since wasm has no randomness to sign with; checked by
/// `runtime/tests/benchmark_fixtures.rs`.
pub const BENCHMARK_CHALLENGE_PROOF: [u8; 96] = [
	216, 157, 87, 144, 65, 134, 237, 60, 30, 112, 106, 28, 231, 5, 109, 177, 242, 138, 207, 139,
	208, 240, 219, 186, 80, 42, 56, 23, 178, 254, 135, 40, 136, 167, 104, 74, 173, 86, 39, 131,
	123, 85, 248, 251, 249, 50, 193, 164, 243, 114, 74, 48, 115, 216, 232, 79, 203, 155, 146, 65,
	40, 208, 93, 13, 61, 163, 75, 1, 161, 252, 5, 10, 27, 202, 220, 92, 3, 16, 119, 130, 76, 85,
	93, 147, 62, 137, 232, 65, 196, 83, 157, 181, 174, 108, 211, 3,
];

/// The current block authorities (the session's validators).
pub struct SessionValidators;
impl frame_support::traits::Get<alloc::vec::Vec<AccountId>> for SessionValidators {
	fn get() -> alloc::vec::Vec<AccountId> {
		pallet_session::Validators::<Runtime>::get()
	}
}

impl pallet_pol_rewards::Config for Runtime {
	type Currency = Balances;
	type Funds = TaskRegistry;
	type Stake = PolStaking;
	type Authorities = SessionValidators;
	type EmissionPerBlock = CappedEmissionPerBlock;
	type MaxMiners = ConstU32<MAX_MINERS_PER_TASK>;
	type MaxValidators = ConstU32<MAX_AUTHORITIES>;
	type MaxAuthorities = ConstU32<MAX_AUTHORITIES>;
	type WeightInfo = pallet_pol_rewards::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = PolBenchmarkHelper;
}

/// Sets up bonded accounts, tasks in a given phase and revealed scores for the benchmarks of
/// the task registry, scoring and rewards, through each pallet's own benchmark glue.
#[cfg(feature = "runtime-benchmarks")]
pub struct PolBenchmarkHelper;

#[cfg(feature = "runtime-benchmarks")]
fn bond_for_benchmark(who: &AccountId, role: Role) {
	use frame_support::traits::fungible::Mutate;
	let bond = PolStaking::min_bond(role);
	let _ = Balances::mint_into(who, bond.saturating_mul(2));
	let _ = PolStaking::bond(RuntimeOrigin::signed(who.clone()), role, bond);
}

#[cfg(feature = "runtime-benchmarks")]
impl pallet_task_registry::BenchmarkHelper<AccountId, Balance> for PolBenchmarkHelper {
	fn make_active(who: &AccountId, role: Role) {
		bond_for_benchmark(who, role);
	}
	fn reveal_scores(task: TaskId, round: RoundIndex, who: &AccountId) -> Balance {
		let stake = <PolStaking as pol_primitives::StakeInfo<_, _>>::stake_of(who);
		PolScoring::benchmark_record_reveal(task, round, who, stake);
		stake
	}
}

#[cfg(feature = "runtime-benchmarks")]
impl pallet_validator_scoring::BenchmarkHelper<AccountId> for PolBenchmarkHelper {
	fn make_validator(who: &AccountId) {
		bond_for_benchmark(who, Role::Validator);
	}
	fn task_with_revealed_miners(phase: Phase, miners: u32) -> (TaskId, Vec<AccountId>) {
		let accounts: Vec<AccountId> = (0..miners)
			.map(|i| frame_benchmarking::account("miner", i, 0))
			.collect();
		(
			TaskRegistry::benchmark_task_with_revealed_miners(phase, &accounts),
			accounts,
		)
	}
	fn set_phase(task: TaskId, phase: Phase) {
		TaskRegistry::benchmark_set_phase(task, phase);
	}
	fn set_scorers(scorers: &[AccountId]) {
		let list: Vec<(AccountId, Balance)> = scorers
			.iter()
			.map(|who| {
				bond_for_benchmark(who, Role::Validator);
				(who.clone(), PolStaking::min_bond(Role::Validator))
			})
			.collect();
		pallet_pol_staking::Scorers::<Runtime>::put(frame_support::BoundedVec::truncate_from(list));
	}
	fn challenger(seed: &Hash) -> (AccountId, pol_primitives::ChallengeProof) {
		use codec::Decode;
		// Made for the benchmarks' seed; any other seed fails the reveal, and the benchmark.
		let _ = seed;
		let proof = pol_primitives::ChallengeProof::decode(&mut &BENCHMARK_CHALLENGE_PROOF[..])
			.expect("BENCHMARK_CHALLENGE_PROOF decodes; runtime/tests/benchmark_fixtures.rs; qed");
		(AccountId::from(BENCHMARK_CHALLENGER), proof)
	}
}

#[cfg(feature = "runtime-benchmarks")]
impl pallet_pol_rewards::BenchmarkHelper<AccountId, Balance> for PolBenchmarkHelper {
	fn funded_task(budget: Balance) -> TaskId {
		TaskRegistry::benchmark_funded_task(budget)
	}
	fn set_authorities(authorities: &[AccountId]) {
		for who in authorities {
			bond_for_benchmark(who, Role::Validator);
		}
		pallet_session::Validators::<Runtime>::put(authorities.to_vec());
	}
	fn set_emission(amount: Balance) {
		use dynamic_params::pol;
		pallet_parameters::Parameters::<Runtime>::insert(
			RuntimeParametersKey::Pol(pol::ParametersKey::EmissionPerBlock(pol::EmissionPerBlock)),
			RuntimeParametersValue::Pol(pol::ParametersValue::EmissionPerBlock(amount)),
		);
	}
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
