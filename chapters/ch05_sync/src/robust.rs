//! Exercise 7: a lock that survives its holder's death (beyond Python).
//!
//! A process killed while it holds a `multiprocessing.Lock` (or a Queue's lock) wedges
//! every other process for good: nobody can ever release it. A *robust* pthread mutex
//! is the kernel's answer. Each thread keeps a list of the robust mutexes it holds, and
//! when it dies the kernel marks every one of them "owner died" and wakes a waiter. The
//! next process to lock the mutex gets it, together with the news: the data it protects
//! may be half-updated. That process repairs the data and marks the mutex consistent
//! before unlocking; if it unlocks without doing so, the mutex becomes not recoverable
//! and every later lock fails. Rust's `std::sync::Mutex` says the same with
//! `PoisonError`, which carries the guard.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::time::{Duration, Instant};

use nix::errno::Errno;

use crate::error::SyncError;
use crate::futex::monotonic_after;
use crate::shm::{Shared, ShmSafe};

// Safety: the signature is glibc's (<pthread.h>, glibc 2.30 and newer), which libc 0.2
// does not declare yet.
unsafe extern "C" {
    /// `pthread_mutex_timedlock` on a clock of the caller's choice: takes the mutex, or
    /// gives up at the absolute time `abstime` on `clockid`. Returns 0 or an error
    /// number, like every pthread function.
    fn pthread_mutex_clocklock(
        mutex: *mut libc::pthread_mutex_t,
        clockid: libc::clockid_t,
        abstime: *const libc::timespec,
    ) -> libc::c_int;
}

/// The state of a [`RobustLock`], in shared memory: one pthread mutex, initialised in
/// place (a pthread mutex must never move, nor be copied, once initialised).
#[repr(C)]
pub struct RobustState {
    mutex: UnsafeCell<libc::pthread_mutex_t>,
}

// Safety: repr(C), and no other process ever follows a pointer in it: glibc keeps the
// holder's robust-list links in the mutex, but only the holding thread (and the kernel,
// when that thread dies) follows them, in the holder's own address space. Its bytes
// are reached only through pthread calls, which synchronize themselves.
unsafe impl ShmSafe for RobustState {}

// Safety: the mutex is reached only through pthread calls, which are made for several
// threads (and, with PTHREAD_PROCESS_SHARED, several processes) at once.
unsafe impl Sync for RobustState {}

/// A lock shared by every process forked after it was created, which survives its
/// holder's death: a process-shared, robust pthread mutex in shared memory.
///
/// Unlike Python's `Lock`, it has an owner: only the thread that locked it unlocks it
/// (its guard does, on drop). A self-deadlock is an error too: locking it again from
/// the thread that holds it returns `RobustError::Os(EDEADLK)` at once.
///
/// Dropping a `RobustLock` unmaps this process's view only: it never calls
/// `pthread_mutex_destroy`, as other processes may still use the mutex (and a glibc
/// mutex owns nothing outside its own bytes).
pub struct RobustLock {
    state: Shared<RobustState>,
}

/// Holds a [`RobustLock`] and unlocks it when dropped.
///
/// A guard that came with [`RobustError::OwnerDied`] is *inconsistent*: the previous
/// holder died in the middle of its critical section. Repair the data, then call
/// [`RobustGuard::mark_consistent`]. Dropping an inconsistent guard unlocks the mutex
/// for good: every later lock, in every process, fails with
/// [`RobustError::NotRecoverable`] (that is pthread's rule).
///
/// A guard is not `Send`: a pthread mutex is unlocked by the thread that locked it.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RobustGuard<'a> {
    lock: &'a RobustLock,
    consistent: bool,
    not_send: PhantomData<*const ()>,
}

/// Why [`RobustLock::lock`] did not simply return a guard.
#[derive(Debug)]
pub enum RobustError<'a> {
    /// The previous holder died holding the lock: the lock is now yours, and the guard
    /// is inconsistent until [`RobustGuard::mark_consistent`] (pthread's `EOWNERDEAD`).
    OwnerDied(RobustGuard<'a>),
    /// The timeout ran out before the lock was free (`ETIMEDOUT`).
    TimedOut,
    /// A holder died and the next one unlocked without marking the lock consistent: it
    /// can never be locked again (`ENOTRECOVERABLE`).
    NotRecoverable,
    /// Another error from pthread, such as `EDEADLK` for a thread that already holds
    /// the lock.
    Os(Errno),
}

/// A pthread return code as a `Result`: pthread functions return 0 or an error number
/// (they do not set `errno`).
fn check(rc: libc::c_int) -> Result<(), Errno> {
    match rc {
        0 => Ok(()),
        errno => Err(Errno::from_raw(errno)),
    }
}

impl RobustLock {
    // ANCHOR: new
    /// A new, unlocked lock: a process-shared, robust, error-checking pthread mutex,
    /// initialised in place in shared memory.
    pub fn new() -> Result<RobustLock, SyncError> {
        // Safety: zero bytes are a valid RobustState (a pthread_mutex_t is plain
        // integers), and pthread_mutex_init below runs before any other use.
        let state: Shared<RobustState> = unsafe { Shared::zeroed()? };
        let mut attr = MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
        // Safety: pthread_mutexattr_init initialises the attribute object it is given.
        check(unsafe { libc::pthread_mutexattr_init(attr.as_mut_ptr()) }).map_err(SyncError::Os)?;
        let attr = attr.as_mut_ptr();
        // Safety: `attr` is initialised; the mutex lies in this process's mapping of the
        // shared region, which no other process can see yet, and is never moved.
        let configured = unsafe {
            check(libc::pthread_mutexattr_setpshared(
                attr,
                libc::PTHREAD_PROCESS_SHARED,
            ))
            .and_then(|()| {
                check(libc::pthread_mutexattr_setrobust(
                    attr,
                    libc::PTHREAD_MUTEX_ROBUST,
                ))
            })
            .and_then(|()| {
                check(libc::pthread_mutexattr_settype(
                    attr,
                    libc::PTHREAD_MUTEX_ERRORCHECK,
                ))
            })
            .and_then(|()| check(libc::pthread_mutex_init(state.mutex.get(), attr)))
        };
        // Safety: `attr` was initialised above; the mutex no longer needs it.
        check(unsafe { libc::pthread_mutexattr_destroy(attr) }).map_err(SyncError::Os)?;
        configured.map_err(SyncError::Os)?;
        Ok(RobustLock { state })
    }
    // ANCHOR_END: new

    /// The mutex, for pthread calls.
    fn mutex(&self) -> *mut libc::pthread_mutex_t {
        self.state.mutex.get()
    }

    // ANCHOR: lock
    /// Takes the lock, waiting at most `timeout` (`None` or `Duration::MAX`: as long as
    /// it takes) on the monotonic clock, and returns a guard that unlocks it.
    ///
    /// When the previous holder died holding it, the lock is taken all the same, and
    /// comes as `Err(RobustError::OwnerDied(guard))`: repair the data, then call
    /// [`RobustGuard::mark_consistent`]. `TimedOut` when the time ran out,
    /// `NotRecoverable` when an earlier repair never happened, `Os` for anything else.
    pub fn lock(&self, timeout: Option<Duration>) -> Result<RobustGuard<'_>, RobustError<'_>> {
        let mutex = self.mutex();
        // A timeout too long to have a deadline (Duration::MAX) waits as long as it takes.
        let deadline = mpkit::deadline_after(timeout)
            .map(|deadline| monotonic_after(deadline.saturating_duration_since(Instant::now())))
            .transpose()
            .map_err(RobustError::Os)?;
        // TODO: the mutex, waited for until `deadline` if there is one: a consistent
        // guard; after its holder died, an inconsistent guard in OwnerDied (the lock
        // is yours either way); TimedOut, NotRecoverable, or Os for anything else.
        todo!(
            "lock the robust mutex at {mutex:?} within {timeout:?} \
             (deadline {deadline:?})"
        )
    }
    // ANCHOR_END: lock
}

impl RobustGuard<'_> {
    // ANCHOR: mark_consistent
    /// Declares the data repaired after the previous holder's death
    /// (`pthread_mutex_consistent`): once marked, dropping the guard unlocks the lock
    /// as usual. Does nothing on a guard that is consistent already.
    pub fn mark_consistent(&mut self) -> Result<(), SyncError> {
        // TODO: nothing to do on a consistent guard; otherwise declare the data
        // repaired to pthread, and remember that the guard is consistent now.
        todo!(
            "mark the robust mutex at {:?} consistent (consistent now: {})",
            self.lock.mutex(),
            self.consistent
        )
    }
    // ANCHOR_END: mark_consistent

    /// False on a guard that came with [`RobustError::OwnerDied`] and has not been
    /// marked consistent yet.
    pub fn is_consistent(&self) -> bool {
        self.consistent
    }
}

impl Drop for RobustGuard<'_> {
    fn drop(&mut self) {
        // Safety: this thread holds the mutex (a guard is not Send), which lives as long
        // as the guard's lock. Unlocking an inconsistent mutex makes it not recoverable,
        // as documented; no other error can arise for the holding thread.
        let _ = unsafe { libc::pthread_mutex_unlock(self.lock.mutex()) };
    }
}

impl fmt::Debug for RobustGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RobustGuard")
            .field("consistent", &self.consistent)
            .finish()
    }
}

impl fmt::Display for RobustError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RobustError::OwnerDied(_) => write!(
                f,
                "the previous holder died holding the lock: it is yours now; repair the \
                 data and mark it consistent"
            ),
            RobustError::TimedOut => write!(f, "timed out waiting for the lock"),
            RobustError::NotRecoverable => write!(
                f,
                "the lock is not recoverable: a holder died and the next one unlocked \
                 without marking it consistent"
            ),
            RobustError::Os(errno) => write!(f, "system call failed: {errno}"),
        }
    }
}

impl std::error::Error for RobustError<'_> {}
