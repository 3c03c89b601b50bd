//! The test kit's own guarantees: a deadlock in an exercise becomes a failure that names
//! the exercise within the deadline, and no process of the exercise outlives the test.
//! Not graded: these pass against the skeletons too.

use std::os::fd::AsRawFd;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mpkit::testkit::procfs::{self, sleeps_through, stat, status_kib, thread_stat};
use mpkit::testkit::{
    assert_same_lines, isolated, isolated_with, reap, say, Gate, Redactor, Transcript,
};
use mpkit::{fork_child, ExitStatus};
use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};

/// Runs `f`, which must panic; returns the panic's message.
fn panic_message_of(f: impl FnOnce()) -> String {
    let payload = panic::catch_unwind(AssertUnwindSafe(f)).expect_err("it should have panicked");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

fn sleep_forever() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Processes whose parent is this test process: after `isolated`, there must be none.
fn my_children() -> Vec<i32> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| s.rsplit(')').next().map(str::to_owned))
                .and_then(|rest| rest.split_whitespace().nth(1).map(|p| p == me))
                .unwrap_or(false)
        })
        .collect()
}

#[test]
fn a_deadlock_fails_within_the_deadline_and_kills_the_whole_family() {
    let pids = Transcript::new();
    let fd = pids.fd().as_raw_fd();
    let started = Instant::now();
    let message = panic_message_of(|| {
        isolated_with(Duration::from_millis(500), || {
            let child = fork_child(|| {
                let grandchild = fork_child(|| {
                    say(fd, &std::process::id().to_string());
                    sleep_forever();
                })
                .unwrap();
                say(fd, &std::process::id().to_string());
                std::mem::forget(grandchild);
                sleep_forever();
            })
            .unwrap();
            say(fd, &std::process::id().to_string());
            std::mem::forget(child);
            sleep_forever()
        })
    });
    let elapsed = started.elapsed();
    let pids: Vec<i32> = pids.finish().iter().map(|l| l.parse().unwrap()).collect();
    assert!(
        message.starts_with("a_deadlock_fails_within"),
        "names the exercise: {message}"
    );
    assert!(message.contains("no result within 500ms"), "{message}");
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    assert_eq!(pids.len(), 3, "three processes started");
    for pid in pids {
        assert!(!alive(pid), "pid {pid} outlived the exercise");
    }
    assert_eq!(my_children(), Vec::<i32>::new());
}

#[test]
fn a_child_left_running_fails_the_exercise() {
    let message = panic_message_of(|| {
        isolated(|| {
            std::mem::forget(fork_child(|| sleep_forever()).unwrap());
        })
    });
    assert!(message.contains("left processes behind"), "{message}");
    assert!(message.contains("still running"), "{message}");
    assert_eq!(my_children(), Vec::<i32>::new());
}

#[test]
fn a_child_never_joined_fails_the_exercise() {
    let message = panic_message_of(|| {
        isolated(|| {
            let child = fork_child(|| {}).unwrap();
            // Readable once the child has exited; it stays a zombie until reaped.
            assert!(mpkit::poll_readable(child.pidfd(), Some(Duration::from_secs(5))).unwrap());
            std::mem::forget(child);
        })
    });
    assert!(message.contains("exited but was never joined"), "{message}");
}

#[test]
fn a_panic_in_a_child_reaches_the_test_output() {
    let message = panic_message_of(|| {
        isolated(|| {
            let mut child = fork_child(|| panic!("the child broke")).unwrap();
            assert_eq!(reap(&mut child), ExitStatus::Exited(101));
            panic!("the exercise gave up");
        })
    });
    assert!(message.contains("the exercise gave up"), "{message}");
    assert!(
        message.contains("the child broke"),
        "the child's stderr is shown: {message}"
    );
}

#[test]
fn an_exercise_that_exits_is_reported() {
    let message = panic_message_of(|| isolated(|| mpkit::exit(4)));
    assert!(message.ends_with("exit(4)"), "{message}");
    let message = panic_message_of(|| {
        // Safety: _exit ends the exercise's process at once, as a buggy exercise might.
        isolated(|| unsafe { libc::_exit(4) })
    });
    assert!(
        message.contains("ended without reporting (exit code 4)"),
        "{message}"
    );
}

#[test]
fn exit_codes_follow_pythons_convention() {
    let statuses = isolated(|| {
        let mut ok = fork_child(|| {}).unwrap();
        let mut code = fork_child(|| mpkit::exit(3)).unwrap();
        let mut killed = fork_child(|| sleep_forever()).unwrap();
        killed.signal(nix::sys::signal::Signal::SIGTERM).unwrap();
        [reap(&mut ok), reap(&mut code), reap(&mut killed)].map(ExitStatus::exitcode)
    });
    assert_eq!(statuses, [0, 3, -15]);
}

#[test]
fn a_dropped_child_is_killed_and_reaped() {
    let (pid, alive_after) = isolated(|| {
        let child = fork_child(|| sleep_forever()).unwrap();
        let pid = child.pid();
        drop(child);
        (pid, alive(pid))
    });
    assert!(pid > 0);
    assert!(
        !alive_after,
        "a dropped Child leaves neither a process nor a zombie"
    );
}

#[test]
fn wait_deadline_gives_up_then_reaps() {
    let (early, late) = isolated(|| {
        let mut child = fork_child(|| std::thread::sleep(Duration::from_millis(200))).unwrap();
        let early = child.wait_timeout(Duration::from_millis(20)).unwrap();
        (early, child.wait_timeout(Duration::from_secs(5)).unwrap())
    });
    assert_eq!(early, None);
    assert_eq!(late, Some(ExitStatus::Exited(0)));
}

/// `Instant::now() + Duration::MAX` panics: such a timeout means no deadline.
#[test]
fn wait_timeout_of_duration_max_waits_without_a_deadline() {
    let status = isolated(|| {
        let mut child = fork_child(|| std::thread::sleep(Duration::from_millis(50))).unwrap();
        child.wait_timeout(Duration::MAX).unwrap()
    });
    assert_eq!(status, Some(ExitStatus::Exited(0)));
}

#[test]
fn redactor_labels_known_pids_and_flags_unknown_ones() {
    let r = Redactor::new().pid(4242, "main");
    assert_eq!(
        r.apply("pid 4242, parent pid: 4242"),
        "pid <main>, parent pid: <main>"
    );
    assert_eq!(
        r.apply("pid=17 in Process-4242"),
        "pid=<unknown> in Process-4242"
    );
    assert_eq!(
        r.apply("<Process parent=4242 initial>"),
        "<Process parent=<main> initial>"
    );
    assert_eq!(
        r.apply("ThreadId(12) wrote to fd 7"),
        "ThreadId(<n>) wrote to fd <n>"
    );
}

#[test]
fn same_lines_ignores_order_but_not_counts() {
    assert_same_lines(&["b", "a", "a"], &["a", "b", "a"]);
    let message = panic_message_of(|| assert_same_lines(&["a", "a"], &["a", "b"]));
    assert!(message.contains(r#"missing:    ["b"]"#), "{message}");
    assert!(message.contains(r#"unexpected: ["a"]"#), "{message}");
}

#[test]
fn after_a_timeout_the_same_test_fails_at_once() {
    let _ = panic_message_of(|| isolated_with(Duration::from_millis(200), || sleep_forever()));
    let started = Instant::now();
    let message = panic_message_of(|| {
        isolated(|| 1);
    });
    assert!(message.contains("not run again"), "{message}");
    assert!(
        message.contains("no result within 200ms"),
        "repeats the first failure: {message}"
    );
    assert!(started.elapsed() < Duration::from_millis(100));
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn isolated_exercises_leak_no_file_descriptor() {
    let before = open_fds();
    for _ in 0..3 {
        let status = isolated(|| fork_child(|| {}).map(|mut c| reap(&mut c)).ok());
        assert_eq!(status, Some(ExitStatus::Exited(0)));
        let _ = panic_message_of(|| isolated(|| panic!("on purpose")));
    }
    // The reader threads close their pipe ends right after end-of-file.
    let deadline = Instant::now() + Duration::from_secs(2);
    while open_fds() != before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(open_fds(), before);
}

#[test]
fn a_gate_opens_for_every_child_and_a_wait_fails_fast_when_nobody_signals() {
    let lines = isolated(|| {
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let mut gate = mpkit::testkit::Gate::new();
        let ends = gate.ends();
        let mut children: Vec<_> = (0..3)
            .map(|k| {
                fork_child(move || {
                    ends.pass();
                    say(fd, &format!("child {k} passed"));
                })
                .unwrap()
            })
            .collect();
        gate.open();
        for child in &mut children {
            assert_eq!(reap(child), ExitStatus::Exited(0));
        }
        transcript.finish()
    });
    assert_same_lines(
        &lines,
        &["child 0 passed", "child 1 passed", "child 2 passed"],
    );
    let started = Instant::now();
    let message = panic_message_of(|| {
        isolated(|| {
            let ready = mpkit::testkit::Gate::new();
            let mut child = fork_child(|| {}).unwrap();
            ready.wait();
            reap(&mut child);
        })
    });
    assert!(message.contains("ended without signalling"), "{message}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "it waited for the deadline"
    );
}

#[test]
fn a_failing_property_writes_nothing_into_the_tree() {
    use proptest::test_runner::{TestCaseError, TestRunner};
    let config = mpkit::testkit::proptest_config(4);
    assert!(
        config.failure_persistence.is_none(),
        "failure persistence must be off"
    );
    // Run a failing property the way `proptest!` does (it sets `source_file` to the
    // test's file), with the source in a directory of its own: nothing may appear there.
    let dir = std::env::temp_dir().join(format!("mpkit-no-regressions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("property.rs");
    std::fs::write(&source, "// a test file\n").unwrap();
    let mut config = config;
    config.source_file = Some(Box::leak(source.to_str().unwrap().into()));
    let result = TestRunner::new(config).run(&(0u32..100), |_| {
        Err(TestCaseError::fail("fails on purpose"))
    });
    let listing: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(result.is_err(), "the property fails");
    assert_eq!(listing, ["property.rs"], "a regressions file was written");
}

/// True when this process ignores `signal`.
fn ignores(signal: Signal) -> bool {
    let mut set = SigSet::empty();
    set.add(signal);
    // Safety: reads this process's disposition of `signal`; installs nothing.
    let current = unsafe { libc::signal(signal as i32, libc::SIG_IGN) };
    // Safety: puts back the disposition just read.
    unsafe { libc::signal(signal as i32, current) };
    current == libc::SIG_IGN
}

#[test]
fn exercises_start_with_default_signal_dispositions_and_an_empty_mask() {
    // As `nohup`, `cmd &` in a script or `trap '' INT` start the suite: SIGINT ignored.
    // A blocked SIGTERM in the test thread's mask would be inherited the same way.
    // Safety: SIG_IGN installs no handler code; the previous disposition is put back below.
    let previous = unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
    let mut blocked = SigSet::empty();
    blocked.add(Signal::SIGTERM);
    let mut old_mask = SigSet::empty();
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&blocked), Some(&mut old_mask)).unwrap();
    let outcome = panic::catch_unwind(|| {
        isolated(|| {
            let codes = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGUSR1].map(|signal| {
                let mut child = fork_child(|| sleep_forever()).unwrap();
                child.signal(signal).unwrap();
                reap(&mut child).exitcode()
            });
            // Inside an exercise, a child keeps its parent's dispositions, as CPython's
            // fork does: the reset belongs to the sandbox, not to fork_child.
            // Safety: SIG_IGN installs no handler code.
            unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
            let mut child = fork_child(|| mpkit::exit(ignores(Signal::SIGINT) as i32)).unwrap();
            (codes, reap(&mut child).exitcode())
        })
    });
    // Safety: puts back the disposition this test found.
    unsafe { libc::signal(libc::SIGINT, previous) };
    pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None).unwrap();
    let (codes, inherited) = outcome.unwrap();
    assert_eq!(
        codes,
        [-2, -15, -10],
        "SIGINT, SIGTERM, SIGUSR1 end the child"
    );
    assert_eq!(
        inherited, 1,
        "a child of the exercise inherits an ignored SIGINT"
    );
}

/// Runs one test of this very binary in a process of its own, with `env` and `args`
/// added; returns whether it passed and what it printed.
fn run_this_binary(test: &str, env: &[(&str, &str)], args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact"])
        .args(args)
        // As libtest runs it, even when this test runs under cargo-nextest.
        .env_remove("NEXTEST_EXECUTION_MODE")
        .envs(env.iter().copied())
        .output()
        .expect("run the test binary");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[test]
fn tests_that_fork_refuse_to_run_two_at_a_time_and_say_what_to_do() {
    let test = "exit_codes_follow_pythons_convention";
    for (env, args) in [
        (&[("RUST_TEST_THREADS", "2")][..], &[][..]),
        (&[("RUST_TEST_THREADS", "1")][..], &["--test-threads=2"][..]),
        (
            &[("RUST_TEST_THREADS", "1")][..],
            &["--test-threads", "3"][..],
        ),
    ] {
        let (passed, output) = run_this_binary(test, env, args);
        assert!(!passed, "{env:?} {args:?}: it ran\n{output}");
        assert!(
            output.contains("run one at a time") && output.contains("RUST_TEST_THREADS=1"),
            "{env:?} {args:?}: says what to do\n{output}"
        );
    }
    // One at a time, by the environment or by the flag, it runs.
    for (env, args) in [
        (&[("RUST_TEST_THREADS", "1")][..], &[][..]),
        (&[("RUST_TEST_THREADS", "2")][..], &["--test-threads=1"][..]),
    ] {
        let (passed, output) = run_this_binary(test, env, args);
        assert!(passed, "{env:?} {args:?}\n{output}");
    }
}

/// Runs `f`; returns what the panic hook was given for each panic in this process
/// meanwhile ("panicked at file:line:column:" and the message), and what `f` returned.
fn panics_during<R>(f: impl FnOnce() -> R) -> (Vec<String>, R) {
    static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());
    SEEN.lock().unwrap().clear();
    let previous: Arc<dyn Fn(&panic::PanicHookInfo<'_>) + Send + Sync> = panic::take_hook().into();
    let chained = previous.clone();
    panic::set_hook(Box::new(move |info| {
        SEEN.lock().unwrap().push(info.to_string());
        chained(info)
    }));
    let result = f();
    drop(panic::take_hook());
    panic::set_hook(Box::new(move |info| previous(info)));
    (std::mem::take(&mut *SEEN.lock().unwrap()), result)
}

/// Runs `f` and counts the panics, in this process, whose message contains `text`.
fn count_panics_mentioning<R>(text: &str, f: impl FnOnce() -> R) -> (usize, R) {
    let (panics, result) = panics_during(f);
    (panics.iter().filter(|p| p.contains(text)).count(), result)
}

#[test]
fn a_property_that_times_out_reports_the_input_that_timed_out_once() {
    use proptest::prelude::*;
    // Only the first input deadlocks: a shrink that ran its simpler inputs would see
    // them pass and come back to it. The report must name it, and say why once.
    let calls = std::cell::RefCell::new(Vec::new());
    let (panics, message) = count_panics_mentioning("no result within 300ms", || {
        panic_message_of(|| {
            proptest!(mpkit::testkit::proptest_config(16), |(processes in 1u64..=6, iterations in 0u64..2000)| {
                calls.borrow_mut().push((processes, iterations));
                let first = calls.borrow()[0] == (processes, iterations);
                isolated_with(Duration::from_millis(300), move || {
                    if first {
                        sleep_forever()
                    }
                });
            });
        })
    });
    let calls = calls.into_inner();
    let (processes, iterations) = calls[0];
    assert!(
        message.contains(&format!(
            "minimal failing input: processes = {processes}, iterations = {iterations}"
        )),
        "reports the input that timed out, {:?}: {message}",
        calls[0]
    );
    assert!(message.contains("no result within 300ms"), "{message}");
    assert!(!message.contains("not run again"), "{message}");
    assert_eq!(calls.len(), 1, "nothing ran after the timeout: {calls:?}");
    assert_eq!(
        panics, 1,
        "the timeout is told once, in the report: {message}"
    );
}

/// An exercise not done yet: its failure must point at the `todo!` line.
fn unfinished() {
    todo!("count the children")
}
const UNFINISHED_AT: u32 = line!() - 2;

#[test]
fn a_failure_points_at_the_line_that_failed_not_into_the_kit() {
    // A panic in the exercise's process: its location comes back with its message.
    let message = panic_message_of(|| isolated(unfinished));
    let todo_at =
        format!("not yet implemented: count the children at tests/kit.rs:{UNFINISHED_AT}:");
    assert!(message.contains(&todo_at), "{message}");
    // A kit assertion failing inside the exercise points at the test's line.
    let at = line!() + 1;
    let message = panic_message_of(|| isolated(|| Gate::new().wait()));
    assert!(
        message.contains(&format!("at tests/kit.rs:{at}:")),
        "{message}"
    );
    // The test's own panic (what libtest prints as "panicked at") points at the call
    // of the kit, not into it.
    let at = line!() + 1;
    let (panics, _) = panics_during(|| panic_message_of(|| isolated(unfinished)));
    let from_here = format!("panicked at tests/kit.rs:{at}:");
    assert!(
        panics.iter().any(|p| p.starts_with(&from_here)),
        "{panics:?}"
    );
    let at = line!() + 1;
    let (panics, _) = panics_during(|| panic_message_of(|| assert_same_lines(&["a"], &["b"])));
    let from_here = format!("panicked at tests/kit.rs:{at}:");
    assert!(
        panics.iter().any(|p| p.starts_with(&from_here)),
        "{panics:?}"
    );
}

const BLOCKED_AT: u32 = line!() + 3;
fn block_here() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

#[test]
fn a_deadlock_failure_says_where_each_process_was_stuck() {
    let message = panic_message_of(|| {
        isolated_with(Duration::from_millis(500), || {
            let _child = fork_child(|| block_here()).unwrap();
            block_here()
        })
    });
    let at = format!("tests/kit.rs:{BLOCKED_AT}:");
    assert_eq!(message.matches(&at).count(), 2, "both processes: {message}");
}

/// Starts a thread that sends its tid, then runs `body`; returns the tid.
fn thread_running(body: impl FnOnce() + Send + 'static) -> (i32, std::thread::JoinHandle<()>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        // Safety: gettid takes no arguments.
        tx.send(unsafe { libc::gettid() }).unwrap();
        body();
    });
    (rx.recv().unwrap(), handle)
}

/// `/proc/<pid>/stat` splits at the last `)`: a command name may hold both parentheses
/// and spaces.
#[test]
fn procfs_reads_state_parent_and_cpu_even_behind_a_tricky_name() {
    let me = std::process::id() as i32;
    let (state, ppid, ticks) = isolated(move || {
        let mut gate = Gate::new();
        let ends = gate.ends();
        let mut child = fork_child(move || {
            nix::sys::prctl::set_name(c"a) b (c").unwrap();
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(30) {
                std::hint::spin_loop();
            }
            ends.pass();
        })
        .expect("fork");
        let deadline = Instant::now() + Duration::from_secs(5);
        while procfs::state(child.pid()) != Some('S') {
            assert!(
                Instant::now() < deadline,
                "the child never waited at the gate"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        let seen = stat(child.pid()).unwrap();
        assert_eq!(procfs::cpu_ticks(child.pid()), seen.cpu_ticks);
        assert!(
            seen.minor_faults > 0,
            "a forked child faults on its first writes"
        );
        gate.open();
        assert_eq!(reap(&mut child), ExitStatus::Exited(0));
        (seen.state, seen.ppid, seen.cpu_ticks)
    });
    assert_eq!(state, 'S');
    assert_ne!(
        ppid, me,
        "the child's parent is the isolated exercise, not the test"
    );
    assert!(ppid > 0);
    assert!(
        ticks <= 100,
        "30 ms of spinning is a few ticks, not {ticks}"
    );
    assert_eq!(stat(i32::MAX), None, "no such process");
    assert_eq!(procfs::state(i32::MAX), None);
    // Safety: gettid takes no arguments.
    let tid = unsafe { libc::gettid() };
    let (thread, runs) = thread_stat(me, tid).expect("this thread");
    assert_eq!(thread.state, 'R', "this thread is running");
    assert!(runs >= 1, "a running thread has been put on a CPU");
    assert!(status_kib(me, "VmRSS").unwrap() > 0);
    assert_eq!(status_kib(me, "NoSuchLine"), None);
}

#[test]
fn sleeps_through_tells_a_sleep_from_a_poll_and_a_spin() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let pid = std::process::id() as i32;
    let window = Duration::from_millis(100);
    let (sleeper, sleeping) = thread_running(|| std::thread::sleep(Duration::from_millis(400)));
    assert_eq!(
        sleeps_through(pid, sleeper, window, 0, Duration::from_secs(1)),
        Ok(())
    );
    sleeping.join().unwrap();
    assert_eq!(
        sleeps_through(pid, sleeper, window, 0, Duration::from_secs(1)),
        Err("it ended before it went to sleep".to_owned())
    );

    let (poller, polling) = thread_running(|| {
        for _ in 0..40 {
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    let polled = sleeps_through(pid, poller, window, 3, Duration::from_secs(1));
    polling.join().unwrap();
    let polled = polled.unwrap_err();
    assert!(polled.starts_with("it polled: it woke up"), "{polled}");

    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let (spinner, spinning) = thread_running(move || {
        let start = Instant::now();
        while !stopped.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(5) {
            std::hint::spin_loop();
        }
    });
    let spun = sleeps_through(pid, spinner, window, 0, Duration::from_millis(50));
    stop.store(true, Ordering::Relaxed);
    spinning.join().unwrap();
    assert_eq!(
        spun,
        Err("it spun: it never went to sleep in 50ms".to_owned())
    );
}
