// A timeout of `Duration::MAX` in every exercise: `Instant::now() + Duration::MAX`
// panics, so such a timeout must mean "no deadline", as in std. Each test blocks a
// child with it, releases the child once it sleeps, and expects it to end at once with
// the ordinary answer. Included in tests/ch05_sync.rs, so it uses that file's imports
// and helpers.

const FOREVER: Option<Duration> = Some(Duration::MAX);

#[test]
fn ex1_a_timeout_of_duration_max_waits_for_the_lock() {
    let lines = isolated(|| {
        let lock = Lock::new().expect("lock");
        assert!(lock.acquire(None).unwrap());
        let mut lines = forever_then_release(
            || format!("acquire: {:?}", lock.acquire(FOREVER)),
            |_| lock.release().unwrap(),
        );
        // The child took the lock and left it locked (a Lock has no owner).
        assert!(lock.is_locked());
        lines.extend(forever_then_release(
            || {
                let guard = lock.lock_timeout(Duration::MAX);
                format!("lock_timeout: {:?}", guard.map(|g| g.is_some()))
            },
            |_| lock.release().unwrap(),
        ));
        lines.push(format!("unlocked after the guard: {}", !lock.is_locked()));
        lines
    });
    assert_eq!(
        lines,
        [
            "acquire: Ok(true)",
            "lock_timeout: Ok(true)",
            "unlocked after the guard: true"
        ]
    );
}

#[test]
fn ex2_a_timeout_of_duration_max_waits_for_the_event() {
    let lines = isolated(|| {
        let event = Event::new().expect("event");
        forever_then_release(
            || format!("wait: {:?}", event.wait(FOREVER)),
            |_| event.set(),
        )
    });
    assert_eq!(lines, ["wait: Ok(true)"]);
}

#[test]
fn ex3_a_timeout_of_duration_max_waits_for_a_release() {
    let lines = isolated(|| {
        let sem = Semaphore::new(0).expect("semaphore");
        let mut lines = forever_then_release(
            || format!("acquire: {:?}", sem.acquire(FOREVER)),
            |_| sem.release().unwrap(),
        );
        lines.push(format!("value: {}", sem.value()));
        lines
    });
    assert_eq!(lines, ["acquire: Ok(true)", "value: 0"]);
}

/// Duration::MAX given to `wait`, and as the barrier's own timeout.
#[test]
fn ex4_a_timeout_of_duration_max_waits_for_the_round() {
    let lines = isolated(|| {
        let given = Barrier::new(2, None).expect("barrier");
        let mut lines = forever_then_release(
            || format!("given: {:?}", given.wait(FOREVER)),
            |_| assert_eq!(given.wait(FOREVER), Ok(1)),
        );
        let default = Barrier::with_timeout(2, None, FOREVER).expect("barrier");
        lines.extend(forever_then_release(
            || format!("default: {:?}", default.wait(None)),
            |_| assert_eq!(default.wait(None), Ok(1)),
        ));
        lines
    });
    assert_eq!(lines, ["given: Ok(0)", "default: Ok(0)"]);
}

#[test]
fn ex5_a_timeout_of_duration_max_waits_for_the_rlock() {
    let lines = isolated(|| {
        let rlock = RLock::new().expect("rlock");
        assert!(rlock.acquire(None).unwrap() && rlock.acquire(None).unwrap());
        forever_then_release(
            || {
                let got = rlock.acquire(FOREVER);
                let released = rlock.release();
                format!("acquire: {got:?}, release: {released:?}")
            },
            |_| {
                rlock.release().unwrap();
                rlock.release().unwrap();
            },
        )
    });
    assert_eq!(lines, ["acquire: Ok(true), release: Ok(())"]);
}

/// Duration::MAX given to the condition's `acquire`, `wait` and `wait_for`.
#[test]
fn ex6_a_timeout_of_duration_max_waits_for_the_condition() {
    let lines = isolated(|| {
        let cond = Condition::new().expect("condition");
        let shared = counters();
        assert!(cond.acquire(None).unwrap());
        let mut lines = forever_then_release(
            || {
                let got = cond.acquire(FOREVER);
                let released = cond.release();
                format!("acquire: {got:?}, release: {released:?}")
            },
            |_| cond.release().unwrap(),
        );
        let notify_when_queued = |child: &mut Child| {
            until("the child waits", std::slice::from_mut(child), || {
                cond.n_waiting() == 1
            });
            assert!(cond.acquire(LONG).unwrap());
            shared.a.store(1, Ordering::SeqCst);
            cond.notify(1).unwrap();
            cond.release().unwrap();
        };
        lines.extend(forever_then_release(
            || {
                assert!(cond.acquire(LONG).unwrap());
                let woken = cond.wait(FOREVER);
                cond.release().unwrap();
                format!("wait: {woken:?}")
            },
            notify_when_queued,
        ));
        shared.a.store(0, Ordering::SeqCst);
        lines.extend(forever_then_release(
            || {
                assert!(cond.acquire(LONG).unwrap());
                let holds = cond.wait_for(|| shared.a.load(Ordering::SeqCst) == 1, FOREVER);
                cond.release().unwrap();
                format!("wait_for: {holds:?}")
            },
            notify_when_queued,
        ));
        lines
    });
    assert_eq!(
        lines,
        [
            "acquire: Ok(true), release: Ok(())",
            "wait: Ok(true)",
            "wait_for: Ok(true)"
        ]
    );
}

#[test]
fn ex7_a_timeout_of_duration_max_waits_for_the_robust_lock() {
    let lines = isolated(|| {
        use workbook::ch05_sync::robust::RobustLock;
        let lock = RobustLock::new().expect("robust lock");
        let guard = lock.lock(None).expect("lock");
        forever_then_release(
            || format!("lock: {:?}", lock.lock(FOREVER)),
            move |_| drop(guard),
        )
    });
    assert_eq!(lines, ["lock: Ok(RobustGuard { consistent: true })"]);
}
