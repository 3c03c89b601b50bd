//! Chapter 7's pool next to CPython's `multiprocessing.Pool`.
//!
//! Run it (release build) from the workspace root:
//!
//! ```text
//! cargo bench --bench ch07_pool
//! ```
//!
//! In one run, with `ch07_pool_solution`, and `benches/pool.py` for CPython's side:
//!
//! 1. **Round trip**: `apply_async(noop, x)` then `get`, one at a time, on a pool of 2;
//!    200 warm-up trips, then the median of 2 000. Beside it, the cost of one process
//!    per task (`fork_child` + wait) instead. Target: at least 10x faster than CPython.
//! 2. **map**: `map(noop, 0..10 000)` with the default chunk size, on a pool of 2:
//!    tasks per second, best of 5. Target: at least 2x CPython's.
//! 3. **heavy(1000)** in a pool (`apply`): ours (a running power, one multiplication by
//!    a small number per term), CPython's as the notebook writes it (`x**y` afresh), and
//!    CPython's with the running power too, to tell the algorithm from the language.
//! 4. **Start-up and shutdown** of a pool of 4: `Pool::new(4)`, the first `apply`,
//!    `close` + `join`; another pool's `terminate`. Medians of 5.
//!
//! The binary is `harness = false`, so it runs on one thread and forking from it is
//! safe (checked before the first fork). Figures go to `book/figures/ch07_pool.json`.
//! Other load on the machine lands on them: run it twice before trusting a "not met".

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use ch07_pool_solution::{heavy, Pool};
use common::{assert_single_threaded, json_number, json_string, number, time_text, Figures};

const WARMUP_TRIPS: usize = 200;
const TRIPS: usize = 2_000;
const FORKS: usize = 200;
const TASKS: u64 = 10_000;
const RUNS: usize = 5;
const HEAVY_RUNS: usize = 3;
const PYTHON_DEADLINE: Duration = Duration::from_secs(300);

fn noop(x: u64) -> u64 {
    x
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    common::quantile(values, 0.5)
}

/// Seconds per `apply_async` + `get` round trip, median.
fn round_trip() -> f64 {
    let pool = Pool::new(2).expect("a pool");
    pool.map(noop, 0..100, None).expect("map");
    for x in 0..WARMUP_TRIPS as u64 {
        pool.apply_async(noop, x).unwrap().get(None).unwrap();
    }
    let mut trips: Vec<f64> = (0..TRIPS as u64)
        .map(|x| {
            let start = Instant::now();
            let got = pool.apply_async(noop, x).unwrap().get(None).unwrap();
            let took = start.elapsed().as_secs_f64();
            assert_eq!(black_box(got), x);
            took
        })
        .collect();
    median(&mut trips)
}

/// Seconds to fork a child that does nothing and wait for it, median.
fn process_per_task() -> f64 {
    let mut times: Vec<f64> = (0..FORKS)
        .map(|_| {
            let start = Instant::now();
            let mut child = mpkit::fork_child(|| {}).expect("fork");
            let status = child.wait().expect("wait");
            assert!(status.success());
            start.elapsed().as_secs_f64()
        })
        .collect();
    median(&mut times)
}

/// Tasks per second of `map` with the default chunks, best of RUNS.
fn map_rate() -> f64 {
    let pool = Pool::new(2).expect("a pool");
    let best = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            let got = pool.map(noop, 0..TASKS, None).expect("map");
            let took = start.elapsed().as_secs_f64();
            assert_eq!(got.len() as u64, TASKS);
            took
        })
        .fold(f64::INFINITY, f64::min);
    TASKS as f64 / best
}

/// Seconds of `heavy(1000)` in a pool, median of HEAVY_RUNS.
fn heavy_time() -> f64 {
    let pool = Pool::new(2).expect("a pool");
    let mut times: Vec<f64> = (0..HEAVY_RUNS)
        .map(|_| {
            let start = Instant::now();
            assert_eq!(pool.apply(heavy, 1000).expect("heavy"), 2993);
            start.elapsed().as_secs_f64()
        })
        .collect();
    median(&mut times)
}

/// Medians, in seconds: (start-up, first result, close + join, terminate).
fn life() -> (f64, f64, f64, f64) {
    let (mut starts, mut firsts, mut closes, mut terminates) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let start = Instant::now();
        let pool = Pool::new(4).expect("a pool");
        starts.push(start.elapsed().as_secs_f64());
        let start = Instant::now();
        pool.apply(noop, 1).unwrap();
        firsts.push(start.elapsed().as_secs_f64());
        let start = Instant::now();
        pool.close();
        pool.join().unwrap();
        closes.push(start.elapsed().as_secs_f64());
        let pool = Pool::new(4).expect("a pool");
        pool.apply(noop, 1).unwrap();
        let start = Instant::now();
        pool.terminate();
        pool.join().unwrap();
        terminates.push(start.elapsed().as_secs_f64());
    }
    (
        median(&mut starts),
        median(&mut firsts),
        median(&mut closes),
        median(&mut terminates),
    )
}

struct Python {
    implementation: String,
    round_trip_s: f64,
    map_rate: f64,
    heavy_s: f64,
    heavy_running_s: f64,
    start_s: f64,
    first_s: f64,
    close_s: f64,
    terminate_s: f64,
}

fn run_python() -> Result<Python, String> {
    let args: Vec<String> = [
        ("--trips", TRIPS.to_string()),
        ("--tasks", TASKS.to_string()),
        ("--runs", RUNS.to_string()),
    ]
    .into_iter()
    .flat_map(|(flag, value)| [flag.to_owned(), value])
    .collect();
    let line = &common::run_python("pool.py", &args, PYTHON_DEADLINE)?;
    let number = |key: &str| {
        json_number(line, key)
            .unwrap_or_else(|| panic!("no number {key:?} in pool.py's output: {line}"))
    };
    Ok(Python {
        implementation: json_string(line, "implementation")
            .unwrap_or_else(|| "CPython multiprocessing (fork)".to_owned()),
        round_trip_s: number("roundtrip_s_median"),
        map_rate: number("map_tasks_per_s"),
        heavy_s: number("heavy_1000_s"),
        heavy_running_s: number("heavy_1000_running_s"),
        start_s: number("start_s_median"),
        first_s: number("first_result_s_median"),
        close_s: number("close_join_s_median"),
        terminate_s: number("terminate_s_median"),
    })
}

fn ratio(x: f64) -> String {
    format!("{}×", number(x, 2))
}

fn main() {
    assert_single_threaded();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let trip = round_trip();
    let fork = process_per_task();
    let rate = map_rate();
    let heavy_s = heavy_time();
    let (start, first, close, terminate) = life();
    let python = run_python().expect("python3 is needed for the comparison");

    println!();
    println!(
        "ch07_pool_solution against {}; cores: {cores}",
        python.implementation
    );
    let verdict = |speedup: f64, target: f64| {
        if speedup >= target {
            format!(">={target}x met")
        } else {
            format!(">={target}x NOT MET")
        }
    };
    let trip_speedup = python.round_trip_s / trip;
    let map_speedup = rate / python.map_rate;
    println!(
        "apply_async + get round trip: {} vs {} ({:.1}x, {})",
        time_text(trip),
        time_text(python.round_trip_s),
        trip_speedup,
        verdict(trip_speedup, 10.0)
    );
    println!(
        "one process per task instead (fork + wait): {}",
        time_text(fork)
    );
    println!(
        "map of {TASKS} trivial tasks: {:.0} tasks/s vs {:.0} ({:.1}x, {})",
        rate,
        python.map_rate,
        map_speedup,
        verdict(map_speedup, 2.0)
    );
    println!(
        "heavy(1000) in a pool: {} vs {} (notebook's x**y) and {} (running power)",
        time_text(heavy_s),
        time_text(python.heavy_s),
        time_text(python.heavy_running_s)
    );
    println!(
        "Pool(4): start {} vs {}; first result {} vs {}; close + join {} vs {}; terminate {} vs {}",
        time_text(start),
        time_text(python.start_s),
        time_text(first),
        time_text(python.first_s),
        time_text(close),
        time_text(python.close_s),
        time_text(terminate),
        time_text(python.terminate_s)
    );

    let per_s = |x: f64| format!("{} tasks/s", number(x, 2));
    let mut figures = Figures::new("ch07_pool");
    figures
        .add("roundtrip_us", trip * 1e6, "µs", time_text(trip))
        .add(
            "roundtrip_cpython_us",
            python.round_trip_s * 1e6,
            "µs",
            time_text(python.round_trip_s),
        )
        .add("roundtrip_speedup", trip_speedup, "x", ratio(trip_speedup))
        .add("fork_per_task_us", fork * 1e6, "µs", time_text(fork))
        .add("map_tasks_per_s", rate, "tasks/s", per_s(rate))
        .add(
            "map_tasks_per_s_cpython",
            python.map_rate,
            "tasks/s",
            per_s(python.map_rate),
        )
        .add("map_speedup", map_speedup, "x", ratio(map_speedup))
        .add("heavy_1000_ms", heavy_s * 1e3, "ms", time_text(heavy_s))
        .add(
            "heavy_1000_cpython_ms",
            python.heavy_s * 1e3,
            "ms",
            time_text(python.heavy_s),
        )
        .add(
            "heavy_1000_cpython_running_ms",
            python.heavy_running_s * 1e3,
            "ms",
            time_text(python.heavy_running_s),
        )
        .add("start_ms", start * 1e3, "ms", time_text(start))
        .add(
            "start_cpython_ms",
            python.start_s * 1e3,
            "ms",
            time_text(python.start_s),
        )
        .add("first_result_ms", first * 1e3, "ms", time_text(first))
        .add(
            "first_result_cpython_ms",
            python.first_s * 1e3,
            "ms",
            time_text(python.first_s),
        )
        .add("close_join_ms", close * 1e3, "ms", time_text(close))
        .add(
            "close_join_cpython_ms",
            python.close_s * 1e3,
            "ms",
            time_text(python.close_s),
        )
        .add("terminate_ms", terminate * 1e3, "ms", time_text(terminate))
        .add(
            "terminate_cpython_ms",
            python.terminate_s * 1e3,
            "ms",
            time_text(python.terminate_s),
        );
    figures.write();
}
