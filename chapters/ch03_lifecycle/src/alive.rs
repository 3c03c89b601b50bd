//! Exercise 2: is it alive, and how did it end? Questions that never block.

use crate::error::LifecycleError;
use crate::process::Process;

impl Process {
    // ANCHOR: is_alive
    /// Whether the child is running: `false` before start and once it has ended.
    /// Never blocks; an ended child is reaped on the spot. `Closed` after `close`.
    pub fn is_alive(&mut self) -> Result<bool, LifecycleError> {
        // TODO: whether the child runs, without blocking: false before start and once
        // it has ended (reaped on the spot).
        todo!("tell whether {} is running, without blocking", self.name())
    }
    // ANCHOR_END: is_alive

    // ANCHOR: exitcode
    /// Python's `exitcode`: `None` before start and while running, `Some(code)` after an
    /// exit, `Some(-signal)` after a signal ended it. Never blocks. `Closed` after
    /// `close`.
    pub fn exitcode(&mut self) -> Result<Option<i32>, LifecycleError> {
        // TODO: Python's exit code, without blocking: None before start and while
        // running.
        todo!("the exit code of {}, without blocking", self.name())
    }
    // ANCHOR_END: exitcode
}
