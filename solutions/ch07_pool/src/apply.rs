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
        // SKELETON: // TODO: oldest task first, to the least loaded worker that can take it, until
        // SKELETON: // none can. What a worker was sent, it holds (in order) and it counts against its
        // SKELETON: // quota. A task whose send fails is not lost, and that worker gets no more.
        // SKELETON: todo!(
        // SKELETON:     "hand out {} queued tasks to {} workers",
        // SKELETON:     self.queue.len(),
        // SKELETON:     self.workers.len()
        // SKELETON: )
        // BEGIN SOLUTION
        while let Some(job) = self.queue.front() {
            let Some(w) = (0..self.workers.len())
                .filter(|&w| self.workers[w].can_take(job))
                .min_by_key(|&w| self.workers[w].held.len())
            else {
                return Ok(());
            };
            let job = self.queue.pop_front().expect("the queue has a front");
            let worker = &mut self.workers[w];
            match worker.conn.send_bytes(&job.frame) {
                Ok(()) => {
                    if let Some(quota) = &mut worker.quota {
                        *quota -= 1;
                    }
                    worker.held.push_back(job);
                }
                Err(_) => {
                    // It may be sent nothing more.
                    worker.quota = Some(0);
                    self.queue.push_front(job);
                }
            }
        }
        Ok(())
        // END SOLUTION
    }
    // ANCHOR_END: dispatch

    // ANCHOR: collect
    /// Reads every answer worker `w` has sent so far, without waiting for more:
    /// `Ready` marks it ready; `Done` is the outcome of the oldest task it holds,
    /// which is delivered. At end-of-file (or a message cut short: it died while
    /// writing; or `ECONNRESET`: it died with a task unread) its connection is marked as such and never read again; its end is
    /// handled when its pidfd says so.
    pub(crate) fn collect(&mut self, w: usize) -> Result<(), PoolError> {
        // SKELETON: // TODO: every answer already there, none more: `Ready`, or the outcome of
        // SKELETON: // the oldest task the worker holds. Remember end-of-file; other errors are errors.
        // SKELETON: todo!(
        // SKELETON:     "read the answers of {} (holding {} tasks)",
        // SKELETON:     self.workers[w].name,
        // SKELETON:     self.workers[w].held.len()
        // SKELETON: )
        // BEGIN SOLUTION
        let mut done = Vec::new();
        let worker = &mut self.workers[w];
        while !worker.eof && worker.conn.poll(Some(Duration::ZERO))? {
            match worker.conn.recv::<Reply>() {
                Ok(Reply::Ready) => worker.ready = true,
                Ok(Reply::Done(outcome)) => {
                    if let Some(job) = worker.held.pop_front() {
                        done.push((job, outcome));
                    }
                }
                // ECONNRESET: it died with a task unread in its socket; what it sent
                // before that has been read already.
                Err(
                    PipeError::Eof
                    | PipeError::Truncated { .. }
                    | PipeError::Os(nix::errno::Errno::ECONNRESET),
                ) => worker.eof = true,
                Err(err) => return Err(err.into()),
            }
        }
        for (job, outcome) in done {
            self.deliver(job, outcome);
        }
        Ok(())
        // END SOLUTION
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
        // SKELETON: // TODO: drive the pool until the result is final or the time is up; then the
        // SKELETON: // value (or why there is none), or `Timeout`.
        // SKELETON: todo!("get a result within {timeout:?}")
        // BEGIN SOLUTION
        let cell = &self.cell;
        if !drive_until(&self.core, deadline_after(timeout), || {
            cell.borrow().is_final()
        })? {
            return Err(PoolError::Timeout);
        }
        (self.decode)(&cell.borrow())
        // END SOLUTION
    }
    // ANCHOR_END: get
}
