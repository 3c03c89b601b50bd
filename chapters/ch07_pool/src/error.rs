//! Given: what can go wrong with a pool, and with one task.

use std::fmt;

use ch04_pipes_queues::PipeError;
use mpkit::ExitStatus;
use nix::errno::Errno;
use serde::{Deserialize, Serialize};

/// Why a task gave no value. Python raises the task's own exception from `get()`, or
/// hangs (a dead worker, a terminated pool); here every case is a value of this type,
/// which `get` returns and `error_callback` receives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskError {
    /// The task panicked in `worker`; `message` is the panic's message.
    Panicked {
        /// The worker's name, `ForkPoolWorker-N`.
        worker: String,
        /// What the panic said.
        message: String,
    },
    /// The worker running the task died before it answered: a signal (`SIGKILL`,
    /// `SIGABRT`, the OOM killer), or an exit in the middle of the task.
    WorkerDied {
        /// The worker's name.
        worker: String,
        /// Its pid.
        pid: i32,
        /// How it ended.
        status: ExitStatus,
    },
    /// The task's result (or, in `worker`, its arguments) could not be encoded.
    Encode {
        /// Where it happened: a worker's name, or `MainProcess`.
        worker: String,
        /// postcard's reason.
        message: String,
    },
    /// Bytes that are not a value of the type expected: a result that does not decode
    /// as the caller's type, or a task's arguments that do not decode in the worker.
    Decode(String),
    /// A worker ended before its initializer finished, so the pool is broken: every
    /// pending task fails with this error and the pool forks no more workers (Python's
    /// `Pool` forks new workers forever instead; `ProcessPoolExecutor` calls its pool
    /// broken, as here).
    InitializerFailed {
        /// The worker's name.
        worker: String,
        /// How it ended.
        status: ExitStatus,
    },
    /// The pool was terminated (or dropped) before the task finished.
    Terminated,
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Panicked { worker, message } => {
                write!(f, "the task panicked in {worker}: {message}")
            }
            TaskError::WorkerDied {
                worker,
                pid,
                status,
            } => write!(
                f,
                "{worker} (pid {pid}) died while it held the task: {status}"
            ),
            TaskError::Encode { worker, message } => {
                write!(f, "a value could not be encoded in {worker}: {message}")
            }
            TaskError::Decode(why) => write!(f, "a value could not be decoded: {why}"),
            TaskError::InitializerFailed { worker, status } => write!(
                f,
                "{worker} ended in its initializer ({status}): the pool is broken"
            ),
            TaskError::Terminated => write!(f, "the pool was terminated before the task finished"),
        }
    }
}

impl std::error::Error for TaskError {}

/// What can go wrong when using a pool. Python raises `ValueError`, `TimeoutError` or
/// the task's exception for the same cases.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PoolError {
    /// `processes` was 0 (Python: "Number of processes must be at least 1").
    InvalidProcesses,
    /// `maxtasksperchild` was 0 (Python: "maxtasksperchild must be a positive int or
    /// None").
    InvalidMaxTasks,
    /// `chunksize` was 0 (Python: "Chunksize must be 1+, not 0").
    InvalidChunksize,
    /// The pool was closed or terminated: it takes no more tasks (Python: "Pool not
    /// running").
    NotRunning,
    /// `join` before `close` or `terminate` (Python: "Pool is still running").
    StillRunning,
    /// The pool was used in a process it was copied into by a fork: only the process
    /// that made it may use it (its workers' sockets are the maker's).
    NotTheOwner,
    /// `successful` on a result that is not ready (Python: "... not ready").
    NotReady,
    /// No result within the time given to `get` (Python's `TimeoutError`). The task
    /// goes on, and a later `get` returns its result.
    Timeout,
    /// The task gave no value; the reason.
    Task(TaskError),
    /// The task's arguments could not be encoded; nothing was sent.
    Encode(String),
    /// A system call failed (`fork`, `poll`, a socket).
    Os(#[serde(with = "errno_number")] Errno),
}

/// An `Errno` crosses a pipe as its number.
mod errno_number {
    use nix::errno::Errno;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(errno: &Errno, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i32(*errno as i32)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Errno, D::Error> {
        i32::deserialize(d).map(Errno::from_raw)
    }
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::InvalidProcesses => write!(f, "the number of processes must be at least 1"),
            PoolError::InvalidMaxTasks => {
                write!(f, "maxtasksperchild must be at least 1 (or None)")
            }
            PoolError::InvalidChunksize => write!(f, "the chunk size must be at least 1"),
            PoolError::NotRunning => write!(f, "the pool is not running"),
            PoolError::StillRunning => {
                write!(f, "the pool is still running: close or terminate it first")
            }
            PoolError::NotTheOwner => {
                write!(f, "only the process that made the pool may use it")
            }
            PoolError::NotReady => write!(f, "the result is not ready"),
            PoolError::Timeout => write!(f, "no result within the time given"),
            PoolError::Task(err) => write!(f, "{err}"),
            PoolError::Encode(why) => write!(f, "the arguments could not be encoded: {why}"),
            PoolError::Os(errno) => write!(f, "system call failed: {errno}"),
        }
    }
}

impl std::error::Error for PoolError {}

impl From<TaskError> for PoolError {
    fn from(err: TaskError) -> PoolError {
        PoolError::Task(err)
    }
}

impl From<Errno> for PoolError {
    fn from(errno: Errno) -> PoolError {
        PoolError::Os(errno)
    }
}

impl From<std::io::Error> for PoolError {
    fn from(err: std::io::Error) -> PoolError {
        PoolError::Os(Errno::from_raw(err.raw_os_error().unwrap_or(libc::EIO)))
    }
}

impl From<PipeError> for PoolError {
    fn from(err: PipeError) -> PoolError {
        match err {
            PipeError::Os(errno) => PoolError::Os(errno),
            PipeError::BrokenPipe => PoolError::Os(Errno::EPIPE),
            PipeError::Encode(why) => PoolError::Encode(why),
            // The pool reads and writes only whole frames of its own making: anything
            // else from a connection is an input/output error.
            _ => PoolError::Os(Errno::EIO),
        }
    }
}
