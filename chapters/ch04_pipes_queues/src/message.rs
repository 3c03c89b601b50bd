//! Exercise 4: typed messages, and bytes you cannot trust.
//!
//! Python's `recv()` unpickles, and unpickling runs whatever `__reduce__` the sender
//! chose: receiving an object is running the sender's program. Here a message is
//! postcard bytes decoded by serde into a type the receiver names: data, never code.
//! The hostile peer keeps what is left: a length that asks for gigabytes, a frame cut
//! short, bytes left over after the value, bytes of another type. Each one must come
//! back as a typed error, and none may panic.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::PipeError;
use crate::pipe::{CanRead, CanWrite, Connection};

// ANCHOR: encode
/// The postcard bytes of `message`: what travels inside a frame. `Encode` when the
/// value's `Serialize` fails.
pub fn encode<T: Serialize + ?Sized>(message: &T) -> Result<Vec<u8>, PipeError> {
    postcard::to_stdvec(message).map_err(|e| PipeError::Encode(e.to_string()))
}
// ANCHOR_END: encode

// ANCHOR: decode
/// The value of type `T` that `bytes` hold, all of them: `Decode` when they are not a
/// `T` (too short, a bad tag, invalid UTF-8...), `TrailingBytes` when a `T` ends before
/// the bytes do. Never panics, whatever the bytes.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, PipeError> {
    // TODO: decode one `T` from the front of `bytes` with postcard; a
    // decoding error is `Decode` (with postcard's reason), and bytes left
    // over after the value are `TrailingBytes`.
    todo!("decode one message from {} bytes", bytes.len())
}
// ANCHOR_END: decode

impl<M: CanWrite> Connection<M> {
    // ANCHOR: send
    /// Sends `message` as one frame of postcard bytes (Python's `send(obj)`, which
    /// pickles). Errors as for [`Connection::send_bytes`].
    pub fn send<T: Serialize + ?Sized>(&self, message: &T) -> Result<(), PipeError> {
        // TODO: encode the message and send its bytes as one message.
        todo!("send a typed message")
    }
    // ANCHOR_END: send
}

impl<M: CanRead> Connection<M> {
    // ANCHOR: recv
    /// Receives the next message as a `T` (Python's `recv()`, which unpickles). The
    /// frame is consumed even when its bytes are not a `T`: the next call gets the
    /// next message. Errors as for [`Connection::recv_bytes`] and [`decode`].
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<T, PipeError> {
        // TODO: receive one whole message and decode it.
        todo!("receive a typed message")
    }
    // ANCHOR_END: recv
}
