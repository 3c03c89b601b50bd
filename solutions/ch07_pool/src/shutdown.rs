//! Exercise 10: `close` and `join`: finish the work, then let every worker go.

use crate::error::PoolError;
use crate::pool::{drive_until, Inner, Pool, State};

impl Pool {
    // ANCHOR: close
    /// Takes no more tasks; the tasks already submitted still run, and then the
    /// workers leave (Python's `close`). Does nothing on a pool that is not running.
    pub fn close(&self) {
        // SKELETON: // TODO: a running pool becomes closed; any other state stays as it is.
        // SKELETON: todo!("close the pool")
        // BEGIN SOLUTION
        let mut inner = self.core.borrow_mut();
        if inner.state == State::Running {
            inner.state = State::Closed;
        }
        // END SOLUTION
    }

    /// Waits until every worker has left, driving the pool meanwhile: after `close`,
    /// once every task has run; after `terminate`, at once (Python's `join`).
    /// `StillRunning` on a running pool.
    pub fn join(&self) -> Result<(), PoolError> {
        // SKELETON: // TODO: only after close or terminate; then drive the pool until no worker is left.
        // SKELETON: todo!("join the pool's {} workers", self.workers().len())
        // BEGIN SOLUTION
        if self.core.borrow().state == State::Running {
            return Err(PoolError::StillRunning);
        }
        let core = &self.core;
        drive_until(core, None, || core.borrow().workers.is_empty())?;
        Ok(())
        // END SOLUTION
    }
    // ANCHOR_END: close
}

impl Inner {
    // ANCHOR: retire_idle
    /// After `close`, once no task is queued: closes the pool's end of the connection
    /// of every worker that holds no task, so that it reads end-of-file and leaves. A
    /// retired worker is read no more and takes no task.
    pub(crate) fn retire_idle(&mut self) {
        // SKELETON: // TODO: with nothing queued, every worker holding nothing is told to leave
        // SKELETON: // (its connection closed, marked as such).
        // SKELETON: todo!("retire the idle workers of {}", self.workers.len())
        // BEGIN SOLUTION
        if !self.queue.is_empty() {
            return;
        }
        for worker in &mut self.workers {
            if worker.held.is_empty() && !worker.retired {
                worker.conn.close();
                worker.eof = true;
                worker.retired = true;
            }
        }
        // END SOLUTION
    }
    // ANCHOR_END: retire_idle
}
