//! Given: the `Process` of this chapter, built on chapter 2's, and what happens when one
//! is dropped.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ch02_first_taste::Process as Started;
use mpkit::Child;
use nix::sys::signal::Signal;

use crate::error::LifecycleError;
use crate::panics::run_target;

/// How long dropping a running process waits at each step: for a non-daemon to end by
/// itself, then for SIGTERM to end it, before SIGKILL does.
pub const DROP_GRACE: Duration = Duration::from_secs(1);

/// Whether this process is a daemon: false in the main process; in a child a
/// [`Process`] started, the flag that `Process` had when it started. Each process has
/// its own copy (fork copies it, and the child sets its own before the target runs).
static THIS_IS_A_DAEMON: AtomicBool = AtomicBool::new(false);

/// Python's `current_process().daemon`: whether the calling process was started as a
/// daemon. False in the main process.
pub fn current_is_daemon() -> bool {
    THIS_IS_A_DAEMON.load(Ordering::Relaxed)
}

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
///
/// As in Python, a new process takes the daemon flag of the process that creates it
/// ([`current_is_daemon`]) unless [`Process::daemon`] gives one. Python then refuses to
/// start any child in a daemon ("daemonic processes are not allowed to have children"):
/// a daemon is terminated when its parent exits, and its children would be left
/// orphaned. Here a child never outlives the process that started it (`mpkit` arms
/// `PR_SET_PDEATHSIG`), so a daemon may start children, on purpose: they are killed
/// with it.
pub struct Process {
    pub(crate) inner: Started,
    /// Shared with the target's wrapper, which the child runs: the child reads the
    /// value the flag had when it was forked.
    daemon: Rc<Cell<bool>>,
    pub(crate) closed: bool,
}

impl Process {
    /// A process (named `Process-N`) that will run `target`; see [`run_target`] for how
    /// the target's end becomes an exit code. It is a daemon if the calling process is
    /// one.
    pub fn new(target: impl FnOnce() + 'static) -> Process {
        let daemon = Rc::new(Cell::new(current_is_daemon()));
        let flag = Rc::clone(&daemon);
        Process {
            inner: Started::new(move || {
                THIS_IS_A_DAEMON.store(flag.get(), Ordering::Relaxed);
                run_target(target)
            }),
            daemon,
            closed: false,
        }
    }

    /// Gives the process a name of its own.
    pub fn with_name(mut self, name: &str) -> Process {
        self.inner.set_name(name);
        self
    }

    /// Makes the process a daemon or not, instead of taking the flag of the process
    /// that creates it (see the drop policy above). For a process not started yet:
    /// panics on a started or closed one, as Python asserts "process has already
    /// started" (see [`Process::set_daemon`] for an error instead).
    pub fn daemon(mut self, daemon: bool) -> Process {
        if let Err(err) = self.set_daemon(daemon) {
            panic!("cannot change the daemon flag of {}: {err}", self.name());
        }
        self
    }

    /// Makes the process a daemon or not, before it starts. Errors: `AlreadyStarted`
    /// once started (the child keeps the flag it started with), `Closed`.
    pub fn set_daemon(&mut self, daemon: bool) -> Result<(), LifecycleError> {
        if self.pid()?.is_some() {
            return Err(LifecycleError::AlreadyStarted);
        }
        self.daemon.set(daemon);
        Ok(())
    }

    /// Whether the process is a daemon.
    pub fn is_daemon(&self) -> bool {
        self.daemon.get()
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
        let daemon = if self.is_daemon() { " daemon" } else { "" };
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
        let daemon = self.is_daemon();
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
