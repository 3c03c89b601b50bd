//! Chapter 2, First taste: start, join, pid and ppid, the fork context, results.
//!
//! `cargo test --test ch02_first_taste` grades chapters/ch02_first_taste; add
//! `--features solutions` to run the same tests against the reference solution. Test
//! names start with the exercise id: `cargo test --test ch02_first_taste ex3`.

use std::cell::RefCell;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

use mpkit::testkit::{isolated, proptest_config, say, Gate, Redactor, Transcript};
use mpkit::ExitStatus;
use proptest::prelude::*;
use rstest::rstest;
use workbook::ch02_first_taste::{
    channel, current_process, decode_frame, encode_frame, get_context, info, parent_pid,
    ChannelError, Process, ProcessError, LENGTH_PREFIX, MAX_FRAME,
};

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
