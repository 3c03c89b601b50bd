//! Given: the `Process` of this chapter, built on chapter 2's, and what happens when one
//! is dropped.

use std::time::Duration;

use ch02_first_taste::Process as Started;
use mpkit::Child;
use nix::sys::signal::Signal;

use crate::error::LifecycleError;
use crate::panics::run_target;

/// How long dropping a running process waits at each step: for a non-daemon to end by
/// itself, then for SIGTERM to end it, before SIGKILL does.
pub const DROP_GRACE: Duration = Duration::from_secs(1);

/// A child process with Python's full lifecycle: created, started, ended, closed.
///
/// Queries never block, except `join`. A target that panics ends the child with exit
/// code 1, as an exception does in Python.
///
/// Dropping a `Process` never leaves a zombie or an orphan. Python joins non-daemon
/// children when the interpreter exits, however long they take, and terminates daemon
/// ones; a Rust value has no such moment and a drop must not hang, so a dropped running
/// process gets [`DROP_GRACE`] to end by itself (none for a daemon), then SIGTERM and
/// [`DROP_GRACE`] more, then SIGKILL, and is reaped.
pub struct Process {
    pub(crate) inner: Started,
    pub(crate) daemon: bool,
    pub(crate) closed: bool,
}

impl Process {
    /// A process (named `Process-N`) that will run `target`; see [`run_target`] for how
    /// the target's end becomes an exit code.
    pub fn new(target: impl FnOnce() + 'static) -> Process {
        Process {
            inner: Started::new(move || run_target(target)),
            daemon: false,
            closed: false,
        }
    }

    /// Gives the process a name of its own.
    pub fn with_name(mut self, name: &str) -> Process {
        self.inner.set_name(name);
        self
    }

    /// Marks the process as a daemon (see the drop policy above).
    pub fn daemon(mut self, daemon: bool) -> Process {
        self.daemon = daemon;
        self
    }

    /// Whether the process is a daemon.
    pub fn is_daemon(&self) -> bool {
        self.daemon
    }

    /// The process's name; it stays readable after `close`.
    pub fn name(&self) -> String {
        self.inner.name()
    }

    /// The child's pid once started, `None` before; `Closed` after `close`.
    pub fn pid(&self) -> Result<Option<i32>, LifecycleError> {
        if self.closed {
            return Err(LifecycleError::Closed);
        }
        Ok(self.inner.pid())
    }

    /// Forks the child. Errors: `Closed`, `AlreadyStarted`, `NotTheParent`, `Os`.
    pub fn start(&mut self) -> Result<(), LifecycleError> {
        if self.closed {
            return Err(LifecycleError::Closed);
        }
        Ok(self.inner.start()?)
    }

    /// Waits for the child to end and returns its exit code (Python's convention).
    pub fn join(&mut self) -> Result<i32, LifecycleError> {
        if self.closed {
            return Err(LifecycleError::Closed);
        }
        Ok(self.inner.join()?.exitcode())
    }

    /// Waits at most `timeout`: the exit code, or `None` with the process still running
    /// and nothing lost (a later `join` or `exitcode` still sees how it ends).
    pub fn join_timeout(&mut self, timeout: Duration) -> Result<Option<i32>, LifecycleError> {
        if self.closed {
            return Err(LifecycleError::Closed);
        }
        Ok(self.inner.join_timeout(timeout)?.map(|s| s.exitcode()))
    }

    /// The started child, for the queries: `Closed`, `NotStarted` or `NotTheParent`
    /// when there is none this process may use.
    pub(crate) fn child(&mut self) -> Result<&mut Child, LifecycleError> {
        if self.closed {
            return Err(LifecycleError::Closed);
        }
        let child = self.inner.child_mut().ok_or(LifecycleError::NotStarted)?;
        if !child.is_owner() {
            return Err(LifecycleError::NotTheParent);
        }
        Ok(child)
    }

    /// Python's `repr`: `<Process name='Process-1' pid=4243 parent=4242 started>`, then
    /// `stopped exitcode=-SIGTERM` (or `exitcode=3`), `initial` before start, and
    /// `<Process name='Process-1' parent=4242 closed>` after `close`.
    pub fn describe(&mut self) -> String {
        let name = self.name();
        let parent = std::process::id();
        let daemon = if self.daemon { " daemon" } else { "" };
        if self.closed {
            return format!("<Process name='{name}' parent={parent} closed>");
        }
        let Ok(Some(pid)) = self.pid() else {
            return format!("<Process name='{name}' parent={parent} initial{daemon}>");
        };
        let state = match self.exitcode() {
            Ok(None) => "started".to_owned(),
            Ok(Some(code)) if code < 0 => {
                let signal = Signal::try_from(-code).map_or("?", |s| s.as_str());
                format!("stopped exitcode=-{signal}")
            }
            Ok(Some(code)) => format!("stopped exitcode={code}"),
            Err(err) => format!("unknown ({err})"),
        };
        format!("<Process name='{name}' pid={pid} parent={parent} {state}{daemon}>")
    }
}

// ANCHOR: drop_policy
impl Drop for Process {
    fn drop(&mut self) {
        let daemon = self.daemon;
        let Ok(child) = self.child() else {
            return; // never started, closed, or not ours to end
        };
        if child.status().is_some() {
            return;
        }
        if !daemon && matches!(child.wait_timeout(DROP_GRACE), Ok(Some(_))) {
            return;
        }
        let _ = child.signal(Signal::SIGTERM);
        if matches!(child.wait_timeout(DROP_GRACE), Ok(Some(_))) {
            return;
        }
        let _ = child.kill();
    }
}
// ANCHOR_END: drop_policy
