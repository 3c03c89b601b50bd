//! Given: the scalar types a shared value or array holds, Python's typecodes.
//!
//! Another process may write a shared number while this one reads it. A plain `&i32`
//! over such memory, or a `*ptr += 1`, is a data race, which Rust (like C) calls
//! undefined behaviour: the compiler may assume nobody else writes, keep the number in a
//! register, merge or tear the accesses. So every element lives in an atomic of its
//! size ([`Slot`]), and floats travel as their bit patterns. The loads and stores are
//! `Relaxed`: on x86-64 they compile to the same plain `mov` a C `int` would, and they
//! order nothing else; a lock (or a `join`) is what orders them.

use std::fmt;
use std::sync::atomic::{
    AtomicI16, AtomicI32, AtomicI64, AtomicI8, AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering,
};

use ch05_sync::ShmSafe;

mod sealed {
    /// Only this module's types are elements: a slot must be an atomic, and zero bytes
    /// must be a valid slot holding zero.
    pub trait Sealed {}
}

/// A C `char`: one byte, Python's typecode `'c'` (`ctypes.c_char`). Arrays of it have
/// Python's `value` and `raw` (see [`crate::chars`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct CChar(pub u8);

/// A scalar type a shared value or array may hold: the types Python's typecodes name.
///
/// | typecode | ctypes     | Rust    |
/// |----------|------------|---------|
/// | `'b'`    | `c_byte`   | `i8`    |
/// | `'B'`    | `c_ubyte`  | `u8`    |
/// | `'h'`    | `c_short`  | `i16`   |
/// | `'H'`    | `c_ushort` | `u16`   |
/// | `'i'`    | `c_int`    | `i32`   |
/// | `'I'`    | `c_uint`   | `u32`   |
/// | `'q'`    | `c_long`   | `i64`   |
/// | `'Q'`    | `c_ulong`  | `u64`   |
/// | `'f'`    | `c_float`  | `f32`   |
/// | `'d'`    | `c_double` | `f64`   |
/// | `'c'`    | `c_char`   | [`CChar`] |
///
/// (On 64-bit Linux `'l'` and `'q'` are the same 8 bytes; ctypes calls both `c_long`.)
pub trait Element:
    Copy + PartialEq + Default + fmt::Debug + Send + Sync + 'static + sealed::Sealed
{
    /// Python's typecode (`'i'`).
    const TYPECODE: char;
    /// The ctypes type's name (`"c_int"`), as Python's `repr` prints it.
    const CTYPE: &'static str;
    /// The atomic that holds one in shared memory: the same size and alignment as
    /// `Self`, and all-zero bytes hold zero.
    type Atomic: Send + Sync;

    /// A new atomic holding `value`.
    fn new_atomic(value: Self) -> Self::Atomic;
    /// Reads `atomic` (`Relaxed`).
    fn load(atomic: &Self::Atomic) -> Self;
    /// Writes `value` into `atomic` (`Relaxed`).
    fn store(atomic: &Self::Atomic, value: Self);
    /// Replaces `current` by `new` if `atomic` still holds `current` (bit for bit):
    /// `Ok(current)`, or `Err(what it holds)`. May fail spuriously (`Relaxed`, weak).
    fn compare_exchange(atomic: &Self::Atomic, current: Self, new: Self) -> Result<Self, Self>;
    /// The value as Python's `repr` prints it (`7`, `0.5`, `b'A'`).
    fn py_repr(self) -> String;
}

// The loads and stores are `#[inline]`: they are one instruction each, and without it
// every access from another crate would be a function call (measured: 8 times slower).
macro_rules! integer {
    ($t:ty, $atomic:ty, $code:literal, $ctype:literal) => {
        impl sealed::Sealed for $t {}

        impl Element for $t {
            const TYPECODE: char = $code;
            const CTYPE: &'static str = $ctype;
            type Atomic = $atomic;

            #[inline]
            fn new_atomic(value: $t) -> $atomic {
                <$atomic>::new(value)
            }
            #[inline]
            fn load(atomic: &$atomic) -> $t {
                atomic.load(Ordering::Relaxed)
            }
            #[inline]
            fn store(atomic: &$atomic, value: $t) {
                atomic.store(value, Ordering::Relaxed)
            }
            #[inline]
            fn compare_exchange(atomic: &$atomic, current: $t, new: $t) -> Result<$t, $t> {
                atomic.compare_exchange_weak(current, new, Ordering::Relaxed, Ordering::Relaxed)
            }
            fn py_repr(self) -> String {
                self.to_string()
            }
        }
    };
}

integer!(i8, AtomicI8, 'b', "c_byte");
integer!(u8, AtomicU8, 'B', "c_ubyte");
integer!(i16, AtomicI16, 'h', "c_short");
integer!(u16, AtomicU16, 'H', "c_ushort");
integer!(i32, AtomicI32, 'i', "c_int");
integer!(u32, AtomicU32, 'I', "c_uint");
integer!(i64, AtomicI64, 'q', "c_long");
integer!(u64, AtomicU64, 'Q', "c_ulong");

/// Floats travel as their bits: every NaN payload and the sign of zero survive.
macro_rules! float {
    ($t:ty, $atomic:ty, $code:literal, $ctype:literal) => {
        impl sealed::Sealed for $t {}

        impl Element for $t {
            const TYPECODE: char = $code;
            const CTYPE: &'static str = $ctype;
            type Atomic = $atomic;

            #[inline]
            fn new_atomic(value: $t) -> $atomic {
                <$atomic>::new(value.to_bits())
            }
            #[inline]
            fn load(atomic: &$atomic) -> $t {
                <$t>::from_bits(atomic.load(Ordering::Relaxed))
            }
            #[inline]
            fn store(atomic: &$atomic, value: $t) {
                atomic.store(value.to_bits(), Ordering::Relaxed)
            }
            #[inline]
            fn compare_exchange(atomic: &$atomic, current: $t, new: $t) -> Result<$t, $t> {
                atomic
                    .compare_exchange_weak(
                        current.to_bits(),
                        new.to_bits(),
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    )
                    .map(<$t>::from_bits)
                    .map_err(<$t>::from_bits)
            }
            fn py_repr(self) -> String {
                // Python prints a C float as the double it converts to.
                py_float(f64::from(self))
            }
        }
    };
}

float!(f32, AtomicU32, 'f', "c_float");
float!(f64, AtomicU64, 'd', "c_double");

impl sealed::Sealed for CChar {}

impl Element for CChar {
    const TYPECODE: char = 'c';
    const CTYPE: &'static str = "c_char";
    type Atomic = AtomicU8;

    #[inline]
    fn new_atomic(value: CChar) -> AtomicU8 {
        AtomicU8::new(value.0)
    }
    #[inline]
    fn load(atomic: &AtomicU8) -> CChar {
        CChar(atomic.load(Ordering::Relaxed))
    }
    #[inline]
    fn store(atomic: &AtomicU8, value: CChar) {
        atomic.store(value.0, Ordering::Relaxed)
    }
    #[inline]
    fn compare_exchange(atomic: &AtomicU8, current: CChar, new: CChar) -> Result<CChar, CChar> {
        atomic
            .compare_exchange_weak(current.0, new.0, Ordering::Relaxed, Ordering::Relaxed)
            .map(CChar)
            .map_err(CChar)
    }
    fn py_repr(self) -> String {
        py_bytes(&[self.0])
    }
}

// ANCHOR: slot
/// One element in shared memory: the atomic of `T`'s size. All-zero bytes are a valid
/// `Slot` holding zero, so freshly mapped memory is an array of zeros.
#[repr(C)]
pub struct Slot<T: Element> {
    atomic: T::Atomic,
}

// Safety: repr(C), one atomic (Element is sealed to the std atomics), no pointers.
unsafe impl<T: Element> ShmSafe for Slot<T> {}

impl<T: Element> Slot<T> {
    /// A slot holding `value`.
    pub fn new(value: T) -> Slot<T> {
        Slot {
            atomic: T::new_atomic(value),
        }
    }

    /// Reads it (`Relaxed`).
    pub fn load(&self) -> T {
        T::load(&self.atomic)
    }

    /// Writes it (`Relaxed`).
    pub fn store(&self, value: T) {
        T::store(&self.atomic, value)
    }

    /// Replaces `current` by `new` if the slot still holds `current`: `Ok(current)`, or
    /// `Err(what it holds)`. May fail spuriously: call it in a loop.
    pub fn compare_exchange(&self, current: T, new: T) -> Result<T, T> {
        T::compare_exchange(&self.atomic, current, new)
    }
}
// ANCHOR_END: slot

/// Python's `repr` of a `bytes` object: `b'\x01\x02\x03'`, `b'abc'`, `b"it's"`.
pub fn py_bytes(bytes: &[u8]) -> String {
    let quote = if bytes.contains(&b'\'') && !bytes.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut out = format!("b{quote}");
    for &byte in bytes {
        match byte {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            _ if char::from(byte) == quote => {
                out.push('\\');
                out.push(quote);
            }
            0x20..=0x7e => out.push(char::from(byte)),
            _ => out.push_str(&format!("\\x{byte:02x}")),
        }
    }
    out.push(quote);
    out
}

/// Python's `repr` of a float: `0.5`, `1e+16`, `1e-05`, `nan`, `-inf`.
fn py_float(value: f64) -> String {
    if value.is_nan() {
        return "nan".to_owned();
    }
    // Rust's Debug is also the shortest text that reads back the same, and switches to
    // an exponent at the same places; only the exponent is spelled differently.
    let text = format!("{value:?}");
    match text.split_once('e') {
        Some((mantissa, exponent)) => {
            let (sign, digits) = match exponent.strip_prefix('-') {
                Some(digits) => ('-', digits),
                None => ('+', exponent),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => text,
    }
}
