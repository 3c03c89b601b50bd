//! Proptest defaults for properties whose cases fork, and what makes a timed-out case
//! the one proptest reports.

use std::cell::Cell;

use proptest::test_runner::{Config, ResultCache, ResultCacheKey, TestCaseError, TestCaseResult};

use super::isolate::timed_out;

/// Proptest settings for properties whose every case forks processes: `default_cases`
/// cases unless `PROPTEST_CASES` asks for another number, and a short shrink.
///
/// Failure persistence is off: by default proptest writes a `*.proptest-regressions`
/// file next to a failing test (and, for an integration test, warns that it found no
/// `lib.rs`). A student's failing exercise must write nothing into their tree; a real
/// regression is kept as an explicit test case instead.
///
/// After a case times out, the rest of the run does not run a case again (each could
/// wait out the whole deadline): proptest is told that every later case is rejected,
/// which its shrinker reads as "this simpler input does not fail". So the input it
/// reports is the one that timed out, and the timeout is told once, in its report.
/// A property therefore needs nothing special: use this config, call `isolated` in the
/// body as anywhere else.
pub fn proptest_config(default_cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    Config {
        cases,
        max_shrink_iters: 64,
        // Each case forks: bound the whole shrink, whatever a case costs.
        max_shrink_time: 20_000,
        failure_persistence: None,
        result_cache: after_a_timeout_reject,
        ..Config::default()
    }
}

thread_local! {
    /// How many property runs with the kit's config are under way on this thread.
    static PROPERTY_RUNS: Cell<u32> = const { Cell::new(0) };
}

/// True while a property run with [`proptest_config`] is under way on this thread: an
/// exercise that fails there leaves the telling to proptest's report.
pub(crate) fn in_property() -> bool {
    PROPERTY_RUNS.get() > 0
}

/// Proptest asks its result cache before it runs each case, and makes one cache per
/// run: the one hook it offers to answer for a case without running it.
fn after_a_timeout_reject() -> Box<dyn ResultCache> {
    PROPERTY_RUNS.set(PROPERTY_RUNS.get() + 1);
    Box::new(AfterATimeout {
        rejected: Err(TestCaseError::reject(
            "not run: an earlier case of this property timed out",
        )),
    })
}

/// Caches nothing (every case runs, as with proptest's default), except that once a
/// case has timed out on this thread, every later case is answered "rejected".
struct AfterATimeout {
    rejected: TestCaseResult,
}

impl ResultCache for AfterATimeout {
    fn key(&self, _: &ResultCacheKey<'_>) -> u64 {
        0
    }

    fn put(&mut self, _: u64, _: &TestCaseResult) {}

    fn get(&self, _: u64) -> Option<&TestCaseResult> {
        timed_out().then_some(&self.rejected)
    }
}

impl Drop for AfterATimeout {
    fn drop(&mut self) {
        PROPERTY_RUNS.set(PROPERTY_RUNS.get() - 1);
    }
}
