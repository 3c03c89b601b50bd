// Exercises 5 to 7: the queues. Included at the end of tests/ch04_pipes_queues.rs, so
// it uses that file's imports and helpers.
//
// The same checks run on each queue: `Queue` (exercise 5), `JoinableQueue` (exercise 6)
// and `RingQueue` (exercise 7); each queue then has tests of its own.

/// An item that says where it came from, with a payload any mix-up would change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Item {
    producer: u32,
    seq: u32,
    payload: Vec<u8>,
}

fn item(producer: u32, seq: u32, len: usize) -> Item {
    Item {
        producer,
        seq,
        payload: pattern(len, producer.wrapping_mul(1_000_003).wrapping_add(seq)),
    }
}

impl Item {
    fn intact(&self) -> bool {
        self.payload == pattern(self.payload.len(), self.producer.wrapping_mul(1_000_003).wrapping_add(self.seq))
    }
}

/// How each test makes the queue under test: `None` unbounded, `Some(n)` bounded.
type Make<Q> = fn(Option<usize>) -> Q;

fn pipe_queue(maxsize: Option<usize>) -> Queue<Item> {
    match maxsize {
        Some(n) => Queue::bounded(n),
        None => Queue::new(),
    }
    .expect("Queue")
}

fn joinable_queue(maxsize: Option<usize>) -> JoinableQueue<Item> {
    match maxsize {
        Some(n) => JoinableQueue::bounded(n),
        None => JoinableQueue::new(),
    }
    .expect("JoinableQueue")
}

fn ring_queue(maxsize: Option<usize>) -> RingQueue<Item> {
    match maxsize {
        Some(n) => RingQueue::bounded(n),
        None => RingQueue::new(),
    }
    .expect("RingQueue")
}

/// Bytes that postcard writes and reads with one copy (a `Vec<u8>` goes element by
/// element, which takes seconds for 16 MiB in a debug build).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Blob(Vec<u8>);

impl Serialize for Blob {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Blob, D::Error> {
        struct Bytes;
        impl serde::de::Visitor<'_> for Bytes {
            type Value = Blob;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, bytes: &[u8]) -> Result<Blob, E> {
                Ok(Blob(bytes.to_vec()))
            }
        }
        deserializer.deserialize_bytes(Bytes)
    }
}

fn blob(len: usize, seed: u32) -> Blob {
    Blob(pattern(len, seed))
}

fn big_blob(len: usize, seed: u8) -> Blob {
    Blob(stamped(len, seed))
}

/// Snapshots of this file live with the others, in tests/snapshots.
macro_rules! snapshot {
    ($text:expr) => {
        insta::with_settings!({ snapshot_path => "../snapshots" }, {
            insta::assert_snapshot!($text);
        })
    };
}

fn millis_since(start: Instant) -> u64 {
    start.elapsed().as_millis() as u64
}

// ---- The same checks on every queue ---------------------------------------------------------

/// FIFO in one process, `qsize`/`empty`/`full` exact while nobody moves, the `_nowait`
/// calls, and timeouts that wait their time and put nothing.
fn fifo_sizes_and_timeouts<Q: MpQueue<Item>>(make: Make<Q>) -> Vec<String> {
    isolated(move || {
        let q = make(Some(3));
        let mut log = vec![format!(
            "new: qsize {} empty {} full {} maxsize {:?}",
            q.qsize(),
            q.empty(),
            q.full(),
            q.maxsize()
        )];
        log.push(format!("get_nowait: {:?}", q.get_nowait()));
        let started = Instant::now();
        log.push(format!("get(30 ms): {:?}", q.get(Some(Duration::from_millis(30)))));
        assert!(millis_since(started) >= 30, "get(30 ms) returned early");
        q.put(&item(0, 1, 0), None).unwrap();
        q.put_nowait(&item(0, 2, 5000)).unwrap();
        q.put(&item(0, 3, 10), LONG).unwrap();
        log.push(format!("3 put: qsize {} empty {} full {}", q.qsize(), q.empty(), q.full()));
        log.push(format!("put_nowait: {:?}", q.put_nowait(&item(0, 4, 1))));
        let started = Instant::now();
        log.push(format!("put(30 ms): {:?}", q.put(&item(0, 5, 1), Some(Duration::from_millis(30)))));
        assert!(millis_since(started) >= 30, "put(30 ms) returned early");
        log.push(format!("still: qsize {} full {}", q.qsize(), q.full()));
        for _ in 0..3 {
            let got = q.get(LONG).unwrap();
            assert!(got.intact());
            log.push(format!("got {} ({} bytes): qsize {}", got.seq, got.payload.len(), q.qsize()));
        }
        log.push(format!("end: empty {} full {} get_nowait {:?}", q.empty(), q.full(), q.get_nowait()));
        let unbounded = make(None);
        for seq in 0..5 {
            unbounded.put_nowait(&item(1, seq, 1)).unwrap();
        }
        log.push(format!(
            "unbounded: qsize {} full {} maxsize {:?}",
            unbounded.qsize(),
            unbounded.full(),
            unbounded.maxsize()
        ));
        log
    })
}

const FIFO_LOG: [&str; 12] = [
    "new: qsize 0 empty true full false maxsize Some(3)",
    "get_nowait: Err(Empty)",
    "get(30 ms): Err(Empty)",
    "3 put: qsize 3 empty false full true",
    "put_nowait: Err(Full)",
    "put(30 ms): Err(Full)",
    "still: qsize 3 full true",
    "got 1 (0 bytes): qsize 2",
    "got 2 (5000 bytes): qsize 1",
    "got 3 (10 bytes): qsize 0",
    "end: empty true full false get_nowait Err(Empty)",
    "unbounded: qsize 5 full false maxsize None",
];

/// Block, then release: a getter sleeps (no CPU) until an item comes.
fn get_waits_for_a_put<Q: MpQueue<Item>>(make: Make<Q>) -> (Vec<String>, u64) {
    isolated(move || {
        let q = make(None);
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let mut getter = spawn(|| {
            let got = q.get(LONG).unwrap();
            say(fd, &format!("got {} intact {}", got.seq, got.intact()));
        });
        let cpu = cpu_while_blocked(getter.pid());
        say(fd, "putting");
        q.put(&item(0, 7, 100), None).unwrap();
        join_ok(&mut getter);
        (transcript.finish(), cpu)
    })
}

/// Block, then release: a putter on a full bounded queue sleeps until a get makes room.
fn put_waits_for_room<Q: MpQueue<Item>>(make: Make<Q>) -> (Vec<String>, u64) {
    isolated(move || {
        let q = make(Some(1));
        q.put(&item(0, 1, 10), None).unwrap();
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let mut putter = spawn(|| {
            q.put(&item(0, 2, 10), LONG).unwrap();
            say(fd, "put 2");
        });
        let cpu = cpu_while_blocked(putter.pid());
        let first = q.get(LONG).unwrap();
        say(fd, &format!("got {}", first.seq));
        join_ok(&mut putter);
        let second = q.get(LONG).unwrap();
        let mut lines = transcript.finish();
        lines.sort();
        lines.push(format!("then got {}, qsize {}", second.seq, q.qsize()));
        (lines, cpu)
    })
}

/// `close` is for this process's handle only: the child's calls are `Closed`, the
/// parent's go on, and the items the child put before closing are there.
fn close_is_per_process<Q: MpQueue<Item>>(make: Make<Q>) -> Vec<String> {
    isolated(move || {
        let mut q = make(None);
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let mut child = spawn(|| {
            q.put(&item(0, 1, 3), None).unwrap();
            q.close();
            q.close();
            say(fd, &format!("child put: {:?}", q.put(&item(0, 2, 3), LONG)));
            say(fd, &format!("child put_nowait: {:?}", q.put_nowait(&item(0, 2, 3))));
            say(fd, &format!("child get: {:?}", q.get(LONG)));
            say(fd, &format!("child get_nowait: {:?}", q.get_nowait()));
        });
        join_ok(&mut child);
        let mut lines = transcript.finish();
        lines.push(format!("parent got {:?}", q.get(LONG).map(|i| i.seq)));
        q.put(&item(0, 3, 3), None).unwrap();
        lines.push(format!("parent got {:?}", q.get(LONG).map(|i| i.seq)));
        q.close();
        lines.push(format!("parent after close: {:?}", q.get_nowait()));
        lines
    })
}

const CLOSE_LOG: [&str; 7] = [
    "child put: Err(Closed)",
    "child put_nowait: Err(Closed)",
    "child get: Err(Closed)",
    "child get_nowait: Err(Closed)",
    "parent got Ok(1)",
    "parent got Ok(3)",
    "parent after close: Err(Closed)",
];

/// A getter killed while it waits in `get` leaves the queue working: the next put
/// and get go through, and nothing is lost.
fn a_killed_getter_leaves_the_queue_working<Q: MpQueue<Item>>(make: Make<Q>) -> Vec<String> {
    isolated(move || {
        let q = make(None);
        let mut getter = spawn(|| {
            let _ = q.get(None);
        });
        wait_in_syscall(getter.pid(), &[SYS_POLL, SYS_PPOLL, SYS_FUTEX]);
        getter.kill().unwrap();
        q.put(&item(0, 1, 100), None).unwrap();
        q.put(&item(0, 2, 100), None).unwrap();
        let mut other = spawn(|| {
            let got = q.get(LONG).unwrap();
            assert_eq!((got.seq, got.intact()), (1, true));
        });
        join_ok(&mut other);
        vec![
            format!("{:?}", q.get(LONG).map(|i| (i.seq, i.intact()))),
            format!("qsize {}", q.qsize()),
        ]
    })
}

/// Many producers and consumers: the multiset got equals the multiset put, each
/// consumer sees each producer's items in the producer's order, every payload is
/// intact, and a bounded queue never holds more than `maxsize`.
fn producers_and_consumers<Q: MpQueue<Item>>(
    make: Make<Q>,
    sizes: &[Vec<usize>],
    consumers: usize,
    maxsize: Option<usize>,
) -> Result<(), TestCaseError> {
    let lines = isolated(|| {
        let q = &make(maxsize);
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let gate = Gate::new();
        let go = gate.ends();
        let mut gate = gate;
        let mut getters: Vec<Child> = (0..consumers)
            .map(|c| {
                spawn(move || {
                    go.pass();
                    loop {
                        let got = q.get(LONG).unwrap();
                        if got.producer == u32::MAX {
                            return;
                        }
                        let size = q.qsize();
                        if maxsize.is_some_and(|max| size > max) {
                            say(fd, &format!("over maxsize: {size}"));
                        }
                        say(fd, &format!("{c} {} {} {}", got.producer, got.seq, got.intact()));
                    }
                })
            })
            .collect();
        let mut putters: Vec<Child> = sizes
            .iter()
            .enumerate()
            .map(|(p, lens)| {
                spawn(move || {
                    go.pass();
                    for (seq, &len) in lens.iter().enumerate() {
                        q.put(&item(p as u32, seq as u32, len), LONG).unwrap();
                        let size = q.qsize();
                        if maxsize.is_some_and(|max| size > max) {
                            say(fd, &format!("over maxsize: {size}"));
                        }
                    }
                })
            })
            .collect();
        gate.open();
        for putter in &mut putters {
            join_ok(putter);
        }
        for _ in 0..consumers {
            q.put(&item(u32::MAX, 0, 0), LONG).unwrap();
        }
        for getter in &mut getters {
            join_ok(getter);
        }
        assert!(q.empty(), "items left after every stop: {}", q.qsize());
        transcript.finish()
    });
    let mut seen: Vec<(u32, u32)> = Vec::new();
    let mut last: std::collections::HashMap<(String, u32), u32> = Default::default();
    for line in &lines {
        let fields: Vec<&str> = line.split(' ').collect();
        prop_assert_eq!(fields.len(), 4, "{}", line);
        prop_assert_eq!(fields[3], "true", "a torn or mixed-up item: {}", line);
        let (producer, seq): (u32, u32) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
        if let Some(previous) = last.insert((fields[0].to_owned(), producer), seq) {
            prop_assert!(previous < seq, "consumer {} got {} after {} of producer {}", fields[0], seq, previous, producer);
        }
        seen.push((producer, seq));
    }
    seen.sort_unstable();
    let mut expected: Vec<(u32, u32)> = sizes
        .iter()
        .enumerate()
        .flat_map(|(p, lens)| (0..lens.len()).map(move |s| (p as u32, s as u32)))
        .collect();
    expected.sort_unstable();
    prop_assert_eq!(seen, expected);
    Ok(())
}

fn payload_sizes() -> impl Strategy<Value = Vec<Vec<usize>>> {
    let size = prop_oneof![6 => 0usize..100, 2 => 100usize..4000, 1 => 4000usize..20_000];
    prop::collection::vec(prop::collection::vec(size, 0..30), 1..=3)
}

/// A process that wants the queue's `qsize` to be exact reads it while nobody moves.
fn qsize_is_exact_when_nobody_moves<Q: MpQueue<Item>>(make: Make<Q>, puts: u32, gets: u32) -> (usize, usize) {
    isolated(move || {
        let q = make(None);
        let mut putter = spawn(|| {
            for seq in 0..puts {
                q.put(&item(0, seq, seq as usize % 50), None).unwrap();
            }
        });
        join_ok(&mut putter);
        let after_puts = q.qsize();
        let mut getter = spawn(|| {
            for _ in 0..gets {
                q.get(LONG).unwrap();
            }
        });
        join_ok(&mut getter);
        (after_puts, q.qsize())
    })
}

/// An item whose `Serialize` fails is refused, and nothing is put.
fn an_unencodable_item_is_refused<Q: MpQueue<Unencodable>>(q: Q) -> Vec<String> {
    vec![
        debug(matches!(
            q.put(&Unencodable, None),
            Err(QueueError::Malformed(PipeError::Encode(_)))
        )),
        debug(q.qsize()),
        debug(q.get_nowait()),
    ]
}

// ---- Exercise 5: Queue ---------------------------------------------------------------------

#[test]
fn ex5_an_unencodable_item_is_refused() {
    let answers = isolated(|| an_unencodable_item_is_refused(Queue::new().unwrap()));
    assert_eq!(answers, ["true", "0", "Err(Empty)"]);
}

#[test]
fn ex5_fifo_sizes_and_timeouts() {
    assert_eq!(fifo_sizes_and_timeouts(pipe_queue), FIFO_LOG);
}

#[test]
fn ex5_get_waits_for_a_put_without_spinning() {
    let (lines, cpu) = get_waits_for_a_put(pipe_queue);
    assert_eq!(lines, ["putting", "got 7 intact true"]);
    assert!(cpu <= 5, "get spun: {cpu} ticks in 300 ms");
}

#[test]
fn ex5_put_on_a_full_queue_waits_for_room_without_spinning() {
    let (lines, cpu) = put_waits_for_room(pipe_queue);
    assert_eq!(lines, ["got 1", "put 2", "then got 2, qsize 0"]);
    assert!(cpu <= 5, "put spun: {cpu} ticks in 300 ms");
}

#[test]
fn ex5_close_is_for_this_process_only() {
    assert_eq!(close_is_per_process(pipe_queue), CLOSE_LOG);
}

/// Python's queue stays locked for good when a getter dies waiting; here the next
/// getter takes over the reader lock (chapter 5's RobustLock) and nothing is lost.
#[test]
fn ex5_a_getter_killed_while_waiting_leaves_the_queue_working() {
    assert_eq!(
        a_killed_getter_leaves_the_queue_working(pipe_queue),
        ["Ok((2, true))", "qsize 0"]
    );
}

#[test]
fn ex5_qsize_is_exact_when_nobody_moves() {
    assert_eq!(qsize_is_exact_when_nobody_moves(pipe_queue, 40, 15), (40, 25));
}

/// An empty frame is an item: a queue of `()` carries frames of length 0.
#[test]
fn ex5_an_empty_item_is_an_item() {
    let answers = isolated(|| {
        let q: Queue<()> = Queue::bounded(2).unwrap();
        q.put(&(), None).unwrap();
        q.put(&(), None).unwrap();
        vec![
            debug(q.qsize()),
            debug(q.put_nowait(&())),
            debug(q.get_nowait()),
            debug(q.get_nowait()),
            debug(q.get_nowait()),
        ]
    });
    assert_eq!(answers, ["2", "Err(Full)", "Ok(())", "Ok(())", "Err(Empty)"]);
}

proptest! {
    #![proptest_config(proptest_config(8))]

    #[test]
    fn ex5_producers_and_consumers_lose_nothing_and_keep_order(
        sizes in payload_sizes(),
        consumers in 1usize..=3,
        maxsize in prop::option::of(1usize..=6),
    ) {
        producers_and_consumers(pipe_queue, &sizes, consumers, maxsize)?;
    }
}

/// What `put` does when the pipe is full (there is no feeder thread to buffer): it
/// waits for a getter, at most its timeout, then `Full`; a get makes room again; a
/// putter waiting for room sleeps (no CPU) until a get.
#[test]
fn ex5_put_when_the_pipe_is_full_waits_for_a_getter_then_fails_full() {
    let (lines, cpu, filled) = isolated(|| {
        let q: Queue<u64> = Queue::new().unwrap();
        let mut filled = 0u64;
        while q.put_nowait(&filled).is_ok() {
            filled += 1;
        }
        let mut lines = vec![format!("qsize is the count put: {}", q.qsize() as u64 == filled)];
        let started = Instant::now();
        lines.push(format!("put(50 ms): {:?}", q.put(&0, Some(Duration::from_millis(50)))));
        assert!(millis_since(started) >= 50, "put(50 ms) on a full pipe returned early");
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let mut putter = spawn(|| {
            q.put(&u64::MAX, LONG).unwrap();
            say(fd, "the waiting put went in");
        });
        let cpu = cpu_while_blocked(putter.pid());
        lines.push(format!("first item: {:?}", q.get(LONG)));
        join_ok(&mut putter);
        lines.extend(transcript.finish());
        let mut last = 0;
        for _ in 1..filled {
            last = q.get(LONG).unwrap();
        }
        lines.push(format!("in order to the last: {}", last == filled - 1));
        lines.push(format!("then the waiting one: {:?}", q.get(LONG) == Ok(u64::MAX)));
        (lines, cpu, filled)
    });
    assert_eq!(
        lines,
        [
            "qsize is the count put: true",
            "put(50 ms): Err(Full)",
            "first item: Ok(0)",
            "the waiting put went in",
            "in order to the last: true",
            "then the waiting one: true",
        ]
    );
    assert!(cpu <= 5, "put spun on a full pipe: {cpu} ticks in 300 ms");
    assert!(filled > 10_000, "only {filled} small items filled the pipe");
}

/// Items of mixed sizes: short ones that share a read, 30 000-byte ones that straddle
/// the end of the shared buffer (its rest must move to the front before the next read),
/// and long ones that start in the middle of the buffer.
#[test]
fn ex5_items_of_mixed_sizes_cross_the_shared_buffer_whole() {
    let sizes = [10, 100_000, 30_000, 30_000, 30_000, 10, 70_000, 5, 200_000, 30_000];
    let intact = isolated(|| {
        let q: Queue<Blob> = Queue::new().unwrap();
        for (k, &len) in sizes.iter().enumerate() {
            q.put(&blob(len, k as u32), None).unwrap();
        }
        sizes
            .iter()
            .enumerate()
            .map(|(k, &len)| q.get(Some(Duration::from_secs(1))) == Ok(blob(len, k as u32)))
            .collect::<Vec<bool>>()
    });
    assert_eq!(intact, [true; 10]);
}

/// A putter killed in the middle of an item shorter than the shared buffer: its half
/// frame waits in the buffer, and a getter whose time runs out finds the writer dead:
/// `Broken`, not `Empty`.
#[test]
fn ex5_half_a_short_item_from_a_dead_putter_breaks_the_queue() {
    let answers = isolated(|| {
        let q: Queue<Blob> = Queue::new().unwrap();
        // Leaves 20 000 bytes of room in the 1 MiB pipe (4 + 3 + the blob).
        let filler = big_blob(PIPE_SIZE - 20_000 - HEADER - 3, 9);
        q.put(&filler, None).unwrap();
        let mut putter = spawn(|| q.put(&blob(40_000, 10), None).unwrap());
        wait_in_syscall(putter.pid(), &[SYS_POLL, SYS_PPOLL]);
        putter.kill().unwrap();
        vec![
            debug(q.get(LONG) == Ok(filler)),
            debug(q.get(Some(Duration::from_millis(100)))),
            debug(q.is_broken()),
        ]
    });
    assert_eq!(answers, ["true", "Err(Broken)", "true"]);
}

/// A putter of a long item killed while it waits for room, before any byte of the item
/// went in, leaves the queue working (it must not pass for a death inside a frame).
#[test]
fn ex5_a_putter_of_a_long_item_killed_before_its_first_byte_leaves_the_queue_working() {
    let answers = isolated(|| {
        let q: Queue<Blob> = Queue::new().unwrap();
        // One frame that fills the 1 MiB pipe exactly (4 + 3 + 1 048 569 bytes).
        let filler = big_blob(PIPE_SIZE - HEADER - 3, 6);
        q.put(&filler, None).unwrap();
        let mut putter = spawn(|| q.put(&big_blob(100_000, 7), None).unwrap());
        wait_in_syscall(putter.pid(), &[SYS_POLL, SYS_PPOLL]);
        putter.kill().unwrap();
        vec![
            debug(q.get(LONG) == Ok(filler)),
            debug(q.put(&blob(10, 8), LONG)),
            debug(q.get(LONG) == Ok(blob(10, 8))),
            debug(q.is_broken()),
        ]
    });
    assert_eq!(answers, ["true", "Ok(())", "true", "false"]);
}

/// Python's warning "joining processes that use queues": its child cannot end before
/// its feeder thread has written every item. Here `put` wrote them: the child ends
/// and is joined at once, and its items wait in the pipe.
#[test]
fn ex5_a_producer_can_be_joined_before_its_items_are_got() {
    let got = isolated(|| {
        let q: Queue<Blob> = Queue::new().unwrap();
        let mut producer = spawn(|| {
            for k in 0..8 {
                q.put(&blob(100_000, k), None).unwrap();
            }
        });
        let joined = producer.wait_timeout(Duration::from_secs(5)).unwrap();
        let intact = (0..8).all(|k| q.get(LONG) == Ok(blob(100_000, k)));
        (debug(joined), intact)
    });
    assert_eq!(got, ("Some(Exited(0))".to_owned(), true));
}

/// The price of having no feeder thread: an item larger than the room left in the pipe
/// goes in pieces, and the put waits (asleep) for a getter to take the first pieces.
#[test]
fn ex5_a_put_larger_than_the_pipe_waits_for_a_getter() {
    let (still_running, cpu, intact) = isolated(|| {
        let q: Queue<Blob> = Queue::new().unwrap();
        let mut producer = spawn(|| q.put(&big_blob(4 * MIB, 3), None).unwrap());
        wait_in_syscall(producer.pid(), &[SYS_POLL, SYS_PPOLL]);
        let still_running = producer.try_wait().unwrap().is_none();
        let cpu = cpu_while_blocked(producer.pid());
        let intact = q.get(LONG) == Ok(big_blob(4 * MIB, 3));
        join_ok(&mut producer);
        (still_running, cpu, intact)
    });
    assert!(still_running && intact);
    assert!(cpu <= 5, "the blocked put spun: {cpu} ticks in 300 ms");
}

/// 16 MiB items through the queue, from two producers at once: each arrives whole.
#[test]
fn ex5_sixteen_mebibyte_items_arrive_whole() {
    let intact = isolated(|| {
        let q: &Queue<Blob> = &Queue::new().unwrap();
        let mut producers: Vec<Child> = (0..2)
            .map(|k| spawn(move || q.put(&big_blob(16 * MIB, k), None).unwrap()))
            .collect();
        let mut got = vec![q.get(LONG).unwrap(), q.get(LONG).unwrap()];
        for producer in &mut producers {
            join_ok(producer);
        }
        got.sort();
        let mut expected = vec![big_blob(16 * MIB, 0), big_blob(16 * MIB, 1)];
        expected.sort();
        got == expected
    });
    assert!(intact);
}

#[test]
fn ex5_an_item_over_the_limit_is_refused_and_nothing_is_put() {
    let answers = isolated(|| {
        let q: Queue<Blob> = Queue::bounded(1).unwrap();
        let big = Blob(vec![0u8; q.max_item() - 3]);
        vec![
            debug(q.put(&big, Some(Duration::ZERO))),
            debug((q.qsize(), q.full())),
            debug(q.put(&Blob(vec![1u8; 3]), Some(Duration::ZERO))),
        ]
    });
    // postcard writes the length of 64 MiB - 3 bytes in 4 bytes.
    let len = DEFAULT_MAX_MESSAGE + 1;
    assert_eq!(
        answers,
        [
            format!("Err(TooLarge {{ len: {len}, max: {DEFAULT_MAX_MESSAGE} }})"),
            "(0, false)".to_owned(),
            "Ok(())".to_owned(),
        ]
    );
}

/// Frames never interleave: while one putter is in the middle of a long frame (the
/// pipe full), a second putter waits for the writer lock, not for room in the pipe.
/// Then both items arrive whole.
#[test]
fn ex5_a_second_putter_waits_for_the_writer_lock_while_a_frame_is_half_written() {
    let (second_waits_in, intact) = isolated(|| {
        let q: Queue<Blob> = Queue::new().unwrap();
        let mut long = spawn(|| q.put(&big_blob(3 * MIB, 1), None).unwrap());
        wait_in_syscall(long.pid(), &[SYS_POLL, SYS_PPOLL]);
        let mut short = spawn(|| q.put(&blob(100, 2), LONG).unwrap());
        let second_waits_in = wait_in_syscall(short.pid(), &[SYS_FUTEX, SYS_POLL, SYS_PPOLL]);
        let first = q.get(LONG).unwrap();
        let second = q.get(LONG).unwrap();
        join_ok(&mut long);
        join_ok(&mut short);
        (second_waits_in, first == big_blob(3 * MIB, 1) && second == blob(100, 2))
    });
    assert_eq!(second_waits_in, SYS_FUTEX, "the second putter did not wait for the writer lock");
    assert!(intact);
}

/// One getter at a time reads the pipe: while one waits in `get` (holding the reader
/// lock), a second waits for the lock. Each then gets one whole item.
#[test]
fn ex5_a_second_getter_waits_for_the_reader_lock() {
    let (second_waits_in, lines) = isolated(|| {
        let q: Queue<Blob> = Queue::new().unwrap();
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let getter = || {
            let got = q.get(LONG).unwrap();
            say(fd, &format!("{} bytes, intact {}", got.0.len(), got == blob(got.0.len(), 9)));
        };
        let mut first = spawn(getter);
        wait_in_syscall(first.pid(), &[SYS_POLL, SYS_PPOLL]);
        let mut second = spawn(getter);
        let second_waits_in = wait_in_syscall(second.pid(), &[SYS_FUTEX, SYS_POLL, SYS_PPOLL]);
        q.put(&blob(200_000, 9), None).unwrap();
        q.put(&blob(200_000, 9), None).unwrap();
        join_ok(&mut first);
        join_ok(&mut second);
        (second_waits_in, transcript.finish())
    });
    assert_eq!(second_waits_in, SYS_FUTEX, "the second getter did not wait for the reader lock");
    assert_eq!(lines, ["200000 bytes, intact true", "200000 bytes, intact true"]);
}

/// A putter killed in the middle of a long item leaves half a frame in the pipe: the
/// getter finds its writer dead and reports `Broken`; so does every later call.
#[test]
fn ex5_a_putter_killed_in_the_middle_of_an_item_breaks_the_queue() {
    let answers = isolated(|| {
        let q: Queue<Blob> = Queue::new().unwrap();
        let mut putter = spawn(|| q.put(&big_blob(4 * MIB, 4), None).unwrap());
        wait_in_syscall(putter.pid(), &[SYS_POLL, SYS_PPOLL]);
        putter.kill().unwrap();
        vec![
            debug(q.is_broken()),
            debug(q.get(LONG)),
            debug(q.is_broken()),
            debug(q.put(&Blob(vec![1]), LONG)),
            debug(q.get_nowait()),
        ]
    });
    assert_eq!(answers, ["false", "Err(Broken)", "true", "Err(Broken)", "Err(Broken)"]);
}

/// A putter killed while it waits for room, before any byte of its item is in, leaves
/// the queue working: the next putter takes over the writer lock.
#[test]
fn ex5_a_putter_killed_while_waiting_for_room_leaves_the_queue_working() {
    let answers = isolated(|| {
        let q: Queue<u64> = Queue::new().unwrap();
        let mut filled = 0u64;
        while q.put_nowait(&filled).is_ok() {
            filled += 1;
        }
        let mut putter = spawn(|| q.put(&u64::MAX, None).unwrap());
        wait_in_syscall(putter.pid(), &[SYS_POLL, SYS_PPOLL]);
        putter.kill().unwrap();
        let first = q.get(LONG);
        let put = q.put(&filled, LONG);
        let mut last = 0;
        for _ in 1..=filled {
            last = q.get(LONG).unwrap();
        }
        vec![
            debug(first),
            debug(put),
            debug(last == filled),
            debug(q.get_nowait()),
            debug(q.qsize()),
        ]
    });
    assert_eq!(answers, ["Ok(0)", "Ok(())", "true", "Err(Empty)", "0"]);
}

/// A getter killed in the middle of a long item took bytes out of the pipe that nobody
/// else has: the next getter finds it dead holding the reader lock, and the queue is
/// `Broken`.
#[test]
fn ex5_a_getter_killed_in_the_middle_of_an_item_breaks_the_queue() {
    let answers = isolated(|| {
        let q: Queue<Blob> = Queue::new().unwrap();
        let mut putter = spawn(|| q.put(&big_blob(4 * MIB, 5), None).unwrap());
        wait_in_syscall(putter.pid(), &[SYS_POLL, SYS_PPOLL]);
        // Freeze the putter in the middle of its frame, so the getter waits for the rest.
        putter.signal(nix::sys::signal::Signal::SIGSTOP).unwrap();
        let mut getter = spawn(|| {
            let _ = q.get(None);
        });
        wait_in_syscall(getter.pid(), &[SYS_POLL, SYS_PPOLL]);
        getter.kill().unwrap();
        putter.signal(nix::sys::signal::Signal::SIGCONT).unwrap();
        let answers = vec![debug(q.get(LONG)), debug(q.put(&Blob(vec![1]), LONG)), debug(q.is_broken())];
        putter.kill().unwrap();
        answers
    });
    assert_eq!(answers, ["Err(Broken)", "Err(Broken)", "true"]);
}

/// One log line of the taxi scenario: when (ns on the monotonic clock), what, which
/// message.
#[derive(Debug, Serialize, Deserialize)]
struct Log {
    at: u64,
    action: String,
    message: String,
}

fn now_ns(epoch: Instant) -> u64 {
    epoch.elapsed().as_nanos() as u64
}

/// The notebook's taxi: a user and a taxi talk over a duplex pipe, each logging every
/// SEND and GET into its own queue; the user polls its end (`poll(0.5)`) until an event
/// says the ride is over. The main process joins both and prints the two points of view
/// side by side, times replaced by their order. Each GET pairs with the other side's
/// SEND of the same message.
#[test]
fn ex5_the_taxi_two_points_of_view() {
    let table = isolated(|| {
        let epoch = Instant::now();
        let (mut taxi_end, mut user_end) = Pipe::duplex().unwrap();
        let taxi_log: Queue<Log> = Queue::new().unwrap();
        let user_log: Queue<Log> = Queue::new().unwrap();
        let ride_over = Event::new().unwrap();
        let log = |q: &Queue<Log>, action: &str, message: &str| {
            q.put(&Log { at: now_ns(epoch), action: action.into(), message: message.into() }, None)
                .unwrap();
        };
        let mut taxi = spawn(|| {
            for line in ["Hi! Where do you want to go?", "Here we are: that will be 30 euros"] {
                log(&taxi_log, "SEND", line);
                taxi_end.send(line).unwrap();
                let answer: String = taxi_end.recv().unwrap();
                log(&taxi_log, "GET", &answer);
            }
            ride_over.set();
        });
        let mut user = spawn(|| {
            while !ride_over.is_set() {
                if user_end.poll(Some(Duration::from_millis(500))).unwrap() {
                    let heard: String = user_end.recv().unwrap();
                    log(&user_log, "GET", &heard);
                    let answer = if heard.starts_with("Hi!") {
                        "To the airport, please"
                    } else {
                        "Here you are, keep the change"
                    };
                    log(&user_log, "SEND", answer);
                    user_end.send(answer).unwrap();
                }
            }
        });
        join_ok(&mut taxi);
        join_ok(&mut user);
        let drain = |q: &Queue<Log>| -> Vec<Log> {
            std::iter::from_fn(|| q.get_nowait().ok()).collect()
        };
        let (taxi_pov, user_pov) = (drain(&taxi_log), drain(&user_log));
        let mut times: Vec<u64> = taxi_pov.iter().chain(&user_pov).map(|l| l.at).collect();
        times.sort_unstable();
        let rank = |at: u64| times.iter().position(|&t| t == at).unwrap() + 1;
        let mut rows = vec![format!("{:<46} | {}", "Taxi POV", "User POV")];
        for (t, u) in taxi_pov.iter().zip(&user_pov) {
            assert_eq!(t.message, u.message, "a GET must pair with the other side's SEND");
            assert_ne!(t.action, u.action, "each row pairs a SEND with a GET");
            let (send, get) = if t.action == "SEND" { (t, u) } else { (u, t) };
            assert!(send.at < get.at, "a message was got before it was sent");
            let cell = |l: &Log| format!("t{} {:<4} {}", rank(l.at), l.action, l.message);
            rows.push(format!("{:<46} | {}", cell(t), cell(u)));
        }
        assert_eq!((taxi_pov.len(), user_pov.len()), (4, 4));
        rows
    });
    snapshot!(table.join("\n"));
}

// ---- Exercise 6: JoinableQueue --------------------------------------------------------------

#[test]
fn ex6_fifo_sizes_and_timeouts() {
    assert_eq!(fifo_sizes_and_timeouts(joinable_queue), FIFO_LOG);
}

#[test]
fn ex6_get_waits_for_a_put_without_spinning() {
    let (lines, cpu) = get_waits_for_a_put(joinable_queue);
    assert_eq!(lines, ["putting", "got 7 intact true"]);
    assert!(cpu <= 5, "get spun: {cpu} ticks in 300 ms");
}

#[test]
fn ex6_close_is_for_this_process_only() {
    assert_eq!(close_is_per_process(joinable_queue), CLOSE_LOG);
}

/// Python's `ValueError: task_done() called too many times`; the count stays as it was.
#[test]
fn ex6_task_done_too_many_times_is_an_error_and_changes_nothing() {
    let answers = isolated(|| {
        let q = joinable_queue(None);
        let mut answers = vec![debug(q.task_done()), debug(q.unfinished())];
        q.put(&item(0, 1, 1), None).unwrap();
        q.put(&item(0, 2, 1), None).unwrap();
        answers.push(debug(q.unfinished()));
        q.get(LONG).unwrap();
        q.get(LONG).unwrap();
        answers.push(debug((q.unfinished(), q.join(Some(Duration::ZERO)))));
        answers.push(debug((q.task_done(), q.unfinished())));
        answers.push(debug((q.task_done(), q.unfinished(), q.join(Some(Duration::ZERO)))));
        answers.push(debug((q.task_done(), q.unfinished())));
        answers
    });
    assert_eq!(
        answers,
        [
            "Err(TaskDoneTooManyTimes)",
            "0",
            "2",
            "(2, Ok(false))",
            "(Ok(()), 1)",
            "(Ok(()), 0, Ok(true))",
            "(Err(TaskDoneTooManyTimes), 0)",
        ]
    );
}

/// A put that fails (full, closed, too large) is not a task: `join` does not wait
/// for it.
#[test]
fn ex6_a_put_that_fails_is_not_a_task() {
    let answers = isolated(|| {
        let mut q = joinable_queue(Some(1));
        q.put(&item(0, 1, 1), None).unwrap();
        let mut answers = vec![debug(q.put(&item(0, 2, 1), Some(Duration::from_millis(10))))];
        answers.push(debug(q.unfinished()));
        q.get(LONG).unwrap();
        q.task_done().unwrap();
        answers.push(debug(q.join(Some(Duration::ZERO))));
        let big: JoinableQueue<Blob> = JoinableQueue::new().unwrap();
        answers.push(debug(big.put(&Blob(vec![0; DEFAULT_MAX_MESSAGE]), None).is_err()));
        answers.push(debug((big.unfinished(), big.join(Some(Duration::ZERO)))));
        q.close();
        answers.push(debug((q.put(&item(0, 3, 1), None), q.unfinished())));
        answers
    });
    assert_eq!(
        answers,
        [
            "Err(Full)",
            "1",
            "Ok(true)",
            "true",
            "(0, Ok(true))",
            "(Err(Closed), 0)",
        ]
    );
}

/// Block, then release: `join` sleeps (no CPU) through the first `task_done` and
/// returns after the last; `join` with a timeout gives up in time.
#[test]
fn ex6_join_waits_for_the_last_task_done_without_spinning() {
    let (lines, cpu, elapsed) = isolated(|| {
        let q = joinable_queue(None);
        q.put(&item(0, 1, 1), None).unwrap();
        q.put(&item(0, 2, 1), None).unwrap();
        let started = Instant::now();
        let early = q.join(Some(Duration::from_millis(50))).unwrap();
        let elapsed = millis_since(started);
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let mut joiner = spawn(|| {
            say(fd, &format!("join(50 ms): {early}"));
            say(fd, &format!("join: {}", q.join(LONG).unwrap()));
        });
        q.get(LONG).unwrap();
        q.get(LONG).unwrap();
        q.task_done().unwrap();
        let cpu = cpu_while_blocked(joiner.pid());
        say(fd, "last task_done");
        q.task_done().unwrap();
        join_ok(&mut joiner);
        (transcript.finish(), cpu, elapsed)
    });
    assert_eq!(lines, ["join(50 ms): false", "last task_done", "join: true"]);
    assert!(cpu <= 5, "join spun: {cpu} ticks in 300 ms");
    assert!((50..1000).contains(&elapsed), "join(50 ms) took {elapsed} ms");
}

/// Racing `task_done` calls from four processes, many more than the tasks: exactly as
/// many succeed as there were tasks, and the count never goes below zero.
#[test]
fn ex6_racing_task_done_calls_succeed_exactly_once_per_task() {
    let (succeeded, unfinished) = isolated(|| {
        const TASKS: u32 = 20_000;
        let q = &joinable_queue(None);
        for seq in 0..TASKS {
            q.put(&item(0, seq, 0), None).unwrap();
        }
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let mut gate = Gate::new();
        let go = gate.ends();
        let mut children: Vec<Child> = (0..4)
            .map(|_| {
                spawn(move || {
                    go.pass();
                    let ok = (0..TASKS).filter(|_| q.task_done().is_ok()).count();
                    say(fd, &ok.to_string());
                })
            })
            .collect();
        gate.open();
        for child in &mut children {
            join_ok(child);
        }
        let total: usize = transcript.finish().iter().map(|l| l.parse::<usize>().unwrap()).sum();
        (total, q.unfinished())
    });
    assert_eq!((succeeded, unfinished), (20_000, 0));
}

/// Workers get tasks and mark them done; the main process's `join` returns once all
/// are done.
#[test]
fn ex6_join_returns_when_every_task_is_done() {
    let answers = isolated(|| {
        let q = &joinable_queue(None);
        let mut workers: Vec<Child> = (0..3)
            .map(|_| {
                spawn(move || loop {
                    let task = q.get(LONG).unwrap();
                    q.task_done().unwrap();
                    if task.producer == u32::MAX {
                        return;
                    }
                })
            })
            .collect();
        for seq in 0..300 {
            q.put(&item(0, seq, seq as usize % 300), None).unwrap();
        }
        let joined = q.join(LONG);
        let after = (q.unfinished(), q.qsize());
        for _ in 0..3 {
            q.put(&item(u32::MAX, 0, 0), None).unwrap();
        }
        for worker in &mut workers {
            join_ok(worker);
        }
        debug((joined, after, q.join(Some(Duration::ZERO))))
    });
    assert_eq!(answers, "(Ok(true), (0, 0), Ok(true))");
}

/// The notebook's water jug: one process puts a jug, a worker gets it, fills it, calls
/// `task_done`, and works on. The main process's `join` returns right after
/// `task_done`, before the worker ends. Events (chapter 5) fix the order, not sleeps.
#[test]
fn ex6_the_water_jug() {
    let lines = isolated(|| {
        let q: JoinableQueue<String> = JoinableQueue::new().unwrap();
        let joining = Event::new().unwrap();
        let main_slept = Event::new().unwrap();
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let mut worker = spawn(|| {
            let jug = q.get(LONG).unwrap();
            assert!(joining.wait(LONG).unwrap());
            say(fd, &format!("worker: got the {jug}, fills it"));
            say(fd, "worker: task done");
            q.task_done().unwrap();
            assert!(main_slept.wait(LONG).unwrap());
            say(fd, "worker: works some more, then ends");
        });
        say(fd, "main: put the water jug");
        q.put(&"water jug".to_owned(), None).unwrap();
        say(fd, "main: call queue join");
        joining.set();
        assert!(q.join(LONG).unwrap());
        say(fd, "main: queue join returned");
        say(fd, "main: sleep");
        main_slept.set();
        join_ok(&mut worker);
        say(fd, "main: process join returned");
        transcript.finish()
    });
    snapshot!(lines.join("\n"));
}

proptest! {
    #![proptest_config(proptest_config(4))]

    #[test]
    fn ex6_producers_and_consumers_lose_nothing_and_keep_order(
        sizes in payload_sizes(),
        consumers in 1usize..=3,
        maxsize in prop::option::of(1usize..=6),
    ) {
        producers_and_consumers(joinable_queue, &sizes, consumers, maxsize)?;
    }
}

// ---- Exercise 7: RingQueue ------------------------------------------------------------------

#[test]
fn ex7_an_unencodable_item_is_refused() {
    let answers = isolated(|| an_unencodable_item_is_refused(RingQueue::bounded(1).unwrap()));
    assert_eq!(answers, ["true", "0", "Err(Empty)"]);
}

#[test]
fn ex7_fifo_sizes_and_timeouts() {
    assert_eq!(fifo_sizes_and_timeouts(ring_queue), FIFO_LOG);
}

#[test]
fn ex7_get_waits_for_a_put_without_spinning() {
    let (lines, cpu) = get_waits_for_a_put(ring_queue);
    assert_eq!(lines, ["putting", "got 7 intact true"]);
    assert!(cpu <= 5, "get spun: {cpu} ticks in 300 ms");
}

#[test]
fn ex7_put_on_a_full_queue_waits_for_room_without_spinning() {
    let (lines, cpu) = put_waits_for_room(ring_queue);
    assert_eq!(lines, ["got 1", "put 2", "then got 2, qsize 0"]);
    assert!(cpu <= 5, "put spun: {cpu} ticks in 300 ms");
}

#[test]
fn ex7_close_is_for_this_process_only() {
    assert_eq!(close_is_per_process(ring_queue), CLOSE_LOG);
}

/// Nobody sleeps holding a lock: a getter killed while it waits leaves the ring as it
/// was.
#[test]
fn ex7_a_getter_killed_while_waiting_leaves_the_queue_working() {
    assert_eq!(
        a_killed_getter_leaves_the_queue_working(ring_queue),
        ["Ok((2, true))", "qsize 0"]
    );
}

#[test]
fn ex7_qsize_is_exact_when_nobody_moves() {
    assert_eq!(qsize_is_exact_when_nobody_moves(ring_queue, 40, 15), (40, 25));
}

proptest! {
    #![proptest_config(proptest_config(8))]

    #[test]
    fn ex7_producers_and_consumers_lose_nothing_and_keep_order(
        sizes in payload_sizes(),
        consumers in 1usize..=3,
        maxsize in prop::option::of(1usize..=6),
    ) {
        producers_and_consumers(ring_queue, &sizes, consumers, maxsize)?;
    }
}

/// From now on, any system call but `exit` and `exit_group` kills this process with
/// SIGSYS (a seccomp filter: the kernel checks every call against it).
fn forbid_system_calls() {
    const LOAD_NR: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS, offset 0: the call's number
    const JUMP_IF_EQ: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RETURN: u16 = 0x06; // BPF_RET | BPF_K
    const ALLOW: u32 = 0x7fff_0000; // SECCOMP_RET_ALLOW
    const KILL: u32 = 0x8000_0000; // SECCOMP_RET_KILL_PROCESS
    let op = |code, jt, k| libc::sock_filter { code, jt, jf: 0, k };
    let filter = [
        op(LOAD_NR, 0, 0),
        op(JUMP_IF_EQ, 2, libc::SYS_exit as u32),
        op(JUMP_IF_EQ, 1, libc::SYS_exit_group as u32),
        op(RETURN, 0, KILL),
        op(RETURN, 0, ALLOW),
    ];
    let program = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut libc::sock_filter,
    };
    // Safety: prctl reads the live program; no_new_privs lets an unprivileged process
    // install a filter.
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        assert_eq!(
            libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &program),
            0
        );
    }
}

/// Puts and gets (with timeouts, on a bounded queue) in a process where any system call
/// is fatal; returns how the process ended.
fn ten_thousand_puts_and_gets_without_system_calls<Q: MpQueue<Item>>(make: Make<Q>) -> String {
    isolated(move || {
        let q = make(Some(8));
        let one = item(1, 2, 40);
        let mut child = spawn(|| {
            for _ in 0..100 {
                q.put(&one, LONG).unwrap();
                q.get(LONG).unwrap();
            }
            forbid_system_calls();
            for _ in 0..10_000 {
                q.put(&one, LONG).unwrap();
                let got = q.get(LONG).unwrap();
                assert!(got == one);
            }
        });
        reap(&mut child).to_string()
    })
}

/// The ring's fast path makes no system call: 10 000 puts and gets under a seccomp
/// filter that kills the process at its first call. The pipe queue dies at its first
/// `write`.
#[test]
fn ex7_put_and_get_make_no_system_call() {
    assert_eq!(ten_thousand_puts_and_gets_without_system_calls(ring_queue), "exit code 0");
    assert_eq!(
        ten_thousand_puts_and_gets_without_system_calls(pipe_queue),
        "killed by signal 31 (SIGSYS)"
    );
}

/// An unbounded ring is full when its bytes are: it holds exactly as many frames as
/// fit, `put` then waits its timeout and fails `Full`, and one get makes room for one.
#[test]
fn ex7_a_full_ring_holds_exactly_what_fits() {
    let (count, answers) = isolated(|| {
        let q = ring_queue(None);
        let one = item(3, 0, 1000);
        let mut count = 0usize;
        while q.put_nowait(&one).is_ok() {
            count += 1;
        }
        let started = Instant::now();
        let mut answers = vec![debug(q.put(&one, Some(Duration::from_millis(30))))];
        assert!(millis_since(started) >= 30, "put(30 ms) on a full ring returned early");
        answers.push(debug(q.qsize() == count));
        q.get(LONG).unwrap();
        answers.push(debug(q.put_nowait(&one)));
        answers.push(debug(q.put_nowait(&one)));
        (count, answers)
    });
    let frame_len = HEADER + encode(&item(3, 0, 1000)).unwrap().len();
    assert_eq!(count, RING_BYTES / frame_len);
    assert_eq!(answers, ["Err(Full)", "true", "Ok(())", "Err(Full)"]);
}

/// Block, then release on a ring full of bytes (not of items): a putter sleeps until a
/// get frees room.
#[test]
fn ex7_put_on_a_full_ring_waits_for_room_without_spinning() {
    let (lines, cpu) = isolated(|| {
        let q = ring_queue(None);
        let big = item(4, 0, RING_BYTES / 2);
        q.put(&big, None).unwrap();
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let mut putter = spawn(|| {
            q.put(&item(4, 1, RING_BYTES / 2), LONG).unwrap();
            say(fd, "the second half went in");
        });
        let cpu = cpu_while_blocked(putter.pid());
        say(fd, &format!("got {}", q.get(LONG).unwrap().seq));
        join_ok(&mut putter);
        let second = q.get(LONG).unwrap();
        let mut lines = transcript.finish();
        lines.sort();
        lines.push(format!("then {} intact {}", second.seq, second.intact()));
        (lines, cpu)
    });
    assert_eq!(lines, ["got 0", "the second half went in", "then 1 intact true"]);
    assert!(cpu <= 5, "put spun: {cpu} ticks in 300 ms");
}

#[test]
fn ex7_an_item_longer_than_the_ring_is_refused() {
    let answers = isolated(|| {
        let q: RingQueue<Blob> = RingQueue::new().unwrap();
        let fits = RING_BYTES - HEADER - 3; // postcard spends 3 bytes on this length
        vec![
            debug(q.put(&Blob(vec![7u8; fits + 1]), None)),
            debug(q.qsize()),
            debug(q.put(&Blob(vec![7u8; fits]), None)),
            debug(q.get(None).map(|v| v.0.len())),
        ]
    });
    let len = RING_BYTES - HEADER + 1;
    assert_eq!(
        answers,
        [
            format!("Err(TooLarge {{ len: {len}, max: {} }})", RING_BYTES - HEADER),
            "0".to_owned(),
            "Ok(())".to_owned(),
            format!("Ok({})", RING_BYTES - HEADER - 3),
        ]
    );
}

/// Items of many sizes go round the ring several times, split across its end: every
/// one arrives whole and in order.
#[test]
fn ex7_items_wrap_around_the_ring_whole() {
    let (count, intact) = isolated(|| {
        let q = &ring_queue(None);
        let sizes: Vec<usize> = (0..1500u32).map(|k| (k.wrapping_mul(7919) % 4000) as usize).collect();
        let total: usize = sizes.iter().sum();
        assert!(total > 2 * RING_BYTES);
        let mut producer = spawn(|| {
            for (seq, &len) in sizes.iter().enumerate() {
                q.put(&item(5, seq as u32, len), LONG).unwrap();
            }
        });
        let mut intact = true;
        for (seq, &len) in sizes.iter().enumerate() {
            let got = q.get(LONG).unwrap();
            intact &= got.seq == seq as u32 && got.payload.len() == len && got.intact();
        }
        join_ok(&mut producer);
        (sizes.len(), intact)
    });
    assert_eq!((count, intact), (1500, true));
}
