//! Chapter 6, Shared ctypes objects: shared values and arrays, lost updates, lock
//! granularity.
//!
//! Python's `multiprocessing.Value` and `Array` put a C number, or a C array, in memory
//! that every process forked afterwards shares, and wrap it with a lock. This crate does
//! the same on chapter 5's shared memory and locks, without undefined behaviour: memory
//! other processes write is only ever reached through atomics.
//!
//! - [`element`]: given, the scalar types (Python's typecodes) and their atomic slots.
//! - [`error`]: given, what can go wrong.
//! - [`region`]: given, a run of elements in shared memory.
//! - [`raw_value`]: exercise 1, `RawValue`: one number in shared memory.
//! - [`synchronized`]: exercise 2, `Synchronized` and `Value`: an object and its lock.
//! - [`raw_array`]: exercise 3, `RawArray`: many numbers in shared memory.
//! - [`array`]: exercise 4, `Array`: every access under the lock.
//! - [`chars`]: exercise 5, char arrays: `value` up to the first NUL, and `raw`.
//! - [`granularity`]: exercise 6, three ways to fill an array from many processes.

pub mod array;
pub mod chars;
pub mod element;
pub mod error;
pub mod granularity;
pub mod raw_array;
pub mod raw_value;
pub mod region;
pub mod synchronized;

pub use array::Array;
pub use ch05_sync::{Lock, RLock, Shared, ShmSafe, SyncError};
pub use element::{py_bytes, CChar, Element, Slot};
pub use error::ShmError;
pub use raw_array::{Iter, RawArray};
pub use raw_value::RawValue;
pub use region::Region;
pub use synchronized::{Guard, Lockable, Synchronized, Value};
