//! Exercise 5: a re-entrant lock, with an owner and a count.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;
use std::time::Duration;

use crate::error::SyncError;
use crate::lock::Lock;
use crate::shm::{Shared, ShmSafe};

/// Who holds an [`RLock`], and how many times, in shared memory.
#[repr(C)]
pub struct RLockState {
    /// The holder's thread id (unique across processes while it lives); 0: nobody.
    owner: AtomicU32,
    /// How many times the holder has acquired it without releasing.
    count: AtomicU32,
}

// Safety: repr(C), no pointers, atomics only.
unsafe impl ShmSafe for RLockState {}

/// Python's `multiprocessing.RLock`: held by one thread of one process at a time, which
/// may acquire it again and must release it as many times. Releasing it from any other
/// thread or process is an error.
pub struct RLock {
    lock: Lock,
    state: Shared<RLockState>,
}

/// The calling thread's id: thread ids are unique in the whole system while the thread
/// lives, so one number names both the process and the thread.
pub fn current_thread() -> u32 {
    nix::unistd::gettid().as_raw() as u32
}

impl RLock {
    /// A new, unlocked re-entrant lock.
    pub fn new() -> Result<RLock, SyncError> {
        Ok(RLock {
            lock: Lock::new()?,
            state: Shared::new(RLockState {
                owner: AtomicU32::new(0),
                count: AtomicU32::new(0),
            })?,
        })
    }

    /// Whether the calling thread holds it.
    pub fn is_mine(&self) -> bool {
        self.state.owner.load(Ordering::Relaxed) == current_thread()
    }

    /// How many times the calling thread holds it (0 if it does not).
    pub fn depth(&self) -> u32 {
        if self.is_mine() {
            self.state.count.load(Ordering::Relaxed)
        } else {
            0
        }
    }

    // ANCHOR: acquire
    /// Takes the lock, or takes it once more if the calling thread holds it already,
    /// waiting at most `timeout` (`None` or `Duration::MAX`: as long as it takes): `true`
    /// when taken.
    pub fn acquire(&self, timeout: Option<Duration>) -> Result<bool, SyncError> {
        // TODO: the owner takes it once more, at once; anyone else waits for it
        // (within the timeout), then owns it once.
        todo!(
            "acquire the RLock (depth {}) within {timeout:?}",
            self.depth()
        )
    }
    // ANCHOR_END: acquire

    // ANCHOR: release
    /// Releases one level; the last one frees the lock for others. `NotOwner` when the
    /// calling thread does not hold it (and nothing changes).
    pub fn release(&self) -> Result<(), SyncError> {
        // TODO: only the owner releases, one level at a time; its last level frees the
        // lock for others.
        todo!("release one level of the RLock (depth {})", self.depth())
    }
    // ANCHOR_END: release

    /// Releases every level at once and returns how many there were (for a condition
    /// wait). `NotOwner` when the calling thread does not hold it.
    pub fn release_all(&self) -> Result<u32, SyncError> {
        if !self.is_mine() {
            return Err(SyncError::NotOwner);
        }
        let depth = self.state.count.swap(0, Ordering::Relaxed);
        self.state.owner.store(0, Ordering::Relaxed);
        self.lock.release()?;
        Ok(depth)
    }

    /// Takes the lock back at `depth` levels (after [`RLock::release_all`]).
    pub fn reacquire(&self, depth: u32) -> Result<(), SyncError> {
        self.lock.acquire(None)?;
        self.state.owner.store(current_thread(), Ordering::Relaxed);
        self.state.count.store(depth, Ordering::Relaxed);
        Ok(())
    }
}
