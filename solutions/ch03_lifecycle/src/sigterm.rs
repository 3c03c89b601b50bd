//! Exercise 5: a child that catches SIGTERM, so that its cleanup runs.

use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

use crate::error::LifecycleError;

/// Set by the SIGTERM handler that [`exit_cleanly_on_sigterm`] installs.
pub static TERMINATE_REQUESTED: AtomicBool = AtomicBool::new(false);

// ANCHOR: handler
// SKELETON: // TODO: write the SIGTERM handler, an `extern "C" fn(libc::c_int)` that sets
// SKELETON: // TERMINATE_REQUESTED. A signal handler may only do async-signal-safe things: storing
// SKELETON: // to an atomic is one; allocating, locking or printing is not.
// BEGIN SOLUTION
/// A signal handler may only do async-signal-safe things: storing to an atomic is one;
/// allocating, locking or printing is not.
extern "C" fn request_termination(_signal: libc::c_int) {
    TERMINATE_REQUESTED.store(true, Ordering::SeqCst);
}
// END SOLUTION
// ANCHOR_END: handler

// ANCHOR: exit_cleanly_on_sigterm
/// Installs, in the calling process, a SIGTERM handler that only sets
/// [`TERMINATE_REQUESTED`], and returns that flag, clear. The process keeps running
/// after a SIGTERM: its code is expected to look at the flag and return normally, so
/// that its destructors run (a default SIGTERM ends the process without running any).
/// A blocking call that the signal interrupts returns `EINTR` instead of blocking
/// again (no `SA_RESTART`), so code blocked in one gets to look at the flag.
pub fn exit_cleanly_on_sigterm() -> Result<&'static AtomicBool, LifecycleError> {
    // SKELETON: // TODO: from now on a SIGTERM only sets TERMINATE_REQUESTED, and this process
    // SKELETON: // keeps running; the flag starts clear (a forked child got a copy of its
    // SKELETON: // parent's); a blocking call the signal interrupts fails with EINTR.
    // SKELETON: todo!(
    // SKELETON:     "catch SIGTERM in pid {} by setting TERMINATE_REQUESTED",
    // SKELETON:     std::process::id()
    // SKELETON: )
    // BEGIN SOLUTION
    TERMINATE_REQUESTED.store(false, Ordering::SeqCst);
    let action = SigAction::new(
        SigHandler::Handler(request_termination),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // Safety: the handler only stores to an atomic, which is async-signal-safe.
    unsafe { sigaction(Signal::SIGTERM, &action) }?;
    Ok(&TERMINATE_REQUESTED)
    // END SOLUTION
}
// ANCHOR_END: exit_cleanly_on_sigterm
