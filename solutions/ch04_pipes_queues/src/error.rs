//! Given: what can go wrong on a connection, and on a queue.

use std::fmt;
use std::io;

use ch05_sync::SyncError;
use nix::errno::Errno;

/// What can go wrong on a [`Connection`](crate::Connection). Python raises `EOFError`,
/// `BrokenPipeError`, `OSError`, `ValueError` or `BufferTooShort` for the same cases.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PipeError {
    /// Every copy of the other end is closed and no message is left: Python's
    /// `EOFError`.
    Eof,
    /// The stream ended inside a message: `got` of its `expected` bytes arrived (the
    /// 4-byte length counts). The peer died, or closed, in the middle of sending.
    Truncated {
        /// Bytes of the frame that arrived, length prefix included.
        got: usize,
        /// Bytes the frame should have had, length prefix included (4 while the length
        /// itself was cut short).
        expected: usize,
    },
    /// Nobody is left to read: every copy of the other end is closed (Python's
    /// `BrokenPipeError`). Nothing more can be sent.
    BrokenPipe,
    /// This end was closed with `close` (Python's `OSError: handle is closed`).
    Closed,
    /// A message of `len` bytes is longer than the limit `max`. Sending: nothing was
    /// written. Receiving: nothing was allocated or consumed, and the same error comes
    /// back until the limit is raised.
    TooLarge {
        /// The message's length, in bytes, not counting the length prefix.
        len: usize,
        /// The connection's limit.
        max: usize,
    },
    /// The buffer given to `recv_bytes_into` is shorter than the message, which comes
    /// whole with the error (Python's `BufferTooShort`, whose `args[0]` is the message).
    BufferTooShort(Vec<u8>),
    /// `send_bytes_range`: `offset` is past the end of a buffer of `len` bytes.
    OffsetOutOfRange {
        /// The offset asked for.
        offset: usize,
        /// The buffer's length.
        len: usize,
    },
    /// `send_bytes_range`: `offset + size` is past the end of a buffer of `len` bytes.
    SizeOutOfRange {
        /// The offset asked for.
        offset: usize,
        /// The size asked for.
        size: usize,
        /// The buffer's length.
        len: usize,
    },
    /// A value that postcard cannot encode (its `Serialize` failed); nothing was sent.
    Encode(String),
    /// A message whose bytes are not a value of the type asked for.
    Decode(String),
    /// A message that decoded to a value with `extra` bytes left over: one frame must be
    /// exactly one message.
    TrailingBytes {
        /// The bytes left after the value.
        extra: usize,
    },
    /// A system call failed.
    Os(Errno),
}

impl fmt::Display for PipeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PipeError::Eof => write!(f, "end of file: the other end is closed"),
            PipeError::Truncated { got, expected } => write!(
                f,
                "the stream ended inside a message ({got} of {expected} bytes)"
            ),
            PipeError::BrokenPipe => write!(f, "broken pipe: nobody is left to read"),
            PipeError::Closed => write!(f, "the connection is closed"),
            PipeError::TooLarge { len, max } => {
                write!(f, "a message of {len} bytes is over the limit of {max}")
            }
            PipeError::BufferTooShort(message) => write!(
                f,
                "the buffer is too short for a message of {} bytes",
                message.len()
            ),
            PipeError::OffsetOutOfRange { offset, len } => {
                write!(f, "offset {offset} is past a buffer of {len} bytes")
            }
            PipeError::SizeOutOfRange { offset, size, len } => write!(
                f,
                "offset {offset} + size {size} is past a buffer of {len} bytes"
            ),
            PipeError::Encode(why) => write!(f, "the message does not encode: {why}"),
            PipeError::Decode(why) => write!(f, "the message does not decode: {why}"),
            PipeError::TrailingBytes { extra } => {
                write!(f, "{extra} bytes left after the message")
            }
            PipeError::Os(errno) => write!(f, "system call failed: {errno}"),
        }
    }
}

impl std::error::Error for PipeError {}

impl From<Errno> for PipeError {
    fn from(errno: Errno) -> PipeError {
        match errno {
            Errno::EPIPE => PipeError::BrokenPipe,
            errno => PipeError::Os(errno),
        }
    }
}

impl From<io::Error> for PipeError {
    fn from(err: io::Error) -> PipeError {
        Errno::from_raw(err.raw_os_error().unwrap_or(libc::EIO)).into()
    }
}

/// What can go wrong on a queue ([`Queue`](crate::Queue),
/// [`JoinableQueue`](crate::JoinableQueue), [`RingQueue`](crate::RingQueue)). Python
/// raises `queue.Full`, `queue.Empty` or `ValueError` for the same cases.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueError {
    /// `put` found no room before its timeout: the queue holds `maxsize` items, or its
    /// pipe or ring is full. Nothing was put.
    Full,
    /// `get` found no item before its timeout.
    Empty,
    /// This process closed its handle on the queue with `close`.
    Closed,
    /// A process died in the middle of moving an item (a frame was half written or
    /// half read), so the bytes in the queue can no longer be trusted. Every later
    /// `put` and `get` in every process fails with this error.
    Broken,
    /// An item of `len` bytes (encoded) is over the queue's limit `max`. Nothing was
    /// put.
    TooLarge {
        /// The item's encoded length.
        len: usize,
        /// The queue's limit.
        max: usize,
    },
    /// `task_done` was called more often than items were put; nothing changed
    /// (Python's `ValueError: task_done() called too many times`).
    TaskDoneTooManyTimes,
    /// An item that does not encode, or whose bytes are not a value of the queue's
    /// type.
    Malformed(PipeError),
    /// A system call failed.
    Os(Errno),
}

impl fmt::Display for QueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueError::Full => write!(f, "the queue is full"),
            QueueError::Empty => write!(f, "the queue is empty"),
            QueueError::Closed => write!(f, "the queue is closed"),
            QueueError::Broken => write!(
                f,
                "the queue is broken: a process died in the middle of an item"
            ),
            QueueError::TooLarge { len, max } => {
                write!(f, "an item of {len} bytes is over the limit of {max}")
            }
            QueueError::TaskDoneTooManyTimes => write!(f, "task_done() called too many times"),
            QueueError::Malformed(why) => write!(f, "a malformed item: {why}"),
            QueueError::Os(errno) => write!(f, "system call failed: {errno}"),
        }
    }
}

impl std::error::Error for QueueError {}

impl From<Errno> for QueueError {
    fn from(errno: Errno) -> QueueError {
        QueueError::Os(errno)
    }
}

impl From<io::Error> for QueueError {
    fn from(err: io::Error) -> QueueError {
        QueueError::Os(Errno::from_raw(err.raw_os_error().unwrap_or(libc::EIO)))
    }
}

impl From<SyncError> for QueueError {
    fn from(err: SyncError) -> QueueError {
        match err {
            SyncError::Os(errno) => QueueError::Os(errno),
            // The queues use chapter 5's primitives only in ways that cannot misuse them.
            _ => QueueError::Os(Errno::EINVAL),
        }
    }
}

impl From<PipeError> for QueueError {
    fn from(err: PipeError) -> QueueError {
        match err {
            PipeError::TooLarge { len, max } => QueueError::TooLarge { len, max },
            PipeError::Os(errno) => QueueError::Os(errno),
            PipeError::Closed | PipeError::BrokenPipe => QueueError::Closed,
            other => QueueError::Malformed(other),
        }
    }
}
