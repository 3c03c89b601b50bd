//! Chapter 7, Pool: workers, asynchronous results, timeouts, and workers that die.
//!
//! `cargo test --test ch07_pool` grades chapters/ch07_pool; add `--features solutions`
//! to run the same tests against the reference solution. Test names start with the
//! exercise id: `cargo test --test ch07_pool ex5`.
//!
//! Nothing here waits on luck. A task that must be running while the test does
//! something blocks on a pipe (a "gate") the test opens, and tells the test it
//! started by writing its pid to another pipe; parallelism is proven by every task
//! having started before any is let go. A pid the test signals is first checked to be
//! a live child of the test's process.

use std::cell::{Cell as StdCell, RefCell};
use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use mpkit::testkit::{isolated, procfs, proptest_config, reap};
use mpkit::{fork_child, ExitStatus};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use workbook::ch07_pool::{
    current_process, default_chunksize, heavy, log_to_fd, next_child_identity, serve, Pipe,
    PipeError, Pool, PoolError, Reply, State, Task, TaskError, WorkerSetup,
    CHUNKS_AHEAD_PER_WORKER,
};

/// How long a test waits for something that must happen soon (a task to start, a
/// line to arrive); well inside the exercise's deadline.
const SOON: Duration = Duration::from_secs(3);
/// How long a blocked call is watched asleep: it must not wake once meanwhile.
const BLOCKED_FOR: Duration = Duration::from_millis(200);

// ---- Tasks (plain functions: only `fn` pointers cross to a worker) ----------------------

fn square(x: u64) -> u64 {
    x * x
}

fn my_name(_: ()) -> String {
    current_process().name
}

fn boom(x: u32) -> u32 {
    panic!("boom {x}")
}

fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn kill_myself(signal: i32) -> u32 {
    // Safety: raise sends a signal to this very process.
    unsafe { libc::raise(signal) };
    unreachable!("signal {signal} did not end the worker")
}

fn abort_myself(_: ()) -> u32 {
    std::process::abort()
}

fn exit_myself(code: i32) -> u32 {
    mpkit::exit(code)
}

/// Tells the test it started (its pid, 4 bytes, on `started`), then waits for one
/// byte on `go`; returns its pid. `fds` = (started's write end, go's read end).
fn gated(fds: (i32, i32)) -> i32 {
    let pid = std::process::id() as i32;
    write_fd(fds.0, &pid.to_le_bytes());
    let mut byte = [0u8; 1];
    loop {
        // Safety: reads into a live one-byte buffer from an fd this worker inherited.
        let n = unsafe { libc::read(fds.1, byte.as_mut_ptr().cast(), 1) };
        if n == 1 {
            return pid;
        }
        assert!(
            n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted,
            "the gate closed"
        );
    }
}

/// Writes `x` as a line on `fd`, then returns `(x, pid)`: who ran what, and how often.
fn record(args: (i32, u64)) -> (u64, i32) {
    write_fd(args.0, format!("{}\n", args.1).as_bytes());
    (args.1, std::process::id() as i32)
}

/// A value whose `Serialize` always fails.
#[derive(Debug, Deserialize)]
struct Unencodable;

impl Serialize for Unencodable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "this value refuses to be encoded",
        ))
    }
}

fn unencodable(_: ()) -> Unencodable {
    Unencodable
}

// ---- Helpers ---------------------------------------------------------------------------

fn write_fd(fd: i32, bytes: &[u8]) {
    // Safety: the fd is open in this process for the whole call.
    mpkit::write_all(unsafe { BorrowedFd::borrow_raw(fd) }, bytes).expect("write");
}

fn pipe() -> (OwnedFd, OwnedFd) {
    nix::unistd::pipe().expect("pipe")
}

/// Reads exactly `n` bytes from `fd`, waiting at most [`SOON`] in all; panics with
/// `what` when they do not come.
fn read_exactly(fd: BorrowedFd<'_>, n: usize, what: &str) -> Vec<u8> {
    let deadline = Instant::now() + SOON;
    let mut bytes = Vec::new();
    while bytes.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "{what}: only {} of {n} bytes after {SOON:?}",
            bytes.len()
        );
        if !mpkit::poll_readable(fd, Some(left)).expect("poll") {
            continue;
        }
        let mut buf = vec![0u8; n - bytes.len()];
        // Safety: reads into a live buffer of its own length.
        let got = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        assert!(got != 0, "{what}: end of file after {} bytes", bytes.len());
        if got > 0 {
            bytes.extend_from_slice(&buf[..got as usize]);
        }
    }
    bytes
}

/// Two pipes made before the pool (so that its workers inherit them): tasks running
/// [`gated`] announce themselves on one and wait on the other.
struct Gates {
    started: (OwnedFd, OwnedFd),
    go: (OwnedFd, OwnedFd),
}

impl Gates {
    fn new() -> Gates {
        Gates {
            started: pipe(),
            go: pipe(),
        }
    }

    /// The argument of [`gated`].
    fn args(&self) -> (i32, i32) {
        (self.started.1.as_raw_fd(), self.go.0.as_raw_fd())
    }

    /// The pids of the next `n` tasks to start; fails when they do not all start
    /// within [`SOON`] (they cannot, if they do not run at the same time).
    fn started(&self, n: usize) -> Vec<i32> {
        read_exactly(self.started.0.as_fd(), 4 * n, "gated tasks starting")
            .chunks(4)
            .map(|b| i32::from_le_bytes(b.try_into().unwrap()))
            .collect()
    }

    /// Lets `n` gated tasks go.
    fn release(&self, n: usize) {
        write_fd(self.go.1.as_raw_fd(), &vec![b'!'; n]);
    }

    /// The raw end a helper process writes to, to let tasks go.
    fn go_fd(&self) -> i32 {
        self.go.1.as_raw_fd()
    }
}

/// True when `pid` is a live (not zombie) child of this process.
fn is_live_child(pid: i32) -> bool {
    pid > 0
        && procfs::stat(pid)
            .is_some_and(|stat| stat.ppid == std::process::id() as i32 && stat.state != 'Z')
}

/// True when no process `pid` exists any more (not even a zombie).
fn is_gone(pid: i32) -> bool {
    procfs::stat(pid).is_none()
}

/// Sends `signal` to a worker, after checking that `pid` is a live child of this
/// process (a wrong pid from the pool, 0 or -1 included, must never reach kill).
fn signal_worker(pid: i32, signal: i32) {
    assert!(
        is_live_child(pid),
        "pid {pid} is not a live child of this process"
    );
    // Safety: kill takes a pid and a signal; the pid is a live child of ours.
    let rc = unsafe { libc::kill(pid, signal) };
    assert_eq!(rc, 0, "kill({pid}, {signal})");
}

/// Kills a worker with SIGKILL (after checking, as [`signal_worker`] does) and waits
/// until it is dead: a zombie the pool has not reaped yet.
fn kill_worker(pid: i32) {
    signal_worker(pid, libc::SIGKILL);
    wait_dead(pid);
}

/// Waits until child `pid` is dead: a zombie nobody has reaped yet.
fn wait_dead(pid: i32) {
    let deadline = Instant::now() + SOON;
    while procfs::state(pid).is_some_and(|state| state != 'Z') {
        assert!(
            Instant::now() < deadline,
            "pid {pid} still alive after {SOON:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Wake-ups a sleeping wait may have in [`BLOCKED_FOR`] for events of its own: another
/// task's result, a worker's end. A loop of sleeps of 10 ms has 20.
const WAKE_UPS_ALLOWED: u64 = 3;

/// [`procfs::sleeps_through`] with this file's window, wake-ups and deadline.
fn sleeps_through(pid: i32, tid: i32) -> Result<(), String> {
    procfs::sleeps_through(pid, tid, BLOCKED_FOR, WAKE_UPS_ALLOWED, SOON)
}

/// The threads of this process.
fn my_threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("a Threads: line")
}

/// Forks a helper that waits `after`, then lets `n` gated tasks go; returns it.
fn release_later(go_fd: i32, n: usize, after: Duration) -> mpkit::Child {
    fork_child(move || {
        std::thread::sleep(after);
        write_fd(go_fd, &vec![b'!'; n]);
    })
    .expect("fork a helper")
}

/// Runs `call`, which blocks until `n` gated tasks go, and checks that it sleeps
/// through ([`sleeps_through`]): a helper process watches this thread, and lets the
/// tasks go once it has seen it asleep for [`BLOCKED_FOR`].
fn blocks_without_spinning<T>(gates: &Gates, n: usize, call: impl FnOnce() -> T) -> T {
    let pid = std::process::id() as i32;
    // Safety: gettid takes no arguments.
    let tid = unsafe { libc::gettid() };
    let (verdict_r, verdict_w) = pipe();
    let (go_fd, verdict_fd) = (gates.go_fd(), verdict_w.as_raw_fd());
    let mut helper = fork_child(move || {
        let verdict = sleeps_through(pid, tid).err().unwrap_or_default();
        write_fd(verdict_fd, verdict.as_bytes());
        write_fd(go_fd, &vec![b'!'; n]);
    })
    .expect("fork a helper");
    drop(verdict_w);
    let start = Instant::now();
    let value = call();
    let waited = start.elapsed();
    assert_eq!(reap(&mut helper), ExitStatus::Exited(0));
    let mut verdict = String::new();
    std::io::Read::read_to_string(&mut std::fs::File::from(verdict_r), &mut verdict).unwrap();
    assert!(
        verdict.is_empty(),
        "the caller did not sleep while it waited: {verdict}"
    );
    assert!(
        waited >= BLOCKED_FOR,
        "returned after {waited:?}, before the tasks were let go"
    );
    value
}

fn config(cases: u32) -> proptest::test_runner::Config {
    proptest_config(cases)
}

fn pids(pool: &Pool) -> Vec<i32> {
    pool.workers().iter().map(|w| w.pid).collect()
}

fn names(pool: &Pool) -> Vec<String> {
    pool.workers().into_iter().map(|w| w.name).collect()
}

/// The worker number of `ForkPoolWorker-N`.
fn worker_number(name: &str) -> u32 {
    name.strip_prefix("ForkPoolWorker-")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a pool worker's name: {name:?}"))
}

/// How many children this process has started so far (chapter 1's counter).
fn children_started() -> u32 {
    let identity = next_child_identity();
    // Taking a number to read the counter uses one: the next child gets one more.
    *identity.last().expect("a child identity has a number")
}

// ---- Exercise 1: heavy -----------------------------------------------------------------

#[test]
fn ex1_heavy_gives_the_notebooks_numbers() {
    assert_eq!(heavy(10), 7);
    assert_eq!(heavy(100), 195);
    assert_eq!(heavy(1000), 2993);
}

#[test]
fn ex1_heavy_of_small_n_by_hand() {
    // 1; then 1 + (1 + 2) = 4; then 4 + (1 + 3 + 9) = 17.
    assert_eq!(heavy(2), 0);
    assert_eq!(heavy(3), 0);
    assert_eq!(heavy(4), 1);
}

#[test]
fn ex1_heavy_of_less_than_two_has_no_logarithm() {
    for n in [0, 1] {
        let payload = std::panic::catch_unwind(|| heavy(n))
            .expect_err("heavy(n) for n < 2 sums nothing, and must panic");
        let message = workbook::ch07_pool::task::panic_message(&*payload);
        assert!(
            message.contains("math domain error"),
            "heavy({n}) must panic with Python's \"math domain error\", not {message:?}"
        );
    }
}

/// floor(log10) of the exact sum, for sums that fit in a u128.
fn heavy_u128(n: u32) -> u32 {
    let mut sum: u128 = 0;
    for x in 0..n {
        for y in 0..x {
            sum += u128::from(x).pow(y);
        }
    }
    let mut digits = 0;
    while sum >= 10 {
        sum /= 10;
        digits += 1;
    }
    digits
}

proptest! {
    #![proptest_config(config(8))]
    #[test]
    fn ex1_heavy_is_exact_where_a_u128_can_check_it(n in 2u32..=26) {
        prop_assert_eq!(heavy(n), heavy_u128(n));
    }
}

// ---- Exercise 2: tasks -----------------------------------------------------------------

#[test]
fn ex2_a_task_runs_where_it_was_made() {
    let task = Task::new(square, &12).expect("a task");
    // The arguments travel as their postcard bytes: a varint 12 is one byte.
    assert_eq!(task.args_len(), 1);
    let text = "é".repeat(100);
    let long = Task::new(|s: String| s.len(), &text).unwrap();
    assert_eq!(long.args_len(), postcard::to_stdvec(&text).unwrap().len());
    // Safety: made by Task::new in this very process.
    let bytes = unsafe { task.run("MainProcess") }.expect("it runs");
    assert_eq!(postcard::from_bytes::<u64>(&bytes).unwrap(), 144);
    let pair = Task::new(
        |(a, b): (String, u8)| format!("{a}{b}"),
        &("x".to_owned(), 7),
    )
    .unwrap();
    // Safety: as above.
    let bytes = unsafe { pair.run("MainProcess") }.unwrap();
    assert_eq!(postcard::from_bytes::<String>(&bytes).unwrap(), "x7");
}

#[test]
fn ex2_a_task_made_after_the_fork_runs_in_the_child() {
    let outcome = isolated(|| {
        let (mut parent, mut child) = Pipe::duplex().unwrap();
        let mut worker = fork_child(move || {
            let task: Task = child.recv().expect("a task");
            // Safety: the task was made by the parent this process was forked from.
            let outcome = unsafe { task.run("the child") };
            child.send(&outcome).unwrap();
        })
        .unwrap();
        // Made after the fork: only its addresses and bytes reach the child.
        parent.send(&Task::new(square, &9).unwrap()).unwrap();
        let outcome: Result<Vec<u8>, TaskError> = parent.recv().unwrap();
        assert_eq!(reap(&mut worker), ExitStatus::Exited(0));
        outcome
    });
    assert_eq!(postcard::from_bytes::<u64>(&outcome.unwrap()).unwrap(), 81);
}

#[test]
fn ex2_a_panic_is_an_error_with_the_message_and_the_worker() {
    let task = Task::new(boom, &3).unwrap();
    // Safety: made by Task::new in this process.
    let outcome = unsafe { task.run("ForkPoolWorker-9") };
    assert_eq!(
        outcome,
        Err(TaskError::Panicked {
            worker: "ForkPoolWorker-9".into(),
            message: "boom 3".into()
        })
    );
}

#[test]
fn ex2_a_result_that_does_not_encode_is_an_error() {
    let task = Task::new(unencodable, &()).unwrap();
    // Safety: made by Task::new in this process.
    match unsafe { task.run("ForkPoolWorker-2") } {
        Err(TaskError::Encode { worker, message }) => {
            assert_eq!(worker, "ForkPoolWorker-2");
            assert!(!message.is_empty());
        }
        other => panic!("expected an Encode error, got {other:?}"),
    }
}

#[test]
fn ex2_arguments_that_do_not_encode_are_an_error_at_once() {
    fn take(_: Unencodable) -> u8 {
        0
    }
    match Task::new(take, &Unencodable) {
        Err(PoolError::Encode(why)) => assert!(!why.is_empty()),
        other => panic!("expected PoolError::Encode, got {other:?}"),
    }
}

#[test]
fn ex2_arguments_of_another_type_are_an_error_not_a_crash() {
    // A task for a String whose argument bytes are rewritten into bytes that are no
    // String (not UTF-8): the trampoline says so, and does not panic.
    let good = Task::new(|s: String| s.len(), &"ab".to_owned()).unwrap();
    let mut wire = postcard::to_stdvec(&good).unwrap();
    let args_at = wire.len() - 3;
    wire.truncate(args_at);
    wire.extend_from_slice(&[2, 0xac, 0x02]);
    let bad: Task = postcard::from_bytes(&wire).unwrap();
    // Safety: only the argument bytes changed; the addresses are Task::new's.
    match unsafe { bad.run("w") } {
        Err(TaskError::Decode(_)) => {}
        other => panic!("expected a Decode error, got {other:?}"),
    }
}

#[test]
fn ex2_an_exit_in_a_task_is_not_caught() {
    let status = isolated(|| {
        let mut child = fork_child(|| {
            let task = Task::new(exit_myself, &7).unwrap();
            // Safety: made here.
            let _ = unsafe { task.run("w") };
            mpkit::exit(1);
        })
        .unwrap();
        reap(&mut child)
    });
    assert_eq!(status, ExitStatus::Exited(7));
}

#[test]
fn given_chunks_and_star_tasks_keep_the_order() {
    let chunk = Task::chunk(square, &[1, 2, 3]).unwrap();
    // Safety: made here.
    let bytes = unsafe { chunk.run("w") }.unwrap();
    assert_eq!(postcard::from_bytes::<Vec<u64>>(&bytes).unwrap(), [1, 4, 9]);
    let star = Task::star(add, &[(1, 2), (10, -3)]).unwrap();
    // Safety: made here.
    let bytes = unsafe { star.run("w") }.unwrap();
    assert_eq!(postcard::from_bytes::<Vec<i64>>(&bytes).unwrap(), [3, 7]);
}

// ---- Exercise 3: the worker's loop ----------------------------------------------------

/// Forks a worker running `serve` with `setup`; returns the pool's end and the child.
fn start_worker(setup: WorkerSetup) -> (workbook::ch07_pool::Connection, mpkit::Child) {
    let (ours, mut theirs) = Pipe::duplex().unwrap();
    let our_fd = ours.fd().unwrap().as_raw_fd();
    let child = fork_child(move || {
        // Safety: closes the worker's copy of the pool's end, which it never uses:
        // end-of-file reaches it once the test drops its own.
        unsafe { libc::close(our_fd) };
        serve(&mut theirs, &setup)
    })
    .unwrap();
    (ours, child)
}

fn setup(maxtasks: Option<usize>) -> WorkerSetup {
    WorkerSetup {
        name: "ForkPoolWorker-42".into(),
        initializer: None,
        maxtasks,
    }
}

/// The next reply, within [`SOON`].
fn next_reply(conn: &mut workbook::ch07_pool::Connection) -> Reply {
    assert!(conn.poll(Some(SOON)).unwrap(), "no reply within {SOON:?}");
    conn.recv().expect("a reply")
}

fn value<T: serde::de::DeserializeOwned>(reply: Reply) -> T {
    match reply {
        Reply::Done(Ok(bytes)) => postcard::from_bytes(&bytes).unwrap(),
        other => panic!("expected a result, got {other:?}"),
    }
}

#[test]
fn ex3_a_worker_says_ready_then_answers_in_order_until_end_of_file() {
    let (first, values, status) = isolated(|| {
        let (mut conn, mut child) = start_worker(setup(None));
        for x in [3, 4, 5] {
            conn.send(&Task::new(square, &x).unwrap()).unwrap();
        }
        let first = next_reply(&mut conn);
        let values: Vec<u64> = (0..3).map(|_| value(next_reply(&mut conn))).collect();
        drop(conn);
        (first, values, reap(&mut child))
    });
    assert_eq!(first, Reply::Ready);
    assert_eq!(values, [9, 16, 25]);
    assert_eq!(
        status,
        ExitStatus::Exited(0),
        "a worker leaves at end-of-file"
    );
}

#[test]
fn ex3_a_task_that_fails_does_not_end_the_worker() {
    let replies = isolated(|| {
        let (mut conn, mut child) = start_worker(setup(None));
        conn.send(&Task::new(boom, &1).unwrap()).unwrap();
        conn.send(&Task::new(unencodable, &()).unwrap()).unwrap();
        conn.send(&Task::new(square, &6).unwrap()).unwrap();
        let replies: Vec<Reply> = (0..4).map(|_| next_reply(&mut conn)).collect();
        drop(conn);
        assert_eq!(reap(&mut child), ExitStatus::Exited(0));
        replies
    });
    assert_eq!(replies[0], Reply::Ready);
    assert_eq!(
        replies[1],
        Reply::Done(Err(TaskError::Panicked {
            worker: "ForkPoolWorker-42".into(),
            message: "boom 1".into()
        }))
    );
    assert!(
        matches!(&replies[2], Reply::Done(Err(TaskError::Encode { worker, .. })) if worker == "ForkPoolWorker-42"),
        "{:?}",
        replies[2]
    );
    assert_eq!(value::<u64>(replies[3].clone()), 36);
}

#[test]
fn ex3_a_worker_leaves_after_maxtasks() {
    let (values, status, more) = isolated(|| {
        let (mut conn, mut child) = start_worker(setup(Some(2)));
        for x in [1, 2, 3] {
            // The third may find the worker gone already.
            let sent = conn.send(&Task::new(square, &x).unwrap());
            assert!(x == 3 || sent.is_ok(), "{sent:?}");
        }
        assert_eq!(next_reply(&mut conn), Reply::Ready);
        let values: Vec<u64> = (0..2).map(|_| value(next_reply(&mut conn))).collect();
        // It leaves with the third task unread, without an answer.
        let status = reap(&mut child);
        let more = conn.recv::<Reply>().is_ok();
        (values, status, more)
    });
    assert_eq!(values, [1, 4]);
    assert_eq!(status, ExitStatus::Exited(0));
    assert!(!more, "a worker answered more than maxtasks tasks");
}

#[test]
fn ex3_the_initializer_runs_first_and_once() {
    let (lines, replies) = isolated(|| {
        let (log_r, log_w) = pipe();
        let log_fd = log_w.as_raw_fd();
        let mut setup = setup(None);
        setup.initializer = Some(Rc::new(move || write_fd(log_fd, b"init\n")));
        let (mut conn, mut child) = start_worker(setup);
        drop(log_w);
        conn.send(&Task::new(record, &(log_fd, 5)).unwrap())
            .unwrap();
        let replies = vec![next_reply(&mut conn), next_reply(&mut conn)];
        drop(conn);
        assert_eq!(reap(&mut child), ExitStatus::Exited(0));
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::fs::File::from(log_r), &mut text).unwrap();
        (text, replies)
    });
    assert_eq!(lines, "init\n5\n");
    assert_eq!(replies[0], Reply::Ready);
}

#[test]
fn ex3_an_initializer_that_panics_ends_the_worker_before_ready() {
    let (status, replies, log) = isolated(|| {
        let (log_r, log_w) = pipe();
        let fd = log_w.as_raw_fd();
        let mut setup = setup(None);
        setup.initializer = Some(Rc::new(move || {
            write_fd(fd, b"init\n");
            panic!("no init today")
        }));
        let (mut conn, mut child) = start_worker(setup);
        drop(log_w);
        let status = reap(&mut child);
        let mut log = String::new();
        std::io::Read::read_to_string(&mut std::fs::File::from(log_r), &mut log).unwrap();
        (status, conn.recv::<Reply>().is_ok(), log)
    });
    assert_eq!(log, "init\n", "the initializer runs first");
    assert_eq!(status, ExitStatus::Exited(101));
    assert!(
        !replies,
        "a worker whose initializer panicked said something"
    );
}

#[test]
fn ex3_an_idle_worker_waits_without_spinning() {
    let verdict = isolated(|| {
        let (mut conn, mut child) = start_worker(setup(None));
        assert_eq!(next_reply(&mut conn), Reply::Ready);
        // A worker is one thread: its thread id is its pid.
        let verdict = sleeps_through(child.pid(), child.pid());
        conn.send(&Task::new(square, &2).unwrap()).unwrap();
        assert_eq!(value::<u64>(next_reply(&mut conn)), 4);
        drop(conn);
        assert_eq!(reap(&mut child), ExitStatus::Exited(0));
        verdict
    });
    if let Err(why) = verdict {
        panic!("an idle worker did not sleep: {why}");
    }
}

// ---- Exercise 4: starting and terminating ----------------------------------------------

#[test]
fn ex4_invalid_options_are_errors_and_fork_nothing() {
    let (zero, zero_tasks, counter_before, counter_after) = isolated(|| {
        let before = children_started();
        let zero = Pool::new(0).err();
        let zero_tasks = Pool::builder()
            .processes(1)
            .maxtasksperchild(0)
            .build()
            .err();
        (zero, zero_tasks, before, children_started())
    });
    assert_eq!(zero, Some(PoolError::InvalidProcesses));
    assert_eq!(zero_tasks, Some(PoolError::InvalidMaxTasks));
    assert_eq!(
        counter_after,
        counter_before + 1,
        "an invalid pool took child numbers"
    );
}

#[test]
fn ex4_workers_are_named_after_the_process_counter() {
    let (before, names, ppids_ok) = isolated(|| {
        // As the notebook, which had started 64 processes before its pool.
        next_child_identity();
        let before = children_started();
        let pool = Pool::new(3).unwrap();
        let ok = pids(&pool).iter().all(|&pid| is_live_child(pid));
        (before, names(&pool), ok)
    });
    let expected: Vec<String> = (1..=3)
        .map(|k| format!("ForkPoolWorker-{}", before + k))
        .collect();
    assert_eq!(names, expected);
    assert!(
        ppids_ok,
        "every worker is a live child of the pool's process"
    );
}

#[test]
fn ex4_the_default_is_one_worker_per_cpu() {
    let (count, processes) = isolated(|| {
        let pool = Pool::new(None).unwrap();
        (pool.workers().len(), pool.processes())
    });
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    assert_eq!((count, processes), (cpus, cpus));
}

#[test]
fn ex4_each_worker_runs_the_initializer_under_its_own_name() {
    let (lines, names) = isolated(|| {
        let (log_r, log_w) = pipe();
        let fd = log_w.as_raw_fd();
        let pool = Pool::builder()
            .processes(3)
            .initializer(move || write_fd(fd, format!("{}\n", current_process().name).as_bytes()))
            .build()
            .unwrap();
        let text = read_exactly(
            log_r.as_fd(),
            3 * "ForkPoolWorker-N\n".len(),
            "initializers",
        );
        let mut lines: Vec<String> = String::from_utf8(text)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        lines.sort();
        let mut names = names(&pool);
        names.sort();
        (lines, names)
    });
    assert_eq!(lines, names);
}

#[test]
fn ex4_terminate_kills_and_reaps_every_worker() {
    let (gone, workers, state) = isolated(|| {
        let pool = Pool::new(2).unwrap();
        let pids = pids(&pool);
        pool.terminate();
        pool.terminate();
        (
            pids.iter().all(|&pid| is_gone(pid)),
            pool.workers().len(),
            pool.state(),
        )
    });
    assert!(gone, "a worker was left running or unreaped");
    assert_eq!(workers, 0);
    assert_eq!(state, State::Terminated);
}

#[test]
fn ex4_dropping_the_pool_kills_and_reaps_every_worker() {
    let gone = isolated(|| {
        let pool = Pool::new(3).unwrap();
        let pids = pids(&pool);
        drop(pool);
        pids.iter().all(|&pid| is_gone(pid))
    });
    assert!(gone, "a worker outlived the pool");
}

#[test]
fn ex4_a_new_pool_has_no_thread_of_its_own() {
    let (before, after) = isolated(|| {
        let before = my_threads();
        let pool = Pool::new(2).unwrap();
        let after = my_threads();
        drop(pool);
        (before, after)
    });
    assert_eq!(before, after);
}

// ---- Exercise 5: apply, apply_async, get -----------------------------------------------

/// Reads lines from `fd` until `n` have come, within [`SOON`].
fn read_lines(fd: BorrowedFd<'_>, n: usize) -> Vec<String> {
    let deadline = Instant::now() + SOON;
    let mut text = Vec::new();
    while text.iter().filter(|&&b| b == b'\n').count() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "fewer than {n} lines after {SOON:?}");
        if !mpkit::poll_readable(fd, Some(left)).expect("poll") {
            continue;
        }
        let mut buf = [0u8; 4096];
        // Safety: reads into a live buffer of its own length.
        let got = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        assert!(got > 0, "the log pipe closed");
        text.extend_from_slice(&buf[..got as usize]);
    }
    String::from_utf8(text)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The notebook's cell: four heavy tasks on a pool of four, three results, and a
/// timeout caught on the fourth, which is still running when the pool is dropped.
#[test]
fn ex5_the_notebooks_cell() {
    let (before, workers, log, lines) = isolated(|| {
        let (log_r, log_w) = pipe();
        log_to_fd(log_w.as_raw_fd(), log::LevelFilter::Info).expect("a logger");
        // The notebook had started 64 processes before its pool; this test, two.
        next_child_identity();
        let before = children_started();
        let mut lines = vec![">>> with Pool(4) as pool:".to_owned()];
        let pool = Pool::new(4).unwrap();
        let workers = names(&pool);
        let results: Vec<_> = [10, 100, 1000, 10_000]
            .into_iter()
            .map(|n| (n, pool.apply_async(heavy, n).unwrap()))
            .collect();
        for (n, result) in &results[..3] {
            lines.push(format!("heavy({n}) = {}", result.get(None).unwrap()));
        }
        let (n, last) = &results[3];
        // The notebook waits 3 s; heavy(10 000) runs for minutes, half a second shows
        // the same.
        match last.get(Some(Duration::from_millis(500))) {
            Err(PoolError::Timeout) => lines.push(format!("heavy({n}): TimeoutError caught")),
            other => panic!("heavy({n}) within half a second: {other:?}"),
        }
        let log = read_lines(log_r.as_fd(), 4);
        drop(pool);
        lines.push(format!(
            "after the with block: {}",
            last.get(None).unwrap_err()
        ));
        (before, workers, log, lines)
    });
    let numbers: Vec<u32> = workers.iter().map(|w| worker_number(w)).collect();
    assert_eq!(numbers, [before + 1, before + 2, before + 3, before + 4]);
    let normalise = |text: &str| {
        let mut text = text.to_owned();
        for (k, number) in numbers.iter().enumerate() {
            text = text.replace(
                &format!("ForkPoolWorker-{number}]"),
                &format!("ForkPoolWorker-<{}>]", k + 1),
            );
        }
        text
    };
    let mut log: Vec<String> = log.iter().map(|l| normalise(l)).collect();
    log.sort();
    let transcript = [vec![lines[0].clone()], log, lines[1..].to_vec()].concat();
    insta::assert_snapshot!(transcript.join("\n"));
}

#[test]
fn ex5_apply_and_apply_async_return_the_results() {
    let (one, many, names) = isolated(|| {
        let pool = Pool::new(2).unwrap();
        let one = pool.apply(square, 12).unwrap();
        let handles: Vec<_> = (0..20u64)
            .map(|x| pool.apply_async(square, x).unwrap())
            .collect();
        let many: Vec<u64> = handles.iter().map(|h| h.get(None).unwrap()).collect();
        let workers = names(&pool);
        let ran_in = pool.apply(my_name, ()).unwrap();
        (one, many, (workers, ran_in))
    });
    assert_eq!(one, 144);
    assert_eq!(many, (0..20u64).map(|x| x * x).collect::<Vec<_>>());
    assert!(names.0.contains(&names.1), "{} is not a worker", names.1);
}

#[test]
fn ex5_tasks_run_at_the_same_time_on_different_workers() {
    let (started, results, workers) = isolated(|| {
        let gates = Gates::new();
        let pool = Pool::new(4).unwrap();
        let handles: Vec<_> = (0..4)
            .map(|_| pool.apply_async(gated, gates.args()).unwrap())
            .collect();
        // All four start before any is let go: they run at the same time.
        let started = gates.started(4);
        gates.release(4);
        let results: Vec<i32> = handles.iter().map(|h| h.get(None).unwrap()).collect();
        (started, results, pids(&pool))
    });
    let mut distinct = started.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "four tasks, four workers: {started:?}");
    let mut workers = workers;
    workers.sort();
    assert_eq!(distinct, workers);
    let mut results = results;
    results.sort();
    assert_eq!(results, workers);
}

#[test]
fn ex5_get_with_a_timeout_times_out_and_the_result_comes_later() {
    let (first, second, third, waited) = isolated(|| {
        let gates = Gates::new();
        let pool = Pool::new(1).unwrap();
        let handle = pool.apply_async(gated, gates.args()).unwrap();
        gates.started(1);
        let start = Instant::now();
        let first = handle.get(Some(Duration::from_millis(100)));
        let waited = start.elapsed();
        gates.release(1);
        let second = handle.get(None);
        let third = handle.get(Some(Duration::ZERO));
        (first, second, third, waited)
    });
    assert_eq!(first, Err(PoolError::Timeout));
    assert!(
        waited >= Duration::from_millis(100) && waited < SOON,
        "get(100 ms) returned after {waited:?}"
    );
    let pid = second.expect("the result, after the timeout");
    assert_eq!(third, Ok(pid), "a result can be got again");
}

#[test]
fn ex5_get_with_a_timeout_blocks_without_spinning() {
    let got = isolated(|| {
        let gates = Gates::new();
        let pool = Pool::new(1).unwrap();
        let handle = pool.apply_async(gated, gates.args()).unwrap();
        let pid = gates.started(1)[0];
        let got = blocks_without_spinning(&gates, 1, || handle.get(Some(SOON)).unwrap());
        got == pid
    });
    assert!(got);
}

#[test]
fn ex5_get_blocks_without_spinning_until_the_result_comes() {
    let pid = isolated(|| {
        let gates = Gates::new();
        let pool = Pool::new(1).unwrap();
        let handle = pool.apply_async(gated, gates.args()).unwrap();
        let pid = gates.started(1)[0];
        let got = blocks_without_spinning(&gates, 1, || handle.get(None).unwrap());
        assert_eq!(got, pid);
        pid
    });
    assert!(pid > 0);
}

#[test]
fn ex5_get_with_an_endless_timeout_is_no_timeout() {
    let value = isolated(|| {
        let pool = Pool::new(1).unwrap();
        let handle = pool.apply_async(square, 5).unwrap();
        handle.get(Some(Duration::MAX))
    });
    assert_eq!(value, Ok(25));
}

#[test]
fn ex5_a_panicking_task_gives_an_error_and_the_pool_goes_on() {
    let (error, after, same_workers) = isolated(|| {
        let pool = Pool::new(2).unwrap();
        let before = pids(&pool);
        let error = pool.apply(boom, 7).unwrap_err();
        let after: Vec<u64> = (0..6).map(|x| pool.apply(square, x).unwrap()).collect();
        (error, after, (before, pids(&pool), names(&pool)))
    });
    match error {
        PoolError::Task(TaskError::Panicked { worker, message }) => {
            assert_eq!(message, "boom 7");
            assert!(same_workers.2.contains(&worker), "{worker} is no worker");
        }
        other => panic!("expected a panic's error, got {other:?}"),
    }
    assert_eq!(after, [0, 1, 4, 9, 16, 25]);
    assert_eq!(same_workers.0, same_workers.1, "a panic cost a worker");
}

#[test]
fn ex5_a_result_that_does_not_encode_is_an_error_not_a_lost_worker() {
    let (error, next, same) = isolated(|| {
        let pool = Pool::new(1).unwrap();
        let before = pids(&pool);
        let error = pool.apply(unencodable, ()).unwrap_err();
        let next = pool.apply(square, 3).unwrap();
        (error, next, before == pids(&pool))
    });
    assert!(
        matches!(error, PoolError::Task(TaskError::Encode { .. })),
        "{error:?}"
    );
    assert_eq!(next, 9);
    assert!(same, "the worker was lost");
}

/// A value whose bytes are not what its own `Deserialize` reads back.
#[derive(Debug)]
struct Lopsided;

impl Serialize for Lopsided {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(255)
    }
}

impl<'de> Deserialize<'de> for Lopsided {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|_| Lopsided)
    }
}

fn lopsided(_: ()) -> Lopsided {
    Lopsided
}

#[test]
fn ex5_a_result_that_does_not_decode_is_an_error() {
    let (error, next) = isolated(|| {
        let pool = Pool::new(1).unwrap();
        let error = pool.apply(lopsided, ()).unwrap_err();
        (error, pool.apply(square, 4).unwrap())
    });
    assert!(
        matches!(error, PoolError::Task(TaskError::Decode(_))),
        "{error:?}"
    );
    assert_eq!(next, 16);
}

#[test]
fn ex5_apply_after_terminate_is_not_running() {
    let error = isolated(|| {
        let pool = Pool::new(1).unwrap();
        pool.terminate();
        pool.apply(square, 2).unwrap_err()
    });
    assert_eq!(error, PoolError::NotRunning);
}

#[test]
fn ex5_the_pool_uses_no_thread_while_it_works() {
    let threads = isolated(|| {
        let before = my_threads();
        let pool = Pool::new(2).unwrap();
        let values: Vec<u64> = (0..10).map(|x| pool.apply(square, x).unwrap()).collect();
        assert_eq!(values[9], 81);
        (before, my_threads())
    });
    assert_eq!(threads.0, threads.1);
}

proptest! {
    #![proptest_config(config(6))]
    #[test]
    fn ex5_every_result_matches_its_task(
        processes in 1usize..=4,
        xs in proptest::collection::vec(0u64..1 << 30, 0..40),
    ) {
        let got = isolated(move || {
            let pool = Pool::new(processes).unwrap();
            let handles: Vec<_> = xs.iter().map(|&x| pool.apply_async(square, x).unwrap()).collect();
            let got: Vec<u64> = handles.iter().rev().map(|h| h.get(None).unwrap()).collect();
            (xs, got)
        });
        let expected: Vec<u64> = got.0.iter().rev().map(|x| x * x).collect();
        prop_assert_eq!(got.1, expected);
    }
}

/// A gate of its own for one task: (started's write end, go's read end) of new pipes.
fn own_gate() -> Gates {
    Gates::new()
}

#[test]
fn ex5_a_task_never_waits_behind_two_others() {
    let (quick, still_gated) = isolated(|| {
        let (a_gate, b_gate) = (own_gate(), own_gate());
        let pool = Pool::new(2).unwrap();
        let a = pool.apply_async(gated, a_gate.args()).unwrap();
        let b = pool.apply_async(gated, b_gate.args()).unwrap();
        a_gate.started(1);
        b_gate.started(1);
        // Each worker runs one and holds one more; the fifth waits in the pool.
        let c = pool.apply_async(square, 3).unwrap();
        let d = pool.apply_async(square, 4).unwrap();
        let e = pool.apply_async(square, 5).unwrap();
        b_gate.release(1);
        // b's worker finishes b, then its waiting task, and takes e: e never waited
        // behind a, which is still at its gate.
        let quick = (b.get(Some(SOON)), e.get(Some(SOON)));
        let still_gated = a.get(Some(Duration::ZERO)).is_ok();
        a_gate.release(1);
        assert!(a.get(None).is_ok() && c.get(None).is_ok() && d.get(None).is_ok());
        (quick, still_gated)
    });
    assert!(quick.0.is_ok(), "{:?}", quick.0);
    assert_eq!(quick.1, Ok(25), "a task waited behind a busy worker");
    assert!(!still_gated);
}

fn length(bytes: Vec<u8>) -> usize {
    bytes.len()
}

/// A long task sent to a busy worker would fill its socket and block the pool (and
/// a worker answering with a long result would block too, each waiting for the other
/// to read). A long task waits for an idle worker instead.
#[test]
fn ex5_a_long_task_never_waits_at_a_busy_worker() {
    let (first, second) = isolated(|| {
        const LONG: usize = 1 << 20;
        let gates = Gates::new();
        let pool = Pool::new(1).unwrap();
        let first = pool.apply_async(gated, gates.args()).unwrap();
        gates.started(1);
        // Were this sent now, the pool would block here, with the gate still shut.
        let second = pool.apply_async(length, vec![1u8; LONG]).unwrap();
        gates.release(1);
        (first.get(None).is_ok(), second.get(None))
    });
    assert!(first);
    assert_eq!(second, Ok(1 << 20));
}

/// A short task waits at its busy worker, in its socket: the worker goes on to it
/// with no call into the pool, which this test never makes meanwhile.
#[test]
fn ex5_a_worker_goes_on_to_its_waiting_task_by_itself() {
    let line = isolated(|| {
        let (log_r, log_w) = pipe();
        let gates = Gates::new();
        let pool = Pool::new(1).unwrap();
        let first = pool.apply_async(gated, gates.args()).unwrap();
        let second = pool.apply_async(record, (log_w.as_raw_fd(), 8)).unwrap();
        gates.started(1);
        let mut helper = release_later(gates.go_fd(), 1, Duration::ZERO);
        let line = read_exactly(log_r.as_fd(), 2, "the waiting task's line");
        assert_eq!(reap(&mut helper), ExitStatus::Exited(0));
        assert!(first.get(None).is_ok() && second.get(None).is_ok());
        String::from_utf8(line).unwrap()
    });
    assert_eq!(line, "8\n");
}

/// Bytes that postcard writes with one copy (as `serialize_bytes`).
struct Blob(Vec<u8>);

impl Serialize for Blob {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Takes the bytes in one copy, not one `u8` at a time.
        struct Bytes;
        impl serde::de::Visitor<'_> for Bytes {
            type Value = Blob;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<Blob, E> {
                Ok(Blob(bytes.to_vec()))
            }
        }
        d.deserialize_bytes(Bytes)
    }
}

fn blob_len(blob: Blob) -> usize {
    blob.0.len()
}

/// The length of the message a task of `blob_len` on `len` bytes travels in.
fn task_message_len(len: usize) -> usize {
    let task = Task::new(blob_len, &Blob(vec![0; len])).unwrap();
    postcard::to_stdvec(&task).unwrap().len()
}

#[test]
fn ex5_a_task_too_long_for_one_message_is_an_error_at_once() {
    let (error, next, largest) = isolated(|| {
        let pool = Pool::new(1).unwrap();
        let max = workbook::ch07_pool::DEFAULT_MAX_MESSAGE;
        // The longest argument whose task fills one message exactly: it goes, one byte
        // more does not.
        // Lengths from 2 MiB to 256 MiB take a varint of the same width.
        let overhead = task_message_len(1 << 21) - (1 << 21);
        let fits = max - overhead;
        assert_eq!(task_message_len(fits), max, "the task's own bytes vary");
        let error = pool.apply_async(blob_len, Blob(vec![0; fits + 1])).err();
        let next = pool.apply(blob_len, Blob(vec![0; 1000]));
        let largest = pool.apply(blob_len, Blob(vec![0; fits])).map(|n| n == fits);
        (error, next, largest)
    });
    assert!(matches!(error, Some(PoolError::Encode(_))), "{error:?}");
    assert_eq!(next, Ok(1000));
    assert_eq!(largest, Ok(true), "a task of exactly the limit must go");
}

#[test]
fn ex5_a_copy_of_the_pool_in_a_forked_child_cannot_use_it() {
    let (in_child, after) = isolated(|| {
        let pool = Pool::new(1).unwrap();
        // Made after the pool, so that its worker does not hold the write end.
        let (answer_r, answer_w) = pipe();
        let handle = pool.apply_async(square, 6).unwrap();
        let fd = answer_w.as_raw_fd();
        let mut child = fork_child(|| {
            let answers = format!(
                "{:?} {:?}\n",
                pool.apply_async(square, 2).err(),
                handle.get(None)
            );
            write_fd(fd, answers.as_bytes());
            // Dropping the copy here must not touch the parent's workers.
            pool.terminate();
        })
        .unwrap();
        drop(answer_w);
        assert_eq!(reap(&mut child), ExitStatus::Exited(0));
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::fs::File::from(answer_r), &mut text).unwrap();
        (text, (handle.get(None), pool.apply(square, 7)))
    });
    assert_eq!(in_child, "Some(NotTheOwner) Err(NotTheOwner)\n");
    assert_eq!(after, (Ok(36), Ok(49)));
}

// ---- Exercise 6: wait, ready, successful, callbacks ------------------------------------

#[test]
fn ex6_ready_successful_and_wait_follow_the_task() {
    let answers = isolated(|| {
        let gates = Gates::new();
        let pool = Pool::new(2).unwrap();
        let handle = pool.apply_async(gated, gates.args()).unwrap();
        gates.started(1);
        let mut answers = vec![
            format!("ready: {:?}", handle.ready()),
            format!("successful: {:?}", handle.successful()),
            format!(
                "wait(50 ms): {:?}",
                handle.wait(Some(Duration::from_millis(50)))
            ),
        ];
        gates.release(1);
        answers.push(format!("wait: {:?}", handle.wait(None)));
        answers.push(format!("ready: {:?}", handle.ready()));
        answers.push(format!("successful: {:?}", handle.successful()));
        let failed = pool.apply_async(boom, 1).unwrap();
        answers.push(format!("failed wait: {:?}", failed.wait(Some(SOON))));
        answers.push(format!("failed successful: {:?}", failed.successful()));
        answers
    });
    assert_eq!(
        answers,
        [
            "ready: Ok(false)",
            "successful: Err(NotReady)",
            "wait(50 ms): Ok(false)",
            "wait: Ok(true)",
            "ready: Ok(true)",
            "successful: Ok(true)",
            "failed wait: Ok(true)",
            "failed successful: Ok(false)",
        ]
    );
}

#[test]
fn ex6_ready_reads_what_has_arrived_without_waiting() {
    let became_ready = isolated(|| {
        let (log_r, log_w) = pipe();
        let pool = Pool::new(1).unwrap();
        let handle = pool.apply_async(record, (log_w.as_raw_fd(), 1)).unwrap();
        read_exactly(log_r.as_fd(), 2, "the task's line");
        // The task has run; its answer comes soon. ready() never waits, so ask again.
        let deadline = Instant::now() + SOON;
        while !handle.ready().unwrap() {
            assert!(Instant::now() < deadline, "ready() never became true");
            std::thread::sleep(Duration::from_millis(5));
        }
        handle.get(Some(Duration::ZERO)).is_ok()
    });
    assert!(became_ready);
}

#[test]
fn ex6_wait_blocks_without_spinning() {
    let done = isolated(|| {
        let gates = Gates::new();
        let pool = Pool::new(1).unwrap();
        let handle = pool.apply_async(gated, gates.args()).unwrap();
        gates.started(1);
        blocks_without_spinning(&gates, 1, || handle.wait(None).unwrap())
    });
    assert!(done);
}

#[test]
fn ex6_callbacks_run_once_in_the_calling_thread_and_only_during_a_call() {
    let (between, after, again) = isolated(|| {
        let (log_r, log_w) = pipe();
        let seen = Rc::new(RefCell::new(Vec::<String>::new()));
        let me = std::thread::current().id();
        let pool = Pool::new(2).unwrap();
        let (ok, bad) = (seen.clone(), seen.clone());
        let handle = pool
            .apply_async(record, (log_w.as_raw_fd(), 5))
            .unwrap()
            .callback(move |(x, _)| {
                let same = std::thread::current().id() == me;
                ok.borrow_mut()
                    .push(format!("callback {x}, same thread: {same}"));
            })
            .error_callback(move |err| bad.borrow_mut().push(format!("error_callback {err}")));
        let (ok, bad) = (seen.clone(), seen.clone());
        let failing = pool
            .apply_async(boom, 4)
            .unwrap()
            .callback(move |x| ok.borrow_mut().push(format!("callback {x}")))
            .error_callback(move |err| {
                bad.borrow_mut().push(format!("error_callback {err}"));
            });
        // The task has run, and its answer is on its way: no call into the pool, so
        // no callback yet.
        read_exactly(log_r.as_fd(), 2, "the task's line");
        std::thread::sleep(Duration::from_millis(100));
        let between = seen.borrow().clone();
        handle.wait(None).unwrap();
        failing.wait(None).unwrap();
        let after = seen.borrow().clone();
        handle.get(None).unwrap();
        failing.get(None).unwrap_err();
        let again = seen.borrow().len();
        (between, after, again)
    });
    assert_eq!(
        between,
        Vec::<String>::new(),
        "a callback ran between calls"
    );
    let mut after = after;
    after.sort();
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(after[0], "callback 5, same thread: true");
    assert!(
        after[1].starts_with("error_callback the task panicked in ForkPoolWorker-")
            && after[1].ends_with(": boom 4"),
        "{}",
        after[1]
    );
    assert_eq!(again, 2, "a callback ran twice");
}

#[test]
fn ex6_a_callback_may_call_into_the_pool() {
    let got = isolated(|| {
        let pool = Rc::new(Pool::new(2).unwrap());
        let seen = Rc::new(RefCell::new(None));
        let (inner_pool, inner_seen) = (pool.clone(), seen.clone());
        let handle = pool.apply_async(square, 3).unwrap().callback(move |x| {
            *inner_seen.borrow_mut() = Some(inner_pool.apply(square, x).unwrap());
        });
        handle.wait(None).unwrap();
        let got = *seen.borrow();
        got
    });
    assert_eq!(got, Some(81));
}

#[test]
fn ex6_a_callback_on_a_final_result_runs_at_once() {
    let ran = isolated(|| {
        let pool = Pool::new(1).unwrap();
        let handle = pool.apply_async(square, 2).unwrap();
        handle.wait(None).unwrap();
        let ran = Rc::new(RefCell::new(Vec::new()));
        let log = ran.clone();
        let _handle = handle.callback(move |x| log.borrow_mut().push(x));
        let ran = ran.borrow().clone();
        ran
    });
    assert_eq!(ran, [4]);
}

#[test]
fn ex6_terminate_runs_no_callback() {
    let seen = isolated(|| {
        let gates = Gates::new();
        let pool = Pool::new(1).unwrap();
        let seen = Rc::new(RefCell::new(0));
        let (a, b) = (seen.clone(), seen.clone());
        let handle = pool
            .apply_async(gated, gates.args())
            .unwrap()
            .callback(move |_| *a.borrow_mut() += 1)
            .error_callback(move |_| *b.borrow_mut() += 1);
        gates.started(1);
        pool.terminate();
        assert_eq!(
            handle.get(None),
            Err(PoolError::Task(TaskError::Terminated))
        );
        let seen = *seen.borrow();
        seen
    });
    assert_eq!(seen, 0);
}

// ---- Exercise 7: workers that die ------------------------------------------------------

fn expect_died(error: PoolError) -> (String, i32, ExitStatus) {
    match error {
        PoolError::Task(TaskError::WorkerDied {
            worker,
            pid,
            status,
        }) => (worker, pid, status),
        other => panic!("expected WorkerDied, got {other:?}"),
    }
}

#[test]
fn ex7_a_worker_killed_mid_task_fails_that_task_and_is_replaced() {
    let (before, workers, died, killed, after, message, later) = isolated(|| {
        let gates = Gates::new();
        let pool = Pool::new(2).unwrap();
        let before = names(&pool);
        let workers = pool.workers();
        let handle = pool.apply_async(gated, gates.args()).unwrap();
        let other = pool.apply_async(gated, gates.args()).unwrap();
        let pid = gates.started(2)[0];
        assert!(pids(&pool).contains(&pid), "a task ran outside the pool");
        kill_worker(pid);
        // The other task goes on: let it finish.
        gates.release(1);
        let (first, second) = (handle.get(None), other.get(None));
        // Whichever task the killed worker held failed, the other did not.
        let (died, survived) = if first.is_err() {
            (first, second)
        } else {
            (second, first)
        };
        let error = died.unwrap_err();
        let message = error.to_string();
        let died = expect_died(error);
        assert!(survived.is_ok(), "{survived:?}");
        let later: Vec<u64> = (0..4).map(|x| pool.apply(square, x).unwrap()).collect();
        (
            before,
            workers,
            died,
            pid,
            names(&pool),
            message,
            (later, is_gone(pid)),
        )
    });
    let victim = workers
        .iter()
        .find(|w| w.pid == killed)
        .expect("the killed worker");
    assert_eq!(
        died,
        (
            victim.name.clone(),
            killed,
            ExitStatus::Signaled(libc::SIGKILL)
        )
    );
    assert!(message.contains("SIGKILL"), "{message}");
    let next = worker_number(&before[1]) + 1;
    assert!(
        after.contains(&format!("ForkPoolWorker-{next}")),
        "the replacement takes the next number: {after:?}"
    );
    assert_eq!(after.len(), 2);
    assert!(!after.contains(&victim.name));
    assert_eq!(later.0, [0, 1, 4, 9]);
    assert!(later.1, "the killed worker was not reaped");
}

#[test]
fn ex7_a_task_waiting_behind_the_dead_one_runs_elsewhere() {
    let (first, second) = isolated(|| {
        let gates = Gates::new();
        let pool = Pool::new(1).unwrap();
        let first = pool.apply_async(gated, gates.args()).unwrap();
        // Small: sent at once to the busy worker, to wait there.
        let second = pool.apply_async(square, 7).unwrap();
        let pid = gates.started(1)[0];
        kill_worker(pid);
        (first.get(None), second.get(None))
    });
    assert_eq!(
        expect_died(first.unwrap_err()).2,
        ExitStatus::Signaled(libc::SIGKILL)
    );
    assert_eq!(second, Ok(49));
}

#[test]
fn ex7_abort_a_signal_or_an_exit_in_a_task_is_a_worker_death() {
    let statuses = isolated(|| {
        let pool = Pool::new(2).unwrap();
        let mut statuses = vec![
            expect_died(pool.apply(abort_myself, ()).unwrap_err()).2,
            expect_died(pool.apply(kill_myself, libc::SIGTERM).unwrap_err()).2,
            expect_died(pool.apply(exit_myself, 3).unwrap_err()).2,
        ];
        assert_eq!(pool.apply(square, 9).unwrap(), 81);
        assert_eq!(pool.workers().len(), 2);
        statuses.sort_by_key(|s| s.exitcode());
        statuses
    });
    assert_eq!(
        statuses,
        [
            ExitStatus::Signaled(libc::SIGTERM),
            ExitStatus::Signaled(libc::SIGABRT),
            ExitStatus::Exited(3)
        ]
    );
}

#[test]
fn ex7_an_idle_worker_that_dies_fails_nothing_and_is_replaced() {
    let (values, count, gone) = isolated(|| {
        let pool = Pool::new(2).unwrap();
        let victim = pids(&pool)[0];
        kill_worker(victim);
        let handles: Vec<_> = (0..8u64)
            .map(|x| pool.apply_async(square, x).unwrap())
            .collect();
        let values: Vec<u64> = handles.iter().map(|h| h.get(None).unwrap()).collect();
        (values, pool.workers().len(), is_gone(victim))
    });
    assert_eq!(values, [0, 1, 4, 9, 16, 25, 36, 49]);
    assert_eq!(count, 2);
    assert!(gone);
}

#[test]
fn ex7_a_worker_that_ends_in_its_initializer_breaks_the_pool() {
    let (first, second, workers, inits) = isolated(|| {
        let (log_r, log_w) = pipe();
        let fd = log_w.as_raw_fd();
        let pool = Pool::builder()
            .processes(2)
            .initializer(move || {
                write_fd(fd, b"init\n");
                panic!("the initializer fails");
            })
            .build()
            .unwrap();
        // Both end before the pool looks: it finds both ended in one turn of its loop.
        for pid in pids(&pool) {
            wait_dead(pid);
        }
        let first = pool.apply(square, 1).unwrap_err();
        let second = pool.apply_async(square, 2).err();
        let workers = pool.workers().len();
        drop(pool);
        drop(log_w);
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::fs::File::from(log_r), &mut text).unwrap();
        (first, second, workers, text.lines().count())
    });
    match &first {
        PoolError::Task(TaskError::InitializerFailed { worker, status }) => {
            assert!(worker.starts_with("ForkPoolWorker-"));
            assert_eq!(*status, ExitStatus::Exited(101));
        }
        other => panic!("expected InitializerFailed, got {other:?}"),
    }
    assert_eq!(second, Some(first), "a broken pool takes no task");
    assert_eq!(workers, 0, "a broken pool keeps no worker");
    assert!(
        inits <= 2,
        "a broken pool kept forking: {inits} initializers ran"
    );
}

#[test]
fn ex7_a_worker_killed_after_its_initializer_does_not_break_the_pool() {
    let (died, after) = isolated(|| {
        let gates = Gates::new();
        let pool = Pool::builder()
            .processes(1)
            .initializer(|| {})
            .build()
            .unwrap();
        let handle = pool.apply_async(gated, gates.args()).unwrap();
        let pid = gates.started(1)[0];
        kill_worker(pid);
        (handle.get(None).unwrap_err(), pool.apply(square, 5))
    });
    expect_died(died);
    assert_eq!(after, Ok(25));
}

proptest! {
    #![proptest_config(config(6))]
    #[test]
    fn ex7_with_maxtasksperchild_every_task_runs_exactly_once(
        processes in 1usize..=3,
        maxtasks in 1usize..=3,
        n in 0u64..24,
    ) {
        let (results, lines) = isolated(move || {
            let (log_r, log_w) = pipe();
            let pool = Pool::builder()
                .processes(processes)
                .maxtasksperchild(maxtasks)
                .build()
                .unwrap();
            let handles: Vec<_> = (0..n)
                .map(|x| pool.apply_async(record, (log_w.as_raw_fd(), x)).unwrap())
                .collect();
            let results: Vec<(u64, i32)> = handles.iter().map(|h| h.get(None).unwrap()).collect();
            drop(pool);
            drop(log_w);
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::fs::File::from(log_r), &mut text).unwrap();
            let mut lines: Vec<u64> = text.lines().map(|l| l.parse().unwrap()).collect();
            lines.sort();
            (results, lines)
        });
        let inputs: Vec<u64> = (0..n).collect();
        prop_assert_eq!(&lines, &inputs, "each task ran exactly once");
        prop_assert_eq!(results.iter().map(|r| r.0).collect::<Vec<_>>(), inputs);
        let mut per_worker: BTreeMap<i32, usize> = BTreeMap::new();
        for (_, pid) in &results {
            *per_worker.entry(*pid).or_default() += 1;
        }
        prop_assert!(per_worker.values().all(|&k| k <= maxtasks), "{:?}", per_worker);
    }
}

#[test]
fn ex7_tasks_given_back_keep_their_place() {
    let (died, lines) = isolated(|| {
        let (log_r, log_w) = pipe();
        let fd = log_w.as_raw_fd();
        let gates = Gates::new();
        let pool = Pool::new(1).unwrap();
        let first = pool.apply_async(gated, gates.args()).unwrap();
        // The worker holds the second; the others wait in the pool's queue.
        let rest: Vec<_> = (1..=4u64)
            .map(|x| pool.apply_async(record, (fd, x)).unwrap())
            .collect();
        let pid = gates.started(1)[0];
        kill_worker(pid);
        let died = first.get(None).unwrap_err();
        for handle in &rest {
            handle.get(None).unwrap();
        }
        drop(pool);
        drop(log_w);
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::fs::File::from(log_r), &mut text).unwrap();
        (died, text)
    });
    expect_died(died);
    assert_eq!(
        lines, "1\n2\n3\n4\n",
        "the tasks given back ran out of order"
    );
}

// ---- Exercise 8: map -------------------------------------------------------------------

fn pid_of(_: u32) -> i32 {
    std::process::id() as i32
}

#[test]
fn ex8_the_default_chunksize_is_pythons() {
    // Python: chunksize, extra = divmod(len, 4 * processes); chunksize += bool(extra).
    let cases = [
        ((10_000, 2), 1250),
        ((10_000, 3), 834),
        ((17, 4), 2),
        ((16, 4), 1),
        ((33, 2), 5),
        ((1, 8), 1),
        ((0, 4), 1),
    ];
    for ((len, processes), expected) in cases {
        assert_eq!(
            default_chunksize(len, processes),
            expected,
            "default_chunksize({len}, {processes})"
        );
    }
}

proptest! {
    #![proptest_config(config(8))]
    #[test]
    fn ex8_map_is_the_sequential_map(
        processes in 1usize..=4,
        chunksize in proptest::option::of(1usize..=7),
        xs in proptest::collection::vec(0u64..1 << 31, 0..60),
    ) {
        let (xs, got, star) = isolated(move || {
            let pool = Pool::new(processes).unwrap();
            let got = pool.map(square, xs.clone(), chunksize).unwrap();
            let pairs: Vec<(i64, i64)> = xs.iter().map(|&x| (x as i64, -1)).collect();
            let star = pool.starmap(add, pairs, chunksize).unwrap();
            (xs, got, star)
        });
        let expected: Vec<u64> = xs.iter().map(|x| x * x).collect();
        prop_assert_eq!(got, expected);
        let expected: Vec<i64> = xs.iter().map(|&x| x as i64 - 1).collect();
        prop_assert_eq!(star, expected);
    }
}

#[test]
fn ex8_a_chunk_is_one_task_on_one_worker() {
    let pids = isolated(|| {
        // One task per worker: each chunk runs on a worker of its own.
        let pool = Pool::builder()
            .processes(2)
            .maxtasksperchild(1)
            .build()
            .unwrap();
        pool.map(pid_of, 0..12u32, Some(3)).unwrap()
    });
    let chunks: Vec<&[i32]> = pids.chunks(3).collect();
    for chunk in &chunks {
        assert!(
            chunk.iter().all(|&p| p == chunk[0]),
            "a chunk was split: {pids:?}"
        );
    }
    let mut firsts: Vec<i32> = chunks.iter().map(|c| c[0]).collect();
    firsts.sort();
    firsts.dedup();
    assert_eq!(
        firsts.len(),
        4,
        "four chunks, four tasks, four workers: {pids:?}"
    );
}

#[test]
fn ex8_a_chunk_size_of_zero_is_an_error() {
    let errors = isolated(|| {
        let pool = Pool::new(1).unwrap();
        vec![
            pool.map(square, [1u64], Some(0)).err(),
            pool.map_async(square, [1u64], Some(0)).err(),
            pool.starmap(add, [(1i64, 2i64)], Some(0)).err(),
        ]
    });
    assert_eq!(errors, vec![Some(PoolError::InvalidChunksize); 3]);
}

#[test]
fn ex8_a_failing_item_fails_the_map() {
    let (error, after) = isolated(|| {
        let pool = Pool::new(2).unwrap();
        let error = pool.map(boom, 0..10u32, Some(2)).unwrap_err();
        (error, pool.map(square, 0..3u64, None).unwrap())
    });
    assert!(
        matches!(&error, PoolError::Task(TaskError::Panicked { message, .. }) if message.starts_with("boom ")),
        "{error:?}"
    );
    assert_eq!(after, [0, 1, 4]);
}

#[test]
fn ex8_an_empty_map_is_final_at_once() {
    let (values, ran) = isolated(|| {
        let pool = Pool::new(1).unwrap();
        let ran = Rc::new(RefCell::new(None));
        let log = ran.clone();
        let handle = pool
            .map_async(square, Vec::<u64>::new(), None)
            .unwrap()
            .callback(move |v| *log.borrow_mut() = Some(v.len()));
        let ran = *ran.borrow();
        (handle.get(Some(Duration::ZERO)).unwrap(), ran)
    });
    assert_eq!(values, Vec::<u64>::new());
    assert_eq!(ran, Some(0));
}

#[test]
fn ex8_map_async_gives_the_whole_list_to_its_callback() {
    let seen = isolated(|| {
        let pool = Pool::new(2).unwrap();
        let seen = Rc::new(RefCell::new(Vec::new()));
        let log = seen.clone();
        let handle = pool
            .map_async(square, 1..=5u64, Some(2))
            .unwrap()
            .callback(move |v| log.borrow_mut().push(v));
        handle.wait(None).unwrap();
        let seen = seen.borrow().clone();
        seen
    });
    assert_eq!(seen, [vec![1, 4, 9, 16, 25]]);
}

/// An item whose encoding fails for 13.
#[derive(Debug)]
struct Item {
    fd: i32,
    x: u64,
}

impl Serialize for Item {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.x == 13 {
            return Err(serde::ser::Error::custom("13 does not travel"));
        }
        (self.fd, self.x).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (fd, x) = <(i32, u64)>::deserialize(d)?;
        Ok(Item { fd, x })
    }
}

fn record_item(item: Item) -> u64 {
    record((item.fd, item.x)).0
}

#[test]
fn ex8_an_item_that_does_not_encode_submits_nothing() {
    let (error, lines) = isolated(|| {
        let (log_r, log_w) = pipe();
        let fd = log_w.as_raw_fd();
        let pool = Pool::new(1).unwrap();
        let items = (10..=13).map(|x| Item { fd, x });
        let error = pool.map_async(record_item, items, Some(1)).err();
        // One worker runs tasks in order: once this one has run, any task submitted
        // before it has run too.
        pool.apply(record, (fd, 99)).unwrap();
        drop(pool);
        drop(log_w);
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::fs::File::from(log_r), &mut text).unwrap();
        (error, text)
    });
    assert!(matches!(error, Some(PoolError::Encode(_))), "{error:?}");
    assert_eq!(
        lines, "99\n",
        "items were submitted before the bad one was found"
    );
}

// ---- Exercise 9: imap ------------------------------------------------------------------

proptest! {
    #![proptest_config(config(8))]
    #[test]
    fn ex9_imap_is_in_order_and_imap_unordered_the_same_multiset(
        processes in 1usize..=4,
        chunksize in proptest::option::of(1usize..=5),
        xs in proptest::collection::vec(0u64..1 << 31, 0..50),
    ) {
        let (xs, ordered, unordered) = isolated(move || {
            let pool = Pool::new(processes).unwrap();
            let ordered: Vec<u64> = pool
                .imap(square, xs.clone(), chunksize)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let unordered: Vec<u64> = pool
                .imap_unordered(square, xs.clone(), chunksize)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            (xs, ordered, unordered)
        });
        let expected: Vec<u64> = xs.iter().map(|x| x * x).collect();
        prop_assert_eq!(&ordered, &expected);
        let (mut unordered, mut expected) = (unordered, expected);
        unordered.sort();
        expected.sort();
        prop_assert_eq!(unordered, expected);
    }
}

#[test]
fn ex9_imap_reads_its_input_lazily() {
    let (first, at_start, pulled) = isolated(|| {
        let pool = Pool::new(3).unwrap();
        let pulled = Rc::new(StdCell::new(0u64));
        let count = pulled.clone();
        let endless = (0u64..).inspect(move |_| count.set(count.get() + 1));
        let mut results = pool.imap(square, endless, Some(3)).unwrap();
        let at_start = pulled.get();
        let first: Vec<u64> = results.by_ref().take(5).map(Result::unwrap).collect();
        (first, at_start, pulled.get())
    });
    assert_eq!(first, [0, 1, 4, 9, 16]);
    let ahead = (CHUNKS_AHEAD_PER_WORKER * 3) as u64;
    assert_eq!(
        at_start,
        3 * ahead,
        "imap submits {ahead} chunks of 3 at once, and no more"
    );
    // Five results took two chunks: at most `ahead` more are submitted.
    assert!(
        pulled <= 3 * (2 + ahead),
        "{pulled} items taken from the input for 5 results"
    );
}

fn gated_if_zero(args: ((i32, i32), u64)) -> u64 {
    if args.1 == 0 {
        gated(args.0);
    }
    args.1
}

#[test]
fn ex9_imap_unordered_yields_what_finishes_first() {
    let order = isolated(|| {
        let gates = Gates::new();
        let pool = Pool::new(2).unwrap();
        let items = [(gates.args(), 0), (gates.args(), 1)];
        let mut results = pool.imap_unordered(gated_if_zero, items, None).unwrap();
        // Item 0 waits at its gate: item 1 must come first.
        let first = results.next();
        gates.started(1);
        gates.release(1);
        let rest: Vec<_> = results.collect();
        (first, rest)
    });
    assert_eq!(order.0, Some(Ok(1)));
    assert_eq!(order.1, [Ok(0)]);
}

#[test]
fn ex9_imap_waits_for_the_next_in_order_without_spinning() {
    let got = isolated(|| {
        let gates = Gates::new();
        let pool = Pool::new(2).unwrap();
        let items = [(gates.args(), 0), (gates.args(), 1)];
        let mut results = pool.imap(gated_if_zero, items, None).unwrap();
        gates.started(1);
        let first = blocks_without_spinning(&gates, 1, || results.next());
        (first, results.next(), results.next())
    });
    assert_eq!(got, (Some(Ok(0)), Some(Ok(1)), None));
}

fn boom_if_odd(x: u32) -> u32 {
    if x % 2 == 1 {
        panic!("odd {x}");
    }
    x
}

#[test]
fn ex9_a_failed_chunk_is_an_error_and_the_iteration_goes_on() {
    let (ones, twos) = isolated(|| {
        let pool = Pool::new(2).unwrap();
        let show = |r: Result<u32, PoolError>| match r {
            Ok(x) => format!("{x}"),
            Err(PoolError::Task(TaskError::Panicked { message, .. })) => message,
            Err(other) => format!("{other:?}"),
        };
        let ones: Vec<String> = pool
            .imap(boom_if_odd, 0..4, None)
            .unwrap()
            .map(show)
            .collect();
        let twos: Vec<String> = pool
            .imap(boom_if_odd, 0..6, Some(2))
            .unwrap()
            .map(show)
            .collect();
        (ones, twos)
    });
    assert_eq!(ones, ["0", "odd 1", "2", "odd 3"]);
    assert_eq!(twos, ["odd 1", "odd 3", "odd 5"]);
}

#[test]
fn ex9_bad_chunk_sizes_and_closed_pools_are_errors() {
    let errors = isolated(|| {
        let pool = Pool::new(1).unwrap();
        let zero = pool.imap(square, [1u64], Some(0)).err();
        let zero_unordered = pool.imap_unordered(square, [1u64], Some(0)).err();
        pool.terminate();
        let closed = pool.imap(square, [1u64], None).err();
        vec![zero, zero_unordered, closed]
    });
    assert_eq!(
        errors,
        [
            Some(PoolError::InvalidChunksize),
            Some(PoolError::InvalidChunksize),
            Some(PoolError::NotRunning)
        ]
    );
}

// ---- Exercise 10: close and join -------------------------------------------------------

#[test]
fn ex10_close_then_join_finishes_every_task_and_every_worker() {
    let (values, gated_pid, workers, gone, state) = isolated(|| {
        let gates = Gates::new();
        let pool = Pool::new(2).unwrap();
        let pids = pids(&pool);
        let gated_one = pool.apply_async(gated, gates.args()).unwrap();
        let handles: Vec<_> = (0..20u64)
            .map(|x| pool.apply_async(square, x).unwrap())
            .collect();
        gates.started(1);
        // Before the watched join, the other worker answers the squares (one may wait
        // behind the gated task), and once the pool is closed it leaves: the join then
        // has nothing to do but wait for the gated task.
        let settle = |what: &str, done: &dyn Fn() -> bool| {
            let deadline = Instant::now() + SOON;
            while !done() {
                assert!(Instant::now() < deadline, "{what}");
                let _ = gated_one.wait(Some(Duration::from_millis(10)));
            }
        };
        settle("the squares did not come back", &|| {
            handles.iter().filter(|h| h.ready().unwrap()).count() >= handles.len() - 1
        });
        pool.close();
        settle("the idle worker did not leave", &|| {
            pool.workers().len() == 1
        });
        blocks_without_spinning(&gates, 1, || pool.join().unwrap());
        let values: Vec<u64> = handles
            .iter()
            .map(|h| h.get(Some(Duration::ZERO)).unwrap())
            .collect();
        (
            values,
            gated_one.get(Some(Duration::ZERO)),
            pool.workers().len(),
            pids.iter().all(|&p| is_gone(p)),
            pool.state(),
        )
    });
    assert_eq!(values, (0..20u64).map(|x| x * x).collect::<Vec<_>>());
    assert!(gated_pid.is_ok());
    assert_eq!(workers, 0);
    assert!(gone, "a worker was left running or unreaped after join");
    assert_eq!(state, State::Closed);
}

/// After `close`, an idle worker leaves at once, while another still works: no later
/// worker kept a copy of the pool's end of its socketpair (which would hide the
/// end-of-file from it).
#[test]
fn ex10_an_idle_worker_leaves_after_close_while_another_works() {
    let (idle_left, busy_alive, result) = isolated(|| {
        let gates = Gates::new();
        let pool = Pool::new(2).unwrap();
        let workers = pids(&pool);
        assert_eq!(pool.apply(square, 2), Ok(4));
        // The first worker is the least loaded but busy: the second takes the gated task.
        let quick = pool.apply_async(square, 3).unwrap();
        let busy = pool.apply_async(gated, gates.args()).unwrap();
        let busy_pid = gates.started(1)[0];
        assert_eq!(quick.get(None), Ok(9));
        let idle_pid = *workers
            .iter()
            .find(|&&p| p != busy_pid)
            .expect("two workers");
        pool.close();
        let deadline = Instant::now() + SOON;
        while !is_gone(idle_pid) && Instant::now() < deadline {
            // Drives the pool, which retires the idle worker and reaps it.
            let _ = busy.wait(Some(Duration::from_millis(10)));
        }
        let idle_left = is_gone(idle_pid);
        let busy_alive = is_live_child(busy_pid);
        gates.release(1);
        pool.join().unwrap();
        (idle_left, busy_alive, busy.get(None))
    });
    assert!(
        idle_left,
        "the idle worker never read end-of-file after close"
    );
    assert!(busy_alive, "the busy worker left before its task was done");
    assert!(result.is_ok());
}

#[test]
fn ex10_join_is_for_a_closed_or_terminated_pool() {
    let answers = isolated(|| {
        let pool = Pool::new(1).unwrap();
        let running = pool.join();
        pool.close();
        pool.close();
        let closed = (
            pool.apply(square, 1).err(),
            pool.map(square, [1u64], None).err(),
            pool.imap(square, [1u64], None).err(),
        );
        let joined = pool.join();
        let again = pool.join();
        pool.terminate();
        (running, closed, joined, again, pool.join(), pool.state())
    });
    assert_eq!(answers.0, Err(PoolError::StillRunning));
    let not_running = Some(PoolError::NotRunning);
    assert_eq!(
        answers.1,
        (not_running.clone(), not_running.clone(), not_running)
    );
    assert_eq!((answers.2, answers.3, answers.4), (Ok(()), Ok(()), Ok(())));
    assert_eq!(answers.5, State::Terminated);
}

#[test]
fn ex10_a_worker_that_dies_after_close_is_replaced_while_work_is_left() {
    let (first, second) = isolated(|| {
        let gates = Gates::new();
        let pool = Pool::new(1).unwrap();
        let first = pool.apply_async(gated, gates.args()).unwrap();
        let big = vec![0u8; 2 * workbook::ch07_pool::PREFETCH_BYTES];
        // Too long to wait at the busy worker: it stays queued in the pool.
        fn len(bytes: Vec<u8>) -> usize {
            bytes.len()
        }
        let second = pool.apply_async(len, big).unwrap();
        let pid = gates.started(1)[0];
        pool.close();
        kill_worker(pid);
        pool.join().unwrap();
        (
            first.get(Some(Duration::ZERO)),
            second.get(Some(Duration::ZERO)),
        )
    });
    expect_died(first.unwrap_err());
    assert_eq!(second, Ok(2 * workbook::ch07_pool::PREFETCH_BYTES));
}

#[test]
fn ex10_join_runs_the_callbacks_that_come_due() {
    let seen = isolated(|| {
        let pool = Pool::new(2).unwrap();
        let seen = Rc::new(RefCell::new(Vec::new()));
        for x in 0..4u64 {
            let log = seen.clone();
            let _ = pool
                .apply_async(square, x)
                .unwrap()
                .callback(move |v| log.borrow_mut().push(v));
        }
        pool.close();
        pool.join().unwrap();
        let mut seen = seen.borrow().clone();
        seen.sort();
        seen
    });
    assert_eq!(seen, [0, 1, 4, 9]);
}

#[test]
fn ex10_terminate_with_ten_thousand_queued_tasks_is_prompt() {
    let (failed, running_failed, gone) = isolated(|| {
        let gates = Gates::new();
        let pool = Pool::new(2).unwrap();
        let pids = pids(&pool);
        let running: Vec<_> = (0..2)
            .map(|_| pool.apply_async(gated, gates.args()).unwrap())
            .collect();
        gates.started(2);
        let queued: Vec<_> = (0..10_000u64)
            .map(|x| pool.apply_async(square, x).unwrap())
            .collect();
        pool.terminate();
        let terminated = Err(PoolError::Task(TaskError::Terminated));
        let failed = queued.iter().all(|h| h.get(None) == terminated);
        let running_failed = running
            .iter()
            .all(|h| h.get(None) == terminated.clone().map(|_: u64| 0));
        (failed, running_failed, pids.iter().all(|&p| is_gone(p)))
    });
    assert!(failed, "a queued task did not fail as terminated");
    assert!(running_failed, "a running task did not fail as terminated");
    assert!(gone, "a worker outlived terminate");
}

#[test]
fn ex10_dropping_a_busy_pool_without_close_ends_everything() {
    let (outcomes, gone) = isolated(|| {
        let gates = Gates::new();
        let pool = Pool::new(2).unwrap();
        let pids = pids(&pool);
        let handles: Vec<_> = (0..5)
            .map(|_| pool.apply_async(gated, gates.args()).unwrap())
            .collect();
        gates.started(2);
        drop(pool);
        let outcomes: Vec<_> = handles.iter().map(|h| h.get(None)).collect();
        (outcomes, pids.iter().all(|&p| is_gone(p)))
    });
    assert_eq!(
        outcomes,
        vec![Err(PoolError::Task(TaskError::Terminated)); 5]
    );
    assert!(gone);
}

/// The pool's own errors from a connection keep what the caller can act on: the OS
/// error, a peer gone (`EPIPE`), an encoding that failed; anything else a connection
/// may say (end of file, a frame cut short, a frame too long) cannot come from the
/// pool's own frames and is an input/output error.
#[test]
fn given_connection_errors_become_pool_errors() {
    use nix::errno::Errno;
    let cases = [
        (PipeError::Os(Errno::EBADF), PoolError::Os(Errno::EBADF)),
        (PipeError::BrokenPipe, PoolError::Os(Errno::EPIPE)),
        (
            PipeError::Encode("no map keys".to_owned()),
            PoolError::Encode("no map keys".to_owned()),
        ),
        (PipeError::Eof, PoolError::Os(Errno::EIO)),
        (
            PipeError::Truncated {
                got: 3,
                expected: 12,
            },
            PoolError::Os(Errno::EIO),
        ),
        (PipeError::Closed, PoolError::Os(Errno::EIO)),
    ];
    for (from, to) in cases {
        assert_eq!(PoolError::from(from.clone()), to, "from {from:?}");
    }
}

/// `task::byte_string` reads a byte string in one copy, a sequence of numbers (what
/// formats without byte strings write) too, and says what it expected otherwise.
#[test]
fn given_byte_string_reads_bytes_and_sequences() {
    use serde::de::value::{BytesDeserializer, Error, SeqDeserializer, U32Deserializer};
    use workbook::ch07_pool::task::byte_string;
    let bytes: Result<Vec<u8>, Error> = byte_string::deserialize(BytesDeserializer::new(b"abc"));
    assert_eq!(bytes.unwrap(), b"abc");
    let numbers = SeqDeserializer::<_, Error>::new(vec![1u8, 2, 3].into_iter());
    assert_eq!(byte_string::deserialize(numbers).unwrap(), [1, 2, 3]);
    let wrong = byte_string::deserialize(U32Deserializer::<Error>::new(5));
    assert_eq!(
        wrong.unwrap_err().to_string(),
        "invalid type: integer `5`, expected a byte string"
    );
}
