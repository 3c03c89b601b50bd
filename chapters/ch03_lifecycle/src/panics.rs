//! Exercise 1: a target that panics ends its process with exit code 1.

use std::panic::{self, AssertUnwindSafe};

// ANCHOR: run_target
/// Runs `target` in a child, with Python's exit codes: a normal return leaves the child
/// to exit with 0; a panic ends it with exit code 1 (its message has already gone to
/// stderr with one raw `write`, from `mpkit`'s panic hook); `mpkit::exit(code)` called
/// by the target keeps its code.
///
/// The target's destructors run in every one of these cases, as the stack unwinds.
pub fn run_target(target: impl FnOnce()) {
    // TODO: a target that returns leaves the child to exit with 0; a panic ends the
    // child with exit code 1; an `mpkit::exit(code)` in the target keeps its code.
    todo!("run a target with Python's exit codes: 1 after a panic")
}
// ANCHOR_END: run_target
