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
    // SKELETON: // TODO: the body's length as a little-endian u32, then the postcard body; no frame
    // SKELETON: // but FrameTooLarge when the whole frame would be over MAX_FRAME.
    // SKELETON: todo!(
    // SKELETON:     "encode a message as a frame of at most {MAX_FRAME} bytes, \
    // SKELETON:      {LENGTH_PREFIX}-byte length first"
    // SKELETON: )
    // BEGIN SOLUTION
    let body = postcard::to_stdvec(message).map_err(|e| ChannelError::Malformed(e.to_string()))?;
    let len = LENGTH_PREFIX + body.len();
    if len > MAX_FRAME {
        return Err(ChannelError::FrameTooLarge {
            len,
            max: MAX_FRAME,
        });
    }
    let mut frame = Vec::with_capacity(len);
    frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
    frame.extend_from_slice(&body);
    Ok(frame)
    // END SOLUTION
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
    // SKELETON: // TODO: None until the whole frame is there; FrameTooLarge as soon as a prefix
    // SKELETON: // says more than MAX_FRAME; Malformed unless the body is exactly one message.
    // SKELETON: // Whatever the bytes, never a panic.
    // SKELETON: todo!(
    // SKELETON:     "decode the first frame of {} bytes: {bytes:02x?}",
    // SKELETON:     bytes.len()
    // SKELETON: )
    // BEGIN SOLUTION
    let Some(prefix) = bytes.get(..LENGTH_PREFIX) else {
        return Ok(None);
    };
    let body_len = u32::from_le_bytes(prefix.try_into().unwrap()) as usize;
    let len = LENGTH_PREFIX.saturating_add(body_len);
    if len > MAX_FRAME {
        return Err(ChannelError::FrameTooLarge {
            len,
            max: MAX_FRAME,
        });
    }
    let Some(body) = bytes.get(LENGTH_PREFIX..len) else {
        return Ok(None);
    };
    let (message, rest) =
        postcard::take_from_bytes(body).map_err(|e| ChannelError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(ChannelError::Malformed(format!(
            "{} bytes left after the message",
            rest.len()
        )));
    }
    Ok(Some((message, len)))
    // END SOLUTION
}
// ANCHOR_END: decode_frame
