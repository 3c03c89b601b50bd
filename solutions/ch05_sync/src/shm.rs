//! Given: memory that processes forked after its creation really share.
//!
//! `memmap2::MmapMut::map_anon` is private: after `fork`, a child's writes are
//! copy-on-write and its parent never sees them. This module maps a `memfd` instead: a
//! file-backed mapping is `MAP_SHARED`, so every process that inherits it sees the same
//! pages.

use std::fs::File;
use std::io;
use std::marker::PhantomData;
use std::ops::Deref;
use std::ptr;

use memmap2::MmapRaw;
use nix::sys::memfd::{memfd_create, MFdFlags};

/// Types that may live in memory several processes read and write at once.
///
/// # Safety
/// The type is `#[repr(C)]`, holds no pointer (addresses mean nothing in another
/// process), and every field another process may write is reached only through atomics
/// (or through raw pointers behind a lock of its own): then a `&T` over shared memory
/// is sound, as it is for a `&T` shared between threads.
pub unsafe trait ShmSafe: Sync {}

/// A `T` in shared memory, mapped in this process and in every process forked from it
/// afterwards. The memory goes away with the last process that maps it.
pub struct Shared<T: ShmSafe> {
    map: MmapRaw,
    value: PhantomData<T>,
}

impl<T: ShmSafe> Shared<T> {
    /// Maps a new shared region and moves `value` into it.
    pub fn new(value: T) -> io::Result<Shared<T>> {
        // Safety: the region is initialised right below, before anyone can use it.
        let shared: Shared<T> = unsafe { Shared::zeroed()? };
        // Safety: the mapping is at least size_of::<T>() bytes, page-aligned (so aligned
        // for T), and not yet visible to any other process or thread.
        unsafe { ptr::write(shared.as_ptr(), value) };
        Ok(shared)
    }

    /// Maps a new shared region of zeroed bytes, for a `T` that must be initialised in
    /// place (a pthread mutex must never move once initialised): initialise it through
    /// [`Shared::as_ptr`] before any other use.
    ///
    /// # Safety
    /// Until initialised, the region holds zero bytes, which need not be a valid `T`:
    /// the caller initialises it before dereferencing or sharing the `Shared`.
    pub unsafe fn zeroed() -> io::Result<Shared<T>> {
        let fd = memfd_create(c"workbook-shared", MFdFlags::MFD_CLOEXEC)?;
        let file = File::from(fd);
        file.set_len(std::mem::size_of::<T>().max(1) as u64)?;
        Ok(Shared {
            map: MmapRaw::map_raw(&file)?,
            value: PhantomData,
        })
    }

    /// The address of the `T` in this process's mapping, for in-place initialisation
    /// and for C functions that take a pointer (the pointer is valid while `self` is).
    pub fn as_ptr(&self) -> *mut T {
        self.map.as_mut_ptr().cast::<T>()
    }
}

impl<T: ShmSafe> Deref for Shared<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // Safety: `new` wrote a T there, the mapping lives as long as `self`, and
        // `T: ShmSafe` makes shared references sound while other processes use it.
        unsafe { &*self.map.as_ptr().cast::<T>() }
    }
}
