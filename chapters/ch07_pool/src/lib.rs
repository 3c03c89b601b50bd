//! Chapter 7, Pool: workers, asynchronous results, timeouts, and workers that die.
//!
//! A pool forks its workers once, up front, and hands them tasks: a function's address
//! and its arguments as bytes, over one socketpair per worker. The pool decides which
//! worker gets which task, so it knows what each one holds: a worker that dies fails
//! exactly the task it was running, with an error that says how it died, and a new
//! worker takes its place. Python's pool hangs forever in that case.
//!
//! There is no helper thread: the thread that calls into the pool drives it (see
//! [`pool`]), so forking a replacement worker is as safe as the first fork.
//!
//! - [`heavy`]: exercise 1, the notebook's heavy function, exactly.
//! - [`task`]: exercise 2, how a call crosses to a forked worker.
//! - [`worker`]: exercise 3, a worker's loop.
//! - [`start`]: exercise 4, starting named workers, and terminating.
//! - [`apply`]: exercise 5, handing out tasks, reading answers, `get` with a timeout.
//! - [`async_result`]: exercise 6, `wait`, `ready`, `successful`, callbacks.
//! - [`deaths`]: exercise 7, workers that die, and initializers that fail.
//! - [`map`]: exercise 8, `map` in chunks, and `starmap`.
//! - [`imap`]: exercise 9, `imap` and `imap_unordered`.
//! - [`shutdown`]: exercise 10, `close` and `join`.
//! - [`pool`]: given, the pool's parts and its event loop; [`error`]: given, its errors.

// Until every exercise is filled in, some imports, helpers and parameters go unused.
#![allow(dead_code, unused_imports, unused_variables)]

pub mod apply;
pub mod async_result;
pub mod deaths;
pub mod error;
pub mod heavy;
pub mod imap;
pub mod map;
pub mod pool;
pub mod shutdown;
pub mod start;
pub mod task;
pub mod worker;

/// Chapter 1's names and logger, from the crate this chapter names its workers with.
pub use ch01_setup::{current_process, log_to_fd, next_child_identity, ProcessInfo};
/// Chapter 4's connections, which carry the tasks and the answers.
pub use ch04_pipes_queues::{Connection, Pipe, PipeError, DEFAULT_MAX_MESSAGE};
pub use error::{PoolError, TaskError};
pub use heavy::heavy;
pub use imap::{IMap, CHUNKS_AHEAD_PER_WORKER};
pub use map::default_chunksize;
pub use mpkit::ExitStatus;
pub use pool::{AsyncResult, Pool, State, WorkerInfo, PREFETCH, PREFETCH_BYTES};
pub use start::PoolBuilder;
pub use task::Task;
pub use worker::{serve, Reply, WorkerSetup};
