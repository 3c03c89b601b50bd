// Exercise 7: RobustLock. Included at the end of tests/ch05_sync.rs, so it uses that
// file's imports and helpers; its own imports sit inside each function.

/// Sets `word` to `value` and wakes whoever waits on it: one process telling another
/// "I hold the lock now" (1) or "go ahead" (2).
fn robust_signal(word: &AtomicU32, value: u32) {
    word.store(value, Ordering::SeqCst);
    futex::wake_all(word);
}

/// Sleeps until `word` holds `value`; panics after 5 s, or as soon as `watched` (the
/// child expected to set the word) has ended without setting it.
fn robust_wait_for(word: &AtomicU32, value: u32, mut watched: Option<&mut Child>) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let seen = word.load(Ordering::SeqCst);
        if seen == value {
            return;
        }
        if let Some(child) = watched.as_deref_mut() {
            if let Some(status) = child.try_wait().expect("try_wait") {
                panic!("the child ended ({status}) before setting the word to {value}");
            }
        }
        let slice = deadline.min(std::time::Instant::now() + Duration::from_millis(20));
        let wake = futex::wait(word, seen, Some(slice)).expect("futex wait");
        assert!(
            wake == Wake::Retry || std::time::Instant::now() < deadline,
            "the word never became {value}"
        );
    }
}

/// Forks a child that takes `lock`, adds 1 to `a` but dies before adding 1 to `b`
/// (the invariant a == b is broken while it holds the lock), says so through `word`,
/// and holds the lock until the parent kills it with SIGKILL. Returns how it ended.
fn robust_kill_a_holder(
    lock: &workbook::ch05_sync::robust::RobustLock,
    shared: &Counters,
) -> ExitStatus {
    let mut holder = spawn(|| {
        let _guard = lock.lock(LONG).unwrap();
        shared.a.fetch_add(1, Ordering::SeqCst);
        robust_signal(&shared.word, 1);
        std::thread::sleep(Duration::from_secs(60));
        // Never reached: the parent kills this process while it sleeps.
        shared.b.fetch_add(1, Ordering::SeqCst);
    });
    robust_wait_for(&shared.word, 1, Some(&mut holder));
    holder
        .signal(nix::sys::signal::Signal::SIGKILL)
        .expect("SIGKILL the holder");
    reap(&mut holder)
}

/// Python's Lock would wedge here forever; a robust lock hands itself to the next
/// process, which repairs the data, marks the lock consistent, and goes on.
#[test]
fn ex7_a_killed_holder_leaves_owner_died_and_the_lock_works_again() {
    let lines = isolated(|| {
        use workbook::ch05_sync::robust::{RobustError, RobustLock};
        let lock = RobustLock::new().expect("robust lock");
        let shared = counters();
        let mut lines = vec![format!(
            "holder: {:?}",
            robust_kill_a_holder(&lock, &shared)
        )];
        let first = lock.lock(LONG);
        lines.push(format!("first lock: {first:?}"));
        if let Err(RobustError::OwnerDied(mut guard)) = first {
            lines.push(format!("consistent before: {}", guard.is_consistent()));
            let (a, b) = (
                shared.a.load(Ordering::SeqCst),
                shared.b.load(Ordering::SeqCst),
            );
            lines.push(format!("torn: a={a} b={b}"));
            // The repair: finish the dead holder's update.
            shared.b.store(a, Ordering::SeqCst);
            lines.push(format!("mark_consistent: {:?}", guard.mark_consistent()));
            lines.push(format!("consistent: {}", guard.is_consistent()));
        }
        lines.push(format!("second lock: {:?}", lock.lock(LONG)));
        let mut children: Vec<Child> = (0..3)
            .map(|_| {
                spawn(|| {
                    for _ in 0..100 {
                        // On an error, the totals below show it (beside the line above).
                        let Ok(_guard) = lock.lock(LONG) else { return };
                        let a = shared.a.load(Ordering::Relaxed);
                        shared.a.store(a + 1, Ordering::Relaxed);
                        let b = shared.b.load(Ordering::Relaxed);
                        shared.b.store(b + 1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        join_all(&mut children);
        lines.push(format!(
            "after 3 x 100 locked updates: a={} b={}",
            shared.a.load(Ordering::SeqCst),
            shared.b.load(Ordering::SeqCst)
        ));
        lines.push(format!("last lock: {:?}", lock.lock(LONG)));
        lines
    });
    assert_eq!(
        lines,
        [
            "holder: Signaled(9)",
            "first lock: Err(OwnerDied(RobustGuard { consistent: false }))",
            "consistent before: false",
            "torn: a=1 b=0",
            "mark_consistent: Ok(())",
            "consistent: true",
            "second lock: Ok(RobustGuard { consistent: true })",
            "after 3 x 100 locked updates: a=301 b=301",
            "last lock: Ok(RobustGuard { consistent: true })",
        ]
    );
}

/// Block, then release: a process asleep in `lock` is woken by the holder's death
/// (the kernel does it), and gets the lock with the news.
#[test]
fn ex7_a_waiter_wakes_when_the_holder_dies() {
    let (lines, waiter_cpu, after) = isolated(|| {
        use workbook::ch05_sync::robust::{RobustError, RobustLock};
        let lock = RobustLock::new().expect("robust lock");
        let shared = counters();
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let mut waiter = spawn(|| {
            robust_wait_for(&shared.word, 1, None);
            let result = lock.lock(LONG);
            say(fd, &format!("waiter: {result:?}"));
            if let Err(RobustError::OwnerDied(mut guard)) = result {
                shared
                    .b
                    .store(shared.a.load(Ordering::SeqCst), Ordering::SeqCst);
                say(fd, &format!("repaired: {:?}", guard.mark_consistent()));
            }
        });
        let mut holder = spawn(|| {
            let _guard = lock.lock(LONG).unwrap();
            shared.a.fetch_add(1, Ordering::SeqCst);
            robust_signal(&shared.word, 1);
            std::thread::sleep(Duration::from_secs(60));
        });
        robust_wait_for(&shared.word, 1, Some(&mut holder));
        std::thread::sleep(Duration::from_millis(300));
        let waiter_cpu = procfs::cpu_ticks(waiter.pid());
        holder
            .signal(nix::sys::signal::Signal::SIGKILL)
            .expect("SIGKILL the holder");
        assert_eq!(reap(&mut holder), ExitStatus::Signaled(9));
        assert_eq!(reap(&mut waiter), ExitStatus::Exited(0));
        let after = debug((
            lock.lock(LONG),
            shared.a.load(Ordering::SeqCst),
            shared.b.load(Ordering::SeqCst),
        ));
        (transcript.finish(), waiter_cpu, after)
    });
    assert_eq!(
        lines,
        [
            "waiter: Err(OwnerDied(RobustGuard { consistent: false }))",
            "repaired: Ok(())"
        ]
    );
    assert_eq!(after, "(Ok(RobustGuard { consistent: true }), 1, 1)");
    assert!(
        waiter_cpu <= 5,
        "the waiter spun: {waiter_cpu} ticks in 300 ms"
    );
}

/// pthread's rule: unlocking after an owner's death without marking the lock
/// consistent makes it unusable for good, in every process, at once.
#[test]
fn ex7_a_guard_dropped_without_repair_makes_the_lock_not_recoverable() {
    let (lines, elapsed_ms) = isolated(|| {
        use workbook::ch05_sync::robust::RobustLock;
        let lock = RobustLock::new().expect("robust lock");
        let shared = counters();
        let mut lines = vec![format!(
            "holder: {:?}",
            robust_kill_a_holder(&lock, &shared)
        )];
        let first = lock.lock(LONG);
        lines.push(format!("first lock: {first:?}"));
        drop(first);
        let started = std::time::Instant::now();
        lines.push(format!("then: {:?}", lock.lock(LONG)));
        lines.push(format!(
            "without waiting: {:?}",
            lock.lock(Some(Duration::ZERO))
        ));
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let mut child = spawn(|| say(fd, &format!("another process: {:?}", lock.lock(LONG))));
        assert_eq!(reap(&mut child), ExitStatus::Exited(0));
        lines.extend(transcript.finish());
        (lines, elapsed_ms)
    });
    assert_eq!(
        lines,
        [
            "holder: Signaled(9)",
            "first lock: Err(OwnerDied(RobustGuard { consistent: false }))",
            "then: Err(NotRecoverable)",
            "without waiting: Err(NotRecoverable)",
            "another process: Err(NotRecoverable)",
        ]
    );
    assert!(
        elapsed_ms < 1000,
        "NotRecoverable comes at once, not at the deadline: {elapsed_ms} ms"
    );
}

/// Block, then release: another process holds the lock; a short lock times out, a long
/// one sleeps (without spinning) until the holder unlocks.
#[test]
fn ex7_lock_times_out_while_another_process_holds_it() {
    let (lines, short_ms, long_ms, waiter_cpu) = isolated(|| {
        use workbook::ch05_sync::robust::RobustLock;
        let lock = RobustLock::new().expect("robust lock");
        let shared = counters();
        let mut holder = spawn(|| {
            let guard = lock.lock(LONG).unwrap();
            robust_signal(&shared.word, 1);
            robust_wait_for(&shared.word, 2, None);
            std::thread::sleep(Duration::from_millis(300));
            drop(guard);
        });
        robust_wait_for(&shared.word, 1, Some(&mut holder));
        let mut lines = vec![format!(
            "without waiting: {:?}",
            lock.lock(Some(Duration::ZERO))
        )];
        let started = std::time::Instant::now();
        lines.push(format!(
            "50 ms: {:?}",
            lock.lock(Some(Duration::from_millis(50)))
        ));
        let short_ms = started.elapsed().as_millis() as u64;
        robust_signal(&shared.word, 2);
        let cpu_before = procfs::cpu_ticks(std::process::id() as i32);
        let started = std::time::Instant::now();
        let long = lock.lock(LONG);
        let long_ms = started.elapsed().as_millis() as u64;
        let waiter_cpu = procfs::cpu_ticks(std::process::id() as i32) - cpu_before;
        lines.push(format!("5 s: {long:?}"));
        drop(long);
        lines.push(format!("holder: {:?}", reap(&mut holder)));
        (lines, short_ms, long_ms, waiter_cpu)
    });
    assert_eq!(
        lines,
        [
            "without waiting: Err(TimedOut)",
            "50 ms: Err(TimedOut)",
            "5 s: Ok(RobustGuard { consistent: true })",
            "holder: Exited(0)",
        ]
    );
    assert!(
        (50..1000).contains(&short_ms),
        "a 50 ms lock took {short_ms} ms"
    );
    assert!(
        (200..4000).contains(&long_ms),
        "the holder kept the lock 300 ms, yet the lock took {long_ms} ms"
    );
    assert!(
        waiter_cpu <= 5,
        "the waiter spun: {waiter_cpu} ticks in {long_ms} ms"
    );
}

/// The lock is error-checking: a thread that locks it twice gets `EDEADLK` at once
/// rather than waiting for itself forever.
#[test]
fn ex7_locking_twice_from_one_thread_is_an_error_not_a_deadlock() {
    let answers = isolated(|| {
        use workbook::ch05_sync::robust::RobustLock;
        let lock = RobustLock::new().expect("robust lock");
        let guard = lock.lock(LONG);
        let again = debug(lock.lock(LONG));
        drop(guard);
        (again, debug(lock.lock(LONG)))
    });
    assert_eq!(
        answers,
        (
            "Err(Os(EDEADLK))".to_owned(),
            "Ok(RobustGuard { consistent: true })".to_owned()
        )
    );
}

/// N processes add to a counter with a load and a store under a RobustLock; returns
/// the total.
fn count_under_a_robust_lock(processes: u64, iterations: u64) -> u64 {
    use workbook::ch05_sync::robust::RobustLock;
    let make = || RobustLock::new().expect("robust lock");
    let [total, _, _] = race(processes, make, |lock, shared| {
        for _ in 0..iterations {
            let _guard = lock.lock(LONG).unwrap();
            add_one(&shared.a);
        }
    });
    total
}

proptest! {
    #![proptest_config(proptest_config(8))]

    /// Under a RobustLock, the counter is exactly N x iterations.
    #[test]
    fn ex7_a_robust_locked_counter_loses_no_update(processes in 1u64..=6, iterations in 0u64..1000) {
        prop_assert_eq!(count_under_a_robust_lock(processes, iterations), processes * iterations);
    }
}

/// Every `RobustError` says what happened, and what to do about it.
#[test]
fn ex7_every_robust_error_says_what_happened() {
    let lines = isolated(|| {
        use workbook::ch05_sync::robust::{RobustError, RobustLock};
        let lock = RobustLock::new().expect("robust lock");
        let shared = counters();
        robust_kill_a_holder(&lock, &shared);
        let mut lines = Vec::new();
        if let Err(owner_died) = lock.lock(LONG) {
            lines.push(owner_died.to_string());
        }
        for error in [
            RobustError::TimedOut,
            RobustError::NotRecoverable,
            RobustError::Os(nix::errno::Errno::EDEADLK),
        ] {
            lines.push(error.to_string());
        }
        lines
    });
    assert_eq!(
        lines,
        [
            "the previous holder died holding the lock: it is yours now; repair the data \
             and mark it consistent",
            "timed out waiting for the lock",
            "the lock is not recoverable: a holder died and the next one unlocked without \
             marking it consistent",
            &format!("system call failed: {}", nix::errno::Errno::EDEADLK),
        ]
    );
}
