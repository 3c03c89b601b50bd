//! Given: what can go wrong with a process or a channel.

use std::fmt;

use nix::errno::Errno;

/// A misuse of [`Process`](crate::Process) or [`get_context`](crate::get_context), or a
/// failed system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessError {
    /// `start` was called on a process that was started already.
    AlreadyStarted,
    /// `join` was called on a process that was never started.
    NotStarted,
    /// `start` or `join` was called by a process other than the one that created the
    /// `Process` (for example, by the child itself through a copy made by `fork`).
    NotTheParent,
    /// The start method exists in Python but not in this workbook (`spawn`, `forkserver`).
    UnsupportedStartMethod(&'static str),
    /// No such start method.
    UnknownStartMethod,
    /// A system call failed.
    Os(Errno),
}

impl fmt::Display for ProcessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcessError::AlreadyStarted => write!(f, "cannot start a process twice"),
            ProcessError::NotStarted => write!(f, "can only join a started process"),
            ProcessError::NotTheParent => {
                write!(
                    f,
                    "can only start or join a process created by this process"
                )
            }
            ProcessError::UnsupportedStartMethod(name) => {
                write!(
                    f,
                    "start method {name:?} is not supported here; use \"fork\""
                )
            }
            ProcessError::UnknownStartMethod => write!(f, "unknown start method"),
            ProcessError::Os(errno) => write!(f, "system call failed: {errno}"),
        }
    }
}

impl std::error::Error for ProcessError {}

impl From<std::io::Error> for ProcessError {
    fn from(err: std::io::Error) -> ProcessError {
        ProcessError::Os(Errno::from_raw(err.raw_os_error().unwrap_or(libc::EIO)))
    }
}

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
