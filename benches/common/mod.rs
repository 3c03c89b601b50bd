//! Helpers shared by the `harness = false` benches: the single-thread check that makes
//! forking safe, the quantile rule, running a Python script with a deadline to read its
//! one line of flat JSON, and [`Figures`], which writes the figures the book quotes.
//!
//! Each bench includes it with `mod common;` (cargo builds no target from a
//! `benches/<dir>/mod.rs`). Not every bench uses every helper.
#![allow(dead_code)]

mod digest;

use std::fmt::Write as _;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The Python scripts this bench has run (paths relative to the workspace root): their
/// text is part of the figures' source digest.
static SCRIPTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

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

/// `value` rounded to `significant` digits, as the book prints it: no exponent, and
/// a thin space between groups of three digits from 10 000 up (`34 000`, `5.2`,
/// `0.19`).
pub fn number(value: f64, significant: u32) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let magnitude = value.abs().log10().floor() as i32;
    let decimals = (significant as i32 - 1 - magnitude).max(0) as usize;
    let scale = 10f64.powi(magnitude + 1 - significant as i32);
    let rounded = (value / scale).round() * scale;
    let text = format!("{rounded:.decimals$}");
    let (sign, digits) = text
        .strip_prefix('-')
        .map_or(("", &*text), |rest| ("-", rest));
    let (whole, fraction) = digits
        .split_once('.')
        .map_or((digits, None), |(w, f)| (w, Some(f)));
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if whole.len() >= 5 && i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push('\u{2009}');
        }
        grouped.push(digit);
    }
    match fraction {
        Some(fraction) => format!("{sign}{grouped}.{fraction}"),
        None => format!("{sign}{grouped}"),
    }
}

/// A time in seconds as the book prints it: two significant digits in the unit that
/// suits it (`6.4 ns`, `41 µs`, `3.1 ms`, `1.2 s`).
pub fn time_text(seconds: f64) -> String {
    let (scale, unit) = match seconds.abs() {
        s if s < 1e-6 => (1e9, "ns"),
        s if s < 1e-3 => (1e6, "µs"),
        s if s < 1.0 => (1e3, "ms"),
        _ => (1.0, "s"),
    };
    format!("{} {unit}", number(seconds * scale, 2))
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

    /// Writes `book/figures/<chapter>.json` and returns its path. Panics when it cannot.
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
        json.push_str("  }\n}\n");

        let path = root()
            .join("book/figures")
            .join(format!("{}.json", self.chapter));
        std::fs::create_dir_all(path.parent().expect("a file has a parent"))
            .expect("creating book/figures");
        std::fs::write(&path, json).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        println!("figures written to {}", path.display());
        path
    }
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
