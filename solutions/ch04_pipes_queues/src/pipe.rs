//! Given: pipes, socketpairs, and the connection ends they give.
//!
//! Python's `Pipe()` gives two connections over a `socketpair`, each of which sends and
//! receives; `Pipe(duplex=False)` gives a read end and a write end over a `pipe`. Here
//! the two kinds are two types: [`Pipe::duplex`] gives two [`Connection`]s, and
//! [`Pipe::one_way`] a [`Reader`] and a [`Writer`]. Sending on a reader does not
//! compile (Python raises `OSError: connection is read-only` at run time).
//!
//! Every end is `O_CLOEXEC`, so a program started with `exec` never inherits it. Both
//! kinds are byte streams: a message is a frame, its length as 4 bytes little-endian,
//! then its bytes. This module holds what the exercises build on: the connection, its
//! read-ahead buffer, and system calls that retry after `EINTR`.

use std::io::IoSlice;
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Instant;

use nix::errno::Errno;
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

use crate::error::PipeError;

/// The length prefix of a frame: a `u32`, little-endian.
pub const HEADER: usize = 4;

/// The longest message a new connection sends or accepts, in bytes: 64 MiB. Change
/// it with [`Connection::set_max_message`].
pub const DEFAULT_MAX_MESSAGE: usize = 64 << 20;

/// How much a connection asks the kernel for in one `read(2)` while it looks for the
/// next frame: small frames then arrive with one system call, several at a time.
pub const READ_AHEAD: usize = 64 << 10;

/// The size asked of a one-way pipe (`F_SETPIPE_SZ`): 1 MiB, the most an unprivileged
/// process may ask for by default (`/proc/sys/fs/pipe-max-size`).
pub const PIPE_SIZE: usize = 1 << 20;

// ANCHOR: modes
/// A connection that sends and receives: one end of [`Pipe::duplex`].
#[derive(Debug)]
pub struct Duplex;
/// A connection that only receives: the first end of [`Pipe::one_way`].
#[derive(Debug)]
pub struct ReadOnly;
/// A connection that only sends: the second end of [`Pipe::one_way`].
#[derive(Debug)]
pub struct WriteOnly;

/// What a connection may do: its type parameter is one of [`Duplex`], [`ReadOnly`]
/// and [`WriteOnly`].
pub trait Mode {}
/// The modes that receive.
pub trait CanRead: Mode {}
/// The modes that send.
pub trait CanWrite: Mode {}

impl Mode for Duplex {}
impl Mode for ReadOnly {}
impl Mode for WriteOnly {}
impl CanRead for Duplex {}
impl CanRead for ReadOnly {}
impl CanWrite for Duplex {}
impl CanWrite for WriteOnly {}

/// The read end of a one-way pipe.
pub type Reader = Connection<ReadOnly>;
/// The write end of a one-way pipe.
pub type Writer = Connection<WriteOnly>;
// ANCHOR_END: modes

/// Python's `multiprocessing.Pipe`.
#[derive(Debug)]
pub struct Pipe;

// ANCHOR: pipe
impl Pipe {
    /// Two connected [`Connection`]s, each of which sends to and receives from the
    /// other: a `socketpair(AF_UNIX, SOCK_STREAM)`, like Python's `Pipe()`.
    pub fn duplex() -> Result<(Connection, Connection), PipeError> {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::Stream,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        Ok((Connection::new(a, true), Connection::new(b, true)))
    }

    /// A [`Reader`] and a [`Writer`]: a `pipe2(O_CLOEXEC)`, like Python's
    /// `Pipe(duplex=False)`, enlarged to [`PIPE_SIZE`] when the kernel allows it.
    pub fn one_way() -> Result<(Reader, Writer), PipeError> {
        let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        set_pipe_size(write_end.as_fd(), PIPE_SIZE);
        Ok((
            Connection::new(read_end, false),
            Connection::new(write_end, false),
        ))
    }
}
// ANCHOR_END: pipe

/// Asks the kernel for a pipe of `size` bytes; the pipe stays as it is when refused
/// (an unprivileged user past `/proc/sys/fs/pipe-user-pages-soft` gets less).
pub(crate) fn set_pipe_size(fd: BorrowedFd<'_>, size: usize) {
    // Safety: F_SETPIPE_SZ takes an int and touches no memory of ours.
    unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, size as libc::c_int) };
}

// ANCHOR: connection
/// One end of a pipe: Python's `multiprocessing.connection.Connection`.
///
/// `M` says what it may do: [`Duplex`] (send and receive), [`ReadOnly`] or
/// [`WriteOnly`]. A connection buffers what one `read(2)` brought beyond the message
/// it was reading, so a connection end belongs to one process at a time: after a
/// `fork`, let one of the two copies read it (Python says the same: two processes
/// reading one end at once corrupt the stream).
#[derive(Debug)]
pub struct Connection<M = Duplex> {
    pub(crate) fd: Option<OwnedFd>,
    pub(crate) inbox: Inbox,
    pub(crate) max_message: usize,
    socket: bool,
    mode: PhantomData<M>,
}
// ANCHOR_END: connection

impl<M: Mode> Connection<M> {
    fn new(fd: OwnedFd, socket: bool) -> Connection<M> {
        Connection {
            fd: Some(fd),
            inbox: Inbox::default(),
            max_message: DEFAULT_MAX_MESSAGE,
            socket,
            mode: PhantomData,
        }
    }

    /// The file descriptor, for `poll(2)` or raw reads and writes; `Closed` after
    /// [`Connection::close`].
    pub fn fd(&self) -> Result<BorrowedFd<'_>, PipeError> {
        self.fd.as_ref().map(AsFd::as_fd).ok_or(PipeError::Closed)
    }

    /// Closes this end in this process. Closing twice is not an error (as in Python);
    /// every later call on this end is `Closed`. The peer sees end-of-file once every
    /// copy of this end, in every process, is closed.
    pub fn close(&mut self) {
        self.fd = None;
        self.inbox = Inbox::default();
    }

    /// True after [`Connection::close`].
    pub fn is_closed(&self) -> bool {
        self.fd.is_none()
    }

    /// The longest message this end sends or accepts, in bytes.
    pub fn max_message(&self) -> usize {
        self.max_message
    }

    /// Sets the longest message this end sends or accepts (at most `u32::MAX`, the
    /// largest length a frame can carry). A length prefix over the limit is refused
    /// before anything is allocated.
    pub fn set_max_message(&mut self, max: usize) {
        self.max_message = max.min(u32::MAX as usize);
    }

    /// True for the ends of [`Pipe::duplex`] (a socket), false for a pipe.
    pub fn is_socket(&self) -> bool {
        self.socket
    }
}

// ANCHOR: inbox
/// What a connection has read but not yet handed over: the start of the next frame,
/// or several whole frames.
#[derive(Debug, Default)]
pub(crate) struct Inbox {
    bytes: Vec<u8>,
    start: usize,
}

impl Inbox {
    /// The bytes read and not yet consumed.
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.bytes[self.start..]
    }

    /// True when nothing is buffered.
    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.bytes.len()
    }

    /// Drops the first `n` buffered bytes.
    pub(crate) fn consume(&mut self, n: usize) {
        self.start += n;
        assert!(
            self.start <= self.bytes.len(),
            "consumed more than was read"
        );
        if self.start == self.bytes.len() {
            self.bytes.clear();
            self.start = 0;
        }
    }

    /// One `read(2)` of up to [`READ_AHEAD`] bytes into the buffer, after what is
    /// there. Returns how many bytes came: 0 means end-of-file.
    ///
    /// When nothing has arrived yet, it looks again a few times, yielding the CPU in
    /// between, before it sleeps in the kernel. In a conversation the answer often
    /// comes within microseconds: found by a look, it costs no sleep and no wake-up,
    /// of this process or of the CPU it would doze on. The looks last a few
    /// microseconds in all, so a reader with nothing coming still sleeps.
    pub(crate) fn fill(&mut self, fd: BorrowedFd<'_>) -> Result<usize, PipeError> {
        self.bytes.drain(..self.start);
        self.start = 0;
        for _ in 0..LOOKS_BEFORE_SLEEP {
            if let Some(n) = try_read_append(fd, &mut self.bytes, READ_AHEAD)? {
                return Ok(n);
            }
            // Safety: sched_yield takes no argument and touches no memory.
            unsafe { libc::sched_yield() };
        }
        read_append(fd, &mut self.bytes, READ_AHEAD)
    }
}
// ANCHOR_END: inbox

// ANCHOR: read_append
/// One `read(2)` of at most `max` bytes from `fd`, appended to `buf`; retried after
/// `EINTR`. Returns how many bytes came (0: end-of-file, or `max` was 0).
pub(crate) fn read_append(
    fd: BorrowedFd<'_>,
    buf: &mut Vec<u8>,
    max: usize,
) -> Result<usize, PipeError> {
    loop {
        match read_with(fd, buf, max, 0) {
            Err(Errno::EINTR) => continue,
            other => return Ok(other?),
        }
    }
}
// ANCHOR_END: read_append

/// [`read_append`] that never waits: `None` when no byte has arrived yet (and the
/// other end is still open). A `preadv2(2)` with `RWF_NOWAIT`, which pipes and sockets
/// honour for this one call, whatever the descriptor's own `O_NONBLOCK`.
pub(crate) fn try_read_append(
    fd: BorrowedFd<'_>,
    buf: &mut Vec<u8>,
    max: usize,
) -> Result<Option<usize>, PipeError> {
    match read_with(fd, buf, max, libc::RWF_NOWAIT) {
        Ok(n) => Ok(Some(n)),
        // A signal before any byte came: as good as nothing yet.
        Err(Errno::EAGAIN | Errno::EINTR) => Ok(None),
        Err(errno) => Err(errno.into()),
    }
}

/// One `preadv2(2)` at the current position (offset -1: a plain read, which is all a
/// pipe or a socket has) of at most `max` bytes, appended to `buf`.
fn read_with(
    fd: BorrowedFd<'_>,
    buf: &mut Vec<u8>,
    max: usize,
    flags: i32,
) -> Result<usize, Errno> {
    buf.reserve(max);
    let spare = buf.spare_capacity_mut();
    let iov = libc::iovec {
        iov_base: spare.as_mut_ptr().cast(),
        iov_len: max,
    };
    // Safety: the kernel writes at most `max` bytes into the spare capacity, which
    // `reserve` made at least that long, and which lives for the call.
    let n = unsafe { libc::preadv2(fd.as_raw_fd(), &iov, 1, -1, flags) };
    if n < 0 {
        return Err(Errno::last());
    }
    // Safety: the kernel initialised the first n spare bytes.
    unsafe { buf.set_len(buf.len() + n as usize) };
    Ok(n as usize)
}

// ANCHOR: write_some
/// One `writev(2)` (on a socket, a `sendmsg(2)` with `MSG_NOSIGNAL`, so a closed peer
/// is an `EPIPE` error rather than a `SIGPIPE`) of `parts`, retried after `EINTR`.
/// Returns how many bytes the kernel took: often fewer than asked, when a signal
/// arrives in the middle or the descriptor is non-blocking.
pub(crate) fn write_some(
    fd: BorrowedFd<'_>,
    parts: &[IoSlice<'_>],
    socket: bool,
) -> Result<usize, PipeError> {
    // At most IOV_MAX slices per call; callers pass two or three.
    let count = parts.len().min(1024) as libc::c_int;
    loop {
        let n = if socket {
            // Safety: an msghdr with no name and no control data, whose iovec array
            // (IoSlice is ABI-compatible with iovec) lives for the call.
            unsafe {
                let mut msg: libc::msghdr = std::mem::zeroed();
                msg.msg_iov = parts.as_ptr() as *mut libc::iovec;
                msg.msg_iovlen = count as _;
                libc::sendmsg(fd.as_raw_fd(), &msg, libc::MSG_NOSIGNAL)
            }
        } else {
            // Safety: IoSlice is ABI-compatible with iovec; the array lives for the call.
            unsafe { libc::writev(fd.as_raw_fd(), parts.as_ptr().cast(), count) }
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        match Errno::last() {
            Errno::EINTR => continue,
            errno => return Err(errno.into()),
        }
    }
}
// ANCHOR_END: write_some

impl<M: Mode> Connection<M> {
    /// One `write_some` on this end (for the exercises).
    pub(crate) fn write_some(&self, parts: &[IoSlice<'_>]) -> Result<usize, PipeError> {
        write_some(self.fd()?, parts, self.socket)
    }
}

/// The deadline `timeout` from now (`None`: no deadline; nor for a timeout too long to
/// represent, such as `Duration::MAX`): the kit's one function for every timeout.
pub use mpkit::deadline_after;

// ANCHOR: poll_until
/// `poll(2)` on `fds` until one is ready or `deadline` passes; retried after `EINTR`
/// with the time left, so a signal never stretches the wait. Returns how many are
/// ready (0: the deadline passed); their `revents` say how.
pub fn poll_until(fds: &mut [libc::pollfd], deadline: Option<Instant>) -> Result<usize, PipeError> {
    loop {
        let millis = match deadline {
            None => -1,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                // Round up, so the wait never ends early and spins.
                i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
            }
        };
        // Safety: a live array of pollfds, of the given length, for the whole call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, millis) };
        if n >= 0 {
            return Ok(n as usize);
        }
        match Errno::last() {
            Errno::EINTR => continue,
            errno => return Err(errno.into()),
        }
    }
}
// ANCHOR_END: poll_until

/// How often a wait for bytes looks, yielding the CPU in between, before it sleeps in
/// the kernel: [`Inbox::fill`] before `read(2)`, and chapter 7's pool before `poll(2)`.
pub const LOOKS_BEFORE_SLEEP: u32 = 16;

/// How often [`spin_then_yield`] looks while spinning, and then while yielding.
const SPINS: u32 = 200;
const YIELDS: u32 = 4;

/// Before a sleep in the kernel, looks a little longer whether `ready()` comes true by
/// itself: first spinning (the other process, on another CPU, is about to deliver),
/// then yielding the CPU (the other process runs on this one, and can deliver many
/// items in a row before we look again). `true` as soon as `ready()` is. A few
/// microseconds at most: a sleeper still sleeps, and uses no CPU.
pub(crate) fn spin_then_yield(ready: impl Fn() -> bool) -> bool {
    for _ in 0..SPINS {
        if ready() {
            return true;
        }
        std::hint::spin_loop();
    }
    for _ in 0..YIELDS {
        if ready() {
            return true;
        }
        // Safety: sched_yield takes no argument and touches no memory.
        unsafe { libc::sched_yield() };
    }
    ready()
}

/// A `pollfd` asking whether `fd` is readable.
pub fn readable(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}
