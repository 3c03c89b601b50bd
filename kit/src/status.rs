use std::fmt;

/// How a child process ended.
///
/// [`ExitStatus::exitcode`] follows Python's `Process.exitcode` convention: the exit code
/// when the process exited, minus the signal number when a signal killed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ExitStatus {
    /// The process called `_exit(code)`.
    Exited(i32),
    /// A signal (its number) killed the process.
    Signaled(i32),
}

impl ExitStatus {
    /// Python's convention: `code` after an exit, `-signal` after a kill.
    pub fn exitcode(self) -> i32 {
        match self {
            ExitStatus::Exited(code) => code,
            ExitStatus::Signaled(signal) => -signal,
        }
    }

    /// True for `Exited(0)` only.
    pub fn success(self) -> bool {
        self == ExitStatus::Exited(0)
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ExitStatus::Exited(code) => write!(f, "exit code {code}"),
            ExitStatus::Signaled(signal) => {
                let name = nix::sys::signal::Signal::try_from(signal)
                    .map(|s| s.as_str())
                    .unwrap_or("unknown signal");
                write!(f, "killed by signal {signal} ({name})")
            }
        }
    }
}
