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
        // TODO: read until the 4-byte length is buffered (`Eof` if the stream
        // ends before any byte of it, `Truncated` inside it); refuse a length
        // over the limit, consuming nothing; then hand over exactly that many
        // bytes: those already buffered, then the rest, read straight into the
        // message (`Truncated` if the stream ends first).
        todo!(
            "receive one whole message ({} bytes buffered, limit {})",
            self.inbox.buffered().len(),
            self.max_message
        )
    }
    // ANCHOR_END: recv_bytes

    // ANCHOR: recv_bytes_into
    /// Receives the next message into `buf` and returns its length (Python's
    /// `recv_bytes_into(buf)`). A message longer than `buf` is `BufferTooShort`, which
    /// hands the whole message over: it is never lost, and `buf` is left as it was.
    /// Other errors as for [`Connection::recv_bytes`].
    pub fn recv_bytes_into(&mut self, buf: &mut [u8]) -> Result<usize, PipeError> {
        // TODO: receive one message; copy it into the front of `buf` when it
        // fits, or hand it over whole inside the error when it does not.
        todo!("receive one message into a buffer of {} bytes", buf.len())
    }
    // ANCHOR_END: recv_bytes_into
}
