//! The pallets whose benchmarks `polchain-node benchmark pallet` can run.

frame_benchmarking::define_benchmarks!(
	[frame_benchmarking, BaselineBench::<Runtime>]
	[frame_system, SystemBench::<Runtime>]
	[frame_system_extensions, SystemExtensionsBench::<Runtime>]
	[pallet_balances, Balances]
	[pallet_timestamp, Timestamp]
	[pallet_sudo, Sudo]
	[pallet_pol_staking, PolStaking]
	[pallet_task_registry, TaskRegistry]
	[pallet_validator_scoring, PolScoring]
	[pallet_pol_rewards, PolRewards]
);
