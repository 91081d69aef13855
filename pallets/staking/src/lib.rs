//! # polchain staking pallet
//!
//! Bonds for the two roles of polchain, and the election of block authorities from them.
//!
//! ## Overview
//!
//! - An account bonds as a [`Role::Miner`] or a [`Role::Validator`] with [`Pallet::bond`]; the
//!   funds are held under this pallet's [`HoldReason::Staking`] (no locks, no reserves). It adds
//!   with [`Pallet::bond_extra`], and leaves with [`Pallet::unbond`] (into unlocking chunks
//!   released after `UnbondingPeriod` blocks) and [`Pallet::withdraw_unbonded`].
//! - An account has one role at a time: changing role takes a full unbond and withdrawal.
//! - [`Pallet::chill`] stops an account taking part while keeping its bond; [`Pallet::resume`]
//!   brings it back.
//! - [`Pallet::set_endpoint`] records the http(s) URL where the account's worker serves
//!   artifacts.
//! - Other pallets read stake through [`pol_primitives::StakeInfo`] and slash through
//!   [`pol_primitives::Slash`]; slashed funds go to `OnSlash` (for example a treasury account).
//! - As `pallet-session`'s [`SessionManager`](pallet_session::SessionManager), the pallet
//!   elects, every session, the top `MaxAuthorities` active validators by stake × trust that
//!   have set session keys. Trust comes from `Trust` ([`pol_primitives::TrustProvider`]). With
//!   fewer than `MinAuthorities` candidates, the previous set stands. The same ranking (the
//!   authorities, when elected), with each validator's stake then, gives the scorers of the
//!   rounds that start in the session ([`pol_primitives::ScorerSet`]), even when there were
//!   too few candidates to change the authority set.
//! - When `MaxValidators` take part, a stronger newcomer (stake × trust) displaces the weakest.
//! - An account that took part in a round not yet settled cannot withdraw unbonded funds
//!   ([`pol_primitives::SettlementLock`]): slashing still reaches its unlocking chunks.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;
pub use types::*;
pub use weights::WeightInfo;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod types;
pub mod weights;

use alloc::vec::Vec;
use frame_support::{
	pallet_prelude::*,
	traits::{
		fungible::{self, Inspect, MutateHold},
		tokens::Precision,
		OnUnbalanced, ValidatorRegistration,
	},
};
use frame_system::pallet_prelude::*;
use pol_primitives::{ScorerSet, SettlementLock, Slash, StakeInfo, TrustProvider};
use sp_runtime::{
	traits::{Saturating, Zero},
	Perbill,
};

/// The balance type of the pallet's currency.
pub type BalanceOf<T> =
	<<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;
/// Slashed funds, handed to `OnSlash`.
pub type CreditOf<T> =
	fungible::Credit<<T as frame_system::Config>::AccountId, <T as Config>::Currency>;
/// A validated artifact endpoint.
pub type EndpointOf<T> = BoundedVec<u8, <T as Config>::MaxEndpointLen>;

const LOG_TARGET: &str = "runtime::pol-staking";

#[frame_support::pallet]
pub mod pallet {
	use super::*;

	/// The in-code storage version.
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(0);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// Bonded as a miner or a validator (active or unlocking).
		#[codec(index = 0)]
		Staking,
	}

	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// The currency bonds are held in.
		type Currency: fungible::Mutate<Self::AccountId>
			+ fungible::MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
			+ fungible::BalancedHold<Self::AccountId>;

		/// The runtime's hold reason, which includes this pallet's.
		type RuntimeHoldReason: From<HoldReason>;

		/// Where slashed funds go (for example a treasury account); dropping them burns them.
		type OnSlash: OnUnbalanced<CreditOf<Self>>;

		/// Validators' trust, from the scoring pallet; `()` gives everyone full trust.
		type Trust: TrustProvider<Self::AccountId>;

		/// Whether an account has set session keys (`pallet-session`).
		type SessionKeys: ValidatorRegistration<Self::AccountId>;

		/// The smallest active bond of a miner.
		#[pallet::constant]
		type MinMinerBond: Get<BalanceOf<Self>>;

		/// The smallest active bond of a validator.
		#[pallet::constant]
		type MinValidatorBond: Get<BalanceOf<Self>>;

		/// Blocks between `unbond` and the funds becoming withdrawable.
		#[pallet::constant]
		type UnbondingPeriod: Get<BlockNumberFor<Self>>;

		/// The most unlocking chunks an account can have at once.
		#[pallet::constant]
		type MaxUnlockingChunks: Get<u32>;

		/// The most validators that can be bonded at once (bounds the election's work).
		#[pallet::constant]
		type MaxValidators: Get<u32>;

		/// The most authorities elected for a session.
		#[pallet::constant]
		type MaxAuthorities: Get<u32>;

		/// The fewest candidates for which an election changes the authority set, unless the
		/// chain's genesis sets fewer ([`MinAuthorities`]: a development chain of one node).
		#[pallet::constant]
		type MinAuthorities: Get<u32>;

		/// The longest artifact endpoint URL, in bytes.
		#[pallet::constant]
		type MaxEndpointLen: Get<u32>;

		/// Weights of this pallet's calls, from its benchmarks.
		type WeightInfo: WeightInfo;

		/// Sets session keys for benchmark accounts, so that they can stand for election.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: BenchmarkHelper<Self::AccountId>;
	}

	/// The bond of each bonded account.
	#[pallet::storage]
	pub type Ledger<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, StakingLedger<T>, OptionQuery>;

	/// Where each bonded account's worker serves artifacts.
	#[pallet::storage]
	pub type Endpoints<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, EndpointOf<T>, OptionQuery>;

	/// The sr25519 public key each bonded account's challenge proofs (VRF) are made with, when
	/// it is not the account's own: the key of a worker host that signs as the account's
	/// proxy, so that the key that can move the stake never needs to be there. Removed with the
	/// ledger. A round uses the key its scorer had when the round started.
	#[pallet::storage]
	pub type ChallengeKeys<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, [u8; 32], OptionQuery>;

	/// Validators that take part: the election's candidates (before the session-key check).
	#[pallet::storage]
	pub type Validators<T: Config> =
		CountedStorageMap<_, Blake2_128Concat, T::AccountId, (), OptionQuery>;

	/// Sum of every ledger's total (active and unlocking).
	#[pallet::storage]
	pub type TotalBonded<T: Config> = StorageValue<_, BalanceOf<T>, ValueQuery>;

	/// The authorities of the last election, best first.
	#[pallet::storage]
	pub type Authorities<T: Config> =
		StorageValue<_, BoundedVec<T::AccountId, T::MaxAuthorities>, ValueQuery>;

	/// The top `MaxAuthorities` validators by stake × trust with session keys at the last
	/// session change (the authorities, when there were enough candidates to elect), with their
	/// active stake then: the scorers of rounds that start this session
	/// ([`pol_primitives::ScorerSet`]).
	#[pallet::storage]
	pub type Scorers<T: Config> =
		StorageValue<_, BoundedVec<(T::AccountId, BalanceOf<T>), T::MaxAuthorities>, ValueQuery>;

	/// How many unsettled rounds each account took part in (a commitment, a score or a
	/// dispute): while any is, its unbonded funds cannot be withdrawn, so that settling can
	/// still slash them.
	#[pallet::storage]
	pub type Unsettled<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, u32, ValueQuery>;

	/// The fewest candidates for which an election changes the authority set: below it the
	/// previous set stands, so slashing or unbonding cannot shrink block production to a few
	/// nodes. `Config::MinAuthorities` unless the genesis set another (a development chain).
	#[pallet::storage]
	pub type MinAuthorities<T: Config> =
		StorageValue<_, u32, ValueQuery, <T as Config>::MinAuthorities>;

	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// Accounts bonded at genesis: (account, role, bond). The validators among them should
		/// also be `pallet-session`'s genesis keys, so they are the first authorities.
		pub stakers: Vec<(T::AccountId, Role, BalanceOf<T>)>,
		/// The fewest candidates an election needs, if not `Config::MinAuthorities`: only a
		/// development chain should set fewer.
		pub min_authorities: Option<u32>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			if let Some(min) = self.min_authorities {
				assert!(
					min >= 1 && min <= T::MaxAuthorities::get(),
					"min_authorities must be between 1 and MaxAuthorities"
				);
				MinAuthorities::<T>::put(min);
			}
			for (who, role, amount) in &self.stakers {
				assert!(
					Pallet::<T>::do_bond(who, *role, *amount).is_ok(),
					"genesis staker cannot bond: check its balance, minimum bond and duplicates"
				);
			}
		}
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// `who` bonded `amount` as `role`.
		Bonded {
			who: T::AccountId,
			role: Role,
			amount: BalanceOf<T>,
		},
		/// `who` added `amount` to its bond.
		BondedExtra {
			who: T::AccountId,
			amount: BalanceOf<T>,
		},
		/// `who` started unbonding `amount`, withdrawable from block `unlock_at`.
		Unbonded {
			who: T::AccountId,
			amount: BalanceOf<T>,
			unlock_at: BlockNumberFor<T>,
		},
		/// `amount` of `who`'s unbonded funds were released.
		Withdrawn {
			who: T::AccountId,
			amount: BalanceOf<T>,
		},
		/// `who` has nothing bonded any more; its ledger and endpoint are gone.
		StakerRemoved { who: T::AccountId },
		/// `who` stopped taking part; its bond stays.
		Chilled { who: T::AccountId },
		/// `who` takes part again.
		Resumed { who: T::AccountId },
		/// The candidate list was full: `who`, the weakest validator by stake × trust, was
		/// chilled to make room for the stronger `by`. It may `resume` once it is stronger.
		ValidatorDisplaced { who: T::AccountId, by: T::AccountId },
		/// `who`'s worker serves artifacts at `endpoint`.
		EndpointSet {
			who: T::AccountId,
			endpoint: Vec<u8>,
		},
		/// `who`'s challenge proofs are made with `key` from the next round it scores on.
		ChallengeKeySet { who: T::AccountId, key: [u8; 32] },
		/// `amount` of `who`'s bond was slashed; `requested` was asked for.
		Slashed {
			who: T::AccountId,
			amount: BalanceOf<T>,
			requested: BalanceOf<T>,
		},
		/// The authorities for session `session` were elected from `candidates` candidates.
		AuthoritiesElected {
			session: u32,
			authorities: Vec<T::AccountId>,
			candidates: u32,
		},
		/// Too few candidates for session `session` (`candidates`, fewer than `MinAuthorities`):
		/// the previous authorities stay.
		ElectionSkipped { session: u32, candidates: u32 },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The account is bonded already. Add to the bond with `bond_extra`; to change role,
		/// `unbond` everything and `withdraw_unbonded` first.
		AlreadyBonded,
		/// The account is not bonded. `bond` first.
		NotBonded,
		/// The bond would be below the role's minimum (`MinMinerBond` or `MinValidatorBond`).
		/// Bond more, or unbond everything.
		BelowMinimumBond,
		/// The amount is zero. Name a positive amount.
		ZeroAmount,
		/// More than the active bond was asked to unbond. Unbond at most the active bond.
		InsufficientActiveBond,
		/// The free balance cannot cover the bond (the account must also keep the existential
		/// deposit). Bond less.
		InsufficientBalance,
		/// Too many unlocking chunks. Wait for some to unlock and `withdraw_unbonded`.
		NoMoreChunks,
		/// No unbonded funds are withdrawable yet. Wait until the chunks' `unlock_at` block.
		NothingToWithdraw,
		/// The account is chilled already.
		AlreadyChilled,
		/// The account takes part already.
		NotChilled,
		/// The endpoint is not an http:// or https:// URL with a host, without spaces or
		/// control characters.
		InvalidEndpoint,
		/// The endpoint is longer than `MaxEndpointLen` bytes.
		EndpointTooLong,
		/// `MaxValidators` validators take part already and the weakest of them (by stake ×
		/// trust) is at least as strong as the caller would be. Bond more.
		TooManyValidators,
		/// A round the account took part in is not settled yet: its unbonded funds stay until
		/// it is (a dispute can still slash them). Withdraw after the round closes.
		UnsettledRounds,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn integrity_test() {
			assert!(
				!T::MinMinerBond::get().is_zero(),
				"MinMinerBond must be positive"
			);
			assert!(
				!T::MinValidatorBond::get().is_zero(),
				"MinValidatorBond must be positive"
			);
			assert!(
				T::MaxUnlockingChunks::get() > 0,
				"MaxUnlockingChunks must be positive"
			);
			assert!(
				T::MinAuthorities::get() > 0,
				"MinAuthorities must be positive: the set is never empty"
			);
			assert!(
				T::MinAuthorities::get() <= T::MaxAuthorities::get(),
				"MinAuthorities must not exceed MaxAuthorities"
			);
			assert!(
				T::MaxAuthorities::get() <= T::MaxValidators::get(),
				"MaxAuthorities must not exceed MaxValidators"
			);
			assert!(
				T::MaxEndpointLen::get() >= 10,
				"MaxEndpointLen must fit `https://a/`"
			);
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Bonds `amount` of the caller's free balance as `role`. The caller must not be bonded,
		/// and `amount` must be at least the role's minimum bond.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::bond())]
		pub fn bond(
			origin: OriginFor<T>,
			role: Role,
			#[pallet::compact] amount: BalanceOf<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_bond(&who, role, amount)
		}

		/// Adds `amount` of the caller's free balance to its active bond.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::bond_extra())]
		pub fn bond_extra(
			origin: OriginFor<T>,
			#[pallet::compact] amount: BalanceOf<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
			let mut ledger = Ledger::<T>::get(&who).ok_or(Error::<T>::NotBonded)?;
			Self::hold(&who, amount)?;
			ledger.active = ledger.active.saturating_add(amount);
			Self::put_ledger(&who, ledger);
			Self::deposit_event(Event::BondedExtra { who, amount });
			Ok(())
		}

		/// Starts unbonding `amount` of the active bond; it can be withdrawn `UnbondingPeriod`
		/// blocks from now. What stays active must be zero or at least the role's minimum; at
		/// zero the account stops taking part.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::unbond())]
		pub fn unbond(
			origin: OriginFor<T>,
			#[pallet::compact] amount: BalanceOf<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
			let mut ledger = Ledger::<T>::get(&who).ok_or(Error::<T>::NotBonded)?;
			ensure!(amount <= ledger.active, Error::<T>::InsufficientActiveBond);
			let remaining = ledger.active.saturating_sub(amount);
			ensure!(
				remaining.is_zero() || remaining >= Self::min_bond(ledger.role),
				Error::<T>::BelowMinimumBond
			);
			let unlock_at =
				frame_system::Pallet::<T>::block_number().saturating_add(T::UnbondingPeriod::get());
			// Two unbonds in one block share a chunk.
			match ledger.unlocking.last_mut() {
				Some(chunk) if chunk.unlock_at == unlock_at => {
					chunk.value = chunk.value.saturating_add(amount)
				}
				_ => ledger
					.unlocking
					.try_push(UnlockChunk {
						value: amount,
						unlock_at,
					})
					.map_err(|_| Error::<T>::NoMoreChunks)?,
			}
			ledger.active = remaining;
			if remaining.is_zero() {
				ledger.participation = Participation::Chilled;
			}
			Self::put_ledger(&who, ledger);
			Self::deposit_event(Event::Unbonded {
				who,
				amount,
				unlock_at,
			});
			Ok(())
		}

		/// Releases every unlocking chunk whose `unlock_at` has come. When nothing is left
		/// bonded, the ledger and the endpoint are removed and the account may bond again in
		/// any role.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::withdraw_unbonded())]
		pub fn withdraw_unbonded(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let mut ledger = Ledger::<T>::get(&who).ok_or(Error::<T>::NotBonded)?;
			ensure!(Unsettled::<T>::get(&who) == 0, Error::<T>::UnsettledRounds);
			let now = frame_system::Pallet::<T>::block_number();
			let mut amount = BalanceOf::<T>::zero();
			ledger.unlocking.retain(|chunk| {
				if chunk.unlock_at <= now {
					amount = amount.saturating_add(chunk.value);
					false
				} else {
					true
				}
			});
			ensure!(!amount.is_zero(), Error::<T>::NothingToWithdraw);
			let released = T::Currency::release(
				&HoldReason::Staking.into(),
				&who,
				amount,
				Precision::BestEffort,
			)?;
			if released != amount {
				// The hold and the ledger disagreed; log it and keep the books on what moved.
				log::error!(target: LOG_TARGET, "released {:?} of {:?} for {:?}", released, amount, who);
			}
			TotalBonded::<T>::mutate(|t| *t = t.saturating_sub(amount));
			Self::deposit_event(Event::Withdrawn {
				who: who.clone(),
				amount: released,
			});
			if ledger.is_empty() {
				Self::remove_staker(&who);
			} else {
				Ledger::<T>::insert(&who, ledger);
			}
			Ok(())
		}

		/// Stops the caller taking part (in tasks, and as an election candidate); its bond stays.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::chill())]
		pub fn chill(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let mut ledger = Ledger::<T>::get(&who).ok_or(Error::<T>::NotBonded)?;
			ensure!(
				ledger.participation == Participation::Active,
				Error::<T>::AlreadyChilled
			);
			ledger.participation = Participation::Chilled;
			Self::put_ledger(&who, ledger);
			Self::deposit_event(Event::Chilled { who });
			Ok(())
		}

		/// Brings a chilled account back; its active bond must be at least the role's minimum.
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::resume())]
		pub fn resume(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let mut ledger = Ledger::<T>::get(&who).ok_or(Error::<T>::NotBonded)?;
			ensure!(
				ledger.participation == Participation::Chilled,
				Error::<T>::NotChilled
			);
			ensure!(
				ledger.active >= Self::min_bond(ledger.role),
				Error::<T>::BelowMinimumBond
			);
			if ledger.role == Role::Validator {
				Self::make_room(&who, ledger.active)?;
			}
			ledger.participation = Participation::Active;
			Self::put_ledger(&who, ledger);
			Self::deposit_event(Event::Resumed { who });
			Ok(())
		}

		/// Records the http(s) URL where the caller's worker serves artifacts, such as
		/// `http://203.0.113.7:8700`. The caller must be bonded.
		#[pallet::call_index(6)]
		#[pallet::weight(T::WeightInfo::set_endpoint(endpoint.len() as u32))]
		pub fn set_endpoint(origin: OriginFor<T>, endpoint: Vec<u8>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			ensure!(Ledger::<T>::contains_key(&who), Error::<T>::NotBonded);
			let bounded: EndpointOf<T> = endpoint
				.clone()
				.try_into()
				.map_err(|_| Error::<T>::EndpointTooLong)?;
			ensure!(is_valid_endpoint(&bounded), Error::<T>::InvalidEndpoint);
			Endpoints::<T>::insert(&who, bounded);
			Self::deposit_event(Event::EndpointSet { who, endpoint });
			Ok(())
		}

		/// Makes `key`, an sr25519 public key, the one the caller's challenge proofs (VRF) are
		/// checked with, from the next round it scores on: the key of the worker host that signs
		/// as the caller's `Worker` proxy. The caller must be bonded. Not a proxy's to call:
		/// only the stash decides whose proofs stand for it.
		#[pallet::call_index(7)]
		#[pallet::weight(T::WeightInfo::set_challenge_key())]
		pub fn set_challenge_key(origin: OriginFor<T>, key: [u8; 32]) -> DispatchResult {
			let who = ensure_signed(origin)?;
			ensure!(Ledger::<T>::contains_key(&who), Error::<T>::NotBonded);
			ChallengeKeys::<T>::insert(&who, key);
			Self::deposit_event(Event::ChallengeKeySet { who, key });
			Ok(())
		}
	}
}

/// What the benchmarks need from the runtime.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper<AccountId> {
	/// Gives `who` session keys, as `pallet_session::set_keys` would.
	fn set_session_keys(who: &AccountId);
}

/// Whether `url` is `http://` or `https://` followed by a host, with no whitespace or control
/// characters: enough for a worker to fetch from it, strict enough to keep junk off chain.
pub fn is_valid_endpoint(url: &[u8]) -> bool {
	let rest = if let Some(r) = url.strip_prefix(b"https://") {
		r
	} else if let Some(r) = url.strip_prefix(b"http://") {
		r
	} else {
		return false;
	};
	let host_end = rest
		.iter()
		.position(|&c| c == b'/' || c == b'?' || c == b'#')
		.unwrap_or(rest.len());
	let authority = &rest[..host_end];
	let host = match authority.iter().rposition(|&c| c == b':') {
		// `host:port` with a numeric port; an IPv6 literal keeps its colons inside brackets.
		Some(i) if !authority.ends_with(b"]") => {
			let port = &authority[i + 1..];
			if port.is_empty() || port.len() > 5 || !port.iter().all(u8::is_ascii_digit) {
				return false;
			}
			&authority[..i]
		}
		_ => authority,
	};
	!host.is_empty() && !host.contains(&b'@') && url.iter().all(|&c| c.is_ascii_graphic())
}

impl<T: Config> Pallet<T> {
	/// The minimum active bond of `role`.
	pub fn min_bond(role: Role) -> BalanceOf<T> {
		match role {
			Role::Miner => T::MinMinerBond::get(),
			Role::Validator => T::MinValidatorBond::get(),
		}
	}

	fn do_bond(who: &T::AccountId, role: Role, amount: BalanceOf<T>) -> DispatchResult {
		ensure!(!Ledger::<T>::contains_key(who), Error::<T>::AlreadyBonded);
		ensure!(amount >= Self::min_bond(role), Error::<T>::BelowMinimumBond);
		if role == Role::Validator {
			Self::make_room(who, amount)?;
		}
		Self::hold(who, amount)?;
		Self::put_ledger(who, StakingLedger::new(role, amount));
		Self::deposit_event(Event::Bonded {
			who: who.clone(),
			role,
			amount,
		});
		Ok(())
	}

	/// Makes room among the candidates for `who` with `stake`: when `MaxValidators` take part,
	/// the weakest of them by stake × trust is chilled if it is weaker than `who` would be.
	/// Arrival order never keeps a stronger validator out.
	fn make_room(who: &T::AccountId, stake: BalanceOf<T>) -> DispatchResult {
		if Validators::<T>::count() < T::MaxValidators::get() {
			return Ok(());
		}
		let strength = T::Trust::trust_of(who).mul_floor(stake);
		// The weakest; among equals, the higher account id goes first.
		let weakest = Validators::<T>::iter_keys()
			.filter_map(|v| {
				let ledger = Ledger::<T>::get(&v)?;
				Some((T::Trust::trust_of(&v).mul_floor(ledger.active), v))
			})
			.min_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.cmp(&a.1)));
		match weakest {
			Some((weaker, displaced)) if weaker < strength => {
				if let Some(mut ledger) = Ledger::<T>::get(&displaced) {
					ledger.participation = Participation::Chilled;
					Self::put_ledger(&displaced, ledger);
				}
				Self::deposit_event(Event::ValidatorDisplaced {
					who: displaced,
					by: who.clone(),
				});
				Ok(())
			}
			_ => Err(Error::<T>::TooManyValidators.into()),
		}
	}

	/// Holds `amount` more for `who` and counts it in [`TotalBonded`].
	fn hold(who: &T::AccountId, amount: BalanceOf<T>) -> DispatchResult {
		T::Currency::hold(&HoldReason::Staking.into(), who, amount)
			.map_err(|_| Error::<T>::InsufficientBalance)?;
		TotalBonded::<T>::mutate(|t| *t = t.saturating_add(amount));
		Ok(())
	}

	/// Whether a ledger makes its account an election candidate: an active validator with at
	/// least the minimum bond.
	fn is_candidate(ledger: &StakingLedger<T>) -> bool {
		ledger.role == Role::Validator
			&& ledger.participation == Participation::Active
			&& ledger.active >= T::MinValidatorBond::get()
	}

	/// Stores a ledger and keeps the validator candidates in step with it: a validator is a
	/// candidate while it is active with at least the minimum bond.
	fn put_ledger(who: &T::AccountId, ledger: StakingLedger<T>) {
		if Self::is_candidate(&ledger) {
			Validators::<T>::insert(who, ());
		} else if Validators::<T>::contains_key(who) {
			Validators::<T>::remove(who);
		}
		Ledger::<T>::insert(who, ledger);
	}

	fn remove_staker(who: &T::AccountId) {
		Ledger::<T>::remove(who);
		Endpoints::<T>::remove(who);
		ChallengeKeys::<T>::remove(who);
		Validators::<T>::remove(who);
		Self::deposit_event(Event::StakerRemoved { who: who.clone() });
	}

	/// Slashes up to `amount` from `who`'s bond into `OnSlash`. Never fails.
	fn do_slash(who: &T::AccountId, amount: BalanceOf<T>) -> BalanceOf<T> {
		let Some(mut ledger) = Ledger::<T>::get(who) else {
			return Zero::zero();
		};
		let wanted = amount.min(ledger.total());
		if wanted.is_zero() {
			return Zero::zero();
		}
		let (credit, missing) = <T::Currency as fungible::BalancedHold<_>>::slash(
			&HoldReason::Staking.into(),
			who,
			wanted,
		);
		let slashed = wanted.saturating_sub(missing);
		T::OnSlash::on_unbalanced(credit);
		let taken = ledger.take(slashed);
		debug_assert_eq!(taken, slashed);
		TotalBonded::<T>::mutate(|t| *t = t.saturating_sub(slashed));
		// A bond slashed below the minimum stops taking part until topped up and resumed.
		if ledger.active < Self::min_bond(ledger.role) {
			ledger.participation = Participation::Chilled;
		}
		if ledger.is_empty() {
			Self::remove_staker(who);
		} else {
			Self::put_ledger(who, ledger);
		}
		Self::deposit_event(Event::Slashed {
			who: who.clone(),
			amount: slashed,
			requested: amount,
		});
		slashed
	}

	/// The election: active validators with session keys, by stake × trust (highest first,
	/// ties to the lower account id), at most `MaxAuthorities`. `None` with fewer than
	/// `MinAuthorities` candidates. Returns the number of candidates too.
	pub fn elect() -> (Option<BoundedVec<T::AccountId, T::MaxAuthorities>>, u32) {
		let (ranked, count) = Self::ranked();
		if count < MinAuthorities::<T>::get() {
			return (None, count);
		}
		(BoundedVec::try_from(ranked).ok(), count)
	}

	/// The top `MaxAuthorities` active validators with session keys by stake × trust (highest
	/// first, ties to the lower account id), and how many candidates there were.
	fn ranked() -> (Vec<T::AccountId>, u32) {
		let mut candidates: Vec<(BalanceOf<T>, T::AccountId)> = Validators::<T>::iter_keys()
			.filter(|v| T::SessionKeys::is_registered(v))
			.filter_map(|v| {
				let ledger = Ledger::<T>::get(&v)?;
				Some((T::Trust::trust_of(&v).mul_floor(ledger.active), v))
			})
			.collect();
		let count = candidates.len() as u32;
		candidates.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
		candidates.truncate(T::MaxAuthorities::get() as usize);
		(candidates.into_iter().map(|(_, v)| v).collect(), count)
	}

	/// Checks the pallet's invariants: each ledger's hold equals its active plus unlocking
	/// funds; the totals add up; the candidates are exactly the active validators.
	#[cfg(any(feature = "try-runtime", test))]
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		use frame_support::traits::fungible::InspectHold;
		let mut total = BalanceOf::<T>::zero();
		let mut candidates = 0u32;
		for (who, ledger) in Ledger::<T>::iter() {
			let held = T::Currency::balance_on_hold(&HoldReason::Staking.into(), &who);
			ensure!(
				held == ledger.total(),
				"held funds differ from the ledger's total"
			);
			ensure!(!ledger.is_empty(), "an empty ledger was left in storage");
			ensure!(
				ledger
					.unlocking
					.windows(2)
					.all(|w| w[0].unlock_at < w[1].unlock_at),
				"unlocking chunks are out of order"
			);
			total = total.saturating_add(ledger.total());
			let candidate = Self::is_candidate(&ledger);
			ensure!(
				candidate == Validators::<T>::contains_key(&who),
				"candidates out of step with ledgers"
			);
			candidates += u32::from(candidate);
		}
		ensure!(
			total == TotalBonded::<T>::get(),
			"TotalBonded differs from the sum of ledgers"
		);
		ensure!(
			candidates == Validators::<T>::count(),
			"the candidate counter is wrong"
		);
		ensure!(
			candidates <= T::MaxValidators::get(),
			"more candidates than MaxValidators"
		);
		for who in Endpoints::<T>::iter_keys() {
			ensure!(
				Ledger::<T>::contains_key(&who),
				"an endpoint outlived its ledger"
			);
		}
		for who in ChallengeKeys::<T>::iter_keys() {
			ensure!(
				Ledger::<T>::contains_key(&who),
				"a challenge key outlived its ledger"
			);
		}
		Ok(())
	}
}

impl<T: Config> StakeInfo<T::AccountId, BalanceOf<T>> for Pallet<T> {
	fn stake_of(who: &T::AccountId) -> BalanceOf<T> {
		Ledger::<T>::get(who).map(|l| l.active).unwrap_or_default()
	}

	fn role_of(who: &T::AccountId) -> Option<Role> {
		Ledger::<T>::get(who).map(|l| l.role)
	}

	fn is_active(who: &T::AccountId, role: Role) -> bool {
		Ledger::<T>::get(who).is_some_and(|l| {
			l.role == role
				&& l.participation == Participation::Active
				&& l.active >= Self::min_bond(role)
		})
	}
}

impl<T: Config> Slash<T::AccountId, BalanceOf<T>> for Pallet<T> {
	fn slash_fraction(who: &T::AccountId, fraction: Perbill) -> BalanceOf<T> {
		let total = Ledger::<T>::get(who).map(|l| l.total()).unwrap_or_default();
		Self::do_slash(who, fraction.mul_floor(total))
	}

	fn slash_amount(who: &T::AccountId, amount: BalanceOf<T>) -> BalanceOf<T> {
		Self::do_slash(who, amount)
	}
}

impl<T: Config> ScorerSet<T::AccountId, BalanceOf<T>> for Pallet<T> {
	fn scorers() -> Vec<(T::AccountId, BalanceOf<T>)> {
		Scorers::<T>::get().into_inner()
	}
}

impl<T: Config> SettlementLock<T::AccountId> for Pallet<T> {
	fn lock(who: &T::AccountId) {
		Unsettled::<T>::mutate(who, |n| *n = n.saturating_add(1));
	}
	fn unlock(who: &T::AccountId) {
		Unsettled::<T>::mutate_exists(who, |n| {
			*n = n.map(|n| n.saturating_sub(1)).filter(|n| *n > 0);
		});
	}
}

impl<T: Config> pallet_session::SessionManager<T::AccountId> for Pallet<T> {
	fn new_session(new_index: u32) -> Option<Vec<T::AccountId>> {
		// The scorers of rounds that start from now, each with its stake frozen: the ranked
		// validators even when there are too few to change the authority set, so that a small
		// network still scores.
		let (ranked, candidates) = Self::ranked();
		let scorers = ranked
			.iter()
			.map(|v| {
				(
					v.clone(),
					Ledger::<T>::get(v).map(|l| l.active).unwrap_or_default(),
				)
			})
			.collect::<Vec<_>>();
		Scorers::<T>::put(BoundedVec::truncate_from(scorers));
		let elected = (candidates >= MinAuthorities::<T>::get())
			.then(|| BoundedVec::<_, T::MaxAuthorities>::truncate_from(ranked));
		match elected {
			Some(set) => {
				Authorities::<T>::put(set.clone());
				Self::deposit_event(Event::AuthoritiesElected {
					session: new_index,
					authorities: set.to_vec(),
					candidates,
				});
				Some(set.into_inner())
			}
			None => {
				Self::deposit_event(Event::ElectionSkipped {
					session: new_index,
					candidates,
				});
				None
			}
		}
	}

	fn end_session(_: u32) {}

	fn start_session(_: u32) {}
}
