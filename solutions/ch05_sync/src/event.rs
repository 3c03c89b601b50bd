//! Exercise 2: an event that many processes wait for.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::error::SyncError;
use crate::futex::{self, Wake};
use crate::shm::{Shared, ShmSafe};

/// The state of an [`Event`], in shared memory: 0 clear, 1 set.
#[repr(C)]
pub struct EventState {
    flag: AtomicU32,
}

// Safety: repr(C), no pointers, one atomic.
unsafe impl ShmSafe for EventState {}

/// Python's `multiprocessing.Event`: a flag that processes wait for.
pub struct Event {
    state: Shared<EventState>,
}

impl Event {
    /// A new event, clear.
    pub fn new() -> Result<Event, SyncError> {
        Ok(Event {
            state: Shared::new(EventState {
                flag: AtomicU32::new(0),
            })?,
        })
    }

    /// Whether the event is set.
    pub fn is_set(&self) -> bool {
        self.state.flag.load(Ordering::Acquire) == 1
    }

    // ANCHOR: set
    /// Sets the event and wakes every process waiting for it.
    pub fn set(&self) {
        // SKELETON: // TODO: set the flag, and wake every process waiting for it.
        // SKELETON: todo!(
        // SKELETON:     "set the event (flag {})",
        // SKELETON:     self.state.flag.load(Ordering::Relaxed)
        // SKELETON: )
        // BEGIN SOLUTION
        self.state.flag.store(1, Ordering::Release);
        futex::wake_all(&self.state.flag);
        // END SOLUTION
    }
    // ANCHOR_END: set

    /// Clears the event: later waits block until the next `set`.
    pub fn clear(&self) {
        self.state.flag.store(0, Ordering::Release);
    }

    // ANCHOR: wait
    /// Waits until the event is set or `timeout` has passed (`None` or `Duration::MAX`:
    /// as long as it takes); returns whether it is set, like Python's `wait(timeout)`.
    /// Sleeps in the kernel; does not spin.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool, SyncError> {
        // SKELETON: // TODO: true as soon as the event is set (at once if it is set already), false
        // SKELETON: // when the deadline passes first with it still clear (no deadline for `None`,
        // SKELETON: // or for a timeout too long to have one, such as Duration::MAX). Sleep in the
        // SKELETON: // kernel; never spin.
        // SKELETON: todo!("wait for the event within {timeout:?}")
        // BEGIN SOLUTION
        let deadline = mpkit::deadline_after(timeout);
        loop {
            if self.is_set() {
                return Ok(true);
            }
            if futex::wait(&self.state.flag, 0, deadline)? == Wake::TimedOut {
                return Ok(self.is_set());
            }
        }
        // END SOLUTION
    }
    // ANCHOR_END: wait
}
