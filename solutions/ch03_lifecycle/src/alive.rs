//! Exercise 2: is it alive, and how did it end? Questions that never block.

use crate::error::LifecycleError;
use crate::process::Process;

impl Process {
    // ANCHOR: is_alive
    /// Whether the child is running: `false` before start and once it has ended.
    /// Never blocks; an ended child is reaped on the spot. `Closed` after `close`.
    pub fn is_alive(&mut self) -> Result<bool, LifecycleError> {
        // SKELETON: // TODO: whether the child runs, without blocking: false before start and once
        // SKELETON: // it has ended (reaped on the spot).
        // SKELETON: todo!("tell whether {} is running, without blocking", self.name())
        // BEGIN SOLUTION
        match self.child() {
            Err(LifecycleError::NotStarted) => Ok(false),
            Err(err) => Err(err),
            Ok(child) => Ok(child.try_wait()?.is_none()),
        }
        // END SOLUTION
    }
    // ANCHOR_END: is_alive

    // ANCHOR: exitcode
    /// Python's `exitcode`: `None` before start and while running, `Some(code)` after an
    /// exit, `Some(-signal)` after a signal ended it. Never blocks. `Closed` after
    /// `close`.
    pub fn exitcode(&mut self) -> Result<Option<i32>, LifecycleError> {
        // SKELETON: // TODO: Python's exit code, without blocking: None before start and while
        // SKELETON: // running.
        // SKELETON: todo!("the exit code of {}, without blocking", self.name())
        // BEGIN SOLUTION
        match self.child() {
            Err(LifecycleError::NotStarted) => Ok(None),
            Err(err) => Err(err),
            Ok(child) => Ok(child.try_wait()?.map(|status| status.exitcode())),
        }
        // END SOLUTION
    }
    // ANCHOR_END: exitcode
}
