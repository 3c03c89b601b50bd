//! Exercise 6: a queue that knows when every item has been dealt with.
//!
//! Python's `JoinableQueue` counts unfinished tasks: `put` adds one, `task_done`
//! removes one, and `join` waits until none is left. The count lives in shared memory,
//! and `join` sleeps on it as on a futex.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use ch05_sync::futex::{self, Wake};
use ch05_sync::{Shared, ShmSafe};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::QueueError;
use crate::pipe::deadline_after;
use crate::queue::Queue;
use crate::queue_api::MpQueue;

/// The count of unfinished tasks, in shared memory.
#[repr(C)]
pub struct Tasks {
    unfinished: AtomicU32,
}

// Safety: repr(C), no pointers, one atomic.
unsafe impl ShmSafe for Tasks {}

/// Python's `multiprocessing.JoinableQueue`: a [`Queue`] whose items are tasks. Every
/// `put` adds an unfinished task; the process that got it calls
/// [`JoinableQueue::task_done`] when it is done with it; [`JoinableQueue::join`] waits
/// until every task put so far is done.
pub struct JoinableQueue<T> {
    queue: Queue<T>,
    tasks: Shared<Tasks>,
}

impl<T> JoinableQueue<T> {
    /// An unbounded joinable queue.
    pub fn new() -> Result<JoinableQueue<T>, QueueError> {
        JoinableQueue::over(Queue::new()?)
    }

    /// A joinable queue that holds at most `maxsize` items.
    pub fn bounded(maxsize: usize) -> Result<JoinableQueue<T>, QueueError> {
        JoinableQueue::over(Queue::bounded(maxsize)?)
    }

    fn over(queue: Queue<T>) -> Result<JoinableQueue<T>, QueueError> {
        Ok(JoinableQueue {
            queue,
            tasks: Shared::new(Tasks {
                unfinished: AtomicU32::new(0),
            })?,
        })
    }

    /// Tasks put and not yet done.
    pub fn unfinished(&self) -> u32 {
        self.tasks.unfinished.load(Ordering::SeqCst)
    }

    // ANCHOR: task_done
    /// Python's `task_done()`: one task got from the queue is finished. When it was the
    /// last unfinished one, every process in [`JoinableQueue::join`] returns.
    /// `TaskDoneTooManyTimes` when called more often than items were put, and then the
    /// count does not change (two racing calls cannot both pass the check).
    pub fn task_done(&self) -> Result<(), QueueError> {
        // TODO: take one unfinished task away in one atomic step that refuses
        // to go below zero; wake every joiner when none is left.
        todo!("task_done ({} unfinished)", self.unfinished())
    }
    // ANCHOR_END: task_done

    // ANCHOR: join
    /// Python's `join()`: waits until every task put so far is done, at most `timeout`
    /// (`None`: as long as it takes). `true` when none is left, `false` when the time ran
    /// out first. Sleeps in the kernel; does not spin.
    pub fn join(&self, timeout: Option<Duration>) -> Result<bool, QueueError> {
        // TODO: until no task is unfinished, sleep while the count still
        // holds what you saw; at the deadline, answer whether none is left.
        todo!("join within {timeout:?} ({} unfinished)", self.unfinished())
    }
    // ANCHOR_END: join
}

impl<T: Serialize + DeserializeOwned> MpQueue<T> for JoinableQueue<T> {
    // ANCHOR: put
    /// Counts one more unfinished task, then puts the item. When the put fails, the
    /// task is uncounted again (and joiners wake if it was the last).
    fn put(&self, item: &T, timeout: Option<Duration>) -> Result<(), QueueError> {
        // TODO: count the task before the item can reach a getter; when the
        // put fails, take the count back as task_done would.
        todo!("put a task within {timeout:?}")
    }
    // ANCHOR_END: put

    fn get(&self, timeout: Option<Duration>) -> Result<T, QueueError> {
        self.queue.get(timeout)
    }

    fn qsize(&self) -> usize {
        self.queue.qsize()
    }

    fn maxsize(&self) -> Option<usize> {
        self.queue.maxsize()
    }

    fn close(&mut self) {
        self.queue.close();
    }
}
