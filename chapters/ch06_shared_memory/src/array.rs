//! Exercise 4: every access under the lock, Python's `Array`.

use std::ops::RangeBounds;
use std::sync::Arc;

use ch05_sync::RLock;

use crate::element::Element;
use crate::error::ShmError;
use crate::raw_array::RawArray;
use crate::synchronized::Synchronized;

/// Python's `multiprocessing.Array`: a [`RawArray`] and its lock. Each method takes the
/// lock for the one access it makes, as Python's `arr[i]` and `arr[i] = x` do; a loop of
/// them takes it once per element. Under [`Synchronized::lock`] (Python's
/// `with arr.get_lock():`), use the guard's `RawArray` methods instead.
pub type Array<T> = Synchronized<RawArray<T>>;

// ANCHOR: array
impl<T: Element> Array<T> {
    /// Python's `Array(typecode, len)`: `len` zeros in shared memory, guarded by a new
    /// `RLock`. For another lock, [`Synchronized::wrap`] a [`RawArray`].
    pub fn new(len: usize) -> Result<Array<T>, ShmError> {
        // TODO: a RawArray of `len` zeros, guarded by a new RLock.
        todo!("an Array of {len} zeros, with an RLock")
    }

    /// Python's `Array(typecode, values)`: a copy of `values`, guarded by a new `RLock`.
    pub fn from_values(values: &[T]) -> Result<Array<T>, ShmError> {
        // TODO: a RawArray holding `values`, guarded by a new RLock.
        todo!("an Array holding {values:?}, with an RLock")
    }

    /// How many elements it holds (no lock: the length never changes).
    pub fn len(&self) -> usize {
        self.get_obj().len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.get_obj().is_empty()
    }

    /// `arr[index]` under the lock.
    pub fn get(&self, index: usize) -> Result<T, ShmError> {
        // TODO: read the element at `index` while holding the lock.
        todo!("read element {index} under the lock")
    }

    /// `arr[index] = value` under the lock.
    pub fn set(&self, index: usize, value: T) -> Result<(), ShmError> {
        // TODO: write `value` at `index` while holding the lock.
        todo!("write {value:?} at {index} under the lock")
    }

    /// `arr[start:end]` under the lock: no other process writes while it is copied.
    pub fn read(&self, range: impl RangeBounds<usize>) -> Result<Vec<T>, ShmError> {
        // TODO: copy out `range` while holding the lock.
        todo!(
            "copy out elements {:?}..{:?} under the lock",
            range.start_bound(),
            range.end_bound()
        )
    }

    /// `arr[start:end] = values` under the lock: no other process sees half of it.
    pub fn write(&self, range: impl RangeBounds<usize>, values: &[T]) -> Result<(), ShmError> {
        // TODO: write `values` over `range` while holding the lock.
        todo!(
            "write {values:?} over {:?}..{:?} under the lock",
            range.start_bound(),
            range.end_bound()
        )
    }

    /// Every element, copied under one hold of the lock: `arr[:]`.
    pub fn to_vec(&self) -> Result<Vec<T>, ShmError> {
        // TODO: every element, copied while holding the lock once.
        todo!("copy out all {} elements under the lock", self.len())
    }
}
// ANCHOR_END: array
