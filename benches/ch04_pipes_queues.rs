//! Chapter 4's connections and queues, next to raw file descriptors, `ipc-channel` and
//! CPython's `multiprocessing`.
//!
//! Run it (release build) from the workspace root:
//!
//! ```text
//! cargo bench --bench ch04_pipes_queues
//! ```
//!
//! Two processes on this 2-CPU machine run at very different speeds depending on
//! whether they share a CPU (every message is then a context switch) or not (every
//! message is then a wake-up of a sleeping CPU, or none when the other side spins in
//! its loop), so every figure is measured twice: both processes pinned to CPU 0
//! ("same CPU"), and the parent on CPU 0 with the child on CPU 1 ("split"), with
//! `sched_setaffinity`. In one run, with `ch04_pipes_queues_solution`:
//!
//! 1. **Round trip** of an 8-byte message: the parent sends, the child sends the same
//!    bytes back; 2 000 warm-up trips, then the median of 20 000. Over a raw stream
//!    socketpair (`write` + `read` of 8 bytes; and again with neither side ever
//!    sleeping: `recv` with `MSG_DONTWAIT` and `sched_yield` until the bytes come, the
//!    floor when nobody is woken), a raw pair of pipes, a `Connection`
//!    (`send_bytes` + `recv_bytes`), two `ipc-channel` channels, and CPython's
//!    `Pipe()`. Targets: at most 1.15x the raw socketpair, no slower than
//!    ipc-channel, at least 2x faster than CPython.
//! 2. **Queue throughput**, one producer (the child) and one consumer (the parent), 200
//!    000 `u64` items: a `Queue`, a `RingQueue`, an `ipc-channel` channel, a raw pipe
//!    (one 8-byte `write` per item, the reader reads 64 KiB at a time), and CPython's
//!    `Queue` (50 000 items). Items per second, from the producer's start signal to
//!    the last get; best of 3. The producer's writes per put and the consumer's reads
//!    per get come from `/proc/<pid>/io`. Targets: the `Queue` at least 10x CPython and
//!    1.25x ipc-channel, one system call per put; the ring at least 5 M items/s.
//! 3. **16 MiB messages**: 16 of them through a one-way pipe (`send_bytes` +
//!    `recv_bytes`), in GB/s (1e9 bytes), beside a plain 16 MiB `memcpy` in one process
//!    and CPython's `send_bytes` + `recv_bytes` (4 messages).
//!
//! Every wait has a deadline (30 s for a child, 2 min for the Python script); a child
//! that does not exit with 0 fails the bench. The binary is `harness = false`, so it
//! runs on one thread and forking from it is safe (checked before the first fork).
//! The figures go to `book/figures/ch04_pipes_queues.json` for the book. Other load on
//! the machine lands on them: run it twice before trusting a "not met".

mod common;

use std::hint::black_box;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use ch04_pipes_queues_solution::{MpQueue, Pipe, Queue, RingQueue};
use common::{
    assert_single_threaded, json_number, json_string, quantile, run_python, scaled, Better, Role,
    Row, Series, Target,
};
use mpkit::Child;

/// Round trips (unmeasured, then measured), queue items, queue runs and 16 MiB
/// messages: a quick pass (`cargo xtask bench --quick`) does a tenth, once.
fn warmup_trips() -> usize {
    scaled(2_000, 200)
}
fn trips() -> usize {
    scaled(20_000, 2_000)
}
fn items() -> u64 {
    scaled(200_000, 20_000)
}
fn queue_runs() -> usize {
    scaled(3, 1)
}
fn big_count() -> usize {
    scaled(16, 2)
}
/// Producers (and as many consumers) of the sweep, and the items they pass in all.
const SWEEP: [usize; 4] = [1, 2, 3, 4];
fn sweep_items() -> u64 {
    scaled(120_000, 12_000)
}
fn sweep_runs() -> usize {
    scaled(3, 1)
}
const BIG: usize = 16 << 20;
const CHILD_DEADLINE: Duration = Duration::from_secs(30);
const PYTHON_DEADLINE: Duration = Duration::from_secs(120);

/// Where the child runs: the parent is always on CPU 0.
#[derive(Clone, Copy)]
enum Placement {
    Same,
    Split,
}

impl Placement {
    fn child_cpu(self) -> usize {
        match self {
            Placement::Same => 0,
            Placement::Split => 1,
        }
    }

    fn key(self) -> &'static str {
        match self {
            Placement::Same => "same",
            Placement::Split => "split",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Placement::Same => "same CPU",
            Placement::Split => "split",
        }
    }
}

/// Pins the calling process to `cpu`.
fn pin(cpu: usize) {
    set_affinity(&[cpu]);
}

/// Lets the calling process run on any of `cpus`.
fn set_affinity(cpus: &[usize]) {
    // Safety: a zeroed cpu_set_t is an empty set; CPU_SET and sched_setaffinity read
    // and write only that live local.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &cpu in cpus {
            libc::CPU_SET(cpu, &mut set);
        }
        let rc = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        assert_eq!(rc, 0, "sched_setaffinity({cpus:?}) failed");
    }
}

/// Forks a child pinned to `placement`'s CPU that runs `body`.
fn child(placement: Placement, body: impl FnOnce()) -> Child {
    mpkit::fork_child(|| {
        pin(placement.child_cpu());
        body();
    })
    .expect("fork_child failed")
}

/// Reaps `child` within the deadline; panics unless it exited with 0.
fn join_ok(mut child: Child, what: &str) {
    match child
        .wait_timeout(CHILD_DEADLINE)
        .expect("wait_timeout failed")
    {
        Some(status) if status.success() => {}
        Some(status) => panic!("{what}: the child ended with {status}"),
        None => panic!("{what}: the child was still running after {CHILD_DEADLINE:?}"),
    }
}

/// `write(2)` of all of `bytes`.
fn write_fd(fd: RawFd, bytes: &[u8]) {
    // Safety: the fd is open for the whole call.
    mpkit::write_all(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }, bytes).expect("write");
}

/// `read(2)` until `buf` is full.
fn read_fd(fd: RawFd, buf: &mut [u8]) {
    let mut got = 0;
    while got < buf.len() {
        // Safety: reads into the live rest of `buf`.
        let n = unsafe { libc::read(fd, buf[got..].as_mut_ptr().cast(), buf.len() - got) };
        assert!(n > 0, "read failed or hit end-of-file");
        got += n as usize;
    }
}

/// Reads until `buf` is full without ever sleeping: `recv(2)` with `MSG_DONTWAIT`, and
/// `sched_yield` while nothing has come (on one CPU, the other process must run).
fn read_fd_busy(fd: RawFd, buf: &mut [u8]) {
    let mut got = 0;
    while got < buf.len() {
        // Safety: reads into the live rest of `buf`.
        let n = unsafe {
            libc::recv(
                fd,
                buf[got..].as_mut_ptr().cast(),
                buf.len() - got,
                libc::MSG_DONTWAIT,
            )
        };
        match n {
            1.. => got += n as usize,
            0 => panic!("end-of-file"),
            _ => {
                let errno = nix::errno::Errno::last();
                assert_eq!(errno, nix::errno::Errno::EAGAIN, "recv failed");
                // Safety: sched_yield takes no argument and touches no memory.
                unsafe { libc::sched_yield() };
            }
        }
    }
}

/// Times `trips()` round trips after `warmup_trips()`, returns the median in microseconds.
fn median_trip(mut trip: impl FnMut()) -> f64 {
    for _ in 0..warmup_trips() {
        trip();
    }
    let mut micros: Vec<f64> = (0..trips())
        .map(|_| {
            let t0 = Instant::now();
            trip();
            t0.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    micros.sort_by(f64::total_cmp);
    quantile(&micros, 0.5)
}

fn total_trips() -> usize {
    warmup_trips() + trips()
}

/// Over a raw stream socketpair; `busy`: neither side ever sleeps ([`read_fd_busy`]).
fn roundtrip_socketpair(placement: Placement, busy: bool) -> f64 {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .expect("socketpair");
    let read = if busy { read_fd_busy } else { read_fd };
    raw_roundtrip(
        placement,
        (a.as_raw_fd(), a.as_raw_fd()),
        (b.as_raw_fd(), b.as_raw_fd()),
        read,
    )
}

fn roundtrip_pipes(placement: Placement) -> f64 {
    let (r1, w1) = nix::unistd::pipe().expect("pipe");
    let (r2, w2) = nix::unistd::pipe().expect("pipe");
    let fds = [&r1, &w1, &r2, &w2].map(|fd: &OwnedFd| fd.as_raw_fd());
    raw_roundtrip(placement, (fds[2], fds[1]), (fds[0], fds[3]), read_fd)
}

/// The parent writes on `here.1` and reads `here.0`; the child reads `there.0` and
/// writes `there.1`; both read with `read`.
fn raw_roundtrip(
    placement: Placement,
    here: (RawFd, RawFd),
    there: (RawFd, RawFd),
    read: fn(RawFd, &mut [u8]),
) -> f64 {
    let echo = child(placement, || {
        let mut buf = [0u8; 8];
        for _ in 0..total_trips() {
            read(there.0, &mut buf);
            write_fd(there.1, &buf);
        }
    });
    let mut buf = [0u8; 8];
    let median = median_trip(|| {
        write_fd(here.1, b"12345678");
        read(here.0, &mut buf);
    });
    join_ok(echo, "raw round trip");
    median
}

fn roundtrip_connection(placement: Placement) -> f64 {
    let (mut here, mut there) = Pipe::duplex().expect("Pipe::duplex");
    let echo = child(placement, || {
        for _ in 0..total_trips() {
            let message = there.recv_bytes().expect("recv_bytes");
            there.send_bytes(&message).expect("send_bytes");
        }
    });
    let median = median_trip(|| {
        here.send_bytes(b"12345678").expect("send_bytes");
        black_box(here.recv_bytes().expect("recv_bytes"));
    });
    join_ok(echo, "Connection round trip");
    median
}

fn roundtrip_ipc_channel(placement: Placement) -> f64 {
    let (ping_tx, ping_rx) = ipc_channel::ipc::channel::<[u8; 8]>().expect("ipc channel");
    let (pong_tx, pong_rx) = ipc_channel::ipc::channel::<[u8; 8]>().expect("ipc channel");
    let echo = child(placement, || {
        for _ in 0..total_trips() {
            let message = ping_rx.recv().expect("ipc recv");
            pong_tx.send(message).expect("ipc send");
        }
    });
    let median = median_trip(|| {
        ping_tx.send(*b"12345678").expect("ipc send");
        black_box(pong_rx.recv().expect("ipc recv"));
    });
    join_ok(echo, "ipc-channel round trip");
    median
}

/// A one-byte start signal from the producer: the clock starts when it arrives.
struct Start {
    read_end: OwnedFd,
    write_end: OwnedFd,
}

impl Start {
    fn new() -> Start {
        let (read_end, write_end) = nix::unistd::pipe().expect("pipe");
        Start {
            read_end,
            write_end,
        }
    }

    fn go(&self) {
        write_fd(self.write_end.as_raw_fd(), b"!");
    }

    fn wait(&self) -> Instant {
        read_fd(self.read_end.as_raw_fd(), &mut [0u8; 1]);
        Instant::now()
    }
}

/// Read and write system calls made so far by process `pid` (from `/proc/<pid>/io`).
fn syscalls(pid: &str) -> (u64, u64) {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).expect("/proc/<pid>/io");
    let field = |name: &str| {
        io.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .expect("a field of /proc/<pid>/io")
    };
    (field("syscr:"), field("syscw:"))
}

/// One run of `items()` items through a queue; items per second, and the producer's
/// writes per put and the consumer's reads per get.
fn queue_once<Q: MpQueue<u64>>(placement: Placement, queue: Q) -> (f64, f64, f64) {
    let start = Start::new();
    let (report_r, report_w) = nix::unistd::pipe().expect("pipe");
    let producer = child(placement, || {
        let before = syscalls("self").1;
        start.go();
        for k in 0..items() {
            queue.put(&k, None).expect("put");
        }
        let writes = syscalls("self").1 - before - 1;
        write_fd(report_w.as_raw_fd(), &writes.to_le_bytes());
    });
    let t0 = start.wait();
    let reads_before = syscalls("self").0;
    for k in 0..items() {
        assert_eq!(
            queue.get(None).expect("get"),
            k,
            "an item came out of order"
        );
    }
    let elapsed = t0.elapsed();
    let reads = syscalls("self").0 - reads_before;
    let mut writes = [0u8; 8];
    read_fd(report_r.as_raw_fd(), &mut writes);
    join_ok(producer, "queue");
    let per_item = |n: u64| n as f64 / items() as f64;
    (
        items() as f64 / elapsed.as_secs_f64(),
        per_item(u64::from_le_bytes(writes)),
        per_item(reads),
    )
}

fn rate_ipc_channel(placement: Placement) -> f64 {
    let (tx, rx) = ipc_channel::ipc::channel::<u64>().expect("ipc channel");
    let start = Start::new();
    let producer = child(placement, || {
        start.go();
        for k in 0..items() {
            tx.send(k).expect("ipc send");
        }
    });
    let t0 = start.wait();
    for k in 0..items() {
        assert_eq!(rx.recv().expect("ipc recv"), k);
    }
    let elapsed = t0.elapsed();
    join_ok(producer, "ipc-channel");
    items() as f64 / elapsed.as_secs_f64()
}

fn rate_raw_pipe(placement: Placement) -> f64 {
    let (r, w) = nix::unistd::pipe().expect("pipe");
    let start = Start::new();
    let producer = child(placement, || {
        start.go();
        for k in 0..items() {
            write_fd(w.as_raw_fd(), &k.to_le_bytes());
        }
    });
    let t0 = start.wait();
    let mut buf = vec![0u8; 64 << 10];
    let mut left = items() as usize * 8;
    while left > 0 {
        let want = buf.len().min(left);
        // Safety: reads into the live buffer.
        let n = unsafe { libc::read(r.as_raw_fd(), buf.as_mut_ptr().cast(), want) };
        assert!(n > 0, "raw pipe read failed");
        left -= n as usize;
    }
    let elapsed = t0.elapsed();
    join_ok(producer, "raw pipe");
    items() as f64 / elapsed.as_secs_f64()
}

fn best_of(runs: usize, mut once: impl FnMut() -> f64) -> f64 {
    (0..runs).map(|_| once()).fold(0.0, f64::max)
}

/// GB/s of `big_count()` messages of 16 MiB through a one-way pipe.
fn big_connection(placement: Placement) -> f64 {
    let (mut reader, mut writer) = Pipe::one_way().expect("Pipe::one_way");
    let sender = child(placement, || {
        let message = vec![7u8; BIG];
        for _ in 0..big_count() {
            writer.send_bytes(&message).expect("send_bytes");
        }
    });
    writer.close();
    let t0 = Instant::now();
    for _ in 0..big_count() {
        assert_eq!(reader.recv_bytes().expect("recv_bytes").len(), BIG);
    }
    let elapsed = t0.elapsed();
    join_ok(sender, "16 MiB");
    (BIG * big_count()) as f64 / elapsed.as_secs_f64() / 1e9
}

/// GB/s of a plain 16 MiB copy in this process, best of 10.
fn memcpy_rate() -> f64 {
    let from = vec![7u8; BIG];
    let mut to = vec![0u8; BIG];
    let mut best = f64::INFINITY;
    for _ in 0..10 {
        let t0 = Instant::now();
        to.copy_from_slice(black_box(&from));
        black_box(&mut to);
        best = best.min(t0.elapsed().as_secs_f64());
    }
    BIG as f64 / best / 1e9
}

/// One placement's figures.
struct Measured {
    socketpair_us: f64,
    busy_socketpair_us: f64,
    pipes_us: f64,
    connection_us: f64,
    ipc_us: f64,
    queue_per_s: f64,
    writes_per_put: f64,
    reads_per_get: f64,
    ring_per_s: f64,
    ipc_per_s: f64,
    raw_pipe_per_s: f64,
    big_gb_s: f64,
}

fn measure(placement: Placement) -> Measured {
    pin(0);
    let socketpair_us = roundtrip_socketpair(placement, false);
    let busy_socketpair_us = roundtrip_socketpair(placement, true);
    let pipes_us = roundtrip_pipes(placement);
    let connection_us = roundtrip_connection(placement);
    let ipc_us = roundtrip_ipc_channel(placement);
    let mut queue = (0.0, 0.0, 0.0);
    for _ in 0..queue_runs() {
        let run = queue_once(placement, Queue::<u64>::new().expect("Queue::new"));
        if run.0 > queue.0 {
            queue = run;
        }
    }
    let ring_per_s = best_of(queue_runs(), || {
        queue_once(placement, RingQueue::<u64>::new().expect("RingQueue::new")).0
    });
    let ipc_per_s = best_of(queue_runs(), || rate_ipc_channel(placement));
    let raw_pipe_per_s = best_of(queue_runs(), || rate_raw_pipe(placement));
    let big_gb_s = big_connection(placement);
    Measured {
        socketpair_us,
        busy_socketpair_us,
        pipes_us,
        connection_us,
        ipc_us,
        queue_per_s: queue.0,
        writes_per_put: queue.1,
        reads_per_get: queue.2,
        ring_per_s,
        ipc_per_s,
        raw_pipe_per_s,
        big_gb_s,
    }
}

fn main() {
    assert_single_threaded();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    assert!(cores >= 2, "the bench pins its processes to CPUs 0 and 1");
    let placements = [Placement::Same, Placement::Split];
    let measured: Vec<Measured> = placements.iter().map(|&p| measure(p)).collect();
    let memcpy_gb_s = memcpy_rate();
    // The sweep and the Python script run unpinned (the script pins its own processes).
    set_affinity(&(0..cores).collect::<Vec<_>>());
    let sweep = sweep();
    let sizes: Vec<String> = SWEEP.iter().map(usize::to_string).collect();
    let args: Vec<String> = [
        ("--trips", (trips() / 4).to_string()),
        ("--items", (items() / 4).to_string()),
        ("--big", (big_count() / 4).max(1).to_string()),
        ("--sweep", sizes.join(",")),
        ("--sweep-items", (sweep_items() / 4).to_string()),
    ]
    .into_iter()
    .flat_map(|(flag, value)| [flag.to_owned(), value])
    .collect();
    let python = run_python("pipes_queues.py", &args, PYTHON_DEADLINE);
    let py = |key: &str| {
        python.as_ref().ok().map(|line| {
            json_number(line, key).unwrap_or_else(|| panic!("pipes_queues.py: no {key}"))
        })
    };

    let mut figures = Figures::new("ch04_pipes_queues");
    println!();
    println!("ch04_pipes_queues_solution beside raw fds, ipc-channel and CPython; cores: {cores}");
    for (placement, m) in placements.iter().zip(&measured) {
        let key = placement.key();
        let cpython_us = py(&format!("roundtrip_{key}_us"));
        let cpython_per_s = py(&format!("queue_{key}_per_s"));
        let cpython_gb_s = py(&format!("big_{key}_gb_s"));
        println!("\n{} ({}):", placement.label(), key);
        println!(
            "  8-byte round trip, median: Connection {:.1} µs | raw socketpair {:.1} µs \
             (never sleeping: {:.1} µs) | raw pipes {:.1} µs | ipc-channel {:.1} µs | CPython {}",
            m.connection_us,
            m.socketpair_us,
            m.busy_socketpair_us,
            m.pipes_us,
            m.ipc_us,
            cpython_us.map_or("skipped".into(), |v| format!("{v:.1} µs"))
        );
        if let Some(cpython_us) = cpython_us {
            figures.ratio(
                &format!("roundtrip_{key}_speedup_vs_cpython"),
                cpython_us / m.connection_us,
            );
            figures.micros(&format!("roundtrip_{key}_cpython_us"), cpython_us);
        }
        figures.micros(&format!("roundtrip_{key}_connection_us"), m.connection_us);
        figures.micros(&format!("roundtrip_{key}_socketpair_us"), m.socketpair_us);
        figures.micros(
            &format!("roundtrip_{key}_busy_socketpair_us"),
            m.busy_socketpair_us,
        );
        figures.micros(&format!("roundtrip_{key}_pipes_us"), m.pipes_us);
        figures.micros(&format!("roundtrip_{key}_ipc_channel_us"), m.ipc_us);
        figures.ratio(
            &format!("roundtrip_{key}_vs_socketpair"),
            m.connection_us / m.socketpair_us,
        );
        figures.row(
            Row::new(
                format!("8-byte round trip, {}", placement.label()),
                Better::Lower,
                &format!("roundtrip_{key}_connection_us"),
            )
            .cpython(&format!("roundtrip_{key}_cpython_us"))
            .limit("raw socketpair", &format!("roundtrip_{key}_socketpair_us"))
            .peer("ipc-channel", &format!("roundtrip_{key}_ipc_channel_us"))
            .peer(
                "raw socketpair, never sleeping",
                &format!("roundtrip_{key}_busy_socketpair_us"),
            )
            .target(Target::within_limit(1.15))
            .target(Target::faster_than("ipc-channel", 1.0))
            .target(Target::faster_than_cpython(2.0)),
        );

        println!(
            "  1 producer, 1 consumer, {} u64: Queue {} ({:.2} writes/put, {:.2} \
             reads/get) | RingQueue {} | ipc-channel {} | raw pipe {} | CPython {}",
            items(),
            per_s(m.queue_per_s),
            m.writes_per_put,
            m.reads_per_get,
            per_s(m.ring_per_s),
            per_s(m.ipc_per_s),
            per_s(m.raw_pipe_per_s),
            cpython_per_s.map_or("skipped".into(), per_s)
        );
        if let Some(cpython_per_s) = cpython_per_s {
            figures.rate(&format!("queue_{key}_cpython_per_s"), cpython_per_s);
            figures.ratio(
                &format!("queue_{key}_speedup_vs_cpython"),
                m.queue_per_s / cpython_per_s,
            );
            figures.ratio(
                &format!("ring_{key}_speedup_vs_cpython"),
                m.ring_per_s / cpython_per_s,
            );
        }
        figures.rate(&format!("queue_{key}_per_s"), m.queue_per_s);
        figures.rate(&format!("ring_{key}_per_s"), m.ring_per_s);
        figures.rate(&format!("queue_{key}_ipc_channel_per_s"), m.ipc_per_s);
        figures.rate(&format!("queue_{key}_raw_pipe_per_s"), m.raw_pipe_per_s);
        figures.ratio(
            &format!("queue_{key}_vs_ipc_channel"),
            m.queue_per_s / m.ipc_per_s,
        );
        figures.plain(
            &format!("queue_{key}_writes_per_put"),
            m.writes_per_put,
            "",
            2,
        );
        figures.plain(
            &format!("queue_{key}_reads_per_get"),
            m.reads_per_get,
            "",
            2,
        );
        figures
            .row(
                Row::new(
                    format!("Queue, 1 producer and 1 consumer, {}", placement.label()),
                    Better::Higher,
                    &format!("queue_{key}_per_s"),
                )
                .cpython(&format!("queue_{key}_cpython_per_s"))
                .limit(
                    "raw pipe, 8-byte writes",
                    &format!("queue_{key}_raw_pipe_per_s"),
                )
                .peer("ipc-channel", &format!("queue_{key}_ipc_channel_per_s"))
                .target(Target::faster_than_cpython(10.0))
                .target(Target::faster_than("ipc-channel", 1.25)),
            )
            .row(
                Row::new(
                    format!("RingQueue, {}", placement.label()),
                    Better::Higher,
                    &format!("ring_{key}_per_s"),
                )
                .cpython(&format!("queue_{key}_cpython_per_s"))
                .limit(
                    "raw pipe, 8-byte writes",
                    &format!("queue_{key}_raw_pipe_per_s"),
                )
                .target(Target::AtLeast(5e6)),
            )
            .row(
                Row::new(
                    format!("Queue: write calls per put, {}", placement.label()),
                    Better::Lower,
                    &format!("queue_{key}_writes_per_put"),
                )
                .target(Target::AtMost(1.0)),
            );

        println!(
            "  16 MiB messages: Connection {:.2} GB/s | memcpy {:.2} GB/s | CPython {}",
            m.big_gb_s,
            memcpy_gb_s,
            cpython_gb_s.map_or("skipped".into(), |v| format!("{v:.2} GB/s"))
        );
        figures.plain(&format!("big_{key}_gb_s"), m.big_gb_s, " GB/s", 2);
        if let Some(cpython_gb_s) = cpython_gb_s {
            figures.plain(&format!("big_{key}_cpython_gb_s"), cpython_gb_s, " GB/s", 2);
        }
        figures.row(
            Row::new(
                format!("16 MiB messages, {}", placement.label()),
                Better::Higher,
                &format!("big_{key}_gb_s"),
            )
            .cpython(&format!("big_{key}_cpython_gb_s"))
            .limit("memcpy in one process", "memcpy_gb_s"),
        );
    }
    figures.plain("memcpy_gb_s", memcpy_gb_s, " GB/s", 1);

    println!(
        "\nn producers and n consumers, {} u64 in all, unpinned:",
        sweep_items()
    );
    let cpython_sweep: Option<Vec<f64>> = python.as_ref().ok().map(|_| {
        SWEEP
            .iter()
            .map(|n| py(&format!("sweep_{n}_per_s")).expect("measured"))
            .collect()
    });
    for (i, n) in SWEEP.iter().enumerate() {
        println!(
            "  n={n}: Queue {} | raw pipe {} | CPython {}",
            per_s(sweep.queue[i]),
            per_s(sweep.raw_pipe[i]),
            cpython_sweep
                .as_ref()
                .map_or("skipped".into(), |c| per_s(c[i]))
        );
    }
    let x: Vec<f64> = SWEEP.iter().map(|&n| n as f64).collect();
    let some = |values: &[f64]| values.iter().map(|&v| Some(v)).collect::<Vec<_>>();
    let mut series = Series::new(
        "queue_producers_consumers",
        "Queue throughput, n producers and n consumers",
        "producers (and as many consumers)",
        "msg/s",
        &x,
    )
    .line("chapter 4 Queue", Role::Ours, &some(&sweep.queue))
    .line(
        "raw pipe, 8-byte writes",
        Role::Limit,
        &some(&sweep.raw_pipe),
    );
    if let Some(cpython) = &cpython_sweep {
        series = series.line("CPython", Role::CPython, &some(cpython));
    }
    figures.series(series);

    match &python {
        Ok(line) => println!(
            "\nbaseline: {}",
            json_string(line, "implementation").unwrap_or_default()
        ),
        Err(why) => println!("\nCPython comparison skipped: {why}"),
    }
    figures.write();
}

/// The sweep's items per second (median of `sweep_runs()`), for each n of SWEEP.
struct Sweep {
    queue: Vec<f64>,
    raw_pipe: Vec<f64>,
}

fn sweep() -> Sweep {
    let mut sweep = Sweep {
        queue: Vec::new(),
        raw_pipe: Vec::new(),
    };
    for &n in &SWEEP {
        let (mut queue, mut raw) = (Vec::new(), Vec::new());
        for _ in 0..sweep_runs() {
            queue.push(mpmc_queue(n));
            raw.push(mpmc_raw_pipe(n));
        }
        sweep.queue.push(median(queue));
        sweep.raw_pipe.push(median(raw));
    }
    sweep
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    quantile(&values, 0.5)
}

/// Forks `n` producers running `produce(share)` and `n` consumers running
/// `consume(share)`, where `share` is each one's part of `sweep_items()`; they all
/// wait for one start byte per child on a pipe. Items per second from the start to the
/// last join.
fn mpmc(n: usize, produce: impl Fn(u64), consume: impl Fn(u64)) -> f64 {
    let share = sweep_items() / n as u64;
    let gate = Start::new();
    let mut children: Vec<Child> = Vec::new();
    for role in 0..2 * n {
        let child = mpkit::fork_child(|| {
            read_fd(gate.read_end.as_raw_fd(), &mut [0u8; 1]);
            if role < n {
                produce(share);
            } else {
                consume(share);
            }
        })
        .expect("fork_child failed");
        children.push(child);
    }
    let t0 = Instant::now();
    write_fd(gate.write_end.as_raw_fd(), &vec![b'!'; 2 * n]);
    for child in children {
        join_ok(child, "sweep");
    }
    (share * n as u64) as f64 / t0.elapsed().as_secs_f64()
}

/// The sweep through a chapter 4 `Queue`.
fn mpmc_queue(n: usize) -> f64 {
    let queue = Queue::<u64>::new().expect("Queue::new");
    mpmc(
        n,
        |share| {
            for k in 0..share {
                queue.put(&k, None).expect("put");
            }
        },
        |share| {
            for _ in 0..share {
                black_box(queue.get(None).expect("get"));
            }
        },
    )
}

/// The sweep through a raw pipe: one 8-byte `write` per item (atomic: at most
/// PIPE_BUF), each consumer reads its share in reads of up to 64 KiB (a pipe of 8-byte
/// writes only ever holds whole items, so every read returns whole items).
fn mpmc_raw_pipe(n: usize) -> f64 {
    let (r, w) = nix::unistd::pipe().expect("pipe");
    mpmc(
        n,
        |share| {
            for k in 0..share {
                write_fd(w.as_raw_fd(), &k.to_le_bytes());
            }
        },
        |share| {
            let mut buf = vec![0u8; 64 << 10];
            let mut left = share as usize * 8;
            while left > 0 {
                let want = buf.len().min(left);
                // Safety: reads into the live buffer.
                let got = unsafe { libc::read(r.as_raw_fd(), buf.as_mut_ptr().cast(), want) };
                assert!(got > 0 && got % 8 == 0, "raw pipe read failed: {got}");
                left -= got as usize;
            }
        },
    )
}

fn per_s(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.2} M/s", value / 1e6)
    } else {
        format!("{:.0} k/s", value / 1e3)
    }
}

/// The figures the book quotes, written by `benches/common`'s writer, with the units
/// this bench uses.
struct Figures(common::Figures);

impl Figures {
    #[track_caller]
    fn new(bench: &'static str) -> Figures {
        Figures(common::Figures::new(bench))
    }

    fn add(&mut self, key: &str, value: f64, unit: &str, text: String) {
        self.0.add(key, value, unit, text);
    }

    fn row(&mut self, row: Row) -> &mut Self {
        self.0.row(row);
        self
    }

    fn series(&mut self, series: Series) {
        self.0.series(series);
    }

    fn micros(&mut self, key: &str, value: f64) {
        self.add(key, value, "µs", format!("{value:.1} µs"));
    }

    fn ratio(&mut self, key: &str, value: f64) {
        let text = if value >= 10.0 {
            format!("{value:.0}×")
        } else {
            format!("{value:.2}×")
        };
        self.add(key, value, "x", text);
    }

    fn rate(&mut self, key: &str, value: f64) {
        let text = if value >= 1e6 {
            format!("{:.2} M messages/s", value / 1e6)
        } else {
            format!("{:.0} k messages/s", value / 1e3)
        };
        self.add(key, value, "msg/s", text);
    }

    fn plain(&mut self, key: &str, value: f64, unit: &str, decimals: usize) {
        let text = format!("{value:.decimals$}{unit}");
        self.add(key, value, unit.trim(), text);
    }

    fn write(&self) {
        self.0.write();
    }
}
