use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// A pipe that processes of a test signal each other through.
///
/// - As a start gate: children call [`GateEnds::pass`] and block until the parent calls
///   [`Gate::open`]; then all of them go at once (each sees end-of-file).
/// - As a one-byte signal: one side calls `notify`, the other `wait`.
///
/// Create it before forking; children get its raw ends with [`Gate::ends`] (a `Copy`
/// value their closures can capture).
pub struct Gate {
    read_end: OwnedFd,
    write_end: Option<OwnedFd>,
}

/// The raw ends of a [`Gate`], for the children that inherited them.
#[derive(Clone, Copy, Debug)]
pub struct GateEnds {
    read_end: RawFd,
    write_end: RawFd,
}

impl Gate {
    /// A new, closed gate.
    pub fn new() -> Gate {
        let (read_end, write_end) = nix::unistd::pipe().expect("pipe for a gate");
        Gate {
            read_end,
            write_end: Some(write_end),
        }
    }

    /// The raw ends, for children. Panics once the gate is open.
    #[track_caller]
    pub fn ends(&self) -> GateEnds {
        GateEnds {
            read_end: self.read_end.as_raw_fd(),
            write_end: self
                .write_end
                .as_ref()
                .expect("the gate is open")
                .as_raw_fd(),
        }
    }

    /// Opens the gate: closes this process's write end, so every child in `pass` sees
    /// end-of-file once it has closed its own copy.
    pub fn open(&mut self) {
        self.write_end = None;
    }

    /// Sends one byte: one `wait` on the other side returns.
    #[track_caller]
    pub fn notify(&self) {
        self.ends().notify();
    }

    /// Waits for one byte from a child. Closes this process's write end first, so that
    /// if every child that could notify ends without doing so, the wait fails at once
    /// (their stderr then explains why) instead of hanging until the deadline.
    #[track_caller]
    pub fn wait(mut self) {
        let ends = self.ends();
        self.open();
        ends.read_one("the other processes ended without signalling (their stderr is below)");
    }
}

impl Default for Gate {
    fn default() -> Self {
        Gate::new()
    }
}

impl GateEnds {
    /// Sends one byte.
    #[track_caller]
    pub fn notify(self) {
        // Safety: writes one byte from a live buffer to an fd this process inherited.
        let n = unsafe { libc::write(self.write_end, b"!".as_ptr().cast(), 1) };
        assert_eq!(n, 1, "notify through a gate");
    }

    /// Waits for one byte; panics if the pipe reports end-of-file instead.
    #[track_caller]
    pub fn wait(self) {
        self.read_one("the gate closed without a signal");
    }

    /// Closes this process's copy of the write end (or the gate could never open for
    /// it), then blocks until the gate opens.
    pub fn pass(self) {
        // Safety: closes this process's own copy of an fd it inherited.
        unsafe { libc::close(self.write_end) };
        let mut byte = [0u8; 1];
        // Safety: reads into a live one-byte buffer from an fd this process holds.
        while unsafe { libc::read(self.read_end, byte.as_mut_ptr().cast(), 1) } > 0 {}
    }

    #[track_caller]
    fn read_one(self, on_eof: &str) {
        let mut byte = [0u8; 1];
        loop {
            // Safety: reads into a live one-byte buffer from an fd this process holds.
            let n = unsafe { libc::read(self.read_end, byte.as_mut_ptr().cast(), 1) };
            match n {
                1 => return,
                0 => panic!("{on_eof}"),
                _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
                _ => panic!("reading a gate: {}", std::io::Error::last_os_error()),
            }
        }
    }
}
