//! Chapter 6's shared `Value` and arrays, next to CPython's `multiprocessing` and to a
//! plain `memset`.
//!
//! Run it (release build) from the workspace root:
//!
//! ```text
//! cargo bench --bench ch06_shared_memory
//! ```
//!
//! What it measures, all in this one run on this one machine, with
//! `ch06_shared_memory_solution` (the reference solution):
//!
//! 1. **Counter**: 4 forked processes each add 1, 100 000 times, to one `Value<i32>`,
//!    holding its lock around the read and the write (`let g = counter.lock()?;
//!    g.set(g.get() + 1)`, Python's `with counter: counter.value += 1`). The final value
//!    must be 400 000. Target: at least 10x faster than CPython doing the same. Taking
//!    turns with it, run by run: the same with a plain `Lock` instead of the default
//!    `RLock`, with `RawValue::update` (no lock), and with `get` then `set` on a
//!    `RawValue` (no lock: the final value shows the updates lost).
//! 2. **Replace**: 4 processes, numbered 1 to 4, each write their number into every
//!    element of one 1 000 000-int array (the notebook's granularity cell), with
//!    exercise 6's three functions: holding a `Lock` for the whole loop, locking it for
//!    each element, and with no lock; per element with the `Array`'s default `RLock`;
//!    and the whole loop without `replace_locking_all`'s `populate`, so that each
//!    process's page faults come inside its turn under the lock. Each run counts how
//!    often the number changes along the array (0: one process's number everywhere).
//!    Targets for the two locked ones: at least 20x faster than CPython's `RawArray`
//!    and `Lock` doing the same.
//! 3. **The limit**: one process writes 1 000 000 ints into a shared array with
//!    `replace_unlocked`, next to `[i32]::fill` (a `memset`) over a private buffer of
//!    the same size; best of 10 each, taking turns. And a child writes an array its
//!    parent has written, twice: the first pass takes a page fault per page to map the
//!    shared pages into its own page tables (`fork` does not copy those entries), the
//!    second none; medians of 10.
//!
//! The children of every run are forked first and wait at a start gate (an `Event`);
//! the clock runs from its `set()` until the last child has finished its work (each
//! child notes the time, on the system-wide monotonic clock, in shared memory). The
//! children's exits and joins come after that and are left out: they measure `fork`
//! and `exit`, not shared memory (their median is printed). Medians of 5 runs
//! (CPython: 3, as it is slow). The CPython figures come from `benches/shared_memory.py`,
//! run with `python3` (fork context), which measures the same things the same way and
//! prints one JSON line; without `python3` on the `PATH` the comparisons are skipped.
//!
//! Every wait has a deadline: the start gate 10 s, the joins 60 s, the Python script 10
//! min; each failure fails the bench loudly, as does a child that does not exit with 0.
//! The binary is `harness = false`, so it runs on one thread and forking from it is safe.
//! The machine's other load lands on these figures: on a small shared machine, run it
//! twice before trusting a "not met".
//!
//! It writes its figures to `book/figures/ch06_shared_memory.json`, which the book quotes
//! (`{{#figure ch06_shared_memory.counter_speedup_vs_cpython}}`).

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ch05_sync_solution::Event;
use ch06_shared_memory_solution::granularity::{
    replace_locking_all, replace_locking_each, replace_unlocked,
};
use ch06_shared_memory_solution::{Array, Lock, RawArray, RawValue, Synchronized, Value};
use common::{
    assert_single_threaded, json_number, json_string, quantile, scaled, Better, Figures, Row,
    Target,
};

const PROCS: usize = 4;
/// How much each measurement does: a quick pass (`cargo xtask bench --quick`) does a
/// tenth, once.
fn increments() -> u64 {
    scaled(100_000, 10_000)
}
fn total() -> u64 {
    PROCS as u64 * increments()
}
fn counter_runs() -> usize {
    scaled(5, 1)
}
fn len() -> usize {
    scaled(1_000_000, 100_000)
}
fn replace_runs() -> usize {
    scaled(5, 1)
}
fn fill_runs() -> usize {
    scaled(10, 2)
}
fn py_counter_runs() -> usize {
    scaled(3, 1)
}
fn py_replace_runs() -> usize {
    scaled(3, 1)
}

/// Deadline for the children to reach the start gate, and of their wait there.
const GATE_DEADLINE: Duration = Duration::from_secs(10);
/// Deadline from the opening of the start gate to the last join.
const JOIN_DEADLINE: Duration = Duration::from_secs(60);
/// Deadline of the whole Python script (its per-element replace takes a while).
const PYTHON_DEADLINE: Duration = Duration::from_secs(600);

fn main() {
    assert_single_threaded();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());

    let mut counter = Counter::default();
    for _ in 0..counter_runs() {
        counter.run();
    }
    let mut replace = Replace::default();
    for _ in 0..replace_runs() {
        replace.run();
    }
    let (one_process_ms, fill_ms) = limit();
    let (first_touch_ms, second_touch_ms) = first_touch();
    let python = run_python();
    let py = python.as_ref().ok();

    let counter_ms = median(&counter.rlock_s) * 1e3;
    let all_ms = median(&replace.all_s) * 1e3;
    let each_ms = median(&replace.each_s) * 1e3;
    println!();
    println!("ch06_shared_memory_solution against CPython and memset; cores: {cores}");
    println!(
        "{:<52} {:>12} {:>12} {:>10}",
        "benchmark", "workbook", "CPython", "speed-up"
    );
    // The targets are the rows' of the figures file, printed when it is written.
    let row = |name: &str, ours_ms: f64, theirs_ms: Option<f64>| {
        let (theirs, speedup) = match theirs_ms {
            Some(theirs) => (
                format!("{theirs:.1} ms"),
                format!("{:.1}x", theirs / ours_ms),
            ),
            None => ("skipped".to_owned(), "-".to_owned()),
        };
        println!(
            "{name:<52} {:>12} {theirs:>12} {speedup:>10}",
            format!("{ours_ms:.1} ms")
        );
    };
    row(
        "4 x 100 000 increments under the value's lock",
        counter_ms,
        py.map(|p| p.counter_locked_s * 1e3),
    );
    row(
        "  ... under a plain Lock instead of the RLock",
        median(&counter.lock_s) * 1e3,
        None,
    );
    row(
        "  ... with RawValue::update, no lock",
        median(&counter.update_s) * 1e3,
        None,
    );
    row(
        "  ... with get then set, no lock (loses updates)",
        median(&counter.unlocked_s) * 1e3,
        py.map(|p| p.counter_unlocked_s * 1e3),
    );
    row(
        "4 x 1 000 000-int replace, one lock for the loop",
        all_ms,
        py.map(|p| p.replace_all_s * 1e3),
    );
    row(
        "  ... the pages mapped under the lock (no populate)",
        median(&replace.all_faulting_s) * 1e3,
        None,
    );
    row(
        "4 x 1 000 000-int replace, a lock per element",
        each_ms,
        py.map(|p| p.replace_each_s * 1e3),
    );
    row(
        "  ... per element with the Array's RLock",
        median(&replace.each_rlock_s) * 1e3,
        None,
    );
    row(
        "4 x 1 000 000-int replace, no lock",
        median(&replace.unlocked_s) * 1e3,
        py.map(|p| p.replace_unlocked_s * 1e3),
    );
    println!(
        "1 process, 1 000 000 ints: replace_unlocked {one_process_ms:.3} ms, \
         [i32]::fill (memset) {fill_ms:.3} ms: {:.1}x the memset time ({:.1} GB/s)",
        one_process_ms / fill_ms,
        gigabytes_per_second(one_process_ms),
    );
    println!(
        "a child writing 1 000 000 ints the parent wrote before: first time \
         {first_touch_ms:.3} ms (a page fault per page), second time {second_touch_ms:.3} ms"
    );
    println!(
        "unlocked counter final value: median {} of {} (CPython: {})",
        median(&counter.unlocked_final),
        total(),
        py.map_or("skipped".to_owned(), |p| p
            .counter_unlocked_final
            .to_string()),
    );
    println!(
        "number changes along the array: per element {} (CPython {}), no lock {} (CPython \
         {}), whole loop 0",
        median(&replace.each_switches),
        py.map_or("-".to_owned(), |p| p.replace_each_switches.to_string()),
        median(&replace.unlocked_switches),
        py.map_or("-".to_owned(), |p| p.replace_unlocked_switches.to_string()),
    );
    println!(
        "children's exits and joins after their work (left out above): median {:.1} ms",
        EXITS.with_borrow(|exits| median(exits)) * 1e3
    );
    match &python {
        Ok(p) => println!("CPython: {}", p.implementation),
        Err(why) => println!("CPython comparison skipped: {why}"),
    }

    let mut figures = Figures::new("ch06_shared_memory");
    let ms = |x: f64| format!("{} ms", common::number(x, 2));
    let times = |x: f64| format!("{}×", common::number(x, 2));
    let count = |x: f64| {
        let digits = x.round().abs().max(1.0).log10().floor() as u32 + 1;
        common::number(x.round(), digits)
    };
    figures
        .add("counter_locked_ms", counter_ms, "ms", ms(counter_ms))
        .add(
            "counter_locked_ns",
            counter_ms * 1e6 / total() as f64,
            "ns",
            format!(
                "{} ns",
                common::number(counter_ms * 1e6 / total() as f64, 2)
            ),
        )
        .add(
            "counter_plain_lock_ms",
            median(&counter.lock_s) * 1e3,
            "ms",
            ms(median(&counter.lock_s) * 1e3),
        )
        .add(
            "counter_update_ms",
            median(&counter.update_s) * 1e3,
            "ms",
            ms(median(&counter.update_s) * 1e3),
        )
        .add(
            "counter_unlocked_final",
            median(&counter.unlocked_final),
            "",
            count(median(&counter.unlocked_final)),
        )
        .add("replace_all_ms", all_ms, "ms", ms(all_ms))
        .add(
            "replace_all_faulting_ms",
            median(&replace.all_faulting_s) * 1e3,
            "ms",
            ms(median(&replace.all_faulting_s) * 1e3),
        )
        .add("replace_each_ms", each_ms, "ms", ms(each_ms))
        .add(
            "replace_each_ns",
            each_ms * 1e6 / (PROCS * len()) as f64,
            "ns",
            format!(
                "{} ns",
                common::number(each_ms * 1e6 / (PROCS * len()) as f64, 2)
            ),
        )
        .add(
            "replace_each_rlock_ms",
            median(&replace.each_rlock_s) * 1e3,
            "ms",
            ms(median(&replace.each_rlock_s) * 1e3),
        )
        .add(
            "replace_unlocked_ms",
            median(&replace.unlocked_s) * 1e3,
            "ms",
            ms(median(&replace.unlocked_s) * 1e3),
        )
        .add(
            "replace_each_switches",
            median(&replace.each_switches),
            "",
            count(median(&replace.each_switches)),
        )
        .add(
            "replace_unlocked_switches",
            median(&replace.unlocked_switches),
            "",
            count(median(&replace.unlocked_switches)),
        )
        .add(
            "one_process_replace_ms",
            one_process_ms,
            "ms",
            ms(one_process_ms),
        )
        .add("memset_ms", fill_ms, "ms", ms(fill_ms))
        .add("first_touch_ms", first_touch_ms, "ms", ms(first_touch_ms))
        .add(
            "second_touch_ms",
            second_touch_ms,
            "ms",
            ms(second_touch_ms),
        )
        .add(
            "first_touch_us_per_page",
            (first_touch_ms - second_touch_ms) * 1e3 / pages() as f64,
            "µs",
            format!(
                "{} µs",
                common::number((first_touch_ms - second_touch_ms) * 1e3 / pages() as f64, 2)
            ),
        )
        .add(
            "replace_vs_memset",
            one_process_ms / fill_ms,
            "x",
            times(one_process_ms / fill_ms),
        )
        .add(
            "one_process_replace_gb_per_s",
            gigabytes_per_second(one_process_ms),
            "GB/s",
            format!(
                "{} GB/s",
                common::number(gigabytes_per_second(one_process_ms), 2)
            ),
        );
    if let Some(p) = py {
        let theirs_counter = p.counter_locked_s * 1e3;
        figures
            .add(
                "counter_locked_cpython_ms",
                theirs_counter,
                "ms",
                ms(theirs_counter),
            )
            .add(
                "counter_locked_cpython_us",
                theirs_counter * 1e3 / total() as f64,
                "µs",
                format!(
                    "{} µs",
                    common::number(theirs_counter * 1e3 / total() as f64, 2)
                ),
            )
            .add(
                "counter_speedup_vs_cpython",
                theirs_counter / counter_ms,
                "x",
                times(theirs_counter / counter_ms),
            )
            .add(
                "counter_unlocked_cpython_final",
                p.counter_unlocked_final,
                "",
                count(p.counter_unlocked_final),
            )
            .add(
                "replace_all_cpython_ms",
                p.replace_all_s * 1e3,
                "ms",
                ms(p.replace_all_s * 1e3),
            )
            .add(
                "replace_all_speedup_vs_cpython",
                p.replace_all_s * 1e3 / all_ms,
                "x",
                times(p.replace_all_s * 1e3 / all_ms),
            )
            .add(
                "replace_each_cpython_ms",
                p.replace_each_s * 1e3,
                "ms",
                ms(p.replace_each_s * 1e3),
            )
            .add(
                "replace_each_speedup_vs_cpython",
                p.replace_each_s * 1e3 / each_ms,
                "x",
                times(p.replace_each_s * 1e3 / each_ms),
            )
            .add(
                "replace_unlocked_cpython_ms",
                p.replace_unlocked_s * 1e3,
                "ms",
                ms(p.replace_unlocked_s * 1e3),
            )
            .add(
                "replace_each_cpython_switches",
                p.replace_each_switches,
                "",
                count(p.replace_each_switches),
            );
    }
    figures
        .row(
            Row::new(
                format!(
                    "{PROCS} × {} increments under the value's lock",
                    common::number(increments() as f64, 3)
                ),
                Better::Lower,
                "counter_locked_ms",
            )
            .cpython("counter_locked_cpython_ms")
            .limit("RawValue::update, no lock", "counter_update_ms")
            .target(Target::faster_than_cpython(10.0)),
        )
        .row(
            Row::new(
                "replace an array, one lock for the loop",
                Better::Lower,
                "replace_all_ms",
            )
            .cpython("replace_all_cpython_ms")
            .limit("no lock", "replace_unlocked_ms")
            .target(Target::faster_than_cpython(20.0)),
        )
        .row(
            Row::new(
                "replace an array, a lock per element",
                Better::Lower,
                "replace_each_ms",
            )
            .cpython("replace_each_cpython_ms")
            .limit("no lock", "replace_unlocked_ms")
            .target(Target::faster_than_cpython(20.0)),
        )
        .row(
            Row::new(
                "one process fills a shared array",
                Better::Lower,
                "one_process_replace_ms",
            )
            .limit("memset of private memory", "memset_ms")
            .target(Target::within_limit(3.0)),
        );
    figures.write();
}

/// The counter runs, each kind taking its turn within a run.
#[derive(Default)]
struct Counter {
    rlock_s: Vec<f64>,
    lock_s: Vec<f64>,
    update_s: Vec<f64>,
    unlocked_s: Vec<f64>,
    unlocked_final: Vec<f64>,
}

impl Counter {
    fn run(&mut self) {
        let counter = Value::new(0i32).expect("Value::new failed");
        self.rlock_s
            .push(locked_increments(&counter, "counter (RLock)"));

        let counter = Synchronized::wrap(
            RawValue::new(0i32).expect("RawValue::new failed"),
            Arc::new(Lock::new().expect("Lock::new failed")),
        );
        self.lock_s
            .push(locked_increments(&counter, "counter (Lock)"));

        let counter = RawValue::new(0i32).expect("RawValue::new failed");
        self.update_s.push(gated("counter (update)", |_| {
            for _ in 0..increments() {
                counter.update(|v| v + 1);
            }
        }));
        assert_eq!(counter.get() as u64, total(), "update lost increments");

        let counter = RawValue::new(0i32).expect("RawValue::new failed");
        self.unlocked_s.push(gated("counter (no lock)", |_| {
            for _ in 0..increments() {
                counter.set(counter.get() + 1);
            }
        }));
        let last = counter.get() as u64;
        assert!(
            (1..=total()).contains(&last),
            "an unlocked counter ends between 1 and {}, not at {last}",
            total()
        );
        self.unlocked_final.push(last as f64);
    }
}

/// One run of PROCS x `increments()` increments, each under one hold of `counter`'s lock.
fn locked_increments(counter: &Value<i32>, what: &str) -> f64 {
    let elapsed = gated(what, |_| {
        for _ in 0..increments() {
            let guard = counter.lock().expect("Value::lock failed");
            guard.set(guard.get() + 1);
        }
    });
    let last = counter.get().expect("Value::get failed");
    assert_eq!(
        last as u64,
        total(),
        "{what}: the locked counter lost increments"
    );
    elapsed
}

/// The replace runs, each variant taking its turn within a run.
#[derive(Default)]
struct Replace {
    all_s: Vec<f64>,
    all_faulting_s: Vec<f64>,
    each_s: Vec<f64>,
    each_rlock_s: Vec<f64>,
    unlocked_s: Vec<f64>,
    each_switches: Vec<f64>,
    unlocked_switches: Vec<f64>,
}

impl Replace {
    fn run(&mut self) {
        let arr = locked_array();
        self.all_s.push(gated("replace (whole loop)", |k| {
            replace_locking_all(&arr, number(k)).expect("replace_locking_all failed")
        }));
        let mixed = switches(&arr.get_obj().to_vec());
        assert_eq!(mixed, 0, "whole-loop locking left a mix");

        let arr = locked_array();
        self.all_faulting_s
            .push(gated("replace (whole loop, faults under the lock)", |k| {
                faulting_under_the_lock(&arr, number(k))
            }));
        assert_eq!(switches(&arr.get_obj().to_vec()), 0, "a mix");

        let arr = locked_array();
        self.each_s.push(gated("replace (each element)", |k| {
            replace_locking_each(&arr, number(k)).expect("replace_locking_each failed")
        }));
        self.each_switches
            .push(switches(&arr.get_obj().to_vec()) as f64);

        let arr = Array::<i32>::new(len()).expect("Array::new failed");
        self.each_rlock_s
            .push(gated("replace (each element, RLock)", |k| {
                replace_locking_each(&arr, number(k)).expect("replace_locking_each failed")
            }));

        let arr = RawArray::<i32>::new(len()).expect("RawArray::new failed");
        self.unlocked_s.push(gated("replace (no lock)", |k| {
            replace_unlocked(&arr, number(k)).expect("replace_unlocked failed")
        }));
        self.unlocked_switches.push(switches(&arr.to_vec()) as f64);
    }
}

/// `replace_locking_all` without its `populate`: each page's first write faults while
/// the lock is held.
fn faulting_under_the_lock(arr: &Array<i32>, n: i32) {
    let guard = arr.lock().expect("lock failed");
    for index in 0..guard.len() {
        guard.set(index, n).expect("set failed");
    }
}

/// A `len()`-int array guarded by a plain `Lock`, as the notebook's `RawArray` and `Lock`.
fn locked_array() -> Array<i32> {
    Synchronized::wrap(
        RawArray::new(len()).expect("RawArray::new failed"),
        Arc::new(Lock::new().expect("Lock::new failed")),
    )
}

/// The number child `k` writes: 1 to PROCS.
fn number(k: usize) -> i32 {
    k as i32 + 1
}

/// How many times the number changes from one element to the next.
fn switches(values: &[i32]) -> usize {
    values.windows(2).filter(|pair| pair[0] != pair[1]).count()
}

/// Milliseconds for one process to write `len()` ints into a shared array, and for a
/// `memset` of a private buffer of the same size: the best of `fill_runs()` each.
fn limit() -> (f64, f64) {
    let shared = RawArray::<i32>::new(len()).expect("RawArray::new failed");
    let mut private = vec![0i32; len()];
    let (mut best_replace, mut best_fill) = (f64::INFINITY, f64::INFINITY);
    for run in 0..fill_runs() {
        let n = black_box(run as i32 + 1);
        let t0 = Instant::now();
        replace_unlocked(black_box(&shared), n).expect("replace_unlocked failed");
        best_replace = best_replace.min(t0.elapsed().as_secs_f64() * 1e3);
        assert_eq!(shared.get(len() - 1), Ok(n));

        let t0 = Instant::now();
        black_box(&mut private).fill(n);
        best_fill = best_fill.min(t0.elapsed().as_secs_f64() * 1e3);
        assert_eq!(black_box(&private)[len() - 1], n);
    }
    (best_replace, best_fill)
}

/// Milliseconds for a child to write `len()` ints into a shared array the parent has
/// already written (so its pages exist), the first time and the second: the first time,
/// every page faults once to enter the child's page tables. Medians of `fill_runs()`.
fn first_touch() -> (f64, f64) {
    let (mut first, mut again) = (Vec::new(), Vec::new());
    for _ in 0..fill_runs() {
        let shared = RawArray::<i32>::new(len()).expect("RawArray::new failed");
        replace_unlocked(&shared, 1).expect("replace_unlocked failed");
        let times = RawArray::<u64>::new(2).expect("RawArray::new failed");
        let mut child = mpkit::fork_child(|| {
            for (pass, n) in [2, 3].into_iter().enumerate() {
                let t0 = Instant::now();
                replace_unlocked(black_box(&shared), n).expect("replace_unlocked failed");
                let nanos = t0.elapsed().as_nanos() as u64;
                times.set(pass, nanos).expect("pass < 2");
            }
        })
        .expect("mpkit::fork_child failed");
        match child
            .wait_deadline(Instant::now() + JOIN_DEADLINE)
            .expect("Child::wait_deadline failed")
        {
            Some(status) if status.success() => {}
            other => panic!("first touch: the child ended with {other:?}"),
        }
        assert_eq!(shared.get(len() - 1), Ok(3));
        let ms = |pass| times.get(pass).expect("pass < 2") as f64 * 1e-6;
        first.push(ms(0));
        again.push(ms(1));
    }
    (median(&first), median(&again))
}

/// How many pages a `len()`-int array spans.
fn pages() -> usize {
    // Safety: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    (len() * size_of::<i32>()).div_ceil(page)
}

fn gigabytes_per_second(ms_per_array: f64) -> f64 {
    (len() * size_of::<i32>()) as f64 / (ms_per_array * 1e-3) / 1e9
}

/// Forks PROCS children that each reach a start gate (an `Event`) and then run
/// `body(k)`; opens the gate once all have reached it, and returns the seconds from the
/// opening until the last child finished `body`. (The time until the last join, which
/// adds the children's exits, goes to `EXITS`.)
fn gated(what: &str, body: impl Fn(usize)) -> f64 {
    let gate = Event::new().expect("Event::new failed");
    let ready = RawValue::new(0u32).expect("RawValue::new failed");
    // CLOCK_MONOTONIC is system-wide: the children's offsets from the copied `epoch`
    // compare with the parent's.
    let epoch = Instant::now();
    let done = RawArray::<u64>::new(PROCS).expect("RawArray::new failed");
    let mut children: Vec<_> = (0..PROCS)
        .map(|k| {
            mpkit::fork_child(|| {
                ready.update(|n| n + 1);
                let open = gate.wait(Some(GATE_DEADLINE)).expect("Event::wait failed");
                assert!(open, "the start gate did not open within {GATE_DEADLINE:?}");
                body(k);
                let now = epoch.elapsed().as_nanos() as u64;
                done.set(k, now).expect("k < PROCS");
            })
            .expect("mpkit::fork_child failed")
        })
        .collect();
    let deadline = Instant::now() + GATE_DEADLINE;
    while ready.get() < PROCS as u32 {
        // Dropping `children` on the panic kills and reaps them.
        assert!(
            Instant::now() < deadline,
            "{what}: the children did not reach the start gate within {GATE_DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
    let t0 = Instant::now();
    let opened = epoch.elapsed().as_nanos() as u64;
    gate.set();
    let end = t0 + JOIN_DEADLINE;
    for child in &mut children {
        match child
            .wait_deadline(end)
            .expect("Child::wait_deadline failed")
        {
            Some(status) if status.success() => {}
            Some(status) => panic!("{what}: child {} ended with {status}", child.pid()),
            None => panic!(
                "{what}: child {} still running {JOIN_DEADLINE:?} after the start",
                child.pid()
            ),
        }
    }
    let joined = t0.elapsed().as_secs_f64();
    let last = done.iter().max().expect("PROCS > 0");
    let done = last.saturating_sub(opened) as f64 * 1e-9;
    EXITS.with_borrow_mut(|exits| exits.push(joined - done));
    done
}

thread_local! {
    /// For each gated run, the seconds from the last child's end of work to its join.
    static EXITS: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    quantile(&sorted, 0.5)
}

/// CPython's figures (medians), read from `shared_memory.py`'s JSON line.
struct Python {
    implementation: String,
    counter_locked_s: f64,
    counter_unlocked_s: f64,
    counter_unlocked_final: f64,
    replace_all_s: f64,
    replace_each_s: f64,
    replace_unlocked_s: f64,
    replace_each_switches: f64,
    replace_unlocked_switches: f64,
}

/// Runs `benches/shared_memory.py` with `python3` and reads its JSON line; `Err` (with
/// the reason) only when `python3` cannot be found. Any other failure panics.
fn run_python() -> Result<Python, String> {
    let args: Vec<String> = [
        ("--procs", PROCS.to_string()),
        ("--increments", increments().to_string()),
        ("--counter-runs", py_counter_runs().to_string()),
        ("--len", len().to_string()),
        ("--replace-runs", py_replace_runs().to_string()),
    ]
    .into_iter()
    .flat_map(|(flag, value)| [flag.to_owned(), value])
    .collect();
    let line = &common::run_python("shared_memory.py", &args, PYTHON_DEADLINE)?;
    let number = |key: &str| {
        json_number(line, key)
            .unwrap_or_else(|| panic!("no number {key:?} in shared_memory.py's output: {line}"))
    };
    Ok(Python {
        implementation: json_string(line, "implementation")
            .unwrap_or_else(|| "CPython multiprocessing (fork)".to_owned()),
        counter_locked_s: number("counter_locked_s_median"),
        counter_unlocked_s: number("counter_unlocked_s_median"),
        counter_unlocked_final: number("counter_unlocked_final_median"),
        replace_all_s: number("replace_all_s_median"),
        replace_each_s: number("replace_each_s_median"),
        replace_unlocked_s: number("replace_unlocked_s_median"),
        replace_each_switches: number("replace_each_switches_median"),
        replace_unlocked_switches: number("replace_unlocked_switches_median"),
    })
}
