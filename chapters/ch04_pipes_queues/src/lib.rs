//! Chapter 4, Pipes and Queues: connections, queues, and bytes you cannot trust.
//!
//! Processes that share no memory talk through the kernel: a pipe or a socketpair
//! carries bytes, and a message is a frame, its length then its bytes. On top of that
//! come a queue for many processes, a joinable one, and a queue in shared memory that
//! needs no system call at all on its fast path.
//!
//! - [`pipe`]: given, `Pipe::duplex` (a socketpair) and `Pipe::one_way` (a pipe), and
//!   the `Connection` ends they give.
//! - [`send`]: exercise 1, a message sent whole, however the kernel splits the writes.
//! - [`recv`]: exercise 2, a message received whole; a length over the limit refused
//!   before anything is allocated.
//! - [`poll`]: exercise 3, `poll` (never consumes) and `wait` over connections and
//!   processes.
//! - [`message`]: exercise 4, typed messages, and bytes you cannot trust.
//! - [`queue_api`]: given, the API every queue offers (`MpQueue`).
//! - [`queue`]: exercise 5, `Queue` over a pipe, with reader and writer locks.
//! - [`joinable`]: exercise 6, `JoinableQueue`: `task_done` and `join`.
//! - [`ring`]: exercise 7, `RingQueue` in shared memory, with futex wake-ups.

// Until every exercise is filled in, some imports, helpers and parameters go unused.
#![allow(dead_code, unused_imports, unused_variables)]

pub mod error;
pub mod joinable;
pub mod message;
pub mod pipe;
pub mod poll;
pub mod queue;
pub mod queue_api;
pub mod recv;
pub mod ring;
pub mod send;

/// Chapter 5's primitives, from the very crate this chapter's queues use.
pub use ch05_sync::{futex, Event, Lock, Semaphore, Shared, ShmSafe, SyncError};
pub use error::{PipeError, QueueError};
pub use joinable::JoinableQueue;
pub use message::{decode, encode};
pub use pipe::{
    CanRead, CanWrite, Connection, Duplex, Mode, Pipe, ReadOnly, Reader, WriteOnly, Writer,
    DEFAULT_MAX_MESSAGE, HEADER, LOOKS_BEFORE_SLEEP, PIPE_SIZE, READ_AHEAD,
};
pub use poll::{wait, Waitable};
pub use queue::Queue;
pub use queue_api::MpQueue;
pub use ring::{RingQueue, RING_BYTES};
