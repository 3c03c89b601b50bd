//! Exercises 4 and 5: a pipe that carries results from children back to their parent.
//!
//! A frame is a 4-byte little-endian length followed by that many bytes of postcard.
//! Every frame fits in `PIPE_BUF`, so one `write(2)` puts it in the pipe whole: frames
//! from many children never interleave. The receiver trusts nothing it reads: it checks
//! a length against [`MAX_FRAME`] before waiting for the bytes, and a frame must decode
//! to exactly one message.

use std::fmt;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The largest frame, length prefix included: `PIPE_BUF`, the most one `write(2)` puts
/// in a pipe without interleaving.
pub const MAX_FRAME: usize = libc::PIPE_BUF;

/// Size of the length prefix: a `u32`, little-endian.
pub const LENGTH_PREFIX: usize = 4;

/// What can go wrong on a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChannelError {
    /// A frame (prefix included) of `len` bytes is larger than `max`; nothing was sent
    /// or allocated.
    FrameTooLarge {
        /// The frame's length, prefix included.
        len: usize,
        /// The largest frame allowed.
        max: usize,
    },
    /// The bytes are not one well-formed message: a decoding error, bytes left after the
    /// message, or a frame cut short by the end of the stream.
    Malformed(String),
    /// Every sender is gone (receiving) or the receiver is gone (sending).
    Closed,
    /// No message arrived before the deadline.
    Timeout,
    /// A system call failed.
    Os(Errno),
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelError::FrameTooLarge { len, max } => {
                write!(
                    f,
                    "a frame of {len} bytes is larger than the limit of {max}"
                )
            }
            ChannelError::Malformed(why) => write!(f, "malformed frame: {why}"),
            ChannelError::Closed => write!(f, "the other end of the channel is closed"),
            ChannelError::Timeout => write!(f, "no message before the deadline"),
            ChannelError::Os(errno) => write!(f, "system call failed: {errno}"),
        }
    }
}

impl std::error::Error for ChannelError {}

impl From<std::io::Error> for ChannelError {
    fn from(err: std::io::Error) -> ChannelError {
        match err.raw_os_error() {
            Some(libc::EPIPE) => ChannelError::Closed,
            Some(code) => ChannelError::Os(Errno::from_raw(code)),
            None => ChannelError::Os(Errno::EIO),
        }
    }
}

/// A new channel over a pipe. Fork after creating it: children keep a [`Sender`], and
/// the parent drops its own `Sender` so that [`Receiver::recv`] sees the end of the
/// stream once every child is done.
pub fn channel<T>() -> Result<(Sender<T>, Receiver<T>), ChannelError> {
    let (read_end, write_end) = nix::unistd::pipe().map_err(ChannelError::Os)?;
    let sender = Sender {
        fd: write_end,
        message: PhantomData,
    };
    let receiver = Receiver {
        fd: read_end,
        buffer: Vec::new(),
        message: PhantomData,
    };
    Ok((sender, receiver))
}

/// The sending end: any number of processes may hold one (fork copies it).
#[derive(Debug)]
pub struct Sender<T> {
    fd: OwnedFd,
    message: PhantomData<fn(&T)>,
}

/// The receiving end, for one process.
#[derive(Debug)]
pub struct Receiver<T> {
    fd: OwnedFd,
    buffer: Vec<u8>,
    message: PhantomData<fn() -> T>,
}

// ANCHOR: encode_frame
/// The frame for `message`: its postcard encoding, behind its length as 4 bytes,
/// little-endian.
///
/// Fails with `FrameTooLarge` when the frame, prefix included, is over [`MAX_FRAME`].
pub fn encode_frame<T: Serialize>(message: &T) -> Result<Vec<u8>, ChannelError> {
    // TODO: encode with `postcard::to_stdvec`, check the frame's whole length against
    // MAX_FRAME, then the body's length as `u32::to_le_bytes` followed by the body.
    let _ = message;
    todo!("encode a message as a frame of at most {MAX_FRAME} bytes, {LENGTH_PREFIX}-byte length first")
}
// ANCHOR_END: encode_frame

impl<T: Serialize> Sender<T> {
    // ANCHOR: send
    /// Sends `message` as one frame with a single `write(2)`, so that frames from
    /// several processes never interleave.
    ///
    /// Errors: `FrameTooLarge` (nothing is written), `Closed` when the receiver is gone.
    pub fn send(&self, message: &T) -> Result<(), ChannelError> {
        // TODO: one frame, one `mpkit::write_all`; an io::Error converts with `?`.
        let _ = message;
        todo!("send one frame through fd {}", self.fd.as_raw_fd())
    }
    // ANCHOR_END: send
}

impl<T> Sender<T> {
    /// Another sender on the same pipe (a duplicated file descriptor).
    pub fn try_clone(&self) -> Result<Sender<T>, ChannelError> {
        Ok(Sender {
            fd: self.fd.try_clone()?,
            message: PhantomData,
        })
    }
}

// ANCHOR: decode_frame
/// Decodes the first frame of `bytes`: the message and how many bytes it used, or
/// `None` when `bytes` does not hold the whole frame yet.
///
/// The length prefix is checked against [`MAX_FRAME`] first, so a hostile length never
/// makes the receiver wait for, or allocate, more. The body must decode to exactly one
/// message: trailing bytes are `Malformed`.
pub fn decode_frame<T: DeserializeOwned>(bytes: &[u8]) -> Result<Option<(T, usize)>, ChannelError> {
    // TODO: no prefix yet: None. Check the length before anything else, then wait for
    // the whole body (None), then `postcard::take_from_bytes`, which must leave nothing.
    todo!(
        "decode the first frame of {} bytes: {bytes:02x?}",
        bytes.len()
    )
}
// ANCHOR_END: decode_frame

impl<T: DeserializeOwned> Receiver<T> {
    /// Receives the next message, waiting as long as it takes. `Closed` once every
    /// sender is gone and no message is left.
    pub fn recv(&mut self) -> Result<T, ChannelError> {
        self.recv_until(None)
    }

    /// Receives the next message, waiting at most `timeout`: `Timeout` when none came.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<T, ChannelError> {
        self.recv_until(Some(Instant::now() + timeout))
    }

    // ANCHOR: recv_until
    /// Receives the next message, waiting until `deadline` (`None`: no limit).
    ///
    /// Messages already buffered come first. Reading 0 bytes means every write end is
    /// closed: `Closed` if nothing is buffered, `Malformed` if a frame was cut short.
    fn recv_until(&mut self, deadline: Option<Instant>) -> Result<T, ChannelError> {
        // TODO: loop: a whole frame in `self.buffer`? decode it, drain it, return it.
        // Otherwise wait for the fd with `mpkit::poll_readable` (Timeout once the
        // deadline has passed), `nix::unistd::read` a chunk and append it. 0 bytes read
        // is the end of the stream.
        todo!(
            "receive a frame from fd {} ({} bytes buffered) before {deadline:?}",
            self.fd.as_raw_fd(),
            self.buffer.len()
        )
    }
    // ANCHOR_END: recv_until
}

impl<T: DeserializeOwned> Iterator for Receiver<T> {
    type Item = T;

    /// The next message, until every sender is gone; errors end the iteration too.
    fn next(&mut self) -> Option<T> {
        self.recv().ok()
    }
}
