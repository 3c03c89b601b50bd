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
    // SKELETON: // TODO: the exact sum of x**y for 0 <= y < x < n, then its number of decimal
    // SKELETON: // digits less one: exact, for any n. A sum of 0 (n < 2) has no logarithm: panic.
    // SKELETON: todo!("sum x**y over 0 <= y < x < {n} and give its floor(log10)")
    // BEGIN SOLUTION
    let mut sum = BigUint::ZERO;
    for x in 0..n {
        // x**0, x**1, ...: one multiplication by a small number per term, where x**y
        // computed afresh would cost about log2(y) multiplications of big numbers.
        let mut power = BigUint::from(1u32);
        for _ in 0..x {
            sum += &power;
            power *= x;
        }
    }
    assert!(
        sum != BigUint::ZERO,
        "math domain error: heavy({n}) sums nothing, and 0 has no logarithm"
    );
    // floor(log10(a)) is the number of digits less one, with no rounding at all.
    sum.to_str_radix(10).len() as u32 - 1
    // END SOLUTION
}
// ANCHOR_END: heavy
