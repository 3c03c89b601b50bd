//! A student's progress, exercise by exercise, from a run of a chapter's tests: what
//! `start` tabulates and `watch` follows.

use std::fs;
use std::time::SystemTime;

use crate::chapters::{self, Chapter};
use crate::tests_run::{by_exercise, student_location, timed_out, Outcome, TestRun};

/// One exercise's tests and how they ended.
#[derive(Clone, Debug)]
pub struct ExerciseStatus {
    /// `ex3`.
    pub exercise: String,
    /// Its tests, in the order the executable lists them.
    pub tests: Vec<(String, Outcome)>,
    /// Those of them that ended by a deadline (a deadlock, most likely).
    pub timed_out: Vec<String>,
}

/// The first failing test of an exercise, as a student should see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The test's name.
    pub test: String,
    /// Its first lines of output that say why.
    pub lines: Vec<String>,
    /// Where in the student's file, when the output says.
    pub location: Option<String>,
    /// Whether it ended by a deadline.
    pub timed_out: bool,
}

impl Failure {
    /// The location, unless the lines shown already say it.
    pub fn location_if_not_shown(&self) -> Option<&str> {
        let location = self.location.as_deref()?;
        (!self.lines.iter().any(|l| l.contains(location))).then_some(location)
    }
}

impl ExerciseStatus {
    /// How many of its tests pass.
    pub fn passing(&self) -> usize {
        self.tests
            .iter()
            .filter(|(_, o)| *o == Outcome::Passed)
            .count()
    }

    /// Whether every test of it passes.
    pub fn done(&self) -> bool {
        !self.tests.is_empty() && self.passing() == self.tests.len()
    }

    /// Whether some tests pass, but not all.
    pub fn partial(&self) -> bool {
        self.passing() > 0 && !self.done()
    }

    /// `3/5 passing`, `3/5 passing, 1 timed out`.
    pub fn cell(&self) -> String {
        let mut cell = format!("{}/{} passing", self.passing(), self.tests.len());
        if !self.timed_out.is_empty() {
            cell.push_str(&format!(", {} timed out", self.timed_out.len()));
        }
        cell
    }

    /// The first test that does not pass, with the first `lines` lines of its output.
    pub fn first_failure(&self, lines: usize) -> Option<Failure> {
        let (test, outcome) = self.tests.iter().find(|(_, o)| *o != Outcome::Passed)?;
        let is_timeout = self.timed_out.contains(test);
        let (text, location) = match outcome {
            Outcome::Failed(output) => (first_lines(output, lines), student_location(output)),
            Outcome::NoResult if is_timeout => (
                vec!["still running at the time limit: killed (a deadlock?)".to_owned()],
                None,
            ),
            Outcome::NoResult => (vec!["never finished (a crash?)".to_owned()], None),
            Outcome::Ignored => (vec!["ignored".to_owned()], None),
            Outcome::Passed => unreachable!("found a test that did not pass"),
        };
        Some(Failure {
            test: test.clone(),
            lines: text,
            location,
            timed_out: is_timeout,
        })
    }
}

/// The first `n` lines of a failure that say why: its panic message first (libtest's
/// `thread '...' panicked at` line, its backtrace note and blank lines left out), each
/// cut at 160 characters.
pub fn first_lines(output: &str, n: usize) -> Vec<String> {
    output
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .filter(|l| !(l.starts_with("thread '") && l.contains("panicked at")))
        .filter(|l| !l.starts_with("note: run with `RUST_BACKTRACE"))
        .take(n)
        .map(|line| {
            let mut cut: String = line.chars().take(160).collect();
            if cut.len() < line.len() {
                cut.push('…');
            }
            cut
        })
        .collect()
}

/// The graded exercises of `chapter` from a run of its tests, in exercise order.
pub fn statuses(run: &TestRun) -> Vec<ExerciseStatus> {
    let names = run.tests.iter().map(|(name, _)| name.as_str());
    by_exercise(names)
        .into_iter()
        .filter_map(|(exercise, names)| {
            let exercise = exercise?;
            let tests: Vec<(String, Outcome)> = run
                .tests
                .iter()
                .filter(|(name, _)| names.contains(name))
                .cloned()
                .collect();
            let timed_out = tests
                .iter()
                .filter(|(name, outcome)| timed_out(run, name, outcome))
                .map(|(name, _)| name.clone())
                .collect();
            Some(ExerciseStatus {
                exercise,
                tests,
                timed_out,
            })
        })
        .collect()
}

/// The chapter the student is working on, from the chapters in order:
/// 1. the chapter of the file under `chapters/*/src` saved last, if it was saved after
///    the checkout (later than the oldest such file by more than a minute) and that
///    chapter has exercises left;
/// 2. else the first chapter with some exercise partly done (some tests pass);
/// 3. else the first chapter with an exercise left.
///
/// `progress` holds each chapter's statuses; a chapter missing from it counts as
/// having exercises left.
pub fn working_chapter<'a>(
    chapters: &'a [&'a Chapter],
    progress: &[(String, Vec<ExerciseStatus>)],
) -> Option<(&'a Chapter, &'static str)> {
    let unfinished = |c: &Chapter| {
        progress
            .iter()
            .find(|(name, _)| *name == c.name)
            .is_none_or(|(_, s)| s.is_empty() || s.iter().any(|e| !e.done()))
    };
    let partial = |c: &Chapter| {
        progress
            .iter()
            .any(|(name, s)| *name == c.name && s.iter().any(ExerciseStatus::partial))
    };
    if let Some(edited) = last_edited(chapters) {
        if let Some(chapter) = chapters.iter().find(|c| c.name == edited) {
            if unfinished(chapter) {
                return Some((chapter, "the chapter of the file you saved last"));
            }
        }
    }
    if let Some(chapter) = chapters.iter().find(|c| partial(c)) {
        return Some((chapter, "the first chapter with an exercise partly done"));
    }
    let first = chapters.iter().find(|c| unfinished(c))?;
    Some((first, "the first chapter with exercises left"))
}

/// The chapter whose `src` holds the file saved last, if it was saved later than the
/// checkout (a minute after the oldest file there).
pub fn last_edited(chapters: &[&Chapter]) -> Option<String> {
    let mut oldest: Option<SystemTime> = None;
    let mut newest: Option<(SystemTime, String)> = None;
    for chapter in chapters {
        let mut files = Vec::new();
        chapters::rust_files(&chapter.skeleton.join("src"), &mut files);
        for file in files {
            let Ok(modified) = fs::metadata(&file).and_then(|m| m.modified()) else {
                continue;
            };
            oldest = Some(oldest.map_or(modified, |o| o.min(modified)));
            if newest.as_ref().is_none_or(|(n, _)| modified > *n) {
                newest = Some((modified, chapter.name.clone()));
            }
        }
    }
    let (newest, chapter) = newest?;
    let after_checkout = newest
        .duration_since(oldest?)
        .is_ok_and(|d| d.as_secs() > 60);
    after_checkout.then_some(chapter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn run(tests: &[(&str, Outcome)], timed_out: &[&str]) -> TestRun {
        TestRun {
            tests: tests
                .iter()
                .map(|(n, o)| (n.to_string(), o.clone()))
                .collect(),
            timed_out: timed_out.iter().map(|t| t.to_string()).collect(),
            killed: false,
            status: None,
            log: PathBuf::new(),
        }
    }

    const DEADLOCK: &str = "\
thread 'ex2_b' panicked at kit/src/testkit/isolate.rs:124:13:
ex2_b: no result within 5s. A deadlock, or a wait that never ends?
--- what the exercise's processes wrote to stderr ---
at chapters/ch05_sync/src/lock.rs:56:9";

    #[test]
    fn shows_timeouts_and_the_first_failure() {
        let run = run(
            &[
                ("ex1_a", Outcome::Passed),
                ("given_x", Outcome::Passed),
                ("ex2_a", Outcome::Passed),
                ("ex2_b", Outcome::Failed(DEADLOCK.into())),
                ("ex2_c", Outcome::NoResult),
                ("ex3_a", Outcome::Failed("not yet implemented: x".into())),
            ],
            &["ex2_c"],
        );
        let statuses = statuses(&run);
        let cells: Vec<String> = statuses.iter().map(ExerciseStatus::cell).collect();
        assert_eq!(
            cells,
            ["1/1 passing", "1/3 passing, 2 timed out", "0/1 passing"]
        );
        assert!(statuses[0].done() && statuses[1].partial() && !statuses[2].partial());
        let failure = statuses[1].first_failure(3).unwrap();
        assert_eq!(failure.test, "ex2_b");
        assert!(failure.timed_out || failure.lines[0].contains("no result within"));
        assert_eq!(
            failure.lines,
            [
                "ex2_b: no result within 5s. A deadlock, or a wait that never ends?",
                "--- what the exercise's processes wrote to stderr ---",
                "at chapters/ch05_sync/src/lock.rs:56:9"
            ]
        );
        assert_eq!(
            failure.location.as_deref(),
            Some("chapters/ch05_sync/src/lock.rs:56")
        );
        assert_eq!(
            failure.location_if_not_shown(),
            None,
            "the third line says it"
        );
        let two = statuses[1].first_failure(2).unwrap();
        assert_eq!(
            two.location_if_not_shown(),
            Some("chapters/ch05_sync/src/lock.rs:56")
        );
    }

    #[test]
    fn the_working_chapter() {
        let root = std::env::temp_dir().join(format!("xtask-working-{}", std::process::id()));
        let chapter = |name: &str| {
            let skeleton = root.join("chapters").join(name);
            fs::create_dir_all(skeleton.join("src")).unwrap();
            fs::write(skeleton.join("src/lib.rs"), "").unwrap();
            Chapter {
                name: name.to_owned(),
                solution: root.join("solutions").join(name),
                tests: root.join("tests").join(format!("{name}.rs")),
                page: root.join("book/src").join(format!("{name}.md")),
                skeleton,
            }
        };
        let (a, b, c) = (chapter("ch01_a"), chapter("ch02_b"), chapter("ch03_c"));
        let all = [&a, &b, &c];
        let status = |outcomes: &[Outcome]| ExerciseStatus {
            exercise: "ex1".to_owned(),
            tests: outcomes
                .iter()
                .enumerate()
                .map(|(i, o)| (format!("ex1_{i}"), o.clone()))
                .collect(),
            timed_out: Vec::new(),
        };
        let failed = || Outcome::Failed(String::new());
        let mut progress = vec![
            ("ch01_a".to_owned(), vec![status(&[failed()])]),
            ("ch02_b".to_owned(), vec![status(&[failed()])]),
            ("ch03_c".to_owned(), vec![status(&[failed()])]),
        ];
        // A fresh checkout, nothing done: the first chapter.
        assert_eq!(working_chapter(&all, &progress).unwrap().0.name, "ch01_a");
        // Some of chapter 3 passes: there.
        progress[2].1 = vec![status(&[Outcome::Passed, failed()])];
        assert_eq!(working_chapter(&all, &progress).unwrap().0.name, "ch03_c");
        // Chapter 2's file saved after the checkout: there.
        let later = SystemTime::now() + std::time::Duration::from_secs(600);
        let file = fs::File::options()
            .write(true)
            .open(b.skeleton.join("src/lib.rs"))
            .unwrap();
        file.set_modified(later).unwrap();
        assert_eq!(working_chapter(&all, &progress).unwrap().0.name, "ch02_b");
        // ... unless chapter 2 is done.
        progress[1].1 = vec![status(&[Outcome::Passed])];
        assert_eq!(working_chapter(&all, &progress).unwrap().0.name, "ch03_c");
        fs::remove_dir_all(&root).unwrap();
    }
}
