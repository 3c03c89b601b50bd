//! Chapter 5's `Lock`, `Barrier` and `Event`, next to std's `Mutex`, `raw_sync`'s
//! process-shared pthread primitives and CPython's `multiprocessing`.
//!
//! Run it (release build) from the workspace root:
//!
//! ```text
//! cargo bench --bench ch05_sync
//! ```
//!
//! What it measures, all in this one run on this one machine, with
//! `ch05_sync_solution` (the reference solution):
//!
//! 1. **Uncontended lock**: `Lock::lock()` and dropping the guard, 10 million times in
//!    one process, against `std::sync::Mutex<()>` (the in-process limit) and
//!    `raw_sync`'s process-shared pthread mutex doing the same; they take turns, 5 runs
//!    each, and the best run of each gives nanoseconds per pair. Target: at most 1.5x
//!    std's time. Also an `RLock`'s acquire + release, and one `gettid` system call
//!    (which the `RLock` once made on both).
//! 2. **Contended counter**: 4 forked processes each add 1, 100 000 times, to an
//!    `AtomicU64` in a `Shared<Counter>`, with a separate load and store under one
//!    `Lock` (so only the lock keeps increments from being lost); the final value must be
//!    400 000. The children wait at a start gate (an `Event`); the clock runs from its
//!    `set()` until the last child is joined. Median of 5 runs. Targets: at least 10x
//!    faster than CPython's `Lock` + `Value('i', lock=False)` doing the same, and no
//!    slower than `raw_sync`'s pthread mutex. Taking turns with it, run by run, the
//!    same counter under the pthread mutex, with one atomic `fetch_add` each (no lock
//!    needed: the floor), under a `RobustLock` (exercise 7), and with no lock at all,
//!    10 000 000 times per process, which gives the share of increments lost.
//! 3. **Barrier**: 4 processes each call `Barrier::wait(Some(5 s))` 20 000 times after
//!    the same start gate; rounds per second, median of 3 runs. Each round must have
//!    exactly one leader. CPython's `Barrier(4)` does 2 000 rounds. Target: at least 2x
//!    CPython.
//! 4. **Event ping-pong**: this process sets `ping` and waits for `pong`, then clears
//!    `pong`; one child waits for `ping`, clears it and sets `pong`. Each round trip is
//!    timed; 1 000 warm-up trips, then the median of 10 000, in microseconds; the same
//!    with two auto-reset `raw_sync` events. Targets: at least 2x CPython, no slower than
//!    `raw_sync`.
//! 5. **Sweep**: the counter for 1, 2, 3, 4, 6 and 8 processes (100 000 increments
//!    each), under the `Lock`, the pthread mutex, `fetch_add` and CPython; median of 9
//!    (CPython's of 3).
//! 6. **Spin or sleep**: a waiter of the `Lock` first waits awake a moment (a few
//!    `pause`s, then a few `sched_yield`s, like parking_lot's `SpinWait`) before it
//!    sleeps. The counter of 2, with 1 000 000 increments per process, under it, under
//!    the same protocol sleeping at once (the `Lock` as it was before) and under std's
//!    policy (100 `pause`s, no yield), both [`StudyLock`]s, with every child on CPU 0,
//!    the children on CPUs 0 and 1 in turn, and unpinned; wall time and the children's
//!    CPU time, medians of 9 taken in turns. Target: the `Lock` level with both (within
//!    5 %) or faster everywhere.
//!
//! The CPython figures come from `benches/sync.py`, run with `python3` (fork context),
//! which measures the same things the same way, and also an uncontended
//! `with lock: pass`, and prints one JSON line. Without `python3` on the `PATH` those
//! comparisons are skipped with a message. A quick pass (`cargo xtask bench --quick`)
//! does about a tenth of everything, once.
//!
//! It writes its figures to `book/figures/ch05_sync.json`, which the book quotes
//! (`{{#figure ch05_sync.lock_uncontended_ns}}`).
//!
//! Every wait has a deadline: a blocked `Lock`, `Barrier` or `Event` wait gives up after
//! 5 s, the start gate after 10 s, the joins after 30 s, the Python script after 2 min,
//! and each failure fails the bench loudly, as does a child that does not exit with 0.
//!
//! The binary is `harness = false`, so it runs on one thread and forking from it is safe;
//! it checks `/proc/self/status` before it forks. The machine's other load lands on
//! these figures: on a small shared machine, run it twice before trusting a "not met".

mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ch05_sync_solution::futex::{self, Wake};
use ch05_sync_solution::{Barrier, Event, Lock, RLock, RobustLock, Shared, ShmSafe};
use common::{
    assert_single_threaded, json_number, json_string, number, quantile, scaled, time_text, Better,
    Figures, Role, Row, Series, Target,
};
use raw_sync::events::{EventImpl, EventInit, EventState};
use raw_sync::locks::{LockImpl, LockInit};
use raw_sync::Timeout;

/// Processes of the counter and the barrier.
const PROCS: usize = 4;
/// Process counts of the sweep (the counter for 1 to 8 processes).
const SWEEP: [usize; 6] = [1, 2, 3, 4, 6, 8];
/// The most processes a counter run has.
const MAX_PROCS: usize = 8;

/// How much each measurement does: a full run, or a quick pass (about a tenth).
#[derive(Clone, Copy)]
struct Plan {
    /// Lock + unlock pairs per uncontended run, and how many runs of each.
    uncontended_pairs: u32,
    uncontended_runs: usize,
    /// Increments per process of the counter.
    increments: u64,
    /// Increments per process without a lock: many more, so that the processes run at
    /// the same time long enough to lose some (100 000 unguarded ones take well under a
    /// time slice, and on a busy machine the children may then run one after the other).
    unguarded_increments: u64,
    counter_runs: usize,
    /// Lock + unlock pairs of CPython's uncontended `with lock: pass`, and its runs.
    py_lock_pairs: u32,
    py_lock_runs: usize,
    barrier_rounds: u32,
    py_barrier_rounds: u32,
    barrier_runs: usize,
    pingpong_warmup: usize,
    pingpong_trips: usize,
    /// Runs of each point of the sweep, and of each placement of the spin study.
    sweep_runs: usize,
    /// Increments per process in the spin study: enough for the processes to overlap.
    study_increments: u64,
}

fn plan() -> Plan {
    let full = Plan {
        uncontended_pairs: 10_000_000,
        uncontended_runs: 5,
        increments: 100_000,
        unguarded_increments: 10_000_000,
        counter_runs: 5,
        py_lock_pairs: 1_000_000,
        py_lock_runs: 3,
        barrier_rounds: 20_000,
        py_barrier_rounds: 2_000,
        barrier_runs: 3,
        pingpong_warmup: 1_000,
        pingpong_trips: 10_000,
        sweep_runs: 9,
        study_increments: 1_000_000,
    };
    scaled(
        full,
        Plan {
            uncontended_pairs: 1_000_000,
            uncontended_runs: 1,
            increments: 10_000,
            unguarded_increments: 1_000_000,
            counter_runs: 1,
            py_lock_pairs: 100_000,
            py_lock_runs: 1,
            barrier_rounds: 2_000,
            py_barrier_rounds: 200,
            barrier_runs: 1,
            pingpong_warmup: 100,
            pingpong_trips: 1_000,
            sweep_runs: 1,
            study_increments: 100_000,
        },
    )
}

/// Deadline of each blocking `Lock`, `Barrier` or `Event` call.
const WAIT_DEADLINE: Duration = Duration::from_secs(5);
/// Deadline for the children to reach the start gate, and of their wait there.
const GATE_DEADLINE: Duration = Duration::from_secs(10);
/// Deadline from the opening of the start gate to the last join.
const JOIN_DEADLINE: Duration = Duration::from_secs(30);
/// Deadline of the whole Python script.
const PYTHON_DEADLINE: Duration = Duration::from_secs(120);

/// The counter of the counter runs, in shared memory; the lock guards `value`.
#[repr(C)]
struct Counter {
    value: AtomicU64,
    /// When each child's loop started and ended, in nanoseconds after the bench began.
    spans: [[AtomicU64; 2]; MAX_PROCS],
    /// Rounds in which a process was the barrier's leader (benchmark 3).
    leaders: AtomicU64,
}

// Safety: repr(C), no pointers, atomics only.
unsafe impl ShmSafe for Counter {}

/// How many children have reached the start gate.
#[repr(C)]
struct Ready {
    count: AtomicU32,
}

// Safety: repr(C), no pointers, one atomic.
unsafe impl ShmSafe for Ready {}

/// Shared bytes for a `raw_sync` primitive (a pthread mutex, or an event's mutex and
/// condition variable), aligned for them.
#[repr(C, align(64))]
struct PthreadBytes([u8; 256]);

// Safety: repr(C), plain bytes; the pthread objects in them are process-shared.
unsafe impl ShmSafe for PthreadBytes {}

/// A `raw_sync` process-shared pthread primitive and the shared memory it lives in.
struct RawSync<T: ?Sized> {
    /// Keeps the mapping alive; forked children inherit it at the same address.
    _memory: Shared<PthreadBytes>,
    primitive: Box<T>,
}

/// A process-shared pthread mutex (`raw_sync::locks::Mutex`).
fn raw_mutex() -> RawSync<dyn LockImpl> {
    let memory = Shared::new(PthreadBytes([0; 256])).expect("Shared::new failed");
    let base = (&*memory as *const PthreadBytes).cast_mut().cast::<u8>();
    // Safety: `base` points at 256 writable shared bytes that outlive the mutex (kept in
    // the same struct); the mutex needs fewer (checked), and the data pointer is unused.
    let (primitive, used) =
        unsafe { raw_sync::locks::Mutex::new(base, base) }.expect("raw_sync Mutex::new failed");
    assert!(used <= 256, "raw_sync's mutex needs {used} bytes");
    RawSync {
        _memory: memory,
        primitive,
    }
}

/// A process-shared auto-reset event (`raw_sync::events::Event`): a pthread mutex and
/// condition variable.
fn raw_event() -> RawSync<dyn EventImpl> {
    let memory = Shared::new(PthreadBytes([0; 256])).expect("Shared::new failed");
    let base = (&*memory as *const PthreadBytes).cast_mut().cast::<u8>();
    // Safety: as in `raw_mutex`.
    let (primitive, used) =
        unsafe { raw_sync::events::Event::new(base, true) }.expect("raw_sync Event::new failed");
    assert!(used <= 256, "raw_sync's event needs {used} bytes");
    RawSync {
        _memory: memory,
        primitive,
    }
}

/// How a [`StudyLock`] waits for a held lock before it sleeps in the kernel: the
/// strategies the chapter's `Lock` does not use (it waits like parking_lot's `SpinWait`:
/// a few `pause`s, then a few `sched_yield`s).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Strategy {
    /// Not at all: chapter 5's `Lock` as it was before it waited awake, line for line.
    Sleep,
    /// std's futex mutex: watch the word up to 100 times (a `pause` each) while it is
    /// locked with nobody asleep.
    Spin,
}

impl Strategy {
    fn name(self) -> &'static str {
        match self {
            Strategy::Sleep => "before: sleep at once",
            Strategy::Spin => "std's spin (100 pauses)",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Strategy::Sleep => "sleep",
            Strategy::Spin => "spin",
        }
    }
}

/// Chapter 5's futex lock protocol (0 unlocked, 1 locked, 2 contended) with one of the
/// waiting strategies the literature offers, so that one run compares them with the
/// chapter's `Lock`.
struct StudyLock {
    state: Shared<Word>,
    strategy: Strategy,
}

/// The futex word of a [`StudyLock`], in shared memory.
#[repr(C)]
struct Word {
    word: AtomicU32,
}

// Safety: repr(C), no pointers, one atomic.
unsafe impl ShmSafe for Word {}

impl StudyLock {
    fn new(strategy: Strategy) -> StudyLock {
        StudyLock {
            state: Shared::new(Word {
                word: AtomicU32::new(0),
            })
            .expect("Shared::new failed"),
            strategy,
        }
    }

    fn acquire(&self, timeout: Duration) -> bool {
        let word = &self.state.word;
        if word
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return true;
        }
        let deadline = Some(Instant::now() + timeout);
        if self.strategy == Strategy::Sleep {
            loop {
                if word.swap(2, Ordering::Acquire) == 0 {
                    return true;
                }
                if futex::wait(word, 2, deadline).expect("futex wait failed") == Wake::TimedOut {
                    return false;
                }
            }
        }
        // std's lock_contended, with this lock's way of waiting.
        let mut state = self.wait_awake(word);
        if state == 0 {
            match word.compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(now) => state = now,
            }
        }
        loop {
            if state != 2 && word.swap(2, Ordering::Acquire) == 0 {
                return true;
            }
            if futex::wait(word, 2, deadline).expect("futex wait failed") == Wake::TimedOut {
                return false;
            }
            state = self.wait_awake(word);
        }
    }

    /// Waits without sleeping while the word says "locked, nobody asleep", as the
    /// strategy says; returns the word as last seen.
    fn wait_awake(&self, word: &AtomicU32) -> u32 {
        let mut round = 0u32;
        loop {
            let state = word.load(Ordering::Relaxed);
            match self.strategy {
                _ if state != 1 => return state,
                Strategy::Sleep => return state,
                Strategy::Spin if round == 100 => return state,
                Strategy::Spin => std::hint::spin_loop(),
            }
            round += 1;
        }
    }

    fn release(&self) {
        if self.state.word.swap(0, Ordering::Release) == 2 {
            futex::wake(&self.state.word, 1);
        }
    }
}

/// CPython's figures, read from `sync.py`'s JSON line.
struct Python {
    implementation: String,
    lock_best_ns: f64,
    counter_median_s: f64,
    counter_min_s: f64,
    counter_max_s: f64,
    barrier_median_per_s: f64,
    barrier_min_per_s: f64,
    barrier_max_per_s: f64,
    pingpong_median_us: f64,
    pingpong_p10_us: f64,
    pingpong_p90_us: f64,
    /// Seconds of the counter for each process count of SWEEP.
    sweep_s: Vec<f64>,
}

fn main() {
    assert_single_threaded();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let plan = plan();

    let uncontended = uncontended(&plan);
    let epoch = Instant::now();
    let counters = counters(&plan, epoch);
    let barrier_per_s = sorted((0..plan.barrier_runs).map(|_| barrier_once(&plan)));
    let trips_us = pingpong(&plan, PingPong::Ours);
    let raw_trips_us = pingpong(&plan, PingPong::RawSync);
    let sweep = sweep(&plan, epoch);
    let spin = spin_study(&plan, epoch, cores);
    let python = run_python(&plan);
    let py = python.as_ref().ok();

    println!();
    println!("ch05_sync_solution against std, raw_sync and CPython; cores: {cores}");
    println!(
        "  uncontended, {} pairs, best of {}: Lock {:.2} ns, std Mutex {:.2} ns, raw_sync \
         pthread mutex {:.2} ns, RLock {:.2} ns (a gettid: {:.0} ns), CPython {}",
        plan.uncontended_pairs,
        plan.uncontended_runs,
        uncontended.lock_ns,
        uncontended.mutex_ns,
        uncontended.raw_ns,
        uncontended.rlock_ns,
        uncontended.gettid_ns,
        py.map_or("skipped".to_owned(), |p| format!(
            "{:.1} ns",
            p.lock_best_ns
        )),
    );
    let counter_s = counters.seconds(Guard::Lock);
    let overlaps = sorted(counters.overlaps.iter().copied());
    println!(
        "  counter, {PROCS} x {} increments, {} runs: Lock median {:.1} ms (min {:.1}, max \
         {:.1}); children inside their loops at once, on average: {:.2} to {:.2}",
        plan.increments,
        plan.counter_runs,
        quantile(&counter_s, 0.5) * 1e3,
        counter_s[0] * 1e3,
        counter_s[counter_s.len() - 1] * 1e3,
        overlaps[0],
        overlaps[overlaps.len() - 1],
    );
    for guard in Guard::COUNTER {
        let runs = counters.seconds(guard);
        let lost = counters.lost(guard);
        println!(
            "  counter guarded by {}: median {:.1} ns per increment; increments lost {:.1} % \
             to {:.1} %",
            guard.name(),
            quantile(&runs, 0.5) * 1e9 / (PROCS as u64 * guard.increments(&plan)) as f64,
            lost[0],
            lost[lost.len() - 1],
        );
    }
    println!(
        "  Barrier(4), {} runs of {} rounds: median {:.0}/s (min {:.0}, max {:.0})",
        plan.barrier_runs,
        plan.barrier_rounds,
        quantile(&barrier_per_s, 0.5),
        barrier_per_s[0],
        barrier_per_s[barrier_per_s.len() - 1],
    );
    println!(
        "  ping-pong, {} round trips: Event median {:.1} us (p10 {:.1}, p90 {:.1}); raw_sync \
         events median {:.1} us",
        plan.pingpong_trips,
        quantile(&trips_us, 0.5),
        quantile(&trips_us, 0.1),
        quantile(&trips_us, 0.9),
        quantile(&raw_trips_us, 0.5),
    );
    println!("  sweep, n x {} increments, ms:", plan.increments);
    for (i, n) in SWEEP.iter().enumerate() {
        println!(
            "    n={n}: Lock {:.2} | raw_sync {:.2} | fetch_add {:.2} | CPython {}",
            sweep.lock_ms[i],
            sweep.raw_ms[i],
            sweep.fetch_add_ms[i],
            py.map_or("skipped".to_owned(), |p| format!(
                "{:.1}",
                p.sweep_s[i] * 1e3
            )),
        );
    }
    println!(
        "  spin or sleep, {PROCS} x {} increments:",
        plan.study_increments
    );
    for study in &spin {
        let cells: Vec<String> = STUDY
            .iter()
            .enumerate()
            .map(|(i, guard)| {
                format!(
                    "{} {:.2} ms ({:.2} ms CPU)",
                    guard.name(),
                    study.ms[i],
                    study.cpu_ms[i]
                )
            })
            .collect();
        println!("    {:<10} {}", study.placement.label(), cells.join(" | "));
    }
    if let Some(p) = py {
        println!(
            "  {}: counter median {:.1} ms (min {:.1}, max {:.1}); Barrier(4), {} rounds: \
             median {:.0}/s (min {:.0}, max {:.0}); ping-pong median {:.1} us (p10 {:.1}, \
             p90 {:.1})",
            p.implementation,
            p.counter_median_s * 1e3,
            p.counter_min_s * 1e3,
            p.counter_max_s * 1e3,
            plan.py_barrier_rounds,
            p.barrier_median_per_s,
            p.barrier_min_per_s,
            p.barrier_max_per_s,
            p.pingpong_median_us,
            p.pingpong_p10_us,
            p.pingpong_p90_us,
        );
    } else if let Err(why) = &python {
        println!("  CPython comparison skipped: {why}");
    }
    write_figures(Measured {
        plan: &plan,
        uncontended: &uncontended,
        counters: &counters,
        barrier_per_s: &barrier_per_s,
        trips_us: &trips_us,
        raw_trips_us: &raw_trips_us,
        sweep: &sweep,
        spin: &spin,
        python: py,
    });
}

/// Everything measured, for [`write_figures`].
struct Measured<'a> {
    plan: &'a Plan,
    uncontended: &'a Uncontended,
    counters: &'a Counters,
    barrier_per_s: &'a [f64],
    trips_us: &'a [f64],
    raw_trips_us: &'a [f64],
    sweep: &'a Sweep,
    spin: &'a [SpinStudy],
    python: Option<&'a Python>,
}

/// What keeps the counter's increments from being lost.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Guard {
    /// Nothing: a load, then a store.
    None,
    /// One atomic `fetch_add` per increment, no lock.
    FetchAdd,
    /// A load and a store under the chapter's futex `Lock`.
    Lock,
    /// The same under a [`StudyLock`].
    Study(Strategy),
    /// The same under `raw_sync`'s process-shared pthread mutex.
    RawSync,
    /// A load and a store under a `RobustLock` (a robust pthread mutex).
    Robust,
}

impl Guard {
    /// The guards of benchmark 2, in the order they take turns.
    const COUNTER: [Guard; 5] = [
        Guard::Lock,
        Guard::None,
        Guard::FetchAdd,
        Guard::RawSync,
        Guard::Robust,
    ];

    /// Increments per process.
    fn increments(self, plan: &Plan) -> u64 {
        match self {
            Guard::None => plan.unguarded_increments,
            _ => plan.increments,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Guard::None => "nothing (load, then store)",
            Guard::FetchAdd => "fetch_add",
            Guard::Lock => "Lock",
            Guard::Study(strategy) => strategy.name(),
            Guard::RawSync => "raw_sync pthread mutex",
            Guard::Robust => "RobustLock",
        }
    }
}

/// Where the children of a counter run may run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// Wherever the scheduler puts them.
    Free,
    /// All on CPU 0: every hand-over is a context switch.
    Same,
    /// Child k on CPU k % 2: holders and waiters on different CPUs.
    Split,
}

impl Placement {
    fn key(self) -> &'static str {
        match self {
            Placement::Free => "free",
            Placement::Same => "same",
            Placement::Split => "split",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Placement::Free => "unpinned",
            Placement::Same => "one CPU",
            Placement::Split => "two CPUs",
        }
    }

    /// Pins the calling child, number `index`.
    fn pin(self, index: usize) {
        let cpu = match self {
            Placement::Free => return,
            Placement::Same => 0,
            Placement::Split => index % 2,
        };
        // Safety: a zeroed cpu_set_t is an empty set; CPU_SET and sched_setaffinity read
        // and write only that live local.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            let rc = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
            assert_eq!(rc, 0, "sched_setaffinity({cpu}) failed");
        }
    }
}

/// One counter run.
struct Run {
    guard: Guard,
    elapsed: Duration,
    /// How many children were inside their loops at once, on average (1.0: one after
    /// the other, so the lock was never contended; time asleep on the lock counts).
    overlap: f64,
    /// The share of increments lost, as a percentage.
    lost_pct: f64,
    /// CPU time the children used, user and system, in seconds.
    cpu_s: f64,
}

/// Benchmark 2's runs, every guard's.
struct Counters {
    runs: Vec<Run>,
    /// The overlap of each `Lock` run.
    overlaps: Vec<f64>,
}

impl Counters {
    /// The seconds of `guard`'s runs, sorted.
    fn seconds(&self, guard: Guard) -> Vec<f64> {
        sorted(
            self.runs
                .iter()
                .filter(|run| run.guard == guard)
                .map(|run| run.elapsed.as_secs_f64()),
        )
    }

    /// The percentages of increments lost in `guard`'s runs, sorted.
    fn lost(&self, guard: Guard) -> Vec<f64> {
        sorted(
            self.runs
                .iter()
                .filter(|run| run.guard == guard)
                .map(|run| run.lost_pct),
        )
    }
}

/// `counter_runs` runs of the counter with each guard, the guards taking turns.
fn counters(plan: &Plan, epoch: Instant) -> Counters {
    let mut counters = Counters {
        runs: Vec::new(),
        overlaps: Vec::new(),
    };
    for _ in 0..plan.counter_runs {
        for guard in Guard::COUNTER {
            let run = counter_once(epoch, guard, PROCS, guard.increments(plan), Placement::Free);
            if guard == Guard::Lock {
                counters.overlaps.push(run.overlap);
            }
            counters.runs.push(run);
        }
    }
    counters
}

/// Benchmark 5: milliseconds of the counter for each process count of SWEEP.
struct Sweep {
    lock_ms: Vec<f64>,
    raw_ms: Vec<f64>,
    fetch_add_ms: Vec<f64>,
}

fn sweep(plan: &Plan, epoch: Instant) -> Sweep {
    let mut sweep = Sweep {
        lock_ms: Vec::new(),
        raw_ms: Vec::new(),
        fetch_add_ms: Vec::new(),
    };
    for &n in &SWEEP {
        let mut ms = [Vec::new(), Vec::new(), Vec::new()];
        for _ in 0..plan.sweep_runs {
            for (guard, samples) in [Guard::Lock, Guard::RawSync, Guard::FetchAdd]
                .into_iter()
                .zip(&mut ms)
            {
                let run = counter_once(epoch, guard, n, plan.increments, Placement::Free);
                samples.push(run.elapsed.as_secs_f64() * 1e3);
            }
        }
        let [lock, raw, fetch_add] = ms.map(|samples| quantile(&sorted(samples), 0.5));
        sweep.lock_ms.push(lock);
        sweep.raw_ms.push(raw);
        sweep.fetch_add_ms.push(fetch_add);
    }
    sweep
}

/// The locks benchmark 6 compares, the chapter's `Lock` first: each other one is a
/// [`StudyLock`] with a strategy the `Lock` does not use.
const STUDY: [Guard; 3] = [
    Guard::Lock,
    Guard::Study(Strategy::Sleep),
    Guard::Study(Strategy::Spin),
];

/// Benchmark 6 for one placement: for each lock of STUDY, the medians of the wall and
/// the children's CPU milliseconds.
struct SpinStudy {
    placement: Placement,
    ms: Vec<f64>,
    cpu_ms: Vec<f64>,
}

fn spin_study(plan: &Plan, epoch: Instant, cores: usize) -> Vec<SpinStudy> {
    let placements: &[Placement] = if cores >= 2 {
        &[Placement::Same, Placement::Split, Placement::Free]
    } else {
        &[Placement::Same, Placement::Free]
    };
    placements
        .iter()
        .map(|&placement| {
            let mut runs: Vec<Vec<Run>> = STUDY.iter().map(|_| Vec::new()).collect();
            for _ in 0..plan.sweep_runs {
                for (&guard, kept) in STUDY.iter().zip(&mut runs) {
                    kept.push(counter_once(
                        epoch,
                        guard,
                        PROCS,
                        plan.study_increments,
                        placement,
                    ));
                }
            }
            let median = |values: Vec<f64>| quantile(&sorted(values), 0.5);
            SpinStudy {
                placement,
                ms: runs
                    .iter()
                    .map(|r| median(r.iter().map(|r| r.elapsed.as_secs_f64() * 1e3).collect()))
                    .collect(),
                cpu_ms: runs
                    .iter()
                    .map(|r| median(r.iter().map(|r| r.cpu_s * 1e3).collect()))
                    .collect(),
            }
        })
        .collect()
}

/// Benchmark 1's figures: nanoseconds per lock + unlock pair (and per `gettid`).
struct Uncontended {
    lock_ns: f64,
    mutex_ns: f64,
    raw_ns: f64,
    /// An `RLock`'s acquire + release (it asks who the caller is on both).
    rlock_ns: f64,
    /// One `gettid` system call, which the `RLock` no longer makes each time.
    gettid_ns: f64,
}

/// Benchmark 1: the best of `uncontended_runs` runs of each, taken in turns.
fn uncontended(plan: &Plan) -> Uncontended {
    let lock = Lock::new().expect("Lock::new failed");
    let mutex = Mutex::new(());
    let raw = raw_mutex();
    let pairs = plan.uncontended_pairs;
    let per_pair = |elapsed: Duration| elapsed.as_nanos() as f64 / f64::from(pairs);
    let rlock = RLock::new().expect("RLock::new failed");
    let mut best = Uncontended {
        lock_ns: f64::INFINITY,
        mutex_ns: f64::INFINITY,
        raw_ns: f64::INFINITY,
        rlock_ns: f64::INFINITY,
        gettid_ns: f64::INFINITY,
    };
    for _ in 0..plan.uncontended_runs {
        let t0 = Instant::now();
        for _ in 0..pairs {
            let guard = black_box(&lock).lock().expect("Lock::lock failed");
            drop(black_box(guard));
        }
        best.lock_ns = best.lock_ns.min(per_pair(t0.elapsed()));

        let t0 = Instant::now();
        for _ in 0..pairs {
            let guard = black_box(&mutex).lock().expect("the Mutex is poisoned");
            drop(black_box(guard));
        }
        best.mutex_ns = best.mutex_ns.min(per_pair(t0.elapsed()));

        let t0 = Instant::now();
        for _ in 0..pairs {
            let guard = black_box(&*raw.primitive)
                .lock()
                .expect("raw_sync lock failed");
            drop(black_box(guard));
        }
        best.raw_ns = best.raw_ns.min(per_pair(t0.elapsed()));

        let t0 = Instant::now();
        for _ in 0..pairs {
            assert!(black_box(&rlock)
                .acquire(None)
                .expect("RLock::acquire failed"));
            black_box(&rlock).release().expect("RLock::release failed");
        }
        best.rlock_ns = best.rlock_ns.min(per_pair(t0.elapsed()));

        // A tenth as many: a system call is slow.
        let t0 = Instant::now();
        for _ in 0..pairs / 10 {
            black_box(nix::unistd::gettid());
        }
        best.gettid_ns = best.gettid_ns.min(per_pair(t0.elapsed()) * 10.0);
    }
    assert!(!lock.is_locked(), "the Lock is still locked after the loop");
    best
}

/// CPU time (user + system) of the children reaped so far, in seconds.
fn children_cpu() -> f64 {
    // Safety: getrusage writes one rusage into a live local.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        let rc = libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        assert_eq!(rc, 0, "getrusage failed");
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// One counter run: `procs` children x `increments` increments guarded by `guard`,
/// placed by `placement`.
fn counter_once(
    epoch: Instant,
    guard: Guard,
    procs: usize,
    increments: u64,
    placement: Placement,
) -> Run {
    let lock = Lock::new().expect("Lock::new failed");
    let study = match guard {
        Guard::Study(strategy) => Some(StudyLock::new(strategy)),
        _ => None,
    };
    let raw = raw_mutex();
    let robust = RobustLock::new().expect("RobustLock::new failed");
    let counter = new_counter();
    // CLOCK_MONOTONIC is system-wide, so the children's offsets from the copied
    // `epoch` compare across processes.
    let now = || epoch.elapsed().as_nanos() as u64;
    // A separate load and store: without a lock, increments are lost.
    let load_store = || {
        let value = counter.value.load(Ordering::Relaxed);
        counter.value.store(value + 1, Ordering::Relaxed);
    };
    let cpu_before = children_cpu();
    let elapsed = gated("counter", procs, |index| {
        placement.pin(index);
        counter.spans[index][0].store(now(), Ordering::Relaxed);
        for _ in 0..increments {
            match guard {
                Guard::None => load_store(),
                Guard::FetchAdd => {
                    counter.value.fetch_add(1, Ordering::Relaxed);
                }
                Guard::Lock => {
                    let _guard = lock
                        .lock_timeout(WAIT_DEADLINE)
                        .expect("Lock::lock_timeout failed")
                        .expect("the Lock was not acquired within the deadline");
                    load_store();
                }
                Guard::Study(_) => {
                    let lock = study.as_ref().expect("made for this guard");
                    let taken = lock.acquire(WAIT_DEADLINE);
                    assert!(taken, "the StudyLock was not acquired within the deadline");
                    load_store();
                    lock.release();
                }
                Guard::RawSync => {
                    let _guard = raw
                        .primitive
                        .try_lock(Timeout::Val(WAIT_DEADLINE))
                        .expect("the raw_sync mutex was not acquired within the deadline");
                    load_store();
                }
                Guard::Robust => match robust.lock(Some(WAIT_DEADLINE)) {
                    Ok(_guard) => load_store(),
                    Err(error) => panic!("RobustLock::lock failed: {error:?}"),
                },
            }
        }
        counter.spans[index][1].store(now(), Ordering::Relaxed);
    });
    let cpu_s = children_cpu() - cpu_before;
    let value = counter.value.load(Ordering::Relaxed);
    let total = procs as u64 * increments;
    if guard == Guard::None {
        assert!(value <= total, "more increments than were made: {value}");
    } else {
        assert_eq!(
            value,
            total,
            "the counter under {} lost increments",
            guard.name()
        );
    }
    let spans: Vec<(u64, u64)> = counter.spans[..procs]
        .iter()
        .map(|[start, end]| (start.load(Ordering::Relaxed), end.load(Ordering::Relaxed)))
        .collect();
    let busy: u64 = spans.iter().map(|(start, end)| end - start).sum();
    let first = spans.iter().map(|span| span.0).min().unwrap_or(0);
    let last = spans.iter().map(|span| span.1).max().unwrap_or(0);
    Run {
        guard,
        elapsed,
        overlap: busy as f64 / (last - first).max(1) as f64,
        lost_pct: (total - value) as f64 * 100.0 / total as f64,
        cpu_s,
    }
}

/// Benchmark 3, one run: PROCS children x `barrier_rounds` rounds; rounds per second.
fn barrier_once(plan: &Plan) -> f64 {
    let barrier = Barrier::new(PROCS as u32, None).expect("Barrier::new failed");
    let counter = new_counter();
    let rounds = plan.barrier_rounds;
    let elapsed = gated("barrier", PROCS, |_| {
        for _ in 0..rounds {
            let index = barrier
                .wait(Some(WAIT_DEADLINE))
                .expect("Barrier::wait failed");
            if index + 1 == PROCS as u32 {
                counter.leaders.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let leaders = counter.leaders.load(Ordering::Relaxed);
    assert_eq!(
        leaders,
        u64::from(rounds),
        "each barrier round must have exactly one leader"
    );
    f64::from(rounds) / elapsed.as_secs_f64()
}

/// Whose events play ping-pong.
#[derive(Clone, Copy)]
enum PingPong {
    /// Chapter 5's `Event`s, set and cleared.
    Ours,
    /// Two auto-reset `raw_sync` events (a pthread mutex and condition variable each).
    RawSync,
}

/// Benchmark 4: microseconds per ping-pong round trip, sorted, warm-up left out.
fn pingpong(plan: &Plan, whose: PingPong) -> Vec<f64> {
    let ping = Event::new().expect("Event::new failed");
    let pong = Event::new().expect("Event::new failed");
    let (raw_ping, raw_pong) = (raw_event(), raw_event());
    let trips = plan.pingpong_warmup + plan.pingpong_trips;
    let wait_raw = |event: &RawSync<dyn EventImpl>, what: &str| {
        event
            .primitive
            .wait(Timeout::Val(WAIT_DEADLINE))
            .unwrap_or_else(|e| panic!("no {what} within {WAIT_DEADLINE:?}: {e}"));
    };
    let signal_raw = |event: &RawSync<dyn EventImpl>| {
        event
            .primitive
            .set(EventState::Signaled)
            .expect("raw_sync Event::set failed");
    };
    let mut child = mpkit::fork_child(|| {
        for _ in 0..trips {
            match whose {
                PingPong::Ours => {
                    let set = ping.wait(Some(WAIT_DEADLINE)).expect("Event::wait failed");
                    assert!(set, "no ping within {WAIT_DEADLINE:?}");
                    ping.clear();
                    pong.set();
                }
                PingPong::RawSync => {
                    wait_raw(&raw_ping, "ping");
                    signal_raw(&raw_pong);
                }
            }
        }
    })
    .expect("mpkit::fork_child failed");
    let mut micros = Vec::with_capacity(plan.pingpong_trips);
    for trip in 0..trips {
        let t0 = Instant::now();
        match whose {
            PingPong::Ours => {
                ping.set();
                let set = pong.wait(Some(WAIT_DEADLINE)).expect("Event::wait failed");
                // Dropping `child` on the panic kills and reaps it.
                assert!(set, "no pong within {WAIT_DEADLINE:?}");
                pong.clear();
            }
            PingPong::RawSync => {
                signal_raw(&raw_ping);
                wait_raw(&raw_pong, "pong");
            }
        }
        if trip >= plan.pingpong_warmup {
            micros.push(t0.elapsed().as_secs_f64() * 1e6);
        }
    }
    join_ok(&mut child, Instant::now() + JOIN_DEADLINE, "ping-pong");
    sorted(micros)
}

fn new_counter() -> Shared<Counter> {
    Shared::new(Counter {
        value: AtomicU64::new(0),
        spans: Default::default(),
        leaders: AtomicU64::new(0),
    })
    .expect("Shared::new failed")
}

/// Forks `procs` children that each reach a start gate (an `Event`) and then run
/// `body(index)`; opens the gate once all have reached it, and returns the time from
/// the opening to the last join.
fn gated<F: Fn(usize)>(what: &str, procs: usize, body: F) -> Duration {
    assert!(procs <= MAX_PROCS, "at most {MAX_PROCS} processes");
    let gate = Event::new().expect("Event::new failed");
    let ready = Shared::new(Ready {
        count: AtomicU32::new(0),
    })
    .expect("Shared::new failed");
    let mut children: Vec<_> = (0..procs)
        .map(|index| {
            mpkit::fork_child(|| {
                ready.count.fetch_add(1, Ordering::Release);
                let open = gate.wait(Some(GATE_DEADLINE)).expect("Event::wait failed");
                assert!(open, "the start gate did not open within {GATE_DEADLINE:?}");
                body(index);
            })
            .expect("mpkit::fork_child failed")
        })
        .collect();

    let deadline = Instant::now() + GATE_DEADLINE;
    while ready.count.load(Ordering::Acquire) < procs as u32 {
        // Dropping `children` on the panic kills and reaps them.
        assert!(
            Instant::now() < deadline,
            "{what}: the children did not reach the start gate within {GATE_DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
    let t0 = Instant::now();
    gate.set();
    let end = t0 + JOIN_DEADLINE;
    for child in &mut children {
        join_ok(child, end, what);
    }
    t0.elapsed()
}

/// Reaps `child` by `deadline`; panics unless it exited with code 0.
fn join_ok(child: &mut mpkit::Child, deadline: Instant, what: &str) {
    let status = child
        .wait_deadline(deadline)
        .expect("Child::wait_deadline failed");
    match status {
        Some(status) if status.success() => {}
        Some(status) => panic!("{what}: child {} ended with {status}, not 0", child.pid()),
        // Dropping the children on the panic kills and reaps them.
        None => panic!(
            "{what}: child {} was still running at the deadline ({JOIN_DEADLINE:?} after \
             the start)",
            child.pid()
        ),
    }
}

fn sorted(values: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let mut values: Vec<f64> = values.into_iter().collect();
    values.sort_by(f64::total_cmp);
    values
}

/// Runs `benches/sync.py` with `python3` and reads its JSON line; `Err` (with the
/// reason) only when `python3` cannot be found. Any other failure panics.
fn run_python(plan: &Plan) -> Result<Python, String> {
    let sizes: Vec<String> = SWEEP.iter().map(usize::to_string).collect();
    let args: Vec<String> = [
        ("--procs", PROCS.to_string()),
        ("--increments", plan.increments.to_string()),
        ("--counter-runs", plan.counter_runs.to_string()),
        ("--barrier-rounds", plan.py_barrier_rounds.to_string()),
        ("--barrier-runs", plan.barrier_runs.to_string()),
        ("--pingpong", plan.pingpong_trips.to_string()),
        ("--pingpong-warmup", plan.pingpong_warmup.to_string()),
        ("--lock-pairs", plan.py_lock_pairs.to_string()),
        ("--lock-runs", plan.py_lock_runs.to_string()),
        ("--sweep", sizes.join(",")),
        ("--sweep-runs", scaled(3, 1).to_string()),
    ]
    .into_iter()
    .flat_map(|(flag, value)| [flag.to_owned(), value])
    .collect();
    let line = &common::run_python("sync.py", &args, PYTHON_DEADLINE)?;
    let number = |key: &str| {
        json_number(line, key)
            .unwrap_or_else(|| panic!("no number {key:?} in sync.py's output: {line}"))
    };
    Ok(Python {
        implementation: json_string(line, "implementation")
            .unwrap_or_else(|| "CPython multiprocessing (fork)".to_owned()),
        lock_best_ns: number("lock_best_ns"),
        counter_median_s: number("counter_median_s"),
        counter_min_s: number("counter_min_s"),
        counter_max_s: number("counter_max_s"),
        barrier_median_per_s: number("barrier_median_per_s"),
        barrier_min_per_s: number("barrier_min_per_s"),
        barrier_max_per_s: number("barrier_max_per_s"),
        pingpong_median_us: number("pingpong_median_us"),
        pingpong_p10_us: number("pingpong_p10_us"),
        pingpong_p90_us: number("pingpong_p90_us"),
        sweep_s: SWEEP
            .iter()
            .map(|n| number(&format!("sweep_{n}_s")))
            .collect(),
    })
}

/// The key of a lock of benchmark 6 in the figures' names.
fn study_key(guard: Guard) -> &'static str {
    match guard {
        Guard::Study(strategy) => strategy.key(),
        _ => "lock",
    }
}

/// Writes `book/figures/ch05_sync.json`: the figures the book quotes, the rows of the
/// "How fast is it?" table with their targets, and the series of the charts.
fn write_figures(m: Measured<'_>) {
    let ns = |value: f64| time_text(value * 1e-9);
    let us = |value: f64| time_text(value * 1e-6);
    let ms = |value: f64| time_text(value * 1e-3);
    let times = |value: f64| format!("{}×", number(value, 2));
    let per_s = |value: f64| number(value, 2);
    let pct = |value: f64| format!("{} %", number(value, 2));
    let median = |values: &[f64]| quantile(values, 0.5);
    let total = (PROCS as u64 * m.plan.increments) as f64;
    let per_increment = |guard| median(&m.counters.seconds(guard)) * 1e9 / total;
    let u = m.uncontended;

    let mut figures = Figures::new("ch05_sync");
    let counter_ms = median(&m.counters.seconds(Guard::Lock)) * 1e3;
    let raw_counter_ms = median(&m.counters.seconds(Guard::RawSync)) * 1e3;
    let fetch_add_ms = median(&m.counters.seconds(Guard::FetchAdd)) * 1e3;
    let lost = m.counters.lost(Guard::None);
    let (barrier, trip, raw_trip) = (
        median(m.barrier_per_s),
        median(m.trips_us),
        median(m.raw_trips_us),
    );
    figures
        .add("lock_uncontended_ns", u.lock_ns, "ns", ns(u.lock_ns))
        .add("mutex_uncontended_ns", u.mutex_ns, "ns", ns(u.mutex_ns))
        .add("raw_sync_uncontended_ns", u.raw_ns, "ns", ns(u.raw_ns))
        .add("rlock_uncontended_ns", u.rlock_ns, "ns", ns(u.rlock_ns))
        .add("gettid_ns", u.gettid_ns, "ns", ns(u.gettid_ns))
        .add(
            "lock_vs_mutex",
            u.lock_ns / u.mutex_ns,
            "x",
            times(u.lock_ns / u.mutex_ns),
        )
        .add("counter_lock_ms", counter_ms, "ms", ms(counter_ms))
        .add(
            "counter_raw_sync_ms",
            raw_counter_ms,
            "ms",
            ms(raw_counter_ms),
        )
        .add("counter_fetch_add_ms", fetch_add_ms, "ms", ms(fetch_add_ms))
        .add(
            "counter_vs_raw_sync",
            raw_counter_ms / counter_ms,
            "x",
            times(raw_counter_ms / counter_ms),
        )
        .add(
            "nolock_lost_max_pct",
            lost[lost.len() - 1],
            "%",
            pct(lost[lost.len() - 1]),
        );
    for (key, guard) in [
        ("increment_fetch_add_ns", Guard::FetchAdd),
        ("increment_lock_ns", Guard::Lock),
        ("increment_raw_sync_ns", Guard::RawSync),
        ("increment_robust_ns", Guard::Robust),
    ] {
        let value = per_increment(guard);
        figures.add(key, value, "ns", ns(value));
    }
    figures
        .add("barrier_rounds_per_s", barrier, "1/s", per_s(barrier))
        .add("pingpong_us", trip, "us", us(trip))
        .add("pingpong_raw_sync_us", raw_trip, "us", us(raw_trip));
    for study in m.spin {
        let place = study.placement.key();
        for (i, guard) in STUDY.iter().enumerate() {
            let who = study_key(*guard);
            figures
                .add(
                    &format!("study_{place}_{who}_ms"),
                    study.ms[i],
                    "ms",
                    ms(study.ms[i]),
                )
                .add(
                    &format!("study_{place}_{who}_cpu_ms"),
                    study.cpu_ms[i],
                    "ms",
                    ms(study.cpu_ms[i]),
                );
        }
    }
    if let Some(p) = m.python {
        let py_counter_ms = p.counter_median_s * 1e3;
        figures
            .add(
                "cpython_lock_uncontended_ns",
                p.lock_best_ns,
                "ns",
                ns(p.lock_best_ns),
            )
            .add("cpython_counter_ms", py_counter_ms, "ms", ms(py_counter_ms))
            .add(
                "counter_speedup_vs_cpython",
                py_counter_ms / counter_ms,
                "x",
                times(py_counter_ms / counter_ms),
            )
            .add(
                "cpython_barrier_rounds_per_s",
                p.barrier_median_per_s,
                "1/s",
                per_s(p.barrier_median_per_s),
            )
            .add(
                "cpython_pingpong_us",
                p.pingpong_median_us,
                "us",
                us(p.pingpong_median_us),
            );
    } else {
        println!("figures written without CPython's (it was not measured)");
    }

    let counter_what = format!(
        "{PROCS} processes × {} locked increments",
        number(m.plan.increments as f64, 3)
    );
    figures
        .row(
            Row::new(
                "uncontended lock + unlock",
                Better::Lower,
                "lock_uncontended_ns",
            )
            .cpython("cpython_lock_uncontended_ns")
            .limit("std Mutex (one process)", "mutex_uncontended_ns")
            .peer("raw_sync", "raw_sync_uncontended_ns")
            .target(Target::within_limit(1.5)),
        )
        .row(
            Row::new(counter_what, Better::Lower, "counter_lock_ms")
                .cpython("cpython_counter_ms")
                .limit("atomic fetch_add, no lock", "counter_fetch_add_ms")
                .peer("raw_sync", "counter_raw_sync_ms")
                .target(Target::faster_than_cpython(10.0))
                .target(Target::faster_than("raw_sync", 1.0)),
        )
        .row(
            Row::new(
                "Barrier(4) rounds per second",
                Better::Higher,
                "barrier_rounds_per_s",
            )
            .cpython("cpython_barrier_rounds_per_s")
            .target(Target::faster_than_cpython(2.0)),
        )
        .row(
            Row::new("Event ping-pong round trip", Better::Lower, "pingpong_us")
                .cpython("cpython_pingpong_us")
                .peer("raw_sync", "pingpong_raw_sync_us")
                .target(Target::faster_than_cpython(2.0))
                .target(Target::faster_than("raw_sync", 1.0)),
        );
    for study in m.spin {
        let place = study.placement.key();
        let label = study.placement.label();
        for (what, suffix) in [("counter", "ms"), ("children's CPU time", "cpu_ms")] {
            let mut row = Row::new(
                format!("contended Lock, {label}: {what}"),
                Better::Lower,
                &format!("study_{place}_lock_{suffix}"),
            );
            for guard in &STUDY[1..] {
                let Guard::Study(strategy) = guard else {
                    continue;
                };
                let key = format!("study_{place}_{}_{suffix}", study_key(*guard));
                row = row.peer(strategy.name(), &key);
                // Level at least: on one CPU nobody can release while a waiter is
                // awake, so there is nothing to win there; 5 % is this machine's noise.
                if suffix == "ms" {
                    row = row.target(Target::within(strategy.name(), 1.05));
                }
            }
            figures.row(row);
        }
    }

    let x: Vec<f64> = SWEEP.iter().map(|&n| n as f64).collect();
    let some = |values: &[f64]| values.iter().map(|&v| Some(v)).collect::<Vec<_>>();
    let mut series = Series::new(
        "locked_increments_procs",
        &format!(
            "n processes × {} locked increments each",
            number(m.plan.increments as f64, 3)
        ),
        "processes",
        "ms",
        &x,
    )
    .line("chapter 5 Lock", Role::Ours, &some(&m.sweep.lock_ms))
    .line("raw_sync pthread mutex", Role::Peer, &some(&m.sweep.raw_ms))
    .line(
        "atomic fetch_add, no lock",
        Role::Limit,
        &some(&m.sweep.fetch_add_ms),
    );
    if let Some(p) = m.python {
        let py_ms: Vec<f64> = p.sweep_s.iter().map(|s| s * 1e3).collect();
        series = series.line("CPython", Role::CPython, &some(&py_ms));
    }
    figures.series(series);
    figures.write();
}
