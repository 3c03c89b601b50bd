//! Chapter 6, Shared ctypes objects: shared values and arrays, lost updates, lock
//! granularity.
//!
//! `cargo test --test ch06_shared_memory` grades chapters/ch06_shared_memory; add
//! `--features solutions` to run the same tests against the reference solution. Test
//! names start with the exercise id: `cargo test --test ch06_shared_memory ex3`.
//!
//! Races are never left to chance: where a test needs processes to interleave, gates
//! force the interleaving; where it cannot, it asserts only what every interleaving
//! guarantees (an unlocked counter never exceeds the total).

use std::cell::Cell;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mpkit::testkit::{isolated, procfs, proptest_config, reap, say, Gate, Transcript};
use mpkit::{fork_child, Child, ExitStatus};
use proptest::prelude::*;
use rstest::rstest;
use workbook::ch06_shared_memory::granularity::{
    append_byte, replace_locking_all, replace_locking_each, replace_unlocked,
};
use workbook::ch06_shared_memory::{
    py_bytes, Array, CChar, Element, Lock, Lockable, RawArray, RawValue, Region, Shared, ShmError,
    ShmSafe, Slot, SyncError, Synchronized, Value,
};

const LONG: Duration = Duration::from_secs(5);

fn debug<T: std::fmt::Debug>(value: T) -> String {
    format!("{value:?}")
}

/// Forks a child that runs `body`; the test joins it with [`join`] or [`join_all`].
fn spawn(body: impl FnOnce()) -> Child {
    fork_child(body).expect("fork")
}

fn join(child: &mut Child) {
    assert_eq!(
        reap(child),
        ExitStatus::Exited(0),
        "a child failed (its stderr is below)"
    );
}

fn join_all(children: &mut [Child]) {
    children.iter_mut().for_each(join);
}

/// Runs `work(k)` for k in 0..processes, each in a child, all released at once by a
/// start gate, and joins them. Returns the children's pids, in order of k.
fn race(processes: u64, work: impl Fn(u64)) -> Vec<i32> {
    let work = &work;
    let mut gate = Gate::new();
    let ends = gate.ends();
    let mut children: Vec<Child> = (0..processes)
        .map(|k| {
            spawn(move || {
                ends.pass();
                work(k);
            })
        })
        .collect();
    gate.open();
    let pids = children.iter().map(Child::pid).collect();
    join_all(&mut children);
    pids
}

/// The kit's proptest settings, with no failure file: a student's failing case must
/// not leave a `.proptest-regressions` file in their tree.
fn config(cases: u32) -> proptest::test_runner::Config {
    proptest::test_runner::Config {
        failure_persistence: None,
        ..proptest_config(cases)
    }
}

/// How long a blocked process is watched, and the most CPU it may use meanwhile.
const BLOCKED_FOR: Duration = Duration::from_millis(300);
const BLOCKED_MAX_TICKS: u64 = 5;

/// What a [`CountingLock`] has seen, in shared memory (children's calls count too).
#[repr(C)]
#[derive(Default)]
struct Counts {
    acquires: AtomicU64,
    releases: AtomicU64,
    /// The pid of the process that took the lock last.
    last_holder: AtomicI32,
    /// The pid of the process holding it now, or 0.
    holder: AtomicI32,
}

// Safety: repr(C), no pointers, atomics only.
unsafe impl ShmSafe for Counts {}

/// A lock of the test's own (Python takes any object with `acquire` and `release`): a
/// plain `Lock` that counts acquires and releases and remembers who took it last. A
/// process that asks for it while holding it would wait for itself forever: that
/// fails at once instead.
struct CountingLock {
    lock: Lock,
    counts: Shared<Counts>,
}

impl CountingLock {
    fn new() -> Arc<CountingLock> {
        Arc::new(CountingLock {
            lock: Lock::new().expect("lock"),
            counts: Shared::new(Counts::default()).expect("shared memory"),
        })
    }

    /// (acquires, releases) so far.
    fn counts(&self) -> (u64, u64) {
        (
            self.counts.acquires.load(Ordering::SeqCst),
            self.counts.releases.load(Ordering::SeqCst),
        )
    }

    fn last_holder(&self) -> i32 {
        self.counts.last_holder.load(Ordering::SeqCst)
    }
}

impl Lockable for CountingLock {
    fn acquire(&self, timeout: Option<Duration>) -> Result<bool, SyncError> {
        let me = std::process::id() as i32;
        assert_ne!(
            self.counts.holder.load(Ordering::SeqCst),
            me,
            "the lock was taken again by the process holding it (a release is missing)"
        );
        let taken = self.lock.acquire(timeout)?;
        if taken {
            self.counts.acquires.fetch_add(1, Ordering::SeqCst);
            self.counts.last_holder.store(me, Ordering::SeqCst);
            self.counts.holder.store(me, Ordering::SeqCst);
        }
        Ok(taken)
    }

    fn release(&self) -> Result<(), SyncError> {
        // Counted while still held, so that a count never runs ahead of the lock.
        self.counts.releases.fetch_add(1, Ordering::SeqCst);
        self.counts.holder.store(0, Ordering::SeqCst);
        self.lock.release()
    }
}

/// Fails at once (instead of deadlocking in the next step) when `lock` was not given
/// back after `what`.
fn assert_released(lock: &CountingLock, what: &str) {
    let (acquires, releases) = lock.counts();
    assert_eq!(
        acquires, releases,
        "{what} did not release the lock it took"
    );
}

/// `obj` guarded by a new counting lock, and the lock.
fn counted<O>(obj: O) -> (Synchronized<O>, Arc<CountingLock>) {
    let lock = CountingLock::new();
    (Synchronized::wrap(obj, lock.clone()), lock)
}

/// The line of `/proc/self/maps` whose range holds `address`, cut to what names the
/// memory behind it (device, inode and path), or `None` when nothing is mapped there.
fn mapping_of(address: usize) -> Option<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("reading /proc/self/maps");
    maps.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (start, end) = fields[0].split_once('-')?;
        let start = usize::from_str_radix(start, 16).ok()?;
        let end = usize::from_str_radix(end, 16).ok()?;
        (start..end)
            .contains(&address)
            .then(|| fields[3..].join(" "))
    })
}

/// What `array.iter()` yields, but never more than one element past the length: an
/// iterator that does not end fails the test instead of filling the memory.
fn items<T: Element>(array: &RawArray<T>) -> Vec<T> {
    array.iter().take(array.len() + 1).collect()
}

/// Bit patterns, to compare floats exactly (NaN payloads, the sign of zero).
trait Bits: Element {
    fn bits(self) -> u64;
}

macro_rules! bits_of_integers {
    ($($t:ty),*) => {
        $(impl Bits for $t {
            fn bits(self) -> u64 {
                self as u64
            }
        })*
    };
}

bits_of_integers!(i8, u8, i16, u16, i32, u32, i64, u64);

impl Bits for f32 {
    fn bits(self) -> u64 {
        u64::from(self.to_bits())
    }
}

impl Bits for f64 {
    fn bits(self) -> u64 {
        self.to_bits()
    }
}

impl Bits for CChar {
    fn bits(self) -> u64 {
        u64::from(self.0)
    }
}

// ---- Given: elements, Python's reprs, regions ------------------------------------------------

/// Each element type goes in and out of its slot unchanged, compare-exchange included.
#[rstest]
#[case::i8(i8::MIN, i8::MAX)]
#[case::u8(0u8, u8::MAX)]
#[case::i16(i16::MIN, -1i16)]
#[case::u16(1u16, u16::MAX)]
#[case::i32(-7i32, i32::MIN)]
#[case::u32(u32::MAX, 0u32)]
#[case::i64(i64::MIN, i64::MAX)]
#[case::u64(u64::MAX, 1u64)]
#[case::f32(-0.0f32, f32::from_bits(0x7fc0_1234))]
#[case::f64(f64::from_bits(0x7ff8_dead_beef_0001), -0.0f64)]
#[case::c_char(CChar(b'A'), CChar(0xff))]
fn given_a_slot_keeps_every_bit<T: Bits>(#[case] first: T, #[case] second: T) {
    let slot = Slot::new(first);
    assert_eq!(slot.load().bits(), first.bits());
    // A compare-exchange from the wrong value fails and reports what the slot holds.
    let found = slot.compare_exchange(second, first);
    assert_eq!(found.map_err(Bits::bits), Err(first.bits()));
    let mut swapped = slot.compare_exchange(first, second);
    while swapped.is_err() {
        // compare_exchange may fail spuriously: retry until it reports the real value.
        swapped = slot.compare_exchange(first, second);
    }
    assert_eq!(slot.load().bits(), second.bits());
    slot.store(first);
    assert_eq!(slot.load().bits(), first.bits());
}

/// Python's typecodes and ctypes names, and the reprs Python prints (checked against
/// CPython 3.11).
#[rstest]
#[case::i8(-128i8, 'b', "c_byte(-128)")]
#[case::u8(255u8, 'B', "c_ubyte(255)")]
#[case::i16(-32768i16, 'h', "c_short(-32768)")]
#[case::u16(65535u16, 'H', "c_ushort(65535)")]
#[case::i32(-7i32, 'i', "c_int(-7)")]
#[case::u32(4_294_967_295u32, 'I', "c_uint(4294967295)")]
#[case::i64(i64::MIN, 'q', "c_long(-9223372036854775808)")]
#[case::u64(u64::MAX, 'Q', "c_ulong(18446744073709551615)")]
#[case::f32(0.1f32, 'f', "c_float(0.10000000149011612)")]
#[case::f64(1e16f64, 'd', "c_double(1e+16)")]
#[case::c_char(CChar(0), 'c', "c_char(b'\\x00')")]
fn given_each_type_has_pythons_typecode_and_repr<T: Element>(
    #[case] value: T,
    #[case] typecode: char,
    #[case] repr: &str,
) {
    assert_eq!(T::TYPECODE, typecode);
    assert_eq!(format!("{}({})", T::CTYPE, value.py_repr()), repr);
}

#[rstest]
#[case::small(0.5, "0.5")]
#[case::whole(1.0, "1.0")]
#[case::below_the_exponent(1e15, "1000000000000000.0")]
#[case::exponent(1e16, "1e+16")]
#[case::negative_exponent(1e-5, "1e-05")]
#[case::long_exponent(-1.5e-300, "-1.5e-300")]
#[case::shortest(123456789012345680.0, "1.2345678901234568e+17")]
#[case::tiny_decimal(0.0001, "0.0001")]
#[case::negative_zero(-0.0, "-0.0")]
#[case::nan(f64::NAN, "nan")]
#[case::infinity(f64::NEG_INFINITY, "-inf")]
fn given_floats_print_as_python_prints_them(#[case] value: f64, #[case] repr: &str) {
    assert_eq!(value.py_repr(), repr);
}

#[rstest]
#[case::control(b"\x01\x02\x03", r"b'\x01\x02\x03'")]
#[case::text(b"abc", "b'abc'")]
#[case::escapes(b"\t\n\r\\\x7f\x80", r"b'\t\n\r\\\x7f\x80'")]
#[case::single_quote(b"it's", r#"b"it's""#)]
#[case::both_quotes(b"'\"", r#"b'\'"'"#)]
#[case::empty(b"", "b''")]
fn given_bytes_print_as_python_prints_them(#[case] bytes: &[u8], #[case] repr: &str) {
    assert_eq!(py_bytes(bytes), repr);
}

#[test]
fn given_a_region_is_zeros_shared_with_children_forked_after_it() {
    let (before, after) = isolated(|| {
        let region = Region::<u32>::zeroed(3000).expect("region");
        let before: Vec<u32> = region.slots().iter().map(Slot::load).collect();
        let mut child = spawn(|| region.slots()[2999].store(42));
        join(&mut child);
        (before, region.slots()[2999].load())
    });
    assert!(before.iter().all(|&x| x == 0), "a new region holds zeros");
    assert_eq!(after, 42);
}

/// Minor page faults this process has taken while running `f`.
fn faults_while(f: impl FnOnce()) -> u64 {
    let me = std::process::id() as i32;
    let faults = || procfs::stat(me).expect("my own stat").minor_faults;
    let before = faults();
    f();
    faults() - before
}

/// Writes `value` into every slot, one store at a time (no allocation on the way).
fn fill(region: &Region<u32>, value: u32) {
    for slot in region.slots() {
        slot.store(value);
    }
}

/// 4 MiB of `u32`: 1024 pages.
const PAGES_LEN: usize = 1 << 20;
const PAGES: u64 = (PAGES_LEN * 4 / 4096) as u64;

/// `fork` copies none of a shared mapping's page-table entries: a child's first write
/// to each page faults. `populate` maps them all in one call, after which writes take
/// no fault, in the process that made the array and in a child alike.
#[test]
fn given_populate_maps_every_page_so_that_writes_take_no_fault() {
    let (parent, unpopulated, populated, rss_kib) = isolated(|| {
        let region = Region::<u32>::zeroed(PAGES_LEN).expect("region");
        let counts = Region::<u64>::zeroed(3).expect("counts");
        let counts = counts.slots();
        region.populate().expect("populate");
        let parent = faults_while(|| fill(&region, 1));
        let mut first = spawn(|| counts[0].store(faults_while(|| fill(&region, 2))));
        join(&mut first);
        let mut second = spawn(|| {
            region.populate().expect("populate in a child");
            let me = std::process::id() as i32;
            counts[1].store(procfs::status_kib(me, "RssShmem").expect("RssShmem"));
            counts[2].store(faults_while(|| fill(&region, 3)));
        });
        join(&mut second);
        let shared = region.slots().iter().all(|slot| slot.load() == 3);
        assert!(shared, "the last child's writes are shared");
        (parent, counts[0].load(), counts[2].load(), counts[1].load())
    });
    let few = PAGES / 32;
    assert!(
        parent <= few,
        "{parent} faults writing {PAGES} populated pages"
    );
    assert!(
        unpopulated >= PAGES / 2,
        "a child writing without populate faults on every page: {unpopulated} faults, \
         {PAGES} pages"
    );
    assert!(
        populated <= few,
        "{populated} faults after populate in a child"
    );
    assert!(
        rss_kib >= PAGES * 4,
        "after populate the child maps all {} KiB: RssShmem {rss_kib} KiB",
        PAGES * 4
    );
}

#[test]
fn given_a_region_too_big_for_memory_is_an_error() {
    let err = Region::<u64>::zeroed(usize::MAX / 4)
        .err()
        .map(|e| e.raw_os_error());
    assert_eq!(err, Some(Some(libc::ENOMEM)));
}

/// What each misuse says: Python's words, and the numbers that explain them.
#[test]
fn given_errors_say_what_went_wrong() {
    let messages: Vec<String> = [
        ShmError::IndexOutOfRange { index: 5, len: 3 },
        ShmError::RangeOutOfBounds {
            start: 2,
            end: 9,
            len: 3,
        },
        ShmError::LengthMismatch {
            expected: 2,
            got: 1,
        },
        ShmError::TooLong {
            len: 6,
            capacity: 5,
        },
        ShmError::Sync(SyncError::NotOwner),
        ShmError::from(std::io::Error::from_raw_os_error(libc::ENOMEM)),
        ShmError::from(SyncError::NotLocked),
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    assert_eq!(
        messages,
        [
            "invalid index 5 (length 3)",
            "range 2..9 out of bounds (length 3)",
            "can only assign a sequence of the same size (expected 2, got 1)",
            "byte string too long (6 bytes for 5)",
            "the lock is not held by this thread",
            "mapping shared memory failed: ENOMEM: Out of memory",
            "release of an unlocked lock",
        ]
    );
}

// ---- Exercise 1: RawValue --------------------------------------------------------------------

/// For each type: the initial value reads back, a child's write is seen by the parent,
/// bit for bit (a NaN's payload, the sign of zero), and `repr` matches Python's.
#[rstest]
#[case::i8(i8::MIN, i8::MAX, "c_byte(-128)")]
#[case::u8(0u8, u8::MAX, "c_ubyte(0)")]
#[case::i16(i16::MIN, -1i16, "c_short(-32768)")]
#[case::u16(1u16, u16::MAX, "c_ushort(1)")]
#[case::i32(-7i32, i32::MIN, "c_int(-7)")]
#[case::u32(u32::MAX, 0u32, "c_uint(4294967295)")]
#[case::i64(i64::MIN, i64::MAX, "c_long(-9223372036854775808)")]
#[case::u64(u64::MAX, 1u64, "c_ulong(18446744073709551615)")]
#[case::f32(-0.0f32, f32::from_bits(0x7fc0_1234), "c_float(-0.0)")]
#[case::f64(f64::from_bits(0x7ff8_dead_beef_0001), -0.0f64, "c_double(nan)")]
#[case::c_char(CChar(b'A'), CChar(0xff), "c_char(b'A')")]
fn ex1_a_raw_value_crosses_the_fork_bit_for_bit<T: Bits>(
    #[case] initial: T,
    #[case] written: T,
    #[case] repr: &str,
) {
    let (read, repr_read, seen, zero) = isolated(move || {
        let value = RawValue::new(initial).expect("raw value");
        let read = value.get().bits();
        let repr_read = debug(&value);
        let mut child = spawn(|| value.set(written));
        join(&mut child);
        let zero = RawValue::new(T::default()).expect("raw value").get().bits();
        (read, repr_read, value.get().bits(), zero)
    });
    assert_eq!(read, initial.bits(), "the initial value reads back");
    assert_eq!(repr_read, repr);
    assert_eq!(seen, written.bits(), "the parent sees the child's write");
    assert_eq!(zero, 0);
}

#[test]
fn ex1_set_then_get_in_one_process() {
    let values = isolated(|| {
        let value = RawValue::new(10u16).expect("raw value");
        let mut seen = vec![value.get()];
        for x in [0, 65535, 7] {
            value.set(x);
            seen.push(value.get());
        }
        seen
    });
    assert_eq!(values, [10, 0, 65535, 7]);
}

#[test]
fn ex1_update_returns_the_value_it_replaced() {
    let answers = isolated(|| {
        let value = RawValue::new(5i64).expect("raw value");
        let old = value.update(|v| v * 3);
        let again = value.update(|v| v - 20);
        (old, again, value.get())
    });
    assert_eq!(answers, (5, 15, -5));
}

/// Forced: another process writes between `update`'s read and its write. The write
/// must not happen; `f` runs again on the new value.
#[test]
fn ex1_update_starts_again_when_another_process_wrote_in_between() {
    let (calls, replaced, last) = isolated(|| {
        let value = RawValue::new(10u32).expect("raw value");
        let to_child = Gate::new();
        let to_parent = Gate::new();
        let (child_ends, parent_ends) = (to_child.ends(), to_parent.ends());
        let mut child = spawn(|| {
            child_ends.wait();
            value.set(100);
            parent_ends.notify();
        });
        let calls = Cell::new(Vec::new());
        let replaced = value.update(|v| {
            let mut seen = calls.take();
            seen.push(v);
            if seen.len() == 1 {
                // Between this read and the write: the child writes 100.
                to_child.notify();
                parent_ends.wait();
            }
            calls.set(seen);
            v + 1
        });
        join(&mut child);
        (calls.take(), replaced, value.get())
    });
    // (A weak compare-exchange may fail spuriously on some CPUs: f may then run on 100
    // more than once.)
    assert!(
        calls.len() >= 2 && calls[0] == 10 && calls[1..].iter().all(|&v| v == 100),
        "f must run on 10, then again on the child's 100: it ran on {calls:?}"
    );
    assert_eq!(
        (replaced, last),
        (100, 101),
        "the child's write was not lost"
    );
}

/// Forced: the lost update, step by step. The child reads, the parent adds one, the
/// child writes what it read plus one: the parent's update is gone.
#[test]
fn ex1_get_then_set_loses_an_update_when_another_process_comes_between() {
    let last = isolated(|| {
        let counter = RawValue::new(0i32).expect("raw value");
        let to_child = Gate::new();
        let to_parent = Gate::new();
        let (child_ends, parent_ends) = (to_child.ends(), to_parent.ends());
        let mut child = spawn(|| {
            let read = counter.get();
            parent_ends.notify();
            child_ends.wait();
            counter.set(read + 1);
        });
        to_parent.wait();
        counter.set(counter.get() + 1);
        to_child.notify();
        join(&mut child);
        counter.get()
    });
    assert_eq!(last, 1, "two increments, one lost");
}

/// N processes count with `set(get() + 1)` and with `update(|v| v + 1)`.
fn count_raw(processes: u64, iterations: u64) -> (u64, u64) {
    isolated(move || {
        let racy = RawValue::new(0u64).expect("raw value");
        let atomic = RawValue::new(0u64).expect("raw value");
        race(processes, |_| {
            for _ in 0..iterations {
                racy.set(racy.get() + 1);
                atomic.update(|v| v + 1);
            }
        });
        (racy.get(), atomic.get())
    })
}

proptest! {
    #![proptest_config(config(8))]

    /// `update` loses nothing; a load then a store may lose increments, but never
    /// invents one, and a single process loses none.
    #[test]
    fn ex1_update_loses_no_increment(processes in 1u64..=6, iterations in 0u64..2000) {
        let (racy, atomic) = count_raw(processes, iterations);
        prop_assert_eq!(atomic, processes * iterations);
        prop_assert!(racy <= processes * iterations, "{} > {}", racy, processes * iterations);
        if processes == 1 {
            prop_assert_eq!(racy, iterations);
        }
    }
}

/// A value created after the fork is not in the child: the child's address space is a
/// copy of the parent's at the moment of `fork`, and the new mapping came later. A value
/// created before the fork is the same memory in both.
#[test]
fn ex1_a_value_created_after_a_fork_is_not_shared_with_the_child() {
    let (parent_before, parent_after, lines) = isolated(|| {
        let before = RawValue::new(0u64).expect("raw value");
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let to_child = Gate::new();
        let ends = to_child.ends();
        let mut child = spawn(|| {
            ends.wait();
            // `before` holds the address of the value the parent created after the fork.
            let after = before.get() as usize;
            let shown = |address| mapping_of(address).unwrap_or_else(|| "nothing".to_owned());
            say(fd, &format!("before: {}", shown(before.as_ptr() as usize)));
            say(fd, &format!("after: {}", shown(after)));
        });
        let after = RawValue::new(7u64).expect("raw value");
        before.set(after.as_ptr() as u64);
        to_child.notify();
        join(&mut child);
        (
            mapping_of(before.as_ptr() as usize).expect("mapped here"),
            mapping_of(after.as_ptr() as usize).expect("mapped here"),
            transcript.finish(),
        )
    });
    assert!(
        parent_after.contains("memfd:"),
        "a value lives in a memfd mapping: {parent_after}"
    );
    assert_ne!(parent_before, parent_after, "two values, two mappings");
    assert_eq!(lines[0], format!("before: {parent_before}"));
    assert_ne!(
        lines[1],
        format!("after: {parent_after}"),
        "the child cannot have the parent's later mapping"
    );
}

// ---- Exercise 2: Synchronized and Value -------------------------------------------------------

#[test]
fn ex2_a_value_reads_and_writes_under_an_rlock() {
    let answers = isolated(|| {
        let value = Value::new(7i32).expect("value");
        let first = value.get();
        value.set(9).expect("set");
        let reentrant = {
            let guard = value.lock().expect("lock");
            // An RLock: the holder may take it again, and `get` inside `with v:` works.
            let again = value.get_lock().acquire(Some(Duration::ZERO));
            value.get_lock().release().expect("release");
            (again, value.get(), guard.get())
        };
        debug((first, reentrant, debug(&value), value.get_obj().get()))
    });
    assert_eq!(
        answers,
        debug((
            Ok::<_, ()>(7),
            (Ok::<_, ()>(true), Ok::<_, ()>(9), 9),
            "<Synchronized wrapper for c_int(9)>",
            9
        ))
    );
}

/// Every access through the wrapper takes the lock exactly once and gives it back;
/// a guard holds it until dropped.
#[test]
fn ex2_each_access_takes_the_lock_once() {
    let steps = isolated(|| {
        let (value, lock) = counted(RawValue::new(1u8).expect("raw value"));
        let mut steps = vec![lock.counts()];
        let got = value.get().expect("get");
        steps.push(lock.counts());
        assert_released(&lock, "get");
        value.set(got + 1).expect("set");
        steps.push(lock.counts());
        {
            let guard = value.lock().expect("lock");
            steps.push(lock.counts());
            guard.set(guard.get() * 10);
            steps.push(lock.counts());
        }
        steps.push(lock.counts());
        assert_released(&lock, "dropping the guard");
        let guard = value.lock_timeout(LONG).expect("lock_timeout");
        steps.push(lock.counts());
        drop(guard);
        steps.push(lock.counts());
        assert_eq!(value.acquire(None), Ok(true));
        steps.push(lock.counts());
        value.release().expect("release");
        steps.push(lock.counts());
        (steps, value.get_obj().get())
    });
    // (acquires, releases) after each step.
    assert_eq!(
        steps.0,
        [
            (0, 0), // new
            (1, 1), // get
            (2, 2), // set
            (3, 2), // lock
            (3, 2), // get and set through the guard
            (3, 3), // guard dropped
            (4, 3), // lock_timeout
            (4, 4), // its guard dropped
            (5, 4), // acquire
            (5, 5), // release
        ]
    );
    assert_eq!(steps.1, 20);
}

/// Python's `with v:` releases the lock on the way out, exception or not.
#[test]
fn ex2_a_panic_inside_the_lock_releases_it() {
    let (caught, after) = isolated(|| {
        let (value, lock) = counted(RawValue::new(0i32).expect("raw value"));
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let guard = value.lock().expect("lock");
            guard.set(1);
            panic!("inside with");
        }))
        .is_err();
        (caught, lock.counts())
    });
    assert!(caught);
    assert_eq!(after, (1, 1), "the unwinding guard released the lock");
}

/// Two values guarded by one lock (Python's `lock=other.get_lock()`): holding one's
/// lock keeps the other out.
#[test]
fn ex2_values_may_share_a_lock() {
    let answers = isolated(|| {
        let a = Value::new(1i16).expect("value");
        let b = Synchronized::wrap(
            RawValue::new(2i16).expect("raw value"),
            a.get_lock().clone(),
        );
        let held = a.lock().expect("lock");
        let from_child = {
            let mut child = spawn(|| {
                let blocked = b.lock_timeout(Duration::from_millis(50)).unwrap().is_none();
                assert!(blocked, "b's lock is a's lock, held by the parent");
            });
            join(&mut child);
            "b waited".to_owned()
        };
        drop(held);
        let free = b.lock_timeout(Duration::ZERO).expect("lock").is_some();
        (from_child, free)
    });
    assert_eq!(answers, ("b waited".to_owned(), true));
}

/// Python's `Value('i', 0, lock=Lock())`: a plain lock guards the value. It is not
/// re-entrant (the holder cannot take it again), it keeps other processes out, and
/// releasing it twice is an error.
#[test]
fn ex2_a_plain_lock_may_guard_a_value() {
    let answers = isolated(|| {
        let lock = Arc::new(Lock::new().expect("lock"));
        let value = Synchronized::wrap(RawValue::new(5u32).expect("raw value"), lock.clone());
        let guard = value.lock().expect("lock");
        let held = lock.is_locked();
        let again = value.get_lock().acquire(Some(Duration::ZERO));
        let mut child = spawn(|| {
            let kept_out = value
                .lock_timeout(Duration::from_millis(50))
                .unwrap()
                .is_none();
            assert!(kept_out, "the parent holds the lock");
        });
        join(&mut child);
        drop(guard);
        let after = lock.is_locked();
        assert!(!after, "dropping the guard did not release the plain lock");
        let got = value.get();
        debug((held, again, after, got, value.release(), lock.is_locked()))
    });
    assert_eq!(
        answers,
        debug((
            true,
            Ok::<_, ()>(false),
            false,
            Ok::<_, ()>(5),
            Err::<(), _>(SyncError::NotLocked),
            false
        ))
    );
}

/// Block, then release: a child's `get` and `lock` wait (without spinning) while the
/// parent holds the value's lock; a short `lock_timeout` gives up. What the child reads
/// is what the parent wrote just before releasing.
#[test]
fn ex2_get_waits_for_the_holder_without_spinning() {
    let (lines, cpu) = isolated(|| {
        let value = Value::new(1u64).expect("value");
        let transcript = Transcript::new();
        let fd = transcript.fd().as_raw_fd();
        let guard = value.lock().expect("lock");
        let mut child = spawn(|| {
            let short = value.lock_timeout(Duration::from_millis(50)).unwrap();
            say(fd, &format!("short: {}", short.is_some()));
            say(fd, &format!("get: {:?}", value.get()));
            let guard = value.lock().unwrap();
            say(fd, &format!("lock: {}", guard.get()));
        });
        std::thread::sleep(BLOCKED_FOR);
        let cpu = procfs::cpu_ticks(child.pid());
        guard.set(42);
        drop(guard);
        join(&mut child);
        (transcript.finish(), cpu)
    });
    assert_eq!(lines, ["short: false", "get: Ok(42)", "lock: 42"]);
    assert!(
        cpu <= BLOCKED_MAX_TICKS,
        "the waiter spun: {cpu} ticks in {BLOCKED_FOR:?}"
    );
}

/// Forced: `v.set(v.get() + 1)` on a `Value` still loses an update (the lock is let go
/// between the two), while the same steps under one `lock()` wait for each other.
#[test]
fn ex2_only_one_hold_of_the_lock_around_read_and_write_keeps_the_update() {
    let (per_access, whole) = isolated(|| {
        let per_access = Value::new(0i32).expect("value");
        let whole = Value::new(0i32).expect("value");
        let to_child = Gate::new();
        let to_parent = Gate::new();
        let (child_ends, parent_ends) = (to_child.ends(), to_parent.ends());
        let mut child = spawn(|| {
            let read = per_access.get().unwrap();
            parent_ends.notify();
            child_ends.wait();
            per_access.set(read + 1).unwrap();
            let guard = whole.lock().unwrap();
            let read = guard.get();
            parent_ends.notify();
            // The parent now tries to take the lock; it must wait for this write.
            std::thread::sleep(Duration::from_millis(50));
            guard.set(read + 1);
        });
        to_parent.ends().wait();
        per_access.set(per_access.get().unwrap() + 1).unwrap();
        to_child.notify();
        to_parent.wait();
        {
            let guard = whole.lock().expect("lock");
            guard.set(guard.get() + 1);
        }
        join(&mut child);
        (per_access.get().unwrap(), whole.get().unwrap())
    });
    assert_eq!(per_access, 1, "locking each access: one update lost");
    assert_eq!(whole, 2, "one lock around both: none lost");
}

/// N processes count under the lock and with a locked `get` then a locked `set`.
fn count_locked(processes: u64, iterations: u64) -> (u64, u64) {
    isolated(move || {
        let exact = Value::new(0u64).expect("value");
        let racy = Value::new(0u64).expect("value");
        race(processes, |_| {
            for _ in 0..iterations {
                let guard = exact.lock().unwrap();
                guard.set(guard.get() + 1);
                drop(guard);
                racy.set(racy.get().unwrap() + 1).unwrap();
            }
        });
        (exact.get().unwrap(), racy.get().unwrap())
    })
}

proptest! {
    #![proptest_config(config(8))]

    /// The notebook's counter: under `with counter:`, exactly N x iterations.
    #[test]
    fn ex2_locked_increments_lose_nothing(processes in 1u64..=6, iterations in 0u64..1500) {
        let (exact, racy) = count_locked(processes, iterations);
        prop_assert_eq!(exact, processes * iterations);
        prop_assert!(racy <= processes * iterations);
    }
}

// ---- Exercise 3: RawArray --------------------------------------------------------------------

/// Zeros, every time, however many arrays were filled and dropped before.
#[test]
fn ex3_a_new_array_is_all_zeros_even_after_memory_is_reused() {
    let nonzero = isolated(|| {
        let mut nonzero = 0;
        for round in 0..20 {
            let array = RawArray::<i64>::new(1000 + round % 3).expect("raw array");
            nonzero += items(&array).iter().filter(|&&x| x != 0).count();
            for i in 0..array.len() {
                array.set(i, -1).expect("set");
            }
        }
        nonzero
    });
    assert_eq!(nonzero, 0);
}

#[test]
fn ex3_an_array_from_values_reads_back() {
    let answers = isolated(|| {
        let array = RawArray::from_values(&[3i32, -1, 4, 1, -5]).expect("raw array");
        let before = array.to_vec();
        array.set(1, 10).expect("set");
        let mut child = spawn(|| array.write(3..5, &[7, 8]).unwrap());
        join(&mut child);
        debug((
            before,
            array.len(),
            array.is_empty(),
            array.get(0),
            array.get(4),
            array.read(1..4),
            array.read(..),
            array.read(2..=2),
            items(&array),
            (&array).into_iter().len(),
            debug(&array),
            mapping_of(array.as_ptr() as usize).is_some_and(|m| m.contains("workbook-array")),
        ))
    });
    assert_eq!(
        answers,
        debug((
            vec![3, -1, 4, 1, -5],
            5,
            false,
            Ok::<_, ()>(3),
            Ok::<_, ()>(8),
            Ok::<_, ()>(vec![10, 4, 7]),
            Ok::<_, ()>(vec![3, 10, 4, 7, 8]),
            Ok::<_, ()>(vec![4]),
            vec![3, 10, 4, 7, 8],
            5,
            "c_int_Array_5([3, 10, 4, 7, 8])",
            true,
        ))
    );
}

#[test]
// `3..2` is a backwards range on purpose: it must be an error, not an empty read.
#[allow(clippy::reversed_empty_ranges)]
fn ex3_misuse_is_an_error_and_writes_nothing() {
    let answers = isolated(|| {
        let array = RawArray::from_values(&[1u8, 2, 3]).expect("raw array");
        let errors = (
            array.get(3),
            array.set(3, 9),
            array.read(2..4),
            array.read(3..2),
            array.write(0..2, &[9]),
            array.write(1..4, &[9, 9, 9]),
            array.write(.., &[9, 9, 9, 9]),
        );
        debug((errors, array.to_vec()))
    });
    assert_eq!(
        answers,
        debug((
            (
                Err::<(), _>(ShmError::IndexOutOfRange { index: 3, len: 3 }),
                Err::<(), _>(ShmError::IndexOutOfRange { index: 3, len: 3 }),
                Err::<(), _>(ShmError::RangeOutOfBounds {
                    start: 2,
                    end: 4,
                    len: 3
                }),
                Err::<(), _>(ShmError::RangeOutOfBounds {
                    start: 3,
                    end: 2,
                    len: 3
                }),
                Err::<(), _>(ShmError::LengthMismatch {
                    expected: 2,
                    got: 1
                }),
                Err::<(), _>(ShmError::RangeOutOfBounds {
                    start: 1,
                    end: 4,
                    len: 3
                }),
                Err::<(), _>(ShmError::LengthMismatch {
                    expected: 3,
                    got: 4
                }),
            ),
            vec![1, 2, 3]
        ))
    );
}

#[test]
fn ex3_an_empty_array_has_nothing_to_give() {
    let answers = isolated(|| {
        let empty = RawArray::<f64>::new(0).expect("raw array");
        let from_nothing = RawArray::<f64>::from_values(&[]).expect("raw array");
        debug((
            empty.len(),
            empty.is_empty(),
            empty.get(0),
            empty.read(..),
            empty.write(.., &[]),
            empty.iter().next(),
            from_nothing.len(),
        ))
    });
    assert_eq!(
        answers,
        debug((
            0,
            true,
            Err::<f64, _>(ShmError::IndexOutOfRange { index: 0, len: 0 }),
            Ok::<Vec<f64>, ()>(vec![]),
            Ok::<(), ()>(()),
            None::<f64>,
            0
        ))
    );
}

/// One step of the array model.
#[derive(Clone, Debug)]
enum ArrayOp {
    Get(usize),
    Set(usize, i16),
    Read(usize, usize),
    Write(usize, usize, Vec<i16>),
    Iter,
}

fn array_op() -> impl Strategy<Value = ArrayOp> {
    prop_oneof![
        (0usize..10).prop_map(ArrayOp::Get),
        (0usize..10, any::<i16>()).prop_map(|(i, v)| ArrayOp::Set(i, v)),
        (0usize..10, 0usize..10).prop_map(|(a, b)| ArrayOp::Read(a, b)),
        (
            0usize..10,
            0usize..10,
            prop::collection::vec(any::<i16>(), 0..6)
        )
            .prop_map(|(a, b, v)| ArrayOp::Write(a, b, v)),
        Just(ArrayOp::Iter),
    ]
}

/// What a `Vec` says each step answers, and what it holds afterwards.
fn model_array(values: &mut [i16], op: &ArrayOp) -> String {
    let len = values.len();
    let bounds = |start: usize, end: usize| {
        if start <= end && end <= len {
            Ok(start..end)
        } else {
            Err(ShmError::RangeOutOfBounds { start, end, len })
        }
    };
    let out_of_range = |index| ShmError::IndexOutOfRange { index, len };
    match op {
        ArrayOp::Get(i) => debug(values.get(*i).copied().ok_or(out_of_range(*i))),
        ArrayOp::Set(i, v) => debug(match values.get_mut(*i) {
            Some(slot) => {
                *slot = *v;
                Ok(())
            }
            None => Err(out_of_range(*i)),
        }),
        ArrayOp::Read(a, b) => debug(bounds(*a, *b).map(|r| values[r].to_vec())),
        ArrayOp::Write(a, b, new) => debug(bounds(*a, *b).and_then(|r| {
            if r.len() != new.len() {
                return Err(ShmError::LengthMismatch {
                    expected: r.len(),
                    got: new.len(),
                });
            }
            values[r].copy_from_slice(new);
            Ok(())
        })),
        ArrayOp::Iter => debug(values.to_vec()),
    }
}

fn run_array(array: &RawArray<i16>, op: &ArrayOp) -> String {
    match op {
        ArrayOp::Get(i) => debug(array.get(*i)),
        ArrayOp::Set(i, v) => debug(array.set(*i, *v)),
        ArrayOp::Read(a, b) => debug(array.read(*a..*b)),
        ArrayOp::Write(a, b, new) => debug(array.write(*a..*b, new)),
        ArrayOp::Iter => debug(items(array)),
    }
}

proptest! {
    #![proptest_config(config(32))]

    /// A RawArray answers every sequence of operations as a Vec would.
    #[test]
    fn ex3_an_array_behaves_like_a_vec(
        initial in prop::collection::vec(any::<i16>(), 0..8),
        ops in prop::collection::vec(array_op(), 1..24),
    ) {
        let mut model = initial.clone();
        let expected: Vec<String> = ops.iter().map(|op| model_array(&mut model, op)).collect();
        let ops_here = ops.clone();
        let (answers, last) = isolated(move || {
            let array = RawArray::from_values(&initial).expect("raw array");
            let answers: Vec<String> = ops_here.iter().map(|op| run_array(&array, op)).collect();
            (answers, array.to_vec())
        });
        prop_assert_eq!(answers, expected);
        prop_assert_eq!(last, model);
    }
}

// ---- Exercise 4: Array -----------------------------------------------------------------------

#[test]
fn ex4_an_array_starts_with_an_rlock() {
    let answers = isolated(|| {
        let zeros = Array::<u32>::new(3).expect("array");
        let array = Array::from_values(&[1.5f32, 2.5]).expect("array");
        let guard = array.lock().expect("lock");
        let again = array.get_lock().acquire(Some(Duration::ZERO));
        array.get_lock().release().expect("release");
        let inside = array.get(1);
        drop(guard);
        let empty = Array::<u8>::new(0).expect("array");
        debug((
            zeros.to_vec(),
            again,
            inside,
            array.len(),
            zeros.is_empty(),
            empty.is_empty(),
            empty.len(),
        ))
    });
    assert_eq!(
        answers,
        debug((
            Ok::<_, ()>(vec![0, 0, 0]),
            Ok::<_, ()>(true),
            Ok::<_, ()>(2.5),
            2,
            false,
            true,
            0
        ))
    );
}

/// Each access takes the lock once, errors included; `len` needs none.
#[test]
fn ex4_each_access_takes_the_lock_once() {
    let (answers, counts) = isolated(|| {
        let (array, lock) = counted(RawArray::from_values(&[1i64, 2, 3]).expect("raw array"));
        let mut counts = Vec::new();
        let mut answers = Vec::new();
        answers.push(debug(array.len()));
        counts.push(lock.counts());
        answers.push(debug(array.get(2)));
        counts.push(lock.counts());
        assert_released(&lock, "get");
        answers.push(debug(array.set(0, 10)));
        counts.push(lock.counts());
        answers.push(debug(array.read(..2)));
        counts.push(lock.counts());
        answers.push(debug(array.write(1.., &[20, 30])));
        counts.push(lock.counts());
        answers.push(debug(array.to_vec()));
        counts.push(lock.counts());
        answers.push(debug(array.get(3)));
        counts.push(lock.counts());
        answers.push(debug(array.write(.., &[0])));
        counts.push(lock.counts());
        (answers, counts)
    });
    assert_eq!(
        answers,
        [
            "3",
            "Ok(3)",
            "Ok(())",
            "Ok([10, 2])",
            "Ok(())",
            "Ok([10, 20, 30])",
            "Err(IndexOutOfRange { index: 3, len: 3 })",
            "Err(LengthMismatch { expected: 3, got: 1 })",
        ]
    );
    assert_eq!(
        counts,
        [
            (0, 0),
            (1, 1),
            (2, 2),
            (3, 3),
            (4, 4),
            (5, 5),
            (6, 6),
            (7, 7)
        ]
    );
}

/// Block, then release: a child's `set` waits (without spinning) while the parent
/// holds the array's lock; nothing is written until the parent lets go.
#[test]
fn ex4_set_waits_for_the_holder_without_spinning() {
    let (during, cpu, after) = isolated(|| {
        let array = Array::<i32>::new(2).expect("array");
        let guard = array.lock().expect("lock");
        let mut child = spawn(|| array.set(1, 5).unwrap());
        std::thread::sleep(BLOCKED_FOR);
        let cpu = procfs::cpu_ticks(child.pid());
        let during = guard.to_vec();
        drop(guard);
        join(&mut child);
        (during, cpu, array.to_vec().unwrap())
    });
    assert_eq!(during, [0, 0], "nothing written while the lock was held");
    assert!(
        cpu <= BLOCKED_MAX_TICKS,
        "the waiter spun: {cpu} ticks in {BLOCKED_FOR:?}"
    );
    assert_eq!(after, [0, 5]);
}

/// N processes each add 1 to every element, `iterations` times, under the lock.
/// Returns the locked array, and an unlocked one counted with `get` then `set`.
fn count_elements(processes: u64, iterations: u64, len: usize) -> (Vec<u64>, Vec<u64>) {
    isolated(move || {
        let array = Array::<u64>::new(len).expect("array");
        let racy = RawArray::<u64>::new(len).expect("raw array");
        race(processes, |_| {
            for _ in 0..iterations {
                for i in 0..len {
                    let guard = array.lock().unwrap();
                    guard.set(i, guard.get(i).unwrap() + 1).unwrap();
                    drop(guard);
                    racy.set(i, racy.get(i).unwrap() + 1).unwrap();
                }
            }
        });
        (array.to_vec().unwrap(), racy.to_vec())
    })
}

proptest! {
    #![proptest_config(config(8))]

    /// Locked increments of array elements: every element is exactly N x iterations;
    /// unlocked ones never more.
    #[test]
    fn ex4_locked_increments_of_elements_lose_nothing(
        processes in 1u64..=6,
        iterations in 0u64..400,
        len in 1usize..4,
    ) {
        let (counts, racy) = count_elements(processes, iterations, len);
        prop_assert_eq!(counts, vec![processes * iterations; len]);
        prop_assert!(racy.iter().all(|&n| n <= processes * iterations), "{:?}", racy);
    }
}

// ---- Exercise 5: char arrays -----------------------------------------------------------------

/// The notebook's char array, step by step, printed the way Python prints it.
#[test]
fn ex5_the_notebooks_char_array() {
    let lines = isolated(|| {
        let mut lines = Vec::new();
        let mut show = |line: String| lines.push(line);
        show(">>> arr = Array('c', (1, 2, 3, b'\\x00', 4))".into());
        let arr = Array::from_bytes(&[1, 2, 3, 0, 4]).expect("array");
        show(">>> arr.value, len(arr.value)".into());
        let value = arr.value().unwrap();
        show(format!("({}, {})", py_bytes(&value), value.len()));
        show(">>> arr[3], arr[4]".into());
        let byte = |i| py_bytes(&[arr.get(i).unwrap().0]);
        show(format!("({}, {})", byte(3), byte(4)));
        show(">>> arr.value = b'\\x01'".into());
        arr.set_value(b"\x01").unwrap();
        show(">>> arr.raw".into());
        show(py_bytes(&arr.raw().unwrap()));
        show(">>> arr.value += b'\\x05' * 5".into());
        let longer = [arr.value().unwrap(), vec![5; 5]].concat();
        if let Err(err) = arr.set_value(&longer) {
            show(format!("ValueError: {err}"));
        }
        show(">>> arr.raw".into());
        show(py_bytes(&arr.raw().unwrap()));
        show(">>> arr.value = b'\\x05\\x06\\x07\\x08\\x09'".into());
        arr.set_value(b"\x05\x06\x07\x08\x09").unwrap();
        show(">>> arr.value, arr.raw".into());
        show(format!(
            "({}, {})",
            py_bytes(&arr.value().unwrap()),
            py_bytes(&arr.raw().unwrap())
        ));
        show(">>> arr.raw = b'ab'".into());
        arr.set_raw(b"ab").unwrap();
        show(">>> arr.raw".into());
        show(py_bytes(&arr.raw().unwrap()));
        show(">>> arr.raw = b'abcdef'".into());
        if let Err(err) = arr.set_raw(b"abcdef") {
            show(format!("ValueError: {err}"));
        }
        show(">>> arr.raw".into());
        show(py_bytes(&arr.raw().unwrap()));
        lines
    });
    insta::assert_snapshot!(lines.join("\n"));
}

#[test]
fn ex5_value_ends_at_the_first_nul_and_raw_is_every_byte() {
    let answers = isolated(|| {
        let arr = RawArray::from_bytes(b"ab\0cd").expect("raw array");
        let full = RawArray::from_bytes(b"xyz").expect("raw array");
        let zeros = RawArray::<CChar>::new(4).expect("raw array");
        (
            arr.value(),
            arr.raw(),
            full.value(),
            zeros.value(),
            zeros.raw(),
        )
    });
    assert_eq!(
        answers,
        (
            b"ab".to_vec(),
            b"ab\0cd".to_vec(),
            b"xyz".to_vec(),
            vec![],
            vec![0; 4]
        )
    );
}

/// Python (ctypes) writes a value and one NUL, and leaves the rest; exactly `len` bytes
/// fit with no NUL; one more is too long and changes nothing. `raw` writes no NUL.
#[test]
fn ex5_setting_value_and_raw_as_python_does() {
    let answers = isolated(|| {
        let arr = RawArray::from_bytes(b"abcdef").expect("raw array");
        let mut raws = Vec::new();
        let mut step = |result: Result<(), ShmError>| raws.push((result, arr.raw()));
        step(arr.set_value(b"XY"));
        step(arr.set_value(b"123456"));
        step(arr.set_value(b"1234567"));
        step(arr.set_value(b""));
        step(arr.set_raw(b"QR"));
        step(arr.set_raw(b"0123456"));
        step(arr.set_raw(b"zzzzzz"));
        step(arr.set_value(b"a\0b"));
        debug(raws)
    });
    let too_long = |len| Err::<(), _>(ShmError::TooLong { len, capacity: 6 });
    assert_eq!(
        answers,
        debug([
            (Ok(()), b"XY\0def".to_vec()),
            (Ok(()), b"123456".to_vec()),
            (too_long(7), b"123456".to_vec()),
            (Ok(()), b"\x0023456".to_vec()),
            (Ok(()), b"QR3456".to_vec()),
            (too_long(7), b"QR3456".to_vec()),
            (Ok(()), b"zzzzzz".to_vec()),
            (Ok(()), b"a\0b\0zz".to_vec()),
        ])
    );
}

/// The locked char array: each access takes the lock once and gives it back.
#[test]
fn ex5_a_char_array_locks_each_access() {
    let (answers, counts) = isolated(|| {
        let (arr, lock) = counted(RawArray::from_bytes(b"hello").expect("raw array"));
        let mut counts = Vec::new();
        let mut answers = Vec::new();
        answers.push(debug(arr.value()));
        counts.push(lock.counts());
        assert_released(&lock, "value");
        answers.push(debug(arr.set_value(b"hi")));
        counts.push(lock.counts());
        answers.push(debug(arr.raw()));
        counts.push(lock.counts());
        answers.push(debug(arr.set_raw(b"toolong")));
        counts.push(lock.counts());
        answers.push(debug(arr.set_raw(b"H")));
        counts.push(lock.counts());
        answers.push(debug(arr.value().map(|v| String::from_utf8(v).unwrap())));
        counts.push(lock.counts());
        let fresh = Array::from_bytes(b"ok").expect("array");
        answers.push(debug(fresh.value()));
        (answers, counts)
    });
    assert_eq!(
        answers,
        [
            "Ok([104, 101, 108, 108, 111])",
            "Ok(())",
            "Ok([104, 105, 0, 108, 111])",
            "Err(TooLong { len: 7, capacity: 5 })",
            "Ok(())",
            "Ok(\"Hi\")",
            "Ok([111, 107])",
        ]
    );
    assert_eq!(counts, [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6)]);
}

/// One step of the char-array model.
#[derive(Clone, Debug)]
enum CharOp {
    Value,
    SetValue(Vec<u8>),
    Raw,
    SetRaw(Vec<u8>),
    Get(usize),
    Set(usize, u8),
}

/// Bytes with many NULs, so that the NUL rules are exercised.
fn some_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop_oneof![Just(0u8), 1u8..=3, any::<u8>()], 0..max)
}

fn char_op() -> impl Strategy<Value = CharOp> {
    prop_oneof![
        Just(CharOp::Value),
        some_bytes(9).prop_map(CharOp::SetValue),
        Just(CharOp::Raw),
        some_bytes(9).prop_map(CharOp::SetRaw),
        (0usize..8).prop_map(CharOp::Get),
        (0usize..8, prop_oneof![Just(0u8), any::<u8>()]).prop_map(|(i, b)| CharOp::Set(i, b)),
    ]
}

/// CPython 3.11's ctypes, transcribed (`CharArray_get_value`, `CharArray_set_value`,
/// `CharArray_get_raw`, `CharArray_set_raw` in `Modules/_ctypes/_ctypes.c`).
fn model_chars(buffer: &mut [u8], op: &CharOp) -> String {
    let size = buffer.len();
    let too_long = |len| {
        Err::<(), _>(ShmError::TooLong {
            len,
            capacity: size,
        })
    };
    match op {
        CharOp::Value => {
            let end = buffer.iter().position(|&b| b == 0).unwrap_or(size);
            debug(Ok::<_, ShmError>(buffer[..end].to_vec()))
        }
        CharOp::Raw => debug(Ok::<_, ShmError>(buffer.to_vec())),
        CharOp::SetValue(bytes) if bytes.len() > size => debug(too_long(bytes.len())),
        CharOp::SetValue(bytes) => {
            buffer[..bytes.len()].copy_from_slice(bytes);
            if bytes.len() < size {
                buffer[bytes.len()] = 0;
            }
            debug(Ok::<(), ShmError>(()))
        }
        CharOp::SetRaw(bytes) if bytes.len() > size => debug(too_long(bytes.len())),
        CharOp::SetRaw(bytes) => {
            buffer[..bytes.len()].copy_from_slice(bytes);
            debug(Ok::<(), ShmError>(()))
        }
        CharOp::Get(i) => debug(buffer.get(*i).map(|&b| CChar(b)).ok_or(
            ShmError::IndexOutOfRange {
                index: *i,
                len: size,
            },
        )),
        CharOp::Set(i, b) => debug(match buffer.get_mut(*i) {
            Some(slot) => {
                *slot = *b;
                Ok(())
            }
            None => Err(ShmError::IndexOutOfRange {
                index: *i,
                len: size,
            }),
        }),
    }
}

fn run_raw_chars(arr: &RawArray<CChar>, op: &CharOp) -> String {
    match op {
        CharOp::Value => debug(Ok::<_, ShmError>(arr.value())),
        CharOp::SetValue(bytes) => debug(arr.set_value(bytes)),
        CharOp::Raw => debug(Ok::<_, ShmError>(arr.raw())),
        CharOp::SetRaw(bytes) => debug(arr.set_raw(bytes)),
        CharOp::Get(i) => debug(arr.get(*i)),
        CharOp::Set(i, b) => debug(arr.set(*i, CChar(*b))),
    }
}

fn run_locked_chars(arr: &Array<CChar>, op: &CharOp) -> String {
    match op {
        CharOp::Value => debug(arr.value()),
        CharOp::SetValue(bytes) => debug(arr.set_value(bytes)),
        CharOp::Raw => debug(arr.raw()),
        CharOp::SetRaw(bytes) => debug(arr.set_raw(bytes)),
        CharOp::Get(i) => debug(arr.get(*i)),
        CharOp::Set(i, b) => debug(arr.set(*i, CChar(*b))),
    }
}

proptest! {
    #![proptest_config(config(48))]

    /// Raw and locked char arrays answer every sequence of value, raw and index reads
    /// and writes exactly as CPython's ctypes does.
    #[test]
    fn ex5_char_arrays_follow_pythons_rules(
        initial in some_bytes(7),
        ops in prop::collection::vec(char_op(), 1..24),
    ) {
        let mut model = initial.clone();
        let expected: Vec<String> = ops.iter().map(|op| model_chars(&mut model, op)).collect();
        let ops_here = ops.clone();
        let (raw_answers, raw_last, locked_answers, locked_last) = isolated(move || {
            let raw = RawArray::from_bytes(&initial).expect("raw array");
            let locked = Array::from_bytes(&initial).expect("array");
            let raw_answers: Vec<String> = ops_here.iter().map(|op| run_raw_chars(&raw, op)).collect();
            let locked_answers: Vec<String> =
                ops_here.iter().map(|op| run_locked_chars(&locked, op)).collect();
            (raw_answers, raw.raw(), locked_answers, locked.raw().unwrap())
        });
        prop_assert_eq!(&raw_answers, &expected);
        prop_assert_eq!(&raw_last, &model);
        prop_assert_eq!(&locked_answers, &expected);
        prop_assert_eq!(&locked_last, &model);
    }
}

// ---- Exercise 6: lock granularity ------------------------------------------------------------

#[test]
fn ex6_each_variant_writes_every_element() {
    let answers = isolated(|| {
        let raw = RawArray::<u16>::new(5).expect("raw array");
        let each = Array::<u16>::new(5).expect("array");
        let all = Array::<u16>::new(5).expect("array");
        debug((
            replace_unlocked(&raw, 7),
            raw.to_vec(),
            replace_locking_each(&each, 8),
            each.to_vec(),
            replace_locking_all(&all, 9),
            all.to_vec(),
        ))
    });
    let ok = Ok::<(), ()>(());
    assert_eq!(
        answers,
        debug((
            ok,
            vec![7; 5],
            ok,
            Ok::<_, ()>(vec![8; 5]),
            ok,
            Ok::<_, ()>(vec![9; 5])
        ))
    );
}

/// Mapping the pages needs no lock: the whole-loop variant does it before it waits for
/// the lock, so that the other processes' faults do not pile up inside its turn.
#[test]
fn ex6_whole_loop_maps_the_pages_before_it_waits_for_the_lock() {
    let (rss_kib, after) = isolated(|| {
        let array = Array::<i32>::new(PAGES_LEN).expect("array");
        let guard = array.lock().expect("lock");
        let mut child = spawn(|| replace_locking_all(&array, 7).unwrap());
        procfs::wait_in_syscall(child.pid(), &[libc::SYS_futex]);
        let rss_kib = procfs::status_kib(child.pid(), "RssShmem").unwrap_or(0);
        drop(guard);
        join(&mut child);
        (rss_kib, array.get_obj().iter().all(|x| x == 7))
    });
    assert!(
        rss_kib >= PAGES * 4,
        "while it waited for the lock, the child had mapped {rss_kib} KiB of the array's {} \
         KiB: map the pages (`populate`) before taking the lock",
        PAGES * 4
    );
    assert!(after, "every element written once the lock was free");
}

/// How often each locking variant takes the lock: once per element, or once in all.
#[test]
fn ex6_the_variants_take_the_lock_once_per_element_or_once_in_all() {
    let counts = isolated(|| {
        let (each, each_lock) = counted(RawArray::<i32>::new(37).expect("raw array"));
        let (all, all_lock) = counted(RawArray::<i32>::new(37).expect("raw array"));
        replace_locking_each(&each, 1).unwrap();
        replace_locking_all(&all, 2).unwrap();
        (
            each_lock.counts(),
            all_lock.counts(),
            each.get_obj().to_vec(),
            all.get_obj().to_vec(),
        )
    });
    assert_eq!(
        counts,
        ((37, 37), (1, 1), vec![1; 37], vec![2; 37]),
        "(acquires, releases) per element, and once for the whole loop"
    );
}

/// Block, then release: while the parent holds the lock, neither locking variant
/// writes anything, and neither spins; once it lets go, both finish.
#[rstest]
#[case::locking_each(false)]
#[case::locking_all(true)]
fn ex6_the_locking_variants_wait_for_the_holder(#[case] whole: bool) {
    let (during, cpu, after) = isolated(move || {
        let array = Array::<i32>::new(1000).expect("array");
        let guard = array.lock().expect("lock");
        let mut child = spawn(|| {
            if whole {
                replace_locking_all(&array, 3).unwrap();
            } else {
                replace_locking_each(&array, 3).unwrap();
            }
        });
        std::thread::sleep(BLOCKED_FOR);
        let cpu = procfs::cpu_ticks(child.pid());
        let during = items(&guard).iter().filter(|&&x| x != 0).count();
        drop(guard);
        join(&mut child);
        (during, cpu, array.to_vec().unwrap())
    });
    assert_eq!(during, 0, "nothing written while the lock was held");
    assert!(
        cpu <= BLOCKED_MAX_TICKS,
        "the waiter spun: {cpu} ticks in {BLOCKED_FOR:?}"
    );
    assert_eq!(after, vec![3; 1000]);
}

/// The notebook's three variants with N processes, each writing its own number (1..=N):
/// the final array, and the number of the process that took the lock last.
fn replace_race(processes: u64, len: usize, variant: u8) -> (Vec<i32>, i32) {
    isolated(move || {
        let raw = RawArray::<i32>::new(len).expect("raw array");
        let (locked, lock) = counted(RawArray::<i32>::new(len).expect("raw array"));
        let pids = race(processes, |k| {
            let n = k as i32 + 1;
            match variant {
                0 => replace_unlocked(&raw, n).unwrap(),
                1 => replace_locking_each(&locked, n).unwrap(),
                _ => replace_locking_all(&locked, n).unwrap(),
            }
        });
        let last = pids
            .iter()
            .position(|&pid| pid == lock.last_holder())
            .map_or(0, |k| k as i32 + 1);
        let array = if variant == 0 {
            raw.to_vec()
        } else {
            locked.get_obj().to_vec()
        };
        (array, last)
    })
}

proptest! {
    #![proptest_config(config(8))]

    /// Whole-loop locking: one process's number everywhere, that of the last process to
    /// take the lock.
    #[test]
    fn ex6_whole_loop_locking_leaves_the_last_holders_number(
        processes in 1u64..=5,
        len in 1usize..3000,
    ) {
        let (array, last) = replace_race(processes, len, 2);
        prop_assert!((1..=processes as i32).contains(&last));
        prop_assert_eq!(array, vec![last; len]);
    }

    /// Unlocked or locked per element: a mix, maybe, but only of numbers that some
    /// process wrote (no element torn, none left behind).
    #[test]
    fn ex6_per_element_variants_leave_only_written_numbers(
        processes in 1u64..=5,
        len in 1usize..3000,
        locked in any::<bool>(),
    ) {
        let (array, _) = replace_race(processes, len, u8::from(locked));
        let written = 1..=processes as i32;
        prop_assert!(array.iter().all(|x| written.contains(x)), "{:?}", array);
        if processes == 1 {
            prop_assert_eq!(array, vec![1; len]);
        }
    }
}

#[test]
fn ex6_append_byte_appends_under_one_hold_of_the_lock() {
    let answers = isolated(|| {
        let (arr, lock) = counted(RawArray::from_bytes(b"ab\0\0").expect("raw array"));
        let mut answers = Vec::new();
        for byte in [b'c', b'd', b'e'] {
            answers.push((append_byte(&arr, byte), arr.get_obj().raw(), lock.counts()));
            assert_released(&lock, "append_byte");
        }
        debug(answers)
    });
    assert_eq!(
        answers,
        debug([
            (Ok(()), b"abc\0".to_vec(), (1, 1)),
            (Ok(()), b"abcd".to_vec(), (2, 2)),
            (
                Err(ShmError::TooLong {
                    len: 5,
                    capacity: 4
                }),
                b"abcd".to_vec(),
                (3, 3)
            ),
        ])
    );
}

/// The notebook's appends: N processes append their own letter k times. Under the
/// lock, every append lands; with `value()` and `set_value()` each locked on its own
/// (Python's `arr.value += b'x'`), appends may be lost, never invented.
fn appends(processes: u64, k: usize) -> (Vec<u8>, usize) {
    isolated(move || {
        let total = processes as usize * k;
        let exact = Array::<CChar>::new(total).expect("array");
        let racy = Array::<CChar>::new(total).expect("array");
        race(processes, |p| {
            let letter = b'a' + p as u8;
            for _ in 0..k {
                append_byte(&exact, letter).unwrap();
                let longer = [racy.value().unwrap(), vec![letter]].concat();
                racy.set_value(&longer).unwrap();
            }
        });
        (exact.value().unwrap(), racy.value().unwrap().len())
    })
}

proptest! {
    #![proptest_config(config(8))]

    #[test]
    fn ex6_locked_appends_lose_nothing(processes in 1u64..=4, k in 0usize..150) {
        let (exact, racy_len) = appends(processes, k);
        prop_assert_eq!(exact.len(), processes as usize * k);
        for p in 0..processes {
            let letter = b'a' + p as u8;
            prop_assert_eq!(exact.iter().filter(|&&b| b == letter).count(), k);
        }
        prop_assert!(racy_len <= processes as usize * k);
    }
}
