//! Exercise 5: char arrays, Python's `value` (up to the first NUL) and `raw`.
//!
//! An array of C `char`s is a C string buffer: `value` is the string it holds, which
//! ends at the first NUL byte, and `raw` is every byte. Python (ctypes) writes a `value`
//! and a NUL after it when there is room, and leaves the bytes after that NUL alone.

use std::sync::Arc;

use ch05_sync::RLock;

use crate::array::Array;
use crate::element::CChar;
use crate::error::ShmError;
use crate::raw_array::RawArray;
use crate::synchronized::Synchronized;

impl RawArray<CChar> {
    /// Python's `RawArray('c', bytes)`: a copy of `bytes`, with no NUL added.
    pub fn from_bytes(bytes: &[u8]) -> Result<RawArray<CChar>, ShmError> {
        let chars: Vec<CChar> = bytes.iter().copied().map(CChar).collect();
        RawArray::from_values(&chars)
    }

    // ANCHOR: value
    /// Python's `arr.value`: the bytes before the first NUL, or every byte if there is
    /// no NUL.
    pub fn value(&self) -> Vec<u8> {
        // TODO: the bytes up to (not including) the first NUL.
        todo!("the bytes before the first NUL, of {}", self.len())
    }

    /// Python's `arr.value = bytes`: writes `bytes`, then a NUL if there is room; the
    /// bytes after that NUL stay as they were. Exactly `len` bytes fit, with no NUL;
    /// more are `TooLong`, and nothing is written.
    pub fn set_value(&self, bytes: &[u8]) -> Result<(), ShmError> {
        // TODO: `TooLong` if `bytes` does not fit; else write it, and a NUL
        // after it if there is room.
        todo!("store the string {bytes:?} in {} bytes", self.len())
    }
    // ANCHOR_END: value

    // ANCHOR: raw
    /// Python's `arr.raw`: every byte, NULs included.
    pub fn raw(&self) -> Vec<u8> {
        // TODO: every byte.
        todo!("all {} bytes", self.len())
    }

    /// Python's `arr.raw = bytes`: writes `bytes` at the start and nothing else (no
    /// NUL). More than `len` bytes are `TooLong`, and nothing is written.
    pub fn set_raw(&self, bytes: &[u8]) -> Result<(), ShmError> {
        // TODO: `TooLong` if `bytes` does not fit; else write it at the start.
        todo!("store {bytes:?} at the start of {} bytes", self.len())
    }
    // ANCHOR_END: raw
}

// ANCHOR: locked
impl Array<CChar> {
    /// Python's `Array('c', bytes)`: a copy of `bytes`, guarded by a new `RLock`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Array<CChar>, ShmError> {
        Ok(Synchronized::wrap(
            RawArray::from_bytes(bytes)?,
            Arc::new(RLock::new()?),
        ))
    }

    /// `arr.value` under the lock.
    pub fn value(&self) -> Result<Vec<u8>, ShmError> {
        // TODO: the value, read while holding the lock.
        todo!("the value, under the lock")
    }

    /// `arr.value = bytes` under the lock.
    pub fn set_value(&self, bytes: &[u8]) -> Result<(), ShmError> {
        // TODO: store the value while holding the lock.
        todo!("store the string {bytes:?}, under the lock")
    }

    /// `arr.raw` under the lock.
    pub fn raw(&self) -> Result<Vec<u8>, ShmError> {
        // TODO: every byte, read while holding the lock.
        todo!("all bytes, under the lock")
    }

    /// `arr.raw = bytes` under the lock.
    pub fn set_raw(&self, bytes: &[u8]) -> Result<(), ShmError> {
        // TODO: store `bytes` at the start while holding the lock.
        todo!("store {bytes:?} at the start, under the lock")
    }
}
// ANCHOR_END: locked
