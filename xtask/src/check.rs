//! `cargo xtask check`: everything a change to the workbook must keep true.

use std::fs;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::cargo::{self, print_errors, target_dir, test_build, Build};
use crate::chapters::{self, relative, Chapter};
use crate::includes;
use crate::judge::{judge_skeleton, judge_solution, Problems, TODO};
use crate::skeletons;
use crate::snapshots;
use crate::solved;
use crate::table::{indent, Table};
use crate::tests_run::{self, by_exercise, ChapterRun, Outcome};
use crate::Options;

/// How many problems of one kind in one chapter are printed in full.
const SHOWN: usize = 25;

/// `cargo xtask check`.
pub fn run(root: &Path, options: &Options) -> Result<(), String> {
    let started = Instant::now();
    let all = chapters::discover(root)?;
    if all.is_empty() {
        return Err("no chapters/chNN_slug directories found".to_owned());
    }
    let limited = !options.chapters.is_empty();
    let chapters = chapters::select(all, &options.chapters)?;
    // The suite's other test files (the kit's) have no skeleton side; a run limited to
    // some chapters leaves them out.
    let others = if limited {
        Vec::new()
    } else {
        chapters::other_test_targets(root, &chapters)
    };
    let log_dir = target_dir(root).join("xtask");
    fs::create_dir_all(&log_dir).map_err(|e| format!("creating {}: {e}", log_dir.display()))?;
    let mut problems = Problems::default();

    // First, and fast: everything after this tests the skeletons on disk.
    problems.extend(skeleton_files(root, &chapters));
    let builds = Builds::new(root, &chapters, &others, &mut problems)?;
    let references = log_dir.join("snapshot-references.txt");
    let _ = fs::remove_file(&references);
    let name_width = chapters
        .iter()
        .map(|c| &c.name)
        .chain(&others)
        .map(String::len)
        .max()
        .unwrap_or(0);
    println!();
    let table = Table::start(
        &[
            "chapter",
            "exercise",
            "tests",
            "solutions",
            "skeleton(todo)",
        ],
        &[name_width, 8, 5, 10],
    );
    let runs = Runs {
        root,
        builds: &builds,
        table: &table,
        log_dir: &log_dir,
        references: &references,
        timeout: options.timeout,
    };
    let mut solutions_complete = true;
    for chapter in &chapters {
        let (found, complete) = runs.chapter(chapter);
        problems.extend(found);
        solutions_complete &= complete;
    }
    for target in &others {
        let (found, complete) = runs.other(target);
        problems.extend(found);
        solutions_complete &= complete;
    }

    println!();
    problems.extend(solved::check(root, &chapters, &log_dir, options.timeout));
    problems.extend(layout(root, &chapters));
    problems.extend(warnings(root, &chapters, &builds.crates));
    problems.extend(book_includes(root));
    problems.extend(crate::book::check(root));
    let prefixes: Vec<String> = if limited {
        chapters.iter().map(|c| format!("{}__", c.name)).collect()
    } else {
        vec![String::new()]
    };
    problems.extend(snapshot_files(
        root,
        &references,
        &prefixes,
        solutions_complete,
    ));

    println!();
    let elapsed = started.elapsed().as_secs_f64();
    if problems.0.is_empty() {
        println!("check passed in {elapsed:.0} s");
        Ok(())
    } else {
        let count = problems.0.len();
        println!("check FAILED in {elapsed:.0} s: {count} problem(s), listed above");
        Err(format!("check failed with {count} problem(s)"))
    }
}

/// The three builds a check needs.
struct Builds {
    /// The chapters' and the other test targets, against the solutions.
    solutions: Build,
    /// The chapters' test targets, against the skeletons.
    skeletons: Build,
    /// Every skeleton and solution crate on its own, for its warnings.
    crates: Build,
}

impl Builds {
    /// Builds, and prints the errors of a build that failed.
    fn new(
        root: &Path,
        chapters: &[Chapter],
        others: &[String],
        problems: &mut Problems,
    ) -> Result<Builds, String> {
        let with_tests: Vec<&Chapter> = chapters.iter().filter(|c| c.tests.exists()).collect();
        eprintln!("== building the tests against solutions/");
        let solutions = test_build(root, &with_tests, others, true)?;
        eprintln!("== building the tests against chapters/ (the skeletons)");
        let skeletons = test_build(root, &with_tests, &[], false)?;
        eprintln!("== building every chapter's crates on their own, for their warnings");
        let crates = crate_build(root, chapters)?;
        for (what, build) in [
            ("the tests against solutions/", &solutions),
            ("the tests against chapters/", &skeletons),
            ("the chapters' crates", &crates),
        ] {
            if !build.success {
                println!("building {what} failed:");
                print_errors(build);
                problems.add(format!("building {what} failed"));
            }
        }
        Ok(Builds {
            solutions,
            skeletons,
            crates,
        })
    }
}

/// What running the test executables needs.
struct Runs<'a> {
    root: &'a Path,
    builds: &'a Builds,
    table: &'a Table,
    log_dir: &'a Path,
    references: &'a Path,
    timeout: Duration,
}

impl Runs<'_> {
    /// Runs a chapter's tests against its solution and its skeleton, and prints the
    /// chapter's rows and problems. Also says whether every test passed against the
    /// solution, on which the snapshot check depends.
    fn chapter(&self, chapter: &Chapter) -> (Problems, bool) {
        progress(&format!("running {} against solutions/ ...", chapter.name));
        let solution = tests_run::run_chapter(
            &self.builds.solutions,
            &chapter.name,
            "solutions",
            self.log_dir,
            solution_env(self.references),
            self.timeout,
        );
        progress(&format!("running {} against chapters/ ...", chapter.name));
        let skeleton = tests_run::run_chapter(
            &self.builds.skeletons,
            &chapter.name,
            "skeleton",
            self.log_dir,
            tests_run::failing_env(),
            self.timeout,
        );
        clear_progress();
        let mut on_solutions = Problems::default();
        let mut on_skeleton = Problems::default();
        if chapter.tests.exists() {
            judge_solution(&chapter.name, true, &solution, &mut on_solutions);
        }
        judge_skeleton(chapter, &skeleton, &mut on_skeleton);
        print_rows(self.table, chapter, &solution, &skeleton);
        for found in [&on_solutions, &on_skeleton] {
            found.print_indented(SHOWN);
        }
        let logs: Vec<String> = [&solution, &skeleton]
            .into_iter()
            .filter_map(|run| match run {
                ChapterRun::Ran(run) => Some(relative(self.root, &run.log)),
                _ => None,
            })
            .collect();
        let tests_went_wrong = !on_solutions.0.is_empty() || !on_skeleton.0.is_empty();
        if tests_went_wrong && !logs.is_empty() {
            println!("    full output: {}", logs.join(", "));
        }
        let mut found = on_solutions;
        found.extend(on_skeleton);
        (found, all_passed(&solution))
    }

    /// Runs a test target that belongs to no chapter against the solutions.
    fn other(&self, target: &str) -> (Problems, bool) {
        progress(&format!("running {target} against solutions/ ..."));
        let run = tests_run::run_chapter(
            &self.builds.solutions,
            target,
            "solutions",
            self.log_dir,
            solution_env(self.references),
            self.timeout,
        );
        clear_progress();
        let mut found = Problems::default();
        judge_solution(target, false, &run, &mut found);
        let names: Vec<String> = run.tests().iter().map(|(n, _)| n.clone()).collect();
        let passed = |o: &Outcome| *o == Outcome::Passed;
        self.table.row(&[
            target.to_owned(),
            "all".to_owned(),
            names.len().to_string(),
            count(&run, &names, &passed, "pass"),
            "-".to_owned(),
        ]);
        found.print_indented(SHOWN);
        if !found.0.is_empty() {
            if let ChapterRun::Ran(run) = &run {
                println!("    full output: {}", relative(self.root, &run.log));
            }
        }
        (found, all_passed(&run))
    }
}

fn all_passed(run: &ChapterRun) -> bool {
    matches!(run, ChapterRun::Ran(run) if run.tests.iter().all(|(_, o)| *o == Outcome::Passed))
}

/// `chapters/` is what `cargo xtask skeletons` writes from `solutions/`.
fn skeleton_files(root: &Path, chapters: &[Chapter]) -> Problems {
    let started = Instant::now();
    let mut found = Problems::default();
    let with_solution: Vec<&Chapter> = chapters.iter().filter(|c| c.solution.is_dir()).collect();
    for chapter in chapters.iter().filter(|c| !c.solution.is_dir()) {
        found.add(format!(
            "{}: no {} to generate it from",
            relative(root, &chapter.skeleton),
            relative(root, &chapter.solution)
        ));
    }
    match skeletons::generate(root, &with_solution) {
        Ok(generated) => {
            for (chapter, files) in with_solution.iter().zip(&generated) {
                for difference in skeletons::differences(root, chapter, files) {
                    found.add(difference);
                }
            }
        }
        Err(errors) => {
            for error in errors {
                found.add(error);
            }
        }
    }
    println!(
        "skeletons  {} chapter(s) generated from solutions/ and compared in {:.1} s, {} problem(s)",
        with_solution.len(),
        started.elapsed().as_secs_f64(),
        found.0.len()
    );
    found.print_indented(usize::MAX);
    if !found.0.is_empty() {
        println!("    (chapters/ is generated: edit solutions/, then run `cargo xtask skeletons`)");
    }
    found
}

/// Every chapter has its solution, its test file and its page in the book, and its
/// crates depend on no skeleton.
fn layout(root: &Path, chapters: &[Chapter]) -> Problems {
    let mut found = Problems::default();
    for chapter in chapters {
        for missing in chapter.missing(root) {
            found.add(format!("{}: missing {missing}", chapter.name));
        }
        for wrong in chapter.skeleton_dependencies(root) {
            found.add(format!(
                "{}: {wrong}; depend on the solutions of other chapters only",
                chapter.name
            ));
        }
    }
    println!(
        "layout     {} chapter(s), {} problem(s)",
        chapters.len(),
        found.0.len()
    );
    found.print_indented(usize::MAX);
    found
}

/// Every skeleton and solution crate builds without a warning.
fn warnings(root: &Path, chapters: &[Chapter], build: &Build) -> Problems {
    let mut found = Problems::default();
    let mut cells = Vec::new();
    let mut shown = Vec::new();
    for chapter in chapters {
        for (side, dir) in [
            ("skeleton", &chapter.skeleton),
            ("solution", &chapter.solution),
        ] {
            let warnings = build.warnings_of(&dir.join("Cargo.toml"));
            cells.push(format!("{} {side} {}", chapter.name, warnings.len()));
            if !warnings.is_empty() {
                found.add(format!(
                    "{}: {} compiler warning(s) in {}",
                    chapter.name,
                    warnings.len(),
                    relative(root, dir)
                ));
                shown.extend(warnings.iter().take(5).map(|w| indent(&w.rendered, "    ")));
            }
        }
    }
    println!("warnings   {}", cells.join(", "));
    for warning in shown {
        println!("{warning}");
    }
    found
}

/// Every include of the book resolves to text.
fn book_includes(root: &Path) -> Problems {
    let report = includes::check(root, &root.join("book/src"));
    println!(
        "includes   {} checked in book/src, {} broken",
        report.checked,
        report.problems.len()
    );
    let mut found = Problems::default();
    for problem in report.problems {
        found.add(format!("book: {problem}"));
    }
    found.print_indented(usize::MAX);
    found
}

/// Every snapshot is read by a test, and insta left nothing behind.
fn snapshot_files(
    root: &Path,
    references: &Path,
    prefixes: &[String],
    solutions_complete: bool,
) -> Problems {
    let report = snapshots::check(root, references, prefixes);
    let caveat = if solutions_complete {
        ""
    } else {
        " (some solution tests did not pass, so some snapshots may have gone unread)"
    };
    println!(
        "snapshots  {} committed, {} problem(s){caveat}",
        report.snapshots,
        report.problems.len()
    );
    let mut found = Problems::default();
    for problem in report.problems {
        found.add(format!("snapshots: {problem}"));
    }
    found.print_indented(usize::MAX);
    found
}

/// The environment of a run against the solutions: snapshots are compared, never
/// written, and every snapshot file read is listed in `references`.
fn solution_env(references: &Path) -> Vec<(String, String)> {
    vec![
        ("INSTA_UPDATE".to_owned(), "no".to_owned()),
        (
            "INSTA_SNAPSHOT_REFERENCES_FILE".to_owned(),
            references.display().to_string(),
        ),
    ]
}

/// Builds the skeleton and solution crates of `chapters`, whose warnings cargo reports
/// (or replays from its cache) package by package.
fn crate_build(root: &Path, chapters: &[Chapter]) -> Result<Build, String> {
    let mut args = vec!["build".to_owned()];
    for chapter in chapters {
        for (dir, package) in [
            (&chapter.skeleton, chapter.skeleton_package()),
            (&chapter.solution, chapter.solution_package()),
        ] {
            if dir.join("Cargo.toml").exists() {
                args.extend(["-p".to_owned(), package]);
            }
        }
    }
    cargo::build(root, &args)
}

fn print_rows(table: &Table, chapter: &Chapter, solution: &ChapterRun, skeleton: &ChapterRun) {
    let names = solution
        .tests()
        .iter()
        .chain(skeleton.tests())
        .map(|(name, _)| name.as_str());
    let groups = by_exercise(names);
    let passed = |o: &Outcome| *o == Outcome::Passed;
    let todo = |o: &Outcome| matches!(o, Outcome::Failed(text) if text.contains(TODO));
    if groups.is_empty() {
        table.row(&[
            chapter.name.clone(),
            "-".to_owned(),
            "0".to_owned(),
            count(solution, &[], &passed, "pass"),
            count(skeleton, &[], &todo, "todo"),
        ]);
    }
    for (exercise, tests) in groups {
        let skeleton_cell = match exercise {
            Some(_) => count(skeleton, &tests, &todo, "todo"),
            None => "(ungraded)".to_owned(),
        };
        table.row(&[
            chapter.name.clone(),
            exercise.unwrap_or_else(|| "other".to_owned()),
            tests.len().to_string(),
            count(solution, &tests, &passed, "pass"),
            skeleton_cell,
        ]);
    }
}

/// A table cell: how many of `tests` ended as `good` says, of how many.
fn count(
    run: &ChapterRun,
    tests: &[String],
    good: &dyn Fn(&Outcome) -> bool,
    word: &str,
) -> String {
    match run {
        ChapterRun::Ran(r) => {
            let n = r
                .tests
                .iter()
                .filter(|(t, o)| tests.contains(t) && good(o))
                .count();
            format!("{n}/{} {word}", tests.len())
        }
        ChapterRun::NotBuilt => "not built".to_owned(),
        ChapterRun::Broken(_) => "broken".to_owned(),
    }
}

/// A line on stderr saying what runs now, erased once it is done; only in a terminal,
/// where it cannot end up in a log between the table's rows.
fn progress(message: &str) {
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[2K  {message}");
        let _ = std::io::stderr().flush();
    }
}

fn clear_progress() {
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[2K");
        let _ = std::io::stderr().flush();
    }
}
