//! Exercise 2: numbering children, and `current_process()`.

use std::sync::atomic::Ordering;

use crate::naming::{process_name, ProcessKind};
use crate::state::{this_process, CHILDREN_STARTED};

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
    // SKELETON: // TODO: the given name, or else the default one; the pid as the kernel reports it
    // SKELETON: // now; the kind, identity and parent's pid this process was started with.
    // SKELETON: todo!(
    // SKELETON:     "describe the calling process (pid {}) from its record",
    // SKELETON:     std::process::id()
    // SKELETON: )
    // BEGIN SOLUTION
    let record = this_process();
    ProcessInfo {
        name: record
            .name
            .clone()
            .unwrap_or_else(|| process_name(record.kind, &record.identity)),
        pid: std::process::id() as i32,
        kind: record.kind,
        identity: record.identity.clone(),
        parent_pid: record.parent_pid,
    }
    // END SOLUTION
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
    // SKELETON: // TODO: this process's identity and one more number: 1, 2, 3, ... in every
    // SKELETON: // process, never the same twice, even when threads start children together.
    // SKELETON: todo!(
    // SKELETON:     "take the next child number of pid {} and build the child's identity",
    // SKELETON:     std::process::id()
    // SKELETON: )
    // BEGIN SOLUTION
    let number = CHILDREN_STARTED.fetch_add(1, Ordering::Relaxed) + 1;
    let mut identity = this_process().identity.clone();
    identity.push(number);
    identity
    // END SOLUTION
}
// ANCHOR_END: next_child_identity
