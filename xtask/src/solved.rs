//! The skeletons are solvable: with every chapter's `src/` replaced by its solution's,
//! the suite passes in the student's configuration (plain `cargo test`). This catches
//! what the other checks cannot see: a test that reaches an earlier chapter through a
//! second copy of its crate (its statics then differ from the ones the chapter uses),
//! or a skeleton whose manifest lacks a dependency the solution needs.
//!
//! And they are solvable in order: with only exercises 1..=N of a chapter filled in,
//! every test of exercises 1..=N passes, so no exercise waits on a later one.

use std::fs;
use std::path::Path;
use std::time::Duration;

use crate::cargo::{self, print_errors};
use crate::chapters::Chapter;
use crate::judge::{judge_solution, Problems};
use crate::tests_run::{self, failing_env, ChapterRun};

/// What the copy leaves out: build output, history, the built book.
const SKIPPED: [&str; 3] = ["target", ".git", "book/book"];

/// Copies the tree into the check's log directory, fills the skeletons in from the
/// solutions, builds and runs every chapter's tests there, and reports each failure.
pub fn check(root: &Path, chapters: &[Chapter], log_dir: &Path, timeout: Duration) -> Problems {
    let mut found = Problems::default();
    let copy = log_dir.join("solved");
    if let Err(e) = prepare(root, chapters, &copy) {
        found.add(format!(
            "solved skeletons: preparing {}: {e}",
            copy.display()
        ));
        return found;
    }
    // A target directory of its own, kept between runs: cargo hashes path packages by
    // their place in the workspace, so the copy's crates would share file names (and
    // fingerprints) with the real ones and overwrite the skeletons' test executables.
    let own_target = log_dir.join("solved-target");
    let mut args: Vec<String> = ["build", "--keep-going", "--target-dir"]
        .map(str::to_owned)
        .into();
    args.push(own_target.display().to_string());
    let with_tests: Vec<&Chapter> = chapters.iter().filter(|c| c.tests.exists()).collect();
    for chapter in &with_tests {
        args.extend(["--test".to_owned(), chapter.name.clone()]);
    }
    eprintln!("== building the tests against the skeletons filled in from the solutions");
    let build = match cargo::build(&copy, &args) {
        Ok(build) => build,
        Err(e) => {
            found.add(format!("solved skeletons: {e}"));
            return found;
        }
    };
    if !build.success {
        println!("building the solved skeletons failed:");
        print_errors(&build);
        found.add("solved skeletons: the build failed".to_owned());
    }
    for chapter in &with_tests {
        let run = tests_run::run_chapter(
            &build,
            &chapter.name,
            "solved",
            log_dir,
            failing_env(),
            timeout,
        );
        let mut problems = Problems::default();
        judge_solution(&chapter.name, true, &run, &mut problems);
        for problem in problems.0 {
            found.add(problem.replacen(": solutions:", ": solved skeleton:", 1));
        }
        let passed = run.tests().len();
        if let ChapterRun::Ran(_) = run {
            eprintln!(
                "   {}: {passed} tests run with the skeleton solved",
                chapter.name
            );
        }
    }
    println!(
        "solved     {} chapter(s) with skeletons filled in from solutions, {} problem(s)",
        with_tests.len(),
        found.0.len()
    );
    found.print_indented(usize::MAX);
    let in_order = in_order(root, &with_tests, &copy, &own_target, log_dir, timeout);
    found.extend(in_order);
    found
}

/// For each chapter and each of its exercises N: the chapter's `src/` in the copy is
/// the skeleton's with the files of exercises 1..=N taken from the solution, and every
/// test of exercises 1..=N must pass.
fn in_order(
    root: &Path,
    chapters: &[&Chapter],
    copy: &Path,
    own_target: &Path,
    log_dir: &Path,
    timeout: Duration,
) -> Problems {
    let mut found = Problems::default();
    let mut steps = 0;
    for chapter in chapters {
        let files = crate::chapters::exercise_files(root, &chapter.skeleton);
        let mut numbered: Vec<(u32, String)> = files
            .iter()
            .filter_map(|(id, file)| {
                let number = id.strip_prefix("ex")?.parse().ok()?;
                let relative = Path::new(&file.path).strip_prefix(
                    chapter
                        .skeleton
                        .strip_prefix(root)
                        .unwrap_or(&chapter.skeleton),
                );
                Some((number, relative.ok()?.display().to_string()))
            })
            .collect();
        numbered.sort();
        let src = copy.join("chapters").join(&chapter.name);
        for (upto, _) in &numbered {
            steps += 1;
            let result = (|| -> std::io::Result<()> {
                fs::remove_dir_all(src.join("src"))?;
                copy_tree(
                    &chapter.skeleton.join("src"),
                    &chapter.skeleton.join("src"),
                    &src.join("src"),
                )?;
                for (_, file) in numbered.iter().filter(|(n, _)| n <= upto) {
                    fs::copy(chapter.solution.join(file), src.join(file))?;
                }
                Ok(())
            })();
            if let Err(e) = result {
                found.add(format!(
                    "{}: in order: preparing ex1..=ex{upto}: {e}",
                    chapter.name
                ));
                continue;
            }
            let args: Vec<String> = vec![
                "build".into(),
                "--target-dir".into(),
                own_target.display().to_string(),
                "--test".into(),
                chapter.name.clone(),
            ];
            let build = match cargo::build(copy, &args) {
                Ok(build) if build.success => build,
                _ => {
                    found.add(format!(
                        "{}: in order: with exercises 1..={upto} solved, the tests do not build",
                        chapter.name
                    ));
                    continue;
                }
            };
            let label = format!("upto-ex{upto}");
            let run = tests_run::run_chapter(
                &build,
                &chapter.name,
                &label,
                log_dir,
                failing_env(),
                timeout,
            );
            let failing: Vec<&str> = run
                .tests()
                .iter()
                .filter(|(test, outcome)| {
                    let number =
                        tests_run::exercise_of(test).and_then(|id| id[2..].parse::<u32>().ok());
                    number.is_some_and(|n| n <= *upto) && *outcome != tests_run::Outcome::Passed
                })
                .map(|(test, _)| test.as_str())
                .collect();
            if !failing.is_empty() {
                found.add(format!(
                    "{}: in order: with only exercises 1..={upto} solved, these fail: {}",
                    chapter.name,
                    failing.join(", ")
                ));
            }
        }
    }
    println!(
        "in order   {steps} step(s), one per exercise, {} problem(s)",
        found.0.len()
    );
    found.print_indented(usize::MAX);
    found
}

/// A fresh copy of the tree whose `chapters/<name>/src` are the solutions' sources.
fn prepare(root: &Path, chapters: &[Chapter], copy: &Path) -> std::io::Result<()> {
    if copy.exists() {
        fs::remove_dir_all(copy)?;
    }
    copy_tree(root, root, copy)?;
    for chapter in chapters {
        let src = copy.join("chapters").join(&chapter.name).join("src");
        fs::remove_dir_all(&src)?;
        copy_tree(
            &chapter.solution.join("src"),
            &chapter.solution.join("src"),
            &src,
        )?;
    }
    Ok(())
}

fn copy_tree(top: &Path, from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let path = entry.path();
        let relative = path.strip_prefix(top).unwrap_or(&path);
        if SKIPPED.iter().any(|skip| relative == Path::new(skip)) {
            continue;
        }
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(top, &path, &target)?;
        } else {
            fs::copy(&path, &target)?;
        }
    }
    Ok(())
}
