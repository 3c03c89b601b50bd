//! Helpers shared by the `harness = false` benches: the single-thread check that makes
//! forking safe, the quantile rule, running a Python script with a deadline to read its
//! one line of flat JSON, quick mode, and [`Figures`], which writes the figures the book
//! quotes, the rows of the "How fast is it?" tables with their targets, and the series
//! its charts draw.
//!
//! Each bench includes it with `mod common;` (cargo builds no target from a
//! `benches/<dir>/mod.rs`). Not every bench uses every helper.
//!
//! Quick mode (`WORKBOOK_BENCH_QUICK=1`, set by `cargo xtask bench --quick`): every
//! bench runs every measurement with far fewer repetitions ([`scaled`]), a smoke test
//! that CI affords, and its figures go to `WORKBOOK_FIGURES_DIR` (xtask sets it under
//! `target/`), never into the book's `book/figures/`.
#![allow(dead_code)]

mod digest;
mod rows;

pub use rows::{number, Better, Role, Target};
// Only the benches that print times in the book's way use it.
#[allow(unused_imports)]
pub use rows::time_text;

use std::fmt::Write as _;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The Python scripts this bench has run (paths relative to the workspace root): their
/// text is part of the figures' source digest.
static SCRIPTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Whether this is a quick pass (`WORKBOOK_BENCH_QUICK=1`): short, noisy, for CI.
pub fn quick() -> bool {
    std::env::var_os("WORKBOOK_BENCH_QUICK").is_some_and(|value| value == "1")
}

/// `full` in a full run, `quick` in a quick pass.
pub fn scaled<T>(full: T, quick: T) -> T {
    if self::quick() {
        quick
    } else {
        full
    }
}

/// Where [`Figures::write`] writes: `WORKBOOK_FIGURES_DIR` if set, else the book's
/// `book/figures/`, except in a quick pass, whose figures never go into the book.
fn figures_dir() -> PathBuf {
    match std::env::var_os("WORKBOOK_FIGURES_DIR") {
        Some(dir) => PathBuf::from(dir),
        None if quick() => root().join("target/xtask/bench/quick/figures"),
        None => root().join("book/figures"),
    }
}

/// Forking is only safe with no other thread: check it before the first fork.
pub fn assert_single_threaded() {
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    let threads = status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .map(str::trim);
    assert_eq!(
        threads,
        Some("1"),
        "the bench must run on one thread to fork safely"
    );
}

/// Linear interpolation between closest ranks of `sorted` (numpy's default rule, also
/// used by the Python scripts), so `q = 0.5` is the usual median.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Runs `benches/<script>` with `python3` and `args`, and returns its stdout, trimmed
/// (the scripts print one line of flat JSON). `Err` (with the reason) only when
/// `python3` cannot be found. Any other failure panics, and so does a script still
/// running after `deadline` (it is killed first).
pub fn run_python(script: &str, args: &[String], deadline: Duration) -> Result<String, String> {
    let relative = format!("benches/{script}");
    let script = root().join(&relative);
    let mut scripts = SCRIPTS.lock().expect("the scripts list is never poisoned");
    if !scripts.contains(&relative) {
        scripts.push(relative);
    }
    drop(scripts);
    let spawned = Command::new("python3")
        .arg(&script)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn();
    let mut python = match spawned {
        Ok(child) => child,
        Err(err) if err.kind() == ErrorKind::NotFound => {
            return Err("python3 was not found on the PATH".to_owned());
        }
        Err(err) => panic!("could not run python3 {}: {err}", script.display()),
    };

    // The scripts print one short line, far below a pipe's capacity, so they cannot
    // block on stdout while we poll for their end.
    let end = Instant::now() + deadline;
    let status = loop {
        if let Some(status) = python.try_wait().expect("waiting for python3 failed") {
            break status;
        }
        if Instant::now() >= end {
            let _ = python.kill();
            let _ = python.wait();
            panic!(
                "python3 {} ran longer than {deadline:?}; killed it",
                script.display()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut out = String::new();
    python
        .stdout
        .take()
        .expect("python3's stdout is piped")
        .read_to_string(&mut out)
        .expect("reading python3's stdout failed");
    assert!(
        status.success(),
        "python3 {} failed: {status}",
        script.display()
    );
    Ok(out.trim().to_owned())
}

/// The raw text after `"key":` in the flat JSON object `line`, written by a script.
fn json_value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(&format!("\"{key}\":"))? + key.len() + 3;
    Some(line[start..].trim_start())
}

/// The number under `key` in the flat JSON object `line`.
pub fn json_number(line: &str, key: &str) -> Option<f64> {
    let value = json_value(line, key)?;
    let end = value.find([',', '}']).unwrap_or(value.len());
    value[..end].trim().parse().ok()
}

/// The string (without escapes) under `key` in the flat JSON object `line`.
pub fn json_string(line: &str, key: &str) -> Option<String> {
    let value = json_value(line, key)?.strip_prefix('"')?;
    Some(value[..value.find('"')?].to_owned())
}

/// The workspace root (the root package's directory).
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// One figure: its value, its unit and the text the book prints.
struct Figure {
    key: String,
    value: f64,
    unit: String,
    text: String,
}

/// The figures of one bench, written to `book/figures/<chapter>.json` for the book's
/// `{{#figure <chapter>.<key>}}` tags (see `/work/notes/FIGURES.md`, or the README's
/// "figures" step).
///
/// The file records the date, the machine, and a digest of the bench's sources (its
/// own `.rs`, the files under `benches/common/`, and every Python script it ran
/// through [`run_python`]); `cargo xtask check` fails when the sources no longer match.
pub struct Figures {
    chapter: String,
    /// The bench's own source, relative to the workspace root.
    bench_source: String,
    figures: Vec<Figure>,
    rows: Vec<Row>,
    series: Vec<Series>,
}

/// One row of the chapter's table on the "How fast is it?" page: a figure of ours beside
/// CPython's, the physical limit's and Rust peers' (each a key of a figure of this
/// file, in the same unit), and the targets it must meet. A column whose figure was not
/// measured (no `python3`) is left out when the file is written.
pub struct Row {
    what: String,
    better: Better,
    ours: String,
    cpython: Option<String>,
    limit: Option<(String, String)>,
    peers: Vec<(String, String)>,
    targets: Vec<Target>,
}

impl Row {
    /// A row named `what` ("8-byte round trip, same CPU") whose figure of ours is `ours`.
    pub fn new(what: impl Into<String>, better: Better, ours: &str) -> Row {
        Row {
            what: what.into(),
            better,
            ours: ours.to_owned(),
            cpython: None,
            limit: None,
            peers: Vec::new(),
            targets: Vec::new(),
        }
    }

    /// CPython's figure.
    pub fn cpython(mut self, key: &str) -> Row {
        self.cpython = Some(key.to_owned());
        self
    }

    /// The physical limit, `name` ("raw socketpair") and its figure.
    pub fn limit(mut self, name: &str, key: &str) -> Row {
        self.limit = Some((name.to_owned(), key.to_owned()));
        self
    }

    /// A Rust peer, `name` ("ipc-channel") and its figure.
    pub fn peer(mut self, name: &str, key: &str) -> Row {
        self.peers.push((name.to_owned(), key.to_owned()));
        self
    }

    /// A target the figure of ours must meet.
    pub fn target(mut self, target: Target) -> Row {
        self.targets.push(target);
        self
    }

    /// The figure of the column `against` (`cpython`, `limit` or a peer's name).
    fn column(&self, against: &str) -> Option<&str> {
        match against {
            rows::CPYTHON => self.cpython.as_deref(),
            rows::LIMIT => self.limit.as_ref().map(|(_, key)| key.as_str()),
            peer => self
                .peers
                .iter()
                .find(|(name, _)| name == peer)
                .map(|(_, key)| key.as_str()),
        }
    }

    /// The name the page gives the column `against`.
    fn column_name(&self, against: &str) -> String {
        match against {
            rows::CPYTHON => "CPython".to_owned(),
            rows::LIMIT => self
                .limit
                .as_ref()
                .map_or("the limit".to_owned(), |(name, _)| name.clone()),
            peer => peer.to_owned(),
        }
    }
}

/// How a cost grows with the work: one chart on the "How fast is it?" page. `x` are the
/// amounts of work (children, processes, workers); each line gives a value (in `unit`)
/// per `x`, `None` where it was not measured.
pub struct Series {
    key: String,
    title: String,
    x_label: String,
    unit: String,
    x: Vec<f64>,
    lines: Vec<(String, Role, Vec<Option<f64>>)>,
}

impl Series {
    /// A series `key` (snake_case, unique in the file), drawn under `title`, with
    /// `x_label` under the x axis and values in `unit` ("ms", "msg/s").
    pub fn new(key: &str, title: &str, x_label: &str, unit: &str, x: &[f64]) -> Series {
        assert!(
            is_snake_case(key),
            "series keys are snake_case, not {key:?}"
        );
        Series {
            key: key.to_owned(),
            title: title.to_owned(),
            x_label: x_label.to_owned(),
            unit: unit.to_owned(),
            x: x.to_vec(),
            lines: Vec::new(),
        }
    }

    /// A line: `values[i]` at `x[i]`.
    pub fn line(mut self, name: &str, role: Role, values: &[Option<f64>]) -> Series {
        assert_eq!(
            values.len(),
            self.x.len(),
            "series {:?}, line {name:?}: one value per x",
            self.key
        );
        self.lines.push((name.to_owned(), role, values.to_vec()));
        self
    }
}

impl Figures {
    /// The figures of the chapter `chapter` (`"ch05_sync"`), measured by the bench that
    /// calls this (its source file is taken from the caller's location).
    #[track_caller]
    pub fn new(chapter: &str) -> Figures {
        assert!(
            is_snake_case(chapter),
            "a chapter id is snake_case, not {chapter:?}"
        );
        Figures {
            chapter: chapter.to_owned(),
            bench_source: std::panic::Location::caller().file().replace('\\', "/"),
            figures: Vec::new(),
            rows: Vec::new(),
            series: Vec::new(),
        }
    }

    /// Adds a figure. `key` is snake_case and unique; `text` is what the book prints
    /// (`"5.2 ns"`, `"48×"`): usually [`time_text`], or [`number`] and the unit.
    pub fn add(&mut self, key: &str, value: f64, unit: &str, text: impl Into<String>) -> &mut Self {
        assert!(
            is_snake_case(key),
            "figure keys are snake_case, not {key:?}"
        );
        assert!(
            self.figures.iter().all(|figure| figure.key != key),
            "figure {key:?} added twice"
        );
        assert!(value.is_finite(), "figure {key:?} is not a number: {value}");
        self.figures.push(Figure {
            key: key.to_owned(),
            value,
            unit: unit.to_owned(),
            text: text.into(),
        });
        self
    }

    /// Adds a row of the "How fast is it?" table (see [`Row`]).
    pub fn row(&mut self, row: Row) -> &mut Self {
        self.rows.push(row);
        self
    }

    /// Adds a series for a chart (see [`Series`]).
    pub fn series(&mut self, series: Series) -> &mut Self {
        assert!(
            self.series.iter().all(|s| s.key != series.key),
            "series {:?} added twice",
            series.key
        );
        self.series.push(series);
        self
    }

    fn figure(&self, key: &str) -> Option<&Figure> {
        self.figures.iter().find(|figure| figure.key == key)
    }

    /// The rows with every column whose figure is missing left out; panics on a row
    /// whose own figure is missing, or on columns in another unit.
    fn measured_rows(&self) -> Vec<Row> {
        let unit = |key: &str| self.figure(key).map(|f| f.unit.replace("us", "µs"));
        self.rows
            .iter()
            .map(|row| {
                let ours = unit(&row.ours)
                    .unwrap_or_else(|| panic!("row {:?}: no figure {:?}", row.what, row.ours));
                let keep = |key: &str| match unit(key) {
                    None => {
                        println!("row {:?}: {key} was not measured; left out", row.what);
                        false
                    }
                    Some(theirs) => {
                        assert_eq!(theirs, ours, "row {:?}: {key} is in another unit", row.what);
                        true
                    }
                };
                Row {
                    what: row.what.clone(),
                    better: row.better,
                    ours: row.ours.clone(),
                    cpython: row.cpython.clone().filter(|key| keep(key)),
                    limit: row.limit.clone().filter(|(_, key)| keep(key)),
                    peers: row
                        .peers
                        .iter()
                        .filter(|(_, key)| keep(key))
                        .cloned()
                        .collect(),
                    targets: row.targets.clone(),
                }
            })
            .collect()
    }

    /// Prints each row's targets, met or not.
    fn print_targets(&self, rows: &[Row]) {
        if rows.iter().all(|row| row.targets.is_empty()) {
            return;
        }
        println!("\ntargets ({}):", self.chapter);
        for row in rows {
            let ours = self.figure(&row.ours).expect("checked").value;
            for target in &row.targets {
                let other = target
                    .against()
                    .and_then(|against| row.column(against))
                    .and_then(|key| self.figure(key))
                    .map(|figure| figure.value);
                let verdict = match target.met(row.better, ours, other) {
                    Some(true) => "met",
                    Some(false) => "NOT MET",
                    None => "not measured",
                };
                let unit = &self.figure(&row.ours).expect("checked").unit;
                let described = target.describe(
                    |against| row.column_name(against),
                    |bound| format!("{} {unit}", number(bound, 3)),
                );
                let ratio = other.map_or(String::new(), |other| {
                    let speedup = row.better.speedup(ours, other);
                    match target {
                        Target::Within { .. } => {
                            format!(" (ours: {}× its)", number(1.0 / speedup, 3))
                        }
                        _ => format!(" ({}× better)", number(speedup, 3)),
                    }
                });
                println!("  {:<48} {described:<32} {verdict}{ratio}", row.what);
            }
        }
    }

    /// Writes `<dir>/<chapter>.json` and returns its path: `dir` is `book/figures/`,
    /// or under `target/` in a quick pass (see the module doc). Panics when it cannot.
    pub fn write(&self) -> PathBuf {
        let mut sources = vec![self.bench_source.clone()];
        sources.extend(digest::common_sources(root()).expect("listing benches/common"));
        sources.extend(SCRIPTS.lock().expect("never poisoned").iter().cloned());
        let digest = digest::source_digest(root(), &sources).expect("digesting the sources");

        let bench = Path::new(&self.bench_source)
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or("?");
        let mut json = String::from("{\n");
        let _ = writeln!(json, "  \"bench\": {},", quoted(bench));
        let _ = writeln!(json, "  \"date\": {},", quoted(&today()));
        let _ = writeln!(json, "  \"quick\": {},", quick());
        let _ = writeln!(json, "  \"machine\": {{");
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let _ = writeln!(json, "    \"cores\": {cores},");
        let _ = writeln!(json, "    \"cpu\": {},", quoted(&cpu()));
        let _ = writeln!(json, "    \"kernel\": {}", quoted(&kernel()));
        let _ = writeln!(json, "  }},");
        let listed: Vec<String> = sources.iter().map(|s| quoted(s)).collect();
        let _ = writeln!(json, "  \"sources\": [{}],", listed.join(", "));
        let _ = writeln!(json, "  \"source_digest\": {},", quoted(&digest));
        let _ = writeln!(json, "  \"figures\": {{");
        for (i, figure) in self.figures.iter().enumerate() {
            let comma = if i + 1 < self.figures.len() { "," } else { "" };
            let _ = writeln!(
                json,
                "    {}: {{ \"value\": {}, \"unit\": {}, \"text\": {} }}{comma}",
                quoted(&figure.key),
                figure.value,
                quoted(&figure.unit),
                quoted(&figure.text)
            );
        }
        json.push_str("  },\n");
        let rows = self.measured_rows();
        self.print_targets(&rows);
        json_rows(&mut json, &rows);
        json_series(&mut json, &self.series);
        json.push_str("}\n");

        let path = figures_dir().join(format!("{}.json", self.chapter));
        std::fs::create_dir_all(path.parent().expect("a file has a parent"))
            .unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        std::fs::write(&path, json).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        println!("figures written to {}", path.display());
        path
    }
}

/// The `"rows"` member of a figures file (see [`Row`]), then a comma.
fn json_rows(json: &mut String, rows: &[Row]) {
    json.push_str("  \"rows\": [");
    for (i, row) in rows.iter().enumerate() {
        json.push_str(if i == 0 { "\n" } else { ",\n" });
        let column = |name: &str, key: &str| {
            format!(
                "{{ \"name\": {}, \"figure\": {} }}",
                quoted(name),
                quoted(key)
            )
        };
        let targets: Vec<String> = row
            .targets
            .iter()
            .map(|target| {
                let (kind, number) = target.key();
                let against = target
                    .against()
                    .map_or(String::new(), |a| format!(", \"against\": {}", quoted(a)));
                format!(
                    "{{ \"kind\": {}, \"value\": {number}{against} }}",
                    quoted(kind)
                )
            })
            .collect();
        let peers: Vec<String> = row.peers.iter().map(|(n, k)| column(n, k)).collect();
        let _ = write!(
            json,
            "    {{ \"what\": {}, \"better\": {}, \"ours\": {}, \"cpython\": {}, \
             \"limit\": {}, \"peers\": [{}], \"targets\": [{}] }}",
            quoted(&row.what),
            quoted(row.better.key()),
            quoted(&row.ours),
            row.cpython.as_deref().map_or("null".to_owned(), quoted),
            row.limit
                .as_ref()
                .map_or("null".to_owned(), |(n, k)| column(n, k)),
            peers.join(", "),
            targets.join(", ")
        );
    }
    json.push_str(if rows.is_empty() { "],\n" } else { "\n  ],\n" });
}

/// The `"series"` member of a figures file (see [`Series`]), the last one.
fn json_series(json: &mut String, series: &[Series]) {
    let numbers = |values: &mut dyn Iterator<Item = Option<f64>>| {
        values
            .map(|v| {
                v.filter(|v| v.is_finite())
                    .map_or("null".to_owned(), |v| v.to_string())
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    json.push_str("  \"series\": [");
    for (i, s) in series.iter().enumerate() {
        json.push_str(if i == 0 { "\n" } else { ",\n" });
        let _ = writeln!(
            json,
            "    {{ \"key\": {}, \"title\": {}, \"x_label\": {}, \"unit\": {},",
            quoted(&s.key),
            quoted(&s.title),
            quoted(&s.x_label),
            quoted(&s.unit)
        );
        let _ = writeln!(
            json,
            "      \"x\": [{}],",
            numbers(&mut s.x.iter().map(|&x| Some(x)))
        );
        json.push_str("      \"lines\": [");
        for (j, (name, role, values)) in s.lines.iter().enumerate() {
            json.push_str(if j == 0 { "\n" } else { ",\n" });
            let _ = write!(
                json,
                "        {{ \"name\": {}, \"role\": {}, \"values\": [{}] }}",
                quoted(name),
                quoted(role.key()),
                numbers(&mut values.iter().copied())
            );
        }
        json.push_str("\n      ] }");
    }
    json.push_str(if series.is_empty() { "]\n" } else { "\n  ]\n" });
}

fn is_snake_case(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `text` as a JSON string.
fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Today's date (UTC) as `YYYY-MM-DD`.
fn today() -> String {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400) as i64;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The CPU's model name, from `/proc/cpuinfo`.
fn cpu() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The kernel's release, from `/proc/sys/kernel/osrelease`.
fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".to_owned(), |text| text.trim().to_owned())
}
