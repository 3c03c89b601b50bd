//! Runs one libtest executable under a wall-clock limit and reads its human output.
//!
//! libtest's JSON output is unstable (nightly only), so this reads the lines it prints
//! for people: `test NAME ... ok` and the `---- NAME stdout ----` failure sections.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use regex::Regex;

use crate::confine::Confinement;

/// How one test ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `ok`.
    Passed,
    /// `FAILED`, with the test's captured output (its panic message among it).
    Failed(String),
    /// `ignored`.
    Ignored,
    /// Listed, but the run never reported it: the executable crashed or was killed.
    NoResult,
}

/// The results of one run of a test executable.
pub struct TestRun {
    /// Every test the executable lists, with its outcome, in listing order.
    pub tests: Vec<(String, Outcome)>,
    /// The tests that were running when the wall-clock limit killed the executable.
    pub timed_out: Vec<String>,
    /// Whether the limit killed the executable in the last round, so that the output
    /// of the failures it had seen is lost (libtest prints it at the end).
    pub killed: bool,
    /// How the executable ended the last time, unless it was killed.
    pub status: Option<ExitStatus>,
    /// Where its whole output was written.
    pub log: PathBuf,
}

impl TestRun {
    /// Why the executable as a whole went wrong, if it did in a way that a test's
    /// outcome does not already tell (a crash, an abort, the time limit).
    pub fn trouble(&self) -> Option<String> {
        if self.killed && self.timed_out.is_empty() {
            return Some("killed at the time limit, between tests".to_owned());
        }
        let lost = self
            .tests
            .iter()
            .filter(|(name, o)| *o == Outcome::NoResult && !self.timed_out.contains(name))
            .count();
        if lost > 0 {
            let how = match (self.killed, self.status) {
                (true, _) => "was killed at the time limit again and again".to_owned(),
                (false, Some(status)) => format!("ended with {status}"),
                (false, None) => "ended in an unknown way".to_owned(),
            };
            return Some(format!(
                "{lost} test(s) never reported: the executable {how}"
            ));
        }
        None
    }
}

/// How to run a test executable.
pub struct RunSpec<'a> {
    /// The executable.
    pub exe: &'a Path,
    /// The directory `cargo test` would run it in: its package's root.
    pub package_dir: &'a Path,
    /// Extra environment.
    pub env: Vec<(String, String)>,
    /// Where to write its output.
    pub log: PathBuf,
    /// The wall-clock limit of one run of the executable.
    pub timeout: Duration,
    /// The wall-clock limit of one test: a test still running after it is killed with
    /// the executable, like one at `timeout`. `None`: only `timeout` applies.
    pub per_test: Option<Duration>,
    /// Run only the tests of this exercise (`ex3`); `None`: every test.
    pub exercise: Option<String>,
    /// Confines the executable and what it starts (`cargo xtask grade`): it is applied
    /// to the command, and whatever is left inside is killed after each run.
    pub confine: Option<&'a Confinement>,
    /// How many times the executable may be run again after a test hangs.
    pub rounds: usize,
}

/// After a test hangs, the tests it kept from running get this many more rounds
/// (unless the caller says otherwise).
pub const ROUNDS: usize = 3;

/// Lists the tests of `spec.exe`, then runs them one at a time. When the time limit
/// kills the executable, the tests it had not finished run again in another round,
/// without the one that hung.
pub fn run(spec: &RunSpec<'_>) -> Result<TestRun, String> {
    let mut listed = list(spec)?;
    if let Some(exercise) = &spec.exercise {
        listed.retain(|name| exercise_of(name).as_ref() == Some(exercise));
        if listed.is_empty() {
            return Err(format!("no test of {exercise} in {}", spec.exe.display()));
        }
    }
    if let Some(dir) = spec.log.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    File::create(&spec.log).map_err(|e| format!("creating {}: {e}", spec.log.display()))?;
    let mut results: BTreeMap<String, Outcome> = BTreeMap::new();
    let mut timed_out = Vec::new();
    let mut filter: Option<Vec<String>> = spec.exercise.as_ref().map(|_| listed.clone());
    let mut last = (None, false);
    for _ in 0..=spec.rounds {
        let (status, killed, output) = run_once(spec, filter.as_deref())?;
        last = (status, killed);
        let parsed = parse(&output);
        if !killed {
            results.extend(parsed.results);
            break;
        }
        for (name, outcome) in parsed.results {
            // A failure whose output the kill swallowed is better run again.
            if !matches!(&outcome, Outcome::Failed(text) if text.is_empty()) {
                results.insert(name, outcome);
            }
        }
        let Some(hung) = parsed.unfinished else {
            break;
        };
        timed_out.push(hung);
        let rest: Vec<String> = listed
            .iter()
            .filter(|name| !results.contains_key(*name) && !timed_out.contains(name))
            .cloned()
            .collect();
        if rest.is_empty() {
            last.1 = false;
            break;
        }
        filter = Some(rest);
    }
    let tests = listed
        .into_iter()
        .map(|name| {
            let outcome = results.remove(&name).unwrap_or(Outcome::NoResult);
            (name, outcome)
        })
        .collect();
    Ok(TestRun {
        tests,
        timed_out,
        killed: last.1,
        status: last.0,
        log: spec.log.clone(),
    })
}

/// Runs the executable once, on the tests named in `only` (all when `None`), with its
/// output appended to the log; returns how it ended, whether it was killed, and the
/// output.
fn run_once(
    spec: &RunSpec<'_>,
    only: Option<&[String]>,
) -> Result<(Option<ExitStatus>, bool, String), String> {
    let mut log = OpenOptions::new()
        .append(true)
        .open(&spec.log)
        .map_err(|e| format!("opening {}: {e}", spec.log.display()))?;
    let start = log
        .metadata()
        .map_err(|e| format!("{}: {e}", spec.log.display()))?
        .len();
    if let (Some(only), true) = (only, start > 0) {
        let _ = writeln!(
            log,
            "\n== xtask: killed at the time limit; running the {} unfinished test(s) again\n",
            only.len()
        );
    }
    // A file, not a pipe: processes the tests fork may keep a pipe open long after the
    // executable ended, and a file never fills up and blocks the writer.
    let log_err = log.try_clone().map_err(|e| format!("{e}"))?;
    let mut command = command(spec);
    command.args(["--test-threads=1", "--format=pretty", "--color=never"]);
    if let Some(only) = only {
        command.arg("--exact").args(only);
    }
    if let Some(confine) = spec.confine {
        confine.apply(&mut command);
    }
    let mut child = command
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err))
        .spawn()
        .map_err(|e| format!("running {}: {e}", spec.exe.display()))?;
    let deadline = Instant::now() + spec.timeout;
    let mut watch = TestWatch::default();
    let mut polls = 0u32;
    let ended = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok((Some(status), false)),
            Ok(None) => {}
            Err(e) => break Err(format!("waiting for {}: {e}", spec.exe.display())),
        }
        // The log is read every 200 ms: a hung test costs at most that much more.
        polls += 1;
        let test_overran = spec.per_test.is_some_and(|limit| {
            polls.is_multiple_of(4)
                && watch.running_longer_than(&read_from(&spec.log, start), limit)
        });
        if Instant::now() >= deadline || test_overran {
            // The kit puts exercise processes in groups of their own with deadlines
            // and death signals; killing the executable itself is enough here (a
            // confinement kills the rest below).
            let _ = child.kill();
            let _ = child.wait();
            break Ok((None, true));
        }
        thread::sleep(Duration::from_millis(50));
    };
    if let Some(confine) = spec.confine {
        confine.kill_all();
    }
    let (status, killed) = ended?;
    Ok((status, killed, read_from(&spec.log, start)))
}

/// The log from byte `start` on (what one run wrote), or nothing if it cannot be read.
fn read_from(log: &Path, start: u64) -> String {
    let output = fs::read(log).unwrap_or_default();
    let from = usize::try_from(start).unwrap_or(0).min(output.len());
    String::from_utf8_lossy(&output[from..]).into_owned()
}

/// Which test is running, and since when, from the output so far.
#[derive(Default)]
struct TestWatch {
    running: Option<(String, Instant)>,
}

impl TestWatch {
    /// Whether the test that `output` shows running has been running longer than `limit`.
    fn running_longer_than(&mut self, output: &str, limit: Duration) -> bool {
        match parse(output).unfinished {
            None => {
                self.running = None;
                false
            }
            Some(name) => match &self.running {
                Some((same, since)) if *same == name => since.elapsed() > limit,
                _ => {
                    self.running = Some((name, Instant::now()));
                    false
                }
            },
        }
    }
}

fn command(spec: &RunSpec<'_>) -> Command {
    let mut command = Command::new(spec.exe);
    command.current_dir(spec.package_dir).stdin(Stdio::null());
    // We run under `cargo run`, which told us about the xtask package; the tests must
    // see their own package, as under `cargo test`.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_BIN_")
            || key == "CARGO_CRATE_NAME"
            || key == "CARGO_PRIMARY_PACKAGE"
            || key.starts_with("INSTA_")
        {
            command.env_remove(key.as_ref());
        }
    }
    command
        .env("CARGO_MANIFEST_DIR", spec.package_dir)
        .env("CARGO_MANIFEST_PATH", spec.package_dir.join("Cargo.toml"))
        .env("RUST_TEST_THREADS", "1")
        .env("RUST_BACKTRACE", "0");
    for (key, value) in &spec.env {
        command.env(key, value);
    }
    command
}

/// The tests an executable holds, from `--list`.
fn list(spec: &RunSpec<'_>) -> Result<Vec<String>, String> {
    let output = command(spec)
        .args(["--list", "--format=terse"])
        .output()
        .map_err(|e| format!("running {} --list: {e}", spec.exe.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} --list failed ({}): {}",
            spec.exe.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.strip_suffix(": test"))
        .map(str::to_owned)
        .collect())
}

/// What the human output of a run says.
#[derive(Default)]
struct Parsed {
    results: BTreeMap<String, Outcome>,
    /// A test whose `test NAME ... ` line has no outcome yet.
    unfinished: Option<String>,
}

fn parse(output: &str) -> Parsed {
    let result_line = Regex::new(r"^test (\S+) \.\.\. (.*)$").expect("valid regex");
    let section = Regex::new(r"^---- (\S+) stdout ----$").expect("valid regex");
    let mut parsed = Parsed::default();
    let mut failures: BTreeMap<String, String> = BTreeMap::new();
    let mut in_section: Option<String> = None;
    let outcome_of = |text: &str| match text.trim() {
        "ok" => Some(Outcome::Passed),
        "FAILED" => Some(Outcome::Failed(String::new())),
        t if t.starts_with("ignored") => Some(Outcome::Ignored),
        _ => None,
    };
    for line in output.lines() {
        if let Some(caps) = section.captures(line) {
            in_section = Some(caps[1].to_owned());
            failures.entry(caps[1].to_owned()).or_default();
            continue;
        }
        if let Some(name) = &in_section {
            // The sections end where libtest lists the failed tests' names again.
            if line == "failures:" {
                in_section = None;
            } else {
                let text = failures.entry(name.clone()).or_default();
                text.push_str(line);
                text.push('\n');
            }
            continue;
        }
        if let Some(caps) = result_line.captures(line) {
            let name = caps[1].to_owned();
            match outcome_of(&caps[2]) {
                Some(outcome) => {
                    parsed.results.insert(name, outcome);
                    parsed.unfinished = None;
                }
                // Something the test (or a process it forked) wrote to the real stdout
                // came between the name and the outcome.
                None => parsed.unfinished = Some(name),
            }
            continue;
        }
        if let Some(name) = parsed.unfinished.clone() {
            if let Some(outcome) = outcome_of(line) {
                parsed.results.insert(name, outcome);
                parsed.unfinished = None;
            }
        }
    }
    for (name, text) in failures {
        let outcome = parsed
            .results
            .entry(name)
            .or_insert(Outcome::Failed(String::new()));
        if let Outcome::Failed(output) = outcome {
            *output = text.trim().to_owned();
        }
    }
    parsed
}

/// The exercise a test grades (`ex2` for `ex2_join_waits` and `ex2_name::case_1`), or
/// `None` for an ungraded test.
pub fn exercise_of(test: &str) -> Option<String> {
    let graded = Regex::new(r"^(ex\d+)(?:_|::|$)").expect("valid regex");
    graded.captures(test).map(|caps| caps[1].to_owned())
}

/// The first line of a failure that says why: the panic message, not libtest's
/// `thread '...' panicked at` line.
pub fn reason(output: &str) -> String {
    let mut lines = output.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut first = lines.next().unwrap_or("no output");
    if first.starts_with("thread '") && first.contains("panicked at") {
        first = lines.next().unwrap_or(first);
    }
    let mut reason: String = first.chars().take(160).collect();
    if reason.len() < first.len() {
        reason.push('…');
    }
    reason
}

/// The environment of a run against code whose tests are expected to fail (skeletons,
/// a student's work): such a run must write nothing in the tree, and would. A failing
/// snapshot assertion leaves a `.snap.new`, and a failing proptest appends its seed to
/// `tests/<file>.proptest-regressions`, which is committed and meant for real bugs.
pub fn failing_env() -> Vec<(String, String)> {
    vec![
        ("INSTA_UPDATE".to_owned(), "no".to_owned()),
        (
            "PROPTEST_DISABLE_FAILURE_PERSISTENCE".to_owned(),
            "1".to_owned(),
        ),
    ]
}

/// A chapter's test executable, run or not.
pub enum ChapterRun {
    /// There is no executable: the test file is missing or did not compile.
    NotBuilt,
    /// The executable could not be listed or started.
    Broken(String),
    /// It ran.
    Ran(TestRun),
}

impl ChapterRun {
    /// The run, if there was one.
    pub fn tests(&self) -> &[(String, Outcome)] {
        match self {
            ChapterRun::Ran(run) => &run.tests,
            _ => &[],
        }
    }
}

/// Runs the test target named `chapter` that `build` produced, writing its output to
/// `<log_dir>/<chapter>.<label>.log`.
pub fn run_chapter(
    build: &crate::cargo::Build,
    chapter: &str,
    label: &str,
    log_dir: &Path,
    env: Vec<(String, String)>,
    timeout: Duration,
) -> ChapterRun {
    let options = RunOptions {
        env,
        timeout,
        per_test: None,
        exercise: None,
        confine: None,
        rounds: ROUNDS,
    };
    run_chapter_with(build, chapter, label, log_dir, options)
}

/// How [`run_chapter_with`] runs a chapter's tests (see [`RunSpec`]).
pub struct RunOptions<'a> {
    /// Extra environment.
    pub env: Vec<(String, String)>,
    /// The wall-clock limit of one run of the executable.
    pub timeout: Duration,
    /// The wall-clock limit of one test.
    pub per_test: Option<Duration>,
    /// Only the tests of this exercise (`ex3`).
    pub exercise: Option<String>,
    /// The confinement of the executable and its processes.
    pub confine: Option<&'a Confinement>,
    /// Runs again after a hung test ([`ROUNDS`] unless every test must get its turn).
    pub rounds: usize,
}

/// [`run_chapter`] with every option.
pub fn run_chapter_with(
    build: &crate::cargo::Build,
    chapter: &str,
    label: &str,
    log_dir: &Path,
    options: RunOptions<'_>,
) -> ChapterRun {
    let Some(exe) = build.tests.get(chapter) else {
        return ChapterRun::NotBuilt;
    };
    let package_dir = exe.manifest.parent().unwrap_or(Path::new("."));
    let spec = RunSpec {
        exe: &exe.path,
        package_dir,
        env: options.env,
        log: log_dir.join(format!("{chapter}.{label}.log")),
        timeout: options.timeout,
        per_test: options.per_test,
        exercise: options.exercise,
        confine: options.confine,
        rounds: options.rounds,
    };
    match run(&spec) {
        Ok(run) => ChapterRun::Ran(run),
        Err(message) => ChapterRun::Broken(message),
    }
}

/// The tests of the chapter's executable that `build` produced, from `--list`.
pub fn list_chapter(build: &crate::cargo::Build, chapter: &str) -> Result<Vec<String>, String> {
    let exe = build
        .tests
        .get(chapter)
        .ok_or_else(|| format!("the tests of {chapter} were not built"))?;
    list(&RunSpec {
        exe: &exe.path,
        package_dir: exe.manifest.parent().unwrap_or(Path::new(".")),
        env: Vec::new(),
        log: PathBuf::new(),
        timeout: Duration::ZERO,
        per_test: None,
        exercise: None,
        confine: None,
        rounds: 0,
    })
}

/// What the kit says when an exercise missed its deadline (`mpkit::testkit`:
/// `isolated`, `reap`); a unit test below keeps these in step with the kit's source.
const KIT_TIMEOUT_PHRASES: [&str; 3] = [
    "no result within",
    "an earlier call of this test timed out",
    "still running after",
];

/// Whether `test` of `run` ended by a deadline: the kit's (a failure that says so) or
/// the runner's (killed while it ran).
pub fn timed_out(run: &TestRun, test: &str, outcome: &Outcome) -> bool {
    run.timed_out.iter().any(|t| t == test)
        || matches!(outcome, Outcome::Failed(text)
            if KIT_TIMEOUT_PHRASES.iter().any(|phrase| text.contains(phrase)))
}

/// The first place in the student's crates (`chapters/.../*.rs:LINE`) that a failure's
/// output names, e.g. where a `todo!()` or an assertion in their code panicked.
pub fn student_location(output: &str) -> Option<String> {
    let place =
        Regex::new(r"(chapters/ch\d\d_[a-z0-9_]+/src/[\w/.-]+\.rs):(\d+)").expect("valid regex");
    let caps = place.captures(output)?;
    Some(format!("{}:{}", &caps[1], &caps[2]))
}

/// Test names grouped by exercise (`ex1`, `ex2`, ... `ex10`, in number order), and the
/// ungraded ones under `None`, last.
pub fn by_exercise<'a>(
    names: impl IntoIterator<Item = &'a str>,
) -> Vec<(Option<String>, Vec<String>)> {
    let mut groups: BTreeMap<(u32, Option<String>), Vec<String>> = BTreeMap::new();
    for name in names {
        let exercise = exercise_of(name);
        let number = exercise
            .as_deref()
            .and_then(|e| e[2..].parse().ok())
            .unwrap_or(u32::MAX);
        let group = groups.entry((number, exercise)).or_default();
        if !group.iter().any(|n| n == name) {
            group.push(name.to_owned());
        }
    }
    groups
        .into_iter()
        .map(|((_, exercise), names)| (exercise, names))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_outcomes_and_failure_sections() {
        let output = "\
running 4 tests
test ex1_a ... ok
test ex1_b::case_1_x ... FAILED
test ex2_c ... [Process-1]: hello
ok
test other ... ignored, slow

failures:

---- ex1_b::case_1_x stdout ----

thread 'ex1_b::case_1_x' panicked at tests/ch01.rs:3:5:
ex1_b: the exercise panicked: not yet implemented: ex1
note: run with `RUST_BACKTRACE=1`


failures:
    ex1_b::case_1_x

test result: FAILED. 2 passed; 1 failed; 1 ignored
";
        let parsed = parse(output);
        assert_eq!(parsed.results["ex1_a"], Outcome::Passed);
        assert_eq!(parsed.results["ex2_c"], Outcome::Passed);
        assert_eq!(parsed.results["other"], Outcome::Ignored);
        let Outcome::Failed(text) = &parsed.results["ex1_b::case_1_x"] else {
            panic!("not failed");
        };
        assert!(text.contains("not yet implemented"));
        assert_eq!(
            reason(text),
            "ex1_b: the exercise panicked: not yet implemented: ex1"
        );
        assert_eq!(parsed.unfinished, None);
    }

    #[test]
    fn names_the_test_still_running() {
        let parsed = parse("running 2 tests\ntest ex1_a ... ok\ntest ex1_hangs ... ");
        assert_eq!(parsed.unfinished.as_deref(), Some("ex1_hangs"));
    }

    #[test]
    fn knows_the_kits_timeout_messages() {
        // The kit's own wording: if it changes, timeouts would pass for plain failures.
        let kit = crate::chapters::workspace_root().join("kit/src/testkit");
        let mut source = String::new();
        for file in ["isolate.rs", "mod.rs"] {
            source += &fs::read_to_string(kit.join(file)).unwrap();
        }
        for phrase in KIT_TIMEOUT_PHRASES {
            assert!(source.contains(phrase), "the kit no longer says `{phrase}`");
        }
        let run = TestRun {
            tests: Vec::new(),
            timed_out: vec!["ex2_killed".into()],
            killed: false,
            status: None,
            log: PathBuf::new(),
        };
        let failed = |text: &str| Outcome::Failed(text.to_owned());
        assert!(timed_out(&run, "ex2_killed", &Outcome::NoResult));
        assert!(timed_out(
            &run,
            "ex1_a",
            &failed("ex1_a: no result within 5s. A deadlock")
        ));
        assert!(!timed_out(&run, "ex1_a", &failed("not yet implemented")));
    }

    #[test]
    fn finds_the_students_line() {
        let output = "ex1: not yet implemented: x\n  at chapters/ch05_sync/src/lock.rs:56:9\n";
        assert_eq!(
            student_location(output).as_deref(),
            Some("chapters/ch05_sync/src/lock.rs:56")
        );
        assert_eq!(student_location("panicked at tests/ch05_sync.rs:3:1"), None);
    }

    #[test]
    fn a_test_running_too_long_is_seen() {
        let mut watch = TestWatch::default();
        let limit = Duration::from_millis(30);
        let running = "running 2 tests\ntest ex1_a ... ok\ntest ex1_b ... ";
        assert!(!watch.running_longer_than(running, limit));
        thread::sleep(Duration::from_millis(40));
        assert!(watch.running_longer_than(running, limit));
        let next = format!("{running}ok\ntest ex1_c ... ");
        assert!(
            !watch.running_longer_than(&next, limit),
            "a new test, a new clock"
        );
        assert!(!watch.running_longer_than(&format!("{next}ok\n"), limit));
    }

    #[test]
    fn exercise_ids() {
        assert_eq!(exercise_of("ex1_name::case_1_main").as_deref(), Some("ex1"));
        assert_eq!(exercise_of("ex12_x").as_deref(), Some("ex12"));
        assert_eq!(exercise_of("given_enter_child"), None);
        assert_eq!(exercise_of("example_x"), None);
    }
}
