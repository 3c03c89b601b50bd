//! Exercise 4: the sentinel, and closing a process.

use std::os::fd::BorrowedFd;

use crate::error::LifecycleError;
use crate::process::Process;

impl Process {
    // ANCHOR: sentinel
    /// Python's `sentinel`: a file descriptor (the child's pidfd) that polls readable
    /// once the child has ended, for waiting on many processes and pipes at once.
    /// Errors: `NotStarted`, `Closed`.
    pub fn sentinel(&mut self) -> Result<BorrowedFd<'_>, LifecycleError> {
        // TODO: a descriptor of the child that polls readable once the child has
        // ended.
        todo!("the sentinel of {}", self.name())
    }
    // ANCHOR_END: sentinel

    // ANCHOR: close
    /// Releases the process's resources: reaps an ended child and closes its pidfd.
    /// Afterwards every query but `close` and `name` is `Closed`. Closing twice, or
    /// closing a process never started, is fine. Error: `StillRunning` while the child
    /// runs (and nothing changes).
    pub fn close(&mut self) -> Result<(), LifecycleError> {
        // TODO: closing twice, or a process never started, is fine; a running child is
        // StillRunning and nothing changes; else the child is reaped, its pidfd
        // closed, and every later query but `close` and `name` is Closed.
        todo!("close {} (closed already: {})", self.name(), self.closed)
    }
    // ANCHOR_END: close
}
