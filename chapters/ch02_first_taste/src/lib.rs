//! Chapter 2, First taste: start a process, join it, ask who it is.
//!
//! - [`process`]: exercise 1, `Process` with a target, `start`, `join`, `pid`, and typed
//!   errors for misuse.
//! - [`info`]: exercise 2, what a process knows about itself and its parent.
//! - [`context`]: exercise 3, start methods and the fork context (`ForkProcess-N`).
//! - [`frame`]: exercise 4, frames: encoding messages, decoding untrusted bytes.
//! - [`channel`]: exercise 5, a pipe that carries results back to the parent.

// Until every exercise is filled in, some imports, helpers and parameters go unused.
#![allow(dead_code, unused_imports, unused_variables)]

pub mod channel;
pub mod context;
pub mod error;
pub mod frame;
pub mod info;
pub mod process;

/// Chapter 1's `current_process`, from the very crate this chapter's processes record
/// themselves in (a second copy of chapter 1 would have a record of its own).
pub use ch01_setup::{current_process, ProcessInfo};
pub use channel::{channel, Receiver, Sender};
pub use context::{get_context, Context};
pub use error::{ChannelError, ProcessError};
pub use frame::{decode_frame, encode_frame, LENGTH_PREFIX, MAX_FRAME};
pub use info::{info, parent_pid};
pub use mpkit::ExitStatus;
pub use process::Process;
