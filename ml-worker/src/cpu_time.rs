//! The CPU time of the calling thread: what a thread cost, apart from the time it waited or was
//! descheduled (on a shared VM, whole runs slow down by tens of percent at random, and a
//! thread's CPU time moves far less than its wall clock).

/// Seconds of CPU the calling thread has used since it started, where the platform says.
pub fn thread_cpu_secs() -> Option<f64> {
	let mut ts = libc::timespec {
		tv_sec: 0,
		tv_nsec: 0,
	};
	// SAFETY: `ts` is a valid, writable timespec for the call's duration.
	let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
	(rc == 0).then(|| ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_busy_thread_uses_cpu_and_a_sleeping_one_does_not() {
		let start = thread_cpu_secs().expect("a thread CPU clock on this platform");
		let mut x = 0u64;
		let until = std::time::Instant::now() + std::time::Duration::from_millis(50);
		while std::time::Instant::now() < until {
			x = std::hint::black_box(x.wrapping_add(1));
		}
		let busy = thread_cpu_secs().unwrap() - start;
		std::thread::sleep(std::time::Duration::from_millis(50));
		let slept = thread_cpu_secs().unwrap() - start - busy;
		assert!(busy > 0.0, "spinning used no CPU");
		assert!(
			slept < busy,
			"sleeping used {slept} s of CPU, spinning {busy} s"
		);
	}
}
