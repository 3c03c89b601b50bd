use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::mpsc;
use std::thread;

use super::timeout;

/// What several processes wrote to one pipe, collected as whole lines.
///
/// Create it before forking: children inherit the write end ([`Transcript::fd`]) and
/// write lines to it (with one `write(2)` each, so lines never tear). A thread of the
/// creating process reads the other end. [`Transcript::finish`] closes this process's
/// write end and waits for EOF, which comes once every process holding the write end
/// has closed it or exited.
pub struct Transcript {
    write_end: OwnedFd,
    text: mpsc::Receiver<std::io::Result<Vec<u8>>>,
}

impl Transcript {
    /// A new pipe, with a reader thread draining it (so writers never block on a full pipe).
    pub fn new() -> Transcript {
        let (read_end, write_end) = nix::unistd::pipe().expect("pipe for a transcript");
        let (tx, text) = mpsc::channel();
        thread::spawn(move || {
            let mut bytes = Vec::new();
            let result = std::fs::File::from(read_end)
                .read_to_end(&mut bytes)
                .map(|_| bytes);
            let _ = tx.send(result);
        });
        Transcript { write_end, text }
    }

    /// The write end, for the programs under test to write their lines to.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.write_end.as_fd()
    }

    /// Closes this process's write end and returns every line written, in the order the
    /// pipe received them. Panics if the text does not end with a newline (a torn or
    /// unfinished line) or if some process still holds the write end after the deadline.
    #[track_caller]
    pub fn finish(self) -> Vec<String> {
        let text = self.finish_text();
        if !text.is_empty() && !text.ends_with('\n') {
            panic!("the transcript ends with an unfinished line: {text:?}");
        }
        text.lines().map(str::to_owned).collect()
    }

    /// Like [`Transcript::finish`], but the raw text, whole lines or not (invalid UTF-8
    /// is replaced).
    #[track_caller]
    pub fn finish_text(self) -> String {
        drop(self.write_end);
        let bytes = self
            .text
            .recv_timeout(timeout())
            .expect("the transcript pipe is still open: a process kept its write end")
            .expect("read the transcript pipe");
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Default for Transcript {
    fn default() -> Self {
        Transcript::new()
    }
}
