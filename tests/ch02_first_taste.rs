//! Chapter 2, First taste: start, join, pid and ppid, the fork context, results.
//!
//! `cargo test --test ch02_first_taste` grades chapters/ch02_first_taste; add
//! `--features solutions` to run the same tests against the reference solution. Test
//! names start with the exercise id: `cargo test --test ch02_first_taste ex3`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use mpkit::testkit::{isolated, procfs, proptest_config, say, timeout, Gate, Redactor, Transcript};
use mpkit::ExitStatus;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use proptest::prelude::*;
use rstest::rstest;
use workbook::ch02_first_taste::{
    channel, current_process, decode_frame, encode_frame, get_context, info, parent_pid,
    ChannelError, Process, ProcessError, LENGTH_PREFIX, MAX_FRAME,
};

/// Records the largest allocation each thread asks for, so that a test can check that a
/// hostile length prefix never becomes an allocation.
struct LargestAllocation;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

// Safety: every call is passed on to the system allocator unchanged.
unsafe impl GlobalAlloc for LargestAllocation {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation(layout.size());
        // Safety: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation(layout.size());
        // Safety: the caller's contract is the system allocator's.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation(new_size);
        // Safety: the caller's contract is the system allocator's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // Safety: the caller's contract is the system allocator's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

fn note_allocation(size: usize) {
    // try_with: a thread being torn down has no slot left, and needs no record.
    let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
}

/// The largest allocation this thread asked for while running `f`.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|largest| largest.set(0));
    let value = f();
    (value, LARGEST.with(Cell::get))
}

/// Runs `wait`, a call that blocks until another process acts, and checks that it
/// sleeps through: a watcher thread waits until this thread is asleep, checks that it
/// is not put on a CPU once in the next 200 ms, then calls `release`, which lets the
/// other process act. A wait that spins never sleeps; one that polls in a sleep loop
/// wakes up again and again; one that sleeps until the event does neither. What the
/// load on the machine does (a preemption before the wait blocks) changes nothing.
fn sleeps_through<T>(
    what: &'static str,
    release: impl FnOnce() + Send + 'static,
    wait: impl FnOnce() -> T,
) -> T {
    // Safety: gettid takes no arguments.
    let tid = unsafe { libc::gettid() };
    let pid = std::process::id() as i32;
    let watcher = std::thread::spawn(move || {
        let window = Duration::from_millis(200);
        let verdict = procfs::sleeps_through(pid, tid, window, 0, timeout() / 2);
        release();
        verdict.map_err(|why| format!("{what}: {why}"))
    });
    let value = wait();
    let verdict = watcher.join().expect("the watcher thread");
    if let Err(why) = verdict {
        panic!("{why}");
    }
    value
}

/// The file descriptors this process has open.
fn open_fds() -> Vec<RawFd> {
    let mut fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    fds.sort_unstable();
    // The directory listing itself held one open while it was read.
    fds.retain(|fd| fcntl_ok(*fd));
    fds
}

fn fcntl_ok(fd: RawFd) -> bool {
    // Safety: F_GETFD only asks about an fd number; a closed one gives EBADF.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// A pidfd for any process: it polls readable once that process has ended, and reaps it
/// once it is a child of this process.
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

/// Catches SIGUSR1 in this process with a handler that does nothing, without
/// `SA_RESTART`: a blocking call it interrupts returns `EINTR`.
fn catch_sigusr1() {
    extern "C" fn ignore(_: libc::c_int) {}
    let action = SigAction::new(
        SigHandler::Handler(ignore),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // Safety: the handler does nothing at all.
    unsafe { sigaction(Signal::SIGUSR1, &action) }.expect("sigaction");
}

/// A field of `/proc/<pid>/status` (`ShdPnd`, ...) or the state of `/proc/<pid>/stat`.
fn proc_field(pid: i32, field: &str) -> String {
    if field == "state" {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
        return stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned();
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .expect("field");
    line[field.len() + 1..].trim().to_owned()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout();
    while !done() {
        assert!(Instant::now() < deadline, "waited in vain until {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// From a child: once process `pid` sleeps (blocked in a call), interrupts that sleep
/// with SIGUSR1, then waits until the signal has been handled and `pid` sleeps again.
/// Every step is seen happen, so the interruption is certain, not likely.
fn interrupt_the_sleep_of(pid: i32) {
    wait_until("it sleeps", || proc_field(pid, "state") == "S");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGUSR1).expect("kill");
    let sigusr1 = 1u64 << (libc::SIGUSR1 - 1);
    wait_until("the signal is handled", || {
        u64::from_str_radix(&proc_field(pid, "ShdPnd"), 16).unwrap() & sigusr1 == 0
    });
    wait_until("it sleeps again", || proc_field(pid, "state") == "S");
}

fn my_pid() -> i32 {
    std::process::id() as i32
}

/// Errors cross from the exercise's process to the test as their `Debug` text.
fn debug<T: std::fmt::Debug>(value: T) -> String {
    format!("{value:?}")
}

// ---- Exercise 1: start and join ----------------------------------------------------

#[test]
fn ex1_start_runs_the_target_in_a_child() {
    let (lines, child_pid, status, main) = isolated(|| {
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let name = String::from("bob");
        let mut p = Process::new(move || say(fd, &format!("hello {name} from pid {}", my_pid())));
        assert_eq!(p.pid(), None, "no pid before start");
        p.start().expect("start");
        let status = p.join().expect("join");
        (
            transcript.finish(),
            p.pid().expect("a pid after start"),
            status,
            my_pid(),
        )
    });
    assert_ne!(child_pid, main, "the target ran in another process");
    assert_eq!(status, ExitStatus::Exited(0));
    assert_eq!(lines, [format!("hello bob from pid {child_pid}")]);
}

#[test]
fn ex1_a_child_gets_its_name_and_parent() {
    let (lines, main) = isolated(|| {
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let mut first = Process::new(move || {
            let me = current_process();
            say(
                fd,
                &format!(
                    "{} {:?} parent pid {:?}",
                    me.name, me.identity, me.parent_pid
                ),
            );
        });
        let mut second =
            Process::new(move || say(fd, &current_process().name)).with_name("uploader");
        assert_eq!(
            (first.name(), second.name()),
            ("Process-1".into(), "uploader".into())
        );
        first.start().expect("start");
        assert_eq!(first.join().expect("join"), ExitStatus::Exited(0));
        second.start().expect("start");
        assert_eq!(second.join().expect("join"), ExitStatus::Exited(0));
        (transcript.finish(), my_pid())
    });
    assert_eq!(
        lines,
        [
            format!("Process-1 [1] parent pid Some({main})"),
            "uploader".into()
        ]
    );
}

/// Block, then release: `join_timeout` gives up while the child waits at a gate, and
/// `join` returns once the parent has opened it.
#[test]
fn ex1_join_waits_for_the_child() {
    let (early, status) = isolated(|| {
        let gate = Gate::new();
        let gate_ends = gate.ends();
        let mut p = Process::new(move || gate_ends.wait());
        p.start().expect("start");
        let early = p
            .join_timeout(Duration::from_millis(50))
            .expect("join_timeout");
        gate.notify();
        (early, p.join().expect("join"))
    });
    assert_eq!(
        early, None,
        "join_timeout returned before the child could have ended"
    );
    assert_eq!(status, ExitStatus::Exited(0));
}

/// A timeout of `Duration::MAX` (whose deadline `Instant` cannot represent) waits for
/// the child as long as it takes, and never panics.
#[test]
fn ex1_join_timeout_of_duration_max_waits_for_the_child() {
    let status = isolated(|| {
        let mut p = Process::new(|| std::thread::sleep(Duration::from_millis(50)));
        p.start().expect("start");
        p.join_timeout(Duration::MAX).expect("join_timeout")
    });
    assert_eq!(status, Some(ExitStatus::Exited(0)));
}

#[rstest]
#[case::returns(0, ExitStatus::Exited(0))]
#[case::panics(1, ExitStatus::Exited(101))]
#[case::exits_with_a_code(2, ExitStatus::Exited(3))]
#[case::killed_by_a_signal(3, ExitStatus::Signaled(libc::SIGKILL))]
fn ex1_join_reports_how_the_child_ended(#[case] how: u8, #[case] expected: ExitStatus) {
    let status = isolated(move || {
        let mut p = Process::new(move || match how {
            0 => {}
            1 => panic!("the target failed on purpose"),
            2 => mpkit::exit(3),
            _ => {
                // Safety: raise sends a signal to the calling process only.
                unsafe { libc::raise(libc::SIGKILL) };
            }
        });
        p.start().expect("start");
        p.join().expect("join")
    });
    assert_eq!(status, expected);
    assert_eq!(status.success(), how == 0);
}

#[test]
fn ex1_a_second_join_returns_the_same_status() {
    let statuses = isolated(|| {
        let mut p = Process::new(|| mpkit::exit(7));
        p.start().expect("start");
        (p.join().expect("join"), p.join().expect("second join"))
    });
    assert_eq!(statuses, (ExitStatus::Exited(7), ExitStatus::Exited(7)));
}

#[test]
fn ex1_starting_twice_is_an_error() {
    let (second, status) = isolated(|| {
        let mut p = Process::new(|| {});
        p.start().expect("start");
        let second = debug(p.start());
        (second, p.join().expect("join"))
    });
    assert_eq!(second, debug(Err::<(), _>(ProcessError::AlreadyStarted)));
    assert_eq!(status, ExitStatus::Exited(0));
}

#[test]
fn ex1_joining_a_process_never_started_is_an_error() {
    let result = isolated(|| {
        let mut p = Process::new(|| {});
        debug((p.join(), p.join_timeout(Duration::from_millis(1))))
    });
    let not_started = Err::<(), _>(ProcessError::NotStarted);
    assert_eq!(result, debug((&not_started, &not_started)));
}

/// A child holds a copy of everything its parent had, a sibling's `Process` included;
/// only its creator may join it.
#[test]
fn ex1_joining_from_another_process_is_an_error() {
    let (lines, first_status) = isolated(|| {
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let gate = Gate::new();
        let gate_ends = gate.ends();
        let first = Rc::new(RefCell::new(Process::new(move || gate_ends.wait())));
        first.borrow_mut().start().expect("start");
        let sibling_copy = Rc::clone(&first);
        let mut second = Process::new(move || {
            let result = sibling_copy.borrow_mut().join();
            say(fd, &format!("join from a sibling: {result:?}"));
        });
        second.start().expect("start");
        assert_eq!(second.join().expect("join"), ExitStatus::Exited(0));
        gate.notify();
        let first_status = first.borrow_mut().join().expect("join");
        (transcript.finish(), first_status)
    });
    assert_eq!(lines, ["join from a sibling: Err(NotTheParent)"]);
    assert_eq!(
        first_status,
        ExitStatus::Exited(0),
        "the sibling's attempt must not harm it"
    );
}

/// Block, then release, with a CPU check: `join` and `join_timeout` sleep until the
/// child ends, and return then, long before `join_timeout`'s own limit.
#[rstest]
#[case::join(false)]
#[case::join_timeout(true)]
fn ex1_join_sleeps_until_the_child_ends(#[case] with_timeout: bool) {
    let status = isolated(move || {
        let gate = Gate::new();
        let gate_ends = gate.ends();
        let mut p = Process::new(move || gate_ends.wait());
        p.start().expect("start");
        sleeps_through(
            "join",
            move || gate.notify(),
            || {
                if with_timeout {
                    // Longer than the exercise's deadline: only an early return passes.
                    p.join_timeout(timeout() * 2).expect("join_timeout")
                } else {
                    Some(p.join().expect("join"))
                }
            },
        )
    });
    assert_eq!(status, Some(ExitStatus::Exited(0)));
}

/// Dropping a started process that was never joined kills and reaps its child: no
/// zombie, no orphan.
#[test]
fn ex1_dropping_an_unjoined_process_kills_and_reaps_it() {
    let (pid, left) = isolated(|| {
        let gate = Gate::new();
        let gate_ends = gate.ends();
        let mut p = Process::new(move || gate_ends.wait());
        p.start().expect("start");
        let pid = p.pid().expect("pid");
        drop(p);
        (
            pid,
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok(),
        )
    });
    assert!(pid > 0);
    assert!(!left, "the child of a dropped Process is still there");
}

/// A rename after `start` changes the parent's `Process`, not the running child.
#[test]
fn ex1_a_started_child_keeps_its_name() {
    let (parent_side, child_side) = isolated(|| {
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let gate = Gate::new();
        let gate_ends = gate.ends();
        let mut p = Process::new(move || {
            gate_ends.wait();
            say(fd, &current_process().name);
        })
        .with_name("before");
        p.start().expect("start");
        p.set_name("after");
        gate.notify();
        assert_eq!(p.join().expect("join"), ExitStatus::Exited(0));
        (p.name(), transcript.finish())
    });
    assert_eq!(parent_side, "after");
    assert_eq!(child_side, ["before"]);
}

/// A signal handled while `join` sleeps does not end the wait.
#[rstest]
#[case::join(false)]
#[case::join_timeout(true)]
fn ex1_a_signal_does_not_end_the_wait(#[case] with_timeout: bool) {
    let status = isolated(move || {
        catch_sigusr1();
        let parent = my_pid();
        let mut p = Process::new(move || interrupt_the_sleep_of(parent));
        p.start().expect("start");
        if with_timeout {
            p.join_timeout(timeout() * 2).expect("join_timeout")
        } else {
            Some(p.join().expect("join"))
        }
    });
    assert_eq!(status, Some(ExitStatus::Exited(0)));
}

/// Python's `join(0)`: a zero timeout only looks, before and after the child ends.
#[test]
fn ex1_a_zero_timeout_only_looks() {
    let (running, ended) = isolated(|| {
        let gate = Gate::new();
        let gate_ends = gate.ends();
        let mut p = Process::new(move || gate_ends.wait());
        p.start().expect("start");
        let running = p.join_timeout(Duration::ZERO).expect("join_timeout");
        gate.notify();
        p.join().expect("join");
        (
            running,
            p.join_timeout(Duration::ZERO).expect("join_timeout"),
        )
    });
    assert_eq!((running, ended), (None, Some(ExitStatus::Exited(0))));
}

/// Python's `test_lose_target_ref`: once the child has it, the parent lets go of the
/// target and of everything it holds.
#[test]
fn ex1_the_parent_lets_go_of_the_target() {
    let counts = isolated(|| {
        let token = Rc::new(());
        let held = Rc::clone(&token);
        let mut p = Process::new(move || drop(held));
        let before = Rc::strong_count(&token);
        p.start().expect("start");
        p.join().expect("join");
        (before, Rc::strong_count(&token))
    });
    assert_eq!(counts, (2, 1), "the started Process still holds its target");
}

/// A copy of a `Process` inherited by another child must not start it: only its
/// creator may, and the creator still can afterwards.
#[test]
fn ex1_starting_from_another_process_is_an_error() {
    let (lines, main) = isolated(|| {
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let unstarted = Rc::new(RefCell::new(Process::new(move || {
            say(
                fd,
                &format!("started, my parent is {:?}", current_process().parent_pid),
            );
        })));
        let copy = Rc::clone(&unstarted);
        let mut other = Process::new(move || {
            let result = copy.borrow_mut().start();
            say(fd, &format!("start from another child: {result:?}"));
        });
        other.start().expect("start");
        assert_eq!(other.join().expect("join"), ExitStatus::Exited(0));
        let mut unstarted = unstarted.borrow_mut();
        unstarted.start().expect("start by the creator");
        assert_eq!(unstarted.join().expect("join"), ExitStatus::Exited(0));
        (transcript.finish(), my_pid())
    });
    assert_eq!(
        lines,
        [
            "start from another child: Err(NotTheParent)".to_owned(),
            format!("started, my parent is Some({main})"),
        ]
    );
}

/// Unlike Python, whose child waits for the threads it started (CPython's
/// `test_wait_for_threads`), a child ends when its target returns: its other threads
/// end with it. Here a thread waits at a gate that opens only after `join`.
#[test]
fn ex1_the_child_ends_when_its_target_returns() {
    let (lines, status) = isolated(|| {
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let gate = Gate::new();
        let gate_ends = gate.ends();
        let mut p = Process::new(move || {
            std::thread::spawn(move || {
                gate_ends.wait();
                say(fd, "the thread got through");
            });
            say(fd, "the target returns");
        });
        p.start().expect("start");
        let status = p.join().expect("join");
        gate.notify();
        (transcript.finish(), status)
    });
    assert_eq!(status, ExitStatus::Exited(0));
    assert_eq!(lines, ["the target returns"]);
}

/// Every descriptor a process opens in its parent (its pidfd) is closed once the
/// `Process` is dropped.
#[test]
fn ex1_a_dropped_process_leaves_no_fd_open() {
    let (before, after) = isolated(|| {
        let before = open_fds();
        for _ in 0..3 {
            let mut p = Process::new(|| {});
            p.start().expect("start");
            p.join().expect("join");
        }
        (before, open_fds())
    });
    assert_eq!(before, after);
}

// ---- Exercise 2: info and parent_pid -------------------------------------------------

#[test]
fn ex2_the_main_process_has_no_parent() {
    let parent = isolated(parent_pid);
    assert_eq!(parent, None);
}

#[test]
fn ex2_a_child_knows_its_parent_pid() {
    let (lines, main) = isolated(|| {
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let mut p = Process::new(move || {
            let getppid = std::os::unix::process::parent_id();
            say(
                fd,
                &format!("parent_pid {:?} getppid {getppid}", parent_pid()),
            );
        });
        p.start().expect("start");
        assert_eq!(p.join().expect("join"), ExitStatus::Exited(0));
        (transcript.finish(), my_pid())
    });
    assert_eq!(lines, [format!("parent_pid Some({main}) getppid {main}")]);
}

/// `parent_pid` is the pid recorded at start, like Python's `parent_process().pid`:
/// once the parent has died, `getppid()` names the process that adopted the orphan.
#[test]
fn ex2_the_parent_pid_stays_right_after_the_parent_dies() {
    let (lines, middle, main) = isolated(|| {
        // The orphan comes to this process, which reaps it below.
        // Safety: prctl with PR_SET_CHILD_SUBREAPER takes a flag and touches no memory.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) };
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let (pid_reader, pid_writer) = nix::unistd::pipe().expect("pipe");
        let ready = Gate::new();
        let ready_ends = ready.ends();
        let mut middle = Process::new(move || {
            let mut orphan = Process::new(move || {
                // Outlive the parent: no signal when it dies.
                // Safety: prctl with PR_SET_PDEATHSIG takes a signal number, here none.
                unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0) };
                // Read before the parent may go; then wait until this child is adopted
                // (its parent's pipes close before it is gone, so they cannot tell).
                let parent = std::os::unix::process::parent_id();
                ready_ends.notify();
                while std::os::unix::process::parent_id() == parent {
                    std::thread::sleep(Duration::from_millis(1));
                }
                let getppid = std::os::unix::process::parent_id();
                say(
                    fd,
                    &format!("parent_pid {:?} getppid {getppid}", parent_pid()),
                );
                say(fd, &info("orphan")[2]);
            });
            orphan.start().expect("start");
            let pid = orphan.pid().expect("pid");
            mpkit::write_all(pid_writer.as_fd(), &pid.to_le_bytes()).expect("write");
            ready_ends.wait();
            // End without killing it (dropping its Child would).
            std::mem::forget(orphan);
        });
        middle.start().expect("start");
        drop(ready);
        let mut pid = [0u8; 4];
        nix::unistd::read(&pid_reader, &mut pid).expect("the orphan's pid");
        assert_eq!(middle.join().expect("join"), ExitStatus::Exited(0));
        let orphan = pidfd_of(i32::from_le_bytes(pid));
        let how = waitid(Id::PIDFd(orphan.as_fd()), WaitPidFlag::WEXITED).expect("reap it");
        assert!(matches!(how, WaitStatus::Exited(_, 0)), "{how:?}");
        (transcript.finish(), middle.pid().expect("pid"), my_pid())
    });
    assert_eq!(
        lines,
        [
            format!("parent_pid Some({middle}) getppid {main}"),
            format!("  parent pid: {middle}"),
        ]
    );
}

/// The notebook's first cell: `info()` in the main process, then a child that runs
/// `f("bob")`, which calls `info()` and greets. Pids are redacted, each to the name of
/// the process that owns it, so the snapshot shows that the child's parent is the
/// process that ran the cell.
#[test]
fn ex2_the_notebooks_first_cell() {
    let (lines, main, child) = isolated(|| {
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let f = move |name: &str| {
            for line in info("function f") {
                say(fd, &line);
            }
            say(fd, &format!("hello {name}"));
        };
        for line in info("main line") {
            say(fd, &line);
        }
        let mut p = Process::new(move || f("bob"));
        p.start().expect("start");
        assert_eq!(p.join().expect("join"), ExitStatus::Exited(0));
        (transcript.finish(), my_pid(), p.pid().expect("pid"))
    });
    let redactor = Redactor::new().pid(main, "main").pid(child, "Process-1");
    insta::assert_snapshot!(redactor.lines(&lines).join("\n"));
}

// ---- Exercise 3: contexts --------------------------------------------------------------

#[rstest]
#[case::fork("fork", Ok("fork"))]
#[case::spawn("spawn", Err(ProcessError::UnsupportedStartMethod("spawn")))]
#[case::forkserver("forkserver", Err(ProcessError::UnsupportedStartMethod("forkserver")))]
#[case::unknown("threads", Err(ProcessError::UnknownStartMethod))]
#[case::case_matters("Fork", Err(ProcessError::UnknownStartMethod))]
fn ex3_get_context(#[case] method: &str, #[case] expected: Result<&str, ProcessError>) {
    assert_eq!(get_context(method).map(|c| c.start_method()), expected);
}

#[test]
fn ex3_the_fork_context_makes_fork_processes() {
    let lines = isolated(|| {
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let ctx = get_context("fork").expect("the fork context");
        let mut plain = Process::new(move || say(fd, &current_process().name));
        let mut forked = ctx.process(move || say(fd, &current_process().name));
        let names = format!("before start: {} {}", plain.name(), forked.name());
        for p in [&mut plain, &mut forked] {
            p.start().expect("start");
            assert_eq!(p.join().expect("join"), ExitStatus::Exited(0));
        }
        let mut lines = vec![names];
        lines.extend(transcript.finish());
        lines
    });
    assert_eq!(
        lines,
        [
            "before start: Process-1 ForkProcess-2",
            "Process-1",
            "ForkProcess-2"
        ]
    );
}

// ---- Exercise 4: frames -------------------------------------------------------

#[rstest]
#[case::small_number(&7u32, &[1, 0, 0, 0, 7])]
#[case::varint(&300u32, &[2, 0, 0, 0, 0xac, 0x02])]
#[case::empty_vec(&Vec::<u8>::new(), &[1, 0, 0, 0, 0])]
fn ex4_encode_frame(#[case] message: &dyn ErasedMessage, #[case] frame: &[u8]) {
    assert_eq!(message.frame(), Ok(frame.to_vec()));
}

/// rstest tables need one type per column: this erases the message's type.
trait ErasedMessage {
    fn frame(&self) -> Result<Vec<u8>, ChannelError>;
}

impl<T: serde::Serialize> ErasedMessage for T {
    fn frame(&self) -> Result<Vec<u8>, ChannelError> {
        encode_frame(self)
    }
}

#[test]
fn ex4_a_string_frame_is_its_length_then_its_bytes() {
    let frame = encode_frame(&String::from("hi")).expect("encode");
    assert_eq!(frame, [3, 0, 0, 0, 2, b'h', b'i']);
}

#[rstest]
#[case::just_fits(MAX_FRAME - LENGTH_PREFIX - 2, Ok(MAX_FRAME))]
#[case::one_byte_too_many(MAX_FRAME - LENGTH_PREFIX - 1, Err(MAX_FRAME + 1))]
#[case::far_too_large(100_000, Err(LENGTH_PREFIX + 3 + 100_000))]
fn ex4_frames_are_limited(#[case] bytes: usize, #[case] expected: Result<usize, usize>) {
    // A Vec<u8> of 128..16383 bytes encodes as a 2-byte length and the bytes.
    let result = encode_frame(&vec![0u8; bytes]).map(|f| f.len());
    let expected = expected.map_err(|len| ChannelError::FrameTooLarge {
        len,
        max: MAX_FRAME,
    });
    assert_eq!(result, expected);
}

#[rstest]
#[case::nothing_yet(&[], Ok(None))]
#[case::half_a_prefix(&[1, 0], Ok(None))]
#[case::body_still_coming(&[3, 0, 0, 0, 2, b'h'], Ok(None))]
#[case::one_frame(&[3, 0, 0, 0, 2, b'h', b'i'], Ok(Some(("hi".to_owned(), 7))))]
#[case::first_of_two(&[2, 0, 0, 0, 1, b'a', 2, 0, 0, 0, 1, b'b'], Ok(Some(("a".to_owned(), 6))))]
#[case::hostile_length(&[0xff, 0xff, 0xff, 0xff], Err(ChannelError::FrameTooLarge {
    len: LENGTH_PREFIX + u32::MAX as usize,
    max: MAX_FRAME,
}))]
#[case::just_over_the_limit(&(MAX_FRAME as u32 - 3).to_le_bytes(), Err(ChannelError::FrameTooLarge {
    len: MAX_FRAME + 1,
    max: MAX_FRAME,
}))]
fn ex4_decode_frame(
    #[case] bytes: &[u8],
    #[case] expected: Result<Option<(String, usize)>, ChannelError>,
) {
    assert_eq!(decode_frame::<String>(bytes), expected);
}

#[rstest]
#[case::trailing_bytes(&[4, 0, 0, 0, 2, b'h', b'i', b'!'])]
#[case::not_utf8(&[3, 0, 0, 0, 2, 0xff, 0xfe])]
#[case::length_says_more_than_the_body_holds(&[2, 0, 0, 0, 5, b'h'])]
fn ex4_malformed_frames_are_refused(#[case] bytes: &[u8]) {
    let result = decode_frame::<String>(bytes);
    assert!(
        matches!(result, Err(ChannelError::Malformed(_))),
        "{result:?}"
    );
}

/// The largest frame there is decodes too.
#[test]
fn ex4_the_largest_frame_decodes() {
    let message = vec![7u8; MAX_FRAME - LENGTH_PREFIX - 2];
    let frame = encode_frame(&message).expect("it just fits");
    assert_eq!(
        decode_frame::<Vec<u8>>(&frame),
        Ok(Some((message, MAX_FRAME)))
    );
}

/// A hostile length is refused before anything is allocated for it.
#[rstest]
#[case::u32_max(u32::MAX)]
#[case::one_byte_too_many((MAX_FRAME - LENGTH_PREFIX + 1) as u32)]
#[case::a_gigabyte(1 << 30)]
fn ex4_a_hostile_length_allocates_nothing(#[case] length: u32) {
    let mut bytes = length.to_le_bytes().to_vec();
    bytes.extend_from_slice(&[1, 2, 3]);
    let (result, largest) = largest_allocation(|| decode_frame::<Vec<u8>>(&bytes));
    assert!(
        matches!(result, Err(ChannelError::FrameTooLarge { .. })),
        "{result:?}"
    );
    assert!(
        largest <= MAX_FRAME,
        "decoding a {length}-byte length asked for {largest} bytes"
    );
}

proptest! {
    #![proptest_config(proptest_config(64))]

    /// What is encoded decodes to itself, frame after frame, using every byte once.
    #[test]
    fn ex4_frames_decode_to_what_was_encoded(
        messages in prop::collection::vec(prop::collection::vec(".{0,20}", 0..8), 1..6),
    ) {
        let mut stream = Vec::new();
        for message in &messages {
            stream.extend(encode_frame(message).expect("small messages fit"));
        }
        let mut rest = &stream[..];
        for message in &messages {
            let (decoded, used) = decode_frame::<Vec<String>>(rest)
                .expect("a well-formed frame")
                .expect("a whole frame");
            prop_assert_eq!(&decoded, message);
            rest = &rest[used..];
        }
        prop_assert!(rest.is_empty());
    }

    /// Any bytes at all: an answer, never a panic, and never more bytes used than given.
    #[test]
    fn ex4_decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(Some((_, used))) = decode_frame::<Vec<String>>(&bytes) {
            prop_assert!(used <= bytes.len());
        }
    }
}

// ---- Exercise 5: the channel -----------------------------------------------------

#[test]
fn ex5_sending_to_a_closed_channel_is_an_error() {
    let result = isolated(|| {
        let (tx, rx) = channel::<u32>().expect("channel");
        drop(rx);
        debug(tx.send(&1))
    });
    assert_eq!(result, debug(Err::<(), _>(ChannelError::Closed)));
}

#[test]
fn ex5_an_oversized_message_is_refused_and_nothing_is_lost() {
    let (refused, next) = isolated(|| {
        let (tx, mut rx) = channel::<Vec<u8>>().expect("channel");
        let refused = tx.send(&vec![1u8; MAX_FRAME]);
        tx.send(&vec![2u8; 3]).expect("send");
        (
            debug(refused),
            debug(rx.recv_timeout(Duration::from_secs(1))),
        )
    });
    let len = LENGTH_PREFIX + 2 + MAX_FRAME;
    let too_large = ChannelError::FrameTooLarge {
        len,
        max: MAX_FRAME,
    };
    assert_eq!(refused, debug(Err::<(), _>(too_large)));
    assert_eq!(
        next,
        debug(Ok::<_, ()>(vec![2, 2, 2])),
        "the refused frame left nothing"
    );
}

/// Every child sends its results; the parent drops its own sender and receives until
/// the channel reports `Closed`: exactly the multiset that was sent arrives.
fn gather(per_child: Vec<Vec<u32>>) -> Vec<(usize, u32)> {
    isolated(move || {
        let (tx, mut rx) = channel::<(usize, u32)>().expect("channel");
        let mut children = Vec::new();
        for (k, items) in per_child.into_iter().enumerate() {
            let tx = tx.try_clone().expect("clone the sender");
            let mut p = Process::new(move || {
                for item in items {
                    tx.send(&(k, item)).expect("send");
                }
            });
            p.start().expect("start");
            children.push(p);
        }
        drop(tx);
        let mut got = Vec::new();
        loop {
            match rx.recv() {
                Ok(message) => got.push(message),
                Err(ChannelError::Closed) => break,
                Err(err) => panic!("recv: {err}"),
            }
        }
        for p in &mut children {
            assert_eq!(p.join().expect("join"), ExitStatus::Exited(0));
        }
        got
    })
}

proptest! {
    #![proptest_config(proptest_config(8))]

    #[test]
    fn ex5_the_parent_receives_exactly_what_the_children_sent(
        per_child in prop::collection::vec(prop::collection::vec(any::<u32>(), 0..40), 1..=8),
    ) {
        let mut expected: Vec<(usize, u32)> = per_child
            .iter()
            .enumerate()
            .flat_map(|(k, items)| items.iter().map(move |&item| (k, item)))
            .collect();
        let mut got = gather(per_child);
        got.sort_unstable();
        expected.sort_unstable();
        prop_assert_eq!(got, expected);
    }
}

/// Block, then release: nothing arrives while the child waits at a gate.
#[test]
fn ex5_recv_timeout_waits_then_receives() {
    let (early, late) = isolated(|| {
        let (tx, mut rx) = channel::<String>().expect("channel");
        let gate = Gate::new();
        let gate_ends = gate.ends();
        let mut p = Process::new(move || {
            gate_ends.wait();
            tx.send(&"done".to_owned()).expect("send");
        });
        p.start().expect("start");
        let early = debug(rx.recv_timeout(Duration::from_millis(50)));
        gate.notify();
        let late = debug(rx.recv_timeout(Duration::from_secs(2)));
        p.join().expect("join");
        (early, late)
    });
    assert_eq!(early, debug(Err::<String, _>(ChannelError::Timeout)));
    assert_eq!(late, debug(Ok::<_, ChannelError>("done".to_owned())));
}

/// A timeout of `Duration::MAX` waits for the message as long as it takes.
#[test]
fn ex5_recv_timeout_of_duration_max_waits_for_the_message() {
    let received = isolated(|| {
        let (tx, mut rx) = channel::<String>().expect("channel");
        let mut p = Process::new(move || {
            std::thread::sleep(Duration::from_millis(50));
            tx.send(&"late".to_owned()).expect("send");
        });
        p.start().expect("start");
        let received = debug(rx.recv_timeout(Duration::MAX));
        p.join().expect("join");
        received
    });
    assert_eq!(received, debug(Ok::<_, ChannelError>("late".to_owned())));
}

/// The classic bug: the parent keeps its own sender, so the end of the stream never
/// comes, even after every child has exited.
#[test]
fn ex5_a_sender_left_open_means_no_end_of_stream() {
    let (with_sender, without) = isolated(|| {
        let (tx, mut rx) = channel::<u8>().expect("channel");
        let child_tx = tx.try_clone().expect("clone");
        let mut p = Process::new(move || child_tx.send(&1).expect("send"));
        p.start().expect("start");
        assert_eq!(p.join().expect("join"), ExitStatus::Exited(0));
        assert_eq!(rx.recv_timeout(Duration::from_secs(1)), Ok(1));
        let with_sender = debug(rx.recv_timeout(Duration::from_millis(50)));
        drop(tx);
        (with_sender, debug(rx.recv_timeout(Duration::from_secs(1))))
    });
    assert_eq!(with_sender, debug(Err::<u8, _>(ChannelError::Timeout)));
    assert_eq!(without, debug(Err::<u8, _>(ChannelError::Closed)));
}

/// Writes `bytes` straight into a channel's pipe, as a sender that makes its own frames
/// (or a hostile one) would.
fn write_raw<T>(tx: &workbook::ch02_first_taste::Sender<T>, bytes: &[u8]) {
    mpkit::write_all(tx.as_fd(), bytes).expect("write to the pipe");
}

/// A frame sent with two writes can have another process's frame in between. With the
/// pipe in packet mode (`O_DIRECT`), each read returns what one write wrote: each must
/// be one whole frame.
#[test]
fn ex5_each_frame_is_one_write() {
    let (reads, frames) = isolated(|| {
        let (tx, rx) = channel::<Vec<u8>>().expect("channel");
        set_packet_mode(tx.as_fd());
        let messages: Vec<Vec<u8>> = [0, 1, 200, MAX_FRAME - LENGTH_PREFIX - 2]
            .iter()
            .map(|&n| vec![9u8; n])
            .collect();
        let mut reads = Vec::new();
        for message in &messages {
            tx.send(message).expect("send");
            let mut buf = vec![0u8; 2 * MAX_FRAME];
            let n = nix::unistd::read(&rx, &mut buf).expect("read");
            reads.push(buf[..n].to_vec());
        }
        let frames: Vec<Vec<u8>> = messages.iter().map(|m| encode_frame(m).unwrap()).collect();
        (reads, frames)
    });
    assert_eq!(reads, frames);
}

fn set_packet_mode(fd: BorrowedFd<'_>) {
    // Safety: F_GETFL and F_SETFL read and set the flags of an fd this process holds.
    let ok = unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_DIRECT) == 0
    };
    assert!(
        ok,
        "O_DIRECT on a pipe: {}",
        std::io::Error::last_os_error()
    );
}

/// Frames that came in one read are all delivered, in order, then `Closed`; the
/// receiver is an iterator over the same messages.
#[test]
fn ex5_frames_that_arrive_together_all_come_out() {
    let (one_by_one, iterated) = isolated(|| {
        let (tx, mut rx) = channel::<u32>().expect("channel");
        for n in 1..=3 {
            tx.send(&n).expect("send");
        }
        drop(tx);
        let one_by_one = debug((rx.recv(), rx.recv(), rx.recv(), rx.recv(), rx.recv()));
        let (tx, rx) = channel::<u32>().expect("channel");
        for n in 4..=6 {
            tx.send(&n).expect("send");
        }
        drop(tx);
        (one_by_one, rx.collect::<Vec<u32>>())
    });
    let ok = |n: u32| Ok::<u32, ChannelError>(n);
    let closed = Err::<u32, _>(ChannelError::Closed);
    assert_eq!(one_by_one, debug((ok(1), ok(2), ok(3), &closed, &closed)));
    assert_eq!(iterated, [4, 5, 6]);
}

/// A frame may reach the pipe in pieces; what came so far is kept across timeouts.
#[test]
fn ex5_a_frame_in_pieces_is_put_back_together() {
    let answers = isolated(|| {
        let (tx, mut rx) = channel::<String>().expect("channel");
        let frame = encode_frame(&"pieces".to_owned()).expect("encode");
        let mut answers = Vec::new();
        for piece in [&frame[..2], &frame[2..6], &frame[6..]] {
            answers.push(debug(rx.recv_timeout(Duration::from_millis(20))));
            write_raw(&tx, piece);
        }
        answers.push(debug(rx.recv_timeout(timeout())));
        answers
    });
    let timed_out = debug(Err::<String, _>(ChannelError::Timeout));
    assert_eq!(
        answers,
        [
            timed_out.clone(),
            timed_out.clone(),
            timed_out,
            debug(Ok::<_, ChannelError>("pieces".to_owned()))
        ]
    );
}

/// A hostile length prefix is refused as soon as it arrives: the receiver neither waits
/// for the bytes it announces nor allocates them.
#[test]
fn ex5_a_hostile_length_is_refused_at_once() {
    let (result, largest) = isolated(|| {
        let (tx, mut rx) = channel::<Vec<u8>>().expect("channel");
        write_raw(&tx, &u32::MAX.to_le_bytes());
        let (result, largest) = largest_allocation(|| rx.recv_timeout(timeout() * 2));
        (debug(result), largest)
    });
    let too_large = ChannelError::FrameTooLarge {
        len: LENGTH_PREFIX + u32::MAX as usize,
        max: MAX_FRAME,
    };
    assert_eq!(result, debug(Err::<Vec<u8>, _>(too_large)));
    assert!(largest <= 1 << 20, "receiving it asked for {largest} bytes");
}

#[rstest]
#[case::cut_short(&[5, 0, 0, 0, 4, b'a'])]
#[case::cut_in_the_prefix(&[5, 0])]
#[case::not_a_string(&[3, 0, 0, 0, 2, 0xff, 0xfe])]
#[case::trailing_bytes(&[4, 0, 0, 0, 2, b'h', b'i', b'!'])]
fn ex5_bad_bytes_are_malformed(#[case] bytes: &'static [u8]) {
    let result = isolated(move || {
        let (tx, mut rx) = channel::<String>().expect("channel");
        write_raw(&tx, bytes);
        drop(tx);
        debug(rx.recv_timeout(timeout() * 2))
    });
    assert!(result.starts_with("Err(Malformed("), "{result}");
}

/// Block, then release, with a CPU check: `recv` sleeps until a message arrives.
#[rstest]
#[case::recv(false)]
#[case::recv_timeout(true)]
fn ex5_recv_sleeps_until_a_message_arrives(#[case] with_timeout: bool) {
    let got = isolated(move || {
        let (tx, mut rx) = channel::<String>().expect("channel");
        let gate = Gate::new();
        let gate_ends = gate.ends();
        let mut p = Process::new(move || {
            gate_ends.wait();
            tx.send(&"late".to_owned()).expect("send");
        });
        p.start().expect("start");
        let got = sleeps_through(
            "recv",
            move || gate.notify(),
            || {
                if with_timeout {
                    rx.recv_timeout(timeout() * 2)
                } else {
                    rx.recv()
                }
            },
        );
        p.join().expect("join");
        debug(got)
    });
    assert_eq!(got, debug(Ok::<_, ChannelError>("late".to_owned())));
}

/// A signal handled while `recv` sleeps does not end the wait.
#[rstest]
#[case::recv(false)]
#[case::recv_timeout(true)]
fn ex5_a_signal_does_not_end_the_wait(#[case] with_timeout: bool) {
    let got = isolated(move || {
        catch_sigusr1();
        let parent = my_pid();
        let (tx, mut rx) = channel::<String>().expect("channel");
        let mut p = Process::new(move || {
            interrupt_the_sleep_of(parent);
            tx.send(&"after the signal".to_owned()).expect("send");
        });
        p.start().expect("start");
        let got = if with_timeout {
            rx.recv_timeout(timeout() * 2)
        } else {
            rx.recv()
        };
        p.join().expect("join");
        debug(got)
    });
    assert_eq!(
        got,
        debug(Ok::<_, ChannelError>("after the signal".to_owned()))
    );
}

/// A zero timeout does not wait, but takes a message that is there already.
#[test]
fn ex5_a_zero_timeout_takes_what_is_there() {
    let answers = isolated(|| {
        let (tx, mut rx) = channel::<u8>().expect("channel");
        let empty = rx.recv_timeout(Duration::ZERO);
        tx.send(&5).expect("send");
        debug((empty, rx.recv_timeout(Duration::ZERO)))
    });
    assert_eq!(
        answers,
        debug((
            Err::<u8, _>(ChannelError::Timeout),
            Ok::<u8, ChannelError>(5)
        ))
    );
}

/// Every descriptor of a channel is closed once its ends are dropped.
#[test]
fn ex5_a_dropped_channel_leaves_no_fd_open() {
    let (before, after) = isolated(|| {
        let before = open_fds();
        let (tx, mut rx) = channel::<u8>().expect("channel");
        let tx2 = tx.try_clone().expect("clone");
        tx.send(&1).expect("send");
        tx2.send(&2).expect("send");
        assert_eq!(rx.recv(), Ok(1));
        assert_eq!(rx.recv(), Ok(2));
        drop((tx, tx2, rx));
        (before, open_fds())
    });
    assert_eq!(before, after);
}

// ---- Given: errors, and the child of a Process ------------------------------------------

#[rstest]
#[case::already_started(ProcessError::AlreadyStarted, "cannot start a process twice")]
#[case::not_started(ProcessError::NotStarted, "can only join a started process")]
#[case::not_the_parent(
    ProcessError::NotTheParent,
    "can only start or join a process created by this process"
)]
#[case::unsupported(
    ProcessError::UnsupportedStartMethod("spawn"),
    "start method \"spawn\" is not supported here; use \"fork\""
)]
#[case::unknown(ProcessError::UnknownStartMethod, "unknown start method")]
#[case::os(
    ProcessError::Os(nix::errno::Errno::EAGAIN),
    "system call failed: EAGAIN"
)]
fn given_process_errors_say_what_went_wrong(#[case] err: ProcessError, #[case] text: &str) {
    assert!(err.to_string().starts_with(text), "{err}");
}

#[rstest]
#[case::too_large(
    ChannelError::FrameTooLarge { len: 5000, max: 4096 },
    "a frame of 5000 bytes is larger than the limit of 4096"
)]
#[case::malformed(ChannelError::Malformed("why".into()), "malformed frame: why")]
#[case::closed(ChannelError::Closed, "the other end of the channel is closed")]
#[case::timeout(ChannelError::Timeout, "no message before the deadline")]
#[case::os(
    ChannelError::Os(nix::errno::Errno::EBADF),
    "system call failed: EBADF"
)]
fn given_channel_errors_say_what_went_wrong(#[case] err: ChannelError, #[case] text: &str) {
    assert!(err.to_string().starts_with(text), "{err}");
}

#[test]
fn given_the_child_can_be_reached_and_taken() {
    let answers = isolated(|| {
        let mut p = Process::new(|| mpkit::exit(5));
        let before = (p.child_mut().is_none(), format!("{p:?}"));
        p.start().expect("start");
        let pid = p.pid().expect("pid");
        let reached = p.child_mut().map(|c| c.pid());
        let shown = format!("{p:?}");
        let mut child = p.take_child().expect("the child");
        let after = (p.pid(), p.child_mut().is_none(), p.take_child().is_none());
        let status = child.wait().expect("wait");
        let shown = [before.1, shown].map(|s| s.replace(&pid.to_string(), "<child>"));
        let shown = shown.map(|s| s.replace(&my_pid().to_string(), "<main>"));
        (before.0, reached == Some(pid), shown, after, status)
    });
    assert_eq!(
        answers,
        (
            true,
            true,
            [
                "Process { name: \"Process-1\", pid: None, creator: <main>, \
                 target_taken: false }"
                    .to_owned(),
                "Process { name: \"Process-1\", pid: Some(<child>), creator: <main>, \
                 target_taken: true }"
                    .to_owned()
            ],
            (None, true, true),
            ExitStatus::Exited(5),
        )
    );
}
