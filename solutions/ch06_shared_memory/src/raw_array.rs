//! Exercise 3: many numbers in shared memory, Python's `RawArray`.

use std::fmt;
use std::ops::{Bound, Range, RangeBounds};

use crate::element::{Element, Slot};
use crate::error::ShmError;
use crate::region::Region;

/// Python's `multiprocessing.RawArray(typecode, size_or_initializer)` (and
/// `Array(..., lock=False)`): a fixed number of `T`s in shared memory, read and written
/// by this process and every process forked from it afterwards, with no lock.
pub struct RawArray<T: Element> {
    region: Region<T>,
}

impl<T: Element> RawArray<T> {
    // ANCHOR: new
    /// Python's `RawArray(typecode, len)`: `len` zeros in shared memory.
    pub fn new(len: usize) -> Result<RawArray<T>, ShmError> {
        // SKELETON: // TODO: `len` elements in shared memory, every one zero.
        // SKELETON: todo!("a RawArray of {len} zeros, in shared memory")
        // BEGIN SOLUTION
        Ok(RawArray {
            region: Region::zeroed(len)?,
        })
        // END SOLUTION
    }

    /// Python's `RawArray(typecode, values)`: a copy of `values` in shared memory.
    pub fn from_values(values: &[T]) -> Result<RawArray<T>, ShmError> {
        // SKELETON: // TODO: as many elements as `values`, holding them in order.
        // SKELETON: todo!("a RawArray holding {values:?}, in shared memory")
        // BEGIN SOLUTION
        let array = RawArray::new(values.len())?;
        for (slot, &value) in array.region.slots().iter().zip(values) {
            slot.store(value);
        }
        Ok(array)
        // END SOLUTION
    }
    // ANCHOR_END: new

    /// How many elements it holds: Python's `len(arr)`.
    pub fn len(&self) -> usize {
        self.region.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.region.is_empty()
    }

    // ANCHOR: get_set
    /// Python's `arr[index]`; `IndexOutOfRange` past the end.
    pub fn get(&self, index: usize) -> Result<T, ShmError> {
        // SKELETON: // TODO: the element at `index`, or `IndexOutOfRange`.
        // SKELETON: todo!("read element {index} of {}", self.len())
        // BEGIN SOLUTION
        Ok(self.slot(index)?.load())
        // END SOLUTION
    }

    /// Python's `arr[index] = value`; `IndexOutOfRange` past the end (and nothing is
    /// written).
    pub fn set(&self, index: usize, value: T) -> Result<(), ShmError> {
        // SKELETON: // TODO: write `value` at `index`, or `IndexOutOfRange`.
        // SKELETON: todo!("write {value:?} at {index} of {}", self.len())
        // BEGIN SOLUTION
        self.slot(index)?.store(value);
        Ok(())
        // END SOLUTION
    }
    // ANCHOR_END: get_set

    // ANCHOR: read_write
    /// A copy of the elements in `range`: Python's `arr[start:end]` (`arr.read(..)` is
    /// `arr[:]`). `RangeOutOfBounds` unless the range lies within the array.
    pub fn read(&self, range: impl RangeBounds<usize>) -> Result<Vec<T>, ShmError> {
        let range = self.bounds(range)?;
        // SKELETON: // TODO: the elements of `range`, in order.
        // SKELETON: todo!("copy out elements {range:?} of {}", self.len())
        // BEGIN SOLUTION
        Ok(self.region.slots()[range].iter().map(Slot::load).collect())
        // END SOLUTION
    }

    /// Writes `values` into `range`: Python's `arr[start:end] = values`.
    /// `RangeOutOfBounds` unless the range lies within the array; `LengthMismatch`
    /// unless `values` has the range's length. On an error nothing is written.
    pub fn write(&self, range: impl RangeBounds<usize>, values: &[T]) -> Result<(), ShmError> {
        let range = self.bounds(range)?;
        // SKELETON: // TODO: write `values` over `range`, or `LengthMismatch` (writing nothing).
        // SKELETON: todo!("write {values:?} over elements {range:?} of {}", self.len())
        // BEGIN SOLUTION
        if values.len() != range.len() {
            return Err(ShmError::LengthMismatch {
                expected: range.len(),
                got: values.len(),
            });
        }
        for (slot, &value) in self.region.slots()[range].iter().zip(values) {
            slot.store(value);
        }
        Ok(())
        // END SOLUTION
    }
    // ANCHOR_END: read_write

    // ANCHOR: iter
    /// The elements in order, each read as the iteration reaches it (Python's
    /// `for x in arr`): other processes' writes may land in between.
    pub fn iter(&self) -> Iter<'_, T> {
        // SKELETON: // TODO: an iterator over the elements' slots.
        // SKELETON: todo!("iterate over {} elements", self.len())
        // BEGIN SOLUTION
        Iter {
            slots: self.region.slots().iter(),
        }
        // END SOLUTION
    }
    // ANCHOR_END: iter

    /// Every element, in order: Python's `arr[:]`.
    pub fn to_vec(&self) -> Vec<T> {
        self.region.slots().iter().map(Slot::load).collect()
    }

    /// Where the elements start in this process (Python's `ctypes.addressof`).
    pub fn as_ptr(&self) -> *const Slot<T> {
        self.region.as_ptr()
    }

    /// Maps every page of the array into this process now, in one system call, instead
    /// of one page fault at a time on first touch (see [`Region::populate`]). Worth it
    /// before a long loop over the array, and outside any lock.
    pub fn populate(&self) -> Result<(), ShmError> {
        Ok(self.region.populate()?)
    }

    /// The slot at `index`, or `IndexOutOfRange`.
    fn slot(&self, index: usize) -> Result<&Slot<T>, ShmError> {
        self.region
            .slots()
            .get(index)
            .ok_or_else(|| ShmError::IndexOutOfRange {
                index,
                len: self.len(),
            })
    }

    /// `range` as start..end, if it lies within the array.
    fn bounds(&self, range: impl RangeBounds<usize>) -> Result<Range<usize>, ShmError> {
        let len = self.len();
        let start = match range.start_bound() {
            Bound::Included(&start) => start,
            Bound::Excluded(&start) => start.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&end) => end.saturating_add(1),
            Bound::Excluded(&end) => end,
            Bound::Unbounded => len,
        };
        if start <= end && end <= len {
            Ok(start..end)
        } else {
            Err(ShmError::RangeOutOfBounds { start, end, len })
        }
    }
}

/// The elements of a [`RawArray`], read one by one.
pub struct Iter<'a, T: Element> {
    slots: std::slice::Iter<'a, Slot<T>>,
}

impl<T: Element> Iterator for Iter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.slots.next().map(Slot::load)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.slots.size_hint()
    }
}

impl<T: Element> ExactSizeIterator for Iter<'_, T> {}

impl<'a, T: Element> IntoIterator for &'a RawArray<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

/// `c_int_Array_3([1, 2, 3])`, after Python's type name for it.
impl<T: Element> fmt::Debug for RawArray<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Straight from the slots: printing must work before exercise 3 is done.
        let items: Vec<String> = self
            .region
            .slots()
            .iter()
            .map(|slot| slot.load().py_repr())
            .collect();
        write!(
            f,
            "{}_Array_{}([{}])",
            T::CTYPE,
            self.len(),
            items.join(", ")
        )
    }
}
