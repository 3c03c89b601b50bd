//! Exercise 1: a lock in shared memory, on a futex.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::error::SyncError;
use crate::futex::{self, Wake};
use crate::shm::{Shared, ShmSafe};

/// The lock word: 0 unlocked, 1 locked, 2 locked and someone may be waiting.
const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
const CONTENDED: u32 = 2;

/// The state of a [`Lock`], in shared memory.
#[repr(C)]
pub struct LockState {
    word: AtomicU32,
}

// Safety: repr(C), no pointers, one atomic.
unsafe impl ShmSafe for LockState {}

/// Python's `multiprocessing.Lock`: a binary semaphore shared by every process forked
/// after it was created. Any process may release it (it has no owner); releasing it
/// while unlocked is an error. Uncontended, acquire and release are one atomic
/// operation each: the kernel is asked only to sleep and to wake.
pub struct Lock {
    state: Shared<LockState>,
}

/// Holds a [`Lock`] and releases it when dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard<'a> {
    lock: &'a Lock,
}

impl Lock {
    /// A new, unlocked lock.
    pub fn new() -> Result<Lock, SyncError> {
        Ok(Lock {
            state: Shared::new(LockState {
                word: AtomicU32::new(UNLOCKED),
            })?,
        })
    }

    // ANCHOR: acquire
    /// Takes the lock, waiting at most `timeout` (`None` or `Duration::MAX`: as long as
    /// it takes), like Python's `acquire(timeout=...)`: `true` when taken, `false` when
    /// the time ran out.
    /// Waits sleep in the kernel; they do not spin.
    #[inline]
    pub fn acquire(&self, timeout: Option<Duration>) -> Result<bool, SyncError> {
        // TODO: true once this process holds the lock, false when the deadline passes
        // first (no deadline for `None`, or for a timeout too long to have one, such as
        // Duration::MAX). Waiting sleeps in the kernel, never spins, and a release must
        // wake a sleeper.
        todo!(
            "acquire the lock (word {}) within {timeout:?}",
            self.state.word.load(Ordering::Relaxed)
        )
    }
    // ANCHOR_END: acquire

    // ANCHOR: release
    /// Releases the lock, whichever process took it, and wakes one waiter if there may
    /// be one. `NotLocked` if it was not locked (and nothing changes).
    #[inline]
    pub fn release(&self) -> Result<(), SyncError> {
        // TODO: unlock, and wake one sleeper if there may be one; NotLocked (and
        // nothing changes) when it was not locked.
        todo!(
            "release the lock (word {})",
            self.state.word.load(Ordering::Relaxed)
        )
    }
    // ANCHOR_END: release

    /// Whether the lock is held right now (by any process).
    pub fn is_locked(&self) -> bool {
        self.state.word.load(Ordering::Relaxed) != UNLOCKED
    }

    /// Takes the lock, as long as it takes, and returns a guard that releases it.
    #[inline]
    pub fn lock(&self) -> Result<LockGuard<'_>, SyncError> {
        self.acquire(None)?;
        Ok(LockGuard { lock: self })
    }

    /// Takes the lock within `timeout`: a guard, or `None` when the time ran out.
    #[inline]
    pub fn lock_timeout(&self, timeout: Duration) -> Result<Option<LockGuard<'_>>, SyncError> {
        Ok(self
            .acquire(Some(timeout))?
            .then_some(LockGuard { lock: self }))
    }
}

impl Drop for LockGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // A guard's lock is locked: release cannot report NotLocked here unless another
        // process released it behind the guard's back, which Python allows too.
        let _ = self.lock.release();
    }
}
