//! Exercise 2: an object and its lock, Python's `Value` and `synchronized`.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use ch05_sync::{Lock, RLock, SyncError};

use crate::element::Element;
use crate::error::ShmError;
use crate::raw_value::RawValue;

// ANCHOR: lockable
/// What a synchronized object needs of its lock. Chapter 5's [`Lock`] and [`RLock`]
/// have it. Python takes any object with `acquire` and `release` as a `Value`'s lock, and
/// so does this: a lock of your own (one that counts, or logs) works too.
pub trait Lockable: Send + Sync {
    /// Takes the lock, waiting at most `timeout` (`None`: as long as it takes): `true`
    /// when taken, `false` when the time ran out.
    fn acquire(&self, timeout: Option<Duration>) -> Result<bool, SyncError>;
    /// Releases it.
    fn release(&self) -> Result<(), SyncError>;
}
// ANCHOR_END: lockable

impl Lockable for Lock {
    fn acquire(&self, timeout: Option<Duration>) -> Result<bool, SyncError> {
        Lock::acquire(self, timeout)
    }
    fn release(&self) -> Result<(), SyncError> {
        Lock::release(self)
    }
}

impl Lockable for RLock {
    fn acquire(&self, timeout: Option<Duration>) -> Result<bool, SyncError> {
        RLock::acquire(self, timeout)
    }
    fn release(&self) -> Result<(), SyncError> {
        RLock::release(self)
    }
}

/// Python's synchronized wrapper: an object in shared memory (a [`RawValue`], a
/// [`RawArray`](crate::RawArray)) and the lock that guards it. [`Synchronized::lock`]
/// is Python's `with v:`; the object's own methods (`get`, `set`, ...) each take the
/// lock for the one access they make.
pub struct Synchronized<O> {
    obj: O,
    lock: Arc<dyn Lockable>,
}

/// Python's `multiprocessing.Value`: a [`RawValue`] and its lock.
pub type Value<T> = Synchronized<RawValue<T>>;

/// Holds the lock of a [`Synchronized`] object and gives access to the object; releases
/// the lock when dropped. It stays on the thread that took the lock (an `RLock` may only
/// be released by its owner).
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct Guard<'a, O> {
    sync: &'a Synchronized<O>,
    /// Not `Send`: the guard is dropped, and the lock released, where it was taken.
    thread_bound: PhantomData<*const ()>,
}

impl<O> Synchronized<O> {
    /// Python's `synchronized(obj, lock)`: guards `obj` with `lock`. Objects that share
    /// one lock (`Value('i', 0, lock=other.get_lock())`) take a clone of the other's
    /// [`Synchronized::get_lock`].
    pub fn wrap(obj: O, lock: Arc<dyn Lockable>) -> Synchronized<O> {
        Synchronized { obj, lock }
    }

    /// The lock (Python's `get_lock()`).
    pub fn get_lock(&self) -> &Arc<dyn Lockable> {
        &self.lock
    }

    /// The object itself, without the lock (Python's `get_obj()`): every access through
    /// it skips the lock.
    pub fn get_obj(&self) -> &O {
        &self.obj
    }

    // ANCHOR: acquire_release
    /// Takes the lock, waiting at most `timeout` (`None`: as long as it takes): `true`
    /// when taken (Python's `v.acquire()`). Release it with [`Synchronized::release`].
    pub fn acquire(&self, timeout: Option<Duration>) -> Result<bool, SyncError> {
        // SKELETON: // TODO: take the object's lock.
        // SKELETON: todo!("take the lock within {timeout:?}")
        // BEGIN SOLUTION
        self.lock.acquire(timeout)
        // END SOLUTION
    }

    /// Releases the lock (Python's `v.release()`).
    pub fn release(&self) -> Result<(), SyncError> {
        // SKELETON: // TODO: release the object's lock.
        // SKELETON: todo!("release the lock")
        // BEGIN SOLUTION
        self.lock.release()
        // END SOLUTION
    }
    // ANCHOR_END: acquire_release

    // ANCHOR: lock
    /// Takes the lock, as long as it takes, and returns a guard that gives access to
    /// the object and releases the lock when dropped: Python's `with v:`.
    pub fn lock(&self) -> Result<Guard<'_, O>, SyncError> {
        // SKELETON: // TODO: a guard, once the lock is held.
        // SKELETON: todo!("take the lock, and return a guard")
        // BEGIN SOLUTION
        self.acquire(None)?;
        Ok(self.guard())
        // END SOLUTION
    }

    /// Takes the lock within `timeout`: a guard, or `None` when the time ran out.
    pub fn lock_timeout(&self, timeout: Duration) -> Result<Option<Guard<'_, O>>, SyncError> {
        // SKELETON: // TODO: a guard if the lock is taken within `timeout`, `None` if not.
        // SKELETON: todo!("take the lock within {timeout:?}, and return a guard")
        // BEGIN SOLUTION
        Ok(self.acquire(Some(timeout))?.then(|| self.guard()))
        // END SOLUTION
    }
    // ANCHOR_END: lock

    /// A guard for a lock this thread has just taken.
    fn guard(&self) -> Guard<'_, O> {
        Guard {
            sync: self,
            thread_bound: PhantomData,
        }
    }
}

impl<O> Deref for Guard<'_, O> {
    type Target = O;

    fn deref(&self) -> &O {
        &self.sync.obj
    }
}

// ANCHOR: drop
impl<O> Drop for Guard<'_, O> {
    fn drop(&mut self) {
        // SKELETON: // TODO: release the lock this guard holds.
        // SKELETON: todo!("release the lock on the way out of `with`")
        // BEGIN SOLUTION
        // The guard's lock is held by this thread: a failure here would mean another
        // process released it behind the guard's back (a plain `Lock` allows that).
        let _ = self.sync.lock.release();
        // END SOLUTION
    }
}
// ANCHOR_END: drop

// ANCHOR: value
impl<T: Element> Value<T> {
    /// Python's `Value(typecode, value)`: a new value in shared memory, guarded by a
    /// new `RLock` (so that `get` inside `with v:` does not deadlock). For another lock,
    /// [`Synchronized::wrap`] a [`RawValue`]; for none, keep the `RawValue`.
    pub fn new(value: T) -> Result<Value<T>, ShmError> {
        // SKELETON: // TODO: a RawValue holding `value`, guarded by a new RLock.
        // SKELETON: todo!("a Value holding {value:?}, with an RLock")
        // BEGIN SOLUTION
        Ok(Synchronized::wrap(
            RawValue::new(value)?,
            Arc::new(RLock::new()?),
        ))
        // END SOLUTION
    }

    /// Reads the value under the lock: Python's `v.value`. Inside `with v:`, read
    /// through the guard instead (or have an `RLock`).
    pub fn get(&self) -> Result<T, SyncError> {
        // SKELETON: // TODO: read the value while holding the lock.
        // SKELETON: todo!("read the value under the lock")
        // BEGIN SOLUTION
        Ok(self.lock()?.get())
        // END SOLUTION
    }

    /// Writes the value under the lock: Python's `v.value = value`. `v.set(v.get()? +
    /// 1)` still loses updates: the lock is released between the two.
    pub fn set(&self, value: T) -> Result<(), SyncError> {
        // SKELETON: // TODO: write `value` while holding the lock.
        // SKELETON: todo!("write {value:?} under the lock")
        // BEGIN SOLUTION
        self.lock()?.set(value);
        Ok(())
        // END SOLUTION
    }
}
// ANCHOR_END: value

/// Python's `repr`: `<Synchronized wrapper for c_int(7)>`.
impl<O: fmt::Debug> fmt::Debug for Synchronized<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<Synchronized wrapper for {:?}>", self.obj)
    }
}
