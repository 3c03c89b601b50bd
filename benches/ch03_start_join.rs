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
//! 3. **CPython**: `benches/start_join.py`, run with `python3`, which times
//!    `ctx.Process(target=noop)` `start()` + `join(5)` with the `fork` context the same
//!    way and prints its figures as one JSON line. Without `python3` on the `PATH` the
//!    comparison is skipped with a message.
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
    assert_single_threaded, json_number, json_string, number, quantile, time_text, Figures,
};

const WARMUP: usize = 5;
const RUNS: usize = 50;
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
    assert_single_threaded();

    let mut rows = measure_in_turns(&[
        (
            "mpkit::fork_child + wait_timeout (baseline)",
            fork_child_wait,
        ),
        ("ch03_lifecycle_solution::Process", process_start_join),
    ]);
    let python = run_python();
    match python {
        Ok(summary) => rows.push(summary),
        Err(ref why) => println!("CPython comparison skipped: {why}"),
    }
    print_table(&rows);
    write_figures(&rows);
}

/// The figures the book quotes: the three medians and two ratios.
fn write_figures(rows: &[Summary]) {
    let median = |prefix: &str| {
        rows.iter()
            .find(|row| row.name.starts_with(prefix))
            .map(|row| row.median)
    };
    let (Some(bare), Some(ours)) = (median("mpkit::fork_child"), median("ch03")) else {
        panic!("the Rust rows are always measured");
    };
    let mut figures = Figures::new("ch03_lifecycle");
    let micros = |value: f64| time_text(value * 1e-6);
    figures
        .add("start_join_us", ours, "us", micros(ours))
        .add("bare_fork_wait_us", bare, "us", micros(bare))
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

/// Runs every case WARMUP rounds unmeasured, then RUNS rounds, the cases taking turns
/// within each round, and summarises each case's RUNS.
fn measure_in_turns(cases: &[Case]) -> Vec<Summary> {
    for _ in 0..WARMUP {
        for (_, once) in cases {
            once();
        }
    }
    let mut micros = vec![Vec::with_capacity(RUNS); cases.len()];
    for _ in 0..RUNS {
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

/// Runs `benches/start_join.py` with `python3` and reads its JSON line; `Err` (with the
/// reason) only when `python3` cannot be found. Any other failure panics.
fn run_python() -> Result<Summary, String> {
    let args = [
        "--warmup".to_owned(),
        WARMUP.to_string(),
        "--runs".to_owned(),
        RUNS.to_string(),
    ];
    let line = &common::run_python("start_join.py", &args, PYTHON_DEADLINE)?;
    let number = |key: &str| {
        json_number(line, key)
            .unwrap_or_else(|| panic!("no number {key:?} in start_join.py's output: {line}"))
    };
    Ok(Summary {
        name: json_string(line, "implementation")
            .unwrap_or_else(|| "CPython multiprocessing (fork)".to_owned()),
        median: number("median_us"),
        p10: number("p10_us"),
        p90: number("p90_us"),
        min: number("min_us"),
        max: number("max_us"),
    })
}

fn print_table(rows: &[Summary]) {
    let reference = rows
        .iter()
        .find(|row| row.name.starts_with("ch03"))
        .map_or(f64::NAN, |row| row.median);
    println!();
    println!(
        "start + join of a child that does nothing: {WARMUP} warm-up + {RUNS} measured runs, \
         microseconds"
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
