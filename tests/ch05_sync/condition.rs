// Exercise 6: Condition, exactly n wake-ups in arrival order. Included in
// tests/ch05_sync.rs after its other ex6 tests, so it uses that file's imports and
// helpers.

use nix::sys::signal::Signal;
use workbook::ch05_sync::condition::MAX_WAITERS;

/// Forks `waiters` processes that queue up on `cond` one after another: each takes the
/// lock, counts itself in `shared.a` and waits (at most `timeout`), so waiter `i` is
/// `i`-th in the queue. When its wait returns `true` before `shared.word` turns 1
/// (the notify_all at the end of a scenario), the waiter sets its bit in `shared.b`
/// and counts itself in `shared.c`, with the lock held; it says what `wait` returned.
fn queue_up<'a>(
    cond: &'a Condition,
    shared: &'a Counters,
    fd: i32,
    timeouts: &[Option<Duration>],
) -> Vec<Child> {
    let mut children: Vec<Child> = Vec::new();
    for (i, &timeout) in timeouts.iter().enumerate() {
        children.push(spawn(move || {
            assert!(cond.acquire(LONG).unwrap());
            shared.a.fetch_add(1, Ordering::SeqCst);
            let woken = cond.wait(timeout).unwrap();
            if woken && shared.word.load(Ordering::SeqCst) == 0 {
                shared.b.fetch_or(1 << i, Ordering::SeqCst);
                shared.c.fetch_add(1, Ordering::SeqCst);
            }
            cond.release().unwrap();
            say(fd, &format!("waiter {i}: {woken}"));
        }));
        // Waiter i counted itself with the lock held, and gives the lock up only in
        // `wait`: the next waiter queues up behind it.
        until(&format!("waiter {i} queued up"), &mut children, || {
            shared.a.load(Ordering::SeqCst) == i as u64 + 1
        });
    }
    children
}

/// Lets the processes woken so far run: returns once exactly `ended` of `children`
/// have ended and every other one sleeps in the kernel, twice in a row 10 ms apart
/// (a waiter woken by mistake runs to its end and is counted); or as soon as more than
/// `ended` have ended; or after 3 s.
fn settle(children: &mut [Child], ended: usize) {
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut calm = 0;
    while calm < 2 && Instant::now() < deadline {
        let mut gone = 0;
        let mut asleep = true;
        for child in children.iter_mut() {
            if child.try_wait().expect("try_wait").is_some() {
                gone += 1;
            } else if procfs::state(child.pid()) != Some('S') {
                asleep = false;
            }
        }
        if gone > ended {
            return;
        }
        calm = if gone == ended && asleep { calm + 1 } else { 0 };
        std::thread::sleep(Duration::from_millis(if calm > 0 { 10 } else { 1 }));
    }
}

/// Ends a scenario: reads who returned `true` so far (with the lock held, so every
/// waiter that returned is counted), then `notify_all` and joins every waiter.
/// Returns (the bits of `shared.b`, the count in `shared.c`, `n_waiting` before the
/// notify_all and after everyone left).
fn notify_all_and_join(
    cond: &Condition,
    shared: &Counters,
    children: &mut [Child],
) -> (u64, u64, usize, usize) {
    assert!(cond.acquire(LONG).unwrap());
    let (bits, count) = (
        shared.b.load(Ordering::SeqCst),
        shared.c.load(Ordering::SeqCst),
    );
    let left = cond.n_waiting();
    shared.word.store(1, Ordering::SeqCst);
    cond.notify_all().unwrap();
    cond.release().unwrap();
    join_all(children);
    (bits, count, left, cond.n_waiting())
}

/// One round of "notify(n) wakes exactly n, the oldest": `waiters` processes queue up
/// in a known order; the main process takes the lock, stops the ones in the bit mask
/// `stopped` (SIGSTOP: a waiter between "release the lock" and "sleep", or asleep,
/// that the scheduler set aside), calls `notify(notified)`, then a wait of its own
/// (it came after the notify, so it must time out), lets the stopped ones go on, and
/// lets everyone woken run. Returns (who returned `true`, as bits; how many; the main
/// process's own wait; `n_waiting` before the final notify_all and at the end).
fn notify_exactly(waiters: u32, notified: u32, stopped: u32) -> (u64, u64, String, usize, usize) {
    isolated(move || {
        let cond = Condition::new().expect("condition");
        let shared = counters();
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let mut children = queue_up(&cond, &shared, fd, &vec![LONG; waiters as usize]);
        // Every waiter is queued, and has given the lock up.
        assert!(cond.acquire(LONG).unwrap());
        let stop: Vec<usize> = (0..children.len())
            .filter(|i| stopped & (1 << i) != 0)
            .collect();
        for &i in &stop {
            children[i].signal(Signal::SIGSTOP).expect("SIGSTOP");
            let pid = children[i].pid();
            until("a waiter stopped", &mut [], || procfs::state(pid) == Some('T'));
        }
        cond.notify(notified).unwrap();
        let own = debug(cond.wait(Some(Duration::from_millis(20))));
        for &i in &stop {
            children[i].signal(Signal::SIGCONT).expect("SIGCONT");
        }
        cond.release().unwrap();
        settle(&mut children, notified as usize);
        let (bits, count, left, after) = notify_all_and_join(&cond, &shared, &mut children);
        drop(transcript);
        (bits, count, own, left, after)
    })
}

proptest! {
    #![proptest_config(proptest_config(12))]

    /// Python's notify(n) wakes at most n; this one exactly n when n wait, the n that
    /// waited longest, even when some waiters were stopped around the notify; a wait
    /// that started after the notify is not one of them; the others sleep on until
    /// notify_all.
    #[test]
    fn ex6_notify_wakes_exactly_n_oldest_first(
        (waiters, notified, stopped) in (2u32..=5).prop_flat_map(|k| (Just(k), 0..k, 1..(1u32 << k)))
    ) {
        let (bits, count, own, left, after) = notify_exactly(waiters, notified, stopped);
        prop_assert_eq!(count, u64::from(notified), "notify({}) woke {} of {}", notified, count, waiters);
        prop_assert_eq!(bits, (1u64 << notified) - 1, "not the oldest first");
        prop_assert_eq!(own, "Ok(false)", "a wait that began after the notify took it");
        prop_assert_eq!((left, after), ((waiters - notified) as usize, 0));
    }
}

/// A waiter whose wait timed out has left the queue: the next notify goes to the next
/// waiter in line, and the last one sleeps on.
#[test]
fn ex6_a_timed_out_waiter_absorbs_no_notify() {
    let (lines, result) = isolated(|| {
        let cond = Condition::new().expect("condition");
        let shared = counters();
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let timeouts = [Some(Duration::from_millis(50)), LONG, LONG];
        let mut children = queue_up(&cond, &shared, fd, &timeouts);
        assert_eq!(reap(&mut children[0]), ExitStatus::Exited(0));
        let before = cond.n_waiting();
        assert!(cond.acquire(LONG).unwrap());
        cond.notify(1).unwrap();
        cond.release().unwrap();
        settle(&mut children, 2);
        let result = notify_all_and_join(&cond, &shared, &mut children);
        (transcript.finish(), (before, result))
    });
    assert_same_lines(&lines, &["waiter 0: false", "waiter 1: true", "waiter 2: true"]);
    assert_eq!(result, (2, (0b010, 1, 1, 0)), "(n_waiting, (woken, count, left, after))");
}

/// A notify that gets the lock before a timed-out waiter takes it back goes to that
/// waiter, which returns `true`: the notify is neither lost nor given to another.
#[test]
fn ex6_a_notify_that_beats_a_timeout_to_the_lock_counts() {
    let (lines, result) = isolated(|| {
        let cond = Condition::new().expect("condition");
        let shared = counters();
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let timeouts = [Some(Duration::from_millis(30)), LONG];
        let mut children = queue_up(&cond, &shared, fd, &timeouts);
        assert!(cond.acquire(LONG).unwrap());
        // Waiter 0's time runs out while the lock is held here: it cannot leave the
        // queue before the notify below.
        std::thread::sleep(Duration::from_millis(200));
        cond.notify(1).unwrap();
        cond.release().unwrap();
        settle(&mut children, 1);
        let result = notify_all_and_join(&cond, &shared, &mut children);
        (transcript.finish(), result)
    });
    assert_same_lines(&lines, &["waiter 0: true", "waiter 1: true"]);
    assert_eq!(result, (0b01, 1, 1, 0), "(woken, count, left, after)");
}

/// A waiter killed in its wait (and reaped) is skipped: the notify goes to a live one.
#[test]
fn ex6_a_waiter_killed_in_its_wait_is_skipped() {
    let (lines, result) = isolated(|| {
        let cond = Condition::new().expect("condition");
        let shared = counters();
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let mut children = queue_up(&cond, &shared, fd, &[LONG, LONG, LONG]);
        children[0].signal(Signal::SIGKILL).expect("SIGKILL");
        assert_eq!(reap(&mut children[0]), ExitStatus::Signaled(9));
        let queued = cond.n_waiting();
        assert!(cond.acquire(LONG).unwrap());
        cond.notify(1).unwrap();
        cond.release().unwrap();
        settle(&mut children, 2);
        let result = notify_all_and_join(&cond, &shared, &mut children[1..]);
        (transcript.finish(), (queued, result))
    });
    assert_same_lines(&lines, &["waiter 1: true", "waiter 2: true"]);
    assert_eq!(result, (3, (0b010, 1, 1, 0)), "(queued, (woken, count, left, after))");
}

/// `wait` gives every level of an `RLock` up (another process takes the lock meanwhile)
/// and takes them all back: the caller releases as many times as it acquired.
#[test]
fn ex6_wait_restores_the_rlock_depth() {
    let answers = isolated(|| {
        let cond = Condition::new().expect("condition");
        assert!(cond.acquire(None).unwrap() && cond.acquire(None).unwrap());
        let mut child = spawn(|| {
            assert!(cond.acquire(LONG).unwrap());
            cond.notify(1).unwrap();
            cond.release().unwrap();
        });
        let woken = cond.wait(LONG);
        assert_eq!(reap(&mut child), ExitStatus::Exited(0));
        let released: Vec<_> = (0..3).map(|_| cond.release()).collect();
        debug((woken, released, cond.is_mine()))
    });
    assert_eq!(
        answers,
        debug((
            Ok::<_, ()>(true),
            vec![Ok(()), Ok(()), Err(SyncError::NotOwner)],
            false
        ))
    );
}

/// Polls until `ready()` holds; panics after 5 s, or passes on the panic of a thread
/// of `threads` that ended (a `todo!()` in a thread would otherwise go unseen).
fn until_threads<T: std::fmt::Debug>(
    what: &str,
    threads: &mut Vec<std::thread::ScopedJoinHandle<'_, T>>,
    mut ready: impl FnMut() -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !ready() {
        if let Some(ended) = threads.iter().position(|thread| thread.is_finished()) {
            match threads.swap_remove(ended).join() {
                Err(panic) => std::panic::resume_unwind(panic),
                Ok(early) => panic!("a thread returned {early:?} before {what}"),
            }
        }
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// MAX_WAITERS waits at once fit; one more is `TooManyWaiters`, with the lock still
/// held and nothing changed. Every way out of a wait frees its slot: more than
/// MAX_WAITERS timed-out, and then notified, waits in a row all fit.
#[test]
fn ex6_too_many_waiters_is_an_error_and_slots_are_freed() {
    let answers = isolated(|| {
        let cond = Condition::new().expect("condition");
        let queued = AtomicU64::new(0);
        let (refused, mine, full) = std::thread::scope(|scope| {
            let mut threads: Vec<_> = (0..MAX_WAITERS)
                .map(|_| {
                    scope.spawn(|| {
                        assert!(cond.acquire(LONG).unwrap());
                        queued.fetch_add(1, Ordering::SeqCst);
                        let woken = cond.wait(LONG);
                        cond.release().unwrap();
                        woken
                    })
                })
                .collect();
            until_threads("every thread queued up", &mut threads, || {
                queued.load(Ordering::SeqCst) == MAX_WAITERS as u64
            });
            assert!(cond.acquire(LONG).unwrap());
            let refused = cond.wait(LONG);
            let (mine, full) = (cond.is_mine(), cond.n_waiting());
            cond.notify_all().unwrap();
            cond.release().unwrap();
            for thread in threads {
                assert_eq!(thread.join().unwrap(), Ok(true));
            }
            (refused, mine, full)
        });
        assert!(cond.acquire(LONG).unwrap());
        let timed_out: Vec<_> = (0..2 * MAX_WAITERS)
            .map(|_| cond.wait(Some(Duration::ZERO)))
            .filter(|woken| *woken != Ok(false))
            .collect();
        cond.release().unwrap();
        let notified = std::thread::scope(|scope| {
            let mut waiter = vec![scope.spawn(|| {
                assert!(cond.acquire(LONG).unwrap());
                let woken: Vec<_> = (0..=MAX_WAITERS).map(|_| cond.wait(LONG)).collect();
                cond.release().unwrap();
                woken
            })];
            for _ in 0..=MAX_WAITERS {
                until_threads("the thread waits again", &mut waiter, || {
                    cond.n_waiting() == 1
                });
                assert!(cond.acquire(LONG).unwrap());
                cond.notify(1).unwrap();
                cond.release().unwrap();
            }
            waiter.pop().unwrap().join().unwrap()
        });
        let not_notified = notified.iter().filter(|woken| **woken != Ok(true)).count();
        debug((refused, mine, full, timed_out, not_notified, cond.n_waiting()))
    });
    assert_eq!(
        answers,
        debug((
            Err::<bool, _>(SyncError::TooManyWaiters),
            true,
            MAX_WAITERS,
            Vec::<Result<bool, SyncError>>::new(),
            0,
            0
        ))
    );
}

/// Over a plain `Lock`, holding the lock is not enough: the condition knows which
/// thread took it, and another process is `NotOwner` while one holds it.
#[test]
fn ex6_over_a_plain_lock_only_the_holder_may_wait_and_notify() {
    let answers = isolated(|| {
        let cond = Condition::with_lock(ConditionLock::Lock(Lock::new().unwrap())).unwrap();
        assert!(cond.acquire(None).unwrap());
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let mut child = spawn(|| {
            let answers = (
                cond.is_mine(),
                cond.notify(1),
                cond.wait(Some(Duration::ZERO)),
            );
            say(fd, &debug(answers));
        });
        assert_eq!(reap(&mut child), ExitStatus::Exited(0));
        let mine = cond.is_mine();
        cond.release().unwrap();
        (transcript.finish(), mine, cond.is_mine())
    });
    let not_owner = SyncError::NotOwner;
    assert_eq!(
        answers,
        (
            vec![debug((
                false,
                Err::<(), _>(not_owner),
                Err::<bool, _>(not_owner)
            ))],
            true,
            false
        )
    );
}
