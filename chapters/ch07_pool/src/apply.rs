//! Exercise 5: handing tasks to workers, reading their answers, and `get` with a timeout.

use std::time::Duration;

use ch04_pipes_queues::pipe::deadline_after;
use ch04_pipes_queues::PipeError;

use crate::error::PoolError;
use crate::pool::{drive_until, AsyncResult, Inner};
use crate::worker::Reply;

impl Inner {
    // ANCHOR: dispatch
    /// Hands queued tasks out, oldest first, while some worker can take the next one
    /// (see `Worker::can_take`): each to the worker holding the fewest tasks (the
    /// first such worker on a tie), so that idle workers get work before busy ones
    /// get more. A task sent is held by its worker, and counts against the worker's
    /// quota. A send that fails (the worker ended, or was retired) puts the task back
    /// at the front of the queue and spends the worker's quota: its end is handled when
    /// its pidfd says so.
    pub(crate) fn dispatch(&mut self) -> Result<(), PoolError> {
        // TODO: oldest task first, to the least loaded worker that can take it, until
        // none can. What a worker was sent, it holds (in order) and it counts against its
        // quota. A task whose send fails is not lost, and that worker gets no more.
        todo!(
            "hand out {} queued tasks to {} workers",
            self.queue.len(),
            self.workers.len()
        )
    }
    // ANCHOR_END: dispatch

    // ANCHOR: collect
    /// Reads every answer worker `w` has sent so far, without waiting for more:
    /// `Ready` marks it ready; `Done` is the outcome of the oldest task it holds,
    /// which is delivered. At end-of-file (or a message cut short: it died while
    /// writing; or `ECONNRESET`: it died with a task unread) its connection is marked as such and never read again; its end is
    /// handled when its pidfd says so.
    pub(crate) fn collect(&mut self, w: usize) -> Result<(), PoolError> {
        // TODO: every answer already there, none more: `Ready`, or the outcome of
        // the oldest task the worker holds. Remember end-of-file; other errors are errors.
        todo!(
            "read the answers of {} (holding {} tasks)",
            self.workers[w].name,
            self.workers[w].held.len()
        )
    }
    // ANCHOR_END: collect
}

impl<T> AsyncResult<T> {
    // ANCHOR: get
    /// The result, waiting at most `timeout` for it (`None`: as long as it takes;
    /// Python's `get(timeout)`). `Timeout` when the time runs out: the task goes on,
    /// and a later `get` returns its result. A task that failed gives
    /// `PoolError::Task` with the reason, every time it is asked.
    pub fn get(&self, timeout: Option<Duration>) -> Result<T, PoolError> {
        // TODO: drive the pool until the result is final or the time is up; then the
        // value (or why there is none), or `Timeout`.
        todo!("get a result within {timeout:?}")
    }
    // ANCHOR_END: get
}
