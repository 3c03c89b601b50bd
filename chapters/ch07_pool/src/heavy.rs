//! Exercise 1: the notebook's heavy function, exactly, with big integers.

use num_bigint::BigUint;

// ANCHOR: heavy
/// The notebook's `heavy(n)`: the sum of `x**y` over `0 <= y < x < n`, in big integers,
/// and then `int(math.log(a, 10))`, the number of decimal digits of the sum less one.
///
/// `heavy(10) == 7`, `heavy(100) == 195`, `heavy(1000) == 2993`. Logs "Running heavy
/// function" (at info level) first, as the notebook's workers do. Panics for `n < 2`,
/// whose sum is 0 and has no logarithm (Python: "math domain error").
pub fn heavy(n: u32) -> u32 {
    log::info!("Running heavy function");
    // TODO: the exact sum of x**y for 0 <= y < x < n, then its number of decimal
    // digits less one: exact, for any n. A sum of 0 (n < 2) has no logarithm: panic.
    todo!("sum x**y over 0 <= y < x < {n} and give its floor(log10)")
}
// ANCHOR_END: heavy
