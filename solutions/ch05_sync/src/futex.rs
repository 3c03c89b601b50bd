//! Given: futex wait and wake that work across processes.
//!
//! std, parking_lot and atomic-wait all pass `FUTEX_PRIVATE_FLAG`, which keys the wait
//! queue by this process's address space: a wake from another process never finds the
//! waiter. These calls use the shared operations, keyed by the physical page, and
//! `FUTEX_WAIT_BITSET` with an absolute `CLOCK_MONOTONIC` deadline, so a wait retried
//! after a signal never runs past its deadline.

use std::io;
use std::ptr;
use std::sync::atomic::AtomicU32;
use std::time::{Duration, Instant};

use nix::errno::Errno;

/// How a wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// Woken, interrupted by a signal, or the word no longer held the expected value:
    /// look at the word again.
    Retry,
    /// The deadline passed.
    TimedOut,
}

/// Sleeps while `word` holds `expected`, until a [`wake`], a signal, or `deadline`
/// (`None`: no deadline). Returns at once if `word` holds another value.
pub fn wait(word: &AtomicU32, expected: u32, deadline: Option<Instant>) -> io::Result<Wake> {
    let timeout = match deadline {
        None => None,
        Some(deadline) => {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(Wake::TimedOut);
            }
            Some(monotonic_after(left)?)
        }
    };
    let timeout_ptr = timeout
        .as_ref()
        .map_or(ptr::null(), |t| t as *const libc::timespec);
    // Safety: `word` is a live AtomicU32 for the whole call; the timespec, if any,
    // lives on this stack frame; FUTEX_WAIT_BITSET reads only these.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT_BITSET,
            expected,
            timeout_ptr,
            ptr::null::<u32>(),
            libc::FUTEX_BITSET_MATCH_ANY,
        )
    };
    if rc == 0 {
        return Ok(Wake::Retry);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(Wake::Retry),
        Some(libc::ETIMEDOUT) => Ok(Wake::TimedOut),
        _ => Err(err),
    }
}

/// Wakes at most `count` processes (or threads) waiting on `word`; returns how many.
pub fn wake(word: &AtomicU32, count: u32) -> usize {
    let count = count.min(i32::MAX as u32) as i32;
    // Safety: FUTEX_WAKE only uses the address as a key; `word` is live.
    let rc = unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, count) };
    rc.max(0) as usize
}

/// Wakes every waiter on `word`.
pub fn wake_all(word: &AtomicU32) -> usize {
    wake(word, u32::MAX)
}

/// The `CLOCK_MONOTONIC` time `left` from now, as the absolute deadline that
/// `FUTEX_WAIT_BITSET` and `pthread_mutex_clocklock` take. A time too far away to
/// represent saturates at the largest one (callers turn such timeouts into "no
/// deadline" first, with [`mpkit::deadline_after`]; this keeps the sum from overflowing
/// whatever it is given).
pub fn monotonic_after(left: Duration) -> Result<libc::timespec, Errno> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // Safety: clock_gettime writes one timespec into a live local.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) } != 0 {
        return Err(Errno::last());
    }
    // Both are below one second, so the sum fits and carries at most one second.
    let nanos = now.tv_nsec as u32 + left.subsec_nanos();
    let secs = libc::time_t::try_from(left.as_secs()).unwrap_or(libc::time_t::MAX);
    Ok(libc::timespec {
        tv_sec: now
            .tv_sec
            .saturating_add(secs)
            .saturating_add(libc::time_t::from(nanos / 1_000_000_000)),
        tv_nsec: libc::c_long::from(nanos % 1_000_000_000),
    })
}
