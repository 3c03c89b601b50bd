//! The workbook's process kit.
//!
//! Every chapter forks, and every forked child must leave the same way: its body runs
//! under `catch_unwind`, then the process ends with `libc::_exit`, so it never unwinds
//! back into the parent's code (under `cargo test`, that would be the test harness) and
//! never runs the parent's destructors or stdio flushes. [`fork_child`] is that one way
//! in and out; [`Child`] is the parent's guarded handle: every wait has a deadline, and
//! dropping it kills and reaps the child.
//!
//! With the `testkit` feature, [`testkit`] adds what the test suite needs: exercises run
//! in an isolated process group under a deadline, transcripts of what processes print,
//! redaction of pids, and proptest defaults.

mod child;
mod deadline;
mod fd;
mod status;

pub use child::{exit, fork_child, in_forked_child, poll_readable, requested_exit, Child};
pub use deadline::deadline_after;
pub use fd::write_all;
pub use status::ExitStatus;

#[cfg(feature = "testkit")]
pub mod testkit;
