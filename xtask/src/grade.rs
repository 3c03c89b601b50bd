//! `cargo xtask grade <student-checkout>...`: an instructor's grader.
//!
//! Only what a student writes is taken from their checkout: the files under
//! `chapters/chNN_slug/src/`. They are copied into one pristine copy of this repository
//! (`target/xtask/grade/work`, made from the files git tracks here), so a student's
//! `tests/`, snapshots, kit, Cargo files or build scripts never count. Every chapter's
//! tests then run against them, each test under a time limit and each test executable
//! with its processes capped ([`Confinement`]), and one row per student gives every
//! exercise's tests passed / tests and a total.
//!
//! The copy and its target directory (`target/xtask/grade/target`) are kept between
//! runs: after the first, only the students' crates and the test executables are
//! compiled again.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::cargo::{build_into, target_dir, test_build_args, Build};
use crate::chapters::{self, Chapter};
use crate::confine::Confinement;
use crate::progress::{self, ExerciseStatus};
use crate::tests_run::{self, failing_env, ChapterRun, RunOptions};

/// How the grades are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A table for people.
    Markdown,
    /// Two columns per exercise (passed, tests), for a spreadsheet.
    Csv,
    /// Everything, every failing test included.
    Json,
}

/// What the command line asked for.
#[derive(Debug)]
pub struct Args {
    /// The students' checkouts.
    pub checkouts: Vec<PathBuf>,
    /// The output format.
    pub format: Format,
    /// The limit of one test.
    pub test_timeout: Duration,
    /// The cap on the processes and threads of one test executable.
    pub max_processes: u64,
    /// Only these chapters (names or prefixes); all when empty.
    pub chapters: Vec<String>,
}

impl Args {
    /// `CHECKOUT... [--format markdown|csv|json] [--test-timeout SECS]
    /// [--max-processes N] [--chapter NAME]...`
    pub fn parse(args: &[String]) -> Result<Args, String> {
        let mut parsed = Args {
            checkouts: Vec::new(),
            format: Format::Markdown,
            test_timeout: Duration::from_secs(60),
            max_processes: 256,
            chapters: Vec::new(),
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .cloned()
                    .ok_or_else(|| format!("{name} needs a value"))
            };
            match arg.as_str() {
                "--format" => {
                    parsed.format = match value("--format")?.as_str() {
                        "markdown" | "md" => Format::Markdown,
                        "csv" => Format::Csv,
                        "json" => Format::Json,
                        other => return Err(format!("--format {other}: markdown, csv or json")),
                    }
                }
                "--test-timeout" => {
                    let secs = value("--test-timeout")?;
                    parsed.test_timeout = secs
                        .parse::<f64>()
                        .ok()
                        .filter(|s| *s > 0.0)
                        .map(Duration::from_secs_f64)
                        .ok_or_else(|| format!("--test-timeout {secs}: not a positive number"))?;
                }
                "--max-processes" => {
                    let n = value("--max-processes")?;
                    parsed.max_processes = n
                        .parse()
                        .ok()
                        .filter(|n| *n >= 8)
                        .ok_or_else(|| format!("--max-processes {n}: a number, 8 or more"))?;
                }
                "--chapter" => parsed.chapters.push(value("--chapter")?),
                option if option.starts_with('-') => {
                    return Err(format!("grade: unknown option `{option}`"))
                }
                checkout => parsed.checkouts.push(PathBuf::from(checkout)),
            }
        }
        if parsed.checkouts.is_empty() {
            return Err("grade needs at least one student checkout".to_owned());
        }
        Ok(parsed)
    }
}

/// One student's grade.
#[derive(Debug)]
pub struct Grade {
    /// A name for the row: the checkout's directory name.
    pub student: String,
    /// The checkout graded.
    pub checkout: PathBuf,
    /// Per chapter, per exercise.
    pub chapters: Vec<(String, Vec<ExerciseStatus>)>,
    /// What the grader had to do or could not (a chapter missing, not compiling...).
    pub notes: Vec<String>,
    /// How long it took.
    pub elapsed: Duration,
}

impl Grade {
    /// Tests passed and tests, over every graded test.
    pub fn total(&self) -> (usize, usize) {
        let statuses = self.chapters.iter().flat_map(|(_, s)| s);
        let passed = statuses.clone().map(ExerciseStatus::passing).sum();
        let tests = statuses.map(|s| s.tests.len()).sum();
        (passed, tests)
    }

    /// Exercises whose every test passes, and exercises.
    pub fn exercises_done(&self) -> (usize, usize) {
        let statuses = self.chapters.iter().flat_map(|(_, s)| s);
        (
            statuses.clone().filter(|s| s.done()).count(),
            statuses.count(),
        )
    }

    /// The status of `exercise` of `chapter`.
    pub fn exercise(&self, chapter: &str, exercise: &str) -> Option<&ExerciseStatus> {
        self.chapters
            .iter()
            .find(|(name, _)| name == chapter)?
            .1
            .iter()
            .find(|s| s.exercise == exercise)
    }
}

/// `cargo xtask grade`.
pub fn run(root: &Path, args: &Args) -> Result<(), String> {
    let grades = grade(root, args)?;
    print!("{}", render(&grades, args.format));
    Ok(())
}

/// Grades every checkout of `args`; progress goes to stderr.
pub fn grade(root: &Path, args: &Args) -> Result<Vec<Grade>, String> {
    let all = chapters::discover(root)?;
    let names: Vec<String> = all.iter().map(|c| c.name.clone()).collect();
    let selected: Vec<String> = chapters::select(chapters::discover(root)?, &args.chapters)?
        .into_iter()
        .filter(|c| c.tests.exists())
        .map(|c| c.name)
        .collect();
    let confine = Confinement::new(args.max_processes)?;
    eprintln!("grade: {}", confine.describe());
    eprintln!(
        "grade: each test may run {:?}; each exercise's own deadline is the kit's",
        args.test_timeout
    );
    let base = target_dir(root).join("xtask/grade");
    let work = base.join("work");
    let pristine = pristine_files(root)?;
    let mut grades = Vec::new();
    let labels = labels(&args.checkouts);
    for (checkout, student) in args.checkouts.iter().zip(labels) {
        let started = Instant::now();
        eprintln!("\n== grading {student} ({})", checkout.display());
        if !checkout.join("chapters").is_dir() {
            return Err(format!(
                "{}: no chapters/ directory: not a checkout of the workbook",
                checkout.display()
            ));
        }
        let mut notes = sync(root, &work, &pristine, checkout, &names)?;
        let build = build_until_it_compiles(root, &work, &names, &selected, &mut notes)?;
        let log_dir = base.join("logs").join(&student);
        let _ = fs::remove_dir_all(&log_dir);
        let mut chapters = Vec::new();
        for name in &selected {
            eprintln!("   running {name}");
            let run = tests_run::run_chapter_with(
                &build,
                name,
                "grade",
                &log_dir,
                RunOptions {
                    env: failing_env(),
                    timeout: Duration::from_secs(600),
                    per_test: Some(args.test_timeout),
                    exercise: None,
                    confine: Some(&confine),
                    // Every test gets its turn, however many hang.
                    rounds: usize::MAX,
                },
            );
            let statuses = match run {
                ChapterRun::Ran(run) => {
                    if let Some(trouble) = run.trouble() {
                        notes.push(format!("{name}: {trouble}"));
                    }
                    progress::statuses(&run)
                }
                ChapterRun::NotBuilt => {
                    notes.push(format!("{name}: its tests did not build"));
                    Vec::new()
                }
                ChapterRun::Broken(e) => {
                    notes.push(format!("{name}: its tests could not run: {e}"));
                    Vec::new()
                }
            };
            chapters.push((name.clone(), statuses));
        }
        let left = confine.kill_all();
        if left > 0 {
            notes.push(format!("{left} process(es) left running were killed"));
        }
        let grade = Grade {
            student,
            checkout: checkout.clone(),
            chapters,
            notes,
            elapsed: started.elapsed(),
        };
        let (passed, tests) = grade.total();
        eprintln!(
            "   {passed}/{tests} tests in {:.1} s",
            grade.elapsed.as_secs_f64()
        );
        grades.push(grade);
    }
    Ok(grades)
}

/// Row names: each checkout's directory name, or its whole path when two share one.
fn labels(checkouts: &[PathBuf]) -> Vec<String> {
    let short = |p: &Path| {
        let p = p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| p.display().to_string())
    };
    let names: Vec<String> = checkouts.iter().map(|p| short(p)).collect();
    names
        .iter()
        .zip(checkouts)
        .map(|(name, path)| {
            if names.iter().filter(|n| *n == name).count() > 1 {
                path.display().to_string()
            } else {
                name.clone()
            }
        })
        .collect()
}

/// The files of the pristine repository, relative to `root`: what git tracks or would
/// (not ignored), as they are in the work tree; or every file but `target/`, `.git/`
/// and the built book when this is not a git checkout. The students' part, `chapters/*/src/`, is left out.
fn pristine_files(root: &Path) -> Result<Vec<PathBuf>, String> {
    let listed = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success());
    let mut files: Vec<PathBuf> = match listed {
        Some(output) => output
            .stdout
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
            .collect(),
        None => {
            let mut all = Vec::new();
            walk(root, root, &mut all, &|rel| {
                !(rel.starts_with("target")
                    || rel.starts_with(".git")
                    || rel.starts_with("book/book"))
            });
            all
        }
    };
    files.retain(|rel| !is_student_file(rel) && root.join(rel).is_file());
    files.sort();
    Ok(files)
}

/// Whether `rel` is a student's file: `chapters/<chapter>/src/...`.
fn is_student_file(rel: &Path) -> bool {
    let mut parts = rel.components();
    parts.next().is_some_and(|c| c.as_os_str() == "chapters")
        && parts.next().is_some()
        && parts.next().is_some_and(|c| c.as_os_str() == "src")
}

/// Every regular file under `dir` (symbolic links are not followed), relative to
/// `base`, that `keep` accepts.
fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>, keep: &dyn Fn(&Path) -> bool) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let Ok(rel) = path.strip_prefix(base) else {
            continue;
        };
        if !keep(rel) {
            continue;
        }
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(base, &path, out, keep),
            Ok(t) if t.is_file() => out.push(rel.to_path_buf()),
            _ => {}
        }
    }
}

/// Makes `work` the pristine repository with the student's `chapters/*/src`: files
/// that are already right are left alone (their timestamps too, so cargo does not
/// rebuild them), others are written, stray ones removed. Returns notes.
fn sync(
    root: &Path,
    work: &Path,
    pristine: &[PathBuf],
    checkout: &Path,
    chapter_names: &[String],
) -> Result<Vec<String>, String> {
    let mut notes = Vec::new();
    let mut wanted: BTreeMap<PathBuf, PathBuf> = pristine
        .iter()
        .map(|rel| (rel.clone(), root.join(rel)))
        .collect();
    for name in chapter_names {
        let rel_src = Path::new("chapters").join(name).join("src");
        let theirs = checkout.join(&rel_src);
        let from = if theirs.is_dir() {
            theirs
        } else {
            notes.push(format!(
                "{name}: not in the checkout; graded as the skeleton"
            ));
            root.join(&rel_src)
        };
        let mut files = Vec::new();
        walk(&from, &from, &mut files, &|_| true);
        for file in files {
            wanted.insert(rel_src.join(&file), from.join(&file));
        }
    }
    let mut present = Vec::new();
    walk(work, work, &mut present, &|_| true);
    for rel in present {
        if !wanted.contains_key(&rel) {
            let _ = fs::remove_file(work.join(&rel));
        }
    }
    for (rel, from) in &wanted {
        let to = work.join(rel);
        let bytes = fs::read(from).map_err(|e| format!("reading {}: {e}", from.display()))?;
        if fs::read(&to).ok().as_deref() == Some(&bytes[..]) {
            continue;
        }
        if let Some(dir) = to.parent() {
            fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        }
        fs::write(&to, &bytes).map_err(|e| format!("writing {}: {e}", to.display()))?;
    }
    Ok(notes)
}

/// Builds the selected chapters' tests in `work`. A student's crate that does not
/// compile would stop every chapter's tests from building (the root package depends
/// on all of them): it is replaced by its skeleton, which scores zero, and noted.
fn build_until_it_compiles(
    root: &Path,
    work: &Path,
    names: &[String],
    selected: &[String],
    notes: &mut Vec<String>,
) -> Result<Build, String> {
    let chapters: Vec<Chapter> = chapters::discover(work)?
        .into_iter()
        .filter(|c| selected.contains(&c.name))
        .collect();
    let refs: Vec<&Chapter> = chapters.iter().collect();
    let args = test_build_args(&refs, &[], false);
    // A target directory of its own: cargo names a workspace's own crates by their
    // path inside the workspace, so the copy's crates would overwrite this
    // repository's (same names, same hashes) in a shared one.
    let target = target_dir(root).join("xtask/grade/target");
    loop {
        let build = build_into(work, &args, Some(&target))?;
        if build.success {
            return Ok(build);
        }
        let broken: BTreeSet<&String> = names
            .iter()
            .filter(|name| {
                let manifest = work.join("chapters").join(name).join("Cargo.toml");
                build
                    .diagnostics
                    .iter()
                    .any(|d| d.level == "error" && d.manifest == manifest)
            })
            .collect();
        if broken.is_empty() {
            notes.push(
                "the build failed outside the student's crates: see cargo's output".to_owned(),
            );
            return Ok(build);
        }
        for name in broken {
            let first_error = build
                .errors()
                .first()
                .map(|e| e.lines().take(3).collect::<Vec<_>>().join(" / "))
                .unwrap_or_default();
            notes.push(format!(
                "{name}: does not compile, graded as the skeleton ({first_error})"
            ));
            let rel_src = Path::new("chapters").join(name).join("src");
            let dst = work.join(&rel_src);
            fs::remove_dir_all(&dst).map_err(|e| format!("removing {}: {e}", dst.display()))?;
            let src = root.join(&rel_src);
            let mut files = Vec::new();
            walk(&src, &src, &mut files, &|_| true);
            for file in files {
                let to = dst.join(&file);
                if let Some(dir) = to.parent() {
                    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                }
                fs::copy(src.join(&file), &to).map_err(|e| format!("{}: {e}", to.display()))?;
            }
        }
    }
}

/// The exercises of every chapter graded, in order, from the grades themselves.
fn columns(grades: &[Grade]) -> Vec<(String, String)> {
    let mut columns: Vec<(String, String)> = Vec::new();
    for grade in grades {
        for (chapter, statuses) in &grade.chapters {
            for status in statuses {
                let column = (chapter.clone(), status.exercise.clone());
                if !columns.contains(&column) {
                    columns.push(column);
                }
            }
        }
    }
    columns
}

/// The grades in `format`.
pub fn render(grades: &[Grade], format: Format) -> String {
    let columns = columns(grades);
    let short = |chapter: &str| chapter.split('_').next().unwrap_or(chapter).to_owned();
    match format {
        Format::Markdown => {
            let mut out = String::from("| student |");
            for (chapter, exercise) in &columns {
                out.push_str(&format!(" {} {exercise} |", short(chapter)));
            }
            out.push_str(" tests | exercises done |\n|---|");
            out.push_str(&"---|".repeat(columns.len() + 2));
            out.push('\n');
            for grade in grades {
                out.push_str(&format!("| {} |", grade.student));
                for (chapter, exercise) in &columns {
                    let cell = match grade.exercise(chapter, exercise) {
                        Some(s) if !s.timed_out.is_empty() => {
                            format!(
                                "{}/{} ({} timed out)",
                                s.passing(),
                                s.tests.len(),
                                s.timed_out.len()
                            )
                        }
                        Some(s) => format!("{}/{}", s.passing(), s.tests.len()),
                        None => "-".to_owned(),
                    };
                    out.push_str(&format!(" {cell} |"));
                }
                let (passed, tests) = grade.total();
                let (done, exercises) = grade.exercises_done();
                out.push_str(&format!(" {passed}/{tests} | {done}/{exercises} |\n"));
            }
            for grade in grades.iter().filter(|g| !g.notes.is_empty()) {
                out.push_str(&format!("\n{}:\n", grade.student));
                for note in &grade.notes {
                    out.push_str(&format!("- {note}\n"));
                }
            }
            out
        }
        Format::Csv => {
            let mut header = vec!["student".to_owned()];
            for (chapter, exercise) in &columns {
                header.push(format!("{chapter} {exercise} passed"));
                header.push(format!("{chapter} {exercise} tests"));
            }
            header
                .extend(["tests passed", "tests", "exercises done", "exercises"].map(String::from));
            let mut out = csv_line(&header);
            for grade in grades {
                let mut row = vec![grade.student.clone()];
                for (chapter, exercise) in &columns {
                    match grade.exercise(chapter, exercise) {
                        Some(s) => row.extend([s.passing().to_string(), s.tests.len().to_string()]),
                        None => row.extend([String::new(), String::new()]),
                    }
                }
                let (passed, tests) = grade.total();
                let (done, exercises) = grade.exercises_done();
                row.extend([passed, tests, done, exercises].map(|n| n.to_string()));
                out.push_str(&csv_line(&row));
            }
            out
        }
        Format::Json => {
            let students: Vec<Value> = grades.iter().map(grade_json).collect();
            let mut text = serde_json::to_string_pretty(&json!({ "students": students }))
                .expect("JSON of strings and numbers");
            text.push('\n');
            text
        }
    }
}

fn grade_json(grade: &Grade) -> Value {
    let chapters: serde_json::Map<String, Value> = grade
        .chapters
        .iter()
        .map(|(chapter, statuses)| {
            let exercises: serde_json::Map<String, Value> = statuses
                .iter()
                .map(|s| {
                    let failures: Vec<Value> = s
                        .tests
                        .iter()
                        .filter(|(_, o)| *o != tests_run::Outcome::Passed)
                        .map(|(test, outcome)| {
                            let one = ExerciseStatus {
                                tests: vec![(test.clone(), outcome.clone())],
                                timed_out: s
                                    .timed_out
                                    .iter()
                                    .filter(|t| *t == test)
                                    .cloned()
                                    .collect(),
                                ..s.clone()
                            };
                            let failure = one.first_failure(6).expect("a failing test");
                            json!({
                                "test": test,
                                "timed_out": failure.timed_out,
                                "message": failure.lines.join("\n"),
                                "location": failure.location,
                            })
                        })
                        .collect();
                    (
                        s.exercise.clone(),
                        json!({
                            "passed": s.passing(),
                            "tests": s.tests.len(),
                            "timed_out": s.timed_out.len(),
                            "failures": failures,
                        }),
                    )
                })
                .collect();
            (chapter.clone(), Value::Object(exercises))
        })
        .collect();
    let (passed, tests) = grade.total();
    let (done, exercises) = grade.exercises_done();
    json!({
        "student": grade.student,
        "checkout": grade.checkout.display().to_string(),
        "chapters": chapters,
        "total": { "passed": passed, "tests": tests },
        "exercises_done": { "done": done, "exercises": exercises },
        "notes": grade.notes,
        "seconds": (grade.elapsed.as_secs_f64() * 10.0).round() / 10.0,
    })
}

fn csv_line(cells: &[String]) -> String {
    let quoted: Vec<String> = cells
        .iter()
        .map(|c| {
            if c.contains([',', '"', '\n']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c.clone()
            }
        })
        .collect();
    format!("{}\n", quoted.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests_run::Outcome;

    #[test]
    fn only_chapters_src_is_the_students() {
        assert!(is_student_file(Path::new("chapters/ch01_setup/src/lib.rs")));
        assert!(is_student_file(Path::new("chapters/ch01_setup/src/a/b.rs")));
        assert!(!is_student_file(Path::new(
            "chapters/ch01_setup/Cargo.toml"
        )));
        assert!(!is_student_file(Path::new("chapters/ch01_setup/build.rs")));
        assert!(!is_student_file(Path::new("tests/ch01_setup.rs")));
        assert!(!is_student_file(Path::new(
            "solutions/ch01_setup/src/lib.rs"
        )));
    }

    #[test]
    fn parses_its_arguments() {
        let args = |a: &[&str]| Args::parse(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let parsed = args(&["a", "--format", "json", "b", "--test-timeout", "2.5"]).unwrap();
        assert_eq!(parsed.checkouts, [PathBuf::from("a"), PathBuf::from("b")]);
        assert_eq!(parsed.format, Format::Json);
        assert_eq!(parsed.test_timeout, Duration::from_millis(2500));
        assert!(args(&[]).is_err());
        assert!(args(&["a", "--format", "xml"]).is_err());
        assert!(args(&["a", "--max-processes", "2"]).is_err());
    }

    #[test]
    fn renders_rows_per_student() {
        let status = |exercise: &str, outcomes: Vec<Outcome>, timed_out: &[&str]| ExerciseStatus {
            exercise: exercise.into(),
            tests: outcomes
                .into_iter()
                .enumerate()
                .map(|(i, o)| (format!("{exercise}_{i}"), o))
                .collect(),
            timed_out: timed_out.iter().map(|t| t.to_string()).collect(),
        };
        let grade = Grade {
            student: "alice, b".into(),
            checkout: PathBuf::from("/c/alice"),
            chapters: vec![(
                "ch01_setup".into(),
                vec![
                    status("ex1", vec![Outcome::Passed, Outcome::Passed], &[]),
                    status(
                        "ex2",
                        vec![
                            Outcome::Passed,
                            Outcome::Failed("ex2_1: no result within 5s".into()),
                        ],
                        &["ex2_1"],
                    ),
                    status("ex3", vec![Outcome::NoResult], &["ex3_0"]),
                ],
            )],
            notes: vec!["ch05_sync: not in the checkout; graded as the skeleton".into()],
            elapsed: Duration::from_secs(3),
        };
        let markdown = render(std::slice::from_ref(&grade), Format::Markdown);
        assert!(markdown.starts_with(
            "| student | ch01 ex1 | ch01 ex2 | ch01 ex3 | tests | exercises done |\n"
        ));
        assert!(
            markdown
                .contains("| alice, b | 2/2 | 1/2 (1 timed out) | 0/1 (1 timed out) | 3/5 | 1/3 |"),
            "{markdown}"
        );
        assert!(markdown.contains("- ch05_sync: not in the checkout"));
        let csv = render(std::slice::from_ref(&grade), Format::Csv);
        assert_eq!(csv.lines().nth(1), Some("\"alice, b\",2,2,1,2,0,1,3,5,1,3"));
        let json: Value = serde_json::from_str(&render(&[grade], Format::Json)).unwrap();
        let ex2 = &json["students"][0]["chapters"]["ch01_setup"]["ex2"];
        assert_eq!(ex2["passed"], 1);
        assert_eq!(ex2["failures"][0]["test"], "ex2_1");
        assert_eq!(ex2["failures"][0]["timed_out"], true);
        assert_eq!(ex2["timed_out"], 1);
        let ex3 = &json["students"][0]["chapters"]["ch01_setup"]["ex3"];
        assert_eq!(ex3["failures"][0]["timed_out"], true);
        assert_eq!(json["students"][0]["total"]["tests"], 5);
    }

    /// Writes `text` to `dir/rel`, creating directories.
    fn put(dir: &Path, rel: &str, text: &str) {
        let path = dir.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    /// `file` with `line` inserted after the line that starts with `after`.
    fn insert_after(file: &str, after: &str, line: &str) -> String {
        assert!(file.contains(after), "the solution no longer has `{after}`");
        file.replacen(after, &format!("{after}\n{line}"), 1)
    }

    /// The grader end to end on chapter 1, four students in one run (one copy, one
    /// build directory): the solutions get full marks; untouched skeletons get zero
    /// with every test accounted for; a student who rewrote tests/ gets the pristine
    /// tests; one whose exercise 1 deadlocks (in the test's own thread) on one input
    /// and whose exercise 2 forks in a loop is graded in bounded time, with exercise
    /// 3 intact and nothing left running.
    ///
    /// About 40 s, but 2-3 minutes the first time on a machine (the copy's target
    /// directory builds every dependency once): CI runs it in a step of its own,
    /// `cargo test -p xtask -- --ignored`.
    #[test]
    #[ignore = "builds a copy of the workbook; CI runs it: cargo test -p xtask -- --ignored"]
    fn grades_checkouts_end_to_end() {
        let root = chapters::workspace_root();
        let dir = std::env::temp_dir().join(format!("xtask-grade-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let names: Vec<String> = chapters::discover(&root)
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        let copy_tree = |from: &Path, to: &Path| {
            let mut files = Vec::new();
            walk(from, from, &mut files, &|_| true);
            for file in files {
                fs::create_dir_all(to.join(&file).parent().unwrap()).unwrap();
                fs::copy(from.join(&file), to.join(&file)).unwrap();
            }
        };
        for student in ["solved", "skeleton", "tampered", "hostile"] {
            for name in &names {
                let side = if student == "solved" {
                    "solutions"
                } else {
                    "chapters"
                };
                copy_tree(
                    &root.join(side).join(name).join("src"),
                    &dir.join(student).join("chapters").join(name).join("src"),
                );
            }
        }
        // Tests that pass whatever the code does, named like the real ones; a
        // manifest that would add a build script.
        let mut fake = String::new();
        for exercise in [
            "ex1_process_name",
            "ex2_children_are_numbered_from_one",
            "ex3_format_line",
        ] {
            fake += &format!("#[test]\nfn {exercise}() {{}}\n");
        }
        put(&dir.join("tampered"), "tests/ch01_setup.rs", &fake);
        put(
            &dir.join("tampered"),
            "chapters/ch01_setup/build.rs",
            "fn main() { panic!() }\n",
        );
        let solution = |file: &str| {
            fs::read_to_string(root.join("solutions/ch01_setup/src").join(file)).unwrap()
        };
        // The hostile student: exercise 1 deadlocks on one input, exercise 3 forks
        // in a loop, exercise 2 is right.
        let hostile = dir.join("hostile/chapters/ch01_setup/src");
        fs::write(hostile.join("current.rs"), solution("current.rs")).unwrap();
        fs::write(
            hostile.join("naming.rs"),
            insert_after(
                &solution("naming.rs"),
                "pub fn process_name(kind: ProcessKind, identity: &[u32]) -> String {",
                "    while kind == ProcessKind::ForkPoolWorker { std::thread::sleep(std::time::Duration::from_secs(1)); }",
            ),
        )
        .unwrap();
        fs::write(
            hostile.join("logger.rs"),
            insert_after(
                &solution("logger.rs"),
                "pub fn log_to_fd(fd: RawFd, level: LevelFilter) -> Result<(), SetLoggerError> {",
                "    let mut forked = 0;
    for _ in 0..5000 {
        // Safety: the child only pauses.
        match unsafe { libc::fork() } {
            0 => loop { unsafe { libc::pause(); } },
            pid if pid > 0 => forked += 1,
            _ => break,
        }
    }
    panic!(\"forked {forked} children, then fork failed\");",
            ),
        )
        .unwrap();

        let cap = 48;
        let args = Args {
            checkouts: ["solved", "skeleton", "tampered", "hostile"]
                .iter()
                .map(|s| dir.join(s))
                .collect(),
            format: Format::Json,
            test_timeout: Duration::from_secs(3),
            max_processes: cap,
            chapters: vec!["ch01_setup".into()],
        };
        let grades = grade(&root, &args).unwrap();
        let [solved, skeleton, tampered, hostile] = &grades[..] else {
            panic!("four grades");
        };
        for g in &grades {
            eprintln!(
                "{}: {:?} in {:.1} s; {:?}",
                g.student,
                g.total(),
                g.elapsed.as_secs_f64(),
                g.notes
            );
        }

        let (passed, tests) = solved.total();
        assert!(
            tests >= 19 && passed == tests,
            "solutions: {passed}/{tests}"
        );
        let names_of = |g: &Grade| -> Vec<String> {
            g.chapters
                .iter()
                .flat_map(|(_, s)| s)
                .flat_map(|s| s.tests.iter().map(|(n, _)| n.clone()))
                .collect()
        };
        for zero in [skeleton, tampered] {
            assert_eq!(zero.total(), (0, tests), "{}", zero.student);
            assert_eq!(
                names_of(zero),
                names_of(solved),
                "every pristine test is run"
            );
            for status in zero.chapters.iter().flat_map(|(_, s)| s) {
                for (test, outcome) in &status.tests {
                    assert!(
                        matches!(outcome, Outcome::Failed(t) if t.contains("not yet implemented")),
                        "{}: {test} {outcome:?}",
                        zero.student
                    );
                }
            }
        }

        let ex = |e: &str| hostile.exercise("ch01_setup", e).unwrap();
        assert_eq!(
            ex("ex1").passing() + 1,
            ex("ex1").tests.len(),
            "one input deadlocks"
        );
        assert_eq!(ex("ex1").timed_out.len(), 1);
        let mut fork_loops = 0;
        for (test, outcome) in &ex("ex3").tests {
            let Outcome::Failed(text) = outcome else {
                continue;
            };
            let forked: u64 = text
                .split("forked ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
                .unwrap_or_else(|| panic!("{test}: {text}"));
            assert!(forked < cap, "{test}: forked {forked} under a cap of {cap}");
            fork_loops += 1;
        }
        assert!(fork_loops >= 3, "{:?}", ex("ex3"));
        assert!(ex("ex2").done(), "the other exercise's marks are intact");
        assert!(
            hostile.elapsed < Duration::from_secs(90),
            "graded in {:?}",
            hostile.elapsed
        );
        // Nothing runs in the copy any more.
        let work = target_dir(&root).join("xtask/grade/work");
        let left: Vec<String> = fs::read_dir("/proc")
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| fs::read_link(e.path().join("cwd")).is_ok_and(|cwd| cwd.starts_with(&work)))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            left.is_empty(),
            "processes left running in the copy: {left:?}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
