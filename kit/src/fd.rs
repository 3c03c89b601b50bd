use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Writes all of `bytes` to `fd` with raw `write(2)` calls, retrying after `EINTR`.
///
/// Children use this instead of `print!`: std's stdout lock may have been held by
/// another thread at the moment of `fork`, and then it stays locked in the child for
/// good. A single call writes the bytes with one `write(2)` whenever the kernel takes
/// them all at once, which a pipe guarantees up to `PIPE_BUF` (4096) bytes.
pub fn write_all(fd: BorrowedFd<'_>, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        // Safety: the pointer and length come from a live slice, and `fd` is borrowed
        // open for the whole call.
        let n = unsafe { libc::write(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        bytes = &bytes[n as usize..];
    }
    Ok(())
}
