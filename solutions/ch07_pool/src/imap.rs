//! Exercise 9: `imap` and `imap_unordered`: results as an iterator, the input taken
//! lazily, a few chunks ahead.

use std::collections::VecDeque;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::PoolError;
use crate::pool::{decode_value, drive_until, Cell, CellRef, Outcome, Pool, PoolRef};
use crate::task::Task;

/// How many chunks an `imap` keeps submitted and not yet yielded, per worker.
pub const CHUNKS_AHEAD_PER_WORKER: usize = 2;

/// The iterator of `imap` and `imap_unordered`: each item is a result, or why a chunk
/// gave none (then the iteration goes on with the next chunk).
pub struct IMap<A, R, I> {
    core: PoolRef,
    cell: CellRef,
    f: fn(A) -> R,
    input: I,
    chunksize: usize,
    ordered: bool,
    /// At most this many chunks submitted and not yet taken.
    ahead: usize,
    /// Chunks submitted so far (the next chunk's number).
    submitted: usize,
    /// Chunks taken (yielded or failed) so far.
    taken: usize,
    /// The input has no more items.
    exhausted: bool,
    /// Values of the last chunk taken, not yet yielded.
    values: VecDeque<R>,
}

impl Pool {
    /// `f(item)` for every item, as an iterator of results in input order (Python's
    /// `imap`). The first chunks (of `chunksize` items, `None`: 1) are submitted at
    /// once; then the input is read lazily: a chunk is taken from it only when fewer
    /// than `2 * processes` chunks are submitted and not yet yielded, so an endless
    /// input works. `InvalidChunksize` for `Some(0)`.
    pub fn imap<A, R, I>(
        &self,
        f: fn(A) -> R,
        items: I,
        chunksize: Option<usize>,
    ) -> Result<IMap<A, R, I::IntoIter>, PoolError>
    where
        I: IntoIterator<Item = A>,
        A: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned,
    {
        self.imap_with(f, items, chunksize, true)
    }

    /// [`Pool::imap`], but the results come as their chunks finish, in any order
    /// (Python's `imap_unordered`).
    pub fn imap_unordered<A, R, I>(
        &self,
        f: fn(A) -> R,
        items: I,
        chunksize: Option<usize>,
    ) -> Result<IMap<A, R, I::IntoIter>, PoolError>
    where
        I: IntoIterator<Item = A>,
        A: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned,
    {
        self.imap_with(f, items, chunksize, false)
    }

    fn imap_with<A, R, I>(
        &self,
        f: fn(A) -> R,
        items: I,
        chunksize: Option<usize>,
        ordered: bool,
    ) -> Result<IMap<A, R, I::IntoIter>, PoolError>
    where
        I: IntoIterator<Item = A>,
        A: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned,
    {
        if chunksize == Some(0) {
            return Err(PoolError::InvalidChunksize);
        }
        self.core.borrow().check_running()?;
        let mut imap = IMap {
            core: self.core.clone(),
            cell: Cell::streaming(),
            f,
            input: items.into_iter(),
            chunksize: chunksize.unwrap_or(1),
            ordered,
            ahead: CHUNKS_AHEAD_PER_WORKER * self.processes(),
            submitted: 0,
            taken: 0,
            exhausted: false,
            values: VecDeque::new(),
        };
        // The first chunks go out now, as Python's do: the work starts before the
        // first `next`.
        imap.feed()?;
        Ok(imap)
    }
}

impl<A, R, I> IMap<A, R, I>
where
    I: Iterator<Item = A>,
    A: Serialize + DeserializeOwned,
    R: Serialize + DeserializeOwned,
{
    // ANCHOR: feed
    /// Submits chunks of the input while fewer than `ahead` are submitted and not
    /// taken, until the input ends. A chunk that cannot be submitted (an item that
    /// does not encode, a pool that no longer runs) is an error, and leaves no chunk
    /// behind that the iterator would wait for.
    fn feed(&mut self) -> Result<(), PoolError> {
        // SKELETON: // TODO: keep up to `ahead` chunks in flight, each a `Task::chunk` of up to
        // SKELETON: // `chunksize` items taken from the input, submitted as the next chunk of the cell;
        // SKELETON: // mark the end of the input. A failed submit must not leave a chunk behind.
        // SKELETON: todo!(
        // SKELETON:     "submit chunks ({} submitted, {} taken, at most {} ahead)",
        // SKELETON:     self.submitted,
        // SKELETON:     self.taken,
        // SKELETON:     self.ahead
        // SKELETON: )
        // BEGIN SOLUTION
        while !self.exhausted && self.submitted - self.taken < self.ahead {
            let items: Vec<A> = self.input.by_ref().take(self.chunksize).collect();
            if items.is_empty() {
                self.exhausted = true;
                break;
            }
            let task = Task::chunk(self.f, &items)?;
            let chunk = self.cell.borrow_mut().add_chunk();
            if let Err(err) = self.core.borrow_mut().submit(task, &self.cell, chunk) {
                self.cell.borrow_mut().chunks.pop();
                return Err(err);
            }
            self.submitted += 1;
        }
        Ok(())
        // END SOLUTION
    }
    // ANCHOR_END: feed

    // ANCHOR: next_chunk
    /// Drives the pool until the next chunk to take has arrived (in input order for
    /// `imap`; the first to arrive for `imap_unordered`), and takes its outcome out of
    /// the cell.
    fn next_chunk(&mut self) -> Result<Outcome, PoolError> {
        // SKELETON: // TODO: wait (driving the pool) for the chunk `imap` must yield next, or for
        // SKELETON: // any chunk at all for `imap_unordered`; take its outcome out of the cell.
        // SKELETON: todo!(
        // SKELETON:     "take chunk {} of {} (ordered: {})",
        // SKELETON:     self.taken,
        // SKELETON:     self.submitted,
        // SKELETON:     self.ordered
        // SKELETON: )
        // BEGIN SOLUTION
        let cell = &self.cell;
        let (ordered, next) = (self.ordered, self.taken);
        drive_until(&self.core, None, || {
            let cell = cell.borrow();
            if ordered {
                cell.chunks[next].is_some()
            } else {
                !cell.arrivals.is_empty()
            }
        })?;
        let mut cell = cell.borrow_mut();
        let index = if ordered {
            next
        } else {
            cell.arrivals.pop_front().expect("a chunk arrived")
        };
        if ordered {
            cell.arrivals.clear();
        }
        self.taken += 1;
        Ok(cell.chunks[index].take().expect("the chunk arrived"))
        // END SOLUTION
    }
    // ANCHOR_END: next_chunk
}

impl<A, R, I> Iterator for IMap<A, R, I>
where
    I: Iterator<Item = A>,
    A: Serialize + DeserializeOwned,
    R: Serialize + DeserializeOwned,
{
    type Item = Result<R, PoolError>;

    fn next(&mut self) -> Option<Result<R, PoolError>> {
        loop {
            if let Some(value) = self.values.pop_front() {
                return Some(Ok(value));
            }
            if let Err(err) = self.feed() {
                // The rest of the input is not read after an error.
                self.exhausted = true;
                return Some(Err(err));
            }
            if self.taken == self.submitted {
                return None;
            }
            let values = self
                .next_chunk()
                .and_then(|outcome| decode_value::<Vec<R>>(&outcome?));
            match values {
                Ok(values) => self.values.extend(values),
                Err(err) => return Some(Err(err)),
            }
        }
    }
}
