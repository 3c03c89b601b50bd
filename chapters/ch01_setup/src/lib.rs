//! Chapter 1, Basic Setup: who is speaking?
//!
//! Every process has a name that says where it comes from: `MainProcess`, `Process-1`,
//! `ForkProcess-2`, and in a child's child `Process-1:1`. Every log line starts with the
//! name of the process that wrote it, and lines written by many processes at once never
//! tear. Later chapters name their processes with this crate.
//!
//! - [`naming`]: exercise 1, a process's name from its kind and identity.
//! - [`current`]: exercise 2, numbering children and `current_process()`.
//! - [`logger`]: exercise 3, a `log::Log` that writes `[name]: message` lines.
//! - [`state`]: given, the fork-safe record each process keeps of itself.

// Until every exercise is filled in, some imports, helpers and parameters go unused.
#![allow(dead_code, unused_imports, unused_variables)]

pub mod current;
pub mod logger;
pub mod naming;
pub mod state;

pub use current::{current_process, next_child_identity, ProcessInfo};
pub use logger::{log_to_fd, log_to_stderr, ProcessLogger};
pub use naming::{process_name, ProcessKind};
pub use state::{enter_child, ProcessRecord, StateError};
