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
//!    per task (`fork_child` + wait) instead, and a raw socketpair ping-pong between
//!    two processes that sleep in `read`. Target: at least 10x faster than CPython.
//! 2. **map**: `map(noop, 0..10 000)` with the default chunk size, on a pool of 2:
//!    tasks per second, best of 5. Target: at least 2x CPython's.
//! 3. **heavy(1000)** in a pool (`apply`): ours (a running power, one multiplication by
//!    a small number per term), CPython's as the notebook writes it (`x**y` afresh), and
//!    CPython's with the running power too, to tell the algorithm from the language.
//! 4. **Start-up and shutdown** of a pool of 4: `Pool::new(4)`, the first `apply`,
//!    `close` + `join`; another pool's `terminate`. Medians of 5.
//! 5. **Sweeps** of `map(noop, 0..10 000)`, best of 5: over the number of workers (1 to
//!    the number of cores, at least 4) with the default chunks, and over the chunk size
//!    (1 to 1 024) on a pool with a worker per core (at least 2).
//!
//! A quick pass (`WORKBOOK_BENCH_QUICK=1`, `cargo xtask bench --quick`) does a tenth of
//! the trips and tasks, fewer runs, and writes under `target/`.
//!
//! The binary is `harness = false`, so it runs on one thread and forking from it is
//! safe (checked before the first fork). Figures go to `book/figures/ch07_pool.json`.
//! Other load on the machine lands on them: run it twice before trusting a "not met".

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use ch07_pool_solution::{heavy, Pool};
use common::{
    assert_single_threaded, json_number, json_string, number, scaled, time_text, Better, Figures,
    Role, Row, Series, Target,
};

const PYTHON_DEADLINE: Duration = Duration::from_secs(600);
/// The chunk sizes of the chunk sweep.
const CHUNKS: [usize; 6] = [1, 4, 16, 64, 256, 1024];

/// Unmeasured round trips before the measured ones.
fn warmup_trips() -> usize {
    scaled(200, 20)
}

/// Measured round trips.
fn trips() -> usize {
    scaled(2_000, 200)
}

/// Processes forked and waited for, one per task.
fn forks() -> usize {
    scaled(200, 20)
}

/// Tasks of one `map`.
fn tasks() -> u64 {
    scaled(10_000, 1_000)
}

/// Runs of what is taken as the best or the median of several.
fn runs() -> usize {
    scaled(5, 2)
}

/// Runs of `heavy(1000)`.
fn heavy_runs() -> usize {
    scaled(3, 1)
}

/// The pool sizes of the worker sweep: 1 to the number of cores, at least 4.
fn sweep_workers(cores: usize) -> Vec<usize> {
    (1..=cores.max(4)).collect()
}

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
    for x in 0..warmup_trips() as u64 {
        pool.apply_async(noop, x).unwrap().get(None).unwrap();
    }
    let mut trips: Vec<f64> = (0..trips() as u64)
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

/// Seconds per round trip of 8 bytes over a raw socketpair to a forked echo process,
/// unpinned like the pool's workers, median. Both sides sleep in `read` between
/// trips; the pool looks a few times before it sleeps, so it may well be faster.
fn socketpair_trip() -> f64 {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    use std::os::fd::AsFd;
    let (here, there) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .expect("socketpair");
    let total = warmup_trips() + trips();
    let read_8 = |fd: std::os::fd::BorrowedFd<'_>, buf: &mut [u8; 8]| {
        let mut got = 0;
        while got < buf.len() {
            let n = nix::unistd::read(fd, &mut buf[got..]).expect("read");
            assert!(n > 0, "the echo process's end closed");
            got += n;
        }
    };
    let mut echo = mpkit::fork_child(|| {
        let mut buf = [0u8; 8];
        for _ in 0..total {
            read_8(there.as_fd(), &mut buf);
            mpkit::write_all(there.as_fd(), &buf).expect("write");
        }
    })
    .expect("fork");
    let mut buf = [0u8; 8];
    let mut trip = || {
        mpkit::write_all(here.as_fd(), b"12345678").expect("write");
        read_8(here.as_fd(), &mut buf);
    };
    for _ in 0..warmup_trips() {
        trip();
    }
    let mut times: Vec<f64> = (0..trips())
        .map(|_| {
            let start = Instant::now();
            trip();
            start.elapsed().as_secs_f64()
        })
        .collect();
    assert!(echo.wait().expect("wait").success());
    median(&mut times)
}

/// Seconds to fork a child that does nothing and wait for it, median.
fn process_per_task() -> f64 {
    let mut times: Vec<f64> = (0..forks())
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

/// Tasks per second of `map` on a pool of `workers` with chunks of `chunksize` (`None`:
/// the default), best of [`runs`].
fn map_rate(workers: usize, chunksize: Option<usize>) -> f64 {
    let pool = Pool::new(workers).expect("a pool");
    let best = (0..runs())
        .map(|_| {
            let start = Instant::now();
            let got = pool.map(noop, 0..tasks(), chunksize).expect("map");
            let took = start.elapsed().as_secs_f64();
            assert_eq!(got.len() as u64, tasks());
            took
        })
        .fold(f64::INFINITY, f64::min);
    tasks() as f64 / best
}

/// Seconds of `heavy(1000)` in a pool, median of [`heavy_runs`].
fn heavy_time() -> f64 {
    let pool = Pool::new(2).expect("a pool");
    let mut times: Vec<f64> = (0..heavy_runs())
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
    for _ in 0..runs() {
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
    /// Tasks per second of the worker sweep, one per pool size.
    sweep_workers: Vec<f64>,
    /// Tasks per second of the chunk sweep, one per chunk size.
    sweep_chunks: Vec<f64>,
}

fn list(values: &[usize]) -> String {
    values
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn run_python(workers: &[usize], chunk_pool: usize) -> Result<Python, String> {
    let args: Vec<String> = [
        ("--trips", trips().to_string()),
        ("--tasks", tasks().to_string()),
        ("--runs", runs().to_string()),
        ("--sweep-workers", list(workers)),
        ("--sweep-chunks", list(&CHUNKS)),
        ("--chunk-pool", chunk_pool.to_string()),
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
        sweep_workers: workers
            .iter()
            .map(|n| number(&format!("sweep_workers_{n}_per_s")))
            .collect(),
        sweep_chunks: CHUNKS
            .iter()
            .map(|c| number(&format!("sweep_chunk_{c}_per_s")))
            .collect(),
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
    let socketpair = socketpair_trip();
    let rate = map_rate(2, None);
    let heavy_s = heavy_time();
    let (start, first, close, terminate) = life();
    let workers = sweep_workers(cores);
    let chunk_pool = cores.max(2);
    let by_workers: Vec<f64> = workers.iter().map(|&n| map_rate(n, None)).collect();
    let by_chunks: Vec<f64> = CHUNKS
        .iter()
        .map(|&c| map_rate(chunk_pool, Some(c)))
        .collect();
    let python = run_python(&workers, chunk_pool).expect("python3 is needed for the comparison");

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
        "one process per task instead (fork + wait): {}; raw socketpair round trip: {}",
        time_text(fork),
        time_text(socketpair)
    );
    println!(
        "map of {} trivial tasks: {:.0} tasks/s vs {:.0} ({:.1}x, {})",
        tasks(),
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
        .add(
            "roundtrip_socketpair_us",
            socketpair * 1e6,
            "µs",
            time_text(socketpair),
        )
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

    println!("map of {} trivial tasks, tasks/s by workers:", tasks());
    for (i, n) in workers.iter().enumerate() {
        let (ours, cpython) = (by_workers[i], python.sweep_workers[i]);
        println!("  {n} workers: {ours:.0} vs {cpython:.0}");
        figures
            .add(
                &format!("sweep_workers_{n}_per_s"),
                ours,
                "tasks/s",
                per_s(ours),
            )
            .add(
                &format!("sweep_workers_{n}_cpython_per_s"),
                cpython,
                "tasks/s",
                per_s(cpython),
            );
    }
    println!("tasks/s by chunk size, {chunk_pool} workers:");
    for (i, c) in CHUNKS.iter().enumerate() {
        let (ours, cpython) = (by_chunks[i], python.sweep_chunks[i]);
        println!("  chunks of {c}: {ours:.0} vs {cpython:.0}");
        figures
            .add(
                &format!("sweep_chunk_{c}_per_s"),
                ours,
                "tasks/s",
                per_s(ours),
            )
            .add(
                &format!("sweep_chunk_{c}_cpython_per_s"),
                cpython,
                "tasks/s",
                per_s(cpython),
            );
    }

    let lower = |what: &str, ours: &str, cpython: &str| {
        Row::new(what, Better::Lower, ours).cpython(cpython)
    };
    figures
        .row(
            lower(
                "apply_async + get round trip",
                "roundtrip_us",
                "roundtrip_cpython_us",
            )
            .peer(
                "raw socketpair, asleep between trips",
                "roundtrip_socketpair_us",
            )
            .peer("fork + wait per task", "fork_per_task_us")
            .target(Target::faster_than_cpython(10.0)),
        )
        .row(
            Row::new(
                format!("map of {} trivial tasks, 2 workers", tasks()),
                Better::Higher,
                "map_tasks_per_s",
            )
            .cpython("map_tasks_per_s_cpython")
            .target(Target::faster_than_cpython(2.0)),
        )
        .row(
            // CPython's running-power variant is no Rust peer: the chapter's page
            // quotes it beside the notebook's version.
            lower("heavy(1000)", "heavy_1000_ms", "heavy_1000_cpython_ms"),
        )
        .row(lower("Pool(4) start-up", "start_ms", "start_cpython_ms"))
        .row(lower(
            "Pool(4) first result",
            "first_result_ms",
            "first_result_cpython_ms",
        ))
        .row(lower(
            "Pool(4) close + join",
            "close_join_ms",
            "close_join_cpython_ms",
        ))
        .row(lower(
            "Pool(4) terminate + join",
            "terminate_ms",
            "terminate_cpython_ms",
        ));

    let some = |values: &[f64]| values.iter().map(|&v| Some(v)).collect::<Vec<_>>();
    let as_x = |values: &[usize]| values.iter().map(|&v| v as f64).collect::<Vec<_>>();
    figures
        .series(
            Series::new(
                "pool_map_workers",
                &format!("map of {} trivial tasks, default chunks", tasks()),
                "workers",
                "tasks/s",
                &as_x(&workers),
            )
            .line("chapter 7 Pool", Role::Ours, &some(&by_workers))
            .line("CPython", Role::CPython, &some(&python.sweep_workers)),
        )
        .series(
            Series::new(
                "pool_map_chunks",
                &format!("map of {} trivial tasks, {chunk_pool} workers", tasks()),
                "chunk size",
                "tasks/s",
                &as_x(&CHUNKS),
            )
            .line("chapter 7 Pool", Role::Ours, &some(&by_chunks))
            .line("CPython", Role::CPython, &some(&python.sweep_chunks)),
        );
    figures.write();
}
