//! Exercise 5: a child that catches SIGTERM, so that its cleanup runs.

use std::sync::atomic::AtomicBool;

use crate::error::LifecycleError;

/// Set by the SIGTERM handler that [`exit_cleanly_on_sigterm`] installs.
pub static TERMINATE_REQUESTED: AtomicBool = AtomicBool::new(false);

// ANCHOR: handler
// TODO: write the handler, an `extern "C" fn(libc::c_int)`. A signal handler may only
// do async-signal-safe things: storing to an atomic is one; allocating, locking or
// printing is not.
// ANCHOR_END: handler

// ANCHOR: exit_cleanly_on_sigterm
/// Installs, in the calling process, a SIGTERM handler that only sets
/// [`TERMINATE_REQUESTED`], and returns that flag. The process keeps running after a
/// SIGTERM: its code is expected to look at the flag and return normally, so that its
/// destructors run (a default SIGTERM ends the process without running any).
pub fn exit_cleanly_on_sigterm() -> Result<&'static AtomicBool, LifecycleError> {
    // TODO: clear the flag, then install the handler with `nix::sys::signal::sigaction`
    // (a `SigAction` of `SigHandler::Handler(your_handler)`, no flags, an empty mask).
    todo!(
        "catch SIGTERM in pid {} by setting TERMINATE_REQUESTED",
        std::process::id()
    )
}
// ANCHOR_END: exit_cleanly_on_sigterm
