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
        // SKELETON: // TODO: true once this process holds the lock, false when the deadline passes
        // SKELETON: // first (no deadline for `None`, or for a timeout too long to have one, such as
        // SKELETON: // Duration::MAX). Waiting sleeps in the kernel, never spins, and a release must
        // SKELETON: // wake a sleeper.
        // SKELETON: todo!(
        // SKELETON:     "acquire the lock (word {}) within {timeout:?}",
        // SKELETON:     self.state.word.load(Ordering::Relaxed)
        // SKELETON: )
        // BEGIN SOLUTION
        // Uncontended: one compare-exchange, inlined into the caller; the rest is cold.
        if self
            .state
            .word
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return Ok(true);
        }
        self.acquire_contended(timeout)
        // END SOLUTION
    }
    // BEGIN SOLUTION

    /// [`Lock::acquire`] when the lock was held: std's `futex::Mutex::lock_contended`,
    /// with a waiting policy measured on this machine (`benches/ch05_sync.rs`).
    #[cold]
    fn acquire_contended(&self, timeout: Option<Duration>) -> Result<bool, SyncError> {
        let word = &self.state.word;
        if timeout.is_some_and(|t| t.is_zero()) {
            // Python's `acquire(block=False)`: held now, so not taken.
            return Ok(false);
        }
        let deadline = mpkit::deadline_after(timeout);
        let mut state = wait_awake(word);
        if state == UNLOCKED {
            match word.compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return Ok(true),
                Err(now) => state = now,
            }
        }
        loop {
            // Marking the lock contended before sleeping makes the holder's release wake
            // someone; if the lock was free, the swap took it (as CONTENDED: a waiter
            // that slept cannot know whether others still sleep). Already CONTENDED:
            // nothing to mark, sleep at once.
            if state != CONTENDED && word.swap(CONTENDED, Ordering::Acquire) == UNLOCKED {
                return Ok(true);
            }
            if futex::wait(word, CONTENDED, deadline)? == Wake::TimedOut {
                return Ok(false);
            }
            state = wait_awake(word);
        }
    }
    // END SOLUTION
    // ANCHOR_END: acquire

    // ANCHOR: release
    /// Releases the lock, whichever process took it, and wakes one waiter if there may
    /// be one. `NotLocked` if it was not locked (and nothing changes).
    #[inline]
    pub fn release(&self) -> Result<(), SyncError> {
        // SKELETON: // TODO: unlock, and wake one sleeper if there may be one; NotLocked (and
        // SKELETON: // nothing changes) when it was not locked.
        // SKELETON: todo!(
        // SKELETON:     "release the lock (word {})",
        // SKELETON:     self.state.word.load(Ordering::Relaxed)
        // SKELETON: )
        // BEGIN SOLUTION
        let word = &self.state.word;
        match word.swap(UNLOCKED, Ordering::Release) {
            UNLOCKED => Err(SyncError::NotLocked),
            // Someone may sleep on the word: wake one.
            CONTENDED => {
                futex::wake(word, 1);
                Ok(())
            }
            // LOCKED: nobody sleeps, nobody to wake.
            _ => Ok(()),
        }
        // END SOLUTION
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

// BEGIN SOLUTION
/// Waits awake while `word` says "locked, nobody asleep" (a critical section is short:
/// the holder, running on another CPU or preempted on this one, may release it soon, and
/// a futex wait with the wake it then needs costs microseconds), the way parking_lot's
/// `SpinWait` does: 3 rounds of 2, 4 and 8 `pause`s, then up to 7 `sched_yield`s, which
/// let a holder preempted on this CPU run. Returns the word as last seen. Bounded, a few
/// microseconds at most: a waiter never burns a CPU while the lock stays held. (std's
/// 100 `pause`s and no yield lost to this on 2 CPUs; sleeping at once lost too.)
fn wait_awake(word: &AtomicU32) -> u32 {
    for round in 0..10 {
        let state = word.load(Ordering::Relaxed);
        if state != LOCKED {
            return state;
        }
        if round < 3 {
            for _ in 0..2 << round {
                std::hint::spin_loop();
            }
        } else {
            // Safety: sched_yield has no preconditions.
            unsafe { libc::sched_yield() };
        }
    }
    word.load(Ordering::Relaxed)
}
// END SOLUTION
