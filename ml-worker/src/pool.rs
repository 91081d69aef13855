//! A small pool of OS threads for independent, compute-bound jobs (a validator's verifications
//! of a round's miners): each result goes back to the calling thread as soon as it is done, so
//! the caller can persist it before the next one completes.
//!
//! libtorch tensors may be sent between threads but not shared by reference, so each worker
//! owns a state of its own (its handle on the task's data); the jobs are taken from a shared
//! queue in order. A job that panics is reported as such, never taking the caller down.

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Instant;

/// How a job ended.
pub enum Done<R> {
	/// It returned.
	Finished(R),
	/// It panicked, with the panic's message.
	Panicked(String),
}

/// Runs `work` over `jobs` on one thread per element of `states`, and hands each job and its
/// outcome to `done` on the calling thread as they complete, in completion order. Returns the
/// jobs no thread took (none was given, or the OS refused them all), in their order.
pub fn run<J, S, R>(
	jobs: Vec<J>,
	states: Vec<S>,
	work: impl Fn(&mut S, &J) -> R + Sync,
	mut done: impl FnMut(J, Done<R>),
) -> Vec<J>
where
	J: Send,
	S: Send,
	R: Send,
{
	let queue = Mutex::new(jobs.into_iter());
	let next = || queue.lock().ok().and_then(|mut q| q.next());
	let (tx, rx) = mpsc::channel::<(J, Done<R>)>();
	std::thread::scope(|scope| {
		for (i, mut state) in states.into_iter().enumerate() {
			let (tx, next, work) = (tx.clone(), &next, &work);
			let spawned = std::thread::Builder::new()
				.name(format!("verify-{i}"))
				.spawn_scoped(scope, move || {
					while let Some(job) = next() {
						let outcome =
							std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
								work(&mut state, &job)
							}));
						let outcome = match outcome {
							Ok(r) => Done::Finished(r),
							Err(p) => Done::Panicked(panic_message(&p)),
						};
						if tx.send((job, outcome)).is_err() {
							break;
						}
					}
				});
			if let Err(e) = spawned {
				log::warn!("starting a verification thread: {e}; going on with fewer");
			}
		}
		drop(tx);
		for (job, outcome) in rx {
			done(job, outcome);
		}
	});
	queue
		.into_inner()
		.map(|rest| rest.collect())
		.unwrap_or_default()
}

/// A counting gate: at most `permits` threads inside at once, the others wait at
/// [`Gate::enter`], the lowest rank first (first come, first in among equal ranks). A validator
/// fetches every miner's checkpoints at once (what a server owes is counted from the phase's
/// start, so no fetch may wait behind another miner's replay) and lets only as many replays run
/// as the cores hold, in the order it chose: not in the order the servers delivered, which a
/// cartel's fast decoys would set ([`crate::validator`]'s claim checks).
pub struct Gate {
	state: Mutex<Queue>,
	freed: std::sync::Condvar,
}

struct Queue {
	free: usize,
	/// Who waits: (rank, arrival).
	waiting: BTreeSet<(u64, u64)>,
	arrivals: u64,
}

/// A thread's place inside a [`Gate`], given back when dropped.
pub struct Pass<'a> {
	gate: &'a Gate,
	/// Whether it holds a place (not when a [`Pass::requeue_until`] ran out of time).
	held: bool,
}

impl Gate {
	/// A gate that lets `permits` in at once (at least one).
	pub fn new(permits: usize) -> Gate {
		Gate {
			state: Mutex::new(Queue {
				free: permits.max(1),
				waiting: BTreeSet::new(),
				arrivals: 0,
			}),
			freed: std::sync::Condvar::new(),
		}
	}

	fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
		self.state.lock().unwrap_or_else(|e| e.into_inner())
	}

	/// Waits for a place at rank 0, and holds it until the pass is dropped.
	pub fn enter(&self) -> Pass<'_> {
		self.enter_ranked(0)
	}

	/// Waits for a place, given before any waiting at a higher rank, and holds it until the
	/// pass is dropped.
	pub fn enter_ranked(&self, rank: u64) -> Pass<'_> {
		let (q, held) = self.wait_turn(self.lock(), rank, None);
		drop(q);
		Pass { gate: self, held }
	}

	/// [`Gate::enter_ranked`], waiting until `until` at most (`None`: for ever); `None` if no
	/// place came by then: a replay let in after its phase would be of no use, and would hold
	/// up what comes after it.
	pub fn enter_ranked_until(&self, rank: u64, until: Option<Instant>) -> Option<Pass<'_>> {
		let (q, held) = self.wait_turn(self.lock(), rank, until);
		drop(q);
		held.then_some(Pass { gate: self, held })
	}

	/// Queues at `rank` until a place is this one's, or until `until`; whether it got one.
	fn wait_turn<'g>(
		&'g self,
		mut q: std::sync::MutexGuard<'g, Queue>,
		rank: u64,
		until: Option<Instant>,
	) -> (std::sync::MutexGuard<'g, Queue>, bool) {
		let me = (rank, q.arrivals);
		q.arrivals = q.arrivals.wrapping_add(1);
		q.waiting.insert(me);
		while !(q.free > 0 && q.waiting.first() == Some(&me)) {
			q = match until {
				None => self.freed.wait(q).unwrap_or_else(|e| e.into_inner()),
				Some(until) => {
					let left = until.saturating_duration_since(Instant::now());
					if left.is_zero() {
						q.waiting.remove(&me);
						// The next in line may now be first.
						self.freed.notify_all();
						return (q, false);
					}
					self.freed
						.wait_timeout(q, left)
						.unwrap_or_else(|e| e.into_inner())
						.0
				}
			};
		}
		q.waiting.remove(&me);
		q.free -= 1;
		// The next in line may be let in too.
		if q.free > 0 && !q.waiting.is_empty() {
			self.freed.notify_all();
		}
		(q, true)
	}
}

impl Pass<'_> {
	/// Goes on at `rank`: keeps the place unless someone waits at a lower rank, to whom it is
	/// given first (a job's next replay at a later turn than its first), then waits for one
	/// again until `until` at most; whether it holds one.
	pub fn requeue_until(&mut self, rank: u64, until: Option<Instant>) -> bool {
		let gate = self.gate;
		let mut q = gate.lock();
		if !self.held {
			let (q, held) = gate.wait_turn(q, rank, until);
			drop(q);
			self.held = held;
			return held;
		}
		if q.waiting.first().is_none_or(|&(first, _)| first >= rank) {
			return true;
		}
		q.free += 1;
		gate.freed.notify_all();
		let (q, held) = gate.wait_turn(q, rank, until);
		drop(q);
		self.held = held;
		held
	}

	/// [`Pass::requeue_until`] with no deadline.
	pub fn requeue(&mut self, rank: u64) {
		self.requeue_until(rank, None);
	}
}

impl Drop for Pass<'_> {
	fn drop(&mut self) {
		if !self.held {
			return;
		}
		let mut q = self.gate.lock();
		q.free += 1;
		self.gate.freed.notify_all();
	}
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
	p.downcast_ref::<&str>()
		.map(|s| s.to_string())
		.or_else(|| p.downcast_ref::<String>().cloned())
		.unwrap_or_else(|| "a panic".to_owned())
}

/// Threads for verifying `jobs` under a profile of `profile_threads` libtorch threads each:
/// as many as the machine's cores hold side by side (`configured`, when not 0, caps it), at
/// least one, never more than the jobs.
pub fn workers_for(jobs: usize, profile_threads: u8, configured: usize) -> usize {
	let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
	let fit = (cores / usize::from(profile_threads.max(1))).max(1);
	let cap = if configured == 0 { fit } else { configured };
	cap.min(jobs).max(1)
}

#[cfg(test)]
mod tests {
	use super::*;
	use std::time::{Duration, Instant};

	#[test]
	fn every_job_is_done_once_and_handed_back_as_it_completes() {
		let jobs: Vec<u64> = (0..20).collect();
		let mut seen = Vec::new();
		let left = run(
			jobs,
			vec![(), (), ()],
			|_, &j| j * j,
			|j, outcome| match outcome {
				Done::Finished(r) => seen.push((j, r)),
				Done::Panicked(m) => panic!("job {j} panicked: {m}"),
			},
		);
		assert!(left.is_empty());
		seen.sort();
		assert_eq!(seen, (0..20).map(|j| (j, j * j)).collect::<Vec<_>>());
	}

	#[test]
	fn jobs_run_side_by_side() {
		// Two jobs that each wait for the other to start finish only if they overlap: run one
		// after the other, the first would wait out its whole patience.
		let started = std::sync::atomic::AtomicUsize::new(0);
		let t = Instant::now();
		let mut overlapped = Vec::new();
		run(
			vec![0, 1],
			vec![(), ()],
			|_, _| {
				started.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
				let patience = Instant::now() + Duration::from_secs(20);
				while started.load(std::sync::atomic::Ordering::SeqCst) < 2 {
					if Instant::now() > patience {
						return false;
					}
					std::thread::sleep(Duration::from_millis(5));
				}
				true
			},
			|_, outcome| {
				if let Done::Finished(ok) = outcome {
					overlapped.push(ok)
				}
			},
		);
		assert_eq!(overlapped, vec![true, true], "after {:?}", t.elapsed());
	}

	#[test]
	fn a_panicking_job_is_reported_and_the_others_still_run() {
		let mut finished = 0;
		let mut panicked = Vec::new();
		run(
			vec![1, 2, 3],
			vec![(), ()],
			|_, &j| {
				if j == 2 {
					panic!("job two breaks");
				}
				j
			},
			|j, outcome| match outcome {
				Done::Finished(_) => finished += 1,
				Done::Panicked(m) => panicked.push((j, m)),
			},
		);
		assert_eq!(finished, 2);
		assert_eq!(panicked, vec![(2, "job two breaks".to_owned())]);
	}

	#[test]
	fn without_threads_no_job_is_lost() {
		let left = run(vec![1, 2], Vec::<()>::new(), |_, &j| j, |_, _| {});
		assert_eq!(left, vec![1, 2]);
	}

	#[test]
	fn a_gate_lets_in_no_more_than_its_permits() {
		// Eight jobs on eight threads through a gate of two: at most two inside at once, and
		// two at once at some point (a job waits inside until a second one has come in).
		let inside = std::sync::atomic::AtomicUsize::new(0);
		let most = std::sync::atomic::AtomicUsize::new(0);
		let gate = Gate::new(2);
		let mut done = 0;
		run(
			(0..8).collect::<Vec<u32>>(),
			vec![(); 8],
			|_, _| {
				let _pass = gate.enter();
				let now = inside.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
				most.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
				let patience = Instant::now() + Duration::from_secs(20);
				while most.load(std::sync::atomic::Ordering::SeqCst) < 2
					&& Instant::now() < patience
				{
					std::thread::sleep(Duration::from_millis(1));
				}
				inside.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
			},
			|_, _| done += 1,
		);
		assert_eq!(done, 8);
		assert_eq!(most.load(std::sync::atomic::Ordering::SeqCst), 2);
	}

	/// Waits (at most 20 s) until `gate` has `n` threads waiting.
	fn until_waiting(gate: &Gate, n: usize) {
		let patience = Instant::now() + Duration::from_secs(20);
		while gate.lock().waiting.len() < n && Instant::now() < patience {
			std::thread::sleep(Duration::from_millis(1));
		}
		assert_eq!(gate.lock().waiting.len(), n);
	}

	#[test]
	fn a_replay_ranked_first_goes_in_first_whatever_arrived_before_it() {
		// Attack (review of session 17): a cartel's decoys, served fast, reached the gate
		// before the forger's claim check (served at the minimum rate) and used up the phase's
		// compute; the gate lets in by the rank the voter drew, not by arrival.
		let gate = Gate::new(1);
		let order = Mutex::new(Vec::new());
		let held = gate.enter();
		std::thread::scope(|scope| {
			for rank in [5, 7, 6] {
				let (gate, order) = (&gate, &order);
				scope.spawn(move || {
					let _pass = gate.enter_ranked(rank);
					order.lock().unwrap().push(rank);
				});
			}
			until_waiting(&gate, 3);
			let (gate, order) = (&gate, &order);
			scope.spawn(move || {
				let _pass = gate.enter_ranked(1);
				order.lock().unwrap().push(1);
			});
			until_waiting(gate, 4);
			drop(held);
		});
		assert_eq!(order.into_inner().unwrap(), vec![1, 5, 6, 7]);
	}

	#[test]
	fn a_pass_requeued_at_a_later_rank_yields_only_to_a_lower_one() {
		let gate = Gate::new(1);
		let mut pass = gate.enter_ranked(0);
		// Nobody waits: it keeps its place.
		pass.requeue(9);
		let order = Mutex::new(Vec::new());
		std::thread::scope(|scope| {
			for rank in [3, 12] {
				let (gate, order) = (&gate, &order);
				scope.spawn(move || {
					let _pass = gate.enter_ranked(rank);
					order.lock().unwrap().push(rank);
				});
			}
			until_waiting(&gate, 2);
			// A waiter at 3 goes before this job's next replay at 9; the one at 12 after it.
			pass.requeue(9);
			order.lock().unwrap().push(9);
			drop(pass);
		});
		assert_eq!(order.into_inner().unwrap(), vec![3, 9, 12]);
	}

	#[test]
	fn a_replay_out_of_time_at_the_gate_gives_up_and_lets_the_next_in() {
		// Review of session 18: a claim check waiting for the cores past its phase ran late and
		// held up the vote it was for; it now gives up at its deadline.
		let gate = Gate::new(1);
		let held = gate.enter_ranked(0);
		let soon = Instant::now() + Duration::from_millis(50);
		assert!(gate.enter_ranked_until(1, Some(soon)).is_none());
		assert!(gate.lock().waiting.is_empty(), "it left the queue");
		drop(held);
		let mut pass = gate
			.enter_ranked_until(2, Some(soon))
			.expect("a free place");
		// Requeued behind a waiter ranked before it, it may run out of time too.
		std::thread::scope(|scope| {
			let gate = &gate;
			let waiter = scope.spawn(move || {
				let _p = gate.enter_ranked(1);
				std::thread::sleep(Duration::from_millis(300));
			});
			until_waiting(gate, 1);
			let later = Instant::now() + Duration::from_millis(100);
			assert!(!pass.requeue_until(5, Some(later)));
			waiter.join().unwrap();
			// With the place free again it takes it.
			assert!(pass.requeue_until(5, None));
		});
		drop(pass);
		assert_eq!(gate.lock().free, 1, "every place given back once");
	}

	#[test]
	fn workers_fit_the_cores_and_the_jobs() {
		assert_eq!(workers_for(0, 1, 0), 1);
		assert_eq!(workers_for(1, 1, 8), 1);
		assert_eq!(workers_for(5, 1, 2), 2);
		assert!(workers_for(100, 64, 0) >= 1);
	}
}
