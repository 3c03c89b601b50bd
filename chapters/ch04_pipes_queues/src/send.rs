//! Exercise 1: sending a message whole: a length, then the bytes, however the kernel
//! splits the writes.

use std::io::IoSlice;

use crate::error::PipeError;
use crate::pipe::{CanWrite, Connection, HEADER};

impl<M: CanWrite> Connection<M> {
    /// Sends all of `bytes` as one message (Python's `send_bytes(buf)`). An empty
    /// message is a message: the peer receives it as an empty `Vec`.
    pub fn send_bytes(&self, bytes: &[u8]) -> Result<(), PipeError> {
        self.send_bytes_range(bytes, 0, None)
    }

    // ANCHOR: send_bytes_range
    /// Sends `bytes[offset..offset + size]` as one message (all the bytes from
    /// `offset` when `size` is `None`), like Python's `send_bytes(buf, offset, size)`.
    ///
    /// Errors, with nothing written: `OffsetOutOfRange` when `offset` is past the end,
    /// `SizeOutOfRange` when `offset + size` is (even when that sum overflows),
    /// `TooLarge` over [`Connection::max_message`], `Closed` after `close`. Sending to
    /// a peer that has closed every copy of its end is `BrokenPipe`.
    ///
    /// The frame (4 bytes of length, little-endian, then the bytes) is written whole:
    /// the kernel may take it in pieces (a signal, a full pipe), and each write goes on
    /// from where the last one stopped.
    pub fn send_bytes_range(
        &self,
        bytes: &[u8],
        offset: usize,
        size: Option<usize>,
    ) -> Result<(), PipeError> {
        // TODO: refuse a closed end; check the range and the length limit
        // (typed errors, nothing written); then write the length prefix and
        // the bytes, going on after every short write until all are written.
        todo!(
            "send {} bytes from offset {offset} (size {size:?}) as one message",
            bytes.len()
        )
    }
    // ANCHOR_END: send_bytes_range
}
