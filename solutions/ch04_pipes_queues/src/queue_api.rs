//! Given: what every queue of this chapter offers, Python's `Queue` API.
//!
//! [`Queue`](crate::Queue) (a pipe), [`JoinableQueue`](crate::JoinableQueue) (a pipe
//! and a count of unfinished tasks) and [`RingQueue`](crate::RingQueue) (shared memory)
//! all implement it, and the tests run the same checks on each.

use std::time::Duration;

use crate::error::QueueError;

/// A first-in, first-out queue shared by every process forked after its creation: any
/// number of processes put, any number get.
///
/// Every blocking call takes a timeout (`None`: as long as it takes); Python's
/// `block=False` is a timeout of zero, which is what the `_nowait` methods pass.
pub trait MpQueue<T> {
    /// Puts `item` at the back, waiting at most `timeout` for room: `Full` when there
    /// was none in time (nothing was put), `Closed` after `close`, `TooLarge` for an
    /// item over the queue's limit.
    fn put(&self, item: &T, timeout: Option<Duration>) -> Result<(), QueueError>;

    /// Takes the item at the front, waiting at most `timeout` for one: `Empty` when none
    /// came in time, `Closed` after `close`.
    fn get(&self, timeout: Option<Duration>) -> Result<T, QueueError>;

    /// The number of items put and not yet got. Exact while no `put` or `get` is under
    /// way; during one, it may be off by the items on their way.
    fn qsize(&self) -> usize;

    /// The most items the queue holds (`None`: no limit but the memory behind it).
    fn maxsize(&self) -> Option<usize>;

    /// Closes this process's handle: every later call on it is `Closed`. Other
    /// processes' handles, and the items in the queue, are not touched.
    fn close(&mut self);

    /// Python's `put_nowait(item)`: [`MpQueue::put`] without waiting.
    fn put_nowait(&self, item: &T) -> Result<(), QueueError> {
        self.put(item, Some(Duration::ZERO))
    }

    /// Python's `get_nowait()`: [`MpQueue::get`] without waiting.
    fn get_nowait(&self) -> Result<T, QueueError> {
        self.get(Some(Duration::ZERO))
    }

    /// True when [`MpQueue::qsize`] is 0.
    fn empty(&self) -> bool {
        self.qsize() == 0
    }

    /// True when the queue holds `maxsize` items; never for a queue without one.
    fn full(&self) -> bool {
        self.maxsize().is_some_and(|max| self.qsize() >= max)
    }
}
