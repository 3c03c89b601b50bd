//! Exercise 6: a condition variable that wakes exactly the waiters it notifies.
//!
//! Python promises that `notify(n)` wakes at most `n` of the waiters that were waiting
//! when it was called (`threading.Condition` wakes them oldest first). One futex word that every notify changes cannot
//! keep that promise: a waiter that has released the lock but not yet slept sees the
//! word change and returns too, so `notify(1)` can wake two. So every waiter gets a
//! word of its own: a *slot* in the condition's shared memory.
//!
//! The queue has [`MAX_WAITERS`] slots; one more wait is `TooManyWaiters`. A waiter
//! killed in its wait never frees its slot: notify skips (and frees) the slots of
//! processes that no longer exist. Until the dead process is reaped, it still exists
//! (a zombie), and a notify counts it as one of the `n`: its wake-up goes nowhere.
//! Python's `notify` waits for good in that case.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;

use crate::error::SyncError;
use crate::futex::{self, Wake};
use crate::lock::Lock;
use crate::rlock::{current_thread, RLock};
use crate::shm::{Shared, ShmSafe};

/// How many waits may be in progress on one condition at once; one more is
/// [`SyncError::TooManyWaiters`]. (Python has no limit; 128 slots take 2 KiB.)
pub const MAX_WAITERS: usize = 128;

/// A slot nobody uses.
const FREE: u32 = 0;
/// A slot whose waiter sleeps until a notify picks it.
const WAITING: u32 = 1;
/// A slot that a notify picked: its waiter returns `true`, then frees it.
const NOTIFIED: u32 = 2;

/// One waiter's place in the queue, in shared memory.
///
/// `state` moves FREE → WAITING when a wait claims the slot, WAITING → NOTIFIED when a
/// notify picks it, and back to FREE when its waiter leaves. Every change but the last
/// one of a notified waiter happens with the condition's lock held.
#[repr(C)]
struct Slot {
    /// `FREE`, `WAITING` or `NOTIFIED`: the futex word the slot's waiter sleeps on.
    state: AtomicU32,
    /// The waiter's process id, so that a notify can skip a waiter that was killed.
    pid: AtomicU32,
    /// The waiter's place in the arrival order: a notify picks the smallest.
    ticket: AtomicU64,
}

impl Slot {
    /// Whether the process that waits in this slot still exists. A waiter killed in
    /// its wait never frees its slot; once it has been reaped its pid names nobody
    /// (until the kernel reuses it).
    fn waiter_alive(&self) -> bool {
        let pid = Pid::from_raw(self.pid.load(Ordering::Relaxed) as i32);
        // No signal: kill only checks that the process exists (EPERM: it does).
        kill(pid, None) != Err(Errno::ESRCH)
    }
}

/// The state of a [`Condition`], in shared memory: the queue of waiters, and with a
/// plain [`Lock`], the thread that holds it.
#[repr(C)]
pub struct ConditionState {
    holder: AtomicU32,
    /// How many waits have started: the next waiter's ticket.
    arrivals: AtomicU64,
    slots: [Slot; MAX_WAITERS],
}

// Safety: repr(C), no pointers, atomics only.
unsafe impl ShmSafe for ConditionState {}

/// The lock under a [`Condition`].
pub enum ConditionLock {
    /// A re-entrant lock, Python's default.
    RLock(RLock),
    /// A plain lock; a `Lock` has no owner, so the condition records who took it
    /// through the condition.
    Lock(Lock),
}

/// Python's `multiprocessing.Condition`: a lock (an [`RLock`] by default, or a plain
/// [`Lock`]) and a way to sleep until another process notifies. `wait` and `notify`
/// need the lock held by the caller; without it they are `NotOwner`.
///
/// Waiters queue in the order they arrive; `notify(n)` wakes the `n` that have waited
/// longest, exactly those, and each of them returns `true`. A `wait` never returns
/// `true` without a notify. Still, another process may take the lock first and change
/// what the notify announced: loop on the predicate, or use [`Condition::wait_for`].
pub struct Condition {
    lock: ConditionLock,
    state: Shared<ConditionState>,
}

impl Condition {
    /// A condition over a new `RLock`.
    pub fn new() -> Result<Condition, SyncError> {
        Condition::with_lock(ConditionLock::RLock(RLock::new()?))
    }

    /// A condition over `lock`, like Python's `Condition(lock)`. Take the lock through
    /// the condition from then on.
    pub fn with_lock(lock: ConditionLock) -> Result<Condition, SyncError> {
        Ok(Condition {
            lock,
            state: Shared::new(ConditionState {
                holder: AtomicU32::new(0),
                arrivals: AtomicU64::new(0),
                slots: std::array::from_fn(|_| Slot {
                    state: AtomicU32::new(FREE),
                    pid: AtomicU32::new(0),
                    ticket: AtomicU64::new(0),
                }),
            })?,
        })
    }

    /// Takes the condition's lock (once more, for an `RLock` held already), waiting at
    /// most `timeout`: `true` when taken.
    pub fn acquire(&self, timeout: Option<Duration>) -> Result<bool, SyncError> {
        match &self.lock {
            ConditionLock::RLock(rlock) => rlock.acquire(timeout),
            ConditionLock::Lock(lock) => {
                let taken = lock.acquire(timeout)?;
                if taken {
                    self.state.holder.store(current_thread(), Ordering::Relaxed);
                }
                Ok(taken)
            }
        }
    }

    /// Releases the condition's lock once. A plain `Lock` may be released by any
    /// process, as in Python; an `RLock` only by its owner.
    pub fn release(&self) -> Result<(), SyncError> {
        match &self.lock {
            ConditionLock::RLock(rlock) => rlock.release(),
            ConditionLock::Lock(lock) => {
                self.state.holder.store(0, Ordering::Relaxed);
                lock.release()
            }
        }
    }

    /// Whether the calling thread holds the condition's lock.
    pub fn is_mine(&self) -> bool {
        match &self.lock {
            ConditionLock::RLock(rlock) => rlock.is_mine(),
            ConditionLock::Lock(lock) => {
                lock.is_locked() && self.state.holder.load(Ordering::Relaxed) == current_thread()
            }
        }
    }

    /// Releases the lock completely and returns how deep the caller held it, for
    /// [`Condition::reacquire`]. `NotOwner` if the caller does not hold it.
    pub fn release_all(&self) -> Result<u32, SyncError> {
        match &self.lock {
            ConditionLock::RLock(rlock) => rlock.release_all(),
            ConditionLock::Lock(lock) => {
                if !self.is_mine() {
                    return Err(SyncError::NotOwner);
                }
                self.state.holder.store(0, Ordering::Relaxed);
                lock.release()?;
                Ok(1)
            }
        }
    }

    /// Takes the lock back at `depth` (after [`Condition::release_all`]), as long as it
    /// takes: a waiter must hold the lock again when `wait` returns.
    pub fn reacquire(&self, depth: u32) -> Result<(), SyncError> {
        match &self.lock {
            ConditionLock::RLock(rlock) => rlock.reacquire(depth),
            ConditionLock::Lock(lock) => {
                lock.acquire(None)?;
                self.state.holder.store(current_thread(), Ordering::Relaxed);
                Ok(())
            }
        }
    }

    /// How many waits are queued and not yet picked by a notify (it may change at once;
    /// with the lock held, only the holder's own notifies and waits change it).
    pub fn n_waiting(&self) -> usize {
        // Relaxed: a count, not a handshake.
        self.state
            .slots
            .iter()
            .filter(|slot| slot.state.load(Ordering::Relaxed) == WAITING)
            .count()
    }

    // ANCHOR: wait
    /// Releases the lock, sleeps until a notify picks this waiter or `timeout` passes
    /// (`None`, or too long to have a deadline: as long as it takes), then takes the
    /// lock back at the same depth. Returns `true` when a notify picked it, `false` when
    /// the time ran out first.
    ///
    /// Only a notify that comes after this wait released the lock can pick it, and it
    /// does, in arrival order: none is lost, none is taken by a later waiter. When the
    /// time runs out just as a notify picks it, the lock decides: if the notify got the
    /// lock first, the wait returns `true` (the notify went to it and to nobody else);
    /// otherwise the waiter leaves the queue and later notifies go to the others.
    ///
    /// `NotOwner` if the caller does not hold the lock; `TooManyWaiters` when
    /// [`MAX_WAITERS`] waits are in progress already. Either way nothing changes.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool, SyncError> {
        // TODO: queue up (with the lock held), release the lock at every depth, sleep
        // until a notify picks this waiter or the deadline passes (`None` or too long
        // for a deadline: no deadline), and hold the lock again at the same depth when
        // returning, whatever happened. true only when a notify picked it: a notify
        // that came after this wait released the lock, oldest waiter first. A waiter
        // that times out leaves the queue, unless a notify picked it before it got the
        // lock back. NotOwner without the lock; TooManyWaiters when every slot is
        // taken; then nothing changes.
        todo!(
            "wait on the condition ({} waiting) within {timeout:?}",
            self.n_waiting()
        )
    }
    // ANCHOR_END: wait

    // ANCHOR: notify
    /// Wakes the `n` waiters that have waited longest (all of them if fewer wait):
    /// each of them returns `true` from its wait, and no other waiter wakes. A waiter
    /// whose process has died (and been reaped) is skipped and its slot freed.
    /// `NotOwner` if the caller does not hold the lock.
    pub fn notify(&self, n: u32) -> Result<(), SyncError> {
        // TODO: pick the `n` waiters that have waited longest (fewer if fewer wait;
        // skip, and free, the slots of dead processes) and wake exactly those;
        // NotOwner when the caller does not hold the lock.
        todo!("notify {n} of the {} waiting", self.n_waiting())
    }
    // ANCHOR_END: notify

    /// Wakes every waiter. `NotOwner` if the caller does not hold the lock.
    pub fn notify_all(&self) -> Result<(), SyncError> {
        self.notify(u32::MAX)
    }

    /// Waits until `predicate` holds, at most `timeout` in all, like Python's
    /// `wait_for`; returns the predicate's last value. The lock must be held; the
    /// predicate runs with it held.
    pub fn wait_for(
        &self,
        mut predicate: impl FnMut() -> bool,
        timeout: Option<Duration>,
    ) -> Result<bool, SyncError> {
        let deadline = mpkit::deadline_after(timeout);
        loop {
            if predicate() {
                return Ok(true);
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left.is_some_and(|left| left.is_zero()) {
                return Ok(false);
            }
            self.wait(left)?;
        }
    }
}
