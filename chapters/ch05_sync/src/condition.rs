//! Exercise 6: a condition variable without lost wake-ups.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::error::SyncError;
use crate::rlock::RLock;
use crate::shm::{Shared, ShmSafe};

/// The sequence number waiters sleep on, in shared memory: every notify changes it.
#[repr(C)]
pub struct ConditionState {
    sequence: AtomicU32,
}

// Safety: repr(C), no pointers, one atomic.
unsafe impl ShmSafe for ConditionState {}

/// Python's `multiprocessing.Condition`: a lock (an [`RLock`], as Python's default)
/// and a way to sleep until another process notifies. `wait` and `notify` need the
/// lock held by the caller; without it they are `NotOwner`.
///
/// A `wait` may return without a notify (when another notify races with it): loop on
/// the predicate, or use [`Condition::wait_for`].
pub struct Condition {
    lock: RLock,
    state: Shared<ConditionState>,
}

impl Condition {
    /// A condition over a new `RLock`.
    pub fn new() -> Result<Condition, SyncError> {
        Ok(Condition {
            lock: RLock::new()?,
            state: Shared::new(ConditionState {
                sequence: AtomicU32::new(0),
            })?,
        })
    }

    /// Takes the condition's lock (re-entrant), waiting at most `timeout`.
    pub fn acquire(&self, timeout: Option<Duration>) -> Result<bool, SyncError> {
        self.lock.acquire(timeout)
    }

    /// Releases the condition's lock once.
    pub fn release(&self) -> Result<(), SyncError> {
        self.lock.release()
    }

    // ANCHOR: wait
    /// Releases the lock, sleeps until a notify or `timeout` (`None`: as long as it
    /// takes), then takes the lock back at the same depth. Returns `false` when the time
    /// ran out. No notify is lost: the sequence number is read while the lock is still
    /// held, and a notify (which needs the lock) changes it, so the sleep does not start
    /// if one came in between. `NotOwner` if the caller does not hold the lock.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool, SyncError> {
        // TODO: read the sequence number first, then `self.lock.release_all()` (it checks
        // that you hold the lock), sleep while the number is unchanged
        // (`crate::futex::wait`), and `self.lock.reacquire(depth)` whatever happened.
        todo!(
            "wait on the condition (sequence {}) within {timeout:?}",
            self.state.sequence.load(Ordering::Relaxed)
        )
    }
    // ANCHOR_END: wait

    // ANCHOR: notify
    /// Wakes at most `n` waiters. `NotOwner` if the caller does not hold the lock.
    pub fn notify(&self, n: u32) -> Result<(), SyncError> {
        // TODO: check the caller holds the lock (`self.lock.is_mine()`), change the
        // sequence number, then wake `n` sleepers on it (`crate::futex::wake`).
        todo!(
            "notify {n} waiters (sequence {})",
            self.state.sequence.load(Ordering::Relaxed)
        )
    }
    // ANCHOR_END: notify

    /// Wakes every waiter. `NotOwner` if the caller does not hold the lock.
    pub fn notify_all(&self) -> Result<(), SyncError> {
        self.notify(u32::MAX)
    }

    /// Waits until `predicate` holds, at most `timeout` in all, like Python's
    /// `wait_for`; returns the predicate's last value. The lock must be held; the
    /// predicate runs with it held.
    pub fn wait_for(
        &self,
        mut predicate: impl FnMut() -> bool,
        timeout: Option<Duration>,
    ) -> Result<bool, SyncError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            if predicate() {
                return Ok(true);
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left.is_some_and(|left| left.is_zero()) {
                return Ok(false);
            }
            self.wait(left)?;
        }
    }
}
