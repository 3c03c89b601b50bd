//! Exercise 6: lock granularity, or how much one hold of the lock covers.
//!
//! The notebook has four processes each write their own number into every element of
//! one array. With no lock, the array ends up a mix. Locking each element still leaves
//! a mix: each write is protected, but the processes take turns element by element.
//! Holding the lock for the whole loop leaves one process's number everywhere, that of
//! the last process to get the lock. The same goes for a read followed by a write: the
//! lock must cover both, or another process's write lands in between and is lost.

use crate::array::Array;
use crate::element::{CChar, Element};
use crate::error::ShmError;
use crate::raw_array::RawArray;

// ANCHOR: replace
/// Writes `n` into every element, in order, with no lock at all.
pub fn replace_unlocked<T: Element>(arr: &RawArray<T>, n: T) -> Result<(), ShmError> {
    // SKELETON: // TODO: write `n` into every element.
    // SKELETON: todo!("write {n:?} into all {} elements, with no lock", arr.len())
    // BEGIN SOLUTION
    for index in 0..arr.len() {
        arr.set(index, n)?;
    }
    Ok(())
    // END SOLUTION
}

/// Writes `n` into every element, in order, taking the array's lock for each element
/// and releasing it before the next.
pub fn replace_locking_each<T: Element>(arr: &Array<T>, n: T) -> Result<(), ShmError> {
    // SKELETON: // TODO: write `n` into every element, each write under the lock.
    // SKELETON: todo!("write {n:?} into all {} elements, locking each", arr.len())
    // BEGIN SOLUTION
    for index in 0..arr.len() {
        arr.set(index, n)?;
    }
    Ok(())
    // END SOLUTION
}

/// Writes `n` into every element, in order, holding the array's lock once for the
/// whole loop. Before it takes the lock, it maps the array's pages into this process:
/// that needs no lock, so it is not made to wait for one.
pub fn replace_locking_all<T: Element>(arr: &Array<T>, n: T) -> Result<(), ShmError> {
    // SKELETON: // TODO: map the array's pages first, then write `n` into every element,
    // SKELETON: // with one hold of the lock for all.
    // SKELETON: todo!(
    // SKELETON:     "write {n:?} into all {} elements under one lock, the pages mapped before it is taken",
    // SKELETON:     arr.len()
    // SKELETON: )
    // BEGIN SOLUTION
    // Mapping the pages needs no lock: done first, it runs alongside the other
    // processes' loops instead of inside this one's turn.
    arr.get_obj().populate()?;
    let guard = arr.lock()?;
    for index in 0..guard.len() {
        guard.set(index, n)?;
    }
    Ok(())
    // END SOLUTION
}
// ANCHOR_END: replace

// ANCHOR: append
/// Appends `byte` to the array's value (Python's `arr.value += bytes([byte])`), holding
/// the lock from the read to the write, so that no other process's append is lost.
/// `TooLong` when the value already fills the array (nothing changes).
pub fn append_byte(arr: &Array<CChar>, byte: u8) -> Result<(), ShmError> {
    // SKELETON: // TODO: read the value, add `byte`, write it back: all under one hold of
    // SKELETON: // the lock.
    // SKELETON: todo!("append {byte:#04x} to the value of {} bytes, under the lock", arr.len())
    // BEGIN SOLUTION
    let guard = arr.lock()?;
    let mut value = guard.value();
    value.push(byte);
    guard.set_value(&value)
    // END SOLUTION
}
// ANCHOR_END: append
