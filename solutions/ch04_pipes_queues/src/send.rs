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
        // SKELETON: // TODO: refuse a closed end; check the range and the length limit
        // SKELETON: // (typed errors, nothing written); then write the length prefix and
        // SKELETON: // the bytes, going on after every short write until all are written.
        // SKELETON: todo!(
        // SKELETON:     "send {} bytes from offset {offset} (size {size:?}) as one message",
        // SKELETON:     bytes.len()
        // SKELETON: )
        // BEGIN SOLUTION
        self.fd()?;
        let len = bytes.len();
        if offset > len {
            return Err(PipeError::OffsetOutOfRange { offset, len });
        }
        let size = size.unwrap_or(len - offset);
        let end = offset
            .checked_add(size)
            .filter(|&end| end <= len)
            .ok_or(PipeError::SizeOutOfRange { offset, size, len })?;
        let body = &bytes[offset..end];
        if body.len() > self.max_message {
            return Err(PipeError::TooLarge {
                len: body.len(),
                max: self.max_message,
            });
        }
        let header = (body.len() as u32).to_le_bytes();
        let mut slices = [IoSlice::new(&header), IoSlice::new(body)];
        let mut parts = &mut slices[..];
        let mut left = HEADER + body.len();
        while left > 0 {
            let n = self.write_some(parts)?;
            if n == 0 {
                return Err(PipeError::Os(nix::errno::Errno::EIO));
            }
            left -= n;
            IoSlice::advance_slices(&mut parts, n);
        }
        Ok(())
        // END SOLUTION
    }
    // ANCHOR_END: send_bytes_range
}
