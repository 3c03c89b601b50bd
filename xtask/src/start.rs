//! `cargo xtask start`: the first command a student runs.

use std::fs;
use std::path::Path;
use std::time::Duration;

use crate::book;
use crate::cargo::{print_errors, target_dir, test_build};
use crate::chapters::{self, relative, Chapter};
use crate::exercises;
use crate::progress::{self, ExerciseStatus};
use crate::table::Table;
use crate::tests_run::{self, ChapterRun, RunOptions};
use crate::Options;

/// `cargo xtask start`. Failing tests are where a student starts, so they do not make
/// this fail; a book that cannot be built does.
pub fn run(root: &Path, options: &Options) -> Result<(), String> {
    let all = chapters::discover(root)?;
    let Some(first) = all.first() else {
        return Err("no chapters/chNN_slug directories found".to_owned());
    };

    println!("== building the book (book/book/)");
    let book = book::build(root);
    match &book {
        Ok(index) => println!("the book: {}", index.display()),
        Err(e) => println!("the book could not be built:\n{e}"),
    }

    println!();
    println!("== where to begin");
    // The built page when there is one: that is where the student reads.
    let page = match &book {
        Ok(index) => index.with_file_name(format!("{}.html", first.name)),
        Err(_) => first.page.clone(),
    };
    let page = if page.exists() {
        page
    } else {
        first.page.clone()
    };
    println!(
        "Read the book from its first page, then chapter {}:",
        first.name
    );
    println!("  {}", page.display());
    let files = chapters::exercise_files(root, &first.skeleton);
    if files.is_empty() {
        println!(
            "Its exercises are in {}/src.",
            relative(root, &first.skeleton)
        );
    } else {
        println!("Its exercises are in:");
        let book = exercises::read(root, &first.name).unwrap_or_default();
        for (exercise, file) in &files {
            let number: u32 = exercise[2..].parse().unwrap_or(0);
            let minutes = match book.get(&number).and_then(|e| e.minutes) {
                Some(minutes) => format!(" (about {minutes} minutes)"),
                None => String::new(),
            };
            println!(
                "  {exercise}: {}{minutes}",
                at_todo(&file.path, file.first_todo)
            );
        }
    }
    println!(
        "Check one chapter with `cargo test --test {}`, one exercise with `cargo test --test {} ex1`.",
        first.name, first.name
    );

    println!();
    println!("== your progress");
    let chapters = chapters::select(all, &options.chapters)?;
    let with_tests: Vec<&Chapter> = chapters.iter().filter(|c| c.tests.exists()).collect();
    println!(
        "Building the tests of {} chapter(s), then running them (the first time, the \
         build takes a minute or two; cargo shows its progress below).",
        with_tests.len()
    );
    let build = test_build(root, &with_tests, &[], false)?;
    if !build.success {
        println!("Some of the workbook does not compile yet. Fix the first error:");
        print_errors(&build);
    }
    let log_dir = target_dir(root).join("xtask");
    fs::create_dir_all(&log_dir).map_err(|e| format!("creating {}: {e}", log_dir.display()))?;
    let width = chapters.iter().map(|c| c.name.len()).max().unwrap_or(0);
    println!();
    let table = Table::start(
        &["chapter", "exercise", "time", "passing", "next"],
        &[width, 8, 6, 25],
    );
    let mut progress: Vec<(String, Vec<ExerciseStatus>)> = Vec::new();
    for chapter in &with_tests {
        let run = tests_run::run_chapter_with(
            &build,
            &chapter.name,
            "student",
            &log_dir,
            RunOptions {
                env: tests_run::failing_env(),
                timeout: options.timeout,
                per_test: Some(PER_TEST),
                exercise: None,
                confine: None,
                rounds: tests_run::ROUNDS,
            },
        );
        let run = match run {
            ChapterRun::Ran(run) => run,
            ChapterRun::NotBuilt => {
                let why = "does not compile: see the first error above";
                table.row(&[
                    chapter.name.clone(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    why.into(),
                ]);
                continue;
            }
            ChapterRun::Broken(e) => {
                let why = format!("the tests could not run: {e}");
                table.row(&[
                    chapter.name.clone(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    why,
                ]);
                continue;
            }
        };
        let files = chapters::exercise_files(root, &chapter.skeleton);
        let book = exercises::read(root, &chapter.name).unwrap_or_default();
        let statuses = progress::statuses(&run);
        for status in &statuses {
            let next = if status.done() {
                "done".to_owned()
            } else {
                match files.get(&status.exercise) {
                    Some(file) => format!("next: {}", at_todo(&file.path, file.first_todo)),
                    None => format!("next: see {}", relative(root, &chapter.tests)),
                }
            };
            let number: u32 = status.exercise[2..].parse().unwrap_or(0);
            table.row(&[
                chapter.name.clone(),
                status.exercise.clone(),
                exercises::minutes_cell(book.get(&number)),
                status.cell(),
                next,
            ]);
        }
        for test in &run.timed_out {
            println!("    {test} was still running at the time limit and was killed");
        }
        if let Some(trouble) = run.trouble() {
            println!("    {trouble}; output: {}", relative(root, &run.log));
        }
        progress.push((chapter.name.clone(), statuses));
    }
    let statuses = progress.iter().flat_map(|(_, s)| s);
    let total = statuses.clone().count();
    let done = statuses.clone().filter(|s| s.done()).count();
    let timeouts: usize = statuses.map(|s| s.timed_out.len()).sum();
    println!();
    println!("{done} of {total} exercises done.");
    if timeouts > 0 {
        println!(
            "{timeouts} test(s) ran out of time: a deadlock or a wait that never ends \
             (the failure says which exercise)."
        );
    }
    let working = progress::working_chapter(&with_tests, &progress);
    let next = working.and_then(|(chapter, why)| {
        let (_, statuses) = progress.iter().find(|(name, _)| *name == chapter.name)?;
        let status = statuses.iter().find(|s| !s.done())?;
        Some((chapter, why, status.first_failure(3)?))
    });
    if let Some((chapter, why, failure)) = next {
        println!(
            "You are on {}: {why}. `cargo xtask watch {}` follows it.",
            chapter.name, chapter.name
        );
        let kind = if failure.timed_out {
            "Timed out"
        } else {
            "First failing test"
        };
        println!("{kind}: {}", failure.test);
        for line in &failure.lines {
            println!("  {line}");
        }
        if let Some(location) = failure.location_if_not_shown() {
            println!("  at {location}");
        }
    }
    book.map(|_| ())
}

/// The longest one test may run here: far above the kit's 5 s deadline per exercise,
/// so only a test that hangs outside it (in the test's own thread) meets it.
const PER_TEST: Duration = Duration::from_secs(60);

fn at_todo(path: &str, line: Option<usize>) -> String {
    match line {
        Some(line) => format!("{path}:{line}"),
        None => path.to_owned(),
    }
}
