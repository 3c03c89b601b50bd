//! `cargo xtask mutants [chapter]...`: how many plausible wrong solutions the suite
//! catches. cargo-mutants mutates a chapter's solution crate (replaces a function's body
//! by a default value, flips an operator, ...) and runs the chapter's tests against each
//! mutant; a mutant the tests still pass is "missed": a wrong implementation a student
//! could hand in and get full marks for.
//!
//! The invocation that works for this layout (PLATFORM-FACTS): the tests live in the
//! root package, so `--test-package=workbook --features solutions`, and the baseline is
//! skipped because cargo-mutants' baseline would build only the mutated package.
//! Results go to `target/mutants/<chapter>/mutants.out/`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::cargo::{program, target_dir};
use crate::chapters::{self, Chapter};
use crate::table::Table;

/// The per-mutant test timeout, in seconds: the kit's deadlines turn a deadlock into a
/// failure within seconds, so a mutant still running after this is a real timeout.
const TIMEOUT_SECS: u32 = 60;

/// `cargo xtask mutants`: every chapter, or the ones named.
pub fn run(root: &Path, wanted: &[String]) -> Result<(), String> {
    if !installed() {
        return Err("cargo-mutants is not installed. Install it with \
             `cargo install cargo-mutants --locked` (about 1.5 minutes), then run this again."
            .to_owned());
    }
    let chapters = chapters::select(chapters::discover(root)?, wanted)?;
    let mut figures = Vec::new();
    for chapter in &chapters {
        println!(
            "== {}: mutating {}",
            chapter.name,
            chapter.solution_package()
        );
        let started = Instant::now();
        let out = run_chapter(root, chapter)?;
        let result = read_results(&out.join("mutants.out"))?;
        println!(
            "   {} in {:.0} s; results in {}",
            chapter.name,
            started.elapsed().as_secs_f64(),
            chapters::relative(root, &out.join("mutants.out"))
        );
        figures.push((chapter.name.clone(), result));
    }
    println!();
    print_summary(&figures);
    Ok(())
}

/// Whether `cargo mutants` is there.
fn installed() -> bool {
    Command::new(program())
        .args(["mutants", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The arguments of cargo-mutants for `chapter`, writing under `out`.
pub fn arguments(chapter: &Chapter, out: &Path) -> Vec<String> {
    let timeout = TIMEOUT_SECS.to_string();
    let mut args: Vec<String> = [
        "mutants",
        "--package",
        &chapter.solution_package(),
        "--test-package=workbook",
        "--features",
        "solutions",
        "--baseline=skip",
        "--jobs",
        "1",
        "--timeout",
        &timeout,
        "--colors",
        "never",
        "--output",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(out.display().to_string());
    args.extend(["--".to_owned(), "--test".to_owned(), chapter.name.clone()]);
    args
}

/// Runs cargo-mutants on one chapter, its output shown as it goes; returns the
/// directory holding `mutants.out`.
fn run_chapter(root: &Path, chapter: &Chapter) -> Result<PathBuf, String> {
    let out = target_dir(root).join("mutants").join(&chapter.name);
    fs::create_dir_all(&out).map_err(|e| format!("creating {}: {e}", out.display()))?;
    let status = Command::new(program())
        .args(arguments(chapter, &out))
        .current_dir(root)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("running cargo mutants: {e}"))?;
    // cargo-mutants exits 2 when mutants were missed and 3 on timeouts: results, not
    // failures of the run. 1 is a usage error, 4 a failed baseline.
    match status.code() {
        Some(0 | 2 | 3) => Ok(out),
        _ => Err(format!(
            "cargo mutants failed on {} ({status})",
            chapter.name
        )),
    }
}

/// What cargo-mutants found for one chapter.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Results {
    /// Mutants the tests failed on: good.
    pub caught: Vec<String>,
    /// Mutants the tests passed: wrong implementations that get full marks.
    pub missed: Vec<String>,
    /// Mutants whose tests did not finish in time.
    pub timeout: Vec<String>,
    /// Mutants that did not compile: they say nothing about the tests.
    pub unviable: Vec<String>,
}

impl Results {
    /// The mutants that compiled: caught, missed or timed out.
    pub fn viable(&self) -> usize {
        self.caught.len() + self.missed.len() + self.timeout.len()
    }

    /// Caught over viable, in percent (a timeout is not counted as caught).
    pub fn score(&self) -> Option<f64> {
        let viable = self.viable();
        (viable > 0).then(|| 100.0 * self.caught.len() as f64 / viable as f64)
    }
}

/// Reads `caught.txt`, `missed.txt`, `timeout.txt` and `unviable.txt` of a
/// `mutants.out` directory: one mutant per line.
pub fn read_results(dir: &Path) -> Result<Results, String> {
    let read = |name: &str| -> Result<Vec<String>, String> {
        let path = dir.join(name);
        match fs::read_to_string(&path) {
            Ok(text) => Ok(text
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(format!("reading {}: {e}", path.display())),
        }
    };
    if !dir.join("outcomes.json").exists() {
        return Err(format!("{} holds no results", dir.display()));
    }
    Ok(Results {
        caught: read("caught.txt")?,
        missed: read("missed.txt")?,
        timeout: read("timeout.txt")?,
        unviable: read("unviable.txt")?,
    })
}

fn print_summary(figures: &[(String, Results)]) {
    let width = figures.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let table = Table::start(
        &[
            "chapter",
            "caught",
            "missed",
            "timeout",
            "unviable",
            "caught of viable",
        ],
        &[width, 6, 6, 7, 8],
    );
    for (name, r) in figures {
        table.row(&[
            name.clone(),
            r.caught.len().to_string(),
            r.missed.len().to_string(),
            r.timeout.len().to_string(),
            r.unviable.len().to_string(),
            match r.score() {
                Some(score) => format!("{score:.1} % ({} of {})", r.caught.len(), r.viable()),
                None => "-".to_owned(),
            },
        ]);
    }
    for (name, r) in figures {
        if !r.missed.is_empty() {
            println!(
                "\nmissed in {name} (each needs a test, or a note saying why it is equivalent):"
            );
            for mutant in &r.missed {
                println!("  {mutant}");
            }
        }
        if !r.timeout.is_empty() {
            println!("\ntimed out in {name} (a deadlock the tests did not turn into a failure):");
            for mutant in &r.timeout {
                println!("  {mutant}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cargo_mutants_results() {
        let dir = std::env::temp_dir().join(format!("xtask-mutants-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        assert!(read_results(&dir).is_err(), "no outcomes.json: no results");
        fs::write(dir.join("outcomes.json"), "{}").unwrap();
        fs::write(
            dir.join("caught.txt"),
            "a.rs:1:1: replace f -> u32 with 0\nb\nc\n",
        )
        .unwrap();
        fs::write(
            dir.join("missed.txt"),
            "d.rs:2:5: replace == with != in g\n",
        )
        .unwrap();
        fs::write(dir.join("unviable.txt"), "e\n").unwrap();
        let results = read_results(&dir).unwrap();
        assert_eq!(results.caught.len(), 3);
        assert_eq!(results.missed, ["d.rs:2:5: replace == with != in g"]);
        assert!(results.timeout.is_empty());
        fs::write(dir.join("timeout.txt"), "f\n").unwrap();
        let results = read_results(&dir).unwrap();
        assert_eq!(results.viable(), 5, "unviable mutants do not count");
        assert_eq!(results.score(), Some(60.0), "nor do timeouts as caught");
        assert_eq!(Results::default().score(), None);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_invocation_for_this_layout() {
        let root = Path::new("/w");
        let chapter = Chapter {
            name: "ch01_setup".into(),
            skeleton: root.join("chapters/ch01_setup"),
            solution: root.join("solutions/ch01_setup"),
            tests: root.join("tests/ch01_setup.rs"),
            page: root.join("book/src/ch01_setup.md"),
        };
        let args = arguments(&chapter, Path::new("/w/target/mutants/ch01_setup")).join(" ");
        assert_eq!(
            args,
            "mutants --package ch01_setup_solution --test-package=workbook --features \
             solutions --baseline=skip --jobs 1 --timeout 60 --colors never --output \
             /w/target/mutants/ch01_setup -- --test ch01_setup"
        );
    }
}
