//! Exercise 2: receiving a message whole: read until the length is known, refuse a
//! length over the limit before allocating, then read until the bytes are all there.

use std::os::fd::AsFd;

use crate::error::PipeError;
use crate::pipe::{read_append, CanRead, Connection, HEADER};

impl<M: CanRead> Connection<M> {
    // ANCHOR: recv_bytes
    /// Receives the next message whole (Python's `recv_bytes()`), waiting as long as it
    /// takes. Messages arrive in the order they were sent, each exactly as sent; an
    /// empty message is an empty `Vec`.
    ///
    /// Errors: `Eof` when every copy of the other end is closed and no byte of another
    /// message is left; `Truncated` when the stream ends inside a message; `TooLarge`
    /// when the length prefix is over [`Connection::max_message`]: checked before
    /// anything is allocated, and the prefix stays where it is (the next call sees it
    /// again); `Closed` after `close`.
    pub fn recv_bytes(&mut self) -> Result<Vec<u8>, PipeError> {
        // SKELETON: // TODO: read until the 4-byte length is buffered (`Eof` if the stream
        // SKELETON: // ends before any byte of it, `Truncated` inside it); refuse a length
        // SKELETON: // over the limit, consuming nothing; then hand over exactly that many
        // SKELETON: // bytes: those already buffered, then the rest, read straight into the
        // SKELETON: // message (`Truncated` if the stream ends first).
        // SKELETON: todo!(
        // SKELETON:     "receive one whole message ({} bytes buffered, limit {})",
        // SKELETON:     self.inbox.buffered().len(),
        // SKELETON:     self.max_message
        // SKELETON: )
        // BEGIN SOLUTION
        let fd = self.fd.as_ref().ok_or(PipeError::Closed)?.as_fd();
        while self.inbox.buffered().len() < HEADER {
            if self.inbox.fill(fd)? == 0 {
                return Err(match self.inbox.buffered().len() {
                    0 => PipeError::Eof,
                    got => PipeError::Truncated {
                        got,
                        expected: HEADER,
                    },
                });
            }
        }
        let buffered = self.inbox.buffered();
        let len = u32::from_le_bytes(buffered[..HEADER].try_into().unwrap()) as usize;
        if len > self.max_message {
            return Err(PipeError::TooLarge {
                len,
                max: self.max_message,
            });
        }
        let have = len.min(buffered.len() - HEADER);
        let mut message = Vec::with_capacity(len);
        message.extend_from_slice(&buffered[HEADER..HEADER + have]);
        self.inbox.consume(HEADER + have);
        while message.len() < len {
            let want = len - message.len();
            if read_append(fd, &mut message, want)? == 0 {
                return Err(PipeError::Truncated {
                    got: HEADER + message.len(),
                    expected: HEADER + len,
                });
            }
        }
        Ok(message)
        // END SOLUTION
    }
    // ANCHOR_END: recv_bytes

    // ANCHOR: recv_bytes_into
    /// Receives the next message into `buf` and returns its length (Python's
    /// `recv_bytes_into(buf)`). A message longer than `buf` is `BufferTooShort`, which
    /// hands the whole message over: it is never lost, and `buf` is left as it was.
    /// Other errors as for [`Connection::recv_bytes`].
    pub fn recv_bytes_into(&mut self, buf: &mut [u8]) -> Result<usize, PipeError> {
        // SKELETON: // TODO: receive one message; copy it into the front of `buf` when it
        // SKELETON: // fits, or hand it over whole inside the error when it does not.
        // SKELETON: todo!(
        // SKELETON:     "receive one message into a buffer of {} bytes",
        // SKELETON:     buf.len()
        // SKELETON: )
        // BEGIN SOLUTION
        let message = self.recv_bytes()?;
        match buf.get_mut(..message.len()) {
            Some(front) => {
                front.copy_from_slice(&message);
                Ok(message.len())
            }
            None => Err(PipeError::BufferTooShort(message)),
        }
        // END SOLUTION
    }
    // ANCHOR_END: recv_bytes_into
}
