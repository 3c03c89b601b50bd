//! Chapter 3, Process and exceptions: a process's life, exit codes and signals.
//!
//! A [`Process`] goes through four states: created, started, ended, closed. It answers
//! Python's questions (`is_alive`, `exitcode`, `sentinel`) without ever blocking, ends
//! with `terminate` or `kill`, and refuses every query once closed.
//!
//! - [`process`]: given, the `Process` built on chapter 2's, its drop policy and its
//!   Python-like description.
//! - [`panics`]: exercise 1, a target that panics exits with code 1, as in Python.
//! - [`alive`]: exercise 2, `is_alive` and `exitcode`.
//! - [`ending`]: exercise 3, `terminate` and `kill`.
//! - [`closing`]: exercise 4, `sentinel` and `close`.
//! - [`sigterm`]: exercise 5, a child that catches SIGTERM so its cleanup runs.

// Until every exercise is filled in, some imports, helpers and parameters go unused.
#![allow(dead_code, unused_imports, unused_variables)]

pub mod alive;
pub mod closing;
pub mod ending;
pub mod error;
pub mod panics;
pub mod process;
pub mod sigterm;

pub use ch02_first_taste::{current_process, ProcessError, ProcessInfo};
pub use error::LifecycleError;
pub use panics::run_target;
pub use process::{current_is_daemon, Process, DROP_GRACE};
pub use sigterm::{exit_cleanly_on_sigterm, TERMINATE_REQUESTED};
