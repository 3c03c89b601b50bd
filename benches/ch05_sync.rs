//! Chapter 5's `Lock`, `Barrier` and `Event`, next to std's `Mutex` and CPython's
//! `multiprocessing`.
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
//!    one process, against `std::sync::Mutex<()>` `lock()` + drop the same number of
//!    times; the two take turns, 5 runs each, and the best run of each gives nanoseconds
//!    per pair. Target: at most 1.5x std's time.
//! 2. **Contended counter**: 4 forked processes each add 1, 100 000 times, to an
//!    `AtomicU64` in a `Shared<Counter>`, with a separate load and store under one
//!    `Lock` (so only the lock keeps increments from being lost); the final value must be
//!    400 000. The children wait at a start gate (an `Event`); the clock runs from its
//!    `set()` until the last child is joined. Median of 5 runs. Target: at least 10x
//!    faster than CPython's `Lock` + `Value('i', lock=False)` doing the same.
//!    The same counter also runs guarded three other ways, taking turns with the `Lock`
//!    run by run: with one atomic `fetch_add` each (no lock needed) and under a
//!    `RobustLock` (exercise 7), which give nanoseconds per increment (the wall time
//!    divided by the 400 000 increments); and with no lock at all, 10 000 000 times
//!    per process, which gives the share of increments lost.
//! 3. **Barrier**: 4 processes each call `Barrier::wait(Some(5 s))` 20 000 times after
//!    the same start gate; rounds per second, median of 3 runs. Each round must have
//!    exactly one leader. CPython's `Barrier(4)` does 2 000 rounds.
//! 4. **Event ping-pong**: this process sets `ping` and waits for `pong`, then clears
//!    `pong`; one child waits for `ping`, clears it and sets `pong`. Each round trip is
//!    timed; 1 000 warm-up trips, then the median of 10 000, in microseconds.
//!
//! The CPython figures come from `benches/sync.py`, run with `python3` (fork context),
//! which measures the same things the same way, and also an uncontended
//! `with lock: pass`, and prints one JSON line. Without `python3` on the `PATH` those
//! comparisons are skipped with a message.
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

use ch05_sync_solution::{Barrier, Event, Lock, RobustLock, Shared, ShmSafe};
use common::{
    assert_single_threaded, json_number, json_string, number, quantile, time_text, Figures,
};

/// Lock + unlock pairs per uncontended run, and how many runs of each.
const UNCONTENDED_PAIRS: u32 = 10_000_000;
const UNCONTENDED_RUNS: usize = 5;
/// Processes of the counter and the barrier.
const PROCS: usize = 4;
const INCREMENTS: u64 = 100_000;
/// Increments per process without a lock: many more, so that the processes run at the
/// same time long enough to lose some (100 000 unguarded ones take well under a time
/// slice, and on a busy machine the children may then run one after the other).
const UNGUARDED_INCREMENTS: u64 = 10_000_000;
const COUNTER_RUNS: usize = 5;
/// Lock + unlock pairs of CPython's uncontended `with lock: pass`, and its runs.
const PY_LOCK_PAIRS: u32 = 1_000_000;
const PY_LOCK_RUNS: usize = 3;
const BARRIER_ROUNDS: u32 = 20_000;
const PY_BARRIER_ROUNDS: u32 = 2_000;
const BARRIER_RUNS: usize = 3;
const PINGPONG_WARMUP: usize = 1_000;
const PINGPONG_TRIPS: usize = 10_000;

/// Deadline of each blocking `Lock`, `Barrier` or `Event` call.
const WAIT_DEADLINE: Duration = Duration::from_secs(5);
/// Deadline for the children to reach the start gate, and of their wait there.
const GATE_DEADLINE: Duration = Duration::from_secs(10);
/// Deadline from the opening of the start gate to the last join.
const JOIN_DEADLINE: Duration = Duration::from_secs(30);
/// Deadline of the whole Python script.
const PYTHON_DEADLINE: Duration = Duration::from_secs(120);

/// The counter of benchmark 2, in shared memory; the `Lock` guards `value`.
#[repr(C)]
struct Counter {
    value: AtomicU64,
    /// When each child's loop started and ended, in nanoseconds after the bench began.
    spans: [[AtomicU64; 2]; PROCS],
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
}

fn main() {
    assert_single_threaded();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());

    let (lock_ns, mutex_ns) = uncontended();
    let epoch = Instant::now();
    let counters = counters(epoch);
    let counter_s = counters.seconds(Guard::Lock);
    let overlaps = sorted(counters.overlaps.iter().copied());
    let barrier_per_s = sorted((0..BARRIER_RUNS).map(|_| barrier_once()));
    let trips_us = pingpong();
    let python = run_python();

    println!();
    println!("ch05_sync_solution against std and CPython; cores: {cores}");
    let py = |field: fn(&Python) -> f64| python.as_ref().ok().map(field);
    let rows = [
        Row {
            name: "uncontended lock+unlock, best of 5",
            unit: Unit::Nanos,
            ours: lock_ns,
            baseline: Some(mutex_ns),
            higher_is_better: false,
            target: Target::AtMostSlower(1.5),
        },
        Row {
            name: "4 procs x 100 000 locked increments",
            unit: Unit::Millis,
            ours: quantile(&counter_s, 0.5) * 1e3,
            baseline: py(|p| p.counter_median_s * 1e3),
            higher_is_better: false,
            target: Target::AtLeastFaster(10.0),
        },
        Row {
            name: "Barrier(4) rounds per second",
            unit: Unit::PerSecond,
            ours: quantile(&barrier_per_s, 0.5),
            baseline: py(|p| p.barrier_median_per_s),
            higher_is_better: true,
            target: Target::None,
        },
        Row {
            name: "Event ping-pong round trip, median",
            unit: Unit::Micros,
            ours: quantile(&trips_us, 0.5),
            baseline: py(|p| p.pingpong_median_us),
            higher_is_better: false,
            target: Target::None,
        },
    ];
    print_table(&rows);

    println!();
    println!("baseline: row 1 std::sync::Mutex<()> in this process, same loop");
    match &python {
        Ok(p) => println!("          rows 2-4 {}", p.implementation),
        Err(why) => println!("          rows 2-4: CPython comparison skipped: {why}"),
    }
    println!("details:");
    println!(
        "  uncontended, {UNCONTENDED_PAIRS} pairs, best of {UNCONTENDED_RUNS}: \
         Lock {lock_ns:.2} ns, std Mutex {mutex_ns:.2} ns"
    );
    println!(
        "  counter, {COUNTER_RUNS} runs: workbook median {:.1} ms (min {:.1}, max {:.1})",
        quantile(&counter_s, 0.5) * 1e3,
        counter_s[0] * 1e3,
        counter_s[counter_s.len() - 1] * 1e3,
    );
    println!(
        "  counter: children inside their loops at once, on average: {:.2} to {:.2} over the \
         runs (1.00: one after the other, uncontended; time asleep on the Lock counts)",
        overlaps[0],
        overlaps[overlaps.len() - 1],
    );
    println!(
        "  Barrier(4), {BARRIER_RUNS} runs of {BARRIER_ROUNDS} rounds: workbook median \
         {:.0}/s (min {:.0}, max {:.0})",
        quantile(&barrier_per_s, 0.5),
        barrier_per_s[0],
        barrier_per_s[barrier_per_s.len() - 1],
    );
    println!(
        "  ping-pong, {PINGPONG_TRIPS} round trips: workbook median {:.1} us \
         (p10 {:.1}, p90 {:.1})",
        quantile(&trips_us, 0.5),
        quantile(&trips_us, 0.1),
        quantile(&trips_us, 0.9),
    );
    for guard in [Guard::None, Guard::FetchAdd, Guard::Lock, Guard::Robust] {
        let runs = counters.seconds(guard);
        let lost = counters.lost(guard);
        println!(
            "  counter guarded by {}: median {:.1} ns per increment; increments lost {:.1} % \
             to {:.1} %",
            guard.name(),
            quantile(&runs, 0.5) * 1e9 / (PROCS as u64 * guard.increments()) as f64,
            lost[0],
            lost[lost.len() - 1],
        );
    }
    if let Ok(p) = &python {
        println!(
            "  CPython: uncontended `with lock: pass` {:.1} ns (best of {PY_LOCK_RUNS})",
            p.lock_best_ns
        );
        println!(
            "  CPython: counter median {:.1} ms (min {:.1}, max {:.1}); Barrier(4), \
             {PY_BARRIER_ROUNDS} rounds: median {:.0}/s (min {:.0}, max {:.0}); \
             ping-pong median {:.1} us (p10 {:.1}, p90 {:.1})",
            p.counter_median_s * 1e3,
            p.counter_min_s * 1e3,
            p.counter_max_s * 1e3,
            p.barrier_median_per_s,
            p.barrier_min_per_s,
            p.barrier_max_per_s,
            p.pingpong_median_us,
            p.pingpong_p10_us,
            p.pingpong_p90_us,
        );
    }
    write_figures(
        lock_ns,
        mutex_ns,
        &counters,
        &barrier_per_s,
        &trips_us,
        python.as_ref().ok(),
    );
}

/// Increments in one counter run: every child's together.
const TOTAL: u64 = PROCS as u64 * INCREMENTS;

/// What keeps the counter's increments from being lost.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Guard {
    /// Nothing: a load, then a store.
    None,
    /// One atomic `fetch_add` per increment, no lock.
    FetchAdd,
    /// A load and a store under the chapter's futex `Lock`.
    Lock,
    /// A load and a store under a `RobustLock` (a robust pthread mutex).
    Robust,
}

impl Guard {
    const ALL: [Guard; 4] = [Guard::Lock, Guard::None, Guard::FetchAdd, Guard::Robust];

    /// Increments per process.
    fn increments(self) -> u64 {
        match self {
            Guard::None => UNGUARDED_INCREMENTS,
            _ => INCREMENTS,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Guard::None => "nothing (load, then store)",
            Guard::FetchAdd => "fetch_add",
            Guard::Lock => "Lock",
            Guard::Robust => "RobustLock",
        }
    }
}

/// Benchmark 2's runs, every guard's.
struct Counters {
    /// (guard, time, increments lost as a percentage) of each run.
    runs: Vec<(Guard, Duration, f64)>,
    /// How many children were inside their loops at once, on average, in each `Lock` run.
    overlaps: Vec<f64>,
}

impl Counters {
    /// The seconds of `guard`'s runs, sorted.
    fn seconds(&self, guard: Guard) -> Vec<f64> {
        sorted(
            self.runs
                .iter()
                .filter(|run| run.0 == guard)
                .map(|run| run.1.as_secs_f64()),
        )
    }

    /// The percentages of increments lost in `guard`'s runs, sorted.
    fn lost(&self, guard: Guard) -> Vec<f64> {
        sorted(
            self.runs
                .iter()
                .filter(|run| run.0 == guard)
                .map(|run| run.2),
        )
    }
}

/// COUNTER_RUNS runs of the counter with each guard, the guards taking turns.
fn counters(epoch: Instant) -> Counters {
    let mut counters = Counters {
        runs: Vec::new(),
        overlaps: Vec::new(),
    };
    for _ in 0..COUNTER_RUNS {
        for guard in Guard::ALL {
            let (elapsed, overlap, value) = counter_once(epoch, guard);
            let total = PROCS as u64 * guard.increments();
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
            if guard == Guard::Lock {
                counters.overlaps.push(overlap);
            }
            let lost = (total - value) as f64 * 100.0 / total as f64;
            counters.runs.push((guard, elapsed, lost));
        }
    }
    counters
}

/// Writes `book/figures/ch05_sync.json`.
fn write_figures(
    lock_ns: f64,
    mutex_ns: f64,
    counters: &Counters,
    barrier_per_s: &[f64],
    trips_us: &[f64],
    python: Option<&Python>,
) {
    let ns = |value: f64| time_text(value * 1e-9);
    let us = |value: f64| time_text(value * 1e-6);
    let ms = |value: f64| time_text(value * 1e-3);
    let times = |value: f64| format!("{}×", number(value, 2));
    let per_s = |value: f64| number(value, 2);
    let pct = |value: f64| format!("{} %", number(value, 2));
    let median = |values: &[f64]| quantile(values, 0.5);
    let per_increment = |guard| median(&counters.seconds(guard)) * 1e9 / TOTAL as f64;

    let mut figures = Figures::new("ch05_sync");
    let counter_ms = median(&counters.seconds(Guard::Lock)) * 1e3;
    let lost = counters.lost(Guard::None);
    let (barrier, trip) = (median(barrier_per_s), median(trips_us));
    figures
        .add("lock_uncontended_ns", lock_ns, "ns", ns(lock_ns))
        .add("mutex_uncontended_ns", mutex_ns, "ns", ns(mutex_ns))
        .add(
            "lock_vs_mutex",
            lock_ns / mutex_ns,
            "x",
            times(lock_ns / mutex_ns),
        )
        .add("counter_lock_ms", counter_ms, "ms", ms(counter_ms))
        .add(
            "nolock_lost_max_pct",
            lost[lost.len() - 1],
            "%",
            pct(lost[lost.len() - 1]),
        );
    for (key, guard) in [
        ("increment_fetch_add_ns", Guard::FetchAdd),
        ("increment_lock_ns", Guard::Lock),
        ("increment_robust_ns", Guard::Robust),
    ] {
        let value = per_increment(guard);
        figures.add(key, value, "ns", ns(value));
    }
    figures
        .add("barrier_rounds_per_s", barrier, "1/s", per_s(barrier))
        .add("pingpong_us", trip, "us", us(trip));
    match python {
        Some(p) => {
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
        }
        None => println!("figures written without CPython's (it was not measured)"),
    }
    figures.write();
}

/// Benchmark 1: nanoseconds per lock + unlock pair, `Lock` then std's `Mutex`, each the
/// best of UNCONTENDED_RUNS runs taken in turns.
fn uncontended() -> (f64, f64) {
    let lock = Lock::new().expect("Lock::new failed");
    let mutex = Mutex::new(());
    let per_pair = |elapsed: Duration| elapsed.as_nanos() as f64 / f64::from(UNCONTENDED_PAIRS);
    let (mut best_lock, mut best_mutex) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..UNCONTENDED_RUNS {
        let t0 = Instant::now();
        for _ in 0..UNCONTENDED_PAIRS {
            let guard = black_box(&lock).lock().expect("Lock::lock failed");
            drop(black_box(guard));
        }
        best_lock = best_lock.min(per_pair(t0.elapsed()));

        let t0 = Instant::now();
        for _ in 0..UNCONTENDED_PAIRS {
            let guard = black_box(&mutex).lock().expect("the Mutex is poisoned");
            drop(black_box(guard));
        }
        best_mutex = best_mutex.min(per_pair(t0.elapsed()));
    }
    assert!(!lock.is_locked(), "the Lock is still locked after the loop");
    (best_lock, best_mutex)
}

/// Benchmark 2, one run: PROCS children x `guard.increments()` increments guarded by
/// `guard`.
/// Returns the time, how many children were inside their loops at once on average
/// (1.0: one after the other, so the lock was never contended; time asleep on the lock
/// counts), and the counter's final value.
fn counter_once(epoch: Instant, guard: Guard) -> (Duration, f64, u64) {
    let lock = Lock::new().expect("Lock::new failed");
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
    let elapsed = gated("counter", |index| {
        counter.spans[index][0].store(now(), Ordering::Relaxed);
        for _ in 0..guard.increments() {
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
                Guard::Robust => match robust.lock(Some(WAIT_DEADLINE)) {
                    Ok(_guard) => load_store(),
                    Err(error) => panic!("RobustLock::lock failed: {error:?}"),
                },
            }
        }
        counter.spans[index][1].store(now(), Ordering::Relaxed);
    });
    let value = counter.value.load(Ordering::Relaxed);
    let spans: Vec<(u64, u64)> = counter
        .spans
        .iter()
        .map(|[start, end]| (start.load(Ordering::Relaxed), end.load(Ordering::Relaxed)))
        .collect();
    let busy: u64 = spans.iter().map(|(start, end)| end - start).sum();
    let first = spans.iter().map(|span| span.0).min().unwrap_or(0);
    let last = spans.iter().map(|span| span.1).max().unwrap_or(0);
    (elapsed, busy as f64 / (last - first).max(1) as f64, value)
}

/// Benchmark 3, one run: PROCS children x BARRIER_ROUNDS rounds; rounds per second.
fn barrier_once() -> f64 {
    let barrier = Barrier::new(PROCS as u32, None).expect("Barrier::new failed");
    let counter = new_counter();
    let elapsed = gated("barrier", |_| {
        for _ in 0..BARRIER_ROUNDS {
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
        u64::from(BARRIER_ROUNDS),
        "each barrier round must have exactly one leader"
    );
    f64::from(BARRIER_ROUNDS) / elapsed.as_secs_f64()
}

/// Benchmark 4: microseconds per ping-pong round trip, sorted, warm-up left out.
fn pingpong() -> Vec<f64> {
    let ping = Event::new().expect("Event::new failed");
    let pong = Event::new().expect("Event::new failed");
    let trips = PINGPONG_WARMUP + PINGPONG_TRIPS;
    let mut child = mpkit::fork_child(|| {
        for _ in 0..trips {
            let set = ping.wait(Some(WAIT_DEADLINE)).expect("Event::wait failed");
            assert!(set, "no ping within {WAIT_DEADLINE:?}");
            ping.clear();
            pong.set();
        }
    })
    .expect("mpkit::fork_child failed");
    let mut micros = Vec::with_capacity(PINGPONG_TRIPS);
    for trip in 0..trips {
        let t0 = Instant::now();
        ping.set();
        let set = pong.wait(Some(WAIT_DEADLINE)).expect("Event::wait failed");
        // Dropping `child` on the panic kills and reaps it.
        assert!(set, "no pong within {WAIT_DEADLINE:?}");
        pong.clear();
        if trip >= PINGPONG_WARMUP {
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

/// Forks PROCS children that each reach a start gate (an `Event`) and then run
/// `body(index)`; opens the gate once all have reached it, and returns the time from
/// the opening to the last join.
fn gated<F: Fn(usize)>(what: &str, body: F) -> Duration {
    let gate = Event::new().expect("Event::new failed");
    let ready = Shared::new(Ready {
        count: AtomicU32::new(0),
    })
    .expect("Shared::new failed");
    let mut children: Vec<_> = (0..PROCS)
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
    while ready.count.load(Ordering::Acquire) < PROCS as u32 {
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
fn run_python() -> Result<Python, String> {
    let args: Vec<String> = [
        ("--procs", PROCS.to_string()),
        ("--increments", INCREMENTS.to_string()),
        ("--counter-runs", COUNTER_RUNS.to_string()),
        ("--barrier-rounds", PY_BARRIER_ROUNDS.to_string()),
        ("--barrier-runs", BARRIER_RUNS.to_string()),
        ("--pingpong", PINGPONG_TRIPS.to_string()),
        ("--pingpong-warmup", PINGPONG_WARMUP.to_string()),
        ("--lock-pairs", PY_LOCK_PAIRS.to_string()),
        ("--lock-runs", PY_LOCK_RUNS.to_string()),
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
    })
}

/// The unit of a row's figures.
#[derive(Clone, Copy)]
enum Unit {
    Nanos,
    Micros,
    Millis,
    PerSecond,
}

impl Unit {
    fn show(self, value: f64) -> String {
        match self {
            Unit::Nanos => format!("{value:.1} ns"),
            Unit::Micros => format!("{value:.1} us"),
            Unit::Millis => format!("{value:.1} ms"),
            Unit::PerSecond => format!("{value:.0}/s"),
        }
    }
}

/// What a row must reach, as a speed-up over its baseline.
#[derive(Clone, Copy)]
enum Target {
    /// At most this many times slower than the baseline.
    AtMostSlower(f64),
    /// At least this many times faster than the baseline.
    AtLeastFaster(f64),
    /// No target: the figures are only put side by side.
    None,
}

impl Target {
    fn show(self) -> String {
        match self {
            Target::AtMostSlower(x) => format!("<= {x}x slower"),
            Target::AtLeastFaster(x) => format!(">= {x}x faster"),
            Target::None => "(none)".to_owned(),
        }
    }

    /// Whether `speedup` (baseline / workbook, for times) meets the target.
    fn met(self, speedup: f64) -> Option<bool> {
        match self {
            Target::AtMostSlower(x) => Some(speedup >= 1.0 / x),
            Target::AtLeastFaster(x) => Some(speedup >= x),
            Target::None => None,
        }
    }
}

/// One line of the table.
struct Row {
    name: &'static str,
    unit: Unit,
    ours: f64,
    /// `None` when the baseline was skipped.
    baseline: Option<f64>,
    /// Rates are better high, times low.
    higher_is_better: bool,
    target: Target,
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<38} {:>14} {:>14} {:>14} {:>16} {:>8}",
        "benchmark", "this workbook", "baseline", "ratio", "target", "result"
    );
    for row in rows {
        let (baseline, ratio, result) = match row.baseline {
            None => ("skipped".to_owned(), "-".to_owned(), "skipped".to_owned()),
            Some(baseline) => {
                let speedup = if row.higher_is_better {
                    row.ours / baseline
                } else {
                    baseline / row.ours
                };
                let ratio = if speedup >= 1.0 {
                    format!("{speedup:.2}x faster")
                } else {
                    format!("{:.2}x slower", 1.0 / speedup)
                };
                let result = match row.target.met(speedup) {
                    Some(true) => "met",
                    Some(false) => "NOT MET",
                    None => "-",
                };
                (row.unit.show(baseline), ratio, result.to_owned())
            }
        };
        println!(
            "{:<38} {:>14} {:>14} {:>14} {:>16} {:>8}",
            row.name,
            row.unit.show(row.ours),
            baseline,
            ratio,
            row.target.show(),
            result
        );
    }
}
