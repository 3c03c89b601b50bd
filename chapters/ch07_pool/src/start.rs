//! Exercise 4: starting a pool (named workers, forked up front) and stopping it at once.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use ch01_setup::{enter_child, next_child_identity, process_name, ProcessKind, ProcessRecord};
use ch04_pipes_queues::Pipe;
use nix::sys::signal::Signal;

use crate::error::{PoolError, TaskError};
use crate::pool::{inherited_fds, Inner, Pool, State, Worker};
use crate::worker::{serve, WorkerSetup};

/// How a pool is made: Python's `Pool(processes, initializer, initargs,
/// maxtasksperchild)`.
#[derive(Clone, Default)]
pub struct PoolBuilder {
    processes: Option<usize>,
    initializer: Option<Rc<dyn Fn()>>,
    maxtasks: Option<usize>,
}

impl PoolBuilder {
    /// How many workers (`None`: as many as this process may use CPUs).
    pub fn processes(mut self, processes: impl Into<Option<usize>>) -> PoolBuilder {
        self.processes = processes.into();
        self
    }

    /// Runs `initializer` first in every worker, replacements included. It is copied
    /// into each worker by `fork`, so it may capture anything (Python's `initargs`).
    pub fn initializer(mut self, initializer: impl Fn() + 'static) -> PoolBuilder {
        self.initializer = Some(Rc::new(initializer));
        self
    }

    /// A worker leaves after this many tasks, and a new one takes its place (`None`:
    /// never). A chunk of `map` counts as one task, as in Python.
    pub fn maxtasksperchild(mut self, maxtasks: impl Into<Option<usize>>) -> PoolBuilder {
        self.maxtasks = maxtasks.into();
        self
    }

    // ANCHOR: build
    /// Checks the options and forks every worker, in order: `InvalidProcesses` for 0
    /// workers, `InvalidMaxTasks` for `maxtasksperchild(0)`, before anything is forked.
    /// The default number of workers is what `std::thread::available_parallelism`
    /// says. If a fork fails, the workers forked so far are killed and reaped.
    pub fn build(self) -> Result<Pool, PoolError> {
        // TODO: refuse invalid options before forking anything; then a running pool
        // with every worker forked.
        todo!(
            "start a pool of {:?} workers (maxtasksperchild {:?})",
            self.processes,
            self.maxtasks
        )
    }
    // ANCHOR_END: build
}

impl Pool {
    /// A pool of `processes` workers (`None`: one per CPU this process may use), with
    /// no initializer and no task limit: Python's `Pool(processes)`.
    pub fn new(processes: impl Into<Option<usize>>) -> Result<Pool, PoolError> {
        Pool::builder().processes(processes).build()
    }

    /// Options for a pool: `Pool::builder().processes(4).initializer(f).build()`.
    pub fn builder() -> PoolBuilder {
        PoolBuilder::default()
    }

    // ANCHOR: terminate
    /// Stops the pool now (Python's `terminate`): every result not yet final fails
    /// with `TaskError::Terminated` (their callbacks do not run), every worker is
    /// killed with SIGKILL and reaped, and the pool takes no more tasks. Queued tasks
    /// never reach a worker, so this takes as long with 10 000 of them as with none.
    /// Calling it again does nothing. In a copy of the pool in a forked child, it kills
    /// nothing: `mpkit::Child` signals and reaps only for the process that forked it.
    pub fn terminate(&self) {
        // TODO: no more tasks; every unfinished result fails as terminated, without
        // callbacks; every worker killed and reaped.
        todo!("terminate the pool's {} workers", self.workers().len())
    }
    // ANCHOR_END: terminate
}

// ANCHOR: drop
impl Drop for Pool {
    /// Leaving Python's `with Pool() as pool:` block: terminates the pool.
    fn drop(&mut self) {
        // TODO: what leaving Python's `with` block does.
        todo!("drop the pool")
    }
}
// ANCHOR_END: drop

impl Inner {
    // ANCHOR: spawn_worker
    /// Forks one worker: the next child of this process, named `ForkPoolWorker-N`
    /// through chapter 1's numbering, with a socketpair to the pool. In the worker:
    /// the copies of the other workers' descriptors are closed, the worker takes its
    /// record (so `current_process()` names it), and [`serve`] runs.
    pub(crate) fn spawn_worker(&self) -> Result<Worker, PoolError> {
        // TODO: a new child identity and name, a socketpair, and a fork whose child
        // keeps only its own end, becomes `ForkPoolWorker-N` and serves; the pool keeps
        // the other end and the guarded child.
        todo!(
            "fork worker {} of {} (inherited fds: {:?})",
            self.workers.len() + 1,
            self.processes,
            inherited_fds(&self.workers)
        )
    }
    // ANCHOR_END: spawn_worker
}
