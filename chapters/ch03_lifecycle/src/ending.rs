//! Exercise 3: ending a process with a signal.

use nix::sys::signal::Signal;

use crate::error::LifecycleError;
use crate::process::Process;

impl Process {
    // ANCHOR: terminate
    /// Sends SIGTERM, like Python's `terminate()`: the child ends soon after, unless it
    /// handles or ignores the signal. Does not wait. Nothing happens if the child has
    /// ended already. Errors: `NotStarted`, `Closed`.
    pub fn terminate(&mut self) -> Result<(), LifecycleError> {
        // TODO: SIGTERM to this child and no other process, without waiting; nothing
        // once the child has been reaped.
        todo!("send SIGTERM to {}", self.name())
    }
    // ANCHOR_END: terminate

    // ANCHOR: kill
    /// Sends SIGKILL, like Python's `kill()`: the child cannot catch or ignore it. Does
    /// not wait. Nothing happens if the child has ended already. Errors: `NotStarted`,
    /// `Closed`.
    pub fn kill(&mut self) -> Result<(), LifecycleError> {
        // TODO: as `terminate`, with SIGKILL.
        todo!("send SIGKILL to {}", self.name())
    }
    // ANCHOR_END: kill
}
