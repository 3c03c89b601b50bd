//! Where the processes of a timed-out exercise were stuck, told in the failure.
//!
//! A deadlock must fail pointing at the student's line. Before the kit kills a
//! timed-out exercise, it sends a real-time signal to its process group. The handler,
//! installed in the exercise's process and inherited by everything it forks, walks its
//! own stack and writes the raw return addresses, with one `write(2)`, to a pipe. The
//! parent turns them into `file:line` (the children are copies of it made by `fork`,
//! so an address means the same code in both) and keeps the frames in the workspace's
//! own files: the exercise, the solution, the test.
//!
//! Best effort by design: a process that does not answer within [`GRACE`] (stopped,
//! in an uninterruptible sleep, or interrupted inside the unwinder's own lock) is simply
//! not described, and is killed like the others.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::unistd::{pipe2, Pid};

use crate::poll_readable;

/// How long the parent waits for the processes' answers before it kills them.
const GRACE: Duration = Duration::from_millis(500);
/// Frames recorded per process: one record stays below `PIPE_BUF`, so it never tears.
const MAX_FRAMES: usize = 128;
/// Frames shown per process: the innermost ones in the workspace's files.
const SHOWN_FRAMES: usize = 3;

/// The write end of the pipe, in the exercise's processes; -1 elsewhere.
static WHERE_FD: AtomicI32 = AtomicI32::new(-1);

/// The real-time signal that asks "where are you?". No test sends real-time signals.
fn where_signal() -> libc::c_int {
    libc::SIGRTMIN() + 4
}

/// The pipe the exercise's processes answer through.
pub(super) struct WherePipe {
    read_end: OwnedFd,
    write_end: Option<OwnedFd>,
}

impl WherePipe {
    pub(super) fn new() -> WherePipe {
        let (read_end, write_end) = pipe2(OFlag::O_CLOEXEC).expect("pipe2 for stack traces");
        // A handler must never block: with the pipe full, an answer is dropped.
        let _ = fcntl(&write_end, FcntlArg::F_SETFL(OFlag::O_NONBLOCK));
        WherePipe {
            read_end,
            write_end: Some(write_end),
        }
    }

    /// In the exercise's process, before the body runs: answer the signal from now on
    /// (the processes it forks inherit the handler and the pipe).
    pub(super) fn install_in_child(&self) {
        let Some(write_end) = &self.write_end else {
            return;
        };
        WHERE_FD.store(write_end.as_raw_fd(), Ordering::Relaxed);
        // nix's Signal has no real-time signals: this one goes through libc.
        // Safety: a zeroed sigaction is a valid value to fill in; the handler only
        // reads an atomic, walks its own stack and calls write(2), saving errno.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = tell_where as extern "C" fn(libc::c_int) as usize;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(where_signal(), &action, std::ptr::null_mut());
        }
    }

    /// In the parent, after the fork: only the exercise's processes keep a write end.
    pub(super) fn close_write_end(&mut self) {
        self.write_end = None;
    }

    /// In the parent, when the exercise timed out and before it is killed: asks every
    /// process of group `pgid` where it is, and describes the answers (one line per
    /// process, then the calls that led there), or returns "" when none came.
    pub(super) fn ask(&self, pgid: Pid, members: usize) -> String {
        // Safety: killpg takes a process group and a signal number; no memory involved.
        unsafe { libc::killpg(pgid.as_raw(), where_signal()) };
        let records = read_records(self.read_end.as_fd(), members, Instant::now() + GRACE);
        let described: Vec<String> = records.iter().filter_map(describe).collect();
        if described.is_empty() {
            return String::new();
        }
        format!(
            "\nWhere its processes were when the deadline passed:\n{}",
            described.join("\n")
        )
    }
}

/// The handler: one record `[pid, n, ip_1 .. ip_n]` in native-endian u64s.
extern "C" fn tell_where(_: libc::c_int) {
    let fd = WHERE_FD.load(Ordering::Relaxed);
    if fd < 0 {
        return;
    }
    // Safety: errno is thread-local; it is saved here and restored below, so the code
    // this handler interrupted sees its own value.
    let errno = unsafe { *libc::__errno_location() };
    let mut record = [0u64; 2 + MAX_FRAMES];
    let mut n = 0;
    // Safety: the walk reads this thread's own stack and the unwind tables, and takes
    // no lock of this crate (the synchronized `trace` would). It is not formally
    // async-signal-safe: the C unwinder may take the loader's lock, so if the code this
    // handler interrupted held it, this process never answers and is killed after GRACE
    // like any other. The closure writes within the array's bounds.
    unsafe {
        backtrace::trace_unsynchronized(|frame| {
            record[2 + n] = frame.ip() as u64;
            n += 1;
            n < MAX_FRAMES
        })
    };
    // Safety: getpid and write are async-signal-safe; the buffer is a live array and
    // the length stays within it. One write of less than PIPE_BUF is never interleaved.
    unsafe {
        record[0] = libc::getpid() as u64;
        record[1] = n as u64;
        libc::write(fd, record.as_ptr().cast(), (2 + n) * 8);
        *libc::__errno_location() = errno;
    }
}

/// One process's answer.
struct Record {
    pid: u64,
    ips: Vec<u64>,
}

/// Reads records until `expected` have come or `deadline` has passed.
fn read_records(fd: BorrowedFd<'_>, expected: usize, deadline: Instant) -> Vec<Record> {
    let mut bytes = Vec::new();
    let mut records = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    while records.len() < expected {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        if !poll_readable(fd, Some(left)).unwrap_or(false) {
            continue;
        }
        // Safety: reads into a live stack buffer of the given length.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            continue;
        }
        bytes.extend_from_slice(&buf[..n as usize]);
        // Whole records only: the header says how long each one is.
        let words: Vec<u64> = bytes
            .chunks_exact(8)
            .map(|c| u64::from_ne_bytes(c.try_into().unwrap()))
            .collect();
        let mut used = 0;
        while words.len() >= used + 2 && words.len() >= used + 2 + words[used + 1] as usize {
            let n = words[used + 1] as usize;
            records.push(Record {
                pid: words[used],
                ips: words[used + 2..used + 2 + n].to_vec(),
            });
            used += 2 + n;
        }
        bytes.drain(..used * 8);
    }
    records
}

/// `pid 123 (comm) at chapters/.../lock.rs:56:9 in ch05_sync::lock::Lock::acquire`,
/// then up to two callers; None when no frame is in the workspace's own files.
fn describe(record: &Record) -> Option<String> {
    let frames: Vec<String> = record
        .ips
        .iter()
        .filter_map(|&ip| workspace_frame(ip))
        .take(SHOWN_FRAMES)
        .collect();
    let (first, callers) = frames.split_first()?;
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", record.pid)).unwrap_or_default();
    let mut text = format!("  pid {} ({}) at {first}", record.pid, comm.trim());
    for caller in callers {
        text.push_str(&format!("\n      called from {caller}"));
    }
    Some(text)
}

/// `file:line:column in function` for an address in a workspace file outside the
/// kit (the exercise, the solution, the test), None for std, dependencies and the kit.
fn workspace_frame(ip: u64) -> Option<String> {
    if !in_this_executable(ip) {
        return None;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    let mut found = None;
    backtrace::resolve(ip as usize as *mut std::ffi::c_void, |symbol| {
        if found.is_some() {
            return;
        }
        let (Some(file), Some(line)) = (symbol.filename(), symbol.lineno()) else {
            return;
        };
        // Relative to the workspace, and a file of it (not `./misc/...` of some C
        // library built elsewhere); the kit's own frames say nothing about the bug.
        let file = file.strip_prefix(root).unwrap_or(file);
        if file.is_absolute() || file.starts_with("kit") || !root.join(file).is_file() {
            return;
        }
        let column = symbol.colno().map(|c| format!(":{c}")).unwrap_or_default();
        let name = symbol
            .name()
            .map(|n| format!(" in {n:#}"))
            .unwrap_or_default();
        found = Some(format!("{}:{line}{column}{name}", file.display()));
    });
    found
}

/// True when `ip` lies in the test's executable, where all of the workspace's code is
/// linked; the C library and the loader are not worth loading debug information for.
fn in_this_executable(ip: u64) -> bool {
    let base_of = |address: *const libc::c_void| {
        // Safety: a zeroed Dl_info is a valid value for dladdr to fill in; dladdr only
        // reads the loader's tables.
        unsafe {
            let mut info: libc::Dl_info = std::mem::zeroed();
            (libc::dladdr(address, &mut info) != 0).then_some(info.dli_fbase)
        }
    };
    let here = base_of(in_this_executable as *const libc::c_void);
    here.is_some() && base_of(ip as usize as *const libc::c_void) == here
}
