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
        // SKELETON: // TODO: refuse invalid options before forking anything; then a running pool
        // SKELETON: // with every worker forked.
        // SKELETON: todo!(
        // SKELETON:     "start a pool of {:?} workers (maxtasksperchild {:?})",
        // SKELETON:     self.processes,
        // SKELETON:     self.maxtasks
        // SKELETON: )
        // BEGIN SOLUTION
        let processes = match self.processes {
            Some(0) => return Err(PoolError::InvalidProcesses),
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, usize::from),
        };
        if self.maxtasks == Some(0) {
            return Err(PoolError::InvalidMaxTasks);
        }
        let mut inner = Inner {
            processes,
            initializer: self.initializer,
            maxtasks: self.maxtasks,
            workers: Vec::with_capacity(processes),
            queue: VecDeque::new(),
            state: State::Running,
            due: Vec::new(),
            owner: std::process::id() as i32,
        };
        for _ in 0..processes {
            // On an error, `inner` is dropped: its workers are killed and reaped.
            let worker = inner.spawn_worker()?;
            inner.workers.push(worker);
        }
        Ok(Pool {
            core: Rc::new(RefCell::new(inner)),
        })
        // END SOLUTION
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
        // SKELETON: // TODO: no more tasks; every unfinished result fails as terminated, without
        // SKELETON: // callbacks; every worker killed and reaped.
        // SKELETON: todo!("terminate the pool's {} workers", self.workers().len())
        // BEGIN SOLUTION
        let mut inner = self.core.borrow_mut();
        inner.state = State::Terminated;
        inner.fail_all(TaskError::Terminated);
        inner.due.clear();
        // Signal them all first, then reap: they die together.
        for worker in &inner.workers {
            let _ = worker.child.signal(Signal::SIGKILL);
        }
        for mut worker in inner.workers.drain(..) {
            let _ = worker.child.wait();
        }
        // END SOLUTION
    }
    // ANCHOR_END: terminate
}

// ANCHOR: drop
impl Drop for Pool {
    /// Leaving Python's `with Pool() as pool:` block: terminates the pool.
    fn drop(&mut self) {
        // SKELETON: // TODO: what leaving Python's `with` block does.
        // SKELETON: todo!("drop the pool")
        // BEGIN SOLUTION
        // A pool dropped while it is borrowed (a panic in the middle of a call) is
        // torn down by `Inner`'s own drop: dropping a worker's Child kills and reaps it.
        if self.core.try_borrow_mut().is_ok() {
            self.terminate();
        }
        // END SOLUTION
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
        // SKELETON: // TODO: a new child identity and name, a socketpair, and a fork whose child
        // SKELETON: // keeps only its own end, becomes `ForkPoolWorker-N` and serves; the pool keeps
        // SKELETON: // the other end and the guarded child.
        // SKELETON: todo!(
        // SKELETON:     "fork worker {} of {} (inherited fds: {:?})",
        // SKELETON:     self.workers.len() + 1,
        // SKELETON:     self.processes,
        // SKELETON:     inherited_fds(&self.workers)
        // SKELETON: )
        // BEGIN SOLUTION
        let identity = next_child_identity();
        let name = process_name(ProcessKind::ForkPoolWorker, &identity);
        let record = ProcessRecord {
            kind: ProcessKind::ForkPoolWorker,
            identity,
            name: None,
            parent_pid: Some(std::process::id() as i32),
        };
        let (ours, mut theirs) = Pipe::duplex()?;
        let mut close_in_child = inherited_fds(&self.workers);
        close_in_child.push(std::os::fd::AsRawFd::as_raw_fd(&ours.fd()?));
        let setup = WorkerSetup {
            name: name.clone(),
            initializer: self.initializer.clone(),
            maxtasks: self.maxtasks,
        };
        // `theirs` moves into the closure: the worker uses it, and the pool's copy is
        // dropped (closed) with the closure when fork_child returns.
        let child = mpkit::fork_child(move || {
            for fd in close_in_child {
                // SAFETY: closes this process's copies of descriptors it inherited and
                // never uses; the Connection values that own them in the parent's
                // memory are never used nor dropped here (the worker ends with _exit).
                unsafe { libc::close(fd) };
            }
            enter_child(record).expect("a forked worker enters its record");
            serve(&mut theirs, &setup);
        })?;
        Ok(Worker {
            name,
            child,
            conn: ours,
            held: VecDeque::new(),
            quota: self.maxtasks,
            ready: false,
            eof: false,
            retired: false,
        })
        // END SOLUTION
    }
    // ANCHOR_END: spawn_worker
}
