//! Chapter 1, Basic Setup: who is speaking?
//!
//! `cargo test --test ch01_setup` grades chapters/ch01_setup; add `--features solutions`
//! to run the same tests against the reference solution. Test names start with the
//! exercise id: `cargo test --test ch01_setup ex2` runs exercise 2 alone.

use std::os::fd::{AsRawFd, RawFd};
use std::thread;

use log::{debug, info, LevelFilter};
use mpkit::testkit::{
    assert_same_lines, isolated, proptest_config, reap, say, Gate, Redactor, Transcript,
};
use mpkit::{fork_child, ExitStatus};
use proptest::prelude::*;
use rstest::rstest;
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

#[test]
fn ex2_threads_never_get_the_same_child_number() {
    let mut numbers = isolated(|| {
        let threads: Vec<_> = (0..4)
            .map(|_| thread::spawn(|| (0..250).map(|_| next_child_identity()).collect::<Vec<_>>()))
            .collect();
        threads
            .into_iter()
            // A panic in a thread carries on as the exercise's own, message and all.
            .flat_map(|t| {
                t.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .map(|identity| identity[0])
            .collect::<Vec<u32>>()
    });
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=1000).collect::<Vec<u32>>());
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
