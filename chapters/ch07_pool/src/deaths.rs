//! Exercise 7: a worker that ended: fail exactly the task it was running, give the
//! others back, and let the pool go on (or, for an initializer that failed, break it).

use crate::error::{PoolError, TaskError};
use crate::pool::Inner;

impl Inner {
    // ANCHOR: on_exit
    /// Worker `w`'s pidfd says it ended. Reads what it sent before it ended, reaps it
    /// and removes it from the workers (the loop forks a replacement if the pool
    /// still wants one). Then:
    ///
    /// - it ended before it was ready, while the pool has an initializer and had not
    ///   retired it: the initializer failed, and the pool is broken
    ///   (`TaskError::InitializerFailed`, see `Inner::break_pool`), and the tasks it
    ///   held fail with every other;
    /// - otherwise the oldest task it held, the one it was running, fails with
    ///   `TaskError::WorkerDied` (its name, pid and how it ended), and the tasks it
    ///   held but had not started go back to the front of the queue, in their order.
    ///
    /// A worker that left after `maxtasksperchild` tasks holds none: nothing fails.
    pub(crate) fn on_exit(&mut self, w: usize) -> Result<(), PoolError> {
        // TODO: read its last answers, reap and remove it; then break the pool (it
        // ended in its initializer) or fail the one task it was running and queue the
        // others again, first and in order.
        todo!(
            "handle the end of {} (holding {} tasks)",
            self.workers[w].name,
            self.workers[w].held.len()
        )
    }
    // ANCHOR_END: on_exit
}
