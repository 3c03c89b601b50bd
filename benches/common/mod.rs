//! Helpers shared by the `harness = false` benches: the single-thread check that makes
//! forking safe, the quantile rule, and running a Python script with a deadline to read
//! its one line of flat JSON.
//!
//! Each bench includes it with `mod common;` (cargo builds no target from a
//! `benches/<dir>/mod.rs`).

use std::io::{ErrorKind, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("benches")
        .join(script);
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
