//! Given: what can go wrong with a synchronization primitive.

use std::fmt;

use nix::errno::Errno;

/// A misuse of a primitive, or a failed system call. Python raises `ValueError`,
/// `AssertionError` or `BrokenBarrierError` for the same misuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncError {
    /// `release` of a lock that is not locked.
    NotLocked,
    /// An `RLock` released, or a `Condition` waited on or notified, by a thread that
    /// does not hold the lock.
    NotOwner,
    /// A release beyond a bounded semaphore's initial value; the value is unchanged.
    TooManyReleases,
    /// The barrier is broken (a wait timed out, or `abort` was called).
    Broken,
    /// A `Condition` wait while [`crate::condition::MAX_WAITERS`] waits are in progress
    /// already; nothing changed, and the caller still holds the lock.
    TooManyWaiters,
    /// A system call failed.
    Os(Errno),
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncError::NotLocked => write!(f, "release of an unlocked lock"),
            SyncError::NotOwner => write!(f, "the lock is not held by this thread"),
            SyncError::TooManyReleases => write!(f, "semaphore released too many times"),
            SyncError::Broken => write!(f, "the barrier is broken"),
            SyncError::TooManyWaiters => write!(
                f,
                "too many waiters on the condition (at most {})",
                crate::condition::MAX_WAITERS
            ),
            SyncError::Os(errno) => write!(f, "system call failed: {errno}"),
        }
    }
}

impl std::error::Error for SyncError {}

impl From<std::io::Error> for SyncError {
    fn from(err: std::io::Error) -> SyncError {
        SyncError::Os(Errno::from_raw(err.raw_os_error().unwrap_or(libc::EIO)))
    }
}
