//! Exercise 1: one number in shared memory, Python's `RawValue`.

use std::fmt;

use ch05_sync::Shared;

use crate::element::{Element, Slot};
use crate::error::ShmError;

/// Python's `multiprocessing.RawValue(typecode, value)` (and `Value(..., lock=False)`):
/// a `T` in shared memory, read and written by this process and every process forked
/// from it afterwards. It has no lock: `v.set(v.get() + 1)` in two processes at once
/// loses updates, as `v.value += 1` does in Python. [`RawValue::update`] does not.
pub struct RawValue<T: Element> {
    slot: Shared<Slot<T>>,
}

impl<T: Element> RawValue<T> {
    // ANCHOR: new
    /// A new value in shared memory, holding `value`.
    pub fn new(value: T) -> Result<RawValue<T>, ShmError> {
        // SKELETON: // TODO: put a slot holding `value` in shared memory.
        // SKELETON: todo!("a RawValue holding {value:?}, in shared memory")
        // BEGIN SOLUTION
        Ok(RawValue {
            slot: Shared::new(Slot::new(value))?,
        })
        // END SOLUTION
    }
    // ANCHOR_END: new

    // ANCHOR: get_set
    /// Reads it: Python's `v.value`. One atomic load, whatever other processes do.
    pub fn get(&self) -> T {
        // SKELETON: // TODO: read the value.
        // SKELETON: todo!("read the value at {:p}", self.as_ptr())
        // BEGIN SOLUTION
        self.slot.load()
        // END SOLUTION
    }

    /// Writes it: Python's `v.value = value`. One atomic store.
    pub fn set(&self, value: T) {
        // SKELETON: // TODO: write `value`.
        // SKELETON: todo!("write {value:?} at {:p}", self.as_ptr())
        // BEGIN SOLUTION
        self.slot.store(value)
        // END SOLUTION
    }
    // ANCHOR_END: get_set

    // ANCHOR: update
    /// Replaces the value `v` by `f(v)` in one atomic step, with no lock, and returns
    /// the `v` it replaced. If another process changes the value between the read and
    /// the write, nothing is written and `f` runs again on the new value: no update is
    /// ever lost. Python has nothing like it; `f` may run several times, so it should
    /// only compute.
    pub fn update(&self, f: impl Fn(T) -> T) -> T {
        // SKELETON: // TODO: write f(current) only if the value is still `current`, and try
        // SKELETON: // again from the value found otherwise; return the value replaced.
        // SKELETON: todo!("replace the value v at {:p} by f(v), atomically", self.as_ptr())
        // BEGIN SOLUTION
        let mut current = self.slot.load();
        loop {
            // On failure the slot hands back what it holds: no second load needed.
            match self.slot.compare_exchange(current, f(current)) {
                Ok(replaced) => return replaced,
                Err(found) => current = found,
            }
        }
        // END SOLUTION
    }
    // ANCHOR_END: update

    /// Where the value lives in this process's address space (Python's
    /// `ctypes.addressof`). Another process has the same pages at this address only if
    /// it was forked after the value was created.
    pub fn as_ptr(&self) -> *const Slot<T> {
        self.slot.as_ptr()
    }
}

/// Python's `repr`: `c_int(7)`.
impl<T: Element> fmt::Debug for RawValue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Read straight from the slot: printing must work before exercise 1 is done.
        write!(f, "{}({})", T::CTYPE, self.slot.load().py_repr())
    }
}
