//! Exercise 3: counting semaphores, and the bounded one's exact release.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::error::SyncError;
use crate::futex::{self, Wake};
use crate::shm::{Shared, ShmSafe};

/// The state of a [`Semaphore`], in shared memory.
#[repr(C)]
pub struct SemaphoreState {
    value: AtomicU32,
    waiters: AtomicU32,
    bound: AtomicU32,
}

// Safety: repr(C), no pointers, atomics only.
unsafe impl ShmSafe for SemaphoreState {}

/// Python's `multiprocessing.Semaphore(value)`, or with [`Semaphore::bounded`] its
/// `BoundedSemaphore(value)`: a counter that `acquire` takes one from, waiting while it
/// is 0, and `release` gives one back to.
pub struct Semaphore {
    state: Shared<SemaphoreState>,
}

impl Semaphore {
    /// A semaphore holding `value`, which `release` may raise without limit.
    pub fn new(value: u32) -> Result<Semaphore, SyncError> {
        Semaphore::with_bound(value, u32::MAX)
    }

    /// A bounded semaphore: a `release` that would raise it above `value` is
    /// `TooManyReleases`.
    pub fn bounded(value: u32) -> Result<Semaphore, SyncError> {
        Semaphore::with_bound(value, value)
    }

    fn with_bound(value: u32, bound: u32) -> Result<Semaphore, SyncError> {
        Ok(Semaphore {
            state: Shared::new(SemaphoreState {
                value: AtomicU32::new(value),
                waiters: AtomicU32::new(0),
                bound: AtomicU32::new(bound),
            })?,
        })
    }

    /// The current value (it may change at once).
    pub fn value(&self) -> u32 {
        self.state.value.load(Ordering::Relaxed)
    }

    /// Takes one without waiting, like Python's `acquire(False)`: `true` if there was
    /// one.
    pub fn try_acquire(&self) -> bool {
        let value = &self.state.value;
        let mut current = value.load(Ordering::Relaxed);
        while current > 0 {
            match value.compare_exchange_weak(
                current,
                current - 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(seen) => current = seen,
            }
        }
        false
    }

    // ANCHOR: acquire
    /// Takes one, waiting at most `timeout` (`None` or `Duration::MAX`: as long as it
    /// takes) while the value is 0: `true` when taken. Sleeps in the kernel; does not
    /// spin.
    pub fn acquire(&self, timeout: Option<Duration>) -> Result<bool, SyncError> {
        // SKELETON: // TODO: take one and return true as soon as the value is above 0; false when
        // SKELETON: // the deadline passes first (no deadline for `None`, or for a timeout too long
        // SKELETON: // to have one, such as Duration::MAX). Sleep in the kernel while the value is
        // SKELETON: // 0: a release must wake a sleeper, never miss one.
        // SKELETON: todo!(
        // SKELETON:     "take one from the semaphore (value {}) within {timeout:?}",
        // SKELETON:     self.value()
        // SKELETON: )
        // BEGIN SOLUTION
        let deadline = mpkit::deadline_after(timeout);
        loop {
            if self.try_acquire() {
                return Ok(true);
            }
            // Counted as a waiter before the sleep, so a release in between wakes us;
            // and if the value changed already, the wait returns at once.
            self.state.waiters.fetch_add(1, Ordering::SeqCst);
            let woke = futex::wait(&self.state.value, 0, deadline);
            self.state.waiters.fetch_sub(1, Ordering::SeqCst);
            if woke? == Wake::TimedOut {
                return Ok(self.try_acquire());
            }
        }
        // END SOLUTION
    }
    // ANCHOR_END: acquire

    // ANCHOR: release
    /// Gives one back and wakes a waiter if there is one. On a bounded semaphore at its
    /// initial value, `TooManyReleases`, and the value does not change: the check and
    /// the increment are one atomic step, so two racing releases cannot both pass it.
    pub fn release(&self) -> Result<(), SyncError> {
        // SKELETON: // TODO: one more, and a sleeper woken if there is one; never past the bound,
        // SKELETON: // even when releases race: TooManyReleases, and the value does not change.
        // SKELETON: todo!(
        // SKELETON:     "give one back to the semaphore (value {}, bound {})",
        // SKELETON:     self.value(),
        // SKELETON:     self.state.bound.load(Ordering::Relaxed)
        // SKELETON: )
        // BEGIN SOLUTION
        let value = &self.state.value;
        let bound = self.state.bound.load(Ordering::Relaxed);
        let mut current = value.load(Ordering::Relaxed);
        loop {
            if current >= bound {
                return Err(SyncError::TooManyReleases);
            }
            match value.compare_exchange_weak(
                current,
                current + 1,
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(seen) => current = seen,
            }
        }
        if self.state.waiters.load(Ordering::SeqCst) != 0 {
            futex::wake(value, 1);
        }
        Ok(())
        // END SOLUTION
    }
    // ANCHOR_END: release
}
