//! Chapter 5, Synchronization primitives on shared memory and futexes.
//!
//! `cargo test --test ch05_sync` grades chapters/ch05_sync; add `--features solutions`
//! to run the same tests against the reference solution. Test names start with the
//! exercise id: `cargo test --test ch05_sync ex3`.

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mpkit::testkit::{
    assert_same_lines, isolated, procfs, proptest_config, reap, say, Gate, Transcript,
};
use mpkit::{fork_child, Child, ExitStatus};
use proptest::prelude::*;
use workbook::ch05_sync::futex::{self, Wake};
use workbook::ch05_sync::{
    Barrier, Condition, ConditionLock, Event, Lock, RLock, Semaphore, Shared, ShmSafe, SyncError,
};

const LONG: Option<Duration> = Some(Duration::from_secs(5));

fn debug<T: std::fmt::Debug>(value: T) -> String {
    format!("{value:?}")
}

/// Counters and flags the tests keep in shared memory.
#[repr(C)]
#[derive(Default)]
struct Counters {
    a: AtomicU64,
    b: AtomicU64,
    c: AtomicU64,
    word: AtomicU32,
}

// Safety: repr(C), no pointers, atomics only.
unsafe impl ShmSafe for Counters {}

fn counters() -> Shared<Counters> {
    Shared::new(Counters::default()).expect("shared memory")
}

/// Forks a child that runs `body`; the test joins it with [`join_all`].
fn spawn(body: impl FnOnce()) -> Child {
    fork_child(body).expect("fork")
}

fn join_all(children: &mut [Child]) {
    for child in children {
        assert_eq!(
            reap(child),
            ExitStatus::Exited(0),
            "a child failed (its stderr is below)"
        );
    }
}

/// Makes a primitive with `make`, runs `work` in `processes` children released together
/// by a start gate, joins them, and returns the shared counters `a`, `b` and `c`.
fn race<P>(processes: u64, make: impl FnOnce() -> P, work: impl Fn(&P, &Counters)) -> [u64; 3] {
    isolated(move || {
        let primitive = make();
        let shared = counters();
        let mut gate = Gate::new();
        let ends = gate.ends();
        let mut children: Vec<Child> = (0..processes)
            .map(|_| {
                spawn(|| {
                    ends.pass();
                    work(&primitive, &shared);
                })
            })
            .collect();
        gate.open();
        join_all(&mut children);
        [&shared.a, &shared.b, &shared.c].map(|c| c.load(Ordering::SeqCst))
    })
}

/// Adds one to `counter` with a load and a store: two steps another process can come
/// between, unless a lock keeps it out.
fn add_one(counter: &AtomicU64) {
    let value = counter.load(Ordering::Relaxed);
    counter.store(value + 1, Ordering::Relaxed);
}

/// Polls until `ready()` holds; panics naming `what` after 5 s, or as soon as one of
/// `children` has ended (its stderr then explains why).
fn until(what: &str, children: &mut [Child], mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !ready() {
        for child in children.iter_mut() {
            if let Some(status) = child.try_wait().expect("try_wait") {
                panic!("a child ended ({status}) before {what} (its stderr is below)");
            }
        }
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Polls until `child` sleeps in the kernel, or has ended (then its answer tells why).
fn until_asleep(child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while procfs::state(child.pid()) != Some('S') && child.try_wait().expect("try_wait").is_none() {
        assert!(Instant::now() < deadline, "pid {} never slept", child.pid());
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Block, then release, with a timeout of `Duration::MAX`, whose deadline `Instant`
/// cannot represent: it means "no deadline", never a panic. `block` runs in a child,
/// which must fall asleep; `release` (given the child) then lets it go, and the child
/// must end at once. Returns the line the child said: what `block` returned.
fn forever_then_release(
    block: impl FnOnce() -> String,
    release: impl FnOnce(&mut Child),
) -> Vec<String> {
    let transcript = Transcript::new();
    let fd = transcript.fd().as_raw_fd();
    let mut child = spawn(|| say(fd, &block()));
    until_asleep(&mut child);
    release(&mut child);
    assert_eq!(
        reap(&mut child),
        ExitStatus::Exited(0),
        "the child failed (its stderr is below)"
    );
    transcript.finish()
}

// ---- Given: shared memory and futexes --------------------------------------------------

#[test]
fn given_shared_memory_is_shared_after_fork() {
    let seen = isolated(|| {
        let shared = counters();
        let mut child = spawn(|| shared.a.store(42, Ordering::SeqCst));
        assert_eq!(reap(&mut child), ExitStatus::Exited(0));
        shared.a.load(Ordering::SeqCst)
    });
    assert_eq!(seen, 42);
}

/// The surprise this chapter's `Shared` exists for: memmap2's anonymous map is private,
/// so the child writes to a copy of its own.
#[test]
fn given_a_private_anonymous_map_is_not_shared() {
    let seen = isolated(|| {
        let map = memmap2::MmapMut::map_anon(8).expect("map_anon");
        let word = map.as_ptr() as *mut u64;
        let mut child = spawn(move || {
            // Safety: the child writes its own copy-on-write copy of the page, which no
            // other thread or process touches.
            unsafe { word.write_volatile(42) };
        });
        assert_eq!(reap(&mut child), ExitStatus::Exited(0));
        // Safety: the parent reads its own page; the child is gone.
        unsafe { word.read_volatile() }
    });
    assert_eq!(seen, 0, "the parent never sees a write to a private map");
}

/// Block, then release: a shared futex wake reaches a waiter in another process.
#[test]
fn given_a_futex_wake_reaches_another_process() {
    let (lines, waiter_cpu) = isolated(|| {
        let shared = counters();
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let mut child = spawn(|| {
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while shared.word.load(Ordering::SeqCst) == 0 {
                if futex::wait(&shared.word, 0, Some(deadline)).unwrap() == Wake::TimedOut {
                    say(fd, "timed out");
                    return;
                }
            }
            say(fd, "woken");
        });
        std::thread::sleep(Duration::from_millis(200));
        let waiter_cpu = procfs::cpu_ticks(child.pid());
        shared.word.store(1, Ordering::SeqCst);
        futex::wake_all(&shared.word);
        assert_eq!(reap(&mut child), ExitStatus::Exited(0));
        (transcript.finish(), waiter_cpu)
    });
    assert_eq!(lines, ["woken"]);
    assert!(
        waiter_cpu <= 5,
        "the waiter spun: {waiter_cpu} ticks in 200 ms"
    );
}

#[test]
fn given_a_futex_wait_ends_at_its_deadline() {
    let (outcome, elapsed) = isolated(|| {
        let word = AtomicU32::new(0);
        let started = std::time::Instant::now();
        let deadline = started + Duration::from_millis(50);
        let mut outcome = Wake::Retry;
        while outcome == Wake::Retry {
            outcome = futex::wait(&word, 0, Some(deadline)).unwrap();
        }
        (debug(outcome), started.elapsed().as_millis() as u64)
    });
    assert_eq!(outcome, "TimedOut");
    assert!((50..1000).contains(&elapsed), "{elapsed} ms");
}

/// A private futex never reaches another process: the library must never use one.
/// Every misuse has a message that says what went wrong.
#[test]
fn given_every_sync_error_says_what_went_wrong() {
    let messages: Vec<String> = [
        SyncError::NotLocked,
        SyncError::NotOwner,
        SyncError::TooManyReleases,
        SyncError::Broken,
        SyncError::TooManyWaiters,
        SyncError::Os(nix::errno::Errno::EINVAL),
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    assert_eq!(
        messages,
        [
            "release of an unlocked lock",
            "the lock is not held by this thread",
            "semaphore released too many times",
            "the barrier is broken",
            "too many waiters on the condition (at most 128)",
            &format!("system call failed: {}", nix::errno::Errno::EINVAL),
        ]
    );
}

#[test]
fn given_no_private_futex_anywhere_in_the_library() {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut offenders = Vec::new();
    for dir in [
        "solutions/ch05_sync/src",
        "chapters/ch05_sync/src",
        "kit/src",
    ] {
        for entry in std::fs::read_dir(format!("{root}/{dir}")).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            // Code only: the docs explain the flag, and may name it.
            let code: String = text
                .lines()
                .filter(|line| !line.trim_start().starts_with("//"))
                .collect();
            if code.contains("_PRIVATE") {
                offenders.push(path.display().to_string());
            }
        }
    }
    assert!(offenders.is_empty(), "private futexes in {offenders:?}");
}

// ---- Exercise 1: Lock ----------------------------------------------------------------------

#[test]
fn ex1_releasing_an_unlocked_lock_is_an_error() {
    let answers = isolated(|| {
        let lock = Lock::new().expect("lock");
        let first = lock.release();
        let acquired = lock.acquire(None);
        let locked = lock.is_locked();
        let released = lock.release();
        debug((
            first,
            acquired,
            locked,
            released,
            lock.release(),
            lock.is_locked(),
        ))
    });
    let not_locked = Err::<(), _>(SyncError::NotLocked);
    assert_eq!(
        answers,
        debug((
            &not_locked,
            Ok::<_, ()>(true),
            true,
            Ok::<(), ()>(()),
            &not_locked,
            false
        ))
    );
}

/// Block, then release: another process holds the lock; a short acquire times out, a
/// long one sleeps (without spinning) until the holder releases.
#[test]
fn ex1_acquire_waits_for_the_holder_without_spinning() {
    let (lines, waiter_cpu) = isolated(|| {
        let lock = Lock::new().expect("lock");
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        assert!(lock.acquire(None).expect("acquire"));
        let mut child = spawn(|| {
            let short = lock.acquire(Some(Duration::from_millis(50))).unwrap();
            say(fd, &format!("short wait: {short}"));
            let long = lock.acquire(LONG).unwrap();
            say(fd, &format!("long wait: {long}"));
            lock.release().unwrap();
        });
        std::thread::sleep(Duration::from_millis(300));
        let waiter_cpu = procfs::cpu_ticks(child.pid());
        lock.release().expect("release");
        assert_eq!(reap(&mut child), ExitStatus::Exited(0));
        (transcript.finish(), waiter_cpu)
    });
    assert_eq!(lines, ["short wait: false", "long wait: true"]);
    assert!(
        waiter_cpu <= 5,
        "the waiter spun: {waiter_cpu} ticks in 300 ms"
    );
}

/// Python's Lock has no owner: any process may release it.
#[test]
fn ex1_any_process_may_release_the_lock() {
    let answers = isolated(|| {
        let lock = Lock::new().expect("lock");
        assert!(lock.acquire(None).expect("acquire"));
        let mut child = spawn(|| lock.release().unwrap());
        assert_eq!(reap(&mut child), ExitStatus::Exited(0));
        debug((lock.is_locked(), lock.acquire(Some(Duration::ZERO))))
    });
    assert_eq!(answers, debug((false, Ok::<_, ()>(true))));
}

#[test]
fn ex1_a_guard_releases_on_drop() {
    let answers = isolated(|| {
        let lock = Lock::new().expect("lock");
        let held = {
            let _guard = lock.lock().expect("lock");
            lock.lock_timeout(Duration::from_millis(10))
                .expect("lock_timeout")
                .is_some()
        };
        debug((held, lock.is_locked()))
    });
    assert_eq!(answers, debug((false, false)));
}

/// N processes add to two counters with a load and a store: under the lock, and with
/// no lock at all. Returns (locked total, unlocked total).
fn count_with_and_without_the_lock(processes: u64, iterations: u64) -> (u64, u64) {
    let [locked, unlocked, _] = race(
        processes,
        || Lock::new().expect("lock"),
        |lock, shared| {
            for _ in 0..iterations {
                let _guard = lock.lock().unwrap();
                add_one(&shared.a);
            }
            for _ in 0..iterations {
                add_one(&shared.b);
            }
        },
    );
    (locked, unlocked)
}

proptest! {
    #![proptest_config(proptest_config(8))]

    /// The locked counter is exactly N x iterations; the unlocked one never more.
    #[test]
    fn ex1_a_locked_counter_loses_no_update(processes in 1u64..=6, iterations in 0u64..2000) {
        let (locked, unlocked) = count_with_and_without_the_lock(processes, iterations);
        prop_assert_eq!(locked, processes * iterations);
        prop_assert!(unlocked <= processes * iterations);
    }
}

// ---- Exercise 2: Event -----------------------------------------------------------------------

#[test]
fn ex2_a_wait_times_out_when_nobody_sets_the_event() {
    let answers = isolated(|| {
        let event = Event::new().expect("event");
        let early = event.wait(Some(Duration::from_millis(30)));
        event.set();
        let set = (event.is_set(), event.wait(Some(Duration::ZERO)));
        event.clear();
        debug((
            early,
            set,
            event.is_set(),
            event.wait(Some(Duration::from_millis(10))),
        ))
    });
    assert_eq!(
        answers,
        debug((
            Ok::<_, ()>(false),
            (true, Ok::<_, ()>(true)),
            false,
            Ok::<_, ()>(false)
        ))
    );
}

/// Block, then release: four processes wait without spinning; one `set` releases all.
#[test]
fn ex2_set_releases_every_waiter() {
    let (lines, cpu) = isolated(|| {
        let event = Event::new().expect("event");
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let mut children: Vec<Child> = (0..4)
            // No timeout: only the set can end these waits (a wait that timed out would
            // also answer true once the event is set).
            .map(|k| spawn(|| say(fd, &format!("waiter {k}: {:?}", event.wait(None)))))
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        let cpu: u64 = children.iter().map(|c| procfs::cpu_ticks(c.pid())).sum();
        event.set();
        join_all(&mut children);
        (transcript.finish(), cpu)
    });
    assert_same_lines(
        &lines,
        &(0..4)
            .map(|k| format!("waiter {k}: Ok(true)"))
            .collect::<Vec<_>>(),
    );
    assert!(cpu <= 10, "the waiters spun: {cpu} ticks in 300 ms");
}

/// The notebook's "stay home" groups: some wait for the event and are released by it;
/// the others give up after a short timeout.
#[test]
fn ex2_some_waits_end_by_set_and_some_by_timeout() {
    let lines = isolated(|| {
        let event = Event::new().expect("event");
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let mut children: Vec<Child> = (0..6)
            .map(|k| {
                spawn(|| {
                    let patient = k % 2 == 0;
                    // The patient ones wait without a timeout: only the set ends it.
                    let timeout = if patient {
                        None
                    } else {
                        Some(Duration::from_millis(50))
                    };
                    let went_out = event.wait(timeout).unwrap();
                    let who = if patient { "patient" } else { "impatient" };
                    let what = if went_out { "went out" } else { "stayed home" };
                    say(fd, &format!("{who} {k} {what}"));
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        event.set();
        join_all(&mut children);
        transcript.finish()
    });
    assert_same_lines(
        &lines,
        &[
            "patient 0 went out",
            "impatient 1 stayed home",
            "patient 2 went out",
            "impatient 3 stayed home",
            "patient 4 went out",
            "impatient 5 stayed home",
        ],
    );
}

// ---- Exercise 3: Semaphore and BoundedSemaphore ----------------------------------------------

#[test]
fn ex3_a_bounded_semaphore_refuses_a_release_too_many() {
    let answers = isolated(|| {
        let sem = Semaphore::bounded(3).expect("semaphore");
        let first = sem.release();
        let taken: Vec<bool> = (0..3).map(|_| sem.acquire(None).unwrap()).collect();
        let fourth = sem.acquire(Some(Duration::from_millis(10)));
        let given: Vec<_> = (0..3).map(|_| sem.release()).collect();
        debug((first, taken, fourth, given, sem.release(), sem.value()))
    });
    let too_many = Err::<(), _>(SyncError::TooManyReleases);
    assert_eq!(
        answers,
        debug((
            &too_many,
            vec![true; 3],
            Ok::<_, ()>(false),
            vec![Ok::<(), ()>(()); 3],
            &too_many,
            3
        ))
    );
}

#[test]
fn ex3_an_unbounded_semaphore_grows() {
    let value = isolated(|| {
        let sem = Semaphore::new(0).expect("semaphore");
        for _ in 0..5 {
            sem.release().expect("release");
        }
        sem.value()
    });
    assert_eq!(value, 5);
}

/// Eight processes race to release a bounded semaphore with room for two: exactly two
/// win. (CPython checks the bound and then increments: both can pass the check.)
#[test]
fn ex3_the_bound_is_exact_under_racing_releases() {
    let make = || {
        let sem = Semaphore::bounded(2).expect("semaphore");
        assert!(sem.acquire(None).unwrap() && sem.acquire(None).unwrap());
        sem
    };
    let [wins, highest, _] = race(8, make, |sem, shared| {
        if sem.release().is_ok() {
            shared.a.fetch_add(1, Ordering::SeqCst);
        }
        // The highest value any process saw: never above the bound.
        shared.b.fetch_max(u64::from(sem.value()), Ordering::SeqCst);
    });
    assert_eq!(
        (wins, highest),
        (2, 2),
        "two releases fit under the bound, and no more"
    );
}

/// Block, then release: a process waits (without spinning) for the value to rise.
#[test]
fn ex3_acquire_waits_for_a_release() {
    let (lines, cpu) = isolated(|| {
        let sem = Semaphore::new(0).expect("semaphore");
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        // No timeout: only the release can end this wait (one that timed out would
        // still take the value the release left).
        let mut child = spawn(|| say(fd, &format!("acquired: {:?}", sem.acquire(None))));
        std::thread::sleep(Duration::from_millis(300));
        let cpu = procfs::cpu_ticks(child.pid());
        sem.release().expect("release");
        assert_eq!(reap(&mut child), ExitStatus::Exited(0));
        (transcript.finish(), cpu)
    });
    assert_eq!(lines, ["acquired: Ok(true)"]);
    assert!(cpu <= 5, "the waiter spun: {cpu} ticks in 300 ms");
}

/// Holders inside the critical section: the most ever seen at once, and whether the
/// count ever went below zero.
fn holders(permits: u32, processes: usize, rounds: usize) -> (u64, bool) {
    let make = || Semaphore::new(permits).expect("semaphore");
    let [_, most, negative] = race(processes as u64, make, |sem, shared| {
        for _ in 0..rounds {
            assert!(sem.acquire(LONG).unwrap());
            let inside = shared.a.fetch_add(1, Ordering::SeqCst) + 1;
            shared.b.fetch_max(inside, Ordering::SeqCst);
            std::thread::yield_now();
            if shared.a.fetch_sub(1, Ordering::SeqCst) == 0 {
                shared.c.store(1, Ordering::SeqCst);
            }
            sem.release().unwrap();
        }
    });
    (most, negative == 1)
}

proptest! {
    #![proptest_config(proptest_config(8))]

    /// Semaphore(k): never more than k holders at once, never fewer than zero.
    #[test]
    fn ex3_never_more_holders_than_permits(permits in 1u32..=3, processes in 2usize..=6, rounds in 1usize..200) {
        let (most, negative) = holders(permits, processes, rounds);
        prop_assert!(most <= u64::from(permits), "{} holders at once with {} permits", most, permits);
        prop_assert!(most >= 1);
        prop_assert!(!negative);
    }
}

/// The notebook's three connections: five processes share three slots.
#[test]
fn ex3_five_processes_share_three_connections() {
    let (lines, most) = isolated(|| {
        let sem = Semaphore::bounded(3).expect("semaphore");
        let shared = counters();
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let mut children: Vec<Child> = (0..5)
            .map(|k| {
                spawn(|| {
                    assert!(sem.acquire(LONG).unwrap());
                    let open = shared.a.fetch_add(1, Ordering::SeqCst) + 1;
                    shared.b.fetch_max(open, Ordering::SeqCst);
                    say(fd, &format!("connection {k} open"));
                    std::thread::sleep(Duration::from_millis(20));
                    shared.a.fetch_sub(1, Ordering::SeqCst);
                    sem.release().unwrap();
                    say(fd, &format!("connection {k} closed"));
                })
            })
            .collect();
        // The main process waits for a free slot too, like the notebook's.
        assert!(
            sem.acquire(LONG).unwrap(),
            "the main process never got a slot"
        );
        let open = shared.a.fetch_add(1, Ordering::SeqCst) + 1;
        shared.b.fetch_max(open, Ordering::SeqCst);
        say(fd, "main process got a slot");
        shared.a.fetch_sub(1, Ordering::SeqCst);
        sem.release().unwrap();
        join_all(&mut children);
        let mut lines = transcript.finish();
        lines.push(format!("one release too many: {:?}", sem.release()));
        (lines, shared.b.load(Ordering::SeqCst))
    });
    let mut expected: Vec<String> = (0..5)
        .flat_map(|k| {
            [
                format!("connection {k} open"),
                format!("connection {k} closed"),
            ]
        })
        .collect();
    expected.push("main process got a slot".into());
    expected.push("one release too many: Err(TooManyReleases)".into());
    assert_same_lines(&lines, &expected);
    assert!(most <= 3, "{most} connections open at once");
}

// ---- Exercise 4: Barrier ------------------------------------------------------------------

/// P processes go through `rounds` rounds; each logs its index per round, and the
/// leader's action counts rounds in shared memory. Every process also checks, on leaving,
/// that the action of its round already ran.
fn barrier_rounds(parties: u32, rounds: u32) -> Vec<String> {
    isolated(move || {
        let shared = counters();
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let actions = &shared.a;
        // Safety: `shared` outlives the barrier in every process, and the action runs
        // only inside `barrier.wait`, so the counter it reaches is always mapped.
        let action_counter: &'static AtomicU64 = unsafe { &*std::ptr::from_ref(actions) };
        let barrier = Barrier::new(
            parties,
            Some(Box::new(move || {
                action_counter.fetch_add(1, Ordering::SeqCst);
            })),
        )
        .expect("barrier");
        let mut children: Vec<Child> = (0..parties)
            .map(|_| {
                spawn(|| {
                    for round in 0..rounds {
                        let index = barrier.wait(LONG).unwrap();
                        let ran = actions.load(Ordering::SeqCst);
                        assert!(
                            ran > u64::from(round),
                            "left round {round} before its action"
                        );
                        say(fd, &format!("round {round} index {index}"));
                    }
                })
            })
            .collect();
        join_all(&mut children);
        let mut lines = transcript.finish();
        lines.push(format!("actions {}", actions.load(Ordering::SeqCst)));
        lines
    })
}

proptest! {
    #![proptest_config(proptest_config(8))]

    /// Each round's indices are a permutation of 0..P, and the action ran once a round.
    #[test]
    fn ex4_each_round_elects_exactly_one_leader(parties in 2u32..=8, rounds in 1u32..=5) {
        let lines = barrier_rounds(parties, rounds);
        let mut expected: Vec<String> = (0..rounds)
            .flat_map(|r| (0..parties).map(move |i| format!("round {r} index {i}")))
            .collect();
        expected.push(format!("actions {rounds}"));
        assert_same_lines(&lines, &expected);
    }
}

/// The notebook's ten processes at a barrier: each says it waits; the action (one
/// "going to be the FO") runs once; all pass. Sorted, the transcript is deterministic.
#[test]
fn ex4_ten_processes_at_a_barrier() {
    let lines = isolated(|| {
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let barrier = Barrier::new(10, Some(Box::new(move || say(fd, "going to be the FO"))))
            .expect("barrier");
        let mut children: Vec<Child> = (0..10)
            .map(|k| {
                spawn(|| {
                    say(fd, &format!("process {k} waits"));
                    barrier.wait(LONG).unwrap();
                    say(fd, &format!("process {k} passed"));
                })
            })
            .collect();
        join_all(&mut children);
        let mut lines = transcript.finish();
        lines.sort();
        lines
    });
    insta::assert_snapshot!(lines.join("\n"));
}

#[test]
fn ex4_a_timeout_breaks_the_barrier_until_reset() {
    let (lines, after, again) = isolated(|| {
        let barrier = Barrier::new(3, None).expect("barrier");
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        // No timeout: only the impatient one's can end this wait.
        let mut patient = spawn(|| say(fd, &format!("patient: {:?}", barrier.wait(None))));
        let mut impatient = spawn(|| {
            let result = barrier.wait(Some(Duration::from_millis(100)));
            say(fd, &format!("impatient: {result:?}"));
        });
        assert_eq!(reap(&mut impatient), ExitStatus::Exited(0));
        assert_eq!(reap(&mut patient), ExitStatus::Exited(0));
        let after = debug((barrier.broken(), barrier.wait(Some(Duration::ZERO))));
        barrier.reset().expect("reset");
        let mut children: Vec<Child> = (0..3)
            .map(|_| {
                spawn(|| {
                    barrier.wait(LONG).unwrap();
                })
            })
            .collect();
        join_all(&mut children);
        (transcript.finish(), after, barrier.broken())
    });
    assert_same_lines(&lines, &["patient: Err(Broken)", "impatient: Err(Broken)"]);
    assert_eq!(after, debug((true, Err::<u32, _>(SyncError::Broken))));
    assert!(!again, "reset made it usable");
}

/// Block, then release: `abort` breaks a waiting round.
#[test]
fn ex4_abort_releases_the_waiters_with_broken() {
    let lines = isolated(|| {
        let barrier = Barrier::new(2, None).expect("barrier");
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        // No timeout: only the abort can end this wait.
        let mut child = spawn(|| say(fd, &format!("{:?}", barrier.wait(None))));
        until(
            "the waiter arrived",
            std::slice::from_mut(&mut child),
            || barrier.n_waiting() == 1,
        );
        barrier.abort().expect("abort");
        let broken = barrier.broken();
        assert_eq!(reap(&mut child), ExitStatus::Exited(0));
        let mut lines = transcript.finish();
        lines.push(format!("broken: {broken}"));
        lines
    });
    assert_eq!(lines, ["Err(Broken)", "broken: true"]);
}

#[test]
fn ex4_a_panicking_action_breaks_the_round() {
    let lines = isolated(|| {
        let barrier =
            Barrier::new(2, Some(Box::new(|| panic!("the action failed")))).expect("barrier");
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        // No timeout: only the broken round can end these waits.
        let mut children: Vec<Child> = (0..2)
            .map(|_| spawn(|| say(fd, &format!("{:?}", barrier.wait(None)))))
            .collect();
        join_all(&mut children);
        transcript.finish()
    });
    assert_eq!(lines, ["Err(Broken)", "Err(Broken)"]);
}

/// What a barrier tells about itself: its parties (at least one: a barrier of 0 parties
/// is one of 1, whose every wait passes at once), its action, and how many wait now.
#[test]
fn ex4_a_barrier_reports_parties_action_and_waiters() {
    let answers = isolated(|| {
        let barrier = Barrier::new(3, Some(Box::new(|| {}))).expect("barrier");
        let plain = Barrier::new(0, None).expect("barrier");
        let described = (
            barrier.parties(),
            barrier.has_action(),
            plain.parties(),
            plain.has_action(),
            plain.wait(Some(Duration::ZERO)),
        );
        let mut counts = vec![barrier.n_waiting()];
        let mut children = Vec::new();
        for k in 1..=2 {
            children.push(spawn(|| {
                barrier.wait(LONG).unwrap();
            }));
            until("one more waiter", &mut children, || {
                barrier.n_waiting() == k
            });
            counts.push(barrier.n_waiting());
        }
        barrier.wait(LONG).expect("the last party");
        join_all(&mut children);
        counts.push(barrier.n_waiting());
        debug((described, counts))
    });
    assert_eq!(
        answers,
        debug((
            (3, true, 1, false, Ok::<u32, SyncError>(0)),
            vec![0, 1, 2, 0]
        ))
    );
}

/// Block, then release: Python's `reset()` sends the processes waiting now away with
/// `Broken`; the next round works.
#[test]
fn ex4_reset_releases_the_waiters_with_broken() {
    let (lines, broken, again) = isolated(|| {
        let barrier = Barrier::new(2, None).expect("barrier");
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        // No timeout: only the reset can end this wait.
        let mut child = spawn(|| say(fd, &format!("{:?}", barrier.wait(None))));
        until(
            "the waiter arrived",
            std::slice::from_mut(&mut child),
            || barrier.n_waiting() == 1,
        );
        barrier.reset().expect("reset");
        assert_eq!(reap(&mut child), ExitStatus::Exited(0));
        let broken = barrier.broken();
        let mut child = spawn(|| {
            barrier.wait(LONG).unwrap();
        });
        let again = debug(barrier.wait(LONG).map(|index| index < 2));
        assert_eq!(reap(&mut child), ExitStatus::Exited(0));
        (transcript.finish(), broken, again)
    });
    assert_eq!(lines, ["Err(Broken)"]);
    assert!(!broken, "reset left the barrier broken");
    assert_eq!(again, "Ok(true)");
}

/// Python's `Barrier(parties, action, timeout)`: the barrier's own timeout applies to
/// every `wait` that gives none, and breaks the barrier as the wait's own would.
#[test]
fn ex4_the_barriers_timeout_applies_to_a_wait_without_one() {
    let (lines, elapsed, timeouts) = isolated(|| {
        let default = Some(Duration::from_millis(100));
        let barrier = Barrier::with_timeout(3, None, default).expect("barrier");
        let timeouts = debug((Barrier::new(2, None).unwrap().timeout(), barrier.timeout()));
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let started = Instant::now();
        let mut children: Vec<Child> = (0..2)
            .map(|_| spawn(|| say(fd, &format!("{:?}", barrier.wait(None)))))
            .collect();
        join_all(&mut children);
        let elapsed = started.elapsed().as_millis() as u64;
        (transcript.finish(), elapsed, timeouts)
    });
    assert_eq!(lines, ["Err(Broken)", "Err(Broken)"]);
    assert!(
        elapsed >= 100,
        "broken after {elapsed} ms, before the 100 ms default"
    );
    assert_eq!(
        timeouts,
        debug((None::<Duration>, Some(Duration::from_millis(100))))
    );
}

/// A wait that gives a timeout of its own is not cut short by the barrier's.
#[test]
fn ex4_a_waits_own_timeout_overrides_the_barriers() {
    let (lines, broken) = isolated(|| {
        let barrier =
            Barrier::with_timeout(2, None, Some(Duration::from_millis(20))).expect("barrier");
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let mut first = spawn(|| say(fd, &format!("first: {:?}", barrier.wait(LONG))));
        until(
            "the first waiter arrived",
            std::slice::from_mut(&mut first),
            || barrier.n_waiting() == 1,
        );
        // Fifteen times the barrier's timeout: its waiter would have broken it by now.
        std::thread::sleep(Duration::from_millis(300));
        let broken = barrier.broken();
        say(fd, &format!("second: {:?}", barrier.wait(LONG)));
        assert_eq!(reap(&mut first), ExitStatus::Exited(0));
        (transcript.finish(), broken)
    });
    assert_same_lines(&lines, &["first: Ok(0)", "second: Ok(1)"]);
    assert!(!broken, "the barrier's 20 ms cut a 5 s wait short");
}

// ---- Exercise 5: RLock -----------------------------------------------------------------------

#[test]
fn ex5_an_rlock_is_reentrant_and_only_its_owner_releases_it() {
    let answers = isolated(|| {
        let rlock = RLock::new().expect("rlock");
        let taken: Vec<bool> = (0..3).map(|_| rlock.acquire(None).unwrap()).collect();
        let depth = rlock.depth();
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let mut child = spawn(|| {
            say(fd, &format!("other release: {:?}", rlock.release()));
            let got = rlock.acquire(Some(Duration::from_millis(30)));
            say(fd, &format!("other acquire: {got:?}"));
        });
        assert_eq!(reap(&mut child), ExitStatus::Exited(0));
        let released: Vec<_> = (0..3).map(|_| rlock.release()).collect();
        debug((
            taken,
            depth,
            transcript.finish(),
            released,
            rlock.release(),
            rlock.depth(),
        ))
    });
    assert_eq!(
        answers,
        debug((
            vec![true; 3],
            3,
            vec!["other release: Err(NotOwner)", "other acquire: Ok(false)"],
            vec![Ok::<(), ()>(()); 3],
            Err::<(), _>(SyncError::NotOwner),
            0
        ))
    );
}

/// Block, then release: the waiter sleeps until the owner's last level is released.
#[test]
fn ex5_a_waiter_gets_the_rlock_after_the_last_release() {
    let (lines, cpu) = isolated(|| {
        let rlock = RLock::new().expect("rlock");
        let shared = counters();
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        assert!(rlock.acquire(None).unwrap() && rlock.acquire(None).unwrap());
        let mut child = spawn(|| {
            let got = rlock.acquire(LONG).unwrap();
            say(
                fd,
                &format!(
                    "acquired: {got}, after {} releases",
                    shared.a.load(Ordering::SeqCst)
                ),
            );
            rlock.release().unwrap();
        });
        std::thread::sleep(Duration::from_millis(150));
        rlock.release().expect("release");
        shared.a.store(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(150));
        let cpu = procfs::cpu_ticks(child.pid());
        shared.a.store(2, Ordering::SeqCst);
        rlock.release().expect("release");
        assert_eq!(reap(&mut child), ExitStatus::Exited(0));
        (transcript.finish(), cpu)
    });
    assert_eq!(lines, ["acquired: true, after 2 releases"]);
    assert!(cpu <= 5, "the waiter spun: {cpu} ticks in 300 ms");
}

proptest! {
    #![proptest_config(proptest_config(8))]

    /// Nested acquisitions protect the counter as well as one does.
    #[test]
    fn ex5_a_counter_under_a_nested_rlock_loses_no_update(processes in 1u64..=6, iterations in 0u64..1000) {
        let [total, _, _] = race(processes, || RLock::new().expect("rlock"), |rlock, shared| {
            for _ in 0..iterations {
                assert!(rlock.acquire(LONG).unwrap() && rlock.acquire(LONG).unwrap());
                add_one(&shared.a);
                rlock.release().unwrap();
                rlock.release().unwrap();
            }
        });
        prop_assert_eq!(total, processes * iterations);
    }
}

// ---- Exercise 6: Condition ----------------------------------------------------------------

#[test]
fn ex6_wait_and_notify_need_the_lock() {
    let answers = isolated(|| {
        let cond = Condition::new().expect("condition");
        let without = (
            cond.wait(Some(Duration::from_millis(10))),
            cond.notify(1),
            cond.notify_all(),
        );
        assert!(cond.acquire(None).unwrap());
        let timed_out = cond.wait(Some(Duration::from_millis(30)));
        let with = (cond.notify(1), cond.notify_all());
        let released = cond.release();
        debug((without, timed_out, with, released))
    });
    let not_owner = Err::<(), _>(SyncError::NotOwner);
    assert_eq!(
        answers,
        debug((
            (Err::<bool, _>(SyncError::NotOwner), &not_owner, &not_owner),
            Ok::<_, ()>(false),
            (Ok::<(), ()>(()), Ok::<(), ()>(())),
            Ok::<(), ()>(())
        ))
    );
}

/// Block, then release: three processes sleep (without spinning) in `wait`; `notify(1)`
/// wakes exactly one, `notify_all` the other two.
#[test]
fn ex6_notify_wakes_one_and_notify_all_the_rest() {
    let (after_one, after_all, cpu) = isolated(|| {
        let cond = Condition::new().expect("condition");
        let shared = counters();
        let mut children: Vec<Child> = (0..3)
            .map(|_| {
                spawn(|| {
                    assert!(cond.acquire(LONG).unwrap());
                    shared.b.fetch_add(1, Ordering::SeqCst);
                    assert!(cond.wait(LONG).unwrap(), "woken, not timed out");
                    shared.a.fetch_add(1, Ordering::SeqCst);
                    cond.release().unwrap();
                })
            })
            .collect();
        while shared.b.load(Ordering::SeqCst) < 3 {
            for child in &mut children {
                let ended = child.try_wait().expect("try_wait");
                assert!(
                    ended.is_none(),
                    "a waiter ended early: {ended:?} (its stderr is below)"
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(300));
        let cpu: u64 = children.iter().map(|c| procfs::cpu_ticks(c.pid())).sum();
        assert!(cond.acquire(LONG).unwrap());
        cond.notify(1).unwrap();
        cond.release().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let after_one = shared.a.load(Ordering::SeqCst);
        assert!(cond.acquire(LONG).unwrap());
        cond.notify_all().unwrap();
        cond.release().unwrap();
        join_all(&mut children);
        (after_one, shared.a.load(Ordering::SeqCst), cpu)
    });
    assert_eq!((after_one, after_all), (1, 3));
    assert!(cpu <= 10, "the waiters spun: {cpu} ticks in 300 ms");
}

/// A chain of processes, each waiting for its turn on one condition, draws a rhombus:
/// the turns make the drawing deterministic. Every child is started while the parent
/// holds the condition, as in the notebook.
#[test]
fn ex6_a_chain_of_processes_draws_a_rhombus() {
    let lines = isolated(|| {
        let rows: u64 = 9;
        let cond = Condition::new().expect("condition");
        let shared = counters();
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        assert!(cond.acquire(None).unwrap());
        let mut children: Vec<Child> = (0..rows)
            .map(|row| {
                spawn(|| {
                    assert!(cond.acquire(LONG).unwrap());
                    let my_turn = || shared.a.load(Ordering::SeqCst) == row;
                    assert!(
                        cond.wait_for(my_turn, LONG).unwrap(),
                        "row {row} never got its turn"
                    );
                    let half = row.min(rows - 1 - row) as usize;
                    let pad = rows as usize / 2 - half;
                    say(
                        fd,
                        &format!("{}{}", " ".repeat(pad), "*".repeat(2 * half + 1)),
                    );
                    shared.a.fetch_add(1, Ordering::SeqCst);
                    cond.notify_all().unwrap();
                    cond.release().unwrap();
                })
            })
            .collect();
        cond.release().unwrap();
        join_all(&mut children);
        transcript.finish()
    });
    insta::assert_snapshot!(lines.join("\n"));
}

/// Two independent chains, each on its own condition: each chain keeps its own order;
/// how the two interleave is not guaranteed and not checked.
#[test]
fn ex6_two_chains_keep_their_own_order() {
    let lines = isolated(|| {
        let shared = counters();
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let chains = [
            ("A", Condition::new().unwrap(), &shared.a),
            ("B", Condition::new().unwrap(), &shared.b),
        ];
        let mut children = Vec::new();
        for (name, cond, turn) in &chains {
            for step in 0..4u64 {
                children.push(spawn(|| {
                    assert!(cond.acquire(LONG).unwrap());
                    assert!(cond
                        .wait_for(|| turn.load(Ordering::SeqCst) == step, LONG)
                        .unwrap());
                    say(fd, &format!("chain {name} step {step}"));
                    turn.fetch_add(1, Ordering::SeqCst);
                    cond.notify_all().unwrap();
                    cond.release().unwrap();
                }));
            }
        }
        join_all(&mut children);
        transcript.finish()
    });
    for chain in ["A", "B"] {
        let steps: Vec<&String> = lines
            .iter()
            .filter(|l| l.starts_with(&format!("chain {chain}")))
            .collect();
        let expected: Vec<String> = (0..4).map(|s| format!("chain {chain} step {s}")).collect();
        assert_eq!(steps, expected.iter().collect::<Vec<_>>());
    }
}

/// `wait_for` over a queue-like shared state: a consumer waits for items a producer
/// adds, one notify at a time, and sees every item once, in order.
#[test]
fn ex6_wait_for_a_queue_to_fill() {
    let (consumed, sum) = isolated(|| {
        let cond = Condition::new().expect("condition");
        let shared = counters();
        let produced = &shared.a;
        let mut consumer = spawn(|| {
            let (mut taken, mut sum) = (0u64, 0u64);
            assert!(cond.acquire(LONG).unwrap());
            while taken < 20 {
                assert!(cond
                    .wait_for(|| produced.load(Ordering::SeqCst) > taken, LONG)
                    .unwrap());
                taken += 1;
                sum += taken;
            }
            cond.release().unwrap();
            shared.b.store(taken, Ordering::SeqCst);
            shared.c.store(sum, Ordering::SeqCst);
        });
        for _ in 0..20 {
            assert!(cond.acquire(LONG).unwrap());
            produced.fetch_add(1, Ordering::SeqCst);
            cond.notify(1).unwrap();
            cond.release().unwrap();
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(reap(&mut consumer), ExitStatus::Exited(0));
        (
            shared.b.load(Ordering::SeqCst),
            shared.c.load(Ordering::SeqCst),
        )
    });
    assert_eq!((consumed, sum), (20, 210));
}

/// Python's `Condition(lock)` over a plain `Lock`: the condition knows its holder, and
/// the queue scenario works the same. The producer makes each item only once the
/// consumer waits for it, so every item is waited for.
#[test]
fn ex6_a_condition_over_a_plain_lock() {
    let (refused, consumed) = isolated(|| {
        let cond = Condition::with_lock(ConditionLock::Lock(Lock::new().unwrap())).unwrap();
        let refused = debug((
            cond.wait(Some(Duration::ZERO)),
            cond.notify(1),
            cond.is_mine(),
        ));
        let shared = counters();
        let produced = &shared.a;
        let mut consumer = spawn(|| {
            assert!(cond.acquire(LONG).unwrap());
            for taken in 0..5 {
                assert!(cond
                    .wait_for(|| produced.load(Ordering::SeqCst) > taken, LONG)
                    .unwrap());
            }
            cond.release().unwrap();
            shared.b.store(5, Ordering::SeqCst);
        });
        for _ in 0..5 {
            until(
                "the consumer waits",
                std::slice::from_mut(&mut consumer),
                || cond.n_waiting() == 1,
            );
            assert!(cond.acquire(LONG).unwrap());
            produced.fetch_add(1, Ordering::SeqCst);
            cond.notify_all().unwrap();
            cond.release().unwrap();
        }
        assert_eq!(reap(&mut consumer), ExitStatus::Exited(0));
        (refused, shared.b.load(Ordering::SeqCst))
    });
    let not_owner = SyncError::NotOwner;
    assert_eq!(
        refused,
        debug((Err::<bool, _>(not_owner), Err::<(), _>(not_owner), false))
    );
    assert_eq!(consumed, 5);
}

include!("ch05_sync/condition.rs");

// ---- Timeouts of Duration::MAX, in every exercise ------------------------------------------

include!("ch05_sync/forever.rs");

// ---- Exercise 7: RobustLock ------------------------------------------------------------------

include!("ch05_sync/robust.rs");
