//! Exercise 5: a pipe that carries results from children back to their parent.
//!
//! Senders write whole frames (see [`crate::frame`]) with one `write(2)` each; the
//! receiver buffers what it reads and decodes frame after frame. It sees the end of the
//! stream only once every process has closed its write end.

use std::marker::PhantomData;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::ChannelError;
use crate::frame::{decode_frame, encode_frame, MAX_FRAME};

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

impl<T: Serialize> Sender<T> {
    // ANCHOR: send
    /// Sends `message` as one frame with a single `write(2)`, so that frames from
    /// several processes never interleave.
    ///
    /// Errors: `FrameTooLarge` (nothing is written), `Closed` when the receiver is gone.
    pub fn send(&self, message: &T) -> Result<(), ChannelError> {
        // SKELETON: // TODO: the message's frame in one write, so that frames sent by several
        // SKELETON: // processes never interleave; nothing is written when the frame is too large.
        // SKELETON: todo!(
        // SKELETON:     "encode the message as one frame and write it to {:?} with a single write",
        // SKELETON:     self.fd
        // SKELETON: )
        // BEGIN SOLUTION
        let frame = encode_frame(message)?;
        mpkit::write_all(self.fd.as_fd(), &frame)?;
        Ok(())
        // END SOLUTION
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

/// The pipe's write end, like Python's `Connection.fileno()`: for `poll`, or to hand
/// to code that writes frames itself.
impl<T> AsFd for Sender<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The pipe's read end, like Python's `Connection.fileno()`: for `poll` with other
/// descriptors. Bytes read from it directly never reach the receiver.
impl<T> AsFd for Receiver<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl<T: DeserializeOwned> Receiver<T> {
    /// Receives the next message, waiting as long as it takes. `Closed` once every
    /// sender is gone and no message is left.
    pub fn recv(&mut self) -> Result<T, ChannelError> {
        self.recv_until(None)
    }

    /// Receives the next message, waiting at most `timeout`: `Timeout` when none came.
    /// A zero timeout does not wait, but takes a message that is there already.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<T, ChannelError> {
        self.recv_until(Some(Instant::now() + timeout))
    }

    // ANCHOR: recv_until
    /// Receives the next message, waiting until `deadline` (`None`: no limit).
    ///
    /// Messages already buffered come first; a deadline already passed still takes a
    /// message the pipe holds. A signal that interrupts the wait does not end it.
    /// Reading 0 bytes means every write end is closed: `Closed` if nothing is
    /// buffered, `Malformed` if a frame was cut short.
    fn recv_until(&mut self, deadline: Option<Instant>) -> Result<T, ChannelError> {
        // SKELETON: // TODO: the next message: from the buffer when a whole frame is there, else
        // SKELETON: // from the pipe once one has arrived (what the pipe holds counts even when the
        // SKELETON: // deadline has passed). Timeout when the deadline passes first; a signal does
        // SKELETON: // not end the wait; at the end of the stream, Closed if nothing is buffered,
        // SKELETON: // Malformed inside a frame.
        // SKELETON: todo!(
        // SKELETON:     "decode the next frame, reading {:?} ({} bytes buffered) \
        // SKELETON:      until {deadline:?}",
        // SKELETON:     self.fd,
        // SKELETON:     self.buffer.len()
        // SKELETON: )
        // BEGIN SOLUTION
        let mut chunk = [0u8; MAX_FRAME];
        loop {
            if let Some((message, used)) = decode_frame(&self.buffer)? {
                self.buffer.drain(..used);
                return Ok(message);
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            // With no time left, one look still takes what the pipe holds already.
            if !mpkit::poll_readable(self.fd.as_fd(), left)? {
                // Not readable: the time is up, or a signal interrupted the wait.
                if left.is_some_and(|left| left.is_zero()) {
                    return Err(ChannelError::Timeout);
                }
                continue;
            }
            match nix::unistd::read(&self.fd, &mut chunk) {
                Ok(0) if self.buffer.is_empty() => return Err(ChannelError::Closed),
                Ok(0) => {
                    return Err(ChannelError::Malformed(format!(
                        "the stream ended inside a frame ({} bytes)",
                        self.buffer.len()
                    )))
                }
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
                Err(Errno::EINTR) => {}
                Err(errno) => return Err(ChannelError::Os(errno)),
            }
        }
        // END SOLUTION
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
