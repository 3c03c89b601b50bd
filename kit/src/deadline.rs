use std::time::{Duration, Instant};

/// The instant `timeout` from now, or `None` for no deadline: when `timeout` is `None`,
/// or so long that the instant cannot be represented (`Duration::MAX`). std's futex
/// wait treats an overflowing timeout the same way: as waiting for ever. Every API that
/// takes a timeout turns it into a deadline through this one function, so none of them
/// panics on `Instant::now() + Duration::MAX`.
pub fn deadline_after(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|timeout| Instant::now().checked_add(timeout))
}
