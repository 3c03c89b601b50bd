//! Exercise 8: `map`: cutting the input into chunks, one task each, and the results
//! back in input order.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::PoolError;
use crate::pool::{decode_all, AsyncResult, Cell, Pool};
use crate::task::Task;

// ANCHOR: default_chunksize
/// Python's default chunk size for `map` of `len` items over `processes` workers:
/// about four chunks per worker, `ceil(len / (4 * processes))`, and at least 1.
pub fn default_chunksize(len: usize, processes: usize) -> usize {
    // SKELETON: // TODO: Python's rule: len / (4 * processes), rounded up; never 0.
    // SKELETON: todo!("the default chunk size for {len} items over {processes} workers")
    // BEGIN SOLUTION
    len.div_ceil(4 * processes.max(1)).max(1)
    // END SOLUTION
}
// ANCHOR_END: default_chunksize

impl Pool {
    // ANCHOR: map_async
    /// `f(item)` for every item, in chunks of `chunksize` items (`None`: the
    /// default), each chunk one task; the handle gives the results in input order
    /// (Python's `map_async`). The first chunk to fail fails the whole result.
    /// `InvalidChunksize` for `Some(0)`; `Encode` when an item cannot be encoded (then
    /// nothing was submitted); `NotRunning` after `close` or `terminate`.
    pub fn map_async<A, R>(
        &self,
        f: fn(A) -> R,
        items: impl IntoIterator<Item = A>,
        chunksize: Option<usize>,
    ) -> Result<AsyncResult<Vec<R>>, PoolError>
    where
        A: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned,
    {
        self.map_chunks(items, chunksize, |chunk| Task::chunk(f, chunk))
    }

    /// [`Pool::map_async`], waiting for the results (Python's `map`).
    pub fn map<A, R>(
        &self,
        f: fn(A) -> R,
        items: impl IntoIterator<Item = A>,
        chunksize: Option<usize>,
    ) -> Result<Vec<R>, PoolError>
    where
        A: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned,
    {
        self.map_async(f, items, chunksize)?.get(None)
    }

    /// `f(a, b)` for every pair `(a, b)`: Python's `starmap_async`.
    pub fn starmap_async<A, B, R>(
        &self,
        f: fn(A, B) -> R,
        items: impl IntoIterator<Item = (A, B)>,
        chunksize: Option<usize>,
    ) -> Result<AsyncResult<Vec<R>>, PoolError>
    where
        A: Serialize + DeserializeOwned,
        B: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned,
    {
        self.map_chunks(items, chunksize, |chunk| Task::star(f, chunk))
    }

    /// [`Pool::starmap_async`], waiting for the results (Python's `starmap`).
    pub fn starmap<A, B, R>(
        &self,
        f: fn(A, B) -> R,
        items: impl IntoIterator<Item = (A, B)>,
        chunksize: Option<usize>,
    ) -> Result<Vec<R>, PoolError>
    where
        A: Serialize + DeserializeOwned,
        B: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned,
    {
        self.starmap_async(f, items, chunksize)?.get(None)
    }

    /// Cuts `items` into chunks, makes each a task with `task`, submits them all as
    /// the chunks of one result, and returns its handle.
    fn map_chunks<T, R>(
        &self,
        items: impl IntoIterator<Item = T>,
        chunksize: Option<usize>,
        task: impl Fn(&[T]) -> Result<Task, PoolError>,
    ) -> Result<AsyncResult<Vec<R>>, PoolError>
    where
        R: DeserializeOwned,
    {
        // SKELETON: // TODO: check the chunk size; make every chunk's task before submitting any
        // SKELETON: // (so that a bad item submits nothing); submit them as chunks 0, 1, ... of one
        // SKELETON: // result, whose handle decodes with `decode_all`.
        // SKELETON: todo!("map over chunks of {chunksize:?} items")
        // BEGIN SOLUTION
        let items: Vec<T> = items.into_iter().collect();
        let size = match chunksize {
            Some(0) => return Err(PoolError::InvalidChunksize),
            Some(size) => size,
            None => default_chunksize(items.len(), self.processes()),
        };
        let tasks = items
            .chunks(size)
            .map(task)
            .collect::<Result<Vec<Task>, PoolError>>()?;
        self.core.borrow().check_running()?;
        let cell = Cell::new(tasks.len());
        let mut inner = self.core.borrow_mut();
        for (chunk, task) in tasks.into_iter().enumerate() {
            inner.submit(task, &cell, chunk)?;
        }
        drop(inner);
        Ok(self.handle(cell, decode_all::<R>))
        // END SOLUTION
    }
    // ANCHOR_END: map_async
}
