//! Given: the record each process keeps of itself, safe to use across `fork`.
//!
//! After `fork` only the forking thread exists in the child. A `Mutex` that another
//! thread held at that moment stays locked in the child for good, so this record uses
//! no lock at all: an atomic pointer to an immutable record, replaced once in each new
//! child by [`enter_child`], and an atomic counter of the children started so far.

use std::fmt;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

use crate::naming::ProcessKind;

/// What a process knows about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessRecord {
    /// The kind of process, which picks the prefix of its default name.
    pub kind: ProcessKind,
    /// Child numbers from the main process down to this one; empty in the main process.
    pub identity: Vec<u32>,
    /// A name given by the program, which replaces the default name.
    pub name: Option<String>,
    /// The pid of the process that started this one; `None` in the main process.
    pub parent_pid: Option<i32>,
}

/// The record of the main process: kind `Process`, empty identity, no name.
pub static MAIN_PROCESS: ProcessRecord = ProcessRecord {
    kind: ProcessKind::Process,
    identity: Vec::new(),
    name: None,
    parent_pid: None,
};

/// Misuse of the process record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateError {
    /// [`enter_child`] was called in the original process, not in a forked child.
    NotAForkedChild,
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::NotAForkedChild => {
                write!(
                    f,
                    "enter_child must be called in a forked child, right after fork"
                )
            }
        }
    }
}

impl std::error::Error for StateError {}

/// Null means "the main process": no allocation is needed before the first fork.
static RECORD: AtomicPtr<ProcessRecord> = AtomicPtr::new(ptr::null_mut());

/// How many children this process has started; a new child starts again from 0.
pub static CHILDREN_STARTED: AtomicU32 = AtomicU32::new(0);

/// This process's record.
pub fn this_process() -> &'static ProcessRecord {
    let record = RECORD.load(Ordering::Acquire);
    if record.is_null() {
        return &MAIN_PROCESS;
    }
    // Safety: a non-null RECORD comes from Box::into_raw in enter_child, and records
    // are never freed, so the reference stays valid for the life of the process.
    unsafe { &*record }
}

/// Makes `record` the record of this process and restarts its child numbering at 1.
///
/// Call it in the child right after `fork`, before anything reads the record. The
/// parent's record is left allocated on purpose: a reference to it may still live on
/// the forking thread's stack. Fails in a process that was not made by
/// `mpkit::fork_child` (the one way this workbook forks).
pub fn enter_child(record: ProcessRecord) -> Result<(), StateError> {
    if !mpkit::in_forked_child() {
        return Err(StateError::NotAForkedChild);
    }
    RECORD.store(Box::into_raw(Box::new(record)), Ordering::Release);
    CHILDREN_STARTED.store(0, Ordering::Relaxed);
    Ok(())
}
