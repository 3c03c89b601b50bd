//! Given: the pool's parts, and the loop that drives them.
//!
//! # No helper thread
//!
//! Python's `Pool` runs three threads in the parent: one hands tasks to the workers,
//! one reads their results, one replaces workers that ended. Forking while other
//! threads run is what `fork` is worst at: the child gets a copy of every lock as it
//! was, held by threads that do not exist there.
//!
//! This pool has no thread at all. Whichever call into the pool waits (`get`, `wait`,
//! `ready`, `map`, `join`, an `imap`'s `next`) drives one event loop, [`drive_until`]:
//! hand queued tasks to workers with room, `poll` every worker's connection and pidfd,
//! read the answers, and fork a replacement for a worker that ended. So every fork of
//! a replacement happens in the thread that owns the pool, in the middle of a call it
//! made, while the pool has no other thread that could hold a lock. Callbacks run in
//! that thread too, during such a call (never in between, never in another thread).
//! The types say it: [`Pool`] and its results hold `Rc`s, so they are neither `Send`
//! nor `Sync`, and the compiler keeps them in the thread that made them.
//!
//! The cost: nothing happens while nobody calls into the pool. Tasks are handed out
//! when they are submitted and whenever the loop runs; a worker that finished waits
//! with its answer until the next call.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use ch04_pipes_queues::{wait, Connection, Waitable, DEFAULT_MAX_MESSAGE, LOOKS_BEFORE_SLEEP};
use mpkit::Child;
use serde::de::DeserializeOwned;

use crate::error::{PoolError, TaskError};
use crate::task::Task;

/// How many tasks a worker holds at most: the one it runs, and one waiting in its
/// socket, so that it never waits for the pool between two tasks.
pub const PREFETCH: usize = 2;

/// A task goes to a busy worker (as its waiting task) only if its frame is at most
/// this long, far below what a socket buffers: then sending it never blocks. A longer
/// one waits for an idle worker, which is reading. Otherwise the pool could block
/// sending a long task to a worker that blocks sending a long result to the pool, each
/// waiting for the other to read.
pub const PREFETCH_BYTES: usize = 16 << 10;

/// The outcome of one task (or one chunk): the result's postcard bytes, or why none.
pub type Outcome = Result<Vec<u8>, TaskError>;

/// What a result handle and the pool share: the outcomes of the tasks (chunks) one
/// call was cut into, as they arrive.
pub struct Cell {
    /// Each chunk's outcome, once it has arrived.
    pub(crate) chunks: Vec<Option<Outcome>>,
    /// Chunk numbers in the order their outcomes arrived (for `imap_unordered`).
    pub(crate) arrivals: VecDeque<usize>,
    /// Chunks still to arrive (not counted for a streaming cell).
    pub(crate) pending: usize,
    /// Set once, when the whole result is final: every chunk arrived, or one failed.
    pub(crate) outcome: Option<Result<(), TaskError>>,
    /// An `imap`'s cell: chunks are taken one by one and it is never final.
    pub(crate) streaming: bool,
    /// Run (in the thread driving the pool) once the result is final.
    pub(crate) callbacks: Vec<Box<dyn FnOnce()>>,
}

/// A [`Cell`] shared by the pool and a handle.
pub type CellRef = Rc<RefCell<Cell>>;

impl Cell {
    /// A cell waiting for `chunks` outcomes; one of none is final at once.
    pub(crate) fn new(chunks: usize) -> CellRef {
        Rc::new(RefCell::new(Cell {
            chunks: (0..chunks).map(|_| None).collect(),
            arrivals: VecDeque::new(),
            pending: chunks,
            outcome: (chunks == 0).then_some(Ok(())),
            streaming: false,
            callbacks: Vec::new(),
        }))
    }

    /// A cell for `imap`: chunks are added as they are submitted.
    pub(crate) fn streaming() -> CellRef {
        let cell = Cell::new(0);
        {
            let mut c = cell.borrow_mut();
            c.outcome = None;
            c.streaming = true;
        }
        cell
    }

    /// Adds a chunk to a streaming cell; returns its number.
    pub(crate) fn add_chunk(&mut self) -> usize {
        self.chunks.push(None);
        self.chunks.len() - 1
    }

    /// True once the whole result is known.
    pub fn is_final(&self) -> bool {
        self.outcome.is_some()
    }

    /// Stores chunk `chunk`'s outcome; true when this made the result final (the
    /// last chunk arrived, or the first failure).
    pub(crate) fn put(&mut self, chunk: usize, outcome: Outcome) -> bool {
        let failed = outcome.as_ref().err().cloned();
        self.chunks[chunk] = Some(outcome);
        self.arrivals.push_back(chunk);
        if self.streaming || self.outcome.is_some() {
            return false;
        }
        self.pending -= 1;
        match failed {
            Some(err) => self.outcome = Some(Err(err)),
            None if self.pending == 0 => self.outcome = Some(Ok(())),
            None => return false,
        }
        true
    }
}

/// One task on its way: its frame (a [`Task`], encoded), and where its outcome goes.
pub struct Job {
    pub(crate) frame: Vec<u8>,
    pub(crate) cell: CellRef,
    pub(crate) chunk: usize,
}

/// A worker, as the pool sees it.
pub struct Worker {
    /// `ForkPoolWorker-N`.
    pub(crate) name: String,
    /// The guarded process: its pidfd says when it ends; dropping it kills and reaps.
    pub(crate) child: Child,
    /// The pool's end of the worker's socketpair.
    pub(crate) conn: Connection,
    /// The tasks sent to it and not answered yet, oldest first.
    pub(crate) held: VecDeque<Job>,
    /// How many more tasks it may be sent (`maxtasksperchild`); `None`: no limit.
    pub(crate) quota: Option<usize>,
    /// It said `Ready`: its initializer returned.
    pub(crate) ready: bool,
    /// Its connection reached end-of-file, or was closed: nothing more to read.
    pub(crate) eof: bool,
    /// The pool closed its end after `close`: it takes no more tasks and leaves.
    pub(crate) retired: bool,
}

impl Worker {
    /// Whether `job` may be sent to this worker now: its quota is not spent, and it
    /// is idle, or busy with one task while `job` is short. (A worker that ended, or
    /// that the pool retired, fails the send: `dispatch` then spends its quota.)
    pub(crate) fn can_take(&self, job: &Job) -> bool {
        self.quota != Some(0)
            && (self.held.is_empty()
                || (self.held.len() < PREFETCH && job.frame.len() <= PREFETCH_BYTES))
    }
}

/// Where a pool is in its life.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum State {
    /// Takes tasks.
    Running,
    /// `close` was called: finishes the tasks it has, takes no more.
    Closed,
    /// `terminate` was called (or the pool was dropped): every worker was killed.
    Terminated,
    /// A worker ended in its initializer: every task failed with this error.
    Broken(TaskError),
}

/// The pool's state, shared (through an `Rc`) by the pool and its result handles.
pub struct Inner {
    /// How many workers the pool keeps.
    pub(crate) processes: usize,
    /// Run first in every worker.
    pub(crate) initializer: Option<Rc<dyn Fn()>>,
    /// Tasks per worker (`maxtasksperchild`).
    pub(crate) maxtasks: Option<usize>,
    /// The workers, in the order they were forked.
    pub(crate) workers: Vec<Worker>,
    /// Tasks no worker holds yet, in submission order.
    pub(crate) queue: VecDeque<Job>,
    /// Running, closed, terminated or broken.
    pub(crate) state: State,
    /// Callbacks of final results, run once the pool is no longer borrowed.
    pub(crate) due: Vec<Box<dyn FnOnce()>>,
    /// The pid of the process that made the pool: the only one that may use it.
    pub(crate) owner: i32,
}

/// The pool's shared state.
pub type PoolRef = Rc<RefCell<Inner>>;

/// A pool of worker processes, Python's `multiprocessing.Pool` (fork start method).
///
/// Dropping it terminates it, as leaving Python's `with Pool() as pool:` block does:
/// every worker is killed and reaped, and results not yet final fail with
/// `TaskError::Terminated`. Neither `Send` nor `Sync`: see the module's documentation.
pub struct Pool {
    pub(crate) core: PoolRef,
}

/// A worker's name and pid, as `Pool::workers` lists them (Python's `pool._pool`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WorkerInfo {
    /// `ForkPoolWorker-N`.
    pub name: String,
    /// Its process id.
    pub pid: i32,
}

/// The result of `apply_async` or `map_async`, Python's `AsyncResult`.
pub struct AsyncResult<T> {
    pub(crate) core: PoolRef,
    pub(crate) cell: CellRef,
    pub(crate) decode: fn(&Cell) -> Result<T, PoolError>,
}

impl Pool {
    /// The workers alive now, in the order they were forked.
    pub fn workers(&self) -> Vec<WorkerInfo> {
        self.core
            .borrow()
            .workers
            .iter()
            .map(|w| WorkerInfo {
                name: w.name.clone(),
                pid: w.child.pid(),
            })
            .collect()
    }

    /// How many workers the pool keeps.
    pub fn processes(&self) -> usize {
        self.core.borrow().processes
    }

    /// Where the pool is in its life.
    pub fn state(&self) -> State {
        self.core.borrow().state.clone()
    }

    // ANCHOR: apply
    /// Runs `f(args)` in a worker; the handle gives its result (Python's
    /// `apply_async`). `NotRunning` after `close` or `terminate`; `Encode` when the
    /// arguments cannot be encoded.
    pub fn apply_async<A, R>(&self, f: fn(A) -> R, args: A) -> Result<AsyncResult<R>, PoolError>
    where
        A: serde::Serialize + DeserializeOwned,
        R: serde::Serialize + DeserializeOwned,
    {
        let task = Task::new(f, &args)?;
        let cell = Cell::new(1);
        self.core.borrow_mut().submit(task, &cell, 0)?;
        Ok(self.handle(cell, decode_one::<R>))
    }

    /// Runs `f(args)` in a worker and waits for its result (Python's `apply`).
    pub fn apply<A, R>(&self, f: fn(A) -> R, args: A) -> Result<R, PoolError>
    where
        A: serde::Serialize + DeserializeOwned,
        R: serde::Serialize + DeserializeOwned,
    {
        self.apply_async(f, args)?.get(None)
    }
    // ANCHOR_END: apply

    /// A handle on `cell`'s result.
    pub(crate) fn handle<T>(
        &self,
        cell: CellRef,
        decode: fn(&Cell) -> Result<T, PoolError>,
    ) -> AsyncResult<T> {
        AsyncResult {
            core: self.core.clone(),
            cell,
            decode,
        }
    }
}

/// The value of a one-task result.
pub(crate) fn decode_one<R: DeserializeOwned>(cell: &Cell) -> Result<R, PoolError> {
    match &cell.outcome {
        Some(Ok(())) => match &cell.chunks[0] {
            Some(Ok(bytes)) => decode_value(bytes),
            _ => unreachable!("a final result has every chunk"),
        },
        Some(Err(err)) => Err(PoolError::Task(err.clone())),
        None => Err(PoolError::NotReady),
    }
}

/// The values of a chunked result, chunk after chunk.
pub(crate) fn decode_all<R: DeserializeOwned>(cell: &Cell) -> Result<Vec<R>, PoolError> {
    match &cell.outcome {
        Some(Ok(())) => {
            let mut values = Vec::new();
            for chunk in &cell.chunks {
                if let Some(Ok(bytes)) = chunk {
                    values.extend(decode_value::<Vec<R>>(bytes)?);
                }
            }
            Ok(values)
        }
        Some(Err(err)) => Err(PoolError::Task(err.clone())),
        None => Err(PoolError::NotReady),
    }
}

/// A value of type `T` from all of `bytes`; `Decode` otherwise.
pub(crate) fn decode_value<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, PoolError> {
    ch04_pipes_queues::decode(bytes).map_err(|e| PoolError::Task(TaskError::Decode(e.to_string())))
}

impl Inner {
    /// Queues `task`, whose outcome is chunk `chunk` of `cell`, and hands out what
    /// the workers have room for. `NotRunning` unless the pool runs; the pool's error
    /// when it is broken; `Encode` for a task too long for one message.
    pub(crate) fn submit(
        &mut self,
        task: Task,
        cell: &CellRef,
        chunk: usize,
    ) -> Result<(), PoolError> {
        self.check_running()?;
        let frame = postcard::to_stdvec(&task).map_err(|e| PoolError::Encode(e.to_string()))?;
        if frame.len() > DEFAULT_MAX_MESSAGE {
            return Err(PoolError::Encode(format!(
                "a task of {} bytes is over the limit of {DEFAULT_MAX_MESSAGE}",
                frame.len()
            )));
        }
        self.queue.push_back(Job {
            frame,
            cell: cell.clone(),
            chunk,
        });
        self.dispatch()
    }

    /// `NotTheOwner` in a process the pool was copied into by a fork.
    pub(crate) fn check_owner(&self) -> Result<(), PoolError> {
        if std::process::id() as i32 == self.owner {
            Ok(())
        } else {
            Err(PoolError::NotTheOwner)
        }
    }

    /// `Ok` while the pool takes tasks (in the process that made it).
    pub(crate) fn check_running(&self) -> Result<(), PoolError> {
        self.check_owner()?;
        match &self.state {
            State::Running => Ok(()),
            State::Broken(err) => Err(PoolError::Task(err.clone())),
            State::Closed | State::Terminated => Err(PoolError::NotRunning),
        }
    }

    /// Gives `job` its outcome; queues the callbacks of a result this made final.
    pub(crate) fn deliver(&mut self, job: Job, outcome: Outcome) {
        let mut cell = job.cell.borrow_mut();
        if cell.put(job.chunk, outcome) {
            self.due.append(&mut cell.callbacks);
        }
    }

    /// Fails every task queued or held with `err`.
    pub(crate) fn fail_all(&mut self, err: TaskError) {
        let mut jobs: Vec<Job> = self.queue.drain(..).collect();
        for worker in &mut self.workers {
            jobs.extend(worker.held.drain(..));
        }
        for job in jobs {
            self.deliver(job, Err(err.clone()));
        }
    }

    /// A worker ended in its initializer: fails every task with `err`, kills and
    /// reaps every worker, and takes no more tasks.
    pub(crate) fn break_pool(&mut self, err: TaskError) {
        self.state = State::Broken(err.clone());
        self.fail_all(err);
        for worker in &self.workers {
            let _ = worker.child.signal(nix::sys::signal::Signal::SIGKILL);
        }
        // Dropping a Child reaps it.
        self.workers.clear();
    }

    /// How many workers the pool should have now: all of them while it runs, and
    /// after `close` while tasks are queued; none otherwise.
    fn wanted(&self) -> usize {
        match self.state {
            State::Running => self.processes,
            State::Closed if !self.queue.is_empty() => self.processes,
            _ => 0,
        }
    }

    /// Forks workers until there are as many as wanted (replacing those that ended).
    fn top_up(&mut self) -> Result<(), PoolError> {
        while self.workers.len() < self.wanted() {
            let worker = self.spawn_worker()?;
            self.workers.push(worker);
        }
        Ok(())
    }

    /// One turn of the loop: replace ended workers, hand out tasks, wait (until
    /// `deadline` at most) for a worker to answer or end, read what came, and handle
    /// the workers that ended.
    pub(crate) fn step(&mut self, deadline: Option<Instant>) -> Result<(), PoolError> {
        self.check_owner()?;
        self.top_up()?;
        if self.state == State::Closed {
            self.retire_idle();
        }
        self.dispatch()?;
        // What to wait for: each worker's connection (until its end-of-file) and its
        // pidfd, with who it is.
        let mut watched: Vec<(usize, bool)> = Vec::new();
        let mut objects: Vec<&dyn Waitable> = Vec::new();
        for (w, worker) in self.workers.iter().enumerate() {
            if !worker.eof {
                watched.push((w, true));
                objects.push(&worker.conn);
            }
            watched.push((w, false));
            objects.push(&worker.child);
        }
        if objects.is_empty() {
            // Nothing can change any more: a caller still waiting waits for nothing.
            return Err(PoolError::NotRunning);
        }
        let ready = wait_a_little_first(&objects, deadline)?;
        drop(objects);
        let mut ended = Vec::new();
        for index in ready {
            let (w, is_conn) = watched[index];
            if is_conn {
                self.collect(w)?;
            } else {
                ended.push(w);
            }
        }
        // From the last, so that removing one keeps the others' positions (a broken
        // pool removes them all).
        for w in ended.into_iter().rev() {
            if w < self.workers.len() {
                self.on_exit(w)?;
            }
        }
        // Replacements at once: a caller waiting for the workers to leave (`join`)
        // must not see none left while tasks still wait for one.
        self.top_up()?;
        self.dispatch()
    }
}

/// `wait` on `objects` until `deadline`, but first a few looks that do not sleep, with
/// the CPU yielded in between: a worker on the other CPU often answers within
/// microseconds, and then the pool need not be woken up. A few microseconds at most:
/// a pool waiting for a long task still sleeps, and uses no CPU.
fn wait_a_little_first(
    objects: &[&dyn Waitable],
    deadline: Option<Instant>,
) -> Result<Vec<usize>, PoolError> {
    for _ in 0..LOOKS_BEFORE_SLEEP {
        let ready = wait(objects, Some(Duration::ZERO))?;
        if !ready.is_empty() || deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(ready);
        }
        // SAFETY: sched_yield takes no argument and touches no memory.
        unsafe { libc::sched_yield() };
    }
    let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
    Ok(wait(objects, timeout)?)
}

/// Runs the callbacks that are due, with the pool not borrowed (a callback may call
/// into the pool).
fn run_due(core: &PoolRef) {
    loop {
        let due = std::mem::take(&mut core.borrow_mut().due);
        if due.is_empty() {
            return;
        }
        for callback in due {
            callback();
        }
    }
}

// ANCHOR: drive_until
/// Drives the pool until `done()` is true (`Ok(true)`) or `deadline` passes
/// (`Ok(false)`); with a deadline already past, looks once without waiting. Runs the
/// callbacks that come due, in this thread. `NotRunning` when `done()` can no longer
/// become true (no worker is left to wait for); `NotTheOwner` in a process the pool
/// was copied into by a fork.
pub fn drive_until(
    core: &PoolRef,
    deadline: Option<Instant>,
    done: impl Fn() -> bool,
) -> Result<bool, PoolError> {
    let mut looked = false;
    loop {
        run_due(core);
        if done() {
            return Ok(true);
        }
        if looked && deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(false);
        }
        core.borrow_mut().step(deadline)?;
        looked = true;
    }
}
// ANCHOR_END: drive_until

/// The raw descriptors this process holds for `workers`: a new worker closes its
/// copies, so that only the pool holds its end of each other worker's socketpair.
pub(crate) fn inherited_fds(workers: &[Worker]) -> Vec<i32> {
    let mut fds = Vec::new();
    for worker in workers {
        if let Ok(fd) = worker.conn.fd() {
            fds.push(fd.as_raw_fd());
        }
        fds.push(worker.child.pidfd().as_raw_fd());
    }
    fds
}
