//! Exercise 2: is it alive, and how did it end? Questions that never block.

use crate::error::LifecycleError;
use crate::process::Process;

impl Process {
    // ANCHOR: is_alive
    /// Whether the child is running: `false` before start and once it has ended.
    /// Never blocks; an ended child is reaped on the spot. `Closed` after `close`.
    pub fn is_alive(&mut self) -> Result<bool, LifecycleError> {
        match self.child() {
            Err(LifecycleError::NotStarted) => Ok(false),
            Err(err) => Err(err),
            Ok(child) => Ok(child.try_wait()?.is_none()),
        }
    }
    // ANCHOR_END: is_alive

    // ANCHOR: exitcode
    /// Python's `exitcode`: `None` before start and while running, `Some(code)` after an
    /// exit, `Some(-signal)` after a signal ended it. Never blocks. `Closed` after
    /// `close`.
    pub fn exitcode(&mut self) -> Result<Option<i32>, LifecycleError> {
        match self.child() {
            Err(LifecycleError::NotStarted) => Ok(None),
            Err(err) => Err(err),
            Ok(child) => Ok(child.try_wait()?.map(|status| status.exitcode())),
        }
    }
    // ANCHOR_END: exitcode
}
