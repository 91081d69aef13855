//! A small pool of OS threads for independent, compute-bound jobs (a validator's verifications
//! of a round's miners): each result goes back to the calling thread as soon as it is done, so
//! the caller can persist it before the next one completes.
//!
//! libtorch tensors may be sent between threads but not shared by reference, so each worker
//! owns a state of its own (its handle on the task's data); the jobs are taken from a shared
//! queue in order. A job that panics is reported as such, never taking the caller down.

use std::sync::mpsc;
use std::sync::Mutex;

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
/// [`Gate::enter`]. A validator fetches every miner's checkpoints at once (what a server owes is
/// counted from the phase's start, so no fetch may wait behind another miner's replay) and lets
/// only as many replays run as the cores hold.
pub struct Gate {
	free: Mutex<usize>,
	freed: std::sync::Condvar,
}

/// A thread's place inside a [`Gate`], given back when dropped.
pub struct Pass<'a>(&'a Gate);

impl Gate {
	/// A gate that lets `permits` in at once (at least one).
	pub fn new(permits: usize) -> Gate {
		Gate {
			free: Mutex::new(permits.max(1)),
			freed: std::sync::Condvar::new(),
		}
	}

	/// Waits for a place, and holds it until the pass is dropped.
	pub fn enter(&self) -> Pass<'_> {
		let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
		while *free == 0 {
			free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
		}
		*free -= 1;
		Pass(self)
	}
}

impl Drop for Pass<'_> {
	fn drop(&mut self) {
		let mut free = self.0.free.lock().unwrap_or_else(|e| e.into_inner());
		*free += 1;
		self.0.freed.notify_one();
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

	#[test]
	fn workers_fit_the_cores_and_the_jobs() {
		assert_eq!(workers_for(0, 1, 0), 1);
		assert_eq!(workers_for(1, 1, 8), 1);
		assert_eq!(workers_for(5, 1, 2), 2);
		assert!(workers_for(100, 64, 0) >= 1);
	}
}
