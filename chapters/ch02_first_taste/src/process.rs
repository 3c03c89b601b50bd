//! Exercise 1: a process that runs a target, and its parent that waits for it.

use std::time::Duration;

use ch01_setup::{enter_child, next_child_identity, process_name, ProcessKind, ProcessRecord};
use mpkit::{Child, ExitStatus};

use crate::error::ProcessError;

/// A child process that runs `target` once started, like Python's
/// `multiprocessing.Process`.
///
/// Its identity (and so its default name, `Process-N`) is taken when the `Process` is
/// created, as in Python. Dropping a started process that was not joined kills and
/// reaps its child, so it never leaves a zombie or an orphan.
pub struct Process {
    target: Option<Box<dyn FnOnce()>>,
    record: ProcessRecord,
    creator: i32,
    child: Option<Child>,
}

impl Process {
    /// A process of the default context (named `Process-N`) that will run `target`.
    pub fn new(target: impl FnOnce() + 'static) -> Process {
        Process::of_kind(ProcessKind::Process, target)
    }

    /// A process of `kind` that will run `target`; contexts use it.
    pub fn of_kind(kind: ProcessKind, target: impl FnOnce() + 'static) -> Process {
        let creator = std::process::id() as i32;
        Process {
            target: Some(Box::new(target)),
            record: ProcessRecord {
                kind,
                identity: next_child_identity(),
                name: None,
                parent_pid: Some(creator),
            },
            creator,
            child: None,
        }
    }

    /// Gives the process a name of its own instead of its default name.
    pub fn with_name(mut self, name: &str) -> Process {
        self.set_name(name);
        self
    }

    /// Renames the process, like Python's `p.name = "..."`; a started child keeps the
    /// name it was started with.
    pub fn set_name(&mut self, name: &str) {
        self.record.name = Some(name.to_owned());
    }

    /// The process's name: the given one, or the default from kind and identity.
    pub fn name(&self) -> String {
        self.record
            .name
            .clone()
            .unwrap_or_else(|| process_name(self.record.kind, &self.record.identity))
    }

    /// The child's pid once started, `None` before.
    pub fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(Child::pid)
    }

    /// The guarded child once started, `None` before: later chapters reach its pidfd,
    /// its status and its signals through it.
    pub fn child_mut(&mut self) -> Option<&mut Child> {
        self.child.as_mut()
    }

    /// Takes the guarded child out, leaving none: dropping it releases its pidfd (and
    /// kills and reaps the child if it still runs).
    pub fn take_child(&mut self) -> Option<Child> {
        self.child.take()
    }

    // ANCHOR: start
    /// Forks the child, which takes this process's record (so `current_process()` in the
    /// child gives its name and its parent's pid) and runs the target.
    ///
    /// The child leaves through `mpkit::fork_child`: exit code 0 when the target returns,
    /// 101 when it panics. Errors: `AlreadyStarted` on a second call, `NotTheParent` when
    /// called by a process other than the creator, `Os` when `fork` fails.
    pub fn start(&mut self) -> Result<(), ProcessError> {
        // TODO: fork the child, at most once and only in the creator. The child is its
        // own process (its record: `current_process()` gives its name and parent)
        // before the target runs. Keep the child, which `join` waits for.
        todo!(
            "fork a child for {} (created by pid {}) that enters its record, \
             then runs the target",
            self.name(),
            self.creator
        )
    }
    // ANCHOR_END: start

    // ANCHOR: join
    /// Waits for the child to end and returns how it ended; a second call returns the
    /// same status at once.
    ///
    /// Errors: `NotStarted` before `start`, `NotTheParent` in any process but the creator
    /// (a child cannot join itself).
    pub fn join(&mut self) -> Result<ExitStatus, ProcessError> {
        // TODO: how the child ended, however long that takes; only the creator may
        // join, and only a started process.
        todo!(
            "wait for the child of {} (pid {:?}) and return how it ended",
            self.name(),
            self.pid()
        )
    }

    /// Like [`Process::join`], but gives up after `timeout` and returns `None` when the
    /// child is still running.
    pub fn join_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>, ProcessError> {
        // TODO: as `join`, but `None` once `timeout` has passed with the child still
        // running.
        todo!(
            "wait at most {timeout:?} for the child of {} (pid {:?})",
            self.name(),
            self.pid()
        )
    }
    // ANCHOR_END: join
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process")
            .field("name", &self.name())
            .field("pid", &self.pid())
            .field("creator", &self.creator)
            .field("target_taken", &self.target.is_none())
            .finish()
    }
}
