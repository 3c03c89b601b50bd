//! Exercise 4: frames, and the untrusted bytes they arrive as.
//!
//! A frame is a 4-byte little-endian length followed by that many bytes of postcard.
//! Every frame fits in `PIPE_BUF`, so one `write(2)` puts it in a pipe whole: frames
//! from many processes never interleave. The decoder trusts nothing: it checks a
//! length against [`MAX_FRAME`] before waiting for the bytes, and a frame must decode
//! to exactly one message.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::ChannelError;

/// The largest frame, length prefix included: `PIPE_BUF`, the most one `write(2)` puts
/// in a pipe without interleaving.
pub const MAX_FRAME: usize = libc::PIPE_BUF;

/// Size of the length prefix: a `u32`, little-endian.
pub const LENGTH_PREFIX: usize = 4;

// ANCHOR: encode_frame
/// The frame for `message`: its postcard encoding, behind its length as 4 bytes,
/// little-endian.
///
/// Fails with `FrameTooLarge` when the frame, prefix included, is over [`MAX_FRAME`].
pub fn encode_frame<T: Serialize>(message: &T) -> Result<Vec<u8>, ChannelError> {
    // TODO: the body's length as a little-endian u32, then the postcard body; no frame
    // but FrameTooLarge when the whole frame would be over MAX_FRAME.
    todo!(
        "encode a message as a frame of at most {MAX_FRAME} bytes, \
         {LENGTH_PREFIX}-byte length first"
    )
}
// ANCHOR_END: encode_frame

// ANCHOR: decode_frame
/// Decodes the first frame of `bytes`: the message and how many bytes it used, or
/// `None` when `bytes` does not hold the whole frame yet.
///
/// The length prefix is checked against [`MAX_FRAME`] first, so a hostile length never
/// makes the receiver wait for, or allocate, more. The body must decode to exactly one
/// message: trailing bytes are `Malformed`.
pub fn decode_frame<T: DeserializeOwned>(bytes: &[u8]) -> Result<Option<(T, usize)>, ChannelError> {
    // TODO: None until the whole frame is there; FrameTooLarge as soon as a prefix
    // says more than MAX_FRAME; Malformed unless the body is exactly one message.
    // Whatever the bytes, never a panic.
    todo!(
        "decode the first frame of {} bytes: {bytes:02x?}",
        bytes.len()
    )
}
// ANCHOR_END: decode_frame
