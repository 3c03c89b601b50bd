//! The workbook's project commands, run as `cargo xtask <command>`.
//!
//! - `check`: proves that the skeletons are what `skeletons` writes, that the solutions
//!   pass every test, that every graded test fails against the skeletons with a
//!   `todo!()`, that the book's includes resolve and that every snapshot is used.
//! - `skeletons`: writes the skeletons (`chapters/`) from the solutions.
//! - `reset`: gives one exercise its skeleton back.
//! - `book`: builds the book with mdBook's library, after checking its includes.
//! - `start`: what a student runs first: builds the book, says where to begin, and shows
//!   which exercises pass so far.
//! - `watch`, `hint`: the student's loop (re-run on save; the book's hints one by one).
//! - `grade`: an instructor's grader for students' checkouts.
//! - `mutants`: how many wrong solutions the tests catch (cargo-mutants).
//! - `bench`: every chapter's benchmark beside CPython, and one results file.

mod bench;
mod book;
mod cargo;
mod chapters;
mod charts;
mod check;
mod confine;
mod exercises;
mod figures;
mod grade;
mod hint;
mod includes;
mod judge;
mod mutants;
mod performance;
mod progress;
mod reset;
mod results;
mod skeletons;
mod snapshots;
mod solved;
mod start;
mod table;
mod tests_run;
mod watch;

use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
Usage: cargo xtask <command> [options]

Commands:
  check   Prove the workbook is consistent; exits non-zero on any problem:
            - chapters/ is exactly what `cargo xtask skeletons` writes (checked
              first; each hand-edited, missing or extra file is named)
            - every test passes against solutions/ (cargo test --features solutions)
            - every chapter's crates (skeleton and solution) build without warnings
            - every graded test (ex1_..., ex2_...) fails against its skeleton with
              `not yet implemented` (a todo!()), not by a compile error, a timeout
              or another panic, and never passes by accident
            - a chapter's crates depend on no skeleton, only on other chapters'
              solutions
            - with every skeleton's src/ replaced by its solution's, the whole
              suite passes as a student runs it (plain `cargo test`), and with
              only exercises 1..=N of a chapter filled in, the tests of 1..=N pass
            - every {{#include}} in book/src resolves to non-empty text
            - every {{#figure}} names a figure of book/figures/, measured with the
              bench sources as they are now; no page types a figure by hand
            - every chapter's pages follow the book's layout (exercise sections
              with time estimates and hints, a solutions.md page last)
            - every snapshot in tests/snapshots is used, and no .snap.new or
              .pending-snap file lies around
  book    Check the book's includes, then build the book into book/book/.
  skeletons
          Write every chapter's skeleton, chapters/chNN_slug, from its solution,
          solutions/chNN_slug, the one hand-written source: regions between
          `// BEGIN SOLUTION` and `// END SOLUTION` become the `// SKELETON: `
          lines right before them; then rustfmt. Removes files the generator
          does not write.
  reset CHAPTER EXERCISE
          Give one exercise its skeleton back (e.g. `reset ch05 ex3`); your
          version is saved under target/xtask/reset/ first.
  start   Start here: build the book, show where to begin, and run the tests
          against your chapters to show which exercises pass so far (with each
          exercise's time estimate from the book), and the first failure of the
          chapter you work on: the one whose file you saved last, else the first
          one begun, else the first one left.
  watch [CHAPTER]
          Re-run the tests of the first unfinished exercise each time you save a
          file under chapters/; moves on when it passes. Type h + Enter for a
          hint, l for the list of exercises, q to quit. Without a chapter: it
          starts in the chapter of the file you saved last (else the first).
  hint CHAPTER EXERCISE [LEVEL]
          Print the book's next hint for an exercise (e.g. `hint ch05 3`), or
          hint LEVEL. Hints already shown are remembered in target/xtask/.
  grade CHECKOUT... [--format markdown|csv|json] [--test-timeout SECS]
                    [--max-processes N]
          Grade students' checkouts: only their chapters/*/src is copied into a
          pristine copy of this repository (target/xtask/grade/), every
          chapter's tests run, and one row per student gives each exercise's
          tests passed / tests and a total (json adds every failure). Each test
          executable runs with its processes capped (default 256) and each test
          under a limit (default 60 s); nothing is left running.
  mutants [CHAPTER]...
          Run cargo-mutants on chapters' solution crates with the chapter's
          tests, and print caught / missed / timeout / unviable, the share of
          viable mutants caught, and the missed ones. Output in target/mutants/.
  bench [--quick] [--bench NAME]...
          Run every chapter's benchmark (benches/chNN_*.rs) and CPython's side, one
          after the other, and assemble their figures into one results file with
          the machine and the date: target/xtask/bench/results.json. A full run
          writes the figures the book quotes (book/figures/*.json; the book's page
          \"How fast is it?\" is drawn from them). --quick: every measurement with far
          fewer repetitions, a smoke test for CI; its figures go under
          target/xtask/bench/quick/, never into the book.

Options:
  --chapter NAME   check/start/skeletons/grade: only this chapter (e.g. ch02_first_taste
                   or ch02); may be given more than once
  --timeout SECS   check/start: wall-clock limit of one run of a test executable
                   (default 600); a test still running then is killed and reported,
                   and the tests after it run again without it
  -h, --help       Print this help
";

/// What the command line asked for.
enum Command {
    Check(Options),
    Book,
    Start(Options),
    Skeletons(Options),
    Reset(String, String),
    Hint(hint::Args),
    Grade(grade::Args),
    Watch(Vec<String>),
    Mutants(Vec<String>),
    Bench(bench::Args),
    Help,
}

/// Options shared by the commands that run tests.
pub struct Options {
    /// Chapter names or prefixes to limit the run to; empty means every chapter.
    pub chapters: Vec<String>,
    /// Wall-clock limit of one test executable.
    pub timeout: Duration,
}

fn parse(args: &[String]) -> Result<Command, String> {
    let Some((name, rest)) = args.split_first() else {
        return Ok(Command::Help);
    };
    if rest.iter().any(|a| a == "-h" || a == "--help") {
        return Ok(Command::Help);
    }
    // The student's and instructor's commands take their own arguments.
    match name.as_str() {
        "reset" => {
            return match rest {
                [chapter, exercise] => Ok(Command::Reset(chapter.clone(), exercise.clone())),
                _ => Err("usage: cargo xtask reset CHAPTER EXERCISE (e.g. reset ch05 ex3)".into()),
            }
        }
        "hint" => return Ok(Command::Hint(hint::Args::parse(rest)?)),
        "grade" => return Ok(Command::Grade(grade::Args::parse(rest)?)),
        "watch" => return Ok(Command::Watch(rest.to_vec())),
        "bench" => return Ok(Command::Bench(bench::Args::parse(rest)?)),
        "mutants" => match rest.iter().find(|a| a.starts_with('-')) {
            Some(option) => return Err(format!("mutants takes chapters, not `{option}`")),
            None => return Ok(Command::Mutants(rest.to_vec())),
        },
        _ => {}
    }
    let mut options = Options {
        chapters: Vec::new(),
        timeout: Duration::from_secs(600),
    };
    let mut rest = rest.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--chapter" => {
                let value = rest.next().ok_or("--chapter needs a chapter name")?;
                options.chapters.push(value.clone());
            }
            "--timeout" => {
                let value = rest.next().ok_or("--timeout needs a number of seconds")?;
                let secs: f64 = value
                    .parse()
                    .ok()
                    .filter(|s: &f64| *s > 0.0)
                    .ok_or_else(|| format!("--timeout {value}: not a positive number"))?;
                options.timeout = Duration::from_secs_f64(secs);
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    match name.as_str() {
        "check" => Ok(Command::Check(options)),
        "start" => Ok(Command::Start(options)),
        "skeletons" => Ok(Command::Skeletons(options)),
        "book" if options.chapters.is_empty() => Ok(Command::Book),
        "book" => Err("`book` takes no --chapter: the book is built whole".into()),
        "-h" | "--help" | "help" => Ok(Command::Help),
        other => Err(format!("unknown command `{other}`")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match parse(&args) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("error: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let root = chapters::workspace_root();
    let result = match command {
        Command::Help => {
            print!("{USAGE}");
            Ok(())
        }
        Command::Check(options) => check::run(&root, &options),
        Command::Book => book::run(&root),
        Command::Start(options) => start::run(&root, &options),
        Command::Skeletons(options) => chapters::discover(&root)
            .and_then(|all| chapters::select(all, &options.chapters))
            .and_then(|chapters| skeletons::run(&root, &chapters)),
        Command::Reset(chapter, exercise) => reset::run(&root, &chapter, &exercise),
        Command::Hint(args) => hint::run(&root, &args),
        Command::Grade(args) => grade::run(&root, &args),
        Command::Watch(chapters) => watch::run(&root, &chapters),
        Command::Mutants(chapters) => mutants::run(&root, &chapters),
        Command::Bench(args) => bench::run(&root, &args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("\nerror: {message}");
            ExitCode::FAILURE
        }
    }
}
