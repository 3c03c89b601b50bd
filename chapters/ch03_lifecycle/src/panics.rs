//! Exercise 1: a target that panics ends its process with exit code 1.

// ANCHOR: run_target
/// Runs `target` in a child, with Python's exit codes: a normal return leaves the child
/// to exit with 0; a panic ends it with exit code 1 (its message has already gone to
/// stderr with one raw `write`, from `mpkit`'s panic hook); `mpkit::exit(code)` called
/// by the target keeps its code.
///
/// The target's destructors run in every one of these cases, as the stack unwinds.
pub fn run_target(target: impl FnOnce()) {
    // TODO: run the target under `std::panic::catch_unwind`; after a panic, end the
    // child with `mpkit::exit(1)`, unless `mpkit::requested_exit` finds the code of an
    // `mpkit::exit` call in the payload.
    let _ = target;
    todo!("run a target with Python's exit codes: 1 after a panic")
}
// ANCHOR_END: run_target
