//! Exercise 7: a queue in shared memory, a ring of bytes, where a put and a get make no
//! system call unless someone has to sleep or be woken (beyond Python).
//!
//! The ring holds frames (4 bytes of length, then the postcard bytes) one after the
//! other, wrapping around its end. `tail` counts the bytes ever put and `head` the
//! bytes ever got; the ring holds `tail - head` bytes. Putters take turns under a put
//! lock and only ever move `tail`; getters take turns under a get lock and only ever
//! move `head`; so with one putter and one getter, neither lock is ever contended. A
//! getter that finds the ring empty sleeps on the futex word `items` until a putter
//! moves it; a putter that finds it full sleeps on `space` until a getter moves it.
//! Each side moves its word after every item, but makes the `futex` call only when the
//! other side counts a sleeper.
//!
//! Nobody sleeps holding a lock: a process killed while it waits leaves the queue as it
//! was. The locks are chapter 5's plain `Lock`, held only while a frame is copied; a
//! process killed inside that copy leaves its lock locked for good (Python's queue has
//! the same weakness, for much longer windows).

use std::cell::UnsafeCell;
use std::ptr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ch05_sync::futex::{self, Wake};
use ch05_sync::{Lock, Semaphore, Shared, ShmSafe};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::QueueError;
use crate::message::decode;
use crate::pipe::{deadline_after, spin_then_yield, HEADER};
use crate::queue::{encode_frame, time_left};
use crate::queue_api::MpQueue;

/// The ring's size in bytes: the most an item (with its 4-byte length) can take, and
/// the most all the items in the queue can take together.
pub const RING_BYTES: usize = 1 << 20;

/// What the processes of a [`RingQueue`] share. What putters write sits on one cache
/// line, what getters write on another: each side then reads the other's line once per
/// item, and no line is written by both (it would bounce between the CPUs twice per
/// item).
#[repr(C, align(64))]
pub struct RingState {
    /// Bytes ever put: moved by putters only, under the put lock.
    tail: AtomicU64,
    /// Moves (wrapping) whenever an item is put: getters sleep on it.
    items: AtomicU32,
    /// Putters asleep on `space` (written only by a putter about to sleep).
    space_waiters: AtomicU32,
    /// Items ever put, for `qsize`.
    puts: AtomicU64,
    _put_line: [u8; 40],
    /// Bytes ever got: moved by getters only, under the get lock.
    head: AtomicU64,
    /// Moves (wrapping) whenever an item is got: putters sleep on it.
    space: AtomicU32,
    /// Getters asleep on `items` (written only by a getter about to sleep).
    items_waiters: AtomicU32,
    /// Items ever got, for `qsize`.
    gets: AtomicU64,
    _get_line: [u8; 40],
    bytes: UnsafeCell<[u8; RING_BYTES]>,
}

// The two lines really are two: the getters' starts where the putters' ends.
const _: () = assert!(std::mem::offset_of!(RingState, head) == 64);
const _: () = assert!(std::mem::offset_of!(RingState, bytes) == 128);

// Safety: repr(C), no pointers; everything but `bytes` is atomic, and the bytes of a
// frame are written by one putter (under the put lock) before `tail` publishes them,
// and read by one getter (under the get lock) before `head` gives them back.
unsafe impl ShmSafe for RingState {}
// Safety: as above.
unsafe impl Sync for RingState {}

/// A queue whose items live in a ring of shared memory, with futex wake-ups: the same
/// API as [`Queue`](crate::Queue), and no system call on its fast path.
pub struct RingQueue<T> {
    state: Shared<RingState>,
    put_lock: Lock,
    get_lock: Lock,
    slots: Option<Semaphore>,
    maxsize: Option<usize>,
    closed: bool,
    item: std::marker::PhantomData<fn(T) -> T>,
}

impl<T> RingQueue<T> {
    /// An unbounded ring queue (bounded only by [`RING_BYTES`]).
    pub fn new() -> Result<RingQueue<T>, QueueError> {
        RingQueue::with_maxsize(None)
    }

    /// A ring queue that holds at most `maxsize` items.
    pub fn bounded(maxsize: usize) -> Result<RingQueue<T>, QueueError> {
        RingQueue::with_maxsize(Some(maxsize))
    }

    fn with_maxsize(maxsize: Option<usize>) -> Result<RingQueue<T>, QueueError> {
        let slots = match maxsize {
            Some(max) => Some(Semaphore::new(u32::try_from(max).unwrap_or(u32::MAX))?),
            None => None,
        };
        Ok(RingQueue {
            // Safety: zero bytes are a valid RingState (every counter at 0, an empty
            // ring); `zeroed` never builds the megabyte on the stack.
            state: unsafe { Shared::zeroed()? },
            put_lock: Lock::new()?,
            get_lock: Lock::new()?,
            slots,
            maxsize,
            closed: false,
            item: std::marker::PhantomData,
        })
    }

    /// `Closed` after `close`.
    fn check(&self) -> Result<(), QueueError> {
        if self.closed {
            return Err(QueueError::Closed);
        }
        Ok(())
    }

    /// Copies `src` into the ring from position `pos` on, wrapping around its end.
    ///
    /// # Safety
    /// The caller holds the put lock, and the ring has room for `src` at `pos`: no
    /// getter reads those bytes until `tail` moves past them.
    unsafe fn copy_in(&self, pos: u64, src: &[u8]) {
        let ring = self.state.bytes.get().cast::<u8>();
        let at = (pos % RING_BYTES as u64) as usize;
        let first = src.len().min(RING_BYTES - at);
        // Safety: both ranges lie inside the ring, and the caller owns them.
        unsafe {
            ptr::copy_nonoverlapping(src.as_ptr(), ring.add(at), first);
            ptr::copy_nonoverlapping(src.as_ptr().add(first), ring, src.len() - first);
        }
    }

    /// Copies `dst.len()` bytes out of the ring from position `pos` on, wrapping.
    ///
    /// # Safety
    /// The caller holds the get lock, and those bytes were published by `tail`: no
    /// putter writes them until `head` moves past them.
    unsafe fn copy_out(&self, pos: u64, dst: &mut [u8]) {
        let ring = self.state.bytes.get().cast::<u8>();
        let at = (pos % RING_BYTES as u64) as usize;
        let first = dst.len().min(RING_BYTES - at);
        // Safety: both ranges lie inside the ring, and the caller owns them.
        unsafe {
            ptr::copy_nonoverlapping(ring.add(at), dst.as_mut_ptr(), first);
            ptr::copy_nonoverlapping(ring, dst.as_mut_ptr().add(first), dst.len() - first);
        }
    }

    /// Sleeps on `word` while it still holds `seen`, counted in `waiters` (so that the
    /// other side knows to wake it), until `deadline`. `true` when the deadline passed.
    /// Looks a few microseconds first, without sleeping, whether the word moves: a
    /// busy other side moves it soon, and then nobody pays for a sleep and a wake.
    fn sleep(
        word: &AtomicU32,
        waiters: &AtomicU32,
        seen: u32,
        deadline: Option<Instant>,
    ) -> Result<bool, QueueError> {
        let moved = || word.load(Ordering::SeqCst) != seen;
        if time_left(deadline) != Some(Duration::ZERO) && spin_then_yield(moved) {
            return Ok(false);
        }
        waiters.fetch_add(1, Ordering::SeqCst);
        let woke = futex::wait(word, seen, deadline);
        waiters.fetch_sub(1, Ordering::SeqCst);
        Ok(woke? == Wake::TimedOut)
    }

    /// Moves `word` on and wakes one sleeper on it, if any: the system call happens
    /// only when someone sleeps.
    fn signal(word: &AtomicU32, waiters: &AtomicU32) {
        word.fetch_add(1, Ordering::SeqCst);
        if waiters.load(Ordering::SeqCst) > 0 {
            futex::wake(word, 1);
        }
    }

    /// Gives back the slot a put took, when the queue is bounded.
    fn release_slot(&self) -> Result<(), QueueError> {
        if let Some(slots) = &self.slots {
            slots.release()?;
        }
        Ok(())
    }
}

impl<T: Serialize + DeserializeOwned> MpQueue<T> for RingQueue<T> {
    // ANCHOR: put
    fn put(&self, item: &T, timeout: Option<Duration>) -> Result<(), QueueError> {
        // SKELETON: // TODO: refuse a closed queue and a frame longer than the ring; take a
        // SKELETON: // slot when bounded. Under the put lock: if the frame fits, copy it in,
        // SKELETON: // publish it by moving `tail`, unlock and wake a getter if one sleeps.
        // SKELETON: // If not, unlock and sleep on `space` (read before looking for room),
        // SKELETON: // then try again; after the deadline, one last try, then `Full`
        // SKELETON: // (giving the slot back).
        // SKELETON: todo!("put an item in the ring within {timeout:?}")
        // BEGIN SOLUTION
        let deadline = deadline_after(timeout);
        self.check()?;
        let frame = encode_frame(item, RING_BYTES - HEADER)?;
        if let Some(slots) = &self.slots {
            if !slots.acquire(time_left(deadline))? {
                return Err(QueueError::Full);
            }
        }
        let state = &*self.state;
        // Once the deadline has passed, one last look, then `Full`.
        let mut expired = false;
        loop {
            if !self.put_lock.acquire(time_left(deadline))? {
                self.release_slot()?;
                return Err(QueueError::Full);
            }
            // Read the word before looking for room: a get after this moves it, and
            // then the sleep below returns at once.
            let seen = state.space.load(Ordering::SeqCst);
            let tail = state.tail.load(Ordering::Relaxed);
            let head = state.head.load(Ordering::Acquire);
            if RING_BYTES as u64 - (tail - head) >= frame.len() as u64 {
                // Safety: we hold the put lock, and the frame fits between tail and head.
                unsafe { self.copy_in(tail, &frame) };
                state.puts.fetch_add(1, Ordering::SeqCst);
                // Release: a getter that sees the new tail sees the bytes.
                state
                    .tail
                    .store(tail + frame.len() as u64, Ordering::Release);
                self.put_lock.release()?;
                RingQueue::<T>::signal(&state.items, &state.items_waiters);
                return Ok(());
            }
            // No room: sleep without the lock, so that a process killed while it
            // sleeps leaves nothing locked.
            self.put_lock.release()?;
            if expired {
                self.release_slot()?;
                return Err(QueueError::Full);
            }
            expired = RingQueue::<T>::sleep(&state.space, &state.space_waiters, seen, deadline)?;
        }
        // END SOLUTION
    }
    // ANCHOR_END: put

    // ANCHOR: get
    fn get(&self, timeout: Option<Duration>) -> Result<T, QueueError> {
        // SKELETON: // TODO: refuse a closed queue. Under the get lock: if the ring holds a
        // SKELETON: // frame, copy it out, give its bytes back by moving `head`, unlock,
        // SKELETON: // wake a putter if one sleeps, give the slot back when bounded, and
        // SKELETON: // decode. If not, unlock and sleep on `items` (read before looking),
        // SKELETON: // then try again; after the deadline, one last try, then `Empty`.
        // SKELETON: todo!("get an item from the ring within {timeout:?}")
        // BEGIN SOLUTION
        let deadline = deadline_after(timeout);
        self.check()?;
        let state = &*self.state;
        // Once the deadline has passed, one last look, then `Empty`.
        let mut expired = false;
        loop {
            if !self.get_lock.acquire(time_left(deadline))? {
                return Err(QueueError::Empty);
            }
            // Read the word before looking for an item: a put after this moves it, and
            // then the sleep below returns at once.
            let seen = state.items.load(Ordering::SeqCst);
            let head = state.head.load(Ordering::Relaxed);
            // Acquire: seeing the tail of a put, we see the bytes it copied.
            if state.tail.load(Ordering::Acquire) != head {
                let mut prefix = [0u8; HEADER];
                // Safety: we hold the get lock, and tail is past head: a whole frame is
                // there.
                unsafe { self.copy_out(head, &mut prefix) };
                let len = u32::from_le_bytes(prefix) as usize;
                let mut body = vec![0u8; len];
                // Safety: as above.
                unsafe { self.copy_out(head + HEADER as u64, &mut body) };
                // Release: a putter that sees the new head may reuse the bytes.
                state
                    .head
                    .store(head + (HEADER + len) as u64, Ordering::Release);
                state.gets.fetch_add(1, Ordering::SeqCst);
                self.get_lock.release()?;
                RingQueue::<T>::signal(&state.space, &state.space_waiters);
                self.release_slot()?;
                return decode(&body).map_err(QueueError::Malformed);
            }
            self.get_lock.release()?;
            if expired {
                return Err(QueueError::Empty);
            }
            expired = RingQueue::<T>::sleep(&state.items, &state.items_waiters, seen, deadline)?;
        }
        // END SOLUTION
    }
    // ANCHOR_END: get

    fn qsize(&self) -> usize {
        let gets = self.state.gets.load(Ordering::SeqCst);
        let puts = self.state.puts.load(Ordering::SeqCst);
        puts.saturating_sub(gets) as usize
    }

    fn maxsize(&self) -> Option<usize> {
        self.maxsize
    }

    fn close(&mut self) {
        self.closed = true;
    }
}
