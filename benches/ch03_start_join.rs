//! Start + join latency of chapter 3's `Process`, next to CPython's `multiprocessing`.
//!
//! Run it (release build) from the workspace root:
//!
//! ```text
//! cargo bench --bench ch03_start_join
//! ```
//!
//! What it measures, each time as 5 warm-up rounds then 50 measured ones, in this one
//! run on this one machine (the two Rust rows take turns, round by round, so a burst of
//! load from elsewhere on the machine lands on both rather than on one of them):
//!
//! 1. **Baseline**: `mpkit::fork_child(|| {})` then `Child::wait_timeout(5 s)`: a bare
//!    fork, a pidfd, `_exit(0)` and the reaping, with none of the chapter's layers.
//! 2. **Chapter 3**: `ch03_lifecycle_solution::Process::new(|| {})` (built outside the
//!    clock), then `start()` + `join_timeout(5 s)`: the reference solution, with its
//!    process record, its `catch_unwind` for Python's exit codes and its checks.
//! 3. **procspawn** (a Rust peer): `procspawn::spawn((), noop)` + `join()`, which
//!    re-executes this binary and hands it the call over an ipc-channel (the `spawn`
//!    start method, where chapter 3 forks). `join` has no deadline of its own that does
//!    not poll, so `alarm(2)` bounds it: a stuck child kills the bench.
//! 4. **CPython**: `benches/start_join.py`, run with `python3`, which times
//!    `ctx.Process(target=noop)` `start()` + `join(5)` with the `fork` context the same
//!    way and prints its figures as one JSON line. Without `python3` on the `PATH` the
//!    comparison is skipped with a message.
//!
//! Then how the cost grows with the work: for 1 to 64 children, all started, then all
//! joined, median of 9 runs (in milliseconds for the whole batch), for chapter 3, the
//! bare fork and CPython. Targets: at least 10x faster than CPython, at most 1.25x the
//! bare fork. A quick pass (`cargo xtask bench --quick`) does 1 warm-up and 5 measured
//! rounds, and the sweep once.
//!
//! Every wait has a deadline: a child still running after 5 s (or the Python script after
//! 2 min) fails the bench loudly, and every child exits with code 0 or the bench fails.
//! The table gives median, p10, p90, min and max in microseconds (quantiles interpolate
//! linearly between ranks, on both sides) and each median divided by chapter 3's.
//!
//! It writes the medians and the ratios to `book/figures/ch03_lifecycle.json`, which
//! the book quotes (`{{#figure ch03_lifecycle.start_join_us}}`).
//!
//! The binary is `harness = false`, so it runs on one thread and forking from it is safe;
//! it checks `/proc/self/status` before it forks.

mod common;

use std::time::{Duration, Instant};

use ch03_lifecycle_solution::Process;
use common::{
    assert_single_threaded, json_number, json_string, number, quantile, scaled, time_text, Better,
    Figures, Role, Row, Series, Target,
};

fn warmup() -> usize {
    scaled(5, 1)
}
fn runs() -> usize {
    scaled(50, 5)
}
/// Children per batch in the sweep, and the batches' runs.
const SWEEP: [usize; 7] = [1, 2, 4, 8, 16, 32, 64];
fn sweep_runs() -> usize {
    scaled(9, 1)
}
/// Deadline of each wait for a child.
const JOIN_DEADLINE: Duration = Duration::from_secs(5);
/// Deadline of the whole Python script (55 start + join pairs and the interpreter).
const PYTHON_DEADLINE: Duration = Duration::from_secs(120);

/// One thing to time: its name in the table, and one timed start + join.
type Case = (&'static str, fn() -> Duration);

/// The figures of one implementation, in microseconds.
struct Summary {
    name: String,
    median: f64,
    p10: f64,
    p90: f64,
    min: f64,
    max: f64,
}

fn main() {
    // A procspawn child is this binary again: `init` runs its call and exits.
    procspawn::init();
    assert_single_threaded();

    let mut rows = measure_in_turns(&[
        (
            "mpkit::fork_child + wait_timeout (baseline)",
            fork_child_wait,
        ),
        ("ch03_lifecycle_solution::Process", process_start_join),
        ("procspawn::spawn + join (re-exec)", procspawn_join),
    ]);
    assert_single_threaded();
    let sweep = sweep();
    let python = run_python();
    let python_sweep = match python {
        Ok((summary, sweep)) => {
            rows.push(summary);
            Some(sweep)
        }
        Err(ref why) => {
            println!("CPython comparison skipped: {why}");
            None
        }
    };
    print_table(&rows);
    print_sweep(&sweep, python_sweep.as_deref());
    write_figures(&rows, &sweep, python_sweep.as_deref());
}

/// Milliseconds per batch of the sweep (the median of its runs), for each batch size
/// of SWEEP: `(bare fork, chapter 3)`.
fn sweep() -> Vec<(f64, f64)> {
    SWEEP
        .iter()
        .map(|&n| {
            let (mut bare, mut ours) = (Vec::new(), Vec::new());
            for _ in 0..sweep_runs() {
                bare.push(fork_child_batch(n).as_secs_f64() * 1e3);
                ours.push(process_batch(n).as_secs_f64() * 1e3);
            }
            (median(bare), median(ours))
        })
        .collect()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    quantile(&values, 0.5)
}

/// `n` bare children started, then all waited for.
fn fork_child_batch(n: usize) -> Duration {
    let t0 = Instant::now();
    let mut children: Vec<_> = (0..n)
        .map(|_| mpkit::fork_child(|| {}).expect("mpkit::fork_child failed"))
        .collect();
    let deadline = t0 + JOIN_DEADLINE;
    for child in &mut children {
        match child.wait_deadline(deadline).expect("wait_deadline failed") {
            Some(status) if status.success() => {}
            // Dropping `children` kills and reaps the rest.
            other => panic!("a fork_child child of the sweep ended with {other:?}"),
        }
    }
    t0.elapsed()
}

/// `n` chapter 3 processes started, then all joined.
fn process_batch(n: usize) -> Duration {
    let mut processes: Vec<Process> = (0..n).map(|_| Process::new(|| {})).collect();
    let t0 = Instant::now();
    for process in &mut processes {
        process.start().expect("Process::start failed");
    }
    for process in &mut processes {
        let code = process
            .join_timeout(JOIN_DEADLINE)
            .expect("Process::join_timeout failed");
        // Dropping `processes` on the panic terminates and reaps the rest.
        assert_eq!(code, Some(0), "a Process of the sweep did not exit with 0");
    }
    t0.elapsed()
}

/// One `procspawn::spawn` + `join`, all of it timed; `alarm(2)` is its deadline.
fn procspawn_join() -> Duration {
    fn noop(_: ()) {}
    let t0 = Instant::now();
    let handle = procspawn::spawn((), noop);
    // Safety: alarm has no preconditions; SIGALRM's default action ends the bench, the
    // loud failure a deadline should be.
    unsafe { libc::alarm(JOIN_DEADLINE.as_secs() as libc::c_uint) };
    let result = handle.join();
    // Safety: as above; 0 cancels the alarm.
    unsafe { libc::alarm(0) };
    let elapsed = t0.elapsed();
    result.expect("procspawn's child failed");
    elapsed
}

fn print_sweep(sweep: &[(f64, f64)], python: Option<&[f64]>) {
    println!();
    println!(
        "n children started, then joined: median of {} runs, milliseconds per batch",
        sweep_runs()
    );
    println!(
        "{:>4} {:>12} {:>12} {:>12}",
        "n", "bare fork", "ch03", "CPython"
    );
    for (i, (&n, (bare, ours))) in SWEEP.iter().zip(sweep).enumerate() {
        let theirs = python.map_or("skipped".to_owned(), |p| format!("{:.2}", p[i]));
        println!("{n:>4} {bare:>12.2} {ours:>12.2} {theirs:>12}");
    }
}

/// The figures the book quotes: the medians and two ratios, the row of the
/// "How fast is it?" table with its targets, and the sweep.
fn write_figures(rows: &[Summary], sweep: &[(f64, f64)], python_sweep: Option<&[f64]>) {
    let median = |prefix: &str| {
        rows.iter()
            .find(|row| row.name.starts_with(prefix))
            .map(|row| row.median)
    };
    let (Some(bare), Some(ours), Some(procspawn)) = (
        median("mpkit::fork_child"),
        median("ch03"),
        median("procspawn"),
    ) else {
        panic!("the Rust rows are always measured");
    };
    let mut figures = Figures::new("ch03_lifecycle");
    let micros = |value: f64| time_text(value * 1e-6);
    figures
        .add("start_join_us", ours, "us", micros(ours))
        .add("bare_fork_wait_us", bare, "us", micros(bare))
        .add("procspawn_us", procspawn, "us", micros(procspawn))
        .add(
            "start_join_vs_bare_fork",
            ours / bare,
            "x",
            format!("{}×", number(ours / bare, 2)),
        );
    match median("CPython") {
        Some(python) => {
            figures
                .add("cpython_start_join_us", python, "us", micros(python))
                .add(
                    "speedup_vs_cpython",
                    python / ours,
                    "x",
                    format!("{}×", number(python / ours, 2)),
                );
        }
        None => println!("figures written without CPython's (it was not measured)"),
    }
    figures.row(
        Row::new("start + join of one child", Better::Lower, "start_join_us")
            .cpython("cpython_start_join_us")
            .limit("bare fork + wait", "bare_fork_wait_us")
            .peer("procspawn", "procspawn_us")
            .target(Target::faster_than_cpython(10.0))
            .target(Target::within_limit(1.25)),
    );
    let x: Vec<f64> = SWEEP.iter().map(|&n| n as f64).collect();
    let column = |pick: fn(&(f64, f64)) -> f64| -> Vec<Option<f64>> {
        sweep.iter().map(|pair| Some(pick(pair))).collect()
    };
    let mut series = Series::new(
        "start_join_children",
        "Start n children, then join them all",
        "children",
        "ms",
        &x,
    )
    .line("chapter 3 Process", Role::Ours, &column(|p| p.1))
    .line("bare fork + wait", Role::Limit, &column(|p| p.0));
    if let Some(python) = python_sweep {
        let values: Vec<Option<f64>> = python.iter().map(|&v| Some(v)).collect();
        series = series.line("CPython", Role::CPython, &values);
    }
    figures.series(series);
    figures.write();
}

/// One `Process::new` + `start` + `join_timeout`; only `start` and the join are timed.
fn process_start_join() -> Duration {
    let mut process = Process::new(|| {});
    let t0 = Instant::now();
    process.start().expect("Process::start failed");
    let code = process
        .join_timeout(JOIN_DEADLINE)
        .expect("Process::join_timeout failed");
    let elapsed = t0.elapsed();
    match code {
        Some(0) => elapsed,
        Some(code) => panic!("the child of Process ended with exit code {code}, not 0"),
        // Dropping `process` now terminates, then kills, and reaps the child.
        None => panic!("the child of Process was still running after {JOIN_DEADLINE:?}"),
    }
}

/// One bare `mpkit::fork_child` + `wait_timeout`, all of it timed.
fn fork_child_wait() -> Duration {
    let t0 = Instant::now();
    let mut child = mpkit::fork_child(|| {}).expect("mpkit::fork_child failed");
    let status = child
        .wait_timeout(JOIN_DEADLINE)
        .expect("Child::wait_timeout failed");
    let elapsed = t0.elapsed();
    match status {
        Some(status) if status.success() => elapsed,
        Some(status) => panic!("the fork_child child ended with {status}, not exit code 0"),
        // Dropping `child` now kills and reaps it.
        None => panic!("the fork_child child was still running after {JOIN_DEADLINE:?}"),
    }
}

/// Runs every case `warmup()` rounds unmeasured, then `runs()` rounds, the cases taking
/// turns within each round, and summarises each case's runs.
fn measure_in_turns(cases: &[Case]) -> Vec<Summary> {
    for _ in 0..warmup() {
        for (_, once) in cases {
            once();
        }
    }
    let mut micros = vec![Vec::with_capacity(runs()); cases.len()];
    for _ in 0..runs() {
        for ((_, once), samples) in cases.iter().zip(&mut micros) {
            samples.push(once().as_secs_f64() * 1e6);
        }
    }
    cases
        .iter()
        .zip(micros)
        .map(|((name, _), mut samples)| {
            samples.sort_by(f64::total_cmp);
            Summary {
                name: (*name).to_owned(),
                median: quantile(&samples, 0.5),
                p10: quantile(&samples, 0.1),
                p90: quantile(&samples, 0.9),
                min: samples[0],
                max: samples[samples.len() - 1],
            }
        })
        .collect()
}

/// Runs `benches/start_join.py` with `python3` and reads its JSON line: the summary,
/// and the sweep's milliseconds per batch. `Err` (with the reason) only when `python3`
/// cannot be found. Any other failure panics.
fn run_python() -> Result<(Summary, Vec<f64>), String> {
    let sizes: Vec<String> = SWEEP.iter().map(usize::to_string).collect();
    let args = [
        "--warmup".to_owned(),
        warmup().to_string(),
        "--runs".to_owned(),
        runs().to_string(),
        "--sweep".to_owned(),
        sizes.join(","),
        "--sweep-runs".to_owned(),
        sweep_runs().to_string(),
    ];
    let line = &common::run_python("start_join.py", &args, PYTHON_DEADLINE)?;
    let number = |key: &str| {
        json_number(line, key)
            .unwrap_or_else(|| panic!("no number {key:?} in start_join.py's output: {line}"))
    };
    let summary = Summary {
        name: json_string(line, "implementation")
            .unwrap_or_else(|| "CPython multiprocessing (fork)".to_owned()),
        median: number("median_us"),
        p10: number("p10_us"),
        p90: number("p90_us"),
        min: number("min_us"),
        max: number("max_us"),
    };
    let sweep = SWEEP
        .iter()
        .map(|n| number(&format!("sweep_{n}_ms")))
        .collect();
    Ok((summary, sweep))
}

fn print_table(rows: &[Summary]) {
    let reference = rows
        .iter()
        .find(|row| row.name.starts_with("ch03"))
        .map_or(f64::NAN, |row| row.median);
    println!();
    println!(
        "start + join of a child that does nothing: {} warm-up + {} measured runs, \
         microseconds",
        warmup(),
        runs()
    );
    println!(
        "{:<46} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11}",
        "implementation", "median", "p10", "p90", "min", "max", "vs ch03"
    );
    for row in rows {
        println!(
            "{:<46} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>10.2}x",
            row.name,
            row.median,
            row.p10,
            row.p90,
            row.min,
            row.max,
            row.median / reference
        );
    }
    println!("(vs ch03 = median / median of ch03_lifecycle_solution::Process)");
}
