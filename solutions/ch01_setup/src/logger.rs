//! Exercise 3: a logger whose every line says which process wrote it.

use std::os::fd::{BorrowedFd, RawFd};

use log::{LevelFilter, Log, Metadata, Record, SetLoggerError};

use crate::current::current_process;

/// A `log::Log` that writes `[process name]: message` lines to a file descriptor.
///
/// Each line is written with a single `write(2)`, so lines of up to `PIPE_BUF` (4096)
/// bytes written to a pipe by concurrent processes never tear. It takes no lock and
/// never uses std's stdout or stderr, so forked children can log safely.
#[derive(Debug)]
pub struct ProcessLogger {
    fd: RawFd,
    level: LevelFilter,
}

impl ProcessLogger {
    /// A logger that writes records at `level` or more severe to `fd`.
    ///
    /// The logger does not own `fd`: the caller keeps it open while the logger is used.
    pub fn new(fd: RawFd, level: LevelFilter) -> ProcessLogger {
        ProcessLogger { fd, level }
    }

    // ANCHOR: format_line
    /// The line for `message` written by the process called `name`: `[name]: message`
    /// and a newline.
    pub fn format_line(name: &str, message: &std::fmt::Arguments<'_>) -> String {
        // SKELETON: // TODO: the whole line, newline included, in one String.
        // SKELETON: todo!(
        // SKELETON:     "format the line for {message:?} written by {name:?} as \
        // SKELETON:      \"[name]: message\\n\""
        // SKELETON: )
        // BEGIN SOLUTION
        format!("[{name}]: {message}\n")
        // END SOLUTION
    }
    // ANCHOR_END: format_line
}

impl Log for ProcessLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }

    // ANCHOR: log
    fn log(&self, record: &Record<'_>) {
        // SKELETON: // TODO: an enabled record becomes one line, named after the process that logs
        // SKELETON: // it, written to `self.fd` in one write(2) so that the lines of processes
        // SKELETON: // logging at once never mix; a record that is not enabled writes nothing.
        // SKELETON: todo!(
        // SKELETON:     "log {:?} at level {} to fd {} as one [name]: message line",
        // SKELETON:     record.args(),
        // SKELETON:     record.level(),
        // SKELETON:     self.fd
        // SKELETON: )
        // BEGIN SOLUTION
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = Self::format_line(&current_process().name, record.args());
        // Safety: the caller of `new` keeps the fd open while the logger is in use.
        let fd = unsafe { BorrowedFd::borrow_raw(self.fd) };
        // One write for the whole line: two writes could let another process's line in
        // between. A logger has nowhere to report its own failure, so it drops it.
        let _ = mpkit::write_all(fd, line.as_bytes());
        // END SOLUTION
    }
    // ANCHOR_END: log

    fn flush(&self) {}
}

/// Installs a [`ProcessLogger`] writing to `fd` as this process's logger, like Python's
/// `multiprocessing.log_to_stderr()`. Children forked later inherit it.
///
/// Fails if this process already has a logger.
pub fn log_to_fd(fd: RawFd, level: LevelFilter) -> Result<(), SetLoggerError> {
    log::set_boxed_logger(Box::new(ProcessLogger::new(fd, level)))?;
    log::set_max_level(level);
    Ok(())
}

/// [`log_to_fd`] on fd 2, standard error: Python's `multiprocessing.log_to_stderr()`.
pub fn log_to_stderr(level: LevelFilter) -> Result<(), SetLoggerError> {
    log_to_fd(libc::STDERR_FILENO, level)
}
