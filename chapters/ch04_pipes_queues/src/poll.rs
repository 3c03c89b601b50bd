//! Exercise 3: asking whether a message is there without taking it, on one connection
//! (`poll`) or on many connections and processes at once (`wait`, Python's
//! `multiprocessing.connection.wait`).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::Duration;

use mpkit::Child;

use crate::error::PipeError;
use crate::pipe::{deadline_after, poll_until, readable, CanRead, Connection};

// ANCHOR: waitable
/// What [`wait`] can wait for: a connection that may receive, a process's sentinel (an
/// [`mpkit::Child`], or any pidfd as a `BorrowedFd`), or any readable descriptor.
pub trait Waitable {
    /// The descriptor that becomes readable when the object is ready; `Closed` when the
    /// object has none any more.
    fn ready_fd(&self) -> Result<BorrowedFd<'_>, PipeError>;

    /// True when the object is ready without asking the kernel: a connection holding
    /// buffered bytes that its descriptor no longer shows.
    fn is_buffered(&self) -> bool {
        false
    }
}

impl<M: CanRead> Waitable for Connection<M> {
    fn ready_fd(&self) -> Result<BorrowedFd<'_>, PipeError> {
        self.fd()
    }

    fn is_buffered(&self) -> bool {
        !self.inbox.is_empty()
    }
}

/// A process's sentinel: its pidfd, readable once the process has ended.
impl Waitable for Child {
    fn ready_fd(&self) -> Result<BorrowedFd<'_>, PipeError> {
        Ok(self.pidfd())
    }
}

/// Any descriptor: a pidfd from chapter 3's `Process::sentinel`, a pipe's read end.
impl Waitable for BorrowedFd<'_> {
    fn ready_fd(&self) -> Result<BorrowedFd<'_>, PipeError> {
        Ok(self.as_fd())
    }
}
// ANCHOR_END: waitable

impl<M: CanRead> Connection<M> {
    // ANCHOR: poll
    /// Whether something can be received now, waiting at most `timeout` for it
    /// (`None`: as long as it takes; Python's `poll(timeout)`, whose default is 0).
    ///
    /// It never consumes anything: calling it twice gives the same answer, and the next
    /// `recv_bytes` gets the whole message, whatever `poll` saw. An empty message makes
    /// it true until it is received. At end-of-file it is true too, so that the next
    /// receive reports `Eof`. `Closed` after `close`.
    pub fn poll(&self, timeout: Option<Duration>) -> Result<bool, PipeError> {
        // TODO: true at once when bytes are buffered here; otherwise ask the
        // kernel whether the descriptor becomes readable before the deadline.
        // Read nothing.
        todo!("poll for a message within {timeout:?}")
    }
    // ANCHOR_END: poll
}

// ANCHOR: wait
/// Waits until at least one of `objects` is ready, or `timeout` passes (`None`: as
/// long as it takes), and returns the positions of the ready ones in `objects`, in
/// order: empty when the time ran out (Python's `wait(object_list, timeout)`, which
/// returns the objects).
///
/// A connection is ready when it can receive, or is at end-of-file; a process when it
/// has ended. Nothing is consumed. A signal does not end the wait early, nor stretch
/// it. `Closed` when an object has no descriptor any more.
pub fn wait(objects: &[&dyn Waitable], timeout: Option<Duration>) -> Result<Vec<usize>, PipeError> {
    // TODO: objects with buffered bytes are ready at once (then only look
    // whether others are ready too, without waiting); otherwise poll every
    // descriptor until one is ready or the deadline passes. Any `revents` at
    // all (data, hang-up, error) makes an object ready.
    todo!(
        "wait for one of {} objects within {timeout:?}",
        objects.len()
    )
}
// ANCHOR_END: wait
