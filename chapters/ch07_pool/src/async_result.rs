//! Exercise 6: the rest of `AsyncResult`: `wait`, `ready`, `successful`, and callbacks
//! that run in the thread that calls into the pool.

use std::time::{Duration, Instant};

use ch04_pipes_queues::pipe::deadline_after;

use crate::error::{PoolError, TaskError};
use crate::pool::{drive_until, AsyncResult};

impl<T: 'static> AsyncResult<T> {
    // ANCHOR: wait
    /// Waits at most `timeout` (`None`: as long as it takes) for the result to be
    /// final; true when it is (Python's `wait(timeout)`, which returns nothing).
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool, PoolError> {
        // TODO: drive the pool until the result is final or the time is up.
        todo!("wait for a result within {timeout:?}")
    }

    /// Whether the result is final, after reading what the workers have sent so far
    /// (never waiting): Python's `ready()`.
    pub fn ready(&self) -> Result<bool, PoolError> {
        // TODO: look once at what has arrived, without waiting.
        todo!("is the result ready?")
    }

    /// Whether the task completed without an error (Python's `successful()`);
    /// `NotReady` when the result is not final yet.
    pub fn successful(&self) -> Result<bool, PoolError> {
        // TODO: `NotReady` until the result is final; then whether it succeeded.
        todo!("did the task succeed?")
    }
    // ANCHOR_END: wait

    // ANCHOR: callbacks
    /// Calls `callback` with the value once the result is final and succeeded
    /// (Python's `callback=`). It runs once, in the thread that owns the pool, during
    /// a call into the pool (`get`, `wait`, `ready`, `join`, another result's `get`...),
    /// or at once if the result is final already. It may call into the pool.
    pub fn callback(self, callback: impl FnOnce(T) + 'static) -> AsyncResult<T> {
        self.on_final(move |result| {
            if let Ok(value) = result {
                callback(value);
            }
        })
    }

    /// Calls `error_callback` with the reason once the result is final and failed
    /// (Python's `error_callback=`); it runs as `callback` does. A pool terminated
    /// runs no callback.
    pub fn error_callback(
        self,
        error_callback: impl FnOnce(TaskError) + 'static,
    ) -> AsyncResult<T> {
        self.on_final(move |result| {
            if let Err(PoolError::Task(err)) = result {
                error_callback(err);
            }
        })
    }

    /// Runs `then` with the result once it is final: at once if it is, else when the
    /// pool delivers its last outcome (the cell's callbacks).
    fn on_final(self, then: impl FnOnce(Result<T, PoolError>) + 'static) -> AsyncResult<T> {
        // TODO: `then(result)` once, when the result is final: now if it already is,
        // else among the cell's callbacks, which the pool runs when it delivers the last
        // outcome.
        todo!("run a callback once the result is final")
    }
    // ANCHOR_END: callbacks
}
