//! Chapter 3, Process and exceptions: a process's life, exit codes and signals.
//!
//! `cargo test --test ch03_lifecycle` grades chapters/ch03_lifecycle; add
//! `--features solutions` to run the same tests against the reference solution. Test
//! names start with the exercise id: `cargo test --test ch03_lifecycle ex2`.

use std::cell::RefCell;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use mpkit::testkit::{isolated, proptest_config, say, timeout, Gate, Redactor, Transcript};
use nix::sys::signal::Signal;
use nix::sys::wait::{waitid, Id, WaitPidFlag};
use proptest::prelude::*;
use rstest::rstest;
use workbook::ch03_lifecycle::{
    current_is_daemon, exit_cleanly_on_sigterm, LifecycleError, Process, TERMINATE_REQUESTED,
};

/// Errors and answers cross from the exercise's process to the test as `Debug` text.
fn debug<T: std::fmt::Debug>(value: T) -> String {
    format!("{value:?}")
}

/// Sends `signal` to `pid`, once sure it is a child of this process. A wrong pid must
/// fail the test, never reach another process: `kill(-1, SIGKILL)` run as root ends
/// every process of the machine, `kill(0, ..)` this whole group.
fn signal_child(pid: i32, signal: Signal) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let parent = stat
        .rsplit(')')
        .next()
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|ppid| ppid.parse::<u32>().ok());
    assert!(
        pid > 1 && parent == Some(std::process::id()),
        "pid {pid} is not a child of this process"
    );
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal).expect("send the signal");
}

/// A pidfd for any process: it polls readable once that process has ended.
fn pidfd_of(pid: i32) -> OwnedFd {
    // Safety: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    assert!(
        fd >= 0,
        "pidfd_open({pid}): {}",
        std::io::Error::last_os_error()
    );
    // Safety: the syscall just returned this fd, and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

/// How many times the calling thread has gone to sleep of its own accord (blocked).
fn sleeps_so_far() -> i64 {
    // Safety: getrusage fills the struct it is given, which lives on this stack.
    unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_THREAD, &mut usage);
        usage.ru_nvcsw
    }
}

/// Asks `query` 20 times and checks that it never blocked: a call that waits, even
/// briefly, goes to sleep at least once each time.
fn never_blocks<T>(what: &str, mut query: impl FnMut() -> T) -> T {
    let before = sleeps_so_far();
    let answers: Vec<T> = (0..20).map(|_| query()).collect();
    let slept = sleeps_so_far() - before;
    assert!(
        slept < 10,
        "{what} blocked: it slept {slept} times in 20 calls"
    );
    answers.into_iter().last().unwrap()
}

/// The file descriptors this process has open.
fn open_fds() -> Vec<RawFd> {
    let listed: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    // The directory listing itself held one open while it was read.
    // Safety: F_GETFD only asks about an fd number; a closed one gives EBADF.
    let mut open: Vec<RawFd> = listed
        .into_iter()
        .filter(|fd| unsafe { libc::fcntl(*fd, libc::F_GETFD) } >= 0)
        .collect();
    open.sort_unstable();
    open
}

/// The state letter of process `pid` (`R`, `S`, `Z`, ...), or `None` once it is gone
/// (reaped).
fn state_of(pid: i32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(
        stat.rsplit(')')
            .next()?
            .split_whitespace()
            .next()?
            .to_owned(),
    )
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + timeout();
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "waited in vain until {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Asks a copy of a running `Process`, inherited by another child, and returns its
/// answer there, and whether the original still runs afterwards.
fn asked_from_another_process(ask: fn(&mut Process) -> String) -> (String, bool) {
    isolated(move || {
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let gate = Gate::new();
        let gate_ends = gate.ends();
        let first = Rc::new(RefCell::new(Process::new(move || gate_ends.wait())));
        first.borrow_mut().start().expect("start");
        let copy = Rc::clone(&first);
        let mut other = Process::new(move || say(fd, &ask(&mut copy.borrow_mut())));
        other.start().expect("start");
        assert_eq!(other.join().expect("join"), 0);
        let still_running = first.borrow_mut().join_timeout(Duration::ZERO) == Ok(None);
        gate.notify();
        first.borrow_mut().join().expect("join");
        (transcript.finish().join("\n"), still_running)
    })
}

fn sleep_forever() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

// ---- Exercise 1: panics and cleanup ------------------------------------------------------

#[test]
fn ex1_a_panicking_target_exits_with_code_1_and_says_why() {
    let (code, stderr) = isolated(|| {
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let mut p = Process::new(move || {
            // Safety: points this child's fd 2 at the transcript, an fd it holds open.
            unsafe { libc::dup2(fd, 2) };
            panic!("the disk is on fire");
        });
        p.start().expect("start");
        let code = p.join().expect("join");
        drop(p);
        (code, transcript.finish())
    });
    assert_eq!(
        code, 1,
        "a panic is Python's uncaught exception: exit code 1"
    );
    let text = stderr.join("\n");
    assert!(
        text.contains("panicked") && text.contains("the disk is on fire"),
        "{text}"
    );
}

#[test]
fn ex1_an_exit_request_keeps_its_code() {
    let code = isolated(|| {
        let mut p = Process::new(|| mpkit::exit(7));
        p.start().expect("start");
        p.join().expect("join")
    });
    assert_eq!(code, 7);
}

/// A guard whose `Drop` says so: the cleanup a `with` block or `finally` does in Python.
struct Cleanup(RawFd);

impl Drop for Cleanup {
    fn drop(&mut self) {
        say(self.0, "cleanup ran");
    }
}

#[rstest]
#[case::returns("return", 0, true)]
#[case::panics("panic", 1, true)]
#[case::exits("exit", 7, true)]
#[case::killed("SIGKILL", -libc::SIGKILL, false)]
#[case::terminated("SIGTERM", -libc::SIGTERM, false)]
fn ex1_cleanup_runs_on_return_and_panic_but_not_when_a_signal_ends_it(
    #[case] ending: &'static str,
    #[case] code: i32,
    #[case] cleaned_up: bool,
) {
    let (got, lines) = isolated(move || {
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let ready = Gate::new();
        let ready_ends = ready.ends();
        let mut p = Process::new(move || {
            let _guard = Cleanup(fd);
            match ending {
                "return" => {}
                "panic" => panic!("on purpose"),
                "exit" => mpkit::exit(7),
                _ => {
                    ready_ends.notify();
                    sleep_forever();
                }
            }
        });
        p.start().expect("start");
        // Signals go by pid here, so that this exercise needs no later one.
        let pid = p.pid().expect("pid").expect("started");
        let signal = match ending {
            "SIGKILL" => Some(Signal::SIGKILL),
            "SIGTERM" => Some(Signal::SIGTERM),
            _ => None,
        };
        if let Some(signal) = signal {
            ready.wait();
            signal_child(pid, signal);
        }
        let got = p.join().expect("join");
        drop(p);
        (got, transcript.finish())
    });
    assert_eq!(got, code);
    assert_eq!(lines == ["cleanup ran"], cleaned_up, "{lines:?}");
}

// ---- Exercise 2: is_alive and exitcode ------------------------------------------------

#[test]
fn ex2_a_process_never_started_is_not_alive() {
    let answers = isolated(|| {
        let mut p = Process::new(|| {});
        debug((p.is_alive(), p.exitcode(), p.pid()))
    });
    assert_eq!(
        answers,
        debug((
            Ok::<_, ()>(false),
            Ok::<Option<i32>, ()>(None),
            Ok::<Option<i32>, ()>(None)
        ))
    );
}

/// Block, then release: alive while it waits at the gate, ended after.
#[test]
fn ex2_alive_while_running_then_ended_with_its_code() {
    let answers = isolated(|| {
        let gate = Gate::new();
        let gate_ends = gate.ends();
        let mut p = Process::new(move || gate_ends.wait());
        p.start().expect("start");
        let running = (p.is_alive(), p.exitcode());
        gate.notify();
        let code = p.join().expect("join");
        debug((running, code, p.is_alive(), p.exitcode()))
    });
    assert_eq!(
        answers,
        debug((
            (Ok::<_, ()>(true), Ok::<Option<i32>, ()>(None)),
            0,
            Ok::<_, ()>(false),
            Ok::<_, ()>(Some(0))
        ))
    );
}

#[test]
fn ex2_every_exit_code_comes_back() {
    let codes = isolated(|| {
        (0..=255)
            .map(|code| {
                let mut p = Process::new(move || mpkit::exit(code));
                p.start().expect("start");
                p.join_timeout(Duration::from_secs(2)).expect("join");
                p.exitcode().expect("exitcode").expect("ended")
            })
            .collect::<Vec<i32>>()
    });
    assert_eq!(codes, (0..=255).collect::<Vec<i32>>());
}

#[rstest]
#[case::sigterm(libc::SIGTERM)]
#[case::sigkill(libc::SIGKILL)]
#[case::sigint(libc::SIGINT)]
#[case::sigusr1(libc::SIGUSR1)]
fn ex2_a_signal_comes_back_negative(#[case] signal: i32) {
    let code = isolated(move || {
        let mut p = Process::new(move || {
            // Safety: raise sends a signal to the calling process only.
            unsafe { libc::raise(signal) };
        });
        p.start().expect("start");
        p.join_timeout(Duration::from_secs(2)).expect("join");
        p.exitcode().expect("exitcode")
    });
    assert_eq!(code, Some(-signal));
}

#[test]
fn ex2_is_alive_and_exitcode_never_block() {
    let answers = isolated(|| {
        let gate = Gate::new();
        let gate_ends = gate.ends();
        let mut p = Process::new(move || gate_ends.wait());
        p.start().expect("start");
        let alive = never_blocks("is_alive", || p.is_alive());
        let code = never_blocks("exitcode", || p.exitcode());
        gate.notify();
        p.join().expect("join");
        debug((alive, code))
    });
    assert_eq!(
        answers,
        debug((Ok::<_, ()>(true), Ok::<Option<i32>, ()>(None)))
    );
}

/// A child that ended by itself is a zombie until someone reaps it: the first question
/// that sees the end reaps it.
#[rstest]
#[case::is_alive(false)]
#[case::exitcode(true)]
fn ex2_an_ended_child_is_reaped_on_the_spot(#[case] ask_exitcode: bool) {
    let (zombie, answer, gone) = isolated(move || {
        let mut p = Process::new(|| mpkit::exit(3));
        p.start().expect("start");
        let pid = p.pid().expect("pid").expect("started");
        let ended = pidfd_of(pid);
        assert!(mpkit::poll_readable(ended.as_fd(), Some(timeout())).unwrap());
        let zombie = state_of(pid) == Some("Z".to_owned());
        let answer = if ask_exitcode {
            debug(p.exitcode())
        } else {
            debug(p.is_alive())
        };
        (zombie, answer, state_of(pid).is_none())
    });
    assert!(zombie, "the child had ended, not yet reaped");
    let expected = if ask_exitcode {
        "Ok(Some(3))"
    } else {
        "Ok(false)"
    };
    assert_eq!(answer, expected);
    assert!(gone, "the ended child was left a zombie");
}

/// A copy of a `Process` inherited by another child cannot ask about it.
#[rstest]
#[case::is_alive(|p: &mut Process| debug(p.is_alive()))]
#[case::exitcode(|p: &mut Process| debug(p.exitcode()))]
fn ex2_a_copy_in_another_process_cannot_ask(#[case] ask: fn(&mut Process) -> String) {
    let (answer, still_running) = asked_from_another_process(ask);
    assert_eq!(answer, "Err(NotTheParent)");
    assert!(still_running);
}

// ---- Exercise 3: terminate and kill ----------------------------------------------------

#[test]
fn ex3_terminate_ends_a_running_process() {
    let (code, alive) = isolated(|| {
        let mut p = Process::new(|| sleep_forever());
        p.start().expect("start");
        p.terminate().expect("terminate");
        let code = p.join_timeout(Duration::from_secs(2)).expect("join");
        (code, p.is_alive().expect("is_alive"))
    });
    assert_eq!((code, alive), (Some(-libc::SIGTERM), false));
}

/// Block, then release: SIGTERM is ignored, `join_timeout` says the process still
/// runs, and SIGKILL ends it.
#[test]
fn ex3_kill_ends_a_process_that_ignores_sigterm() {
    let (after_terminate, alive, after_kill) = isolated(|| {
        let ready = Gate::new();
        let ready_ends = ready.ends();
        let mut p = Process::new(move || {
            // Safety: setting a signal's disposition to "ignore" runs no code.
            unsafe { libc::signal(libc::SIGTERM, libc::SIG_IGN) };
            ready_ends.notify();
            sleep_forever();
        });
        p.start().expect("start");
        ready.wait();
        p.terminate().expect("terminate");
        let after_terminate = p.join_timeout(Duration::from_millis(200)).expect("join");
        let alive = p.is_alive().expect("is_alive");
        p.kill().expect("kill");
        (after_terminate, alive, p.join().expect("join"))
    });
    assert_eq!(after_terminate, None, "SIGTERM was ignored");
    assert!(alive);
    assert_eq!(after_kill, -libc::SIGKILL);
}

#[test]
fn ex3_signals_need_a_started_process() {
    let answers = isolated(|| {
        let mut p = Process::new(|| {});
        debug((p.terminate(), p.kill()))
    });
    let not_started = Err::<(), _>(LifecycleError::NotStarted);
    assert_eq!(answers, debug((&not_started, &not_started)));
}

#[test]
fn ex3_signals_after_the_end_change_nothing() {
    let answers = isolated(|| {
        let mut p = Process::new(|| mpkit::exit(4));
        p.start().expect("start");
        let code = p.join().expect("join");
        debug((code, p.terminate(), p.kill(), p.exitcode()))
    });
    assert_eq!(
        answers,
        debug((4, Ok::<(), ()>(()), Ok::<(), ()>(()), Ok::<_, ()>(Some(4))))
    );
}

/// Neither call waits for the child to end (Python's either): here SIGTERM is ignored,
/// and each call returns at once.
#[test]
fn ex3_terminate_and_kill_never_block() {
    let code = isolated(|| {
        let ready = Gate::new();
        let ready_ends = ready.ends();
        let mut p = Process::new(move || {
            // Safety: setting a signal's disposition to "ignore" runs no code.
            unsafe { libc::signal(libc::SIGTERM, libc::SIG_IGN) };
            ready_ends.notify();
            sleep_forever();
        });
        p.start().expect("start");
        ready.wait();
        never_blocks("terminate", || p.terminate()).expect("terminate");
        never_blocks("kill", || p.kill()).expect("kill");
        p.join().expect("join")
    });
    assert_eq!(code, -libc::SIGKILL);
}

/// A copy of a `Process` inherited by another child cannot signal it.
#[rstest]
#[case::terminate(|p: &mut Process| debug(p.terminate()))]
#[case::kill(|p: &mut Process| debug(p.kill()))]
fn ex3_a_copy_in_another_process_cannot_signal(#[case] ask: fn(&mut Process) -> String) {
    let (answer, still_running) = asked_from_another_process(ask);
    assert_eq!(answer, "Err(NotTheParent)");
    assert!(still_running, "the signal reached the process");
}

// ---- Exercise 4: sentinel and close ----------------------------------------------------

/// Block, then release: the sentinel is not readable while the child waits at a gate,
/// and becomes readable when it ends.
#[test]
fn ex4_the_sentinel_polls_readable_when_the_child_ends() {
    let (before_start, early, late, code) = isolated(|| {
        let gate = Gate::new();
        let gate_ends = gate.ends();
        let mut p = Process::new(move || gate_ends.wait());
        let before_start = debug(p.sentinel().map(|fd| fd.as_raw_fd()));
        p.start().expect("start");
        let sentinel = p.sentinel().expect("sentinel");
        let early = mpkit::poll_readable(sentinel, Some(Duration::from_millis(50))).unwrap();
        gate.notify();
        let sentinel = p.sentinel().expect("sentinel");
        let late = mpkit::poll_readable(sentinel, Some(Duration::from_secs(2))).unwrap();
        (before_start, early, late, p.exitcode().expect("exitcode"))
    });
    assert_eq!(
        before_start,
        debug(Err::<RawFd, _>(LifecycleError::NotStarted))
    );
    assert!(!early, "readable while the child still runs");
    assert!(late, "not readable after the child ended");
    assert_eq!(code, Some(0));
}

#[test]
fn ex4_close_refuses_a_running_process_and_then_every_query() {
    let (refused, still_alive, closed, after) = isolated(|| {
        let mut p = Process::new(|| sleep_forever()).with_name("janitor");
        p.start().expect("start");
        let refused = debug(p.close());
        let still_alive = p.is_alive().expect("is_alive");
        p.terminate().expect("terminate");
        p.join().expect("join");
        let closed = debug((p.close(), p.close()));
        let after = debug((
            p.is_alive(),
            p.exitcode(),
            p.pid(),
            p.sentinel().map(|fd| fd.as_raw_fd()),
            p.join(),
            p.join_timeout(Duration::ZERO),
            p.start(),
            p.terminate(),
            p.kill(),
            p.name(),
        ));
        (refused, still_alive, closed, after)
    });
    let c = LifecycleError::Closed;
    assert_eq!(refused, debug(Err::<(), _>(LifecycleError::StillRunning)));
    assert!(still_alive, "a refused close changes nothing");
    assert_eq!(closed, debug((Ok::<(), ()>(()), Ok::<(), ()>(()))));
    assert_eq!(
        after,
        debug((
            Err::<bool, _>(c),
            Err::<Option<i32>, _>(c),
            Err::<Option<i32>, _>(c),
            Err::<RawFd, _>(c),
            Err::<i32, _>(c),
            Err::<Option<i32>, _>(c),
            Err::<(), _>(c),
            Err::<(), _>(c),
            Err::<(), _>(c),
            "janitor",
        ))
    );
}

#[test]
fn ex4_a_process_closed_before_start_cannot_start() {
    let answers = isolated(|| {
        let mut p = Process::new(|| {});
        debug((p.close(), p.start()))
    });
    assert_eq!(
        answers,
        debug((Ok::<(), ()>(()), Err::<(), _>(LifecycleError::Closed)))
    );
}

/// One sentinel for the life of the process, as in Python: the same descriptor each
/// time, no new one per call; `close` reaps the ended child and closes it.
#[test]
fn ex4_the_sentinel_is_one_fd_that_close_releases() {
    let (counts, same, reaped) = isolated(|| {
        let before = open_fds();
        let mut p = Process::new(|| {});
        p.start().expect("start");
        let pid = p.pid().expect("pid").expect("started");
        let first = p.sentinel().expect("sentinel").as_raw_fd();
        let again: Vec<RawFd> = (0..5)
            .map(|_| p.sentinel().expect("sentinel").as_raw_fd())
            .collect();
        let during = open_fds();
        let sentinel = p.sentinel().expect("sentinel");
        assert!(mpkit::poll_readable(sentinel, Some(timeout())).unwrap());
        p.close().expect("close");
        let after = open_fds();
        (
            (before.len(), during.len(), after == before),
            again.iter().all(|fd| *fd == first),
            state_of(pid).is_none(),
        )
    });
    let (before, during, released) = counts;
    assert_eq!(during, before + 1, "one pidfd while the process is open");
    assert!(same, "each call gave another descriptor");
    assert!(released, "a descriptor was left open after close");
    assert!(reaped, "close left the ended child a zombie");
}

/// A copy of a `Process` inherited by another child can neither watch nor close it.
#[rstest]
#[case::sentinel(|p: &mut Process| debug(p.sentinel().map(|fd| fd.as_raw_fd())))]
#[case::close(|p: &mut Process| debug(p.close()))]
fn ex4_a_copy_in_another_process_can_neither_watch_nor_close(
    #[case] ask: fn(&mut Process) -> String,
) {
    let (answer, still_running) = asked_from_another_process(ask);
    assert_eq!(answer, "Err(NotTheParent)");
    assert!(still_running);
}

/// The notebook's walk through a process's life: created, started, terminated, closed.
#[test]
fn ex4_the_notebooks_lifecycle() {
    let (lines, main, child) = isolated(|| {
        let mut lines = Vec::new();
        let mut p = Process::new(|| sleep_forever());
        let report = |p: &mut Process, title: &str, lines: &mut Vec<String>| {
            lines.push(format!("{title}: {}", p.describe()));
            let sentinel = match p.sentinel() {
                Ok(fd) => format!("fd {}", fd.as_raw_fd()),
                Err(err) => format!("{:?}", Err::<(), _>(err)),
            };
            lines.push(format!(
                "  is_alive {:?}, exitcode {:?}, sentinel {sentinel}",
                p.is_alive(),
                p.exitcode()
            ));
        };
        report(&mut p, "created", &mut lines);
        p.start().expect("start");
        report(&mut p, "started", &mut lines);
        p.terminate().expect("terminate");
        p.join_timeout(Duration::from_secs(2)).expect("join");
        report(&mut p, "terminated", &mut lines);
        let pid = p.pid().expect("pid").expect("started");
        lines.push(format!("close: {:?}", p.close()));
        report(&mut p, "closed", &mut lines);
        (lines, std::process::id() as i32, pid)
    });
    let redactor = Redactor::new().pid(main, "main").pid(child, "Process-1");
    insta::assert_snapshot!(redactor.lines(&lines).join("\n"));
}

/// The state model: what a process blocked forever must answer, given what was done to
/// it. After a signal, the end comes "after a moment": until an answer shows it, both
/// "alive" and "ended" are right, and if SIGTERM and SIGKILL were both sent, either may
/// have ended it.
#[derive(Clone, Debug)]
enum Op {
    Start,
    IsAlive,
    Exitcode,
    JoinTimeout(u64),
    Terminate,
    Kill,
    Close,
    Sentinel,
}

#[derive(Clone, Debug, PartialEq)]
enum State {
    Created,
    /// Started, and not yet seen to end: the exit codes of the signals sent so far, and
    /// whether an answer already showed that it has ended.
    Running {
        sent: Vec<i32>,
        ended: bool,
    },
    Ended(i32),
    Closed,
}

/// Checks one answer against the model and moves the model on.
fn step(state: &mut State, op: &Op, answer: &str) -> Result<(), String> {
    let expect = |expected: &str| -> Result<(), String> {
        if answer == expected {
            Ok(())
        } else {
            Err(format!(
                "{op:?} in {state:?}: answered {answer}, expected {expected}"
            ))
        }
    };
    match (state.clone(), op) {
        (State::Closed, Op::Close) => expect("Ok(())"),
        (State::Closed, _) => expect("Err(Closed)"),
        (State::Created, Op::Start) => {
            expect("Ok(())")?;
            *state = State::Running {
                sent: vec![],
                ended: false,
            };
            Ok(())
        }
        (State::Created, Op::IsAlive) => expect("Ok(false)"),
        (State::Created, Op::Exitcode) => expect("Ok(None)"),
        (State::Created, Op::Close) => {
            expect("Ok(())")?;
            *state = State::Closed;
            Ok(())
        }
        (State::Created, _) => expect("Err(NotStarted)"),
        (_, Op::Start) => expect("Err(AlreadyStarted)"),
        (_, Op::Sentinel) => expect("Ok(fd)"),
        (State::Ended(_), Op::IsAlive) => expect("Ok(false)"),
        (State::Ended(code), Op::Exitcode | Op::JoinTimeout(_)) => {
            expect(&format!("Ok(Some({code}))"))
        }
        (State::Ended(_), Op::Terminate | Op::Kill) => expect("Ok(())"),
        (State::Ended(_), Op::Close) => {
            expect("Ok(())")?;
            *state = State::Closed;
            Ok(())
        }
        (State::Running { mut sent, ended }, Op::Terminate | Op::Kill) => {
            expect("Ok(())")?;
            if !ended {
                sent.push(if matches!(op, Op::Kill) {
                    -libc::SIGKILL
                } else {
                    -libc::SIGTERM
                });
            }
            *state = State::Running { sent, ended };
            Ok(())
        }
        (State::Running { sent, ended }, Op::IsAlive) => {
            if !ended && answer == "Ok(true)" {
                return Ok(());
            }
            if sent.is_empty() {
                return expect("Ok(true)");
            }
            expect("Ok(false)")?;
            *state = State::Running { sent, ended: true };
            Ok(())
        }
        (State::Running { sent, ended }, Op::Exitcode | Op::JoinTimeout(_)) => {
            if let Some(code) = sent.iter().find(|c| answer == format!("Ok(Some({c}))")) {
                *state = State::Ended(*code);
                return Ok(());
            }
            // A blocked child ends only by a signal; one sent is felt within 300 ms.
            let must_have_ended =
                ended || matches!(op, Op::JoinTimeout(ms) if *ms >= 300 && !sent.is_empty());
            if must_have_ended {
                return expect(&format!("Ok(Some(c)) with c one of {sent:?}"));
            }
            expect("Ok(None)")
        }
        (State::Running { sent, ended }, Op::Close) => {
            if answer == "Ok(())" && !sent.is_empty() {
                *state = State::Closed;
                return Ok(());
            }
            if ended {
                return expect("Ok(())");
            }
            expect("Err(StillRunning)")
        }
    }
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Start),
        2 => Just(Op::IsAlive),
        2 => Just(Op::Exitcode),
        2 => prop_oneof![Just(0u64), Just(10), Just(300)].prop_map(Op::JoinTimeout),
        1 => Just(Op::Terminate),
        1 => Just(Op::Kill),
        1 => Just(Op::Close),
        1 => Just(Op::Sentinel),
    ]
}

fn answers(ops: Vec<Op>) -> Vec<String> {
    isolated(move || {
        let mut p = Process::new(|| sleep_forever()).daemon(true);
        ops.iter()
            .map(|op| match op {
                Op::Start => debug(p.start()),
                Op::IsAlive => debug(p.is_alive()),
                Op::Exitcode => debug(p.exitcode()),
                Op::JoinTimeout(ms) => debug(p.join_timeout(Duration::from_millis(*ms))),
                Op::Terminate => debug(p.terminate()),
                Op::Kill => debug(p.kill()),
                Op::Close => debug(p.close()),
                Op::Sentinel => match p.sentinel() {
                    Ok(_) => "Ok(fd)".to_owned(),
                    Err(err) => debug(Err::<(), _>(err)),
                },
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(proptest_config(16))]

    /// Random operations on a process give the answers and errors of the state model.
    #[test]
    fn ex4_random_operations_follow_the_state_model(ops in prop::collection::vec(op_strategy(), 1..14)) {
        let got = answers(ops.clone());
        let mut state = State::Created;
        for (op, answer) in ops.iter().zip(&got) {
            if let Err(why) = step(&mut state, op, answer) {
                return Err(TestCaseError::fail(format!("{why}\n  operations: {ops:?}\n  answers: {got:?}")));
            }
        }
    }
}

// ---- Exercise 5: catching SIGTERM ----------------------------------------------------------

#[test]
fn ex5_a_child_that_catches_sigterm_cleans_up_and_exits_0() {
    let (code, lines) = isolated(|| {
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let ready = Gate::new();
        let ready_ends = ready.ends();
        let mut p = Process::new(move || {
            let stop = exit_cleanly_on_sigterm().expect("install the handler");
            let _guard = Cleanup(fd);
            ready_ends.notify();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
            say(fd, "stopping on request");
        });
        p.start().expect("start");
        ready.wait();
        p.terminate().expect("terminate");
        let code = p.join_timeout(Duration::from_secs(2)).expect("join");
        drop(p);
        (code, transcript.finish())
    });
    assert_eq!(code, Some(0));
    assert_eq!(lines, ["stopping on request", "cleanup ran"]);
}

#[test]
fn ex5_the_flag_is_clear_until_sigterm_arrives() {
    let (before, after) = isolated(|| {
        let stop = exit_cleanly_on_sigterm().expect("install the handler");
        let before = stop.load(std::sync::atomic::Ordering::SeqCst);
        // Safety: raise sends SIGTERM to this process, whose handler only sets a flag.
        unsafe { libc::raise(libc::SIGTERM) };
        (before, stop.load(std::sync::atomic::Ordering::SeqCst))
    });
    assert_eq!(
        (before, after),
        (false, true),
        "the process survived its SIGTERM"
    );
}

/// No `SA_RESTART`: a child blocked in a read (that nothing will ever end) gets `EINTR`
/// when SIGTERM arrives, looks at the flag and leaves.
#[test]
fn ex5_a_blocking_call_returns_when_sigterm_arrives() {
    let (code, lines) = isolated(|| {
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let ready = Gate::new();
        let ready_ends = ready.ends();
        let mut p = Process::new(move || {
            let stop = exit_cleanly_on_sigterm().expect("install the handler");
            let (never_written, _write_end) = nix::unistd::pipe().expect("pipe");
            ready_ends.notify();
            let mut byte = [0u8; 1];
            let read = nix::unistd::read(&never_written, &mut byte);
            say(fd, &format!("read: {read:?}, flag {}", stop.load(SeqCst)));
        });
        p.start().expect("start");
        ready.wait();
        let pid = p.pid().expect("pid").expect("started");
        wait_until("the child blocks in read", || {
            state_of(pid) == Some("S".to_owned())
        });
        p.terminate().expect("terminate");
        let code = p.join_timeout(Duration::from_secs(2)).expect("join");
        if code.is_none() {
            p.kill().expect("kill");
        }
        drop(p);
        (code, transcript.finish())
    });
    assert_eq!(lines, ["read: Err(EINTR), flag true"]);
    assert_eq!(code, Some(0));
}

/// A child forked after its parent saw a SIGTERM has the flag set in its copy: the
/// handler it installs starts it clear.
#[test]
fn ex5_the_flag_starts_clear_even_when_the_copy_was_set() {
    let flag = isolated(|| {
        TERMINATE_REQUESTED.store(true, SeqCst);
        let stop = exit_cleanly_on_sigterm().expect("install the handler");
        stop.load(SeqCst)
    });
    assert!(!flag);
}

// ---- Given: what dropping a running process does ------------------------------------------

#[test]
fn given_dropping_a_daemon_terminates_it() {
    let (pid, alive_after) = isolated(|| {
        let mut p = Process::new(|| sleep_forever()).daemon(true);
        p.start().expect("start");
        let pid = p.pid().expect("pid").expect("started");
        drop(p);
        (pid, std::path::Path::new(&format!("/proc/{pid}")).exists())
    });
    assert!(pid > 0);
    assert!(!alive_after, "a dropped daemon is terminated and reaped");
}

#[test]
fn given_dropping_a_non_daemon_lets_it_finish() {
    let lines = isolated(|| {
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let mut p = Process::new(move || {
            std::thread::sleep(Duration::from_millis(100));
            say(fd, "finished my work");
        });
        p.start().expect("start");
        drop(p);
        transcript.finish()
    });
    assert_eq!(lines, ["finished my work"]);
}

/// Python's `Process(daemon=None)` takes the daemon flag of the process that creates it
/// (CPython's `test_daemon_argument`): made inside a daemon, a process is a daemon
/// unless told otherwise, and the flag it has when it starts is the child's own. Unlike
/// Python, a daemon may start children (they cannot outlive it: see the next test).
#[test]
fn given_a_process_made_in_a_daemon_is_a_daemon() {
    let lines = isolated(|| {
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let mut lines = vec![format!(
            "main: {}, made {}",
            current_is_daemon(),
            Process::new(|| {}).is_daemon()
        )];
        for daemon in [true, false] {
            let mut p = Process::new(move || {
                let mut made = Process::new(move || {
                    say(fd, &format!("  its child: {}", current_is_daemon()));
                });
                let told = Process::new(|| {}).daemon(!daemon);
                say(
                    fd,
                    &format!(
                        "daemon={daemon}: {}, made {}, told {}",
                        current_is_daemon(),
                        made.is_daemon(),
                        told.is_daemon()
                    ),
                );
                made.start().expect("a daemon may start a child");
                say(fd, &format!("  joined: {:?}", made.join()));
            })
            .daemon(daemon);
            p.start().expect("start");
            assert_eq!(p.join().expect("join"), 0);
        }
        lines.extend(transcript.finish());
        lines
    });
    assert_eq!(
        lines,
        [
            "main: false, made false",
            "daemon=true: true, made true, told false",
            "  its child: true",
            "  joined: Ok(0)",
            "daemon=false: false, made false, told true",
            "  its child: false",
            "  joined: Ok(0)",
        ]
    );
}

/// Python forbids a daemon to have children, lest they be orphaned when it is
/// terminated. Here a child is killed with the process that started it.
#[test]
fn given_a_daemons_child_dies_with_it() {
    let (grandchild_ended, code, how) = isolated(|| {
        // The orphaned grandchild comes to this process, which reaps it below.
        // Safety: prctl with PR_SET_CHILD_SUBREAPER takes a flag and touches no memory.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) };
        let (read_end, write_end) = nix::unistd::pipe().expect("pipe");
        let mut p = Process::new(move || {
            // The grandchild says its pid once its target runs: by then it has armed
            // its death signal, so the death of its parent can only kill it.
            let mut child = Process::new(move || {
                let pid = std::process::id() as i32;
                mpkit::write_all(write_end.as_fd(), &pid.to_le_bytes()).expect("write");
                sleep_forever();
            });
            child.start().expect("start");
            sleep_forever();
        })
        .daemon(true);
        p.start().expect("start");
        let mut pid = [0u8; 4];
        nix::unistd::read(&read_end, &mut pid).expect("the grandchild's pid");
        let grandchild = i32::from_le_bytes(pid);
        // A pidfd of a process that is not our child still polls readable when it ends.
        let pidfd = pidfd_of(grandchild);
        let before = mpkit::poll_readable(pidfd.as_fd(), Some(Duration::ZERO)).unwrap();
        p.kill().expect("kill");
        let code = p.join().expect("join");
        let ended = mpkit::poll_readable(pidfd.as_fd(), Some(timeout())).unwrap();
        let how = waitid(Id::PIDFd(pidfd.as_fd()), WaitPidFlag::WEXITED).expect("reap it");
        ((before, ended), code, debug(how))
    });
    assert_eq!(
        grandchild_ended,
        (false, true),
        "the grandchild ran, then died with its parent"
    );
    assert_eq!(code, -libc::SIGKILL);
    assert!(how.contains("SIGKILL"), "{how}");
}

#[test]
fn given_the_daemon_flag_is_set_before_start() {
    let answers = isolated(|| {
        let mut p = Process::new(|| {});
        let before = p.set_daemon(true);
        let flag = p.is_daemon();
        p.start().expect("start");
        let after = p.set_daemon(false);
        let kept = p.is_daemon();
        p.join().expect("join");
        p.close().expect("close");
        let closed = p.set_daemon(false);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut q = Process::new(|| {});
            q.start().expect("start");
            q.join().expect("join");
            q.daemon(false)
        }))
        .is_err();
        debug((before, flag, after, kept, closed, panicked))
    });
    assert_eq!(
        answers,
        debug((
            Ok::<(), ()>(()),
            true,
            Err::<(), _>(LifecycleError::AlreadyStarted),
            true,
            Err::<(), _>(LifecycleError::Closed),
            true
        ))
    );
}

/// Python's `repr` of a daemon that exited with a code.
#[test]
fn given_describe_shows_the_exit_code_and_the_daemon_flag() {
    let (lines, main, child) = isolated(|| {
        let mut p = Process::new(|| mpkit::exit(3))
            .daemon(true)
            .with_name("worker");
        let initial = p.describe();
        p.start().expect("start");
        p.join().expect("join");
        let stopped = p.describe();
        let mut ok = Process::new(|| {}).with_name("fine");
        ok.start().expect("start");
        ok.join().expect("join");
        (
            vec![initial, stopped, ok.describe()],
            std::process::id() as i32,
            [p, ok].map(|p| p.pid().expect("pid").expect("started")),
        )
    });
    let redactor = Redactor::new()
        .pid(main, "main")
        .pid(child[0], "child")
        .pid(child[1], "fine");
    assert_eq!(
        redactor.lines(&lines),
        [
            "<Process name='worker' parent=<main> initial daemon>",
            "<Process name='worker' pid=<child> parent=<main> stopped exitcode=3 daemon>",
            "<Process name='fine' pid=<fine> parent=<main> stopped exitcode=0>",
        ]
    );
}

#[rstest]
#[case::not_started(LifecycleError::NotStarted, "the process was not started")]
#[case::already_started(LifecycleError::AlreadyStarted, "cannot start a process twice")]
#[case::closed(LifecycleError::Closed, "process object is closed")]
#[case::still_running(
    LifecycleError::StillRunning,
    "cannot close a process while it is still running; join or terminate it first"
)]
#[case::not_the_parent(
    LifecycleError::NotTheParent,
    "can only use a process created by this process"
)]
#[case::os(
    LifecycleError::Os(nix::errno::Errno::ECHILD),
    "system call failed: ECHILD"
)]
fn given_errors_say_what_went_wrong(#[case] err: LifecycleError, #[case] text: &str) {
    assert!(err.to_string().starts_with(text), "{err}");
}

/// Chapter 2's errors, and the system's, become this chapter's.
#[test]
fn given_errors_of_chapter_2_and_of_the_system_convert() {
    use workbook::ch03_lifecycle::ProcessError;
    let errno = nix::errno::Errno::EAGAIN;
    let converted = [
        LifecycleError::from(ProcessError::AlreadyStarted),
        LifecycleError::from(ProcessError::NotStarted),
        LifecycleError::from(ProcessError::NotTheParent),
        LifecycleError::from(ProcessError::Os(errno)),
        LifecycleError::from(ProcessError::UnknownStartMethod),
        LifecycleError::from(ProcessError::UnsupportedStartMethod("spawn")),
        LifecycleError::from(std::io::Error::from_raw_os_error(libc::EAGAIN)),
        LifecycleError::from(std::io::Error::other("no errno")),
        LifecycleError::from(errno),
    ];
    use LifecycleError::*;
    assert_eq!(
        converted,
        [
            AlreadyStarted,
            NotStarted,
            NotTheParent,
            Os(errno),
            Os(nix::errno::Errno::EINVAL),
            Os(nix::errno::Errno::EINVAL),
            Os(errno),
            Os(nix::errno::Errno::EIO),
            Os(errno),
        ]
    );
}
