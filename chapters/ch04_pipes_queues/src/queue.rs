//! Exercise 5: a queue between processes over one pipe, with a writer lock and a reader
//! lock so that frames never interleave.
//!
//! Python's `Queue` puts items into a buffer that a *feeder thread* writes to the pipe
//! later, so `put` never blocks on an unbounded queue; but a process cannot end before
//! its feeder has written everything, and joining it before the items are got hangs.
//! A library that forks has no feeder thread (threads and `fork` do not mix), so here
//! `put` writes the frame itself, into a pipe enlarged to 1 MiB:
//!
//! - `put` returns once the frame is in the pipe. A process that put its items can end
//!   and be joined at once; the items wait in the pipe for a getter.
//! - When the pipe is full, `put` waits (at most its timeout) for a getter to make room,
//!   then fails with `Full`. A frame longer than `PIPE_BUF` (4 KiB) may go in pieces:
//!   once its first piece is in, `put` writes the rest, however long that takes, as a
//!   frame half written can never be taken back.
//!
//! Getters share one read-ahead buffer, in shared memory behind the reader lock: one
//! `read(2)` may bring many frames, and the next getter, in any process, takes the
//! next frame from the buffer without a system call.
//!
//! Both locks are chapter 5's `RobustLock`. A process killed while it waits in `get`
//! (holding the reader lock, as Python's getters do) leaves the lock to the next getter,
//! which carries on: nothing was lost. A process killed in the middle of a frame, with
//! bytes out of the pipe but not yet in the shared buffer, or half a frame written,
//! breaks the queue: every later call in every process is `Broken`. (Python's queue
//! stays locked for good in both cases.)

use std::cell::UnsafeCell;
use std::io::IoSlice;
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ch05_sync::{RobustError, RobustGuard, RobustLock, Semaphore, Shared, ShmSafe};
use nix::errno::Errno;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{PipeError, QueueError};
use crate::message::decode;
use crate::pipe::{
    deadline_after, poll_until, read_append, readable, set_pipe_size, spin_then_yield, write_some,
    DEFAULT_MAX_MESSAGE, HEADER, PIPE_SIZE, READ_AHEAD,
};
use crate::queue_api::MpQueue;

/// How often a getter in the middle of a long frame, with the pipe empty, looks whether
/// the writer of that frame is still alive.
const WRITER_CHECK: Duration = Duration::from_millis(50);

// ANCHOR: state
/// What the processes of a [`Queue`] share.
#[repr(C)]
pub struct QueueState {
    /// Items put and not yet got. A getter may take an item before its putter counts
    /// it, so this may dip below zero for a moment.
    count: AtomicI64,
    /// 1 once a process died in the middle of a frame: the stream is lost.
    broken: AtomicU32,
    /// 1 while a getter may hold bytes taken out of the pipe that are not yet recorded
    /// in the shared buffer.
    reading: AtomicU32,
    /// 1 while a putter has written part of a frame.
    writing: AtomicU32,
    /// The shared read-ahead buffer, which holds `buf[head..tail]` (only under the
    /// reader lock). The two counters come after it: a read that overran the buffer
    /// would wreck them, and no test would miss it.
    buf: UnsafeCell<[u8; READ_AHEAD]>,
    head: AtomicU32,
    tail: AtomicU32,
}
// ANCHOR_END: state

// Safety: repr(C), no pointers; the counters are atomics, and `buf` is reached only
// through raw pointers by the process that holds the reader lock.
unsafe impl ShmSafe for QueueState {}
// Safety: as above: `buf` is only touched under the reader lock.
unsafe impl Sync for QueueState {}

/// Python's `multiprocessing.Queue`: items of type `T` (postcard frames) through one
/// pipe, for every process forked after its creation. See the module's documentation
/// for what `put` does when the pipe is full, and for what happens when a process dies
/// in the middle of an item.
pub struct Queue<T> {
    reader: Option<OwnedFd>,
    writer: Option<OwnedFd>,
    state: Shared<QueueState>,
    read_lock: RobustLock,
    write_lock: RobustLock,
    slots: Option<Semaphore>,
    maxsize: Option<usize>,
    max_item: usize,
    item: PhantomData<fn(T) -> T>,
}

impl<T> Queue<T> {
    /// An unbounded queue: `put` waits only when the pipe is full.
    pub fn new() -> Result<Queue<T>, QueueError> {
        Queue::with_maxsize(None)
    }

    /// A queue that holds at most `maxsize` items: `put` waits while it holds that many.
    pub fn bounded(maxsize: usize) -> Result<Queue<T>, QueueError> {
        Queue::with_maxsize(Some(maxsize))
    }

    fn with_maxsize(maxsize: Option<usize>) -> Result<Queue<T>, QueueError> {
        let flags = nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK;
        let (reader, writer) = nix::unistd::pipe2(flags)?;
        set_pipe_size(writer.as_fd(), PIPE_SIZE);
        let slots = match maxsize {
            Some(max) => Some(Semaphore::new(u32::try_from(max).unwrap_or(u32::MAX))?),
            None => None,
        };
        Ok(Queue {
            reader: Some(reader),
            writer: Some(writer),
            // Safety: zero bytes are a valid QueueState (atomics at 0, an empty buffer).
            state: unsafe { Shared::zeroed()? },
            read_lock: RobustLock::new()?,
            write_lock: RobustLock::new()?,
            slots,
            maxsize,
            max_item: DEFAULT_MAX_MESSAGE,
            item: PhantomData,
        })
    }

    /// The longest item (encoded) the queue carries.
    pub fn max_item(&self) -> usize {
        self.max_item
    }

    /// True once a process died in the middle of an item (see [`QueueError::Broken`]).
    pub fn is_broken(&self) -> bool {
        self.state.broken.load(Ordering::SeqCst) != 0
    }

    /// `Closed` after `close`, `Broken` once the queue is broken.
    fn check(&self) -> Result<(), QueueError> {
        if self.reader.is_none() {
            return Err(QueueError::Closed);
        }
        if self.is_broken() {
            return Err(QueueError::Broken);
        }
        Ok(())
    }

    /// The frame of `item`: 4 bytes of length, then its postcard bytes. `TooLarge` over
    /// the queue's limit.
    fn frame(&self, item: &T) -> Result<Vec<u8>, QueueError>
    where
        T: Serialize,
    {
        encode_frame(item, self.max_item)
    }

    /// Takes the writer lock before `deadline`: `None` when the time ran out.
    fn lock_writer(
        &self,
        deadline: Option<Instant>,
    ) -> Result<Option<RobustGuard<'_>>, QueueError> {
        lock_side(
            &self.write_lock,
            &self.state.writing,
            &self.state.broken,
            deadline,
        )
    }

    /// Takes the reader lock before `deadline`: `None` when the time ran out.
    fn lock_reader(
        &self,
        deadline: Option<Instant>,
    ) -> Result<Option<RobustGuard<'_>>, QueueError> {
        lock_side(
            &self.read_lock,
            &self.state.reading,
            &self.state.broken,
            deadline,
        )
    }

    /// Writes `frame` into the pipe, under the writer lock (`_held`): `Ok(false)` when
    /// no room came before `deadline` and nothing was written. Once part of the frame is
    /// in, the rest follows whatever the deadline.
    fn write_frame(
        &self,
        _held: &RobustGuard<'_>,
        frame: &[u8],
        deadline: Option<Instant>,
    ) -> Result<bool, QueueError> {
        let fd = self.writer.as_ref().ok_or(QueueError::Closed)?.as_fd();
        // Frames up to PIPE_BUF go into a pipe whole or not at all.
        let atomic = frame.len() <= libc::PIPE_BUF;
        let writing = &self.state.writing;
        let mut written = 0;
        while written < frame.len() {
            if !atomic {
                writing.store(1, Ordering::SeqCst);
            }
            match write_some(fd, &[IoSlice::new(&frame[written..])], false) {
                Ok(n) => written += n,
                Err(PipeError::Os(Errno::EAGAIN)) => {
                    if written == 0 {
                        writing.store(0, Ordering::SeqCst);
                    }
                    let until = if written == 0 { deadline } else { None };
                    if poll_until(&mut [writable(fd)], until)? == 0 {
                        return Ok(false);
                    }
                }
                Err(err) => {
                    if written == 0 {
                        writing.store(0, Ordering::SeqCst);
                    }
                    return Err(err.into());
                }
            }
        }
        writing.store(0, Ordering::SeqCst);
        Ok(true)
    }

    /// Reads the next frame's bytes (without the length), under the reader lock
    /// (`_held`): `Ok(None)` when no whole frame came before `deadline`. A frame that
    /// fits in the shared buffer waits there, whole or in part, for the next getter; a
    /// longer one is read into its own `Vec` to the end, whatever the deadline.
    fn read_frame(
        &self,
        _held: &RobustGuard<'_>,
        deadline: Option<Instant>,
    ) -> Result<Option<Vec<u8>>, QueueError> {
        let fd = self.reader.as_ref().ok_or(QueueError::Closed)?.as_fd();
        let state = &*self.state;
        let buf = state.buf.get().cast::<u8>();
        loop {
            let head = state.head.load(Ordering::Relaxed) as usize;
            let tail = state.tail.load(Ordering::Relaxed) as usize;
            if tail - head >= HEADER {
                let mut prefix = [0u8; HEADER];
                // Safety: this process holds the reader lock, so nobody else touches the
                // buffer; head + HEADER <= tail <= READ_AHEAD.
                unsafe {
                    std::ptr::copy_nonoverlapping(buf.add(head), prefix.as_mut_ptr(), HEADER)
                };
                let len = u32::from_le_bytes(prefix) as usize;
                // Every put of this queue checked it; a stream is never out of step
                // (a death inside a frame breaks the queue first).
                debug_assert!(len <= self.max_item, "a frame longer than the limit");
                let body_start = head + HEADER;
                if tail - body_start >= len {
                    let mut body = Vec::with_capacity(len);
                    // Safety: as above; body_start + len <= tail, and `body` has room.
                    unsafe {
                        std::ptr::copy_nonoverlapping(buf.add(body_start), body.as_mut_ptr(), len);
                        body.set_len(len);
                    }
                    let next = body_start + len;
                    let (head, tail) = if next == tail { (0, 0) } else { (next, tail) };
                    state.head.store(head as u32, Ordering::Relaxed);
                    state.tail.store(tail as u32, Ordering::Relaxed);
                    return Ok(Some(body));
                }
                if HEADER + len > READ_AHEAD {
                    return self.read_long_frame(fd, len).map(Some);
                }
            }
            // Make room at the end of the buffer, then read what the pipe holds.
            let (head, tail) = if head > 0 {
                // Safety: as above; an overlapping move inside the buffer.
                unsafe { std::ptr::copy(buf.add(head), buf, tail - head) };
                (0, tail - head)
            } else {
                (head, tail)
            };
            state.head.store(head as u32, Ordering::Relaxed);
            let count = self.count().load(Ordering::SeqCst);
            state.reading.store(1, Ordering::SeqCst);
            // Safety: as above; the read writes at most READ_AHEAD - tail bytes after tail.
            let n = unsafe { libc::read(fd.as_raw_fd(), buf.add(tail).cast(), READ_AHEAD - tail) };
            let errno = Errno::last();
            if n > 0 {
                state
                    .tail
                    .store((tail + n as usize) as u32, Ordering::Relaxed);
            }
            state.reading.store(0, Ordering::SeqCst);
            match n {
                n if n > 0 => continue,
                _ if errno == Errno::EAGAIN => {}
                // End-of-file cannot come (this process holds a write end), nor EINTR
                // (the read does not block): only a broken descriptor gets here.
                _ => return Err(errno.into()),
            }
            // A put counts its item once the frame is in: look a few microseconds for
            // one before sleeping in poll(2).
            let counted = || self.count().load(Ordering::SeqCst) != count;
            if time_left(deadline) != Some(Duration::ZERO) && spin_then_yield(counted) {
                continue;
            }
            if poll_until(&mut [readable(fd.as_raw_fd())], deadline)? == 0 {
                if tail > head {
                    // Part of a frame waits in the buffer: is its writer still alive?
                    self.check_writer()?;
                }
                return Ok(None);
            }
        }
    }

    /// Reads a frame longer than the shared buffer into a `Vec` of its own: what the
    /// buffer holds of it, then the rest straight from the pipe.
    fn read_long_frame(&self, fd: BorrowedFd<'_>, len: usize) -> Result<Vec<u8>, QueueError> {
        let state = &*self.state;
        let head = state.head.load(Ordering::Relaxed) as usize;
        let tail = state.tail.load(Ordering::Relaxed) as usize;
        let have = tail - head - HEADER;
        let mut body = Vec::with_capacity(len);
        // From here until the frame is read, its bytes live in this process only.
        state.reading.store(1, Ordering::SeqCst);
        // Safety: this process holds the reader lock; head + HEADER + have == tail.
        unsafe {
            let buf = state.buf.get().cast::<u8>();
            std::ptr::copy_nonoverlapping(buf.add(head + HEADER), body.as_mut_ptr(), have);
            body.set_len(have);
        }
        state.head.store(0, Ordering::Relaxed);
        state.tail.store(0, Ordering::Relaxed);
        while body.len() < len {
            let want = len - body.len();
            match read_append(fd, &mut body, want) {
                Ok(0) => return Err(QueueError::Closed),
                Ok(_) => {}
                Err(PipeError::Os(Errno::EAGAIN)) => {
                    let slice = deadline_after(Some(WRITER_CHECK));
                    if poll_until(&mut [readable(fd.as_raw_fd())], slice)? == 0 {
                        self.check_writer()?;
                    }
                }
                Err(err) => return Err(err.into()),
            }
        }
        state.reading.store(0, Ordering::SeqCst);
        Ok(body)
    }

    /// `Broken` when the writer lock's holder died in the middle of a frame (the frame
    /// a getter waits for will never be finished); nothing otherwise.
    fn check_writer(&self) -> Result<(), QueueError> {
        drop(self.lock_writer(deadline_after(Some(Duration::ZERO)))?);
        if self.is_broken() {
            return Err(QueueError::Broken);
        }
        Ok(())
    }

    /// The number of items put and not yet got.
    fn count(&self) -> &AtomicI64 {
        &self.state.count
    }
}

// ANCHOR: lock_side
/// Takes `lock` before `deadline` (`None` when the time ran out). When its holder died
/// holding it, the lock is taken all the same: if the holder was in the middle of a
/// frame (`busy`), the queue is broken; either way the lock is repaired for the next
/// holder. `Broken` when the queue is broken.
fn lock_side<'a>(
    lock: &'a RobustLock,
    busy: &AtomicU32,
    broken: &AtomicU32,
    deadline: Option<Instant>,
) -> Result<Option<RobustGuard<'a>>, QueueError> {
    let guard = match lock.lock(time_left(deadline)) {
        Ok(guard) => guard,
        Err(RobustError::TimedOut) => return Ok(None),
        Err(RobustError::OwnerDied(mut guard)) => {
            if busy.load(Ordering::SeqCst) != 0 {
                broken.store(1, Ordering::SeqCst);
            }
            guard.mark_consistent()?;
            guard
        }
        Err(RobustError::NotRecoverable) => {
            broken.store(1, Ordering::SeqCst);
            return Err(QueueError::Broken);
        }
        Err(RobustError::Os(errno)) => return Err(QueueError::Os(errno)),
    };
    if broken.load(Ordering::SeqCst) != 0 {
        return Err(QueueError::Broken);
    }
    Ok(Some(guard))
}
// ANCHOR_END: lock_side

/// The time left until `deadline` (zero once it has passed; `None`: no deadline).
pub fn time_left(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(Instant::now()))
}

/// The frame of `item`: its postcard bytes behind their length (4 bytes,
/// little-endian). `TooLarge` when the bytes are over `max`.
pub fn encode_frame<T: Serialize + ?Sized>(item: &T, max: usize) -> Result<Vec<u8>, QueueError> {
    let frame = postcard::to_extend(item, vec![0u8; HEADER])
        .map_err(|e| QueueError::Malformed(PipeError::Encode(e.to_string())))?;
    let len = frame.len() - HEADER;
    if len > max {
        return Err(QueueError::TooLarge { len, max });
    }
    let mut frame = frame;
    frame[..HEADER].copy_from_slice(&(len as u32).to_le_bytes());
    Ok(frame)
}

/// A `pollfd` asking whether `fd` has room for a write.
fn writable(fd: BorrowedFd<'_>) -> libc::pollfd {
    libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    }
}

impl<T: Serialize + DeserializeOwned> MpQueue<T> for Queue<T> {
    // ANCHOR: put
    fn put(&self, item: &T, timeout: Option<Duration>) -> Result<(), QueueError> {
        // TODO: refuse a closed or broken queue and an item over the limit;
        // take a slot when the queue is bounded; write the frame under the
        // writer lock, then count the item. When the time runs out or anything
        // fails, give the slot back.
        todo!("put an item within {timeout:?}")
    }
    // ANCHOR_END: put

    // ANCHOR: get
    fn get(&self, timeout: Option<Duration>) -> Result<T, QueueError> {
        // TODO: refuse a closed or broken queue; read one frame under the
        // reader lock (`Empty` when the time runs out first); then uncount the
        // item, give its slot back when the queue is bounded, and decode it.
        todo!("get an item within {timeout:?}")
    }
    // ANCHOR_END: get

    fn qsize(&self) -> usize {
        self.count().load(Ordering::SeqCst).max(0) as usize
    }

    fn maxsize(&self) -> Option<usize> {
        self.maxsize
    }

    fn close(&mut self) {
        self.reader = None;
        self.writer = None;
    }
}
