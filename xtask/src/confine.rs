//! Caps the processes a graded test executable may create, and kills whatever it left.
//!
//! `RLIMIT_NPROC` alone does not bind root (the kernel exempts uid 0 and
//! `CAP_SYS_RESOURCE`), and graders and CI usually run as root. So, best first:
//!
//! 1. **A pids cgroup of our own** (cgroup v2 where the pids controller can be enabled
//!    below our cgroup, else the cgroup v1 `pids` hierarchy): `pids.max` binds every
//!    process and thread inside, root's included, and the cgroup lists every process
//!    to kill afterwards, even one that left its process group or session. Needs write
//!    access to the cgroup tree: root on most machines, or a delegated cgroup.
//! 2. **Root without a usable cgroup: an unused uid.** The executable runs as an uid
//!    no process uses, under `RLIMIT_NPROC`, which binds once uid 0 is dropped; a
//!    helper with that uid kills every process of it afterwards (`kill(-1)`). The
//!    grading copy must be readable by others (a umask of 022).
//! 3. **Not root: `RLIMIT_NPROC`** set to what the user already runs plus the cap. It
//!    binds, but counts the user's other processes, and leftovers are only killed by
//!    the kit's own deadline (process group kill).
//!
//! `XTASK_CONFINE=cgroup|uid|rlimit` forces one (tests use it); `cargo xtask grade`
//! says which one it uses.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// How the processes are capped.
#[derive(Debug)]
enum How {
    /// A pids cgroup made for this run, removed on drop.
    Cgroup { dir: PathBuf, v2: bool },
    /// Run as this otherwise unused uid, under `RLIMIT_NPROC`.
    Uid(u32),
    /// `RLIMIT_NPROC` of our own (non-root) uid, set to this.
    Rlimit(u64),
}

/// A cap on the processes (and threads) of the commands it is applied to.
#[derive(Debug)]
pub struct Confinement {
    how: How,
    max: u64,
}

impl Confinement {
    /// The best confinement this machine allows (see the module's doc), capping the
    /// processes and threads of a command at `max`.
    pub fn new(max: u64) -> Result<Confinement, String> {
        Confinement::choose(max, std::env::var("XTASK_CONFINE").ok().as_deref())
    }

    /// [`Confinement::new`], with `forced` in place of `XTASK_CONFINE`.
    fn choose(max: u64, forced: Option<&str>) -> Result<Confinement, String> {
        // What the executable leaves behind is re-parented to us, not to init (which
        // may reap late here): we reap it at once, so that no zombie counts against
        // the cap of the next run.
        // Safety: prctl with integer arguments has no memory effects.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        let root = is_root();
        let mut why_not = Vec::new();
        if forced.is_none_or(|f| f == "cgroup") {
            match make_cgroup(max) {
                Ok(how) => return Ok(Confinement { how, max }),
                Err(e) => why_not.push(format!("no pids cgroup: {e}")),
            }
        }
        if root && forced.is_none_or(|f| f == "uid") {
            match unused_uid() {
                Some(uid) => {
                    return Ok(Confinement {
                        how: How::Uid(uid),
                        max,
                    })
                }
                None => why_not.push("no unused uid found".to_owned()),
            }
        }
        if !root && forced.is_none_or(|f| f == "rlimit") {
            let now = threads_of_uid(real_uid());
            return Ok(Confinement {
                how: How::Rlimit(now + max),
                max,
            });
        }
        if forced.is_some() && why_not.is_empty() {
            why_not.push(format!(
                "XTASK_CONFINE={} is not possible {}",
                forced.unwrap_or_default(),
                if root { "as root" } else { "without root" }
            ));
        }
        Err(format!(
            "cannot cap the processes of the tests: {}",
            why_not.join("; ")
        ))
    }

    /// What binds the processes, for the grader's report.
    pub fn describe(&self) -> String {
        match &self.how {
            How::Cgroup { dir, v2 } => format!(
                "at most {} processes and threads per test executable (cgroup {} pids.max, {})",
                self.max,
                if *v2 { "v2" } else { "v1" },
                dir.display()
            ),
            How::Uid(uid) => format!(
                "at most {} processes and threads per test executable (run as unused uid {uid} \
                 under RLIMIT_NPROC)",
                self.max
            ),
            How::Rlimit(limit) => format!(
                "RLIMIT_NPROC {limit}: {} processes and threads beyond what this user runs now",
                self.max
            ),
        }
    }

    /// Makes `command` start confined.
    pub fn apply(&self, command: &mut Command) {
        match &self.how {
            How::Cgroup { dir, .. } => {
                let procs = CString::new(
                    dir.join("cgroup.procs")
                        .into_os_string()
                        .into_encoded_bytes(),
                )
                .expect("a path has no NUL");
                // Safety: between fork and exec the closure only calls open, write and
                // close, which are async-signal-safe, on memory allocated before fork.
                unsafe {
                    command.pre_exec(move || {
                        let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                        if fd < 0 {
                            return Err(io::Error::last_os_error());
                        }
                        // "0" is the writing process itself.
                        let written = libc::write(fd, b"0".as_ptr().cast(), 1);
                        let error = io::Error::last_os_error();
                        libc::close(fd);
                        if written == 1 {
                            Ok(())
                        } else {
                            Err(error)
                        }
                    });
                }
            }
            How::Uid(uid) => {
                let (uid, max) = (*uid, self.max);
                // Safety: setgroups, setgid, setuid and setrlimit are async-signal-safe
                // system calls on values copied in.
                unsafe {
                    command.pre_exec(move || {
                        set_nproc(max)?;
                        check(libc::setgroups(0, std::ptr::null()))?;
                        check(libc::setgid(uid))?;
                        check(libc::setuid(uid))
                    });
                }
            }
            How::Rlimit(limit) => {
                let limit = *limit;
                // Safety: setrlimit is an async-signal-safe system call.
                unsafe {
                    command.pre_exec(move || set_nproc(limit));
                }
            }
        }
    }

    /// Kills every process left inside and reaps it; returns how many it killed.
    pub fn kill_all(&self) -> usize {
        let killed = match &self.how {
            How::Cgroup { dir, .. } => kill_cgroup(dir, self.max),
            How::Uid(uid) => kill_uid(*uid),
            How::Rlimit(_) => 0,
        };
        // Zombies still count against the cap until they are reaped.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            reap_orphans();
            let left = match &self.how {
                How::Cgroup { dir, .. } => fs::read_to_string(dir.join("pids.current"))
                    .ok()
                    .and_then(|n| n.trim().parse().ok())
                    .unwrap_or(0),
                How::Uid(uid) => threads_of_uid(*uid),
                How::Rlimit(_) => 0,
            };
            if left == 0 || Instant::now() > deadline {
                break;
            }
            thread::sleep(Duration::from_millis(5));
        }
        killed
    }
}

impl Drop for Confinement {
    fn drop(&mut self) {
        self.kill_all();
        if let How::Cgroup { dir, .. } = &self.how {
            let _ = fs::remove_dir(dir);
        }
    }
}

fn check(result: libc::c_int) -> io::Result<()> {
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn set_nproc(limit: u64) -> io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // Safety: a valid rlimit for the calling process.
    check(unsafe { libc::setrlimit(libc::RLIMIT_NPROC, &limit) })
}

fn is_root() -> bool {
    // Safety: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn real_uid() -> u32 {
    // Safety: getuid cannot fail.
    unsafe { libc::getuid() }
}

/// Makes a pids cgroup below ours, v2 first, with `pids.max` = `max`.
fn make_cgroup(max: u64) -> Result<How, String> {
    let ours =
        fs::read_to_string("/proc/self/cgroup").map_err(|e| format!("/proc/self/cgroup: {e}"))?;
    let mounts = fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("/proc/self/mountinfo: {e}"))?;
    static MADE: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "{PREFIX}{}-{}",
        std::process::id(),
        MADE.fetch_add(1, Ordering::Relaxed)
    );
    let mut errors = Vec::new();
    for v2 in [true, false] {
        let Some(parent) = cgroup_dir(&ours, &mounts, v2) else {
            errors.push(format!(
                "no cgroup {} pids hierarchy mounted",
                if v2 { "v2" } else { "v1" }
            ));
            continue;
        };
        remove_stale(&parent);
        let dir = parent.join(&name);
        match make_pids_child(&parent, &dir, v2, max) {
            Ok(()) => return Ok(How::Cgroup { dir, v2 }),
            Err(e) => {
                let _ = fs::remove_dir(&dir);
                errors.push(format!("{}: {e}", dir.display()));
            }
        }
    }
    Err(errors.join("; "))
}

/// The names of our cgroups: `xtask-grade-<pid>-<n>`.
const PREFIX: &str = "xtask-grade-";

/// Removes the empty cgroups that grader runs which were killed left below `parent`.
fn remove_stale(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = fs::remove_dir(entry.path());
        }
    }
}

fn make_pids_child(parent: &Path, dir: &Path, v2: bool, max: u64) -> Result<(), String> {
    if v2 {
        let controllers = fs::read_to_string(parent.join("cgroup.controllers")).unwrap_or_default();
        if !controllers.split_whitespace().any(|c| c == "pids") {
            return Err("the pids controller is not available here".to_owned());
        }
    }
    if !dir.exists() {
        fs::create_dir(dir).map_err(|e| format!("mkdir: {e}"))?;
    }
    if v2 && !dir.join("pids.max").exists() {
        // Enabling it fails (EBUSY) when our own cgroup holds processes and is not the
        // root: cgroup v2 keeps processes in leaves only.
        fs::write(parent.join("cgroup.subtree_control"), "+pids")
            .map_err(|e| format!("enabling pids below {}: {e}", parent.display()))?;
    }
    fs::write(dir.join("pids.max"), max.to_string()).map_err(|e| format!("pids.max: {e}"))
}

/// Our cgroup's directory in the v2 hierarchy, or in the v1 `pids` one.
fn cgroup_dir(ours: &str, mountinfo: &str, v2: bool) -> Option<PathBuf> {
    let path = ours.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (id, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let matches = if v2 {
            id == "0" && controllers.is_empty()
        } else {
            controllers.split(',').any(|c| c == "pids")
        };
        matches.then(|| path.to_owned())
    })?;
    let mount = mountinfo.lines().find_map(|line| {
        // `36 25 0:31 / /sys/fs/cgroup/pids rw,relatime shared:14 - cgroup cgroup rw,pids`
        let (left, right) = line.split_once(" - ")?;
        let mut right = right.split_whitespace();
        let (fstype, _source, options) = (right.next()?, right.next()?, right.next()?);
        let mut left = left.split_whitespace();
        let root = left.nth(3)?;
        let point = left.next()?;
        let wanted = if v2 {
            fstype == "cgroup2"
        } else {
            fstype == "cgroup" && options.split(',').any(|o| o == "pids")
        };
        (wanted && root == "/").then(|| PathBuf::from(point))
    })?;
    Some(mount.join(path.trim_start_matches('/')))
}

/// Kills everything in the cgroup at `dir`: forks are stopped first (pids.max 0), then
/// the members are killed until none is left; `max` is put back.
fn kill_cgroup(dir: &Path, max: u64) -> usize {
    let members = |dir: &Path| -> Vec<i32> {
        fs::read_to_string(dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    };
    if members(dir).is_empty() {
        return 0;
    }
    let _ = fs::write(dir.join("pids.max"), "0");
    let mut killed = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = members(dir);
        if left.is_empty() || Instant::now() > deadline {
            break;
        }
        for pid in left {
            // Safety: kill has no memory effects; the pid is a member of our cgroup.
            if unsafe { libc::kill(pid, libc::SIGKILL) } == 0 {
                killed += 1;
            }
        }
        thread::sleep(Duration::from_millis(10));
    }
    let _ = fs::write(dir.join("pids.max"), max.to_string());
    killed
}

/// Reaps the zombies re-parented to us (we are a subreaper), without blocking.
fn reap_orphans() {
    loop {
        let mut status = 0;
        // Safety: waitpid writes only to `status`. The commands we confine run one at
        // a time and are waited for before this runs, so nothing else of ours is taken.
        if unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) } <= 0 {
            break;
        }
    }
}

/// Kills every live process of `uid` from helpers that take that uid (`kill(-1)` then
/// reaches exactly that uid's processes); returns how many there were.
fn kill_uid(uid: u32) -> usize {
    let found = live_processes_of_uid(uid);
    let deadline = Instant::now() + Duration::from_secs(10);
    while live_processes_of_uid(uid) > 0 && Instant::now() < deadline {
        kill_as(uid);
        thread::sleep(Duration::from_millis(5));
    }
    found
}

/// One `kill(-1, SIGKILL)` as `uid`, from a forked helper.
fn kill_as(uid: u32) {
    // Safety: the child only makes async-signal-safe calls (setgroups, setgid, setuid,
    // kill, _exit) before it leaves through _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // Safety: as above, in the child.
        unsafe {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(uid) != 0
                || libc::setuid(uid) != 0
            {
                libc::_exit(1);
            }
            // -1: every process we may signal, which as `uid` is `uid`'s (not us).
            libc::kill(-1, libc::SIGKILL);
            libc::_exit(0);
        }
    }
    if pid > 0 {
        let mut status = 0;
        // Safety: reaps the helper just forked.
        unsafe { libc::waitpid(pid, &mut status, 0) };
    }
}

/// How many processes of real uid `uid` are alive (not zombies).
fn live_processes_of_uid(uid: u32) -> usize {
    tasks_of_uid(uid)
        .iter()
        .filter(|(_, state)| *state != 'Z')
        .count()
}

/// An uid that no process runs as and no account names.
fn unused_uid() -> Option<u32> {
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    let named: Vec<u32> = passwd
        .lines()
        .filter_map(|l| l.split(':').nth(2)?.parse().ok())
        .collect();
    (61_000..62_000).find(|uid| !named.contains(uid) && threads_of_uid(*uid) == 0)
}

/// How many tasks (threads) run with real uid `uid`: what `RLIMIT_NPROC` counts.
fn threads_of_uid(uid: u32) -> u64 {
    tasks_of_uid(uid).iter().map(|(threads, _)| threads).sum()
}

/// The processes of real uid `uid`: their thread counts and states (`R`, `Z`, ...).
fn tasks_of_uid(uid: u32) -> Vec<(u64, char)> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(status) = fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let field = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        };
        if field("Uid:") == Some(u64::from(uid)) {
            let state = status
                .lines()
                .find_map(|l| l.strip_prefix("State:"))
                .and_then(|v| v.trim().chars().next())
                .unwrap_or('?');
            found.push((field("Threads:").unwrap_or(1), state));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;

    /// The child half of `caps_a_fork_loop`: forks children that pause, until a fork
    /// fails or 500 succeed; prints how many did. Does nothing unless asked to.
    #[test]
    fn fork_loop_helper() {
        if std::env::var_os("XTASK_FORK_LOOP").is_none() {
            return;
        }
        let mut forked = 0;
        for _ in 0..500 {
            // Safety: the child only calls close, alarm, pause and _exit.
            match unsafe { libc::fork() } {
                // Safety: as above, in the child.
                0 => unsafe {
                    // Let the parent's reader see EOF; die by itself if never killed.
                    libc::close(1);
                    libc::close(2);
                    libc::alarm(30);
                    libc::pause();
                    libc::_exit(0)
                },
                pid if pid > 0 => forked += 1,
                _ => break,
            }
        }
        println!("forked {forked}");
    }

    /// What actually binds here, as the grader will use it: a fork loop started
    /// confined stops at the cap, and nothing of it is left after `kill_all`. Every
    /// kind this machine allows is tried (as root: the cgroup and the unused uid).
    #[test]
    fn caps_a_fork_loop() {
        let kinds: &[&str] = if is_root() {
            &["cgroup", "uid"]
        } else {
            &["cgroup", "rlimit"]
        };
        let mut tried = 0;
        for kind in kinds {
            let cap = 24;
            let confine = match Confinement::choose(cap, Some(kind)) {
                Ok(confine) => confine,
                // A machine without a cgroup we may write: the other kind binds.
                Err(e) if *kind == "cgroup" => {
                    eprintln!("{e}");
                    continue;
                }
                Err(e) => panic!("{e}"),
            };
            tried += 1;
            eprintln!("{kind}: {}", confine.describe());
            let forked = fork_loop(&confine);
            assert!(forked > 0, "{kind}: nothing could fork");
            if matches!(confine.how, How::Rlimit(_)) {
                // The children of the loop are ours to kill: the kit would, by group.
                continue;
            }
            assert!(forked < cap, "{kind}: forked {forked}, cap {cap}");
            // The paused children outlived the loop; the confinement kills them.
            assert!(confine.kill_all() > 0, "{kind}: nothing to kill");
            assert_eq!(confine.kill_all(), 0, "{kind}: a second pass finds nothing");
            if let How::Cgroup { dir, .. } = &confine.how {
                let dir = dir.clone();
                drop(confine);
                assert!(!dir.exists(), "the cgroup is removed");
            }
        }
        assert!(tried > 0);
    }

    /// Runs `fork_loop_helper` confined; returns how many children it forked.
    fn fork_loop(confine: &Confinement) -> u64 {
        let exe = std::env::current_exe().unwrap();
        let mut command = Command::new(&exe);
        command
            .args(["--exact", "confine::tests::fork_loop_helper", "--nocapture"])
            .env("XTASK_FORK_LOOP", "1")
            .env("RUST_TEST_THREADS", "1")
            .stdin(Stdio::null());
        confine.apply(&mut command);
        let output = command.output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        // libtest prints `test NAME ... ` first, on the same line.
        stdout
            .split("forked ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no count in {stdout}; stderr: {stderr}"))
    }

    #[test]
    fn finds_cgroup_directories() {
        let ours = "8:pids:/a/b\n4:memory:/m\n0::/user.slice/s\n";
        let mounts = "\
36 25 0:31 / /sys/fs/cgroup/pids rw,relatime shared:14 - cgroup cgroup rw,pids
37 25 0:32 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
        assert_eq!(
            cgroup_dir(ours, mounts, false),
            Some(PathBuf::from("/sys/fs/cgroup/pids/a/b"))
        );
        assert_eq!(
            cgroup_dir(ours, mounts, true),
            Some(PathBuf::from("/sys/fs/cgroup/unified/user.slice/s"))
        );
        assert_eq!(cgroup_dir("0::/\n", "", true), None);
    }
}
