//! `cargo xtask bench [--quick] [--bench NAME]...`: runs every chapter's benchmark
//! (each `benches/chNN_*.rs`, CPython's side included, one after the other in this one
//! run), then assembles their figures files into one results file.
//!
//! A full run writes the figures the book quotes, `book/figures/<chapter>.json`, and
//! `target/xtask/bench/results.json`. A quick pass (`--quick`: every measurement with
//! far fewer repetitions, a smoke test CI affords) sets `WORKBOOK_BENCH_QUICK=1` and
//! sends every figures file to `target/xtask/bench/quick/figures/`: its noisy figures
//! never reach the book. Either way the results file is assembled from the figures
//! files the run wrote, the one source of figures; the book's "How fast is it?" page
//! is drawn from the same files the same way.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use crate::cargo;
use crate::chapters::relative;
use crate::results::{Chapter, Results};

/// What `cargo xtask bench` was asked.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Args {
    pub quick: bool,
    /// Benches to run (their names or prefixes, `ch05`); empty: every one.
    pub benches: Vec<String>,
}

impl Args {
    pub fn parse(args: &[String]) -> Result<Args, String> {
        let mut parsed = Args::default();
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            match arg.as_str() {
                "--quick" => parsed.quick = true,
                "--bench" => parsed
                    .benches
                    .push(rest.next().ok_or("--bench needs a bench name")?.clone()),
                other => return Err(format!("bench: unknown argument `{other}`")),
            }
        }
        Ok(parsed)
    }
}

/// The benches of the workspace: every `benches/chNN_*.rs` (a chapter's bench), by
/// name, sorted.
pub fn discover(root: &Path) -> Result<Vec<String>, String> {
    let dir = root.join("benches");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .map_err(|e| format!("reading {}: {e}", relative(root, &dir)))?
        .filter_map(Result::ok)
        .filter(|entry| entry.path().is_file())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter_map(|name| name.strip_suffix(".rs").map(str::to_owned))
        .filter(|name| is_chapter_bench(name))
        .collect();
    names.sort();
    Ok(names)
}

/// `chNN_...`: a chapter's bench.
fn is_chapter_bench(name: &str) -> bool {
    let bytes = name.as_bytes();
    name.starts_with("ch")
        && bytes.len() > 5
        && bytes[2].is_ascii_digit()
        && bytes[3].is_ascii_digit()
        && bytes[4] == b'_'
}

/// Where a run's figures files and its results file go.
pub fn dirs(root: &Path, quick: bool) -> (PathBuf, PathBuf) {
    let out = root.join("target/xtask/bench");
    if quick {
        (out.join("quick/figures"), out.join("quick/results.json"))
    } else {
        (root.join("book/figures"), out.join("results.json"))
    }
}

pub fn run(root: &Path, args: &Args) -> Result<(), String> {
    let all = discover(root)?;
    let benches: Vec<String> = if args.benches.is_empty() {
        all.clone()
    } else {
        let mut picked = Vec::new();
        for wanted in &args.benches {
            let found: Vec<&String> = all
                .iter()
                .filter(|b| b.starts_with(wanted.as_str()))
                .collect();
            match found.as_slice() {
                [one] => picked.push((*one).clone()),
                [] => return Err(format!("no bench `{wanted}` (benches: {})", all.join(", "))),
                many => {
                    return Err(format!(
                        "`{wanted}` names several benches: {}",
                        many.iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                }
            }
        }
        picked
    };
    let (figures_dir, results_file) = dirs(root, args.quick);
    fs::create_dir_all(&figures_dir)
        .map_err(|e| format!("creating {}: {e}", relative(root, &figures_dir)))?;
    let mode = if args.quick { "quick pass" } else { "full run" };
    println!(
        "bench: {mode} of {} ({}); figures into {}",
        benches.len(),
        benches.join(", "),
        relative(root, &figures_dir)
    );

    // Build them all first, so that the runs are not slowed by a compiler.
    let mut build = Command::new(cargo::program());
    build.current_dir(root).args(["bench", "--no-run"]);
    for bench in &benches {
        build.args(["--bench", bench]);
    }
    let status = build.status().map_err(|e| format!("running cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building the benches failed ({status})"));
    }

    let started = Instant::now();
    let mut timings: Vec<(String, Duration)> = Vec::new();
    let mut written: Vec<Chapter> = Vec::new();
    for bench in &benches {
        println!("\n==== bench {bench} ({mode})");
        let before = SystemTime::now();
        let t0 = Instant::now();
        let mut command = Command::new(cargo::program());
        command
            .current_dir(root)
            .args(["bench", "--bench", bench])
            .env("WORKBOOK_FIGURES_DIR", &figures_dir)
            .env("WORKBOOK_BENCH_QUICK", if args.quick { "1" } else { "0" });
        let status = command
            .status()
            .map_err(|e| format!("running cargo bench --bench {bench}: {e}"))?;
        if !status.success() {
            return Err(format!("bench {bench} failed ({status})"));
        }
        timings.push((bench.clone(), t0.elapsed()));
        written.push(fresh_figures(root, &figures_dir, bench, before)?);
    }
    let total = started.elapsed();

    // The results file: every figures file of the directory, as the book reads them.
    let results = Results::load(root, &figures_dir)?;
    let commit = Command::new("git")
        .current_dir(root)
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned());
    let json = results.to_json(args.quick, commit.as_deref());
    if let Some(parent) = results_file.parent() {
        fs::create_dir_all(parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    let text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
    fs::write(&results_file, text + "\n")
        .map_err(|e| format!("writing {}: {e}", relative(root, &results_file)))?;

    println!("\n==== bench: {mode} done in {:.0} s", total.as_secs_f64());
    for (bench, took) in &timings {
        println!("  {bench:<24} {:>6.1} s", took.as_secs_f64());
    }
    let (mut met, mut missed, mut unmeasured) = (0, Vec::new(), 0);
    for chapter in &written {
        for row in &chapter.rows {
            for (target, verdict) in chapter.verdicts(row) {
                match verdict {
                    Some(true) => met += 1,
                    Some(false) => missed.push(format!(
                        "{}: {}: {}",
                        chapter.name,
                        row.what,
                        target.describe(
                            |against| Chapter::column_name(row, against),
                            |bound| crate::results::number(bound, 2)
                        )
                    )),
                    None => unmeasured += 1,
                }
            }
        }
    }
    println!(
        "targets: {met} met, {} missed, {unmeasured} not measured{}",
        missed.len(),
        if args.quick {
            " (a quick pass is too short to judge them)"
        } else {
            ""
        }
    );
    for line in &missed {
        println!("  missed: {line}");
    }
    println!("results: {}", relative(root, &results_file));
    if !args.quick {
        println!(
            "the book quotes {}; `cargo xtask book` draws the page",
            relative(root, &figures_dir)
        );
    }
    Ok(())
}

/// The figures file `bench` wrote in `dir` during this run (since `since`), checked to
/// hold at least one figure: a bench that wrote none did not really run.
fn fresh_figures(
    root: &Path,
    dir: &Path,
    bench: &str,
    since: SystemTime,
) -> Result<Chapter, String> {
    let results = Results::load(root, dir)?;
    let chapter = results
        .chapters
        .into_iter()
        .filter(|c| c.bench == bench)
        .find(|c| {
            fs::metadata(dir.join(format!("{}.json", c.name)))
                .and_then(|m| m.modified())
                .is_ok_and(|modified| modified >= since)
        })
        .ok_or_else(|| {
            format!(
                "bench {bench} wrote no figures file into {} (it must call Figures::write)",
                relative(root, dir)
            )
        })?;
    if chapter.figures.is_empty() {
        return Err(format!("bench {bench} wrote no figure"));
    }
    Ok(chapter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments() {
        assert_eq!(Args::parse(&[]).unwrap(), Args::default());
        let args: Vec<String> = ["--quick", "--bench", "ch05"].map(String::from).to_vec();
        assert_eq!(
            Args::parse(&args).unwrap(),
            Args {
                quick: true,
                benches: vec!["ch05".into()]
            }
        );
        assert!(Args::parse(&["--fast".to_owned()]).is_err());
    }

    #[test]
    fn every_chapter_bench_is_found_and_nothing_else() {
        let root = crate::chapters::workspace_root();
        let benches = discover(&root).unwrap();
        assert!(benches.contains(&"ch05_sync".to_owned()), "{benches:?}");
        assert!(benches.iter().all(|b| is_chapter_bench(b)), "{benches:?}");
        assert!(!is_chapter_bench("common") && !is_chapter_bench("chapter"));
    }

    #[test]
    fn a_quick_pass_never_writes_into_the_book() {
        let root = Path::new("/r");
        let (figures, results) = dirs(root, true);
        assert!(figures.starts_with("/r/target"), "{figures:?}");
        assert!(results.starts_with("/r/target"), "{results:?}");
        assert_eq!(dirs(root, false).0, Path::new("/r/book/figures"));
    }
}
