//! What the test suite needs to test multi-process code without ever hanging.
//!
//! - [`isolated`] runs an exercise in a process group of its own under a deadline: a
//!   deadlock in the student's code fails the test in seconds, names the exercise, and
//!   every process of the exercise is killed and reaped.
//! - [`Transcript`] collects whole lines that several processes write to one pipe.
//! - [`Redactor`] replaces pids and other run-dependent numbers before a snapshot.
//! - [`proptest_config`] keeps multi-process properties to a few cases by default.

mod isolate;
mod lines;
mod transcript;

pub use isolate::{isolated, isolated_with, timeout};
pub use lines::{assert_same_lines, Redactor};
pub use transcript::Transcript;

/// Proptest settings for properties whose every case forks processes: `default_cases`
/// cases unless `PROPTEST_CASES` asks for another number, and a short shrink.
pub fn proptest_config(default_cases: u32) -> proptest::test_runner::Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    proptest::test_runner::Config {
        cases,
        max_shrink_iters: 64,
        ..proptest::test_runner::Config::default()
    }
}
