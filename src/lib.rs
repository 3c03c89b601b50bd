//! The test suite's view of the workbook: which crates it grades.
//!
//! `cargo test` grades the student's crates in `chapters/`; `cargo test --features
//! solutions` runs the same tests, with the same snapshots, against `solutions/`. Each
//! test file says `use workbook::chNN_slug::...` and never knows which one it got.

#[cfg(not(feature = "solutions"))]
pub use ::ch01_setup;
#[cfg(feature = "solutions")]
pub use ::ch01_setup_solution as ch01_setup;

#[cfg(not(feature = "solutions"))]
pub use ::ch02_first_taste;
#[cfg(feature = "solutions")]
pub use ::ch02_first_taste_solution as ch02_first_taste;
