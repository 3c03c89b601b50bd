//! Given: what can go wrong in a process's life.

use std::fmt;

use ch02_first_taste::ProcessError;
use nix::errno::Errno;

/// A misuse of a [`Process`](crate::Process) in its current state, or a failed system
/// call. Python raises `ValueError` or `AssertionError` for the same misuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LifecycleError {
    /// The process was never started: it has no pid, no sentinel, nothing to join or
    /// signal.
    NotStarted,
    /// `start` was called on a process that was started already.
    AlreadyStarted,
    /// The process was closed: every query but `close` is refused.
    Closed,
    /// `close` was called while the process is still running.
    StillRunning,
    /// Called by a process other than the one that created the `Process`.
    NotTheParent,
    /// A system call failed.
    Os(Errno),
}

impl fmt::Display for LifecycleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LifecycleError::NotStarted => write!(f, "the process was not started"),
            LifecycleError::AlreadyStarted => write!(f, "cannot start a process twice"),
            LifecycleError::Closed => write!(f, "process object is closed"),
            LifecycleError::StillRunning => write!(
                f,
                "cannot close a process while it is still running; join or terminate it first"
            ),
            LifecycleError::NotTheParent => {
                write!(f, "can only use a process created by this process")
            }
            LifecycleError::Os(errno) => write!(f, "system call failed: {errno}"),
        }
    }
}

impl std::error::Error for LifecycleError {}

impl From<ProcessError> for LifecycleError {
    fn from(err: ProcessError) -> LifecycleError {
        match err {
            ProcessError::AlreadyStarted => LifecycleError::AlreadyStarted,
            ProcessError::NotStarted => LifecycleError::NotStarted,
            ProcessError::NotTheParent => LifecycleError::NotTheParent,
            ProcessError::Os(errno) => LifecycleError::Os(errno),
            ProcessError::UnsupportedStartMethod(_) | ProcessError::UnknownStartMethod => {
                LifecycleError::Os(Errno::EINVAL)
            }
        }
    }
}

impl From<std::io::Error> for LifecycleError {
    fn from(err: std::io::Error) -> LifecycleError {
        LifecycleError::Os(Errno::from_raw(err.raw_os_error().unwrap_or(libc::EIO)))
    }
}

impl From<Errno> for LifecycleError {
    fn from(errno: Errno) -> LifecycleError {
        LifecycleError::Os(errno)
    }
}
