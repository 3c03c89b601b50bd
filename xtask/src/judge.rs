//! What each test's outcome means for a check: against a solution every test must
//! pass; against a skeleton every graded test must fail by a `todo!()`.

use crate::chapters::Chapter;
use crate::table::indent;
use crate::tests_run::{self, by_exercise, reason, ChapterRun, Outcome};

/// What a skeleton's failure output must contain: the text of a `todo!()` panic.
pub const TODO: &str = "not yet implemented";

/// Problems, one line each.
#[derive(Default)]
pub struct Problems(pub Vec<String>);

impl Problems {
    pub fn add(&mut self, problem: String) {
        self.0.push(problem);
    }

    pub fn extend(&mut self, other: Problems) {
        self.0.extend(other.0);
    }

    pub fn print_indented(&self, limit: usize) {
        for problem in self.0.iter().take(limit) {
            println!("{}", indent(problem, "    "));
        }
        if self.0.len() > limit {
            println!("    ... and {} more", self.0.len() - limit);
        }
    }
}

/// Every test must pass against the solution. `name` is a test target: a chapter's,
/// which must hold graded tests, or another one such as the kit's.
pub fn judge_solution(name: &str, is_chapter: bool, run: &ChapterRun, found: &mut Problems) {
    let run = match run {
        ChapterRun::NotBuilt => {
            found.add(format!(
                "{name}: the tests did not build against solutions/"
            ));
            return;
        }
        ChapterRun::Broken(e) => {
            found.add(format!("{name}: solutions: {e}"));
            return;
        }
        ChapterRun::Ran(run) => run,
    };
    if let Some(trouble) = run.trouble() {
        found.add(format!("{name}: solutions: {trouble}"));
    }
    let graded = run
        .tests
        .iter()
        .any(|(t, _)| tests_run::exercise_of(t).is_some());
    if run.tests.is_empty() {
        found.add(format!("{name}: tests/{name}.rs holds no tests"));
    } else if is_chapter && !graded {
        found.add(format!(
            "{name}: tests/{name}.rs holds no graded test (ex1_...)"
        ));
    }
    for (test, outcome) in &run.tests {
        let why = match outcome {
            Outcome::Passed => continue,
            Outcome::NoResult if run.timed_out.contains(test) => TIMED_OUT.to_owned(),
            Outcome::Failed(output) if output.is_empty() && run.killed => LOST.to_owned(),
            Outcome::Failed(output) => format!("fails: {}", reason(output)),
            Outcome::Ignored => "is ignored".to_owned(),
            Outcome::NoResult => "never finished".to_owned(),
        };
        found.add(format!("{name}: solutions: {test} {why}"));
    }
}

/// Every graded test must fail against the skeleton, by a `todo!()`.
pub fn judge_skeleton(chapter: &Chapter, run: &ChapterRun, found: &mut Problems) {
    let name = &chapter.name;
    let run = match run {
        ChapterRun::NotBuilt if chapter.tests.exists() => {
            found.add(format!(
                "{name}: the tests did not build against chapters/ (a compile error, not a todo!())"
            ));
            return;
        }
        ChapterRun::NotBuilt => return,
        ChapterRun::Broken(e) => {
            found.add(format!("{name}: skeleton: {e}"));
            return;
        }
        ChapterRun::Ran(run) => run,
    };
    if let Some(trouble) = run.trouble() {
        found.add(format!("{name}: skeleton: {trouble}"));
    }
    let names = run.tests.iter().map(|(test, _)| test.as_str());
    for (exercise, tests) in by_exercise(names) {
        let Some(exercise) = exercise else {
            continue;
        };
        let passing: Vec<&String> = tests
            .iter()
            .filter(|t| {
                run.tests
                    .iter()
                    .any(|(n, o)| n == *t && *o == Outcome::Passed)
            })
            .collect();
        if !passing.is_empty() {
            let shown: Vec<&str> = passing.iter().take(3).map(|t| t.as_str()).collect();
            let more = if passing.len() > 3 { ", ..." } else { "" };
            found.add(format!(
                "{name}: skeleton: {exercise}: {} of {} graded tests pass (an accidental pass, \
                 or no todo!() left): {}{more}",
                passing.len(),
                tests.len(),
                shown.join(", ")
            ));
        }
    }
    for (test, outcome) in &run.tests {
        if tests_run::exercise_of(test).is_none() {
            continue;
        }
        let why = match outcome {
            Outcome::Failed(output) if output.contains(TODO) => continue,
            Outcome::Passed => continue,
            Outcome::NoResult if run.timed_out.contains(test) => TIMED_OUT.to_owned(),
            Outcome::Failed(output) if output.is_empty() && run.killed => LOST.to_owned(),
            Outcome::Failed(output) => {
                format!(
                    "fails for another reason than a todo!(): {}",
                    reason(output)
                )
            }
            Outcome::Ignored => "is ignored".to_owned(),
            Outcome::NoResult => "never finished (a crash or the time limit)".to_owned(),
        };
        found.add(format!("{name}: skeleton: {test} {why}"));
    }
}

const TIMED_OUT: &str = "was still running at the time limit (--timeout) and was killed";

/// libtest prints failures' output at the end, which a killed executable never reaches.
const LOST: &str = "failed; why is unknown: libtest prints failures at the end, and the \
                    executable was killed before";
