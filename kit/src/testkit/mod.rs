//! What the test suite needs to test multi-process code without ever hanging.
//!
//! - [`isolated`] runs an exercise in a process group of its own under a deadline: a
//!   deadlock in the student's code fails the test in seconds, names the exercise, and
//!   every process of the exercise is killed and reaped.
//! - [`Transcript`] collects whole lines that several processes write to one pipe.
//! - [`Gate`] lets processes wait for each other: a start gate, or one-byte signals.
//! - [`Redactor`] replaces pids and other run-dependent numbers before a snapshot.
//! - [`procfs`] reads `/proc`: whether a wait sleeps or spins, whether a process has
//!   ended, what it has mapped.
//! - [`proptest_config`] keeps multi-process properties to a few cases by default.

mod gate;
mod isolate;
mod lines;
pub mod procfs;
mod property;
mod stuck;
mod transcript;

pub use gate::{Gate, GateEnds};
pub use isolate::{isolated, isolated_with, timeout};
pub use lines::{assert_same_lines, Redactor};
pub use property::proptest_config;
pub use transcript::Transcript;

use std::os::fd::{BorrowedFd, RawFd};

use crate::{Child, ExitStatus};

/// Writes `line` and a newline to `fd` with one `write(2)`: how test programs print,
/// in any process. Panics if the write fails.
#[track_caller]
pub fn say(fd: RawFd, line: &str) {
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    // Safety: the caller passes an fd that is open (a transcript's write end).
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    crate::write_all(fd, &bytes).expect("write a line to the transcript");
}

/// Waits for `child` under the exercise deadline and returns how it ended; panics,
/// naming the pid, when it is still running at the deadline.
#[track_caller]
pub fn reap(child: &mut Child) -> ExitStatus {
    match child.wait_timeout(timeout()) {
        Ok(Some(status)) => status,
        Ok(None) => panic!(
            "child pid {} still running after {:?}",
            child.pid(),
            timeout()
        ),
        Err(err) => panic!("waiting for child pid {}: {err}", child.pid()),
    }
}
