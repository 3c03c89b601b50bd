//! `cargo xtask watch [chapter]`: rustlings' `watch` for the workbook.
//!
//! It starts in the chapter given, else in the chapter of the file saved last (else
//! the first), and runs the tests of its first unfinished exercise, then again each
//! time a file under `chapters/` is saved (file times are polled every 200 ms: no
//! dependency, and it works the same on every file system), and moves on to the next
//! exercise when they all pass. Typed commands (then Enter): `h` hint, `l` list, `r` run again, `q`
//! quit.
//!
//! The loop is [`Watch`], driven by [`Event`]s and a [`Runner`], so a test can drive
//! it without a terminal, cargo or a test executable.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, SystemTime};

use crate::cargo::{target_dir, test_build};
use crate::chapters::{self, Chapter};
use crate::exercises::{self, BookExercise};
use crate::hint;
use crate::progress::{self, ExerciseStatus};
use crate::table::indent;
use crate::tests_run::{self, by_exercise, failing_env, ChapterRun, RunOptions};

/// How often file times are polled.
const POLL: Duration = Duration::from_millis(200);

/// What one run of an exercise's tests gave.
#[derive(Clone, Debug)]
pub enum Attempt {
    /// The chapter's crate or tests do not compile: the first error.
    DoesNotCompile(String),
    /// The tests ran.
    Ran(ExerciseStatus),
    /// They could not be run.
    Broken(String),
}

/// Runs tests for the loop.
pub trait Runner {
    /// The graded exercises of `chapter` (`ex1`, `ex2`, ...), in order.
    fn exercises(&mut self, chapter: &str) -> Result<Vec<String>, String>;
    /// Builds and runs the tests of `exercise` of `chapter`.
    fn run(&mut self, chapter: &str, exercise: &str) -> Attempt;
    /// The next hint of `exercise` of `chapter`, ready to print.
    fn hint(&mut self, chapter: &str, exercise: &str) -> String;
    /// What the book says of `exercise` (its title and time estimate), if anything.
    fn book(&mut self, chapter: &str, exercise: &str) -> Option<BookExercise>;
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A file under the watched directory was saved (or created, or removed).
    Saved,
    /// A line typed by the student.
    Typed(String),
}

/// Whether the loop goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Wait for the next event.
    Continue,
    /// The student quit, or every exercise passes.
    Stop,
}

/// The loop's state: the chapters it follows and where it is.
pub struct Watch {
    /// The chapters, in order, from the one started in.
    chapters: Vec<String>,
    /// Index into `chapters`.
    chapter: usize,
    /// The current chapter's exercises, in order.
    exercises: Vec<String>,
    /// Index into `exercises`.
    exercise: usize,
    /// The last result of each exercise seen, for the list.
    seen: BTreeMap<(String, String), String>,
}

impl Watch {
    /// A loop over `chapters` (starting with the first), positioned on the first
    /// exercise of the first chapter that does not pass yet: it runs them in order
    /// until one fails. Prints what it runs to `out`.
    pub fn start(
        chapters: Vec<String>,
        runner: &mut dyn Runner,
        out: &mut dyn Write,
    ) -> Result<(Watch, Flow), String> {
        let mut watch = Watch {
            chapters,
            chapter: 0,
            exercises: Vec::new(),
            exercise: 0,
            seen: BTreeMap::new(),
        };
        watch.enter_chapter(runner)?;
        let flow = watch.run_until_unfinished(runner, out);
        Ok((watch, flow))
    }

    /// The chapter and exercise it is on.
    pub fn current(&self) -> Option<(&str, &str)> {
        Some((
            self.chapters.get(self.chapter)?.as_str(),
            self.exercises.get(self.exercise)?.as_str(),
        ))
    }

    /// Handles one event.
    pub fn handle(&mut self, event: Event, runner: &mut dyn Runner, out: &mut dyn Write) -> Flow {
        match event {
            Event::Saved => self.run_until_unfinished(runner, out),
            Event::Typed(line) => match line.trim() {
                "q" | "quit" | "exit" => Flow::Stop,
                "h" | "hint" => {
                    if let Some((chapter, exercise)) = self.current() {
                        let text = runner.hint(chapter, exercise);
                        let _ = writeln!(out, "\n{}", text.trim_end());
                    }
                    Flow::Continue
                }
                "l" | "list" => {
                    self.list(runner, out);
                    Flow::Continue
                }
                "r" | "run" => self.run_until_unfinished(runner, out),
                "" => Flow::Continue,
                other => {
                    let _ = writeln!(out, "`{other}`? {}", KEYS);
                    Flow::Continue
                }
            },
        }
    }

    fn enter_chapter(&mut self, runner: &mut dyn Runner) -> Result<(), String> {
        self.exercises = match self.chapters.get(self.chapter) {
            Some(chapter) => runner.exercises(chapter)?,
            None => Vec::new(),
        };
        self.exercise = 0;
        Ok(())
    }

    /// Runs the current exercise; while it passes, moves on and runs the next.
    fn run_until_unfinished(&mut self, runner: &mut dyn Runner, out: &mut dyn Write) -> Flow {
        loop {
            let Some((chapter, exercise)) = self.current() else {
                // The chapter is done (or has no exercise): the next one, if any.
                if self.chapter + 1 >= self.chapters.len() {
                    let _ = writeln!(out, "\nEvery exercise passes. Well done!");
                    return Flow::Stop;
                }
                self.chapter += 1;
                if let Err(e) = self.enter_chapter(runner) {
                    let _ = writeln!(out, "{e}");
                    return Flow::Stop;
                }
                let _ = writeln!(out, "\n== on to {}", self.chapters[self.chapter]);
                continue;
            };
            let (chapter, exercise) = (chapter.to_owned(), exercise.to_owned());
            let about = match runner.book(&chapter, &exercise) {
                Some(BookExercise {
                    title,
                    minutes: Some(minutes),
                    ..
                }) => format!(": {title} (about {minutes} minutes)"),
                Some(book) => format!(": {}", book.title),
                None => String::new(),
            };
            let _ = writeln!(out, "\n== {chapter} {exercise}{about}");
            let attempt = runner.run(&chapter, &exercise);
            let key = (chapter.clone(), exercise.clone());
            match &attempt {
                Attempt::Ran(status) if status.done() => {
                    let _ = writeln!(out, "✓ {exercise} passes ({})", status.cell());
                    self.seen.insert(key, "done".to_owned());
                    self.exercise += 1;
                    continue;
                }
                Attempt::Ran(status) => {
                    self.seen.insert(key, status.cell());
                    let _ = writeln!(out, "✗ {}", status.cell());
                    if let Some(failure) = status.first_failure(6) {
                        let kind = if failure.timed_out {
                            "timed out"
                        } else {
                            "fails"
                        };
                        let _ = writeln!(out, "  {} {kind}:", failure.test);
                        for line in &failure.lines {
                            let _ = writeln!(out, "    {line}");
                        }
                        if let Some(location) = failure.location_if_not_shown() {
                            let _ = writeln!(out, "  at {location}");
                        }
                    }
                }
                Attempt::DoesNotCompile(error) => {
                    self.seen.insert(key, "does not compile".to_owned());
                    let _ = writeln!(out, "✗ does not compile:\n{}", indent(error, "  "));
                }
                Attempt::Broken(error) => {
                    let _ = writeln!(out, "✗ the tests could not run: {error}");
                }
            }
            let _ = writeln!(out, "\nSave a file under chapters/ to run again. {KEYS}");
            let _ = out.flush();
            return Flow::Continue;
        }
    }

    fn list(&self, runner: &mut dyn Runner, out: &mut dyn Write) {
        let Some(chapter) = self.chapters.get(self.chapter) else {
            return;
        };
        let _ = writeln!(out, "\n{chapter}:");
        for (i, exercise) in self.exercises.iter().enumerate() {
            let state = if i < self.exercise {
                "done".to_owned()
            } else {
                self.seen
                    .get(&(chapter.clone(), exercise.clone()))
                    .cloned()
                    .unwrap_or_else(|| "not run yet".to_owned())
            };
            let marker = if i == self.exercise { "->" } else { "  " };
            let book = runner.book(chapter, exercise);
            let minutes = exercises::minutes_cell(book.as_ref());
            let title = book.map(|b| b.title).unwrap_or_default();
            let line = format!("{marker} {exercise:<5} {minutes:>6}  {state:<24} {title}");
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
}

/// The typed commands.
const KEYS: &str = "Type h for a hint, l for the list, r to run again, q to quit (then Enter).";

/// The times of the files under a directory, to see saves.
pub struct Files {
    dir: PathBuf,
    times: BTreeMap<PathBuf, (SystemTime, u64)>,
}

impl Files {
    /// Watches every file under `dir`.
    pub fn new(dir: &Path) -> Files {
        let mut files = Files {
            dir: dir.to_path_buf(),
            times: BTreeMap::new(),
        };
        files.times = files.scan();
        files
    }

    /// Each file's time and length: the time alone may not move when two saves fall
    /// in one tick of the file system's clock.
    fn scan(&self) -> BTreeMap<PathBuf, (SystemTime, u64)> {
        let mut paths = Vec::new();
        chapters::rust_files(&self.dir, &mut paths);
        let mut toml = Vec::new();
        chapters::files_with_extension(&self.dir, "toml", &mut toml);
        paths.extend(toml);
        paths
            .into_iter()
            .filter_map(|p| {
                let meta = fs::metadata(&p).ok()?;
                Some((p, (meta.modified().ok()?, meta.len())))
            })
            .collect()
    }

    /// Whether a file was saved, created or removed since the last call.
    pub fn changed(&mut self) -> bool {
        let now = self.scan();
        let changed = now != self.times;
        self.times = now;
        changed
    }
}

/// The real runner: cargo builds the chapter's tests, the kit runs them.
struct CargoRunner<'a> {
    root: &'a Path,
    chapters: Vec<Chapter>,
    log_dir: PathBuf,
    builds: BTreeMap<String, crate::cargo::Build>,
}

impl CargoRunner<'_> {
    fn build(&mut self, chapter: &str) -> Result<&crate::cargo::Build, String> {
        let found = self
            .chapters
            .iter()
            .find(|c| c.name == chapter)
            .ok_or_else(|| format!("no chapter {chapter}"))?;
        let build = test_build(self.root, &[found], &[], false)?;
        self.builds.insert(chapter.to_owned(), build);
        Ok(&self.builds[chapter])
    }
}

impl Runner for CargoRunner<'_> {
    fn exercises(&mut self, chapter: &str) -> Result<Vec<String>, String> {
        let listed = match self.build(chapter) {
            Ok(build) => tests_run::list_chapter(build, chapter),
            Err(e) => Err(e),
        };
        match listed {
            Ok(names) => Ok(by_exercise(names.iter().map(String::as_str))
                .into_iter()
                .filter_map(|(exercise, _)| exercise)
                .collect()),
            // The tests do not build yet: the exercises from the skeleton's files.
            Err(_) => {
                let skeleton = self.root.join("chapters").join(chapter);
                let files = chapters::exercise_files(self.root, &skeleton);
                let mut ids: Vec<String> = files.into_keys().collect();
                ids.sort_by_key(|id| id[2..].parse::<u32>().unwrap_or(u32::MAX));
                Ok(ids)
            }
        }
    }

    fn run(&mut self, chapter: &str, exercise: &str) -> Attempt {
        let log_dir = self.log_dir.clone();
        let build = match self.build(chapter) {
            Ok(build) => build,
            Err(e) => return Attempt::Broken(e),
        };
        if !build.success || !build.tests.contains_key(chapter) {
            let error = build
                .errors()
                .first()
                .map(|e| e.lines().take(20).collect::<Vec<_>>().join("\n"))
                .unwrap_or_else(|| "the build failed: see cargo's output above".to_owned());
            return Attempt::DoesNotCompile(error);
        }
        let run = tests_run::run_chapter_with(
            build,
            chapter,
            "watch",
            &log_dir,
            RunOptions {
                env: failing_env(),
                timeout: Duration::from_secs(600),
                per_test: Some(Duration::from_secs(60)),
                exercise: Some(exercise.to_owned()),
                confine: None,
                rounds: tests_run::ROUNDS,
            },
        );
        match run {
            ChapterRun::Ran(run) => progress::statuses(&run)
                .into_iter()
                .find(|s| s.exercise == exercise)
                .map_or_else(
                    || Attempt::Broken(format!("no test of {exercise}")),
                    Attempt::Ran,
                ),
            ChapterRun::NotBuilt => Attempt::DoesNotCompile("the tests were not built".to_owned()),
            ChapterRun::Broken(e) => Attempt::Broken(e),
        }
    }

    fn hint(&mut self, chapter: &str, exercise: &str) -> String {
        let number = hint::exercise_number(exercise).unwrap_or(0);
        hint::show(self.root, chapter, number, None).unwrap_or_else(|e| e)
    }

    fn book(&mut self, chapter: &str, exercise: &str) -> Option<BookExercise> {
        let number = hint::exercise_number(exercise).ok()?;
        exercises::read(self.root, chapter).ok()?.remove(&number)
    }
}

/// `cargo xtask watch [chapter]`.
pub fn run(root: &Path, wanted: &[String]) -> Result<(), String> {
    let all = chapters::discover(root)?;
    let with_tests: Vec<&Chapter> = all.iter().filter(|c| c.tests.exists()).collect();
    let first = match wanted {
        [] => progress::working_chapter(&with_tests, &[])
            .map(|(c, _)| c.name.clone())
            .ok_or("no chapter has tests")?,
        [one] => {
            let selected = chapters::select(chapters::discover(root)?, std::slice::from_ref(one))?;
            selected
                .into_iter()
                .next()
                .map(|c| c.name)
                .ok_or("no such chapter")?
        }
        _ => return Err("watch follows one chapter at a time".to_owned()),
    };
    let order: Vec<String> = with_tests
        .iter()
        .map(|c| c.name.clone())
        .skip_while(|name| *name != first)
        .collect();
    let log_dir = target_dir(root).join("xtask");
    let mut runner = CargoRunner {
        root,
        chapters: all,
        log_dir,
        builds: BTreeMap::new(),
    };
    let mut out = io::stdout();
    println!("watch: following {first}; saving a file under chapters/ runs the tests again.");
    let (mut watch, mut flow) = Watch::start(order, &mut runner, &mut out)?;
    let mut files = Files::new(&root.join("chapters"));
    let typed = typed_lines();
    while flow == Flow::Continue {
        let event = match typed.recv_timeout(POLL) {
            Ok(line) => Some(Event::Typed(line)),
            // No terminal any more (stdin closed): watching goes on, saves still count.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                thread::sleep(POLL);
                None
            }
            Err(mpsc::RecvTimeoutError::Timeout) => None,
        };
        let event = event.or_else(|| files.changed().then_some(Event::Saved));
        if let Some(event) = event {
            flow = watch.handle(event, &mut runner, &mut out);
        }
    }
    Ok(())
}

/// The lines typed on stdin, from a thread of their own.
fn typed_lines() -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        for line in io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests_run::Outcome;

    /// A runner whose exercises pass when a file `<exercise>.done` exists in `dir`.
    struct Fake {
        dir: PathBuf,
        runs: Vec<String>,
    }

    impl Runner for Fake {
        fn exercises(&mut self, chapter: &str) -> Result<Vec<String>, String> {
            Ok(match chapter {
                "ch01_a" => vec!["ex1".into(), "ex2".into()],
                _ => vec!["ex1".into()],
            })
        }

        fn run(&mut self, chapter: &str, exercise: &str) -> Attempt {
            self.runs.push(format!("{chapter} {exercise}"));
            let done = self.dir.join(format!("{chapter}.{exercise}.done")).exists();
            let outcome = if done {
                Outcome::Passed
            } else {
                Outcome::Failed(format!(
                    "thread 'x' panicked at chapters/{chapter}/src/lib.rs:7:5:\n\
                     not yet implemented: {exercise}\nat chapters/{chapter}/src/lib.rs:7:5"
                ))
            };
            Attempt::Ran(ExerciseStatus {
                exercise: exercise.into(),
                tests: vec![(format!("{exercise}_works"), outcome)],
                timed_out: Vec::new(),
            })
        }

        fn hint(&mut self, chapter: &str, exercise: &str) -> String {
            format!("Hint 1 of 1, {chapter} exercise {exercise}")
        }

        fn book(&mut self, _: &str, exercise: &str) -> Option<BookExercise> {
            (exercise == "ex1").then(|| BookExercise {
                number: 1,
                title: "the first".into(),
                minutes: Some(10),
                ..BookExercise::default()
            })
        }
    }

    fn text(out: &mut Vec<u8>) -> String {
        String::from_utf8(std::mem::take(out)).unwrap()
    }

    #[test]
    fn a_save_runs_the_tests_and_a_pass_moves_on() {
        let dir = std::env::temp_dir().join(format!("xtask-watch-{}", std::process::id()));
        let src = dir.join("chapters/ch01_a/src");
        fs::create_dir_all(&src).unwrap();
        fs::write(src.join("lib.rs"), "").unwrap();
        let mut runner = Fake {
            dir: dir.clone(),
            runs: Vec::new(),
        };
        let mut out = Vec::new();
        let chapters = vec!["ch01_a".to_owned(), "ch02_b".to_owned()];
        let (mut watch, flow) = Watch::start(chapters, &mut runner, &mut out).unwrap();
        assert_eq!(flow, Flow::Continue);
        assert_eq!(runner.runs, ["ch01_a ex1"]);
        let shown = text(&mut out);
        assert!(
            shown.contains("== ch01_a ex1: the first (about 10 minutes)\n"),
            "{shown}"
        );
        assert!(shown.contains("✗ 0/1 passing\n  ex1_works fails:\n    not yet implemented: ex1"));
        assert!(
            shown.contains("  at chapters/ch01_a/src/lib.rs:7"),
            "{shown}"
        );

        // Nothing saved: nothing runs.
        let mut files = Files::new(&dir.join("chapters"));
        assert!(!files.changed());

        // A save with the exercise still failing: one more run of the same one.
        fs::write(src.join("lib.rs"), "// more").unwrap();
        assert!(files.changed(), "a new length or time is a save");
        assert_eq!(
            watch.handle(Event::Saved, &mut runner, &mut out),
            Flow::Continue
        );
        assert_eq!(runner.runs, ["ch01_a ex1", "ch01_a ex1"]);
        text(&mut out);

        // It passes: the next exercise runs at once, and fails.
        fs::write(dir.join("ch01_a.ex1.done"), "").unwrap();
        watch.handle(Event::Saved, &mut runner, &mut out);
        assert_eq!(runner.runs[2..], ["ch01_a ex1", "ch01_a ex2"]);
        assert_eq!(watch.current(), Some(("ch01_a", "ex2")));
        let shown = text(&mut out);
        assert!(shown.contains("✓ ex1 passes (1/1 passing)"), "{shown}");

        // Hint and list, typed.
        watch.handle(Event::Typed("h".into()), &mut runner, &mut out);
        assert!(text(&mut out).contains("Hint 1 of 1, ch01_a exercise ex2"));
        watch.handle(Event::Typed("l".into()), &mut runner, &mut out);
        let list = text(&mut out);
        assert!(
            list.contains("   ex1   10 min  done                     the first\n"),
            "{list}"
        );
        assert!(list.contains("-> ex2        -  0/1 passing\n"), "{list}");

        // The chapter done: on to the next chapter; all done: the loop stops.
        fs::write(dir.join("ch01_a.ex2.done"), "").unwrap();
        watch.handle(Event::Saved, &mut runner, &mut out);
        assert_eq!(watch.current(), Some(("ch02_b", "ex1")));
        assert!(text(&mut out).contains("== on to ch02_b"));
        fs::write(dir.join("ch02_b.ex1.done"), "").unwrap();
        assert_eq!(
            watch.handle(Event::Typed("r".into()), &mut runner, &mut out),
            Flow::Stop
        );
        assert!(text(&mut out).contains("Every exercise passes"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn starts_on_the_first_unfinished_exercise_and_quits() {
        let dir = std::env::temp_dir().join(format!("xtask-watch-q-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("ch01_a.ex1.done"), "").unwrap();
        let mut runner = Fake {
            dir: dir.clone(),
            runs: Vec::new(),
        };
        let mut out = Vec::new();
        let (mut watch, _) = Watch::start(vec!["ch01_a".into()], &mut runner, &mut out).unwrap();
        assert_eq!(watch.current(), Some(("ch01_a", "ex2")));
        assert_eq!(runner.runs, ["ch01_a ex1", "ch01_a ex2"]);
        assert_eq!(
            watch.handle(Event::Typed("x".into()), &mut runner, &mut out),
            Flow::Continue
        );
        assert!(text(&mut out).contains("`x`? Type h for a hint"));
        assert_eq!(
            watch.handle(Event::Typed("q".into()), &mut runner, &mut out),
            Flow::Stop
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
