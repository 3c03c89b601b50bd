//! Given: a run of elements in memory that processes forked after its creation share.
//!
//! Chapter 5's `Shared<T>` holds one `T` of a size known at compile time; an array's
//! length is known only at run time. The recipe is the same: a `memfd` (a file that
//! lives in memory and has no name in any directory) of the right size, mapped with
//! `MAP_SHARED`, so that `fork` hands the child the same pages instead of a private
//! copy. The kernel hands out every new page zeroed, and all-zero bytes are a valid
//! [`Slot`] holding zero: a new region is an array of zeros.

use std::fs::File;
use std::io;
use std::marker::PhantomData;

use memmap2::{Advice, MmapRaw};
use nix::sys::memfd::{memfd_create, MFdFlags};

use crate::element::{Element, Slot};

/// `len` elements of type `T` in shared memory, mapped in this process and in every
/// process forked from it afterwards. The memory goes away with the last process that
/// maps it (a crash leaves nothing behind in `/dev/shm`).
pub struct Region<T: Element> {
    map: MmapRaw,
    len: usize,
    element: PhantomData<T>,
}

impl<T: Element> Region<T> {
    // ANCHOR: zeroed
    /// Maps `len` elements, all zero. An error if the size does not fit in memory.
    pub fn zeroed(len: usize) -> io::Result<Region<T>> {
        let bytes = len
            .checked_mul(size_of::<Slot<T>>())
            .ok_or_else(|| io::Error::from_raw_os_error(nix::libc::ENOMEM))?;
        let fd = memfd_create(c"workbook-array", MFdFlags::MFD_CLOEXEC)?;
        let file = File::from(fd);
        // A mapping cannot be empty; an empty array maps one (unused) byte.
        file.set_len(bytes.max(1) as u64)?;
        Ok(Region {
            // The mapping keeps the memory alive after `file` (the fd) is closed.
            map: MmapRaw::map_raw(&file)?,
            len,
            element: PhantomData,
        })
    }
    // ANCHOR_END: zeroed

    /// How many elements it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The elements.
    pub fn slots(&self) -> &[Slot<T>] {
        // Safety: the mapping is page-aligned (so aligned for any Slot), at least
        // len * size_of::<Slot<T>>() bytes, and lives as long as `self`; zero bytes are
        // valid slots; slots are atomics, so shared references to them are sound while
        // other processes read and write the same memory.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr().cast::<Slot<T>>(), self.len) }
    }

    /// Where the elements start in this process (Python's `ctypes.addressof`).
    pub fn as_ptr(&self) -> *const Slot<T> {
        self.map.as_ptr().cast()
    }

    // ANCHOR: populate
    /// Maps every page of the region into this process now, in one system call.
    ///
    /// `fork` does not copy a child's page-table entries for shared memory: the first
    /// touch of each page in a new process takes a page fault. Calling this first, before
    /// a lock is taken for instance, pays for all of them at once and at a time of the
    /// caller's choosing. It asks for the pages "for reading" (`MADV_POPULATE_READ`),
    /// which lets the kernel map up to 16 pages per fault ("fault-around"). Memory that
    /// no disk backs has no dirty pages to track, so those pages come mapped writable:
    /// the writes after it take no fault either.
    ///
    /// Needs Linux 5.14 (`EINVAL` before). Memory the kernel cannot provide is an error
    /// here (`ENOMEM`, `EFAULT`), where a first touch would be killed by `SIGBUS`.
    pub fn populate(&self) -> io::Result<()> {
        self.map.advise(Advice::PopulateRead)
    }
    // ANCHOR_END: populate
}
