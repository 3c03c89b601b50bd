//! Exercise 5: a child that catches SIGTERM, so that its cleanup runs.

use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

use crate::error::LifecycleError;

/// Set by the SIGTERM handler that [`exit_cleanly_on_sigterm`] installs.
pub static TERMINATE_REQUESTED: AtomicBool = AtomicBool::new(false);

// ANCHOR: handler
// TODO: write the SIGTERM handler, an `extern "C" fn(libc::c_int)` that sets
// TERMINATE_REQUESTED. A signal handler may only do async-signal-safe things: storing
// to an atomic is one; allocating, locking or printing is not.
// ANCHOR_END: handler

// ANCHOR: exit_cleanly_on_sigterm
/// Installs, in the calling process, a SIGTERM handler that only sets
/// [`TERMINATE_REQUESTED`], and returns that flag, clear. The process keeps running
/// after a SIGTERM: its code is expected to look at the flag and return normally, so
/// that its destructors run (a default SIGTERM ends the process without running any).
/// A blocking call that the signal interrupts returns `EINTR` instead of blocking
/// again (no `SA_RESTART`), so code blocked in one gets to look at the flag.
pub fn exit_cleanly_on_sigterm() -> Result<&'static AtomicBool, LifecycleError> {
    // TODO: from now on a SIGTERM only sets TERMINATE_REQUESTED, and this process
    // keeps running; the flag starts clear (a forked child got a copy of its
    // parent's); a blocking call the signal interrupts fails with EINTR.
    todo!(
        "catch SIGTERM in pid {} by setting TERMINATE_REQUESTED",
        std::process::id()
    )
}
// ANCHOR_END: exit_cleanly_on_sigterm
