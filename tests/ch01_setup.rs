//! Chapter 1, Basic Setup: who is speaking?
//!
//! `cargo test --test ch01_setup` grades chapters/ch01_setup; add `--features solutions`
//! to run the same tests against the reference solution. Test names start with the
//! exercise id: `cargo test --test ch01_setup ex2` runs exercise 2 alone.

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::Ordering::SeqCst;

use log::{debug, info, Level, LevelFilter, Log, Record};
use mpkit::testkit::{
    assert_same_lines, isolated, proptest_config, reap, say, Gate, Redactor, Transcript,
};
use mpkit::{fork_child, ExitStatus};
use nix::fcntl::OFlag;
use proptest::prelude::*;
use rstest::rstest;
use workbook::ch01_setup::state::CHILDREN_STARTED;
use workbook::ch01_setup::{
    current_process, enter_child, log_to_fd, log_to_stderr, next_child_identity, process_name,
    ProcessKind, ProcessLogger, ProcessRecord, StateError,
};

/// The record a parent hands to a child it forks.
fn record(kind: ProcessKind, identity: Vec<u32>, name: Option<&str>) -> ProcessRecord {
    ProcessRecord {
        kind,
        identity,
        name: name.map(str::to_owned),
        parent_pid: Some(std::process::id() as i32),
    }
}

/// Forks a child that takes `record` and runs `body`; waits for it and checks it
/// ended well.
fn run_child(record: ProcessRecord, body: impl FnOnce()) -> i32 {
    let mut child = fork_child(|| {
        enter_child(record).expect("enter_child in a forked child");
        body();
    })
    .expect("fork");
    assert_eq!(reap(&mut child), ExitStatus::Exited(0), "the child failed");
    child.pid()
}

// ---- Exercise 1: names -------------------------------------------------------------

#[rstest]
#[case::main_process(ProcessKind::Process, &[], "MainProcess")]
#[case::main_process_of_any_kind(ProcessKind::ForkProcess, &[], "MainProcess")]
#[case::first_child(ProcessKind::Process, &[1], "Process-1")]
#[case::fork_context(ProcessKind::ForkProcess, &[2], "ForkProcess-2")]
#[case::pool_worker(ProcessKind::ForkPoolWorker, &[3], "ForkPoolWorker-3")]
#[case::child_of_a_child(ProcessKind::Process, &[23, 1], "Process-23:1")]
#[case::deep(ProcessKind::ForkProcess, &[1, 2, 3, 40], "ForkProcess-1:2:3:40")]
fn ex1_process_name(#[case] kind: ProcessKind, #[case] identity: &[u32], #[case] name: &str) {
    assert_eq!(process_name(kind, identity), name);
}

// ---- Exercise 2: current_process and child numbers ---------------------------------

#[test]
fn ex2_the_original_process_is_main_process() {
    let (name, pid, identity, parent, me) = isolated(|| {
        let info = current_process();
        let me = std::process::id() as i32;
        (info.name, info.pid, info.identity, info.parent_pid, me)
    });
    assert_eq!(name, "MainProcess");
    assert_eq!(pid, me, "current_process().pid is the caller's pid");
    assert!(identity.is_empty());
    assert_eq!(parent, None);
}

#[test]
fn ex2_children_are_numbered_from_one() {
    let identities = isolated(|| (0..3).map(|_| next_child_identity()).collect::<Vec<_>>());
    assert_eq!(identities, vec![vec![1], vec![2], vec![3]]);
}

#[test]
fn ex2_a_child_knows_itself_and_numbers_its_own_children() {
    let (lines, main_pid, child_pid) = isolated(|| {
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        // Asked before the fork too: nothing of the parent's answer may stick.
        assert_eq!(current_process().name, "MainProcess");
        let _first = next_child_identity();
        let identity = next_child_identity();
        let child_pid = run_child(record(ProcessKind::Process, identity, None), || {
            let me = current_process();
            say(fd, &format!("name {}", me.name));
            say(fd, &format!("identity {:?}", me.identity));
            say(fd, &format!("parent pid {:?}", me.parent_pid));
            say(
                fd,
                &format!(
                    "pid {} is mine: {}",
                    me.pid,
                    me.pid as u32 == std::process::id()
                ),
            );
            say(
                fd,
                &format!(
                    "my children {:?} {:?}",
                    next_child_identity(),
                    next_child_identity()
                ),
            );
        });
        (transcript.finish(), std::process::id() as i32, child_pid)
    });
    let redactor = Redactor::new()
        .pid(main_pid, "main")
        .pid(child_pid, "child");
    assert_eq!(
        redactor.lines(&lines),
        [
            "name Process-2",
            "identity [2]",
            &format!("parent pid Some({main_pid})"),
            "pid <child> is mine: true",
            "my children [2, 1] [2, 2]",
        ]
    );
}

#[test]
fn ex2_a_given_name_replaces_the_default() {
    let lines = isolated(|| {
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let identity = next_child_identity();
        run_child(
            record(ProcessKind::ForkProcess, identity, Some("uploader")),
            || {
                say(fd, &current_process().name);
            },
        );
        transcript.finish()
    });
    assert_eq!(lines, ["uploader"]);
}

/// Another thread that takes a number between two steps of this one's must not get
/// the same number. A hardware watchpoint on the counter forces that moment: right
/// after the first instruction of `next_child_identity` that touches the counter, a
/// SIGTRAP handler takes a number the way another thread would. A read, then a write
/// (or a `fetch_add`, then a second read) hands out that number twice, on every run.
/// Where watchpoints are not allowed (`perf_event_paranoid` 3, some containers), many
/// threads take numbers at once instead, which catches it only now and then.
#[test]
fn ex2_a_number_taken_in_between_is_never_given_twice() {
    let (forced, hammered) = isolated(|| match taken_in_between() {
        Some((mine, theirs)) => (Some((mine, theirs, next_child_identity()[0])), vec![]),
        None => (None, taken_by_threads(4, 20_000)),
    });
    if let Some((mine, theirs, next)) = forced {
        assert_ne!(
            mine, theirs,
            "the number taken in between was given out again"
        );
        assert_eq!((mine.min(theirs), mine.max(theirs), next), (1, 2, 3));
    } else {
        let mut numbers = hammered.clone();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(
            numbers.len(),
            hammered.len(),
            "{} numbers were given out twice",
            hammered.len() - numbers.len()
        );
    }
}

/// Calls `next_child_identity` once with a one-shot watchpoint on the child counter: at
/// the first access to it, the handler takes a number and removes the watchpoint.
/// Returns the call's number and the handler's, or `None` when no watchpoint could be
/// set or none fired.
fn taken_in_between() -> Option<(u32, u32)> {
    watch::arm(&CHILDREN_STARTED).ok()?;
    let mine = next_child_identity()[0];
    watch::disarm();
    match watch::TOOK.load(SeqCst) {
        0 => None,
        theirs => Some((mine, theirs)),
    }
}

/// `threads` threads, let go at once, each take `each` child numbers.
fn taken_by_threads(threads: usize, each: usize) -> Vec<u32> {
    let start = std::sync::Arc::new(std::sync::Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let start = std::sync::Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                (0..each)
                    .map(|_| next_child_identity()[0])
                    .collect::<Vec<u32>>()
            })
        })
        .collect();
    handles
        .into_iter()
        // A panic in a thread carries on as the exercise's own, message and all.
        .flat_map(|t| {
            t.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
        .collect()
}

/// A hardware watchpoint through `perf_event_open` (Linux 5.13 or later for `sigtrap`).
mod watch {
    use std::sync::atomic::Ordering::SeqCst;
    use std::sync::atomic::{AtomicI32, AtomicU32};

    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    use workbook::ch01_setup::state::CHILDREN_STARTED;

    /// The number the handler took, 0 until it fired.
    pub static TOOK: AtomicU32 = AtomicU32::new(0);
    static EVENT: AtomicI32 = AtomicI32::new(-1);

    const PERF_TYPE_BREAKPOINT: u32 = 5;
    const HW_BREAKPOINT_RW: u32 = 3;
    const PERF_EVENT_IOC_DISABLE: libc::c_ulong = 0x2401;
    const EXCLUDE_KERNEL: u64 = 1 << 5;
    const EXCLUDE_HV: u64 = 1 << 6;
    const REMOVE_ON_EXEC: u64 = 1 << 36;
    const SIGTRAP_ON_EVENT: u64 = 1 << 37;
    const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;

    /// `struct perf_event_attr` up to `sig_data` (PERF_ATTR_SIZE_VER7).
    #[repr(C)]
    #[derive(Default)]
    struct PerfEventAttr {
        kind: u32,
        size: u32,
        config: u64,
        sample_period: u64,
        sample_type: u64,
        read_format: u64,
        flags: u64,
        wakeup_events: u32,
        bp_type: u32,
        bp_addr: u64,
        bp_len: u64,
        branch_sample_type: u64,
        sample_regs_user: u64,
        sample_stack_user: u32,
        clockid: i32,
        sample_regs_intr: u64,
        aux_watermark: u32,
        sample_max_stack: u16,
        reserved2: u16,
        aux_sample_size: u32,
        reserved3: u32,
        sig_data: u64,
    }

    extern "C" fn on_access(_: libc::c_int) {
        // Safety: ioctl on the event's fd, which stays open until disarm; it is
        // async-signal-safe.
        unsafe { libc::ioctl(EVENT.load(SeqCst), PERF_EVENT_IOC_DISABLE, 0) };
        // What another thread taking a child number would do, at this very moment.
        TOOK.store(CHILDREN_STARTED.fetch_add(1, SeqCst) + 1, SeqCst);
    }

    /// Watches `word` on this thread until [`disarm`].
    pub fn arm(word: &AtomicU32) -> std::io::Result<()> {
        let action = SigAction::new(
            SigHandler::Handler(on_access),
            SaFlags::empty(),
            SigSet::empty(),
        );
        // Safety: the handler makes one ioctl and touches atomics only.
        unsafe { sigaction(Signal::SIGTRAP, &action) }?;
        let attr = PerfEventAttr {
            kind: PERF_TYPE_BREAKPOINT,
            size: std::mem::size_of::<PerfEventAttr>() as u32,
            sample_period: 1,
            flags: EXCLUDE_KERNEL | EXCLUDE_HV | REMOVE_ON_EXEC | SIGTRAP_ON_EVENT,
            bp_type: HW_BREAKPOINT_RW,
            bp_addr: word.as_ptr() as u64,
            bp_len: 4,
            ..PerfEventAttr::default()
        };
        TOOK.store(0, SeqCst);
        // Safety: perf_event_open reads the attr struct, alive for the call; pid 0 and
        // cpu -1 watch the calling thread wherever it runs.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_perf_event_open,
                &attr as *const PerfEventAttr,
                0,
                -1,
                -1,
                PERF_FLAG_FD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        EVENT.store(fd as i32, SeqCst);
        Ok(())
    }

    /// Removes the watchpoint.
    pub fn disarm() {
        let fd = EVENT.swap(-1, SeqCst);
        // Safety: closes the event's fd, which this module opened.
        unsafe { libc::close(fd) };
    }
}

#[test]
fn given_enter_child_refuses_the_original_process() {
    let main = record(ProcessKind::Process, vec![9], None);
    assert_eq!(enter_child(main), Err(StateError::NotAForkedChild));
}

// ---- Exercise 3: the logger --------------------------------------------------------

#[rstest]
#[case::main("MainProcess", "starting", "[MainProcess]: starting\n")]
#[case::child("Process-1", "child says 42", "[Process-1]: child says 42\n")]
#[case::grandchild("Process-23:1", "", "[Process-23:1]: \n")]
fn ex3_format_line(#[case] name: &str, #[case] message: &str, #[case] line: &str) {
    assert_eq!(
        ProcessLogger::format_line(name, &format_args!("{message}")),
        line
    );
}

/// A family: the main process, two children (one of a fork context), a grandchild.
/// Each joins its children before going on, so the order of the lines is fixed.
#[test]
fn ex3_every_line_names_its_process() {
    let (lines, pids) = isolated(|| {
        let transcript = Transcript::new();
        log_to_fd(transcript.fd().as_raw_fd(), LevelFilter::Info).expect("install the logger");
        let main = std::process::id() as i32;
        info!("starting the family, pid {main}");
        debug!("below the level: never written");
        let first = run_child(
            record(ProcessKind::Process, next_child_identity(), None),
            || {
                let me = std::process::id();
                info!("hello, my parent is pid {main}");
                run_child(
                    record(ProcessKind::Process, next_child_identity(), None),
                    || {
                        info!("a grandchild, my parent is pid {me}");
                    },
                );
                info!("my child is done");
            },
        );
        let second = run_child(
            record(ProcessKind::ForkProcess, next_child_identity(), None),
            || {
                info!("from a fork context, pid {}", std::process::id());
            },
        );
        info!("all done");
        (transcript.finish(), [main, first, second])
    });
    let redactor = Redactor::new()
        .pid(pids[0], "main")
        .pid(pids[1], "Process-1")
        .pid(pids[2], "ForkProcess-2");
    insta::assert_snapshot!(redactor.lines(&lines).join("\n"));
}

/// The line that process `k` writes `j`-th: long enough that two writes per line would
/// let other processes' lines in between.
fn payload(k: usize, j: usize, len: usize) -> String {
    format!("process {k} line {j} {}", "x".repeat(len))
}

fn write_lines(processes: usize, lines: usize, len: usize) -> Vec<String> {
    isolated(|| {
        let transcript = Transcript::new();
        log_to_fd(transcript.fd().as_raw_fd(), LevelFilter::Info).expect("install the logger");
        // Every child waits at the gate until the last one is forked, so that they all
        // write at once: a child forked alone would finish before the next one starts.
        let mut gate = Gate::new();
        let ends = gate.ends();
        let mut children = Vec::new();
        for k in 1..=processes {
            let identity = next_child_identity();
            children.push(
                fork_child(move || {
                    enter_child(record(ProcessKind::Process, identity, None)).unwrap();
                    ends.pass();
                    for j in 0..lines {
                        info!("{}", payload(k, j, len));
                    }
                })
                .expect("fork"),
            );
        }
        gate.open();
        for child in &mut children {
            assert_eq!(reap(child), ExitStatus::Exited(0));
        }
        transcript.finish()
    })
}

proptest! {
    #![proptest_config(proptest_config(8))]

    /// N processes logging M lines each give exactly N x M whole lines, each one of the
    /// lines that were logged, each once.
    #[test]
    fn ex3_lines_from_many_processes_never_tear(
        processes in 2usize..=6,
        lines in 1usize..=40,
        len in 0usize..=3000,
    ) {
        let got = write_lines(processes, lines, len);
        prop_assert_eq!(got.len(), processes * lines);
        let expected: Vec<String> = (1..=processes)
            .flat_map(|k| (0..lines).map(move |j| format!("[Process-{k}]: {}", payload(k, j, len))))
            .collect();
        // The order across processes is not guaranteed; torn lines show as missing.
        assert_same_lines(&got, &expected);
    }
}

/// Children inherit the fd, not a copy of the logger's state that could go stale.
#[test]
fn ex3_a_child_logs_through_the_inherited_logger() {
    let lines = isolated(|| {
        let transcript = Transcript::new();
        let fd: RawFd = transcript.fd().as_raw_fd();
        log_to_fd(fd, LevelFilter::Debug).expect("install the logger");
        run_child(
            record(ProcessKind::ForkPoolWorker, next_child_identity(), None),
            || {
                debug!("debug is enabled here");
            },
        );
        transcript.finish()
    });
    assert_eq!(lines, ["[ForkPoolWorker-1]: debug is enabled here"]);
}

/// The level is the logger's own promise, not only the `log` macros' filter: a record
/// below it, handed to `log` directly, writes nothing.
#[test]
fn ex3_a_record_below_the_level_writes_nothing() {
    let lines = isolated(|| {
        let transcript = Transcript::new();
        let logger = ProcessLogger::new(transcript.fd().as_raw_fd(), LevelFilter::Info);
        for level in [
            Level::Trace,
            Level::Debug,
            Level::Info,
            Level::Warn,
            Level::Error,
        ] {
            logger.log(
                &Record::builder()
                    .level(level)
                    .args(format_args!("at {level}"))
                    .build(),
            );
        }
        transcript.finish()
    });
    assert_eq!(
        lines,
        [
            "[MainProcess]: at INFO",
            "[MainProcess]: at WARN",
            "[MainProcess]: at ERROR"
        ]
    );
}

/// Two writes per line can let another process's line in between. In a pipe in packet
/// mode (`O_DIRECT`) each read returns what one write wrote: each must be a whole line.
#[test]
fn ex3_each_line_is_one_write() {
    let (reads, expected) = isolated(|| {
        let (read_end, write_end) = nix::unistd::pipe2(OFlag::O_DIRECT).expect("pipe2");
        log_to_fd(write_end.as_raw_fd(), LevelFilter::Info).expect("install the logger");
        let lengths = [0, 1, 100, 4000];
        let mut reads = Vec::new();
        for len in lengths {
            info!("{}", "y".repeat(len));
            let mut buf = vec![0u8; 8192];
            let n = nix::unistd::read(&read_end, &mut buf).expect("read");
            reads.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        let expected: Vec<String> = lengths
            .iter()
            .map(|&len| format!("[MainProcess]: {}\n", "y".repeat(len)))
            .collect();
        (reads, expected)
    });
    assert_eq!(reads, expected);
}

/// The logger takes no lock: a child forked while a thread of its parent is inside
/// `log` (blocked on a full pipe) still logs. A lock held by that thread would be held
/// in the child for good, since the thread does not exist there.
#[test]
fn ex3_a_child_logs_while_a_thread_of_its_parent_is_inside_log() {
    let lines = isolated(|| {
        let (read_end, write_end) = nix::unistd::pipe().expect("pipe");
        log_to_fd(write_end.as_raw_fd(), LevelFilter::Info).expect("install the logger");
        let pipe_size = fill(&write_end);
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let blocked = std::thread::spawn(move || {
            // Safety: gettid takes no arguments.
            tid_tx.send(unsafe { libc::gettid() }).expect("send");
            info!("from a thread, after a wait");
        });
        let tid = tid_rx.recv().expect("the thread's id");
        if !wait_until_asleep(tid) {
            // The thread ended instead: carry its panic on, or say what went wrong.
            match blocked.join() {
                Err(panic) => std::panic::resume_unwind(panic),
                Ok(()) => panic!("logging to a full pipe returned instead of waiting"),
            }
        }
        let reader = read_end.as_raw_fd();
        let identity = next_child_identity();
        let mut child = fork_child(move || {
            enter_child(record(ProcessKind::Process, identity, None)).unwrap();
            // Make room: the thread in the parent gets through too.
            drain(reader, pipe_size);
            info!("from the child");
        })
        .expect("fork");
        assert_eq!(reap(&mut child), ExitStatus::Exited(0), "the child hung");
        blocked.join().expect("the thread");
        drop(write_end);
        let mut rest = Vec::new();
        std::fs::File::from(read_end)
            .read_to_end(&mut rest)
            .expect("read");
        String::from_utf8(rest)
            .expect("utf-8")
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    });
    assert_same_lines(
        &lines,
        &[
            "[MainProcess]: from a thread, after a wait",
            "[Process-1]: from the child",
        ],
    );
}

/// Fills the pipe: returns how many bytes it took.
fn fill(write_end: &OwnedFd) -> usize {
    let fd = write_end.as_raw_fd();
    let chunk = [b'.'; 4096];
    let mut total = 0;
    // Safety: fcntl and write on an fd this process holds; O_NONBLOCK is taken off
    // again before the pipe is used for anything else.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        loop {
            let n = libc::write(fd, chunk.as_ptr().cast(), chunk.len());
            if n <= 0 {
                break;
            }
            total += n as usize;
        }
        libc::fcntl(fd, libc::F_SETFL, flags);
    }
    total
}

/// Reads and drops `len` bytes.
fn drain(fd: RawFd, mut len: usize) {
    let mut buf = [0u8; 4096];
    while len > 0 {
        let want = len.min(buf.len());
        // Safety: reads into a live buffer of at least `want` bytes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), want) };
        assert!(n > 0, "drain the pipe: {}", std::io::Error::last_os_error());
        len -= n as usize;
    }
}

/// Waits until thread `tid` of this process sleeps (blocked in a system call); false if
/// it ended instead.
fn wait_until_asleep(tid: i32) -> bool {
    let deadline = std::time::Instant::now() + mpkit::testkit::timeout();
    loop {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")) else {
            return false;
        };
        match stat.rsplit(')').next().unwrap().split_whitespace().next() {
            Some("S") => return true,
            Some("Z") | Some("X") => return false,
            _ => {}
        }
        assert!(
            std::time::Instant::now() < deadline,
            "thread {tid} never slept"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Python's `log_to_stderr()`: the same lines, on fd 2.
#[test]
fn ex3_log_to_stderr_writes_to_fd_2() {
    let lines = isolated(|| {
        let transcript = Transcript::new();
        // Safety: dup and dup2 on fds this process holds open; fd 2 is put back below.
        let saved = unsafe {
            let saved = libc::dup(2);
            libc::dup2(transcript.fd().as_raw_fd(), 2);
            saved
        };
        log_to_stderr(LevelFilter::Warn).expect("install the logger");
        log::warn!("disk almost full");
        log::info!("below the level");
        // Safety: restores fd 2 from the copy made above, then closes the copy.
        unsafe {
            libc::dup2(saved, 2);
            libc::close(saved);
        }
        transcript.finish()
    });
    assert_eq!(lines, ["[MainProcess]: disk almost full"]);
}

#[test]
fn given_state_errors_say_what_went_wrong() {
    assert_eq!(
        StateError::NotAForkedChild.to_string(),
        "enter_child must be called in a forked child, right after fork"
    );
}
