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
    // SKELETON: nix::unistd::gettid().as_raw() as u32
    // BEGIN SOLUTION
    // `gettid` is a system call (several hundred ns on a VM), and an RLock asks twice
    // per acquire and release: ask once per thread. A forked child's one thread has a
    // new id, but a copy of its parent's thread-local cache, so the cache also keeps the
    // fork count it was read under, which a `pthread_atfork` handler bumps in children.
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // Safety: `forked` is an `extern "C" fn` that only touches an atomic, which is
        // async-signal-safe, as a handler run in a forked child must be.
        let rc = unsafe { libc::pthread_atfork(None, None, Some(forked)) };
        assert_eq!(rc, 0, "pthread_atfork failed");
    });
    let forks = FORKS.load(Ordering::Relaxed);
    TID.with(|cached| {
        let (seen, tid) = cached.get();
        // A thread id is never 0: 0 means "not read yet".
        if tid != 0 && seen == forks {
            return tid;
        }
        let tid = nix::unistd::gettid().as_raw() as u32;
        cached.set((forks, tid));
        tid
    })
    // END SOLUTION
}
// BEGIN SOLUTION

/// How many `fork`s this process descends from since [`current_thread`] first ran:
/// bumped in each child by [`forked`].
static FORKS: AtomicU32 = AtomicU32::new(0);

thread_local! {
    /// This thread's id, and the value of [`FORKS`] when it was read (0, 0: not yet).
    static TID: Cell<(u32, u32)> = const { Cell::new((0, 0)) };
}

/// The `pthread_atfork` child handler: every thread id cached before the fork is stale.
extern "C" fn forked() {
    FORKS.fetch_add(1, Ordering::Relaxed);
}
// END SOLUTION

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
        // SKELETON: // TODO: the owner takes it once more, at once; anyone else waits for it
        // SKELETON: // (within the timeout), then owns it once.
        // SKELETON: todo!(
        // SKELETON:     "acquire the RLock (depth {}) within {timeout:?}",
        // SKELETON:     self.depth()
        // SKELETON: )
        // BEGIN SOLUTION
        let me = current_thread();
        // Only the owner ever sees its own id here: nobody else writes it.
        if self.state.owner.load(Ordering::Relaxed) == me {
            self.state.count.fetch_add(1, Ordering::Relaxed);
            return Ok(true);
        }
        if !self.lock.acquire(timeout)? {
            return Ok(false);
        }
        self.state.owner.store(me, Ordering::Relaxed);
        self.state.count.store(1, Ordering::Relaxed);
        Ok(true)
        // END SOLUTION
    }
    // ANCHOR_END: acquire

    // ANCHOR: release
    /// Releases one level; the last one frees the lock for others. `NotOwner` when the
    /// calling thread does not hold it (and nothing changes).
    pub fn release(&self) -> Result<(), SyncError> {
        // SKELETON: // TODO: only the owner releases, one level at a time; its last level frees the
        // SKELETON: // lock for others.
        // SKELETON: todo!("release one level of the RLock (depth {})", self.depth())
        // BEGIN SOLUTION
        if !self.is_mine() {
            return Err(SyncError::NotOwner);
        }
        if self.state.count.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.state.owner.store(0, Ordering::Relaxed);
            self.lock.release()?;
        }
        Ok(())
        // END SOLUTION
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
