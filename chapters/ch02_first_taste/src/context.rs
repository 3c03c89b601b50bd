//! Exercise 3: start methods, and the fork context.

use ch01_setup::ProcessKind;

use crate::error::ProcessError;
use crate::process::Process;

/// A start method chosen by name, like Python's `multiprocessing.get_context("fork")`.
///
/// This workbook starts every process with `fork`; Python also has `spawn` and
/// `forkserver`, which start a fresh interpreter and are not offered here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Context {
    method: &'static str,
}

// ANCHOR: get_context
/// The context of start method `method`.
///
/// `"fork"` gives the fork context; `"spawn"` and `"forkserver"` give
/// `UnsupportedStartMethod` naming the method; anything else gives `UnknownStartMethod`.
pub fn get_context(method: &str) -> Result<Context, ProcessError> {
    // TODO: "fork" is the fork context; Python's other two start methods are
    // unsupported here; any other name is unknown.
    todo!(
        "return the context of start method {method:?}: \"fork\" works; \"spawn\", \
         \"forkserver\" and anything else are errors"
    )
}
// ANCHOR_END: get_context

impl Context {
    /// The name of this context's start method: `"fork"`.
    pub fn start_method(&self) -> &'static str {
        self.method
    }

    // ANCHOR: context_process
    /// A process of this context: it runs `target` and its default name is
    /// `ForkProcess-N`, numbered by the same counter as every other child of this process.
    pub fn process(&self, target: impl FnOnce() + 'static) -> Process {
        // TODO: a process like `Process::new` makes, of kind ForkProcess.
        todo!("make a ForkProcess of the {:?} context", self.method)
    }
    // ANCHOR_END: context_process
}
