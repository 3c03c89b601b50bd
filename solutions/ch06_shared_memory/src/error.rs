//! Given: what can go wrong with a shared value or array.

use std::fmt;

use ch05_sync::SyncError;
use nix::errno::Errno;

/// A misuse of a shared value or array, or a failure underneath it. Python raises
/// `IndexError` or `ValueError` for the same misuses; like Python, a refused write
/// changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShmError {
    /// An index past the end (Python: `IndexError: invalid index`).
    IndexOutOfRange {
        /// The index asked for.
        index: usize,
        /// The array's length.
        len: usize,
    },
    /// A range that does not lie within the array (Python would clamp the slice).
    RangeOutOfBounds {
        /// Where the range starts.
        start: usize,
        /// Where it ends (excluded).
        end: usize,
        /// The array's length.
        len: usize,
    },
    /// Values for a range of another length (Python: `ValueError: Can only assign
    /// sequence of same size`).
    LengthMismatch {
        /// The range's length.
        expected: usize,
        /// How many values came.
        got: usize,
    },
    /// Bytes that do not fit in a char array (Python: `ValueError: byte string too
    /// long`).
    TooLong {
        /// How many bytes came.
        len: usize,
        /// The array's length.
        capacity: usize,
    },
    /// Taking or releasing the lock failed.
    Sync(SyncError),
    /// Mapping the shared memory failed.
    Os(Errno),
}

impl fmt::Display for ShmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShmError::IndexOutOfRange { index, len } => {
                write!(f, "invalid index {index} (length {len})")
            }
            ShmError::RangeOutOfBounds { start, end, len } => {
                write!(f, "range {start}..{end} out of bounds (length {len})")
            }
            ShmError::LengthMismatch { expected, got } => write!(
                f,
                "can only assign a sequence of the same size (expected {expected}, got {got})"
            ),
            ShmError::TooLong { len, capacity } => {
                write!(f, "byte string too long ({len} bytes for {capacity})")
            }
            ShmError::Sync(err) => write!(f, "{err}"),
            ShmError::Os(errno) => write!(f, "mapping shared memory failed: {errno}"),
        }
    }
}

impl std::error::Error for ShmError {}

impl From<SyncError> for ShmError {
    fn from(err: SyncError) -> ShmError {
        ShmError::Sync(err)
    }
}

impl From<std::io::Error> for ShmError {
    fn from(err: std::io::Error) -> ShmError {
        ShmError::Os(Errno::from_raw(
            err.raw_os_error().unwrap_or(Errno::EIO as i32),
        ))
    }
}
