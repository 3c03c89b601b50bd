use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Once;
use std::thread;
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::sys::signal::{
    killpg, pthread_sigmask, sigaction, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal,
};
use nix::unistd::{getpid, pipe2, setpgid, Pid};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::property::in_property;
use super::stuck::WherePipe;
use super::Transcript;
use crate::child::{panic_message, take_panic_location, QUIET_PANICS};
use crate::{fork_child, in_forked_child, poll_readable, requested_exit, write_all};

/// The deadline of one isolated exercise: `WORKBOOK_TIMEOUT_SECS` seconds, 5 by default.
pub fn timeout() -> Duration {
    let secs = std::env::var("WORKBOOK_TIMEOUT_SECS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .unwrap_or(5.0);
    Duration::from_secs_f64(secs)
}

/// Runs `body` in a child process of its own, in a process group of its own, and
/// returns what `body` returned (carried back through a pipe with postcard).
///
/// The exercise is named after the current thread, which libtest names after the test
/// (`ex2_join_waits_for_the_child`). The test fails, naming it, when:
/// - `body` panics (the panic message is carried back, `todo!()` messages included);
/// - no result arrives within [`timeout`]: a deadlock or a wait that never ends;
/// - `body` returned but left processes of its own running or unjoined.
///
/// Whatever happens, every process of the group is killed and reaped before this
/// function returns or panics: the suite leaves no zombie and no orphan behind.
///
/// The exercise starts with the default disposition of the signals tests send and an
/// empty signal mask, whatever the test process inherited: an ignored SIGINT (from
/// `nohup` or `trap '' INT`) would otherwise survive into every child.
///
/// After one timeout, later calls on the same test thread fail at once (a loop of
/// exercises would otherwise wait out the deadline each time). In a property that uses
/// [`proptest_config`](super::proptest_config), later cases are not run at all and
/// proptest reports the input that timed out.
///
/// What the exercise's processes write to fd 2 (their panic messages among them) is
/// collected and shown with the test's output: in the failure message, or through
/// libtest's capture when the test passes.
#[track_caller]
pub fn isolated<T: Serialize + DeserializeOwned>(body: impl FnOnce() -> T) -> T {
    isolated_with(timeout(), body)
}

/// [`isolated`] with an explicit deadline.
#[track_caller]
pub fn isolated_with<T: Serialize + DeserializeOwned>(
    timeout: Duration,
    body: impl FnOnce() -> T,
) -> T {
    let exercise = thread::current().name().unwrap_or("exercise").to_owned();
    let at_once = tests_at_once();
    if at_once > 1 && !in_forked_child() {
        panic!(
            "{exercise}: this test forks, and libtest runs {at_once} tests at a time in this \
             process (RUST_TEST_THREADS or --test-threads). Tests that fork must run one at \
             a time: a fork made while another test runs copies that test's pipe ends and \
             locks into this exercise, so end-of-file comes late and counts go wrong. Run \
             with RUST_TEST_THREADS=1 (`.cargo/config.toml` sets it for cargo run inside \
             the repository) and without --test-threads, or with `cargo nextest run`, \
             which gives each test a process of its own."
        );
    }
    if let Some(first) = TIMED_OUT.with_borrow(Clone::clone) {
        panic!("not run again, as an earlier call of this test timed out: {first}");
    }
    become_subreaper();
    let (reader, writer) = pipe2(OFlag::O_CLOEXEC).expect("pipe2 for the exercise's report");
    let reader_fd = reader.as_raw_fd();
    let stderr = Transcript::new();
    let stderr_fd = stderr.fd().as_raw_fd();
    let mut where_pipe = WherePipe::new();
    let deadline = Instant::now() + timeout;
    let sandbox = fork_child(|| {
        // Safety: closes this process's copy of the read end, which nothing here uses,
        // and points fd 2 at the stderr transcript; both fds are open.
        unsafe {
            libc::close(reader_fd);
            libc::dup2(stderr_fd, 2);
        }
        QUIET_PANICS.store(true, Ordering::Relaxed);
        let _ = setpgid(Pid::from_raw(0), Pid::from_raw(0));
        start_with_default_signals();
        where_pipe.install_in_child();
        let outcome = match panic::catch_unwind(AssertUnwindSafe(body)) {
            Ok(value) => Outcome::Returned(postcard::to_stdvec(&value).expect("encode result")),
            Err(payload) => Outcome::Panicked {
                message: panic_message(&*payload),
                // A requested exit is not a panic: it has no location.
                at: requested_exit(&*payload)
                    .is_none()
                    .then(take_panic_location)
                    .flatten(),
            },
        };
        let report = Report {
            outcome,
            left_behind: group_members(getpid())
                .into_iter()
                .filter(|p| p.pid != getpid().as_raw())
                .map(|p| p.describe())
                .collect(),
        };
        let bytes = postcard::to_stdvec(&report).expect("encode report");
        let mut frame = (bytes.len() as u64).to_le_bytes().to_vec();
        frame.extend_from_slice(&bytes);
        let _ = write_all(writer.as_fd(), &frame);
    });
    // No closure around this panic: it would hide the caller's location.
    let mut sandbox = match sandbox {
        Ok(sandbox) => sandbox,
        Err(e) => panic!("{exercise}: could not fork the exercise's process: {e}"),
    };
    let pgid = Pid::from_raw(sandbox.pid());
    // Both sides set the group, so it is in place whichever runs first.
    let _ = setpgid(pgid, pgid);
    drop(writer);
    where_pipe.close_write_end();

    let report = read_report(reader.as_fd(), deadline);
    // Timed out: before the kill, ask each process where it is.
    let stuck = match report {
        Err(ReadError::Timeout) => {
            let running = group_members(pgid)
                .iter()
                .filter(|p| p.state != 'Z')
                .count();
            where_pipe.ask(pgid, running)
        }
        _ => String::new(),
    };
    // The body has reported: give its process a moment to leave by itself, so its
    // destructors run; then nothing of the group may survive.
    if report.is_ok() {
        let _ = sandbox.wait_deadline(Instant::now() + Duration::from_secs(1));
    }
    let _ = killpg(pgid, Signal::SIGKILL);
    let _ = sandbox.kill();
    reap_group(pgid);
    let stderr = stderr.finish_text();
    let stderr_note = if stderr.is_empty() {
        String::new()
    } else {
        format!("\n--- what the exercise's processes wrote to stderr ---\n{stderr}")
    };

    let report = match report {
        Ok(report) => report,
        Err(ReadError::Timeout) => {
            let message = format!(
                "{exercise}: no result within {timeout:?}. A deadlock, or a wait that never \
                 ends (a lock never released, a pipe whose write end is still open so EOF \
                 never comes)?{stuck}\nEvery process of the exercise was killed and reaped.\
                 {stderr_note}"
            );
            TIMED_OUT.set(Some(message.clone()));
            fail(message)
        }
        Err(ReadError::Closed) => fail(format!(
            "{exercise}: the exercise's process ended without reporting ({}): it was \
             killed, or called exit/_exit itself{stderr_note}",
            sandbox.status().map(|s| s.to_string()).unwrap_or_default()
        )),
    };
    match report.outcome {
        Outcome::Panicked { message, at } => fail(format!(
            "{exercise}: {}{stderr_note}",
            with_location(&message, at)
        )),
        Outcome::Returned(bytes) => {
            if !report.left_behind.is_empty() {
                fail(format!(
                    "{exercise}: the exercise returned but left processes behind (every \
                     child must be joined): {}{stderr_note}",
                    report.left_behind.join(", ")
                ));
            }
            // Through libtest's capture: shown only when the test fails later.
            eprint!("{stderr}");
            postcard::from_bytes(&bytes).expect("decode the exercise's result")
        }
    }
}

/// `message at file:line:column`; a message of several lines gets the location on a
/// line of its own.
fn with_location(message: &str, at: Option<String>) -> String {
    match at {
        None => message.to_owned(),
        Some(at) if message.contains('\n') => format!("{message}\n  at {at}"),
        Some(at) => format!("{message} at {at}"),
    }
}

/// Fails the test with `message`. Inside a property run with the kit's config the
/// panic skips the panic hook: proptest catches it and tells it once, in its report of
/// the minimal failing input, instead of once per shrink step.
#[track_caller]
fn fail(message: String) -> ! {
    if in_property() {
        panic::resume_unwind(Box::new(message))
    }
    panic!("{message}")
}

/// True once an exercise of this thread's test has timed out.
pub(crate) fn timed_out() -> bool {
    TIMED_OUT.with_borrow(Option::is_some)
}

thread_local! {
    /// The message of the first exercise on this thread (one test) that timed out.
    static TIMED_OUT: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

#[derive(Serialize, Deserialize)]
enum Outcome {
    Returned(Vec<u8>),
    /// The body panicked: the message, and where (`file:line:column`).
    Panicked {
        message: String,
        at: Option<String>,
    },
}

#[derive(Serialize, Deserialize)]
struct Report {
    outcome: Outcome,
    left_behind: Vec<String>,
}

enum ReadError {
    Timeout,
    Closed,
}

/// Reads one length-prefixed report, giving up at `deadline`.
fn read_report(fd: BorrowedFd<'_>, deadline: Instant) -> Result<Report, ReadError> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        if bytes.len() >= 8 {
            let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
            if bytes.len() >= 8 + len {
                return postcard::from_bytes(&bytes[8..8 + len]).map_err(|_| ReadError::Closed);
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ReadError::Timeout);
        }
        if !poll_readable(fd, Some(left)).map_err(|_| ReadError::Closed)? {
            continue;
        }
        // Safety: reads into a live stack buffer of the given length.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        match n {
            0 => return Err(ReadError::Closed),
            n if n < 0 => {
                if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                    return Err(ReadError::Closed);
                }
            }
            n => bytes.extend_from_slice(&buf[..n as usize]),
        }
    }
}

/// How many tests may run at once in this process, by libtest's own rule: the
/// `--test-threads` flag, else `RUST_TEST_THREADS`, else the number of CPUs. cargo-nextest
/// gives every test a process of its own.
///
/// Why the configuration and not a count of the threads alive: libtest always has a main
/// thread besides the test's own, the kit and the tests start reader threads, and the
/// thread of the previous test may still be finishing; a count would fail a correct run
/// now and then. The configuration decides whether a second test can run at the same
/// time, and it is the same on every run.
fn tests_at_once() -> usize {
    if std::env::var("NEXTEST_EXECUTION_MODE").as_deref() == Ok("process-per-test") {
        return 1;
    }
    let mut args = std::env::args().skip(1);
    let mut flag = None;
    while let Some(arg) = args.next() {
        if arg == "--test-threads" {
            flag = args.next();
        } else if let Some(value) = arg.strip_prefix("--test-threads=") {
            flag = Some(value.to_owned());
        }
    }
    flag.or_else(|| std::env::var("RUST_TEST_THREADS").ok())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| thread::available_parallelism().map_or(1, usize::from))
}

/// The signals tests send or raise whose default action ends the process, and
/// `SIGCHLD` (ignored, it would make the kernel reap children before anyone joins them).
/// `SIGPIPE` stays as it is: Rust's runtime ignores it, as CPython does, so a write to a
/// closed pipe is an `EPIPE` error, not a death.
const RESET_SIGNALS: [Signal; 8] = [
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
    Signal::SIGCHLD,
];

/// Gives the exercise's process the default disposition of [`RESET_SIGNALS`] and an
/// empty signal mask.
///
/// Why: an ignored disposition (`SIG_IGN`) and the signal mask survive both `fork` and
/// `exec`, and `nohup`, `cmd &` in a script, `trap '' INT` or a batch grader start
/// `cargo test` with SIGINT ignored: every process of the suite would inherit it, and a
/// child sent SIGINT would live on (exit code 0, not -2).
///
/// Why here and not in [`fork_child`]: `fork_child` is the library's fork, and a child
/// keeps its parent's dispositions, as CPython's fork start method does (a program that
/// ignores SIGINT on purpose expects its workers to ignore it too). What the tests need
/// is a known starting point for each exercise, whatever started the test process; the
/// sandbox is that starting point, and everything the exercise forks inherits from it.
fn start_with_default_signals() {
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for signal in RESET_SIGNALS {
        // Safety: SIG_DFL installs no handler code, so no signal-safety rule is at stake.
        let _ = unsafe { sigaction(signal, &default) };
    }
    let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}

/// Orphans of the exercise (children of a killed process) are re-parented to this
/// process instead of init, so that they can be reaped here, by pid.
fn become_subreaper() {
    static ONCE: Once = Once::new();
    if in_forked_child() {
        return;
    }
    ONCE.call_once(|| {
        // Safety: prctl with PR_SET_CHILD_SUBREAPER takes a flag and touches no memory.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) };
    });
}

/// One line of `/proc/<pid>/stat`, the fields the kit needs.
struct ProcStat {
    pid: i32,
    ppid: i32,
    pgrp: i32,
    state: char,
    comm: String,
}

impl ProcStat {
    fn read(pid: i32) -> Option<ProcStat> {
        let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // comm may hold spaces and parentheses: it ends at the last ')'.
        let open = text.find('(')?;
        let close = text.rfind(')')?;
        let comm = text[open + 1..close].to_owned();
        let mut rest = text[close + 1..].split_whitespace();
        let state = rest.next()?.chars().next()?;
        let ppid = rest.next()?.parse().ok()?;
        let pgrp = rest.next()?.parse().ok()?;
        Some(ProcStat {
            pid,
            ppid,
            pgrp,
            state,
            comm,
        })
    }

    fn describe(&self) -> String {
        match self.state {
            'Z' => format!(
                "pid {} ({}) exited but was never joined",
                self.pid, self.comm
            ),
            _ => format!("pid {} ({}) still running", self.pid, self.comm),
        }
    }
}

fn group_members(pgid: Pid) -> Vec<ProcStat> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(ProcStat::read)
        .filter(|p| p.pgrp == pgid.as_raw())
        .collect()
}

/// Waits until no process of group `pgid` is left, reaping those re-parented here.
fn reap_group(pgid: Pid) {
    let me = getpid().as_raw();
    let give_up = Instant::now() + Duration::from_secs(5);
    loop {
        let members = group_members(pgid);
        if members.is_empty() || Instant::now() > give_up {
            return;
        }
        let _ = killpg(pgid, Signal::SIGKILL);
        for p in members.iter().filter(|p| p.ppid == me && p.state == 'Z') {
            let _ = nix::sys::wait::waitpid(Pid::from_raw(p.pid), None);
        }
        thread::sleep(Duration::from_millis(1));
    }
}
