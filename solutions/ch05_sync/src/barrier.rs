//! Exercise 4: a barrier that elects a leader, round after round.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::error::SyncError;
use crate::futex::{self, Wake};
use crate::lock::Lock;
use crate::shm::{Shared, ShmSafe};

/// The state of a [`Barrier`], in shared memory. The counters change only under the
/// barrier's lock; waiters sleep on `generation`.
#[repr(C)]
pub struct BarrierState {
    /// How many have arrived in the current round.
    count: AtomicU32,
    /// The round number; it changes when a round completes or is broken.
    generation: AtomicU32,
    /// `generation + 1` of the last round that was broken (0: none).
    broken_round: AtomicU32,
    /// 1 while the barrier is broken (until `reset`).
    broken: AtomicU32,
}

// Safety: repr(C), no pointers, atomics only.
unsafe impl ShmSafe for BarrierState {}

/// Python's `multiprocessing.Barrier(parties, action, timeout)`: each round, `parties`
/// processes wait until all have arrived; each gets a distinct index in `0..parties`,
/// and exactly one of them (the last to arrive) runs `action` before anyone leaves.
pub struct Barrier {
    state: Shared<BarrierState>,
    lock: Lock,
    parties: u32,
    action: Option<Box<dyn Fn()>>,
    timeout: Option<Duration>,
}

impl Barrier {
    /// A barrier for `parties` processes (at least 1), with an optional action. Each
    /// process runs its own copy of the action (fork copied it), only when it leads.
    pub fn new(parties: u32, action: Option<Box<dyn Fn()>>) -> Result<Barrier, SyncError> {
        Barrier::with_timeout(parties, action, None)
    }

    /// A barrier like [`Barrier::new`], whose `timeout` applies to every `wait` that
    /// gives none, like Python's `Barrier(parties, action, timeout)`.
    pub fn with_timeout(
        parties: u32,
        action: Option<Box<dyn Fn()>>,
        timeout: Option<Duration>,
    ) -> Result<Barrier, SyncError> {
        Ok(Barrier {
            state: Shared::new(BarrierState {
                count: AtomicU32::new(0),
                generation: AtomicU32::new(0),
                broken_round: AtomicU32::new(0),
                broken: AtomicU32::new(0),
            })?,
            lock: Lock::new()?,
            parties: parties.max(1),
            action,
            timeout,
        })
    }

    /// The number of processes a round needs.
    pub fn parties(&self) -> u32 {
        self.parties
    }

    /// The timeout of a `wait` that gives none (`None`: as long as it takes).
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Whether the barrier has an action for its leaders to run.
    pub fn has_action(&self) -> bool {
        self.action.is_some()
    }

    /// How many are waiting in the current round.
    pub fn n_waiting(&self) -> u32 {
        self.state.count.load(Ordering::Relaxed)
    }

    /// Whether the barrier is broken.
    pub fn broken(&self) -> bool {
        self.state.broken.load(Ordering::Acquire) == 1
    }

    // ANCHOR: wait
    /// Waits for the round to fill, at most `timeout` (`None`: the barrier's own
    /// [`Barrier::timeout`]; `None` there too, or a timeout too long to have a deadline:
    /// as long as it takes), and returns this process's index in the round
    /// (`0..parties`, distinct in a round).
    /// The last to arrive runs the action, then releases the others. A timeout breaks
    /// the barrier: this and every other waiter get `Broken`, and so does every later
    /// `wait` until `reset`. A panicking action breaks it too.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<u32, SyncError> {
        // SKELETON: // TODO: this process's index in its round (distinct, 0..parties); the last to
        // SKELETON: // arrive runs the action, then the whole round leaves together. A timeout or a
        // SKELETON: // panicking action breaks the round: its waiters, and every wait until
        // SKELETON: // `reset`, get Broken. No timeout given: the barrier's own; none either, or
        // SKELETON: // one too long for a deadline: no deadline.
        // SKELETON: todo!(
        // SKELETON:     "wait at the barrier for {} parties within {timeout:?} (default {:?}) \
        // SKELETON:      ({} waiting, action: {})",
        // SKELETON:     self.parties,
        // SKELETON:     self.timeout,
        // SKELETON:     self.n_waiting(),
        // SKELETON:     self.has_action()
        // SKELETON: )
        // BEGIN SOLUTION
        let deadline = mpkit::deadline_after(timeout.or(self.timeout));
        let state = &*self.state;
        let guard = self.lock.lock()?;
        if self.broken() {
            return Err(SyncError::Broken);
        }
        let round = state.generation.load(Ordering::Acquire);
        let index = state.count.fetch_add(1, Ordering::AcqRel);
        if index + 1 == self.parties {
            let action = self
                .action
                .as_deref()
                .map(|action| panic::catch_unwind(AssertUnwindSafe(action)).is_ok());
            if action == Some(false) {
                self.break_round(round);
                return Err(SyncError::Broken);
            }
            state.count.store(0, Ordering::Release);
            state
                .generation
                .store(round.wrapping_add(1), Ordering::Release);
            drop(guard);
            futex::wake_all(&state.generation);
            return Ok(index);
        }
        drop(guard);
        // Once the round is over, it ended well or was broken.
        let leave = || {
            if state.broken_round.load(Ordering::Acquire) == round.wrapping_add(1) {
                Err(SyncError::Broken)
            } else {
                Ok(index)
            }
        };
        loop {
            if state.generation.load(Ordering::Acquire) != round {
                return leave();
            }
            if futex::wait(&state.generation, round, deadline)? == Wake::TimedOut {
                let _guard = self.lock.lock()?;
                if state.generation.load(Ordering::Acquire) == round {
                    self.break_round(round);
                }
                return leave();
            }
        }
        // END SOLUTION
    }
    // ANCHOR_END: wait

    /// Breaks `round` (under the lock): its waiters leave with `Broken`, and the
    /// barrier stays broken until `reset`.
    fn break_round(&self, round: u32) {
        let state = &*self.state;
        state.broken.store(1, Ordering::Release);
        state
            .broken_round
            .store(round.wrapping_add(1), Ordering::Release);
        state.count.store(0, Ordering::Release);
        state
            .generation
            .store(round.wrapping_add(1), Ordering::Release);
        futex::wake_all(&state.generation);
    }

    /// Breaks the barrier, like Python's `abort()`: current and later waits get
    /// `Broken` until `reset`.
    pub fn abort(&self) -> Result<(), SyncError> {
        let _guard = self.lock.lock()?;
        self.break_round(self.state.generation.load(Ordering::Acquire));
        Ok(())
    }

    /// Returns the barrier to its empty state, like Python's `reset()`: the processes
    /// waiting now get `Broken`; later rounds work again.
    pub fn reset(&self) -> Result<(), SyncError> {
        let _guard = self.lock.lock()?;
        if self.state.count.load(Ordering::Acquire) != 0 {
            self.break_round(self.state.generation.load(Ordering::Acquire));
        }
        self.state.broken.store(0, Ordering::Release);
        Ok(())
    }
}
