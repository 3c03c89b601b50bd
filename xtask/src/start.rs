//! `cargo xtask start`: the first command a student runs.

use std::fs;
use std::path::Path;

use crate::book;
use crate::cargo::{print_errors, target_dir, test_build};
use crate::chapters::{self, relative, Chapter};
use crate::table::Table;
use crate::tests_run::{self, by_exercise, reason, ChapterRun, Outcome};
use crate::Options;

/// `cargo xtask start`. Failing tests are where a student starts, so they do not make
/// this fail; a book that cannot be built does.
pub fn run(root: &Path, options: &Options) -> Result<(), String> {
    let all = chapters::discover(root)?;
    let Some(first) = all.first() else {
        return Err("no chapters/chNN_slug directories found".to_owned());
    };

    println!("== building the book");
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
        for (exercise, file) in &files {
            println!("  {exercise}: {}", at_todo(&file.path, file.first_todo));
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
    let build = test_build(root, &with_tests, &[], false)?;
    if !build.success {
        println!("Some of the workbook does not compile yet. Fix the first error:");
        print_errors(&build);
    }
    let log_dir = target_dir(root).join("xtask");
    fs::create_dir_all(&log_dir).map_err(|e| format!("creating {}: {e}", log_dir.display()))?;
    let width = chapters.iter().map(|c| c.name.len()).max().unwrap_or(0);
    println!();
    let table = Table::start(&["chapter", "exercise", "passing", "next"], &[width, 8, 12]);
    let mut done = 0;
    let mut total = 0;
    let mut first_failure: Option<(String, String)> = None;
    for chapter in &with_tests {
        let run = tests_run::run_chapter(
            &build,
            &chapter.name,
            "student",
            &log_dir,
            tests_run::failing_env(),
            options.timeout,
        );
        let run = match run {
            ChapterRun::Ran(run) => run,
            ChapterRun::NotBuilt => {
                let why = "does not compile: see the first error above";
                table.row(&[chapter.name.clone(), "-".into(), "-".into(), why.into()]);
                continue;
            }
            ChapterRun::Broken(e) => {
                let why = format!("the tests could not run: {e}");
                table.row(&[chapter.name.clone(), "-".into(), "-".into(), why]);
                continue;
            }
        };
        let files = chapters::exercise_files(root, &chapter.skeleton);
        let names = run.tests.iter().map(|(name, _)| name.as_str());
        for (exercise, tests) in by_exercise(names) {
            let Some(exercise) = exercise else {
                continue;
            };
            let outcomes: Vec<&(String, Outcome)> = run
                .tests
                .iter()
                .filter(|(name, _)| tests.contains(name))
                .collect();
            let passing = outcomes
                .iter()
                .filter(|(_, o)| *o == Outcome::Passed)
                .count();
            total += 1;
            let next = if passing == outcomes.len() {
                done += 1;
                "done".to_owned()
            } else {
                if first_failure.is_none() {
                    first_failure = outcomes.iter().find_map(|(name, outcome)| match outcome {
                        Outcome::Failed(output) => Some((name.clone(), reason(output))),
                        _ => None,
                    });
                }
                match files.get(&exercise) {
                    Some(file) => format!("next: {}", at_todo(&file.path, file.first_todo)),
                    None => format!("next: see {}", relative(root, &chapter.tests)),
                }
            };
            table.row(&[
                chapter.name.clone(),
                exercise,
                format!("{passing}/{} passing", outcomes.len()),
                next,
            ]);
        }
        for test in &run.timed_out {
            println!("    {test} was still running at the time limit and was killed");
        }
        if let Some(trouble) = run.trouble() {
            println!("    {trouble}; output: {}", relative(root, &run.log));
        }
    }
    println!();
    println!("{done} of {total} exercises done.");
    if let Some((test, why)) = first_failure {
        println!("First failing test: {test}\n  {why}");
    }
    book.map(|_| ())
}

fn at_todo(path: &str, line: Option<usize>) -> String {
    match line {
        Some(line) => format!("{path}:{line}"),
        None => path.to_owned(),
    }
}
