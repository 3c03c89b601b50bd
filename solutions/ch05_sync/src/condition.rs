//! Exercise 6: a condition variable without lost wake-ups.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::error::SyncError;
use crate::futex::{self, Wake};
use crate::lock::Lock;
use crate::rlock::{current_thread, RLock};
use crate::shm::{Shared, ShmSafe};

/// The sequence number waiters sleep on, in shared memory: every notify changes it.
/// With a plain [`Lock`], also the thread that holds it.
#[repr(C)]
pub struct ConditionState {
    sequence: AtomicU32,
    holder: AtomicU32,
}

// Safety: repr(C), no pointers, atomics only.
unsafe impl ShmSafe for ConditionState {}

/// The lock under a [`Condition`].
pub enum ConditionLock {
    /// A re-entrant lock, Python's default.
    RLock(RLock),
    /// A plain lock; a `Lock` has no owner, so the condition records who took it
    /// through the condition.
    Lock(Lock),
}

/// Python's `multiprocessing.Condition`: a lock (an [`RLock`] by default, or a plain
/// [`Lock`]) and a way to sleep until another process notifies. `wait` and `notify`
/// need the lock held by the caller; without it they are `NotOwner`.
///
/// A `wait` may return without a notify (when another notify races with it): loop on
/// the predicate, or use [`Condition::wait_for`].
pub struct Condition {
    lock: ConditionLock,
    state: Shared<ConditionState>,
}

impl Condition {
    /// A condition over a new `RLock`.
    pub fn new() -> Result<Condition, SyncError> {
        Condition::with_lock(ConditionLock::RLock(RLock::new()?))
    }

    /// A condition over `lock`, like Python's `Condition(lock)`. Take the lock through
    /// the condition from then on.
    pub fn with_lock(lock: ConditionLock) -> Result<Condition, SyncError> {
        Ok(Condition {
            lock,
            state: Shared::new(ConditionState {
                sequence: AtomicU32::new(0),
                holder: AtomicU32::new(0),
            })?,
        })
    }

    /// Takes the condition's lock (once more, for an `RLock` held already), waiting at
    /// most `timeout`: `true` when taken.
    pub fn acquire(&self, timeout: Option<Duration>) -> Result<bool, SyncError> {
        match &self.lock {
            ConditionLock::RLock(rlock) => rlock.acquire(timeout),
            ConditionLock::Lock(lock) => {
                let taken = lock.acquire(timeout)?;
                if taken {
                    self.state.holder.store(current_thread(), Ordering::Relaxed);
                }
                Ok(taken)
            }
        }
    }

    /// Releases the condition's lock once. A plain `Lock` may be released by any
    /// process, as in Python; an `RLock` only by its owner.
    pub fn release(&self) -> Result<(), SyncError> {
        match &self.lock {
            ConditionLock::RLock(rlock) => rlock.release(),
            ConditionLock::Lock(lock) => {
                self.state.holder.store(0, Ordering::Relaxed);
                lock.release()
            }
        }
    }

    /// Whether the calling thread holds the condition's lock.
    pub fn is_mine(&self) -> bool {
        match &self.lock {
            ConditionLock::RLock(rlock) => rlock.is_mine(),
            ConditionLock::Lock(lock) => {
                lock.is_locked() && self.state.holder.load(Ordering::Relaxed) == current_thread()
            }
        }
    }

    /// Releases the lock completely and returns how deep the caller held it, for
    /// [`Condition::reacquire`]. `NotOwner` if the caller does not hold it.
    pub fn release_all(&self) -> Result<u32, SyncError> {
        match &self.lock {
            ConditionLock::RLock(rlock) => rlock.release_all(),
            ConditionLock::Lock(lock) => {
                if !self.is_mine() {
                    return Err(SyncError::NotOwner);
                }
                self.state.holder.store(0, Ordering::Relaxed);
                lock.release()?;
                Ok(1)
            }
        }
    }

    /// Takes the lock back at `depth` (after [`Condition::release_all`]), as long as it
    /// takes: a waiter must hold the lock again when `wait` returns.
    pub fn reacquire(&self, depth: u32) -> Result<(), SyncError> {
        match &self.lock {
            ConditionLock::RLock(rlock) => rlock.reacquire(depth),
            ConditionLock::Lock(lock) => {
                lock.acquire(None)?;
                self.state.holder.store(current_thread(), Ordering::Relaxed);
                Ok(())
            }
        }
    }

    // ANCHOR: wait
    /// Releases the lock, sleeps until a notify or `timeout` (`None`: as long as it
    /// takes), then takes the lock back at the same depth. Returns `false` when the time
    /// ran out. No notify is lost: one sent after this wait released the lock wakes it.
    /// `NotOwner` if the caller does not hold the lock.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool, SyncError> {
        // SKELETON: // TODO: release the lock (at every depth), sleep until a notify or the
        // SKELETON: // deadline, and hold the lock again at the same depth when returning, whatever
        // SKELETON: // happened. A notify sent after this wait released the lock must wake it.
        // SKELETON: // NotOwner when the caller does not hold the lock.
        // SKELETON: todo!(
        // SKELETON:     "wait on the condition (sequence {}) within {timeout:?}",
        // SKELETON:     self.state.sequence.load(Ordering::Relaxed)
        // SKELETON: )
        // BEGIN SOLUTION
        let deadline = timeout.map(|t| Instant::now() + t);
        // No notify is lost: the number is read while the lock is still held, and a
        // notify (which needs the lock) changes it, so the sleep does not start if one
        // came in between.
        let seen = self.state.sequence.load(Ordering::Acquire);
        let depth = self.release_all()?;
        let woke = futex::wait(&self.state.sequence, seen, deadline);
        self.reacquire(depth)?;
        Ok(woke? != Wake::TimedOut)
        // END SOLUTION
    }
    // ANCHOR_END: wait

    // ANCHOR: notify
    /// Wakes at most `n` waiters. `NotOwner` if the caller does not hold the lock.
    pub fn notify(&self, n: u32) -> Result<(), SyncError> {
        // SKELETON: // TODO: wake up to `n` waiters; NotOwner when the caller does not hold the
        // SKELETON: // lock.
        // SKELETON: todo!(
        // SKELETON:     "notify {n} waiters (sequence {})",
        // SKELETON:     self.state.sequence.load(Ordering::Relaxed)
        // SKELETON: )
        // BEGIN SOLUTION
        if !self.is_mine() {
            return Err(SyncError::NotOwner);
        }
        self.state.sequence.fetch_add(1, Ordering::Release);
        futex::wake(&self.state.sequence, n);
        Ok(())
        // END SOLUTION
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
