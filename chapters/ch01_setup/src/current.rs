//! Exercise 2: numbering children, and `current_process()`.

use crate::naming::ProcessKind;

/// What `current_process()` tells about the calling process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    /// The given name, or else the default name from kind and identity.
    pub name: String,
    /// The process id, as the kernel reports it now.
    pub pid: i32,
    /// The kind of process.
    pub kind: ProcessKind,
    /// Child numbers from the main process down to this one; empty in the main process.
    pub identity: Vec<u32>,
    /// The pid of the process that started this one; `None` in the main process.
    pub parent_pid: Option<i32>,
}

// ANCHOR: current_process
/// Describes the calling process: its name, pid, kind, identity and parent's pid.
///
/// Reads the record with [`this_process`](crate::state::this_process) and takes no lock,
/// so it is safe in a child forked from a threaded parent.
pub fn current_process() -> ProcessInfo {
    // TODO: read this process's record with `crate::state::this_process()`; the name
    // is the given one or else `crate::process_name(kind, identity)`; the pid comes
    // from `std::process::id()`.
    todo!(
        "describe the calling process (pid {}) from its record",
        std::process::id()
    )
}
// ANCHOR_END: current_process

// ANCHOR: next_child_identity
/// Takes the next child number of this process and returns the new child's identity:
/// this process's identity followed by that number.
///
/// Numbers start at 1 in every process and never repeat within it, even when threads
/// start children at the same time: in the main process the first two calls return `[1]`
/// and `[2]`; in the process with identity `[2]` the first call returns `[2, 1]`.
pub fn next_child_identity() -> Vec<u32> {
    // TODO: take a number from `crate::state::CHILDREN_STARTED` (an atomic, so two
    // threads never get the same one) and append it to this process's identity.
    todo!(
        "take the next child number of pid {} and build the child's identity",
        std::process::id()
    )
}
// ANCHOR_END: next_child_identity
