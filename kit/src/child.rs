use std::any::Any;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, getpid, getppid, ForkResult, Pid};

use crate::{write_all, ExitStatus};

/// Exit code of a child whose body panicked (Rust's usual code for a panic).
pub(crate) const PANIC_EXIT_CODE: i32 = 101;
/// Exit code of a child whose parent died before the child could arm `PR_SET_PDEATHSIG`.
const ORPHAN_EXIT_CODE: i32 = 102;

/// Set in every process made by [`fork_child`]: it is a per-process copy, so the parent
/// never sees the child's value.
static IN_FORKED_CHILD: AtomicBool = AtomicBool::new(false);
/// Set by the test kit in the process that reports its own panics to its parent.
pub(crate) static QUIET_PANICS: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Where this thread last panicked, while [`QUIET_PANICS`] is set: the payload
    /// caught by `catch_unwind` carries the message but not the location.
    static PANIC_LOCATION: std::cell::RefCell<Option<String>> =
        const { std::cell::RefCell::new(None) };
}

/// Where this thread last panicked (`file:line:column`) while its panics were quiet.
pub(crate) fn take_panic_location() -> Option<String> {
    PANIC_LOCATION.take()
}
static PANIC_HOOK: Once = Once::new();

/// The payload of [`exit`]: unwinds the child's body like Python's `SystemExit`.
struct ExitRequest(i32);

/// True in a process made by [`fork_child`] (or by a child of one), false in the
/// original process.
pub fn in_forked_child() -> bool {
    IN_FORKED_CHILD.load(Ordering::Relaxed)
}

/// Ends the current child with exit code `code`, like Python's `sys.exit(code)`.
///
/// In a child made by [`fork_child`] it unwinds the body (running its destructors) and
/// the child leaves with `_exit(code)`. In the original process it calls
/// `std::process::exit(code)`.
pub fn exit(code: i32) -> ! {
    if in_forked_child() {
        // resume_unwind skips the panic hook: a requested exit is not a panic.
        panic::resume_unwind(Box::new(ExitRequest(code)));
    }
    std::process::exit(code)
}

/// Forks a child process that runs `body` and then ends; returns its guarded handle.
///
/// In the child: `PR_SET_PDEATHSIG` is armed with `SIGKILL` (so the child dies with the
/// thread that forked it; a child whose parent process died before it could arm it
/// leaves at once with code 102; one whose forking thread, not the process, ended in
/// that instant misses the signal, and only its [`Child`]'s drop, which kills it, or
/// its own end, ends it),
/// `body` runs under `catch_unwind`, and the process ends with
/// `libc::_exit`: code 0 after `body` returns, the code given to [`exit`], or 101 after
/// a panic (whose message goes to fd 2 with a raw `write`). The child never returns
/// from this function and never unwinds into the caller's frames.
///
/// In the parent: returns a [`Child`] holding the pid and a pidfd. Only the thread that
/// calls `fork` exists in the child, so `body` must not wait on locks other threads
/// may hold (std's stdout and stderr locks among them).
pub fn fork_child<F: FnOnce()>(body: F) -> io::Result<Child> {
    install_panic_hook();
    let parent = getpid();
    // Safety: the child only runs `body` and then `_exit`s; the fork-safety of `body`
    // (no locks held by vanished threads) is the caller's contract, documented above.
    match unsafe { fork() }.map_err(io::Error::from)? {
        ForkResult::Child => {
            IN_FORKED_CHILD.store(true, Ordering::Relaxed);
            QUIET_PANICS.store(false, Ordering::Relaxed);
            arm_parent_death_signal(parent);
            exit_after(body)
        }
        ForkResult::Parent { child } => match pidfd_open(child) {
            Ok(pidfd) => Ok(Child {
                pid: child,
                pidfd,
                owner: parent,
                status: None,
            }),
            Err(err) => {
                // Without a pidfd we cannot guard the child: do not leave it running.
                let _ = kill(child, Signal::SIGKILL);
                let _ = nix::sys::wait::waitpid(child, None);
                Err(err)
            }
        },
    }
}

fn arm_parent_death_signal(parent: Pid) {
    // Safety: prctl with PR_SET_PDEATHSIG takes a signal number and touches no memory.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    // The parent may have died between fork and prctl: then no signal will come.
    if getppid() != parent {
        // Safety: _exit ends the process without running any user-space code.
        unsafe { libc::_exit(ORPHAN_EXIT_CODE) };
    }
}

// ANCHOR: exit_after
/// Runs `body` under `catch_unwind`, then ends the process with `_exit`.
fn exit_after<F: FnOnce()>(body: F) -> ! {
    let code = match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(()) => 0,
        Err(payload) => exit_code_of(payload),
    };
    // Safety: _exit ends the process at once: no atexit handlers, no stdio flush of
    // buffers copied from the parent, no unwinding into the parent's frames.
    unsafe { libc::_exit(code) }
}
// ANCHOR_END: exit_after

fn exit_code_of(payload: Box<dyn Any + Send>) -> i32 {
    requested_exit(&*payload).unwrap_or(PANIC_EXIT_CODE)
}

/// The code passed to [`exit`], when `payload` (caught by `catch_unwind`) is an exit
/// request rather than a panic.
pub fn requested_exit(payload: &(dyn Any + Send)) -> Option<i32> {
    payload
        .downcast_ref::<ExitRequest>()
        .map(|request| request.0)
}

/// In forked children, report panics with one raw `write` to fd 2 instead of std's
/// stderr (whose lock may be held forever by a thread that vanished at fork).
fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !in_forked_child() {
                return previous(info);
            }
            let location = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_default();
            if QUIET_PANICS.load(Ordering::Relaxed) {
                PANIC_LOCATION.set(Some(location));
                return;
            }
            let line = format!(
                "child process {} panicked at {location}:\n{}\n",
                getpid(),
                panic_message(info.payload())
            );
            // Safety: fd 2 stays open for the life of the process.
            let stderr = unsafe { BorrowedFd::borrow_raw(2) };
            let _ = write_all(stderr, line.as_bytes());
        }));
    });
}

/// The text of a panic payload (`panic!`, `assert!` and `todo!` all carry a string).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(ExitRequest(code)) = payload.downcast_ref::<ExitRequest>() {
        format!("exit({code})")
    } else {
        "a panic with a non-string payload".to_owned()
    }
}

fn pidfd_open(pid: Pid) -> io::Result<OwnedFd> {
    // Safety: pidfd_open takes a pid and flags and returns a new fd or -1; nix 0.32
    // has no wrapper.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // Safety: the syscall just returned this fd, and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// The parent's handle on a child made by [`fork_child`].
///
/// It holds a pidfd, which cannot be fooled by pid reuse: waiting on it reaps exactly
/// this child. Every wait takes a deadline. Dropping a `Child` that has not been reaped
/// kills it with `SIGKILL` and reaps it, so no zombie and no orphan outlives the handle.
///
/// Only the process that forked the child may wait for it or signal it: a copy of the
/// handle inherited by another child (a sibling) answers `ECHILD` and its drop does
/// nothing.
#[derive(Debug)]
pub struct Child {
    pid: Pid,
    pidfd: OwnedFd,
    owner: Pid,
    status: Option<ExitStatus>,
}

impl Child {
    /// The child's process id.
    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// The pidfd: it polls readable once the child has exited (Python's `sentinel`).
    pub fn pidfd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }

    /// How the child ended, if it has been reaped already.
    pub fn status(&self) -> Option<ExitStatus> {
        self.status
    }

    /// Reaps the child if it has exited; never blocks.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_some() {
            return Ok(self.status);
        }
        self.check_owner()?;
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG;
        let status = loop {
            match waitid(Id::PIDFd(self.pidfd.as_fd()), flags) {
                Err(nix::errno::Errno::EINTR) => continue,
                other => break other.map_err(io::Error::from)?,
            }
        };
        self.status = match status {
            WaitStatus::Exited(_, code) => Some(ExitStatus::Exited(code)),
            WaitStatus::Signaled(_, signal, _) => Some(ExitStatus::Signaled(signal as i32)),
            _ => None,
        };
        Ok(self.status)
    }

    /// Waits until the child has exited or `deadline` has passed; returns `None` when the
    /// deadline passed first (the child keeps running).
    pub fn wait_deadline(&mut self, deadline: Instant) -> io::Result<Option<ExitStatus>> {
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Some(status));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            poll_readable(self.pidfd.as_fd(), Some(left))?;
        }
    }

    /// Waits at most `timeout` for the child to exit (a timeout too long to have a
    /// deadline, such as `Duration::MAX`, waits as long as it takes).
    pub fn wait_timeout(&mut self, timeout: Duration) -> io::Result<Option<ExitStatus>> {
        match crate::deadline_after(Some(timeout)) {
            Some(deadline) => self.wait_deadline(deadline),
            None => self.wait().map(Some),
        }
    }

    /// Waits for the child to exit, without a deadline.
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
            poll_readable(self.pidfd.as_fd(), None)?;
        }
    }

    /// Sends `signal` to the child, unless it has been reaped already (then its pid may
    /// belong to another process, and the pidfd makes sure it is not signalled).
    pub fn signal(&self, signal: Signal) -> io::Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        self.check_owner()?;
        // Safety: pidfd_send_signal takes an fd, a signal number, a null siginfo and
        // flags; the fd is open for the whole call.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.pidfd.as_raw_fd(),
                signal as i32,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        if rc < 0 {
            let err = io::Error::last_os_error();
            // ESRCH: it has been reaped already (a zombie still takes signals).
            if err.raw_os_error() != Some(libc::ESRCH) {
                return Err(err);
            }
        }
        Ok(())
    }

    /// True in the process that forked this child.
    pub fn is_owner(&self) -> bool {
        getpid() == self.owner
    }

    fn check_owner(&self) -> io::Result<()> {
        if self.is_owner() {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(libc::ECHILD))
        }
    }

    /// Kills the child with `SIGKILL` and reaps it.
    pub fn kill(&mut self) -> io::Result<ExitStatus> {
        self.signal(Signal::SIGKILL)?;
        self.wait()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.status.is_none() && self.is_owner() {
            let _ = self.kill();
        }
    }
}

/// Polls `fd` for readability for at most `timeout` (`None`: no limit). Returns whether
/// it became readable; an `EINTR` counts as "not yet" and the caller loops.
pub fn poll_readable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    let millis = match timeout {
        None => -1,
        // Round up, so a wait never returns early and spins.
        Some(t) => i32::try_from(t.as_micros().div_ceil(1000)).unwrap_or(i32::MAX),
    };
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // Safety: one valid pollfd, alive for the whole call.
    let n = unsafe { libc::poll(&mut pfd, 1, millis) };
    if n < 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(err);
    }
    Ok(n > 0)
}
