//! Chapter 4, Pipes and Queues.
//!
//! `cargo test --test ch04_pipes_queues` grades chapters/ch04_pipes_queues; add
//! `--features solutions` to run the same tests against the reference solution. Test
//! names start with the exercise id: `cargo test --test ch04_pipes_queues ex3`.
//!
//! Exercises 1 to 4 are here; the queues (5 to 7) are in `ch04_pipes_queues/queues.rs`,
//! included at the end.

use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::time::{Duration, Instant};

use mpkit::testkit::procfs::{self, wait_in_syscall};
use mpkit::testkit::{isolated, reap, say, Gate, Transcript};
use mpkit::{fork_child, Child, ExitStatus};
use proptest::prelude::*;
use rstest::rstest;
use serde::{Deserialize, Serialize};
use workbook::ch04_pipes_queues::{
    decode, encode, wait, Connection, Event, JoinableQueue, MpQueue, Pipe, PipeError, Queue,
    QueueError, Reader, RingQueue, Waitable, Writer, DEFAULT_MAX_MESSAGE, HEADER, PIPE_SIZE,
    RING_BYTES,
};

const LONG: Option<Duration> = Some(Duration::from_secs(5));
const MIB: usize = 1 << 20;

// ---- Helpers ----------------------------------------------------------------------------------

/// The kit's proptest settings, without a regressions file: a student's failing case
/// must not land in their tree (the kit's own settings still write one).
fn proptest_config(cases: u32) -> proptest::test_runner::Config {
    proptest::test_runner::Config {
        failure_persistence: None,
        ..mpkit::testkit::proptest_config(cases)
    }
}

fn debug<T: std::fmt::Debug>(value: T) -> String {
    format!("{value:?}")
}

/// Forks a child that runs `body`; the test reaps it.
fn spawn(body: impl FnOnce()) -> Child {
    fork_child(body).expect("fork")
}

/// Reaps `child` and asserts it exited with 0 (its stderr is shown otherwise).
fn join_ok(child: &mut Child) {
    assert_eq!(
        reap(child),
        ExitStatus::Exited(0),
        "a child failed (its stderr is below)"
    );
}

/// Waits (at most 5 s) until `pid` first sleeps, then lets it sleep for 300 ms and
/// returns the CPU ticks it used meanwhile: a process asleep in the kernel uses none,
/// one that spins uses about 30. What it did before it first slept (its start, the item
/// it built) is left out: a loaded machine can stretch that to several ticks. A process
/// that spins never sleeps, and is measured after the 5 s all the same.
fn cpu_while_blocked(pid: i32) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    while matches!(procfs::state(pid), Some(state) if state != 'S' && state != 'Z')
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(1));
    }
    let before = procfs::cpu_ticks(pid);
    std::thread::sleep(Duration::from_millis(300));
    procfs::cpu_ticks(pid) - before
}

/// System call numbers (x86_64) a blocked process may be sleeping in.
const SYS_WRITE: i64 = 1;
const SYS_POLL: i64 = 7;
const SYS_WRITEV: i64 = 20;
const SYS_SENDMSG: i64 = 46;
const SYS_FUTEX: i64 = 202;
const SYS_PPOLL: i64 = 271;

/// Writes all of `bytes` to `fd` with raw `write(2)` calls (a hostile peer's way).
fn raw_write(fd: BorrowedFd<'_>, bytes: &[u8]) {
    mpkit::write_all(fd, bytes).expect("raw write");
}

/// Reads exactly `n` bytes from `fd` with raw `read(2)` calls, pausing `pause` between
/// reads (a slow reader makes the writer block and be interrupted).
fn raw_read(fd: RawFd, n: usize, chunk: usize, pause: Duration) -> Vec<u8> {
    let mut out = vec![0u8; n];
    let mut got = 0;
    while got < n {
        let want = chunk.min(n - got);
        // Safety: reads into a live buffer, within its length.
        let r = unsafe { libc::read(fd, out[got..].as_mut_ptr().cast(), want) };
        assert!(
            r > 0,
            "raw read failed or hit end-of-file after {got} of {n} bytes"
        );
        got += r as usize;
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
    }
    out
}

/// A frame as it travels: 4 bytes of length, little-endian, then the bytes.
fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

/// Bytes that show where they came from: any mix-up, loss or tear changes them (each
/// byte mixes its position and the seed, so two seeds give unrelated bytes).
fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let seed = seed.wrapping_mul(0x9E37_79B9).wrapping_add(0x7F4A_7C15);
    (0..len)
        .map(|i| {
            let x = (i as u32 ^ seed).wrapping_mul(0x85EB_CA6B);
            (x ^ (x >> 13) ^ (x >> 24)) as u8
        })
        .collect()
}

/// Many bytes, cheap to make in a debug build: `seed` everywhere, and each 4 KiB block
/// starting with its number, so a tear, a swap or a mix-up shows.
fn stamped(len: usize, seed: u8) -> Vec<u8> {
    let mut bytes = vec![seed; len];
    for (index, block) in bytes.chunks_mut(4096).enumerate() {
        let n = (index as u32).to_le_bytes();
        let k = block.len().min(4);
        block[..k].copy_from_slice(&n[..k]);
    }
    bytes
}

/// From now on, this process gets a SIGALRM every `every`, whose handler does nothing
/// and is installed without `SA_RESTART`: every blocking system call may be
/// interrupted, returning `EINTR` or a short count.
fn signal_storm(every: Duration) {
    extern "C" fn ignore(_: libc::c_int) {}
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let action = SigAction::new(
        SigHandler::Handler(ignore),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // Safety: the handler does nothing, so it is async-signal-safe.
    unsafe { sigaction(Signal::SIGALRM, &action) }.expect("sigaction");
    let interval = libc::timeval {
        tv_sec: 0,
        tv_usec: every.as_micros() as libc::suseconds_t,
    };
    let timer = libc::itimerval {
        it_interval: interval,
        it_value: interval,
    };
    // Safety: setitimer reads one live itimerval.
    let rc = unsafe { libc::setitimer(libc::ITIMER_REAL, &timer, std::ptr::null_mut()) };
    assert_eq!(rc, 0);
}

/// Limits this process's address space to what it maps now plus `extra` bytes: an
/// allocation of gigabytes then fails (and a Rust program aborts), instead of being
/// granted lazily by the kernel.
fn limit_address_space(extra: usize) {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    let kib: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmSize");
    let limit = (kib * 1024 + extra) as libc::rlim_t;
    let rlimit = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // Safety: setrlimit reads one live rlimit.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &rlimit) }, 0);
}

/// Which kind of pipe a test runs over.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// `Pipe::duplex`: a socketpair; the test uses one end to send, the other to receive.
    Duplex,
    /// `Pipe::one_way`: a pipe.
    OneWay,
}

/// A sending end and a receiving end of either kind.
enum Ends {
    Duplex(Connection, Connection),
    OneWay(Reader, Writer),
}

impl Ends {
    fn new(kind: Kind) -> Ends {
        match kind {
            Kind::Duplex => {
                let (a, b) = Pipe::duplex().expect("Pipe::duplex");
                Ends::Duplex(a, b)
            }
            Kind::OneWay => {
                let (r, w) = Pipe::one_way().expect("Pipe::one_way");
                Ends::OneWay(r, w)
            }
        }
    }

    fn send_bytes(&self, bytes: &[u8]) -> Result<(), PipeError> {
        match self {
            Ends::Duplex(a, _) => a.send_bytes(bytes),
            Ends::OneWay(_, w) => w.send_bytes(bytes),
        }
    }

    fn send<T: Serialize + ?Sized>(&self, value: &T) -> Result<(), PipeError> {
        match self {
            Ends::Duplex(a, _) => a.send(value),
            Ends::OneWay(_, w) => w.send(value),
        }
    }

    fn recv_bytes(&mut self) -> Result<Vec<u8>, PipeError> {
        match self {
            Ends::Duplex(_, b) => b.recv_bytes(),
            Ends::OneWay(r, _) => r.recv_bytes(),
        }
    }

    fn recv<T: serde::de::DeserializeOwned>(&mut self) -> Result<T, PipeError> {
        match self {
            Ends::Duplex(_, b) => b.recv(),
            Ends::OneWay(r, _) => r.recv(),
        }
    }

    fn set_max_message(&mut self, max: usize) {
        match self {
            Ends::Duplex(_, b) => b.set_max_message(max),
            Ends::OneWay(r, _) => r.set_max_message(max),
        }
    }

    /// The sending end's descriptor, for raw (hostile) writes.
    fn send_fd(&self) -> RawFd {
        match self {
            Ends::Duplex(a, _) => a.fd().unwrap().as_raw_fd(),
            Ends::OneWay(_, w) => w.fd().unwrap().as_raw_fd(),
        }
    }

    /// The receiving end's descriptor, for raw reads.
    fn recv_fd(&self) -> RawFd {
        match self {
            Ends::Duplex(_, b) => b.fd().unwrap().as_raw_fd(),
            Ends::OneWay(r, _) => r.fd().unwrap().as_raw_fd(),
        }
    }

    /// Closes this process's sending end: the receiver sees end-of-file once no other
    /// process holds a copy.
    fn close_sender(&mut self) {
        match self {
            Ends::Duplex(a, _) => a.close(),
            Ends::OneWay(_, w) => w.close(),
        }
    }

    /// Closes this process's receiving end.
    fn close_receiver(&mut self) {
        match self {
            Ends::Duplex(_, b) => b.close(),
            Ends::OneWay(r, _) => r.close(),
        }
    }

    fn poll(&self, timeout: Option<Duration>) -> Result<bool, PipeError> {
        match self {
            Ends::Duplex(_, b) => b.poll(timeout),
            Ends::OneWay(r, _) => r.poll(timeout),
        }
    }
}

fn borrow(fd: RawFd) -> BorrowedFd<'static> {
    // Safety: the tests borrow descriptors they keep open for the whole use.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

// ---- Given: pipes, socketpairs, errors ---------------------------------------------------------

#[test]
fn given_both_kinds_of_pipe_are_close_on_exec_streams() {
    let facts = isolated(|| {
        let describe = |fd: BorrowedFd<'_>| {
            // Safety: fcntl and fstat on an open descriptor, into a live stat.
            let (flags, mode) = unsafe {
                let mut st: libc::stat = std::mem::zeroed();
                assert_eq!(libc::fstat(fd.as_raw_fd(), &mut st), 0);
                (
                    libc::fcntl(fd.as_raw_fd(), libc::F_GETFD),
                    st.st_mode & libc::S_IFMT,
                )
            };
            let kind = match mode {
                libc::S_IFSOCK => "socket",
                libc::S_IFIFO => "pipe",
                _ => "other",
            };
            format!("{kind} cloexec={}", flags & libc::FD_CLOEXEC != 0)
        };
        let (a, b) = Pipe::duplex().unwrap();
        let (r, w) = Pipe::one_way().unwrap();
        // Safety: F_GETPIPE_SZ on an open pipe.
        let size = unsafe { libc::fcntl(w.fd().unwrap().as_raw_fd(), libc::F_GETPIPE_SZ) };
        vec![
            describe(a.fd().unwrap()),
            describe(b.fd().unwrap()),
            describe(r.fd().unwrap()),
            describe(w.fd().unwrap()),
            format!(
                "sockets {} {}, pipes {} {}",
                a.is_socket(),
                b.is_socket(),
                r.is_socket(),
                w.is_socket()
            ),
            format!("pipe size {}", size as usize == PIPE_SIZE),
        ]
    });
    assert_eq!(
        facts,
        [
            "socket cloexec=true",
            "socket cloexec=true",
            "pipe cloexec=true",
            "pipe cloexec=true",
            "sockets true true, pipes false false",
            "pipe size true",
        ]
    );
}

#[test]
fn given_close_is_idempotent_and_the_limit_is_capped() {
    let (r, w) = Pipe::one_way().unwrap();
    let (mut r, mut w) = (r, w);
    assert!(!r.is_closed());
    r.close();
    r.close();
    w.close();
    assert!(r.is_closed() && w.is_closed());
    assert_eq!(r.fd().err(), Some(PipeError::Closed));
    assert_eq!(r.max_message(), DEFAULT_MAX_MESSAGE);
    r.set_max_message(usize::MAX);
    assert_eq!(r.max_message(), u32::MAX as usize);
    r.set_max_message(7);
    assert_eq!(r.max_message(), 7);
}

/// Every error explains itself; the book quotes these.
#[test]
fn given_every_error_reads_well() {
    let errors: Vec<String> = [
        PipeError::Eof,
        PipeError::Truncated {
            got: 7,
            expected: 14,
        },
        PipeError::BrokenPipe,
        PipeError::Closed,
        PipeError::TooLarge { len: 9, max: 8 },
        PipeError::BufferTooShort(vec![1, 2, 3]),
        PipeError::OffsetOutOfRange { offset: 4, len: 3 },
        PipeError::SizeOutOfRange {
            offset: 1,
            size: 3,
            len: 3,
        },
        PipeError::Encode("custom".into()),
        PipeError::Decode("unexpected end".into()),
        PipeError::TrailingBytes { extra: 2 },
        PipeError::Os(nix::errno::Errno::EBADF),
    ]
    .iter()
    .map(ToString::to_string)
    .chain(
        [
            QueueError::Full,
            QueueError::Empty,
            QueueError::Closed,
            QueueError::Broken,
            QueueError::TooLarge { len: 9, max: 8 },
            QueueError::TaskDoneTooManyTimes,
            QueueError::Malformed(PipeError::TrailingBytes { extra: 1 }),
            QueueError::Os(nix::errno::Errno::EINVAL),
        ]
        .iter()
        .map(ToString::to_string),
    )
    .collect();
    insta::assert_snapshot!(errors.join("\n"));
}

#[test]
fn given_os_errors_convert_to_typed_errors() {
    use nix::errno::Errno;
    let from_io = |code| PipeError::from(std::io::Error::from_raw_os_error(code));
    assert_eq!(from_io(libc::EPIPE), PipeError::BrokenPipe);
    assert_eq!(from_io(libc::EBADF), PipeError::Os(Errno::EBADF));
    assert_eq!(PipeError::from(Errno::EPIPE), PipeError::BrokenPipe);
    let queue = |err: PipeError| QueueError::from(err);
    assert_eq!(
        queue(PipeError::TooLarge { len: 2, max: 1 }),
        QueueError::TooLarge { len: 2, max: 1 }
    );
    assert_eq!(queue(PipeError::Os(Errno::EIO)), QueueError::Os(Errno::EIO));
    assert_eq!(queue(PipeError::Closed), QueueError::Closed);
    assert_eq!(queue(PipeError::BrokenPipe), QueueError::Closed);
    assert_eq!(queue(PipeError::Eof), QueueError::Malformed(PipeError::Eof));
    assert_eq!(
        QueueError::from(std::io::Error::from_raw_os_error(libc::ENOMEM)),
        QueueError::Os(Errno::ENOMEM)
    );
    assert_eq!(
        QueueError::from(Errno::EAGAIN),
        QueueError::Os(Errno::EAGAIN)
    );
    use workbook::ch04_pipes_queues::SyncError;
    assert_eq!(
        QueueError::from(SyncError::Os(Errno::EIO)),
        QueueError::Os(Errno::EIO)
    );
    assert_eq!(
        QueueError::from(SyncError::NotLocked),
        QueueError::Os(Errno::EINVAL)
    );
}

// ---- Exercise 1: sending -------------------------------------------------------------------

#[rstest]
#[case::duplex(Kind::Duplex)]
#[case::one_way(Kind::OneWay)]
fn ex1_a_message_is_its_length_then_its_bytes(#[case] kind: Kind) {
    let bytes = isolated(move || {
        let ends = Ends::new(kind);
        ends.send_bytes(b"hello").unwrap();
        ends.send_bytes(b"").unwrap();
        ends.send_bytes(&[7]).unwrap();
        raw_read(ends.recv_fd(), 4 + 5 + 4 + 4 + 1, 64, Duration::ZERO)
    });
    assert_eq!(
        bytes,
        [5, 0, 0, 0, b'h', b'e', b'l', b'l', b'o', 0, 0, 0, 0, 1, 0, 0, 0, 7]
    );
}

/// Python's `send_bytes(buf, offset, size)`, with its range checks: an error writes
/// nothing, so only the good calls' frames arrive.
#[test]
fn ex1_send_bytes_range_sends_the_slice_and_checks_the_range() {
    let (answers, bytes) = isolated(|| {
        let (r, w) = Pipe::one_way().unwrap();
        let buf = b"abcdef";
        let cases: [(usize, Option<usize>); 10] = [
            (0, None),
            (2, None),
            (1, Some(2)),
            (6, None),
            (0, Some(0)),
            (7, None),
            (1, Some(6)),
            (6, Some(1)),
            (1, Some(usize::MAX)),
            (usize::MAX, Some(1)),
        ];
        let answers: Vec<String> = cases
            .iter()
            .map(|&(offset, size)| debug(w.send_bytes_range(buf, offset, size)))
            .collect();
        drop(w);
        let mut bytes = Vec::new();
        let mut reader = std::fs::File::from(r.fd().unwrap().try_clone_to_owned().unwrap());
        std::io::Read::read_to_end(&mut reader, &mut bytes).unwrap();
        (answers, bytes)
    });
    assert_eq!(
        answers,
        [
            "Ok(())",
            "Ok(())",
            "Ok(())",
            "Ok(())",
            "Ok(())",
            "Err(OffsetOutOfRange { offset: 7, len: 6 })",
            "Err(SizeOutOfRange { offset: 1, size: 6, len: 6 })",
            "Err(SizeOutOfRange { offset: 6, size: 1, len: 6 })",
            &format!(
                "Err(SizeOutOfRange {{ offset: 1, size: {}, len: 6 }})",
                usize::MAX
            ),
            &format!("Err(OffsetOutOfRange {{ offset: {}, len: 6 }})", usize::MAX),
        ]
    );
    let mut expected = frame(b"abcdef");
    expected.extend(frame(b"cdef"));
    expected.extend(frame(b"bc"));
    expected.extend(frame(b""));
    expected.extend(frame(b""));
    assert_eq!(bytes, expected);
}

#[test]
fn ex1_a_message_over_the_limit_is_refused_whole() {
    let (answers, bytes) = isolated(|| {
        let (r, mut w) = Pipe::one_way().unwrap();
        w.set_max_message(3);
        let answers = vec![
            debug(w.send_bytes(b"abcd")),
            debug(w.send_bytes_range(b"abcdef", 1, Some(4))),
            debug(w.send_bytes(b"abc")),
        ];
        (
            answers,
            raw_read(r.fd().unwrap().as_raw_fd(), 7, 64, Duration::ZERO),
        )
    });
    assert_eq!(
        answers,
        [
            "Err(TooLarge { len: 4, max: 3 })",
            "Err(TooLarge { len: 4, max: 3 })",
            "Ok(())"
        ]
    );
    assert_eq!(bytes, frame(b"abc"));
}

#[rstest]
#[case::duplex(Kind::Duplex)]
#[case::one_way(Kind::OneWay)]
fn ex1_sending_on_a_closed_end_is_closed(#[case] kind: Kind) {
    let answers = isolated(move || {
        let mut ends = Ends::new(kind);
        ends.close_sender();
        vec![
            debug(ends.send_bytes(b"x")),
            debug(ends.send_bytes(&vec![0; 100 << 20])),
        ]
    });
    assert_eq!(answers, ["Err(Closed)", "Err(Closed)"]);
}

/// Python's `BrokenPipeError`: nobody is left to read. Nothing dies of SIGPIPE.
#[rstest]
#[case::duplex(Kind::Duplex)]
#[case::one_way(Kind::OneWay)]
fn ex1_sending_to_a_closed_peer_is_a_broken_pipe(#[case] kind: Kind) {
    let answer = isolated(move || {
        let mut ends = Ends::new(kind);
        ends.close_receiver();
        debug(ends.send_bytes(b"anyone there?"))
    });
    assert_eq!(answer, "Err(BrokenPipe)");
}

/// 16 MiB through a pipe of 1 MiB (or a socket of a few hundred KiB) to a slow reader,
/// while a signal interrupts the writer every millisecond: its writes come back short
/// or with EINTR, and the message still arrives whole.
#[rstest]
#[case::duplex(Kind::Duplex)]
#[case::one_way(Kind::OneWay)]
fn ex1_sixteen_mebibytes_arrive_whole_through_a_signal_storm(#[case] kind: Kind) {
    let same = isolated(move || {
        let ends = Ends::new(kind);
        let message = stamped(16 * MIB, 1);
        let mut writer = spawn(|| {
            signal_storm(Duration::from_millis(1));
            ends.send_bytes(&message).unwrap();
        });
        // Let the writer fill the pipe and block before the first read.
        wait_in_syscall(writer.pid(), &[SYS_WRITE, SYS_WRITEV, SYS_SENDMSG]);
        let got = raw_read(
            ends.recv_fd(),
            HEADER + message.len(),
            256 << 10,
            Duration::from_millis(1),
        );
        join_ok(&mut writer);
        got[..HEADER] == (message.len() as u32).to_le_bytes() && got[HEADER..] == message[..]
    });
    assert!(same, "the 16 MiB message did not arrive whole");
}

// ---- Exercise 2: receiving ------------------------------------------------------------------

#[rstest]
#[case::duplex(Kind::Duplex)]
#[case::one_way(Kind::OneWay)]
fn ex2_messages_arrive_whole_in_order_then_eof(#[case] kind: Kind) {
    let got = isolated(move || {
        let mut ends = Ends::new(kind);
        for m in [&b"one"[..], b"", b"three", &[0; 70_000][..]] {
            ends.send_bytes(m).unwrap();
        }
        ends.close_sender();
        (0..6)
            .map(|_| match ends.recv_bytes() {
                Ok(m) if m.len() > 10 => {
                    format!("{} zero bytes", m.iter().filter(|b| **b == 0).count())
                }
                other => debug(other.map(|m| String::from_utf8(m).unwrap())),
            })
            .collect::<Vec<_>>()
    });
    assert_eq!(
        got,
        [
            r#"Ok("one")"#,
            r#"Ok("")"#,
            r#"Ok("three")"#,
            "70000 zero bytes",
            "Err(Eof)",
            "Err(Eof)"
        ]
    );
}

/// The writer dribbles a frame one byte at a time: the receiver puts it together.
#[test]
fn ex2_a_frame_written_byte_by_byte_arrives_whole() {
    let got = isolated(|| {
        let mut ends = Ends::new(Kind::OneWay);
        let fd = ends.send_fd();
        let mut writer = spawn(|| {
            for byte in [frame(b"drip"), frame(b"drop")].concat() {
                raw_write(borrow(fd), &[byte]);
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        let got = vec![ends.recv_bytes().unwrap(), ends.recv_bytes().unwrap()];
        join_ok(&mut writer);
        got
    });
    assert_eq!(got, [b"drip".to_vec(), b"drop".to_vec()]);
}

#[test]
fn ex2_a_stream_that_ends_inside_a_message_is_truncated() {
    let answers = isolated(|| {
        let mut answers = Vec::new();
        for bytes in [
            vec![10, 0, 0, 0, 1, 2, 3],
            vec![10, 0],
            [frame(b"ok"), vec![5]].concat(),
        ] {
            let mut ends = Ends::new(Kind::OneWay);
            raw_write(borrow(ends.send_fd()), &bytes);
            ends.close_sender();
            answers.push(debug(ends.recv_bytes()));
            answers.push(debug(ends.recv_bytes()));
        }
        answers
    });
    assert_eq!(
        answers,
        [
            "Err(Truncated { got: 7, expected: 14 })",
            "Err(Eof)",
            "Err(Truncated { got: 2, expected: 4 })",
            "Err(Truncated { got: 2, expected: 4 })",
            "Ok([111, 107])",
            "Err(Truncated { got: 1, expected: 4 })",
        ]
    );
}

/// A length of 4 GiB with an address space that cannot hold it: refused before any
/// allocation (an allocation would abort this process). The prefix stays: the same
/// error again, and after the limit is raised, the message itself.
#[rstest]
#[case::duplex(Kind::Duplex)]
#[case::one_way(Kind::OneWay)]
fn ex2_a_length_over_the_limit_is_refused_before_allocating(#[case] kind: Kind) {
    let answers = isolated(move || {
        limit_address_space(256 * MIB);
        let mut ends = Ends::new(kind);
        raw_write(borrow(ends.send_fd()), &u32::MAX.to_le_bytes());
        let mut answers = vec![debug(ends.recv_bytes()), debug(ends.recv_bytes())];
        let mut ends = Ends::new(kind);
        ends.send_bytes(&[9; 100]).unwrap();
        ends.set_max_message(99);
        answers.push(debug(ends.recv_bytes()));
        ends.set_max_message(100);
        answers.push(debug(ends.recv_bytes().map(|m| m.len())));
        answers
    });
    assert_eq!(
        answers,
        [
            format!(
                "Err(TooLarge {{ len: {}, max: {} }})",
                u32::MAX,
                DEFAULT_MAX_MESSAGE
            ),
            format!(
                "Err(TooLarge {{ len: {}, max: {} }})",
                u32::MAX,
                DEFAULT_MAX_MESSAGE
            ),
            "Err(TooLarge { len: 100, max: 99 })".to_owned(),
            "Ok(100)".to_owned(),
        ]
    );
}

/// Python's `recv_bytes_into` and `BufferTooShort`: a message that does not fit comes
/// whole inside the error, the buffer is untouched, and the next message follows.
#[test]
fn ex2_recv_bytes_into_returns_the_length_or_hands_the_message_over() {
    let answers = isolated(|| {
        let (mut r, w) = Pipe::one_way().unwrap();
        for m in [&b"hello"[..], b"hello world", b"12345678", b""] {
            w.send_bytes(m).unwrap();
        }
        let mut buf = [b'.'; 8];
        let mut answers = Vec::new();
        for _ in 0..4 {
            let n = r.recv_bytes_into(&mut buf);
            answers.push(format!("{n:?} {}", String::from_utf8_lossy(&buf)));
        }
        drop(w);
        answers.push(debug(r.recv_bytes_into(&mut buf)));
        r.close();
        answers.push(debug(r.recv_bytes_into(&mut buf)));
        answers
    });
    let too_short = debug(b"hello world".to_vec());
    assert_eq!(
        answers,
        [
            "Ok(5) hello...".to_owned(),
            format!("Err(BufferTooShort({too_short})) hello..."),
            "Ok(8) 12345678".to_owned(),
            "Ok(0) 12345678".to_owned(),
            "Err(Eof)".to_owned(),
            "Err(Closed)".to_owned(),
        ]
    );
}

/// Block, then release: `recv_bytes` sleeps (no CPU) until a message comes; end-of-file
/// comes only once every copy of the write end is closed, the one a sibling inherited
/// through fork included.
#[test]
fn ex2_recv_waits_and_eof_waits_for_every_copy_of_the_write_end() {
    let (lines, cpu) = isolated(|| {
        let (mut r, mut w) = Pipe::one_way().unwrap();
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let gate = Gate::new();
        let ends = gate.ends();
        // A sibling that holds a copy of the write end until the gate tells it to go.
        let mut holder = spawn(|| {
            ends.wait();
            say(fd, "holder: closes its copy by exiting");
        });
        w.close();
        let mut reader = spawn(|| {
            say(fd, &format!("reader: {:?}", r.recv_bytes()));
        });
        let cpu = cpu_while_blocked(reader.pid());
        gate.notify();
        join_ok(&mut holder);
        join_ok(&mut reader);
        r.close();
        (transcript.finish(), cpu)
    });
    assert_eq!(
        lines,
        ["holder: closes its copy by exiting", "reader: Err(Eof)"]
    );
    assert!(cpu <= 5, "the reader spun: {cpu} ticks in 300 ms");
}

/// The peer killed in the middle of a message: the rest never comes, and the receiver
/// is told so, with `Truncated`.
#[rstest]
#[case::duplex(Kind::Duplex)]
#[case::one_way(Kind::OneWay)]
fn ex2_a_peer_killed_in_the_middle_of_a_message_gives_truncated(#[case] kind: Kind) {
    let (answer, expected) = isolated(move || {
        let mut ends = Ends::new(kind);
        let mut writer = spawn(|| ends.send_bytes(&stamped(8 * MIB, 2)).unwrap());
        wait_in_syscall(writer.pid(), &[SYS_WRITE, SYS_WRITEV, SYS_SENDMSG]);
        writer.kill().unwrap();
        ends.close_sender();
        let answer = match ends.recv_bytes() {
            Err(PipeError::Truncated { got, expected }) if got > HEADER && got < expected => {
                format!("Truncated, expected {expected}")
            }
            other => debug(other.map(|m| m.len())),
        };
        (answer, HEADER + 8 * MIB)
    });
    assert_eq!(answer, format!("Truncated, expected {expected}"));
}

fn messages() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let sizes = prop_oneof![
        4 => 0usize..64,
        2 => 64usize..5000,
        1 => 60_000usize..300_000,
    ];
    prop::collection::vec(sizes, 0..12).prop_map(|sizes| {
        sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| pattern(n, i as u32))
            .collect()
    })
}

/// Sends `list` from a child and receives it in the parent until end-of-file.
fn round_trip(kind: Kind, list: &[Vec<u8>]) -> Vec<Vec<u8>> {
    isolated(move || {
        let mut ends = Ends::new(kind);
        let mut writer = spawn(|| {
            for m in list {
                ends.send_bytes(m).unwrap();
            }
        });
        ends.close_sender();
        let mut got = Vec::new();
        loop {
            match ends.recv_bytes() {
                Ok(m) => got.push(m),
                Err(PipeError::Eof) => break,
                Err(e) => panic!("recv_bytes: {e}"),
            }
        }
        join_ok(&mut writer);
        got
    })
}

proptest! {
    #![proptest_config(proptest_config(12))]

    /// Exactly the list sent arrives, in order, whatever the sizes.
    #[test]
    fn ex2_exactly_the_messages_sent_arrive(list in messages(), duplex in any::<bool>()) {
        let kind = if duplex { Kind::Duplex } else { Kind::OneWay };
        prop_assert_eq!(round_trip(kind, &list), list);
    }
}

// ---- Exercise 3: poll and wait -------------------------------------------------------------

#[rstest]
#[case::duplex(Kind::Duplex)]
#[case::one_way(Kind::OneWay)]
fn ex3_poll_never_consumes_and_an_empty_message_counts(#[case] kind: Kind) {
    let answers = isolated(move || {
        let mut ends = Ends::new(kind);
        let mut answers = vec![ends.poll(Some(Duration::ZERO)).unwrap()];
        ends.send_bytes(b"").unwrap();
        answers.push(ends.poll(Some(Duration::ZERO)).unwrap());
        answers.push(ends.poll(None).unwrap());
        assert_eq!(ends.recv_bytes().unwrap(), b"");
        answers.push(ends.poll(Some(Duration::ZERO)).unwrap());
        ends.send_bytes(b"x").unwrap();
        answers.push(ends.poll(Some(Duration::ZERO)).unwrap());
        answers.push(ends.poll(Some(Duration::MAX)).unwrap());
        assert_eq!(ends.recv_bytes().unwrap(), b"x");
        ends.close_sender();
        answers.push(ends.poll(Some(Duration::ZERO)).unwrap());
        answers.push(ends.recv_bytes() == Err(PipeError::Eof));
        answers
    });
    // Before, after an empty message (twice), after reading it, after "x" (twice, the
    // second with a timeout too long to add to a clock), at EOF.
    assert_eq!(answers, [false, true, true, false, true, true, true, true]);
}

/// Two messages arrive in one read: after the first is received, the second sits in
/// the connection's buffer, and the descriptor shows nothing. `poll` must still see it.
#[test]
fn ex3_poll_sees_a_message_already_buffered() {
    let answers = isolated(|| {
        let (mut r, w) = Pipe::one_way().unwrap();
        raw_write(
            w.fd().unwrap(),
            &[frame(b"first"), frame(b"second")].concat(),
        );
        let first = r.recv_bytes().unwrap();
        let fd_alone = mpkit::poll_readable(r.fd().unwrap(), Some(Duration::ZERO)).unwrap();
        let ready = wait(&[&r as &dyn Waitable], Some(Duration::ZERO)).unwrap();
        (
            first,
            fd_alone,
            r.poll(Some(Duration::from_secs(1))).unwrap(),
            ready,
            r.recv_bytes().unwrap(),
        )
    });
    let (first, fd_alone, polled, ready, second) = answers;
    assert_eq!(first, b"first");
    assert!(!fd_alone, "this test needs both frames to come in one read");
    assert!(polled, "poll missed the buffered message");
    assert_eq!(ready, [0]);
    assert_eq!(second, b"second");
}

/// Half a frame is there, `poll` says so, and reads none of it: the message arrives
/// whole once the writer finishes it.
#[test]
fn ex3_poll_does_not_split_a_message() {
    let (answers, got) = isolated(|| {
        let mut ends = Ends::new(Kind::OneWay);
        let whole = frame(b"a message in two halves");
        let gate = Gate::new();
        let go = gate.ends();
        let fd = ends.send_fd();
        let mut writer = spawn(|| {
            raw_write(borrow(fd), &whole[..10]);
            go.wait();
            raw_write(borrow(fd), &whole[10..]);
        });
        let answers = vec![
            ends.poll(Some(Duration::from_secs(5))).unwrap(),
            ends.poll(Some(Duration::ZERO)).unwrap(),
        ];
        gate.notify();
        let got = ends.recv_bytes().unwrap();
        join_ok(&mut writer);
        (answers, got)
    });
    assert_eq!(answers, [true, true]);
    assert_eq!(got, b"a message in two halves");
}

/// Block, then release: `poll(Duration::MAX)` sleeps until a message comes;
/// `poll(50 ms)` gives up after 50 ms.
#[test]
fn ex3_poll_waits_without_spinning_and_times_out() {
    let (lines, cpu, elapsed) = isolated(|| {
        let (r, w) = Pipe::one_way().unwrap();
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let started = Instant::now();
        let short = r.poll(Some(Duration::from_millis(50))).unwrap();
        let elapsed = started.elapsed().as_millis() as u64;
        let mut child = spawn(|| {
            say(fd, &format!("short poll: {short}"));
            // A timeout too long to add to a clock waits like None.
            say(
                fd,
                &format!("long poll: {}", r.poll(Some(Duration::MAX)).unwrap()),
            );
        });
        let cpu = cpu_while_blocked(child.pid());
        w.send_bytes(b"wake up").unwrap();
        join_ok(&mut child);
        (transcript.finish(), cpu, elapsed)
    });
    assert_eq!(lines, ["short poll: false", "long poll: true"]);
    assert!(cpu <= 5, "poll spun: {cpu} ticks in 300 ms");
    assert!(
        (50..1000).contains(&elapsed),
        "poll(50 ms) took {elapsed} ms"
    );
}

#[test]
fn ex3_wait_returns_the_ready_ones_in_order() {
    let answers = isolated(|| {
        let pipes: Vec<(Reader, Writer)> = (0..4).map(|_| Pipe::one_way().unwrap()).collect();
        let objects: Vec<&dyn Waitable> = pipes.iter().map(|(r, _)| r as &dyn Waitable).collect();
        let mut answers = vec![debug(wait(&objects, Some(Duration::ZERO)))];
        pipes[3].1.send_bytes(b"three").unwrap();
        pipes[1].1.send_bytes(b"one").unwrap();
        answers.push(debug(wait(&objects, Some(Duration::from_secs(5)))));
        answers.push(debug(wait(&objects, None)));
        answers.push(debug(wait(&[], Some(Duration::ZERO))));
        answers
    });
    assert_eq!(answers, ["Ok([])", "Ok([1, 3])", "Ok([1, 3])", "Ok([])"]);
}

/// Python's `connection.wait` over connections and process sentinels at once: block,
/// then release when a process ends; an end-of-file counts as ready.
#[test]
fn ex3_wait_over_connections_and_sentinels() {
    let (ready, cpu, later) = isolated(|| {
        let (r, mut w) = Pipe::one_way().unwrap();
        let (r2, mut w2) = Pipe::one_way().unwrap();
        let gate = Gate::new();
        let go = gate.ends();
        let mut child = spawn(|| go.wait());
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let mut waiter = spawn(|| {
            let objects: [&dyn Waitable; 3] = [&r, &child, &r2];
            let ready = wait(&objects, LONG).unwrap();
            say(fd, &debug(ready));
        });
        let cpu = cpu_while_blocked(waiter.pid());
        // A running process's sentinel is not ready; nor is a raw pidfd's.
        let running = [
            wait(&[&child as &dyn Waitable], Some(Duration::from_millis(20))),
            wait(&[&child.pidfd() as &dyn Waitable], Some(Duration::ZERO)),
        ];
        say(fd, &format!("running: {running:?}"));
        gate.notify();
        join_ok(&mut waiter);
        let ready = transcript.finish();
        join_ok(&mut child);
        w.close();
        w2.send_bytes(b"").unwrap();
        let sentinel = child.pidfd();
        let objects: [&dyn Waitable; 3] = [&r, &sentinel, &r2];
        let later = debug(wait(&objects, Some(Duration::ZERO)));
        w2.close();
        (ready, cpu, later)
    });
    assert_eq!(ready, ["running: [Ok([]), Ok([])]", "[1]"]);
    assert!(cpu <= 5, "wait spun: {cpu} ticks in 300 ms");
    assert_eq!(later, "Ok([0, 1, 2])");
}

/// A signal every millisecond neither ends `wait` early nor stretches it much.
#[test]
fn ex3_wait_keeps_its_deadline_through_signals() {
    let elapsed = isolated(|| {
        let (r, _w) = Pipe::one_way().unwrap();
        signal_storm(Duration::from_millis(1));
        let started = Instant::now();
        let ready = wait(&[&r as &dyn Waitable], Some(Duration::from_millis(200))).unwrap();
        assert!(ready.is_empty());
        started.elapsed().as_millis() as u64
    });
    assert!(
        (200..1000).contains(&elapsed),
        "wait(200 ms) took {elapsed} ms"
    );
}

#[test]
fn ex3_poll_and_wait_on_a_closed_connection_are_closed() {
    let answers = isolated(|| {
        let (mut r, _w) = Pipe::one_way().unwrap();
        let (r2, _w2) = Pipe::one_way().unwrap();
        r.close();
        vec![
            debug(r.poll(Some(Duration::ZERO))),
            debug(wait(&[&r2 as &dyn Waitable, &r], Some(Duration::ZERO))),
        ]
    });
    assert_eq!(answers, ["Err(Closed)", "Err(Closed)"]);
}

// ---- Exercise 4: typed messages, untrusted bytes ---------------------------------------------

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Msg {
    Ping(u8),
    Text(String),
    Pair(u16, bool),
    Bytes(Vec<u8>),
}

/// A value whose `Serialize` fails.
#[derive(Debug, PartialEq, Deserialize)]
struct Unencodable;

impl Serialize for Unencodable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "this value refuses to be encoded",
        ))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Order {
    id: u32,
    item: String,
    quantity: u16,
}

#[test]
fn ex4_typed_messages_round_trip() {
    let got = isolated(|| {
        let mut ends = Ends::new(Kind::Duplex);
        let order = Order {
            id: 7,
            item: "water jug".into(),
            quantity: 2,
        };
        ends.send(&order).unwrap();
        ends.send(&Msg::Text("héllo".into())).unwrap();
        ends.send(&()).unwrap();
        ends.send("a str").unwrap();
        let order: Order = ends.recv().unwrap();
        let msg: Msg = ends.recv().unwrap();
        let unit: () = ends.recv().unwrap();
        let text: String = ends.recv().unwrap();
        debug((order, msg, unit, text))
    });
    assert_eq!(
        got,
        r#"(Order { id: 7, item: "water jug", quantity: 2 }, Text("héllo"), (), "a str")"#
    );
}

#[test]
fn ex4_decode_takes_exactly_one_value() {
    assert_eq!(decode::<u8>(&[7]), Ok(7));
    assert_eq!(
        decode::<u8>(&[7, 8, 9]),
        Err(PipeError::TrailingBytes { extra: 2 })
    );
    assert!(matches!(decode::<u8>(&[]), Err(PipeError::Decode(_))));
    assert!(matches!(decode::<bool>(&[2]), Err(PipeError::Decode(_))));
    assert!(matches!(
        decode::<String>(&[2, 0xff, 0xfe]),
        Err(PipeError::Decode(_))
    ));
    assert_eq!(decode::<()>(&[]), Ok(()));
    let bytes = encode(&Msg::Pair(300, true)).unwrap();
    assert_eq!(decode::<Msg>(&bytes), Ok(Msg::Pair(300, true)));
}

/// The hostile peer's repertoire, through a real pipe, in a process whose address
/// space cannot hold what a lying length asks for. Each attack gets its typed error,
/// and a well-formed message after a bad one still arrives.
#[test]
fn ex4_a_hostile_peer_gets_only_typed_errors() {
    let answers = isolated(|| {
        limit_address_space(256 * MIB);
        let good = frame(
            &encode(&Order {
                id: 1,
                item: "tea".into(),
                quantity: 1,
            })
            .unwrap(),
        );
        // A Vec whose length (a varint) says u64::MAX, inside a 12-byte frame.
        let vec_bomb = [vec![3], vec![0xff; 9], vec![1], vec![0]].concat();
        let attacks: Vec<(&str, Vec<u8>)> = vec![
            (
                "trailing garbage",
                frame(
                    &[
                        encode(&Order {
                            id: 2,
                            item: "x".into(),
                            quantity: 1,
                        })
                        .unwrap(),
                        vec![0xAA, 0xBB],
                    ]
                    .concat(),
                ),
            ),
            (
                "wrong type: a string",
                frame(&encode("this is not an order").unwrap()),
            ),
            ("wrong type: a bool", frame(&encode(&true).unwrap())),
            ("bad UTF-8", frame(&[1, 2, 0xff, 0xfe, 1])),
            ("bad enum tag", frame(&[9, 1])),
            ("a length bomb inside the message", frame(&vec_bomb)),
        ];
        let mut answers = Vec::new();
        for (name, bytes) in attacks {
            let mut ends = Ends::new(Kind::OneWay);
            raw_write(borrow(ends.send_fd()), &bytes);
            raw_write(borrow(ends.send_fd()), &good);
            ends.close_sender();
            let first = match name {
                "bad enum tag" | "a length bomb inside the message" => {
                    ends.recv::<Msg>().map(|_| ())
                }
                _ => ends.recv::<Order>().map(|_| ()),
            };
            let kind = match first {
                Err(PipeError::Decode(_)) => "Decode".to_owned(),
                other => debug(other),
            };
            let next = ends.recv::<Order>().map(|o| o.item);
            answers.push(format!("{name}: {kind}, then {next:?}"));
        }
        // The frame-level attacks: a 4 GiB length, a frame cut short.
        for (name, bytes) in [
            ("length bomb", u32::MAX.to_le_bytes().to_vec()),
            (
                "cut short",
                [good.clone(), frame(&[1, 2, 3, 4])[..6].to_vec()].concat(),
            ),
        ] {
            let mut ends = Ends::new(Kind::Duplex);
            raw_write(borrow(ends.send_fd()), &bytes);
            ends.close_sender();
            let first = debug(ends.recv::<Order>().map(|o| o.item));
            let next = debug(ends.recv::<Order>().map(|o| o.item));
            answers.push(format!("{name}: {first}, then {next}"));
        }
        answers
    });
    insta::assert_snapshot!(answers.join("\n"));
}

/// After a message that does not decode, the stream is still in step: the frame was
/// consumed whole.
#[test]
fn ex4_a_bad_message_is_consumed_and_the_next_one_arrives() {
    let got = isolated(|| {
        let mut ends = Ends::new(Kind::OneWay);
        ends.send(&Msg::Text("not a number".into())).unwrap();
        ends.send(&42u64).unwrap();
        ends.send(&43u64).unwrap();
        let first = ends.recv::<u64>();
        vec![
            debug(first.is_err()),
            debug(ends.recv::<u64>()),
            debug(ends.recv::<u64>()),
        ]
    });
    assert_eq!(got, ["true", "Ok(42)", "Ok(43)"]);
}

#[test]
fn ex4_send_refuses_what_the_limit_forbids_and_a_closed_end() {
    let answers = isolated(|| {
        let (_r, mut w) = Pipe::one_way().unwrap();
        w.set_max_message(4);
        let mut answers = vec![debug(w.send(&"12345")), debug(w.send(&"123"))];
        w.close();
        answers.push(debug(w.send(&1u8)));
        answers
    });
    assert_eq!(
        answers,
        ["Err(TooLarge { len: 6, max: 4 })", "Ok(())", "Err(Closed)"]
    );
}

/// What a receiver with a limit of `MAX` must make of `bytes`, outcome by outcome,
/// worked out independently of the code under test (postcard itself decodes).
fn model_outcomes(bytes: &[u8], max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let left = &bytes[at..];
        if left.is_empty() {
            out.push("Eof".into());
            return out;
        }
        if left.len() < HEADER {
            out.push(format!("Truncated {}/{}", left.len(), HEADER));
            return out;
        }
        let len = u32::from_le_bytes(left[..HEADER].try_into().unwrap()) as usize;
        if len > max {
            out.push(format!("TooLarge {len}"));
            return out;
        }
        if left.len() < HEADER + len {
            out.push(format!("Truncated {}/{}", left.len(), HEADER + len));
            return out;
        }
        let body = &left[HEADER..HEADER + len];
        out.push(match postcard::take_from_bytes::<Msg>(body) {
            Err(_) => "Decode".into(),
            Ok((_, rest)) if !rest.is_empty() => format!("TrailingBytes {}", rest.len()),
            Ok((m, _)) => format!("Ok {m:?}"),
        });
        at += HEADER + len;
    }
}

/// What the receiver made of it, in the model's words.
fn outcome(result: &Result<Msg, PipeError>) -> String {
    match result {
        Ok(m) => format!("Ok {m:?}"),
        Err(PipeError::Eof) => "Eof".into(),
        Err(PipeError::Truncated { got, expected }) => format!("Truncated {got}/{expected}"),
        Err(PipeError::TooLarge { len, .. }) => format!("TooLarge {len}"),
        Err(PipeError::Decode(_)) => "Decode".into(),
        Err(PipeError::TrailingBytes { extra }) => format!("TrailingBytes {extra}"),
        Err(other) => format!("unexpected {other:?}"),
    }
}

/// Chunks of a hostile stream: well-formed frames, frames with lying lengths, noise.
fn hostile_stream() -> impl Strategy<Value = Vec<u8>> {
    let msg = prop_oneof![
        any::<u8>().prop_map(Msg::Ping),
        ".{0,20}".prop_map(Msg::Text),
        (any::<u16>(), any::<bool>()).prop_map(|(a, b)| Msg::Pair(a, b)),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Msg::Bytes),
    ];
    let chunk = prop_oneof![
        3 => msg.prop_map(|m| frame(&encode(&m).unwrap())),
        2 => prop::collection::vec(any::<u8>(), 0..24).prop_map(|b| frame(&b)),
        1 => (any::<u32>(), prop::collection::vec(any::<u8>(), 0..8))
            .prop_map(|(len, b)| [len.to_le_bytes().to_vec(), b].concat()),
        1 => prop::collection::vec(any::<u8>(), 0..12),
    ];
    prop::collection::vec(chunk, 0..8).prop_map(|chunks| chunks.concat())
}

proptest! {
    #![proptest_config(proptest_config(48))]

    /// Arbitrary bytes through a real pipe into `recv`: exactly the model's outcomes,
    /// typed errors only, no panic, and the receiver stops at the first fatal one.
    #[test]
    fn ex4_arbitrary_bytes_through_a_pipe_give_typed_errors_never_a_panic(
        bytes in hostile_stream(),
        duplex in any::<bool>(),
    ) {
        const MAX: usize = 64;
        let expected = model_outcomes(&bytes, MAX);
        let got = isolated(|| {
            let mut ends = Ends::new(if duplex { Kind::Duplex } else { Kind::OneWay });
            ends.set_max_message(MAX);
            raw_write(borrow(ends.send_fd()), &bytes);
            ends.close_sender();
            let mut got = Vec::new();
            loop {
                let result = ends.recv::<Msg>();
                let fatal = matches!(
                    result,
                    Err(PipeError::Eof | PipeError::Truncated { .. } | PipeError::TooLarge { .. })
                ) || got.len() > 64;
                got.push(outcome(&result));
                if fatal {
                    return got;
                }
            }
        });
        prop_assert_eq!(got, expected);
    }

    /// Typed messages of every shape arrive as sent.
    #[test]
    fn ex4_typed_messages_arrive_as_sent(list in prop::collection::vec(
        prop_oneof![
            any::<u8>().prop_map(Msg::Ping),
            ".{0,40}".prop_map(Msg::Text),
            (any::<u16>(), any::<bool>()).prop_map(|(a, b)| Msg::Pair(a, b)),
            prop::collection::vec(any::<u8>(), 0..10_000).prop_map(Msg::Bytes),
        ],
        0..10,
    )) {
        let got = isolated(|| {
            let mut ends = Ends::new(Kind::Duplex);
            let mut writer = spawn(|| {
                for m in &list {
                    ends.send(m).unwrap();
                }
            });
            ends.close_sender();
            let mut got = Vec::new();
            while let Ok(m) = ends.recv::<Msg>() {
                got.push(m);
            }
            join_ok(&mut writer);
            got
        });
        prop_assert_eq!(got, list);
    }
}

// ---- Exercises 5 to 7: the queues --------------------------------------------------------------

include!("ch04_pipes_queues/queues.rs");
