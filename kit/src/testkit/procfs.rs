//! What `/proc` tells about a process, or one of its threads: how a test knows that a
//! wait sleeps instead of spinning, that a process has ended, or what it has mapped.
//!
//! Each reading is a snapshot: the process may change state right after it. The
//! checks built on them wait for a state and then watch it for a while, never trust
//! one look.

use std::fs;
use std::time::{Duration, Instant};

use super::timeout;

/// A few fields of `/proc/<pid>/stat` (or of one thread's `/proc/<pid>/task/<tid>/stat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// The scheduler's letter: `R` running or runnable, `S` asleep (in a futex wait,
    /// say), `D` in an uninterruptible wait, `T` stopped, `Z` ended but not reaped.
    pub state: char,
    /// The parent's pid.
    pub ppid: i32,
    /// CPU time used so far, user and system, in clock ticks (10 ms here).
    pub cpu_ticks: u64,
    /// Page faults so far that needed no disk: mapping a page the kernel already has.
    pub minor_faults: u64,
}

/// Process `pid`'s stat; `None` once it is reaped (or never was).
pub fn stat(pid: i32) -> Option<Stat> {
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Process `pid`'s state letter (see [`Stat::state`]); `None` once it is reaped.
pub fn state(pid: i32) -> Option<char> {
    stat(pid).map(|stat| stat.state)
}

/// The CPU time process `pid` has used so far, in clock ticks (10 ms here). Panics
/// when there is no such process: a test measures only processes it has not reaped.
#[track_caller]
pub fn cpu_ticks(pid: i32) -> u64 {
    match stat(pid) {
        Some(stat) => stat.cpu_ticks,
        None => panic!("no process {pid} to read the CPU time of"),
    }
}

/// Thread `tid` of process `pid`: its stat, and how many times it has been put on a
/// CPU so far (from `schedstat`). `None` once the thread is gone.
pub fn thread_stat(pid: i32, tid: i32) -> Option<(Stat, u64)> {
    let stat = parse_stat(&fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).ok()?)?;
    let sched = fs::read_to_string(format!("/proc/{pid}/task/{tid}/schedstat")).ok()?;
    let runs = sched.split_whitespace().nth(2)?.parse().ok()?;
    Some((stat, runs))
}

/// A size line of `/proc/<pid>/status`, in KiB: `status_kib(pid, "RssShmem")` is how
/// much shared memory the process has mapped into its page tables. `None` once the
/// process is gone, or when there is no such line.
pub fn status_kib(pid: i32, field: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let value = status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))?;
    value.trim().strip_suffix("kB")?.trim().parse().ok()
}

/// Waits (at most half the exercise deadline) until process `pid` sleeps inside one of
/// the system calls `calls` (numbers such as `libc::SYS_futex`), as
/// `/proc/<pid>/syscall` shows, and returns the one it is in. A process seen there is
/// blocked in that call: this is how a test knows, without guessing a delay, that a
/// child has reached its wait. Panics when the process ends first, or at the deadline.
#[track_caller]
pub fn wait_in_syscall(pid: i32, calls: &[i64]) -> i64 {
    let deadline = Instant::now() + timeout() / 2;
    loop {
        let text = fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
        let state = state(pid);
        assert!(
            !matches!(state, None | Some('Z')),
            "process {pid} ended before it blocked in one of {calls:?} (its stderr is below)"
        );
        let number = text.split_whitespace().next().and_then(|n| n.parse().ok());
        if let Some(number) = number.filter(|n| state == Some('S') && calls.contains(n)) {
            return number;
        }
        assert!(
            Instant::now() < deadline,
            "process {pid} never blocked in one of the system calls {calls:?} (last seen: \
             {text:?})"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Waits (at most `deadline`) until thread `tid` of process `pid` sleeps, then checks
/// that it is put on a CPU at most `wake_ups` times in the next `window`. A wait that
/// spins never sleeps; one that polls in a loop of short sleeps wakes up again and
/// again; one that sleeps until its event does neither, whatever the load on the
/// machine did to it before it slept. The error says which of the first two it was.
pub fn sleeps_through(
    pid: i32,
    tid: i32,
    window: Duration,
    wake_ups: u64,
    deadline: Duration,
) -> Result<(), String> {
    let give_up = Instant::now() + deadline;
    loop {
        let (stat, runs) =
            thread_stat(pid, tid).ok_or_else(|| "it ended before it went to sleep".to_owned())?;
        if stat.state == 'S' {
            std::thread::sleep(window);
            let (_, later) = thread_stat(pid, tid)
                .ok_or_else(|| format!("it ended within {window:?} of going to sleep"))?;
            return match later - runs {
                woke if woke <= wake_ups => Ok(()),
                woke => Err(format!(
                    "it polled: it woke up {woke} times in {window:?} with nothing to wait \
                     for, where one sleep until the event will do"
                )),
            };
        }
        if Instant::now() > give_up {
            return Err(format!("it spun: it never went to sleep in {deadline:?}"));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The fields after the command name, which is in parentheses and may hold spaces and
/// parentheses of its own: hence the split at the last `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    let number = |i: usize| fields.get(i)?.parse::<u64>().ok();
    Some(Stat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        // Fields 10 (minflt), 14 and 15 (utime, stime) of proc_pid_stat(5).
        minor_faults: number(7)?,
        cpu_ticks: number(11)? + number(12)?,
    })
}
